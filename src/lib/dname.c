/*
 * dname.c - host names as users type them, and as RFC 8461 wants them in
 * a policy. See dname.h.
 *
 * What it reads: a host name in text form, optionally with one trailing
 * dot, optionally (MX patterns) with a leftmost wildcard label:
 *
 *	name     = [ "*." ] label 1*( "." label ) [ "." ]
 *	label    = let-dig [ *61( let-dig / "-" ) let-dig ]   ; 1..63 bytes
 *	let-dig  = ALPHA / DIGIT
 *
 * with at most 253 bytes without the trailing dot, at least two labels
 * after the wildcard, and a top-level label that is not all digits (so
 * that an IPv4 address is never taken for a name). dname_normalize also
 * takes U-labels (UTF-8) and upper case and turns them into lower-case
 * A-labels with libidn2 (IDNA2008 with the UTS #46 non-transitional
 * mapping, so "Bücher" and "ß" map as browsers do). Labels of the form
 * "xn--..." are checked by libidn2 to be real A-labels; other ASCII
 * labels are checked by hand only, so that an odd but legal host name
 * such as "ab--c.example" is not refused by IDNA's reserved-label rule.
 *
 * What it never does: DNS lookups, or accept an underscore, a space or
 * any other byte outside letters, digits, '-' and '.' (with the one '*').
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <idn2.h>

#include "dname.h"

/* We never hand libidn2 more than this: a longer name cannot become 253
 * bytes of A-labels in any sensible way, and the bound keeps hostile
 * input from costing more than a few KiB. */
#define DNAME_INPUT_MAX 1024


#define DNAME_IDN2_FLAGS (IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT)

static bool
dname_is_ldh(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-';
}

static bool
dname_is_alabel_prefix(const char *l, size_t n)
{
	return n >= 4 && strncasecmp(l, "xn--", 4) == 0;
}

/* The hostname rules every stored name obeys, checked on s[0..len) with
 * no trailing dot. Case is not looked at here. */
static int
dname_check_ldh(const char *s, size_t len, bool allow_wildcard,
    struct err *e)
{
	char q[64], qc[8];
	const char *l = s, *end = s + len, *dot, *last = NULL;
	size_t n, labels = 0, idx = 0;
	bool wild = false, digits = true;

	if (len == 0)
		return err_set(e, "name is empty");
	if (len > LIMIT_DNAME_LEN)
		return err_set(e, "name is %zu bytes, over %d", len,
		    LIMIT_DNAME_LEN);
	for (;;) {
		dot = memchr(l, '.', (size_t)(end - l));
		n = (size_t)((dot != NULL ? dot : end) - l);
		idx++;
		if (n == 0)
			return err_set(e, "label %zu is empty%s", idx,
			    idx == 1 ? " (name starts with '.')" :
			    dot == NULL ? " (name ends with '..')" : "");
		if (n > LIMIT_LABEL_LEN)
			return err_set(e, "label %zu '%s' is %zu bytes, over "
			    "%d", idx, err_quote(l, n, q, sizeof(q)), n,
			    LIMIT_LABEL_LEN);
		if (n == 1 && l[0] == '*' && idx == 1) {
			if (!allow_wildcard)
				return err_set(e, "label 1 '*': a wildcard is "
				    "not allowed here");
			wild = true;
		} else {
			for (size_t i = 0; i < n; i++) {
				unsigned char c = (unsigned char)l[i];

				if (dname_is_ldh(c))
					continue;
				if (c == '*')
					return err_set(e, "label %zu '%s': "
					    "'*' is allowed only as the whole "
					    "leftmost label", idx,
					    err_quote(l, n, q, sizeof(q)));
				return err_set(e, "label %zu '%s' has '%s' "
				    "(only letters, digits and '-' are "
				    "allowed)", idx,
				    err_quote(l, n, q, sizeof(q)),
				    err_quote(l + i, 1, qc, sizeof(qc)));
			}
			if (l[0] == '-')
				return err_set(e, "label %zu '%s' starts with "
				    "'-'", idx, err_quote(l, n, q, sizeof(q)));
			if (l[n - 1] == '-')
				return err_set(e, "label %zu '%s' ends with "
				    "'-'", idx, err_quote(l, n, q, sizeof(q)));
			labels++;
			last = l;
		}
		if (dot == NULL)
			break;
		l = dot + 1;
	}
	if (labels == 0)
		return err_set(e, "a wildcard needs a host name after '*.'");
	if (labels < 2)
		return err_set(e, "%s'%s' is a single label; a host name needs "
		    "at least two", wild ? "after '*.', " : "",
		    err_quote(last, (size_t)(end - last), q, sizeof(q)));
	n = (size_t)(end - last);
	for (size_t i = 0; i < n; i++)
		digits = digits && last[i] >= '0' && last[i] <= '9';
	if (digits)
		return err_set(e, "top-level label '%s' is all digits",
		    err_quote(last, n, q, sizeof(q)));
	return 0;
}

