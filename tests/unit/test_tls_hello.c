/*
 * test_tls_hello.c - the ClientHello readers (tls.h, tls_hello.c): the
 * server_name extension (RFC 6066 §3: one host_name entry, ASCII, no
 * trailing dot, no IP literals) with RFC 1035 §2.3.4 lengths, and the
 * ALPN extension (RFC 7301 §3.1: a 2-byte list length, then non-empty
 * protocol names compared byte for byte).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tls/tls.h"

/* --- server_name ------------------------------------------------------ */

/* The extension body for one host_name entry holding name (n bytes). */
static size_t
sni_ext(uint8_t *buf, const char *name, size_t n)
{
	buf[0] = (uint8_t)((n + 3) >> 8);
	buf[1] = (uint8_t)(n + 3);
	buf[2] = 0;			/* host_name */
	buf[3] = (uint8_t)(n >> 8);
	buf[4] = (uint8_t)n;
	memcpy(buf + 5, name, n);
	return n + 5;
}

static int
sni(const char *name, size_t n, char out[LIMIT_DNAME_LEN + 1])
{
	uint8_t buf[1024];

	assert_true(n + 5 <= sizeof(buf));
	memset(out, 'X', LIMIT_DNAME_LEN + 1);
	return tls_sni_parse(buf, sni_ext(buf, name, n), out);
}

static void
sni_ok(const char *name, const char *want)
{
	char out[LIMIT_DNAME_LEN + 1];

	if (sni(name, strlen(name), out) != 1)
		fail_msg("tls_sni_parse('%s') refused", name);
	assert_string_equal(out, want);
}

static void
sni_bad(const char *name, size_t n)
{
	char out[LIMIT_DNAME_LEN + 1];

	if (sni(name, n, out) != -1)
		fail_msg("tls_sni_parse('%.*s') accepted", (int)n, name);
	assert_string_equal(out, "");
}

static void
sni_ip(const char *name)
{
	char out[LIMIT_DNAME_LEN + 1];

	if (sni(name, strlen(name), out) != 0)
		fail_msg("tls_sni_parse('%s') not an IP literal", name);
	assert_string_equal(out, "");
}

/* A name of n bytes made of 50-byte labels "aaa...a" and a final "com". */
static void
long_name(char *buf, size_t n)
{
	memset(buf, 'a', n);
	for (size_t i = 50; i < n; i += 51)
		buf[i] = '.';
	memcpy(buf + n - 4, ".com", 4);
	buf[n] = '\0';
}

static void
test_sni_host_name(void **state)
{
	sni_ok("mta-sts.example.com", "mta-sts.example.com");
	/* Case-insensitive, like every DNS name: stored lower case. */
	sni_ok("MTA-STS.Example.COM", "mta-sts.example.com");
	/* "without a trailing dot", but old clients send one: dropped. */
	sni_ok("mta-sts.example.com.", "mta-sts.example.com");
	sni_ok("localhost", "localhost");
	sni_ok("a", "a");
	sni_ok("_acme.x-1.example", "_acme.x-1.example");
	/* All digits but not a dotted quad: a name. */
	sni_ok("1.2.3", "1.2.3");
	sni_ok("1.2.3.4.5", "1.2.3.4.5");
}

static void
test_sni_lengths(void **state)
{
	char name[LIMIT_DNAME_LEN + 8], out[LIMIT_DNAME_LEN + 1];
	char label[LIMIT_LABEL_LEN + 32];

	long_name(name, LIMIT_DNAME_LEN);			/* 253 */
	assert_int_equal(sni(name, LIMIT_DNAME_LEN, out), 1);
	assert_string_equal(out, name);
	/* 253 plus the trailing dot: 254 bytes sent, 253 kept. */
	long_name(name, LIMIT_DNAME_LEN);
	name[LIMIT_DNAME_LEN] = '.';
	assert_int_equal(sni(name, LIMIT_DNAME_LEN + 1, out), 1);
	assert_int_equal(strlen(out), LIMIT_DNAME_LEN);
	long_name(name, LIMIT_DNAME_LEN + 1);			/* 254 */
	sni_bad(name, LIMIT_DNAME_LEN + 1);
	long_name(name, LIMIT_DNAME_LEN + 1);
	name[LIMIT_DNAME_LEN + 1] = '.';
	sni_bad(name, LIMIT_DNAME_LEN + 2);

	memset(label, 'b', LIMIT_LABEL_LEN);			/* 63 */
	memcpy(label + LIMIT_LABEL_LEN, ".example", 9);
	assert_int_equal(sni(label, strlen(label), out), 1);
	assert_string_equal(out, label);
	memset(label, 'b', LIMIT_LABEL_LEN + 1);		/* 64 */
	memcpy(label + LIMIT_LABEL_LEN + 1, ".example", 9);
	sni_bad(label, strlen(label));
	/* The last label counts too. */
	memcpy(label, "example.", 8);
	memset(label + 8, 'c', LIMIT_LABEL_LEN + 1);
	sni_bad(label, 8 + LIMIT_LABEL_LEN + 1);
	assert_int_equal(sni(label, 8 + LIMIT_LABEL_LEN, out), 1);
}

