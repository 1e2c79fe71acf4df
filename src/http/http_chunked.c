/*
 * http_chunked.c - an incremental decoder of chunked request bodies
 * (RFC 9112 §7.1), so that report intake can take a POST sent with
 * Transfer-Encoding: chunked.
 *
 *	chunked-body   = *chunk last-chunk trailer-section EOL
 *	chunk          = chunk-size [ chunk-ext ] EOL chunk-data EOL
 *	chunk-size     = 1*16HEXDIG            (below 2^63)
 *	last-chunk     = 1*("0") [ chunk-ext ] EOL
 *	chunk-ext      = *( BWS ";" BWS chunk-ext-name
 *	                    [ BWS "=" BWS chunk-ext-val ] )
 *	chunk-ext-name = token
 *	chunk-ext-val  = token / quoted-string
 *	trailer-section = *( field-line EOL )
 *	field-line     = field-name ":" OWS field-value OWS
 *	EOL            = CRLF / LF             (bare LF tolerated, §2.2, as
 *	                                        http_parse.c does)
 *
 * One byte at a time through a state machine (data bytes in runs), so
 * that any split of the input decodes the same: nothing is buffered,
 * the state is a few counters. Extensions and trailer fields are checked
 * against the grammar and dropped: stsguard has no use for them. The
 * grammar is taken strictly where leniency has let two parsers disagree
 * on where a body ends (request smuggling): whitespace only where BWS
 * stands (so "5 \r\n" is refused), no CR without its LF, no line end
 * inside a quoted-string, no obs-fold in trailers.
 *
 * Never allocates, never does I/O, keeps no globals.
 */
#include <string.h>

#include "http.h"

/* Hex digits of a chunk-size, leading zeros included: 16 hold 64 bits. */
#define CHUNK_SIZE_DIGITS 16
/* A chunk-size must stay below 2^63 (fits an int64_t or an off_t); a
 * size at or above it is malformed (400), not too large (413). A value
 * of CHUNK_SIZE_TOP or more cannot take another digit. */
#define CHUNK_SIZE_TOP ((uint64_t)1 << 59)
/* Trailer fields count against the same bounds as the request head's
 * (LIMIT_HTTP_HEADERS fields, LIMIT_HTTP_HEADER_BYTES bytes, answered
 * 431 like it), each section on its own: a trailer line is bounded by
 * the section's bytes. */

enum {
	CH_SIZE,		/* chunk-size */
	CH_SIZE_BWS,		/* BWS after the size or a value: ";" next */
	CH_EXT_NAME0,		/* after ";" BWS: the name's first tchar */
	CH_EXT_NAME,		/* chunk-ext-name */
	CH_EXT_NAME_BWS,	/* BWS after a name: "=" or ";" next */
	CH_EXT_VAL0,		/* after "=" BWS: a token or a quoted-string */
	CH_EXT_TOKEN,		/* chunk-ext-val as a token */
	CH_EXT_QUOTED,		/* inside a quoted-string */
	CH_EXT_QPAIR,		/* after "\" in a quoted-string */
	CH_EXT_QEND,		/* right after the closing DQUOTE */
	CH_SIZE_CR,		/* CR of the size line: LF next */
	CH_DATA,		/* chunk-data: c->chunk bytes to go */
	CH_DATA_END,		/* the line end after the data */
	CH_DATA_CR,		/* its CR: LF next */
	CH_TRAILER0,		/* a trailer line's start, or the final EOL */
	CH_TRAILER_NAME,	/* field-name */
	CH_TRAILER_VALUE,	/* ":" OWS field-value OWS */
	CH_TRAILER_CR,		/* a trailer line's CR: LF next */
	CH_FINAL_CR,		/* the final CR: LF next */
	CH_DONE,
	CH_ERROR,
};

