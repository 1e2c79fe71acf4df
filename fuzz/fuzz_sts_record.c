/*
 * fuzz_sts_record.c - fuzz target for sts_record_parse and
 * sts_record_select (RFC 8461 §3.1).
 *
 * Properties checked on every input, each a crash (abort) when broken:
 *   - an accepted record has an id of 1 to 32 letters and digits, and a
 *     refused one leaves it empty;
 *   - selecting among { input } agrees with parsing it: 0 with the same
 *     id when the parse succeeds, 1 or -1 when it does not;
 *   - selecting among { input, input } never succeeds when the input is
 *     an STSv1 record (two such records mean no policy);
 *   - "v=STSv1; id=<id>" built from the id parses back to the same id.
 * Built with libFuzzer by `make fuzz`, and with fuzz/replay.c by `make
 * test`, which replays fuzz/corpus/sts_record/.
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
	const char *txt = (const char *)data, *txts[2] = { txt, txt };
	size_t lens[2] = { size, size }, n;
	struct sts_record r, r2;
	struct strv w = { 0 };
	struct err e;
	char again[64];
	int ok, sel;

	ok = sts_record_parse(txt, size, &r, &w, &e) == 0;
	sel = sts_record_select(txts, lens, 1, &r2, &e);
	if (!ok) {
		if (r.id[0] != '\0' || sel == 0)
			abort();
		goto out;
	}
	n = strlen(r.id);
	if (n < 1 || n > LIMIT_STS_ID_LEN ||
	    strspn(r.id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789") != n)
		abort();
	if (sel != 0 || strcmp(r.id, r2.id) != 0)
		abort();
	if (sts_record_select(txts, lens, 2, &r2, &e) != -1)
		abort();
	n = (size_t)snprintf(again, sizeof(again), "v=STSv1; id=%s", r.id);
	if (sts_record_parse(again, n, &r2, NULL, &e) != 0 ||
	    strcmp(r.id, r2.id) != 0)
		abort();
out:
	strv_free(&w);
	return 0;
}
