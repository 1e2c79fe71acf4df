/*
 * gzip.c - bounded gzip (RFC 1952) inflate and deflate with zlib.
 *
 * Reads one or more concatenated gzip members:
 *
 *	stream  = member *member *%x00		; NUL padding after the
 *						; last member is ignored
 *	member  = header (1f 8b 08 ...) deflate-data crc32 isize
 *
 * The output buffer grows by doubling. zlib is always given one byte less
 * than the buffer holds, so that the NUL after the output fits whatever
 * size the output has (a report that inflates to exactly the buffer's
 * size once wrote its NUL past the end); and never more than max_out + 1
 * bytes of room, the extra byte telling "too big", so a bomb costs at
 * most max_out + 2 bytes of memory.
 * Past LIMIT_REPORT_GZIP_RATIO_FLOOR bytes of output, output / input must
 * stay within max_ratio, where input is the whole compressed buffer.
 *
 * Never reads files, never trusts the ISIZE trailer for sizing, never
 * accepts a zlib or raw deflate stream (gzip wrapper only).
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "gzip.h"
#include "limits.h"

/* First output buffer: 8x the input (reports compress 3-20x), at least
 * 16 KiB; it doubles from there. */
#define GZIP_FIRST_CAP (16 * 1024)

bool
gzip_is(const uint8_t *buf, size_t len)
{
	return len >= 2 && buf[0] == 0x1f && buf[1] == 0x8b;
}

static bool
gzip_all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/* Grows *out (*room bytes for zlib, plus one for the NUL) by doubling
 * the room, to at most limit. Returns 0, or -1 when the room is already
 * limit (the output is too big) or memory runs out. */
static int
gzip_grow(z_stream *zs, uint8_t **out, size_t *room, size_t limit,
    size_t max_out, struct err *e)
{
	size_t used = *room - zs->avail_out, nroom;
	uint8_t *n;

	if (*room >= limit)
		return err_set(e, "decompressed data exceeds %zu bytes",
		    max_out);
	nroom = *room > limit / 2 ? limit : *room * 2;
	if (nroom - used > UINT_MAX)
		nroom = used + UINT_MAX;
	if ((n = realloc(*out, nroom + 1)) == NULL)
		return err_set(e, "out of memory inflating %zu bytes", nroom);
	*out = n;
	*room = nroom;
	zs->next_out = n + used;
	zs->avail_out = (uInt)(nroom - used);
	return 0;
}

int
gzip_inflate(const uint8_t *buf, size_t len, size_t max_out,
    unsigned max_ratio, uint8_t **out, size_t *outlen, struct err *e)
{
	z_stream zs;
	uint8_t *o = NULL;
	size_t room, used = 0, limit;
	bool init = false;
	int rc = -1, zrc;

	*out = NULL;
	*outlen = 0;
	memset(&zs, 0, sizeof(zs));
	if (len > UINT_MAX || max_out >= SIZE_MAX - 2) {
		err_set(e, "gzip input of %zu bytes is too large", len);
		goto out;
	}
	if (!gzip_is(buf, len)) {
		err_set(e, "%s", len < 2 ? "gzip data truncated" :
		    "not gzip data (no 1f 8b magic)");
		goto out;
	}
	/* Room for zlib: max_out bytes, and one more to see it overflow. */
	limit = max_out + 1;
	room = len > SIZE_MAX / 8 ? SIZE_MAX : len * 8;
	if (room < GZIP_FIRST_CAP)
		room = GZIP_FIRST_CAP;
	if (room > limit)
		room = limit;
	if (room > UINT_MAX)
		room = UINT_MAX;
	if ((o = malloc(room + 1)) == NULL) {
		err_set(e, "out of memory");
		goto out;
	}
	/* 16 + MAX_WBITS: gzip wrapper only, with header and CRC checks. */
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
		err_set(e, "zlib: %s", zs.msg ? zs.msg : "init failed");
		goto out;
	}
	init = true;
	zs.next_in = (Bytef *)(uintptr_t)buf;
	zs.avail_in = (uInt)len;
	zs.next_out = o;
	zs.avail_out = (uInt)room;
	for (;;) {
		if (zs.avail_out == 0 &&
		    gzip_grow(&zs, &o, &room, limit, max_out, e) == -1)
			goto out;
		zrc = inflate(&zs, Z_NO_FLUSH);
		used = room - zs.avail_out;
		if (used > max_out) {
			err_set(e, "decompressed data exceeds %zu bytes",
			    max_out);
			goto out;
		}
		if (used > LIMIT_REPORT_GZIP_RATIO_FLOOR &&
		    (uint64_t)used > (uint64_t)len * max_ratio) {
			err_set(e, "compression ratio over %u:1 (%zu bytes "
			    "from %zu): refusing a likely gzip bomb",
			    max_ratio, used, len);
			goto out;
		}
		if (zrc == Z_STREAM_END) {
			/* Another member, NUL padding, or garbage. */
			if (zs.avail_in == 0 ||
			    gzip_all_zero(zs.next_in, zs.avail_in))
				break;
			if (!gzip_is(zs.next_in, zs.avail_in)) {
				err_set(e, "%u bytes of trailing garbage "
				    "after gzip data", zs.avail_in);
				goto out;
			}
			if (inflateReset(&zs) != Z_OK) {
				err_set(e, "zlib: inflateReset failed");
				goto out;
			}
			continue;
		}
		if (zrc == Z_OK)
			continue;
		if (zrc == Z_BUF_ERROR && zs.avail_in == 0) {
			err_set(e, "gzip data truncated");
			goto out;
		}
		if (zrc == Z_BUF_ERROR && zs.avail_out == 0)
			continue;	/* output full: grow and go on */
		err_set(e, "corrupt gzip data: %s",
		    zs.msg ? zs.msg : "zlib error");
		goto out;
	}
	o[used] = '\0';		/* used <= room: the buffer has room + 1 */
	*out = o;
	*outlen = used;
	o = NULL;
	rc = 0;
out:
	if (init)
		inflateEnd(&zs);
	free(o);
	return rc;
}

int
gzip_deflate(const uint8_t *buf, size_t len, uint8_t **out,
    size_t *outlen, struct err *e)
{
	z_stream zs;
	uint8_t *o = NULL;
	uLong bound;
	bool init = false;
	int rc = -1;

	*out = NULL;
	*outlen = 0;
	memset(&zs, 0, sizeof(zs));
	if (len > UINT_MAX / 2) {
		err_set(e, "gzip input of %zu bytes is too large", len);
		goto out;
	}
	/* Level 6, gzip wrapper (16 + MAX_WBITS), mtime 0, no file name:
	 * the same bytes for the same input, which keeps stored copies
	 * comparable. */
	if (deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK) {
		err_set(e, "zlib: %s", zs.msg ? zs.msg : "init failed");
		goto out;
	}
	init = true;
	bound = deflateBound(&zs, (uLong)len);
	if ((o = malloc(bound)) == NULL) {
		err_set(e, "out of memory");
		goto out;
	}
	zs.next_in = (Bytef *)(uintptr_t)buf;
	zs.avail_in = (uInt)len;
	zs.next_out = o;
	zs.avail_out = (uInt)bound;
	if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
		err_set(e, "zlib: %s", zs.msg ? zs.msg : "deflate failed");
		goto out;
	}
	*out = o;
	*outlen = zs.total_out;
	o = NULL;
	rc = 0;
out:
	if (init)
		deflateEnd(&zs);
	free(o);
	return rc;
}
