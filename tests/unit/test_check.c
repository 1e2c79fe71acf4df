/*
 * test_check.c - the checker's pure half (check.h, check_eval.c) and the
 * resolver's rdata decoding (dns.h), with cases written from RFC 8461
 * §3.1-§4.2, RFC 8460 §3 and RFC 5321 §4.2: what was found goes in, and
 * each case asserts the level and the words of the finding it gives.
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

/* --- helpers ---------------------------------------------------------- */

/* How many findings of r have level lv and contain s (text or fix). */
static size_t
count(const struct check_report *r, enum check_level lv, const char *s)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++)
		if (r->f[i].level == lv && (strstr(r->f[i].text, s) != NULL ||
		    strstr(r->f[i].fix, s) != NULL))
			n++;
	return n;
}

/* Fails the test with every finding of r printed unless r has a finding
 * of level lv containing s. */
static void
want(const struct check_report *r, enum check_level lv, const char *s)
{
	if (count(r, lv, s) > 0)
		return;
	for (size_t i = 0; i < r->n; i++)
		print_message("  %s %s: %s | %s\n",
		    check_level_name(r->f[i].level), r->f[i].subject,
		    r->f[i].text, r->f[i].fix);
	fail_msg("no %s finding with '%s'", check_level_name(lv), s);
}

static struct strv
sv(const char *a, const char *b, const char *c)
{
	struct strv v = { 0 };

	if (a)
		assert_int_equal(strv_push(&v, a), 0);
	if (b)
		assert_int_equal(strv_push(&v, b), 0);
	if (c)
		assert_int_equal(strv_push(&v, c), 0);
	return v;
}

static const struct check_dns found = { .rc = DNS_FOUND };
static const struct check_dns none = { .rc = DNS_NONE,
    .err = "x: no such name" };
static const struct check_dns failed = { .rc = DNS_FAILED,
    .err = "x: rcode 2" };

#define POLICY_CRLF(mode, mx, age) \
	"version: STSv1\r\nmode: " mode "\r\nmx: " mx "\r\nmax_age: " age "\r\n"

/* A report for example.com whose policy came from body. */
static void
with_policy(struct check_report *r, const char *body)
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
}

/* --- step 1: _mta-sts TXT (RFC 8461 §3.1) ----------------------------- */

static void
test_sts_txt(void **state)
{
	struct check_report r;
	struct strv txt, chain = { 0 };

	(void)state;
	/* One STSv1 record among others: its id is taken. */
	txt = sv("google-site-verification=x", "v=STSv1; id=20260101T000000;",
	    NULL);
	check_report_init(&r, "example.com");
	check_sts_txt(&r, found, &txt, &chain);
	want(&r, CHECK_PASS, "one v=STSv1 record, id 20260101T000000");
	assert_string_equal(r.sts_id, "20260101T000000");
	assert_int_equal(r.nfail, 0);
	check_report_free(&r);
	strv_free(&txt);

	/* Two: senders use none. */
	txt = sv("v=STSv1; id=a1;", "v=STSv1; id=b2;", NULL);
	check_report_init(&r, "example.com");
	check_sts_txt(&r, found, &txt, &chain);
	want(&r, CHECK_FAIL, "2 v=STSv1 records");
	want(&r, CHECK_FAIL, "keep exactly one");
	assert_string_equal(r.sts_id, "");
	check_report_free(&r);
	strv_free(&txt);

	/* "v=STSv12" is not an STSv1 record. */
	txt = sv("v=STSv12; id=a1;", NULL, NULL);
	check_report_init(&r, "example.com");
	check_sts_txt(&r, found, &txt, &chain);
	want(&r, CHECK_FAIL, "none starting with v=STSv1");
	check_report_free(&r);
	strv_free(&txt);

	/* An invalid id names the parser's reason. */
	txt = sv("v=STSv1; id=not-alnum;", NULL, NULL);
	check_report_init(&r, "example.com");
	check_sts_txt(&r, found, &txt, &chain);
	want(&r, CHECK_FAIL, "the v=STSv1 record is invalid");
	check_report_free(&r);
	strv_free(&txt);

	/* Unknown extension fields: valid, with a warning. */
	txt = sv("v=STSv1; id=a1; foo=bar", NULL, NULL);
	check_report_init(&r, "example.com");
	check_sts_txt(&r, found, &txt, &chain);
	assert_int_equal(r.nfail, 0);
	assert_int_equal(r.nwarn, 1);
	check_report_free(&r);
	strv_free(&txt);

	/* No record; a failed lookup. */
	txt = sv(NULL, NULL, NULL);
	check_report_init(&r, "example.com");
	check_sts_txt(&r, none, &txt, &chain);
	want(&r, CHECK_FAIL, "no TXT record");
	want(&r, CHECK_FAIL, "publish one TXT record at _mta-sts.example.com");
	check_report_free(&r);
	check_report_init(&r, "example.com");
	check_sts_txt(&r, failed, &txt, &chain);
	want(&r, CHECK_FAIL, "DNS lookup failed: x: rcode 2");
	check_report_free(&r);

	/* The CNAME chain is shown; a too long one fails. */
	txt = sv("v=STSv1; id=a1;", NULL, NULL);
	chain = sv("example.com._sts.example.net", NULL, NULL);
	check_report_init(&r, "example.com");
	check_sts_txt(&r, found, &txt, &chain);
	want(&r, CHECK_INFO, "_mta-sts.example.com -> "
	    "example.com._sts.example.net");
	assert_int_equal(r.nfail, 0);
	check_report_free(&r);
	for (int i = 0; i < LIMIT_CHECK_CNAME_CHAIN; i++)
		assert_int_equal(strv_push(&chain, "c.example.net"), 0);
	check_report_init(&r, "example.com");
	check_sts_txt(&r, found, &txt, &chain);
	want(&r, CHECK_FAIL, "CNAME chain of");
	check_report_free(&r);
	strv_free(&txt);
	strv_free(&chain);
}

