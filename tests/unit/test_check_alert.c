/*
 * test_check_alert.c - the monitor's pure half (check.h, check_alert.c):
 * the kinds the checker gives its findings, the stored JSON of a check
 * read back, the alerts of one check against the one before (only what
 * got worse, once per kind and subject), the cool-down, and the
 * webhook's body; the monitor's own findings (check_trend.c) from
 * crafted days of reports: a new failure type, the failure rate against
 * the domain's baseline, a daily reporter gone silent, the cause of
 * sts-policy-fetch-error from the check's own fetch, a failing
 * certificate renewal, a domain ready to leave testing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "check/check.h"
#include "web/web.h"

#define POLICY_CRLF(mode, mx, age) \
	"version: STSv1\r\nmode: " mode "\r\nmx: " mx "\r\nmax_age: " age "\r\n"

static const struct check_dns found = { .rc = DNS_FOUND };

/* A report for example.com with its policy from body and its MX records
 * mx[0..n) compared with it. */
static void
with_mx(struct check_report *r, const char *body, const struct dns_mx *mx,
    size_t n)
{
	struct check_fetch f = { 0 };

	f.url = "https://mta-sts.example.com/.well-known/mta-sts.txt";
	f.status = 200;
	f.content_type = "text/plain";
	f.body = body;
	f.len = strlen(body);
	check_report_init(r, "example.com");
	check_policy_fetch(r, &f);
	assert_true(r->have_policy);
	check_mx_cover(r, found, mx, n);
}

/* The kind of r's finding about subject at level lv, or -1. */
static int
kind_of(const struct check_report *r, const char *subject,
    enum check_level lv)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->f[i].level == lv && strcmp(r->f[i].subject,
		    subject) == 0)
			return (int)r->f[i].kind;
	return -1;
}

/* r stored as the monitor stores it, then read back. */
static struct check_seen *
stored(const struct check_report *r, size_t *n)
{
	struct check_seen *s;
	json_t *o = check_report_json(r, 1765056000);
	char *json;

	assert_non_null(o);
	json = json_dumps(o, JSON_COMPACT);
	assert_non_null(json);
	assert_int_equal(check_seen_parse(json, &s, n), 0);
	json_decref(o);
	free(json);
	return s;
}

static void
test_kinds(void **state)
{
	struct dns_mx mx[2] = { { 10, "mx1.example.com" },
	    { 20, "mx2.example.net" } };
	struct check_report r;
	struct strv chain = { 0 };
	struct check_smtp s = { 0 };

	(void)state;
	/* An uncovered MX: its own kind, in enforce a failure. */
	with_mx(&r, POLICY_CRLF("enforce", "mx1.example.com", "1209600"),
	    mx, 2);
	assert_int_equal(kind_of(&r, "mx2.example.net", CHECK_FAIL),
	    CHECK_K_MX_UNCOVERED);
	assert_int_equal(kind_of(&r, "mx1.example.com", CHECK_PASS),
	    CHECK_K_RECORD);
	check_report_free(&r);

	/* The id lagging, the CNAME elsewhere. */
	check_report_init(&r, "example.com");
	snprintf(r.sts_id, sizeof(r.sts_id), "old1");
	assert_int_equal(strv_push(&chain, "elsewhere.example"), 0);
	check_hosted(&r, "new2", "sts.example.net", &chain);
	assert_int_equal(kind_of(&r, "_mta-sts.example.com", CHECK_FAIL),
	    CHECK_K_ID_LAG);
	assert_int_equal(kind_of(&r, "mta-sts.example.com", CHECK_FAIL),
	    CHECK_K_CNAME);
	strv_free(&chain);
	check_report_free(&r);

	/* An MX certificate with 3 days left: cert-expiry, a warning. */
	s.host = "mx1.example.com";
	s.addr = "192.0.2.1";
	s.addrs = found;
	s.starttls = true;
	s.tls_version = "TLSv1.3";
	s.now = 1765056000;
	s.not_after = s.now + 3 * 86400;
	s.tlsa.rc = DNS_NONE;
	check_report_init(&r, "example.com");
	check_smtp_probe(&r, &s);
	assert_int_equal(kind_of(&r, "mx1.example.com:25", CHECK_WARN),
	    CHECK_K_CERT_EXPIRY);
	check_report_free(&r);

	/* The mta-sts certificate near expiry too. */
	{
		const char *body = POLICY_CRLF("enforce", "mx1.example.com",
		    "1209600");
		struct check_fetch f = { 0 };

		f.url = "https://mta-sts.example.com/.well-known/mta-sts.txt";
		f.status = 200;
		f.content_type = "text/plain";
		f.body = body;
		f.len = strlen(body);
		f.now = 1765056000;
		f.not_after = f.now + 86400;
		check_report_init(&r, "example.com");
		check_policy_fetch(&r, &f);
		assert_int_equal(kind_of(&r, f.url, CHECK_WARN),
		    CHECK_K_CERT_EXPIRY);
		check_report_free(&r);
		/* 30 days left: nothing to say. */
		f.not_after = f.now + 30 * 86400;
		check_report_init(&r, "example.com");
		check_policy_fetch(&r, &f);
		assert_int_equal(r.nwarn, 0);
		check_report_free(&r);
	}

	/* Names round-trip. */
	for (int k = 0; k <= CHECK_K_MAX; k++)
		assert_int_equal(check_kind_parse(check_kind_name(k)), k);
	assert_int_equal(check_kind_parse("nope"), -1);
}

