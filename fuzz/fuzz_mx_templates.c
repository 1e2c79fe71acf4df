/*
 * fuzz_mx_templates.c - fuzz target for policy_templates_parse, the mx
 * templates table (share/mx-templates.txt), and the lookups built on it.
 *
 * Properties checked on every input, each a crash (abort) when broken:
 *   - an accepted table has 1..LIMIT_TEMPLATE_ENTRIES templates, each
 *     with a provider of [a-z0-9-], 1..LIMIT_TEMPLATE_PATTERNS patterns
 *     and an https:// URL; a refused one leaves the table empty;
 *   - a host under each template's match finds a template, and mapping
 *     it gives at least one pattern;
 *   - no template's own patterns are "stray" for it.
 * Built with libFuzzer by `make fuzz`, and with fuzz/replay.c by `make
 * test`, which replays fuzz/corpus/mx_templates/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy_templates t;
	struct err e;

	if (policy_templates_parse((const char *)data, size, &t, &e) == -1) {
		if (t.t != NULL || t.n != 0 || e.msg[0] == '\0')
			abort();
		return 0;
	}
	if (t.n == 0 || t.n > LIMIT_TEMPLATE_ENTRIES)
		abort();
	for (size_t i = 0; i < t.n; i++) {
		const struct policy_template *tp = &t.t[i];
		char host[LIMIT_DNAME_LEN + 8];
		const char *h = host;
		struct strv out = { 0 };

		if (tp->provider[0] == '\0' || strspn(tp->provider,
		    "abcdefghijklmnopqrstuvwxyz0123456789-") !=
		    strlen(tp->provider) || tp->npat == 0 ||
		    tp->npat > LIMIT_TEMPLATE_PATTERNS ||
		    strncmp(tp->doc, "https://", 8) != 0)
			abort();
		for (size_t k = 0; k < tp->npat; k++)
			if (policy_template_stray(tp, tp->pat[k], NULL, 0))
				abort();
		if (tp->match[0] == '*') {
			if (strlen(tp->match) + 1 > LIMIT_DNAME_LEN)
				continue;	/* "a" + it would be too long */
			snprintf(host, sizeof(host), "a%s", tp->match + 1);
		} else {
			snprintf(host, sizeof(host), "%s", tp->match);
		}
		if (policy_template_find(&t, host) == NULL)
			abort();
		if (policy_template_map(&t, &h, 1, &out, NULL, &e) == 0 &&
		    out.n == 0)
			abort();
		strv_free(&out);
	}
	policy_templates_free(&t);
	return 0;
}