/* --- step 2: the policy host and its fetch (RFC 8461 §3.3) ------------ */

static void
test_policy_host(void **state)
{
	struct check_report r;
	struct strv a, chain = { 0 };

	(void)state;
	a = sv("192.0.2.7", NULL, NULL);	/* TEST-NET-1: not public */
	check_report_init(&r, "example.com");
	assert_int_equal(check_policy_host(&r, found, &a, &chain, false), 0);
	want(&r, CHECK_FAIL, "resolves only to private or loopback "
	    "addresses (192.0.2.7): not fetched");
	want(&r, CHECK_FAIL, "--allow-private");
	check_report_free(&r);
	check_report_init(&r, "example.com");
	assert_int_equal(check_policy_host(&r, found, &a, &chain, true), 1);
	want(&r, CHECK_PASS, "resolves to 192.0.2.7");
	check_report_free(&r);
	strv_free(&a);

	/* Public and private: the public one is used, the other noted. */
	a = sv("10.1.2.3", "8.8.8.8", NULL);
	check_report_init(&r, "example.com");
	assert_int_equal(check_policy_host(&r, found, &a, &chain, false), 1);
	want(&r, CHECK_WARN, "(10.1.2.3) skipped");
	want(&r, CHECK_PASS, "resolves to 8.8.8.8");
	check_report_free(&r);
	strv_free(&a);

	a = sv(NULL, NULL, NULL);
	check_report_init(&r, "example.com");
	assert_int_equal(check_policy_host(&r, none, &a, &chain, false), 0);
	want(&r, CHECK_FAIL, "no address (A or AAAA)");
	check_report_free(&r);
}

static void
test_policy_fetch(void **state)
{
	const char *good = POLICY_CRLF("enforce", "mx.example.com", "1209600");
	struct check_report r;
	struct check_fetch f = { 0 };

	(void)state;
	f.url = "https://mta-sts.example.com/.well-known/mta-sts.txt";

	/* A redirect fails whatever it points at. */
	f.status = 301;
	f.location = "https://www.example.com/mta-sts.txt";
	check_report_init(&r, "example.com");
	check_policy_fetch(&r, &f);
	want(&r, CHECK_FAIL, "status 301, a redirect to "
	    "https://www.example.com/mta-sts.txt: senders do not follow");
	assert_false(r.have_policy);
	check_report_free(&r);

	f.status = 404;
	f.location = NULL;
	check_report_init(&r, "example.com");
	check_policy_fetch(&r, &f);
	want(&r, CHECK_FAIL, "status 404: senders accept only 200");
	check_report_free(&r);

	/* A web firewall's browser challenge, whatever its status. */
	f.status = 403;
	f.content_type = "text/html; charset=UTF-8";
	f.body = "<html><title>Just a moment...</title><script src=\"/cdn-cgi"
	    "/challenge-platform/h/b/orchestrate/chl_page/v1\"></script>";
	f.len = strlen(f.body);
	check_report_init(&r, "example.com");
	check_policy_fetch(&r, &f);
	want(&r, CHECK_FAIL, "status 403, a web firewall's browser "
	    "challenge (HTML): sending MTAs are programs");
	want(&r, CHECK_FAIL, "exempt mta-sts.<domain>/.well-known");
	check_report_free(&r);
	f.status = 200;		/* some answer 200 with the challenge */
	check_report_init(&r, "example.com");
	check_policy_fetch(&r, &f);
	want(&r, CHECK_FAIL, "status 200, a web firewall's browser challenge");
	check_report_free(&r);
	/* Plain HTML without the marks is only a wrong status or type. */
	assert_false(check_challenge_page("text/html", "<p>Not found</p>", 16));
	assert_false(check_challenge_page("text/plain", "captcha", 7));
	assert_true(check_challenge_page("TEXT/HTML", "...CAPTCHA...", 13));
	assert_false(check_challenge_page("text/html", "captch", 6));
	f.status = 404;
	f.content_type = NULL;
	f.body = NULL;
	f.len = 0;

	f.status = 200;
	f.too_large = true;
	check_report_init(&r, "example.com");
	check_policy_fetch(&r, &f);
	want(&r, CHECK_FAIL, "body over 65536 bytes");
	assert_false(r.have_policy);
	check_report_free(&r);
	f.too_large = false;

	/* Transport and certificate errors say what to fix. */
	f.error = "SSL peer certificate or SSH remote key was not OK";
	f.tls_error = true;
	check_report_init(&r, "example.com");
	check_policy_fetch(&r, &f);
	want(&r, CHECK_FAIL, "fetch failed: SSL peer certificate");
	want(&r, CHECK_FAIL, "from a CA that senders trust");
	check_report_free(&r);
	f.error = NULL;

	/* text/plain, parameters and case aside. */
	f.body = good;
	f.len = strlen(good);
	f.content_type = "Text/Plain; charset=utf-8";
	check_report_init(&r, "example.com");
	check_policy_fetch(&r, &f);
	want(&r, CHECK_PASS, "fetched: status 200, text/plain, 69 bytes");
	want(&r, CHECK_PASS, "policy valid: mode enforce, max_age 1209600, "
	    "1 mx pattern");
	assert_int_equal(r.nfail + r.nwarn, 0);
	assert_true(r.have_policy);
	check_report_free(&r);

	f.content_type = "text/html";
	check_report_init(&r, "example.com");
	check_policy_fetch(&r, &f);
	want(&r, CHECK_FAIL, "Content-Type text/html: senders require "
	    "text/plain");
	check_report_free(&r);
	f.content_type = "text/plainx";
	check_report_init(&r, "example.com");
	check_policy_fetch(&r, &f);
	assert_int_equal(r.nfail, 1);
	check_report_free(&r);
	f.content_type = NULL;
	check_report_init(&r, "example.com");
	check_policy_fetch(&r, &f);
	want(&r, CHECK_FAIL, "Content-Type missing");
	check_report_free(&r);
	f.content_type = "text/plain";

	/* Lenient senders: LF lines, short max_age. */
	f.body = "version: STSv1\nmode: enforce\nmx: mx.example.com\n"
	    "max_age: 86400\n";
	f.len = strlen(f.body);
	check_report_init(&r, "example.com");
	check_policy_fetch(&r, &f);
	want(&r, CHECK_WARN, "lines end in LF alone");
	want(&r, CHECK_WARN, "max_age 86400 is under two weeks in enforce");
	assert_int_equal(r.nfail, 0);
	check_report_free(&r);
	f.body = POLICY_CRLF("testing", "mx.example.com", "3600");
	f.len = strlen(f.body);
	check_report_init(&r, "example.com");
	check_policy_fetch(&r, &f);
	want(&r, CHECK_WARN, "max_age 3600 is under a day");
	assert_int_equal(r.nwarn, 1);
	check_report_free(&r);

	/* An invalid policy names the parser's reason and line. */
	f.body = POLICY_CRLF("enforce", "mx.example.com", "40000000");
	f.len = strlen(f.body);
	check_report_init(&r, "example.com");
	check_policy_fetch(&r, &f);
	want(&r, CHECK_FAIL, "policy invalid: line 4");
	assert_false(r.have_policy);
	check_report_free(&r);
}

