/*
 * http.h - a small HTTP/1.1 request parser (RFC 9112) and the response
 * bytes of stsguard's HTTP front.
 *
 * Pure: bytes in, a request struct or an error status out. No sockets, no
 * allocation, no globals; the daemon owns the I/O and the fuzzer and unit
 * tests call these directly. The parser reads only the request head:
 * request line and header fields, bounded by LIMIT_HTTP_* of limits.h.
 * Bodies are framed (Content-Length, or chunked flagged) but not read:
 * the daemon reads a body itself, into its own buffer, and only for the
 * report intake route (daemon_intake.c) and the REST API (web_serve); a
 * chunked one through the decoder below (http_chunked_feed).
 */
#ifndef STSGUARD_HTTP_H
#define STSGUARD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/limits.h"

enum http_method {
	HTTP_OTHER = 0,		/* a valid token we do not serve */
	HTTP_GET,
	HTTP_HEAD,
	HTTP_POST,
	HTTP_PATCH,		/* the REST API's changes */
	HTTP_DELETE,
};

/* A parsed request head. Every pointer points into the caller's buffer
 * (borrowed until the buffer changes); absent fields have len 0. */
struct http_request {
	enum http_method method;
	const char *method_str;	size_t method_len;
	const char *target;	size_t target_len;	/* as sent */
	const char *path;	size_t path_len;	/* target without query,
							 * origin form */
	const char *host;	size_t host_len;	/* Host, or the authority
							 * of an absolute-form
							 * target; port kept */
	const char *user_agent;	size_t user_agent_len;
	const char *content_type; size_t content_type_len;
	const char *authorization; size_t authorization_len;	/* one at
							 * most: two are 400 */
	const char *cookie;	size_t cookie_len;	/* the first Cookie
							 * field (RFC 6265
							 * §5.4: a user agent
							 * sends one) */
	const char *origin;	size_t origin_len;	/* the first Origin
							 * field */
	unsigned minor;			/* HTTP/1.minor, 0 or 1 */
	bool	 keep_alive;		/* after version and Connection */
	bool	 has_body;		/* Content-Length > 0 or chunked */
	bool	 chunked;		/* Transfer-Encoding: chunked */
	uint64_t content_length;	/* bytes, when !chunked */
	bool	 has_length;		/* a Content-Length field was sent */
	bool	 expect_continue;	/* Expect: 100-continue */
	size_t	 head_len;		/* bytes of the head, blank line
					 * included: the next request (or the
					 * body) starts there */
};

enum http_parse {
	HTTP_PARSE_DONE = 0,	/* *r filled */
	HTTP_PARSE_MORE = 1,	/* need more bytes; nothing is wrong yet */
	HTTP_PARSE_ERROR = -1,	/* answer *status and close */
};

/* Parses the request head at the start of buf[0..len). Accepts CRLF or
 * bare LF line ends, origin-form and absolute-form targets, and "*" for
 * OPTIONS. Returns HTTP_PARSE_DONE with *r filled, HTTP_PARSE_MORE when
 * the head is incomplete and still within limits, or HTTP_PARSE_ERROR
 * with *status set: 400 (malformed: bad token, missing or repeated Host
 * in HTTP/1.1, obs-fold, control bytes, conflicting Content-Length,
 * Content-Length with Transfer-Encoding), 414 (request line over
 * LIMIT_HTTP_REQUEST_LINE), 431 (head over LIMIT_HTTP_HEADER_BYTES or
 * more than LIMIT_HTTP_HEADERS fields), 501 (a Transfer-Encoding other
 * than chunked), 505 (not HTTP/1.x). */
enum http_parse http_parse_request(const char *buf, size_t len,
	    struct http_request *r, int *status);

/* Normalizes a Host value for lookups: drops a ":port" (digits) and one
 * trailing dot, lower-cases. Writes at most LIMIT_DNAME_LEN bytes plus a
 * NUL into out. Returns the length, or -1 when it cannot be a DNS name
 * (empty, too long, bad characters, IPv6 literal). */
int	http_host_normalize(const char *host, size_t len,
	    char out[LIMIT_DNAME_LEN + 1]);

/* RFC 9110 §5.6.2 tchar: 1 for the bytes a token may hold (the parsers
 * of the head and of chunked bodies share it). */
extern const unsigned char http_tchar[256];

/* --- chunked request bodies (http_chunked.c) ------------------------ */

enum http_chunked_result {
	HTTP_CHUNKED_DONE = 0,	/* the last chunk and the trailer section
				 * were read; the body is whole */
	HTTP_CHUNKED_MORE = 1,	/* call again: with more input, or (when
				 * *used < len) with room in out */
	HTTP_CHUNKED_ERROR = -1,	/* answer *status and close */
};

/* An incremental decoder of one chunked body (RFC 9112 §7.1). Set up by
 * http_chunked_init(); total is for the caller to read, the other fields
 * are the decoder's own. 40 bytes, no pointers: keep it in the
 * connection. */
struct http_chunked {
	uint64_t max_data;	/* data bytes allowed in all */
	uint64_t total;		/* data bytes decoded so far, <= max_data */
	uint64_t chunk;		/* the size being read, then the data bytes
				 * of the current chunk still to come */
	uint32_t line;		/* bytes of the size line so far, its end
				 * not counted */
	uint32_t trailer;	/* bytes of the trailer section so far */
	uint16_t fields;	/* trailer fields so far */
	uint8_t	 digits;	/* hex digits of the size so far */
	uint8_t	 state;		/* where in the grammar (http_chunked.c) */
	int	 status;	/* 400, 413 or 431 once in error */
};

