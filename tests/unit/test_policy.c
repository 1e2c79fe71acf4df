/*
 * test_policy.c - the MTA-STS policy file, the _mta-sts TXT record and MX
 * matching (policy.h), with cases written from RFC 8461 §3.1, §3.2, §3.3
 * and §4.1. Every refusal asserts the words of its reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy/policy.h"

#define RFC_EXAMPLE \
	"version: STSv1\r\n" \
	"mode: enforce\r\n" \
	"mx: mail.example.com\r\n" \
	"mx: *.example.net\r\n" \
	"mx: backupmx.example.com\r\n" \
	"max_age: 604800\r\n"

/* --- helpers ---------------------------------------------------------- */

/* Joins p's mx with single spaces into buf. */
static const char *
mx_join(const struct policy *p, char *buf, size_t bufsz)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < p->mx.n; i++)
		o += (size_t)snprintf(buf + o, bufsz - o, "%s%s",
		    i ? " " : "", p->mx.v[i]);
	return buf;
}

/* True when some warning contains s. */
static bool
has_warning(const struct strv *w, const char *s)
{
	for (size_t i = 0; i < w->n; i++)
		if (strstr(w->v[i], s) != NULL)
			return true;
	return false;
}

/* Parses body (len bytes) and checks the result; returns the warnings,
 * which the caller frees. */
static struct strv
parse_okn(const char *body, size_t len, enum policy_mode mode,
    uint32_t max_age, const char *mx)
{
	struct policy p;
	struct strv w = { 0 };
	struct err e = { "" };
	char got[8192];

	if (policy_parse(body, len, &p, &w, &e) != 0)
		fail_msg("policy refused: %s\n--\n%s", e.msg, body);
	assert_int_equal(p.mode, mode);
	assert_int_equal(p.max_age, max_age);
	assert_string_equal(mx_join(&p, got, sizeof(got)), mx);
	policy_free(&p);
	return w;
}

static struct strv
parse_ok(const char *body, enum policy_mode mode, uint32_t max_age,
    const char *mx)
{
	return parse_okn(body, strlen(body), mode, max_age, mx);
}

static void
parse_ok_nowarn(const char *body, enum policy_mode mode, uint32_t max_age,
    const char *mx)
{
	struct strv w = parse_ok(body, mode, max_age, mx);

	if (w.n != 0)
		fail_msg("unexpected warning: %s", w.v[0]);
	strv_free(&w);
}

/* Parses and expects exactly one warning containing want. */
static void
parse_ok_warn(const char *body, enum policy_mode mode, uint32_t max_age,
    const char *mx, const char *want)
{
	struct strv w = parse_ok(body, mode, max_age, mx);

	if (!has_warning(&w, want))
		fail_msg("no warning with '%s' (%zu warnings%s%s)", want, w.n,
		    w.n ? ", first: " : "", w.n ? w.v[0] : "");
	strv_free(&w);
}

static void
parse_badn(const char *body, size_t len, const char *reason)
{
	struct policy p;
	struct strv w = { 0 };
	struct err e = { "" };

	if (policy_parse(body, len, &p, &w, &e) != -1)
		fail_msg("policy accepted:\n%.200s", body);
	if (strstr(e.msg, reason) == NULL)
		fail_msg("error '%s' lacks '%s'", e.msg, reason);
	/* *p is left empty on error. */
	assert_int_equal(p.mx.n, 0);
	assert_null(p.mx.v);
	assert_int_equal(p.mode, POLICY_MODE_NONE);
	strv_free(&w);
}

static void
parse_bad(const char *body, const char *reason)
{
	parse_badn(body, strlen(body), reason);
}

/* --- policy_parse: accepted ------------------------------------------ */

static void
test_parse_rfc_example(void **state)
{
	(void)state;
	parse_ok_nowarn(RFC_EXAMPLE, POLICY_MODE_ENFORCE, 604800,
	    "mail.example.com *.example.net backupmx.example.com");
}

static void
test_parse_line_ends(void **state)
{
	(void)state;
	/* §3.2: sts-policy-term = LF / CRLF. */
	parse_ok_nowarn("version: STSv1\nmode: testing\nmx: mx.example.com\n"
	    "max_age: 86400\n", POLICY_MODE_TESTING, 86400, "mx.example.com");
	parse_ok_nowarn("version: STSv1\r\nmode: testing\nmx: mx.example.com"
	    "\r\nmax_age: 86400\n", POLICY_MODE_TESTING, 86400,
	    "mx.example.com");
	/* The final line end is optional: [sts-policy-term]. */
	parse_ok_nowarn("version: STSv1\nmode: none\nmax_age: 86400",
	    POLICY_MODE_NONE, 86400, "");
	parse_ok_nowarn("version: STSv1\r\nmode: none\r\nmax_age: 1",
	    POLICY_MODE_NONE, 1, "");
}

static void
test_parse_whitespace(void **state)
{
	(void)state;
	/* field-delim = ":" *WSP, and *WSP after each field. */
	parse_ok_nowarn("version:STSv1\r\nmode:\tenforce\r\n"
	    "mx:  \t\t *.example.com\nmax_age: 1\n", POLICY_MODE_ENFORCE, 1,
	    "*.example.com");
	parse_ok_nowarn("version: STSv1 \nmode: enforce\t\nmx: *.example.com "
	    "\nmax_age: 0 \n", POLICY_MODE_ENFORCE, 0, "*.example.com");
}

static void
test_parse_field_order(void **state)
{
	(void)state;
	/* "Order-independent": version need not come first. */
	parse_ok_nowarn("max_age: 8600\nmx: a.example\nmode: testing\n"
	    "version: STSv1\n", POLICY_MODE_TESTING, 8600, "a.example");
}