static void
test_json(void **state)
{
	struct dns_mx mx[2] = { { 10, "mx1.example.com" },
	    { 20, "mx2.example.net" } };
	struct check_report r;
	struct check_seen *s;
	json_t *o;
	size_t n;

	(void)state;
	with_mx(&r, POLICY_CRLF("enforce", "mx1.example.com", "1209600"),
	    mx, 2);
	o = check_report_json(&r, 1765056000);
	assert_string_equal(json_string_value(json_object_get(o, "checked")),
	    "2025-12-06T21:20:00Z");
	assert_string_equal(json_string_value(json_object_get(o, "verdict")),
	    "fail");
	assert_int_equal(json_integer_value(json_object_get(o, "failures")),
	    1);
	assert_int_equal(json_array_size(json_object_get(o, "findings")),
	    r.n);
	json_decref(o);
	s = stored(&r, &n);
	assert_int_equal(n, r.n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(s[i].level, r.f[i].level);
		assert_int_equal(s[i].kind, r.f[i].kind);
		assert_string_equal(s[i].subject, r.f[i].subject);
	}
	free(s);
	check_report_free(&r);

	/* Bytes that are not UTF-8 (from a TXT record) keep the finding. */
	check_report_init(&r, "example.com");
	check_add(&r, CHECK_FAIL, CHECK_A_STS_TXT, "_mta-sts.example.com",
	    "fix \xff", "the v=STSv1 record is invalid: \xc3(");
	o = check_report_json(&r, 1765056000);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(o, "findings"), 0), "text")),
	    "the v=STSv1 record is invalid: ?(");
	json_decref(o);
	check_report_free(&r);

	/* Not a stored check. */
	assert_int_equal(check_seen_parse("[1]", &s, &n), -1);
	assert_null(s);
	assert_int_equal(check_seen_parse("{", &s, &n), -1);
	/* An unknown kind reads as none, an unknown level as pass. */
	assert_int_equal(check_seen_parse("{\"findings\": [{\"level\": "
	    "\"odd\", \"kind\": \"new-kind\", \"subject\": \"x\"}]}", &s, &n),
	    0);
	assert_int_equal(n, 1);
	assert_int_equal(s[0].kind, CHECK_K_NONE);
	assert_int_equal(s[0].level, CHECK_PASS);
	free(s);
}

