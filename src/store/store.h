/*
 * store.h - the one interface to persistence.
 *
 * Callers see `struct store` and the store_* functions below; a backend
 * (store_sqlite.c now, store_pg.c later) fills a `struct store_ops` table
 * and embeds `struct store` as the first member of its own handle.
 * (OpenSMTPD's struct table_backend.)
 *
 * Every function returns 0 on success and -1 on error with the reason in
 * e, unless its comment says otherwise. Strings in rows handed to
 * callbacks are borrowed until the callback returns. A struct
 * store_domain *out is overwritten (pass it empty: it is not freed
 * first) and filled only on success; the caller then frees it with
 * store_domain_free. On failure it is left empty.
 */
#ifndef STSGUARD_STORE_H
#define STSGUARD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../lib/err.h"
#include "../lib/limits.h"
#include "../policy/policy.h"
#include "../tlsrpt/tlsrpt.h"

#define STORE_TOKEN_LEN 32	/* intake token: 32 lower-case hex digits,
				 * 128 random bits */
#define STORE_TENANT_LEN 64

struct store_domain {
	int64_t	 id;
	char	 name[LIMIT_DNAME_LEN + 1];	/* A-label, lower case */
	char	 tenant[STORE_TENANT_LEN + 1];
	struct policy policy;			/* what is served (owned) */
	char	 policy_id[LIMIT_STS_ID_LEN + 1]; /* the _mta-sts id */
	char	 token[STORE_TOKEN_LEN + 1];	/* report intake token */
	time_t	 created;
	time_t	 updated;			/* last change of the policy */
	time_t	 removed;			/* 0, or when it was removed */
	time_t	 serve_until;			/* removed: serve mode none
						 * until then (RFC 8461 §8.3) */
};

/* Frees what d owns (its policy). */
void	store_domain_free(struct store_domain *d);

/* How far a stored report can be trusted, strongest first: when
 * different reports share an (organization-name, report-id), the one of
 * the strongest provenance counts (the earliest on a tie). */
enum store_provenance {
	STORE_PROVENANCE_UNSET = 0,	/* refused: every route must say */
	STORE_DKIM_VERIFIED = 1,	/* mail with a valid DKIM signature
					 * of the reporter (RFC 8460 §3) */
	STORE_IMPORT = 2,		/* brought by the operator (report
					 * import, quarantine retry) */
	STORE_MAIL_UNVERIFIED = 3,	/* mail without one: the reason says
					 * why; counted only when DKIM is not
					 * required */
	STORE_HTTPS = 4,		/* anyone's POST: RFC 8460 gives no
					 * way to authenticate it */
};
#define STORE_PROVENANCE_MAX STORE_HTTPS

/* "dkim-verified", "import", "mail-unverified", "https" (and "unset");
 * the names the store keeps, and every view shows. */
const char *store_provenance_name(enum store_provenance p);
/* The provenance named name, or -1 (never STORE_PROVENANCE_UNSET). */
int	store_provenance_parse(const char *name);


/* How a report arrived. Any pointer may be NULL. */
struct store_origin {
	const char *route;		/* "import", "stdin", "https", "smtp" */
	const char *client;		/* peer address, file name, ... */
	const char *client_key;		/* the client for the quarantine's
					 * per-client cap: an IPv4 address,
					 * an IPv6 /64 (peer.h); NULL: client */
	const char *mail_from;		/* SMTP envelope */
	const char *rcpt_to;
	const char *intake_domain;	/* the hosted domain whose intake
					 * token (URL or address) received
					 * it; NULL for imports */
	bool	    dkim_present;	/* a DKIM-Signature of the reporter's
					 * domain was present (not verified) */
	enum store_provenance provenance;
	const char *provenance_reason;	/* mail-unverified: why ("no
					 * signature", "key not found
					 * (d=...)", ...) */
	const char *dkim_domain;	/* d= of the signature that verified
					 * (or that the reason is about) */
	const char *report_domain;	/* a mail's TLS-Report-Domain and */
	const char *report_submitter;	/* TLS-Report-Submitter (RFC 8460
					 * §5.3), lower case */
	bool	    require_dkim;	/* the setting: mail that is not
					 * dkim-verified does not count */
};

enum store_add_result {
	STORE_ADDED = 0,	/* a new report, stored and rolled up */
	STORE_DUPLICATE = 1,	/* the same report (after normalization)
				 * as a stored one: counted as a duplicate;
				 * a different report under a stored
				 * (organization-name, report-id) is
				 * STORE_ADDED, both flagged a conflict */
	STORE_QUARANTINED = 2,	/* a quarantine job: kept (or folded into
				 * an identical entry; or dropped at once
				 * by the caps: id 0) */
};

/* Bounds on what anonymous senders (HTTPS, SMTP) may keep in quarantine.
 * When an entry would pass one, the oldest anonymous entries give way:
 * first the client's own beyond max_per_client, then anyone's while the
 * stored (compressed) bytes pass max_bytes. The operator's own entries
 * (import, retry) are never dropped, and not capped. */
struct store_quarantine_caps {
	int64_t	 max_bytes;		/* 0: no bound */
	int64_t	 max_per_client;	/* entries per client_key; 0: none */
};

/* What the quarantine holds, for `report quarantine list`. */
struct store_quarantine_usage {
	int64_t	 entries;		/* rows */
	int64_t	 pending;		/* of them, not stored by a retry */
	int64_t	 bytes;			/* stored, compressed */
	int64_t	 folded;		/* inputs identical to a kept entry,
					 * counted on it instead of kept */
	int64_t	 dropped;		/* anonymous entries the caps deleted */
};

/* How many reports are stored, for the metrics (daemon_metrics.c). */
struct store_report_tally {
	int64_t	 reports;		/* rows */
	int64_t	 conflicts;		/* of them, flagged a conflict: another,
					 * different report shares their
					 * (organization-name, report-id) */
};

/* One job of report_add_batch: a report, with the same arguments as
 * report_add, or (reason set) an input to keep in quarantine, as
 * quarantine_add would. Borrowed for the duration of the call. */
struct store_report_job {
	const struct tlsrpt_report *r;	/* a report; NULL for quarantine */
	const uint8_t	*raw;		/* as received (gzip or JSON, or the
					 * message) */
	size_t		 rawlen;	/* bytes, 1..LIMIT_REPORT_BYTES; for
					 * quarantine 0..LIMIT_SMTP_MESSAGE_
					 * BYTES */
	const struct store_origin *o;	/* may be NULL */
	bool		 domain_mismatch;	/* o->report_domain is not
					 * among the report's policy-domains */
	const unsigned char *digest;	/* 32 bytes: tlsrpt_report_digest
					 * of r, worked out by the caller
					 * (off the writer's path); NULL: the
					 * store works it out */
	/* Quarantine only: */
	const char	*reason;	/* why the input was refused */
	const char	*kind;		/* "report" or "message" */
	const struct store_quarantine_caps *caps;	/* anonymous input:
					 * the caps apply; NULL: not capped */
};

