/*
 * tlsrpt_parse.c - reads an SMTP TLS report (RFC 8460 §4) into a struct
 * tlsrpt_report.
 *
 * Input is gzip (told by the magic bytes 1f 8b) or plain JSON text:
 *
 *	{ "organization-name": STR,			required
 *	  "date-range": { "start-datetime": DT,		required
 *			  "end-datetime": DT },		required
 *	  "contact-info": STR,				optional / null
 *	  "report-id": STR,				required
 *	  "policies": [ {				required, 1..N
 *	    "policy": { "policy-type": "sts" | "tlsa" | "no-policy-found",
 *			"policy-string": [STR...],	optional
 *			"policy-domain": STR,		optional (quirk);
 *					stored lower case, A-labels,
 *					no trailing dot (quirk)
 *			"mx-host": [STR...] | STR },	optional (quirk)
 *	    "summary": { "total-successful-session-count": COUNT,
 *			 "total-failure-session-count": COUNT },
 *	    "failure-details": [ {			optional
 *	      "result-type": STR, "failed-session-count": COUNT,
 *	      "sending-mta-ip", "receiving-mx-hostname",
 *	      "receiving-mx-helo", "receiving-ip",
 *	      "additional-information", "failure-reason-code": STR } ] } ] }
 *
 *	DT    = YYYY-MM-DD ("T"/"t") hh:mm:ss ["." 1*DIGIT]
 *		[ "Z" / "z" / ("+"/"-") hh:mm ]	; no zone: read as UTC
 *	COUNT = JSON integer >= 0		; 5.0 is refused: reporters
 *						; that send reals send
 *						; something else than counts
 *
 * Order of checks, cheapest first: raw size, gunzip (bounded in size and
 * ratio), a scan of the raw text for nesting depth, token count and
 * string length (tp_shape_scan), then jansson with
 * JSON_REJECT_DUPLICATES (a duplicated key makes a count ambiguous; no
 * real reporter sends one), valid UTF-8 and no \u0000 (jansson's
 * defaults). Unknown keys are ignored; key order does not matter.
 *
 * Strict where data would be wrong: missing or mistyped
 * organization-name, report-id, date-range, policies, policy, summary,
 * policy-type (one of the three RFC values), result-type and counts.
 * Lenient where real reporters deviate, each leniency recorded as a
 * TLSRPT_Q_* bit on the report (see tlsrpt.h and the table below).
 *
 * Never does I/O, never logs, keeps no state between calls.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../lib/dname.h"
#include "../lib/gzip.h"
#include "tlsrpt.h"

/* Indexed by bit number; keep in step with enum tlsrpt_quirk. */
static const char *const tlsrpt_quirk_names[TLSRPT_Q_COUNT] = {
	"mx-host-string",
	"mx-host-empty",
	"mx-host-absent",
	"policy-string-absent",
	"policy-string-empty",
	"policy-string-nested-json",
	"datetime-no-timezone",
	"contact-info-null",
	"contact-info-absent",
	"policy-domain-absent",
	"sending-mta-ip-absent",
	"receiving-fields-absent",
	"failure-details-absent",
	"failure-details-empty",
	"receiving-mx-host-name",
	"failure-count-mismatch",
	"duplicate-policy-domain",
	"failure-total-absent",
	"unknown-result-type",
	"end-before-start",
	"null-optional-field",
	"policy-domain-form",
};

/* RFC 8460 §4.3: result types; anything else is kept with a quirk. */
static const char *const tlsrpt_result_types[] = {
	"starttls-not-supported", "certificate-host-mismatch",
	"certificate-expired", "certificate-not-trusted",
	"validation-failure", "tlsa-invalid", "dnssec-invalid",
	"dane-required", "sts-policy-fetch-error", "sts-policy-invalid",
	"sts-webpki-invalid",
};

/* Latest instant a date-time may name: 9999-12-31T23:59:59Z. */
#define TP_TIME_MAX INT64_C(253402300799)
/* Raw bytes of a JSON string that may still decode to at most
 * LIMIT_REPORT_STRING_BYTES: a \uXXXX escape is 6 bytes for one. */
#define TP_STRING_RAW_MAX (6 * LIMIT_REPORT_STRING_BYTES + 6)
/* Bytes of an untrusted value quoted in an error message. */
#define TP_QUOTE_LEN 48

/* Where a field stands: absent, null, or holding a value. */
enum tp_have { TP_ABSENT, TP_NULL, TP_SET };

