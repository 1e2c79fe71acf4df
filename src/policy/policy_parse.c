/*
 * policy_parse.c - the MTA-STS policy file (RFC 8461 §3.2): parse it,
 * check a hand-built one, render the canonical form, copy, free.
 *
 * The grammar, as RFC 8461 §3.2 gives it (ABNF, RFC 5234; %s"..." is
 * case-sensitive, RFC 7405):
 *
 *   sts-policy-record    = sts-policy-field *WSP
 *                          *(sts-policy-term sts-policy-field *WSP)
 *                          [sts-policy-term]
 *   sts-policy-term      = LF / CRLF
 *   sts-policy-field     = sts-policy-version / sts-policy-mode /
 *                          sts-policy-max-age / sts-policy-mx /
 *                          sts-policy-extension    ; in any order
 *   field-delim          = ":" *WSP
 *   sts-policy-version   = %s"version" field-delim %s"STSv1"
 *   sts-policy-mode      = %s"mode" field-delim
 *                          (%s"testing" / %s"enforce" / %s"none")
 *   sts-policy-max-age   = %s"max_age" field-delim 1*10DIGIT
 *   sts-policy-mx        = %s"mx" field-delim ["*."] Domain
 *   sts-policy-extension = sts-policy-ext-name field-delim
 *                          sts-policy-ext-value
 *   sts-policy-ext-name  = (ALPHA / DIGIT)
 *                          *31(ALPHA / DIGIT / "_" / "-" / ".")
 *   sts-policy-ext-value = sts-policy-vchar
 *                          [*(%x20 / sts-policy-vchar) sts-policy-vchar]
 *   sts-policy-vchar     = %x21-7E / UTF8-2 / UTF8-3 / UTF8-4
 *
 * plus: version, mode and max_age are required (max_age at most
 * 31557600), at least one mx unless mode is none, Domain is a host name
 * of A-labels, and for every field but mx only the first instance counts.
 *
 * Deliberate departures, each with a warning line where it hides
 * something from the user:
 *   - a line that is empty or only SP/TAB is skipped (warning): editors
 *     add them at the end, and they carry no meaning;
 *   - mx is compared and stored in lower case (upper case is legal in a
 *     Domain; warning-free);
 *   - a repeated version/mode/max_age is ignored (warning) even when its
 *     value would be invalid for that field, since the RFC says only the
 *     first instance is used; it must still be a well-formed field;
 *   - unknown keys are ignored (warning), and a key that differs from a
 *     known one only in case is pointed out.
 * And where others are lenient we are not: a CR alone is not a line end
 * (the RFC allows CRLF and LF only), an empty or missing max_age is an
 * error, and a body over LIMIT_POLICY_BYTES is refused before parsing.
 *
 * What it never does: I/O, allocation beyond the policy and warnings it
 * returns, or accept a policy whose canonical form would exceed
 * LIMIT_POLICY_BYTES (so that whatever parses also renders and reparses).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/dname.h"
#include "policy.h"


static const char *const policy_mode_names[] = {
	[POLICY_MODE_NONE] = "none",
	[POLICY_MODE_TESTING] = "testing",
	[POLICY_MODE_ENFORCE] = "enforce",
};

/* What the parser has seen so far. */
struct policy_pstate {
	struct policy	*p;
	struct strv	*warnings;	/* may be NULL */
	bool		 have_version;
	bool		 have_mode;
	bool		 have_max_age;
	size_t		 mx_lines;	/* mx lines seen, duplicates too */
};

static bool
policy_is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static bool
policy_is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/* Length of the well-formed UTF-8 sequence (RFC 3629) of 2 to 4 bytes at
 * s (n bytes available), or 0 when there is none. */
static size_t
policy_utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;		/* no overlong forms */
		else if (s[0] == 0xed)
			hi = 0x9f;		/* no surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;		/* nothing past U+10FFFF */
	} else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* sts-policy-ext-value: what every value, known key or not, must be.
 * Leading and trailing WSP are already gone. */
