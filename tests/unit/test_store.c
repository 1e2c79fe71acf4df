/*
 * test_store.c - the SQLite store (store.h), each test on a fresh file in
 * its own temporary directory.
 *
 * Reports are built by the real parser (tlsrpt_parse) from small JSON
 * texts; what the store must do with them comes from RFC 8460 (report
 * identity, counts) and RFC 8461 (policy ids, §8.3 removal). Helpers of
 * store.c are tested directly through store_int.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "lib/gzip.h"
#include "store/store.h"
#include "store/store_db.h"
#include "store/store_int.h"

struct fx {
	char	      dir[64];
	char	      path[128];
	struct store *s;
};

/* STSGUARD_TEST_STORE=postgresql://... runs these tests on that
 * database (emptied before each test) instead of the fixture's SQLite
 * file; the tests of SQLite's own migrations are then skipped. The
 * second stores some tests compare with stay SQLite files: the two
 * backends must give the same answers. */
static const char *pg_url;
static char main_path[128];

/* True when path is the fixture's store and it is on PostgreSQL. */
static bool
on_pg(const char *path)
{
	return pg_url != NULL && strcmp(path, main_path) == 0;
}

/* Opens the store at path the way the program does: by its URL. */
static int
open_at(const char *path, struct store **s, struct err *e)
{
	char url[256];

	if (on_pg(path))
		return store_open(pg_url, s, e);
	snprintf(url, sizeof(url), "sqlite:%s", path);
	return store_open(url, s, e);
}

/* Runs sql on the test's PostgreSQL database; the result (caller
 * clears) must be rows or done. */
static PGresult *
pg_exec(const char *sql, int binary)
{
	PGconn *c = PQconnectdb(pg_url);
	PGresult *r;

	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("%s: %s", pg_url, PQerrorMessage(c));
	r = binary ? PQexecParams(c, sql, 0, NULL, NULL, NULL, NULL, 1) :
	    PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK &&
	    PQresultStatus(r) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	PQfinish(c);
	return r;
}

/* For the tests of SQLite's migrations and files. */
#define SQLITE_ONLY() do { if (pg_url != NULL) skip(); } while (0)

static int
fx_setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	struct err e = { "" };

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_store.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->path, sizeof(fx->path), "%s/stsguard.db", fx->dir);
	snprintf(main_path, sizeof(main_path), "%s", fx->path);
	if (pg_url != NULL)
		PQclear(pg_exec("SET client_min_messages = warning; "
		    "DROP SCHEMA public CASCADE; "
		    "CREATE SCHEMA public", 0));
	if (open_at(fx->path, &fx->s, &e) == -1)
		fail_msg("open: %s", e.msg);
	*state = fx;
	return 0;
}

static int
fx_teardown(void **state)
{
	struct fx *fx = *state;
	char p[160];

	store_close(fx->s);
	snprintf(p, sizeof(p), "%s-wal", fx->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", fx->path);
	unlink(p);
	unlink(fx->path);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

/* A policy with mode m, max_age a and the given mx patterns (NULL-ended). */
static void
mk_policy(struct policy *p, enum policy_mode m, uint32_t a, ...)
{
	const char *mx;
	va_list ap;

	memset(p, 0, sizeof(*p));
	p->mode = m;
	p->max_age = a;
	va_start(ap, a);
	while ((mx = va_arg(ap, const char *)) != NULL)
		assert_int_equal(strv_push(&p->mx, mx), 0);
	va_end(ap);
}

static void
add_domain(struct store *s, const char *name, uint32_t max_age,
    struct store_domain *d)
{
	struct policy p;
	struct err e = { "" };

	mk_policy(&p, POLICY_MODE_ENFORCE, max_age, "mail.example.net", NULL);
	if (store_domain_add(s, "acme", name, &p, d, &e) != 0)
		fail_msg("domain_add %s: %s", name, e.msg);
	policy_free(&p);
}

/* RFC 8461 §3.1: sts-id = 1*32(ALPHA / DIGIT); ours is
 * YYYYMMDDhhmmss "r" revision. */
static void
assert_policy_id(const char *id, long revision)
{
	char want[16];
	size_t n = strlen(id);

	assert_in_range(n, 16, LIMIT_STS_ID_LEN);
	for (size_t i = 0; i < n; i++)
		assert_true(isalnum((unsigned char)id[i]));
	for (size_t i = 0; i < 14; i++)
		assert_true(isdigit((unsigned char)id[i]));
	snprintf(want, sizeof(want), "r%ld", revision);
	assert_string_equal(id + 14, want);
}

static void
assert_token(const char *t)
{
	assert_int_equal(strlen(t), STORE_TOKEN_LEN);
	for (size_t i = 0; i < STORE_TOKEN_LEN; i++)
		assert_true(strchr("0123456789abcdef", t[i]) != NULL);
}

/* --- helpers of store.c --- */

static void
test_policy_id_format(void **state)
{
	char id[LIMIT_STS_ID_LEN + 1], day[STORE_DAY_LEN + 1];
	struct err e = { "" };

	(void)state;
	/* 2026-05-12T09:30:05Z */
	assert_int_equal(store_policy_id(1778578205, 7, id, &e), 0);
	assert_string_equal(id, "20260512093005r7");
	assert_int_equal(store_policy_id(1778578205, INT64_MAX, id, &e), -1);
	assert_int_equal(store_policy_id(1778578205, 99999999999999999LL, id,
	    &e), 0);
	assert_int_equal(strlen(id), LIMIT_STS_ID_LEN);
	assert_int_equal(store_policy_id(1778578205, 0, id, &e), -1);
	assert_int_equal(store_day_key(1778578205, day), 0);
	assert_string_equal(day, "2026-05-12");
	/* 23:59:59, then midnight */
	assert_int_equal(store_day_key(1778630399, day), 0);
	assert_string_equal(day, "2026-05-12");
	assert_int_equal(store_day_key(1778630400, day), 0);
	assert_string_equal(day, "2026-05-13");
}

static void
test_token_helper(void **state)
{
	char a[STORE_TOKEN_LEN + 1], b[STORE_TOKEN_LEN + 1];
	struct err e = { "" };

	(void)state;
	assert_int_equal(store_token_new(a, &e), 0);
	assert_int_equal(store_token_new(b, &e), 0);
	assert_token(a);
	assert_token(b);
	assert_string_not_equal(a, b);
}

static void
test_join_split(void **state)
{
	struct strv sv = { 0 }, back = { 0 };
	char *s;

	(void)state;
	s = store_strv_join(&sv, '\n');
	assert_string_equal(s, "");
	assert_int_equal(store_strv_split(&back, s, '\n'), 0);
	assert_int_equal(back.n, 0);
	free(s);
	assert_int_equal(strv_push(&sv, "a"), 0);
	assert_int_equal(strv_push(&sv, ""), 0);
	assert_int_equal(strv_push(&sv, "b.c"), 0);
	s = store_strv_join(&sv, '\n');
	assert_string_equal(s, "a\n\nb.c");
	assert_int_equal(store_strv_split(&back, s, '\n'), 0);
	assert_int_equal(back.n, 3);
	assert_string_equal(back.v[0], "a");
	assert_string_equal(back.v[1], "");
	assert_string_equal(back.v[2], "b.c");
	free(s);
	strv_free(&sv);
	strv_free(&back);
}

/* --- domains --- */

static void
test_domain_add_get(void **state)
{
	struct fx *fx = *state;
	struct store *s = fx->s;
	struct store_domain d = { 0 }, g = { 0 }, x = { 0 };
	struct policy p;
	struct err e = { "" };

	mk_policy(&p, POLICY_MODE_ENFORCE, 86400, "mail.example.com",
	    "*.example.net", NULL);
	assert_int_equal(store_domain_add(s, "acme", "example.com", &p, &d,
	    &e), 0);
	assert_true(d.id > 0);
	assert_string_equal(d.name, "example.com");
	assert_string_equal(d.tenant, "acme");
	assert_int_equal(d.policy.mode, POLICY_MODE_ENFORCE);
	assert_int_equal(d.policy.max_age, 86400);
	assert_int_equal(d.policy.mx.n, 2);
	assert_policy_id(d.policy_id, 1);
	assert_token(d.token);
	assert_true(d.created > 0);
	assert_int_equal(d.updated, d.created);
	assert_int_equal(d.removed, 0);
	assert_int_equal(d.serve_until, 0);

	assert_int_equal(store_domain_get(s, "example.com", &g, &e), 0);
	assert_int_equal(g.id, d.id);
	assert_string_equal(g.policy_id, d.policy_id);
	assert_string_equal(g.token, d.token);
	assert_string_equal(g.tenant, "acme");
	assert_int_equal(g.policy.mx.n, 2);
	assert_string_equal(g.policy.mx.v[0], "mail.example.com");
	assert_string_equal(g.policy.mx.v[1], "*.example.net");

	/* A second add of a hosted domain fails and leaves it alone. */
	assert_int_equal(store_domain_add(s, "other", "example.com", &p, &x,
	    &e), -1);
	assert_non_null(strstr(e.msg, "already hosted"));
	assert_int_equal(x.policy.mx.n, 0);
	assert_int_equal(store_domain_get(s, "nowhere.example", &x, &e), 1);
	store_domain_free(&g);
	assert_int_equal(store_domain_get(s, "example.com", &g, &e), 0);
	assert_string_equal(g.tenant, "acme");

	/* The store refuses a policy that could not be served. */
	policy_free(&p);
	mk_policy(&p, POLICY_MODE_ENFORCE, 86400, NULL);
	assert_int_equal(store_domain_add(s, "acme", "example.org", &p, &x,
	    &e), -1);
	assert_int_equal(store_domain_get(s, "example.org", &x, &e), 1);

	policy_free(&p);
	store_domain_free(&d);
	store_domain_free(&g);
}

struct history {
	int	n;
	char	ids[8][LIMIT_STS_ID_LEN + 1];
	char	bodies[8][256];
};

static int
history_cb(void *arg, const char *id, time_t since, const char *body)
{
	struct history *h = arg;

	assert_true(since > 0);
	if (h->n < 8) {
		snprintf(h->ids[h->n], sizeof(h->ids[0]), "%s", id);
		snprintf(h->bodies[h->n], sizeof(h->bodies[0]), "%s", body);
	}
	h->n++;
	return 0;
}

static void
test_domain_set_new_id_only_on_change(void **state)
{
	struct fx *fx = *state;
	struct store *s = fx->s;
	struct store_domain d = { 0 }, n1 = { 0 }, n2 = { 0 }, n3 = { 0 },
	    n4 = { 0 };
	struct history h = { 0 };
	struct policy p;
	struct err e = { "" };

	add_domain(s, "example.com", 86400, &d);

	/* The same policy again: same id, no history row. */
	mk_policy(&p, POLICY_MODE_ENFORCE, 86400, "mail.example.net", NULL);
	assert_int_equal(store_domain_set(s, "example.com", &p, &n1, &e), 0);
	assert_string_equal(n1.policy_id, d.policy_id);

	/* A real change, twice within one second: two new, distinct ids. */
	p.max_age = 604800;
	assert_int_equal(store_domain_set(s, "example.com", &p, &n2, &e), 0);
	assert_policy_id(n2.policy_id, 2);
	assert_int_equal(n2.policy.max_age, 604800);
	p.mode = POLICY_MODE_TESTING;
	assert_int_equal(store_domain_set(s, "example.com", &p, &n3, &e), 0);
	assert_policy_id(n3.policy_id, 3);
	assert_string_not_equal(n2.policy_id, n3.policy_id);
	assert_string_equal(n3.token, d.token);

	/* No such domain. */
	assert_int_equal(store_domain_set(s, "nowhere.example", &p, &n4,
	    &e), 1);

	assert_int_equal(store_domain_history(s, "example.com", history_cb,
	    &h, &e), 0);
	assert_int_equal(h.n, 3);
	assert_string_equal(h.ids[0], d.policy_id);
	assert_string_equal(h.ids[1], n2.policy_id);
	assert_string_equal(h.ids[2], n3.policy_id);
	assert_non_null(strstr(h.bodies[0], "mode: enforce\r\n"));
	assert_non_null(strstr(h.bodies[1], "max_age: 604800\r\n"));
	assert_non_null(strstr(h.bodies[2], "mode: testing\r\n"));
	assert_int_equal(store_domain_history(s, "nowhere.example",
	    history_cb, &h, &e), -1);

	policy_free(&p);
	store_domain_free(&d);
	store_domain_free(&n1);
	store_domain_free(&n2);
	store_domain_free(&n3);
}

static void
test_domain_remove_and_readd(void **state)
{
	struct fx *fx = *state;
	struct store *s = fx->s;
	struct store_domain d = { 0 }, r = { 0 }, g = { 0 }, x = { 0 },
	    b = { 0 };
	struct history h = { 0 };
	struct policy p;
	struct err e = { "" };
	time_t now = 1778578205;

	add_domain(s, "example.com", 604800, &d);
	/* RFC 8461 §8.3: mode none, max_age at most a day, served until
	 * the old max_age has run out. */
	assert_int_equal(store_domain_remove(s, "example.com", now, &r, &e),
	    0);
	assert_int_equal(r.policy.mode, POLICY_MODE_NONE);
	assert_int_equal(r.policy.max_age, 86400);
	assert_int_equal(r.removed, now);
	assert_int_equal(r.serve_until, now + 604800);
	assert_int_equal(r.updated, now);
	assert_string_equal(r.policy_id, "20260512093005r2");
	assert_int_equal(store_domain_get(s, "example.com", &g, &e), 0);
	assert_int_equal(g.policy.mode, POLICY_MODE_NONE);
	assert_int_equal(g.removed, now);
	assert_string_equal(g.policy_id, r.policy_id);

	/* Removing twice, or setting a removed domain, finds nothing. */
	assert_int_equal(store_domain_remove(s, "example.com", now, &x, &e),
	    1);
	assert_int_equal(store_domain_remove(s, "nowhere.example", now, &x,
	    &e), 1);
	mk_policy(&p, POLICY_MODE_ENFORCE, 86400, "mail.example.net", NULL);
	assert_int_equal(store_domain_set(s, "example.com", &p, &x, &e), 1);

	/* A short max_age is kept as it is. */
	add_domain(s, "short.example", 3600, &x);
	store_domain_free(&x);
	assert_int_equal(store_domain_remove(s, "short.example", now, &x,
	    &e), 0);
	assert_int_equal(x.policy.max_age, 3600);
	assert_int_equal(x.serve_until, now + 3600);
	store_domain_free(&x);

	/* Served with 30 days, then with 1 hour, removed soon after: a
	 * sender may still hold the 30-day policy, so mode none is served
	 * until 30 days after it was replaced, not an hour. */
	{
		struct store_domain y = { 0 };
		struct policy q;
		struct store_served h2[] = { { 1000, 2592000 }, { 5000, 3600 },
		    { 9000, 60 } };
		time_t t0 = time(NULL);

		add_domain(s, "long.example", 2592000, &y);
		store_domain_free(&y);
		mk_policy(&q, POLICY_MODE_ENFORCE, 3600, "mail.example.net",
		    NULL);
		assert_int_equal(store_domain_set(s, "long.example", &q, &y,
		    &e), 0);
		policy_free(&q);
		store_domain_free(&y);
		assert_int_equal(store_domain_remove(s, "long.example", t0 + 10,
		    &y, &e), 0);
		assert_in_range(y.serve_until, t0 + 2592000,
		    time(NULL) + 2592000);
		store_domain_free(&y);
		/* The rule alone: each policy's end plus its max_age. */
		assert_int_equal(store_serve_until(h2, 3, 10000),
		    5000 + 2592000);
		assert_int_equal(store_serve_until(h2 + 1, 2, 10000),
		    10000 + 60 > 9000 + 3600 ? 10000 + 60 : 9000 + 3600);
		assert_int_equal(store_serve_until(NULL, 0, 10000), 10000);
		assert_int_equal(store_body_max_age("version: STSv1\r\n"
		    "mode: none\r\nmax_age: 77\r\n"), 77);
		assert_int_equal(store_body_max_age("nonsense"), 0);
	}

	/* Adding it again brings it back with a new id, the same token. */
	assert_int_equal(store_domain_add(s, "acme", "example.com", &p, &b,
	    &e), 0);
	assert_int_equal(b.id, d.id);
	assert_int_equal(b.removed, 0);
	assert_int_equal(b.serve_until, 0);
	assert_int_equal(b.policy.mode, POLICY_MODE_ENFORCE);
	assert_policy_id(b.policy_id, 3);
	assert_string_equal(b.token, d.token);
	assert_int_equal(b.created, d.created);
	assert_int_equal(store_domain_history(s, "example.com", history_cb,
	    &h, &e), 0);
	assert_int_equal(h.n, 3);
	assert_non_null(strstr(h.bodies[1], "mode: none\r\n"));
	assert_non_null(strstr(h.bodies[1], "max_age: 86400\r\n"));

	policy_free(&p);
	store_domain_free(&d);
	store_domain_free(&r);
	store_domain_free(&g);
	store_domain_free(&b);
}

struct names {
	int	n, stop_at;
	char	v[64][LIMIT_DNAME_LEN + 1];
	char	tokens[64][STORE_TOKEN_LEN + 1];
	int	removed;
};

static int
names_cb(void *arg, const struct store_domain *d)
{
	struct names *l = arg;

	if (l->n == l->stop_at)
		return 7;
	snprintf(l->v[l->n], sizeof(l->v[0]), "%s", d->name);
	snprintf(l->tokens[l->n], sizeof(l->tokens[0]), "%s", d->token);
	l->removed += d->removed != 0;
	l->n++;
	return 0;
}

static void
test_domain_list_and_tokens(void **state)
{
	struct fx *fx = *state;
	struct store *s = fx->s;
	struct names l = { .stop_at = -1 };
	struct store_domain d = { 0 };
	struct err e = { "" };
	char name[32];

	for (int i = 39; i >= 0; i--) {
		snprintf(name, sizeof(name), "d%02d.example", i);
		add_domain(s, name, 86400, &d);
		store_domain_free(&d);
	}
	assert_int_equal(store_domain_remove(s, "d05.example", 1778578205,
	    &d, &e), 0);
	store_domain_free(&d);
	assert_int_equal(store_domain_list(s, names_cb, &l, &e), 0);
	assert_int_equal(l.n, 40);
	assert_int_equal(l.removed, 1);
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "d%02d.example", i);
		assert_string_equal(l.v[i], name);	/* name order */
		assert_token(l.tokens[i]);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(l.tokens[i], l.tokens[j]);
	}
	memset(&l, 0, sizeof(l));
	l.stop_at = 3;
	assert_int_equal(store_domain_list(s, names_cb, &l, &e), 7);
	assert_int_equal(l.n, 3);
}