/* --- step 3: MX against the policy (RFC 8461 §4.1) --------------------- */

static void
test_mx_cover(void **state)
{
	struct dns_mx mx[3] = { { 10, "mx1.example.com" },
	    { 20, "a.example.net" }, { 30, "a.b.example.net" } };
	struct check_report r;

	(void)state;
	with_policy(&r, POLICY_CRLF("enforce", "mx1.example.com\r\nmx: "
	    "*.example.net", "1209600"));
	check_mx_cover(&r, found, mx, 3);
	want(&r, CHECK_PASS, "MX 10 mx1.example.com is covered");
	want(&r, CHECK_PASS, "MX 20 a.example.net is covered");
	/* "*.example.net" covers one label, not two. */
	want(&r, CHECK_FAIL, "MX 30 a.b.example.net: no mx pattern of the "
	    "policy covers it; in enforce mode");
	want(&r, CHECK_FAIL, "add \"mx: a.b.example.net\"");
	assert_int_equal(r.nfail, 1);
	check_report_free(&r);

	with_policy(&r, POLICY_CRLF("testing", "mx1.example.com", "86400"));
	check_mx_cover(&r, found, mx, 2);
	want(&r, CHECK_WARN, "MX 20 a.example.net: no mx pattern");
	assert_int_equal(r.nfail, 0);
	check_report_free(&r);

	/* No policy: the MX records are listed. */
	check_report_init(&r, "example.com");
	check_mx_cover(&r, found, mx, 1);
	want(&r, CHECK_INFO, "no policy to compare with");
	check_report_free(&r);

	/* A null MX (RFC 7505); no MX at all. */
	mx[0].host[0] = '\0';
	check_report_init(&r, "example.com");
	check_mx_cover(&r, found, mx, 1);
	want(&r, CHECK_INFO, "null MX");
	check_report_free(&r);
	check_report_init(&r, "example.com");
	check_mx_cover(&r, none, mx, 0);
	want(&r, CHECK_WARN, "no MX record");
	check_report_free(&r);
}

/* --- step 4: STARTTLS on each MX (RFC 8461 §4.2) ----------------------- */

