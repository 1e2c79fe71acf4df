/*
 * test_http.c - the HTTP/1.1 request head parser, cases from RFC 9112 and
 * RFC 9110, and the Host normalization used for policy lookups.
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

static enum http_parse
parse(const char *s, struct http_request *r, int *status)
{
	return http_parse_request(s, strlen(s), r, status);
}

static void
test_simple_get(void **state)
{
	struct http_request r;
	int st;
	const char *req = "GET /.well-known/mta-sts.txt HTTP/1.1\r\n"
	    "Host: mta-sts.example.com\r\nUser-Agent: x/1\r\n\r\n";

	(void)state;
	assert_int_equal(parse(req, &r, &st), HTTP_PARSE_DONE);
	assert_int_equal(r.method, HTTP_GET);
	assert_int_equal(r.path_len, strlen("/.well-known/mta-sts.txt"));
	assert_memory_equal(r.path, "/.well-known/mta-sts.txt", r.path_len);
	assert_int_equal(r.host_len, strlen("mta-sts.example.com"));
	assert_memory_equal(r.host, "mta-sts.example.com", r.host_len);
	assert_memory_equal(r.user_agent, "x/1", 3);
	assert_true(r.keep_alive);
	assert_false(r.has_body);
	assert_int_equal(r.head_len, strlen(req));
}

/* The API reads the bearer token: one Authorization field, two are 400
 * (which would the server believe?). */
static void
test_authorization(void **state)
{
	struct http_request r;
	int st;

	(void)state;
	assert_int_equal(parse("GET /api/v1/domains HTTP/1.1\r\nHost: s\r\n"
	    "authorization:  Bearer sgt_abc \r\n\r\n", &r, &st),
	    HTTP_PARSE_DONE);
	assert_int_equal(r.authorization_len, strlen("Bearer sgt_abc"));
	assert_memory_equal(r.authorization, "Bearer sgt_abc",
	    r.authorization_len);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: s\r\n\r\n", &r, &st),
	    HTTP_PARSE_DONE);
	assert_null(r.authorization);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: s\r\nAuthorization: "
	    "Bearer a\r\nAuthorization: Bearer b\r\n\r\n", &r, &st),
	    HTTP_PARSE_ERROR);
	assert_int_equal(st, 400);
}

/* The web front reads the session cookie and the Origin: the first of
 * each is kept (RFC 6265 §5.4: a user agent sends one Cookie field);
 * PATCH and DELETE are methods of their own. */
static void
test_cookie_origin(void **state)
{
	struct http_request r;
	int st;

	(void)state;
	assert_int_equal(parse("PATCH /api/v1/domains/a HTTP/1.1\r\n"
	    "Host: s\r\nCOOKIE: sg=abc; t=1 \r\nCookie: sg=evil\r\n"
	    "origin: https://s\r\nOrigin: https://evil\r\n\r\n", &r, &st),
	    HTTP_PARSE_DONE);
	assert_int_equal(r.method, HTTP_PATCH);
	assert_int_equal(r.cookie_len, strlen("sg=abc; t=1"));
	assert_memory_equal(r.cookie, "sg=abc; t=1", r.cookie_len);
	assert_int_equal(r.origin_len, strlen("https://s"));
	assert_memory_equal(r.origin, "https://s", r.origin_len);
	assert_int_equal(parse("DELETE /x HTTP/1.1\r\nHost: s\r\n\r\n",
	    &r, &st), HTTP_PARSE_DONE);
	assert_int_equal(r.method, HTTP_DELETE);
	assert_null(r.cookie);
	assert_null(r.origin);
	assert_int_equal(parse("PUT /x HTTP/1.1\r\nHost: s\r\n\r\n",
	    &r, &st), HTTP_PARSE_DONE);
	assert_int_equal(r.method, HTTP_OTHER);
}

