/*
 * test_intake.c - unit tests of intake_examine (src/intake/), the one
 * place that takes an input apart for every route, and of the per-client
 * table the daemon's limits use (src/lib/peer.c).
 *
 * intake_examine: a valid report is one piece with its report; an
 * invalid one a "report" piece with the parser's reason; an e-mail's
 * valid reports are taken and its invalid ones kept one by one; an
 * e-mail with nothing valid (or nothing found) is one "message" piece of
 * the whole input. peer: IPv4 keys (mapped or not) and IPv6 /64 keys,
 * connection limits per kind, byte shares per client and in total, and
 * entries freed when they hold nothing; the report bucket at its exact
 * boundaries (exactly empty, exactly refilled, exactly full, with rates
 * that do and do not divide a minute), uploads at once, and entries kept
 * while their bucket refills, then swept.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "intake/intake.h"
#include "lib/gzip.h"
#include "lib/peer.h"
#include "store/store.h"
#include "tlsrpt/tlsrpt.h"

#define REPORT(id)							\
	"{\"organization-name\":\"Org\",\"date-range\":"		\
	"{\"start-datetime\":\"2026-05-12T00:00:00Z\","			\
	"\"end-datetime\":\"2026-05-12T23:59:59Z\"},"			\
	"\"report-id\":\"" id "\",\"policies\":[{\"policy\":"		\
	"{\"policy-type\":\"sts\",\"policy-domain\":\"example.com\"},"	\
	"\"summary\":{\"total-successful-session-count\":1,"		\
	"\"total-failure-session-count\":0}}]}"

static void
examine(bool message, const char *in, struct intake_parts *out)
{
	intake_examine(message, (const uint8_t *)in, strlen(in), out);
	assert_true(out->n >= 1 && out->n <= LIMIT_MIME_REPORTS);
}

static void
test_report(void **state)
{
	struct intake_parts p;

	examine(false, REPORT("r1"), &p);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.nvalid, 1);
	assert_non_null(p.p[0].r);
	assert_string_equal(p.p[0].r->report_id, "r1");
	assert_null(p.first_error);
	intake_parts_free(&p);
	assert_int_equal(p.n, 0);

	examine(false, "{\"organization-name\": 1}", &p);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.nvalid, 0);
	assert_null(p.p[0].r);
	assert_string_equal(p.p[0].kind, "report");
	assert_int_equal(p.p[0].len, 24);
	assert_non_null(strstr(p.p[0].reason, "organization-name"));
	assert_ptr_equal(p.first_error, p.p[0].reason);
	intake_parts_free(&p);

	/* Empty input: a refused report, kept (zero bytes). */
	intake_examine(false, (const uint8_t *)"", 0, &p);
	assert_int_equal(p.n, 1);
	assert_null(p.p[0].r);
	assert_string_equal(p.p[0].reason, "empty report");
	intake_parts_free(&p);
}

#define MAIL(parts)							\
	"From: r@reporter.example\r\nTo: tlsrpt@sts.example.net\r\n"	\
	"Subject: Report\r\nMIME-Version: 1.0\r\n"			\
	"Content-Type: multipart/report; report-type=tlsrpt; "		\
	"boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n"	\
	"hello\r\n" parts "--b--\r\n"
#define PART(body)							\
	"--b\r\nContent-Type: application/tlsrpt+json\r\n\r\n" body "\r\n"