static int
policy_check_value(const char *v, size_t n, struct err *e)
{
	size_t l;

	if (n == 0)
		return err_set(e, "value is empty");
	for (size_t i = 0; i < n; i += l) {
		unsigned char c = (unsigned char)v[i];

		l = 1;
		if (c >= 0x80) {
			if ((l = policy_utf8_len((const unsigned char *)v + i,
			    n - i)) == 0)
				return err_set(e, "value has a byte 0x%02x "
				    "that is not UTF-8 at column %zu", c,
				    i + 1);
		} else if (c < 0x20 || c == 0x7f)
			return err_set(e, "value has control character 0x%02x "
			    "at column %zu", c, i + 1);
	}
	return 0;
}

/* sts-policy-ext-name. */
static int
policy_check_name(const char *k, size_t n, struct err *e)
{
	char q[64], qc[8];

	if (!policy_is_alnum(k[0]))
		return err_set(e, "key '%s' must start with a letter or a "
		    "digit", err_quote(k, n, q, sizeof(q)));
	if (n > 32)
		return err_set(e, "key '%s' is %zu characters, over 32",
		    err_quote(k, n, q, sizeof(q)), n);
	for (size_t i = 1; i < n; i++)
		if (!policy_is_alnum(k[i]) && k[i] != '_' && k[i] != '-' &&
		    k[i] != '.')
			return err_set(e, "key '%s' has '%s' (allowed are "
			    "letters, digits, '_', '-' and '.')",
			    err_quote(k, n, q, sizeof(q)),
			    err_quote(k + i, 1, qc, sizeof(qc)));
	return 0;
}

static bool
policy_key_is(const char *k, size_t n, const char *name)
{
	return n == strlen(name) && memcmp(k, name, n) == 0;
}

/* Adds one warning line, if the caller wants warnings. Returns 0, or -1
 * when out of memory. */
static int
policy_warn(struct policy_pstate *st, struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
policy_warn(struct policy_pstate *st, struct err *e, const char *fmt, ...)
{
	char line[ERR_MSG_LEN];
	va_list ap;

	if (st->warnings == NULL)
		return 0;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (strv_push(st->warnings, line) == -1)
		return err_set(e, "out of memory");
	return 0;
}

static int
policy_parse_max_age(const char *v, size_t n, uint32_t *out, struct err *e)
{
	char q[64];
	uint64_t x = 0;

	if (n == 0)
		return err_set(e, "max_age is empty");
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return err_set(e, "max_age '%s' is not a number of "
			    "seconds (digits only)",
			    err_quote(v, n, q, sizeof(q)));
		if (i < LIMIT_POLICY_MAX_AGE_DIGITS)
			x = x * 10 + (uint64_t)(v[i] - '0');
	}
	if (n > LIMIT_POLICY_MAX_AGE_DIGITS)
		return err_set(e, "max_age '%s' has %zu digits, over %d",
		    err_quote(v, n, q, sizeof(q)), n,
		    LIMIT_POLICY_MAX_AGE_DIGITS);
	if (x > LIMIT_POLICY_MAX_AGE)
		return err_set(e, "max_age %" PRIu64 " exceeds %u", x,
		    LIMIT_POLICY_MAX_AGE);
	*out = (uint32_t)x;
	return 0;
}

static int
policy_parse_mode(const char *v, size_t n, enum policy_mode *m,
    struct err *e)
{
	char q[64];

	if (n == 0)
		return err_set(e, "mode is empty");
	for (unsigned i = 0; i <= POLICY_MODE_ENFORCE; i++) {
		if (n == strlen(policy_mode_names[i]) &&
		    memcmp(v, policy_mode_names[i], n) == 0) {
			*m = (enum policy_mode)i;
			return 0;
		}
	}
	return err_set(e, "mode '%s' is not one of enforce, testing, none",
	    err_quote(v, n, q, sizeof(q)));
}

/* True when the policy already lists mx pattern s. */
static bool
policy_has_mx(const struct policy *p, const char *s)
{
	for (size_t i = 0; i < p->mx.n; i++)
		if (strcmp(p->mx.v[i], s) == 0)
			return true;
	return false;
}

