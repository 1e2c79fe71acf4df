/*
 * test_store_migrate.c - store_migrate (store_migrate.c): its table list
 * against the schema SQLite builds, the statements it makes of the list,
 * the order-free checksum, and whole copies between SQLite files: ids,
 * kinds of values and the singleton counters kept, a destination with
 * data refused, an empty source refused, a table changed behind the
 * copy's back found and named.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_db.h"
#include "store/store_int.h"

struct fx {
	char	dir[64];
	char	from[128];	/* sqlite:DIR/from.db */
	char	to[128];	/* sqlite:DIR/to.db */
};

static int
fx_setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_store_migrate.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->from, sizeof(fx->from), "sqlite:%s/from.db", fx->dir);
	snprintf(fx->to, sizeof(fx->to), "sqlite:%s/to.db", fx->dir);
	*state = fx;
	return 0;
}

static int
fx_teardown(void **state)
{
	struct fx *fx = *state;
	char p[160];

	for (int i = 0; i < 2; i++)
		for (int k = 0; k < 3; k++) {
			snprintf(p, sizeof(p), "%s/%s.db%s", fx->dir,
			    i ? "to" : "from", k == 0 ? "" : k == 1 ?
			    "-wal" : "-shm");
			unlink(p);
		}
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static struct db *
open_db(const char *url)
{
	struct db *db;
	struct err e = { "" };

	if (db_open(url, &db, &e) == -1)
		fail_msg("%s: %s", url, e.msg);
	return db;
}

static void
exec_ok(struct db *db, const char *sql)
{
	if (db_exec(db, sql) != DB_OK)
		fail_msg("%s: %s", sql, db_errmsg(db));
}

/* The first column of the only row of sql, as text ("" for NULL);
 * caller frees. */
static char *
one(struct db *db, const char *sql)
{
	struct db_stmt *st;
	char *v;

	if (db_prepare(db, sql, &st) != DB_OK)
		fail_msg("%s: %s", sql, db_errmsg(db));
	assert_int_equal(db_step(st), DB_ROW);
	v = strdup(db_column_text(st, 0) != NULL ? db_column_text(st, 0) :
	    "");
	db_finalize(st);
	return v;
}

static void
assert_one(struct db *db, const char *sql, const char *want)
{
	char *v = one(db, sql);

	if (strcmp(v, want) != 0)
		fail_msg("%s: [%s], expected [%s]", sql, v, want);
	free(v);
}

static const struct store_table *
table(const char *name)
{
	for (size_t i = 0; i < store_ntables; i++)
		if (strcmp(store_tables[i].name, name) == 0)
			return &store_tables[i];
	return NULL;
}

/* Every table SQLite's schema has is in the list once, with all its
 * columns in the schema's order, and the tables a table refers to come
 * before it; nothing else is. */
static void
test_tables_are_the_schema(void **state)
{
	struct fx *fx = *state;
	struct db *db = open_db(fx->from);
	struct db_stmt *st;
	size_t seen = 0;
	char sql[256], *cols, *ref, *save = NULL;

	assert_int_equal(db_prepare(db, "SELECT name FROM sqlite_master "
	    "WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
	    &st), DB_OK);
	while (db_step(st) == DB_ROW) {
		const char *name = db_column_text(st, 0);

		if (table(name) == NULL)
			fail_msg("table %s of the schema is not copied", name);
		seen++;
	}
	db_finalize(st);
	assert_int_equal(seen, store_ntables);
	for (size_t i = 0; i < store_ntables; i++) {
		const struct store_table *t = &store_tables[i];

		snprintf(sql, sizeof(sql), "SELECT group_concat(name, ', ') "
		    "FROM (SELECT name FROM pragma_table_info('%s') "
		    "ORDER BY cid)", t->name);
		cols = one(db, sql);
		if (strcmp(cols, t->cols) != 0)
			fail_msg("%s: the schema has [%s], the list [%s]",
			    t->name, cols, t->cols);
		free(cols);
		assert_int_equal(t->kind == STORE_TABLE_ROWS,
		    strcmp(t->key, "id") != 0);
		snprintf(sql, sizeof(sql), "SELECT coalesce(group_concat("
		    "\"table\", ' '), '') FROM pragma_foreign_key_list('%s')",
		    t->name);
		ref = one(db, sql);
		for (char *r = strtok_r(ref, " ", &save); r != NULL;
		    r = strtok_r(NULL, " ", &save))
			if (table(r) == NULL || table(r) >= t)
				fail_msg("%s refers to %s, not copied before "
				    "it", t->name, r);
		free(ref);
	}
	db_close(db);
}

/* Asserts that the statement what of table name is want. */
static void
assert_sql(const char *name, enum store_table_sql what, const char *want)
{
	char *s = store_table_sql(table(name), what);

	assert_non_null(s);
	assert_string_equal(s, want);
	free(s);
}

static void
test_statements(void **state)
{
	char *s;

	(void)state;
	assert_sql("tenant", STORE_SQL_INSERT, "INSERT INTO tenant (id, name, "
	    "created, domains) VALUES (?1, ?2, ?3, ?4)");
	assert_sql("tenant", STORE_SQL_SELECT, "SELECT id, name, created, "
	    "domains FROM tenant WHERE id > ?1 ORDER BY id LIMIT 256");
	assert_sql("domain_mx", STORE_SQL_SELECT, "SELECT pattern, domain_id "
	    "FROM domain_mx ORDER BY pattern, domain_id");
	assert_sql("quarantine_usage", STORE_SQL_UPDATE, "UPDATE "
	    "quarantine_usage SET entries = ?2, bytes = ?3, folded = ?4, "
	    "dropped = ?5 WHERE id = ?1");
	/* The widest table fits the PostgreSQL driver's parameters. */
	assert_int_equal(store_table_ncols(table("report")), 30);
	s = store_table_sql(table("report"), STORE_SQL_INSERT);
	assert_non_null(strstr(s, "?30)"));
	free(s);
}

/* The sum of no rows is SHA-256 of nothing; the order of the rows does
 * not count, a changed byte does. */
static void
test_sum_fold(void **state)
{
	unsigned char rows[3][32], again[3][32], a[32], b[32];
	static const unsigned char empty[8] = {
		0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14 };

	(void)state;
	assert_int_equal(store_sum_fold(NULL, 0, a), 0);
	assert_memory_equal(a, empty, sizeof(empty));
	for (int i = 0; i < 3; i++)
		memset(rows[i], 'a' + i, 32);
	memcpy(again[0], rows[2], 32);
	memcpy(again[1], rows[0], 32);
	memcpy(again[2], rows[1], 32);
	assert_int_equal(store_sum_fold(rows, 3, a), 0);
	assert_int_equal(store_sum_fold(again, 3, b), 0);
	assert_memory_equal(a, b, 32);
	again[1][31] ^= 1;
	assert_int_equal(store_sum_fold(again, 3, b), 0);
	assert_memory_not_equal(a, b, 32);
	assert_int_equal(store_sum_fold(again, 2, b), 0);
	assert_memory_not_equal(a, b, 32);
}

/* A small installation written by SQL: ids with gaps, text keys that
 * sort differently by locale, an empty blob, NULLs, a quarantine entry
 * (its trigger counts it) and the counters set apart from it. */
static void
fill(const char *url)
{
	struct db *db = open_db(url);

	exec_ok(db,
	    "INSERT INTO tenant (id, name, created, domains) VALUES "
	    "(3, 'default', 100, 1), (8, 'Acme', 101, 0);"
	    "INSERT INTO domain (id, name, tenant_id, mode, max_age, mx, "
	    "policy_id, token, created, updated, revision) VALUES "
	    "(7, 'a.example', 3, 'testing', 86400, 'mx.a.example', "
	    "'20260101000000r2', 'tok7', 100, 200, 2);"
	    "INSERT INTO policy_history (id, domain_id, policy_id, since, "
	    "body) VALUES (4, 7, '20260101000000r1', 100, 'version: STSv1\r\n'),"
	    " (6, 7, '20260101000000r2', 200, 'version: STSv1\r\nmode: x\r\n');"
	    "INSERT INTO domain_mx (pattern, domain_id) VALUES "
	    "('mx.a.example', 7), ('*.B.example', 7);"
	    "INSERT INTO report (id, organization_name, report_id, start_time,"
	    " end_time, received, dkim_present, successful, failed, quirks, "
	    "raw, raw_len, raw_plain, provenance, digest, contact_info) VALUES"
	    " (9, 'Örg', 'r1', 1, 2, 3, 0, 10, 1, 0, x'1f8b0008', 4, 1, "
	    "'import', x'', NULL);"
	    "INSERT INTO report_policy (id, report, idx, policy_type, "
	    "policy_domain, policy_string, mx_host, successful, failed) "
	    "VALUES (12, 9, 0, 'sts', 'a.example', 'version: STSv1', "
	    "'mx.a.example', 10, 1);"
	    "INSERT INTO failure_detail (id, policy, result_type, "
	    "failed_session_count) VALUES (13, 12, 'validation-failure', 1);"
	    "INSERT INTO rollup VALUES ('a.example', '1970-01-01', 'Örg', "
	    "'sts', 'successful', 10), ('a.example', '1970-01-01', 'org', "
	    "'sts', 'successful', 1), ('a.example', '1970-01-01', 'Z', 'sts',"
	    " 'successful', 2);"
	    "INSERT INTO tlsa_host VALUES ('mx.B.example', 'B.example'), "
	    "('mx.a.example', 'a.example');"
	    "INSERT INTO quarantine (id, received, kind, reason, size, raw, "
	    "sha256, anon, seen) VALUES (21, 5, 'report', 'bad', 3, "
	    "x'010203', x'aa', 1, 3);"
	    "UPDATE quarantine_usage SET folded = 4, dropped = 2;"
	    "INSERT INTO account (id, email, tenant_id, role, password, "
	    "created) VALUES (2, 'Root@Example.com', NULL, 'admin', 'h', 1);"
	    "INSERT INTO api_token (id, tenant_id, hash, prefix, read_only, "
	    "created, revoked) VALUES (5, 8, x'0102', 'ab', 1, 1, NULL);"
	    "INSERT INTO session VALUES (x'ff00', 2, 'csrf', 1, 2);"
	    "INSERT INTO login_failure VALUES ('client:192.0.2.1', 2, 1);"
	    "INSERT INTO fetch_day VALUES ('a.example', '2026-05-01', 3, 2, "
	    "x'', 0);"
	    "INSERT INTO fetch_agent VALUES ('a.example', '2026-05-01', "
	    "'curl', 3);"
	    "INSERT INTO domain_check VALUES ('a.example', 1, 2, 0, 1, '[]');"
	    "INSERT INTO alert (id, domain, subject, kind, severity, text, "
	    "fix, raised, hook_sent, mail_sent) VALUES (30, 'a.example', "
	    "'mx.a.example', 'k', 'warning', 't', 'f', 1, -2, 0);"
	    "INSERT INTO digest VALUES ('default', 7);"
	    "UPDATE domain_generation SET n = 11;");
	db_close(db);
}

struct seen {
	size_t	 copied, verified;
	bool	 differs;
	const char *to;		/* changed behind the copy's back, or NULL */
};

static void
on_step(const struct store_migrate_step *s, void *arg)
{
	struct seen *w = arg;

	if (!s->verified) {
		w->copied++;
		return;
	}
	w->verified++;
	if (s->rows != s->rows_to || memcmp(s->sum, s->sum_to, 32) != 0)
		w->differs = true;
	/* After the commit, the first table compared: another writer
	 * changes one that is not compared yet. */
	if (w->to != NULL && strcmp(s->table, "tenant") == 0) {
		struct db *db = open_db(w->to);

		exec_ok(db, "UPDATE domain SET mx = 'changed'");
		db_close(db);
	}
}

static void
test_copy(void **state)
{
	struct fx *fx = *state;
	struct seen w = { 0 };
	struct err e = { "" };
	struct db *db;

	fill(fx->from);
	if (store_migrate(fx->from, fx->to, on_step, &w, &e) == -1)
		fail_msg("store_migrate: %s", e.msg);
	assert_int_equal(w.copied, store_ntables);
	assert_int_equal(w.verified, store_ntables);
	assert_false(w.differs);
	db = open_db(fx->to);
	assert_one(db, "SELECT group_concat(id, ',') FROM (SELECT id FROM "
	    "tenant ORDER BY id)", "3,8");
	assert_one(db, "SELECT id || typeof(digest) || length(digest) || "
	    "typeof(contact_info) || organization_name FROM report",
	    "9blob0nullÖrg");
	assert_one(db, "SELECT typeof(hll) || length(hll) FROM fetch_day",
	    "blob0");
	assert_one(db, "SELECT entries || ' ' || bytes || ' ' || folded || "
	    "' ' || dropped FROM quarantine_usage", "1 3 4 2");
	assert_one(db, "SELECT n FROM domain_generation", "11");
	assert_one(db, "SELECT hex(hash) || account_id FROM session",
	    "FF002");
	assert_one(db, "SELECT count(*) FROM rollup", "3");
	db_close(db);
}

static void
test_refusals(void **state)
{
	struct fx *fx = *state;
	struct err e = { "" };
	struct db *db;

	/* An empty source: nothing to move. */
	assert_int_equal(store_migrate(fx->from, fx->to, NULL, NULL, &e), -1);
	assert_non_null(strstr(e.msg, "the source holds no data"));
	fill(fx->from);
	assert_int_equal(store_migrate(fx->from, fx->from, NULL, NULL, &e),
	    -1);
	assert_non_null(strstr(e.msg, "the same store"));
	/* A destination with one tenant: refused, left as it was. */
	db = open_db(fx->to);
	exec_ok(db, "INSERT INTO tenant (name, created) VALUES ('x', 1)");
	db_close(db);
	assert_int_equal(store_migrate(fx->from, fx->to, NULL, NULL, &e), -1);
	assert_non_null(strstr(e.msg, "the destination already holds data"));
	db = open_db(fx->to);
	assert_one(db, "SELECT count(*) FROM tenant", "1");
	assert_one(db, "SELECT count(*) FROM domain", "0");
	db_close(db);
	assert_int_equal(store_migrate("nowhere", fx->to, NULL, NULL, &e),
	    -1);
	assert_non_null(strstr(e.msg, "source: "));
}

/* A copy that fails half way leaves the destination empty: a row the
 * destination's schema rejects (a session of no account: foreign keys
 * are on) rolls everything back. */
static void
test_rollback(void **state)
{
	struct fx *fx = *state;
	struct err e = { "" };
	struct db *db;

	fill(fx->from);
	db = open_db(fx->from);
	exec_ok(db, "PRAGMA foreign_keys = OFF; "
	    "INSERT INTO session VALUES (x'01', 99, 'c', 1, 2)");
	db_close(db);
	assert_int_equal(store_migrate(fx->from, fx->to, NULL, NULL, &e), -1);
	assert_non_null(strstr(e.msg, "copy: session: "));
	db = open_db(fx->to);
	assert_one(db, "SELECT count(*) FROM tenant", "0");
	assert_one(db, "SELECT count(*) FROM report", "0");
	assert_one(db, "SELECT n FROM domain_generation", "0");
	db_close(db);
}

/* The check is real: a table changed between the commit and its
 * comparison is named, and the run fails. */
static void
test_difference_found(void **state)
{
	struct fx *fx = *state;
	struct seen w = { .to = fx->to };
	struct err e = { "" };

	fill(fx->from);
	assert_int_equal(store_migrate(fx->from, fx->to, on_step, &w, &e),
	    -1);
	assert_true(w.differs);
	assert_int_equal(w.verified, store_ntables);
	assert_string_equal(e.msg, "check: table domain differs: 1 rows in "
	    "the source, 1 in the destination, not the same values");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tables_are_the_schema,
		    fx_setup, fx_teardown),
		cmocka_unit_test(test_statements),
		cmocka_unit_test(test_sum_fold),
		cmocka_unit_test_setup_teardown(test_copy, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_refusals, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_rollback, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_difference_found,
		    fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
