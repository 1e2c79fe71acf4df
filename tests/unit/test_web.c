/*
 * test_web.c - the REST API (src/web/web_api.c) against a real store in
 * a temporary folder: tokens, tenants, pages, 401/404/405/400.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "account/account.h"
#include "dns/dns.h"
#include "lib/fetchlog.h"
#include "store/store.h"
#include "web/web.h"
#include "web/web_views.h"

struct fx {
	char	 dir[64];
	struct store *s;
	char	 acme[ACCOUNT_TOKEN_LEN + 1];	/* read-write */
	char	 other[ACCOUNT_TOKEN_LEN + 1];	/* read-only */
	char	 revoked[ACCOUNT_TOKEN_LEN + 1];
	char	 other_rw[ACCOUNT_TOKEN_LEN + 1];	/* read-write */
};

static void
token(struct fx *fx, const char *tenant, bool ro, char out[], bool revoke)
{
	unsigned char h[32];
	struct err e = { "" };
	int64_t id;

	assert_int_equal(account_token_new(out, h, &e), 0);
	assert_int_equal(store_token_add(fx->s, tenant, h, "sgt_xxxx", ro,
	    100, &id, &e), 0);
	if (revoke)
		assert_int_equal(store_token_revoke(fx->s, id, 200, &e), 0);
}

static void
domain(struct fx *fx, const char *tenant, const char *name)
{
	struct store_domain d = { 0 };
	struct policy p = { .mode = POLICY_MODE_TESTING, .max_age = 86400 };
	struct err e = { "" };

	assert_int_equal(strv_push(&p.mx, "mx.example.net"), 0);
	if (store_domain_add(fx->s, tenant, name, &p, &d, &e) != 0)
		fail_msg("domain_add: %s", e.msg);
	store_domain_free(&d);
	policy_free(&p);
}

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	char url[128];
	struct err e = { "" };
	int64_t id;

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_web.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(url, sizeof(url), "sqlite:%s/stsguard.db", fx->dir);
	if (store_open(url, &fx->s, &e) == -1)
		fail_msg("open: %s", e.msg);
	assert_int_equal(store_tenant_add(fx->s, "acme", 1, &id, &e), 0);
	assert_int_equal(store_tenant_add(fx->s, "other", 1, &id, &e), 0);
	domain(fx, "acme", "a.example");
	domain(fx, "acme", "b.example");
	domain(fx, "acme", "c.example");
	domain(fx, "other", "secret.example");
	token(fx, "acme", false, fx->acme, false);
	token(fx, "other", true, fx->other, false);
	token(fx, "acme", false, fx->revoked, true);
	token(fx, "other", false, fx->other_rw, false);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	char cmd[128];

	store_close(fx->s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(fx);
	return 0;
}

/* Calls the API with method, target (path?query) and the token tok
 * (NULL: no Authorization; a string not starting with "sgt_" is sent
 * as the whole header value). */
static json_t *call_body(struct fx *, enum http_method, const char *,
    const char *, const char *, const char *, struct web_response *);

static json_t *
call(struct fx *fx, enum http_method m, const char *target, const char *tok,
    struct web_response *out)
{
	return call_body(fx, m, target, tok, NULL, NULL, out);
}

/* The setting dns_zone the requests carry (NULL: not delegated). */
static const char *fx_dns_zone;

/* call with a body (NULL: none) of Content-Type type (NULL: none). */
static json_t *
call_body(struct fx *fx, enum http_method m, const char *target,
    const char *tok, const char *body, const char *type,
    struct web_response *out)
{
	char auth[128];
	const char *q = strchr(target, '?');
	struct web_request rq = { .method = m, .path = target,
	    .path_len = q != NULL ? (size_t)(q - target) : strlen(target),
	    .query = q != NULL ? q + 1 : NULL,
	    .query_len = q != NULL ? strlen(q + 1) : 0,
	    .service_host = "sts.example.net", .dns_zone = fx_dns_zone };
	json_error_t je;
	json_t *o;

	if (tok != NULL) {
		snprintf(auth, sizeof(auth), "%s%s", strncmp(tok, "sgt_", 4) ==
		    0 ? "Bearer " : "", tok);
		rq.authorization = auth;
		rq.authorization_len = strlen(auth);
	}
	if (body != NULL) {
		rq.body = (const uint8_t *)body;
		rq.body_len = strlen(body);
	}
	if (type != NULL) {
		rq.content_type = type;
		rq.content_type_len = strlen(type);
	}
	web_api(fx->s, &rq, out);
	o = json_loadb(out->body, out->len, 0, &je);
	if (o == NULL)
		fail_msg("not JSON (%d): %.*s", out->status, (int)out->len,
		    out->body);
	return o;
}