static void
test_message(void **state)
{
	struct intake_parts p;

	/* Two reports, one invalid: the valid one taken, the other kept
	 * alone with its reason. */
	examine(true, MAIL(PART(REPORT("m1")) PART("{\"report-id\": 7}")),
	    &p);
	assert_int_equal(p.n, 2);
	assert_int_equal(p.nvalid, 1);
	assert_non_null(p.p[0].r);
	assert_string_equal(p.p[0].r->report_id, "m1");
	assert_null(p.p[1].r);
	assert_string_equal(p.p[1].kind, "report");
	assert_memory_equal(p.p[1].raw, "{\"report-id\": 7}", 16);
	assert_ptr_equal(p.first_error, p.p[1].reason);
	intake_parts_free(&p);

	/* Nothing valid: the whole message is kept, with the reason of its
	 * first report. */
	examine(true, MAIL(PART("{\"report-id\": 7}")), &p);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.nvalid, 0);
	assert_string_equal(p.p[0].kind, "message");
	assert_int_equal(p.p[0].len, strlen(MAIL(PART("{\"report-id\": 7}"))));
	assert_non_null(strstr(p.first_error, "organization-name"));
	intake_parts_free(&p);

	/* No report at all. */
	examine(true, "Subject: hi\r\n\r\njust text\r\n", &p);
	assert_int_equal(p.n, 1);
	assert_string_equal(p.p[0].kind, "message");
	assert_non_null(strstr(p.first_error, "no application/tlsrpt"));
	intake_parts_free(&p);
}

static void
sin4(struct sockaddr_in *s, const char *a)
{
	memset(s, 0, sizeof(*s));
	s->sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, a, &s->sin_addr), 1);
}

static void
sin6(struct sockaddr_in6 *s, const char *a)
{
	memset(s, 0, sizeof(*s));
	s->sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, a, &s->sin6_addr), 1);
}

static void
test_peer(void **state)
{
	struct peers *ps = peers_new(100, 60);
	struct sockaddr_in a4;
	struct sockaddr_in6 a6, b6, m6, c6;
	struct peer *p, *q, *r;
	char text[PEER_TEXT_LEN];

	assert_non_null(ps);
	sin4(&a4, "192.0.2.1");
	sin6(&a6, "2001:db8:1:2::1");
	sin6(&b6, "2001:db8:1:2:ffff:ffff:ffff:ffff");
	sin6(&c6, "2001:db8:1:3::1");
	sin6(&m6, "::ffff:192.0.2.1");
	peer_key_text((struct sockaddr *)&a6, text);
	assert_string_equal(text, "2001:db8:1:2::/64");
	peer_key_text((struct sockaddr *)&m6, text);
	assert_string_equal(text, "192.0.2.1");

	/* One /64 is one client: two connections of a kind, the third
	 * refused; another kind counts apart; another /64 is another. */
	assert_non_null(p = peers_join(ps, (struct sockaddr *)&a6, PEER_HTTP,
	    2));
	assert_ptr_equal(peers_join(ps, (struct sockaddr *)&b6, PEER_HTTP, 2),
	    p);
	assert_null(peers_join(ps, (struct sockaddr *)&a6, PEER_HTTP, 2));
	assert_ptr_equal(peers_join(ps, (struct sockaddr *)&b6, PEER_SMTP, 1),
	    p);
	assert_non_null(q = peers_join(ps, (struct sockaddr *)&c6, PEER_HTTP,
	    2));
	assert_true(q != p);
	assert_string_equal(peer_text(p), "2001:db8:1:2::/64");
	/* IPv4 and IPv4-mapped are the same client. */
	assert_non_null(r = peers_join(ps, (struct sockaddr *)&a4, PEER_HTTP,
	    0));
	assert_ptr_equal(peers_join(ps, (struct sockaddr *)&m6, PEER_HTTP, 0),
	    r);

	/* Bytes: 60 per client, 100 in all, exactly. */
	assert_true(peers_take(ps, p, 60));
	assert_false(peers_take(ps, p, 1));
	assert_true(peers_take(ps, q, 40));
	assert_false(peers_take(ps, r, 1));	/* the total is full */
	assert_int_equal(peers_bytes(ps), 100);
	peers_give(ps, p, 10);
	assert_true(peers_take(ps, r, 10));
	assert_int_equal(peer_bytes(ps, p), 50);

	/* An entry that still holds bytes outlives its connections. */
	peers_leave(ps, q, PEER_HTTP);
	assert_int_equal(peer_bytes(ps, q), 40);
	peers_give(ps, q, 40);
	assert_non_null(q = peers_join(ps, (struct sockaddr *)&c6, PEER_HTTP,
	    1));
	assert_int_equal(peer_bytes(ps, q), 0);
	peers_leave(ps, q, PEER_HTTP);
	peers_give(ps, p, 50);
	peers_give(ps, r, 10);
	assert_int_equal(peers_bytes(ps), 0);
	peers_leave(ps, p, PEER_HTTP);
	peers_leave(ps, p, PEER_HTTP);
	peers_leave(ps, p, PEER_SMTP);
	peers_leave(ps, r, PEER_HTTP);
	peers_leave(ps, r, PEER_HTTP);
	peers_free(ps);
}