/* --- reports --- */

/* A report with one sts policy for domain; details is the JSON of the
 * failure-details array, or NULL for none. Caller frees. */
static char *
report_json(const char *org, const char *id, const char *start,
    const char *domain, unsigned ok, unsigned failed, const char *details)
{
	char *buf = NULL;
	int n;

	n = asprintf(&buf,
	    "{\"organization-name\":\"%s\","
	    "\"date-range\":{\"start-datetime\":\"%sT00:00:00Z\","
	    "\"end-datetime\":\"%sT23:59:59Z\"},"
	    "\"contact-info\":\"tlsrpt@reporter.example\","
	    "\"report-id\":\"%s\","
	    "\"policies\":[{\"policy\":{\"policy-type\":\"sts\","
	    "\"policy-string\":[\"version: STSv1\",\"mode: enforce\","
	    "\"mx: mail.%s\",\"max_age: 86400\"],"
	    "\"policy-domain\":\"%s\",\"mx-host\":[\"mail.%s\"]},"
	    "\"summary\":{\"total-successful-session-count\":%u,"
	    "\"total-failure-session-count\":%u}%s%s%s}]}",
	    org, start, start, id, domain, domain, domain, ok, failed,
	    details ? ",\"failure-details\":[" : "", details ? details : "",
	    details ? "]" : "");
	assert_true(n > 0);
	return buf;
}

static struct tlsrpt_report *
parse(const char *json)
{
	struct tlsrpt_report *r = NULL;
	struct err e = { "" };

	if (tlsrpt_parse((const uint8_t *)json, strlen(json), &r, &e) != 0)
		fail_msg("tlsrpt_parse: %s\n%s", e.msg, json);
	return r;
}

/* Parses and stores json; returns STORE_ADDED or STORE_DUPLICATE. */
static int
store_json(struct store *s, const char *json, int64_t *id)
{
	struct store_origin o = { .route = "import", .provenance = STORE_IMPORT, .client = "test" };
	struct tlsrpt_report *r = parse(json);
	struct err e = { "" };
	int res;

	res = store_report_add(s, r, (const uint8_t *)json, strlen(json),
	    &o, id, &e);
	if (res == -1)
		fail_msg("report_add: %s", e.msg);
	tlsrpt_report_free(r);
	return res;
}

#define DETAIL(type, n) \
	"{\"result-type\":\"" type "\",\"sending-mta-ip\":\"192.0.2.1\"," \
	"\"receiving-mx-hostname\":\"mail.example.com\"," \
	"\"failed-session-count\":" #n "}"

struct stats {
	int	n;
	char	rows[32][160];
};

static int
stats_cb(void *arg, const struct store_stat_row *r)
{
	struct stats *st = arg;

	if (st->n < 32)
		snprintf(st->rows[st->n], sizeof(st->rows[0]),
		    "%s %s %s %s %llu", r->day, r->organization_name,
		    r->policy_type, r->result_type,
		    (unsigned long long)r->sessions);
	st->n++;
	return 0;
}

static void
get_stats(struct store *s, const char *domain, time_t from, time_t to,
    struct stats *st)
{
	struct err e = { "" };

	memset(st, 0, sizeof(*st));
	if (store_stats(s, domain, from, to, stats_cb, st, &e) != 0)
		fail_msg("stats: %s", e.msg);
}

/* Runs a constant query returning one integer on the file at path, on a
 * connection of its own. */
static int64_t
count_rows(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t n;

	if (on_pg(path)) {
		PGresult *r = pg_exec(sql, 0);

		assert_int_equal(PQntuples(r), 1);
		n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		PQclear(r);
		return n;
	}
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static void
test_rollup_arithmetic(void **state)
{
	struct fx *fx = *state;
	struct store *s = fx->s;
	struct stats st;
	int64_t id;
	char *j;

	/* Details (3 + 2) short of the total (10): 5 unspecified. */
	j = report_json("Org A", "a-1", "2026-05-12", "example.com", 100, 10,
	    DETAIL("certificate-expired", 3) ","
	    DETAIL("starttls-not-supported", 2));
	assert_int_equal(store_json(s, j, &id), STORE_ADDED);
	free(j);
	/* Details (3 + 4) over the total (2), as Mail.ru sends: the
	 * details count, nothing is unspecified. */
	j = report_json("Org B", "b-1", "2026-05-12", "example.com", 5, 2,
	    DETAIL("validation-failure", 3) ","
	    DETAIL("certificate-expired", 4));
	assert_int_equal(store_json(s, j, &id), STORE_ADDED);
	free(j);
	/* Same organization and day, another report: the cells add up. */
	j = report_json("Org A", "a-2", "2026-05-12", "example.com", 1, 4,
	    DETAIL("certificate-expired", 4));
	assert_int_equal(store_json(s, j, &id), STORE_ADDED);
	free(j);
	/* No details at all: everything failed is unspecified. */
	j = report_json("Org A", "a-3", "2026-05-13", "example.com", 7, 6,
	    NULL);
	assert_int_equal(store_json(s, j, &id), STORE_ADDED);
	free(j);
	/* Another domain stays apart. */
	j = report_json("Org A", "a-4", "2026-05-12", "example.org", 9, 0,
	    NULL);
	assert_int_equal(store_json(s, j, &id), STORE_ADDED);
	free(j);

	get_stats(s, "example.com", 0, 0, &st);
	assert_int_equal(st.n, 9);
	assert_string_equal(st.rows[0],
	    "2026-05-12 Org A sts certificate-expired 7");
	assert_string_equal(st.rows[1],
	    "2026-05-12 Org A sts starttls-not-supported 2");
	assert_string_equal(st.rows[2], "2026-05-12 Org A sts successful 101");
	assert_string_equal(st.rows[3], "2026-05-12 Org A sts unspecified 5");
	assert_string_equal(st.rows[4],
	    "2026-05-12 Org B sts certificate-expired 4");
	assert_string_equal(st.rows[5], "2026-05-12 Org B sts successful 5");
	assert_string_equal(st.rows[6],
	    "2026-05-12 Org B sts validation-failure 3");
	assert_string_equal(st.rows[7], "2026-05-13 Org A sts successful 7");
	assert_string_equal(st.rows[8], "2026-05-13 Org A sts unspecified 6");

	/* from <= day < to, by days. 2026-05-13T00:00:00Z = 1778630400. */
	get_stats(s, "example.com", 1778630400, 0, &st);
	assert_int_equal(st.n, 2);
	assert_string_equal(st.rows[0], "2026-05-13 Org A sts successful 7");
	get_stats(s, "example.com", 0, 1778630400, &st);
	assert_int_equal(st.n, 7);
	get_stats(s, "example.com", 1778630401, 0, &st);	/* rounds up */
	assert_int_equal(st.n, 0);
	get_stats(s, "example.com", 1778630400, 1778630401, &st);
	assert_int_equal(st.n, 2);

	get_stats(s, "example.org", 0, 0, &st);
	assert_int_equal(st.n, 1);
	assert_string_equal(st.rows[0], "2026-05-12 Org A sts successful 9");
	get_stats(s, "nowhere.example", 0, 0, &st);
	assert_int_equal(st.n, 0);

	/* A failure claiming the reserved result type "successful" must
	 * not be counted as a success. */
	j = report_json("Org A", "a-5", "2026-05-12", "example.net", 4, 2,
	    DETAIL("successful", 2));
	assert_int_equal(store_json(s, j, &id), STORE_ADDED);
	free(j);
	get_stats(s, "example.net", 0, 0, &st);
	assert_int_equal(st.n, 2);
	assert_string_equal(st.rows[0], "2026-05-12 Org A sts successful 4");
	assert_string_equal(st.rows[1], "2026-05-12 Org A sts unspecified 2");

	/* Every failure detail is kept with its fields, as sent. */
	assert_int_equal(count_rows(fx->path, "SELECT count(*) FROM "
	    "failure_detail"), 6);
	assert_int_equal(count_rows(fx->path, "SELECT count(*) FROM "
	    "failure_detail WHERE result_type = 'validation-failure' AND "
	    "sending_mta_ip = '192.0.2.1' AND receiving_mx_hostname = "
	    "'mail.example.com' AND receiving_ip IS NULL AND "
	    "failed_session_count = 3"), 1);
	assert_int_equal(count_rows(fx->path, "SELECT count(*) FROM "
	    "report_policy WHERE policy_string = 'version: STSv1\nmode: "
	    "enforce\nmx: mail.example.com\nmax_age: 86400' AND mx_host = "
	    "'mail.example.com' AND successful = 100 AND failed = 10"), 1);
}

struct rows {
	int	n;
	int64_t	ids[16];
	int64_t	dups[16];
	char	domains[16][64];
	uint64_t ok[16], failed[16];
};

static int
rows_cb(void *arg, const struct store_report_row *r)
{
	struct rows *l = arg;

	if (l->n < 16) {
		l->ids[l->n] = r->id;
		l->dups[l->n] = r->duplicates;
		l->ok[l->n] = r->successful;
		l->failed[l->n] = r->failed;
		snprintf(l->domains[l->n], sizeof(l->domains[0]), "%s",
		    r->policy_domains);
	}
	l->n++;
	return 0;
}

static void
test_report_duplicate(void **state)
{
	struct fx *fx = *state;
	struct store *s = fx->s;
	struct store_report_filter f = { 0 };
	struct stats before, after;
	struct rows l = { 0 };
	struct err e = { "" };
	int64_t id, id2 = 0;
	char *j, *j2;

	j = report_json("Org A", "a-1", "2026-05-12", "example.com", 100, 10,
	    DETAIL("certificate-expired", 3));
	assert_int_equal(store_json(s, j, &id), STORE_ADDED);
	assert_true(id > 0);
	get_stats(s, "example.com", 0, 0, &before);

	/* The same report again is a duplicate: as sent, pretty-printed
	 * (normalization: whitespace, key order), or gzipped. */
	assert_int_equal(store_json(s, j, &id2), STORE_DUPLICATE);
	assert_int_equal(id2, id);
	{
		struct tlsrpt_report *r = parse(j);
		char *pretty = tlsrpt_report_json(r, 2);
		uint8_t *gz;
		size_t gzlen;
		struct store_origin o = { .route = "import",
		    .provenance = STORE_IMPORT };

		assert_int_equal(store_json(s, pretty, &id2),
		    STORE_DUPLICATE);
		assert_int_equal(id2, id);
		assert_int_equal(gzip_deflate((const uint8_t *)j, strlen(j),
		    &gz, &gzlen, &e), 0);
		assert_int_equal(store_report_add(s, r, gz, gzlen, &o, &id2,
		    &e), STORE_DUPLICATE);
		assert_int_equal(id2, id);
		free(gz);
		free(pretty);
		tlsrpt_report_free(r);
	}
	get_stats(s, "example.com", 0, 0, &after);
	assert_int_equal(after.n, before.n);
	for (int i = 0; i < before.n; i++)
		assert_string_equal(after.rows[i], before.rows[i]);

	/* RFC 8460 §4: (organization-name, report-id) names a report; a
	 * different one under the same pair is not dropped: it is stored,
	 * both are flagged, and the first (same provenance) still counts
	 * alone. */
	j2 = report_json("Org A", "a-1", "2026-05-12", "example.com", 5, 0,
	    NULL);
	assert_int_equal(store_json(s, j2, &id2), STORE_ADDED);
	assert_true(id2 != id);
	get_stats(s, "example.com", 0, 0, &after);
	assert_int_equal(after.n, before.n);
	for (int i = 0; i < before.n; i++)
		assert_string_equal(after.rows[i], before.rows[i]);
	assert_int_equal(count_rows(fx->path, "SELECT count(*) FROM report "
	    "WHERE conflict = 1"), 2);
	assert_int_equal(count_rows(fx->path, "SELECT id FROM report "
	    "WHERE counted = 1 AND report_id = 'a-1'"), id);
	{
		struct store_report_filter k = { .same_key_as = id2 };
		struct rows kl = { 0 };

		assert_int_equal(store_report_list(s, &k, rows_cb, &kl, &e),
		    0);
		assert_int_equal(kl.n, 2);
		assert_int_equal(kl.ids[0], id);	/* counts: first */
		assert_int_equal(kl.ids[1], id2);
	}

	/* Another organization may use the same report-id: no conflict. */
	free(j2);
	j2 = report_json("Org B", "a-1", "2026-05-12", "example.com", 1, 0,
	    NULL);
	assert_int_equal(store_json(s, j2, &id2), STORE_ADDED);
	assert_true(id2 != id);
	assert_int_equal(count_rows(fx->path, "SELECT conflict FROM report "
	    "WHERE organization_name = 'Org B'"), 0);

	assert_int_equal(store_report_list(s, &f, rows_cb, &l, &e), 0);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.ids[0], id2);	/* newest first */
	assert_int_equal(l.dups[0], 0);
	assert_int_equal(l.ids[2], id);
	assert_int_equal(l.dups[2], 3);
	assert_int_equal(l.ok[2], 100);
	assert_int_equal(l.failed[2], 10);
	assert_string_equal(l.domains[2], "example.com");
	free(j);
	free(j2);
}

