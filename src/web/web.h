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

/* What the owner must publish now that a change took the domain from
 * before to after (dns_publish_now): an array of {name, type, value},
 * empty when the policy id did not change. The CLI's `domain set` and
 * `domain remove` (--json) and the API's PATCH and DELETE answers carry
 * it as "publish". delegated: the setting dns_zone is set, so
 * stsguard keeps the TXT itself and the array is always empty. */
json_t	*web_publish_json(const struct store_domain *before,
	    const struct store_domain *after, bool delegated);

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

/* --- the weekly digest (web_digest.c) -------------------------------- */

/* The body of tenant's weekly digest for the 7 days before now, plain
 * text with CRLF lines: per hosted domain (by name, at most
 * LIMIT_DIGEST_DOMAINS, the rest counted) its mode, its TLS sessions
 * (successful, failed, the share; web_stats_read, as every view), its
 * most frequent failure types, its latest check and the alerts raised
 * in the week. Returns it (caller frees), or NULL with the reason. */
char	*web_digest(struct store *s, const char *tenant, time_t now,
	    struct err *e);

/* --- the dashboard's markup (web_html.c, web_svg.c, web_explain.c) -- */

/* A page being written: grows by doubling up to LIMIT_WEB_PAGE_BYTES;
 * once an allocation fails (or the limit is hit), failed is set and
 * every later call does nothing. Zero it to start; web_html_free. */
struct web_html {
	char	*p;			/* NUL-terminated when len > 0 */
	size_t	 len, cap;
	bool	 failed;
};

/* Our own markup, copied as is: never pass data through these. */
void	web_html_raw(struct web_html *h, const char *s);
void	web_html_rawn(struct web_html *h, const char *s, size_t n);
/* Text: & < > " ' as entities (and NUL as U+FFFD), so it is text in an
 * element or in a quoted attribute. NULL writes nothing. */
void	web_html_text(struct web_html *h, const char *s);
void	web_html_textn(struct web_html *h, const char *s, size_t n);
/* Our printf format; its arguments are numbers (strings: _text). */
void	web_html_fmt(struct web_html *h, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* s percent-encoded (all but RFC 3986 unreserved bytes), for a path
 * segment or a query value in an href. */
void	web_html_url(struct web_html *h, const char *s);
void	web_html_free(struct web_html *h);

/* Sessions per day, stacked (days: web_stats's day table), one slot
 * for each of the ndays days from from (UTC midnight); ndays 0: one
 * slot per row of days. */
void	web_svg_days(struct web_html *h, const struct web_stat_table *days,
	    time_t from, size_t ndays);
/* Failed sessions per result type (web_stats's results table). */
void	web_svg_types(struct web_html *h, const struct web_stat_table *t);
/* A 120x24 line of the share of successful sessions per day. */
void	web_svg_spark(struct web_html *h, const struct web_stat_table *days);
/* One plain sentence on result type (RFC 8460 §4.3) at MX host mx
 * (NULL: "an MX host") with what to fix, escaped. */
void	web_explain(struct web_html *h, const char *type, const char *mx);

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
	const char	*dns_zone;	/* the setting dns_zone (normalized):
					 * delegated mode; NULL: the owners
					 * publish the TXT records */
	const char	*data_dir;	/* certificates' state, or NULL */
	time_t		 now;		/* the time of the request (0: now) */
	/* Checks a hosted domain now and keeps the result as its latest
	 * check, with store s (the daemon's check_monitor_run). Returns 0,
	 * 1 when too many checks run already, or -1 with the reason. NULL:
	 * no checks on demand here. */
	int		(*check_now)(void *arg, struct store *s,
			    const char *domain, struct err *e);
	void		*check_arg;
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
 * WEB_API_PREFIX go to web_api; anything else to web_page (the
 * dashboard). Never fails: a store error is a 500
 * with the reason. out is overwritten; free it with web_response_free. */
void	web_serve(struct store *s, const struct web_request *rq,
	    struct web_response *out);

/* The REST API (web_api.c): rq's path is under WEB_API_PREFIX. Never
 * fails, as web_serve. */
void	web_api(struct store *s, const struct web_request *rq,
	    struct web_response *out);
/* What GET /api/v1/domains/{d}/stats (or, with reports, /reports)
 * answers for domain d, with rq's query (format, from, to, ...): the
 * dashboard's exports, for a session that may see d. */
void	web_api_export(struct store *s, const struct web_request *rq,
	    const struct store_domain *d, bool reports,
	    struct web_response *out);
/* {"error": why} as out's answer with status. */
void	web_error(struct web_response *out, int status, const char *why);
void	web_response_free(struct web_response *r);
/* Answers rq, a request for a dashboard page (anything on the service
 * host outside /api/v1/, the policy, intake and ACME paths), from store
 * s (web_page.c). Never fails: a store error is a 500 page. */
void	web_page(struct store *s, const struct web_request *rq,
	    struct web_response *out);
/* The value of key in form-encoded text q[0..n) ("a=1&b=x+y%21": a
 * query, a form's body),
 * decoded into out (cap bytes, NUL-terminated). Returns 1 when present,
 * 0 when absent, -1 when too long or badly encoded (or a NUL byte). */
int	web_form_get(const char *q, size_t n, const char *key, char *out,
	    size_t cap);
/* The value of cookie name in a Cookie header's value c[0..n)
 * ("a=1; b=2") into out (cap bytes, NUL-terminated, as sent). Returns
 * its length, or -1 when absent or too long. */
int	web_cookie_get(const char *c, size_t n, const char *name, char *out,
	    size_t cap);

#endif