/* The bucket alone, time passed in: a minute's worth at first, one
 * report back every 60000 / rate ms, to the millisecond. */
static void
test_peer_bucket(void **state)
{
	struct peer_bucket b = { 0 };
	uint64_t w = 0, t0 = 1000;

	/* 3 a minute: three at once, the fourth waits exactly 20 s. */
	assert_true(peer_bucket_full(&b, 3, t0));
	for (int i = 0; i < 3; i++)
		assert_true(peer_bucket_take(&b, 3, t0, &w));
	assert_false(peer_bucket_take(&b, 3, t0, &w));	/* exactly empty */
	assert_int_equal(w, 20000);
	assert_false(peer_bucket_full(&b, 3, t0));
	assert_false(peer_bucket_take(&b, 3, t0 + 19999, &w));
	assert_int_equal(w, 1);
	assert_true(peer_bucket_take(&b, 3, t0 + 20000, &w));	/* exactly one
								 * back */
	assert_false(peer_bucket_take(&b, 3, t0 + 20000, &w));
	assert_int_equal(w, 20000);
	/* Full again a minute after it was empty, not a millisecond
	 * before; never fuller than full. */
	assert_false(peer_bucket_full(&b, 3, t0 + 20000 + 59999));
	assert_true(peer_bucket_full(&b, 3, t0 + 20000 + 60000));
	t0 += 20000 + 3600 * 1000;		/* an hour later */
	for (int i = 0; i < 3; i++)
		assert_true(peer_bucket_take(&b, 3, t0, &w));
	assert_false(peer_bucket_take(&b, 3, t0, &w));

	/* A clock that goes back counts as standing still. */
	assert_false(peer_bucket_take(&b, 3, t0 - 5000, &w));
	assert_int_equal(w, 20000);
	assert_true(peer_bucket_take(&b, 3, t0 + 20000, &w));

	/* 7 a minute: 60000 / 7 is not whole; a report comes back after
	 * 8571.43 ms, so at 8572 and not at 8571. */
	memset(&b, 0, sizeof(b));
	for (int i = 0; i < 7; i++)
		assert_true(peer_bucket_take(&b, 7, t0, &w));
	assert_false(peer_bucket_take(&b, 7, t0, &w));
	assert_int_equal(w, 8572);
	assert_false(peer_bucket_take(&b, 7, t0 + 8571, &w));
	assert_int_equal(w, 1);
	assert_true(peer_bucket_take(&b, 7, t0 + 8572, &w));
	/* the 4 units over stay: the second comes at 2 x 8571.43 = 17143 */
	assert_false(peer_bucket_take(&b, 7, t0 + 17142, &w));
	assert_int_equal(w, 1);
	assert_true(peer_bucket_take(&b, 7, t0 + 17143, &w));

	/* 1 a minute; the largest rate the setting takes holds its minute
	 * without overflow. */
	memset(&b, 0, sizeof(b));
	assert_true(peer_bucket_take(&b, 1, t0, &w));
	assert_false(peer_bucket_take(&b, 1, t0 + 59999, &w));
	assert_int_equal(w, 1);
	assert_true(peer_bucket_take(&b, 1, t0 + 60000, &w));
	memset(&b, 0, sizeof(b));
	assert_true(peer_bucket_take(&b, 1000000, t0, &w));
	assert_false(peer_bucket_full(&b, 1000000, t0));
	assert_true(peer_bucket_full(&b, 1000000, t0 + 1));	/* 0.06 ms */

	/* Rate 0: no limit, nothing kept. */
	memset(&b, 0, sizeof(b));
	for (int i = 0; i < 1000; i++)
		assert_true(peer_bucket_take(&b, 0, t0, &w));
	assert_false(b.used);
}

