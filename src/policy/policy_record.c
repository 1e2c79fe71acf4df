/*
 * policy_record.c - the _mta-sts TXT record (RFC 8461 §3.1): parse one,
 * and pick the one that counts among all TXT records at the name.
 *
 * The grammar, as RFC 8461 §3.1 gives it (ABNF; %s"..." is
 * case-sensitive):
 *
 *   sts-text-record = sts-version 1*(sts-field-delim sts-field)
 *                     [sts-field-delim]
 *   sts-field       = sts-id / sts-extension
 *   sts-field-delim = *WSP ";" *WSP
 *   sts-version     = %s"v=STSv1"
 *   sts-id          = %s"id=" 1*32(ALPHA / DIGIT)
 *   sts-extension   = sts-ext-name "=" sts-ext-value
 *   sts-ext-name    = (ALPHA / DIGIT)
 *                     *31(ALPHA / DIGIT / "_" / "-" / ".")
 *   sts-ext-value   = 1*(%x21-3A / %x3C / %x3E-7E)
 *                     ; no "=", ";", SP or control characters
 *
 * So "v=STSv1" comes first, an id is required, "v=STSv12", "v=STSv2" and
 * "v=STSv" are other versions, not ours, and ";;" (an empty field) is
 * refused. One leniency: SP/TAB after the last field without a closing
 * ';' is accepted (resolvers do, and it hides nothing). A repeated id
 * counts once, the first (RFC 8461 §3.2 rule for repeated fields), and
 * unknown fields are ignored; both give a warning.
 *
 * What it never does: DNS lookups, or accept a record over
 * LIMIT_TXT_BYTES.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "policy.h"


static bool
record_is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static bool
record_is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

static int
record_warn(struct strv *w, struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
record_warn(struct strv *w, struct err *e, const char *fmt, ...)
{
	char line[ERR_MSG_LEN];
	va_list ap;

	if (w == NULL)
		return 0;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (strv_push(w, line) == -1)
		return err_set(e, "out of memory");
	return 0;
}

/* sts-ext-name. */
static int
record_check_name(const char *k, size_t n, struct err *e)
{
	char q[64], qc[8];

	if (n == 0)
		return err_set(e, "field with an empty name");
	if (!record_is_alnum(k[0]))
		return err_set(e, "field name '%s' must start with a letter "
		    "or a digit", err_quote(k, n, q, sizeof(q)));
	if (n > 32)
		return err_set(e, "field name '%s' is %zu characters, over 32",
		    err_quote(k, n, q, sizeof(q)), n);
	for (size_t i = 1; i < n; i++)
		if (!record_is_alnum(k[i]) && k[i] != '_' && k[i] != '-' &&
		    k[i] != '.')
			return err_set(e, "field name '%s' has '%s' (allowed "
			    "are letters, digits, '_', '-' and '.')",
			    err_quote(k, n, q, sizeof(q)),
			    err_quote(k + i, 1, qc, sizeof(qc)));
	return 0;
}

/* sts-ext-value: printable ASCII but '=', ';' and SP. */
static int
record_check_value(const char *k, size_t kn, const char *v, size_t n,
    struct err *e)
{
	char q[64], qv[64], qc[8];

	if (n == 0)
		return err_set(e, "field '%s' has an empty value",
		    err_quote(k, kn, q, sizeof(q)));
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x21 || (unsigned char)v[i] > 0x7e ||
		    v[i] == '=')
			return err_set(e, "field '%s' value '%s' has '%s' "
			    "(not allowed in a value)",
			    err_quote(k, kn, q, sizeof(q)),
			    err_quote(v, n, qv, sizeof(qv)),
			    err_quote(v + i, 1, qc, sizeof(qc)));
	return 0;
}

/* sts-id: 1*32(ALPHA / DIGIT). */
static int
record_check_id(const char *v, size_t n, struct err *e)
{
	char q[64], qc[8];

	if (n == 0)
		return err_set(e, "id is empty (1 to %d letters and digits)",
		    LIMIT_STS_ID_LEN);
	for (size_t i = 0; i < n; i++)
		if (!record_is_alnum(v[i]))
			return err_set(e, "id '%s' has '%s' (only letters and "
			    "digits are allowed)", err_quote(v, n, q,
			    sizeof(q)), err_quote(v + i, 1, qc, sizeof(qc)));
	if (n > LIMIT_STS_ID_LEN)
		return err_set(e, "id '%s' is %zu characters, over %d",
		    err_quote(v, n, q, sizeof(q)), n, LIMIT_STS_ID_LEN);
	return 0;
}