const char *
tlsrpt_quirk_name(unsigned bit)
{
	if (bit == 0 || (bit & (bit - 1)) != 0)
		return NULL;
	if ((unsigned)__builtin_ctz(bit) >= TLSRPT_Q_COUNT)
		return NULL;
	return tlsrpt_quirk_names[__builtin_ctz(bit)];
}

/* Copies untrusted bytes into out for an error message: printable ASCII
 * as is, anything else as \xHH, cut at TP_QUOTE_LEN bytes with "...". */
static const char *
tp_quote(const char *s, size_t len, char out[4 * TP_QUOTE_LEN + 4])
{
	size_t o = 0;

	for (size_t i = 0; i < len && i < TP_QUOTE_LEN; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\') {
			out[o++] = (char)c;
		} else {
			snprintf(out + o, 5, "\\x%02x", c);
			o += 4;
		}
	}
	if (len > TP_QUOTE_LEN) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

static const char *
tp_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:	return "an object";
	case JSON_ARRAY:	return "an array";
	case JSON_STRING:	return "a string";
	case JSON_INTEGER:	return "an integer";
	case JSON_REAL:		return "a real number";
	case JSON_TRUE:
	case JSON_FALSE:	return "a boolean";
	case JSON_NULL:		return "null";
	}
	return "something else";
}

/* Refuses, before jansson builds a tree of it, text nested deeper than
 * LIMIT_REPORT_JSON_DEPTH (its parser recurses once per level), with more
 * than LIMIT_REPORT_JSON_TOKENS tokens (each costs a node: 16 MiB of
 * "{},[]," would take a gigabyte) or with a string that cannot decode to
 * LIMIT_REPORT_STRING_BYTES or less (TP_STRING_RAW_MAX: tp_string then
 * says which field, from the decoded length). Tokens are values and keys: '{', '[', the
 * start of a string, of a number or of a literal. The text is not
 * validated here; jansson does that. */
static int
tp_shape_scan(const char *s, size_t n, struct err *e)
{
	bool in_str = false, esc = false, sep = true;
	size_t depth = 0, tokens = 0, str_at = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (in_str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				in_str = false;
			else if (i - str_at > TP_STRING_RAW_MAX)
				return err_set(e, "JSON string at byte %zu is "
				    "longer than the limit of %d bytes",
				    str_at, LIMIT_REPORT_STRING_BYTES);
			continue;
		}
		switch (c) {
		case '"':
			in_str = true;
			str_at = i;
			sep = false;
			break;
		case '[':
		case '{':
			if (++depth > LIMIT_REPORT_JSON_DEPTH)
				return err_set(e, "JSON nesting depth %zu at "
				    "byte %zu exceeds the limit of %d", depth,
				    i, LIMIT_REPORT_JSON_DEPTH);
			sep = true;
			break;
		case ']':
		case '}':
			if (depth > 0)
				depth--;
			sep = false;
			continue;
		case ',':
		case ':':
			sep = true;
			continue;
		case ' ':
		case '\t':
		case '\r':
		case '\n':
			continue;
		default:		/* a number or literal goes on */
			if (!sep)
				continue;
			sep = false;
			break;
		}
		if (++tokens > LIMIT_REPORT_JSON_TOKENS)
			return err_set(e, "JSON has more than %d values and "
			    "keys (at byte %zu): no report is that large",
			    LIMIT_REPORT_JSON_TOKENS, i);
	}
	return 0;
}

/* Reads key of o as a string: *have says whether it was there. A value
 * of another type or longer than LIMIT_REPORT_STRING_BYTES is an error.
 * *out is a copy (caller frees) when *have is TP_SET, else NULL. */
static int
tp_string(const json_t *o, const char *path, const char *key, char **out,
    enum tp_have *have, struct err *e)
{
	const json_t *v = json_object_get(o, key);
	size_t len;

	*out = NULL;
	*have = TP_ABSENT;
	if (v == NULL)
		return 0;
	if (json_is_null(v)) {
		*have = TP_NULL;
		return 0;
	}
	if (!json_is_string(v))
		return err_set(e, "%s%s: expected a string, got %s", path, key,
		    tp_type_name(v));
	len = json_string_length(v);
	if (len > LIMIT_REPORT_STRING_BYTES)
		return err_set(e, "%s%s: string of %zu bytes exceeds the "
		    "limit of %d", path, key, len, LIMIT_REPORT_STRING_BYTES);
	if ((*out = strndup(json_string_value(v), len)) == NULL)
		return err_set(e, "out of memory");
	*have = TP_SET;
	return 0;
}

