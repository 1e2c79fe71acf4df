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
#include "store/store.h"
#include "web/web.h"

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
	    .service_host = "sts.example.net" };
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
 * same answer as web_api's), a JSON 404 elsewhere. */
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
	rq.path = "/api/v2/domains";
	rq.path_len = strlen(rq.path);
	web_serve(fx->s, &rq, &a);
	assert_int_equal(a.status, 404);
	assert_null(a.type);
	o = json_loadb(a.body, a.len, 0, &je);
	assert_non_null(json_string_value(json_object_get(o, "error")));
	json_decref(o);
	web_response_free(&a);
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
	store_domain_free(&d);
	expect(o, &r, 200, NULL);
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_auth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_domains, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_serve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import, setup, teardown),
		cmocka_unit_test(test_csv),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
