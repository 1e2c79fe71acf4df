/*
 * policy_template.c - the table of hosted mail providers (policy.h):
 * which MX names belong to which provider, and the mx patterns the
 * provider's documentation gives for an MTA-STS policy. `domain add
 * --mx auto` maps a domain's MX hosts through it; the checker uses it
 * to spot patterns that miss the names a provider uses.
 *
 * The table (share/mx-templates.txt, compiled in; or the operator's
 * file, the setting mx_templates):
 *
 *	table    = *( line LF ) [ line ]
 *	line     = comment / blank / template
 *	comment  = *WSP "#" *VCHAR-or-WSP
 *	template = *WSP provider 1*WSP match 1*WSP patterns 1*WSP url *WSP
 *	provider = 1*32( %x61-7A / DIGIT / "-" )
 *	match    = hostname / "*." hostname    ; "*.": any depth under it
 *	patterns = pattern *( "," pattern )    ; 1 to 8, RFC 8461 mx values
 *	url      = "https://" 1*VCHAR          ; at most 512 bytes
 *
 * A CR before LF is allowed. Limits (limits.h, LIMIT_TEMPLATE_*) are
 * checked while reading, each error says its line.
 *
 * Never does I/O; the built-in text comes from the build
 * ($(BUILD)/gen/policy_template_data.c, made from the file by make).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/dname.h"
#include "policy.h"

/* The built-in table's text (generated from share/mx-templates.txt). */
extern const char policy_template_data[];

void
policy_templates_free(struct policy_templates *t)
{
	free(t->t);
	t->t = NULL;
	t->n = 0;
}

/* A name of the table into out, normalized; "*." first when wild. */
static int
tpl_name(const char *s, size_t n, bool wild, char out[LIMIT_DNAME_LEN + 1],
    struct err *e)
{
	char q[64];

	if (n == 0)
		return err_set(e, "an empty name");
	if (dname_normalize(s, n, wild, out, e) == -1) {
		err_prefix(e, "'%s': ", err_quote(s, n, q, sizeof(q)));
		return -1;
	}
	if (!wild && out[0] == '*')
		return err_set(e, "'%s': '*' only as \"*.\" first",
		    err_quote(s, n, q, sizeof(q)));
	return 0;
}

/* One template line (NUL-terminated, no line end) into t. */
static int
tpl_line(char *line, struct policy_template *t, struct err *e)
{
	char *f[5], *p = line, *s;
	size_t nf = 0;

	while (nf < 5) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		f[nf++] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
		if (*p != '\0')
			*p++ = '\0';
	}
	if (nf != 4)
		return err_set(e, "%s fields: PROVIDER MATCH PATTERN[,PATTERN]"
		    "... URL expected", nf < 4 ? "too few" : "too many");
	if (strlen(f[0]) > LIMIT_TEMPLATE_NAME ||
	    strspn(f[0], "abcdefghijklmnopqrstuvwxyz0123456789-") !=
	    strlen(f[0]))
		return err_set(e, "provider: 1 to %d of a-z, 0-9 and '-'",
		    LIMIT_TEMPLATE_NAME);
	snprintf(t->provider, sizeof(t->provider), "%s", f[0]);
	if (tpl_name(f[1], strlen(f[1]), true, t->match, e) == -1) {
		err_prefix(e, "match ");
		return -1;
	}
	t->npat = 0;
	for (s = f[2];; ) {
		char *comma = strchr(s, ',');
		size_t n = comma ? (size_t)(comma - s) : strlen(s);

		if (t->npat == LIMIT_TEMPLATE_PATTERNS)
			return err_set(e, "more than %d patterns",
			    LIMIT_TEMPLATE_PATTERNS);
		if (tpl_name(s, n, true, t->pat[t->npat], e) == -1) {
			err_prefix(e, "pattern %zu ", t->npat + 1);
			return -1;
		}
		for (size_t i = 0; i < t->npat; i++)
			if (strcmp(t->pat[i], t->pat[t->npat]) == 0)
				return err_set(e, "pattern %s twice",
				    t->pat[i]);
		t->npat++;
		if (comma == NULL)
			break;
		s = comma + 1;
	}
	if (strncmp(f[3], "https://", 8) != 0 || f[3][8] == '\0')
		return err_set(e, "url: https://... expected");
	if (strlen(f[3]) > LIMIT_TEMPLATE_URL)
		return err_set(e, "url: over %d bytes", LIMIT_TEMPLATE_URL);
	for (const char *c = f[3]; *c; c++)
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
			return err_set(e, "url: a byte that is no visible "
			    "ASCII");
	snprintf(t->doc, sizeof(t->doc), "%s", f[3]);
	return 0;
}

