/*
 * test_dname.c - host name normalization and A-label checks (dname.h),
 * with cases from RFC 1035 §2.3 (LDH, lengths), RFC 5890/5891 (A-labels
 * and U-labels), UTS #46 non-transitional mapping, and RFC 8461 §3.2
 * (mx patterns: a wildcard only as the whole leftmost label).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/dname.h"

static void
norm_ok(const char *in, bool wild, const char *want)
{
	char out[LIMIT_DNAME_LEN + 1];
	struct err e = { "" };

	if (dname_normalize(in, strlen(in), wild, out, &e) != 0)
		fail_msg("dname_normalize('%s') failed: %s", in, e.msg);
	assert_string_equal(out, want);
	/* What normalize gives, check_alabel accepts, and normalize keeps. */
	if (dname_check_alabel(out, strlen(out), wild, &e) != 0)
		fail_msg("check_alabel('%s') failed: %s", out, e.msg);
}

static void
norm_bad(const char *in, size_t len, bool wild, const char *reason)
{
	char out[LIMIT_DNAME_LEN + 1];
	struct err e = { "" };

	if (dname_normalize(in, len, wild, out, &e) != -1)
		fail_msg("dname_normalize('%s') accepted as '%s'", in, out);
	if (strstr(e.msg, reason) == NULL)
		fail_msg("dname_normalize('%s'): error '%s' lacks '%s'", in,
		    e.msg, reason);
	assert_string_equal(out, "");
}

static void
alabel_ok(const char *s, bool wild)
{
	struct err e = { "" };

	if (dname_check_alabel(s, strlen(s), wild, &e) != 0)
		fail_msg("check_alabel('%s') failed: %s", s, e.msg);
}

static void
alabel_bad(const char *s, bool wild, const char *reason)
{
	struct err e = { "" };

	if (dname_check_alabel(s, strlen(s), wild, &e) != -1)
		fail_msg("check_alabel('%s') accepted", s);
	if (strstr(e.msg, reason) == NULL)
		fail_msg("check_alabel('%s'): error '%s' lacks '%s'", s,
		    e.msg, reason);
}

/* A name of n bytes made of 50-byte labels "aaa...a" and a final "com". */
static void
long_name(char *buf, size_t n)
{
	memset(buf, 'a', n);
	for (size_t i = 50; i < n; i += 51)
		buf[i] = '.';
	if (n >= 4)
		memcpy(buf + n - 4, ".com", 4);
	buf[n] = '\0';
}

static void
test_normalize_ascii(void **state)
{
	(void)state;
	norm_ok("example.com", false, "example.com");
	norm_ok("Mail.Example.COM", false, "mail.example.com");
	norm_ok("mx1.mail-hub.example", false, "mx1.mail-hub.example");
	norm_ok("a.b", false, "a.b");
	norm_ok("0.example.c0m", false, "0.example.c0m");
	norm_ok("mail.loc", false, "mail.loc");
	/* RFC 5891 §4.2.3.1 reserves "??--" labels for IDNA, but such host
	 * names exist and are legal LDH; only xn-- ones are IDNA's. */
	norm_ok("ab--c.example", false, "ab--c.example");
	/* ... also beside a label libidn2 must convert or check, which it
	 * once got with the whole name and refused (found by fuzz_policy:
	 * the parser took the mx pattern, normalization did not). */
	norm_ok("xn--bcher-kva.ab--c.example", false,
	    "xn--bcher-kva.ab--c.example");
	norm_ok("B\xc3\xbc" "cher.AB--c.example", false,
	    "xn--bcher-kva.ab--c.example");
	norm_ok("*.ab--c.xn--bcher-kva.example", true,
	    "*.ab--c.xn--bcher-kva.example");
}

static void
test_normalize_trailing_dot(void **state)
{
	(void)state;
	norm_ok("mail.example.com.", false, "mail.example.com");
	norm_ok("MAIL.example.com.", false, "mail.example.com");
	norm_bad("mail.example.com..", 18, false,
	    "label 4 is empty (name ends with '..')");
	norm_bad(".", 1, false, "label 1 is empty");
	norm_bad(".example.com", 12, false,
	    "label 1 is empty (name starts with '.')");
	norm_bad("a..example", 10, false, "label 2 is empty");
}