static void
test_parse_mode_none(void **state)
{
	(void)state;
	/* mx is required for enforce and testing only. */
	parse_ok_nowarn("version: STSv1\nmode: none\nmax_age: 86400\n",
	    POLICY_MODE_NONE, 86400, "");
	parse_ok_nowarn("version: STSv1\nmode: none\nmx: *.mimecast.com\n"
	    "max_age: 604800\n", POLICY_MODE_NONE, 604800, "*.mimecast.com");
}

static void
test_parse_max_age(void **state)
{
	(void)state;
	parse_ok_nowarn("version: STSv1\nmode: none\nmax_age: 0\n",
	    POLICY_MODE_NONE, 0, "");
	parse_ok_nowarn("version: STSv1\nmode: none\nmax_age: 31557600\n",
	    POLICY_MODE_NONE, 31557600, "");
	/* 1*10DIGIT: ten digits with leading zeros are fine. */
	parse_ok_nowarn("version: STSv1\nmode: none\nmax_age: 0000000001\n",
	    POLICY_MODE_NONE, 1, "");
	parse_ok_nowarn("version: STSv1\nmode: none\nmax_age: 0031557600\n",
	    POLICY_MODE_NONE, 31557600, "");
}

static void
test_parse_first_wins(void **state)
{
	(void)state;
	/* §3.2: for fields other than mx the first instance is used. */
	parse_ok_warn("version: STSv1\nmode: enforce\nmode: testing\n"
	    "mode: none\nmx: a.example\nmax_age: 604800\n",
	    POLICY_MODE_ENFORCE, 604800, "a.example",
	    "line 3: repeated 'mode' ignored");
	/* ... even when the ignored one would be invalid as a mode. */
	parse_ok_warn("version: STSv1\nmode: testing\nmode: enforced\n"
	    "mx: a.example\nmax_age: 604800\n", POLICY_MODE_TESTING, 604800,
	    "a.example", "line 3: repeated 'mode' ignored");
	parse_ok_warn("version: STSv1\nmode: none\nmax_age: 5\nmax_age: 7\n",
	    POLICY_MODE_NONE, 5, "", "line 4: repeated 'max_age' ignored");
	parse_ok_warn("version: STSv1\nversion: STSv2\nmode: none\n"
	    "max_age: 5\n", POLICY_MODE_NONE, 5, "",
	    "line 2: repeated 'version' ignored");
}

static void
test_parse_unknown_keys(void **state)
{
	(void)state;
	parse_ok_warn("version: STSv1\nmode: enforce\nmax_age: 86400\n"
	    "mx: mail.example.com\nbadkey: badvalue\n", POLICY_MODE_ENFORCE,
	    86400, "mail.example.com", "line 5: unknown key 'badkey' ignored");
	/* Keys are case-sensitive (%s"mode"): "Mode" is an extension. */
	parse_ok_warn("version: STSv1\nmode: enforce\nMode: none\n"
	    "mx: a.example\nmax_age: 1\n", POLICY_MODE_ENFORCE, 1,
	    "a.example", "did you mean 'mode'?");
	/* Extension values: SP inside, UTF-8, 32-character names. */
	parse_ok_warn("version:STSv1\nmode:none\nmax_age:1\n"
	    "more:ext e  ns ion\n", POLICY_MODE_NONE, 1, "",
	    "unknown key 'more'");
	parse_ok_warn("version:STSv1\nmode:none\nmax_age:1\n"
	    "note: caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7\n",
	    POLICY_MODE_NONE, 1, "", "unknown key 'note'");
	parse_ok_warn("version:STSv1\nmode:none\nmax_age:1\n"
	    "a1234567890123456789012345678901:x\n", POLICY_MODE_NONE, 1, "",
	    "unknown key");
	parse_ok_warn("version:STSv1\nmode:none\nmax_age:1\nx_y-z.w: 1\n",
	    POLICY_MODE_NONE, 1, "", "unknown key 'x_y-z.w'");
}

static void
test_parse_mx_case_and_duplicates(void **state)
{
	(void)state;
	parse_ok_nowarn("version: STSv1\nmode: testing\nmx: MX1.Example.COM\n"
	    "mx: *.Example.NET\nmax_age: 86400\n", POLICY_MODE_TESTING, 86400,
	    "mx1.example.com *.example.net");
	parse_ok_warn("version: STSv1\nmode: enforce\nmx: a.example\n"
	    "mx: b.example\nmx: A.example\nmax_age: 1\n", POLICY_MODE_ENFORCE,
	    1, "a.example b.example", "line 5: mx 'a.example' repeated");
}

static void
test_parse_blank_lines(void **state)
{
	(void)state;
	parse_ok_warn("version: STSv1\r\nmode: none\r\nmax_age: 1\r\n\r\n",
	    POLICY_MODE_NONE, 1, "", "line 4: empty line ignored");
	parse_ok_warn("version: STSv1\n \t\nmode: none\nmax_age: 1\n",
	    POLICY_MODE_NONE, 1, "", "line 2: empty line ignored");
}

static void
test_parse_no_warnings_wanted(void **state)
{
	const char *body = "version: STSv1\nmode: none\nfoo: 1\n"
	    "max_age: 1\nmax_age: 2\n\n";
	struct policy p;
	struct err e;

	(void)state;
	/* warnings may be NULL. */
	assert_int_equal(policy_parse(body, strlen(body), &p, NULL, &e), 0);
	assert_int_equal(p.max_age, 1);
	policy_free(&p);
}

/* --- policy_parse: refused -------------------------------------------- */

static void
test_parse_bad_line_ends(void **state)
{
	(void)state;
	/* §3.2 allows LF and CRLF only: CR alone is refused. */
	parse_bad("version: STSv1\rmode: enforce\rmx: *.mimecast.com\r"
	    "max_age: 1\r", "line 1: line ends with CR alone");
	parse_bad("version: STSv1\nmode: none\r\nmax_age: 1\r",
	    "line 3: line ends with CR alone");
	parse_bad("version: STSv1\nmode: none\rmax_age: 1\n",
	    "line 2: line ends with CR alone");
}

