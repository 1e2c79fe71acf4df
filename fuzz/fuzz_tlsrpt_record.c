/*
 * fuzz_tlsrpt_record.c - fuzz target for tlsrpt_record_parse().
 *
 * Input: any bytes, taken as the TXT record text (NULs included).
 * Property checked on every record that parses: 1..LIMIT_RUA_URIS URIs,
 * each mailto: or https:, and the record rebuilt from them as
 * "v=TLSRPTv1; rua=URI,URI..." parses again to the same list. A broken
 * property aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tlsrpt/tlsrpt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_tlsrpt_record: %s: %s\n", what, detail);
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tlsrpt_record r, r2 = { { 0 } };
	struct strv w = { 0 };
	char buf[LIMIT_TXT_BYTES + 64];
	size_t o;
	struct err e;

	if (tlsrpt_record_parse((const char *)data, size, &r, &w, &e) == -1)
		goto out;
	if (r.rua.n == 0 || r.rua.n > LIMIT_RUA_URIS)
		fuzz_fail("rua count", "out of range");
	o = (size_t)snprintf(buf, sizeof(buf), "v=TLSRPTv1; rua=");
	for (size_t i = 0; i < r.rua.n; i++) {
		if (strncasecmp(r.rua.v[i], "mailto:", 7) != 0 &&
		    strncasecmp(r.rua.v[i], "https:", 6) != 0)
			fuzz_fail("scheme", r.rua.v[i]);
		if (o < sizeof(buf))
			o += (size_t)snprintf(buf + o, sizeof(buf) - o,
			    "%s%s", i ? "," : "", r.rua.v[i]);
	}
	/* A rebuilt record over the limit (several rua= fields merged)
	 * would be refused for its size, which proves nothing. */
	if (o > LIMIT_TXT_BYTES)
		goto out;
	if (tlsrpt_record_parse(buf, o, &r2, NULL, &e) == -1)
		fuzz_fail(e.msg, buf);
	if (r2.rua.n != r.rua.n)
		fuzz_fail("rebuilt record has another rua count", buf);
	for (size_t i = 0; i < r.rua.n; i++)
		if (strcmp(r.rua.v[i], r2.rua.v[i]) != 0)
			fuzz_fail("rebuilt record reads differently", buf);
out:
	tlsrpt_record_free(&r);
	tlsrpt_record_free(&r2);
	strv_free(&w);
	return 0;
}