static void
test_smtp_probe(void **state)
{
	struct check_smtp s = { 0 };
	struct check_report r;

	(void)state;
	s.host = "mx.example.com";
	s.addr = "198.51.100.25";
	s.addrs = found;
	s.starttls = true;
	s.tls_version = "TLSv1.3";
	s.now = 1767225600;			/* 2026-01-01 */
	s.not_after = s.now + 60 * 86400;
	s.tlsa = none;
	check_report_init(&r, "example.com");
	check_smtp_probe(&r, &s);
	want(&r, CHECK_PASS, "STARTTLS, TLSv1.3, certificate valid for "
	    "mx.example.com until 2026-03-02");
	want(&r, CHECK_INFO, "no TLSA record");
	assert_int_equal(r.nfail + r.nwarn, 0);
	check_report_free(&r);

	s.not_after = s.now + 3 * 86400;
	s.tlsa = found;
	s.ntlsa = 2;
	check_report_init(&r, "example.com");
	check_smtp_probe(&r, &s);
	want(&r, CHECK_WARN, "expires on 2026-01-04, in 3 days");
	want(&r, CHECK_INFO, "2 TLSA records (DANE");
	check_report_free(&r);

	s.tlsa = failed;
	s.verify = 62;			/* X509_V_ERR_HOSTNAME_MISMATCH */
	s.verify_text = "hostname mismatch";
	check_report_init(&r, "example.com");
	check_smtp_probe(&r, &s);
	want(&r, CHECK_FAIL, "certificate not valid for mx.example.com: "
	    "hostname mismatch");
	want(&r, CHECK_WARN, "TLSA lookup failed");
	check_report_free(&r);

	s.verify = 0;
	s.tls_error = "handshake: wrong version number";
	check_report_init(&r, "example.com");
	check_smtp_probe(&r, &s);
	want(&r, CHECK_FAIL, "STARTTLS failed: handshake: wrong version");
	check_report_free(&r);

	s.tls_error = NULL;
	s.starttls = false;
	check_report_init(&r, "example.com");
	check_smtp_probe(&r, &s);
	want(&r, CHECK_FAIL, "STARTTLS not offered");
	check_report_free(&r);

	s.error = "connect: Connection refused";
	check_report_init(&r, "example.com");
	check_smtp_probe(&r, &s);
	want(&r, CHECK_FAIL, "198.51.100.25: connect: Connection refused");
	check_report_free(&r);

	s.error = NULL;
	s.private_only = true;
	check_report_init(&r, "example.com");
	check_smtp_probe(&r, &s);
	want(&r, CHECK_FAIL, "not probed");
	assert_int_equal(count(&r, CHECK_INFO, "TLSA"), 0);
	check_report_free(&r);

	s.addrs = none;
	check_report_init(&r, "example.com");
	check_smtp_probe(&r, &s);
	want(&r, CHECK_FAIL, "the MX host has no address");
	check_report_free(&r);
}

/* --- step 5: _smtp._tls (RFC 8460 §3) --------------------------------- */

static void
test_tlsrpt(void **state)
{
	const char *own = "mailto:tlsrpt+0123@sts.example.net";
	struct check_report r;
	struct strv txt;

	(void)state;
	txt = sv("v=TLSRPTv1; rua=mailto:tlsrpt+0123@sts.example.net,"
	    "https://sts.example.net/tlsrpt/0123", NULL, NULL);
	check_report_init(&r, "example.com");
	check_tlsrpt(&r, found, &txt, own);
	want(&r, CHECK_PASS, "reports go to mailto:tlsrpt+0123@"
	    "sts.example.net, https://sts.example.net/tlsrpt/0123");
	want(&r, CHECK_PASS, "the service's own address comes first");
	assert_int_equal(r.nfail + r.nwarn, 0);
	check_report_free(&r);
	strv_free(&txt);

	/* Ours, but not first: some senders use only the first. */
	txt = sv("v=TLSRPTv1; rua=mailto:a@example.com,mailto:tlsrpt+0123@"
	    "sts.example.net", NULL, NULL);
	check_report_init(&r, "example.com");
	check_tlsrpt(&r, found, &txt, own);
	want(&r, CHECK_WARN, "not the first rua URI");
	check_report_free(&r);
	/* Not a hosted domain: no opinion on the order. */
	check_report_init(&r, "example.com");
	check_tlsrpt(&r, found, &txt, NULL);
	assert_int_equal(r.nfail + r.nwarn, 0);
	check_report_free(&r);
	strv_free(&txt);

	txt = sv("v=TLSRPTv1; rua=mailto:a@example.com", NULL, NULL);
	check_report_init(&r, "example.com");
	check_tlsrpt(&r, found, &txt, own);
	want(&r, CHECK_WARN, "does not name the service's own address");
	check_report_free(&r);
	strv_free(&txt);

	txt = sv("v=TLSRPTv1; rua=a@example.com", NULL, NULL);
	check_report_init(&r, "example.com");
	check_tlsrpt(&r, found, &txt, NULL);
	want(&r, CHECK_FAIL, "the record is invalid");
	check_report_free(&r);
	strv_free(&txt);

	txt = sv("v=TLSRPTv1; rua=mailto:a@example.com",
	    "v=TLSRPTv1; rua=mailto:b@example.com", NULL);
	check_report_init(&r, "example.com");
	check_tlsrpt(&r, found, &txt, NULL);
	want(&r, CHECK_FAIL, "2 v=TLSRPTv1 records");
	check_report_free(&r);
	strv_free(&txt);

	/* Missing: a warning, but a failure for a domain we host. */
	txt = sv(NULL, NULL, NULL);
	check_report_init(&r, "example.com");
	check_tlsrpt(&r, none, &txt, NULL);
	want(&r, CHECK_WARN, "no v=TLSRPTv1 record");
	check_report_free(&r);
	check_report_init(&r, "example.com");
	check_tlsrpt(&r, none, &txt, own);
	want(&r, CHECK_FAIL, "no v=TLSRPTv1 record");
	check_report_free(&r);
}