/* Starts decoding a body that may carry at most max_data data bytes. */
void	http_chunked_init(struct http_chunked *c, uint64_t max_data);

/* Decodes in[0..len): copies the data bytes to out (at most outcap; out
 * may be NULL when outcap is 0), sets *used to the input bytes consumed
 * and *produced to the bytes written to out (never more than *used: out
 * may be in itself, to decode in place, or anywhere before it in the
 * same buffer; no other overlap). The bytes from in + *used on are not
 * looked at: the caller passes them again.
 * Returns:
 * HTTP_CHUNKED_MORE: *used == len: the input is used up, send more;
 *	*used < len: out is full (the next bytes are data), call again with
 *	in + *used and room in out. Nothing is wrong yet.
 * HTTP_CHUNKED_DONE: the final line end of the trailer section was
 *	read; *used ends right after it, so in + *used is the next
 *	request's (pipelined) first byte. c->total is the body's length.
 *	Trailer fields are checked but dropped.
 * HTTP_CHUNKED_ERROR: *status is 400 (malformed: a size that is not
 *	1 to 16 hex digits or is 2^63 or more, a bad chunk extension, no
 *	line end after the data, a bad trailer line, a bare CR, a size line
 *	over 4096 bytes without its line end), 413 (the chunk announced would take the
 *	data past max_data: found at the end of its size line, before any
 *	of its data is read; *used ends after that line) or 431 (more than
 *	LIMIT_HTTP_HEADERS trailer fields, or a trailer section, its last
 *	line end included, over LIMIT_HTTP_HEADER_BYTES). On 400 and 431,
 *	in[*used] is the byte that broke the rule. Data this call wrote
 *	before the error is in *produced. Either way the framing is lost:
 *	answer and close, never read the next request.
 * Line ends are CRLF or a bare LF, as in http_parse_request(). Once DONE
 * or ERROR, further calls return the same with *used = *produced = 0.
 * Pure: no allocation, no I/O, no globals; any split of the input gives
 * the same data, result and status as one call. */
enum http_chunked_result http_chunked_feed(struct http_chunked *c,
	    const char *in, size_t len, uint8_t *out, size_t outcap,
	    size_t *used, size_t *produced, int *status);

/* --- routes (http_route.c) ------------------------------------------ */

/* Which listener a request came on. */
enum {
	HTTP_LISTEN_TLS = 1,	/* HTTPS */
	HTTP_LISTEN_PLAIN = 2,	/* plain HTTP */
};

#define HTTP_M(m)	(1u << (m))	/* a method's bit */
#define HTTP_M_ANY	0xffffffffu	/* every method (the handler says
					 * which it takes) */

/* One route: requests on one of listeners, for Host service_host only
 * when service_host is set, whose path is path (or starts with it, when
 * it ends in '/'), with a method in methods, go to handler id (the
 * caller's). A table of them is data a reader can scan; the daemon's is
 * in daemon_serve.c. */
struct http_route {
	unsigned	 listeners;	/* HTTP_LISTEN_* bits */
	bool		 service_host;	/* only Host = the service's name */
	const char	*path;		/* exact, or a prefix ending in '/' */
	unsigned	 methods;	/* HTTP_M() bits */
	int		 id;		/* the handler, the caller's number */
};

/* The first route of t[0..n) that takes r on listener (service_host:
 * r's Host is the service's name), or NULL: then *allow holds the
 * methods of the routes whose path matched (non-zero: answer 405 with
 * an Allow of them; zero: 404). Pure. */
const struct http_route *http_route_find(const struct http_route *t,
	    size_t n, unsigned listener, bool service_host,
	    const struct http_request *r, unsigned *allow);

/* Writes "Allow: GET, HEAD\r\n" for the method bits in allow into out
 * (NUL-terminated). Returns the length, 0 when cap is too small. */
size_t	http_allow_line(unsigned allow, char *out, size_t cap);

/* The reason phrase of a status code we send ("Not Found"), or "Error". */
const char *http_reason(int status);

/* Writes the head of a response into buf: status line, date_line (a
 * "Date: ...\r\n" line, or NULL), Content-Type, Content-Length of
 * body_len (computed, never counted by hand), extra (more header lines
 * each ending in CRLF, or NULL), "Connection: close" when close, and the
 * blank line; the body is the caller's to append. Returns the length, or
 * 0 when cap is too small. */
size_t	http_response_head(char *buf, size_t cap, int status,
	    const char *date_line, const char *content_type, size_t body_len,
	    const char *extra, bool close);

/* Writes a complete response with a short text/plain body ("404 Not
 * Found\n") into buf: status line, date_line (a "Date: ...\r\n" line, or
 * NULL), Content-Type, Content-Length, extra (more header lines each
 * ending in CRLF, or NULL), "Connection: close" when close, blank line,
 * and the body unless head_only. Returns the length, or 0 when cap is too
 * small. */
size_t	http_error_response(char *buf, size_t cap, int status,
	    const char *date_line, const char *extra, bool close,
	    bool head_only);

/* Formats "Date: <IMF-fixdate>\r\n" for t into out (HTTP_DATE_LINE_LEN
 * bytes plus a NUL). Returns the length. */
#define HTTP_DATE_LINE_LEN 37
size_t	http_date_line(long long t, char out[HTTP_DATE_LINE_LEN + 1]);

#endif