static void
test_normalize_ulabels(void **state)
{
	(void)state;
	norm_ok("bücher.example", false, "xn--bcher-kva.example");
	norm_ok("BÜCHER.example", false, "xn--bcher-kva.example");
	norm_ok("mx.bücher.example.", false, "mx.xn--bcher-kva.example");
	norm_ok("Ñaca.com", false, "xn--aca-6ma.com");
	norm_ok("ñaca.com", false, "xn--aca-6ma.com");
	/* Non-transitional: ß stays ß (RFC 5892), not "ss". */
	norm_ok("faß.de", false, "xn--fa-hia.de");
	norm_ok("münchen.de", false, "xn--mnchen-3ya.de");
	/* A-labels given in upper case are lowered and checked. */
	norm_ok("XN--BCHER-KVA.EXAMPLE", false, "xn--bcher-kva.example");
	norm_ok("xn--bcher-kva.example", false, "xn--bcher-kva.example");
	norm_ok("*.bücher.example", true, "*.xn--bcher-kva.example");
}

static void
test_normalize_bad_idn(void **state)
{
	(void)state;
	norm_bad("xn--zzzz-zzz.example", 20, false, "label 1 'xn--zzzz-zzz'");
	norm_bad("mx.xn--a.com", 12, false, "label 2 'xn--a'");
	norm_bad("\xff.com", 5, false, "not valid UTF-8");
	norm_bad("b\xc3.example", 10, false, "not valid UTF-8");
	/* U-label with a character IDNA2008 disallows (U+2665 heart). */
	norm_bad("i\xe2\x99\xa5.example", 12, false, "label 1");
}

static void
test_normalize_ldh(void **state)
{
	(void)state;
	norm_bad("foo-.example", 12, false, "label 1 'foo-' ends with '-'");
	norm_bad("mx.foo-.example", 15, false, "label 2 'foo-' ends with '-'");
	norm_bad("-foo.example", 12, false, "label 1 '-foo' starts with '-'");
	norm_bad("a_b.example", 11, false, "label 1 'a_b' has '_'");
	norm_bad("ex ample.com", 12, false, "label 1 'ex ample' has ' '");
	norm_bad("mail.example.com/x", 18, false, "label 3 'com/x' has '/'");
	norm_bad("", 0, false, "name is empty");
	norm_bad("mail\0.example", 13, false, "NUL byte");
	norm_bad("localhost", 9, false,
	    "'localhost' is a single label; a host name needs at least two");
	norm_bad("localhost.", 10, false, "is a single label");
	norm_bad("1.2.3.4", 7, false, "top-level label '4' is all digits");
	norm_bad("example.123", 11, false,
	    "top-level label '123' is all digits");
}

static void
test_normalize_lengths(void **state)
{
	char name[2048], l63[80], l64[80];

	(void)state;
	memset(l63, 'a', 63);
	memcpy(l63 + 63, ".example", 9);
	norm_ok(l63, false, l63);
	memset(l64, 'a', 64);
	memcpy(l64 + 64, ".example", 9);
	norm_bad(l64, strlen(l64), false, "label 1 'aaaa");
	norm_bad(l64, strlen(l64), false, "is 64 bytes, over 63");

	long_name(name, 253);
	norm_ok(name, false, name);
	name[253] = '.';
	name[254] = '\0';
	{
		char want[254];

		memcpy(want, name, 253);
		want[253] = '\0';
		norm_ok(name, false, want);
	}
	long_name(name, 254);
	norm_bad(name, 254, false, "name is 254 bytes, over 253");
	long_name(name, 260);
	norm_bad(name, 260, false, "name is 260 bytes, over 253");
	long_name(name, 2000);
	norm_bad(name, 2000, false, "name is 2000 bytes, over 253");
}

/* U-labels grow when converted: 5 labels of 40 x 'ü' (80 bytes of UTF-8
 * each, 400 in all) are refused for their A-label length or label size. */