static int
policy_parse_mx(struct policy_pstate *st, size_t lineno, const char *v,
    size_t n, struct err *e)
{
	char low[LIMIT_DNAME_LEN + 2], q[64];

	if (++st->mx_lines > LIMIT_POLICY_MX)
		return err_set(e, "more than %d mx lines", LIMIT_POLICY_MX);
	if (n == 0)
		return err_set(e, "mx is empty");
	/* One byte more than a name may have, so that a trailing dot on a
	 * full-length name gets its own message. */
	if (n > LIMIT_DNAME_LEN + 1)
		return err_set(e, "mx '%s' is %zu bytes, over %d",
		    err_quote(v, n, q, sizeof(q)), n, LIMIT_DNAME_LEN);
	for (size_t i = 0; i < n; i++)
		low[i] = v[i] >= 'A' && v[i] <= 'Z' ? (char)(v[i] - 'A' + 'a') :
		    v[i];
	low[n] = '\0';
	if (dname_check_alabel(low, n, true, e) == -1) {
		err_prefix(e, "mx '%s': ", err_quote(v, n, q, sizeof(q)));
		return -1;
	}
	if (policy_has_mx(st->p, low))
		return policy_warn(st, e, "line %zu: mx '%s' repeated, ignored",
		    lineno, low);
	if (strv_push(&st->p->mx, low) == -1)
		return err_set(e, "out of memory");
	return 0;
}

/* One line without its terminator, not empty. Errors come without the
 * "line N: " prefix, which the caller adds; warnings get it here. */
static int
policy_parse_line(struct policy_pstate *st, size_t lineno, const char *s,
    size_t n, struct err *e)
{
	static const char *const known[] = { "version", "mode", "max_age",
	    "mx" };
	char q[64];
	const char *colon, *v;
	size_t kn, vn;
	bool *seen = NULL;

	if ((colon = memchr(s, ':', n)) == NULL)
		return err_set(e, "no ':' in '%s' (a line is 'key: value')",
		    err_quote(s, n, q, sizeof(q)));
	kn = (size_t)(colon - s);
	if (kn == 0)
		return err_set(e, "empty key before ':'");
	v = colon + 1;
	vn = n - kn - 1;
	while (vn > 0 && policy_is_wsp(*v)) {
		v++;
		vn--;
	}
	while (vn > 0 && policy_is_wsp(v[vn - 1]))
		vn--;

	if (policy_key_is(s, kn, "mx"))
		return policy_parse_mx(st, lineno, v, vn, e);
	if (policy_key_is(s, kn, "version"))
		seen = &st->have_version;
	else if (policy_key_is(s, kn, "mode"))
		seen = &st->have_mode;
	else if (policy_key_is(s, kn, "max_age"))
		seen = &st->have_max_age;

	if (seen == NULL || *seen) {
		/* An extension, or a field seen before: only its form is
		 * checked (RFC 8461 §3.2: the first instance is used). */
		if (policy_check_name(s, kn, e) == -1)
			return -1;
		if (policy_check_value(v, vn, e) == -1) {
			err_prefix(e, "%s: ", err_quote(s, kn, q,
			    sizeof(q)));
			return -1;
		}
		if (seen != NULL)
			return policy_warn(st, e, "line %zu: repeated '%s' "
			    "ignored (the first one counts, RFC 8461 §3.2)",
			    lineno, err_quote(s, kn, q, sizeof(q)));
		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (kn == strlen(known[i]) &&
			    strncasecmp(s, known[i], kn) == 0)
				return policy_warn(st, e, "line %zu: unknown "
				    "key '%s' ignored (keys are case-sensitive:"
				    " did you mean '%s'?)", lineno,
				    err_quote(s, kn, q, sizeof(q)),
				    known[i]);
		return policy_warn(st, e, "line %zu: unknown key '%s' ignored",
		    lineno, err_quote(s, kn, q, sizeof(q)));
	}

	if (seen == &st->have_version) {
		if (vn != 5 || memcmp(v, "STSv1", 5) != 0)
			return err_set(e, "version '%s' is not STSv1",
			    err_quote(v, vn, q, sizeof(q)));
	} else if (seen == &st->have_mode) {
		if (policy_parse_mode(v, vn, &st->p->mode, e) == -1)
			return -1;
	} else {
		if (policy_parse_max_age(v, vn, &st->p->max_age, e) == -1)
			return -1;
	}
	*seen = true;
	return 0;
}

