/*
 * tlsrpt_record.c - reads the _smtp._tls TXT record (RFC 8460 §3).
 *
 *	tlsrpt-record    = tlsrpt-version 1*(field-delim tlsrpt-field)
 *			   [field-delim]
 *	field-delim      = *WSP ";" *WSP
 *	tlsrpt-field     = tlsrpt-rua / tlsrpt-extension
 *	tlsrpt-version   = %s"v=TLSRPTv1"
 *	tlsrpt-rua       = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
 *	tlsrpt-uri       = URI		; RFC 3986; "," and "!" encoded
 *	tlsrpt-extension = tlsrpt-ext-name "=" tlsrpt-ext-value
 *	tlsrpt-ext-name  = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
 *	tlsrpt-ext-value = 1*(%x21-3A / %x3C / %x3E-7E)
 *
 * Each URI must be "mailto:" with an addr-spec holding '@' (local part
 * and domain non-empty; %HH escapes allowed) or "https:" with "//" and a
 * host. Anything else - "postmaster@example.com" without mailto:, http:,
 * a bare word - is an error naming the URI.
 *
 * Our rules where implementations disagree (see the corpus MANIFEST):
 * leading and trailing WSP around the whole record are ignored; one
 * trailing ';' is fine but ";;" (an empty field) is not, as in the
 * grammar; several rua= fields are allowed by the grammar and merged in
 * order, with a warning; unknown extension fields are allowed, with a
 * warning; names are case-sensitive (%s in the ABNF).
 *
 * Never resolves DNS, never fetches or mails the URIs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tlsrpt.h"

#define TR_VERSION "v=TLSRPTv1"
/* Bytes of an untrusted value quoted in an error message. */
#define TR_QUOTE_LEN 64

/* A byte range of the record. */
struct tr_span {
	const char *p;
	size_t	    n;
};