static void
test_diff(void **state)
{
	struct dns_mx mx[3] = { { 10, "mx1.example.com" },
	    { 20, "mx2.example.net" }, { 30, "mx3.example.net" } };
	struct check_alert al[8];
	struct check_report before, after, r;
	struct check_seen *prev;
	size_t nprev, na;

	(void)state;
	with_mx(&before, POLICY_CRLF("enforce", "mx1.example.com", "1209600"),
	    mx, 1);
	/* The first check ever is the baseline: nothing to say, even about
	 * what fails. */
	assert_int_equal(check_alerts_diff(&before, false, NULL, 0, al, 8), 0);
	with_mx(&r, POLICY_CRLF("enforce", "mx1.example.com", "1209600"), mx,
	    3);
	assert_true(r.nfail > 0);
	assert_int_equal(check_alerts_diff(&r, false, NULL, 0, al, 8), 0);
	check_report_free(&r);
	prev = stored(&before, &nprev);

	/* An MX the policy does not cover appears: one alert, critical in
	 * enforce, naming the MX and the fix. */
	with_mx(&after, POLICY_CRLF("enforce", "mx1.example.com", "1209600"),
	    mx, 2);
	na = check_alerts_diff(&after, true, prev, nprev, al, 8);
	assert_int_equal(na, 1);
	assert_int_equal(al[0].kind, CHECK_K_MX_UNCOVERED);
	assert_string_equal(al[0].severity, "critical");
	assert_string_equal(al[0].subject, "mx2.example.net");
	assert_non_null(strstr(al[0].fix, "mx: mx2.example.net"));
	free(prev);

	/* The same failure the next time: nothing new. */
	prev = stored(&after, &nprev);
	assert_int_equal(check_alerts_diff(&after, true, prev, nprev, al, 8), 0);

	/* A second uncovered MX besides: only that one. */
	with_mx(&r, POLICY_CRLF("enforce", "mx1.example.com", "1209600"), mx,
	    3);
	na = check_alerts_diff(&r, true, prev, nprev, al, 8);
	assert_int_equal(na, 1);
	assert_string_equal(al[0].subject, "mx3.example.net");
	/* cap bounds what is written. */
	assert_int_equal(check_alerts_diff(&r, true, NULL, 0, al, 1), 1);
	check_report_free(&r);
	free(prev);

	/* Testing mode: a warning; then enforce: worse, so again. */
	with_mx(&r, POLICY_CRLF("testing", "mx1.example.com", "1209600"), mx,
	    2);
	na = check_alerts_diff(&r, true, NULL, 0, al, 8);
	assert_int_equal(na, 1);
	assert_string_equal(al[0].severity, "warning");
	prev = stored(&r, &nprev);
	assert_int_equal(check_alerts_diff(&after, true, prev, nprev, al, 8), 1);
	assert_string_equal(al[0].severity, "critical");
	/* And back to a warning: better, nothing. */
	free(prev);
	prev = stored(&after, &nprev);
	assert_int_equal(check_alerts_diff(&r, true, prev, nprev, al, 8), 0);
	free(prev);
	check_report_free(&r);

	/* Findings of kind none and passes never alert; the same kind and
	 * subject twice in one check is one alert. */
	check_report_init(&r, "example.com");
	check_add(&r, CHECK_FAIL, CHECK_A_HOSTED, "x", NULL, "no kind");
	check_tag(&r, CHECK_K_NONE);
	check_add(&r, CHECK_FAIL, CHECK_A_SMTP, "mx1.example.com:25", "f",
	    "192.0.2.1: STARTTLS not offered");
	check_add(&r, CHECK_FAIL, CHECK_A_SMTP, "mx1.example.com:25", "f",
	    "192.0.2.2: STARTTLS not offered");
	na = check_alerts_diff(&r, true, NULL, 0, al, 8);
	assert_int_equal(na, 1);
	assert_int_equal(al[0].kind, CHECK_K_MX_TLS);
	assert_string_equal(al[0].severity, "error");
	check_report_free(&r);

	/* An alert's texts are UTF-8 whatever the DNS said. */
	check_report_init(&r, "example.com");
	check_add(&r, CHECK_FAIL, CHECK_A_TLSRPT, "_smtp._tls.example.com",
	    "fix", "invalid record: \xff\xfe");
	assert_int_equal(check_alerts_diff(&r, true, NULL, 0, al, 8), 1);
	assert_string_equal(al[0].text, "invalid record: ??");
	check_report_free(&r);

	check_report_free(&before);
	check_report_free(&after);
}

static void
test_cooldown(void **state)
{
	(void)state;
	assert_true(check_alert_due(0, 1000, 3600));
	assert_false(check_alert_due(1000, 1000, 3600));
	assert_false(check_alert_due(1000, 4599, 3600));
	assert_true(check_alert_due(1000, 4600, 3600));
	/* A clock that stepped back does not silence alerts for good. */
	assert_true(check_alert_due(5000, 1000, 3600));
	/* No cool-down. */
	assert_true(check_alert_due(1000, 1000, 0));
}