/* One stored report, as listed. */
struct store_report_row {
	int64_t	    id;
	const char *organization_name;
	const char *report_id;
	const char *contact_info;	/* may be NULL */
	const char *policy_domains;	/* distinct, comma-separated */
	time_t	    start, end;
	uint64_t    successful, failed;
	time_t	    received;
	const char *route;
	int64_t	    duplicates;		/* times it arrived again */
	time_t	    last_duplicate;	/* 0, or when it last arrived again */
	unsigned    quirks;		/* TLSRPT_Q_* bits of the report */
	const char *client;		/* as in store_origin */
	enum store_provenance provenance;
	const char *provenance_reason;	/* may be NULL */
	const char *dkim_domain;	/* may be NULL */
	const char *report_domain;	/* may be NULL */
	const char *report_submitter;	/* may be NULL */
	bool	    domain_mismatch;	/* report_domain not among its
					 * policy-domains */
	bool	    counted;		/* in the statistics */
	bool	    conflict;		/* another, different report shares
					 * its (organization-name,
					 * report-id) */
};

/* One row of daily statistics. Successful sessions have result_type
 * "successful"; failed sessions are split by result-type, and failures
 * a report counts in its total but not in its details (or the other way
 * round) are not invented: see store_sqlite.c. */
struct store_stat_row {
	const char *day;		/* "YYYY-MM-DD", UTC, of the report's
					 * start-datetime */
	const char *organization_name;
	const char *policy_type;
	const char *result_type;
	uint64_t    sessions;
};

/* One failure detail of a report that counts (stats_failures). */
struct store_failure_row {
	const char *day;		/* its report's start day, as the
					 * roll-ups' */
	const char *organization_name;	/* its report's */
	int64_t	    report;		/* its report's id */
	int64_t	    policy;		/* its policy entry's id */
	const char *policy_type;	/* of its policy entry */
	uint64_t    policy_successful;	/* the entry's summary */
	uint64_t    policy_failed;
	const char *receiving_mx;	/* receiving-mx-hostname, else
					 * receiving-ip, else NULL */
	const char *sending_ip;		/* sending-mta-ip, or NULL */
	uint64_t    sessions;		/* failed-session-count */
	bool	    detail;		/* false: the entry has no failure
					 * details (this row only gives its
					 * totals; the rest is 0 or NULL) */
};

struct store_report_filter {
	const char *domain;		/* hosted domain or policy-domain, or
					 * NULL for all (see report_list) */
	bool	    unclaimed;		/* only reports no domain claims;
					 * not together with domain */
	bool	    conflicts;		/* only reports flagged a conflict,
					 * by (organization-name, report-id)
					 * then strongest first; alone */
	int64_t	    same_key_as;	/* only the reports that share this
					 * report's (organization-name,
					 * report-id), it included, the one
					 * that counts first; alone */
	long	    limit;		/* 0: no limit */
	/* With tenant set: only reports one of its domains claims (with
	 * domain too: that domain's, which the caller checked is the
	 * tenant's), and these filters, each NULL or 0 for none; not with
	 * unclaimed, conflicts or same_key_as. */
	const char *tenant;
	const char *org;		/* organization-name, exactly */
	time_t	    from, to;		/* the report's range ends after from
					 * and starts before to */
	const char *provenance;		/* store_provenance_name */
	time_t	    before_received;	/* a page after the row of this */
	int64_t	    before_id;		/* received and id (newest first) */
};

/* An MX host whose TLSA roll-ups a domain's stats include. */
struct store_mx_host_row {
	const char *host;		/* as reported, lower case, without a
					 * trailing dot */
	int64_t	    others;		/* other hosted (not removed) domains
					 * whose mx patterns match it too */
};

/* One quarantined input: a report or message that could not be taken,
 * kept with the reason so that nothing sent to us is lost. */
struct store_quarantine_row {
	int64_t	    id;
	time_t	    received;
	const char *route, *client, *mail_from, *rcpt_to, *intake_domain;
	const char *reason;		/* why it was refused */
	const char *kind;		/* "report" (bytes of a report) or
					 * "message" (a whole e-mail) */
	int64_t	    size;		/* bytes as received */
	int64_t	    report;		/* the report a retry stored it as,
					 * or 0 while still quarantined */
	int64_t	    seen;		/* times these exact bytes came */
	time_t	    last_seen;		/* when they last came */
};

/* One policy entry of a counted report that belongs to a domain, with
 * one of its failure details: the rows of store_entries. An entry with
 * several details comes as several rows in a row (same entry id), one
 * without any as one row with result_type NULL. */
struct store_entry_row {
	int64_t	    report;		/* the report's row id */
	int64_t	    entry;		/* the entry's row id */
	const char *organization_name;
	time_t	    start, end;		/* the report's date-range */
	const char *policy_type;
	const char *policy_domain;
	const char *policy_string;	/* its lines joined by "\n" */
	const char *mx_host;		/* joined by "\n"; may be "" */
	uint64_t    successful, failed;	/* the entry's totals as sent */
	const char *result_type;	/* the detail's, NULL: no detail */
	const char *receiving_mx_hostname;	/* may be NULL */
	const char *sending_mta_ip;	/* may be NULL */
	uint64_t    failed_sessions;	/* the detail's count */
};

/* One User-Agent's fetches of a domain-day, for store_fetch_add. */
struct store_fetch_agent {
	const char *agent;		/* printable ASCII, at most
					 * LIMIT_FETCH_AGENT_LEN bytes */
	uint64_t    fetches;
};

/* What policy fetches of one domain on one day added up to since the
 * last flush (the daemon's fetch log, fetchlog.h). Borrowed. */
struct store_fetch_day {
	const char *domain;		/* hosted domain, A-label */
	const char *day;		/* "YYYY-MM-DD", UTC */
	uint64_t    fetches;
	const uint8_t *hll;		/* FETCHLOG_HLL_REGS registers: the
					 * client addresses' sketch */
	const struct store_fetch_agent *agents;
	size_t	    nagents;
	uint64_t    agents_other;	/* fetches by agents not listed */
};

/* One row of store_fetch_read: a day, and one of its agents (agent
 * NULL when the day has none stored), most fetches first. */
struct store_fetch_row {
	const char *day;
	uint64_t    fetches;		/* that day, all agents */
	uint64_t    clients;		/* distinct addresses, estimated */
	uint64_t    agents_other;	/* by agents not stored */
	const char *agent;		/* may be NULL */
	uint64_t    agent_fetches;
};

/* A tenant, as listed. */
struct store_tenant_row {
	int64_t	    id;
	const char *name;
	time_t	    created;
	int64_t	    domains;		/* hosted, not removed */
};

/* A user of the dashboard: an e-mail address, a role, a password hash
 * (account.h says what they are; the store keeps them). */
struct store_account_row {
	int64_t	    id;
	const char *email;
	const char *tenant;		/* NULL for an admin */
	const char *role;		/* "admin", "owner", "viewer" */
	const char *password;		/* the Argon2id hash string */
	time_t	    created;
};

/* An API token: only its hash and first characters are kept. */
struct store_token_row {
	int64_t	    id;
	const char *tenant;
	const char *prefix;		/* "sgt_AbCd" */
	bool	    read_only;
	time_t	    created;
	time_t	    revoked;		/* 0 while it works */
};

/* One domain of a bulk add (domain_add_batch). */
struct store_domain_job {
	const char	*tenant;
	const char	*name;		/* normalized */
	const struct policy *p;
};

/* What a bulk add says as it goes, and whether it only checks. */
struct store_batch_cb {
	void	(*refused)(void *arg, size_t i, const char *why);
	void	(*progress)(void *arg, size_t done, size_t n);
	void	*arg;
	bool	 check_only;		/* check every job, write nothing */
};