/* --- DNSSEC of what a sender reads ------------------------------------ */

/* r (initialised here) after check_dnssec of the three answers step 6
 * judges, with DNSSEC statuses s0, s1, s2; the MX answer's reason why1
 * (NULL: ""). */
static void
judge(struct check_report *r, enum dns_sec s0, enum dns_sec s1,
    enum dns_sec s2, const char *why1)
{
	static const char *const what[3] = { "_mta-sts.example.com TXT",
	    "example.com MX", "_smtp._tls.example.com TXT" };
	enum dns_sec s[3] = { s0, s1, s2 };
	struct check_sec a[3];

	memset(a, 0, sizeof(a));
	for (size_t i = 0; i < 3; i++) {
		a[i].what = what[i];
		a[i].q.rc = s[i] == DNS_SEC_NONE || s[i] == DNS_SEC_BOGUS ?
		    DNS_FAILED : DNS_FOUND;
		a[i].q.sec = s[i];
		a[i].q.why = i == 1 && why1 != NULL ? why1 : "";
	}
	check_report_init(r, "example.com");
	check_dnssec(r, a, 3);
}

static void
test_dnssec(void **state)
{
	struct check_report r;

	(void)state;
	/* All signed and valid: a pass naming each answer. */
	judge(&r, DNS_SEC_SECURE, DNS_SEC_SECURE, DNS_SEC_SECURE, NULL);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.f[0].area, CHECK_A_DNSSEC);
	assert_string_equal(check_area_name(r.f[0].area), "dnssec");
	want(&r, CHECK_PASS, "DNSSEC secure: _mta-sts.example.com TXT, "
	    "example.com MX, _smtp._tls.example.com TXT");
	check_report_free(&r);

	/* Unsigned is no error (most domains are): a note, saying which
	 * answers were signed all the same. */
	judge(&r, DNS_SEC_INSECURE, DNS_SEC_SECURE, DNS_SEC_INSECURE, NULL);
	want(&r, CHECK_INFO, "DNSSEC insecure (unsigned): _mta-sts."
	    "example.com TXT, _smtp._tls.example.com TXT; secure: "
	    "example.com MX");
	assert_int_equal(r.nfail + r.nwarn, 0);
	check_report_free(&r);

	/* No trust anchor: nothing was validated, and the note says how
	 * to have it. */
	judge(&r, DNS_SEC_UNCHECKED, DNS_SEC_UNCHECKED, DNS_SEC_NONE, NULL);
	want(&r, CHECK_INFO, "not validated (no trust anchor set; set "
	    "dnssec_trust_anchor)");
	assert_int_equal(r.n, 1);
	assert_int_equal(r.nfail + r.nwarn, 0);
	check_report_free(&r);

	/* Bogus, even beside secure answers: a failure naming the answer,
	 * libunbound's reason, and what to fix. */
	judge(&r, DNS_SEC_SECURE, DNS_SEC_BOGUS, DNS_SEC_SECURE,
	    "validation failure <example.com. MX IN>: signature expired");
	assert_int_equal(r.n, 1);
	assert_int_equal(r.nfail, 1);
	assert_string_equal(r.f[0].subject, "example.com MX");
	assert_int_equal(r.f[0].kind, CHECK_K_RECORD);
	want(&r, CHECK_FAIL, "DNSSEC bogus: validation failure <example.com. "
	    "MX IN>: signature expired");
	want(&r, CHECK_FAIL, "re-sign the zone");
	want(&r, CHECK_FAIL, "DS record at the parent");
	check_report_free(&r);

	/* Two bogus: the first named, the other said. */
	judge(&r, DNS_SEC_BOGUS, DNS_SEC_BOGUS, DNS_SEC_SECURE, NULL);
	assert_string_equal(r.f[0].subject, "_mta-sts.example.com TXT");
	want(&r, CHECK_FAIL, "DNSSEC bogus: validation failed (and other "
	    "answers)");
	check_report_free(&r);

	/* No answer came at all: nothing to judge, and no failure here
	 * (the steps that asked say why). */
	judge(&r, DNS_SEC_NONE, DNS_SEC_NONE, DNS_SEC_NONE, NULL);
	want(&r, CHECK_INFO, "DNSSEC not judged");
	assert_int_equal(r.nfail + r.nwarn, 0);
	check_report_free(&r);
}

/* --- hosted domains: DNS against what stsguard serves ----------------- */