static void
test_sni_empty_labels(void **state)
{
	sni_bad("", 0);
	sni_bad(".", 1);
	sni_bad("..", 2);
	sni_bad(".example.com", 12);
	sni_bad("a..example.com", 14);
	/* Only one trailing dot is dropped; a second leaves an empty
	 * label, never a name ending in '.'. */
	sni_bad("example.com..", 13);
}

static void
test_sni_characters(void **state)
{
	sni_bad("exa mple.com", 12);
	sni_bad("a\0b.example", 11);
	sni_bad("b\xc3\xbc" "cher.example", 13);	/* U-label as UTF-8 */
	sni_bad("a/b.example", 11);
	sni_bad("a*.example", 10);
	sni_bad("example.com:443", 15);
	sni_bad("[::1]", 5);
	sni_bad("fe80::1%eth0", 12);
}

static void
test_sni_ip_literals(void **state)
{
	/* RFC 6066: "Literal IPv4 and IPv6 addresses are not permitted";
	 * clients pointed at an IP URL send them anyway: no SNI. */
	sni_ip("192.0.2.1");
	sni_ip("192.0.2.1.");
	sni_ip("127.0.0.1");
	sni_ip("2001:db8::1");
	sni_ip("2001:DB8::1");
	sni_ip("::1");
	sni_ip("::ffff:192.0.2.1");
	/* The longest form: 45 bytes. */
	sni_ip("2001:0db8:0000:0000:0000:ffff:192.168.100.200");
}

static void
test_sni_framing(void **state)
{
	char out[LIMIT_DNAME_LEN + 1];
	uint8_t buf[64] = { 0 };
	size_t n;

	/* Shorter than list-len + type + name-len. */
	assert_int_equal(tls_sni_parse(buf, 0, out), -1);
	assert_int_equal(tls_sni_parse((const uint8_t *)"\0\3\0\0", 4, out),
	    -1);
	/* The list length must match the extension. */
	n = sni_ext(buf, "example.com", 11);
	assert_int_equal(tls_sni_parse(buf, n, out), 1);
	assert_int_equal(tls_sni_parse(buf, n - 1, out), -1);
	buf[n] = 'x';
	assert_int_equal(tls_sni_parse(buf, n + 1, out), -1);
	buf[1]++;				/* list says one more */
	assert_int_equal(tls_sni_parse(buf, n, out), -1);
	assert_string_equal(out, "");
	/* The name length must fill the list: no second entry (RFC 6066
	 * allows one name per type, and host_name is the only type). */
	n = sni_ext(buf, "example.com", 11);
	memcpy(buf + n, "\0\0\1b", 4);
	buf[1] += 4;
	assert_int_equal(tls_sni_parse(buf, n + 4, out), -1);
	/* ... nor a name length past the list. */
	n = sni_ext(buf, "example.com", 11);
	buf[4]++;
	assert_int_equal(tls_sni_parse(buf, n, out), -1);
	/* Only host_name (0). */
	n = sni_ext(buf, "example.com", 11);
	buf[2] = 1;
	assert_int_equal(tls_sni_parse(buf, n, out), -1);
}

/* --- ALPN ------------------------------------------------------------- */

/* The extension body for the protocols in v (NULL-terminated), with the
 * list length given (-1: the right one). */
static size_t
alpn_ext(uint8_t *buf, const char *const *v, long listlen)
{
	size_t n = 2;

	for (; *v != NULL; v++) {
		buf[n] = (uint8_t)strlen(*v);
		memcpy(buf + n + 1, *v, strlen(*v));
		n += 1 + strlen(*v);
	}
	if (listlen < 0)
		listlen = (long)(n - 2);
	buf[0] = (uint8_t)(listlen >> 8);
	buf[1] = (uint8_t)listlen;
	return n;
}