static void
test_auth(void **state)
{
	struct fx *fx = *state;
	struct web_response r;
	json_t *o;

	o = call(fx, HTTP_GET, "/api/v1/domains", NULL, &r);
	assert_int_equal(r.status, 401);
	assert_non_null(strstr(r.extra, "WWW-Authenticate: Bearer"));
	assert_non_null(json_string_value(json_object_get(o, "error")));
	json_decref(o);
	web_response_free(&r);
	o = call(fx, HTTP_GET, "/api/v1/domains", "Basic dXNlcjpwdw==", &r);
	assert_int_equal(r.status, 401);
	json_decref(o);
	web_response_free(&r);
	/* A token of the right form nobody issued; one cut short; revoked. */
	o = call(fx, HTTP_GET, "/api/v1/domains",
	    "sgt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &r);
	assert_int_equal(r.status, 401);
	assert_non_null(strstr(r.extra, "invalid_token"));
	json_decref(o);
	web_response_free(&r);
	fx->acme[20] = '\0';
	o = call(fx, HTTP_GET, "/api/v1/domains", fx->acme, &r);
	assert_int_equal(r.status, 401);
	json_decref(o);
	web_response_free(&r);
	o = call(fx, HTTP_GET, "/api/v1/domains", fx->revoked, &r);
	assert_int_equal(r.status, 401);
	json_decref(o);
	web_response_free(&r);
}

static void
test_domains(void **state)
{
	struct fx *fx = *state;
	struct web_response r, r2;
	json_t *o, *o2, *d;

	/* The tenant's domains only, by name; pages by cursor. */
	o = call(fx, HTTP_GET, "/api/v1/domains", fx->acme, &r);
	assert_int_equal(r.status, 200);
	d = json_object_get(o, "domains");
	assert_int_equal(json_array_size(d), 3);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(d, 0), "name")), "a.example");
	assert_true(json_is_null(json_object_get(o, "next")));
	json_decref(o);
	web_response_free(&r);
	o = call(fx, HTTP_GET, "/api/v1/domains?limit=2", fx->acme, &r);
	assert_int_equal(json_array_size(json_object_get(o, "domains")), 2);
	assert_string_equal(json_string_value(json_object_get(o, "next")),
	    "b.example");
	json_decref(o);
	web_response_free(&r);
	o = call(fx, HTTP_GET, "/api/v1/domains?limit=2&cursor=b.example",
	    fx->acme, &r);
	d = json_object_get(o, "domains");
	assert_int_equal(json_array_size(d), 1);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(d, 0), "name")), "c.example");
	assert_true(json_is_null(json_object_get(o, "next")));
	json_decref(o);
	web_response_free(&r);
	o = call(fx, HTTP_GET, "/api/v1/domains", fx->other, &r);
	assert_int_equal(json_array_size(json_object_get(o, "domains")), 1);
	json_decref(o);
	web_response_free(&r);
	/* limit out of 1..1000. */
	o = call(fx, HTTP_GET, "/api/v1/domains?limit=0", fx->acme, &r);
	assert_int_equal(r.status, 400);
	json_decref(o);
	web_response_free(&r);
	o = call(fx, HTTP_GET, "/api/v1/domains?limit=1001", fx->acme, &r);
	assert_int_equal(r.status, 400);
	json_decref(o);
	web_response_free(&r);

	/* One domain: its records and intake points. */
	o = call(fx, HTTP_GET, "/api/v1/domains/B.Example", fx->acme, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(json_string_value(json_object_get(o, "name")),
	    "b.example");
	assert_int_equal(json_array_size(json_object_get(o, "records")), 3);
	assert_non_null(strstr(json_string_value(json_object_get(o,
	    "intake_url")), "https://sts.example.net/tlsrpt/"));
	json_decref(o);
	web_response_free(&r);
	/* Another tenant's domain: the very answer of one that is not. */
	o = call(fx, HTTP_GET, "/api/v1/domains/secret.example", fx->acme, &r);
	o2 = call(fx, HTTP_GET, "/api/v1/domains/nothing.example", fx->acme,
	    &r2);
	assert_int_equal(r.status, 404);
	assert_int_equal(r2.status, 404);
	assert_int_equal(r.len, r2.len);
	assert_memory_equal(r.body, r2.body, r.len);
	json_decref(o);
	json_decref(o2);
	web_response_free(&r);
	web_response_free(&r2);
	o = call(fx, HTTP_POST, "/api/v1/domains/b.example/stats", fx->acme,
	    &r);
	assert_int_equal(r.status, 405);
	assert_string_equal(r.extra, "Allow: GET, HEAD\r\n");
	json_decref(o);
	web_response_free(&r);
	o = call(fx, HTTP_POST, "/api/v1/domains/b.example", fx->acme, &r);
	assert_int_equal(r.status, 405);
	assert_string_equal(r.extra, "Allow: GET, HEAD, PATCH, DELETE\r\n");
	json_decref(o);
	web_response_free(&r);
	o = call(fx, HTTP_GET, "/api/v1/nothing", fx->acme, &r);
	assert_int_equal(r.status, 404);
	json_decref(o);
	web_response_free(&r);
}

/* web_serve, the daemon's one way in: the API under its prefix (the
 * same answer as web_api's), the dashboard elsewhere. */
static void
test_serve(void **state)
{
	struct fx *fx = *state;
	struct web_request rq = { .method = HTTP_GET, .service_host = "s",
	    .client = "192.0.2.1" };
	struct web_response a, b;
	json_t *o;
	json_error_t je;

	rq.path = "/api/v1/domains";
	rq.path_len = strlen(rq.path);
	web_serve(fx->s, &rq, &a);
	web_api(fx->s, &rq, &b);
	assert_int_equal(a.status, 401);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.body, b.body, a.len);
	web_response_free(&a);
	web_response_free(&b);
	/* An unknown API route: JSON 404; any other path: the dashboard's
	 * HTML. */
	rq.path = "/api/v1/nothing";
	rq.path_len = strlen(rq.path);
	web_serve(fx->s, &rq, &a);
	assert_int_equal(a.status, 401);	/* the token comes first */
	assert_null(a.type);
	o = json_loadb(a.body, a.len, 0, &je);
	assert_non_null(json_string_value(json_object_get(o, "error")));
	json_decref(o);
	web_response_free(&a);
	rq.path = "/api/v2/domains";
	rq.path_len = strlen(rq.path);
	web_serve(fx->s, &rq, &a);
	assert_int_equal(a.status, 404);
	assert_string_equal(a.type, "text/html; charset=utf-8");
	web_response_free(&a);
}

