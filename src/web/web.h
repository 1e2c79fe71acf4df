/*
 * web.h - what stsguard shows: the JSON of its objects (one shape for
 * the CLI's --json and the REST API) and the REST API itself.
 *
 *	GET /api/v1/domains[?limit=N&cursor=NAME]   the token's tenant's
 *	                                            domains, by name, a page
 *	GET /api/v1/domains/{domain}                one, with the records
 *	                                            to publish and the
 *	                                            intake URL and address
 *	GET /api/v1/domains/{domain}/stats[?from=DAY&to=DAY]
 *	                                            its sessions per day,
 *	                                            organization, result type
 *	GET /api/v1/domains/{domain}/reports[?...] its reports, newest first
 *	GET /api/v1/reports[?domain=&org=&from=&to=&provenance=&limit=&cursor=]
 *	                                            the tenant's, filtered,
 *	                                            a page (next: a cursor)
 *	GET /api/v1/reports/{id}                    one report: as report
 *	                                            show --json shows it
 *	GET /api/v1/reports/{id}/raw                its bytes as received
 *	POST /api/v1/domains                        host one (JSON: name,
 *	                                            mode, mx, max_age): 201
 *	PATCH /api/v1/domains/{domain}              change mode, mx, max_age
 *	DELETE /api/v1/domains/{domain}             remove (RFC 8461 §8.3)
 *	POST /api/v1/domains/import                 the CSV of domain import:
 *	                                            all lines, or none (422)
 *
 *	Authorization: Bearer sgt_...               every request; no, a
 *	                                            bad or a revoked token:
 *	                                            401 (WWW-Authenticate)
 *
 * Answers are JSON; errors {"error": "<reason>"}. A domain of another
 * tenant is 404, as one that does not exist; a read-only token's change
 * is 403. web_api does store I/O: the
 * daemon runs it on its pool's threads, never on an event loop.
 */
#ifndef STSGUARD_WEB_H
#define STSGUARD_WEB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "../http/http.h"
#include "../store/store.h"

#define WEB_API_PREFIX "/api/v1/"
/* Domains per page of GET /api/v1/domains, unless ?limit= says less. */
#define WEB_PAGE_DEFAULT 100
#define WEB_PAGE_MAX 1000

/* JSON of a time: "2026-05-11T00:00:00Z", null for 0. */
json_t	*web_json_time(time_t t);
/* json_string(s), or null for NULL. */
json_t	*web_json_str(const char *s);

/* A hosted domain as the CLI's domain show --json and the API show it:
 * name, tenant, status, mode, mx, max_age, policy_id, token, created,
 * updated, removed, serve_until, policy (the body served). */
json_t	*web_domain_json(const struct store_domain *d);

/* A stored report as listed (report list --json, the API): id,
 * organization-name, report-id, contact-info, policy-domains, start, end,
 * successful, failed, received, route, client, duplicates, provenance,
 * provenance-reason, dkim-domain, tls-report-domain,
 * tls-report-submitter, report-domain-mismatch, counted, conflict. */
json_t	*web_report_json(const struct store_report_row *r);

/* --- one stored report (web_report.c) -------------------------------- */

struct tlsrpt_report;
struct tlsrpt_counted;
/* Why a report's counted sessions are not the plain sums of its entries'
 * totals, or NULL when they are (tlsrpt_count). */
const char *web_counted_note(const struct tlsrpt_counted *c);
/* {"report": R (normalized), "quirks": [...], "totals": {"successful",
 * "failed", "note"?}} of a parsed report. */
json_t	*web_parsed_json(const struct tlsrpt_report *r);
/* Adds to row (a web_report_json of stored report id) "counted-why" and
 * "conflicts" (the other reports under its pair). Returns 0 or -1. */
int	web_report_group(struct store *s, int64_t id, json_t *row,
	    struct err *e);
/* web_parsed_json of stored report id with "stored": its row and group.
 * Returns 0 with *out, 1 when there is no such report, or -1. */
int	web_report_show(struct store *s, int64_t id, json_t **out,
	    struct err *e);