static void
test_webhook_body(void **state)
{
	struct check_alert_msg a = { 7, "example.com", "mx-uncovered",
	    "critical", "mx2.example.net", "MX 20 \"x\"", "", 1765056000 };
	char *b;
	json_t *o;
	json_error_t je;

	(void)state;
	b = check_alert_webhook_body(&a);
	assert_non_null(b);
	assert_null(strchr(b, '\n'));
	o = json_loads(b, 0, &je);
	assert_non_null(o);
	assert_int_equal(json_integer_value(json_object_get(o, "id")), 7);
	assert_string_equal(json_string_value(json_object_get(o, "kind")),
	    "mx-uncovered");
	assert_string_equal(json_string_value(json_object_get(o, "text")),
	    "MX 20 \"x\"");
	assert_true(json_is_null(json_object_get(o, "fix")));
	assert_string_equal(json_string_value(json_object_get(o, "raised")),
	    "2025-12-06T21:20:00Z");
	json_decref(o);
	free(b);
}

static void
test_mail(void **state)
{
	/* A subject from DNS with a line break: it must not add a header. */
	struct check_alert_msg a = { 7, "example.com", "mx-uncovered",
	    "critical", "mx2.example.net\r\nBcc: x@evil.example",
	    "MX 20: not covered\n.", "add \"mx: mx2\"", 1765056000 };
	char *m;

	(void)state;
	m = check_alert_mail(&a, "stsguard <stsguard@sts.example.net>",
	    "ops@example.net", "sts.example.net");
	assert_non_null(m);
	assert_non_null(strstr(m, "From: stsguard <stsguard@sts.example.net>"
	    "\r\nTo: ops@example.net\r\nSubject: [stsguard] critical: "
	    "example.com: mx-uncovered mx2.example.net  Bcc: x@evil.example"
	    "\r\nDate: Sat, 06 Dec 2025 21:20:00 +0000\r\nMessage-ID: "
	    "<alert-7-1765056000@sts.example.net>\r\n"));
	assert_null(strstr(m, "\r\nBcc:"));
	/* The header ends once; every line ends with CRLF. */
	assert_non_null(strstr(m, "Auto-Submitted: auto-generated\r\n\r\n"
	    "example.com: MX 20: not covered .\r\n\r\nfix: add \"mx: mx2\""
	    "\r\n\r\nkind: mx-uncovered"));
	for (const char *p = m; (p = strchr(p, '\n')) != NULL; p++)
		assert_true(p > m && p[-1] == '\r');
	free(m);
}

static void
test_digest_mail(void **state)
{
	char *m;

	(void)state;
	m = check_digest_mail("acme", "stsguard <stsguard@sts.example.net>",
	    "<ann@acme.example>, <bob@acme.example>", "sts.example.net",
	    1765056000, "a.example (enforce)\r\n  failures: 3 odd\ntype\r\n");
	assert_non_null(m);
	assert_non_null(strstr(m, "To: <ann@acme.example>, <bob@acme.example>"
	    "\r\nSubject: [stsguard] weekly digest: acme\r\n"));
	assert_non_null(strstr(m, "Message-ID: <digest-1765056000@"
	    "sts.example.net>\r\n"));
	/* The body's CRLFs kept, a bare LF (from a report) a space. */
	assert_non_null(strstr(m, "\r\n\r\na.example (enforce)\r\n"
	    "  failures: 3 odd type\r\n"));
	for (const char *p = m; (p = strchr(p, '\n')) != NULL; p++)
		assert_true(p > m && p[-1] == '\r');
	free(m);
}

/* --- check_trend.c ------------------------------------------------------ */

/* Crafted days of reports: per day up to 8 result types and 8
 * organizations. */
struct tday {
	struct web_stat_key res[8], org[8];
	struct web_stat_table results, orgs;
};

static struct tday tdays[CHECK_TREND_DAYS];
static struct check_day cdays[CHECK_TREND_DAYS];