/* --- the views (web_ready.c, web_adopt.c, fetchlog.c) --------------- */

/* A crafted row of store_entries. */
static struct store_entry_row
row(int64_t report, int64_t entry, const char *org, const char *type,
    const char *string, const char *mx_host, uint64_t ok, uint64_t failed,
    const char *result, const char *rx, uint64_t n)
{
	struct store_entry_row r = { .report = report, .entry = entry,
	    .organization_name = org, .start = 1780000000 + report * 86400,
	    .policy_type = type, .policy_domain = "d.example",
	    .policy_string = string, .mx_host = mx_host, .successful = ok,
	    .failed = failed, .result_type = result,
	    .receiving_mx_hostname = rx, .failed_sessions = n };

	r.end = r.start + 86400;
	return r;
}

static void
ready_policy(struct policy *p, enum policy_mode mode)
{
	memset(p, 0, sizeof(*p));
	p->mode = mode;
	p->max_age = 86400;
	assert_int_equal(strv_push(&p->mx, "mx1.d.example"), 0);
	assert_int_equal(strv_push(&p->mx, "*.pool.d.example"), 0);
}

static void
test_ready_verdicts(void **state)
{
	struct web_ready r;
	struct policy p;
	struct store_entry_row x;

	(void)state;
	ready_policy(&p, POLICY_MODE_TESTING);

	/* No reports at all. */
	assert_int_equal(web_ready_init(&r, "d.example", &p, 0, 0), 0);
	assert_int_equal(web_ready_finish(&r), 0);
	assert_int_equal(r.verdict, WEB_READY_NO_DATA);
	assert_string_equal(r.summary,
	    "not enough data: no reports in 30 days");
	web_ready_free(&r);

	/* Only no-policy-found: still no data on the policy. */
	assert_int_equal(web_ready_init(&r, "d.example", &p, 0, 0), 0);
	x = row(1, 1, "Yahoo", "no-policy-found", "", "", 9, 0, NULL, NULL, 0);
	assert_int_equal(web_ready_add(&r, &x), 0);
	assert_int_equal(web_ready_finish(&r), 0);
	assert_int_equal(r.verdict, WEB_READY_NO_DATA);
	assert_int_equal(r.other_sessions, 9);
	web_ready_free(&r);

	/* Two reporters, sessions only on covered hosts: ready. A failure
	 * detail of a tlsa entry names a covered pool host. */
	assert_int_equal(web_ready_init(&r, "d.example", &p, 0, 0), 0);
	x = row(1, 1, "Google", "sts", "x", "", 50, 0, NULL, NULL, 0);
	assert_int_equal(web_ready_add(&r, &x), 0);
	x = row(2, 2, "Microsoft", "sts", "x", "", 20, 0, NULL, NULL, 0);
	assert_int_equal(web_ready_add(&r, &x), 0);
	x = row(2, 3, "Microsoft", "tlsa", "t", "", 19, 1, "tlsa-invalid",
	    "A.Pool.D.Example.", 1);
	assert_int_equal(web_ready_add(&r, &x), 0);
	assert_int_equal(web_ready_finish(&r), 0);
	assert_int_equal(r.verdict, WEB_READY_READY);
	assert_string_equal(r.summary,
	    "ready: 2 reporters, 0 policy failures in 30 days");
	assert_int_equal(r.hosts.n, 1);
	assert_string_equal(r.hosts.v[0].key, "a.pool.d.example");
	assert_int_equal(r.uncovered, 0);
	web_ready_free(&r);

	/* Failures: two details of one entry (the heavier named first), an
	 * unexplained rest, and an MX host that no pattern covers. */
	assert_int_equal(web_ready_init(&r, "d.example", &p, 0, 0), 0);
	x = row(1, 1, "Google", "sts", "x", "", 50, 10, "certificate-expired",
	    "mx1.d.example", 2);
	assert_int_equal(web_ready_add(&r, &x), 0);
	x = row(1, 1, "Google", "sts", "x", "", 50, 10,
	    "certificate-host-mismatch", "mx3.d.example", 5);
	assert_int_equal(web_ready_add(&r, &x), 0);
	x = row(2, 2, "Microsoft", "sts", "x", "", 7, 0, NULL, NULL, 0);
	assert_int_equal(web_ready_add(&r, &x), 0);
	assert_int_equal(web_ready_finish(&r), 0);
	assert_int_equal(r.verdict, WEB_READY_NOT_READY);
	assert_string_equal(r.summary, "not ready: mx3.d.example fails "
	    "certificate-host-mismatch for Google (5 sessions)");
	assert_int_equal(r.sts_successful, 57);
	assert_int_equal(r.sts_failed, 10);
	assert_int_equal(r.nfails, 3);
	assert_string_equal(r.fails[1].result_type, "unspecified");
	assert_int_equal(r.fails[1].sessions, 3);
	assert_string_equal(r.fails[2].mx_host, "mx1.d.example");
	assert_int_equal(r.uncovered, 1);
	assert_string_equal(r.hosts.v[0].key, "mx3.d.example");
	assert_string_equal(r.reporters.v[0].key, "Google");
	assert_int_equal(r.reporters.v[0].failed, 10);
	web_ready_free(&r);

	/* Details adding up to more than the total count as given. */
	assert_int_equal(web_ready_init(&r, "d.example", &p, 0, 0), 0);
	x = row(1, 1, "Mail.ru", "sts", "x", "", 1, 1, "validation-failure",
	    NULL, 4);
	assert_int_equal(web_ready_add(&r, &x), 0);
	assert_int_equal(web_ready_finish(&r), 0);
	assert_int_equal(r.sts_failed, 4);
	assert_int_equal(r.nfails, 1);
	assert_string_equal(r.summary, "not ready: an MX host the reporter "
	    "did not name fails validation-failure for Mail.ru (4 sessions)");
	web_ready_free(&r);

	/* Endless host names: the table stops at WEB_VIEW_KEYS. */
	assert_int_equal(web_ready_init(&r, "d.example", &p, 0, 0), 0);
	for (int i = 0; i < WEB_VIEW_KEYS + 10; i++) {
		char h[32];

		snprintf(h, sizeof(h), "h%d.evil.example", i);
		x = row(1, 1, "Evil", "sts", "x", "", 0, 0, "starttls-not-"
		    "supported", h, 1);
		assert_int_equal(web_ready_add(&r, &x), 0);
	}
	assert_int_equal(web_ready_finish(&r), 0);
	assert_int_equal(r.hosts.n, WEB_VIEW_KEYS);
	assert_int_equal(r.hosts_other, 10);
	assert_int_equal(r.nfails, WEB_VIEW_KEYS);
	assert_int_equal(r.fails_other, 10);
	web_ready_free(&r);
	policy_free(&p);
}