static void
test_parse_bad_lines(void **state)
{
	(void)state;
	parse_bad("version: STSv1\nmode none\nmx: a.example\nmax_age: 1\n",
	    "line 2: no ':' in 'mode none'");
	parse_bad("version: STSv1\r\nnot_a_pair\r\n",
	    "line 2: no ':' in 'not_a_pair'");
	parse_bad("bogus", "line 1: no ':' in 'bogus'");
	parse_bad("version: STSv1\n: 8600", "line 2: empty key before ':'");
	parse_bad("version: STSv1\n mode: none\nmax_age: 1\n",
	    "line 2: key ' mode' must start with a letter or a digit");
	parse_bad("version: STSv1\nmode : none\nmax_age: 1\n",
	    "line 2: key 'mode ' has ' '");
	parse_bad("version:STSv1\nmode:none\nmax_age:0\n_bad:test",
	    "line 4: key '_bad' must start with a letter or a digit");
	parse_bad("version:STSv1\nmode:none\nmax_age:0\n"
	    "a12345678901234567890123456789012:123",
	    "line 4: key 'a12345678901234567890123456789012' is 33 "
	    "characters, over 32");
	parse_bad("version:STSv1\nmode:none\nmax_age:0\nfoo/bar: 1\n",
	    "line 4: key 'foo/bar' has '/'");
	parse_bad("version:STSv1\nmode:none\nmax_age:0\next:",
	    "line 4: ext: value is empty");
	parse_bad("version:STSv1\nmode:none\nmax_age:0\next:   \t \n",
	    "line 4: ext: value is empty");
	parse_bad("version:STSv1\nmode:none\nmax_age:0\next: a\tb\n",
	    "line 4: ext: value has control character 0x09 at column 2");
	parse_bad("version:STSv1\nmode:none\nmax_age:0\next: a\xff\n",
	    "line 4: ext: value has a byte 0xff that is not UTF-8");
	/* Overlong and surrogate forms are not UTF-8 (RFC 3629). */
	parse_bad("version:STSv1\nmode:none\nmax_age:0\next: \xc0\xaf\n",
	    "not UTF-8");
	parse_bad("version:STSv1\nmode:none\nmax_age:0\next: \xed\xa0\x80\n",
	    "not UTF-8");
	/* A repeated field is ignored but must still be a field. */
	parse_bad("version: STSv1\nmode: none\nmax_age: 1\nmax_age:\n",
	    "line 4: max_age: value is empty");
}

static void
test_parse_bad_nul(void **state)
{
	static const char body[] = "version: STSv1\nmode: none\0\nmax_age: 1\n";

	(void)state;
	parse_badn(body, sizeof(body) - 1,
	    "line 2: mode 'none\\x00' is not one of");
}

static void
test_parse_bad_version(void **state)
{
	(void)state;
	parse_bad("version: STSv2\nmode: none\nmax_age: 1\n",
	    "line 1: version 'STSv2' is not STSv1");
	parse_bad("version:STSv10\nmode:none\nmax_age:0",
	    "line 1: version 'STSv10' is not STSv1");
	parse_bad("version:STSv0\nmode:none\nmax_age:0",
	    "line 1: version 'STSv0' is not STSv1");
	parse_bad("version: stsv1\nmode: none\nmax_age: 1\n",
	    "version 'stsv1' is not STSv1");
	parse_bad("version:\nmode: none\nmax_age: 1\n",
	    "line 1: version '' is not STSv1");
	parse_bad("max_age:0\nmode:none", "no version line");
	parse_bad("", "no version line");
	parse_bad("\n", "no version line");
}

static void
test_parse_bad_mode(void **state)
{
	(void)state;
	parse_bad("version: STSv1\nmode: pretend\nmx: a.example\n"
	    "max_age: 1\n", "line 2: mode 'pretend' is not one of enforce, "
	    "testing, none");
	parse_bad("version: STSv1\nmode: Enforce\nmx: a.example\n"
	    "max_age: 1\n", "line 2: mode 'Enforce' is not one of");
	parse_bad("version: STSv1\nmode:\nmax_age: 1\n",
	    "line 2: mode is empty");
	parse_bad("version: STSv1\nmax_age: 8600", "no mode line");
	parse_bad("version: STSv1\nmx: a.example\nmax_age: 8600\n",
	    "no mode line");
}

static void
test_parse_bad_max_age(void **state)
{
	(void)state;
	parse_bad("version: STSv1\nmode: none\n",
	    "no max_age line");
	parse_bad("version: STSv1\nmode: testing\nmx: a.example\n",
	    "no max_age line");
	parse_bad("version: STSv1\nmode: none\nmax_age:\n",
	    "line 3: max_age is empty");
	parse_bad("version: STSv1\nmode: none\nmax_age: -1\n",
	    "line 3: max_age '-1' is not a number of seconds");
	parse_bad("version: STSv1\nmode: none\nmax_age: 86400.5\n",
	    "line 3: max_age '86400.5' is not a number");
	parse_bad("version: STSv1\nmode: none\nmax_age: twenty\n",
	    "max_age 'twenty' is not a number");
	parse_bad("version: STSv1\nmode: none\nmax_age: +1\n",
	    "max_age '+1' is not a number");
	parse_bad("version: STSv1\nmode: none\nmax_age: 1 2\n",
	    "max_age '1 2' is not a number");
	/* 1*10DIGIT: eleven digits are refused even when small. */
	parse_bad("version:STSv1\nmode:none\nmax_age:01234567890",
	    "line 3: max_age '01234567890' has 11 digits, over 10");
	parse_bad("version: STSv1\nmode: none\nmax_age: 31557601",
	    "line 3: max_age 31557601 exceeds 31557600");
	parse_bad("version: STSv1\nmode: none\nmax_age: 99999999\n",
	    "max_age 99999999 exceeds 31557600");
	parse_bad("version: STSv1\nmode: none\nmax_age: 9999999999\n",
	    "max_age 9999999999 exceeds 31557600");
	parse_bad("version: STSv1\nmode: none\nmax_age: 4294967296\n",
	    "max_age 4294967296 exceeds");
}