/* Stores json as a report of provenance p, require_dkim as given. */
static int
add_as(struct store *s, const char *json, enum store_provenance p,
    bool require_dkim, int64_t *id)
{
	struct store_origin o = { .route = "test", .client = "192.0.2.1",
	    .provenance = p, .require_dkim = require_dkim,
	    .provenance_reason = p == STORE_MAIL_UNVERIFIED ? "no signature" :
	    NULL };
	struct tlsrpt_report *r = parse(json);
	struct err e = { "" };
	int res;

	res = store_report_add(s, r, (const uint8_t *)json, strlen(json), &o,
	    id, &e);
	if (res == -1)
		fail_msg("report_add: %s", e.msg);
	tlsrpt_report_free(r);
	return res;
}

/* The statistics of domain in a and b are the same rows. */
static void
same_stats(struct store *a, struct store *b, const char *domain)
{
	struct stats sa, sb;

	get_stats(a, domain, 0, 0, &sa);
	get_stats(b, domain, 0, 0, &sb);
	if (sa.n != sb.n)
		fail_msg("%s: %d rows, want %d (first: '%s')", domain, sa.n,
		    sb.n, sa.n > 0 ? sa.rows[0] : "");
	for (int i = 0; i < sa.n && i < 32; i++)
		assert_string_equal(sa.rows[i], sb.rows[i]);
}

/* The counted flag of report id in the file at path. */
static int64_t
counted(const char *path, int64_t id)
{
	char sql[96];

	snprintf(sql, sizeof(sql), "SELECT counted FROM report WHERE id = "
	    "%lld", (long long)id);
	return count_rows(path, sql);
}

/* Issue 12: what counts when different reports share an
 * (organization-name, report-id). Every case compares the statistics
 * with a second store that holds only the report that should count. */
static void
test_report_conflict(void **state)
{
	struct fx *fx = *state;
	struct store *s = fx->s, *ref = NULL;
	struct store_report_filter f = { .conflicts = true };
	struct rows l = { 0 };
	struct err e = { "" };
	char path[160], *real, *forged, *v;
	int64_t idr, idf, id;

	snprintf(path, sizeof(path), "%s/ref.db", fx->dir);
	if (open_at(path, &ref, &e) == -1)
		fail_msg("open: %s", e.msg);
	real = report_json("Google", "2026-05-12T00:00:00Z_a.example",
	    "2026-05-12", "a.example", 900, 3,
	    DETAIL("certificate-expired", 3));
	assert_int_equal(add_as(ref, real, STORE_IMPORT, true, &id),
	    STORE_ADDED);

	/* Pre-emption: a forged report posted first under the id the
	 * reporter will use counts while it is alone... */
	forged = report_json("Google", "2026-05-12T00:00:00Z_a.example",
	    "2026-05-12", "a.example", 0, 5000,
	    DETAIL("starttls-not-supported", 5000));
	assert_int_equal(add_as(s, forged, STORE_HTTPS, true, &idf),
	    STORE_ADDED);
	assert_int_equal(counted(fx->path, idf), 1);
	/* ...then the real one, signed: it counts, the forged one is kept
	 * and flagged, and its sessions leave the statistics. */
	assert_int_equal(add_as(s, real, STORE_DKIM_VERIFIED, true, &idr),
	    STORE_ADDED);
	assert_int_equal(counted(fx->path, idr), 1);
	assert_int_equal(counted(fx->path, idf), 0);
	same_stats(s, ref, "a.example");
	assert_int_equal(store_report_list(s, &f, rows_cb, &l, &e), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.ids[0], idr);	/* the one that counts first */
	assert_int_equal(l.ids[1], idf);

	/* The other order: the real one first; the forged one after it is
	 * stored, flagged, never counted. */
	free(real);
	free(forged);
	real = report_json("Google", "b-id", "2026-05-13", "b.example", 40,
	    0, NULL);
	forged = report_json("Google", "b-id", "2026-05-14", "b.example", 1,
	    7, DETAIL("validation-failure", 7));
	assert_int_equal(add_as(ref, real, STORE_IMPORT, true, &id),
	    STORE_ADDED);
	assert_int_equal(add_as(s, real, STORE_DKIM_VERIFIED, true, &idr),
	    STORE_ADDED);
	assert_int_equal(add_as(s, forged, STORE_HTTPS, true, &idf),
	    STORE_ADDED);
	assert_int_equal(counted(fx->path, idr), 1);
	assert_int_equal(counted(fx->path, idf), 0);
	same_stats(s, ref, "b.example");
	/* Its day (the 14th) left no trace in the roll-ups. */
	assert_int_equal(count_rows(fx->path, "SELECT count(*) FROM rollup "
	    "WHERE day = '2026-05-14'"), 0);

	/* HTTPS against HTTPS: the earliest counts. The reporter's own copy
	 * arriving later by signed mail (the same report) is a duplicate
	 * that raises it to dkim-verified: now it counts. */
	free(real);
	free(forged);
	forged = report_json("Org", "c-id", "2026-05-12", "c.example", 1, 99,
	    NULL);
	real = report_json("Org", "c-id", "2026-05-12", "c.example", 50, 0,
	    NULL);
	assert_int_equal(add_as(s, forged, STORE_HTTPS, true, &idf),
	    STORE_ADDED);
	assert_int_equal(add_as(s, real, STORE_HTTPS, true, &idr),
	    STORE_ADDED);
	assert_int_equal(counted(fx->path, idf), 1);
	assert_int_equal(counted(fx->path, idr), 0);
	assert_int_equal(add_as(s, real, STORE_DKIM_VERIFIED, true, &id),
	    STORE_DUPLICATE);
	assert_int_equal(id, idr);
	assert_int_equal(counted(fx->path, idr), 1);
	assert_int_equal(counted(fx->path, idf), 0);
	assert_int_equal(add_as(ref, real, STORE_IMPORT, true, &id),
	    STORE_ADDED);
	same_stats(s, ref, "c.example");

	/* require_dkim: an unverified mail report alone is kept and not
	 * counted; with require_dkim off it counts at its rank, above an
	 * HTTPS one. */
	free(real);
	free(forged);
	v = report_json("Org", "d-id", "2026-05-12", "d.example", 8, 0, NULL);
	assert_int_equal(add_as(s, v, STORE_MAIL_UNVERIFIED, true, &id),
	    STORE_ADDED);
	assert_int_equal(counted(fx->path, id), 0);
	same_stats(s, ref, "d.example");	/* nothing */
	free(v);
	v = report_json("Org", "e-id", "2026-05-12", "e.example", 8, 0, NULL);
	real = report_json("Org", "e-id", "2026-05-12", "e.example", 9, 1,
	    NULL);
	assert_int_equal(add_as(s, real, STORE_HTTPS, false, &idf),
	    STORE_ADDED);
	assert_int_equal(add_as(s, v, STORE_MAIL_UNVERIFIED, false, &idr),
	    STORE_ADDED);
	assert_int_equal(counted(fx->path, idr), 1);
	assert_int_equal(counted(fx->path, idf), 0);
	assert_int_equal(add_as(ref, v, STORE_IMPORT, true, &id),
	    STORE_ADDED);
	same_stats(s, ref, "e.example");

	/* Past LIMIT_REPORT_CONFLICTS variants under one key, anonymous
	 * ones go to quarantine; the operator's are still stored. */
	for (int i = 0; i < LIMIT_REPORT_CONFLICTS; i++) {
		free(v);
		v = report_json("Org", "f-id", "2026-05-12", "f.example",
		    (unsigned)i, 0, NULL);
		assert_int_equal(add_as(s, v, STORE_HTTPS, true, &id),
		    STORE_ADDED);
	}
	free(v);
	v = report_json("Org", "f-id", "2026-05-12", "f.example", 1000, 0,
	    NULL);
	assert_int_equal(add_as(s, v, STORE_HTTPS, true, &id),
	    STORE_QUARANTINED);
	assert_true(id > 0);
	assert_int_equal(count_rows(fx->path, "SELECT count(*) FROM "
	    "quarantine WHERE reason LIKE 'more than % different reports%'"),
	    1);
	assert_int_equal(add_as(s, v, STORE_IMPORT, true, &id), STORE_ADDED);
	assert_int_equal(counted(fx->path, id), 1);
	assert_int_equal(add_as(ref, v, STORE_IMPORT, true, &id),
	    STORE_ADDED);
	same_stats(s, ref, "f.example");
	assert_int_equal(count_rows(fx->path, "SELECT count(*) FROM report "
	    "WHERE report_id = 'f-id' AND counted = 1"), 1);
	free(v);
	free(real);
	store_close(ref);
}

/* A report without a provenance is refused. */
static void
test_report_provenance_required(void **state)
{
	struct fx *fx = *state;
	struct store_origin o = { .route = "https" };
	char *j = report_json("Org", "p-id", "2026-05-12", "p.example", 1, 0,
	    NULL);
	struct tlsrpt_report *r = parse(j);
	struct err e = { "" };
	int64_t id;

	assert_int_equal(store_report_add(fx->s, r, (const uint8_t *)j,
	    strlen(j), &o, &id, &e), -1);
	assert_non_null(strstr(e.msg, "no provenance"));
	tlsrpt_report_free(r);
	free(j);
}

/* Group commit: one transaction for many reports, each with the
 * semantics of report_add, duplicates within the batch included; the
 * roll-ups and duplicate counts equal those of adding one by one. */
static void
test_report_batch(void **state)
{
	struct fx *fx = *state;
	struct store *s = fx->s, *s1 = NULL;
	struct store_origin o = { .route = "https", .provenance = STORE_HTTPS, .client = "test" };
	struct store_report_filter f = { 0 };
	struct store_report_job jobs[5];
	struct tlsrpt_report *r[4];
	struct stats sb, s1b;
	struct rows lb = { 0 }, l1 = { 0 };
	struct err e = { "" };
	char path[160], p[200];
	char *j[4];
	int results[5];
	int64_t ids[5], pre = 0, id1;

	j[0] = report_json("Org A", "b-1", "2026-05-12", "example.com", 100,
	    10, DETAIL("certificate-expired", 3));
	j[1] = report_json("Org B", "b-2", "2026-05-12", "example.com", 7, 2,
	    DETAIL("starttls-not-supported", 2));
	j[2] = strdup(j[0]);	/* the same report as j[0] */
	j[3] = report_json("Org C", "stored-before", "2026-05-13",
	    "example.com", 1, 1, NULL);
	for (int i = 0; i < 4; i++)
		r[i] = parse(j[i]);

	/* j[3] is stored before: in the batch it is a duplicate of it. */
	assert_int_equal(store_json(s, j[3], &pre), STORE_ADDED);
	for (int i = 0; i < 4; i++)
		jobs[i] = (struct store_report_job){ .r = r[i],
		    .raw = (const uint8_t *)j[i], .rawlen = strlen(j[i]),
		    .o = &o };
	/* A job refused before the transaction does not sink the others. */
	jobs[4] = (struct store_report_job){ .r = r[1], .raw = NULL,
	    .rawlen = 0, .o = &o };
	assert_int_equal(store_report_add_batch(s, jobs, 5, results, ids,
	    &e), 0);
	assert_int_equal(results[0], STORE_ADDED);
	assert_int_equal(results[1], STORE_ADDED);
	assert_int_equal(results[2], STORE_DUPLICATE);
	assert_int_equal(ids[2], ids[0]);
	assert_int_equal(results[3], STORE_DUPLICATE);
	assert_int_equal(ids[3], pre);
	assert_int_equal(results[4], -1);
	assert_int_equal(ids[4], 0);
	assert_true(ids[0] > 0 && ids[1] > 0 && ids[0] != ids[1]);

	/* The same reports one by one into a second store. */
	snprintf(path, sizeof(path), "%s/one.db", fx->dir);
	if (open_at(path, &s1, &e) == -1)
		fail_msg("open: %s", e.msg);
	assert_int_equal(store_json(s1, j[3], &id1), STORE_ADDED);
	for (int i = 0; i < 4; i++)
		assert_int_equal(store_report_add(s1, r[i],
		    (const uint8_t *)j[i], strlen(j[i]), &o, &id1, &e),
		    results[i]);
	get_stats(s, "example.com", 0, 0, &sb);
	get_stats(s1, "example.com", 0, 0, &s1b);
	assert_true(sb.n > 0);
	assert_int_equal(sb.n, s1b.n);
	for (int i = 0; i < sb.n; i++)
		assert_string_equal(sb.rows[i], s1b.rows[i]);
	assert_int_equal(store_report_list(s, &f, rows_cb, &lb, &e), 0);
	assert_int_equal(store_report_list(s1, &f, rows_cb, &l1, &e), 0);
	assert_int_equal(lb.n, 3);
	assert_int_equal(l1.n, 3);
	for (int i = 0; i < lb.n; i++) {
		assert_int_equal(lb.dups[i], l1.dups[i]);
		assert_int_equal(lb.ok[i], l1.ok[i]);
		assert_int_equal(lb.failed[i], l1.failed[i]);
	}

	/* A batch of nothing but refused jobs writes nothing. */
	assert_int_equal(store_report_add_batch(s, &jobs[4], 1, results,
	    ids, &e), 0);
	assert_int_equal(results[0], -1);

	store_close(s1);
	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
	for (int i = 0; i < 4; i++) {
		tlsrpt_report_free(r[i]);
		free(j[i]);
	}
}

static void
test_report_list_filter(void **state)
{
	struct fx *fx = *state;
	struct store *s = fx->s;
	struct store_report_filter f = { 0 };
	struct rows l = { 0 };
	struct err e = { "" };
	int64_t ids[4];
	char *j;
	const char *two =
	    "{\"organization-name\":\"Org C\",\"date-range\":{"
	    "\"start-datetime\":\"2026-05-12T00:00:00Z\","
	    "\"end-datetime\":\"2026-05-12T23:59:59Z\"},"
	    "\"contact-info\":\"c@reporter.example\",\"report-id\":\"c-1\","
	    "\"policies\":["
	    "{\"policy\":{\"policy-type\":\"sts\",\"policy-string\":[],"
	    "\"policy-domain\":\"example.org\",\"mx-host\":[]},"
	    "\"summary\":{\"total-successful-session-count\":1,"
	    "\"total-failure-session-count\":0}},"
	    "{\"policy\":{\"policy-type\":\"no-policy-found\","
	    "\"policy-domain\":\"example.com\"},"
	    "\"summary\":{\"total-successful-session-count\":2,"
	    "\"total-failure-session-count\":0}}]}";

	j = report_json("Org A", "a-1", "2026-05-12", "example.com", 1, 0,
	    NULL);
	assert_int_equal(store_json(s, j, &ids[0]), STORE_ADDED);
	free(j);
	j = report_json("Org A", "a-2", "2026-05-12", "example.net", 1, 0,
	    NULL);
	assert_int_equal(store_json(s, j, &ids[1]), STORE_ADDED);
	free(j);
	assert_int_equal(store_json(s, two, &ids[2]), STORE_ADDED);
	j = report_json("Org A", "a-3", "2026-05-13", "example.com", 1, 0,
	    NULL);
	assert_int_equal(store_json(s, j, &ids[3]), STORE_ADDED);
	free(j);

	f.domain = "example.com";
	assert_int_equal(store_report_list(s, &f, rows_cb, &l, &e), 0);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.ids[0], ids[3]);
	assert_int_equal(l.ids[1], ids[2]);
	assert_int_equal(l.ids[2], ids[0]);
	assert_string_equal(l.domains[1], "example.com,example.org");

	memset(&l, 0, sizeof(l));
	f.limit = 2;
	assert_int_equal(store_report_list(s, &f, rows_cb, &l, &e), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.ids[0], ids[3]);

	/* Limit 1, the overview's last report: its own statement. */
	memset(&l, 0, sizeof(l));
	f.limit = 1;
	assert_int_equal(store_report_list(s, &f, rows_cb, &l, &e), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.ids[0], ids[3]);
	memset(&l, 0, sizeof(l));
	f.domain = "example.org";
	assert_int_equal(store_report_list(s, &f, rows_cb, &l, &e), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.ids[0], ids[2]);
	assert_string_equal(l.domains[0], "example.com,example.org");
	memset(&l, 0, sizeof(l));
	f.domain = "nothing.example";
	assert_int_equal(store_report_list(s, &f, rows_cb, &l, &e), 0);
	assert_int_equal(l.n, 0);
	f.domain = "example.com";

	memset(&l, 0, sizeof(l));
	f.domain = NULL;
	f.limit = 0;
	assert_int_equal(store_report_list(s, &f, rows_cb, &l, &e), 0);
	assert_int_equal(l.n, 4);
	assert_int_equal(l.ids[3], ids[0]);
	assert_int_equal(store_report_list(s, NULL, rows_cb, &l, &e), 0);
}