/* "YYYY-MM-DD" as the UTC midnight that starts it. Returns 0 or -1. */
int	web_parse_day(const char *s, time_t *t);

/* --- a domain's statistics (web_stats.c) ----------------------------- */

struct web_stat_key {
	char	*key;
	uint64_t successful, failed;
};

struct web_stat_table {
	struct web_stat_key *v;
	size_t	 n, cap;
};

/* Sessions per day (in day order), per reporting organization (most
 * sessions first) and per failure result type (most first), and the MX
 * hosts whose TLSA reports they include. */
struct web_stats {
	struct web_stat_table days, orgs, results;
	/* Failed sessions per receiving MX host and per sending IP, from
	 * the failure details of the reports that count (the larger view
	 * of each report, as for the totals); key "" when not reported. */
	struct web_stat_table mx_failed, ips_failed;
	json_t	*mx_names;		/* array of host names */
	int64_t	*mx_others;		/* other hosted domains, per host */
	size_t	 mx_n, mx_cap;
};

/* Reads domain's statistics for [from, to) (0: no bound) into st (free
 * it with web_stats_free, also after an error). Returns 0 or -1. */
int	web_stats_read(struct store *s, const char *domain, time_t from,
	    time_t to, struct web_stats *st, struct err *e);
void	web_stats_free(struct web_stats *st);
void	web_stat_free(struct web_stat_table *t);
/* {"domain", "mx-hosts", "days", "organizations", "result-types",
 * "receiving-mx-hosts", "sending-ips"}. */
json_t	*web_stats_json(const char *domain, const struct web_stats *st);

/* --- CSV export (web_csv.c) ------------------------------------------ */

/* The objects of array rows as CSV (RFC 4180, CRLF): a header of cols
 * (NULL-terminated member names), then one line per object with those
 * members (absent or null: empty; arrays: their strings joined by
 * blanks; a string that starts like a formula gets a leading "'").
 * Returns the bytes (caller frees) with *len, or NULL when out of
 * memory. */
char	*web_csv(json_t *rows, const char *const *cols, size_t *len);

/* One request, as the daemon read it (all borrowed; the strings are not
 * NUL-terminated but for service_host and client). */
struct web_request {
	enum http_method method;	/* HEAD comes as GET */
	const char	*path;		/* without the query */
	size_t		 path_len;
	const char	*query;		/* after '?', or NULL */
	size_t		 query_len;
	const char	*authorization;	/* the header's value, or NULL */
	size_t		 authorization_len;
	const char	*content_type;	/* Content-Type, or NULL */
	size_t		 content_type_len;
	const char	*cookie;	/* Cookie (the first one), or NULL */
	size_t		 cookie_len;
	const char	*origin;	/* Origin, or NULL */
	size_t		 origin_len;
	const uint8_t	*body;		/* the request body, or NULL */
	size_t		 body_len;	/* <= LIMIT_WEB_BODY_BYTES */
	const char	*client;	/* the peer's address ("192.0.2.1"),
					 * for throttling; "" when unknown */
	const char	*service_host;	/* for the intake URL and address */
};

/* Its answer: the body is the caller's to free (web_response_free). */
struct web_response {
	int	 status;
	const char *type;		/* Content-Type (static); NULL: JSON */
	char	*body;
	size_t	 len;
	char	 extra[512];		/* more header lines, CRLF each
					 * (Set-Cookie, Location, Allow) */
};

/* The one way in from the daemon: answers rq from store s. Paths under
 * WEB_API_PREFIX go to web_api; anything else is 404 JSON for now (the
 * dashboard's pages come here). Never fails: a store error is a 500
 * with the reason. out is overwritten; free it with web_response_free. */
void	web_serve(struct store *s, const struct web_request *rq,
	    struct web_response *out);

/* The REST API (web_api.c): rq's path is under WEB_API_PREFIX. Never
 * fails, as web_serve. */
void	web_api(struct store *s, const struct web_request *rq,
	    struct web_response *out);
/* {"error": why} as out's answer with status. */
void	web_error(struct web_response *out, int status, const char *why);
void	web_response_free(struct web_response *r);

#endif