static void
test_normalize_alabel_too_long(void **state)
{
	char name[600];
	size_t o = 0;

	(void)state;
	for (int l = 0; l < 4; l++) {
		for (int i = 0; i < 20; i++) {
			name[o++] = '\xc3';
			name[o++] = '\xbc';
		}
		memcpy(name + o, "abcdefghijklmnopqrstuvwxyz0123456789", 36);
		o += 36;
		name[o++] = '.';
	}
	memcpy(name + o, "com", 4);
	o += 3;
	norm_bad(name, o, false, "name is over 253 bytes as A-labels");
	/* One label of 40 x 'ü' is 80 bytes of UTF-8 but fits as an A-label
	 * only if short enough: 62 x 'ü' does not. */
	o = 0;
	for (int i = 0; i < 62; i++) {
		name[o++] = '\xc3';
		name[o++] = '\xbc';
	}
	memcpy(name + o, "a.example", 10);
	o += 9;
	norm_bad(name, o, false, "label 1 '");
	norm_bad(name, o, false, "is over 63 bytes as an A-label");
}

static void
test_normalize_wildcard(void **state)
{
	(void)state;
	norm_ok("*.example.com", true, "*.example.com");
	norm_ok("*.Example.COM.", true, "*.example.com");
	norm_bad("*.example.com", 13, false,
	    "label 1 '*': a wildcard is not allowed here");
	norm_bad("*.*.example.com", 15, true,
	    "label 2 '*': '*' is allowed only as the whole leftmost label");
	norm_bad("**.example.com", 14, true,
	    "label 1 '**': '*' is allowed only as the whole leftmost label");
	norm_bad("mx*.example.com", 15, true, "label 1 'mx*'");
	norm_bad("service-alpha-inbound-*.mimecast.com", 36, true,
	    "'*' is allowed only as the whole leftmost label");
	norm_bad("mx.*.example.com", 16, true, "label 2 '*'");
	norm_bad("*.com", 5, true,
	    "after '*.', 'com' is a single label");
	norm_bad("*", 1, true, "a wildcard needs a host name after '*.'");
	norm_bad("*.", 2, true, "a wildcard needs a host name after '*.'");
}

static void
test_alabel_ok(void **state)
{
	(void)state;
	alabel_ok("mail.example.com", false);
	alabel_ok("xn--bcher-kva.example", false);
	alabel_ok("mx.xn--mnchen-3ya.de", false);
	alabel_ok("*.example.net", true);
	alabel_ok("*.xn--bcher-kva.example", true);
	alabel_ok("service-alpha-inbound-a.mimecast.com", false);
	alabel_ok("ab--c.example", false);
}

static void
test_alabel_bad(void **state)
{
	(void)state;
	alabel_bad("", false, "name is empty");
	alabel_bad("bücher.example", false,
	    "label 1 'b\\xc3\\xbccher' is not an A-label (write it as "
	    "'xn--bcher-kva')");
	alabel_bad("mx.BÜCHER.example", false, "label 2");
	alabel_bad("Mail.example.com", false,
	    "label 1 'Mail' has upper case (write it in lower case)");
	alabel_bad("mail.example.COM", false, "label 3 'COM' has upper case");
	alabel_bad("mail.example.com.", false, "name ends with '.'");
	alabel_bad("*.example.com", false, "a wildcard is not allowed here");
	alabel_bad("*.*.example", true, "label 2 '*'");
	alabel_bad("**.example", true, "label 1 '**'");
	alabel_bad("test.example-", false,
	    "label 2 'example-' ends with '-'");
	alabel_bad("xn--zzzz-zzz.example", false,
	    "label 1 'xn--zzzz-zzz' is not a valid A-label");
	alabel_bad("mx.xn--a.com", false, "label 2 'xn--a' is not a valid");
	alabel_bad("a_b.example", false, "label 1 'a_b' has '_'");
	alabel_bad("mail", false, "single label");
	alabel_bad("10.0.0.1", false, "all digits");
	alabel_bad("mail..example", false, "label 2 is empty");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalize_ascii),
		cmocka_unit_test(test_normalize_trailing_dot),
		cmocka_unit_test(test_normalize_ulabels),
		cmocka_unit_test(test_normalize_bad_idn),
		cmocka_unit_test(test_normalize_ldh),
		cmocka_unit_test(test_normalize_lengths),
		cmocka_unit_test(test_normalize_alabel_too_long),
		cmocka_unit_test(test_normalize_wildcard),
		cmocka_unit_test(test_alabel_ok),
		cmocka_unit_test(test_alabel_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