/* --- reports and the domains they belong to (read-time mapping) --- */

/* A report with one policy entry of policy-type type for policy-domain
 * domain, without failure details. Caller frees. */
static char *
entry_json(const char *org, const char *id, const char *type,
    const char *domain, unsigned ok, unsigned failed)
{
	char *buf = NULL;

	assert_true(asprintf(&buf,
	    "{\"organization-name\":\"%s\","
	    "\"date-range\":{\"start-datetime\":\"2026-05-12T00:00:00Z\","
	    "\"end-datetime\":\"2026-05-12T23:59:59Z\"},"
	    "\"contact-info\":\"tlsrpt@reporter.example\","
	    "\"report-id\":\"%s\","
	    "\"policies\":[{\"policy\":{\"policy-type\":\"%s\","
	    "\"policy-string\":[],\"policy-domain\":\"%s\"},"
	    "\"summary\":{\"total-successful-session-count\":%u,"
	    "\"total-failure-session-count\":%u}}]}",
	    org, id, type, domain, ok, failed) > 0);
	return buf;
}

/* Stores a one-entry report; returns its id. */
static int64_t
store_entry(struct store *s, const char *org, const char *id,
    const char *type, const char *domain, unsigned ok, unsigned failed)
{
	char *j = entry_json(org, id, type, domain, ok, failed);
	int64_t rid;

	assert_int_equal(store_json(s, j, &rid), STORE_ADDED);
	free(j);
	return rid;
}

static void
add_domain_mx(struct store *s, const char *name, const char *mx1,
    const char *mx2)
{
	struct store_domain d = { 0 };
	struct policy p;
	struct err e = { "" };

	mk_policy(&p, POLICY_MODE_ENFORCE, 86400, mx1, mx2, NULL);
	if (store_domain_add(s, "acme", name, &p, &d, &e) != 0)
		fail_msg("domain_add %s: %s", name, e.msg);
	policy_free(&p);
	store_domain_free(&d);
}

static void
set_domain_mx(struct store *s, const char *name, const char *mx1,
    const char *mx2)
{
	struct store_domain d = { 0 };
	struct policy p;
	struct err e = { "" };

	mk_policy(&p, POLICY_MODE_ENFORCE, 86400, mx1, mx2, NULL);
	if (store_domain_set(s, name, &p, &d, &e) != 0)
		fail_msg("domain_set %s: %s", name, e.msg);
	policy_free(&p);
	store_domain_free(&d);
}

struct mxrows {
	int	n;
	char	v[8][96];		/* "host others" */
};

static int
mxrows_cb(void *arg, const struct store_mx_host_row *r)
{
	struct mxrows *l = arg;

	if (l->n < 8)
		snprintf(l->v[l->n], sizeof(l->v[0]), "%s %lld", r->host,
		    (long long)r->others);
	l->n++;
	return 0;
}

static void
get_mx_hosts(struct store *s, const char *domain, time_t from,
    struct mxrows *l)
{
	struct err e = { "" };

	memset(l, 0, sizeof(*l));
	if (store_stats_mx_hosts(s, domain, from, 0, mxrows_cb, l, &e) != 0)
		fail_msg("stats_mx_hosts: %s", e.msg);
}

/* Lists report ids by filter (domain, or unclaimed) into l. */
static void
list_reports(struct store *s, const char *domain, bool unclaimed,
    long limit, struct rows *l)
{
	struct store_report_filter f = { .domain = domain,
	    .unclaimed = unclaimed, .limit = limit };
	struct err e = { "" };

	memset(l, 0, sizeof(*l));
	if (store_report_list(s, &f, rows_cb, l, &e) != 0)
		fail_msg("report_list: %s", e.msg);
}

/* RFC 8461 §4.1 matching of tlsa policy-domains (MX hosts) against a
 * domain's mx patterns, done when reading: stats, the MX hosts listed
 * with them, report list by domain, and the unclaimed reports, each
 * following domain_add and domain_set. */
static void
test_tlsa_mx_hosts(void **state)
{
	struct fx *fx = *state;
	struct store *s = fx->s;
	struct store_report_filter both = { .domain = "example.com",
	    .unclaimed = true };
	struct store_domain d = { 0 };
	struct mxrows mx;
	struct stats st;
	struct rows l;
	struct err e = { "" };
	int64_t r[10];

	add_domain_mx(s, "example.com", "mx1.p.example", "*.q.example");
	add_domain_mx(s, "other.example", "mx1.p.example", NULL);
	add_domain_mx(s, "gone.example", "mx1.p.example", NULL);
	assert_int_equal(store_domain_remove(s, "gone.example", time(NULL),
	    &d, &e), 0);
	store_domain_free(&d);

	/* Case and one trailing dot do not matter. */
	r[0] = store_entry(s, "Org T", "t-0", "tlsa", "MX1.P.example.", 10, 1);
	/* "*.q.example" matches one label more ... */
	r[1] = store_entry(s, "Org U", "t-1", "tlsa", "a.q.example", 20, 0);
	/* ... not two, and not none. */
	r[2] = store_entry(s, "Org T", "t-2", "tlsa", "b.a.q.example", 40, 0);
	r[3] = store_entry(s, "Org T", "t-3", "tlsa", "mx9.p.example", 80, 0);
	r[4] = store_entry(s, "Org T", "t-4", "tlsa", "q.example", 160, 0);
	/* The hosted domain itself (Microsoft's tlsa entries). */
	r[5] = store_entry(s, "Org T", "t-5", "tlsa", "example.com", 100, 0);
	/* A domain nobody hosts. */
	r[6] = store_entry(s, "Org T", "t-6", "sts", "nobody.example", 1, 0);
	/* The same MX host without the dot: one host, rows added up. */
	r[7] = store_entry(s, "Org T", "t-7", "tlsa", "mx1.p.example", 5, 0);
	/* Only tlsa entries map through MX hosts. */
	r[8] = store_entry(s, "Org T", "t-8", "sts", "mx1.p.example", 1000, 0);
	/* An empty first label matches no wildcard (policy_mx_match). */
	r[9] = store_entry(s, "Org T", "t-9", "tlsa", ".q.example", 320, 0);

	/* One row per key, the sessions of several policy-domains added
	 * up: Org T 10 + 100 + 5, Org U 20. */
	get_stats(s, "example.com", 0, 0, &st);
	assert_int_equal(st.n, 3);
	assert_string_equal(st.rows[0], "2026-05-12 Org T tlsa successful 115");
	assert_string_equal(st.rows[1], "2026-05-12 Org T tlsa unspecified 1");
	assert_string_equal(st.rows[2], "2026-05-12 Org U tlsa successful 20");
	/* other.example shares mx1.p.example; gone.example is removed. */
	get_mx_hosts(s, "example.com", 0, &mx);
	assert_int_equal(mx.n, 2);
	assert_string_equal(mx.v[0], "a.q.example 0");
	assert_string_equal(mx.v[1], "mx1.p.example 1");
	get_stats(s, "other.example", 0, 0, &st);
	assert_int_equal(st.n, 2);
	assert_string_equal(st.rows[0], "2026-05-12 Org T tlsa successful 15");
	get_mx_hosts(s, "other.example", 0, &mx);
	assert_int_equal(mx.n, 1);
	assert_string_equal(mx.v[0], "mx1.p.example 1");
	/* Hosts without rows in the range are not listed. */
	get_mx_hosts(s, "example.com", 1778630400, &mx);	/* 05-13 */
	assert_int_equal(mx.n, 0);
	get_mx_hosts(s, "nobody.example", 0, &mx);
	assert_int_equal(mx.n, 0);

	list_reports(s, "example.com", false, 0, &l);
	assert_int_equal(l.n, 4);
	assert_int_equal(l.ids[0], r[7]);
	assert_int_equal(l.ids[1], r[5]);
	assert_int_equal(l.ids[2], r[1]);
	assert_int_equal(l.ids[3], r[0]);

	/* Unclaimed, newest first. */
	list_reports(s, NULL, true, 0, &l);
	assert_int_equal(l.n, 6);
	assert_int_equal(l.ids[0], r[9]);
	assert_int_equal(l.ids[1], r[8]);
	assert_int_equal(l.ids[2], r[6]);
	assert_int_equal(l.ids[3], r[4]);
	assert_int_equal(l.ids[4], r[3]);
	assert_int_equal(l.ids[5], r[2]);
	list_reports(s, NULL, true, 2, &l);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.ids[1], r[8]);
	assert_int_equal(store_report_list(s, &both, rows_cb, &l, &e), -1);

	/* A domain added later claims its earlier reports. */
	add_domain_mx(s, "nobody.example", "mail.nobody.example", NULL);
	list_reports(s, NULL, true, 0, &l);
	assert_int_equal(l.n, 5);
	assert_int_equal(l.ids[1], r[8]);
	assert_int_equal(l.ids[2], r[4]);

	/* New patterns, new mapping: a.q.example is nobody's now, while
	 * mx1.p.example stays other.example's (and gone.example's). */
	set_domain_mx(s, "example.com", "mx9.p.example", "*.a.q.example");
	get_stats(s, "example.com", 0, 0, &st);
	assert_int_equal(st.n, 1);
	assert_string_equal(st.rows[0], "2026-05-12 Org T tlsa successful 220");
	get_mx_hosts(s, "example.com", 0, &mx);
	assert_int_equal(mx.n, 2);
	assert_string_equal(mx.v[0], "b.a.q.example 0");
	assert_string_equal(mx.v[1], "mx9.p.example 0");
	list_reports(s, NULL, true, 0, &l);
	assert_int_equal(l.n, 4);
	assert_int_equal(l.ids[0], r[9]);
	assert_int_equal(l.ids[1], r[8]);
	assert_int_equal(l.ids[2], r[4]);
	assert_int_equal(l.ids[3], r[1]);
	/* 2 + other + gone + nobody: set replaced example.com's rows. */
	assert_int_equal(count_rows(fx->path, "SELECT count(*) FROM "
	    "domain_mx"), 5);
	assert_int_equal(count_rows(fx->path, "SELECT count(*) FROM "
	    "domain_mx m JOIN domain d ON d.id = m.domain_id WHERE "
	    "d.name = 'example.com' AND m.pattern IN ('mx9.p.example', "
	    "'*.a.q.example')"), 2);

	/* A removed domain keeps its patterns and claims. */
	assert_int_equal(store_domain_remove(s, "example.com", time(NULL),
	    &d, &e), 0);
	store_domain_free(&d);
	list_reports(s, NULL, true, 0, &l);
	assert_int_equal(l.n, 4);
	get_stats(s, "example.com", 0, 0, &st);
	assert_int_equal(st.n, 1);
}

static int
one_row_cb(void *arg, const struct store_report_row *r)
{
	*(int64_t *)arg = r->id;
	return 0;
}

/* Reads back the stored blob of report id and whether we gzipped it. */
static void
stored_raw(const char *path, int64_t id, bool *gz, bool *plain)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	const uint8_t *b;

	if (on_pg(path)) {
		char sql[96];
		PGresult *r;

		snprintf(sql, sizeof(sql), "SELECT raw, raw_plain <> 0 FROM "
		    "report WHERE id = %lld", (long long)id);
		r = pg_exec(sql, 1);
		assert_int_equal(PQntuples(r), 1);
		b = (const uint8_t *)PQgetvalue(r, 0, 0);
		*gz = PQgetlength(r, 0, 0) >= 2 && b[0] == 0x1f &&
		    b[1] == 0x8b;
		*plain = PQgetvalue(r, 0, 1)[0] != 0;
		PQclear(r);
		return;
	}
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT raw, raw_plain FROM "
	    "report WHERE id = ?1", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_int64(st, 1, id);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	b = sqlite3_column_blob(st, 0);
	*gz = sqlite3_column_bytes(st, 0) >= 2 && b[0] == 0x1f && b[1] == 0x8b;
	*plain = sqlite3_column_int(st, 1) != 0;
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void
test_report_raw_roundtrip(void **state)
{
	struct fx *fx = *state;
	struct store *s = fx->s;
	struct store_origin o = { .route = "https", .provenance = STORE_HTTPS, .client = "192.0.2.7" };
	struct tlsrpt_report *r;
	struct err e = { "" };
	uint8_t *gz = NULL, *raw = NULL;
	size_t gzlen, rawlen;
	int64_t id1, id2, seen = 0;
	bool is_gz, plain;
	char *j1, *j2;

	/* Plain JSON: stored gzipped by us, returned as received. */
	j1 = report_json("Org A", "a-1", "2026-05-12", "example.com", 1, 0,
	    NULL);
	assert_int_equal(store_json(s, j1, &id1), STORE_ADDED);
	assert_int_equal(store_report_get(s, id1, one_row_cb, &seen, &raw,
	    &rawlen, &e), 0);
	assert_int_equal(seen, id1);
	assert_int_equal(rawlen, strlen(j1));
	assert_memory_equal(raw, j1, rawlen);
	free(raw);
	raw = NULL;
	stored_raw(fx->path, id1, &is_gz, &plain);
	assert_true(is_gz);
	assert_true(plain);

	/* gzip as received (application/tlsrpt+gzip): kept byte for byte. */
	j2 = report_json("Org A", "a-2", "2026-05-12", "example.com", 1, 0,
	    NULL);
	assert_int_equal(gzip_deflate((const uint8_t *)j2, strlen(j2), &gz,
	    &gzlen, &e), 0);
	r = parse(j2);
	assert_int_equal(store_report_add(s, r, gz, gzlen, &o, &id2, &e),
	    STORE_ADDED);
	tlsrpt_report_free(r);
	assert_int_equal(store_report_get(s, id2, NULL, NULL, &raw, &rawlen,
	    &e), 0);
	assert_int_equal(rawlen, gzlen);
	assert_memory_equal(raw, gz, gzlen);
	stored_raw(fx->path, id2, &is_gz, &plain);
	assert_true(is_gz);
	assert_false(plain);

	free(raw);
	raw = NULL;
	assert_int_equal(store_report_get(s, 9999, NULL, NULL, &raw,
	    &rawlen, &e), 1);
	assert_null(raw);
	free(gz);
	free(j1);
	free(j2);
}

/* --- quarantine --- */

struct qrows {
	int	n;
	int64_t	ids[8], reports[8], sizes[8];
	char	kinds[8][16], reasons[8][64], clients[8][32], intake[8][32];
	bool	no_mail_from[8];
};