typedef int (*store_tenant_cb)(void *arg, const struct store_tenant_row *t);
typedef int (*store_account_cb)(void *arg,
    const struct store_account_row *a);
typedef int (*store_token_cb)(void *arg, const struct store_token_row *t);
/* A dashboard session's user, the CSRF token of its forms, its end. */
typedef void (*store_session_cb)(void *arg,
    const struct store_account_row *a, const char *csrf, time_t expires);
typedef int (*store_quarantine_cb)(void *arg,
    const struct store_quarantine_row *q);
typedef int (*store_domain_cb)(void *arg, const struct store_domain *d);
typedef int (*store_report_cb)(void *arg, const struct store_report_row *r);
typedef int (*store_stat_cb)(void *arg, const struct store_stat_row *r);
typedef int (*store_failure_cb)(void *arg,
    const struct store_failure_row *r);
typedef int (*store_mx_host_cb)(void *arg,
    const struct store_mx_host_row *r);
typedef int (*store_history_cb)(void *arg, const char *policy_id,
    time_t since, const char *body);
typedef int (*store_entry_cb)(void *arg, const struct store_entry_row *r);
typedef int (*store_fetch_cb)(void *arg, const struct store_fetch_row *r);

/* The latest check of a hosted domain (the monitor's, check_alert.c's
 * JSON). Borrowed by the callback. */
struct store_check_row {
	const char *domain;
	time_t	    checked;
	uint64_t    failures, warnings;
	const char *json;
};
typedef int (*store_check_cb)(void *arg, const struct store_check_row *r);
/* A domain name, for store_check_due. */
typedef int (*store_name_cb)(void *arg, const char *name);

/* An alert the monitor raised. Borrowed by the callback. */
struct store_alert_row {
	int64_t	    id;
	const char *domain;
	const char *subject;		/* the name it is about: an MX host,
					 * a record's name, a URL */
	const char *kind;		/* check_kind_name */
	const char *severity;		/* "critical", "error", "warning" */
	const char *text;
	const char *fix;		/* "" when none */
	time_t	    raised;
	/* Per channel: when it took the alert; 0 not yet, -1 given up after
	 * LIMIT_ALERT_TRIES, -2 the channel was not set up when it was
	 * raised. And the tries so far. */
	time_t	    hook_sent;
	int64_t	    hook_tries;
	time_t	    mail_sent;
	int64_t	    mail_tries;
};
/* Where alerts go: bits for store_alert_add, one for the others. */
#define STORE_ALERT_HOOK 1u		/* alert_webhook */
#define STORE_ALERT_MAIL 2u		/* alert_email */
typedef int (*store_alert_cb)(void *arg, const struct store_alert_row *r);

/* A certificate shared by the nodes (migration 11). The store keeps the
 * key as given: callers seal it first (lib/seal.h), so that the
 * database never holds a private key in clear. Borrowed by callbacks. */
struct store_cert {
	const char *name;		/* A-label host name */
	const char *chain;		/* PEM, leaf first */
	const void *key;		/* sealed PEM private key */
	size_t	    key_len;
	time_t	    not_before, not_after;
	time_t	    updated;		/* when it was stored */
	int64_t	    version;		/* orders every change (cert_put
					 * sets it; rows carry theirs) */
};
typedef int (*store_cert_cb)(void *arg, const struct store_cert *c);

/* An ACME challenge in progress, so that any node answers the CA. */
struct store_challenge {
	const char *token;		/* the CA's token */
	const char *name;		/* the identifier */
	int	    type;		/* enum acme_challenge */
	const char *keyauth;		/* TOKEN "." THUMBPRINT */
	time_t	    expires;		/* forgotten after */
};
typedef int (*store_challenge_cb)(void *arg,
    const struct store_challenge *c);

struct store;

/*
 * Reports are matched to hosted domains when they are read, never when
 * they are stored: a domain added later claims the reports that came
 * before it, and a TLSA report for an MX host that 100,000 domains share
 * is one row, not 100,000.
 *
 * A policy entry of a report belongs to domain D when its policy-domain
 * is D, or when its policy-type is "tlsa" and its policy-domain is an MX
 * host that one of D's mx patterns matches (RFC 8461 §4.1, as
 * policy_mx_match has it: case and one trailing dot ignored, "*.p"
 * matches one label more than p, no more, no less): reporters of DANE
 * results often name the MX host whose TLSA records they checked. A
 * report is claimed when one of its entries belongs to a domain of the
 * store, removed ones included (their past reports stay theirs); the
 * other reports are unclaimed, and kept all the same.
 */
struct store_ops {
	const char *name;
	void	(*close)(struct store *s);

	/* Adds a domain (name already normalized) to tenant (created when
	 * new) with policy p; generates its policy id and intake token.
	 * A domain removed earlier is brought back (new id; it keeps its
	 * row id, token and created time). Fails if it is hosted (active),
	 * and refuses a policy that policy_validate refuses. */
	int	(*domain_add)(struct store *s, const char *tenant,
		    const char *name, const struct policy *p,
		    struct store_domain *out, struct err *e);
	/* Bulk onboarding: adds jobs[0..n) as domain_add would, all in
	 * one transaction or none: every job is checked (its name, tenant,
	 * policy; not hosted already, not twice in jobs, within its
	 * tenant's limit), each refused one reported to b->refused with its
	 * index and reason, and then nothing is written. b->progress (may
	 * be NULL) hears how many are done now and then; with
	 * b->check_only every job is checked the same way and nothing is
	 * written. Returns 0 when all were added and committed (or would
	 * be), 1 when some were refused (nothing written), -1 when the
	 * store failed (e says why). */
	int	(*domain_add_batch)(struct store *s,
		    const struct store_domain_job *jobs, size_t n,
		    const struct store_batch_cb *b, struct err *e);
	/* Returns 0 and fills out, 1 when there is no such domain, -1. */
	int	(*domain_get)(struct store *s, const char *name,
		    struct store_domain *out, struct err *e);
	/* Replaces the policy. A new policy id is made only when the
	 * rendered policy changes. Returns 0, 1 (no such domain, or a
	 * removed one: domain_add brings it back) or -1. */
	int	(*domain_set)(struct store *s, const char *name,
		    const struct policy *p, struct store_domain *out,
		    struct err *e);
	/* RFC 8461 §8.3: switches the domain to mode none with a new id and
	 * a max_age of at most a day (store_policy_removed), marks it
	 * removed at now and to be served until the last copy of any policy
	 * it served may expire (store_serve_until over its history).
	 * Returns 0, 1 (no such domain, or already removed) or -1. */
	int	(*domain_remove)(struct store *s, const char *name, time_t now,
		    struct store_domain *out, struct err *e);
	/* Calls cb for every domain, removed ones too, in name order; stops
	 * when cb returns non-zero (and returns that). */
	int	(*domain_list)(struct store *s, store_domain_cb cb, void *arg,
		    struct err *e);
	/* A page of tenant's domains, removed ones too: those named after
	 * after ("" from the first), by name, at most limit; stops when cb
	 * returns non-zero (and returns that). No such tenant: no domains. */
	int	(*domain_page)(struct store *s, const char *tenant,
		    const char *after, long limit, store_domain_cb cb,
		    void *arg, struct err *e);
	/* Every policy id the domain has served, oldest first, with the
	 * body served and since when; stops when cb returns non-zero (and
	 * returns that). No such domain is an error (-1). */
	int	(*domain_history)(struct store *s, const char *name,
		    store_history_cb cb, void *arg, struct err *e);

