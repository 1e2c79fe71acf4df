/*
 * fuzz_policy.c - fuzz target for policy_parse (RFC 8461 §3.2).
 *
 * Properties checked on every input, each a crash (abort) when broken:
 *   - a refused body leaves the policy empty;
 *   - an accepted policy passes policy_validate (parser and validator
 *     agree), and its canonical form (policy_render) parses again to the
 *     same policy and renders to the same bytes;
 *   - every mx pattern of an accepted policy is already what
 *     dname_normalize would make of it, and the policy matches a host
 *     built from each pattern.
 * Built with libFuzzer by `make fuzz`, and with fuzz/replay.c by `make
 * test`, which replays fuzz/corpus/policy/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/dname.h"
#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_policy_same(const struct policy *a, const struct policy *b)
{
	if (a->mode != b->mode || a->max_age != b->max_age ||
	    a->mx.n != b->mx.n)
		abort();
	for (size_t i = 0; i < a->mx.n; i++)
		if (strcmp(a->mx.v[i], b->mx.v[i]) != 0)
			abort();
}

static void
fuzz_policy_mx(const struct policy *p)
{
	char norm[LIMIT_DNAME_LEN + 1], host[LIMIT_DNAME_LEN + 8];
	const char *m;

	for (size_t i = 0; i < p->mx.n; i++) {
		m = p->mx.v[i];
		if (dname_normalize(m, strlen(m), true, norm, NULL) != 0 ||
		    strcmp(norm, m) != 0)
			abort();
		/* "*.rest" is matched by "x.rest", anything else by itself. */
		if (m[0] == '*') {
			host[0] = 'x';
			memcpy(host + 1, m + 1, strlen(m));
		} else
			memcpy(host, m, strlen(m) + 1);
		if (!policy_match(p, host) || !policy_mx_match(m, host))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy p, p2 = { 0 };
	struct strv w = { 0 };
	struct err e;
	char *r1 = NULL, *r2 = NULL;
	size_t n1, n2;

	if (policy_parse((const char *)data, size, &p, &w, &e) == -1) {
		if (p.mx.n != 0 || p.mx.v != NULL || p.mode != POLICY_MODE_NONE)
			abort();
		goto out;
	}
	if (policy_validate(&p, &e) != 0)
		abort();
	if ((r1 = policy_render(&p, &n1)) == NULL)
		goto out;
	if (strlen(r1) != n1 || n1 > LIMIT_POLICY_BYTES)
		abort();
	if (policy_parse(r1, n1, &p2, NULL, &e) != 0)
		abort();
	fuzz_policy_same(&p, &p2);
	if ((r2 = policy_render(&p2, &n2)) == NULL)
		goto out;
	if (n1 != n2 || memcmp(r1, r2, n1) != 0)
		abort();
	fuzz_policy_mx(&p);
out:
	free(r1);
	free(r2);
	policy_free(&p);
	policy_free(&p2);
	strv_free(&w);
	return 0;
}