/* The table's intake limits: uploads at once, the rate shared by
 * uploads and mail, one bucket per client key, entries kept while their
 * bucket refills. */
static void
test_peer_admit(void **state)
{
	struct peers *ps = peers_new(100, 60);
	struct sockaddr_in6 a6, b6, c6;
	struct peer *p, *q;
	uint64_t w = 0, t0 = 5000;

	assert_non_null(ps);
	peers_set_intake(ps, 2, 1);
	sin6(&a6, "2001:db8:1:2::1");
	sin6(&b6, "2001:db8:1:2::2");		/* the same /64 */
	sin6(&c6, "2001:db8:1:3::1");
	assert_non_null(p = peers_join(ps, (struct sockaddr *)&a6, PEER_HTTP,
	    0));
	assert_non_null(q = peers_join(ps, (struct sockaddr *)&c6, PEER_HTTP,
	    0));

	/* One upload at once; the one refused takes no report. */
	assert_int_equal(peers_admit(ps, p, t0, true, &w), PEER_ADMIT);
	assert_int_equal(peer_uploads(ps, p), 1);
	assert_int_equal(peers_admit(ps, p, t0, true, &w),
	    PEER_OVER_CONCURRENT);
	assert_int_equal(peer_uploads(ps, p), 1);
	/* Mail is no upload: it takes the second report meanwhile. */
	assert_int_equal(peers_admit(ps, p, t0, false, &w), PEER_ADMIT);
	peers_upload_end(ps, p);
	assert_int_equal(peer_uploads(ps, p), 0);
	/* Exactly empty: 2 a minute, one back in 30 s; nothing counted. */
	assert_int_equal(peers_admit(ps, p, t0, true, &w), PEER_OVER_RATE);
	assert_int_equal(w, 30000);
	assert_int_equal(peer_uploads(ps, p), 0);
	assert_int_equal(peers_admit(ps, p, t0 + 29999, false, &w),
	    PEER_OVER_RATE);
	/* Another client has its own bucket. */
	assert_int_equal(peers_admit(ps, q, t0, false, &w), PEER_ADMIT);

	/* The client leaves and comes back from another address of its
	 * /64: the same bucket, still empty. */
	peers_leave(ps, p, PEER_HTTP);
	assert_int_equal(peers_sweep(ps, t0 + 29999), 2);	/* refilling */
	assert_non_null(p = peers_join(ps, (struct sockaddr *)&b6, PEER_HTTP,
	    0));
	assert_int_equal(peers_admit(ps, p, t0 + 29999, true, &w),
	    PEER_OVER_RATE);
	assert_int_equal(w, 1);
	/* Exactly refilled: one report back at 30 s. */
	assert_int_equal(peers_admit(ps, p, t0 + 30000, true, &w),
	    PEER_ADMIT);
	peers_upload_end(ps, p);
	peers_leave(ps, p, PEER_HTTP);
	peers_leave(ps, q, PEER_HTTP);

	/* Swept once full again: q (one report at t0) at t0 + 30000, p
	 * (empty at t0 + 30000) at t0 + 90000; not a millisecond before. */
	assert_int_equal(peers_sweep(ps, t0 + 29999), 2);
	assert_int_equal(peers_sweep(ps, t0 + 30000), 1);
	assert_int_equal(peers_sweep(ps, t0 + 89999), 1);
	assert_int_equal(peers_sweep(ps, t0 + 90000), 0);
	/* A new entry after the sweep: a full bucket. */
	assert_non_null(p = peers_join(ps, (struct sockaddr *)&a6, PEER_HTTP,
	    0));
	assert_int_equal(peers_admit(ps, p, t0 + 90000, false, &w),
	    PEER_ADMIT);
	assert_int_equal(peers_admit(ps, p, t0 + 90000, false, &w),
	    PEER_ADMIT);
	assert_int_equal(peers_admit(ps, p, t0 + 90000, false, &w),
	    PEER_OVER_RATE);
	peers_leave(ps, p, PEER_HTTP);

	/* No limits: every upload admitted, entries freed as before. */
	peers_set_intake(ps, 0, 0);
	assert_non_null(q = peers_join(ps, (struct sockaddr *)&c6, PEER_HTTP,
	    0));
	for (int i = 0; i < 100; i++)
		assert_int_equal(peers_admit(ps, q, t0, true, &w), PEER_ADMIT);
	assert_int_equal(peer_uploads(ps, q), 100);
	for (int i = 0; i < 100; i++)
		peers_upload_end(ps, q);
	peers_leave(ps, q, PEER_HTTP);
	assert_int_equal(peers_sweep(ps, t0), 0);
	peers_free(ps);
}