/* The length policy_render gives p, without the final NUL. */
static size_t
policy_render_len(const struct policy *p)
{
	char num[16];
	size_t len;

	len = sizeof("version: STSv1\r\n") - 1;
	len += sizeof("mode: \r\n") - 1 + strlen(policy_mode_name(p->mode));
	for (size_t i = 0; i < p->mx.n; i++)
		len += sizeof("mx: \r\n") - 1 + strlen(p->mx.v[i]);
	len += sizeof("max_age: \r\n") - 1 +
	    (size_t)snprintf(num, sizeof(num), "%" PRIu32, p->max_age);
	return len;
}

/* Rules on the whole policy, shared by the parser and policy_validate. */
static int
policy_check_whole(const struct policy *p, struct err *e)
{
	size_t len;

	if (p->mode != POLICY_MODE_NONE && p->mx.n == 0)
		return err_set(e, "mode %s needs at least one mx line",
		    policy_mode_name(p->mode));
	if ((len = policy_render_len(p)) > LIMIT_POLICY_BYTES)
		return err_set(e, "the policy would be %zu bytes served, "
		    "over %d (RFC 8461 §3.3)", len, LIMIT_POLICY_BYTES);
	return 0;
}

int
policy_parse(const char *buf, size_t len, struct policy *p,
    struct strv *warnings, struct err *e)
{
	struct policy_pstate st = { .p = p, .warnings = warnings };
	const char *s = buf, *end = buf + len, *eol, *next;
	size_t lineno = 0, n;
	int rc = -1;

	memset(p, 0, sizeof(*p));
	if (len > LIMIT_POLICY_BYTES) {
		err_set(e, "policy is %zu bytes, over %d (RFC 8461 §3.3)",
		    len, LIMIT_POLICY_BYTES);
		goto out;
	}
	while (s < end) {
		lineno++;
		for (eol = s; eol < end && *eol != '\n' && *eol != '\r'; eol++)
			;
		n = (size_t)(eol - s);
		if (eol == end)
			next = end;
		else if (*eol == '\n')
			next = eol + 1;
		else if (eol + 1 < end && eol[1] == '\n')
			next = eol + 2;
		else {
			err_set(e, "line %zu: line ends with CR alone; RFC "
			    "8461 lines end with CRLF or LF", lineno);
			goto out;
		}
		while (n > 0 && policy_is_wsp(s[n - 1]))
			n--;
		if (n == 0) {
			if (warnings != NULL && strv_pushf(warnings, "line "
			    "%zu: empty line ignored", lineno) == -1) {
				err_set(e, "out of memory");
				goto out;
			}
		} else if (policy_parse_line(&st, lineno, s, n, e) == -1) {
			err_prefix(e, "line %zu: ", lineno);
			goto out;
		}
		s = next;
	}
	if (!st.have_version) {
		err_set(e, "no version line ('version: STSv1' is required)");
		goto out;
	}
	if (!st.have_mode) {
		err_set(e, "no mode line (mode: enforce, testing or none)");
		goto out;
	}
	if (!st.have_max_age) {
		err_set(e, "no max_age line (max_age: seconds, at most %u)",
		    LIMIT_POLICY_MAX_AGE);
		goto out;
	}
	if (policy_check_whole(p, e) == -1)
		goto out;
	rc = 0;
out:
	if (rc == -1)
		policy_free(p);
	return rc;
}

static void
policy_put(char *buf, size_t *o, const char *s)
{
	size_t n = strlen(s);

	memcpy(buf + *o, s, n);
	*o += n;
}

char *
policy_render(const struct policy *p, size_t *len)
{
	char num[16], *buf;
	size_t o = 0, n = policy_render_len(p);

	if ((buf = malloc(n + 1)) == NULL)
		return NULL;
	snprintf(num, sizeof(num), "%" PRIu32, p->max_age);
	policy_put(buf, &o, "version: STSv1\r\nmode: ");
	policy_put(buf, &o, policy_mode_name(p->mode));
	policy_put(buf, &o, "\r\n");
	for (size_t i = 0; i < p->mx.n; i++) {
		policy_put(buf, &o, "mx: ");
		policy_put(buf, &o, p->mx.v[i]);
		policy_put(buf, &o, "\r\n");
	}
	policy_put(buf, &o, "max_age: ");
	policy_put(buf, &o, num);
	policy_put(buf, &o, "\r\n");
	buf[o] = '\0';
	if (len != NULL)
		*len = o;
	return buf;
}

