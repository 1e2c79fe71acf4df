/*
 * web_views.h - the data behind three views of a domain, for the API
 * (JSON) and the dashboard's pages (the structs):
 *
 *	"Ready to enforce?"	web_ready.c: from the last 30 days of
 *				reports, which sessions would fail under
 *				enforce, from whom, to which MX hosts,
 *				and a verdict with its reasons
 *	"Who has the new policy" web_adopt.c: per reporter and day, which
 *				version of the policy it applied (its
 *				policy-string matched to the domain's
 *				history)
 *	"Who fetches the policy" web_fetch.c: per day, fetches, distinct
 *				clients (estimated) and the top
 *				User-Agents, from the daemon's fetch log
 *
 *	GET /api/v1/domains/{domain}/readiness
 *	GET /api/v1/domains/{domain}/adoption[?from=DAY&to=DAY]
 *	GET /api/v1/domains/{domain}/fetches[?from=DAY&to=DAY]
 *
 * Each view is read with one *_read function (store in, struct out; the
 * caller frees it with its *_free, also after an error) and shown with
 * one *_json function. The readiness and adoption views are also
 * built row by row (*_init, *_add, *_finish): pure, so that tests feed
 * them crafted reports. Every table is bounded (WEB_VIEW_KEYS): what a
 * hostile reporter could make endless is summed as "other".
 */
#ifndef STSGUARD_WEB_VIEWS_H
#define STSGUARD_WEB_VIEWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "../store/store.h"
#include "web.h"

/* Days of reports the readiness verdict reads. */
#define WEB_READY_DAYS 30
/* Rows kept per table of a view; the rest are summed as "other". */
#define WEB_VIEW_KEYS 256
/* User-Agents shown per day and over the range. */
#define WEB_FETCH_TOP 10

/* The row of key in t, added (zero counts) when new; NULL with *full
 * set when t has WEB_VIEW_KEYS rows already, NULL with *full clear when
 * out of memory. (web_ready.c) */
struct web_stat_key *web_view_key(struct web_stat_table *t, const char *key,
	    bool *full);

/* --- Ready to enforce? (web_ready.c) --------------------------------- */

/* Sessions that failed under the policy, by receiving MX host, result
 * type and reporter. */
struct web_ready_fail {
	char	*mx_host;		/* receiving-mx-hostname, "" when
					 * the reporter named none */
	char	*result_type;
	char	*organization;
	uint64_t sessions;
};

enum web_ready_verdict {
	WEB_READY_NO_DATA = 0,		/* no report applied the policy */
	WEB_READY_READY,
	WEB_READY_NOT_READY,
};

struct web_ready {
	time_t	 from, to;		/* the reports read: start in [from,
					 * to) */
	char	 domain[LIMIT_DNAME_LEN + 1];
	enum policy_mode mode;		/* the domain's, now */
	struct strv mx;			/* the current policy's patterns */
	uint64_t reports;		/* reports read */
	uint64_t sts_successful;	/* sessions of sts entries: */
	uint64_t sts_failed;		/* would fail under enforce */
	uint64_t other_sessions;	/* of no-policy-found and tlsa
					 * entries (no MTA-STS verdict) */
	struct web_stat_table reporters;	/* organizations that applied
					 * the policy: successful, failed;
					 * most failed, then most sessions
					 * first */
	struct web_ready_fail *fails;	/* most sessions first */
	size_t	 nfails, capfails;
	uint64_t fails_other;		/* past WEB_VIEW_KEYS rows */
	struct web_stat_table hosts;	/* MX hosts the reports show mail
					 * went to (receiving-mx-hostname,
					 * tlsa MX hosts): failed = sessions
					 * naming it; successful = 1 when a
					 * pattern covers it */
	size_t	 uncovered;		/* of them, not covered */
	uint64_t hosts_other;
	enum web_ready_verdict verdict;
	char	 summary[256];		/* the verdict in one sentence */
	struct strv reasons;		/* sentences, most important first */
	/* While rows are added: */
	int64_t	 last_report, last_entry;
	bool	 cur_sts;
	char	*cur_org;
	uint64_t cur_total_failed, cur_details;
};

/* Starts r for domain, whose current policy is p, over reports whose
 * start is in [from, to). Returns 0 or -1 (out of memory). */
int	web_ready_init(struct web_ready *r, const char *domain,
	    const struct policy *p, time_t from, time_t to);
/* Adds one row of store_entries. Returns 0 or -1 (out of memory). */
int	web_ready_add(struct web_ready *r, const struct store_entry_row *row);
/* Sorts the tables and decides the verdict. Returns 0 or -1. */
int	web_ready_finish(struct web_ready *r);
/* The whole view of domain d from store s: the WEB_READY_DAYS days
 * before now. Returns 0 or -1 with the reason. */
int	web_ready_read(struct store *s, const struct store_domain *d,
	    time_t now, struct web_ready *r, struct err *e);
void	web_ready_free(struct web_ready *r);
/* {"domain", "mode", "from", "to", "verdict": "ready" | "not-ready" |
 * "not-enough-data", "summary", "reasons", "reports", "sessions":
 * {"successful", "failed", "other"}, "reporters", "failures",
 * "mx-hosts"} (docs/api.md). */
