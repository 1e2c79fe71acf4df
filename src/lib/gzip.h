/*
 * gzip.h - bounded decompression of gzip (RFC 1952) data with zlib.
 *
 * Untrusted input: the output size and the compression ratio are checked
 * while inflating, so a gzip bomb costs at most max_out bytes.
 */
#ifndef STSGUARD_GZIP_H
#define STSGUARD_GZIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* True when buf starts with the gzip magic bytes 1f 8b. */
bool	gzip_is(const uint8_t *buf, size_t len);

/* Inflates the gzip stream in buf into a new buffer (*out, *outlen; caller
 * frees; NUL-terminated for convenience, the NUL not counted). Fails with a
 * reason when the stream is truncated or corrupt, when the output would
 * exceed max_out bytes, or when, past LIMIT_REPORT_GZIP_RATIO_FLOOR bytes
 * of output, output/len exceeds max_ratio. Concatenated members are
 * inflated in turn; NUL padding after the last one is ignored, any other
 * trailing byte is an error. Returns 0 or -1 (*out is then NULL). */
int	gzip_inflate(const uint8_t *buf, size_t len, size_t max_out,
	    unsigned max_ratio, uint8_t **out, size_t *outlen, struct err *e);

/* Compresses buf into a new gzip buffer (caller frees): level 6, mtime 0,
 * no file name, so equal input gives equal bytes. For storing raw report
 * bytes. Returns 0 or -1. */
int	gzip_deflate(const uint8_t *buf, size_t len, uint8_t **out,
	    size_t *outlen, struct err *e);

#endif