static void
test_adopt_mapping(void **state)
{
	static const char v1[] = "version: STSv1\r\nmode: testing\r\n"
	    "mx: mx1.d.example\r\nmax_age: 86400\r\n";
	static const char v2[] = "version: STSv1\r\nmode: enforce\r\n"
	    "mx: mx1.d.example\r\nmax_age: 86400\r\n";
	struct web_adopt a;
	struct store_entry_row x;
	char *n1, *n2;

	(void)state;
	/* The same policy, laid out differently, normalizes the same. */
	n1 = web_adopt_normalize(v1);
	n2 = web_adopt_normalize("MX:mx1.d.example\nmax_age : 86400\n\n"
	    "version: STSv1\nmode:   testing");
	assert_string_equal(n1, n2);
	free(n2);
	n2 = web_adopt_normalize(v2);
	assert_string_not_equal(n1, n2);
	free(n1);
	free(n2);

	web_adopt_init(&a, 0, 0);
	assert_int_equal(web_adopt_version(&a, "id1", 1780000000, v1), 0);
	assert_int_equal(web_adopt_version(&a, "id2", 1780200000, v2), 0);
	/* Day 1: both on id1. Day 3: Google on id2 (its own layout),
	 * Microsoft on id1 and id2 (two entries), Comcast unknown. A tlsa
	 * entry and another domain's entry do not count. */
	x = row(1, 1, "Google", "sts", "version: STSv1\nmode: testing\n"
	    "mx: mx1.d.example\nmax_age: 86400", "", 10, 0, NULL, NULL, 0);
	assert_int_equal(web_adopt_add(&a, "d.example", &x), 0);
	x = row(1, 2, "Microsoft", "sts", v1, "", 5, 1, "x", NULL, 1);
	assert_int_equal(web_adopt_add(&a, "d.example", &x), 0);
	assert_int_equal(web_adopt_add(&a, "d.example", &x), 0);
	x = row(3, 3, "Google", "sts", "mode: ENFORCE\nmax_age: 86400\n"
	    "mx: mx1.d.example\nversion: STSv1", "", 20, 0, NULL, NULL, 0);
	assert_int_equal(web_adopt_add(&a, "d.example", &x), 0);
	x = row(3, 4, "Microsoft", "sts", v1, "", 3, 0, NULL, NULL, 0);
	assert_int_equal(web_adopt_add(&a, "d.example", &x), 0);
	x = row(3, 5, "Microsoft", "sts", v2, "", 4, 0, NULL, NULL, 0);
	assert_int_equal(web_adopt_add(&a, "d.example", &x), 0);
	x = row(3, 6, "Comcast", "sts", "mode: none", "", 4, 0, NULL, NULL,
	    0);
	assert_int_equal(web_adopt_add(&a, "d.example", &x), 0);
	x = row(3, 7, "Google", "tlsa", v1, "", 4, 0, NULL, NULL, 0);
	assert_int_equal(web_adopt_add(&a, "d.example", &x), 0);
	x = row(3, 8, "Google", "sts", v1, "", 4, 0, NULL, NULL, 0);
	x.policy_domain = "other.example";
	assert_int_equal(web_adopt_add(&a, "d.example", &x), 0);
	assert_int_equal(web_adopt_finish(&a, "id2"), 0);

	assert_int_equal(a.current, 1);
	assert_int_equal(a.nreporters, 3);
	/* By name: Comcast, Google, Microsoft. */
	assert_string_equal(a.reporters[0].organization, "Comcast");
	assert_int_equal(a.reporters[0].cells[0].version, -1);
	assert_false(a.reporters[0].current);
	assert_string_equal(a.reporters[1].organization, "Google");
	assert_int_equal(a.reporters[1].n, 2);
	assert_int_equal(a.reporters[1].cells[0].version, 0);
	assert_int_equal(a.reporters[1].cells[0].sessions, 10);
	assert_int_equal(a.reporters[1].cells[1].version, 1);
	assert_int_equal(a.reporters[1].cells[1].sessions, 20);
	assert_true(a.reporters[1].current);
	assert_string_equal(a.reporters[1].current_since,
	    a.reporters[1].cells[1].day);
	assert_string_equal(a.reporters[2].organization, "Microsoft");
	assert_int_equal(a.reporters[2].cells[0].sessions, 6);	/* once */
	assert_false(a.reporters[2].current);	/* both on its last day */
	assert_false(a.all_current);
	assert_null(a.all_since);
	web_adopt_free(&a);

	/* Everyone on the current one: since the latest switch. */
	web_adopt_init(&a, 0, 0);
	assert_int_equal(web_adopt_version(&a, "id1", 1780000000, v1), 0);
	assert_int_equal(web_adopt_version(&a, "id2", 1780200000, v2), 0);
	x = row(1, 1, "Google", "sts", v2, "", 1, 0, NULL, NULL, 0);
	assert_int_equal(web_adopt_add(&a, "d.example", &x), 0);
	x = row(2, 2, "Microsoft", "sts", v1, "", 1, 0, NULL, NULL, 0);
	assert_int_equal(web_adopt_add(&a, "d.example", &x), 0);
	x = row(4, 3, "Microsoft", "sts", v2, "", 1, 0, NULL, NULL, 0);
	assert_int_equal(web_adopt_add(&a, "d.example", &x), 0);
	assert_int_equal(web_adopt_finish(&a, "id2"), 0);
	assert_true(a.all_current);
	assert_non_null(a.all_since);
	assert_string_equal(a.all_since, a.reporters[1].cells[1].day);
	web_adopt_free(&a);
}