/* Runs libidn2 on one label (or name) s[0..n) and returns 0, or the
 * libidn2 error code. On success *out (may be NULL) receives the A-label
 * form, which the caller frees. */
static int
dname_idn2(const char *s, size_t n, char **out)
{
	char *in, *res = NULL;
	int rc;

	if (out != NULL)
		*out = NULL;
	if ((in = strndup(s, n)) == NULL)
		return IDN2_MALLOC;
	rc = idn2_lookup_u8((const uint8_t *)in, (uint8_t **)&res,
	    DNAME_IDN2_FLAGS);
	free(in);
	if (rc == IDN2_OK && out != NULL)
		*out = res;
	else
		idn2_free(res);
	return rc;
}

/* After libidn2 refused the name s[0..len), finds the first label it
 * refuses on its own, to tell the user where. */
static int
dname_idn2_blame(const char *s, size_t len, size_t first_idx, int rc,
    struct err *e)
{
	char q[64];
	const char *l = s, *end = s + len, *dot;
	size_t n, idx = first_idx;
	int lrc;

	if (rc == IDN2_ENCODING_ERROR)
		return err_set(e, "name is not valid UTF-8");
	if (rc == IDN2_TOO_BIG_DOMAIN)
		return err_set(e, "name is over %d bytes as A-labels",
		    LIMIT_DNAME_LEN);
	for (;;) {
		dot = memchr(l, '.', (size_t)(end - l));
		n = (size_t)((dot != NULL ? dot : end) - l);
		lrc = n > 0 ? dname_idn2(l, n, NULL) : IDN2_OK;
		if (lrc == IDN2_TOO_BIG_LABEL || lrc == IDN2_PUNYCODE_BIG_OUTPUT)
			return err_set(e, "label %zu '%s' is over %d bytes as "
			    "an A-label", idx, err_quote(l, n, q, sizeof(q)),
			    LIMIT_LABEL_LEN);
		if (lrc != IDN2_OK)
			return err_set(e, "label %zu '%s': %s", idx,
			    err_quote(l, n, q, sizeof(q)),
			    idn2_strerror(lrc));
		if (dot == NULL)
			break;
		l = dot + 1;
		idx++;
	}
	return err_set(e, "name: %s", idn2_strerror(rc));
}

/* True when s[0..len) has a non-ASCII byte or an "xn--" label: the names
 * libidn2 must look at. */
static bool
dname_needs_idn2(const char *s, size_t len)
{
	const char *l = s, *end = s + len, *dot;

	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return true;
	for (;;) {
		dot = memchr(l, '.', (size_t)(end - l));
		if (dname_is_alabel_prefix(l, (size_t)((dot != NULL ? dot :
		    end) - l)))
			return true;
		if (dot == NULL)
			return false;
		l = dot + 1;
	}
}

