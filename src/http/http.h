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
 * report intake route (daemon_intake.c).
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