/* A required, non-empty string. */
static int
tp_required(const json_t *o, const char *path, const char *key, char **out,
    struct err *e)
{
	enum tp_have have;

	if (tp_string(o, path, key, out, &have, e) == -1)
		return -1;
	if (have == TP_ABSENT)
		return err_set(e, "%s%s: missing", path, key);
	if (have == TP_NULL)
		return err_set(e, "%s%s: expected a string, got null", path,
		    key);
	if ((*out)[0] == '\0')
		return err_set(e, "%s%s: empty", path, key);
	return 0;
}

/* An optional string; null counts as absent, with the null quirk. */
static int
tp_optional(struct tlsrpt_report *r, const json_t *o, const char *path,
    const char *key, char **out, struct err *e)
{
	enum tp_have have;

	if (tp_string(o, path, key, out, &have, e) == -1)
		return -1;
	if (have == TP_NULL)
		r->quirks |= TLSRPT_Q_NULL_FIELD;
	return 0;
}

/* A session count: a JSON integer >= 0. *present is false when the key
 * is absent and !required. */
static int
tp_count(const json_t *o, const char *path, const char *key, bool required,
    uint64_t *out, bool *present, struct err *e)
{
	const json_t *v = json_object_get(o, key);

	*out = 0;
	*present = v != NULL;
	if (v == NULL)
		return required ? err_set(e, "%s%s: missing", path, key) : 0;
	if (!json_is_integer(v))
		return err_set(e, "%s%s: not an integer (%s)", path, key,
		    tp_type_name(v));
	if (json_integer_value(v) < 0)
		return err_set(e, "%s%s: negative (%" JSON_INTEGER_FORMAT ")",
		    path, key, json_integer_value(v));
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

/* n decimal digits at s, or -1. */
static int
tp_digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). */
static int64_t
tp_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int
tp_days_in_month(int y, int m)
{
	static const int days[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

/* Parses an RFC 3339 date-time (see the grammar above) into UTC seconds.
 * Fractional seconds are dropped. Returns 0 or -1; *no_tz is set when
 * the text had no zone. */
static int
tp_datetime(const char *s, time_t *t, bool *no_tz)
{
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	size_t n = strlen(s), i = 19;
	int64_t v;

	*no_tz = false;
	if (n < 19 || s[4] != '-' || s[7] != '-' ||
	    (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':')
		return -1;
	if ((y = tp_digits(s, 4)) < 1970 || (mo = tp_digits(s + 5, 2)) < 1 ||
	    mo > 12 || (d = tp_digits(s + 8, 2)) < 1 ||
	    d > tp_days_in_month(y, mo) || (h = tp_digits(s + 11, 2)) < 0 ||
	    h > 23 || (mi = tp_digits(s + 14, 2)) < 0 || mi > 59 ||
	    (sec = tp_digits(s + 17, 2)) < 0 || sec > 60)
		return -1;
	if (s[i] == '.') {
		if (s[++i] < '0' || s[i] > '9')
			return -1;
		while (s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (s[i] == 'Z' || s[i] == 'z') {
		i++;
	} else if (s[i] == '+' || s[i] == '-') {
		sign = s[i] == '+' ? 1 : -1;
		if (n - i < 6 || s[i + 3] != ':' ||
		    (oh = tp_digits(s + i + 1, 2)) < 0 || oh > 23 ||
		    (om = tp_digits(s + i + 4, 2)) < 0 || om > 59)
			return -1;
		i += 6;
	} else if (s[i] == '\0') {
		*no_tz = true;
	}
	if (i != n)
		return -1;
	v = tp_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	v -= sign * (oh * 3600 + om * 60);
	if (v < 0 || v > TP_TIME_MAX)
		return -1;
	*t = (time_t)v;
	return 0;
}

static int
tp_date_range(struct tlsrpt_report *r, const json_t *root, struct err *e)
{
	const json_t *dr = json_object_get(root, "date-range");
	static const char *const keys[2] = {
		"start-datetime", "end-datetime"
	};
	char q[4 * TP_QUOTE_LEN + 4];
	time_t *slot[2] = { &r->start, &r->end };
	char *s = NULL;
	bool no_tz;
	int rc = -1;

	if (dr == NULL) {
		err_set(e, "date-range: missing");
		goto out;
	}
	if (!json_is_object(dr)) {
		err_set(e, "date-range: expected an object, got %s",
		    tp_type_name(dr));
		goto out;
	}
	for (int i = 0; i < 2; i++) {
		if (tp_required(dr, "date-range.", keys[i], &s, e) == -1)
			goto out;
		if (tp_datetime(s, slot[i], &no_tz) == -1) {
			err_set(e, "date-range.%s: \"%s\" is not an RFC 3339 "
			    "date-time in 1970..9999", keys[i],
			    tp_quote(s, strlen(s), q));
			goto out;
		}
		if (no_tz)
			r->quirks |= TLSRPT_Q_DATETIME_NO_TZ;
		free(s);
		s = NULL;
	}
	if (r->end < r->start)
		r->quirks |= TLSRPT_Q_END_BEFORE_START;
	rc = 0;
out:
	free(s);
	return rc;
}

/* True when s, after leading white space, starts with '['. */
static bool
tp_looks_nested(const char *s, size_t len)
{
	size_t k = 0;

	while (k < len && isspace((unsigned char)s[k]))
		k++;
	return k < len && s[k] == '[';
}

/* Pushes one policy-string item. A TLSA item that is itself a JSON array
 * of strings (Microsoft: ["[\"3 1 1 ab..\",\"3 1 1 cd..\"]"]) is
 * expanded into its elements; anything that does not decode so, or
 * whose elements look nested again, is kept as sent. */
static int
tp_policy_item(struct tlsrpt_report *r, struct tlsrpt_policy *p,
    const char *s, size_t len, bool tlsa, struct err *e)
{
	json_t *inner = NULL, *v;
	json_error_t je;
	size_t i;
	int rc = -1;

	if (tlsa && tp_looks_nested(s, len) &&
	    tp_shape_scan(s, len, NULL) == 0 &&
	    (inner = json_loadb(s, len, JSON_REJECT_DUPLICATES, &je)) != NULL &&
	    json_is_array(inner) && json_array_size(inner) > 0) {
		/* Items that look nested again are not expanded: the
		 * result must read back the same (see tlsrpt_report_json). */
		json_array_foreach(inner, i, v)
			if (!json_is_string(v) ||
			    tp_looks_nested(json_string_value(v),
			    json_string_length(v)))
				break;
		if (i == json_array_size(inner)) {
			if (p->policy_string.n + i > LIMIT_REPORT_STRINGS) {
				err_set(e, "more than %d policy-string items",
				    LIMIT_REPORT_STRINGS);
				goto out;
			}
			json_array_foreach(inner, i, v)
				if (strv_pushn(&p->policy_string,
				    json_string_value(v),
				    json_string_length(v)) == -1) {
					err_set(e, "out of memory");
					goto out;
				}
			r->quirks |= TLSRPT_Q_POLICY_STRING_NESTED;
			rc = 0;
			goto out;
		}
	}
	if (p->policy_string.n + 1 > LIMIT_REPORT_STRINGS) {
		err_set(e, "more than %d policy-string items",
		    LIMIT_REPORT_STRINGS);
		goto out;
	}
	if (strv_pushn(&p->policy_string, s, len) == -1) {
		err_set(e, "out of memory");
		goto out;
	}
	rc = 0;
out:
	json_decref(inner);
	return rc;
}

/* Reads an array of strings (policy-string, mx-host) element by element
 * through push; "what" names the field in errors. */
static int
tp_string_array(const json_t *a, const char *path, const char *what,
    struct err *e, int (*push)(void *, const char *, size_t, struct err *),
    void *arg)
{
	const json_t *v;
	size_t i;

	if (json_array_size(a) > LIMIT_REPORT_STRINGS)
		return err_set(e, "%s%s: %zu items exceed the limit of %d",
		    path, what, json_array_size(a), LIMIT_REPORT_STRINGS);
	json_array_foreach(a, i, v) {
		if (!json_is_string(v))
			return err_set(e, "%s%s[%zu]: expected a string, got "
			    "%s", path, what, i, tp_type_name(v));
		if (json_string_length(v) > LIMIT_REPORT_STRING_BYTES)
			return err_set(e, "%s%s[%zu]: string exceeds %d bytes",
			    path, what, i, LIMIT_REPORT_STRING_BYTES);
		if (push(arg, json_string_value(v), json_string_length(v),
		    e) == -1) {
			err_prefix(e, "%s%s[%zu]: ", path, what, i);
			return -1;
		}
	}
	return 0;
}

/* Arguments of tp_push_policy_item, through tp_string_array's void *. */
struct tp_item_arg {
	struct tlsrpt_report *r;
	struct tlsrpt_policy *p;
	bool tlsa;
};

static int
tp_push_policy_item(void *arg, const char *s, size_t len, struct err *e)
{
	struct tp_item_arg *a = arg;

	return tp_policy_item(a->r, a->p, s, len, a->tlsa, e);
}

static int
tp_push_mx(void *arg, const char *s, size_t len, struct err *e)
{
	if (strv_pushn(arg, s, len) == -1)
		return err_set(e, "out of memory");
	return 0;
}

static int
tp_policy_string(struct tlsrpt_report *r, struct tlsrpt_policy *p,
    const json_t *pol, const char *path, struct err *e)
{
	const json_t *v = json_object_get(pol, "policy-string");
	struct tp_item_arg a = {
		r, p, strcmp(p->policy_type, "tlsa") == 0
	};

	if (v == NULL || json_is_null(v)) {
		r->quirks |= TLSRPT_Q_POLICY_STRING_ABSENT |
		    (v ? TLSRPT_Q_NULL_FIELD : 0);
		return 0;
	}
	if (!json_is_array(v))
		return err_set(e, "%spolicy-string: expected an array of "
		    "strings, got %s", path, tp_type_name(v));
	if (json_array_size(v) == 0)
		r->quirks |= TLSRPT_Q_POLICY_STRING_EMPTY;
	return tp_string_array(v, path, "policy-string", e,
	    tp_push_policy_item, &a);
}

/* mx-host: an array (RFC 8460 §4.4 as reporters send it), a string (the
 * RFC's own example), empty, or absent. Always a list afterwards. */
static int
tp_mx_host(struct tlsrpt_report *r, struct tlsrpt_policy *p,
    const json_t *pol, const char *path, struct err *e)
{
	const json_t *v = json_object_get(pol, "mx-host");

	if (v == NULL || json_is_null(v)) {
		r->quirks |= TLSRPT_Q_MX_HOST_ABSENT |
		    (v ? TLSRPT_Q_NULL_FIELD : 0);
		return 0;
	}
	if (json_is_string(v)) {
		if (json_string_length(v) == 0) {
			r->quirks |= TLSRPT_Q_MX_HOST_EMPTY;
			return 0;
		}
		r->quirks |= TLSRPT_Q_MX_HOST_STRING;
		if (json_string_length(v) > LIMIT_REPORT_STRING_BYTES)
			return err_set(e, "%smx-host: string exceeds %d bytes",
			    path, LIMIT_REPORT_STRING_BYTES);
		return tp_push_mx(&p->mx_host, json_string_value(v),
		    json_string_length(v), e);
	}
	if (!json_is_array(v))
		return err_set(e, "%smx-host: expected an array of strings, "
		    "got %s", path, tp_type_name(v));
	if (json_array_size(v) == 0)
		r->quirks |= TLSRPT_Q_MX_HOST_EMPTY;
	return tp_string_array(v, path, "mx-host", e, tp_push_mx,
	    &p->mx_host);
}

/* The policy-domain as stored and compared (lower case, A-labels, no
 * trailing dot), so that "Example.COM." and "bücher.example" claim the
 * domains they name. A name that is not a hostname is only lower-cased
 * (kept as sent: the report is still the reporter's word). */
static int
tp_policy_domain_fold(struct tlsrpt_report *r, struct tlsrpt_policy *p,
    struct err *e)
{
	char out[LIMIT_DNAME_LEN + 1], *d = p->policy_domain, *c;
	size_t n = strlen(d);
	bool other = n > 0 && d[n - 1] == '.';

	for (c = d; *c != '\0'; c++) {
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
		else if ((unsigned char)*c >= 0x80)
			other = true;
	}
	if (!other || dname_normalize(d, n, false, out, NULL) == -1)
		return 0;	/* the common case: no libidn2 call */
	free(p->policy_domain);
	if ((p->policy_domain = strdup(out)) == NULL)
		return err_set(e, "out of memory");
	r->quirks |= TLSRPT_Q_POLICY_DOMAIN_FORM;
	return 0;
}

static int
tp_policy(struct tlsrpt_report *r, struct tlsrpt_policy *p,
    const json_t *pol, const char *path, struct err *e)
{
	char q[4 * TP_QUOTE_LEN + 4];
	enum tp_have have;

	if (tp_required(pol, path, "policy-type", &p->policy_type, e) == -1)
		return -1;
	if (strcmp(p->policy_type, "sts") != 0 &&
	    strcmp(p->policy_type, "tlsa") != 0 &&
	    strcmp(p->policy_type, "no-policy-found") != 0)
		return err_set(e, "%spolicy-type: \"%s\" is not sts, tlsa or "
		    "no-policy-found", path, tp_quote(p->policy_type,
		    strlen(p->policy_type), q));
	if (tp_policy_string(r, p, pol, path, e) == -1)
		return -1;
	if (tp_string(pol, path, "policy-domain", &p->policy_domain, &have,
	    e) == -1)
		return -1;
	if (have == TP_NULL)
		r->quirks |= TLSRPT_Q_NULL_FIELD;
	if (have != TP_SET || p->policy_domain[0] == '\0') {
		r->quirks |= TLSRPT_Q_POLICY_DOMAIN_ABSENT;
		free(p->policy_domain);
		if ((p->policy_domain = strdup("")) == NULL)
			return err_set(e, "out of memory");
	}
	if (tp_policy_domain_fold(r, p, e) == -1)
		return -1;
	return tp_mx_host(r, p, pol, path, e);
}

static int
tp_failure(struct tlsrpt_report *r, struct tlsrpt_failure *f,
    const json_t *fd, const char *path, struct err *e)
{
	bool present;
	size_t i;

	if (tp_required(fd, path, "result-type", &f->result_type, e) == -1)
		return -1;
	for (i = 0; i < sizeof(tlsrpt_result_types) /
	    sizeof(tlsrpt_result_types[0]); i++)
		if (strcmp(f->result_type, tlsrpt_result_types[i]) == 0)
			break;
	if (i == sizeof(tlsrpt_result_types) / sizeof(tlsrpt_result_types[0]))
		r->quirks |= TLSRPT_Q_UNKNOWN_RESULT_TYPE;
	if (tp_count(fd, path, "failed-session-count", true,
	    &f->failed_session_count, &present, e) == -1)
		return -1;
	if (tp_optional(r, fd, path, "sending-mta-ip", &f->sending_mta_ip,
	    e) == -1 ||
	    tp_optional(r, fd, path, "receiving-mx-hostname",
	    &f->receiving_mx_hostname, e) == -1 ||
	    tp_optional(r, fd, path, "receiving-mx-helo",
	    &f->receiving_mx_helo, e) == -1 ||
	    tp_optional(r, fd, path, "receiving-ip", &f->receiving_ip,
	    e) == -1 ||
	    tp_optional(r, fd, path, "additional-information",
	    &f->additional_information, e) == -1 ||
	    tp_optional(r, fd, path, "failure-reason-code",
	    &f->failure_reason_code, e) == -1)
		return -1;
	/* SocketLabs spells it "receiving-mx-host-name". */
	if (f->receiving_mx_hostname == NULL) {
		if (tp_optional(r, fd, path, "receiving-mx-host-name",
		    &f->receiving_mx_hostname, e) == -1)
			return -1;
		if (f->receiving_mx_hostname != NULL)
			r->quirks |= TLSRPT_Q_RECEIVING_MX_HOST_NAME;
	}
	if (f->sending_mta_ip == NULL)
		r->quirks |= TLSRPT_Q_SENDING_IP_ABSENT;
	if (f->receiving_mx_hostname == NULL || f->receiving_ip == NULL)
		r->quirks |= TLSRPT_Q_RECEIVING_ABSENT;
	return 0;
}

static int
tp_failures(struct tlsrpt_report *r, struct tlsrpt_policy *p,
    const json_t *entry, const char *path, struct err *e)
{
	const json_t *a = json_object_get(entry, "failure-details"), *fd;
	char sub[128];
	uint64_t sum = 0;
	size_t i;

	if (a == NULL || json_is_null(a)) {
		r->quirks |= TLSRPT_Q_FAILURE_DETAILS_ABSENT |
		    (a ? TLSRPT_Q_NULL_FIELD : 0);
		return 0;
	}
	if (!json_is_array(a))
		return err_set(e, "%sfailure-details: expected an array, got "
		    "%s", path, tp_type_name(a));
	if (json_array_size(a) == 0) {
		r->quirks |= TLSRPT_Q_FAILURE_DETAILS_EMPTY;
		return 0;
	}
	if (json_array_size(a) > LIMIT_REPORT_FAILURE_DETAILS)
		return err_set(e, "%sfailure-details: %zu entries exceed the "
		    "limit of %d", path, json_array_size(a),
		    LIMIT_REPORT_FAILURE_DETAILS);
	p->failures = calloc(json_array_size(a), sizeof(*p->failures));
	if (p->failures == NULL)
		return err_set(e, "out of memory");
	p->nfailures = json_array_size(a);
	json_array_foreach(a, i, fd) {
		snprintf(sub, sizeof(sub), "%sfailure-details[%zu].", path, i);
		if (!json_is_object(fd))
			return err_set(e, "%.*s: expected an object, got %s",
			    (int)strlen(sub) - 1, sub, tp_type_name(fd));
		if (tp_failure(r, &p->failures[i], fd, sub, e) == -1)
			return -1;
		sum = sum + p->failures[i].failed_session_count < sum ?
		    UINT64_MAX : sum + p->failures[i].failed_session_count;
	}
	if (sum != p->total_failure)
		r->quirks |= TLSRPT_Q_FAILURE_SUM_MISMATCH;
	return 0;
}

static int
tp_entry(struct tlsrpt_report *r, struct tlsrpt_policy *p,
    const json_t *entry, size_t idx, struct err *e)
{
	const json_t *pol, *sum;
	char path[64], sub[80];
	bool present;

	snprintf(path, sizeof(path), "policies[%zu]", idx);
	if (!json_is_object(entry))
		return err_set(e, "%s: expected an object, got %s", path,
		    tp_type_name(entry));
	pol = json_object_get(entry, "policy");
	if (pol == NULL || !json_is_object(pol))
		return err_set(e, "%s.policy: %s%s", path,
		    pol ? "expected an object, got " : "missing",
		    pol ? tp_type_name(pol) : "");
	snprintf(sub, sizeof(sub), "%s.policy.", path);
	if (tp_policy(r, p, pol, sub, e) == -1)
		return -1;
	sum = json_object_get(entry, "summary");
	if (sum == NULL || !json_is_object(sum))
		return err_set(e, "%s.summary: %s%s", path,
		    sum ? "expected an object, got " : "missing",
		    sum ? tp_type_name(sum) : "");
	snprintf(sub, sizeof(sub), "%s.summary.", path);
	if (tp_count(sum, sub, "total-successful-session-count", true,
	    &p->total_successful, &present, e) == -1 ||
	    tp_count(sum, sub, "total-failure-session-count", false,
	    &p->total_failure, &present, e) == -1)
		return -1;
	if (!present)
		r->quirks |= TLSRPT_Q_FAILURE_TOTAL_ABSENT;
	snprintf(sub, sizeof(sub), "%s.", path);
	return tp_failures(r, p, entry, sub, e);
}

/* Orders policies by (type, domain) for the duplicate check. */
static int
tp_cmp_policy(const void *a, const void *b)
{
	const struct tlsrpt_policy *pa = *(const struct tlsrpt_policy *const *)a;
	const struct tlsrpt_policy *pb = *(const struct tlsrpt_policy *const *)b;
	int c = strcmp(pa->policy_type, pb->policy_type);

	return c ? c : strcmp(pa->policy_domain, pb->policy_domain);
}

/* Sets TLSRPT_Q_DUPLICATE_POLICY when two entries share policy-type and
 * policy-domain (Google after a mid-day policy change, SocketLabs' split
 * success/failure entries). Microsoft's sts + tlsa for one domain is one
 * entry per policy, as the RFC intends, and not flagged. */
static int
tp_duplicates(struct tlsrpt_report *r, struct err *e)
{
	const struct tlsrpt_policy **v;

	if (r->npolicies < 2)
		return 0;
	if ((v = calloc(r->npolicies, sizeof(*v))) == NULL)
		return err_set(e, "out of memory");
	for (size_t i = 0; i < r->npolicies; i++)
		v[i] = &r->policies[i];
	qsort(v, r->npolicies, sizeof(*v), tp_cmp_policy);
	for (size_t i = 1; i < r->npolicies; i++)
		if (tp_cmp_policy(&v[i - 1], &v[i]) == 0)
			r->quirks |= TLSRPT_Q_DUPLICATE_POLICY;
	free(v);
	return 0;
}

static int
tp_report(struct tlsrpt_report *r, const json_t *root, struct err *e)
{
	const json_t *pols, *entry;
	enum tp_have have;
	size_t i;

	if (tp_required(root, "", "organization-name", &r->organization_name,
	    e) == -1 ||
	    tp_required(root, "", "report-id", &r->report_id, e) == -1 ||
	    tp_date_range(r, root, e) == -1 ||
	    tp_string(root, "", "contact-info", &r->contact_info, &have,
	    e) == -1)
		return -1;
	if (have == TP_NULL)
		r->quirks |= TLSRPT_Q_CONTACT_INFO_NULL;
	else if (have == TP_ABSENT)
		r->quirks |= TLSRPT_Q_CONTACT_INFO_ABSENT;
	pols = json_object_get(root, "policies");
	if (pols == NULL)
		return err_set(e, "policies: missing");
	if (!json_is_array(pols))
		return err_set(e, "policies: expected an array, got %s",
		    tp_type_name(pols));
	if (json_array_size(pols) == 0)
		return err_set(e, "policies: empty (a report covers at least "
		    "one policy)");
	if (json_array_size(pols) > LIMIT_REPORT_POLICIES)
		return err_set(e, "policies: %zu entries exceed the limit of "
		    "%d", json_array_size(pols), LIMIT_REPORT_POLICIES);
	r->policies = calloc(json_array_size(pols), sizeof(*r->policies));
	if (r->policies == NULL)
		return err_set(e, "out of memory");
	r->npolicies = json_array_size(pols);
	json_array_foreach(pols, i, entry)
		if (tp_entry(r, &r->policies[i], entry, i, e) == -1)
			return -1;
	return tp_duplicates(r, e);
}

int
tlsrpt_parse(const uint8_t *buf, size_t len, struct tlsrpt_report **out,
    struct err *e)
{
	struct tlsrpt_report *r = NULL;
	char q[4 * TP_QUOTE_LEN + 4];
	uint8_t *plain = NULL;
	const char *text;
	json_t *root = NULL;
	json_error_t je;
	size_t tlen;
	int rc = -1;

	*out = NULL;
	if (len > LIMIT_REPORT_BYTES) {
		err_set(e, "report of %zu bytes exceeds the limit of %d", len,
		    LIMIT_REPORT_BYTES);
		goto out;
	}
	if (len == 0) {
		err_set(e, "empty report");
		goto out;
	}
	if (gzip_is(buf, len)) {
		if (gzip_inflate(buf, len, LIMIT_REPORT_JSON_BYTES,
		    LIMIT_REPORT_GZIP_RATIO, &plain, &tlen, e) == -1)
			goto out;
		text = (const char *)plain;
	} else {
		text = (const char *)buf;
		tlen = len;
	}
	if (tp_shape_scan(text, tlen, e) == -1)
		goto out;
	root = json_loadb(text, tlen, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		err_set(e, "invalid JSON at line %d column %d: %s", je.line,
		    je.column, tp_quote(je.text, strlen(je.text), q));
		goto out;
	}
	if (!json_is_object(root)) {
		err_set(e, "report: expected a JSON object, got %s",
		    tp_type_name(root));
		goto out;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		err_set(e, "out of memory");
		goto out;
	}
	if (tp_report(r, root, e) == -1)
		goto out;
	*out = r;
	r = NULL;
	rc = 0;
out:
	tlsrpt_report_free(r);
	json_decref(root);
	free(plain);
	return rc;
}

static void
tp_failure_free(struct tlsrpt_failure *f)
{
	free(f->result_type);
	free(f->sending_mta_ip);
	free(f->receiving_mx_hostname);
	free(f->receiving_mx_helo);
	free(f->receiving_ip);
	free(f->additional_information);
	free(f->failure_reason_code);
}

void
tlsrpt_report_free(struct tlsrpt_report *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->npolicies; i++) {
		struct tlsrpt_policy *p = &r->policies[i];

		free(p->policy_type);
		strv_free(&p->policy_string);
		free(p->policy_domain);
		strv_free(&p->mx_host);
		for (size_t j = 0; j < p->nfailures; j++)
			tp_failure_free(&p->failures[j]);
		free(p->failures);
	}
	free(r->policies);
	free(r->organization_name);
	free(r->contact_info);
	free(r->report_id);
	free(r);
}