static void
trend_reset(void)
{
	memset(tdays, 0, sizeof(tdays));
	memset(cdays, 0, sizeof(cdays));
	for (size_t i = 0; i < CHECK_TREND_DAYS; i++) {
		tdays[i].results.v = tdays[i].res;
		tdays[i].orgs.v = tdays[i].org;
		cdays[i].results = &tdays[i].results;
		cdays[i].orgs = &tdays[i].orgs;
	}
}

/* On day d, org reported ok successful and bad failed sessions, the
 * failed ones of result type type (NULL: none failed). */
static void
trend_put(size_t d, const char *org, uint64_t ok, uint64_t bad,
    const char *type)
{
	struct tday *t = &tdays[d];

	t->org[t->orgs.n].key = (char *)org;
	t->org[t->orgs.n].successful = ok;
	t->org[t->orgs.n++].failed = bad;
	cdays[d].successful += ok;
	cdays[d].failed += bad;
	if (type != NULL && bad > 0) {
		for (size_t i = 0; i < t->results.n; i++)
			if (strcmp(t->res[i].key, type) == 0) {
				t->res[i].failed += bad;
				return;
			}
		t->res[t->results.n].key = (char *)type;
		t->res[t->results.n++].failed = bad;
	}
}

/* The findings of kind k in r: how many, and the subject of the first
 * into sub (when not NULL). */
static size_t
count_kind(const struct check_report *r, enum check_kind k, const char **sub)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++)
		if (r->f[i].kind == k) {
			if (n++ == 0 && sub != NULL)
				*sub = r->f[i].subject;
		}
	return n;
}

/* Two reporters every day of the 18, clean: nothing to say. */
static void
clean_weeks(void)
{
	trend_reset();
	for (size_t d = 0; d < CHECK_TREND_DAYS; d++) {
		trend_put(d, "Google Inc.", 500, 0, NULL);
		trend_put(d, "Microsoft", 300, 2, "certificate-expired");
	}
}

static void
test_trend_quiet(void **state)
{
	struct check_report r;

	(void)state;
	clean_weeks();
	check_report_init(&r, "example.com");
	check_trend(&r, cdays, CHECK_TREND_DAYS);
	assert_int_equal(r.n, 0);
	/* No report at all: nothing either. */
	trend_reset();
	check_trend(&r, cdays, CHECK_TREND_DAYS);
	assert_int_equal(r.n, 0);
	check_report_free(&r);
}

static void
test_trend_new_type(void **state)
{
	struct check_report r;
	struct check_seen *prev;
	struct check_alert al[8];
	const char *sub = NULL;
	size_t np;

	(void)state;
	clean_weeks();
	/* Yesterday a type the two weeks before did not have; today too:
	 * one finding, its sessions summed. */
	trend_put(1, "Google Inc.", 0, 3, "sts-policy-fetch-error");
	trend_put(0, "Google Inc.", 0, 1, "sts-policy-fetch-error");
	check_report_init(&r, "example.com");
	check_trend(&r, cdays, CHECK_TREND_DAYS);
	assert_int_equal(count_kind(&r, CHECK_K_NEW_FAILURE, &sub), 1);
	assert_string_equal(sub, "sts-policy-fetch-error");
	assert_int_equal(r.f[0].level, CHECK_WARN);
	assert_int_equal(r.f[0].area, CHECK_A_REPORTS);
	assert_non_null(strstr(r.f[0].text, "4 sessions in the last 2 days"));
	/* The type seen before (day 15, the baseline's oldest): not new. */
	prev = stored(&r, &np);
	trend_put(15, "Microsoft", 0, 1, "sts-policy-fetch-error");
	check_report_free(&r);
	check_report_init(&r, "example.com");
	check_trend(&r, cdays, CHECK_TREND_DAYS);
	assert_int_equal(count_kind(&r, CHECK_K_NEW_FAILURE, NULL), 0);
	check_report_free(&r);
	/* Only day 16 had it (past the baseline): new again; raised as an
	 * alert against a check without it, not against one with it. */
	clean_weeks();
	trend_put(1, "Google Inc.", 0, 3, "sts-policy-fetch-error");
	trend_put(16, "Microsoft", 0, 1, "sts-policy-fetch-error");
	check_report_init(&r, "example.com");
	check_trend(&r, cdays, CHECK_TREND_DAYS);
	assert_int_equal(count_kind(&r, CHECK_K_NEW_FAILURE, NULL), 1);
	assert_int_equal(check_alerts_diff(&r, true, NULL, 0, al, 8), 1);
	assert_string_equal(check_kind_name(al[0].kind), "new-failure-type");
	assert_string_equal(al[0].severity, "warning");
	assert_int_equal(check_alerts_diff(&r, true, prev, np, al, 8), 0);
	free(prev);
	check_report_free(&r);
	/* No baseline (a domain whose reports start now): nothing new. */
	trend_reset();
	trend_put(0, "Google Inc.", 10, 3, "starttls-not-supported");
	check_report_init(&r, "example.com");
	check_trend(&r, cdays, CHECK_TREND_DAYS);
	assert_int_equal(r.n, 0);
	check_report_free(&r);
	/* A hostile reporter's endless types: CHECK_TREND_MAX_EACH. */
	clean_weeks();
	{
		static char names[3][4][16];

		for (int d = 0; d < 2; d++)
			for (int i = 0; i < 4; i++) {
				snprintf(names[d][i], 16, "odd-%d-%d", d, i);
				trend_put(d, "X", 0, 1, names[d][i]);
			}
	}
	check_report_init(&r, "example.com");
	check_trend(&r, cdays, CHECK_TREND_DAYS);
	assert_int_equal(count_kind(&r, CHECK_K_NEW_FAILURE, NULL), 8);
	check_report_free(&r);
}

