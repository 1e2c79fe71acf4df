/*
 * fuzz_seal.c - fuzz target for seal_decrypt and seal_key_parse (the
 * sides of src/lib/seal.c that read bytes from the store and from the
 * operator's key file).
 *
 * Properties checked on every input, each a crash (abort) when broken:
 *   - seal_key_parse accepts only 32 bytes or 64 hex digits (+ space);
 *   - seal_decrypt under a fixed key accepts only inputs of at least
 *     SEAL_OVERHEAD bytes that start with the magic, and gives back
 *     exactly n - SEAL_OVERHEAD bytes, NUL-terminated;
 *   - the input's tail sealed under the fixed key opens again to the
 *     same bytes, and not under another key.
 * Built with libFuzzer by `make fuzz`, and with fuzz/replay.c by `make
 * test`, which replays fuzz/corpus/seal/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/seal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned char fuzz_key[SEAL_KEY_LEN] = {
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
	17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char k[SEAL_KEY_LEN], other[SEAL_KEY_LEN], *p = NULL;
	unsigned char *s = NULL, *q = NULL;
	size_t pn, sn, qn;
	struct err e;

	if (seal_key_parse(data, size, k, &e) == 0 && size != SEAL_KEY_LEN &&
	    size < 64)
		abort();
	if (seal_decrypt(fuzz_key, data, size, &p, &pn, &e) == 0) {
		if (size < SEAL_OVERHEAD || pn != size - SEAL_OVERHEAD ||
		    memcmp(data, SEAL_MAGIC, SEAL_MAGIC_LEN) != 0 ||
		    p[pn] != '\0')
			abort();
	} else if (p != NULL) {
		abort();
	}
	free(p);
	p = NULL;
	if (size > SEAL_MAX_PLAIN)
		return 0;
	if (seal_encrypt(fuzz_key, data, size, &s, &sn, &e) == -1)
		abort();
	if (seal_decrypt(fuzz_key, s, sn, &q, &qn, &e) == -1 || qn != size ||
	    memcmp(q, data, size) != 0)
		abort();
	free(q);
	q = NULL;
	memcpy(other, fuzz_key, sizeof(other));
	other[31] ^= 0xff;
	if (seal_decrypt(other, s, sn, &q, &qn, &e) == 0)
		abort();
	free(s);
	return 0;
}