int
policy_templates_parse(const char *buf, size_t len,
    struct policy_templates *out, struct err *e)
{
	char line[LIMIT_TEMPLATE_LINE + 1];
	size_t off = 0, lineno = 0, cap = 0;
	struct policy_template *nt;

	memset(out, 0, sizeof(*out));
	if (len > LIMIT_TEMPLATE_BYTES)
		return err_set(e, "over %d bytes", LIMIT_TEMPLATE_BYTES);
	if (memchr(buf, '\0', len) != NULL)
		return err_set(e, "a NUL byte: not a text file");
	while (off < len) {
		const char *nl = memchr(buf + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (buf + off)) : len - off;
		char *p;

		if (++lineno > LIMIT_TEMPLATE_LINES) {
			err_set(e, "more than %d lines", LIMIT_TEMPLATE_LINES);
			goto fail;
		}
		if (n > 0 && buf[off + n - 1] == '\r')
			n--;
		if (n > LIMIT_TEMPLATE_LINE) {
			err_set(e, "line %zu: over %d bytes", lineno,
			    LIMIT_TEMPLATE_LINE);
			goto fail;
		}
		memcpy(line, buf + off, n);
		line[n] = '\0';
		off += (nl ? (size_t)(nl - (buf + off)) + 1 : len - off);
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		if (*p == '\0' || *p == '#')
			continue;
		for (const char *c = p; *c; c++)
			if ((unsigned char)*c < 0x20 && *c != '\t') {
				err_set(e, "line %zu: a control byte",
				    lineno);
				goto fail;
			}
		if (out->n == LIMIT_TEMPLATE_ENTRIES) {
			err_set(e, "line %zu: more than %d templates", lineno,
			    LIMIT_TEMPLATE_ENTRIES);
			goto fail;
		}
		if (out->n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nt = realloc(out->t, cap * sizeof(*nt))) ==
			    NULL) {
				err_set(e, "out of memory");
				goto fail;
			}
			out->t = nt;
		}
		memset(&out->t[out->n], 0, sizeof(out->t[0]));
		if (tpl_line(p, &out->t[out->n], e) == -1) {
			err_prefix(e, "line %zu: ", lineno);
			goto fail;
		}
		out->t[out->n++].line = lineno;
	}
	if (out->n == 0) {
		err_set(e, "no template in it");
		goto fail;
	}
	return 0;
fail:
	policy_templates_free(out);
	return -1;
}

int
policy_templates_builtin(struct policy_templates *out, struct err *e)
{
	if (policy_templates_parse(policy_template_data,
	    strlen(policy_template_data), out, e) == -1) {
		err_prefix(e, "built-in mx templates: ");
		return -1;
	}
	return 0;
}

/* host (normalized, no final dot) lies under the template's match. */
static bool
tpl_covers(const char *match, const char *host)
{
	size_t hn = strlen(host), sn;

	if (match[0] != '*')
		return strcmp(match, host) == 0;
	sn = strlen(match + 1);		/* ".suffix" */
	return hn > sn && strcmp(host + hn - sn, match + 1) == 0;
}