static void
test_trend_rate(void **state)
{
	struct check_report r;
	const char *sub = NULL;

	(void)state;
	/* Baseline 0.25 % (2 of 802 a day); yesterday 3 of 400 = 0.75 %,
	 * exactly three times, but under CHECK_TREND_RATE_MIN_FAILED. */
	trend_reset();
	for (size_t d = 2; d < CHECK_TREND_DAYS; d++) {
		trend_put(d, "Google Inc.", 500, 0, NULL);
		trend_put(d, "Microsoft", 300, 2, "certificate-expired");
	}
	trend_put(1, "Google Inc.", 397, 3, "certificate-expired");
	check_report_init(&r, "example.com");
	check_trend(&r, cdays, CHECK_TREND_DAYS);
	assert_int_equal(count_kind(&r, CHECK_K_FAILURE_RATE, NULL), 0);
	check_report_free(&r);
	/* 12 of 1600 = 0.75 %: three times, enough failed sessions. */
	trend_put(0, "Google Inc.", 1191, 9, "certificate-expired");
	check_report_init(&r, "example.com");
	check_trend(&r, cdays, CHECK_TREND_DAYS);
	assert_int_equal(count_kind(&r, CHECK_K_FAILURE_RATE, &sub), 1);
	assert_string_equal(sub, "example.com");
	assert_non_null(strstr(r.f[0].text, "0.8 % in the last 2 days (12 of "
	    "1600 sessions)"));
	assert_non_null(strstr(r.f[0].text, "its 0.2 %"));
	check_report_free(&r);
	/* 11 of 1600: under three times. */
	tdays[0].org[0].failed = 8;
	cdays[0].failed = 8;
	check_report_init(&r, "example.com");
	check_trend(&r, cdays, CHECK_TREND_DAYS);
	assert_int_equal(count_kind(&r, CHECK_K_FAILURE_RATE, NULL), 0);
	check_report_free(&r);
	/* A tiny sample: 50 sessions, 20 failed, against a clean baseline:
	 * under CHECK_TREND_RATE_MIN sessions, no alert. */
	trend_reset();
	for (size_t d = 2; d < CHECK_TREND_DAYS; d++)
		trend_put(d, "Google Inc.", 500, 0, NULL);
	trend_put(1, "Google Inc.", 30, 20, "validation-failure");
	check_report_init(&r, "example.com");
	check_trend(&r, cdays, CHECK_TREND_DAYS);
	assert_int_equal(count_kind(&r, CHECK_K_FAILURE_RATE, NULL), 0);
	/* ... but the type is new. */
	assert_int_equal(count_kind(&r, CHECK_K_NEW_FAILURE, NULL), 1);
	check_report_free(&r);
	/* A baseline of a few sessions: none to compare with. */
	trend_reset();
	trend_put(5, "Google Inc.", 50, 0, NULL);
	trend_put(1, "Google Inc.", 900, 100, "validation-failure");
	check_report_init(&r, "example.com");
	check_trend(&r, cdays, CHECK_TREND_DAYS);
	assert_int_equal(count_kind(&r, CHECK_K_FAILURE_RATE, NULL), 0);
	check_report_free(&r);
}