static void
test_hosted(void **state)
{
	struct check_report r;
	struct strv chain;

	(void)state;
	chain = sv("sts.example.net.", NULL, NULL);
	check_report_init(&r, "example.com");
	snprintf(r.sts_id, sizeof(r.sts_id), "20260101000000r1");
	check_hosted(&r, "20260101000000r1", "STS.example.net", &chain);
	want(&r, CHECK_PASS, "the published id is the one stsguard serves");
	want(&r, CHECK_PASS, "a CNAME to the service");
	assert_int_equal(r.nfail + r.nwarn, 0);
	check_report_free(&r);

	check_report_init(&r, "example.com");
	snprintf(r.sts_id, sizeof(r.sts_id), "20250101000000r1");
	check_hosted(&r, "20260101000000r2", "sts.example.net", &chain);
	want(&r, CHECK_FAIL, "id out of date: DNS says 20250101000000r1, "
	    "stsguard serves the policy with id 20260101000000r2");
	want(&r, CHECK_FAIL, "publish _mta-sts.example.com TXT \"v=STSv1; "
	    "id=20260101000000r2;\"");
	check_report_free(&r);
	strv_free(&chain);

	chain = sv("mta-sts.other-host.example", NULL, NULL);
	check_report_init(&r, "example.com");
	check_hosted(&r, "x1", "sts.example.net", &chain);
	want(&r, CHECK_FAIL, "a CNAME to mta-sts.other-host.example, not to "
	    "the service");
	want(&r, CHECK_FAIL, "publish mta-sts.example.com CNAME "
	    "sts.example.net.");
	check_report_free(&r);
	strv_free(&chain);

	chain = sv(NULL, NULL, NULL);
	check_report_init(&r, "example.com");
	check_hosted(&r, "x1", "sts.example.net", &chain);
	want(&r, CHECK_WARN, "not a CNAME to sts.example.net");
	check_report_free(&r);
}

/* --- the private-address guard ---------------------------------------- */

static void
test_addr_private(void **state)
{
	static const char *const priv[] = { "127.0.0.1", "127.9.9.9",
	    "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1",
	    "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1",
	    "255.255.255.255", "192.0.2.1", "198.18.0.1", "::1", "::",
	    "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "2001:db8::1",
	    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a00:1",
	    "not an address", "", NULL };
	static const char *const pub[] = { "8.8.8.8", "1.1.1.1",
	    "172.32.0.1", "100.128.0.1", "192.169.0.1", "2a00:1450::1",
	    "::ffff:8.8.8.8", NULL };

	(void)state;
	for (size_t i = 0; priv[i] != NULL; i++)
		if (!check_addr_private(priv[i]))
			fail_msg("%s taken for public", priv[i]);
	for (size_t i = 0; pub[i] != NULL; i++)
		if (check_addr_private(pub[i]))
			fail_msg("%s taken for private", pub[i]);
}

/* --- the SMTP reply reader (RFC 5321 §4.2) ---------------------------- */

static void
test_reply(void **state)
{
	const char *ehlo = "250-mx.example.com hello\r\n250-SIZE 1000\r\n"
	    "250-starttls\r\n250 8BITMIME\r\n220 next";
	struct check_reply rep;
	struct err e = { "" };
	char big[LIMIT_CHECK_SMTP_LINE + 16];
	char *many;

	(void)state;
	assert_int_equal(check_reply_parse("220 mx.example.com ESMTP\r\n",
	    26, &rep, &e), 0);
	assert_int_equal(rep.code, 220);
	assert_int_equal(rep.used, 26);
	assert_string_equal(rep.text, "mx.example.com ESMTP");
	assert_false(rep.starttls);

	/* Multi-line; STARTTLS in any case; what follows is left. */
	assert_int_equal(check_reply_parse(ehlo, strlen(ehlo), &rep, &e), 0);
	assert_int_equal(rep.code, 250);
	assert_true(rep.starttls);
	assert_int_equal(rep.used, strlen(ehlo) - strlen("220 next"));

	/* STARTTLS on the first line is the greeting's text, not an
	 * extension; "STARTTLSX" is another keyword. */
	assert_int_equal(check_reply_parse("250-STARTTLS\r\n250 STARTTLSX\r\n",
	    29, &rep, &e), 0);
	assert_false(rep.starttls);

	/* Partial replies need more; bare LF ends a line; "250" alone. */
	assert_int_equal(check_reply_parse("250-a\r\n250 b", 12, &rep, &e), 1);
	assert_int_equal(check_reply_parse("250-a\n250\n", 10, &rep, &e), 0);
	assert_int_equal(rep.used, 10);

	/* Refusals, with their reasons. */
	assert_int_equal(check_reply_parse("hello\r\n", 7, &rep, &e), -1);
	assert_non_null(strstr(e.msg, "no 3-digit code"));
	assert_int_equal(check_reply_parse("250-a\r\n354 b\r\n", 14, &rep, &e),
	    -1);
	assert_non_null(strstr(e.msg, "code 354 after 250"));
	assert_int_equal(check_reply_parse("250_a\r\n", 7, &rep, &e), -1);
	assert_non_null(strstr(e.msg, "after the code"));
	memset(big, 'x', sizeof(big));
	memcpy(big, "250 ", 4);
	assert_int_equal(check_reply_parse(big, sizeof(big), &rep, &e), -1);
	assert_non_null(strstr(e.msg, "over 512 bytes"));
	many = malloc(7 * (LIMIT_CHECK_SMTP_LINES + 1) + 1);
	assert_non_null(many);
	for (int i = 0; i <= LIMIT_CHECK_SMTP_LINES; i++)
		memcpy(many + 7 * i, "250-a\r\n", 7);
	assert_int_equal(check_reply_parse(many,
	    7 * (LIMIT_CHECK_SMTP_LINES + 1), &rep, &e), -1);
	assert_non_null(strstr(e.msg, "over 64 lines"));
	free(many);
}

/* --- rdata in wire form (RFC 1035 §3.1, §3.3.9) ----------------------- */

