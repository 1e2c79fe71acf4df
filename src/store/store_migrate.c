/*
 * store_migrate.c - `stsguard store migrate`: copies a whole store into
 * another, empty one (SQLite to PostgreSQL, typically; any direction,
 * both being store_db.h), then proves the copy by counting and hashing
 * every table on both sides.
 *
 * The tables are one list (store_tables): name, columns, key, and how a
 * table is copied. Everything else is generic:
 *
 *   source                          destination (one transaction)
 *   SELECT cols FROM t ORDER BY key  INSERT INTO t (cols) VALUES (?1..?n)
 *     (id tables: by pages of ids)     each value bound by its kind
 *   the singleton rows               UPDATE t SET c2 = ?2, ... WHERE id = ?1
 *                                    db_ids_follow(t) for id tables
 *
 * in an order that satisfies the foreign keys, the ids kept. The source
 * is held in a write transaction meanwhile (db_begin), so that it
 * cannot change between the copy and the check: writers wait.
 *
 * The check, after the commit, reads each table back from both sides:
 * the rows counted, and a SHA-256 per row over its values (each as a
 * kind byte, then 8 bytes big-endian: the integer, or the length of the
 * text or blob and its bytes), folded into one SHA-256 of the row
 * digests sorted (store_sum_fold). Sorted, because the engines order
 * text keys by different collations (SQLite bytewise, PostgreSQL by the
 * database's locale): the sum must not depend on the order rows come in.
 *
 * Never merges: a destination holding a tenant, domain, report or
 * account is refused before anything is written.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "store_db.h"
#include "store_int.h"

/* Rows of an id table read per page: PostgreSQL holds a whole result
 * in memory, and a report row carries its raw bytes. */
#define MIG_PAGE 256

/* Every table of the schema (store_db_sqlite.c, store_db_pg.c), in an
 * order that satisfies the foreign keys; the singletons last, so that
 * quarantine_usage ends as the source has it, whatever the triggers on
 * quarantine counted meanwhile. test_store_migrate checks the list
 * against SQLite's schema. */
const struct store_table store_tables[] = {
	{ "tenant", "id, name, created, domains", "id", STORE_TABLE_IDS },
	{ "domain", "id, name, tenant_id, mode, max_age, mx, policy_id, "
	    "token, created, updated, removed, serve_until, revision", "id",
	    STORE_TABLE_IDS },
	{ "policy_history", "id, domain_id, policy_id, since, body", "id",
	    STORE_TABLE_IDS },
	{ "domain_mx", "pattern, domain_id", "pattern, domain_id",
	    STORE_TABLE_ROWS },
	{ "report", "id, organization_name, report_id, contact_info, "
	    "start_time, end_time, received, route, client, mail_from, "
	    "rcpt_to, dkim_present, successful, failed, quirks, raw, raw_len, "
	    "raw_plain, duplicates, last_duplicate, intake_domain, "
	    "provenance, provenance_reason, dkim_domain, report_domain, "
	    "report_submitter, domain_mismatch, digest, counted, conflict",
	    "id", STORE_TABLE_IDS },
	{ "report_policy", "id, report, idx, policy_type, policy_domain, "
	    "policy_string, mx_host, successful, failed", "id",
	    STORE_TABLE_IDS },
	{ "failure_detail", "id, policy, result_type, sending_mta_ip, "
	    "receiving_mx_hostname, receiving_mx_helo, receiving_ip, "
	    "additional_information, failure_reason_code, "
	    "failed_session_count", "id", STORE_TABLE_IDS },
	{ "rollup", "policy_domain, day, organization_name, policy_type, "
	    "result_type, sessions", "policy_domain, day, organization_name, "
	    "policy_type, result_type", STORE_TABLE_ROWS },
	{ "tlsa_host", "name, parent", "name", STORE_TABLE_ROWS },
	{ "quarantine", "id, received, kind, route, client, mail_from, "
	    "rcpt_to, intake_domain, reason, size, raw, report, sha256, anon, "
	    "client_key, seen, last_seen", "id", STORE_TABLE_IDS },
	{ "account", "id, email, tenant_id, role, password, created", "id",
	    STORE_TABLE_IDS },
	{ "api_token", "id, tenant_id, hash, prefix, read_only, created, "
	    "revoked", "id", STORE_TABLE_IDS },
	{ "session", "hash, account_id, csrf, created, expires", "hash",
	    STORE_TABLE_ROWS },
	{ "login_failure", "key, count, since", "key", STORE_TABLE_ROWS },
	{ "fetch_day", "domain, day, fetches, clients, hll, agents_other",
	    "domain, day", STORE_TABLE_ROWS },
	{ "fetch_agent", "domain, day, agent, fetches", "domain, day, agent",
	    STORE_TABLE_ROWS },
	{ "domain_check", "domain, checked, next_at, failures, warnings, "
	    "findings", "domain", STORE_TABLE_ROWS },
	{ "alert", "id, domain, subject, kind, severity, text, fix, raised, "
	    "hook_sent, hook_tries, mail_sent, mail_tries", "id",
	    STORE_TABLE_IDS },
	{ "digest", "tenant, sent", "tenant", STORE_TABLE_ROWS },
	/* Keys stay sealed: the nodes need the same store_key_file. */
	{ "cert", "name, chain, key, not_before, not_after, updated, "
	    "version", "name", STORE_TABLE_ROWS },
	{ "cert_lease", "name, holder, expires", "name", STORE_TABLE_ROWS },
	{ "acme_account", "name, key, created", "name", STORE_TABLE_ROWS },
	{ "acme_challenge", "token, name, type, keyauth, expires", "token",
	    STORE_TABLE_ROWS },
	{ "domain_generation", "id, n", "id", STORE_TABLE_ONE },
	{ "quarantine_usage", "id, entries, bytes, folded, dropped", "id",
	    STORE_TABLE_ONE },
};
const size_t store_ntables = sizeof(store_tables) / sizeof(store_tables[0]);