/* Report intake reads these to answer 411/413/100 before the body. */
static void
test_post_intake_head(void **state)
{
	const char *req = "POST /tlsrpt/abc HTTP/1.1\r\nHost: sts.example\r\n"
	    "Content-Type: application/tlsrpt+gzip\r\n"
	    "Content-Length: 1234\r\nExpect: 100-continue\r\n\r\n";
	const char *nolen = "POST /tlsrpt/abc HTTP/1.1\r\nHost: sts.example\r\n"
	    "Content-Type: application/tlsrpt+json\r\n\r\n";
	struct http_request r;
	int st;

	(void)state;
	assert_int_equal(parse(req, &r, &st), HTTP_PARSE_DONE);
	assert_int_equal(r.method, HTTP_POST);
	assert_true(r.has_length);
	assert_true(r.expect_continue);
	assert_int_equal(r.content_length, 1234);
	assert_int_equal(r.content_type_len,
	    strlen("application/tlsrpt+gzip"));
	assert_memory_equal(r.content_type, "application/tlsrpt+gzip",
	    r.content_type_len);
	assert_int_equal(parse(nolen, &r, &st), HTTP_PARSE_DONE);
	assert_false(r.has_length);
	assert_false(r.expect_continue);
}

static void
test_incomplete(void **state)
{
	const char *req = "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n";
	struct http_request r;
	int st;

	(void)state;
	/* Every proper prefix needs more bytes. */
	for (size_t n = 0; n < strlen(req); n++)
		assert_int_equal(http_parse_request(req, n, &r, &st),
		    HTTP_PARSE_MORE);
	assert_int_equal(parse(req, &r, &st), HTTP_PARSE_DONE);
}

static void
test_pipelined(void **state)
{
	const char *req = "HEAD /a HTTP/1.1\r\nHost: h.example\r\n\r\n"
	    "GET /b HTTP/1.1\r\nHost: h.example\r\n\r\n";
	struct http_request r;
	int st;

	(void)state;
	assert_int_equal(parse(req, &r, &st), HTTP_PARSE_DONE);
	assert_int_equal(r.method, HTTP_HEAD);
	assert_int_equal(parse(req + r.head_len, &r, &st), HTTP_PARSE_DONE);
	assert_int_equal(r.method, HTTP_GET);
	assert_memory_equal(r.path, "/b", 2);
}

static void
test_bare_lf_and_query(void **state)
{
	struct http_request r;
	int st;

	(void)state;
	assert_int_equal(parse("GET /x?y=1 HTTP/1.1\nHost: h.example\n\n", &r,
	    &st), HTTP_PARSE_DONE);
	assert_int_equal(r.path_len, 2);
	assert_int_equal(r.target_len, 6);
}

static void
test_connection(void **state)
{
	struct http_request r;
	int st;

	(void)state;
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: h\r\n"
	    "Connection: keep-alive, Close\r\n\r\n", &r, &st),
	    HTTP_PARSE_DONE);
	assert_false(r.keep_alive);
	/* HTTP/1.0: close unless asked; no Host needed. */
	assert_int_equal(parse("GET / HTTP/1.0\r\n\r\n", &r, &st),
	    HTTP_PARSE_DONE);
	assert_false(r.keep_alive);
	assert_int_equal(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n"
	    "\r\n", &r, &st), HTTP_PARSE_DONE);
	assert_true(r.keep_alive);
}

static void
test_absolute_form(void **state)
{
	struct http_request r;
	int st;

	(void)state;
	/* RFC 9112 §3.2.2: the target's authority wins over Host. */
	assert_int_equal(parse("GET https://mta-sts.a.example/.well-known/"
	    "mta-sts.txt HTTP/1.1\r\nHost: mta-sts.b.example\r\n\r\n", &r,
	    &st), HTTP_PARSE_DONE);
	assert_memory_equal(r.host, "mta-sts.a.example", r.host_len);
	assert_memory_equal(r.path, "/.well-known/mta-sts.txt", r.path_len);
	assert_int_equal(parse("GET http://u@h.example/ HTTP/1.1\r\nHost: h\r\n"
	    "\r\n", &r, &st), HTTP_PARSE_ERROR);
}