int
dname_normalize(const char *in, size_t len, bool allow_wildcard,
    char out[LIMIT_DNAME_LEN + 1], struct err *e)
{
	char *conv = NULL;
	size_t pre = 0, n;
	int rc = -1, irc;

	out[0] = '\0';
	if (len == 0)
		return err_set(e, "name is empty");
	if (memchr(in, '\0', len) != NULL)
		return err_set(e, "name contains a NUL byte");
	if (len > DNAME_INPUT_MAX)
		return err_set(e, "name is %zu bytes, over %d", len,
		    LIMIT_DNAME_LEN);
	if (len > 1 && in[len - 1] == '.')
		len--;
	if (allow_wildcard && len >= 2 && in[0] == '*' && in[1] == '.')
		pre = 2;
	if (dname_needs_idn2(in + pre, len - pre)) {
		/* Label by label: only those with UTF-8 or "xn--" go to
		 * libidn2, so that a plain LDH label beside them is judged as
		 * it is alone (libidn2 refuses "ab--c" in a name it looks
		 * at, never alone). */
		const char *l = in + pre, *end = in + len, *dot;
		size_t o = pre, idx = pre ? 2 : 1;

		memcpy(out, in, pre);
		for (;; idx++) {
			const char *lab;

			dot = memchr(l, '.', (size_t)(end - l));
			n = (size_t)((dot != NULL ? dot : end) - l);
			lab = l;
			if (n > 0 && dname_needs_idn2(l, n)) {
				if ((irc = dname_idn2(l, n, &conv)) !=
				    IDN2_OK) {
					if (irc == IDN2_MALLOC)
						err_set(e, "out of memory");
					else
						dname_idn2_blame(l, n, idx,
						    irc, e);
					goto out;
				}
				lab = conv;
				n = strlen(conv);
			}
			if (o + n + (dot != NULL) > LIMIT_DNAME_LEN) {
				err_set(e, "name is over %d bytes as "
				    "A-labels", LIMIT_DNAME_LEN);
				goto out;
			}
			memcpy(out + o, lab, n);
			o += n;
			idn2_free(conv);
			conv = NULL;
			if (dot == NULL)
				break;
			out[o++] = '.';
			l = dot + 1;
		}
		len = o;
	} else {
		if (len > LIMIT_DNAME_LEN) {
			err_set(e, "name is %zu bytes, over %d", len,
			    LIMIT_DNAME_LEN);
			goto out;
		}
		memcpy(out, in, len);
	}
	out[len] = '\0';
	/* ASCII only, whatever the locale: libidn2 already folded the rest. */
	for (size_t i = 0; i < len; i++)
		if (out[i] >= 'A' && out[i] <= 'Z')
			out[i] = (char)(out[i] - 'A' + 'a');
	if (dname_check_ldh(out, len, allow_wildcard, e) == -1)
		goto out;
	rc = 0;
out:
	if (rc == -1)
		out[0] = '\0';
	idn2_free(conv);
	return rc;
}

int
dname_check_alabel(const char *s, size_t len, bool allow_wildcard,
    struct err *e)
{
	char q[64], q2[64], *conv = NULL;
	const char *l = s, *end = s + len, *dot;
	size_t n, idx = 0;
	int rc = -1, irc;

	if (len == 0)
		return err_set(e, "name is empty");
	if (len > 1 && s[len - 1] == '.')
		return err_set(e, "name ends with '.' (write it without the "
		    "trailing dot)");
	for (;;) {
		dot = memchr(l, '.', (size_t)(end - l));
		n = (size_t)((dot != NULL ? dot : end) - l);
		idx++;
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)l[i];

			if (c >= 0x80) {
				irc = dname_idn2(l, n, &conv);
				if (irc == IDN2_OK)
					err_set(e, "label %zu '%s' is not an "
					    "A-label (write it as '%s')", idx,
					    err_quote(l, n, q, sizeof(q)),
					    err_quote(conv, strlen(conv),
					    q2, sizeof(q2)));
				else
					err_set(e, "label %zu '%s' is not an "
					    "A-label (not ASCII)", idx,
					    err_quote(l, n, q, sizeof(q)));
				goto out;
			}
			if (c >= 'A' && c <= 'Z') {
				err_set(e, "label %zu '%s' has upper case "
				    "(write it in lower case)", idx,
				    err_quote(l, n, q, sizeof(q)));
				goto out;
			}
		}
		if (dot == NULL)
			break;
		l = dot + 1;
	}
	if (dname_check_ldh(s, len, allow_wildcard, e) == -1)
		goto out;
	/* Only now, with plain LDH labels, does libidn2 judge the xn--
	 * ones: it must accept each and give it back unchanged. */
	l = s;
	idx = 0;
	for (;;) {
		dot = memchr(l, '.', (size_t)(end - l));
		n = (size_t)((dot != NULL ? dot : end) - l);
		idx++;
		if (dname_is_alabel_prefix(l, n)) {
			irc = dname_idn2(l, n, &conv);
			if (irc != IDN2_OK) {
				err_set(e, "label %zu '%s' is not a valid "
				    "A-label: %s", idx,
				    err_quote(l, n, q, sizeof(q)),
				    idn2_strerror(irc));
				goto out;
			}
			if (strlen(conv) != n || memcmp(conv, l, n) != 0) {
				err_set(e, "label %zu '%s' is not in canonical "
				    "form (expected '%s')", idx,
				    err_quote(l, n, q, sizeof(q)),
				    err_quote(conv, strlen(conv), q2,
				    sizeof(q2)));
				goto out;
			}
			idn2_free(conv);
			conv = NULL;
		}
		if (dot == NULL)
			break;
		l = dot + 1;
	}
	rc = 0;
out:
	idn2_free(conv);
	return rc;
}