static void
test_rdata(void **state)
{
	static const uint8_t mx[] = { 0, 10, 2, 'M', 'x', 7, 'e', 'x', 'a',
	    'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0 };
	static const uint8_t ptr[] = { 0, 10, 0xc0, 12 };
	static const uint8_t cut[] = { 0, 10, 5, 'a', 'b' };
	static const uint8_t bad[] = { 0, 10, 2, 'a', '.', 0 };
	static const uint8_t extra[] = { 0, 10, 1, 'a', 0, 0 };
	static const uint8_t null_mx[] = { 0, 0, 0 };
	struct dns_mx m;
	struct err e = { "" };
	uint8_t big[300];
	char name[LIMIT_DNAME_LEN + 1];
	size_t used, o = 0;

	(void)state;
	assert_int_equal(dns_rdata_mx(mx, sizeof(mx), &m, &e), 0);
	assert_int_equal(m.pref, 10);
	assert_string_equal(m.host, "mx.example.com");
	assert_int_equal(dns_rdata_mx(null_mx, sizeof(null_mx), &m, &e), 0);
	assert_string_equal(m.host, "");

	assert_int_equal(dns_rdata_mx(ptr, sizeof(ptr), &m, &e), -1);
	assert_non_null(strstr(e.msg, "compression pointer"));
	assert_int_equal(dns_rdata_mx(cut, sizeof(cut), &m, &e), -1);
	assert_non_null(strstr(e.msg, "runs past"));
	assert_int_equal(dns_rdata_mx(bad, sizeof(bad), &m, &e), -1);
	assert_non_null(strstr(e.msg, "byte 0x2e"));
	assert_int_equal(dns_rdata_mx(extra, sizeof(extra), &m, &e), -1);
	assert_non_null(strstr(e.msg, "1 bytes after the name"));
	assert_int_equal(dns_rdata_mx(mx, 2, &m, &e), -1);

	/* 254 characters of text: over the limit of 253. */
	while (o + 64 < sizeof(big) && o < 4 * 64) {
		big[o++] = 63;
		memset(big + o, 'a', 63);
		o += 63;
	}
	big[o++] = 0;
	assert_int_equal(dns_rdata_name(big, o, &used, name, &e), -1);
	assert_non_null(strstr(e.msg, "longer than 253"));
}

/* --- onboarding mistakes (issue 14) ------------------------------------ */

static void
test_families(void **state)
{
	struct check_report r;
	struct check_family f = { 2, 1, NULL, "Couldn't connect" };

	(void)state;
	check_report_init(&r, "example.com");
	check_policy_families(&r, &f);
	want(&r, CHECK_WARN, "reachable over IPv4 but not over IPv6 "
	    "(Couldn't connect)");
	want(&r, CHECK_WARN, "answer on its IPv6 addresses");
	check_report_free(&r);

	f = (struct check_family){ 1, 1, "status 404", NULL };
	check_report_init(&r, "example.com");
	check_policy_families(&r, &f);
	want(&r, CHECK_WARN, "reachable over IPv6 but not over IPv4 "
	    "(status 404)");
	check_report_free(&r);

	f = (struct check_family){ 1, 1, NULL, NULL };
	check_report_init(&r, "example.com");
	check_policy_families(&r, &f);
	want(&r, CHECK_PASS, "over IPv4 and over IPv6");
	assert_int_equal(r.nwarn, 0);
	check_report_free(&r);

	/* Both failing: step 2b says why; nothing here. */
	f = (struct check_family){ 1, 1, "x", "y" };
	check_report_init(&r, "example.com");
	check_policy_families(&r, &f);
	assert_int_equal(r.n, 0);
	check_report_free(&r);

	f = (struct check_family){ 0, 2, NULL, NULL };
	check_report_init(&r, "example.com");
	check_policy_families(&r, &f);
	want(&r, CHECK_INFO, "IPv6 only (no A record)");
	assert_int_equal(r.nwarn + r.nfail, 0);
	check_report_free(&r);
}

static void
test_mx_templates(void **state)
{
	static const char tbl[] = "microsoft-365 *.mail.protection.outlook.com "
	    "*.mail.protection.outlook.com https://learn.microsoft.com/x\n";
	struct dns_mx mx[2] = { { 10, "contoso-com.mail.protection.outlook.com" },
	    { 20, "mx.example.com" } };
	struct policy_templates t;
	struct check_report r;
	struct err e;

	(void)state;
	assert_int_equal(policy_templates_parse(tbl, strlen(tbl), &t, &e), 0);
	/* The pattern without "*." misses Microsoft's tenant host names. */
	with_policy(&r, POLICY_CRLF("testing", "mail.protection.outlook.com"
	    "\r\nmx: mx.example.com", "86400"));
	check_mx_templates(&r, &t, mx, 2);
	want(&r, CHECK_WARN, "mx pattern mail.protection.outlook.com lies in "
	    "the namespace of microsoft-365");
	want(&r, CHECK_WARN, "list \"mx: *.mail.protection.outlook.com\" as "
	    "microsoft-365 documents (https://learn.microsoft.com/x)");
	want(&r, CHECK_INFO, "an MX of microsoft-365");
	assert_int_equal(r.nwarn, 1);
	check_report_free(&r);

	/* As documented, or an exact tenant host: nothing to say. */
	with_policy(&r, POLICY_CRLF("enforce", "*.mail.protection.outlook.com"
	    "\r\nmx: contoso-com.mail.protection.outlook.com", "1209600"));
	check_mx_templates(&r, &t, mx, 2);
	assert_int_equal(r.nwarn + r.nfail, 0);
	check_report_free(&r);

	/* No templates: nothing at all. */
	with_policy(&r, POLICY_CRLF("testing", "*.outlook.com", "86400"));
	{
		size_t before = r.n;

		check_mx_templates(&r, NULL, mx, 2);
		assert_int_equal(r.n, before);
	}
	check_report_free(&r);
	policy_templates_free(&t);
}

static void
test_delegation(void **state)
{
	struct check_ns ns[4] = { 0 };
	struct check_report r;

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		ns[i].addrs = found;
		ns[i].p.answered = true;
		ns[i].p.aa = true;
		ns[i].p.ms = 20;
	}
	ns[0].host = "ns1.example.com", ns[0].addr = "192.0.2.1";
	ns[1].host = "ns2.example.com", ns[1].addr = "192.0.2.2";
	ns[1].p.aa = false;			/* a referral: lame */
	ns[2].host = "ns3.example.com", ns[2].addr = "192.0.2.3";
	ns[2].p.ms = CHECK_NS_SLOW_MS + 1;
	ns[3].host = "ns4.example.com", ns[3].addr = "192.0.2.4";
	ns[3].p.answered = false;
	snprintf(ns[3].p.error, sizeof(ns[3].p.error), "no answer within "
	    "2000 ms");
	check_report_init(&r, "example.com");
	check_delegation(&r, "example.com", found, ns, 4);
	want(&r, CHECK_PASS, "answers for example.com with authority in 20 ms");
	want(&r, CHECK_WARN, "lame: asked for the SOA of example.com it "
	    "answers NOERROR");
	want(&r, CHECK_WARN, "slow: answered for example.com after 801 ms");
	want(&r, CHECK_WARN, "does not answer for example.com: no answer "
	    "within 2000 ms");
	assert_int_equal(r.nfail, 0);
	check_report_free(&r);

	/* REFUSED is lame too; none authoritative fails the domain. */
	ns[0].p.rcode = 5;
	ns[2].p.aa = false;
	check_report_init(&r, "example.com");
	check_delegation(&r, "example.com", found, ns, 4);
	want(&r, CHECK_WARN, "it answers REFUSED, not authoritatively");
	want(&r, CHECK_FAIL, "none of the 4 name servers answers for "
	    "example.com with authority");
	check_report_free(&r);

	/* A server without an address; no zone found at all. */
	ns[0].addrs.rc = DNS_NONE;
	ns[0].addrs.err = "no such name";
	check_report_init(&r, "example.com");
	check_delegation(&r, "example.com", found, ns, 1);
	want(&r, CHECK_WARN, "without an address (no such name)");
	check_report_free(&r);
	check_report_init(&r, "example.com");
	check_delegation(&r, NULL, found, NULL, 0);
	want(&r, CHECK_INFO, "no NS records found below the top-level domain");
	check_report_free(&r);
}

