/*
 * store_db.h - the SQL engine under the store: one small interface,
 * shaped like SQLite's own (prepare, bind, step, column, reset), with
 * two drivers: store_db_sqlite.c (the embedded default) and
 * store_db_pg.c (PostgreSQL through libpq). store_sql.c writes every
 * store operation once against it, so both backends give the same
 * answers by construction. (Postfix's dict_* and OpenSMTPD's table
 * backends are the model: one contract, thin drivers.)
 *
 * SQL handed to db_prepare is the dialect both engines speak: numbered
 * parameters ?1..?N, ON CONFLICT, RETURNING, CTEs. Each driver builds
 * and migrates its own schema at db_open, to the same tables and
 * columns; the PostgreSQL schema also defines instr() and
 * group_concat(), which SQLite has built in.
 *
 * Bound text and blobs are not copied: they must stay valid until the
 * statement is reset. Column values are valid until the next step or
 * reset. A connection belongs to one thread at a time.
 */
#ifndef STSGUARD_STORE_DB_H
#define STSGUARD_STORE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/err.h"

/* Results, the values SQLite uses, so that (a | b) != DB_OK tests a
 * series of binds at once. */
#define DB_OK	0
#define DB_ERROR 1
#define DB_ROW	100
#define DB_DONE	101

/* The kind of a column's value in the current row (db_column_type):
 * what a generic copy (store_migrate.c) binds it as. */
enum db_type {
	DB_TYPE_NULL,
	DB_TYPE_INTEGER,	/* db_column_int64 */
	DB_TYPE_TEXT,		/* db_column_text */
	DB_TYPE_BLOB,		/* db_column_blob */
};

struct db;
struct db_stmt;

/* The operations of a driver. */
struct db_ops {
	const char *name;	/* "sqlite", "postgresql" */
	void	(*close)(struct db *);
	const char *(*errmsg)(struct db *);
	int	(*prepare)(struct db *, const char *, struct db_stmt **);
	void	(*finalize)(struct db_stmt *);
	int	(*bind_int64)(struct db_stmt *, int, int64_t);
	int	(*bind_text)(struct db_stmt *, int, const char *);
	int	(*bind_blob)(struct db_stmt *, int, const void *, size_t);
	int	(*bind_null)(struct db_stmt *, int);
	int	(*step)(struct db_stmt *);
	int	(*step_later)(struct db_stmt *);
	void	(*reset)(struct db_stmt *, bool);
	enum db_type (*column_type)(struct db_stmt *, int);
	int64_t	(*column_int64)(struct db_stmt *, int);
	const char *(*column_text)(struct db_stmt *, int);
	const void *(*column_blob)(struct db_stmt *, int, size_t *);
	int64_t	(*changes)(struct db *);
	int	(*begin)(struct db *);
	int	(*commit)(struct db *);
	void	(*rollback)(struct db *);
	int	(*data_version)(struct db *, int64_t *);
	int	(*exec)(struct db *, const char *);
	int	(*notify)(struct db *);
	int	(*wait)(struct db *, int);
	/* NULL when the engine needs nothing (SQLite). */
	int	(*ids_follow)(struct db *, const char *);
};

/* What every connection starts with. */
struct db {
	const struct db_ops *ops;
};
struct db_stmt {
	struct db *db;
};

/* Opens the database of url, "sqlite:PATH" or "postgresql://..." (also
 * "postgres://..."), and brings its schema to the current version.
 * Returns 0, or -1 with the reason. */
int	db_open(const char *url, struct db **db, struct err *e);
int	db_sqlite_open(const char *path, struct db **db, struct err *e);
int	db_pg_open(const char *conninfo, struct db **db, struct err *e);

/* The schema version a driver migrates to: the same numbered steps. */
#define DB_SCHEMA_VERSION 11