static void
test_parse_bad_mx(void **state)
{
	(void)state;
	parse_bad("version: STSv1\nmode: enforce\nmax_age: 86400\n",
	    "mode enforce needs at least one mx line");
	parse_bad("version:STSv1\nmax_age:0\nmode:testing",
	    "mode testing needs at least one mx line");
	parse_bad("version:STSv1\nmode:enforce\nmax_age:0\nmx:",
	    "line 4: mx is empty");
	parse_bad("version:STSv1\nmode:enforce\nmax_age:0\nmx:*.*.example",
	    "line 4: mx '*.*.example': label 2 '*'");
	parse_bad("version:STSv1\nmode:enforce\nmax_age:0\nmx:**.example",
	    "line 4: mx '**.example': label 1 '**'");
	parse_bad("version:STSv1\nmode:enforce\nmax_age:0\nmx:**.example-",
	    "line 4: mx '**.example-'");
	parse_bad("version: STSv1\nmode: enforce\n"
	    "mx: service-alpha-inbound-*.mimecast.com\nmax_age: 1\n",
	    "line 3: mx 'service-alpha-inbound-*.mimecast.com': label 1");
	parse_bad("version:STSv1\nmode:enforce\nmax_age:0\nmx:test.example-",
	    "line 4: mx 'test.example-': label 2 'example-' ends with '-'");
	/* RFC 8461 §3.2: mx names are A-labels; a U-label is refused, with
	 * the A-label the user should write. */
	parse_bad("version:STSv1\nmode:none\nmax_age:0\nmx: b\xc3\xbc"
	    "cher.example", "write it as 'xn--bcher-kva'");
	parse_bad("version:STSv1\nmode:enforce\nmax_age:0\n"
	    "mx: mail.example.com.\n", "line 4: mx 'mail.example.com.': "
	    "name ends with '.'");
	parse_bad("version:STSv1\nmode:enforce\nmax_age:0\nmx: mail\n",
	    "line 4: mx 'mail': 'mail' is a single label");
	parse_bad("version:STSv1\nmode:enforce\nmax_age:0\n"
	    "mx: mail example.com\n", "has ' '");
	parse_bad("version:STSv1\nmode:enforce\nmax_age:0\n"
	    "mx: xn--zzzz-zzz.example\n", "is not a valid A-label");
	parse_bad("version:STSv1\nmode:enforce\nmax_age:0\nmx: *\n",
	    "a wildcard needs a host name");
	parse_bad("version:STSv1\nmode:enforce\nmax_age:0\nmx: 192.0.2.1\n",
	    "all digits");
}

static void
test_parse_size_limit(void **state)
{
	const char *head = "version: STSv1\nmode: none\nmax_age: 1\n";
	size_t hl = strlen(head), n = LIMIT_POLICY_BYTES;
	char *body;

	(void)state;
	/* §3.3: 64 KiB is accepted, 64 KiB + 1 refused, whatever it is. */
	body = malloc(n + 2);
	assert_non_null(body);
	memcpy(body, head, hl);
	memcpy(body + hl, "pad: ", 5);
	memset(body + hl + 5, 'x', n - hl - 6);
	body[n - 1] = '\n';
	{
		struct strv w = parse_okn(body, n, POLICY_MODE_NONE, 1, "");

		strv_free(&w);
	}
	body[n - 1] = 'x';
	body[n] = '\n';
	parse_badn(body, n + 1, "policy is 65537 bytes, over 65536");
	free(body);
}

static void
test_parse_mx_limit(void **state)
{
	char *body;
	size_t o;
	struct policy p;
	struct err e = { "" };

	(void)state;
	body = malloc(64 * 1024);
	assert_non_null(body);
	o = (size_t)snprintf(body, 100, "version: STSv1\nmode: enforce\n"
	    "max_age: 1\n");
	for (int i = 0; i < LIMIT_POLICY_MX; i++)
		o += (size_t)snprintf(body + o, 64, "mx:m%d.e.x\n", i);
	assert_int_equal(policy_parse(body, o, &p, NULL, &e), 0);
	assert_int_equal(p.mx.n, LIMIT_POLICY_MX);
	policy_free(&p);
	o += (size_t)snprintf(body + o, 64, "mx:one.more.x\n");
	parse_badn(body, o, "line 1004: more than 1000 mx lines");
	free(body);
}

/* The canonical form of what we parse must itself fit in 64 KiB, so that
 * whatever we accept we can also serve. */
static void
test_parse_rendered_size(void **state)
{
	char *body, label[64];
	size_t o;

	(void)state;
	body = malloc(LIMIT_POLICY_BYTES + 1);
	assert_non_null(body);
	memset(label, 'a', 55);
	label[55] = '\0';
	o = (size_t)snprintf(body, 100, "version:STSv1\nmode:enforce\n"
	    "max_age:1\n");
	for (int i = 0; i < 1000 && o + 80 < LIMIT_POLICY_BYTES; i++)
		o += (size_t)snprintf(body + o, 80, "mx:%s.%d.x\n", label, i);
	parse_badn(body, o, "over 65536");
	free(body);
}

/* --- policy_render ---------------------------------------------------- */