static void
test_fetchlog(void **state)
{
	struct fetchlog *fl = fetchlog_new();
	uint8_t regs[FETCHLOG_HLL_REGS] = { 0 };
	char a[64];
	uint64_t est;

	(void)state;
	assert_non_null(fl);
	/* The sketch: exact-ish when small, within 15 % at 10,000. */
	for (int i = 0; i < 3; i++) {
		snprintf(a, sizeof(a), "192.0.2.%d", i);
		fetchlog_hll_add(regs, fetchlog_hash(a, strlen(a)));
		fetchlog_hll_add(regs, fetchlog_hash(a, strlen(a)));
	}
	assert_int_equal(fetchlog_hll_estimate(regs), 3);
	for (int i = 0; i < 10000; i++) {
		snprintf(a, sizeof(a), "2001:db8::%x", i);
		fetchlog_hll_add(regs, fetchlog_hash(a, strlen(a)));
	}
	est = fetchlog_hll_estimate(regs);
	assert_true(est > 8500 && est < 11500);

	/* Agents: LIMIT_FETCH_SLOT_AGENTS kept, the rest as other; control
	 * bytes kept as '?', long ones cut. */
	for (int i = 0; i < LIMIT_FETCH_SLOT_AGENTS + 5; i++) {
		snprintf(a, sizeof(a), "agent\x01%d", i);
		assert_int_equal(fetchlog_count(fl, "d.example", 9, 20000,
		    "192.0.2.1", 9, a, strlen(a)), 0);
	}
	assert_int_equal(fetchlog_count(fl, "d.example", 9, 20000,
	    "192.0.2.1", 9, NULL, 0), 0);
	assert_int_equal(fl->n, 1);
	assert_int_equal(fl->slots[0].fetches, LIMIT_FETCH_SLOT_AGENTS + 6);
	assert_int_equal(fl->slots[0].nagents, LIMIT_FETCH_SLOT_AGENTS);
	assert_int_equal(fl->slots[0].other, 6);
	assert_string_equal(fl->slots[0].agents[0].ua, "agent?0");
	/* Another day is another slot; the table's room is bounded. */
	assert_int_equal(fetchlog_count(fl, "d.example", 9, 20001, "x", 1,
	    "a", 1), 0);
	assert_int_equal(fl->n, 2);
	for (int i = 2; i < LIMIT_FETCH_SLOTS; i++) {
		snprintf(a, sizeof(a), "d%d.example", i);
		assert_int_equal(fetchlog_count(fl, a, strlen(a), 20000, "x",
		    1, "a", 1), 0);
	}
	assert_int_equal(fetchlog_count(fl, "late.example", 12, 20000, "x",
	    1, "a", 1), -1);
	assert_int_equal(fl->dropped, 1);
	/* Known slots still count when full. */
	assert_int_equal(fetchlog_count(fl, "d.example", 9, 20000, "x", 1,
	    "a", 1), 0);
	fetchlog_reset(fl);
	assert_int_equal(fl->n, 0);
	assert_int_equal(fetchlog_count(fl, "late.example", 12, 20000, "x",
	    1, "a", 1), 0);
	free(fl);
}

/* The store keeps at most LIMIT_FETCH_DAY_AGENTS agents a day: a heavier
 * newcomer takes the lightest one's place. */
static void
test_fetch_store(void **state)
{
	struct fx *fx = *state;
	uint8_t regs[FETCHLOG_HLL_REGS] = { 0 };
	struct store_fetch_agent ag[LIMIT_FETCH_DAY_AGENTS + 1];
	char names[LIMIT_FETCH_DAY_AGENTS + 1][16];
	struct store_fetch_day v = { "a.example", "2026-05-11", 0, regs, ag,
	    0, 0 };
	struct web_fetches f;
	struct err e = { "" };

	for (int i = 0; i <= LIMIT_FETCH_DAY_AGENTS; i++) {
		snprintf(names[i], sizeof(names[i]), "ua%02d", i);
		ag[i].agent = names[i];
		ag[i].fetches = 2;
		v.fetches += 2;
	}
	ag[LIMIT_FETCH_DAY_AGENTS].fetches = 1;	/* lighter: other */
	v.fetches -= 1;
	v.nagents = LIMIT_FETCH_DAY_AGENTS + 1;
	fetchlog_hll_add(regs, fetchlog_hash("a", 1));
	assert_int_equal(store_fetch_add(fx->s, &v, 1, 1778500000, &e), 0);
	/* Flushed again: one heavier newcomer. */
	ag[0].agent = "heavy";
	ag[0].fetches = 9;
	v.agents = ag;
	v.nagents = 1;
	v.fetches = 9;
	fetchlog_hll_add(regs, fetchlog_hash("b", 1));
	assert_int_equal(store_fetch_add(fx->s, &v, 1, 1778500000, &e), 0);
	assert_int_equal(web_fetches_read(fx->s, "a.example", 0, 0, &f, &e),
	    0);
	assert_int_equal(f.n, 1);
	assert_int_equal(f.fetches, 2 * LIMIT_FETCH_DAY_AGENTS + 1 + 9);
	assert_int_equal(f.days[0].clients, 2);
	assert_string_equal(f.days[0].agents[0].agent, "heavy");
	assert_int_equal(f.agents.n, LIMIT_FETCH_DAY_AGENTS);
	{
		uint64_t sum = f.days[0].agents_other;

		for (size_t i = 0; i < f.days[0].nagents; i++)
			sum += f.days[0].agents[i].fetches;
		assert_int_equal(sum, f.days[0].fetches);
	}
	web_fetches_free(&f);
	/* Another domain sees none of it. */
	assert_int_equal(web_fetches_read(fx->s, "b.example", 0, 0, &f, &e),
	    0);
	assert_int_equal(f.n, 0);
	web_fetches_free(&f);
}