/* Any of these rows makes a store hold data: a destination with one is
 * refused, a source without any has nothing to move. */
static const char mig_has_data[] =
    "SELECT 1 WHERE EXISTS (SELECT 1 FROM tenant) OR "
    "EXISTS (SELECT 1 FROM domain) OR EXISTS (SELECT 1 FROM report) OR "
    "EXISTS (SELECT 1 FROM account)";

size_t
store_table_ncols(const struct store_table *t)
{
	size_t n = 1;

	for (const char *p = t->cols; *p != '\0'; p++)
		n += *p == ',';
	return n;
}

/* Appends the printf-formatted text to the n bytes of b (cap bytes);
 * false when it does not fit. */
static bool
mig_put(char *b, size_t cap, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static bool
mig_put(char *b, size_t cap, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(b + *n, cap - *n, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= cap - *n)
		return false;
	*n += (size_t)k;
	return true;
}

char *
store_table_sql(const struct store_table *t, enum store_table_sql what)
{
	size_t cap = 2 * strlen(t->cols) + 256, n = 0, ncols, i;
	const char *c, *end;
	char *b;
	bool ok = true;

	if ((b = malloc(cap)) == NULL)
		return NULL;
	b[0] = '\0';
	ncols = store_table_ncols(t);
	switch (what) {
	case STORE_SQL_SELECT:
		ok = t->kind == STORE_TABLE_IDS ?
		    mig_put(b, cap, &n, "SELECT %s FROM %s WHERE id > ?1 "
		    "ORDER BY id LIMIT %d", t->cols, t->name, MIG_PAGE) :
		    mig_put(b, cap, &n, "SELECT %s FROM %s ORDER BY %s",
		    t->cols, t->name, t->key);
		break;
	case STORE_SQL_INSERT:
		ok = mig_put(b, cap, &n, "INSERT INTO %s (%s) VALUES (",
		    t->name, t->cols);
		for (i = 1; ok && i <= ncols; i++)
			ok = mig_put(b, cap, &n, "%s?%zu", i > 1 ? ", " : "",
			    i);
		ok = ok && mig_put(b, cap, &n, ")");
		break;
	case STORE_SQL_UPDATE:
		/* The first column is id: the rest are set. */
		ok = mig_put(b, cap, &n, "UPDATE %s SET ", t->name);
		c = strchr(t->cols, ',');
		for (i = 2; ok && c != NULL; i++) {
			c += strspn(c, ", ");
			end = strchr(c, ',');
			ok = mig_put(b, cap, &n, "%s%.*s = ?%zu",
			    i > 2 ? ", " : "", (int)(end != NULL ?
			    (size_t)(end - c) : strlen(c)), c, i);
			c = end;
		}
		ok = ok && mig_put(b, cap, &n, " WHERE id = ?1");
		break;
	}
	if (!ok) {
		free(b);
		return NULL;
	}
	return b;
}

static int
mig_digest_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

int
store_sum_fold(unsigned char (*rows)[32], size_t n, unsigned char out[32])
{
	EVP_MD_CTX *h = EVP_MD_CTX_new();
	unsigned int len = 0;
	int ok;

	if (n > 0)
		qsort(rows, n, 32, mig_digest_cmp);
	ok = h != NULL && EVP_DigestInit_ex(h, EVP_sha256(), NULL) == 1 &&
	    (n == 0 || EVP_DigestUpdate(h, rows, n * 32) == 1) &&
	    EVP_DigestFinal_ex(h, out, &len) == 1 && len == 32;
	EVP_MD_CTX_free(h);
	return ok ? 0 : -1;
}

/* --- Reading a table --- */

/* Called with each row of a table, in key order; 0, or -1 with e set. */
typedef int mig_row_fn(struct db_stmt *row, void *arg, struct err *e);

/* Reads every row of t in db, in key order, by pages of ids for an id
 * table; *rows counts them. Returns 0, or -1 with the reason. */
static int
mig_scan(struct db *db, const struct store_table *t, mig_row_fn *fn,
    void *arg, int64_t *rows, struct err *e)
{
	struct db_stmt *st = NULL;
	char *sql;
	int64_t last = INT64_MIN, page;
	int r = DB_DONE, rc = -1;

	*rows = 0;
	if ((sql = store_table_sql(t, STORE_SQL_SELECT)) == NULL) {
		err_set(e, "%s: out of memory", t->name);
		goto out;
	}
	if (db_prepare(db, sql, &st) != DB_OK) {
		err_set(e, "%s: %s", t->name, db_errmsg(db));
		goto out;
	}
	do {
		page = 0;
		if (t->kind == STORE_TABLE_IDS) {
			db_reset(st);
			if (db_bind_int64(st, 1, last) != DB_OK) {
				err_set(e, "%s: %s", t->name, db_errmsg(db));
				goto out;
			}
		}
		while ((r = db_step(st)) == DB_ROW) {
			page++;
			(*rows)++;
			if (t->kind == STORE_TABLE_IDS)
				last = db_column_int64(st, 0);
			if (fn(st, arg, e) == -1)
				goto out;
		}
		if (r != DB_DONE) {
			err_set(e, "%s: %s", t->name, db_errmsg(db));
			goto out;
		}
	} while (t->kind == STORE_TABLE_IDS && page == MIG_PAGE);
	rc = 0;
out:
	db_finalize(st);
	free(sql);
	return rc;
}

/* --- The copy --- */

struct mig_copy {
	const struct store_table *t;
	struct db	*to;
	struct db_stmt	*st;		/* the INSERT or UPDATE */
	size_t		 ncols;
};

/* Binds the value of column c of row to parameter c + 1 of to, as the
 * kind it has. */
static int
mig_bind(struct db_stmt *to, struct db_stmt *row, int c)
{
	const void *p;
	size_t n;

	switch (db_column_type(row, c)) {
	case DB_TYPE_INTEGER:
		return db_bind_int64(to, c + 1, db_column_int64(row, c));
	case DB_TYPE_TEXT:
		return db_bind_text(to, c + 1, db_column_text(row, c));
	case DB_TYPE_BLOB:
		/* An empty blob is a blob, not NULL: SQLite binds a NULL
		 * pointer as NULL. */
		p = db_column_blob(row, c, &n);
		return db_bind_blob(to, c + 1, p != NULL ? p : "", n);
	case DB_TYPE_NULL:
		break;
	}
	return db_bind_null(to, c + 1);
}

static int
mig_copy_row(struct db_stmt *row, void *arg, struct err *e)
{
	struct mig_copy *m = arg;
	int b = DB_OK;

	for (size_t c = 0; c < m->ncols; c++)
		b |= mig_bind(m->st, row, (int)c);
	if (b != DB_OK || db_step(m->st) != DB_DONE) {
		err_set(e, "%s: %s", m->t->name, db_errmsg(m->to));
		db_reset(m->st);
		return -1;
	}
	if (m->t->kind == STORE_TABLE_ONE && db_changes(m->to) != 1) {
		db_reset(m->st);
		return err_set(e, "%s: the destination has no row %" PRId64,
		    m->t->name, db_column_int64(row, 0));
	}
	db_clear(m->st);
	return 0;
}

/* Copies table t from one database into the other (in its
 * transaction); *rows the rows copied. */
static int
mig_copy_table(struct db *from, struct db *to, const struct store_table *t,
    int64_t *rows, struct err *e)
{
	struct mig_copy m = { .t = t, .to = to, .ncols = store_table_ncols(t) };
	char *sql;
	int rc = -1;

	sql = store_table_sql(t, t->kind == STORE_TABLE_ONE ?
	    STORE_SQL_UPDATE : STORE_SQL_INSERT);
	if (sql == NULL) {
		err_set(e, "%s: out of memory", t->name);
		goto out;
	}
	if (db_prepare(to, sql, &m.st) != DB_OK) {
		err_set(e, "%s: %s", t->name, db_errmsg(to));
		goto out;
	}
	if (mig_scan(from, t, mig_copy_row, &m, rows, e) == -1)
		goto out;
	if (t->kind == STORE_TABLE_IDS && db_ids_follow(to, t->name) !=
	    DB_OK) {
		err_set(e, "%s: ids: %s", t->name, db_errmsg(to));
		goto out;
	}
	rc = 0;
out:
	db_finalize(m.st);
	free(sql);
	return rc;
}

/* --- The check --- */

struct mig_sum {
	size_t		 ncols;
	unsigned char	(*rows)[32];
	size_t		 n, cap;
	EVP_MD_CTX	*h;
};

/* Hashes a kind byte, then 8 bytes big-endian: v. */
static void
mig_sum_head(EVP_MD_CTX *h, enum db_type kind, uint64_t v)
{
	unsigned char b[9];

	b[0] = (unsigned char)kind;
	for (int i = 8; i >= 1; i--, v >>= 8)
		b[i] = (unsigned char)(v & 0xff);
	EVP_DigestUpdate(h, b, sizeof(b));
}

static int
mig_sum_row(struct db_stmt *row, void *arg, struct err *e)
{
	struct mig_sum *s = arg;
	unsigned char (*grown)[32];
	unsigned int len = 0;
	const void *p;
	size_t n;

	if (s->n == s->cap) {
		s->cap = s->cap > 0 ? 2 * s->cap : 1024;
		if ((grown = realloc(s->rows, s->cap * 32)) == NULL)
			return err_set(e, "out of memory");
		s->rows = grown;
	}
	if (EVP_DigestInit_ex(s->h, EVP_sha256(), NULL) != 1)
		return err_set(e, "SHA-256 failed");
	for (size_t c = 0; c < s->ncols; c++) {
		enum db_type kind = db_column_type(row, (int)c);

		switch (kind) {
		case DB_TYPE_NULL:
			mig_sum_head(s->h, kind, 0);
			break;
		case DB_TYPE_INTEGER:
			mig_sum_head(s->h, kind,
			    (uint64_t)db_column_int64(row, (int)c));
			break;
		case DB_TYPE_TEXT:
			p = db_column_text(row, (int)c);
			n = strlen(p);
			mig_sum_head(s->h, kind, n);
			EVP_DigestUpdate(s->h, p, n);
			break;
		case DB_TYPE_BLOB:
			p = db_column_blob(row, (int)c, &n);
			mig_sum_head(s->h, kind, n);
			if (n > 0)
				EVP_DigestUpdate(s->h, p, n);
			break;
		}
	}
	if (EVP_DigestFinal_ex(s->h, s->rows[s->n], &len) != 1 || len != 32)
		return err_set(e, "SHA-256 failed");
	s->n++;
	return 0;
}

/* Counts and hashes table t of db. */
static int
mig_sum_table(struct db *db, const struct store_table *t, int64_t *rows,
    unsigned char sum[32], struct err *e)
{
	struct mig_sum s = { .ncols = store_table_ncols(t) };
	int rc = -1;

	if ((s.h = EVP_MD_CTX_new()) == NULL) {
		err_set(e, "out of memory");
		goto out;
	}
	if (mig_scan(db, t, mig_sum_row, &s, rows, e) == -1)
		goto out;
	if (store_sum_fold(s.rows, s.n, sum) == -1) {
		err_set(e, "%s: SHA-256 failed", t->name);
		goto out;
	}
	rc = 0;
out:
	EVP_MD_CTX_free(s.h);
	free(s.rows);
	return rc;
}

/* --- The whole --- */

/* Sets *yes when db holds a tenant, domain, report or account. */
static int
mig_has_rows(struct db *db, bool *yes, struct err *e)
{
	struct db_stmt *st = NULL;
	int r;

	if (db_prepare(db, mig_has_data, &st) != DB_OK)
		return err_set(e, "%s", db_errmsg(db));
	r = db_step(st);
	*yes = r == DB_ROW;
	if (r != DB_ROW && r != DB_DONE)
		err_set(e, "%s", db_errmsg(db));
	db_finalize(st);
	return r == DB_ROW || r == DB_DONE ? 0 : -1;
}

int
store_migrate(const char *from, const char *to, store_migrate_cb *cb,
    void *arg, struct err *e)
{
	struct db *src = NULL, *dst = NULL;
	struct store_migrate_step step;
	bool data, src_tx = false, dst_tx = false, differ = false;
	int rc = -1;

	if (strcmp(from, to) == 0) {
		err_set(e, "--from and --to name the same store");
		goto out;
	}
	if (db_open(from, &src, e) == -1) {
		err_prefix(e, "source: ");
		goto out;
	}
	if (db_open(to, &dst, e) == -1) {
		err_prefix(e, "destination: ");
		goto out;
	}
	/* The destination first: the same database named twice is then
	 * refused by one test or the other, before the second lock would
	 * wait for the first. */
	if (db_begin(dst) != DB_OK) {
		err_set(e, "destination: %s", db_errmsg(dst));
		goto out;
	}
	dst_tx = true;
	if (mig_has_rows(dst, &data, e) == -1) {
		err_prefix(e, "destination: ");
		goto out;
	}
	if (data) {
		err_set(e, "the destination already holds data (tenants, "
		    "domains, reports or accounts): store migrate copies into "
		    "an empty store only, it never merges");
		goto out;
	}
	if (mig_has_rows(src, &data, e) == -1) {
		err_prefix(e, "source: ");
		goto out;
	}
	if (!data) {
		err_set(e, "the source holds no data (no tenant, domain, "
		    "report or account): nothing to migrate");
		goto out;
	}
	if (db_begin(src) != DB_OK) {
		err_set(e, "source: %s", db_errmsg(src));
		goto out;
	}
	src_tx = true;
	for (size_t i = 0; i < store_ntables; i++) {
		memset(&step, 0, sizeof(step));
		step.table = store_tables[i].name;
		if (mig_copy_table(src, dst, &store_tables[i], &step.rows,
		    e) == -1) {
			err_prefix(e, "copy: ");
			goto out;
		}
		if (cb != NULL)
			cb(&step, arg);
	}
	if (db_commit(dst) != DB_OK) {
		err_set(e, "destination: commit: %s", db_errmsg(dst));
		goto out;
	}
	dst_tx = false;
	for (size_t i = 0; i < store_ntables; i++) {
		memset(&step, 0, sizeof(step));
		step.table = store_tables[i].name;
		step.verified = true;
		if (mig_sum_table(src, &store_tables[i], &step.rows, step.sum,
		    e) == -1) {
			err_prefix(e, "check: source: ");
			goto out;
		}
		if (mig_sum_table(dst, &store_tables[i], &step.rows_to,
		    step.sum_to, e) == -1) {
			err_prefix(e, "check: destination: ");
			goto out;
		}
		if (cb != NULL)
			cb(&step, arg);
		if (step.rows != step.rows_to ||
		    memcmp(step.sum, step.sum_to, 32) != 0) {
			if (!differ)
				err_set(e, "check: table %s differs: %" PRId64
				    " rows in the source, %" PRId64 " in the "
				    "destination%s", step.table, step.rows,
				    step.rows_to, step.rows == step.rows_to ?
				    ", not the same values" : "");
			differ = true;
		}
	}
	rc = differ ? -1 : 0;
out:
	if (dst_tx)
		db_rollback(dst);
	if (src_tx)
		db_rollback(src);
	db_close(dst);
	db_close(src);
	return rc;
}