static void
test_trend_silent(void **state)
{
	struct check_report r;
	const char *sub = NULL;

	(void)state;
	/* Google every day; Microsoft on days 4-17 (14 of 14) and not on
	 * days 0-3; Yahoo on 9 of days 4-17 only (not daily). */
	trend_reset();
	for (size_t d = 0; d < CHECK_TREND_DAYS; d++) {
		trend_put(d, "Google Inc.", 500, 0, NULL);
		if (d >= 4)
			trend_put(d, "Microsoft", 300, 0, NULL);
		if (d >= 4 && d < 13)
			trend_put(d, "Yahoo", 10, 0, NULL);
	}
	check_report_init(&r, "example.com");
	check_trend(&r, cdays, CHECK_TREND_DAYS);
	assert_int_equal(count_kind(&r, CHECK_K_REPORTER_SILENT, &sub), 1);
	assert_string_equal(sub, "Microsoft");
	assert_non_null(strstr(r.f[0].text, "Microsoft reported on 14 of the "
	    "14 days before and on none of the last 4"));
	check_report_free(&r);
	/* Microsoft reports again on day 3 (late by one): not silent. */
	trend_put(3, "Microsoft", 300, 0, NULL);
	check_report_init(&r, "example.com");
	check_trend(&r, cdays, CHECK_TREND_DAYS);
	assert_int_equal(count_kind(&r, CHECK_K_REPORTER_SILENT, NULL), 0);
	check_report_free(&r);
	/* Exactly CHECK_TREND_DAILY days of the baseline: silent. */
	trend_reset();
	for (size_t d = 4; d < 4 + CHECK_TREND_DAILY; d++)
		trend_put(d, "Microsoft", 1, 0, NULL);
	check_report_init(&r, "example.com");
	check_trend(&r, cdays, CHECK_TREND_DAYS);
	assert_int_equal(count_kind(&r, CHECK_K_REPORTER_SILENT, NULL), 1);
	check_report_free(&r);
	/* Fewer days known than the windows (NULL tables): quiet. */
	trend_reset();
	cdays[0].orgs = NULL;
	cdays[0].results = NULL;
	check_report_init(&r, "example.com");
	check_trend(&r, cdays, 1);
	assert_int_equal(r.n, 0);
	check_report_free(&r);
}

static void
test_fetch_cause(void **state)
{
	struct check_report r;
	struct check_fetch f = { 0 };
	const char *sub = NULL;

	(void)state;
	/* Nothing in the reports: nothing said. */
	clean_weeks();
	check_report_init(&r, "example.com");
	check_fetch_cause(&r, cdays, CHECK_TREND_DAYS);
	assert_int_equal(r.n, 0);
	/* The reports show it, and the fetch now fails: the cause beside
	 * it, and in the new type's text (its alert). */
	trend_put(1, "Google Inc.", 0, 7, CHECK_FETCH_ERROR);
	f.url = "https://mta-sts.example.com/.well-known/mta-sts.txt";
	f.status = 404;
	f.content_type = "text/html";
	f.body = "nope";
	f.len = 4;
	check_policy_fetch(&r, &f);
	assert_true(r.nfail > 0);
	check_trend(&r, cdays, CHECK_TREND_DAYS);
	check_fetch_cause(&r, cdays, CHECK_TREND_DAYS);
	assert_int_equal(count_kind(&r, CHECK_K_NEW_FAILURE, &sub), 1);
	for (size_t i = 0; i < r.n; i++) {
		if (r.f[i].kind == CHECK_K_NEW_FAILURE)
			assert_non_null(strstr(r.f[i].text, "; the policy "
			    "fetch now: "));
		if (r.f[i].area != CHECK_A_REPORTS ||
		    r.f[i].level != CHECK_INFO)
			continue;
		assert_string_equal(r.f[i].subject, CHECK_FETCH_ERROR);
		assert_int_equal(r.f[i].kind, CHECK_K_NONE);
		assert_non_null(strstr(r.f[i].text, "7 sessions in the last 2 "
		    "days could not fetch the policy; the fetch as a sender "
		    "makes it, now: "));
		assert_non_null(strstr(r.f[i].text, "404"));
		sub = NULL;
	}
	assert_null(sub);	/* the info finding was there */
	check_report_free(&r);
	/* The fetch succeeds now: said so. */
	check_report_init(&r, "example.com");
	check_fetch_cause(&r, cdays, CHECK_TREND_DAYS);
	assert_int_equal(r.n, 1);
	assert_non_null(strstr(r.f[0].text, "now: it succeeds (the failure "
	    "passed, or was the sender's)"));
	check_report_free(&r);
}