/* Expects status and, when has is set, an error naming it. */
static void
expect(json_t *o, struct web_response *r, int status, const char *has)
{
	if (r->status != status)
		fail_msg("status %d, not %d: %.*s", r->status, status,
		    (int)r->len, r->body);
	if (has != NULL && strstr(json_string_value(json_object_get(o,
	    "error")), has) == NULL)
		fail_msg("error without '%s': %.*s", has, (int)r->len,
		    r->body);
	json_decref(o);
	web_response_free(r);
}

/* The writes: what they answer is what the store then holds. */
static void
test_writes(void **state)
{
	struct fx *fx = *state;
	struct store_domain d = { 0 };
	struct web_response r;
	struct err e;
	char id[64];
	json_t *o;

	o = call_body(fx, HTTP_POST, "/api/v1/domains", fx->acme,
	    "{\"name\": \"New.Example\", \"mode\": \"enforce\", "
	    "\"mx\": [\"mx1.new.example\", \"*.new.example\"], "
	    "\"max_age\": 86400}", "application/json; charset=utf-8", &r);
	assert_int_equal(r.status, 201);
	assert_string_equal(r.extra, "Location: /api/v1/domains/new.example"
	    "\r\n");
	assert_int_equal(store_domain_get(fx->s, "new.example", &d, &e), 0);
	assert_string_equal(d.tenant, "acme");
	assert_int_equal(d.policy.mode, POLICY_MODE_ENFORCE);
	assert_int_equal(d.policy.max_age, 86400);
	assert_int_equal(d.policy.mx.n, 2);
	assert_string_equal(json_string_value(json_object_get(o,
	    "policy_id")), d.policy_id);
	assert_string_equal(json_string_value(json_object_get(o, "token")),
	    d.token);
	assert_int_equal(json_array_size(json_object_get(o, "records")), 3);
	snprintf(id, sizeof(id), "%s", d.policy_id);
	store_domain_free(&d);
	expect(o, &r, 201, NULL);
	/* Hosted already: by the tenant, named; by another, not. */
	o = call_body(fx, HTTP_POST, "/api/v1/domains", fx->acme,
	    "{\"name\": \"new.example\", \"mx\": [\"mx.example\"]}", NULL, &r);
	expect(o, &r, 409, "already hosted (tenant acme)");
	o = call_body(fx, HTTP_POST, "/api/v1/domains", fx->other_rw,
	    "{\"name\": \"new.example\", \"mx\": [\"mx.example\"]}", NULL, &r);
	assert_null(strstr(r.body, "acme"));
	expect(o, &r, 409, "new.example is already hosted");
	o = call_body(fx, HTTP_POST, "/api/v1/domains", fx->other,
	    "{\"name\": \"ro.example\"}", NULL, &r);
	expect(o, &r, 403, "read-only");
	assert_int_equal(store_domain_get(fx->s, "ro.example", &d, &e), 1);
	/* Bad bodies, each with its reason. */
	o = call_body(fx, HTTP_POST, "/api/v1/domains", fx->acme, "{\"name\"",
	    NULL, &r);
	expect(o, &r, 400, "bad JSON");
	o = call_body(fx, HTTP_POST, "/api/v1/domains", fx->acme, "[1]", NULL,
	    &r);
	expect(o, &r, 400, "an object");
	o = call_body(fx, HTTP_POST, "/api/v1/domains", fx->acme,
	    "{\"name\": \"x.example\", \"mx\": [[[[[\"a\"]]]]]}", NULL, &r);
	expect(o, &r, 400, "deeper than 4");
	o = call_body(fx, HTTP_POST, "/api/v1/domains", fx->acme,
	    "{\"name\": \"x.example\", \"color\": 1}", NULL, &r);
	expect(o, &r, 400, "unknown member 'color'");
	o = call_body(fx, HTTP_POST, "/api/v1/domains", fx->acme,
	    "{\"mode\": \"testing\"}", NULL, &r);
	expect(o, &r, 400, "name: required");
	o = call_body(fx, HTTP_POST, "/api/v1/domains", fx->acme,
	    "{\"name\": \"x.example\", \"mode\": \"strict\"}", NULL, &r);
	expect(o, &r, 400, "mode: 'strict'");
	o = call_body(fx, HTTP_POST, "/api/v1/domains", fx->acme,
	    "{\"name\": \"x.example\", \"max_age\": 40000000}", NULL, &r);
	expect(o, &r, 400, "max");
	o = call_body(fx, HTTP_POST, "/api/v1/domains", fx->acme,
	    "{\"name\": \"x_y.example\"}", NULL, &r);
	expect(o, &r, 400, "domain 'x_y.example'");
	o = call_body(fx, HTTP_POST, "/api/v1/domains", fx->acme,
	    "{\"name\": \"x.example\"}", "text/plain", &r);
	expect(o, &r, 415, "application/json");
	assert_int_equal(store_domain_get(fx->s, "x.example", &d, &e), 1);

	/* PATCH: a new policy id, the one stored. */
	o = call_body(fx, HTTP_PATCH, "/api/v1/domains/new.example", fx->acme,
	    "{\"mode\": \"testing\", \"max_age\": \"3600\"}", NULL, &r);
	assert_int_equal(store_domain_get(fx->s, "new.example", &d, &e), 0);
	assert_int_equal(d.policy.mode, POLICY_MODE_TESTING);
	assert_int_equal(d.policy.max_age, 3600);
	assert_int_equal(d.policy.mx.n, 2);		/* left alone */
	assert_string_not_equal(d.policy_id, id);
	assert_string_equal(json_string_value(json_object_get(o,
	    "policy_id")), d.policy_id);
	assert_int_equal(json_array_size(json_object_get(o, "publish")), 1);
	store_domain_free(&d);
	expect(o, &r, 200, NULL);
	/* Delegated (dns_zone): the owner's records are CNAMEs into the
	 * zone, and a change asks nothing of the owner. */
	fx_dns_zone = "ops.example.net";
	o = call_body(fx, HTTP_PATCH, "/api/v1/domains/new.example", fx->acme,
	    "{\"max_age\": \"7200\"}", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(json_object_get(o, "publish")), 0);
	{
		json_t *rr = json_array_get(json_object_get(o, "records"), 1);

		assert_string_equal(json_string_value(json_object_get(rr,
		    "type")), "CNAME");
		assert_string_equal(json_string_value(json_object_get(rr,
		    "value")), "new.example._mta-sts.ops.example.net");
	}
	expect(o, &r, 200, NULL);
	fx_dns_zone = NULL;
	o = call_body(fx, HTTP_PATCH, "/api/v1/domains/new.example", fx->acme,
	    "{\"name\": \"other.example\"}", NULL, &r);
	expect(o, &r, 400, "unknown member 'name'");
	o = call_body(fx, HTTP_PATCH, "/api/v1/domains/new.example", fx->acme,
	    "{\"mode\": \"enforce\", \"mx\": []}", NULL, &r);
	expect(o, &r, 400, "mx:");
	o = call_body(fx, HTTP_PATCH, "/api/v1/domains/secret.example",
	    fx->acme, "{\"mode\": \"none\"}", NULL, &r);
	expect(o, &r, 404, "no such domain");
	o = call_body(fx, HTTP_PATCH, "/api/v1/domains/secret.example",
	    fx->other, "{\"mode\": \"none\"}", NULL, &r);
	expect(o, &r, 403, "read-only");

	/* DELETE: removed, served as none for a while; once. */
	o = call(fx, HTTP_DELETE, "/api/v1/domains/b.example", fx->acme, &r);
	assert_int_equal(store_domain_get(fx->s, "b.example", &d, &e), 0);
	assert_true(d.removed != 0);
	assert_int_equal(json_integer_value(json_object_get(o, "max_age")),
	    d.policy.max_age);
	store_domain_free(&d);
	expect(o, &r, 200, NULL);
	o = call(fx, HTTP_DELETE, "/api/v1/domains/b.example", fx->acme, &r);
	expect(o, &r, 409, "already removed");
	o = call_body(fx, HTTP_PATCH, "/api/v1/domains/b.example", fx->acme,
	    "{\"mode\": \"none\"}", NULL, &r);
	expect(o, &r, 409, "was removed");
	o = call(fx, HTTP_DELETE, "/api/v1/domains/secret.example", fx->acme,
	    &r);
	expect(o, &r, 404, "no such domain");
}