/* host lower-cased without a final dot into out; false when too long. */
static bool
tpl_host(const char *host, char out[LIMIT_DNAME_LEN + 1])
{
	size_t n = strlen(host);

	if (n > 0 && host[n - 1] == '.')
		n--;
	if (n == 0 || n > LIMIT_DNAME_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		out[i] = (host[i] >= 'A' && host[i] <= 'Z') ? host[i] + 32 :
		    host[i];
	out[n] = '\0';
	return true;
}

const struct policy_template *
policy_template_find(const struct policy_templates *t, const char *host)
{
	char h[LIMIT_DNAME_LEN + 1];

	if (t == NULL || host == NULL || !tpl_host(host, h))
		return NULL;
	for (size_t i = 0; i < t->n; i++)
		if (tpl_covers(t->t[i].match, h))
			return &t->t[i];
	return NULL;
}

/* The provider's zone of a match: its last two labels, or three when
 * the second-to-last is two letters or fewer (zoho.com.au, not com.au). */
static const char *
tpl_zone(const char *match)
{
	const char *s = match[0] == '*' ? match + 2 : match;
	const char *dots[3] = { NULL, NULL, NULL };
	size_t nd = 0;

	for (const char *p = s + strlen(s); p > s; p--)
		if (p[-1] == '.' && nd < 3)
			dots[nd++] = p - 1;
	if (nd < 2)
		return s;
	/* dots[0] the last dot, dots[1] the one before it. */
	if (strlen(dots[0] + 1) <= 2 && dots[0] - dots[1] - 1 <= 3)
		return nd >= 3 ? dots[2] + 1 : s;
	return dots[1] + 1;
}

bool
policy_template_stray(const struct policy_template *tp, const char *pattern,
    const char *const *hosts, size_t n)
{
	char pat[LIMIT_DNAME_LEN + 1];
	const char *zone = tpl_zone(tp->match), *base;
	size_t zn = strlen(zone), bn;

	if (!tpl_host(pattern, pat))
		return false;
	for (size_t i = 0; i < tp->npat; i++)
		if (strcmp(tp->pat[i], pat) == 0)
			return false;
	for (size_t i = 0; i < n; i++)
		if (hosts[i] != NULL && policy_mx_match(pat, hosts[i]))
			return false;
	base = pat[0] == '*' && pat[1] == '.' ? pat + 2 : pat;
	bn = strlen(base);
	return (bn == zn && strcmp(base, zone) == 0) || (bn > zn &&
	    base[bn - zn - 1] == '.' && strcmp(base + bn - zn, zone) == 0);
}

int
policy_template_map(const struct policy_templates *t,
    const char *const *hosts, size_t n, struct strv *out,
    const struct policy_template **used, struct err *e)
{
	char h[LIMIT_DNAME_LEN + 1];

	if (n == 0)
		return err_set(e, "no MX record: nothing to base the mx "
		    "patterns on");
	for (size_t i = 0; i < n; i++) {
		const struct policy_template *tp;
		const char *add[LIMIT_TEMPLATE_PATTERNS];
		size_t nadd = 0;

		if (used != NULL)
			used[i] = NULL;
		if (hosts[i] == NULL || hosts[i][0] == '\0' ||
		    strcmp(hosts[i], ".") == 0)
			return err_set(e, "a null MX (RFC 7505): the domain "
			    "receives no mail, an MTA-STS policy has nothing "
			    "to protect");
		if (dname_normalize(hosts[i], strlen(hosts[i]), false, h,
		    e) == -1) {
			char q[64];

			err_prefix(e, "MX '%s': ", err_quote(hosts[i],
			    strlen(hosts[i]), q, sizeof(q)));
			return -1;
		}
		if ((tp = policy_template_find(t, h)) != NULL) {
			for (size_t k = 0; k < tp->npat; k++)
				add[nadd++] = tp->pat[k];
			if (used != NULL)
				used[i] = tp;
		} else {
			add[nadd++] = h;
		}
		for (size_t k = 0; k < nadd; k++) {
			bool seen = false;

			for (size_t j = 0; j < out->n && !seen; j++)
				seen = strcmp(out->v[j], add[k]) == 0;
			if (seen)
				continue;
			if (out->n >= LIMIT_POLICY_MX)
				return err_set(e, "more than %d mx patterns",
				    LIMIT_POLICY_MX);
			if (strv_push(out, add[k]) == -1)
				return err_set(e, "out of memory");
		}
	}
	return 0;
}