	/* Stores a parsed report with its raw bytes (compressed if they are
	 * not gzip already), its policies and failure details, in one
	 * transaction committed durably before returning. The same report
	 * (equal after normalization: tlsrpt_report_digest) stored before is
	 * a duplicate, counted on the stored one (whose provenance is raised
	 * when this one's is stronger). A different report under a stored
	 * (organization-name, report-id) is stored, and every report under
	 * that key flagged a conflict. Of the reports under one key, the one
	 * of the strongest provenance counts in the daily roll-ups, the
	 * earliest on a tie; mail-unverified ones only when o->require_dkim
	 * is false; the roll-ups follow when that one changes. Returns
	 * STORE_ADDED or STORE_DUPLICATE with the report's row id in *id,
	 * or -1. */
	int	(*report_add)(struct store *s, const struct tlsrpt_report *r,
		    const uint8_t *raw, size_t rawlen,
		    const struct store_origin *o, int64_t *id, struct err *e);
	/* Group commit: stores n (>= 1) reports as report_add would, and
	 * keeps the quarantine jobs among them as quarantine_add would (with
	 * their caps), in ONE transaction and one sync, in order, so that
	 * the second of two equal reports in jobs is a duplicate of the
	 * first. Past LIMIT_REPORT_CONFLICTS reports under one key, a
	 * further different one by an anonymous route (https,
	 * mail-unverified) is kept in quarantine (with the job's caps)
	 * instead: STORE_QUARANTINED. results[i] is
	 * STORE_ADDED or STORE_DUPLICATE with the report's row id in ids[i],
	 * STORE_QUARANTINED with the entry's id (0: the caps dropped it), or
	 * -1 (ids[i] 0) for a job refused before the transaction (missing
	 * fields, bytes over the limit; e says why for the first one).
	 * Returns 0 once the transaction is committed durably; -1 when it
	 * failed: it is rolled back, and every result is -1. report_add is
	 * this with n = 1. */
	int	(*report_add_batch)(struct store *s,
		    const struct store_report_job *jobs, size_t n,
		    int *results, int64_t *ids, struct err *e);
	/* Newest first (by received, then id); with f->domain, only
	 * reports with a policy entry that belongs to that domain (see
	 * "belongs" above: its own policy-domain, or a tlsa entry for one of
	 * its MX hosts); with f->unclaimed, only unclaimed reports (both at
	 * once is an error); f->conflicts and f->same_key_as as their
	 * comments say, each alone. Stops when cb returns non-zero (and returns
	 * that). */
	int	(*report_list)(struct store *s,
		    const struct store_report_filter *f, store_report_cb cb,
		    void *arg, struct err *e);
	/* Whether a domain of tenant claims report id (see "belongs"
	 * above): 0 yes, 1 no (or no such report), -1. */
	int	(*report_claimed)(struct store *s, int64_t id,
		    const char *tenant, struct err *e);
	/* Returns 0 with the row passed to cb and the raw bytes as
	 * received, uncompressed if they were stored compressed by us
	 * (*raw: caller frees), 1 when there is no such report, or -1.
	 * cb may be NULL (its return value is ignored); so may raw and
	 * rawlen, to read the row only. */
	int	(*report_get)(struct store *s, int64_t id, store_report_cb cb,
		    void *arg, uint8_t **raw, size_t *rawlen, struct err *e);
	/* Daily roll-up rows of what belongs to domain: the rows of
	 * policy-domain domain (every policy type) and the tlsa rows of
	 * its MX hosts (see "belongs" above), from <= day < to (either may
	 * be 0 for unbounded), ordered by day, organization, policy type,
	 * result type, one row per key: sessions of one key from several
	 * policy-domains are added up (saturating). Days are taken as their
	 * first second: from 12:00 excludes from's own day. Stops when cb
	 * returns non-zero (and returns that). */
	int	(*stats)(struct store *s, const char *domain, time_t from,
		    time_t to, store_stat_cb cb, void *arg, struct err *e);
	/* The MX hosts whose tlsa rows stats adds for the same domain and
	 * range (those with rows in it), in name order, each with how many
	 * other hosted domains it serves. Stops when cb returns non-zero
	 * (and returns that). */
	int	(*stats_mx_hosts)(struct store *s, const char *domain,
		    time_t from, time_t to, store_mx_host_cb cb, void *arg,
		    struct err *e);
	/* The failure details of the entries that belong to domain (as
	 * stats takes them) in the reports that count, whose start day is
	 * in the same range, ordered by day and organization (the groups
	 * of the roll-ups), report and entry; an entry without
	 * details as one row with detail false. Stops when cb returns
	 * non-zero (and returns that). */
	int	(*stats_failures)(struct store *s, const char *domain,
		    time_t from, time_t to, store_failure_cb cb, void *arg,
		    struct err *e);

	/* Keeps raw (compressed by us) with its reason and origin, in a
	 * transaction committed durably before returning; kind is "report"
	 * or "message". rawlen may be 0 (an empty input is kept too) and at
	 * most LIMIT_SMTP_MESSAGE_BYTES; o may be NULL. Bytes identical to a
	 * kept entry's (SHA-256) are not kept again: that entry's seen count
	 * goes up and its id is returned. Not capped (the operator's own
	 * input; anonymous input goes through report_add_batch with caps).
	 * Returns 0 with the row id in *id, or -1 (*id 0). */
	int	(*quarantine_add)(struct store *s, const char *kind,
		    const uint8_t *raw, size_t rawlen, const char *reason,
		    const struct store_origin *o, int64_t *id, struct err *e);
	/* Newest first; with pending_only, only entries not yet stored by a
	 * retry. limit 0: all. Stops when cb returns non-zero (and returns
	 * that). */
	int	(*quarantine_list)(struct store *s, bool pending_only,
		    long limit, store_quarantine_cb cb, void *arg,
		    struct err *e);
	/* Like report_get: 0 (row to cb, bytes as received in *raw: caller
	 * frees), 1 when there is no such entry, -1. cb may be NULL; so may
	 * raw and rawlen, to read the row only. */
	int	(*quarantine_get)(struct store *s, int64_t id,
		    store_quarantine_cb cb, void *arg, uint8_t **raw,
		    size_t *rawlen, struct err *e);
	/* Fills u with what the quarantine holds. */
	int	(*quarantine_usage)(struct store *s,
		    struct store_quarantine_usage *u, struct err *e);
	/* Fills t with the number of stored reports and of those flagged
	 * a conflict. Cheap (index counts): a metrics scrape calls it.
	 * Returns 0 or -1. */
	int	(*report_tally)(struct store *s, struct store_report_tally *t,
		    struct err *e);
	/* Records that a retry stored entry id as report (which must be a
	 * stored report's id). Returns 0, 1 (no such entry) or -1. */
	int	(*quarantine_resolve)(struct store *s, int64_t id,
		    int64_t report, struct err *e);

