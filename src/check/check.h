/*
 * check.h - the deployment checker: `stsguard check DOMAIN...` looks at a
 * domain the way a sending MTA does (RFC 8461 §3-4, RFC 8460 §3) and says
 * what passes, what a sender would tolerate, and what fails, each failure
 * with what to fix.
 *
 * Two halves:
 *   check_eval.c  pure: what was found (TXT strings, an HTTP answer, MX
 *                 records, an SMTP dialogue's outcome) in, findings out;
 *                 and the SMTP reply reader. No I/O, no globals.
 *   check_run.c   the edges: DNS through the one resolver (dns.h),
 *                 the policy fetch through libcurl, STARTTLS probes
 *                 through OpenSSL, and the pool that checks many domains
 *                 at once.
 */
#ifndef STSGUARD_CHECK_H
#define STSGUARD_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "../dns/dns.h"
#include "../lib/err.h"
#include "../lib/limits.h"
#include "../lib/strv.h"
#include "../policy/policy.h"

/* A sender gives up on a policy fetch after about a minute (RFC 8461
 * §3.3 asks for "a reasonable timeout"); a checker that waits longer
 * than senders would hide a slow host. */
#define CHECK_FETCH_TIMEOUT_S 20
/* Each step of an SMTP probe (connect, a reply, the handshake). */
#define CHECK_SMTP_TIMEOUT_S 15
/* A certificate with less left than this is "near expiry": ACME renews
 * with a third of 90 days left, so two weeks means renewal is failing. */
#define CHECK_EXPIRY_WARN_S (14 * 86400)
/* Lenient-sender notes (RFC 8461 §3.2 and §8.4 advice): a max_age under
 * a day re-fetches constantly; in enforce, under two weeks loses the
 * protection of a cached policy too soon. */
#define CHECK_MAX_AGE_DAY 86400u
#define CHECK_MAX_AGE_ENFORCE 1209600u
/* Asking one name server of the domain for its SOA: resolvers move to
 * the next server after a second or so, so a server that needs longer
 * than CHECK_NS_SLOW_MS is "slow" (each lookup through it stalls), and
 * one that gives nothing within CHECK_NS_TIMEOUT_MS "does not answer". */
#define CHECK_NS_TIMEOUT_MS 2000
#define CHECK_NS_SLOW_MS 800
/* Domains checked at once by default. */
#define CHECK_CONCURRENCY 8

enum check_level {
	CHECK_PASS = 0,
	CHECK_INFO,		/* a fact worth showing, neither good nor bad */
	CHECK_WARN,		/* a sender copes, but it is fragile */
	CHECK_FAIL,		/* a sender will not use the policy, or mail
				 * will not be delivered */
};

/* What a finding is about: the steps of the check, in order. */
enum check_area {
	CHECK_A_STS_TXT = 0,	/* _mta-sts TXT */
	CHECK_A_POLICY,		/* mta-sts host, fetch, policy text */
	CHECK_A_MX,		/* MX records against the policy */
	CHECK_A_SMTP,		/* port 25 of each MX */
	CHECK_A_TLSRPT,		/* _smtp._tls TXT */
	CHECK_A_HOSTED,		/* DNS against what stsguard serves */
	CHECK_A_NS,		/* the domain's name servers (delegation);
				 * checked first, numbered last so that
				 * earlier names keep their values */
	CHECK_A_REPORTS,	/* the domain's TLS reports over the last
				 * weeks (the monitor's, check_trend.c) */
	CHECK_A_DNSSEC,		/* DNSSEC of the records a sender reads */
};

/* What a warning or failure means for the monitor's alerts (check_alert.c):
 * check_add gives each finding its area's kind, a few are tagged more
 * precisely (check_tag). Only warn and fail findings of a kind other than
 * CHECK_K_NONE can raise an alert. */