static int
qrows_cb(void *arg, const struct store_quarantine_row *q)
{
	struct qrows *l = arg;

	if (l->n < 8) {
		l->ids[l->n] = q->id;
		l->reports[l->n] = q->report;
		l->sizes[l->n] = q->size;
		snprintf(l->kinds[l->n], sizeof(l->kinds[0]), "%s", q->kind);
		snprintf(l->reasons[l->n], sizeof(l->reasons[0]), "%s",
		    q->reason);
		snprintf(l->clients[l->n], sizeof(l->clients[0]), "%s",
		    q->client ? q->client : "(null)");
		snprintf(l->intake[l->n], sizeof(l->intake[0]), "%s",
		    q->intake_domain ? q->intake_domain : "(null)");
		l->no_mail_from[l->n] = q->mail_from == NULL;
	}
	l->n++;
	return 0;
}

static int
qstop_cb(void *arg, const struct store_quarantine_row *q)
{
	(void)q;
	++*(int *)arg;
	return 7;
}

static void
test_quarantine(void **state)
{
	struct fx *fx = *state;
	struct store *s = fx->s;
	static const char msg[] = "From: a@reporter.example\r\n"
	    "Subject: no report\r\n\r\nhello\r\n";
	static const uint8_t bin[] = { 0x1f, 0x8b, 0x08, 0x00, 0xff, 0x00 };
	struct store_origin om = { .route = "smtp", .provenance = STORE_MAIL_UNVERIFIED, .client = "192.0.2.9",
	    .mail_from = "a@reporter.example", .rcpt_to = "tlsrpt@sts.test",
	    .intake_domain = "example.com" };
	struct store_origin ob = { .route = "import", .provenance = STORE_IMPORT, .client = "bad.json.gz" };
	struct qrows l = { 0 };
	struct err e = { "" };
	uint8_t *raw = NULL;
	size_t rawlen;
	int64_t q1, q2, q3, rid;
	int stops = 0;
	char *j;

	assert_int_equal(store_quarantine_add(s, "message",
	    (const uint8_t *)msg, strlen(msg), "no application/tlsrpt part",
	    &om, &q1, &e), 0);
	assert_true(q1 > 0);
	/* Truncated gzip: kept byte for byte although it is gzip itself. */
	assert_int_equal(store_quarantine_add(s, "report", bin, sizeof(bin),
	    "truncated gzip", &ob, &q2, &e), 0);
	/* Empty input (an empty pipe) is kept too; NULL origin is fine. */
	assert_int_equal(store_quarantine_add(s, "report", NULL, 0,
	    "empty", NULL, &q3, &e), 0);
	assert_true(q1 < q2 && q2 < q3);
	/* Only the two kinds. */
	assert_int_equal(store_quarantine_add(s, "other", bin, sizeof(bin),
	    "x", &ob, &rid, &e), -1);
	assert_int_equal(rid, 0);
	/* Committed: another connection sees all three, stored compressed. */
	assert_int_equal(count_rows(fx->path,
	    "SELECT count(*) FROM quarantine"), 3);
	assert_int_equal(count_rows(fx->path, on_pg(fx->path) ?
	    "SELECT count(*) FROM quarantine WHERE "
	    "encode(substr(raw, 1, 2), 'hex') = '1f8b'" :
	    "SELECT count(*) FROM quarantine WHERE "
	    "substr(hex(raw), 1, 4) = '1F8B'"), 3);

	/* Newest first; the row carries the origin and the reason. */
	assert_int_equal(store_quarantine_list(s, true, 0, qrows_cb, &l,
	    &e), 0);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.ids[0], q3);
	assert_int_equal(l.ids[2], q1);
	assert_string_equal(l.kinds[2], "message");
	assert_string_equal(l.reasons[2], "no application/tlsrpt part");
	assert_string_equal(l.clients[2], "192.0.2.9");
	assert_string_equal(l.intake[2], "example.com");
	assert_false(l.no_mail_from[2]);
	assert_int_equal(l.sizes[2], (int64_t)strlen(msg));
	assert_string_equal(l.kinds[1], "report");
	assert_true(l.no_mail_from[1]);
	assert_string_equal(l.intake[1], "(null)");
	assert_int_equal(l.reports[1], 0);
	memset(&l, 0, sizeof(l));
	assert_int_equal(store_quarantine_list(s, false, 2, qrows_cb, &l,
	    &e), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(store_quarantine_list(s, false, 0, qstop_cb,
	    &stops, &e), 7);
	assert_int_equal(stops, 1);

	/* The bytes come back exactly as received. */
	memset(&l, 0, sizeof(l));
	assert_int_equal(store_quarantine_get(s, q1, qrows_cb, &l, &raw,
	    &rawlen, &e), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.ids[0], q1);
	assert_int_equal(rawlen, strlen(msg));
	assert_memory_equal(raw, msg, rawlen);
	free(raw);
	assert_int_equal(store_quarantine_get(s, q2, NULL, NULL, &raw,
	    &rawlen, &e), 0);
	assert_int_equal(rawlen, sizeof(bin));
	assert_memory_equal(raw, bin, rawlen);
	free(raw);
	assert_int_equal(store_quarantine_get(s, q3, NULL, NULL, &raw,
	    &rawlen, &e), 0);
	assert_int_equal(rawlen, 0);
	free(raw);
	raw = NULL;
	assert_int_equal(store_quarantine_get(s, 9999, NULL, NULL, &raw,
	    &rawlen, &e), 1);
	assert_null(raw);

	/* A retry stored q1 as a report: it leaves the pending list but
	 * stays in the full one, pointing at the report. */
	j = report_json("Org A", "q-1", "2026-05-12", "example.com", 1, 0,
	    NULL);
	assert_int_equal(store_json(s, j, &rid), STORE_ADDED);
	assert_int_equal(store_quarantine_resolve(s, q1, rid, &e), 0);
	assert_int_equal(store_quarantine_resolve(s, 9999, rid, &e), 1);
	/* Only a stored report can resolve an entry. */
	assert_int_equal(store_quarantine_resolve(s, q2, rid + 100, &e),
	    -1);
	memset(&l, 0, sizeof(l));
	assert_int_equal(store_quarantine_list(s, true, 0, qrows_cb, &l,
	    &e), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.ids[0], q3);
	assert_int_equal(l.ids[1], q2);
	memset(&l, 0, sizeof(l));
	assert_int_equal(store_quarantine_list(s, false, 0, qrows_cb, &l,
	    &e), 0);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.ids[2], q1);
	assert_int_equal(l.reports[2], rid);
	free(j);
}

/* One anonymous quarantine job through report_add_batch, as the
 * daemon's writer does. Returns the result; *id the entry. */
static int
quar_job(struct store *s, const char *bytes,
    const struct store_origin *o, const struct store_quarantine_caps *caps,
    int64_t *id)
{
	struct store_report_job j = { .raw = (const uint8_t *)bytes,
	    .rawlen = strlen(bytes), .o = o, .reason = "bad", .kind = "report",
	    .caps = caps };
	struct err e = { "" };
	int result;

	if (store_report_add_batch(s, &j, 1, &result, id, &e) != 0)
		fail_msg("report_add_batch: %s", e.msg);
	return result;
}

/* Identical input is kept once; anonymous input is capped per client
 * (on its key) and in total, the oldest anonymous entries giving way;
 * the operator's own entries are never dropped. */
static void
test_quarantine_caps(void **state)
{
	struct fx *fx = *state;
	struct store *s = fx->s;
	struct store_origin a = { .route = "https", .provenance = STORE_HTTPS, .client = "2001:db8::1",
	    .client_key = "2001:db8::/64" };
	struct store_origin a2 = { .route = "smtp", .provenance = STORE_MAIL_UNVERIFIED, .client = "2001:db8::2",
	    .client_key = "2001:db8::/64" };
	struct store_origin b = { .route = "https", .provenance = STORE_HTTPS, .client = "192.0.2.1" };
	struct store_origin op = { .route = "import", .provenance = STORE_IMPORT, .client = "f.json" };
	struct store_quarantine_caps caps = { .max_per_client = 3 };
	struct store_quarantine_usage u;
	struct err e = { "" };
	int64_t id, first, mine;
	char buf[64], *big;

	/* Folding: the same bytes twice are one entry seen twice, from any
	 * client; the id is the first one's. */
	assert_int_equal(quar_job(s, "same", &a, &caps, &first),
	    STORE_QUARANTINED);
	assert_int_equal(quar_job(s, "same", &b, &caps, &id),
	    STORE_QUARANTINED);
	assert_int_equal(id, first);
	assert_int_equal(store_quarantine_add(s, "report",
	    (const uint8_t *)"same", 4, "again", &op, &id, &e), 0);
	assert_int_equal(id, first);
	assert_int_equal(count_rows(fx->path, "SELECT seen FROM quarantine"),
	    3);
	assert_int_equal(store_quarantine_usage(s, &u, &e), 0);
	assert_int_equal(u.entries, 1);
	assert_int_equal(u.pending, 1);
	assert_int_equal(u.folded, 2);
	assert_int_equal(u.dropped, 0);

	/* Per client, on the /64: a and a2 share a share of 3. */
	for (int i = 0; i < 5; i++) {
		snprintf(buf, sizeof(buf), "junk %d", i);
		assert_int_equal(quar_job(s, buf, i % 2 ? &a2 : &a, &caps,
		    &id), STORE_QUARANTINED);
		assert_true(id > 0);
	}
	assert_int_equal(count_rows(fx->path, "SELECT count(*) FROM "
	    "quarantine WHERE client_key = '2001:db8::/64'"), 3);
	/* The newest three are left: junk 2, 3, 4 ("same" was the
	 * oldest). */
	assert_int_equal(count_rows(fx->path, "SELECT count(*) FROM "
	    "quarantine WHERE reason = 'bad' AND size = 6"), 3);
	assert_int_equal(count_rows(fx->path, "SELECT min(id) FROM "
	    "quarantine WHERE client_key = '2001:db8::/64'"), first + 3);
	/* The operator's own never count against anyone, nor go. */
	assert_int_equal(store_quarantine_add(s, "report",
	    (const uint8_t *)"mine", 4, "x", &op, &mine, &e), 0);
	assert_int_equal(store_quarantine_usage(s, &u, &e), 0);
	assert_int_equal(u.dropped, 3);	/* "same", junk 0, junk 1 */
	assert_int_equal(u.entries, 4);

	/* In total: with room for little, the oldest anonymous go first,
	 * whoever sent them; the operator's stay. */
	caps.max_per_client = 0;
	caps.max_bytes = 200;
	big = malloc(4000);
	assert_non_null(big);
	for (unsigned i = 0, x = 1; i < 3999; i++) {	/* compresses badly */
		x = x * 1103515245u + 12345u;
		big[i] = (char)('!' + (x >> 16) % 90);
	}
	big[3999] = '\0';
	assert_int_equal(quar_job(s, "small", &b, &caps, &id),
	    STORE_QUARANTINED);
	assert_true(id > 0);
	assert_int_equal(store_quarantine_usage(s, &u, &e), 0);
	assert_true(u.bytes <= 200);
	assert_int_equal(u.entries, 5);
	assert_int_equal(u.dropped, 3);
	/* An entry bigger than the cap alone: every anonymous one goes,
	 * itself too (id 0); "mine" stays. */
	assert_int_equal(quar_job(s, big, &b, &caps, &id), STORE_QUARANTINED);
	assert_int_equal(id, 0);
	assert_int_equal(count_rows(fx->path, "SELECT count(*) FROM "
	    "quarantine"), 1);
	assert_int_equal(count_rows(fx->path, "SELECT id FROM quarantine "
	    "WHERE anon = 0"), mine);
	assert_int_equal(store_quarantine_usage(s, &u, &e), 0);
	assert_int_equal(u.dropped, 3 + 5);
	assert_int_equal(u.entries, count_rows(fx->path, "SELECT count(*) "
	    "FROM quarantine"));
	assert_int_equal(u.bytes, count_rows(fx->path, "SELECT "
	    "coalesce(sum(length(raw)), 0) FROM quarantine"));
	free(big);
}

/* The intake domain of a report's origin is kept with it. */
static void
test_report_intake_domain(void **state)
{
	struct fx *fx = *state;
	struct store *s = fx->s;
	struct store_origin o = { .route = "https", .provenance = STORE_HTTPS, .client = "192.0.2.7",
	    .intake_domain = "example.com" };
	struct tlsrpt_report *r;
	struct err e = { "" };
	int64_t id;
	char *j;

	j = report_json("Org A", "i-1", "2026-05-12", "example.com", 1, 0,
	    NULL);
	r = parse(j);
	assert_int_equal(store_report_add(s, r, (const uint8_t *)j,
	    strlen(j), &o, &id, &e), STORE_ADDED);
	tlsrpt_report_free(r);
	assert_int_equal(count_rows(fx->path, "SELECT count(*) FROM report "
	    "WHERE intake_domain = 'example.com' AND route = 'https'"), 1);
	free(j);
}

/* --- domains_version --- */

static uint64_t
dversion(struct store *s)
{
	struct err e = { "" };
	uint64_t v = 0;

	if (store_domains_version(s, &v, &e) != 0)
		fail_msg("domains_version: %s", e.msg);
	return v;
}

static void
test_domains_version(void **state)
{
	struct fx *fx = *state;
	struct store *a = fx->s, *b = NULL;
	struct store_domain d = { 0 };
	struct policy p;
	struct err e = { "" };
	uint64_t va, vb, va2, vb2;
	int64_t id;
	char *j;

	if (open_at(fx->path, &b, &e) != 0)
		fail_msg("second open: %s", e.msg);
	va = dversion(a);
	vb = dversion(b);
	assert_int_equal(dversion(a), va);	/* nothing happened */

	/* A's own write: data_version alone would not show it to A. */
	add_domain(a, "example.com", 86400, &d);
	store_domain_free(&d);
	va2 = dversion(a);
	vb2 = dversion(b);
	assert_true(va2 != va);
	assert_true(vb2 != vb);
	assert_int_equal(dversion(b), vb2);

	/* A report is not a domain change. */
	j = report_json("Org A", "v-1", "2026-05-12", "example.com", 1, 0,
	    NULL);
	assert_int_equal(store_json(b, j, &id), STORE_ADDED);
	assert_int_equal(dversion(a), va2);
	assert_int_equal(dversion(b), vb2);

	/* set (with a new policy) and remove, from the other connection. */
	mk_policy(&p, POLICY_MODE_TESTING, 3600, "mx.example.com", NULL);
	assert_int_equal(store_domain_set(b, "example.com", &p, &d, &e), 0);
	store_domain_free(&d);
	policy_free(&p);
	va = dversion(a);
	vb = dversion(b);
	assert_true(va != va2);
	assert_true(vb != vb2);
	assert_int_equal(store_domain_remove(b, "example.com", time(NULL),
	    &d, &e), 0);
	store_domain_free(&d);
	assert_true(dversion(a) != va);
	assert_true(dversion(b) != vb);

	/* A refused add changes nothing. */
	va = dversion(a);
	mk_policy(&p, POLICY_MODE_ENFORCE, 86400, NULL);
	assert_int_equal(store_domain_add(a, "acme", "example.org", &p, &d,
	    &e), -1);
	policy_free(&p);
	assert_int_equal(dversion(a), va);
	assert_int_equal(dversion(b), va);
	free(j);
	store_close(b);
}

/* --- the file itself --- */

static int
user_version(const char *path, int set)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	char sql[64];
	int v;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (set >= 0) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", set);
		assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL),
		    SQLITE_OK);
	}
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1,
	    &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* Runs sql on the file at path on a connection of its own. */
static void
exec_sql(const char *path, const char *sql)
{
	sqlite3 *db;
	char *msg = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	sqlite3_close(db);
}

/* Undoes migrations 11 to 7 (the migration tests go back further, and
 * undo the later steps that would otherwise run twice). */
#define UNDO_11 "DROP TABLE cert; DROP TABLE cert_lease; "		\
	"DROP TABLE acme_account; DROP TABLE acme_challenge; "