	/* A number that changes whenever any connection commits a change to
	 * domains (a domain generation counter, bumped in the change's
	 * transaction). The daemon polls it to reload its policy table.
	 * Reports and quarantine entries do not change it. Returns 0 or
	 * -1. */
	int	(*domains_version)(struct store *s, uint64_t *v,
		    struct err *e);
	/* Waits up to ms milliseconds for a change to domains committed by
	 * any connection (PostgreSQL: LISTEN/NOTIFY, so that the daemon's
	 * reload starts at once rather than at its next poll). Returns 1
	 * when one came, 0 when the time ran out, -1 when the engine cannot
	 * wait for changes (SQLite: poll domains_version) or on error. */
	int	(*domains_wait)(struct store *s, int ms);

	/* --- accounts: tenants, users, API tokens --- */

	/* Adds tenant name (1..STORE_TENANT_LEN bytes). Returns 0 with its
	 * row id, 1 when it exists already, or -1. */
	int	(*tenant_add)(struct store *s, const char *name, time_t now,
		    int64_t *id, struct err *e);
	/* Every tenant, by name; stops when cb returns non-zero. */
	int	(*tenant_list)(struct store *s, store_tenant_cb cb, void *arg,
		    struct err *e);
	/* Adds a user: role "admin" with tenant NULL, "owner" or "viewer"
	 * of an existing tenant; password is its hash. Returns 0 with its
	 * row id, 1 when the e-mail address is taken (case aside), 2 when
	 * there is no such tenant, or -1. */
	int	(*account_add)(struct store *s, const char *email,
		    const char *tenant, const char *role,
		    const char *password, time_t now, int64_t *id,
		    struct err *e);
	/* The user with that e-mail address (case aside) to cb. Returns 0,
	 * 1 when there is none, or -1. */
	int	(*account_get)(struct store *s, const char *email,
		    store_account_cb cb, void *arg, struct err *e);
	/* Users by e-mail address, those of tenant only when it is not
	 * NULL; stops when cb returns non-zero. */
	int	(*account_list)(struct store *s, const char *tenant,
		    store_account_cb cb, void *arg, struct err *e);
	/* Keeps a new token of tenant: its SHA-256 and its first
	 * characters. Returns 0 with its row id, 2 when there is no such
	 * tenant, or -1. */
	int	(*token_add)(struct store *s, const char *tenant,
		    const unsigned char hash[32], const char *prefix,
		    bool read_only, time_t now, int64_t *id, struct err *e);
	/* The token with that hash to cb, revoked ones too (the caller
	 * refuses them). Returns 0, 1 when there is none, or -1. */
	int	(*token_find)(struct store *s, const unsigned char hash[32],
		    store_token_cb cb, void *arg, struct err *e);
	/* Tokens by id, those of tenant only when it is not NULL. */
	int	(*token_list)(struct store *s, const char *tenant,
		    store_token_cb cb, void *arg, struct err *e);
	/* Revokes token id at now. Returns 0, 1 when there is no such token
	 * or it is revoked already, or -1. */
	int	(*token_revoke)(struct store *s, int64_t id, time_t now,
		    struct err *e);

	/* --- the dashboard's sessions (by the SHA-256 of the cookie) --- */

	/* Keeps a session of user account until expires (and drops the
	 * expired ones). Returns 0 or -1. */
	int	(*session_add)(struct store *s, const unsigned char hash[32],
		    int64_t account, const char *csrf, time_t now,
		    time_t expires, struct err *e);
	/* The session with that hash, if it has not expired at now, to cb.
	 * Returns 0, 1 when there is none, or -1. */
	int	(*session_find)(struct store *s, const unsigned char hash[32],
		    time_t now, store_session_cb cb, void *arg,
		    struct err *e);
	/* Ends a session (logout). Returns 0 (also when there was none) or
	 * -1. */
	int	(*session_remove)(struct store *s,
		    const unsigned char hash[32], struct err *e);
	/* Failed logins of key ("account:EMAIL", "client:ADDR") in the
	 * window that ends at now, into *count. Returns 0 or -1. */
	int	(*login_failures)(struct store *s, const char *key, time_t now,
		    time_t window, int64_t *count, struct err *e);
	/* Counts a failed login of key (a new window when the last one
	 * ended), or, with !failed, forgets key's failures (a login
	 * worked). Returns 0 or -1. */
	int	(*login_failure)(struct store *s, const char *key,
		    bool failed, time_t now, time_t window, struct err *e);

	/* --- what the dashboard's views read beyond the roll-ups --- */

	/* The policy entries of counted reports that belong to domain (see
	 * "belongs" above), of reports whose start-datetime is in
	 * [from, to) (0: unbounded), with their failure details, ordered by
	 * the report's start, report, entry, detail. Stops when cb returns
	 * non-zero (and returns that). */
	int	(*entries)(struct store *s, const char *domain, time_t from,
		    time_t to, store_entry_cb cb, void *arg, struct err *e);
	/* Adds the fetch counts v[0..n) to the daily fetch roll-ups in one
	 * transaction: fetches add up, sketches merge (the clients
	 * estimate follows), agents add up, at most LIMIT_FETCH_DAY_AGENTS
	 * per domain-day: a new agent with more fetches than the lightest
	 * stored one takes its place, the other's fetches going to "other",
	 * else its own do. Days before now's by LIMIT_FETCH_RETENTION_DAYS
	 * are deleted (once a day per handle), and sketches of days before
	 * yesterday dropped (their estimate stays). */
	int	(*fetch_add)(struct store *s, const struct store_fetch_day *v,
		    size_t n, time_t now, struct err *e);
	/* The fetch roll-ups of domain from <= day < to (0: unbounded; days
	 * as their first second, as stats), by day, each day's agents most
	 * fetches first. Stops when cb returns non-zero (and returns
	 * that). */
	int	(*fetch_read)(struct store *s, const char *domain, time_t from,
		    time_t to, store_fetch_cb cb, void *arg, struct err *e);
	/* --- the monitor: each hosted domain's latest check, alerts --- */

	/* The hosted (not removed) domains whose next check is due at now
	 * (next_at <= now, or never checked), never checked first, then the
	 * longest due; at most max, each to cb. Claims them first: their
	 * next check moves 900 s on, so that nodes sharing the database
	 * check a domain once a period (the checker's check_put sets the
	 * real next one), and one claimed by a node that died is due
	 * again after that. */
	int	(*check_due)(struct store *s, time_t now, size_t max,
		    store_name_cb cb, void *arg, struct err *e);
	/* Keeps json (check_report_json) as domain's latest check, made at
	 * checked, the next one due at next_at; the one before is
	 * replaced. */
	int	(*check_put)(struct store *s, const char *domain,
		    time_t checked, time_t next_at, uint64_t failures,
		    uint64_t warnings, const char *json, struct err *e);
	/* Moves the next check of domain to at when it was due later (a
	 * report that asks for one now; store_check_soon). A domain not
	 * checked yet is due anyway: nothing to do. Returns 0 or -1. */
	int	(*check_soon)(struct store *s, const char *domain, time_t at,
		    struct err *e);
	/* domain's latest check to cb. Returns 0, 1 when it has none, or
	 * -1. */
	int	(*check_get)(struct store *s, const char *domain,
		    store_check_cb cb, void *arg, struct err *e);
	/* When the last alert for (domain, subject, kind) was raised, into
	 * *raised (0: never). */
	int	(*alert_last)(struct store *s, const char *domain,
		    const char *subject, const char *kind, time_t *raised,
		    struct err *e);
	/* Keeps a new alert raised at now, to be sent to the channels
	 * (STORE_ALERT_* bits), its row id into *id, and drops domain's
	 * alerts beyond LIMIT_ALERTS_PER_DOMAIN, oldest first. */
	int	(*alert_add)(struct store *s, const char *domain,
		    const char *subject, const char *kind,
		    const char *severity, const char *text, const char *fix,
		    unsigned channels, time_t now, int64_t *id, struct err *e);
	/* domain's alerts, newest first, at most max; or, with domain
	 * NULL, those channel (one STORE_ALERT_* bit) has still to take,
	 * oldest first. Stops when cb returns non-zero (and returns that). */
	int	(*alert_list)(struct store *s, const char *domain,
		    unsigned channel, size_t max, store_alert_cb cb, void *arg,
		    struct err *e);
	/* Records a try of channel to deliver alert id: taken at sent
	 * (> 0), or failed (sent 0: one more try; given up, -1, after
	 * LIMIT_ALERT_TRIES). */
	int	(*alert_sent)(struct store *s, int64_t id, unsigned channel,
		    time_t sent, struct err *e);
	/* When tenant's weekly digest was last mailed, into *sent (0:
	 * never). */
	int	(*digest_last)(struct store *s, const char *tenant,
		    time_t *sent, struct err *e);
	/* Notes that tenant's digest was mailed at sent. */
	int	(*digest_sent)(struct store *s, const char *tenant, time_t sent,
		    struct err *e);
	/* --- certificates shared by the nodes, and their ACME state --- */