static void
expect_error(const char *req, int status)
{
	struct http_request r;
	int st = 0;

	assert_int_equal(http_parse_request(req, strlen(req), &r, &st),
	    HTTP_PARSE_ERROR);
	assert_int_equal(st, status);
}

static void
test_errors(void **state)
{
	(void)state;
	expect_error("GET / HTTP/1.1\r\n\r\n", 400);		/* no Host */
	expect_error("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
	expect_error("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400);
	expect_error("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400);
	expect_error("GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n", 400);
	expect_error("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	expect_error("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	expect_error("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505);
	expect_error("GET / FOO/1.1\r\nHost: a\r\n\r\n", 400);
	expect_error("GET relative HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	expect_error("GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	/* RFC 9112 §6.1: both framings is smuggling. */
	expect_error("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", 400);
	expect_error("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
	    "Content-Length: 4\r\n\r\n", 400);
	expect_error("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n"
	    "\r\n", 400);
	expect_error("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip"
	    "\r\n\r\n", 501);
}

static void
test_body_framing(void **state)
{
	struct http_request r;
	int st;

	(void)state;
	assert_int_equal(parse("POST /t HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 12\r\nContent-Length: 12\r\n\r\n", &r, &st),
	    HTTP_PARSE_DONE);
	assert_true(r.has_body);
	assert_int_equal(r.content_length, 12);
	assert_int_equal(parse("POST /t HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", &r, &st), HTTP_PARSE_DONE);
	assert_true(r.chunked);
}

static void
test_limits(void **state)
{
	char *big = malloc(LIMIT_HTTP_HEADER_BYTES + 64);
	struct http_request r;
	size_t n;
	int st;

	(void)state;
	assert_non_null(big);
	/* A request line over its limit, even before its end: 414. */
	memcpy(big, "GET /", 5);
	memset(big + 5, 'a', LIMIT_HTTP_REQUEST_LINE + 10);
	assert_int_equal(http_parse_request(big, LIMIT_HTTP_REQUEST_LINE + 15,
	    &r, &st), HTTP_PARSE_ERROR);
	assert_int_equal(st, 414);
	/* Exactly at the limit, CRLF and LF alike: taken; one more: 414.
	 * A CR just past the limit may still start the line's CRLF. */
	for (int crlf = 0; crlf < 2; crlf++) {
		size_t line = LIMIT_HTTP_REQUEST_LINE, end;

		memcpy(big, "GET /", 5);
		memset(big + 5, 'a', line - 5 - 9);
		memcpy(big + line - 9, " HTTP/1.1", 9);
		assert_int_equal(http_parse_request(big, line, &r, &st),
		    HTTP_PARSE_MORE);
		if (crlf) {
			big[line] = '\r';
			assert_int_equal(http_parse_request(big, line + 1, &r,
			    &st), HTTP_PARSE_MORE);
		}
		end = line + crlf;
		n = (size_t)snprintf(big + end, 64, "\nHost: a\r\n\r\n");
		assert_int_equal(http_parse_request(big, end + n, &r, &st),
		    HTTP_PARSE_DONE);
		assert_int_equal(r.target_len, line - 4 - 9);
		/* One byte more in the target: 414, whole or unfinished. */
		memmove(big + 6, big + 5, end + n - 5);
		assert_int_equal(http_parse_request(big, end + n + 1, &r, &st),
		    HTTP_PARSE_ERROR);
		assert_int_equal(st, 414);
		assert_int_equal(http_parse_request(big, line + 1, &r, &st),
		    HTTP_PARSE_ERROR);
		assert_int_equal(st, 414);
	}
	/* A head that does not end within the limit: 431. */
	n = (size_t)snprintf(big, 64, "GET / HTTP/1.1\r\nX-A: ");
	memset(big + n, 'a', LIMIT_HTTP_HEADER_BYTES + 10 - n);
	assert_int_equal(http_parse_request(big, LIMIT_HTTP_HEADER_BYTES + 10,
	    &r, &st), HTTP_PARSE_ERROR);
	assert_int_equal(st, 431);
	/* Just under the limit, still incomplete: more. */
	assert_int_equal(http_parse_request(big, LIMIT_HTTP_HEADER_BYTES - 1,
	    &r, &st), HTTP_PARSE_MORE);
	free(big);
}

static void
test_too_many_fields(void **state)
{
	char buf[4096];
	size_t n;

	(void)state;
	n = (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\n");
	for (int i = 0; i < LIMIT_HTTP_HEADERS + 1; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X: %d\r\n", i);
	snprintf(buf + n, sizeof(buf) - n, "\r\n");
	expect_error(buf, 431);
}

static void
test_host_normalize(void **state)
{
	char out[LIMIT_DNAME_LEN + 1];

	(void)state;
	assert_int_equal(http_host_normalize("MTA-STS.Example.COM.:443", 24,
	    out), 19);
	assert_string_equal(out, "mta-sts.example.com");
	assert_int_equal(http_host_normalize("a.example", 9, out), 9);
	assert_int_equal(http_host_normalize("a.example:", 10, out), -1);
	assert_int_equal(http_host_normalize("[::1]:443", 9, out), -1);
	assert_int_equal(http_host_normalize("a b", 3, out), -1);
	assert_int_equal(http_host_normalize("", 0, out), -1);
	assert_int_equal(http_host_normalize(":443", 4, out), -1);
}

static void
test_error_response(void **state)
{
	char buf[512];
	size_t n;
	const char *want = "HTTP/1.1 405 Method Not Allowed\r\n"
	    "Content-Type: text/plain\r\nContent-Length: 23\r\n"
	    "Allow: GET, HEAD\r\nConnection: close\r\n\r\n"
	    "405 Method Not Allowed\n";

	(void)state;
	n = http_error_response(buf, sizeof(buf), 405, NULL,
	    "Allow: GET, HEAD\r\n", true, false);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(buf, want, n);
	assert_int_equal(http_error_response(buf, 10, 404, NULL, NULL, false,
	    false), 0);
}

static void
test_date_line(void **state)
{
	char d[HTTP_DATE_LINE_LEN + 1];

	(void)state;
	/* RFC 9110 §5.6.7's example. */
	assert_int_equal(http_date_line(784111777, d), HTTP_DATE_LINE_LEN);
	assert_string_equal(d, "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n");
}

/* A response head: lengths computed, never counted by hand. */
static void
test_response_head(void **state)
{
	char buf[256];
	size_t n;

	n = http_response_head(buf, sizeof(buf), 201, "Date: x\r\n",
	    "application/json", 12345, "Retry-After: 60\r\n", true);
	buf[n] = '\0';
	assert_string_equal(buf, "HTTP/1.1 201 Created\r\nDate: x\r\n"
	    "Content-Type: application/json\r\nContent-Length: 12345\r\n"
	    "Retry-After: 60\r\nConnection: close\r\n\r\n");
	assert_int_equal(n, strlen(buf));
	/* Exactly fitting, and one byte short. */
	assert_int_equal(http_response_head(buf, n, 201, "Date: x\r\n",
	    "application/json", 12345, "Retry-After: 60\r\n", true), n);
	assert_int_equal(http_response_head(buf, n - 1, 201, "Date: x\r\n",
	    "application/json", 12345, "Retry-After: 60\r\n", true), 0);
	n = http_response_head(buf, sizeof(buf), 200, NULL, "text/plain", 0,
	    NULL, false);
	buf[n] = '\0';
	assert_string_equal(buf, "HTTP/1.1 200 OK\r\nContent-Type: "
	    "text/plain\r\nContent-Length: 0\r\n\r\n");
}

/* The route table is data: first match of listener, host, path and
 * method wins; paths that matched without their method make the 405's
 * Allow. */
static void
test_route_find(void **state)
{
	static const struct http_route t[] = {
		{ HTTP_LISTEN_TLS, false, "/p.txt",
		    HTTP_M(HTTP_GET) | HTTP_M(HTTP_HEAD), 1 },
		{ HTTP_LISTEN_TLS, true, "/in/", HTTP_M_ANY, 2 },
		{ HTTP_LISTEN_PLAIN, false, "/a/", HTTP_M(HTTP_GET), 3 },
		{ HTTP_LISTEN_PLAIN, false, "/",
		    HTTP_M(HTTP_GET) | HTTP_M(HTTP_HEAD), 4 },
	};
	const size_t n = sizeof(t) / sizeof(t[0]);
	struct http_request r;
	const struct http_route *x;
	unsigned allow;
	char line[64];

	memset(&r, 0, sizeof(r));
	r.method = HTTP_GET;
	r.path = "/p.txt";
	r.path_len = 6;
	x = http_route_find(t, n, HTTP_LISTEN_TLS, false, &r, &allow);
	assert_non_null(x);
	assert_int_equal(x->id, 1);
	/* On the other listener, "/" takes it; exact means exact. */
	x = http_route_find(t, n, HTTP_LISTEN_PLAIN, false, &r, &allow);
	assert_non_null(x);
	assert_int_equal(x->id, 4);
	r.path = "/p.txtx";
	r.path_len = 7;
	assert_null(http_route_find(t, n, HTTP_LISTEN_TLS, false, &r,
	    &allow));
	assert_int_equal(allow, 0);
	/* A path that matched but not its method: 405, Allow GET, HEAD. */
	r.path = "/p.txt";
	r.path_len = 6;
	r.method = HTTP_POST;
	assert_null(http_route_find(t, n, HTTP_LISTEN_TLS, false, &r,
	    &allow));
	assert_int_equal(allow, HTTP_M(HTTP_GET) | HTTP_M(HTTP_HEAD));
	assert_int_equal(http_allow_line(allow, line, sizeof(line)), 18);
	assert_string_equal(line, "Allow: GET, HEAD\r\n");
	assert_int_equal(http_allow_line(allow, line, 19), 18);
	assert_int_equal(http_allow_line(allow, line, 18), 0);
	/* A prefix, only for the service's own name, any method. */
	r.path = "/in/abc";
	r.path_len = 7;
	r.method = HTTP_OTHER;
	assert_null(http_route_find(t, n, HTTP_LISTEN_TLS, false, &r,
	    &allow));
	x = http_route_find(t, n, HTTP_LISTEN_TLS, true, &r, &allow);
	assert_non_null(x);
	assert_int_equal(x->id, 2);
	r.path = "/in";
	r.path_len = 3;
	assert_null(http_route_find(t, n, HTTP_LISTEN_TLS, true, &r, &allow));
	/* Plain: the first whose method fits; "/" catches the rest. */
	r.path = "/a/b";
	r.path_len = 4;
	r.method = HTTP_HEAD;
	x = http_route_find(t, n, HTTP_LISTEN_PLAIN, false, &r, &allow);
	assert_non_null(x);
	assert_int_equal(x->id, 4);
	r.method = HTTP_POST;
	assert_null(http_route_find(t, n, HTTP_LISTEN_PLAIN, false, &r,
	    &allow));
	assert_int_equal(allow, HTTP_M(HTTP_GET) | HTTP_M(HTTP_HEAD));
	assert_int_equal(http_allow_line(HTTP_M(HTTP_GET) | HTTP_M(HTTP_PATCH)
	    | HTTP_M(HTTP_DELETE), line, sizeof(line)), 27);
	assert_string_equal(line, "Allow: GET, PATCH, DELETE\r\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_get),
		cmocka_unit_test(test_authorization),
		cmocka_unit_test(test_cookie_origin),
		cmocka_unit_test(test_incomplete),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_bare_lf_and_query),
		cmocka_unit_test(test_connection),
		cmocka_unit_test(test_absolute_form),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_body_framing),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_too_many_fields),
		cmocka_unit_test(test_host_normalize),
		cmocka_unit_test(test_error_response),
		cmocka_unit_test(test_date_line),
		cmocka_unit_test(test_post_intake_head),
		cmocka_unit_test(test_route_find),
		cmocka_unit_test(test_response_head),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