enum check_kind {
	CHECK_K_NONE = 0,	/* nothing to alert on */
	CHECK_K_RECORD,		/* a DNS record gone, changed or broken */
	CHECK_K_POLICY,		/* the policy fetch or the policy text */
	CHECK_K_MX_UNCOVERED,	/* an MX no pattern covers */
	CHECK_K_MX_TLS,		/* an MX's STARTTLS or certificate */
	CHECK_K_CERT_EXPIRY,	/* the mta-sts or an MX certificate near
				 * expiry */
	CHECK_K_CNAME,		/* mta-sts.<domain> not a CNAME to us */
	CHECK_K_ID_LAG,		/* the published id lags the served one */
	/* The monitor's own (check_trend.c), from the ACME manager's notes,
	 * the reports and the readiness view: */
	CHECK_K_CERT_RENEWAL,	/* a certificate's renewal failing */
	CHECK_K_NEW_FAILURE,	/* a result type the reports did not have */
	CHECK_K_FAILURE_RATE,	/* the failure share well above the
				 * domain's own baseline */
	CHECK_K_REPORTER_SILENT, /* a daily reporter gone silent */
	CHECK_K_TESTING_READY,	/* in testing for weeks, ready to enforce */
};
#define CHECK_K_MAX CHECK_K_TESTING_READY

struct check_finding {
	enum check_level level;
	enum check_area	 area;
	enum check_kind	 kind;
	char	subject[LIMIT_DNAME_LEN + 16];	/* the name checked */
	char	text[384];			/* what was found */
	char	fix[384];			/* what to do; "" unless warn
						 * or fail */
};

/* The outcome for one domain. */
struct check_report {
	char	 domain[LIMIT_DNAME_LEN + 1];	/* A-label, lower case */
	struct check_finding *f;		/* f[0..n), in check order */
	size_t	 n, cap;
	size_t	 nfail, nwarn;
	bool	 oom;				/* a finding was lost */
	/* What earlier steps learnt, for the later ones. */
	char	 sts_id[LIMIT_STS_ID_LEN + 1];	/* "" when none valid */
	bool	 have_policy;
	struct policy policy;			/* when have_policy */
};

/* Starts r for domain (copied). */
void	check_report_init(struct check_report *r, const char *domain);
/* Frees what r owns. */
void	check_report_free(struct check_report *r);

/* Adds a finding; fix may be NULL. On out of memory sets r->oom (the CLI
 * then fails the domain). */
