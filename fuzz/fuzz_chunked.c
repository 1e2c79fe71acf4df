/*
 * fuzz_chunked.c - libFuzzer target for the chunked body decoder: decodes
 * the body in one call (in place), then in pieces and with a small
 * output, then a byte at a time, and checks that all three give the same
 * data, result, status and input consumed, and that no call breaks the
 * contract (used and produced within what was given, produced <= used,
 * total within max_data).
 *
 * Input: a header of 3 + P bytes, then the body.
 *	byte 0     P = byte % 16: how many piece lengths follow
 *	byte 1     max_data: the byte itself below 0xf0, else max_tab[byte
 *	           - 0xf0] (the intake limits and the 2^63 edge)
 *	byte 2     room in out per call for the pieces; 0: all there is
 *	bytes 3..  P piece lengths, used in turn; 0 makes an empty call
 *	           (then one byte); no piece lengths: the whole rest
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint64_t max_tab[16] = {
	16, 300, 1000, 4096, 4097, 8192, 65536, LIMIT_INTAKE_BODY_BYTES,
	LIMIT_HTTP_BODY_BYTES, UINT32_MAX, (UINT64_MAX >> 1) - 1,
	UINT64_MAX >> 1, (UINT64_MAX >> 1) + 1, UINT64_MAX - 1, UINT64_MAX,
	(uint64_t)1 << 40,
};

struct outcome {
	enum http_chunked_result r;
	int	 status;
	size_t	 used;
	size_t	 produced;
	uint64_t total;
};

/* One call, checked against the contract. */
static enum http_chunked_result
feed(struct http_chunked *c, const char *in, size_t len, uint8_t *out,
    size_t cap, size_t *used, size_t *produced, int *status)
{
	uint64_t before = c->total;
	enum http_chunked_result r;

	*status = -1;
	r = http_chunked_feed(c, in, len, out, cap, used, produced, status);
	if (*used > len || *produced > cap || *produced > *used ||
	    c->total > c->max_data || c->total != before + *produced)
		abort();
	if (r == HTTP_CHUNKED_ERROR ? !(*status == 400 || *status == 413 ||
	    *status == 431) : *status != 0)
		abort();
	/* MORE with input left only when out is full. */
	if (r == HTTP_CHUNKED_MORE && *used < len && *produced != cap)
		abort();
	return r;
}

/* Sticky: once DONE or ERROR, a call takes nothing and says the same. */
static void
check_sticky(struct http_chunked *c, const struct outcome *o, uint8_t *out)
{
	size_t used, produced;
	int status;

	if (o->r == HTTP_CHUNKED_MORE)
		return;
	if (feed(c, "0\r\n\r\n", 5, out, 1, &used, &produced, &status) !=
	    o->r || used != 0 || produced != 0 || status != o->status)
		abort();
}

static void
same(const struct outcome *a, const uint8_t *adata, const struct outcome *b,
    const uint8_t *bdata)
{
	if (a->r != b->r || a->status != b->status || a->used != b->used ||
	    a->produced != b->produced || a->total != b->total ||
	    memcmp(adata, bdata, a->produced) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_chunked c;
	struct outcome one, split, bytes;
	const uint8_t *pieces;
	size_t npieces, len, k = 0, used, produced;
	uint64_t max;
	size_t cap_sel;
	char *in = NULL, *copy = NULL;
	uint8_t *out = NULL;

	if (size < 3 || size < 3 + (size_t)(data[0] % 16))
		return 0;
	npieces = data[0] % 16;
	max = data[1] < 0xf0 ? data[1] : max_tab[data[1] - 0xf0];
	cap_sel = data[2];
	pieces = data + 3;
	len = size - 3 - npieces;
	/* Copies of exactly len bytes, so that ASan sees any overread. */
	in = malloc(len ? len : 1);
	copy = malloc(len ? len : 1);
	out = malloc(len + 1);
	if (in == NULL || copy == NULL || out == NULL)
		goto out;
	memcpy(in, data + 3 + npieces, len);
	memcpy(copy, in, len);

	/* One call, in place: out is in itself and never full. */
	http_chunked_init(&c, max);
	one.r = feed(&c, copy, len, (uint8_t *)copy, len, &one.used,
	    &one.produced, &one.status);
	one.total = c.total;
	if (one.total != one.produced ||
	    (one.r == HTTP_CHUNKED_MORE && one.used != len))
		abort();
	/* Where it stopped: after a LF (DONE, 413), at a byte (400, 431). */
	if ((one.r == HTTP_CHUNKED_DONE || one.status == 413) &&
	    (one.used == 0 || in[one.used - 1] != '\n'))
		abort();
	if ((one.status == 400 || one.status == 431) && one.used >= len)
		abort();
	check_sticky(&c, &one, out);

	/* In pieces, out of at most cap_sel bytes a call. */
	http_chunked_init(&c, max);
	memset(&split, 0, sizeof(split));
	for (bool empty = false;;) {
		size_t piece = len - split.used, room = len + 1 -
		    split.produced, want = SIZE_MAX;

		if (npieces > 0)
			want = pieces[k++ % npieces];
		if (want == 0 && empty)
			want = 1;	/* after an empty call, a byte */
		empty = want == 0;
		if (want < piece)
			piece = want;
		if (cap_sel != 0 && cap_sel < room)
			room = cap_sel;
		split.r = feed(&c, in + split.used, piece, out +
		    split.produced, room, &used, &produced, &split.status);
		if (split.r == HTTP_CHUNKED_MORE && piece > 0 && used == 0 &&
		    produced == 0)
			abort();		/* no progress */
		split.used += used;
		split.produced += produced;
		if (split.r != HTTP_CHUNKED_MORE || split.used == len)
			break;
	}
	split.total = c.total;
	same(&one, (uint8_t *)copy, &split, out);
	check_sticky(&c, &split, out);

	/* A byte at a time, one byte of room. */
	http_chunked_init(&c, max);
	memset(&bytes, 0, sizeof(bytes));
	memset(out, 0, len + 1);
	do {
		bytes.r = feed(&c, in + bytes.used, len > bytes.used, out +
		    bytes.produced, 1, &used, &produced, &bytes.status);
		bytes.used += used;
		bytes.produced += produced;
	} while (bytes.r == HTTP_CHUNKED_MORE && bytes.used < len);
	bytes.total = c.total;
	same(&one, (uint8_t *)copy, &bytes, out);
out:
	free(in);
	free(copy);
	free(out);
	return 0;
}