	/* Keeps c (c->version ignored) as name's certificate, replacing the
	 * one before, with a version greater than every other row's; that
	 * version into *version (may be NULL). */
	int	(*cert_put)(struct store *s, const struct store_cert *c,
		    int64_t *version, struct err *e);
	/* name's certificate to cb. Returns 0, 1 when there is none, or
	 * -1. */
	int	(*cert_get)(struct store *s, const char *name, store_cert_cb cb,
		    void *arg, struct err *e);
	/* The certificates stored with a version greater than after, oldest
	 * change first, at most max, each to cb (which stops the walk by
	 * returning non-zero, and that is returned). */
	int	(*cert_since)(struct store *s, int64_t after, size_t max,
		    store_cert_cb cb, void *arg, struct err *e);
	/* Takes the lease on ordering name for holder until `until`: free,
	 * expired (expires <= now) or already holder's. Returns 1 when
	 * holder has it, 0 when another holder does, or -1. */
	int	(*lease_take)(struct store *s, const char *name,
		    const char *holder, time_t now, time_t until,
		    struct err *e);
	/* Gives back holder's lease on name (no-op when not holder's). */
	int	(*lease_release)(struct store *s, const char *name,
		    const char *holder, struct err *e);
	/* Keeps key[0..len) (sealed) as ACME account name's key unless it
	 * has one already: the first node to create an account wins, and
	 * every node reads it back with acme_account_get. */
	int	(*acme_account_put)(struct store *s, const char *name,
		    const void *key, size_t len, time_t now, struct err *e);
	/* ACME account name's key (sealed), in a new buffer (caller frees).
	 * Returns 0, 1 when there is none, or -1. */
	int	(*acme_account_get)(struct store *s, const char *name,
		    void **key, size_t *len, struct err *e);
	/* Keeps a challenge in progress (replacing one with its token). */
	int	(*challenge_put)(struct store *s,
		    const struct store_challenge *c, struct err *e);
	/* Forgets the challenge with token (no-op when absent), and every
	 * challenge expired at now. */
	int	(*challenge_remove)(struct store *s, const char *token,
		    time_t now, struct err *e);
	/* The challenges not expired at now, at most max, each to cb. */
	int	(*challenge_list)(struct store *s, time_t now, size_t max,
		    store_challenge_cb cb, void *arg, struct err *e);
};

struct store {
	const struct store_ops *ops;
};

/* Opens the store that url names, creating and migrating it when
 * needed: "sqlite:PATH" (the embedded default) or "postgresql://..."
 * (a libpq URL; "postgres://" too). Returns 0 and *s (release with
 * store_close), or -1 with the reason. A handle is for one thread at a
 * time: the daemon opens one per worker. Callbacks must not call back
 * into the function that called them. */
int	store_open(const char *url, struct store **s, struct err *e);
/* store_open of the setting `store` (url), or when it is NULL or "" of
 * the default, sqlite:DIR/stsguard.db in the data dir: the one place
 * that names the file. */
int	store_open_at(const char *url, const char *dir, struct store **s,
	    struct err *e);

/* What store_migrate tells of each table as it goes: once copied
 * (verified false: rows copied), then once compared (verified true). */
struct store_migrate_step {
	const char	*table;
	bool		 verified;
	int64_t		 rows;		/* copied; verified: in the source */
	int64_t		 rows_to;	/* verified: in the destination */
	unsigned char	 sum[32];	/* verified: the source's rows' SHA-256 */
	unsigned char	 sum_to[32];	/* and the destination's */
};
typedef void store_migrate_cb(const struct store_migrate_step *step,
    void *arg);

/* Copies every table of the store at url from into the store at url to
 * (both opened, and migrated to the current schema, by their URLs as
 * store_open takes them), ids kept, in one transaction on the
 * destination, the source held still meanwhile (its writers wait); then
 * counts and hashes every table on both sides. cb (may be NULL) hears
 * of each table copied and each table compared. Returns 0 when every
 * table is the same on both sides. Returns -1 with the reason when a
 * store cannot be opened, the destination already holds data (refused,
 * nothing written: it never merges), the source holds none, or a copy
 * fails (the destination rolled back, as empty as it was); and also
 * when a table differs after the copy (the first one named; the
 * destination then holds the copy, committed). */
int	store_migrate(const char *from, const char *to, store_migrate_cb *cb,
	    void *arg, struct err *e);

static inline void
store_close(struct store *s)
{
	if (s != NULL)
		s->ops->close(s);
}

/* The store's operations, as functions: callers use these, never
 * s->ops directly (the contracts are the ops' above). */
static inline int
store_domain_add(struct store *s, const char *tenant, const char *name, const
    struct policy *p, struct store_domain *out, struct err *e)
{
	return s->ops->domain_add(s, tenant, name, p, out, e);
}

static inline int
store_domain_get(struct store *s, const char *name, struct store_domain *out,
    struct err *e)
{
	return s->ops->domain_get(s, name, out, e);
}

static inline int
store_domain_set(struct store *s, const char *name, const struct policy *p,
    struct store_domain *out, struct err *e)
{
	return s->ops->domain_set(s, name, p, out, e);
}

static inline int
store_domain_remove(struct store *s, const char *name, time_t now, struct
    store_domain *out, struct err *e)
{
	return s->ops->domain_remove(s, name, now, out, e);
}

static inline int
store_domain_list(struct store *s, store_domain_cb cb, void *arg, struct err
    *e)
{
	return s->ops->domain_list(s, cb, arg, e);
}

static inline int
store_domain_history(struct store *s, const char *name, store_history_cb cb,
    void *arg, struct err *e)
{
	return s->ops->domain_history(s, name, cb, arg, e);
}

static inline int
store_report_add(struct store *s, const struct tlsrpt_report *r, const uint8_t
    *raw, size_t rawlen, const struct store_origin *o, int64_t *id, struct err
    *e)
{
	return s->ops->report_add(s, r, raw, rawlen, o, id, e);
}