/* True when txt[0..len) is an STSv1 record by its start: "v=STSv1" and
 * then the end, WSP or ';' (so "v=STSv12" is some other version). */
static bool
record_is_stsv1(const char *txt, size_t len)
{
	return len >= 7 && memcmp(txt, "v=STSv1", 7) == 0 &&
	    (len == 7 || record_is_wsp(txt[7]) || txt[7] == ';');
}

int
sts_record_parse(const char *txt, size_t len, struct sts_record *r,
    struct strv *warnings, struct err *e)
{
	const char *s = txt, *end = txt + len, *k, *v;
	char q[64];
	size_t kn, vn, field = 1;
	bool have_id = false;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if (len > LIMIT_TXT_BYTES) {
		err_set(e, "record is %zu bytes, over %d", len,
		    LIMIT_TXT_BYTES);
		goto out;
	}
	while (s < end && record_is_wsp(*s))
		s++;
	if (s == end) {
		err_set(e, "record is empty");
		goto out;
	}
	s = txt;
	if (len < 2 || memcmp(txt, "v=", 2) != 0) {
		err_set(e, "record does not start with 'v=STSv1'");
		goto out;
	}
	for (v = s + 2; v < end && !record_is_wsp(*v) && *v != ';'; v++)
		;
	if (!record_is_stsv1(txt, len)) {
		err_set(e, "version '%s' is not STSv1%s",
		    err_quote(s + 2, (size_t)(v - s - 2), q, sizeof(q)),
		    len >= 6 && memcmp(txt, "v=spf1", 6) == 0 ?
		    " (this is an SPF record)" : "");
		goto out;
	}
	s = v;
	for (;;) {
		while (s < end && record_is_wsp(*s))
			s++;
		if (s == end)
			break;
		if (*s != ';') {
			err_set(e, "missing ';' before '%s'",
			    err_quote(s, (size_t)(end - s), q, sizeof(q)));
			goto out;
		}
		s++;
		while (s < end && record_is_wsp(*s))
			s++;
		if (s == end)
			break;
		field++;
		if (*s == ';') {
			err_set(e, "field %zu is empty (';' twice)", field);
			goto out;
		}
		for (k = s; s < end && *s != '=' && *s != ';' &&
		    !record_is_wsp(*s); s++)
			;
		kn = (size_t)(s - k);
		if (s == end || *s != '=') {
			err_set(e, "field %zu '%s' has no '='", field,
			    err_quote(k, kn, q, sizeof(q)));
			goto out;
		}
		for (v = ++s; s < end && *s != ';' && !record_is_wsp(*s); s++)
			;
		vn = (size_t)(s - v);
		if (record_check_name(k, kn, e) == -1)
			goto out;
		if (kn == 2 && memcmp(k, "id", 2) == 0 && !have_id) {
			if (record_check_id(v, vn, e) == -1)
				goto out;
			memcpy(r->id, v, vn);
			r->id[vn] = '\0';
			have_id = true;
			continue;
		}
		if (record_check_value(k, kn, v, vn, e) == -1)
			goto out;
		if (kn == 2 && memcmp(k, "id", 2) == 0) {
			if (record_warn(warnings, e, "repeated 'id' ignored "
			    "(the first one counts)") == -1)
				goto out;
		} else if (kn == 1 && k[0] == 'v') {
			if (record_warn(warnings, e, "repeated 'v' ignored")
			    == -1)
				goto out;
		} else if (record_warn(warnings, e, "unknown field '%s' "
		    "ignored", err_quote(k, kn, q, sizeof(q))) == -1)
			goto out;
	}
	if (!have_id) {
		err_set(e, "no id field (id=1 to %d letters and digits is "
		    "required)", LIMIT_STS_ID_LEN);
		goto out;
	}
	rc = 0;
out:
	if (rc == -1)
		memset(r, 0, sizeof(*r));
	return rc;
}

int
sts_record_select(const char *const *txts, const size_t *lens, size_t n,
    struct sts_record *r, struct err *e)
{
	size_t found = 0, which = 0, len;

	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < n; i++) {
		if (txts[i] == NULL)
			continue;
		len = lens != NULL ? lens[i] : strlen(txts[i]);
		if (record_is_stsv1(txts[i], len)) {
			found++;
			which = i;
		}
	}
	if (found == 0) {
		err_set(e, "no TXT record starts with 'v=STSv1'");
		return 1;
	}
	if (found > 1)
		return err_set(e, "%zu TXT records start with 'v=STSv1'; RFC "
		    "8461 §3.1 allows one, so senders see no policy", found);
	len = lens != NULL ? lens[which] : strlen(txts[which]);
	return sts_record_parse(txts[which], len, r, NULL, e);
}
