/*
 * test_chunked.c - the chunked body decoder (RFC 9112 §7.1): the grammar
 * case by case, its limits exactly and one past, and that every way of
 * splitting the input (and of sizing the output) decodes the same as
 * one call.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/http.h"

#define S(lit)	lit, sizeof(lit) - 1

/* What decoding one input gave, over all the calls it took. */
struct dec {
	enum http_chunked_result r;
	int	 status;
	size_t	 used;			/* input consumed, in all */
	size_t	 produced;		/* data written, in all */
	uint64_t total;			/* c.total at the end */
	uint8_t	*out;			/* the data (len + 1 bytes) */
};

/* Decodes in[0..len): a first call with in[0..cut), then pieces of step
 * bytes (0: the rest at once), each call with at most outcap bytes of
 * room (0: all the room left), until the decoder stops asking or the
 * input is used up. Checks the contract on every call. */
static void
dec_run(struct dec *d, const char *in, size_t len, uint64_t max,
    size_t cut, size_t step, size_t outcap)
{
	struct http_chunked c;
	size_t off = 0, piece = cut < len ? cut : len, used, produced, room;
	int st;

	memset(d, 0, sizeof(*d));
	d->out = malloc(len + 1);
	assert_non_null(d->out);
	http_chunked_init(&c, max);
	for (;;) {
		room = len + 1 - d->produced;
		if (outcap != 0 && outcap < room)
			room = outcap;
		st = -7;
		d->r = http_chunked_feed(&c, in + off, piece, d->out +
		    d->produced, room, &used, &produced, &st);
		assert_true(used <= piece);
		assert_true(produced <= room);
		assert_true(produced <= used);
		assert_true(c.total <= max);
		off += used;
		d->produced += produced;
		assert_int_equal(c.total, d->produced);
		if (d->r == HTTP_CHUNKED_ERROR)
			assert_true(st == 400 || st == 413 || st == 431);
		else
			assert_int_equal(st, 0);
		d->status = st;
		if (d->r != HTTP_CHUNKED_MORE || off == len)
			break;
		/* MORE with input left: out was full, or the piece used. */
		assert_true(used == piece || produced == room);
		piece = step == 0 || step > len - off ? len - off : step;
	}
	d->used = off;
	d->total = c.total;
	/* Once DONE or ERROR it stays so, and takes nothing. */
	if (d->r != HTTP_CHUNKED_MORE) {
		assert_int_equal(http_chunked_feed(&c, "0\r\n\r\n", 5, d->out,
		    1, &used, &produced, &st), d->r);
		assert_int_equal(used, 0);
		assert_int_equal(produced, 0);
		assert_int_equal(st, d->status);
	}
}

static void
dec_equal(const struct dec *a, const struct dec *b)
{
	assert_int_equal(a->r, b->r);
	assert_int_equal(a->status, b->status);
	assert_int_equal(a->used, b->used);
	assert_int_equal(a->produced, b->produced);
	assert_int_equal(a->total, b->total);
	assert_memory_equal(a->out, b->out, a->produced);
}

/* Decodes in one call, then checks that every split point (the cut,
 * then the rest), byte-at-a-time feeding, a one-byte output, odd pieces
 * with a two-byte output, and decoding in place all give the same. */
static void
decode(struct dec *d, const char *in, size_t len, uint64_t max)
{
	struct dec x;
	char *copy;

	dec_run(d, in, len, max, len, 0, 0);
	for (size_t cut = 0; cut <= len; cut++) {
		/* Long inputs (limits): every cut near the end and near
		 * where decoding stopped, one in 61 elsewhere. */
		if (len > 1024 && cut % 61 != 0 && cut + 40 < len &&
		    (cut + 40 < d->used || cut > d->used + 40))
			continue;
		dec_run(&x, in, len, max, cut, 0, 0);
		dec_equal(d, &x);
		free(x.out);
	}
	dec_run(&x, in, len, max, 0, 1, 0);
	dec_equal(d, &x);
	free(x.out);
	dec_run(&x, in, len, max, len, 0, 1);
	dec_equal(d, &x);
	free(x.out);
	dec_run(&x, in, len, max, 1, 3, 2);
	dec_equal(d, &x);
	free(x.out);

	/* In place: out is in itself. */
	if ((copy = malloc(len + 1)) != NULL) {
		struct http_chunked c;
		size_t used, produced;
		int st;

		memcpy(copy, in, len);
		http_chunked_init(&c, max);
		assert_int_equal(http_chunked_feed(&c, copy, len,
		    (uint8_t *)copy, len, &used, &produced, &st), d->r);
		assert_int_equal(used, d->used);
		assert_int_equal(produced, d->produced);
		assert_memory_equal(copy, d->out, produced);
		free(copy);
	}
}