static void
render_eq(const char *body, const char *want)
{
	struct policy p, p2;
	struct err e = { "" };
	char *r, *r2;
	size_t n, n2;

	if (policy_parse(body, strlen(body), &p, NULL, &e) != 0)
		fail_msg("refused: %s", e.msg);
	r = policy_render(&p, &n);
	assert_non_null(r);
	assert_string_equal(r, want);
	assert_int_equal(n, strlen(want));
	/* Round trip: the canonical form parses to the same policy and
	 * renders to itself. */
	assert_int_equal(policy_parse(r, n, &p2, NULL, &e), 0);
	r2 = policy_render(&p2, &n2);
	assert_non_null(r2);
	assert_int_equal(n2, n);
	assert_memory_equal(r2, r, n);
	free(r);
	free(r2);
	policy_free(&p);
	policy_free(&p2);
}

static void
test_render(void **state)
{
	(void)state;
	render_eq(RFC_EXAMPLE, RFC_EXAMPLE);
	render_eq("max_age:1\nmx: MX.example.com \nmx:*.b.example\nfoo: bar\n"
	    "mode:\ttesting\nversion:STSv1",
	    "version: STSv1\r\nmode: testing\r\nmx: mx.example.com\r\n"
	    "mx: *.b.example\r\nmax_age: 1\r\n");
	render_eq("version: STSv1\nmode: none\nmax_age: 0000000042\n",
	    "version: STSv1\r\nmode: none\r\nmax_age: 42\r\n");
	render_eq("version: STSv1\nmode: enforce\nmx: a.example\nmx: a.example"
	    "\nmax_age: 31557600\n", "version: STSv1\r\nmode: enforce\r\n"
	    "mx: a.example\r\nmax_age: 31557600\r\n");
}

static void
test_render_null_len(void **state)
{
	struct policy p = { POLICY_MODE_NONE, 7, { 0 } };
	char *r;

	(void)state;
	r = policy_render(&p, NULL);
	assert_non_null(r);
	assert_string_equal(r, "version: STSv1\r\nmode: none\r\nmax_age: 7\r\n");
	free(r);
}

/* --- policy_validate, copy, free, mode names ------------------------- */

static void
validate_bad(struct policy *p, const char *reason)
{
	struct err e = { "" };

	if (policy_validate(p, &e) != -1)
		fail_msg("policy_validate accepted");
	if (strstr(e.msg, reason) == NULL)
		fail_msg("error '%s' lacks '%s'", e.msg, reason);
}