static void
test_cert_renewal(void **state)
{
	struct check_report r;
	struct check_alert al[2];

	(void)state;
	check_report_init(&r, "example.com");
	check_cert_renewal(&r, "mta-sts.example.com", 0, 0, "", 0);
	assert_int_equal(r.n, 0);
	check_cert_renewal(&r, "mta-sts.example.com", 1765056000, 3,
	    "validation failed: urn:ietf:params:acme:error:dns", 1767000000);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.nfail, 1);
	assert_int_equal(r.f[0].kind, CHECK_K_CERT_RENEWAL);
	assert_string_equal(r.f[0].subject, "mta-sts.example.com");
	assert_string_equal(r.f[0].text, "the renewal of the certificate of "
	    "mta-sts.example.com failed 3 times in a row, last 2025-12-06 "
	    "21:20 UTC: validation failed: urn:ietf:params:acme:error:dns; "
	    "the current one ends 2025-12-29 09:20 UTC");
	assert_int_equal(check_alerts_diff(&r, true, NULL, 0, al, 2), 1);
	assert_string_equal(check_kind_name(al[0].kind), "cert-renewal");
	assert_string_equal(al[0].severity, "error");
	check_report_free(&r);
	check_report_init(&r, "example.com");
	check_cert_renewal(&r, "sts.example.net", 1765056000, 1, NULL, 0);
	assert_non_null(strstr(r.f[0].text, "failed 1 time in a row"));
	assert_non_null(strstr(r.f[0].text, "no reason kept; there is no "
	    "current one"));
	check_report_free(&r);
}

static void
test_testing_ready(void **state)
{
	const time_t now = 1765056000, day = 86400;
	struct check_report r;

	(void)state;
	check_report_init(&r, "example.com");
	/* Enforce, too recent, not ready, a clock gone back: nothing. */
	check_testing_ready(&r, POLICY_MODE_ENFORCE, now - 30 * day, now,
	    true, NULL);
	check_testing_ready(&r, POLICY_MODE_TESTING, now - 13 * day, now,
	    true, NULL);
	check_testing_ready(&r, POLICY_MODE_TESTING, now - 30 * day, now,
	    false, NULL);
	check_testing_ready(&r, POLICY_MODE_TESTING, now + day, now, true,
	    NULL);
	assert_int_equal(r.n, 0);
	check_testing_ready(&r, POLICY_MODE_TESTING, now - 14 * day, now,
	    true, "no session failed under the policy");
	assert_int_equal(r.n, 1);
	assert_int_equal(r.f[0].level, CHECK_WARN);
	assert_int_equal(r.f[0].kind, CHECK_K_TESTING_READY);
	assert_string_equal(r.f[0].subject, "example.com");
	assert_string_equal(r.f[0].text, "in testing for 14 days with the "
	    "policy unchanged, and the reports say it is ready to enforce: "
	    "no session failed under the policy");
	assert_string_equal(r.f[0].fix,
	    "stsguard domain set example.com --mode enforce");
	check_report_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_cooldown),
		cmocka_unit_test(test_webhook_body),
		cmocka_unit_test(test_mail),
		cmocka_unit_test(test_digest_mail),
		cmocka_unit_test(test_trend_quiet),
		cmocka_unit_test(test_trend_new_type),
		cmocka_unit_test(test_trend_rate),
		cmocka_unit_test(test_trend_silent),
		cmocka_unit_test(test_fetch_cause),
		cmocka_unit_test(test_cert_renewal),
		cmocka_unit_test(test_testing_ready),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