/* Decodes and checks the outcome; the data when want_data is not NULL. */
static void
expect(const char *in, size_t len, uint64_t max,
    enum http_chunked_result r, int status, size_t used,
    const char *want_data)
{
	struct dec d;

	decode(&d, in, len, max);
	assert_int_equal(d.r, r);
	assert_int_equal(d.status, status);
	assert_int_equal(d.used, used);
	if (want_data != NULL) {
		assert_int_equal(d.produced, strlen(want_data));
		assert_memory_equal(d.out, want_data, d.produced);
	}
	free(d.out);
}

static void
expect_done(const char *in, size_t len, const char *data)
{
	expect(in, len, UINT64_MAX, HTTP_CHUNKED_DONE, 0, len, data);
}

/* Refused at in[at] (400), at any split. */
static void
expect_400(const char *in, size_t len, size_t at)
{
	expect(in, len, UINT64_MAX, HTTP_CHUNKED_ERROR, 400, at, NULL);
}

/* RFC 9112 has no example message; this is the one of MDN's
 * Transfer-Encoding page, with an extension and its trailer field. */
static void
test_example(void **state)
{
	static const char msg[] = "7\r\nMozilla\r\n"
	    "11;note=\"a \\\"quoted\\\" value\"\r\nDeveloper Network\r\n"
	    "0\r\nExpires: Wed, 21 Oct 2015 07:28:00 GMT\r\n\r\n";
	struct dec d;

	(void)state;
	decode(&d, S(msg), 24);
	assert_int_equal(d.r, HTTP_CHUNKED_DONE);
	assert_int_equal(d.used, sizeof(msg) - 1);
	assert_int_equal(d.total, 24);
	assert_memory_equal(d.out, "MozillaDeveloper Network", 24);
	free(d.out);
}

/* Every proper prefix asks for more, and nothing is wrong yet. */
static void
test_prefixes(void **state)
{
	static const char msg[] = "3;a=b\r\nabc\r\n0\r\nT: v\r\n\r\n";

	(void)state;
	for (size_t n = 0; n < sizeof(msg) - 1; n++)
		expect(msg, n, UINT64_MAX, HTTP_CHUNKED_MORE, 0, n, NULL);
	expect_done(S(msg), "abc");
}

/* Bodies exactly at max_data pass; one byte over is 413 from the size
 * line, before any byte of that chunk's data is read. */
static void
test_max_data(void **state)
{
	static const char msg[] = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
	const size_t line2 = strlen("5\r\nhello\r\n6\r\n");

	(void)state;
	expect(S(msg), 11, HTTP_CHUNKED_DONE, 0, sizeof(msg) - 1,
	    "hello world");
	expect(S(msg), 10, HTTP_CHUNKED_ERROR, 413, line2, "hello");
	/* The data need not arrive: the size line alone says it. */
	expect(S("6\r\n"), 5, HTTP_CHUNKED_ERROR, 413, 3, "");
	expect(S("6\n"), 5, HTTP_CHUNKED_ERROR, 413, 2, "");
	expect(S("6;x=y\r\nhello!"), 5, HTTP_CHUNKED_ERROR, 413, 7, "");
	expect(S("6\r\nhello!"), 6, HTTP_CHUNKED_MORE, 0, 9, "hello!");
	/* An empty body fits nothing at all. */
	expect(S("0\r\n\r\n"), 0, HTTP_CHUNKED_DONE, 0, 5, "");
	expect(S("1\r\n"), 0, HTTP_CHUNKED_ERROR, 413, 3, "");
	/* A malformed size line is 400 even when its size is too big. */
	expect(S("ff;=\r\n"), 5, HTTP_CHUNKED_ERROR, 400, 3, "");
}

static void
test_hex_case(void **state)
{
	char msg[64 + 0xab];
	size_t n;

	(void)state;
	for (int v = 0; v < 3; v++) {
		const char *size = v == 0 ? "ab" : v == 1 ? "AB" : "aB";

		n = (size_t)snprintf(msg, sizeof(msg), "%s\r\n", size);
		memset(msg + n, 'x', 0xab);
		n += 0xab;
		n += (size_t)snprintf(msg + n, sizeof(msg) - n, "\r\n0\r\n\r\n");
		expect(msg, n, 0xab, HTTP_CHUNKED_DONE, 0, n, NULL);
		expect(msg, n, 0xaa, HTTP_CHUNKED_ERROR, 413, 4, NULL);
	}
	expect_done(S("F\r\n0123456789abcde\r\n0\r\n\r\n"), "0123456789abcde");
	/* Leading zeros are digits like any other. */
	expect_done(S("0003\r\nabc\r\n000\r\n\r\n"), "abc");
}