#define UNDO_10 UNDO_11 "DROP TABLE digest; DROP TABLE alert; DROP TABLE domain_check; "
#define UNDO_9 UNDO_10 "DROP TABLE fetch_agent; DROP TABLE fetch_day; "
#define UNDO_8 UNDO_9 "DROP TABLE login_failure; DROP TABLE session; "
#define UNDO_7 UNDO_8 "DROP TABLE api_token; DROP TABLE account; "

/* A file of schema version 1 (made here by undoing migrations 3 and 2)
 * with a report and a domain in it is upgraded at open, and keeps
 * both. */
static void
test_migrate_from_1(void **state)
{
	struct fx *fx = *state;
	struct store_domain d = { 0 };
	struct rows l = { 0 };
	struct err e = { "" };
	int64_t id, qid;
	uint64_t v1, v2;
	char *j;

	SQLITE_ONLY();
	add_domain(fx->s, "example.com", 86400, &d);
	store_domain_free(&d);
	j = report_json("Org A", "m-1", "2026-05-12", "example.com", 3, 1,
	    NULL);
	assert_int_equal(store_json(fx->s, j, &id), STORE_ADDED);
	store_close(fx->s);
	fx->s = NULL;
	exec_sql(fx->path, UNDO_7 "DROP TABLE domain_mx; DROP TABLE tlsa_host; "
	    "DROP TABLE quarantine_usage; "
	    "DROP TABLE quarantine; DROP TABLE domain_generation; "
	    "ALTER TABLE report DROP COLUMN intake_domain; "
	    "PRAGMA user_version = 1");
	assert_int_equal(user_version(fx->path, -1), 1);

	if (open_at(fx->path, &fx->s, &e) != 0)
		fail_msg("open version 1: %s", e.msg);
	assert_int_equal(user_version(fx->path, -1), DB_SCHEMA_VERSION);
	assert_int_equal(store_report_list(fx->s, NULL, rows_cb, &l,
	    &e), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(count_rows(fx->path, "SELECT count(*) FROM report "
	    "WHERE intake_domain IS NULL"), 1);
	assert_int_equal(store_quarantine_add(fx->s, "report",
	    (const uint8_t *)"{", 1, "x", NULL, &qid, &e), 0);
	v1 = dversion(fx->s);
	add_domain(fx->s, "example.org", 86400, &d);
	store_domain_free(&d);
	v2 = dversion(fx->s);
	assert_true(v1 != v2);
	free(j);
}

/* A file of schema version 4, whose report rows hold the plain sums of
 * their entries: migration 5 makes them what every view counts (the
 * larger of a report's sts and tlsa views; failure details over an
 * entry's total). */
static void
test_migrate_from_4(void **state)
{
	struct fx *fx = *state;
	struct err e = { "" };
	char *j;
	int64_t id;

	SQLITE_ONLY();
	/* Two views of 30 and 50 sessions: 50 counts. */
	j = strdup("{\"organization-name\":\"O\",\"date-range\":{"
	    "\"start-datetime\":\"2026-05-12T00:00:00Z\",\"end-datetime\":"
	    "\"2026-05-12T23:59:59Z\"},\"report-id\":\"two-views\","
	    "\"policies\":[{\"policy\":{\"policy-type\":\"sts\","
	    "\"policy-domain\":\"example.com\"},\"summary\":{"
	    "\"total-successful-session-count\":30,"
	    "\"total-failure-session-count\":0}},{\"policy\":{"
	    "\"policy-type\":\"tlsa\",\"policy-domain\":\"mx.example.com\"},"
	    "\"summary\":{\"total-successful-session-count\":50,"
	    "\"total-failure-session-count\":0}}]}");
	assert_non_null(j);
	assert_int_equal(store_json(fx->s, j, &id), STORE_ADDED);
	free(j);
	/* Total 1 failure, details 3: 3 count. */
	j = report_json("Org B", "details", "2026-05-12", "example.com", 5, 1,
	    "{\"result-type\":\"certificate-expired\","
	    "\"failed-session-count\":3}");
	assert_int_equal(store_json(fx->s, j, &id), STORE_ADDED);
	free(j);
	assert_int_equal(count_rows(fx->path, "SELECT count(*) FROM report "
	    "WHERE (report_id = 'two-views' AND successful = 50 AND "
	    "failed = 0) OR (report_id = 'details' AND successful = 5 AND "
	    "failed = 3)"), 2);
	store_close(fx->s);
	fx->s = NULL;
	/* As version 4 stored them. */
	exec_sql(fx->path, "UPDATE report SET successful = 80 WHERE "
	    "report_id = 'two-views'; UPDATE report SET failed = 1 WHERE "
	    "report_id = 'details'; " UNDO_7 "PRAGMA user_version = 4");
	if (open_at(fx->path, &fx->s, &e) != 0)
		fail_msg("open version 4: %s", e.msg);
	assert_int_equal(user_version(fx->path, -1), DB_SCHEMA_VERSION);
	assert_int_equal(count_rows(fx->path, "SELECT count(*) FROM report "
	    "WHERE (report_id = 'two-views' AND successful = 50 AND "
	    "failed = 0) OR (report_id = 'details' AND successful = 5 AND "
	    "failed = 3)"), 2);
}

/* --- accounts --- */

struct acct {
	int	n;
	char	names[8][80];
};

static int
acct_tenant(void *arg, const struct store_tenant_row *t)
{
	struct acct *a = arg;

	if (a->n < 8)
		snprintf(a->names[a->n], sizeof(a->names[0]), "%s %lld",
		    t->name, (long long)t->domains);
	a->n++;
	return 0;
}

static int
acct_user(void *arg, const struct store_account_row *u)
{
	struct acct *a = arg;

	if (a->n < 8)
		snprintf(a->names[a->n], sizeof(a->names[0]), "%s %s %s %s",
		    u->email, u->tenant ? u->tenant : "-", u->role,
		    u->password);
	a->n++;
	return 0;
}

static int
acct_token(void *arg, const struct store_token_row *k)
{
	struct acct *a = arg;

	if (a->n < 8)
		snprintf(a->names[a->n], sizeof(a->names[0]), "%lld %s %s %d "
		    "%d", (long long)k->id, k->tenant, k->prefix, k->read_only,
		    k->revoked != 0);
	a->n++;
	return 0;
}

/* Tenants, users and API tokens (issue 13): added once, found, listed
 * per tenant, revoked. */
static void
test_accounts(void **state)
{
	struct fx *fx = *state;
	struct store *s = fx->s;
	struct store_domain d = { 0 };
	unsigned char h1[32], h2[32];
	struct acct a = { 0 };
	struct err e = { "" };
	int64_t id, t1, k1, k2;

	assert_int_equal(store_tenant_add(s, "acme", 100, &t1, &e), 0);
	assert_int_equal(store_tenant_add(s, "acme", 101, &id, &e), 1);
	assert_int_equal(store_tenant_add(s, "", 100, &id, &e), -1);
	assert_int_equal(store_tenant_add(s, "other", 100, &id, &e), 0);
	add_domain(s, "example.com", 86400, &d);	/* tenant "default" */
	store_domain_free(&d);
	assert_int_equal(store_tenant_list(s, acct_tenant, &a, &e), 0);
	assert_int_equal(a.n, 2);
	assert_string_equal(a.names[0], "acme 1");	/* add_domain's */
	assert_string_equal(a.names[1], "other 0");

	/* Users: an admin without tenant, owners and viewers with one. */
	assert_int_equal(store_account_add(s, "root@example.net", NULL,
	    "admin", "$h0", 100, &id, &e), 0);
	assert_int_equal(store_account_add(s, "Ann@acme.example", "acme",
	    "owner", "$h1", 100, &id, &e), 0);
	assert_int_equal(store_account_add(s, "bob@acme.example", "acme",
	    "viewer", "$h2", 100, &id, &e), 0);
	assert_int_equal(store_account_add(s, "ANN@acme.example", "other",
	    "viewer", "$h3", 100, &id, &e), 1);	/* taken, case aside */
	assert_int_equal(store_account_add(s, "cy@nowhere.example", "nowhere",
	    "viewer", "$h4", 100, &id, &e), 2);
	/* An admin with a tenant, an owner without one: refused. */
	assert_int_equal(store_account_add(s, "x@acme.example", "acme",
	    "admin", "$h5", 100, &id, &e), -1);
	assert_int_equal(store_account_add(s, "y@acme.example", NULL,
	    "owner", "$h6", 100, &id, &e), -1);
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_account_get(s, "ann@ACME.example", acct_user,
	    &a, &e), 0);
	assert_string_equal(a.names[0], "Ann@acme.example acme owner $h1");
	assert_int_equal(store_account_get(s, "nobody@acme.example",
	    acct_user, &a, &e), 1);
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_account_list(s, "acme", acct_user, &a, &e), 0);
	assert_int_equal(a.n, 2);
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_account_list(s, NULL, acct_user, &a, &e), 0);
	assert_int_equal(a.n, 3);

	/* Tokens: kept by hash, listed per tenant, revoked once. */
	memset(h1, 1, sizeof(h1));
	memset(h2, 2, sizeof(h2));
	assert_int_equal(store_token_add(s, "acme", h1, "sgt_AAAA", false,
	    100, &k1, &e), 0);
	assert_int_equal(store_token_add(s, "other", h2, "sgt_BBBB", true,
	    100, &k2, &e), 0);
	assert_int_equal(store_token_add(s, "nowhere", h2, "sgt_CCCC", true,
	    100, &id, &e), 2);
	assert_int_equal(store_token_add(s, "acme", h1, "sgt_AAAA", false,
	    100, &id, &e), -1);		/* the same hash twice */
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_token_find(s, h2, acct_token, &a, &e), 0);
	assert_int_equal(a.n, 1);
	assert_non_null(strstr(a.names[0], " other sgt_BBBB 1 0"));
	memset(h2, 3, sizeof(h2));
	assert_int_equal(store_token_find(s, h2, acct_token, &a, &e), 1);
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_token_list(s, "acme", acct_token, &a, &e), 0);
	assert_int_equal(a.n, 1);
	assert_int_equal(store_token_revoke(s, k1, 200, &e), 0);
	assert_int_equal(store_token_revoke(s, k1, 201, &e), 1);
	assert_int_equal(store_token_revoke(s, 9999, 201, &e), 1);
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_token_find(s, h1, acct_token, &a, &e), 0);
	assert_non_null(strstr(a.names[0], " acme sgt_AAAA 0 1"));
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_token_list(s, NULL, acct_token, &a, &e), 0);
	assert_int_equal(a.n, 2);
}

static void
sess_cb(void *arg, const struct store_account_row *a, const char *csrf,
    time_t expires)
{
	char *out = arg;

	snprintf(out, 200, "%s %s %s %s %lld", a->email,
	    a->tenant != NULL ? a->tenant : "-", a->role, csrf,
	    (long long)expires);
}

/* Sessions: found by hash until they expire, gone after logout, and
 * expired ones pruned; failed logins counted in a window, then reset. */
