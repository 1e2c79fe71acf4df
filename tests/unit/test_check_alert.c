/*
 * test_check_alert.c - the monitor's pure half (check.h, check_alert.c):
 * the kinds the checker gives its findings, the stored JSON of a check
 * read back, the alerts of one check against the one before (only what
 * got worse, once per kind and subject), the cool-down, and the
 * webhook's body.
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

#define POLICY_CRLF(mode, mx, age) \
	"version: STSv1\r\nmode: " mode "\r\nmx: " mx "\r\nmax_age: " age "\r\n"

static const struct check_dns found = { DNS_FOUND, NULL };

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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