static void
test_bad_size(void **state)
{
	(void)state;
	expect_400(S("\r\n"), 0);		/* no digit */
	expect_400(S("\n"), 0);
	expect_400(S(";a\r\n"), 0);
	expect_400(S(" 3\r\nabc\r\n"), 0);
	expect_400(S("+3\r\nabc\r\n"), 0);
	expect_400(S("-1\r\n"), 0);
	expect_400(S("0x3\r\nabc\r\n"), 1);
	expect_400(S("3g\r\n"), 1);
	expect_400(S("3\r\r\n"), 2);		/* a bare CR */
	expect_400(S("3\rabc"), 2);
}

/* 2^63 - 1 is a size (here too large: 413), 2^63 is not (400); 16 hex
 * digits at most, leading zeros included. */
static void
test_overflow(void **state)
{
	(void)state;
	expect(S("7fffffffffffffff\r\n"), UINT64_MAX, HTTP_CHUNKED_MORE, 0,
	    18, "");
	expect(S("7FFFFFFFFFFFFFFF\r\n"), UINT64_MAX >> 1, HTTP_CHUNKED_MORE,
	    0, 18, "");
	expect(S("7fffffffffffffff\r\n"), (UINT64_MAX >> 1) - 1,
	    HTTP_CHUNKED_ERROR, 413, 18, "");
	expect_400(S("8000000000000000\r\n"), 15);
	expect_400(S("ffffffffffffffff\r\n"), 15);
	expect_400(S("10000000000000000\r\n"), 16);
	expect_400(S("ffffffffffffffffffffffff\r\n"), 15);
	/* 17 digits, even as leading zeros: 400. */
	expect(S("0000000000000003\r\nabc\r\n0\r\n\r\n"), 3, HTTP_CHUNKED_DONE,
	    0, 28, "abc");
	expect_400(S("00000000000000003\r\nabc\r\n0\r\n\r\n"), 16);
	expect_400(S("00000000000000000\r\n\r\n"), 16);
}

static void
test_extensions(void **state)
{
	(void)state;
	expect_done(S("3;a\r\nabc\r\n0\r\n\r\n"), "abc");
	expect_done(S("3;a=b\r\nabc\r\n0;last\r\n\r\n"), "abc");
	expect_done(S("3 ;\ta = b ; c=\"\" ;d\r\nabc\r\n0\r\n\r\n"), "abc");
	expect_done(S("3;a=\"x;y=\\\"z\\\\\"\r\nabc\r\n0\r\n\r\n"), "abc");
	expect_done(S("3;a=\"\x80\xff\"\nabc\n0\n\n"), "abc");
	expect_done(S("3;a;b;c=d\r\nabc\r\n0\r\n\r\n"), "abc");
	expect_400(S("3;\r\nabc\r\n"), 2);	/* no name */
	expect_400(S("3;=b\r\nabc\r\n"), 2);
	expect_400(S("3;a=\r\nabc\r\n"), 4);	/* no value */
	expect_400(S("3;a=b c\r\nabc\r\n"), 6);
	expect_400(S("3;a b\r\n"), 4);
	expect_400(S("3;a=b;\r\n"), 6);
	expect_400(S("3;a=\"b\r\nabc\r\n"), 6);	/* line end in quotes */
	expect_400(S("3;a=\"b\"c\r\n"), 7);
	expect_400(S("3;a=\"\x01\"\r\n"), 5);
	expect_400(S("3;a=\"\\\r\n"), 6);
	expect_400(S("3;a(b)\r\n"), 3);
	/* Whitespace only where BWS stands: before ";" and around "=". */
	expect_400(S("3 \r\nabc\r\n"), 2);
	expect_400(S("3;a \r\n"), 4);
	expect_400(S("3;a=b\t\r\n"), 6);
	expect_400(S("3;a=\"b\" \r\n"), 8);
	expect_400(S("3\t\nabc\n"), 2);
}

