/*
 * fuzz_route.c - fuzz target for the daemon's HTTP router: the request
 * parser, Host normalization, the route table (daemon_routes through
 * http_route_find) and the report intake route's decision on a request
 * head (intake_route), with a real policy table built from a store.
 *
 * Input: the first byte picks the listener (bit 0: plain HTTP, else
 * HTTPS); the rest is a connection's bytes, parsed request after
 * request as the daemon does (a body stops it: the daemon reads bodies
 * itself). The store, made once, hosts example.com, whose intake token
 * is fixed (FUZZ_TOKEN) so that seeds can reach the intake route's
 * every answer; the service's name is sts.example.net.
 *
 * Checked: a route's listener, path and method match the request; a
 * 405's Allow line is well-formed; intake_route answers only the
 * statuses it documents, each with a JSON body ({"error": ...}) that
 * parses, and reads a body only for POST of a chunked body or of a
 * Content-Length from 1 to LIMIT_INTAKE_BODY_BYTES, with a report media
 * type and the known token, naming example.com; a POST that meets all
 * of these is read (a chunked body's size is decided while it is read,
 * never from the head). A broken property aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "daemon/daemon_int.h"
#include "http/http.h"
#include "policy/policy.h"
#include "store/store.h"

#define FUZZ_TOKEN	"0123456789abcdef0123456789abcdef"
#define FUZZ_SERVICE	"sts.example.net"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct daemon fuzz_d;

static void
fuzz_fail(const char *what)
{
	fprintf(stderr, "fuzz_route: %s\n", what);
	abort();
}

/* The daemon's table, once: a store in a scratch directory with
 * example.com (mx *.example.com), its token set to FUZZ_TOKEN. */
static void
fuzz_init(void)
{
	char dir[] = "/tmp/fuzz_route.XXXXXX", path[64];
	struct store_domain dom = { 0 };
	struct store *s = NULL;
	struct policy p;
	struct ptable *t;
	struct err e;
	sqlite3 *db;

	if (mkdtemp(dir) == NULL)
		fuzz_fail("mkdtemp");
	memset(&p, 0, sizeof(p));
	p.mode = POLICY_MODE_TESTING;
	p.max_age = 86400;
	if (strv_push(&p.mx, "*.example.com") == -1 ||
	    store_open_at(NULL, dir, &s, &e) == -1 ||
	    store_domain_add(s, "default", "example.com", &p, &dom, &e)
	    == -1)
		fuzz_fail(e.msg);
	store_domain_free(&dom);
	policy_free(&p);
	snprintf(path, sizeof(path), "%s/stsguard.db", dir);
	if (sqlite3_open(path, &db) != SQLITE_OK || sqlite3_exec(db,
	    "UPDATE domain SET token = '" FUZZ_TOKEN "'", NULL, NULL, NULL)
	    != SQLITE_OK)
		fuzz_fail("set the token");
	sqlite3_close(db);
	if ((t = ptable_build(s, time(NULL), &e)) == NULL)
		fuzz_fail(e.msg);
	store_close(s);
	unlink(path);
	snprintf(path, sizeof(path), "%s/stsguard.db-wal", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/stsguard.db-shm", dir);
	unlink(path);
	rmdir(dir);
	fuzz_d.service_host = FUZZ_SERVICE;
	atomic_store(&fuzz_d.table, t);
}

/* The intake route's decision on r: only documented answers. */
static void
fuzz_intake(const struct http_request *r, const char *host)
{
	char domain[LIMIT_DNAME_LEN + 1], json[INTAKE_JSON_LEN];
	size_t jl = 0;
	json_t *j;
	bool sized, framed;
	int st;

	st = intake_route(&fuzz_d, r, host, domain, json, &jl);
	if (st == INTAKE_NONE)
		fuzz_fail("intake route: not taken on its own path");
	sized = r->has_length && r->content_length > 0 &&
	    r->content_length <= LIMIT_INTAKE_BODY_BYTES;
	framed = r->chunked || sized;
	if (st == INTAKE_READ_BODY) {
		if (r->method != HTTP_POST || !framed ||
		    strcmp(domain, "example.com") != 0)
			fuzz_fail("intake route: reads a body it must not");
		return;
	}
	/* The framing answers come from the head's framing alone: never
	 * for a chunked body, whose size is known only once read. */
	if ((st == 400 && (r->chunked || !r->has_length ||
	    r->content_length != 0)) ||
	    (st == 411 && (r->chunked || r->has_length)) ||
	    (st == 413 && (r->chunked ||
	    r->content_length <= LIMIT_INTAKE_BODY_BYTES)))
		fuzz_fail("intake route: a framing answer its head does not "
		    "call for");
	if (st != 400 && st != 404 && st != 405 && st != 411 && st != 413 &&
	    st != 415)
		fuzz_fail("intake route: undocumented status");
	if (jl == 0 || jl >= INTAKE_JSON_LEN || json[jl] != '\0' ||
	    (j = json_loadb(json, jl, 0, NULL)) == NULL)
		fuzz_fail("intake route: answer is not JSON");
	if (!json_is_string(json_object_get(j, "error")))
		fuzz_fail("intake route: no error in the answer");
	json_decref(j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char host[LIMIT_DNAME_LEN + 1], allow[64];
	struct http_request r;
	unsigned listener, methods;
	char *copy;
	int status, hlen;

	if (atomic_load(&fuzz_d.table) == NULL)
		fuzz_init();
	if (size == 0)
		return 0;
	listener = data[0] & 1 ? HTTP_LISTEN_PLAIN : HTTP_LISTEN_TLS;
	data++;
	size--;
	/* A copy of exactly size bytes, so ASan sees any overread. */
	if ((copy = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	for (size_t off = 0; off < size;) {
		const struct http_route *x;
		bool service;

		if (http_parse_request(copy + off, size - off, &r, &status) !=
		    HTTP_PARSE_DONE)
			break;
		hlen = http_host_normalize(r.host, r.host_len, host);
		service = hlen > 0 && strcmp(host, FUZZ_SERVICE) == 0;
		x = http_route_find(daemon_routes, daemon_nroutes, listener,
		    service, &r, &methods);
		if (x != NULL) {
			size_t pl = strlen(x->path);

			if (!(x->listeners & listener) ||
			    !(x->methods & HTTP_M(r.method)) ||
			    (x->service_host && !service) ||
			    r.path_len < pl || memcmp(r.path, x->path, pl) != 0)
				fuzz_fail("route does not match the request");
			if (x->service_host)	/* the intake route */
				fuzz_intake(&r, host);
			else if (hlen > 0)
				(void)ptable_find(atomic_load(&fuzz_d.table),
				    host, (size_t)hlen);
		} else if (methods != 0) {
			size_t n = http_allow_line(methods, allow,
			    sizeof(allow));

			if (n == 0 || strncmp(allow, "Allow: ", 7) != 0 ||
			    strcmp(allow + n - 2, "\r\n") != 0)
				fuzz_fail("bad Allow line");
		}
		off += r.head_len;
		if (r.has_body)
			break;
	}
	free(copy);
	return 0;
}