/* --- DKIM (intake_dkim_verify), with messages python3-dkim signed
 * (tests/data/dkim/make.py) and keys served from a table here. */

#define DKIM_DATA "tests/data/dkim/"

/* The key table: sel._domainkey.reporter.test and .other.test hold the
 * key arg (NULL: no key anywhere; "fail": no answer). */
static int
test_key_lookup(void *arg, const char *name, char *buf, size_t cap)
{
	const char *pub = arg;

	if (pub == NULL)		/* the key is gone from the DNS */
		return 1;
	if (strcmp(pub, "fail") == 0)	/* the DNS does not answer */
		return -1;
	if (strcmp(name, "sel._domainkey.reporter.test") == 0 ||
	    strcmp(name, "sel._domainkey.other.test") == 0) {
		snprintf(buf, cap, "v=DKIM1; k=rsa; p=%s", pub);
		return 0;
	}
	return 1;
}

static uint8_t *
read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b = malloc(1 << 16);

	assert_non_null(f);
	assert_non_null(b);
	*len = fread(b, 1, 1 << 16, f);
	fclose(f);
	return b;
}

static void
dkim_case(const char *file, const char *const *aligned, size_t n,
    const char *pub, bool verified, const char *reason)
{
	struct intake_dkim d;
	size_t len;
	uint8_t *m = read_all(file, &len);

	intake_dkim_verify(m, len, aligned, n, test_key_lookup, (void *)pub,
	    &d);
	if (d.verified != verified || (reason != NULL &&
	    strstr(d.reason, reason) == NULL))
		fail_msg("%s: verified %d, reason '%s' (want %d, '%s')", file,
		    d.verified, d.reason, verified, reason ? reason : "");
	free(m);
}