static int
chunked_hex(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Field values and quoted-pair: VCHAR, obs-text, SP and HTAB. */
static bool
chunked_text(unsigned char ch)
{
	return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

static bool
chunked_ws(unsigned char ch)
{
	return ch == ' ' || ch == '\t';
}

/* Refuses the byte at hand: the state is sticky. Returns 0 (consumed
 * nothing). */
static int
chunked_fail(struct http_chunked *c, int status)
{
	c->state = CH_ERROR;
	c->status = status;
	return 0;
}

/* The size line has ended (its LF consumed). */
static int
chunked_size_done(struct http_chunked *c)
{
	if (c->chunk == 0) {			/* last-chunk */
		c->state = CH_TRAILER0;
		c->trailer = 0;
		c->fields = 0;
	} else if (c->chunk > c->max_data - c->total) {
		chunked_fail(c, 413);		/* the LF stays consumed */
	} else {
		c->state = CH_DATA;
	}
	return 1;
}

/* A CR or LF where the size line may end; any other byte is refused. */
static int
chunked_size_eol(struct http_chunked *c, unsigned char ch)
{
	if (ch == '\r') {
		c->state = CH_SIZE_CR;
		return 1;
	}
	if (ch == '\n')
		return chunked_size_done(c);
	return chunked_fail(c, 400);
}

/* One byte of the size line (any state before CH_SIZE_CR). Returns 1
 * when consumed, 0 when refused. */
static int
chunked_size_line(struct http_chunked *c, unsigned char ch)
{
	int d;

	if (ch != '\r' && ch != '\n' && ++c->line > LIMIT_HTTP_CHUNK_LINE)
		return chunked_fail(c, 400);
	switch (c->state) {
	case CH_SIZE:
		if ((d = chunked_hex(ch)) >= 0) {
			if (++c->digits > CHUNK_SIZE_DIGITS ||
			    c->chunk >= CHUNK_SIZE_TOP)
				return chunked_fail(c, 400);
			c->chunk = c->chunk * 16 + (uint64_t)d;
			return 1;
		}
		if (c->digits == 0)
			return chunked_fail(c, 400);
		if (chunked_ws(ch))
			c->state = CH_SIZE_BWS;
		else if (ch == ';')
			c->state = CH_EXT_NAME0;
		else
			return chunked_size_eol(c, ch);
		return 1;
	case CH_SIZE_BWS:
		if (ch == ';')
			c->state = CH_EXT_NAME0;
		else if (!chunked_ws(ch))
			return chunked_fail(c, 400);
		return 1;
	case CH_EXT_NAME0:
		if (http_tchar[ch])
			c->state = CH_EXT_NAME;
		else if (!chunked_ws(ch))
			return chunked_fail(c, 400);
		return 1;
	case CH_EXT_NAME:
		if (http_tchar[ch])
			return 1;
		if (chunked_ws(ch))
			c->state = CH_EXT_NAME_BWS;
		else if (ch == '=')
			c->state = CH_EXT_VAL0;
		else if (ch == ';')
			c->state = CH_EXT_NAME0;
		else
			return chunked_size_eol(c, ch);
		return 1;
	case CH_EXT_NAME_BWS:
		if (ch == '=')
			c->state = CH_EXT_VAL0;
		else if (ch == ';')
			c->state = CH_EXT_NAME0;
		else if (!chunked_ws(ch))
			return chunked_fail(c, 400);
		return 1;
	case CH_EXT_VAL0:
		if (http_tchar[ch])
			c->state = CH_EXT_TOKEN;
		else if (ch == '"')
			c->state = CH_EXT_QUOTED;
		else if (!chunked_ws(ch))
			return chunked_fail(c, 400);
		return 1;
	case CH_EXT_TOKEN:
	case CH_EXT_QEND:
		if (c->state == CH_EXT_TOKEN && http_tchar[ch])
			return 1;
		if (chunked_ws(ch))
			c->state = CH_SIZE_BWS;
		else if (ch == ';')
			c->state = CH_EXT_NAME0;
		else
			return chunked_size_eol(c, ch);
		return 1;
	case CH_EXT_QUOTED:
		/* qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text */
		if (ch == '"')
			c->state = CH_EXT_QEND;
		else if (ch == '\\')
			c->state = CH_EXT_QPAIR;
		else if (!chunked_text(ch))
			return chunked_fail(c, 400);
		return 1;
	case CH_EXT_QPAIR:
		if (!chunked_text(ch))
			return chunked_fail(c, 400);
		c->state = CH_EXT_QUOTED;
		return 1;
	default:
		return chunked_fail(c, 400);	/* not reached */
	}
}

/* One byte of the trailer section. Returns 1 when consumed, 0 when
 * refused. */
static int
chunked_trailer(struct http_chunked *c, unsigned char ch)
{
	if (++c->trailer > LIMIT_HTTP_HEADER_BYTES)
		return chunked_fail(c, 431);
	switch (c->state) {
	case CH_TRAILER0:
		if (ch == '\r') {
			c->state = CH_FINAL_CR;
		} else if (ch == '\n') {
			c->state = CH_DONE;
		} else if (http_tchar[ch]) {
			if (c->fields >= LIMIT_HTTP_HEADERS)
				return chunked_fail(c, 431);
			c->fields++;
			c->state = CH_TRAILER_NAME;
		} else {
			return chunked_fail(c, 400);	/* obs-fold too */
		}
		return 1;
	case CH_TRAILER_NAME:
		if (ch == ':')
			c->state = CH_TRAILER_VALUE;
		else if (!http_tchar[ch])
			return chunked_fail(c, 400);
		return 1;
	case CH_TRAILER_VALUE:
		if (ch == '\r')
			c->state = CH_TRAILER_CR;
		else if (ch == '\n')
			c->state = CH_TRAILER0;
		else if (!chunked_text(ch))
			return chunked_fail(c, 400);
		return 1;
	case CH_TRAILER_CR:
	case CH_FINAL_CR:
		if (ch != '\n')
			return chunked_fail(c, 400);
		c->state = c->state == CH_FINAL_CR ? CH_DONE : CH_TRAILER0;
		return 1;
	default:
		return chunked_fail(c, 400);	/* not reached */
	}
}

/* One byte outside the data. Returns 1 when consumed, 0 when refused. */
static int
chunked_step(struct http_chunked *c, unsigned char ch)
{
	switch (c->state) {
	case CH_SIZE_CR:
		if (ch != '\n')
			return chunked_fail(c, 400);
		return chunked_size_done(c);
	case CH_DATA_END:
	case CH_DATA_CR:
		if (ch == '\r' && c->state == CH_DATA_END) {
			c->state = CH_DATA_CR;
			return 1;
		}
		if (ch != '\n')
			return chunked_fail(c, 400);
		c->state = CH_SIZE;
		c->chunk = 0;
		c->digits = 0;
		c->line = 0;
		return 1;
	case CH_TRAILER0:
	case CH_TRAILER_NAME:
	case CH_TRAILER_VALUE:
	case CH_TRAILER_CR:
	case CH_FINAL_CR:
		return chunked_trailer(c, ch);
	default:
		return chunked_size_line(c, ch);
	}
}

void
http_chunked_init(struct http_chunked *c, uint64_t max_data)
{
	memset(c, 0, sizeof(*c));
	c->max_data = max_data;
	c->state = CH_SIZE;
}

enum http_chunked_result
http_chunked_feed(struct http_chunked *c, const char *in, size_t len,
    uint8_t *out, size_t outcap, size_t *used, size_t *produced, int *status)
{
	size_t i = 0, o = 0;

	while (i < len && c->state != CH_DONE && c->state != CH_ERROR) {
		if (c->state == CH_DATA) {
			size_t n = len - i;

			if (n > c->chunk)
				n = (size_t)c->chunk;
			if (n > outcap - o)
				n = outcap - o;
			if (n == 0)
				break;			/* out is full */
			/* memmove: out may be in itself (in place). */
			memmove(out + o, in + i, n);
			i += n;
			o += n;
			c->chunk -= n;
			c->total += n;
			if (c->chunk == 0)
				c->state = CH_DATA_END;
			continue;
		}
		i += (size_t)chunked_step(c, (unsigned char)in[i]);
	}
	*used = i;
	*produced = o;
	*status = 0;
	if (c->state == CH_DONE)
		return HTTP_CHUNKED_DONE;
	if (c->state == CH_ERROR) {
		*status = c->status;
		return HTTP_CHUNKED_ERROR;
	}
	return HTTP_CHUNKED_MORE;
}