void	check_add(struct check_report *r, enum check_level lv,
	    enum check_area a, const char *subject, const char *fix,
	    const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Sets the kind of the finding added last (none: nothing). */
void	check_tag(struct check_report *r, enum check_kind k);

/* "pass", "info", "warn", "fail"; "sts-txt", "policy", "mx", "smtp",
 * "tlsrpt", "hosted", "ns", "reports", "dnssec". Static storage. */
const char *check_level_name(enum check_level lv);
const char *check_area_name(enum check_area a);
/* "none", "record", "policy", "mx-uncovered", "mx-tls", "cert-expiry",
 * "cname", "id-lag", "cert-renewal", "new-failure-type", "failure-rate",
 * "reporter-silent", "testing-ready"; static storage. check_kind_parse is its inverse
 * (-1 for an unknown name). */
const char *check_kind_name(enum check_kind k);
int	check_kind_parse(const char *name);

/* --- the pure checks (check_eval.c), in the order they run ------------ */

/* What a DNS lookup gave: rc is an enum dns_answer, err its reason;
 * sec what DNSSEC said of the answer (dns_last_sec), why the reason
 * when bogus (NULL or "" otherwise). */
struct check_dns {
	int		 rc;
	const char	*err;
	enum dns_sec	 sec;
	const char	*why;
};

/* Step 1: the TXT records at _mta-sts.<domain> (strings joined) and the
 * CNAMEs met on the way there (chain[0] the first target; may be
 * empty). Exactly one STSv1 record, valid (sts_record_select); fills
 * r->sts_id. */
void	check_sts_txt(struct check_report *r, struct check_dns q,
	    const struct strv *txt, const struct strv *chain);

/* Step 2a: the addresses mta-sts.<domain> resolves to, and the CNAMEs on
 * the way (may be empty). Returns how many of addrs may be probed
 * (not private, or allow_private): 0 means the fetch must not run (a
 * finding says why). */
size_t	check_policy_host(struct check_report *r, struct check_dns q,
	    const struct strv *addrs, const struct strv *chain,
	    bool allow_private);

/* What the HTTPS fetch of the policy gave. */
struct check_fetch {
	const char	*url;
	const char	*error;		/* transport or TLS failure, or NULL */
	bool		 tls_error;	/* error was about the certificate */
	long		 status;	/* HTTP status, 0 when none */
	const char	*content_type;	/* NULL when absent */
	const char	*location;	/* a redirect's target, or NULL */
	const char	*body;
	size_t		 len;
	bool		 too_large;	/* the body went past
					 * LIMIT_POLICY_BYTES (not kept) */
	time_t		 not_after;	/* the server certificate's, 0 when
					 * not known */
	time_t		 now;
};

/* Step 2b: the fetch as RFC 8461 §3.3 requires (200, text/plain, no
 * redirect, size), then the body with policy_parse, and notes where a
 * sender is lenient (LF line ends, a short max_age). On success fills
 * r->policy and r->have_policy. */
void	check_policy_fetch(struct check_report *r, const struct check_fetch *f);
/* Whether an answer (its Content-Type and body) is a web firewall's
 * browser challenge page rather than a policy. Pure. */
bool	check_challenge_page(const char *content_type, const char *body,
	    size_t len);

/* Step 2c: the policy fetched over each address family on its own,
 * when the host has addresses of both: n4, n6 how many addresses of
 * each were probed; err4, err6 why the fetch over that family gave no
 * 200 (NULL when it did). */
struct check_family {
	size_t		 n4, n6;
	const char	*err4, *err6;
};

/* Reachable over IPv4 but not IPv6 (or the reverse) is a warning
 * (senders trying the other family first fail or wait); one family
 * only is info. Says nothing when both fail (step 2b says why). */
void	check_policy_families(struct check_report *r,
	    const struct check_family *f);

/* Step 3: every MX record against r->policy's patterns (an uncovered MX
 * fails in enforce, warns in testing). Without a policy, only says
 * which MX records there are. */
void	check_mx_cover(struct check_report *r, struct check_dns q,
	    const struct dns_mx *mx, size_t n);

/* Step 3b: the mx templates of hosted mail providers (policy.h; may be
 * NULL: nothing said) against the MX records and r->policy: a pattern
 * in a provider's namespace that matches none of the MX names (a
 * pattern the provider does not document) warns, naming what the
 * provider documents; an MX of a known provider is named with its
 * documented patterns (info). */
void	check_mx_templates(struct check_report *r,
	    const struct policy_templates *t, const struct dns_mx *mx,
	    size_t n);

/* What one name server of the domain said (dns_probe_soa). */
struct check_ns {
	const char	*host;		/* the NS name */
	const char	*addr;		/* the address asked, or NULL */
	struct check_dns addrs;		/* its address lookup */
	bool		 private_only;	/* every address private and
					 * probes there not allowed */
	struct dns_probe p;		/* the answer, when addr */
};

/* Step 0: the name servers of zone (the domain or the parent it lies
 * in; NULL when no NS was found below the top-level domain), q the NS
 * lookup, ns[0..n) each server's answer. A server without an address,
 * one that does not answer, answers without authority or with an
 * error (lame), or slowly, warns; none answering with authority
 * fails. */
void	check_delegation(struct check_report *r, const char *zone,
	    struct check_dns q, const struct check_ns *ns, size_t n);

/* What the STARTTLS probe of one MX host gave. */
struct check_smtp {
	const char	*host;		/* the MX name */
	const char	*addr;		/* the address probed, or NULL */
	struct check_dns addrs;		/* its address lookup */
	bool		 private_only;	/* every address was private and
					 * probes there are not allowed */
	const char	*error;		/* connect, greeting, EHLO: NULL if
					 * the dialogue got to EHLO's 250 */
	bool		 starttls;	/* offered in the EHLO reply */
	const char	*tls_error;	/* STARTTLS refused, or the handshake
					 * failed: NULL when it succeeded */
	const char	*tls_version;	/* "TLSv1.3" */
	long		 verify;	/* X509_V_OK (0) or the error code */
	const char	*verify_text;	/* why verification failed */
	time_t		 not_after;	/* the leaf certificate's */
	time_t		 now;
	struct check_dns tlsa;		/* _25._tcp.<host> TLSA lookup */
	size_t		 ntlsa;
};

/* Step 4: one MX host's probe. */
void	check_smtp_probe(struct check_report *r, const struct check_smtp *s);

/* Step 5: the TXT records at _smtp._tls.<domain>. Exactly one
 * v=TLSRPTv1 record, parsed by tlsrpt_record_parse, each rua URI named.
 * own_prefix: for a hosted domain, the start of the service's own
 * mailto: URI ("mailto:tlsrpt+<token>@"); a warning when the record
 * does not name it first (some senders use only the first), NULL
 * otherwise. */
void	check_tlsrpt(struct check_report *r, struct check_dns q,
	    const struct strv *txt, const char *own_prefix);

/* One answer the DNSSEC finding judges. */
struct check_sec {
	const char	*what;		/* "_mta-sts.example.com TXT" */
	struct check_dns q;
};

/* Step 6: one finding on the DNSSEC status of the answers a[0..n)
 * (_mta-sts TXT, MX, _smtp._tls TXT), worst first: any bogus fails,
 * naming it and libunbound's reason, with what to fix (a bogus record
 * is one a validating sender cannot read at all); without a trust
 * anchor "not validated" (info); any unsigned "insecure (unsigned)"
 * (info: most domains are); all signed and valid "secure" (pass).
 * Answers that did not come (DNS_SEC_NONE) are not judged. */
void	check_dnssec(struct check_report *r, const struct check_sec *a,
	    size_t n);

/* For a hosted domain: what DNS says against what stsguard serves. The
 * policy id published (r->sts_id) against served_id; the CNAMEs of
 * mta-sts.<domain> (mta_chain) against service_host. */
void	check_hosted(struct check_report *r, const char *served_id,
	    const char *service_host, const struct strv *mta_chain);

/* True when ip (text, IPv4 or IPv6) is not a public unicast address:
 * loopback, RFC 1918, CGNAT, link-local, ULA, multicast, unspecified,
 * documentation and benchmarking ranges, IPv4-mapped forms of these; and
 * for text that is no address at all. Probes go only to public addresses
 * unless the operator allows them (a hosted checker must not become a
 * way into the operator's network). */
bool	check_addr_private(const char *ip);

/* --- the SMTP reply reader (check_eval.c) ----------------------------- */

struct check_reply {
	int	 code;		/* 3 digits, the same on every line */
	bool	 starttls;	/* a line after the first is "STARTTLS" */
	size_t	 used;		/* bytes of the buffer the reply took */
	char	 text[128];	/* the first line's text, for messages */
};

/* Reads one SMTP reply (RFC 5321 §4.2: "NNN-text" lines, then "NNN
 * text") from buf[0..len). Returns 0 with *out when the reply is
 * complete, 1 when more bytes are needed, -1 with the reason in e when
 * the bytes are no SMTP reply or pass LIMIT_CHECK_SMTP_LINE per line or
 * LIMIT_CHECK_SMTP_LINES lines. */
int	check_reply_parse(const char *buf, size_t len, struct check_reply *out,
	    struct err *e);

/* --- the monitor's alerts (check_alert.c, pure) ----------------------- */

/* What the monitor keeps of a finding to compare the next check with. */
struct check_seen {
	enum check_level level;
	enum check_kind	 kind;
	char	subject[LIMIT_DNAME_LEN + 16];
};

/* An alert: a warning or failure that the previous check did not have
 * (or had at a lower level) for the same kind and subject. */
struct check_alert {
	enum check_kind	 kind;
	enum check_level level;
	const char	*severity;	/* static: "critical", "error",
					 * "warning" */
	char	subject[LIMIT_DNAME_LEN + 16];
	char	text[384];
	char	fix[384];
};

/* The stored form of a check: {"domain", "checked" (RFC 3339 UTC),
 * "verdict", "failures", "warnings", "findings": [{"level", "area",
 * "kind", "subject", "text", "fix"}]}. Returns a new reference, or NULL
 * when out of memory. */
json_t	*check_report_json(const struct check_report *r, time_t checked);

/* Reads the findings of a stored check (check_report_json's form) into
 * *out (caller frees; *n of them). Unknown levels and kinds count as
 * pass and none. Returns 0, or -1 when json is not that form or memory
 * runs out (*out NULL, *n 0). */
int	check_seen_parse(const char *json, struct check_seen **out,
	    size_t *n);

/* The alerts of r against the previous check prev[0..nprev): each
 * warning or failure of an alerting kind whose (kind, subject) prev did
 * not have at that level or worse, at most cap of them into out, one
 * per (kind, subject). Without a previous check (!have_prev) there is
 * nothing to compare with: the first check is the baseline and raises
 * none (the dashboard and the API show its failures), so that a new
 * domain or a first start does not flood the webhook. An MX no pattern
 * covers in enforce mode (a failure) is "critical": mail will bounce;
 * other failures "error", warnings "warning". Returns how many. */
size_t	check_alerts_diff(const struct check_report *r, bool have_prev,
	    const struct check_seen *prev, size_t nprev,
	    struct check_alert *out, size_t cap);

/* Whether an alert for a (domain, subject, kind) last raised at last
 * (0: never) may be raised again at now, cooldown seconds on. */
bool	check_alert_due(time_t last, time_t now, time_t cooldown);

/* An alert as it is sent (the store's row). Borrowed strings. */
struct check_alert_msg {
	int64_t		 id;
	const char	*domain, *kind, *severity, *subject, *text;
	const char	*fix;		/* "" or NULL: none */
	time_t		 raised;
};

/* The webhook's body for alert a: {"id", "domain", "kind", "severity",
 * "subject", "text", "fix", "raised" (RFC 3339 UTC)}. Returns a new
 * string (caller frees), or NULL when out of memory. */
char	*check_alert_webhook_body(const struct check_alert_msg *a);

/* The e-mail for alert a (RFC 5322, CRLF lines, text/plain in UTF-8),
 * From from, To to, its Message-ID on host, the Subject naming the
 * severity, domain, kind and subject. Control characters of any value
 * (they may come from DNS answers) become spaces, so nothing can add a
 * header line. Returns a new string (caller frees), or NULL when out of
 * memory. */
char	*check_alert_mail(const struct check_alert_msg *a, const char *from,
	    const char *to, const char *host);

/* The e-mail of tenant's weekly digest (its body: web_digest), From
 * from, To to (a header line), dated now, its Message-ID on host; the
 * body's CRLF line ends kept, any other control a space. Returns a new
 * string (caller frees), or NULL when out of memory. */
char	*check_digest_mail(const char *tenant, const char *from,
	    const char *to, const char *host, time_t now, const char *body);

/* --- what the reports and the service say (check_trend.c, pure) ------- */

/* The windows, in UTC days back from today (day 0; a report counts on
 * the day its range starts, as every view counts it). Reports of a day
 * arrive the day after, so "recent" holds today and yesterday. */
#define CHECK_TREND_BASE_DAYS	14	/* the domain's own baseline */
#define CHECK_TREND_RECENT_DAYS	2	/* new failure types, the rate:
					 * days 0-1 against 2-15 */
#define CHECK_TREND_SILENT_DAYS	4	/* silence: nothing on days 0-3
					 * (three reports missed), against
					 * days 4-17 */
#define CHECK_TREND_DAYS	(CHECK_TREND_SILENT_DAYS + CHECK_TREND_BASE_DAYS)
/* A reporter "reports daily" when it did on this many baseline days. */
#define CHECK_TREND_DAILY	10
/* The failure rate alerts at this many times the baseline's share, when
 * both windows have CHECK_TREND_RATE_MIN sessions and the recent one
 * CHECK_TREND_RATE_MIN_FAILED failed ones: a handful of sessions says
 * nothing about a rate. */
#define CHECK_TREND_RATE_FACTOR	3
#define CHECK_TREND_RATE_MIN	100
#define CHECK_TREND_RATE_MIN_FAILED 10
/* Findings of one kind per check, at most (a hostile reporter could
 * invent endless result types or organization names). */
#define CHECK_TREND_MAX_EACH	8
/* In testing this long with an unchanged policy, and ready: enforce. */
#define CHECK_TESTING_READY_S	(14 * 86400)

struct web_stat_table;

/* One UTC day of a domain's reports, as web_stats_read counts them. */
struct check_day {
	uint64_t successful, failed;		/* sessions */
	const struct web_stat_table *results;	/* failed sessions per
						 * result type; NULL: none */
	const struct web_stat_table *orgs;	/* sessions per reporting
						 * organization; NULL: none */
};

/* Adds to r what days[0..n) (days[i] i days before today; missing days
 * count as empty) show: each result type with failed sessions on the
 * CHECK_TREND_RECENT_DAYS that the CHECK_TREND_BASE_DAYS before did not
 * have (when those had any session at all: without a baseline nothing
 * is new); the recent failure share at CHECK_TREND_RATE_FACTOR times
 * the baseline's or more (with the minimums above); each organization
 * that reported on CHECK_TREND_DAILY of the baseline days before the
 * CHECK_TREND_SILENT_DAYS and on none of these. Each a warning of area
 * reports; nothing when all is as before. */
void	check_trend(struct check_report *r, const struct check_day *days,
	    size_t n);

/* The result type whose cause the monitor looks up (RFC 8460
 * §4.3.2.1: the sender could not fetch the policy, and says no more). */
#define CHECK_FETCH_ERROR "sts-policy-fetch-error"

/* When days[0..CHECK_TREND_RECENT_DAYS) show CHECK_FETCH_ERROR, adds
 * what r's own policy fetch (made just now as a sender makes it: both
 * address families, no redirect, the certificate chain) says: an info
 * finding of area reports about that result type, its text the
 * warnings and failures of area policy, or that the fetch succeeds now;
 * and the cause after the text of a new-failure-type finding of it
 * (call after check_trend), so that its alert says why. */
void	check_fetch_cause(struct check_report *r, const struct check_day *days,
	    size_t n);

/* Adds a failure about certificate name (mta-sts.<domain>, or the
 * service's own name) when the ACME manager's last order for it failed
 * (failed_at != 0: acme_cert_state): failures in a row, the reason, and
 * when the current certificate ends (not_after, 0: none). */
void	check_cert_renewal(struct check_report *r, const char *name,
	    time_t failed_at, unsigned failures, const char *reason,
	    time_t not_after);

/* Adds a warning when the domain (r->domain) is in testing, its policy
 * unchanged since updated for CHECK_TESTING_READY_S at now, and the
 * readiness view says ready (its summary in why). */
void	check_testing_ready(struct check_report *r, enum policy_mode mode,
	    time_t updated, time_t now, bool ready, const char *why);

/* --- the edges (check_run.c) ------------------------------------------ */

/* What a domain is checked with. */
struct check_opts {
	struct dns_conf	 dns;		/* the resolvers' settings
					 * (dns_conf_get) */
	const char	*ca_file;	/* trust only this for HTTPS and
					 * STARTTLS, or NULL: the system's */
	bool		 allow_private;	/* probe loopback and private
					 * addresses too */
	const struct policy_templates *templates;	/* mx templates,
					 * or NULL (check_mx_templates) */
};

/* What stsguard serves for a domain it hosts, for check_hosted. */
struct check_hosted_info {
	bool	 hosted;
	char	 policy_id[LIMIT_STS_ID_LEN + 1];
	char	 service_host[LIMIT_DNAME_LEN + 1];
	char	 own_prefix[LIMIT_DNAME_LEN + 64];	/* see check_tlsrpt */
};

/* Runs every step for domain (normalized) with resolver res (the
 * caller's, one per thread) into r (initialised here; caller calls
 * check_report_free). hosted may be NULL. Never fails: what could not be
 * looked at is a finding. Needs curl_global_init done by the caller. */
void	check_domain(const struct check_opts *o, struct dns_resolver *res,
	    const char *domain, const struct check_hosted_info *hosted,
	    struct check_report *r);

/* Checks domains[0..n) with up to `parallel` threads, each with its own
 * resolver; reports[i] is domains[i]'s (caller frees each). hosted[i]
 * may be NULL (so may hosted). progress, when not NULL, is called after
 * each domain with the count done, from the worker threads under a
 * lock. Returns 0, or -1 with the reason when no resolver could be made
 * (bad nameserver). */
int	check_many(const struct check_opts *o, const char *const *domains,
	    const struct check_hosted_info *const *hosted, size_t n,
	    size_t parallel, struct check_report *reports,
	    void (*progress)(size_t done, size_t total), struct err *e);

/* --- the monitor (check_monitor.c), inside `stsguard serve` ----------- */

/* Domains the monitor checks at once: a background job on a machine
 * that serves policies; each check waits mostly on the network. */
#define CHECK_MONITOR_CONCURRENCY 2

struct store;
struct check_monitor;

struct check_monitor_config {
	const char	*data_dir;	/* certificates; the store when */
	const char	*store_url;	/* this is NULL (store_open_at) */
	const char	*service_host;	/* for check_hosted */
	struct check_opts opts;		/* nameserver, CA, private addresses */
	time_t		 interval;	/* seconds between checks of a
					 * domain, +-10 % jitter; 0: no
					 * periodic checks */
	time_t		 cooldown;	/* seconds before an alert for the
					 * same (domain, subject, kind) is
					 * raised again */
	const char	*webhook;	/* URL for alerts, or NULL */
	const char	*mail_to;	/* alerts by e-mail to this address
					 * (from stsguard@<service_host>), or
					 * NULL */
	const char	*smtp_relay;	/* "HOST[:PORT]" that takes them */
	bool		 digest;	/* mail each tenant's owners a weekly
					 * digest through smtp_relay */
};

/* Starts the monitor's thread (when c->interval, c->webhook, c->mail_to
 * or c->digest is set): rounds of the domains due, each checked and kept
 * with its alerts, and the alerts the webhook or the relay has not taken
 * sent again. c's strings are
 * borrowed until check_monitor_stop. Needs curl_global_init done.
 * Returns 0 and *out, or -1 with the reason. */
int	check_monitor_start(const struct check_monitor_config *c,
	    struct check_monitor **out, struct err *e);
/* Stops the thread (a check in progress ends first: at most the
 * checker's timeouts) and frees m. NULL is fine. */
void	check_monitor_stop(struct check_monitor *m);

/* Checks domain now, from any thread, with that thread's store s: kept
 * and alerted on like a periodic check (the webhook gets the alerts at
 * once, from the monitor's thread). Returns 0, 1 when CHECK_MONITOR_
 * CONCURRENCY checks on demand run already (try later), or -1 with the
 * reason (the domain is not hosted, the store failed). */
int	check_monitor_run(struct check_monitor *m, struct store *s,
	    const char *domain, struct err *e);

/* The alerts m raised since it started, by severity: [0] critical, [1]
 * error, [2] warning (the metrics). Any thread. */
#define CHECK_SEVERITIES 3
void	check_monitor_alerts(struct check_monitor *m,
	    uint64_t out[CHECK_SEVERITIES]);

#endif