/* Import: all or nothing, each refused line named. */
static void
test_import(void **state)
{
	struct fx *fx = *state;
	struct store_domain d = { 0 };
	struct web_response r;
	struct err e;
	json_t *o, *errs;

	o = call_body(fx, HTTP_POST, "/api/v1/domains/import", fx->acme,
	    "domain,tenant,mode,mx,max_age\n"
	    "imp1.example,,testing,mx.imp.example,\n"
	    "# a comment\n"
	    "imp2.example,acme,enforce,\"mx1.imp.example;mx2.imp.example\","
	    "86400\n", "text/csv", &r);
	assert_int_equal(json_integer_value(json_object_get(o, "imported")),
	    2);
	expect(o, &r, 201, NULL);
	assert_int_equal(store_domain_get(fx->s, "imp2.example", &d, &e), 0);
	assert_string_equal(d.tenant, "acme");
	assert_int_equal(d.policy.mx.n, 2);
	store_domain_free(&d);
	o = call_body(fx, HTTP_POST, "/api/v1/domains/import", fx->acme,
	    "imp3.example,,testing,mx.imp.example,\n"
	    "imp4.example,other,testing,mx.imp.example,\n"
	    "secret.example,,testing,mx.imp.example,\n"
	    "imp5.example,,strict,mx.imp.example,\n"
	    "imp3.example,,testing,mx.imp.example,\n", NULL, &r);
	errs = json_object_get(o, "errors");
	assert_int_equal(json_array_size(errs), 4);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(
	    errs, 0), "line")), 2);
	assert_non_null(strstr(json_string_value(json_object_get(
	    json_array_get(errs, 0), "error")), "tenant 'other'"));
	assert_int_equal(json_integer_value(json_object_get(json_array_get(
	    errs, 1), "line")), 4);
	assert_null(strstr(r.body, "(tenant other)"));	/* not named */
	expect(o, &r, 422, "4 line(s) refused; nothing imported");
	assert_int_equal(store_domain_get(fx->s, "imp3.example", &d, &e), 1);
	o = call_body(fx, HTTP_POST, "/api/v1/domains/import", fx->acme,
	    "# nothing\n", NULL, &r);
	expect(o, &r, 400, "no domain");
	o = call_body(fx, HTTP_POST, "/api/v1/domains/import", fx->acme,
	    "imp6.example\n", "application/json", &r);
	expect(o, &r, 415, "text/csv");
	o = call_body(fx, HTTP_POST, "/api/v1/domains/import", fx->other,
	    "imp6.example\n", NULL, &r);
	expect(o, &r, 403, "read-only");
}