/* The size line is at most 4096 bytes without its line end. */
static void
test_size_line_limit(void **state)
{
	const size_t max = 4096;
	char *buf = malloc(max + 64);
	size_t n;

	(void)state;
	assert_non_null(buf);
	for (int lf = 0; lf < 2; lf++) {
		for (int last = 0; last < 2; last++) {
			buf[0] = last ? '0' : '1';
			buf[1] = ';';
			memset(buf + 2, 'a', max - 2);
			n = max;
			n += (size_t)snprintf(buf + n, 64, "%s%s",
			    lf ? "\n" : "\r\n", last ? "\r\n" : "x\r\n0\r\n\r\n");
			expect(buf, n, 1, HTTP_CHUNKED_DONE, 0, n,
			    last ? "" : "x");
			/* One more byte: refused where it stands. */
			memmove(buf + 3, buf + 2, n - 2);
			expect(buf, n + 1, 1, HTTP_CHUNKED_ERROR, 400, max,
			    "");
			/* Unfinished, it is refused all the same. */
			expect(buf, max + 1, 1, HTTP_CHUNKED_ERROR, 400, max,
			    "");
		}
	}
	/* The limit is per line: two long ones are fine. */
	free(buf);
	buf = malloc(3 * max);
	assert_non_null(buf);
	n = 0;
	for (int i = 0; i < 2; i++) {
		buf[n++] = '1';
		buf[n++] = ';';
		memset(buf + n, 'b', max - 2);
		n += max - 2;
		memcpy(buf + n, "\r\nz\r\n", 5);
		n += 5;
	}
	memcpy(buf + n, "0\r\n\r\n", 5);
	n += 5;
	expect(buf, n, 2, HTTP_CHUNKED_DONE, 0, n, "zz");
	free(buf);
}

/* RFC 9112 §7.1: chunk-data is followed by CRLF (or LF, §2.2). */
static void
test_missing_crlf(void **state)
{
	(void)state;
	expect(S("3\r\nabcd\r\n0\r\n\r\n"), UINT64_MAX, HTTP_CHUNKED_ERROR,
	    400, 6, "abc");
	expect(S("3\r\nabc\r0\r\n\r\n"), UINT64_MAX, HTTP_CHUNKED_ERROR,
	    400, 7, "abc");
	expect(S("3\r\nabc0\r\n\r\n"), UINT64_MAX, HTTP_CHUNKED_ERROR, 400,
	    6, "abc");
	expect(S("3\r\nabc\r\n\r\n"), UINT64_MAX, HTTP_CHUNKED_ERROR, 400, 8,
	    "abc");
	/* The end of the body is a line end too. */
	expect_400(S("0\r\n\r\r\n"), 4);
	expect_400(S("0\r\nA: b\rx"), 8);
}

/* Bare LF everywhere CRLF goes, as in http_parse_request(). */
static void
test_bare_lf(void **state)
{
	(void)state;
	expect_done(S("3\nabc\n0\n\n"), "abc");
	expect_done(S("3\r\nabc\n2;x\nde\r\n0\nT: 1\r\nU: 2\n\r\n"), "abcde");
}

static void
test_trailers(void **state)
{
	(void)state;
	expect_done(S("0\r\nA: b\r\nC-D:\r\nE:  f g \t\r\n\r\n"), "");
	expect_done(S("3\r\nabc\r\n0\r\nX-Sum: \x80\xfe\r\n\r\n"), "abc");
	expect_400(S("0\r\nA\r\n\r\n"), 4);		/* no colon */
	expect_400(S("0\r\nA b: c\r\n\r\n"), 4);
	expect_400(S("0\r\n: c\r\n\r\n"), 3);		/* no name */
	expect_400(S("0\r\nA: b\r\n c\r\n\r\n"), 9);	/* obs-fold */
	expect_400(S("0\r\nA: b\x01\r\n\r\n"), 7);
	expect_400(S("0\r\nA: b\x7f\r\n\r\n"), 7);
	expect_400(S("0\r\nA : b\r\n\r\n"), 4);
}

/* At most LIMIT_HTTP_HEADERS fields and LIMIT_HTTP_HEADER_BYTES bytes
 * (the final line end included), else 431. */