static void
test_sessions(void **state)
{
	struct fx *fx = *state;
	struct store *s = fx->s;
	unsigned char h1[32], h2[32];
	char out[200] = "";
	struct err e;
	int64_t id, n;

	assert_int_equal(store_tenant_add(s, "acme", 100, &id, &e), 0);
	assert_int_equal(store_account_add(s, "ann@acme.example", "acme",
	    "owner", "$h1", 100, &id, &e), 0);
	memset(h1, 1, sizeof(h1));
	memset(h2, 2, sizeof(h2));
	assert_int_equal(store_session_add(s, h1, id, "csrf1", 100, 200, &e),
	    0);
	assert_int_equal(store_session_add(s, h2, id, "csrf2", 150, 1000,
	    &e), 0);
	assert_int_equal(store_session_find(s, h1, 199, sess_cb, out, &e), 0);
	assert_string_equal(out, "ann@acme.example acme owner csrf1 200");
	assert_int_equal(store_session_find(s, h1, 200, sess_cb, out, &e), 1);
	/* A new login prunes the expired one. */
	memset(h1, 3, sizeof(h1));
	assert_int_equal(store_session_add(s, h1, id, "csrf3", 300, 900, &e),
	    0);
	memset(h1, 1, sizeof(h1));
	assert_int_equal(store_session_find(s, h1, 100, sess_cb, out, &e), 1);
	assert_int_equal(store_session_remove(s, h2, &e), 0);
	assert_int_equal(store_session_find(s, h2, 300, sess_cb, out, &e), 1);
	assert_int_equal(store_session_remove(s, h2, &e), 0);

	/* Failed logins: counted within the window, a new one after it. */
	assert_int_equal(store_login_failures(s, "client:192.0.2.1", 100, 60,
	    &n, &e), 0);
	assert_int_equal(n, 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(store_login_failure(s, "client:192.0.2.1",
		    true, 100 + i, 60, &e), 0);
	assert_int_equal(store_login_failures(s, "client:192.0.2.1", 130, 60,
	    &n, &e), 0);
	assert_int_equal(n, 3);
	assert_int_equal(store_login_failures(s, "client:192.0.2.1", 160, 60,
	    &n, &e), 0);
	assert_int_equal(n, 0);			/* the window ended */
	assert_int_equal(store_login_failure(s, "client:192.0.2.1", true,
	    170, 60, &e), 0);
	assert_int_equal(store_login_failures(s, "client:192.0.2.1", 171, 60,
	    &n, &e), 0);
	assert_int_equal(n, 1);			/* a new window */
	assert_int_equal(store_login_failure(s, "client:192.0.2.1", false,
	    172, 60, &e), 0);
	assert_int_equal(store_login_failures(s, "client:192.0.2.1", 173, 60,
	    &n, &e), 0);
	assert_int_equal(n, 0);			/* a login worked */
}

/* Undoes migration 6: the report table as version 5 had it, with
 * (organization_name, report_id) unique. */
#define UNDO_6								\
	"PRAGMA foreign_keys = OFF; BEGIN; "				\
	"CREATE TABLE r5 (id INTEGER PRIMARY KEY, "			\
	"organization_name TEXT NOT NULL, report_id TEXT NOT NULL, "	\
	"contact_info TEXT, start_time INTEGER NOT NULL, "		\
	"end_time INTEGER NOT NULL, received INTEGER NOT NULL, "	\
	"route TEXT, client TEXT, mail_from TEXT, rcpt_to TEXT, "	\
	"dkim_present INTEGER NOT NULL, successful INTEGER NOT NULL, "	\
	"failed INTEGER NOT NULL, quirks INTEGER NOT NULL, "		\
	"raw BLOB NOT NULL, raw_len INTEGER NOT NULL, "			\
	"raw_plain INTEGER NOT NULL, "					\
	"duplicates INTEGER NOT NULL DEFAULT 0, last_duplicate INTEGER, " \
	"intake_domain TEXT, UNIQUE (organization_name, report_id)); "	\
	"INSERT INTO r5 SELECT id, organization_name, report_id, "	\
	"contact_info, start_time, end_time, received, route, client, "	\
	"mail_from, rcpt_to, dkim_present, successful, failed, quirks, " \
	"raw, raw_len, raw_plain, duplicates, last_duplicate, "		\
	"intake_domain FROM report; DROP TABLE report; "		\
	"ALTER TABLE r5 RENAME TO report; "				\
	"CREATE INDEX report_received ON report (received, id); "	\
	UNDO_7 "PRAGMA user_version = 5; COMMIT; "

/* A file of schema version 5: migration 6 rebuilds the report table
 * (its policies, details and quarantine links kept), names each
 * report's provenance by its route, keeps them all counted, and a
 * different report under a stored key is then a conflict. */
static void
test_migrate_from_5(void **state)
{
	struct fx *fx = *state;
	struct store_origin mail = { .route = "smtp",
	    .provenance = STORE_MAIL_UNVERIFIED };
	struct store_origin web = { .route = "https",
	    .provenance = STORE_HTTPS };
	struct tlsrpt_report *r;
	struct stats before, after;
	struct err e = { "" };
	char *a, *b, *c;
	int64_t ida, idb, idc, qid;

	SQLITE_ONLY();
	a = report_json("Org", "m-a", "2026-05-12", "example.com", 5, 1,
	    DETAIL("certificate-expired", 1));
	b = report_json("Org", "m-b", "2026-05-12", "example.com", 6, 0,
	    NULL);
	r = parse(a);
	assert_int_equal(store_report_add(fx->s, r, (const uint8_t *)a,
	    strlen(a), &mail, &ida, &e), STORE_ADDED);
	tlsrpt_report_free(r);
	r = parse(b);
	assert_int_equal(store_report_add(fx->s, r, (const uint8_t *)b,
	    strlen(b), &web, &idb, &e), STORE_ADDED);
	tlsrpt_report_free(r);
	assert_int_equal(store_quarantine_add(fx->s, "report",
	    (const uint8_t *)"{", 1, "x", NULL, &qid, &e), 0);
	assert_int_equal(store_quarantine_resolve(fx->s, qid, idb, &e), 0);
	/* As version 5 had them: all counted, whatever their route. */
	assert_int_equal(store_json(fx->s, a, &idc), STORE_DUPLICATE);
	get_stats(fx->s, "example.com", 0, 0, &before);
	store_close(fx->s);
	fx->s = NULL;
	exec_sql(fx->path, "UPDATE report SET counted = 1; " UNDO_6);
	assert_int_equal(user_version(fx->path, -1), 5);

	if (open_at(fx->path, &fx->s, &e) != 0)
		fail_msg("open version 5: %s", e.msg);
	assert_int_equal(user_version(fx->path, -1), DB_SCHEMA_VERSION);
	assert_int_equal(count_rows(fx->path, "SELECT count(*) FROM report "
	    "WHERE counted = 1 AND digest IS NULL AND ((route = 'smtp' AND "
	    "provenance = 'mail-unverified' AND provenance_reason IS NOT "
	    "NULL) OR (route = 'https' AND provenance = 'https'))"), 2);
	assert_int_equal(count_rows(fx->path, "SELECT count(*) FROM "
	    "report_policy p JOIN report r ON r.id = p.report"), 2);
	assert_int_equal(count_rows(fx->path, "SELECT count(*) FROM "
	    "failure_detail"), 1);
	assert_int_equal(count_rows(fx->path, "SELECT report FROM "
	    "quarantine"), idb);
	get_stats(fx->s, "example.com", 0, 0, &after);
	assert_int_equal(after.n, before.n);
	/* The same report again: its digest is worked out, a duplicate. */
	assert_int_equal(store_json(fx->s, a, &idc), STORE_DUPLICATE);
	assert_int_equal(idc, ida);
	assert_int_equal(count_rows(fx->path, "SELECT count(*) FROM report "
	    "WHERE digest IS NOT NULL"), 1);
	/* A different one under m-b (import beats https): a conflict; it
	 * counts and b's sessions leave. */
	c = report_json("Org", "m-b", "2026-05-12", "example.com", 1, 0,
	    NULL);
	assert_int_equal(store_json(fx->s, c, &idc), STORE_ADDED);
	assert_int_equal(counted(fx->path, idc), 1);
	assert_int_equal(counted(fx->path, idb), 0);
	assert_int_equal(count_rows(fx->path, "SELECT sessions FROM rollup "
	    "WHERE result_type = 'successful'"), 5 + 1);
	free(a);
	free(b);
	free(c);
}

/* Undoes migration 4. */
#define UNDO_4								\
	"DROP TRIGGER quarantine_usage_add; "				\
	"DROP TRIGGER quarantine_usage_del; "				\
	"DROP TABLE quarantine_usage; DROP INDEX quarantine_sha256; "	\
	"DROP INDEX quarantine_anon; DROP INDEX quarantine_client; "	\
	"ALTER TABLE quarantine DROP COLUMN sha256; "			\
	"ALTER TABLE quarantine DROP COLUMN anon; "			\
	"ALTER TABLE quarantine DROP COLUMN client_key; "		\
	"ALTER TABLE quarantine DROP COLUMN seen; "			\
	"ALTER TABLE quarantine DROP COLUMN last_seen; "

/* A file of schema version 3 with quarantine entries: migration 4 marks
 * those that came by HTTPS or SMTP anonymous, keyed on their client, and
 * counts the stored bytes; the caps then apply to them. */
static void
test_migrate_from_3(void **state)
{
	struct fx *fx = *state;
	struct store_origin web = { .route = "https", .provenance = STORE_HTTPS, .client = "192.0.2.9" };
	struct store_quarantine_caps caps = { .max_per_client = 2 };
	struct store_quarantine_usage u;
	struct err e = { "" };
	int64_t id;

	SQLITE_ONLY();
	assert_int_equal(store_quarantine_add(fx->s, "report",
	    (const uint8_t *)"a", 1, "x", &web, &id, &e), 0);
	assert_int_equal(store_quarantine_add(fx->s, "report",
	    (const uint8_t *)"b", 1, "x", &web, &id, &e), 0);
	assert_int_equal(store_quarantine_add(fx->s, "report",
	    (const uint8_t *)"c", 1, "x", NULL, &id, &e), 0);
	store_close(fx->s);
	fx->s = NULL;
	exec_sql(fx->path, UNDO_7 UNDO_4 "PRAGMA user_version = 3");

	if (open_at(fx->path, &fx->s, &e) != 0)
		fail_msg("open version 3: %s", e.msg);
	assert_int_equal(user_version(fx->path, -1), DB_SCHEMA_VERSION);
	assert_int_equal(count_rows(fx->path, "SELECT count(*) FROM "
	    "quarantine WHERE anon = 1 AND client_key = '192.0.2.9'"), 2);
	assert_int_equal(store_quarantine_usage(fx->s, &u, &e), 0);
	assert_int_equal(u.entries, 3);
	assert_int_equal(u.bytes, count_rows(fx->path, "SELECT "
	    "sum(length(raw)) FROM quarantine"));
	/* A third from the same client: its oldest gives way. */
	assert_int_equal(quar_job(fx->s, "d", &web, &caps, &id),
	    STORE_QUARANTINED);
	assert_int_equal(count_rows(fx->path, "SELECT count(*) FROM "
	    "quarantine WHERE anon = 1"), 2);
	assert_int_equal(count_rows(fx->path, "SELECT min(id) FROM "
	    "quarantine WHERE anon = 1"), 2);
}

/* A file of schema version 2 (made here by undoing migration 3) with
 * domains and tlsa reports: migration 3 fills domain_mx from domain.mx
 * and tlsa_host from report_policy, and stats then map MX hosts. */
static void
test_migrate_from_2(void **state)
{
	struct fx *fx = *state;
	struct store_domain d = { 0 };
	struct mxrows mx;
	struct stats st;
	struct err e = { "" };

	SQLITE_ONLY();
	add_domain_mx(fx->s, "example.com", "mx1.p.example", "*.q.example");
	add_domain_mx(fx->s, "other.example", "mx1.p.example", NULL);
	assert_int_equal(store_domain_remove(fx->s, "other.example",
	    time(NULL), &d, &e), 0);
	store_domain_free(&d);
	store_entry(fx->s, "Org T", "m-0", "tlsa", "MX1.P.example.", 10, 0);
	store_entry(fx->s, "Org T", "m-1", "tlsa", "a.q.example", 20, 0);
	store_entry(fx->s, "Org T", "m-2", "tlsa", "a.q.example", 40, 0);
	store_entry(fx->s, "Org T", "m-3", "tlsa", ".q.example", 80, 0);
	store_entry(fx->s, "Org T", "m-4", "sts", "sts.example", 160, 0);
	store_close(fx->s);
	fx->s = NULL;
	/* Reports parsed before the parser dropped a trailing dot from a
	 * policy-domain (quirk policy-domain-form) were stored with it. */
	exec_sql(fx->path, "UPDATE report_policy SET policy_domain = "
	    "'mx1.p.example.' WHERE policy_domain = 'mx1.p.example'; "
	    "UPDATE rollup SET policy_domain = 'mx1.p.example.' WHERE "
	    "policy_domain = 'mx1.p.example'; "
	    "DROP TABLE domain_mx; DROP TABLE tlsa_host; "
	    UNDO_7 UNDO_4 "PRAGMA user_version = 2");

	if (open_at(fx->path, &fx->s, &e) != 0)
		fail_msg("open version 2: %s", e.msg);
	assert_int_equal(user_version(fx->path, -1), DB_SCHEMA_VERSION);
	assert_int_equal(count_rows(fx->path, "SELECT count(*) FROM "
	    "domain_mx"), 3);
	assert_int_equal(count_rows(fx->path, "SELECT count(*) FROM "
	    "domain_mx m JOIN domain d ON d.id = m.domain_id WHERE "
	    "(d.name = 'example.com' AND m.pattern IN ('mx1.p.example', "
	    "'*.q.example')) OR (d.name = 'other.example' AND "
	    "m.pattern = 'mx1.p.example')"), 3);
	/* The names as stored, the parents as intake writes them. */
	assert_int_equal(count_rows(fx->path, "SELECT count(*) FROM "
	    "tlsa_host"), 3);
	assert_int_equal(count_rows(fx->path, "SELECT count(*) FROM "
	    "tlsa_host WHERE (name = 'mx1.p.example.' AND "
	    "parent = 'p.example') OR (name = 'a.q.example' AND "
	    "parent = 'q.example') OR (name = '.q.example' AND "
	    "parent = '')"), 3);
	get_stats(fx->s, "example.com", 0, 0, &st);
	assert_int_equal(st.n, 1);
	assert_string_equal(st.rows[0], "2026-05-12 Org T tlsa successful 70");
	get_mx_hosts(fx->s, "example.com", 0, &mx);
	assert_int_equal(mx.n, 2);
	assert_string_equal(mx.v[0], "a.q.example 0");
	assert_string_equal(mx.v[1], "mx1.p.example 0");
	/* Intake after the migration stores the name without the dot: a
	 * new host row, and stats reads both spellings. */
	store_entry(fx->s, "Org T", "m-5", "tlsa", "mx1.p.example.", 1, 0);
	assert_int_equal(count_rows(fx->path, "SELECT count(*) FROM "
	    "tlsa_host WHERE name = 'mx1.p.example' AND parent = "
	    "'p.example'"), 1);
	get_stats(fx->s, "example.com", 0, 0, &st);
	assert_int_equal(st.n, 1);
	assert_string_equal(st.rows[0], "2026-05-12 Org T tlsa successful 71");
	/* Again: known now. */
	store_entry(fx->s, "Org T", "m-6", "tlsa", "MX1.p.example", 1, 0);
	assert_int_equal(count_rows(fx->path, "SELECT count(*) FROM "
	    "tlsa_host"), 4);
}

static void
test_reopen_and_version(void **state)
{
	struct fx *fx = *state;
	struct store_domain d = { 0 }, g = { 0 };
	struct rows l = { 0 };
	struct stats st;
	struct err e = { "" };
	int64_t id;
	char *j;

	SQLITE_ONLY();
	assert_int_equal(user_version(fx->path, -1), DB_SCHEMA_VERSION);
	add_domain(fx->s, "example.com", 86400, &d);
	j = report_json("Org A", "a-1", "2026-05-12", "example.com", 3, 1,
	    NULL);
	assert_int_equal(store_json(fx->s, j, &id), STORE_ADDED);

	/* Reopening an existing file migrates nothing and keeps all. */
	store_close(fx->s);
	fx->s = NULL;
	if (open_at(fx->path, &fx->s, &e) != 0)
		fail_msg("reopen: %s", e.msg);
	assert_int_equal(user_version(fx->path, -1), DB_SCHEMA_VERSION);
	assert_int_equal(store_domain_get(fx->s, "example.com", &g, &e),
	    0);
	assert_string_equal(g.policy_id, d.policy_id);
	assert_string_equal(g.token, d.token);
	assert_int_equal(store_report_list(fx->s, NULL, rows_cb, &l,
	    &e), 0);
	assert_int_equal(l.n, 1);
	get_stats(fx->s, "example.com", 0, 0, &st);
	assert_int_equal(st.n, 2);
	assert_int_equal(store_json(fx->s, j, &id), STORE_DUPLICATE);

	/* A file from a newer stsguard is refused, not damaged. */
	store_close(fx->s);
	fx->s = NULL;
	user_version(fx->path, DB_SCHEMA_VERSION + 1);
	assert_int_equal(open_at(fx->path, &fx->s, &e), -1);
	assert_null(fx->s);
	assert_non_null(strstr(e.msg, "newer"));
	assert_int_equal(user_version(fx->path, -1), DB_SCHEMA_VERSION + 1);

	/* Not a database at all. */
	assert_int_equal(open_at("/dev/null/x.db", &fx->s, &e), -1);
	assert_non_null(strstr(e.msg, "/dev/null/x.db"));
	/* URLs: the backend is chosen by the scheme. */
	assert_int_equal(store_open("postgresql:///sts?host=/nonexistent",
	    &fx->s, &e), -1);
	assert_null(fx->s);
	assert_non_null(strstr(e.msg, "store PostgreSQL: connect: "));
	assert_int_equal(store_open(fx->path, &fx->s, &e), -1);
	assert_non_null(strstr(e.msg, "expected sqlite:PATH"));
	assert_int_equal(store_open("sqlite:", &fx->s, &e), -1);

	free(j);
	store_domain_free(&d);
	store_domain_free(&g);
}

/* --- the monitor: latest checks, alerts --- */

static int
due_cb(void *arg, const char *name)
{
	char *out = arg;
	size_t n = strlen(out);

	snprintf(out + n, 200 - n, "%s%s", n ? " " : "", name);
	return 0;
}

static int
check_row_cb(void *arg, const struct store_check_row *r)
{
	char *out = arg;

	snprintf(out, 200, "%lld %llu %llu %s", (long long)r->checked,
	    (unsigned long long)r->failures, (unsigned long long)r->warnings,
	    r->json);
	return 0;
}

static int
alert_row_cb(void *arg, const struct store_alert_row *a)
{
	char *out = arg;
	size_t n = strlen(out);

	snprintf(out + n, 400 - n, "%s%lld:%s/%s/%s/%lld/%lld/%lld/%lld",
	    n ? " " : "", (long long)a->id, a->domain, a->subject, a->kind,
	    (long long)a->hook_sent, (long long)a->hook_tries,
	    (long long)a->mail_sent, (long long)a->mail_tries);
	return 0;
}

static int
alert_count_cb(void *arg, const struct store_alert_row *a)
{
	(*(int *)arg)++;
	return 0;
}

static void
test_monitor_store(void **state)
{
	struct fx *fx = *state;
	struct store *s = fx->s;
	struct store_domain d1 = { 0 }, d2 = { 0 }, d3 = { 0 }, d4 = { 0 };
	char out[400] = "";
	int count = 0;
	struct err e;
	int64_t id, first = 0;
	time_t last;

	add_domain(s, "a.example", 86400, &d1);
	add_domain(s, "b.example", 86400, &d2);
	add_domain(s, "c.example", 86400, &d3);
	assert_int_equal(store_domain_remove(s, "c.example", 500, &d4, &e), 0);
	store_domain_free(&d4);
	/* Never checked: due, removed ones never; claimed for the node
	 * that asked (for 900 s): another node asking finds none. */
	assert_int_equal(store_check_due(s, 1000, 10, due_cb, out, &e), 0);
	assert_string_equal(out, "a.example b.example");
	out[0] = '\0';
	assert_int_equal(store_check_due(s, 1000, 10, due_cb, out, &e), 0);
	assert_string_equal(out, "");
	assert_int_equal(store_check_get(s, "a.example", check_row_cb, out,
	    &e), 1);
	assert_int_equal(store_check_put(s, "a.example", 1000, 2000, 1, 2,
	    "{\"x\":1}", &e), 0);
	assert_int_equal(store_check_get(s, "a.example", check_row_cb, out,
	    &e), 0);
	assert_string_equal(out, "1000 1 2 {\"x\":1}");
	/* The latest replaces the one before. */
	assert_int_equal(store_check_put(s, "a.example", 1100, 1500, 0, 0,
	    "{\"x\":2}", &e), 0);
	assert_int_equal(store_check_get(s, "a.example", check_row_cb, out,
	    &e), 0);
	assert_string_equal(out, "1100 0 0 {\"x\":2}");
	/* Due by next_at, max bounds it; b's claim runs out at 1900 (its
	 * node died before it kept a check): due again. */
	out[0] = '\0';
	assert_int_equal(store_check_due(s, 1200, 10, due_cb, out, &e), 0);
	assert_string_equal(out, "");
	assert_int_equal(store_check_due(s, 1500, 1, due_cb, out, &e), 0);
	assert_string_equal(out, "a.example");
	out[0] = '\0';
	assert_int_equal(store_check_due(s, 1900, 10, due_cb, out, &e), 0);
	assert_string_equal(out, "b.example");
	/* A report asking for a check now: due at 1200, never later than it
	 * was; a domain without a check, or none hosted, changes nothing. */
	assert_int_equal(store_check_soon(s, "a.example", 1200, &e), 0);
	assert_int_equal(store_check_soon(s, "a.example", 1400, &e), 0);
	assert_int_equal(store_check_soon(s, "b.example", 1200, &e), 0);
	assert_int_equal(store_check_soon(s, "z.example", 1200, &e), 0);
	out[0] = '\0';
	assert_int_equal(store_check_due(s, 1200, 10, due_cb, out, &e), 0);
	assert_string_equal(out, "a.example b.example");
	assert_int_equal(store_check_put(s, "a.example", 1100, 1500, 0, 0,
	    "{\"x\":2}", &e), 0);

	/* Alerts: the last one per (domain, subject, kind). */
	assert_int_equal(store_alert_last(s, "a.example", "mx2", "mx-uncovered",
	    &last, &e), 0);
	assert_int_equal(last, 0);
	assert_int_equal(store_alert_add(s, "a.example", "mx2", "mx-uncovered",
	    "critical", "t", "f", STORE_ALERT_HOOK, 1000, &id, &e), 0);
	assert_int_equal(store_alert_add(s, "a.example", "mx2", "mx-uncovered",
	    "critical", "t", "f", STORE_ALERT_HOOK | STORE_ALERT_MAIL, 1300,
	    &id, &e), 0);
	assert_int_equal(store_alert_last(s, "a.example", "mx2", "mx-uncovered",
	    &last, &e), 0);
	assert_int_equal(last, 1300);
	assert_int_equal(store_alert_last(s, "a.example", "mx2", "mx-tls",
	    &last, &e), 0);
	assert_int_equal(last, 0);
	/* Unsent, oldest first; a failed try counts, a taken one leaves;
	 * each channel on its own, and only when it was set up. */
	out[0] = '\0';
	assert_int_equal(store_alert_list(s, NULL, STORE_ALERT_MAIL, 10,
	    alert_row_cb, out, &e), 0);
	snprintf(out + 200, 200, "%lld:a.example/mx2/mx-uncovered/0/0/0/0",
	    (long long)id);
	assert_string_equal(out, out + 200);
	assert_int_equal(store_alert_sent(s, id, STORE_ALERT_MAIL, 1350, &e),
	    0);
	out[0] = '\0';
	assert_int_equal(store_alert_list(s, NULL, STORE_ALERT_MAIL, 10,
	    alert_row_cb, out, &e), 0);
	assert_string_equal(out, "");
	assert_int_equal(store_alert_list(s, NULL, STORE_ALERT_HOOK, 10,
	    alert_row_cb, out, &e), 0);
	first = strtoll(out, NULL, 10);
	assert_true(first > 0);
	assert_int_equal(store_alert_sent(s, first, STORE_ALERT_HOOK, 0, &e),
	    0);
	assert_int_equal(store_alert_sent(s, id, STORE_ALERT_HOOK, 1400, &e),
	    0);
	out[0] = '\0';
	assert_int_equal(store_alert_list(s, NULL, STORE_ALERT_HOOK, 10,
	    alert_row_cb, out, &e), 0);
	snprintf(out + 200, 200, "%lld:a.example/mx2/mx-uncovered/0/1/-2/0",
	    (long long)first);
	assert_string_equal(out, out + 200);
	/* Given up after LIMIT_ALERT_TRIES. */
	for (int i = 1; i < LIMIT_ALERT_TRIES; i++)
		assert_int_equal(store_alert_sent(s, first, STORE_ALERT_HOOK,
		    0, &e), 0);
	out[0] = '\0';
	assert_int_equal(store_alert_list(s, NULL, STORE_ALERT_HOOK, 10,
	    alert_row_cb, out, &e), 0);
	assert_string_equal(out, "");
	out[0] = '\0';
	assert_int_equal(store_alert_list(s, "a.example", 0, 10, alert_row_cb,
	    out, &e), 0);
	snprintf(out + 200, 200, "%lld:a.example/mx2/mx-uncovered/1400/1/"
	    "1350/1 %lld:a.example/mx2/mx-uncovered/-1/%d/-2/0", (long long)id,
	    (long long)first, LIMIT_ALERT_TRIES);
	assert_string_equal(out, out + 200);
	/* At most LIMIT_ALERTS_PER_DOMAIN per domain, the newest kept. */
	for (int i = 0; i < LIMIT_ALERTS_PER_DOMAIN + 5; i++)
		assert_int_equal(store_alert_add(s, "b.example", "x", "record",
		    "error", "t", "", 0, 2000 + i, &id, &e), 0);
	assert_int_equal(store_alert_last(s, "b.example", "x", "record",
	    &last, &e), 0);
	assert_int_equal(last, 2000 + LIMIT_ALERTS_PER_DOMAIN + 4);
	assert_int_equal(store_alert_list(s, "b.example", 0, 1000,
	    alert_count_cb, &count, &e), 0);
	assert_int_equal(count, LIMIT_ALERTS_PER_DOMAIN);
	/* a.example's alerts are not touched by b's pruning. */
	out[0] = '\0';
	assert_int_equal(store_alert_list(s, "a.example", 0, 10, alert_row_cb,
	    out, &e), 0);
	assert_non_null(strstr(out, "/1400/1/1350/1"));
	/* The weekly digest's date per tenant. */
	assert_int_equal(store_digest_last(s, "acme", &last, &e), 0);
	assert_int_equal(last, 0);
	assert_int_equal(store_digest_sent(s, "acme", 5000, &e), 0);
	assert_int_equal(store_digest_sent(s, "acme", 6000, &e), 0);
	assert_int_equal(store_digest_last(s, "acme", &last, &e), 0);
	assert_int_equal(last, 6000);
	store_domain_free(&d1);
	store_domain_free(&d2);
	store_domain_free(&d3);
}

/* What a generic copy (store_migrate.c) asks of the engine, on
 * either: each value's kind as bound, and ids generated after rows were
 * inserted with their ids given following the highest (PostgreSQL's
 * identity sequences do not move by themselves: db_ids_follow). */
static void
test_db_types_and_ids(void **state)
{
	struct fx *fx = *state;
	struct db *db;
	struct db_stmt *st;
	struct err e = { "" };
	char url[256];

	if (on_pg(fx->path))
		snprintf(url, sizeof(url), "%s", pg_url);
	else
		snprintf(url, sizeof(url), "sqlite:%s", fx->path);
	if (db_open(url, &db, &e) == -1)
		fail_msg("%s", e.msg);
	assert_int_equal(db_prepare(db, "SELECT ?1, ?2, ?3, ?4", &st), DB_OK);
	assert_int_equal(db_bind_int64(st, 1, -7) | db_bind_text(st, 2, "t") |
	    db_bind_blob(st, 3, "\0\1", 2) | db_bind_null(st, 4), DB_OK);
	assert_int_equal(db_step(st), DB_ROW);
	assert_int_equal(db_column_type(st, 0), DB_TYPE_INTEGER);
	assert_int_equal(db_column_type(st, 1), DB_TYPE_TEXT);
	assert_int_equal(db_column_type(st, 2), DB_TYPE_BLOB);
	assert_int_equal(db_column_type(st, 3), DB_TYPE_NULL);
	db_finalize(st);
	assert_int_equal(db_exec(db, "INSERT INTO tenant (id, name, created) "
	    "VALUES (41, 'copied', 1)"), DB_OK);
	assert_int_equal(db_ids_follow(db, "tenant"), DB_OK);
	assert_int_equal(db_prepare(db, "INSERT INTO tenant (name, created) "
	    "VALUES ('new', 2) RETURNING id", &st), DB_OK);
	assert_int_equal(db_step(st), DB_ROW);
	assert_int_equal(db_column_int64(st, 0), 42);
	db_finalize(st);
	db_close(db);
}

/* Appends "name version not_after key" of c to the string arg. */
static int
cert_cb(void *arg, const struct store_cert *c)
{
	char *out = arg;
	size_t n = strlen(out);

	snprintf(out + n, 400 - n, "%s%s %lld %lld %.*s", n ? " | " : "",
	    c->name, (long long)c->version, (long long)c->not_after,
	    (int)c->key_len, (const char *)c->key);
	return 0;
}

static int
chal_cb(void *arg, const struct store_challenge *c)
{
	char *out = arg;
	size_t n = strlen(out);

	snprintf(out + n, 400 - n, "%s%s %s %d %s", n ? " | " : "", c->token,
	    c->name, c->type, c->keyauth);
	return 0;
}

/* Migration 11: certificates ordered by version, the lease per name,
 * the shared ACME account key (first wins), challenges in progress. */
static void
test_cert_store(void **state)
{
	struct fx *fx = *state;
	struct store *s = fx->s;
	struct store_cert c = { .name = "mta-sts.a.example", .chain = "PEM A",
	    .key = "K1", .key_len = 2, .not_before = 100, .not_after = 1000,
	    .updated = 50 };
	struct store_challenge ch = { .token = "tok1", .name = "a.example",
	    .type = 1, .keyauth = "tok1.thumb", .expires = 500 };
	char out[400] = "";
	int64_t v1, v2, v3;
	void *key;
	size_t len;
	struct err e;

	assert_int_equal(store_cert_get(s, c.name, cert_cb, out, &e), 1);
	assert_int_equal(store_cert_since(s, 0, 10, cert_cb, out, &e), 0);
	assert_string_equal(out, "");
	assert_int_equal(store_cert_put(s, &c, &v1, &e), 0);
	c.name = "mta-sts.b.example";
	c.key = "K2";
	assert_int_equal(store_cert_put(s, &c, &v2, &e), 0);
	assert_true(v2 > v1);
	/* A renewal replaces the row and moves it after the others. */
	c.name = "mta-sts.a.example";
	c.key = "K3";
	c.not_after = 2000;
	assert_int_equal(store_cert_put(s, &c, &v3, &e), 0);
	assert_true(v3 > v2);
	assert_int_equal(store_cert_get(s, c.name, cert_cb, out, &e), 0);
	assert_int_equal(strncmp(out, "mta-sts.a.example ", 18), 0);
	assert_non_null(strstr(out, " 2000 K3"));
	out[0] = '\0';
	assert_int_equal(store_cert_since(s, v1, 10, cert_cb, out, &e), 0);
	assert_non_null(strstr(out, "mta-sts.b.example"));
	assert_non_null(strstr(out, " | mta-sts.a.example"));
	out[0] = '\0';
	assert_int_equal(store_cert_since(s, v2, 10, cert_cb, out, &e), 0);
	assert_null(strstr(out, "mta-sts.b.example"));
	out[0] = '\0';
	assert_int_equal(store_cert_since(s, 0, 1, cert_cb, out, &e), 0);
	assert_null(strchr(out, '|'));		/* max */

	/* The lease: one holder at a time, until it expires. */
	assert_int_equal(store_lease_take(s, "n", "node1", 100, 700, &e), 1);
	assert_int_equal(store_lease_take(s, "n", "node2", 200, 800, &e), 0);
	assert_int_equal(store_lease_take(s, "n", "node1", 200, 800, &e), 1);
	assert_int_equal(store_lease_take(s, "m", "node2", 200, 800, &e), 1);
	assert_int_equal(store_lease_take(s, "n", "node2", 800, 900, &e), 1);
	assert_int_equal(store_lease_release(s, "n", "node1", &e), 0);
	assert_int_equal(store_lease_take(s, "n", "node3", 801, 900, &e), 0);
	assert_int_equal(store_lease_release(s, "n", "node2", &e), 0);
	assert_int_equal(store_lease_take(s, "n", "node3", 801, 900, &e), 1);

	/* The account key: the first stored wins. */
	assert_int_equal(store_acme_account_get(s, "default", &key, &len, &e),
	    1);
	assert_int_equal(store_acme_account_put(s, "default", "AAAA", 4, 10,
	    &e), 0);
	assert_int_equal(store_acme_account_put(s, "default", "BBBB", 4, 11,
	    &e), 0);
	assert_int_equal(store_acme_account_get(s, "default", &key, &len, &e),
	    0);
	assert_int_equal(len, 4);
	assert_memory_equal(key, "AAAA", 4);
	free(key);

	/* Challenges: listed until they expire or are removed. */
	out[0] = '\0';
	assert_int_equal(store_challenge_put(s, &ch, &e), 0);
	ch.token = "tok2";
	ch.keyauth = "tok2.thumb";
	ch.expires = 300;
	assert_int_equal(store_challenge_put(s, &ch, &e), 0);
	assert_int_equal(store_challenge_list(s, 200, 10, chal_cb, out, &e),
	    0);
	assert_string_equal(out, "tok1 a.example 1 tok1.thumb | "
	    "tok2 a.example 1 tok2.thumb");
	out[0] = '\0';
	assert_int_equal(store_challenge_list(s, 300, 10, chal_cb, out, &e),
	    0);
	assert_string_equal(out, "tok1 a.example 1 tok1.thumb");
	out[0] = '\0';
	assert_int_equal(store_challenge_remove(s, "tok1", 200, &e), 0);
	assert_int_equal(store_challenge_list(s, 0, 10, chal_cb, out, &e), 0);
	assert_string_equal(out, "tok2 a.example 1 tok2.thumb");
	/* Removing also drops the expired. */
	out[0] = '\0';
	assert_int_equal(store_challenge_remove(s, "none", 300, &e), 0);
	assert_int_equal(store_challenge_list(s, 0, 10, chal_cb, out, &e), 0);
	assert_string_equal(out, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_id_format),
		cmocka_unit_test(test_token_helper),
		cmocka_unit_test(test_join_split),
		cmocka_unit_test_setup_teardown(test_domain_add_get,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_domain_set_new_id_only_on_change, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_domain_remove_and_readd,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_domain_list_and_tokens,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rollup_arithmetic,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_report_duplicate,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_report_batch,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_report_conflict,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_report_provenance_required, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_report_list_filter,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tlsa_mx_hosts,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_report_raw_roundtrip,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_quarantine_caps,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_quarantine,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_report_intake_domain,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_domains_version,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_migrate_from_1,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_sessions,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_accounts,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_migrate_from_5,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_migrate_from_4,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_migrate_from_3,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_migrate_from_2,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_monitor_store,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_reopen_and_version,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_db_types_and_ids,
		    fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cert_store,
		    fx_setup, fx_teardown),
	};

	pg_url = getenv("STSGUARD_TEST_STORE");
	if (pg_url != NULL && strncmp(pg_url, "postgres", 8) != 0)
		pg_url = NULL;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