/* Untrusted bytes for a message: printable ASCII as is, else \xHH. */
static const char *
tr_quote(struct tr_span s, char out[4 * TR_QUOTE_LEN + 4])
{
	size_t o = 0;

	for (size_t i = 0; i < s.n && i < TR_QUOTE_LEN; i++) {
		unsigned char c = (unsigned char)s.p[i];

		if (c >= 0x20 && c < 0x7f && c != '\\') {
			out[o++] = (char)c;
		} else {
			snprintf(out + o, 5, "\\x%02x", c);
			o += 4;
		}
	}
	if (s.n > TR_QUOTE_LEN) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

static bool
tr_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* A visible ASCII character, safe to print in a message. */
static bool
tr_graph(char c)
{
	return c > 0x20 && c < 0x7f && c != '\\';
}

static struct tr_span
tr_trim(struct tr_span s)
{
	while (s.n > 0 && tr_wsp(s.p[0])) {
		s.p++;
		s.n--;
	}
	while (s.n > 0 && tr_wsp(s.p[s.n - 1]))
		s.n--;
	return s;
}

static bool
tr_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

static bool
tr_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

/* RFC 3986 characters, less "!" (RFC 8460 wants it encoded) and less ","
 * and ";" (our delimiters, never seen here). */
static bool
tr_uri_char(char c)
{
	return tr_alnum(c) || (c != '\0' && strchr("-._~:/?#[]@$&'()*+=%",
	    c) != NULL);
}

/* Checks one URI; the error names it. */
static int
tr_uri(struct tr_span u, struct err *e)
{
	char q[4 * TR_QUOTE_LEN + 4];
	size_t i, colon, at, end, h;

	for (i = 0; i < u.n; i++) {
		if (!tr_uri_char(u.p[i]))
			return err_set(e, "rua URI \"%s\": %s%c%s at offset "
			    "%zu is not allowed in a URI", tr_quote(u, q),
			    tr_graph(u.p[i]) ? "'" : "",
			    tr_graph(u.p[i]) ? u.p[i] : '?',
			    tr_graph(u.p[i]) ? "'" : " (a space, control "
			    "or non-ASCII byte)", i);
		if (u.p[i] == '%' && (i + 2 >= u.n || !tr_hex(u.p[i + 1]) ||
		    !tr_hex(u.p[i + 2])))
			return err_set(e, "rua URI \"%s\": bad %%-escape",
			    tr_quote(u, q));
	}
	for (colon = 0; colon < u.n && u.p[colon] != ':'; colon++)
		if (!tr_alnum(u.p[colon]) && strchr("+-.", u.p[colon]) == NULL)
			break;
	if (colon == 0 || colon == u.n || u.p[colon] != ':')
		return err_set(e, "rua URI \"%s\": no scheme (expected "
		    "mailto: or https:)", tr_quote(u, q));
	if (colon == 6 && strncasecmp(u.p, "mailto", 6) == 0) {
		/* to-part up to '?': local@domain, both non-empty. */
		for (end = colon + 1; end < u.n && u.p[end] != '?'; end++)
			;
		for (at = colon + 1; at < end && u.p[at] != '@'; at++)
			;
		if (at == end || at == colon + 1 || at + 1 == end)
			return err_set(e, "rua URI \"%s\": mailto: needs an "
			    "address local@domain", tr_quote(u, q));
		return 0;
	}
	if (colon == 5 && strncasecmp(u.p, "https", 5) == 0) {
		i = colon + 1;
		if (u.n - i < 2 || u.p[i] != '/' || u.p[i + 1] != '/')
			return err_set(e, "rua URI \"%s\": https: needs "
			    "//host", tr_quote(u, q));
		i += 2;
		for (end = i; end < u.n && strchr("/?#", u.p[end]) == NULL;
		    end++)
			;
		for (h = end; h > i && u.p[h - 1] != '@'; h--)
			;	/* h: first byte of host[:port] */
		if (h < end && u.p[h] == '[') {
			while (h < end && u.p[h] != ']')
				h++;
			if (h == end)
				return err_set(e, "rua URI \"%s\": unclosed "
				    "IP literal", tr_quote(u, q));
			h++;
		} else {
			size_t start = h;

			while (h < end && u.p[h] != ':')
				h++;
			if (h == start)
				return err_set(e, "rua URI \"%s\": https: "
				    "needs a host", tr_quote(u, q));
		}
		if (h < end && u.p[h] != ':')
			return err_set(e, "rua URI \"%s\": junk after the "
			    "host", tr_quote(u, q));
		if (h < end && h + 1 == end)
			return err_set(e, "rua URI \"%s\": empty port",
			    tr_quote(u, q));
		for (h = h < end ? h + 1 : h; h < end; h++)
			if (u.p[h] < '0' || u.p[h] > '9')
				return err_set(e, "rua URI \"%s\": port is "
				    "not a number", tr_quote(u, q));
		return 0;
	}
	return err_set(e, "rua URI \"%s\": scheme \"%.*s\" not supported "
	    "(only mailto: and https:)", tr_quote(u, q), (int)colon, u.p);
}

/* The value of one rua= field: URIs separated by *WSP "," *WSP. */
static int
tr_rua(struct tr_span v, struct tlsrpt_record *r, struct err *e)
{
	struct tr_span u;
	size_t i = 0, j;

	if (v.n == 0)
		return err_set(e, "rua= is empty");
	for (;;) {
		for (j = i; j < v.n && v.p[j] != ','; j++)
			;
		u = tr_trim((struct tr_span){ v.p + i, j - i });
		if (u.n == 0)
			return err_set(e, "rua= holds an empty URI (\",,\" "
			    "or a ',' at either end)");
		if (tr_uri(u, e) == -1)
			return -1;
		if (r->rua.n >= LIMIT_RUA_URIS)
			return err_set(e, "more than %d rua URIs",
			    LIMIT_RUA_URIS);
		if (strv_pushn(&r->rua, u.p, u.n) == -1)
			return err_set(e, "out of memory");
		if (j == v.n)
			return 0;
		i = j + 1;
	}
}

/* An extension field: name and value by the grammar above. */
static int
tr_extension(struct tr_span name, struct tr_span v, struct err *e)
{
	char q[4 * TR_QUOTE_LEN + 4];

	if (name.n == 0 || name.n > 32 || !tr_alnum(name.p[0]))
		return err_set(e, "field name \"%s\" is not 1-32 letters, "
		    "digits, '_', '-' or '.' starting with a letter or digit",
		    tr_quote(name, q));
	for (size_t i = 1; i < name.n; i++)
		if (!tr_alnum(name.p[i]) && strchr("_-.", name.p[i]) == NULL)
			return err_set(e, "field name \"%s\": bad character",
			    tr_quote(name, q));
	if (v.n == 0)
		return err_set(e, "field \"%.*s\" has an empty value",
		    (int)name.n, name.p);
	for (size_t i = 0; i < v.n; i++) {
		unsigned char c = (unsigned char)v.p[i];

		if (c < 0x21 || c > 0x7e || c == '=' || c == ';')
			return err_set(e, "field \"%.*s\": value \"%s\" holds "
			    "a space, '=' or a control character",
			    (int)name.n, name.p, tr_quote(v, q));
	}
	return 0;
}

int
tlsrpt_record_parse(const char *txt, size_t len, struct tlsrpt_record *r,
    struct strv *warnings, struct err *e)
{
	char q[4 * TR_QUOTE_LEN + 4];
	struct tr_span f, name, val;
	size_t i = 0, j, nfield = 0, nrua = 0;
	const char *eq;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if (len > LIMIT_TXT_BYTES) {
		err_set(e, "record of %zu bytes exceeds the limit of %d", len,
		    LIMIT_TXT_BYTES);
		goto out;
	}
	for (;;) {
		for (j = i; j < len && txt[j] != ';'; j++)
			;
		f = tr_trim((struct tr_span){ txt + i, j - i });
		nfield++;
		if (nfield == 1) {
			if (f.n != strlen(TR_VERSION) ||
			    memcmp(f.p, TR_VERSION, f.n) != 0) {
				err_set(e, f.n >= 9 && memcmp(f.p, "v=TLSRPT",
				    8) == 0 ? "unsupported version \"%s\" "
				    "(expected v=TLSRPTv1)" : "not a TLS-RPT "
				    "record: \"%s\" (must start with "
				    "v=TLSRPTv1)", tr_quote(f, q));
				goto out;
			}
		} else if (f.n == 0) {
			if (j < len) {
				err_set(e, "empty field (\";;\") after field "
				    "%zu", nfield - 1);
				goto out;
			}
		} else if ((eq = memchr(f.p, '=', f.n)) == NULL) {
			err_set(e, "field \"%s\" has no '='", tr_quote(f, q));
			goto out;
		} else {
			name = (struct tr_span){ f.p, (size_t)(eq - f.p) };
			val = (struct tr_span){ eq + 1, f.n - name.n - 1 };
			if (name.n == 3 && memcmp(name.p, "rua", 3) == 0) {
				nrua++;
				if (tr_rua(val, r, e) == -1)
					goto out;
			} else {
				if (tr_extension(name, val, e) == -1)
					goto out;
				if (warnings != NULL && strv_pushf(warnings,
				    "unknown field \"%.*s\" ignored",
				    (int)name.n, name.p) == -1) {
					err_set(e, "out of memory");
					goto out;
				}
			}
		}
		if (j == len)
			break;
		i = j + 1;
	}
	if (nrua == 0) {
		err_set(e, "missing rua= (where reports go)");
		goto out;
	}
	if (nrua > 1 && warnings != NULL && strv_pushf(warnings, "rua= "
	    "appears %zu times; its URIs are merged in order", nrua) == -1) {
		err_set(e, "out of memory");
		goto out;
	}
	rc = 0;
out:
	if (rc == -1)
		tlsrpt_record_free(r);
	return rc;
}

void
tlsrpt_record_free(struct tlsrpt_record *r)
{
	strv_free(&r->rua);
}