static void
test_trailer_limits(void **state)
{
	char *buf = malloc(LIMIT_HTTP_HEADER_BYTES + 64);
	size_t n, at = 0;

	(void)state;
	assert_non_null(buf);
	n = (size_t)snprintf(buf, 8, "0\r\n");
	for (int i = 0; i <= LIMIT_HTTP_HEADERS; i++) {
		if (i == LIMIT_HTTP_HEADERS) {
			memcpy(buf + n, "\r\n", 2);
			expect(buf, n + 2, 0, HTTP_CHUNKED_DONE, 0, n + 2, "");
			at = n;
		}
		n += (size_t)snprintf(buf + n, 16, "F%d: v\r\n", i);
	}
	memcpy(buf + n, "\r\n", 2);
	expect(buf, n + 2, 0, HTTP_CHUNKED_ERROR, 431, at, "");

	/* One field filling the section: 3 + name ": " + value + CRLF +
	 * CRLF = LIMIT_HTTP_HEADER_BYTES after "0\r\n". */
	for (int lf = 0; lf < 2; lf++) {
		size_t eol = lf ? 1 : 2;

		n = (size_t)snprintf(buf, 8, "0\r\nX: ");
		memset(buf + n, 'v', LIMIT_HTTP_HEADER_BYTES - 3 - 2 * eol);
		n += LIMIT_HTTP_HEADER_BYTES - 3 - 2 * eol;
		memcpy(buf + n, lf ? "\n\n" : "\r\n\r\n", 2 * eol);
		n += 2 * eol;
		assert_int_equal(n, 3 + LIMIT_HTTP_HEADER_BYTES);
		expect(buf, n, 0, HTTP_CHUNKED_DONE, 0, n, "");
		memmove(buf + 7, buf + 6, n - 6);
		expect(buf, n + 1, 0, HTTP_CHUNKED_ERROR, 431, n, "");
		/* Without its line ends, it is not over yet; a line that
		 * runs on past the limit is refused at the same byte. */
		expect(buf, n + 1 - 2 * eol, 0, HTTP_CHUNKED_MORE, 0,
		    n + 1 - 2 * eol, "");
		memset(buf + 6, 'v', LIMIT_HTTP_HEADER_BYTES + 10);
		expect(buf, n + 10, 0, HTTP_CHUNKED_ERROR, 431, n, "");
	}
	free(buf);
}

/* The request after the body is not consumed (pipelining). */
static void
test_pipelined(void **state)
{
	static const char msg[] = "4\r\nbody\r\n0\r\nT: x\r\n\r\n"
	    "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
	const size_t body = strlen("4\r\nbody\r\n0\r\nT: x\r\n\r\n");

	(void)state;
	expect(S(msg), 4, HTTP_CHUNKED_DONE, 0, body, "body");
	expect(S("0\r\n\r\n0\r\n\r\n"), 0, HTTP_CHUNKED_DONE, 0, 5, "");
	expect(S("0\n\n\n"), 0, HTTP_CHUNKED_DONE, 0, 3, "");
}

/* A full out stops at the data and says how far it got. */
static void
test_out_full(void **state)
{
	static const char msg[] = "5\r\nhello\r\n0\r\n\r\n";
	struct http_chunked c;
	uint8_t out[8];
	size_t used, produced;
	int st;

	(void)state;
	http_chunked_init(&c, 100);
	/* No room: the size line is read, no data. */
	assert_int_equal(http_chunked_feed(&c, S(msg), NULL, 0, &used,
	    &produced, &st), HTTP_CHUNKED_MORE);
	assert_int_equal(used, 3);
	assert_int_equal(produced, 0);
	assert_int_equal(http_chunked_feed(&c, msg + 3, sizeof(msg) - 4, out,
	    2, &used, &produced, &st), HTTP_CHUNKED_MORE);
	assert_int_equal(used, 2);
	assert_int_equal(produced, 2);
	assert_memory_equal(out, "he", 2);
	assert_int_equal(c.total, 2);
	/* The rest of the data and the framing after it. */
	assert_int_equal(http_chunked_feed(&c, msg + 5, sizeof(msg) - 6, out,
	    sizeof(out), &used, &produced, &st), HTTP_CHUNKED_DONE);
	assert_int_equal(used, sizeof(msg) - 6);
	assert_int_equal(produced, 3);
	assert_memory_equal(out, "llo", 3);
	assert_int_equal(c.total, 5);
	assert_int_equal(st, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_max_data),
		cmocka_unit_test(test_hex_case),
		cmocka_unit_test(test_bad_size),
		cmocka_unit_test(test_overflow),
		cmocka_unit_test(test_extensions),
		cmocka_unit_test(test_size_line_limit),
		cmocka_unit_test(test_missing_crlf),
		cmocka_unit_test(test_bare_lf),
		cmocka_unit_test(test_trailers),
		cmocka_unit_test(test_trailer_limits),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_out_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