static inline int
store_report_add_batch(struct store *s, const struct store_report_job *jobs,
    size_t n, int *results, int64_t *ids, struct err *e)
{
	return s->ops->report_add_batch(s, jobs, n, results, ids, e);
}

static inline int
store_report_list(struct store *s, const struct store_report_filter *f,
    store_report_cb cb, void *arg, struct err *e)
{
	return s->ops->report_list(s, f, cb, arg, e);
}

static inline int
store_report_get(struct store *s, int64_t id, store_report_cb cb, void *arg,
    uint8_t **raw, size_t *rawlen, struct err *e)
{
	return s->ops->report_get(s, id, cb, arg, raw, rawlen, e);
}

static inline int
store_stats(struct store *s, const char *domain, time_t from, time_t to,
    store_stat_cb cb, void *arg, struct err *e)
{
	return s->ops->stats(s, domain, from, to, cb, arg, e);
}

static inline int
store_stats_failures(struct store *s, const char *domain, time_t from,
    time_t to, store_failure_cb cb, void *arg, struct err *e)
{
	return s->ops->stats_failures(s, domain, from, to, cb, arg, e);
}

static inline int
store_stats_mx_hosts(struct store *s, const char *domain, time_t from, time_t
    to, store_mx_host_cb cb, void *arg, struct err *e)
{
	return s->ops->stats_mx_hosts(s, domain, from, to, cb, arg, e);
}

static inline int
store_quarantine_add(struct store *s, const char *kind, const uint8_t *raw,
    size_t rawlen, const char *reason, const struct store_origin *o, int64_t
    *id, struct err *e)
{
	return s->ops->quarantine_add(s, kind, raw, rawlen, reason, o, id, e);
}

static inline int
store_quarantine_list(struct store *s, bool pending_only, long limit,
    store_quarantine_cb cb, void *arg, struct err *e)
{
	return s->ops->quarantine_list(s, pending_only, limit, cb, arg, e);
}

static inline int
store_quarantine_get(struct store *s, int64_t id, store_quarantine_cb cb, void
    *arg, uint8_t **raw, size_t *rawlen, struct err *e)
{
	return s->ops->quarantine_get(s, id, cb, arg, raw, rawlen, e);
}

static inline int
store_quarantine_usage(struct store *s, struct store_quarantine_usage *u,
    struct err *e)
{
	return s->ops->quarantine_usage(s, u, e);
}

static inline int
store_report_tally(struct store *s, struct store_report_tally *t,
    struct err *e)
{
	return s->ops->report_tally(s, t, e);
}

static inline int
store_quarantine_resolve(struct store *s, int64_t id, int64_t report, struct
    err *e)
{
	return s->ops->quarantine_resolve(s, id, report, e);
}

static inline int
store_domains_version(struct store *s, uint64_t *v, struct err *e)
{
	return s->ops->domains_version(s, v, e);
}

static inline int
store_domains_wait(struct store *s, int ms)
{
	return s->ops->domains_wait(s, ms);
}

static inline int
store_report_claimed(struct store *s, int64_t id, const char *tenant,
    struct err *e)
{
	return s->ops->report_claimed(s, id, tenant, e);
}

static inline int
store_domain_page(struct store *s, const char *tenant, const char *after,
    long limit, store_domain_cb cb, void *arg, struct err *e)
{
	return s->ops->domain_page(s, tenant, after, limit, cb, arg, e);
}

static inline int
store_domain_add_batch(struct store *s, const struct store_domain_job *jobs,
    size_t n, const struct store_batch_cb *b, struct err *e)
{
	return s->ops->domain_add_batch(s, jobs, n, b, e);
}

static inline int
store_tenant_add(struct store *s, const char *name, time_t now, int64_t *id,
    struct err *e)
{
	return s->ops->tenant_add(s, name, now, id, e);
}

static inline int
store_tenant_list(struct store *s, store_tenant_cb cb, void *arg,
    struct err *e)
{
	return s->ops->tenant_list(s, cb, arg, e);
}

static inline int
store_account_add(struct store *s, const char *email, const char *tenant,
    const char *role, const char *password, time_t now, int64_t *id,
    struct err *e)
{
	return s->ops->account_add(s, email, tenant, role, password, now, id,
	    e);
}

static inline int
store_account_get(struct store *s, const char *email, store_account_cb cb,
    void *arg, struct err *e)
{
	return s->ops->account_get(s, email, cb, arg, e);
}

static inline int
store_account_list(struct store *s, const char *tenant, store_account_cb cb,
    void *arg, struct err *e)
{
	return s->ops->account_list(s, tenant, cb, arg, e);
}

static inline int
store_token_add(struct store *s, const char *tenant,
    const unsigned char hash[32], const char *prefix, bool read_only,
    time_t now, int64_t *id, struct err *e)
{
	return s->ops->token_add(s, tenant, hash, prefix, read_only, now, id,
	    e);
}

static inline int
store_token_find(struct store *s, const unsigned char hash[32],
    store_token_cb cb, void *arg, struct err *e)
{
	return s->ops->token_find(s, hash, cb, arg, e);
}

static inline int
store_token_list(struct store *s, const char *tenant, store_token_cb cb,
    void *arg, struct err *e)
{
	return s->ops->token_list(s, tenant, cb, arg, e);
}

static inline int
store_token_revoke(struct store *s, int64_t id, time_t now, struct err *e)
{
	return s->ops->token_revoke(s, id, now, e);
}

static inline int
store_session_add(struct store *s, const unsigned char hash[32],
    int64_t account, const char *csrf, time_t now, time_t expires,
    struct err *e)
{
	return s->ops->session_add(s, hash, account, csrf, now, expires, e);
}

static inline int
store_session_find(struct store *s, const unsigned char hash[32],
    time_t now, store_session_cb cb, void *arg, struct err *e)
{
	return s->ops->session_find(s, hash, now, cb, arg, e);
}

static inline int
store_session_remove(struct store *s, const unsigned char hash[32],
    struct err *e)
{
	return s->ops->session_remove(s, hash, e);
}

static inline int
store_login_failures(struct store *s, const char *key, time_t now,
    time_t window, int64_t *count, struct err *e)
{
	return s->ops->login_failures(s, key, now, window, count, e);
}

static inline int
store_login_failure(struct store *s, const char *key, bool failed,
    time_t now, time_t window, struct err *e)
{
	return s->ops->login_failure(s, key, failed, now, window, e);
}

/* --- adding, changing, importing domains as a person asks
 * (store_onboard.c): the rules the CLI and the REST API share ---------- */

/* A new domain starts in testing mode with a one-week max_age: long
 * enough to be useful, short enough to move to enforce soon. */
#define STORE_DEFAULT_MODE POLICY_MODE_TESTING
#define STORE_DEFAULT_MAX_AGE 604800u

/* What a person asks of a policy, as typed (policy_apply): each NULL or
 * empty (mx: nmx 0) is left alone, or takes the default. Borrowed. */
struct store_ask {
	const char	*mode;		/* "testing", "enforce", "none" */
	const char	*max_age;	/* decimal seconds */
	const char *const *mx;		/* patterns, U- or A-labels */
	size_t		 nmx;
};