static void
test_validate(void **state)
{
	struct policy p = { 0 };
	struct err e = { "" };
	char name[80];

	(void)state;
	p.mode = POLICY_MODE_ENFORCE;
	p.max_age = 604800;
	validate_bad(&p, "mode enforce needs at least one mx");
	assert_int_equal(strv_push(&p.mx, "mail.example.com"), 0);
	assert_int_equal(strv_push(&p.mx, "*.xn--bcher-kva.example"), 0);
	if (policy_validate(&p, &e) != 0)
		fail_msg("refused: %s", e.msg);
	p.max_age = LIMIT_POLICY_MAX_AGE + 1;
	validate_bad(&p, "max_age 31557601 exceeds 31557600");
	p.max_age = 1;
	p.mode = (enum policy_mode)7;
	validate_bad(&p, "mode 7 is not one of");
	p.mode = POLICY_MODE_TESTING;
	assert_int_equal(strv_push(&p.mx, "mail.example.com"), 0);
	validate_bad(&p, "mx 'mail.example.com' is listed twice");
	policy_free(&p);

	/* validate wants what dname_normalize gives: lower-case A-labels
	 * without the trailing dot. */
	p.mode = POLICY_MODE_TESTING;
	assert_int_equal(strv_push(&p.mx, "Mail.example.com"), 0);
	validate_bad(&p, "mx 'Mail.example.com': label 1 'Mail' has upper");
	policy_free(&p);
	assert_int_equal(strv_push(&p.mx, "b\xc3\xbc" "cher.example"), 0);
	validate_bad(&p, "is not an A-label");
	policy_free(&p);
	assert_int_equal(strv_push(&p.mx, "*.*.example"), 0);
	validate_bad(&p, "label 2 '*'");
	policy_free(&p);

	/* mode none needs no mx. */
	p.max_age = 86400;
	assert_int_equal(policy_validate(&p, &e), 0);

	/* Too many patterns, and a policy too big to serve. */
	for (int i = 0; i <= LIMIT_POLICY_MX; i++) {
		snprintf(name, sizeof(name), "mx%d.example.com", i);
		assert_int_equal(strv_push(&p.mx, name), 0);
	}
	validate_bad(&p, "1001 mx patterns, over 1000");
	policy_free(&p);
	for (int i = 0; i < LIMIT_POLICY_MX; i++) {
		snprintf(name, sizeof(name), "mx%d.%s.example.com", i,
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
		assert_int_equal(strv_push(&p.mx, name), 0);
	}
	validate_bad(&p, "over 65536");
	policy_free(&p);
}

static void
test_copy_free(void **state)
{
	struct policy p, c;
	struct err e;

	(void)state;
	assert_int_equal(policy_parse(RFC_EXAMPLE, strlen(RFC_EXAMPLE), &p,
	    NULL, &e), 0);
	assert_int_equal(policy_copy(&c, &p), 0);
	assert_int_equal(c.mode, p.mode);
	assert_int_equal(c.max_age, p.max_age);
	assert_int_equal(c.mx.n, 3);
	for (size_t i = 0; i < c.mx.n; i++) {
		assert_string_equal(c.mx.v[i], p.mx.v[i]);
		assert_ptr_not_equal(c.mx.v[i], p.mx.v[i]);
	}
	policy_free(&p);
	assert_int_equal(p.mx.n, 0);
	assert_int_equal(p.mode, POLICY_MODE_NONE);
	assert_string_equal(c.mx.v[1], "*.example.net");
	policy_free(&c);
	policy_free(&c);	/* freeing an empty policy is harmless */
}

static void
test_mode_names(void **state)
{
	enum policy_mode m = POLICY_MODE_NONE;

	(void)state;
	assert_string_equal(policy_mode_name(POLICY_MODE_NONE), "none");
	assert_string_equal(policy_mode_name(POLICY_MODE_TESTING), "testing");
	assert_string_equal(policy_mode_name(POLICY_MODE_ENFORCE), "enforce");
	assert_string_equal(policy_mode_name((enum policy_mode)9), "invalid");
	assert_int_equal(policy_mode_parse("enforce", &m), 0);
	assert_int_equal(m, POLICY_MODE_ENFORCE);
	assert_int_equal(policy_mode_parse("testing", &m), 0);
	assert_int_equal(m, POLICY_MODE_TESTING);
	assert_int_equal(policy_mode_parse("none", &m), 0);
	assert_int_equal(m, POLICY_MODE_NONE);
	assert_int_equal(policy_mode_parse("Enforce", &m), -1);
	assert_int_equal(policy_mode_parse("enforced", &m), -1);
	assert_int_equal(policy_mode_parse("", &m), -1);
	assert_int_equal(policy_mode_parse(NULL, &m), -1);
	assert_int_equal(m, POLICY_MODE_NONE);
}

/* --- MX matching (§4.1) ---------------------------------------------- */

static void
test_mx_match(void **state)
{
	(void)state;
	assert_true(policy_mx_match("mail.example.com", "mail.example.com"));
	assert_true(policy_mx_match("mail.example.com", "MAIL.Example.com"));
	assert_true(policy_mx_match("Mail.Example.com", "mail.example.com"));
	/* One trailing dot on either side is ignored. */
	assert_true(policy_mx_match("mail.example.com", "mail.example.com."));
	assert_true(policy_mx_match("mail.example.com.", "mail.example.com"));
	assert_false(policy_mx_match("mail.example.com", "mail.example.org"));
	assert_false(policy_mx_match("mail.example.com", "example.com"));
	assert_false(policy_mx_match("example.com", "mail.example.com"));
	assert_false(policy_mx_match("mail.example.com", ""));
	assert_false(policy_mx_match("", "mail.example.com"));
	assert_false(policy_mx_match("mail.example.com", "xmail.example.com"));
}

static void
test_mx_match_wildcard(void **state)
{
	(void)state;
	/* "*.example.com" covers exactly one extra leftmost label. */
	assert_true(policy_mx_match("*.example.com", "mx1.example.com"));
	assert_true(policy_mx_match("*.example.com", "MX1.EXAMPLE.COM."));
	assert_false(policy_mx_match("*.example.com", "example.com"));
	assert_false(policy_mx_match("*.example.com", "a.b.example.com"));
	assert_false(policy_mx_match("*.example.com", ".example.com"));
	assert_false(policy_mx_match("*.example.com", "mx1.example.org"));
	assert_false(policy_mx_match("*.example.com", "mx1.xexample.com"));
	assert_false(policy_mx_match("*.example.com", "without-dots"));
	/* '*' is no pattern language: only the whole leftmost label. */
	assert_false(policy_mx_match("mx*.example.com", "mx1.example.com"));
	assert_false(policy_mx_match("*x.example.com", "mx.example.com"));
	/* A wildcard host is not a wildcard pattern. */
	assert_false(policy_mx_match("mx1.example.com", "*.example.com"));
}

static void
test_mx_match_idn(void **state)
{
	(void)state;
	assert_true(policy_mx_match("xn--bcher-kva.example", "bücher.example"));
	assert_true(policy_mx_match("*.xn--bcher-kva.example",
	    "mx.BÜCHER.example."));
	assert_true(policy_mx_match("*.bücher.example",
	    "mx.xn--bcher-kva.example"));
	assert_false(policy_mx_match("xn--bcher-kva.example", "bucher.example"));
	/* Names that are not strict host names still match themselves. */
	assert_true(policy_mx_match("_mx.example.com", "_MX.example.com."));
	assert_false(policy_mx_match("_mx.example.com", "mx.example.com"));
}

static void
test_policy_match(void **state)
{
	struct policy p;
	struct err e;

	(void)state;
	assert_int_equal(policy_parse(RFC_EXAMPLE, strlen(RFC_EXAMPLE), &p,
	    NULL, &e), 0);
	assert_true(policy_match(&p, "mail.example.com"));
	assert_true(policy_match(&p, "backupmx.example.com."));
	assert_true(policy_match(&p, "mx7.EXAMPLE.net"));
	assert_false(policy_match(&p, "example.net"));
	assert_false(policy_match(&p, "a.mx7.example.net"));
	assert_false(policy_match(&p, "mail.example.org"));
	assert_false(policy_match(&p, ""));
	policy_free(&p);
	/* No patterns, no match (mode none). */
	assert_false(policy_match(&p, "mail.example.com"));
}

/* --- the _mta-sts TXT record (§3.1) ---------------------------------- */

static void
record_ok(const char *txt, const char *id, size_t nwarn)
{
	struct sts_record r;
	struct strv w = { 0 };
	struct err e = { "" };

	if (sts_record_parse(txt, strlen(txt), &r, &w, &e) != 0)
		fail_msg("'%s' refused: %s", txt, e.msg);
	assert_string_equal(r.id, id);
	if (w.n != nwarn)
		fail_msg("'%s': %zu warnings, want %zu%s%s", txt, w.n, nwarn,
		    w.n ? "; first: " : "", w.n ? w.v[0] : "");
	strv_free(&w);
}

static void
record_bad(const char *txt, const char *reason)
{
	struct sts_record r;
	struct err e = { "" };

	if (sts_record_parse(txt, strlen(txt), &r, NULL, &e) != -1)
		fail_msg("'%s' accepted", txt);
	if (strstr(e.msg, reason) == NULL)
		fail_msg("'%s': error '%s' lacks '%s'", txt, e.msg, reason);
	assert_string_equal(r.id, "");
}

static void
test_record_ok(void **state)
{
	(void)state;
	record_ok("v=STSv1; id=20160831085700Z;", "20160831085700Z", 0);
	record_ok("v=STSv1; id=20160831085700Z", "20160831085700Z", 0);
	record_ok("v=STSv1;id=abc", "abc", 0);
	record_ok("v=STSv1  ;    id=foo", "foo", 0);
	record_ok("v=STSv1;\tid=foo\t;\t", "foo", 0);
	record_ok("v=STSv1; \t id=20160831085700Z  \t;", "20160831085700Z", 0);
	/* Trailing SP after the last field without ';' is tolerated. */
	record_ok("v=STSv1;        id=20160831085700Z   ", "20160831085700Z",
	    0);
	record_ok("v=STSv1; id=a", "a", 0);
	record_ok("v=STSv1; id=12345678901234567890123456789012",
	    "12345678901234567890123456789012", 0);
}

static void
test_record_extensions(void **state)
{
	struct sts_record r;
	struct strv w = { 0 };
	struct err e;

	(void)state;
	record_ok("v=STSv1; id=a; more=a; ext=2", "a", 2);
	record_ok("v=STSv1  ;    id=foo; unrelated=1", "foo", 1);
	record_ok("v=STSv1; x_y-z.1=http://a/b?c:d; id=Q", "Q", 1);
	/* A repeated id: the first counts (RFC 8461 §3.2's rule). */
	record_ok("v=STSv1; id=foo; id=bar", "foo", 1);
	assert_int_equal(sts_record_parse("v=STSv1; id=foo; id=bar; up=1",
	    29, &r, &w, &e), 0);
	assert_int_equal(w.n, 2);
	assert_non_null(strstr(w.v[0], "repeated 'id' ignored"));
	assert_non_null(strstr(w.v[1], "unknown field 'up' ignored"));
	strv_free(&w);
	/* warnings may be NULL. */
	assert_int_equal(sts_record_parse("v=STSv1; id=a; b=c", 18, &r, NULL,
	    &e), 0);
}

static void
test_record_bad(void **state)
{
	char big[LIMIT_TXT_BYTES + 20];

	(void)state;
	record_bad("", "record is empty");
	record_bad("   ", "record is empty");
	record_bad("v=STSv1", "no id field");
	record_bad("v=STSv1;", "no id field");
	record_bad("v=STSv1; ext=1", "no id field");
	record_bad("v=STSv1; ID=abc", "no id field");
	record_bad("v=STSv1; xyz=foo", "no id field");
	record_bad("v=STSv1; v=STSv1", "no id field");
	record_bad("id=foo", "does not start with 'v=STSv1'");
	record_bad("id=20180907T090909; v=STSv1;",
	    "does not start with 'v=STSv1'");
	record_bad(" v=STSv1; id=1", "does not start with 'v=STSv1'");
	record_bad("V=STSv1; id=1", "does not start with 'v=STSv1'");
	record_bad("syntax error", "does not start with 'v=STSv1'");
	record_bad("v-STSv1 id=19840507T234501", "does not start");
	record_bad("v=STSv12;id=20180907T090909;",
	    "version 'STSv12' is not STSv1");
	record_bad("v=STSv10", "version 'STSv10' is not STSv1");
	record_bad("v=STSv2; id=19840507T234501;",
	    "version 'STSv2' is not STSv1");
	record_bad("v=STSv;", "version 'STSv' is not STSv1");
	record_bad("v=STSv0", "version 'STSv0' is not STSv1");
	record_bad("v=stsv1; id=1", "version 'stsv1' is not STSv1");
	record_bad("v=spf1 -all", "(this is an SPF record)");
	record_bad("v=STSv1; id=", "id is empty");
	record_bad("v=STSv1; id=;", "id is empty");
	record_bad("v=STSv1; id=012345678901234567890123456789012",
	    "id '012345678901234567890123456789012' is 33 characters, "
	    "over 32");
	record_bad("v=STSv1; id=test-123", "id 'test-123' has '-'");
	record_bad("v=STSv1; id=*", "id '*' has '*'");
	record_bad("v=STSv1; id=123v=STSv1", "id '123v=STSv1' has '='");
	record_bad("v=STSv1; id=a; more=", "field 'more' has an empty value");
	record_bad("v=STSv1; id=a; a12345678901234567890123456789012=1",
	    "is 33 characters, over 32");
	record_bad("v=STSv1; id=a; 1%=a", "field name '1%' has '%'");
	record_bad("v=STSv1; id=a; _x=a", "field name '_x' must start");
	record_bad("v=STSv1; $$=@@", "field name '$$' must start");
	record_bad("v=STSv1; id=a; test==", "field 'test' value '=' has '='");
	record_bad("v=STSv1; id=a;;", "field 3 is empty (';' twice)");
	record_bad("v=STSv1;; id=a", "field 2 is empty");
	record_bad(" ;   ;  ", "does not start");
	record_bad("v=STSv1;    id=foo include=foo.com",
	    "missing ';' before 'include=foo.com'");
	record_bad("v=STSv1;    id=foo include", "missing ';' before 'include'");
	record_bad("v=STSv1 id=19840507T234501", "missing ';' before 'id=");
	record_bad("v=STSv1; id", "field 2 'id' has no '='");
	record_bad("v=STSv1; =x", "field with an empty name");
	record_bad("v=STSv1; id=a; x=\x01", "value '\\x01' has '\\x01'");
	memcpy(big, "v=STSv1; id=a; x=", 17);
	memset(big + 17, 'y', sizeof(big) - 18);
	big[sizeof(big) - 1] = '\0';
	record_bad(big, "over 4096");
}

static void
test_record_select(void **state)
{
	const char *txts[] = {
		"v=spf1 -all",
		"v=STSv12; id=other",
		"v=STSv1; id=20160831085700Z;",
		"google-site-verification=abc",
	};
	const char *two[] = { "v=STSv1; id=123", "v=STSv1; id=345" };
	const char *badone[] = { "v=STSv1; id=has-dash", "x" };
	const char *none[] = { "v=spf1 -all", " v=STSv1; id=1", "v=STSv2;" };
	size_t lens[] = { 11, 18, 28, 28 };
	struct sts_record r;
	struct err e = { "" };

	(void)state;
	assert_int_equal(sts_record_select(txts, lens, 4, &r, &e), 0);
	assert_string_equal(r.id, "20160831085700Z");
	assert_int_equal(sts_record_select(txts, NULL, 4, &r, &e), 0);
	assert_string_equal(r.id, "20160831085700Z");

	assert_int_equal(sts_record_select(none, NULL, 3, &r, &e), 1);
	assert_string_equal(r.id, "");
	assert_int_equal(sts_record_select(none, NULL, 0, &r, &e), 1);

	/* §3.1: more than one STSv1 record means no policy. */
	assert_int_equal(sts_record_select(two, NULL, 2, &r, &e), -1);
	assert_non_null(strstr(e.msg, "2 TXT records start with 'v=STSv1'"));
	assert_string_equal(r.id, "");

	assert_int_equal(sts_record_select(badone, NULL, 2, &r, &e), -1);
	assert_non_null(strstr(e.msg, "id 'has-dash' has '-'"));
	assert_string_equal(r.id, "");
}

/* policy_apply: what a person typed, field by field, limits exactly. */
static void
test_apply(void **state)
{
	struct policy p = { .mode = POLICY_MODE_TESTING, .max_age = 604800 };
	const char *mx[] = { "MX1.Example.com", "*.mail.bücher.example" };
	const char *bad[] = { "mail.*.example.org" };
	char big[16];
	struct err e = { "" };

	assert_int_equal(policy_apply(&p, "enforce", "86400", mx, 2, &e), 0);
	assert_int_equal(p.mode, POLICY_MODE_ENFORCE);
	assert_int_equal(p.max_age, 86400);
	assert_int_equal(p.mx.n, 2);
	assert_string_equal(p.mx.v[0], "mx1.example.com");
	assert_string_equal(p.mx.v[1], "*.mail.xn--bcher-kva.example");
	/* NULL or empty: left alone. */
	assert_int_equal(policy_apply(&p, "", NULL, NULL, 0, &e), 0);
	assert_int_equal(p.mode, POLICY_MODE_ENFORCE);
	assert_int_equal(p.mx.n, 2);
	snprintf(big, sizeof(big), "%u", LIMIT_POLICY_MAX_AGE);
	assert_int_equal(policy_apply(&p, NULL, big, NULL, 0, &e), 0);
	assert_int_equal(p.max_age, LIMIT_POLICY_MAX_AGE);
	snprintf(big, sizeof(big), "%u", LIMIT_POLICY_MAX_AGE + 1);
	assert_int_equal(policy_apply(&p, NULL, big, NULL, 0, &e), -1);
	assert_non_null(strstr(e.msg, "max-age: "));
	assert_int_equal(policy_apply(&p, NULL, "-1", NULL, 0, &e), -1);
	assert_int_equal(policy_apply(&p, NULL, "1h", NULL, 0, &e), -1);
	assert_int_equal(policy_apply(&p, "Enforce", NULL, NULL, 0, &e), -1);
	assert_string_equal(e.msg, "mode: 'Enforce' is not one of testing, "
	    "enforce, none");
	assert_int_equal(policy_apply(&p, NULL, NULL, bad, 1, &e), -1);
	assert_non_null(strstr(e.msg, "mx 'mail.*.example.org': "));
	policy_free(&p);
	p.mode = POLICY_MODE_TESTING;
	assert_int_equal(policy_apply(&p, "enforce", NULL, NULL, 0, &e), -1);
	assert_non_null(strstr(e.msg, "policy: "));
	policy_free(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_rfc_example),
		cmocka_unit_test(test_parse_line_ends),
		cmocka_unit_test(test_parse_whitespace),
		cmocka_unit_test(test_parse_field_order),
		cmocka_unit_test(test_parse_mode_none),
		cmocka_unit_test(test_parse_max_age),
		cmocka_unit_test(test_parse_first_wins),
		cmocka_unit_test(test_parse_unknown_keys),
		cmocka_unit_test(test_parse_mx_case_and_duplicates),
		cmocka_unit_test(test_parse_blank_lines),
		cmocka_unit_test(test_parse_no_warnings_wanted),
		cmocka_unit_test(test_parse_bad_line_ends),
		cmocka_unit_test(test_parse_bad_lines),
		cmocka_unit_test(test_parse_bad_nul),
		cmocka_unit_test(test_parse_bad_version),
		cmocka_unit_test(test_parse_bad_mode),
		cmocka_unit_test(test_parse_bad_max_age),
		cmocka_unit_test(test_parse_bad_mx),
		cmocka_unit_test(test_parse_size_limit),
		cmocka_unit_test(test_parse_mx_limit),
		cmocka_unit_test(test_parse_rendered_size),
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_render_null_len),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_copy_free),
		cmocka_unit_test(test_mode_names),
		cmocka_unit_test(test_mx_match),
		cmocka_unit_test(test_mx_match_wildcard),
		cmocka_unit_test(test_mx_match_idn),
		cmocka_unit_test(test_policy_match),
		cmocka_unit_test(test_record_ok),
		cmocka_unit_test(test_record_extensions),
		cmocka_unit_test(test_record_bad),
		cmocka_unit_test(test_record_select),
		cmocka_unit_test(test_apply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