static void
test_probe_reply(void **state)
{
	/* id 0x1234, QR AA, rcode 0; then QR, rcode 5 (REFUSED). */
	const uint8_t aa[12] = { 0x12, 0x34, 0x84, 0x00 };
	const uint8_t refused[12] = { 0x12, 0x34, 0x80, 0x05 };
	const uint8_t query[12] = { 0x12, 0x34, 0x00, 0x00 };
	struct dns_probe p;
	struct err e;

	(void)state;
	memset(&p, 0, sizeof(p));
	assert_int_equal(dns_probe_reply(aa, 12, 0x1234, &p, &e), 0);
	assert_true(p.answered && p.aa);
	assert_int_equal(p.rcode, 0);
	memset(&p, 0, sizeof(p));
	assert_int_equal(dns_probe_reply(refused, 12, 0x1234, &p, &e), 0);
	assert_false(p.aa);
	assert_int_equal(p.rcode, 5);
	memset(&p, 0, sizeof(p));
	assert_int_equal(dns_probe_reply(aa, 12, 0x1235, &p, &e), -1);
	assert_non_null(strstr(e.msg, "another query"));
	assert_false(p.answered);
	assert_int_equal(dns_probe_reply(aa, 11, 0x1234, &p, &e), -1);
	assert_int_equal(dns_probe_reply(query, 12, 0x1234, &p, &e), -1);
	assert_non_null(strstr(e.msg, "not a reply"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sts_txt),
		cmocka_unit_test(test_policy_host),
		cmocka_unit_test(test_policy_fetch),
		cmocka_unit_test(test_mx_cover),
		cmocka_unit_test(test_smtp_probe),
		cmocka_unit_test(test_tlsrpt),
		cmocka_unit_test(test_dnssec),
		cmocka_unit_test(test_hosted),
		cmocka_unit_test(test_addr_private),
		cmocka_unit_test(test_reply),
		cmocka_unit_test(test_rdata),
		cmocka_unit_test(test_families),
		cmocka_unit_test(test_mx_templates),
		cmocka_unit_test(test_delegation),
		cmocka_unit_test(test_probe_reply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