/* Hosts name (as typed: U- or A-label, any case) for tenant, with ask
 * applied to the defaults. operator: messages may name another tenant
 * that hosts it (a tenant's request learns only that it is taken).
 * Returns 0 with *out (caller frees: store_domain_free), 1 when refused
 * (a bad name or policy: e says why, naming the field), 2 when it is
 * hosted already (e says so), -1 when the store failed (the tenant's
 * limit too). */
int	store_domain_create(struct store *s, const char *tenant,
	    const char *name, const struct store_ask *ask, bool operator,
	    struct store_domain *out, struct err *e);
/* Changes the policy of d (as read) by ask; a new policy id when what
 * is served changes. Returns 0 with *out (caller frees), 1 when refused
 * (a bad policy, gone meanwhile: e says why), 2 when d was removed,
 * -1. */
int	store_domain_change(struct store *s, const struct store_domain *d,
	    const struct store_ask *ask, struct store_domain *out,
	    struct err *e);

/* One checked line of an import. */
struct store_import_line {
	size_t	 lineno;
	char	*name;			/* normalized */
	char	*tenant;
	struct policy p;
};

/* A bulk import (`domain import`, POST /api/v1/domains/import): set the
 * caller's fields, then store_import_parse, store_import_apply,
 * store_import_free. */
struct store_import {
	const char *tenant;		/* for lines without one */
	bool	 tenant_only;		/* every line must be of tenant */
	bool	 operator;		/* errors may name other tenants */
	/* Each refused line, in the order found (may be NULL). */
	void	(*error)(void *arg, size_t lineno, const char *why);
	/* Every 1000 lines checked; then the store's progress (NULL). */
	void	(*checked)(void *arg, size_t n);
	void	(*progress)(void *arg, size_t done, size_t n);
	void	*arg;
	/* Filled: */
	struct store_import_line *v;	/* the lines that parsed */
	size_t	 n, cap;
	size_t	 errors;		/* refused lines so far */
};

/* Checks the CSV buf[0..len) (at most LIMIT_IMPORT_BYTES, lines of at
 * most LIMIT_IMPORT_LINE) line by line into im: each bad line to
 * im->error with its number and reason. Pure. Returns 0, or -1 (out of
 * memory, too big: e says why). */
int	store_import_parse(struct store_import *im, const uint8_t *buf,
	    size_t len, struct err *e);
/* Then: a domain on two lines is an error of the later line; the lines
 * are checked against the store (hosted already, the tenant's limit)
 * and, when no line was refused, all added in one transaction; else
 * nothing is written. Returns 0 when all im->n were added, 1 when some
 * line was refused (nothing written; im->errors), -1 when the store
 * failed (e). With no line at all, 0 and im->n 0. */
int	store_import_apply(struct store *s, struct store_import *im,
	    struct err *e);
void	store_import_free(struct store_import *im);

static inline int
store_entries(struct store *s, const char *domain, time_t from, time_t to,
    store_entry_cb cb, void *arg, struct err *e)
{
	return s->ops->entries(s, domain, from, to, cb, arg, e);
}

static inline int
store_fetch_add(struct store *s, const struct store_fetch_day *v, size_t n,
    time_t now, struct err *e)
{
	return s->ops->fetch_add(s, v, n, now, e);
}

static inline int
store_fetch_read(struct store *s, const char *domain, time_t from, time_t to,
    store_fetch_cb cb, void *arg, struct err *e)
{
	return s->ops->fetch_read(s, domain, from, to, cb, arg, e);
}

static inline int
store_check_due(struct store *s, time_t now, size_t max, store_name_cb cb,
    void *arg, struct err *e)
{
	return s->ops->check_due(s, now, max, cb, arg, e);
}

static inline int
store_check_put(struct store *s, const char *domain, time_t checked,
    time_t next_at, uint64_t failures, uint64_t warnings, const char *json,
    struct err *e)
{
	return s->ops->check_put(s, domain, checked, next_at, failures,
	    warnings, json, e);
}

static inline int
store_check_soon(struct store *s, const char *domain, time_t at,
    struct err *e)
{
	return s->ops->check_soon(s, domain, at, e);
}

static inline int
store_check_get(struct store *s, const char *domain, store_check_cb cb,
    void *arg, struct err *e)
{
	return s->ops->check_get(s, domain, cb, arg, e);
}

static inline int
store_alert_last(struct store *s, const char *domain, const char *subject,
    const char *kind, time_t *raised, struct err *e)
{
	return s->ops->alert_last(s, domain, subject, kind, raised, e);
}

static inline int
store_alert_add(struct store *s, const char *domain, const char *subject,
    const char *kind, const char *severity, const char *text,
    const char *fix, unsigned channels, time_t now, int64_t *id,
    struct err *e)
{
	return s->ops->alert_add(s, domain, subject, kind, severity, text,
	    fix, channels, now, id, e);
}

static inline int
store_alert_list(struct store *s, const char *domain, unsigned channel,
    size_t max, store_alert_cb cb, void *arg, struct err *e)
{
	return s->ops->alert_list(s, domain, channel, max, cb, arg, e);
}

static inline int
store_alert_sent(struct store *s, int64_t id, unsigned channel, time_t sent,
    struct err *e)
{
	return s->ops->alert_sent(s, id, channel, sent, e);
}

static inline int
store_digest_last(struct store *s, const char *tenant, time_t *sent,
    struct err *e)
{
	return s->ops->digest_last(s, tenant, sent, e);
}

static inline int
store_digest_sent(struct store *s, const char *tenant, time_t sent,
    struct err *e)
{
	return s->ops->digest_sent(s, tenant, sent, e);
}

static inline int
store_cert_put(struct store *s, const struct store_cert *c, int64_t *version,
    struct err *e)
{
	return s->ops->cert_put(s, c, version, e);
}

static inline int
store_cert_get(struct store *s, const char *name, store_cert_cb cb,
    void *arg, struct err *e)
{
	return s->ops->cert_get(s, name, cb, arg, e);
}

static inline int
store_cert_since(struct store *s, int64_t after, size_t max,
    store_cert_cb cb, void *arg, struct err *e)
{
	return s->ops->cert_since(s, after, max, cb, arg, e);
}

static inline int
store_lease_take(struct store *s, const char *name, const char *holder,
    time_t now, time_t until, struct err *e)
{
	return s->ops->lease_take(s, name, holder, now, until, e);
}

static inline int
store_lease_release(struct store *s, const char *name, const char *holder,
    struct err *e)
{
	return s->ops->lease_release(s, name, holder, e);
}

static inline int
store_acme_account_put(struct store *s, const char *name, const void *key,
    size_t len, time_t now, struct err *e)
{
	return s->ops->acme_account_put(s, name, key, len, now, e);
}

static inline int
store_acme_account_get(struct store *s, const char *name, void **key,
    size_t *len, struct err *e)
{
	return s->ops->acme_account_get(s, name, key, len, e);
}

static inline int
store_challenge_put(struct store *s, const struct store_challenge *c,
    struct err *e)
{
	return s->ops->challenge_put(s, c, e);
}

static inline int
store_challenge_remove(struct store *s, const char *token, time_t now,
    struct err *e)
{
	return s->ops->challenge_remove(s, token, now, e);
}

static inline int
store_challenge_list(struct store *s, time_t now, size_t max,
    store_challenge_cb cb, void *arg, struct err *e)
{
	return s->ops->challenge_list(s, now, max, cb, arg, e);
}

#endif