static bool
offers(const char *const *v, long listlen, const char *proto)
{
	uint8_t buf[1024];
	size_t n = alpn_ext(buf, v, listlen);

	return tls_alpn_offers(buf, n, proto, strlen(proto));
}

static void
test_alpn_rfc7301(void **state)
{
	/* RFC 7301 §3.1's example: "h2" and "http/1.1". */
	const char *const std[] = { "h2", "http/1.1", NULL };
	const char *const acme_last[] = { "h2", "http/1.1", "acme-tls/1",
	    NULL };
	const char *const acme_only[] = { "acme-tls/1", NULL };

	assert_true(offers(std, -1, "http/1.1"));
	assert_true(offers(std, -1, "h2"));
	assert_false(offers(std, -1, "acme-tls/1"));
	/* RFC 8737 §3: the validation client offers acme-tls/1; where it
	 * stands in the list does not matter. */
	assert_true(offers(acme_last, -1, "acme-tls/1"));
	assert_true(offers(acme_only, -1, "acme-tls/1"));
	/* Byte for byte: no prefix, no longer name, no case folding. */
	assert_false(offers(acme_only, -1, "acme-tls"));
	assert_false(offers(acme_only, -1, "acme-tls/10"));
	assert_false(offers(acme_only, -1, "ACME-TLS/1"));
	assert_false(offers(acme_only, -1, ""));
}

static void
test_alpn_malformed(void **state)
{
	const char *const acme_zero[] = { "acme-tls/1", "", NULL };
	const char *const zero_acme[] = { "", "acme-tls/1", NULL };
	const char *const two[] = { "acme-tls/1", "http/1.1", NULL };
	const char *const none[] = { NULL };
	uint8_t buf[64];
	size_t n;

	/* protocol_name_list<2..2^16-1>: an empty list, or none at all. */
	assert_false(offers(none, -1, "acme-tls/1"));
	assert_false(tls_alpn_offers(buf, 0, "h2", 2));
	buf[0] = 0;
	assert_false(tls_alpn_offers(buf, 1, "h2", 2));
	/* ProtocolName<1..2^8-1>: "Empty strings MUST NOT be included",
	 * before or after the match: the whole list is refused. */
	assert_false(offers(acme_zero, -1, "acme-tls/1"));
	assert_false(offers(zero_acme, -1, "acme-tls/1"));
	/* The list length must match the extension length, shorter
	 * (acme-tls/1 inside the declared list) or longer. */
	assert_false(offers(two, 11, "acme-tls/1"));
	assert_false(offers(two, 21, "acme-tls/1"));
	assert_true(offers(two, 20, "acme-tls/1"));
	/* An entry running past the end. */
	n = alpn_ext(buf, two, -1);
	buf[11] = 9;			/* "http/1.1" claims 9 bytes */
	assert_false(tls_alpn_offers(buf, n, "acme-tls/1", 10));
	n = alpn_ext(buf, two, -1);
	assert_false(tls_alpn_offers(buf, n - 1, "acme-tls/1", 10));
}

static void
test_alpn_find(void **state)
{
	const char *const v[] = { "h2", "http/1.1", NULL };
	uint8_t buf[64];
	size_t n = alpn_ext(buf, v, -1);
	const uint8_t *hit;

	/* The select callback's view: the entries, without the length. */
	hit = tls_alpn_find(buf + 2, n - 2, "http/1.1", 8);
	assert_ptr_equal(hit, buf + 6);
	assert_memory_equal(hit, "http/1.1", 8);
	assert_null(tls_alpn_find(buf + 2, n - 2, "acme-tls/1", 10));
	assert_null(tls_alpn_find(buf + 2, 0, "h2", 2));
	assert_null(tls_alpn_find(buf + 2, n - 3, "h2", 2));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sni_host_name),
		cmocka_unit_test(test_sni_lengths),
		cmocka_unit_test(test_sni_empty_labels),
		cmocka_unit_test(test_sni_characters),
		cmocka_unit_test(test_sni_ip_literals),
		cmocka_unit_test(test_sni_framing),
		cmocka_unit_test(test_alpn_rfc7301),
		cmocka_unit_test(test_alpn_malformed),
		cmocka_unit_test(test_alpn_find),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