/* CSV: quoting (RFC 4180), formulas defused, null empty, arrays
 * joined. */
static void
test_csv(void **state)
{
	static const char *const cols[] = { "a", "b", "c", NULL };
	json_error_t je;
	json_t *rows = json_loads("[{\"a\": \"plain\", \"b\": 7, "
	    "\"c\": null}, {\"a\": \"x,\\\"y\\\"\\r\\nz\", \"b\": true, "
	    "\"c\": [\"p\", \"q\"]}, {\"a\": \"=HYPERLINK(1)\", "
	    "\"b\": \"-2+3\", \"d\": 1}]", 0, &je);
	size_t len;
	char *csv;

	(void)state;
	assert_non_null(rows);
	csv = web_csv(rows, cols, &len);
	assert_non_null(csv);
	assert_string_equal(csv, "a,b,c\r\n"
	    "plain,7,\r\n"
	    "\"x,\"\"y\"\"\r\nz\",true,p q\r\n"
	    "'=HYPERLINK(1),'-2+3,\r\n");
	assert_int_equal(len, strlen(csv));
	free(csv);
	json_decref(rows);
}

/* What the owner publishes after a change: the _mta-sts TXT with the new
 * id when the id changed, nothing otherwise (issue 14: "which record to
 * publish now"). */
static void
test_publish(void **state)
{
	struct store_domain a = { 0 }, b = { 0 };
	struct dns_rr rr;
	json_t *j;

	(void)state;
	snprintf(a.name, sizeof(a.name), "example.com");
	snprintf(a.policy_id, sizeof(a.policy_id), "20260101000000r1");
	b = a;
	j = web_publish_json(&a, &b, false);
	assert_int_equal(json_array_size(j), 0);
	json_decref(j);
	assert_int_equal(dns_publish_now("example.com", "x1", "x1", false,
	    &rr), 0);
	snprintf(b.policy_id, sizeof(b.policy_id), "20260101000000r2");
	j = web_publish_json(&a, &b, false);
	assert_int_equal(json_array_size(j), 1);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(j, 0), "name")), "_mta-sts.example.com");
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(j, 0), "type")), "TXT");
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(j, 0), "value")), "v=STSv1; id=20260101000000r2;");
	json_decref(j);
	/* Delegated: stsguard keeps the TXT itself; nothing to publish. */
	assert_int_equal(dns_publish_now("example.com", "x1", "x2", true,
	    &rr), 0);
}

/* The weekly digest: each domain of the tenant, its latest check and its
 * alerts of the week; not another tenant's; removed ones left out. */
static void
test_digest(void **state)
{
	struct fx *fx = *state;
	struct store_domain d = { 0 };
	struct err e = { "" };
	int64_t id;
	char *t;

	assert_int_equal(store_check_put(fx->s, "a.example", 1000000, 2000000,
	    1, 2, "{}", &e), 0);
	/* Older than the week: not named. */
	assert_int_equal(store_alert_add(fx->s, "a.example", "old.a.example",
	    "record", "error", "t", "f", 0, 1000, &id, &e), 0);
	assert_int_equal(store_alert_add(fx->s, "a.example", "mx2.a.example",
	    "mx-uncovered", "critical", "t", "f", 0, 1000000, &id, &e), 0);
	assert_int_equal(store_domain_remove(fx->s, "c.example", 500, &d, &e),
	    0);
	store_domain_free(&d);
	t = web_digest(fx->s, "acme", 1000000 + 3600, &e);
	assert_non_null(t);
	assert_non_null(strstr(t, "The week of tenant acme, from "
	    "1970-01-05 14:46 UTC to 1970-01-12 14:46 UTC: 2 hosted "
	    "domains.\r\n\r\n"));
	assert_non_null(strstr(t, "a.example (testing)\r\n"
	    "  sessions: no report this week\r\n"
	    "  latest check 1970-01-12 13:46 UTC: 1 failure, 2 warnings\r\n"
	    "  alerts this week: critical mx-uncovered mx2.a.example\r\n"));
	assert_non_null(strstr(t, "b.example (testing)\r\n"
	    "  sessions: no report this week\r\n  not checked yet\r\n"
	    "  alerts this week: none\r\n"));
	assert_null(strstr(t, "old.a.example"));
	assert_null(strstr(t, "c.example"));
	assert_null(strstr(t, "secret.example"));
	free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_auth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_domains, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_serve, setup, teardown),
		cmocka_unit_test(test_ready_verdicts),
		cmocka_unit_test(test_adopt_mapping),
		cmocka_unit_test(test_fetchlog),
		cmocka_unit_test_setup_teardown(test_fetch_store, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_digest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import, setup, teardown),
		cmocka_unit_test(test_csv),
		cmocka_unit_test(test_publish),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
