/*
 * fuzz_tlsrpt.c - fuzz target for tlsrpt_parse() and tlsrpt_report_json().
 *
 * Input: any bytes (plain JSON or gzip, as the parser tells them apart).
 * Property checked on every report that parses: its normalized JSON
 * parses again, to the same number of policies and the same totals, and
 * normalizing once more changes nothing (the writer is a fixed point).
 * A broken property aborts, so libFuzzer and the replay main both see it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlsrpt/tlsrpt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_tlsrpt: %s: %s\n", what, detail);
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tlsrpt_report *r = NULL, *r2 = NULL;
	uint64_t ok, bad, ok2, bad2;
	char *j = NULL, *j2 = NULL;
	struct err e;

	if (tlsrpt_parse(data, size, &r, &e) == -1)
		goto out;
	if ((j = tlsrpt_report_json(r, 0)) == NULL)
		fuzz_fail("tlsrpt_report_json", "NULL");
	/* Normalizing may add a few bytes per policy; a text over the raw
	 * limit would be refused for its size, which proves nothing. */
	if (strlen(j) > LIMIT_REPORT_BYTES)
		goto out;
	if (tlsrpt_parse((const uint8_t *)j, strlen(j), &r2, &e) == -1)
		fuzz_fail("own JSON does not parse", e.msg);
	tlsrpt_totals(r, &ok, &bad);
	tlsrpt_totals(r2, &ok2, &bad2);
	if (r->npolicies != r2->npolicies || ok != ok2 || bad != bad2)
		fuzz_fail("round trip changed the report", j);
	if ((j2 = tlsrpt_report_json(r2, 0)) == NULL || strcmp(j, j2) != 0)
		fuzz_fail("normalized JSON is not a fixed point", j);
out:
	free(j);
	free(j2);
	tlsrpt_report_free(r);
	tlsrpt_report_free(r2);
	return 0;
}