json_t	*web_ready_json(const char *domain, const struct web_ready *r);
const char *web_ready_verdict_name(enum web_ready_verdict v);

/* --- Who has the new policy (web_adopt.c) ---------------------------- */

/* One version of the domain's policy (its history). */
struct web_adopt_version {
	char	*policy_id;
	time_t	 since;
	char	*norm;			/* web_adopt_normalize of its body */
};

/* What one reporter applied on one day: version (an index into the
 * versions, or -1: a policy-string that matches none). */
struct web_adopt_cell {
	char	 day[11];		/* "YYYY-MM-DD" of the report start */
	int	 version;
	uint64_t sessions;		/* the entries' successful + failed */
};

struct web_adopt_reporter {
	char	*organization;
	struct web_adopt_cell *cells;	/* by day, then version */
	size_t	 n, cap;
	/* web_adopt_finish: */
	const char *latest_day;		/* its last day with a report */
	bool	 current;		/* that day, only the current one */
	const char *current_since;	/* the first day from which it
					 * applied only the current one,
					 * or NULL */
};

struct web_adopt {
	time_t	 from, to;
	struct web_adopt_version *versions;	/* oldest first */
	size_t	 nversions;
	int	 current;		/* the version served now, or -1 */
	struct web_adopt_reporter *reporters;	/* by organization */
	size_t	 nreporters, capreporters;
	uint64_t reporters_other;	/* entries of reporters past
					 * WEB_VIEW_KEYS */
	/* web_adopt_finish: */
	bool	 all_current;		/* every reporter applies the current
					 * version (and there is one) */
	const char *all_since;		/* since that day, or NULL */
	int64_t	 last_entry;		/* web_adopt_add's last entry */
};

/* The normalized form of a policy text (lines split at LF, CR dropped,
 * whitespace removed, lower case, empty lines dropped, sorted, joined by
 * LF) that two texts of the same policy share whatever their layout.
 * Returns a new string (caller frees) or NULL when out of memory. */
char	*web_adopt_normalize(const char *text);
/* Starts a for [from, to). Pure. */
void	web_adopt_init(struct web_adopt *a, time_t from, time_t to);
/* Adds a version of the policy (store_domain_history order: oldest
 * first; body as served). Returns 0 or -1. */
int	web_adopt_version(struct web_adopt *a, const char *policy_id,
	    time_t since, const char *body);
/* Adds one row of store_entries: sts entries of domain count, once per
 * entry. Returns 0 or -1. */
int	web_adopt_add(struct web_adopt *a, const char *domain,
	    const struct store_entry_row *row);
/* Marks current_id the current version and works out who applies it
 * since when. Returns 0 or -1. */
int	web_adopt_finish(struct web_adopt *a, const char *current_id);
/* The view of d from s over [from, to) (0, 0: the WEB_READY_DAYS days
 * before now). Returns 0 or -1 with the reason. */
int	web_adopt_read(struct store *s, const struct store_domain *d,
	    time_t from, time_t to, time_t now, struct web_adopt *a,
	    struct err *e);
void	web_adopt_free(struct web_adopt *a);
/* {"domain", "from", "to", "current", "versions", "reporters",
 * "all-current", "all-current-since", "still-old"} (docs/api.md). */
json_t	*web_adopt_json(const char *domain, const struct web_adopt *a);

/* --- Who fetches the policy (web_fetch.c) ---------------------------- */

struct web_fetch_agent {
	char	*agent;
	uint64_t fetches;
};

struct web_fetch_day {
	char	 day[11];
	uint64_t fetches;
	uint64_t clients;		/* distinct addresses, estimated */
	struct web_fetch_agent agents[WEB_FETCH_TOP];	/* most first */
	size_t	 nagents;
	uint64_t agents_other;		/* fetches by the other agents */
};

struct web_fetches {
	struct web_fetch_day *days;	/* in day order */
	size_t	 n, cap;
	uint64_t fetches;		/* over the range */
	struct web_stat_table agents;	/* over the range (successful =
					 * fetches), most first */
	uint64_t agents_other;
};

/* The fetch log of domain from <= day < to (0: unbounded). Returns 0
 * or -1 with the reason. */
int	web_fetches_read(struct store *s, const char *domain, time_t from,
	    time_t to, struct web_fetches *f, struct err *e);
void	web_fetches_free(struct web_fetches *f);
/* {"domain", "clients-estimated": true, "fetches", "user-agents",
 * "other", "days"} (docs/api.md). */
json_t	*web_fetches_json(const char *domain, const struct web_fetches *f);

/* --- the API routes (web_views_api.c) --------------------------------- */

/* True when sub (sublen bytes, after /api/v1/domains/{domain}/) names
 * one of these views. */
bool	web_views_route(const char *sub, size_t sublen);
/* Answers GET .../{domain}/<sub> for d with its query: the body, with
 * *status 200, or {"error": ...} with 400 (a bad from or to) or 500.
 * Never NULL unless out of memory. */
json_t	*web_views_api(struct store *s, const struct store_domain *d,
	    const char *sub, size_t sublen, const char *query,
	    size_t query_len, time_t now, int *status);

#endif