static inline void db_close(struct db *db)
{ if (db != NULL) db->ops->close(db); }
static inline const char *db_errmsg(struct db *db)
{ return db->ops->errmsg(db); }
/* Prepares sql; *st NULL on failure (db_errmsg says why). */
static inline int db_prepare(struct db *db, const char *sql,
    struct db_stmt **st)
{ return db->ops->prepare(db, sql, st); }
static inline void db_finalize(struct db_stmt *st)
{ if (st != NULL) st->db->ops->finalize(st); }
static inline int db_bind_int64(struct db_stmt *st, int i, int64_t v)
{ return st->db->ops->bind_int64(st, i, v); }
/* Binds NUL-terminated s, or NULL when s is NULL. */
static inline int db_bind_text(struct db_stmt *st, int i, const char *s)
{ return st->db->ops->bind_text(st, i, s); }
static inline int db_bind_blob(struct db_stmt *st, int i, const void *p,
    size_t n)
{ return st->db->ops->bind_blob(st, i, p, n); }
static inline int db_bind_null(struct db_stmt *st, int i)
{ return st->db->ops->bind_null(st, i); }
/* DB_ROW, DB_DONE, or another value on error (db_errmsg). */
static inline int db_step(struct db_stmt *st)
{ return st->db->ops->step(st); }
/* Runs a statement that returns no rows whose result the caller does
 * not look at (no db_changes): in a transaction the engine may report
 * its failure only at a later statement or at db_commit (PostgreSQL
 * sends it without waiting); DB_DONE, or another value on error. */
static inline int db_step_later(struct db_stmt *st)
{ return st->db->ops->step_later(st); }
/* Ready to run again, with the same bindings; db_clear also clears
 * them (to NULL). */
static inline void db_reset(struct db_stmt *st)
{ st->db->ops->reset(st, false); }
static inline void db_clear(struct db_stmt *st)
{ st->db->ops->reset(st, true); }
/* The kind of the value: DB_TYPE_NULL for NULL, else the column's
 * type (SQLite: the value's storage class; a REAL, which the schema
 * never holds, reads as text). */
static inline enum db_type db_column_type(struct db_stmt *st, int i)
{ return st->db->ops->column_type(st, i); }
/* 0 for NULL; booleans are 0 and 1. */
static inline int64_t db_column_int64(struct db_stmt *st, int i)
{ return st->db->ops->column_int64(st, i); }
static inline int db_column_int(struct db_stmt *st, int i)
{ return (int)st->db->ops->column_int64(st, i); }
/* NULL for NULL. */
static inline const char *db_column_text(struct db_stmt *st, int i)
{ return st->db->ops->column_text(st, i); }
/* NULL (and *n 0) for NULL or an empty blob. */
static inline const void *db_column_blob(struct db_stmt *st, int i,
    size_t *n)
{ return st->db->ops->column_blob(st, i, n); }
/* Rows the last INSERT, UPDATE or DELETE changed. */
static inline int64_t db_changes(struct db *db)
{ return db->ops->changes(db); }
/* A write transaction: writers take turns, across processes and (on
 * PostgreSQL) across nodes, as SQLite's BEGIN IMMEDIATE makes them. */
static inline int db_begin(struct db *db)
{ return db->ops->begin(db); }
static inline int db_commit(struct db *db)
{ return db->ops->commit(db); }
/* Rolls back the open transaction, if any. */
static inline void db_rollback(struct db *db)
{ db->ops->rollback(db); }
/* A number that changes when another connection has committed (SQLite's
 * PRAGMA data_version); PostgreSQL has none, and gives a new number at
 * every call, so that callers always read again. */
static inline int db_data_version(struct db *db, int64_t *v)
{ return db->ops->data_version(db, v); }
/* Runs SQL without parameters or rows (several statements may be
 * separated by ';'). */
static inline int db_exec(struct db *db, const char *sql)
{ return db->ops->exec(db, sql); }
/* In a transaction: tells the connections waiting in db_wait, when it
 * commits, that domains changed. SQLite: nothing (no way to). */
static inline int db_notify(struct db *db)
{ return db->ops->notify(db); }
/* Waits up to ms milliseconds for a db_notify of another connection:
 * 1 one came, 0 none, -1 the engine cannot (SQLite) or an error. */
static inline int db_wait(struct db *db, int ms)
{ return db->ops->wait(db, ms); }
/* After rows were inserted into table with their ids given (a copy,
 * store_migrate.c), makes the ids the engine generates next follow the
 * highest one: PostgreSQL's identity sequences do not move by
 * themselves; SQLite takes max(id) + 1 anyway. table is a name of the
 * schema with an "id" column, never data. DB_OK, or another value on
 * error (db_errmsg). */
static inline int db_ids_follow(struct db *db, const char *table)
{ return db->ops->ids_follow != NULL ? db->ops->ids_follow(db, table) :
    DB_OK; }

#endif
