/*
 * policy_mx.c - does an MX host match a policy's mx patterns (RFC 8461
 * §4.1)?
 *
 * What it reads: a pattern and a host name, both NUL-terminated:
 *
 *	pattern = [ "*." ] host
 *	host    = label *( "." label ) [ "." ]
 *
 * Both are brought to one form first: with dname_normalize when that
 * accepts them (U-labels become A-labels, case is folded, one trailing
 * dot goes), otherwise - an MX target that is not a strict host name,
 * say with an underscore - by folding ASCII case and dropping one
 * trailing dot, so that such a host still matches the identical pattern.
 * Then "*.rest" matches a host whose first label is not empty and whose
 * remainder after its first dot equals "rest": exactly one extra label,
 * so "*.example.com" matches "a.example.com" but neither "example.com"
 * nor "a.b.example.com". Any other pattern must equal the host.
 *
 * What it never does: DNS lookups, or let '*' stand for more or less than
 * one whole label.
 */
#include <string.h>

#include "lib/dname.h"
#include "policy.h"

/* Brings a pattern (wildcard allowed) or a host into the compared form.
 * Returns 0, or -1 when s cannot match anything (empty, too long). */
static int
policy_mx_canon(const char *s, bool wildcard, char out[LIMIT_DNAME_LEN + 1])
{
	size_t n = strlen(s);

	if (dname_normalize(s, n, wildcard, out, NULL) == 0)
		return 0;
	if (n > 0 && s[n - 1] == '.')
		n--;
	if (n == 0 || n > LIMIT_DNAME_LEN)
		return -1;
	for (size_t i = 0; i < n; i++)
		out[i] = s[i] >= 'A' && s[i] <= 'Z' ?
		    (char)(s[i] - 'A' + 'a') : s[i];
	out[n] = '\0';
	return 0;
}

/* Both arguments already canonical. */
static bool
policy_mx_match_canon(const char *pattern, const char *host)
{
	const char *dot;

	if (pattern[0] == '*' && pattern[1] == '.') {
		dot = strchr(host, '.');
		return dot != NULL && dot != host &&
		    strcmp(dot + 1, pattern + 2) == 0;
	}
	return strcmp(pattern, host) == 0;
}

bool
policy_mx_match(const char *pattern, const char *host)
{
	char p[LIMIT_DNAME_LEN + 1], h[LIMIT_DNAME_LEN + 1];

	if (pattern == NULL || host == NULL ||
	    policy_mx_canon(pattern, true, p) == -1 ||
	    policy_mx_canon(host, false, h) == -1)
		return false;
	return policy_mx_match_canon(p, h);
}

bool
policy_match(const struct policy *p, const char *host)
{
	char h[LIMIT_DNAME_LEN + 1], pat[LIMIT_DNAME_LEN + 1];

	if (host == NULL || policy_mx_canon(host, false, h) == -1)
		return false;
	for (size_t i = 0; i < p->mx.n; i++)
		if (p->mx.v[i] != NULL &&
		    policy_mx_canon(p->mx.v[i], true, pat) == 0 &&
		    policy_mx_match_canon(pat, h))
			return true;
	return false;
}