static void
test_dkim(void **state)
{
	static const char *const submitter[] = { "reporter.test" };
	static const char *const sub[] = { "mail.reporter.test" };
	static const char *const other[] = { NULL, "someone.test" };
	char pub[1024];
	size_t n;
	uint8_t *p = read_all(DKIM_DATA "reporter.pub.b64", &n);

	assert_true(n < sizeof(pub));
	memcpy(pub, p, n);
	pub[n] = '\0';
	free(p);
	dkim_case(DKIM_DATA "signed.eml", submitter, 1, pub, true, "");
	/* d= a parent of the submitter's domain. */
	dkim_case(DKIM_DATA "subdomain.eml", sub, 1, pub, true, "");
	dkim_case(DKIM_DATA "tampered.eml", submitter, 1, pub, false,
	    "bad signature");
	dkim_case(DKIM_DATA "ltag.eml", submitter, 1, pub, false,
	    "l= used (d=reporter.test)");
	dkim_case(DKIM_DATA "unaligned.eml", submitter, 1, pub, false,
	    "domain not aligned (d=other.test)");
	dkim_case(DKIM_DATA "signed.eml", other, 2, pub, false,
	    "domain not aligned (d=reporter.test)");
	dkim_case(DKIM_DATA "unsigned.eml", submitter, 1, pub, false,
	    "no signature");
	/* The key gone from the DNS, the DNS not answering, a revoked key
	 * (empty p=), a wrong key. */
	dkim_case(DKIM_DATA "signed.eml", submitter, 1, NULL, false,
	    "key not found (d=reporter.test)");
	dkim_case(DKIM_DATA "signed.eml", submitter, 1, "fail", false,
	    "key not found (d=reporter.test): the lookup failed");
	dkim_case(DKIM_DATA "signed.eml", submitter, 1, "", false, NULL);
	dkim_case(DKIM_DATA "signed.eml", submitter, 1,
	    "MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf"
	    "9Cnzj4p4WGeKLs1Pt8QuKUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQ==",
	    false, "bad signature");
	for (int i = 1; i <= STORE_PROVENANCE_MAX; i++)
		assert_int_equal(store_provenance_parse(
		    store_provenance_name((enum store_provenance)i)), i);
	assert_string_equal(store_provenance_name(STORE_DKIM_VERIFIED),
	    "dkim-verified");
	assert_string_equal(store_provenance_name(STORE_HTTPS), "https");
	assert_int_equal(store_provenance_parse("smtp"), -1);
}

/* A whole message through intake_examine then intake_dkim_message: the
 * aligned domains come from its TLS-Report-Submitter and contact-info;
 * its TLS-Report-Domain is read, and checked against the report. */
static void
test_dkim_message(void **state)
{
	struct intake_parts parts;
	struct intake_dkim d;
	char pub[1024], *hdr;
	size_t n, len;
	uint8_t *p = read_all(DKIM_DATA "reporter.pub.b64", &n), *m;

	assert_true(n < sizeof(pub));
	memcpy(pub, p, n);
	pub[n] = '\0';
	free(p);
	m = read_all(DKIM_DATA "signed.eml", &len);
	intake_examine(true, m, len, &parts);
	assert_int_equal(parts.nvalid, 1);
	assert_string_equal(parts.report_domain, "example.com");
	assert_string_equal(parts.report_submitter, "reporter.test");
	assert_false(parts.p[0].domain_mismatch);
	intake_dkim_message(&parts, m, len, test_key_lookup, pub, &d);
	assert_true(d.verified);
	assert_string_equal(d.domain, "reporter.test");
	intake_parts_free(&parts);
	/* Signed by other.test: aligned with neither the submitter nor the
	 * contact-info (tlsrpt@reporter.test). */
	free(m);
	m = read_all(DKIM_DATA "unaligned.eml", &len);
	intake_examine(true, m, len, &parts);
	intake_dkim_message(&parts, m, len, test_key_lookup, pub, &d);
	assert_false(d.verified);
	assert_string_equal(d.reason, "domain not aligned (d=other.test)");
	intake_parts_free(&parts);
	/* A TLS-Report-Domain the report does not name is noted. */
	free(m);
	m = read_all(DKIM_DATA "unsigned.eml", &len);
	hdr = memmem(m, len, "TLS-Report-Domain: example.com", 30);
	assert_non_null(hdr);
	memcpy(hdr + 27, "org", 3);
	intake_examine(true, m, len, &parts);
	assert_int_equal(parts.nvalid, 1);
	assert_string_equal(parts.report_domain, "example.org");
	assert_true(parts.p[0].domain_mismatch);
	intake_parts_free(&parts);
	free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_report),
		cmocka_unit_test(test_message),
		cmocka_unit_test(test_peer),
		cmocka_unit_test(test_peer_bucket),
		cmocka_unit_test(test_peer_admit),
		cmocka_unit_test(test_dkim),
		cmocka_unit_test(test_dkim_message),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