int
policy_validate(const struct policy *p, struct err *e)
{
	char q[64];

	if ((unsigned)p->mode > POLICY_MODE_ENFORCE)
		return err_set(e, "mode %d is not one of enforce, testing, "
		    "none", (int)p->mode);
	if (p->max_age > LIMIT_POLICY_MAX_AGE)
		return err_set(e, "max_age %" PRIu32 " exceeds %u", p->max_age,
		    LIMIT_POLICY_MAX_AGE);
	if (p->mx.n > LIMIT_POLICY_MX)
		return err_set(e, "%zu mx patterns, over %d", p->mx.n,
		    LIMIT_POLICY_MX);
	for (size_t i = 0; i < p->mx.n; i++) {
		const char *m = p->mx.v[i];

		if (m == NULL)
			return err_set(e, "mx %zu is missing", i + 1);
		if (dname_check_alabel(m, strlen(m), true, e) == -1) {
			err_prefix(e, "mx '%s': ", err_quote(m, strlen(m),
			    q, sizeof(q)));
			return -1;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(p->mx.v[j], m) == 0)
				return err_set(e, "mx '%s' is listed twice",
				    err_quote(m, strlen(m), q, sizeof(q)));
	}
	return policy_check_whole(p, e);
}

int
policy_copy(struct policy *dst, const struct policy *src)
{
	memset(dst, 0, sizeof(*dst));
	for (size_t i = 0; i < src->mx.n; i++) {
		if (strv_push(&dst->mx, src->mx.v[i]) == -1) {
			policy_free(dst);
			return -1;
		}
	}
	dst->mode = src->mode;
	dst->max_age = src->max_age;
	return 0;
}

void
policy_free(struct policy *p)
{
	strv_free(&p->mx);
	p->mode = POLICY_MODE_NONE;
	p->max_age = 0;
}

const char *
policy_mode_name(enum policy_mode m)
{
	if ((unsigned)m > POLICY_MODE_ENFORCE)
		return "invalid";
	return policy_mode_names[m];
}

int
policy_mode_parse(const char *s, enum policy_mode *m)
{
	if (s == NULL)
		return -1;
	for (unsigned i = 0; i <= POLICY_MODE_ENFORCE; i++) {
		if (strcmp(s, policy_mode_names[i]) == 0) {
			*m = (enum policy_mode)i;
			return 0;
		}
	}
	return -1;
}

int
policy_apply(struct policy *p, const char *mode, const char *max_age,
    const char *const *mx, size_t nmx, struct err *e)
{
	char name[LIMIT_DNAME_LEN + 1], *end;
	unsigned long n;

	if (mode != NULL && *mode != '\0' &&
	    policy_mode_parse(mode, &p->mode) == -1)
		return err_set(e, "mode: '%s' is not one of testing, enforce, "
		    "none", mode);
	if (max_age != NULL && *max_age != '\0') {
		errno = 0;
		n = strtoul(max_age, &end, 10);
		if (errno != 0 || *end != '\0' || max_age[0] < '0' ||
		    max_age[0] > '9' || n > LIMIT_POLICY_MAX_AGE)
			return err_set(e, "max-age: '%s' is not a number of "
			    "seconds in 0..%u", max_age, LIMIT_POLICY_MAX_AGE);
		p->max_age = (uint32_t)n;
	}
	if (nmx > 0) {
		strv_free(&p->mx);
		for (size_t i = 0; i < nmx; i++) {
			if (dname_normalize(mx[i], strlen(mx[i]), true, name,
			    e) == -1) {
				err_prefix(e, "mx '%s': ", mx[i]);
				return -1;
			}
			if (strv_push(&p->mx, name) == -1)
				return err_set(e, "out of memory");
		}
	}
	if (policy_validate(p, e) == -1) {
		err_prefix(e, "policy: ");
		return -1;
	}
	return 0;
}
