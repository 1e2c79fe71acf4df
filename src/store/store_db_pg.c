/*
 * store_db_pg.c - the PostgreSQL driver of store_db.h (libpq), and the
 * PostgreSQL schema.
 *
 * A statement is the shared SQL with ?N turned into $N, prepared on the
 * connection at its first run and run by PQexecPrepared at its first
 * step with the values bound so far, each typed by how it was bound
 * (bigint, text, bytea; a NULL of db_bind_null lets the server infer);
 * rows come back as text and are read in place. Booleans read
 * as 0 and 1, bytea is decoded (PQunescapeBytea) once per row and
 * column.
 *
 * Writers take turns as on SQLite: db_begin takes a transaction-level
 * advisory lock, so that the store's read-then-write steps (is this
 * report a duplicate? whose token is this?) hold across every node
 * sharing the database. Commits are durable (synchronous_commit is the
 * server's, on by default). A connection that broke is re-established
 * at the next statement outside a transaction (and a read or a BEGIN
 * that found it broken runs again at once), so that a node catches up
 * by itself when the database returns.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store_db.h"

#define PG_MAXPARAM 48		/* 8 roll-up rows of 6 (store_sql.c) */
#define PG_PIPE_MAX 64		/* results unread before a flush */
#define PG_INT8OID 20
#define PG_TEXTOID 25
#define PG_BYTEAOID 17
#define PG_BOOLOID 16
#define PG_INT2OID 21
#define PG_INT4OID 23
/* The advisory lock keys: writers (every transaction), migrations. */
#define PG_LOCK_WRITE 8461
#define PG_LOCK_MIGRATE 8460

struct pdb {
	struct db	 base;		/* first: the driver casts back */
	PGconn		*conn;
	int64_t		 changes;
	bool		 in_tx;		/* between db_begin and its end */
	bool		 listening;	/* LISTEN sent on this connection */
	unsigned	 conn_gen;	/* bumped at each reconnect */
	/* In a transaction the connection is in pipeline mode: statements
	 * go out without waiting, and their results are read when one is
	 * needed (pipe_wait). */
	bool		 piped;
	int		 pending;	/* results sent for and not read */
	bool		 pipe_failed;	/* one of them failed (msg says) */
	unsigned	 names;		/* prepared statements named so far */
	int64_t		 version;	/* data_version: counts calls */
	char		 msg[ERR_MSG_LEN];
};

struct pst {
	struct db_stmt	 base;
	char		*sql;		/* with $N */
	int		 nparams;
	Oid		 types[PG_MAXPARAM];
	const char	*values[PG_MAXPARAM];
	int		 lengths[PG_MAXPARAM];
	int		 formats[PG_MAXPARAM];
	char		 ints[PG_MAXPARAM][24];
	PGresult	*res;
	char		 name[16];	/* prepared as, on connection */
	unsigned	 prep_gen;	/* conn_gen then; 0: not prepared */
	Oid		 prep_types[PG_MAXPARAM];	/* with these types */
	int		 row;		/* -1: not run yet */
	int		 ncols;
	unsigned char	**blob;		/* ncols decoded bytea (libpq's
					 * memory), or NULL */
	size_t		*bloblen;
};

#define PDB(d) ((struct pdb *)(d))
#define PST(s) ((struct pst *)(s))

/* Keeps libpq's message (its last line break dropped) for errmsg. */
static int
pdb_fail(struct pdb *p, const char *msg)
{
	size_t n;

	snprintf(p->msg, sizeof(p->msg), "%s", msg != NULL && *msg ? msg :
	    "PostgreSQL error");
	n = strlen(p->msg);
	while (n > 0 && (p->msg[n - 1] == '\n' || p->msg[n - 1] == ' '))
		p->msg[--n] = '\0';
	return DB_ERROR;
}

/* Reconnects a broken connection, outside a transaction only: in one,
 * what it did is lost, and the statements after it must fail until the
 * caller rolls back (never run on their own on a new connection). */
static int
pdb_ready(struct pdb *p)
{
	if (PQstatus(p->conn) == CONNECTION_OK)
		return DB_OK;
	if (p->in_tx)
		return pdb_fail(p, "the connection broke in a transaction");
	PQreset(p->conn);
	if (PQstatus(p->conn) != CONNECTION_OK)
		return pdb_fail(p, PQerrorMessage(p->conn));
	p->conn_gen++;		/* its prepared statements are gone */
	return DB_OK;
}

/* --- The pipeline (libpq's pipeline mode, in transactions only) ---
 *
 * Each round trip costs a wake-up on both sides, which on this kind of
 * machine is most of a statement's cost. So in a transaction every
 * statement is sent at once (pst_send), and the results of those that
 * return nothing the store reads (db_step_later) are read only when a
 * statement whose rows are needed runs, or at commit: one round trip
 * carries them all. The first failure is kept; the server skips the
 * rest of the pipeline (PGRES_PIPELINE_ABORTED) and the transaction
 * fails, as it would have a statement earlier. */

/* Reads the results of n statements sent before, in order; the first
 * failure goes to p->msg. */
static void
pipe_collect(struct pdb *p, int n)
{
	PGresult *r;
	ExecStatusType st;

	for (; n > 0; n--)
		while ((r = PQgetResult(p->conn)) != NULL) {
			st = PQresultStatus(r);
			if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK &&
			    !p->pipe_failed) {
				p->pipe_failed = true;
				pdb_fail(p, st == PGRES_PIPELINE_ABORTED ?
				    "an earlier statement failed" :
				    PQresultErrorMessage(r));
			}
			PQclear(r);
		}
}

/* Asks the server for what it has (a flush message) and sends it. */
static void
pipe_flush(struct pdb *p)
{
	PQsendFlushRequest(p->conn);
	while (PQflush(p->conn) == 1)
		;
}

/* Ends the pipeline: a sync, every result read, normal mode again (the
 * transaction stays open, or failed). */
static void
pipe_leave(struct pdb *p)
{
	PGresult *r;

	if (!p->piped)
		return;
	if (PQpipelineSync(p->conn) == 1) {
		pipe_collect(p, p->pending);
		while ((r = PQgetResult(p->conn)) != NULL) {
			ExecStatusType st = PQresultStatus(r);

			PQclear(r);
			if (st == PGRES_PIPELINE_SYNC)
				break;
		}
	} else if (!p->pipe_failed) {
		p->pipe_failed = true;
		pdb_fail(p, PQerrorMessage(p->conn));
	}
	p->pending = 0;
	PQexitPipelineMode(p->conn);
	p->piped = false;
	/* After a failure the server skipped what followed, a statement's
	 * preparation too: prepare every statement again (new names). */
	if (p->pipe_failed)
		p->conn_gen++;
}

/* True when a statement that failed may simply run again on a new
 * connection: the server went away (a restart: libpq learns it only
 * from the next command), no transaction was open, and the statement
 * changes nothing (a read) or is a BEGIN. */
static bool
pdb_retry(struct pdb *p, bool idle, const char *sql)
{
	if (!idle || PQstatus(p->conn) != CONNECTION_BAD)
		return false;
	if (strncmp(sql, "SELECT", 6) != 0 && strncmp(sql, "WITH", 4) != 0 &&
	    strncmp(sql, "BEGIN", 5) != 0)
		return false;
	return pdb_ready(p) == DB_OK;
}

/* Runs sql without parameters (several statements may be joined by
 * ';'). */
static int
pdb_run(struct pdb *p, const char *sql)
{
	PGresult *r;
	ExecStatusType st;
	bool idle;
	int rc = DB_OK;

	if (pdb_ready(p) != DB_OK)
		return DB_ERROR;
	if (p->piped) {
		pipe_leave(p);
		if (p->pipe_failed)
			return DB_ERROR;
	}
	idle = PQtransactionStatus(p->conn) == PQTRANS_IDLE;
	r = PQexec(p->conn, sql);
	st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK &&
	    pdb_retry(p, idle, sql)) {
		PQclear(r);
		r = PQexec(p->conn, sql);
		st = PQresultStatus(r);
	}
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		rc = pdb_fail(p, PQresultErrorMessage(r));
	PQclear(r);
	if (p->in_tx && rc == DB_OK && PQenterPipelineMode(p->conn) == 1)
		p->piped = true;
	return rc;
}

static void
pdb_close(struct db *db)
{
	PQfinish(PDB(db)->conn);
	free(db);
}

static const char *
pdb_errmsg(struct db *db)
{
	return PDB(db)->msg;
}

/* The SQL with ?N as $N, outside string literals; *n the highest N.
 * "LIMIT ?N" becomes "LIMIT (CASE WHEN $N >= 0 THEN $N END)": SQLite
 * takes a negative limit as none, PostgreSQL wants NULL for that. */
static char *
pg_translate(const char *sql, int *n)
{
	static const char limit[] = "LIMIT ?";
	size_t len = strlen(sql);
	char *out, *o;
	bool quoted = false;
	long v;
	int k;

	*n = 0;
	/* Each "LIMIT ?N" (at least 8 bytes) grows by under 40. */
	if ((out = malloc(len * 6 + 1)) == NULL)
		return NULL;
	for (o = out; *sql != '\0'; sql++) {
		if (*sql == '\'')
			quoted = !quoted;
		if (!quoted && strncmp(sql, limit, sizeof(limit) - 1) == 0 &&
		    sql[7] >= '1' && sql[7] <= '9') {
			v = strtol(sql + 7, NULL, 10);
			o += snprintf(o, len * 6 + 1 - (size_t)(o - out),
			    "LIMIT (CASE WHEN $%ld >= 0 THEN $%ld END)", v, v);
			for (k = 7; sql[k] >= '0' && sql[k] <= '9'; k++)
				;
			sql += k - 1;
			if (v > *n)
				*n = (int)v;
			continue;
		}
		if (quoted || *sql != '?' || sql[1] < '1' || sql[1] > '9') {
			*o++ = *sql;
			continue;
		}
		*o++ = '$';
		v = strtol(sql + 1, NULL, 10);
		if (v > *n)
			*n = (int)v;
	}
	*o = '\0';
	return out;
}

static void
pst_forget(struct pst *s)
{
	for (int i = 0; s->blob != NULL && i < s->ncols; i++) {
		PQfreemem(s->blob[i]);
		s->blob[i] = NULL;
	}
}

static void
pdb_finalize(struct db_stmt *st)
{
	struct pst *s = PST(st);

	pst_forget(s);
	free(s->blob);
	free(s->bloblen);
	PQclear(s->res);
	free(s->sql);
	free(s);
}

static int
pdb_prepare(struct db *db, const char *sql, struct db_stmt **out)
{
	struct pst *s;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return pdb_fail(PDB(db), "out of memory");
	s->base.db = db;
	s->row = -1;
	for (int i = 0; i < PG_MAXPARAM; i++)
		s->types[i] = PG_TEXTOID;
	if ((s->sql = pg_translate(sql, &s->nparams)) == NULL) {
		free(s);
		return pdb_fail(PDB(db), "out of memory");
	}
	if (s->nparams > PG_MAXPARAM) {
		pdb_finalize(&s->base);
		return pdb_fail(PDB(db), "too many parameters");
	}
	*out = &s->base;
	return DB_OK;
}

static int
pst_slot(struct pst *s, int i)
{
	if (i < 1 || i > s->nparams)
		return pdb_fail(PDB(s->base.db), "parameter out of range");
	return DB_OK;
}

static int
pdb_bind_int64(struct db_stmt *st, int i, int64_t v)
{
	struct pst *s = PST(st);

	if (pst_slot(s, i) != DB_OK)
		return DB_ERROR;
	snprintf(s->ints[i - 1], sizeof(s->ints[i - 1]), "%" PRId64, v);
	s->values[i - 1] = s->ints[i - 1];
	s->types[i - 1] = PG_INT8OID;
	s->formats[i - 1] = 0;
	return DB_OK;
}

static int
pdb_bind_null(struct db_stmt *st, int i)
{
	struct pst *s = PST(st);

	if (pst_slot(s, i) != DB_OK)
		return DB_ERROR;
	s->values[i - 1] = NULL;
	s->types[i - 1] = 0;
	s->formats[i - 1] = 0;
	return DB_OK;
}

/* A NULL text is typed text: the server could not tell the type of
 * "?1 IS NULL OR name = ?1" from its first use. */
static int
pdb_bind_text(struct db_stmt *st, int i, const char *v)
{
	struct pst *s = PST(st);

	if (pst_slot(s, i) != DB_OK)
		return DB_ERROR;
	s->values[i - 1] = v;
	s->types[i - 1] = PG_TEXTOID;
	s->formats[i - 1] = 0;
	return DB_OK;
}

static int
pdb_bind_blob(struct db_stmt *st, int i, const void *v, size_t n)
{
	struct pst *s = PST(st);

	if (pst_slot(s, i) != DB_OK)
		return DB_ERROR;
	if (n > INT32_MAX)
		return pdb_fail(PDB(st->db), "blob too large");
	s->values[i - 1] = v != NULL ? v : "";
	s->lengths[i - 1] = (int)n;
	s->types[i - 1] = PG_BYTEAOID;
	s->formats[i - 1] = 1;
	return DB_OK;
}

static void
pdb_reset(struct db_stmt *st, bool clear)
{
	struct pst *s = PST(st);

	pst_forget(s);
	PQclear(s->res);
	s->res = NULL;
	s->row = -1;
	if (clear)
		for (int i = 0; i < s->nparams; i++) {
			s->values[i] = NULL;
			s->types[i] = PG_TEXTOID;
			s->formats[i] = 0;
		}
}

/* Prepares the statement on this connection for the types bound now,
 * once: the server parses and plans it once, not at every run. A
 * statement bound with other types (a NULL where a number was) is
 * prepared again under a new name. */
static int
pst_prepare(struct pst *s)
{
	struct pdb *p = PDB(s->base.db);
	size_t tn = (size_t)s->nparams * sizeof(Oid);
	PGresult *r;
	int rc = DB_OK;

	if (s->prep_gen == p->conn_gen + 1 &&
	    memcmp(s->prep_types, s->types, tn) == 0)
		return DB_OK;
	snprintf(s->name, sizeof(s->name), "s%u", ++p->names);
	if (p->piped) {
		if (PQsendPrepare(p->conn, s->name, s->sql, s->nparams,
		    s->types) != 1)
			return pdb_fail(p, PQerrorMessage(p->conn));
		p->pending++;
		memcpy(s->prep_types, s->types, tn);
		s->prep_gen = p->conn_gen + 1;
		return DB_OK;
	}
	r = PQprepare(p->conn, s->name, s->sql, s->nparams, s->types);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		rc = pdb_fail(p, PQresultErrorMessage(r));
	else {
		memcpy(s->prep_types, s->types, tn);
		s->prep_gen = p->conn_gen + 1;
	}
	PQclear(r);
	return rc;
}

/* In the pipeline: sends the statement (prepared first when needed)
 * with its values, which libpq copies. */
static int
pst_send(struct pst *s)
{
	struct pdb *p = PDB(s->base.db);

	if (pst_prepare(s) != DB_OK)
		return DB_ERROR;
	if (PQsendQueryPrepared(p->conn, s->name, s->nparams, s->values,
	    s->lengths, s->formats, 0) != 1)
		return pdb_fail(p, PQerrorMessage(p->conn));
	return DB_OK;
}

/* Runs the prepared statement with its values; the result in s->res.
 * In the pipeline: sent after the others, whose results are read first
 * (one round trip for all). */
static ExecStatusType
pst_exec(struct pst *s)
{
	struct pdb *p = PDB(s->base.db);
	PGresult *r;

	if (p->piped) {
		if (p->pipe_failed || pst_send(s) != DB_OK)
			return PGRES_FATAL_ERROR;
		pipe_flush(p);
		pipe_collect(p, p->pending);
		p->pending = 0;
		s->res = PQgetResult(p->conn);
		while ((r = PQgetResult(p->conn)) != NULL)
			PQclear(r);
		if (p->pipe_failed) {
			PQclear(s->res);
			s->res = NULL;
			return PGRES_FATAL_ERROR;
		}
		return PQresultStatus(s->res);
	}
	if (pst_prepare(s) != DB_OK)
		return PGRES_FATAL_ERROR;
	s->res = PQexecPrepared(p->conn, s->name, s->nparams, s->values,
	    s->lengths, s->formats, 0);
	return PQresultStatus(s->res);
}

/* Runs the statement with its values; 0, or DB_ERROR. */
static int
pst_run(struct pst *s)
{
	struct pdb *p = PDB(s->base.db);
	ExecStatusType st;
	bool idle;

	if (pdb_ready(p) != DB_OK)
		return DB_ERROR;
	idle = PQtransactionStatus(p->conn) == PQTRANS_IDLE;
	st = pst_exec(s);
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK &&
	    pdb_retry(p, idle, s->sql)) {
		PQclear(s->res);
		s->res = NULL;
		st = pst_exec(s);
	}
	if (st == PGRES_FATAL_ERROR && s->res == NULL)
		return DB_ERROR;	/* pst_prepare said why */
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
		return pdb_fail(p, s->res != NULL ?
		    PQresultErrorMessage(s->res) : PQerrorMessage(p->conn));
	p->changes = strtoll(PQcmdTuples(s->res), NULL, 10);
	if ((s->ncols = PQnfields(s->res)) > 0 && s->blob == NULL) {
		s->blob = calloc((size_t)s->ncols, sizeof(*s->blob));
		s->bloblen = calloc((size_t)s->ncols, sizeof(*s->bloblen));
		if (s->blob == NULL || s->bloblen == NULL)
			return pdb_fail(p, "out of memory");
	}
	return DB_OK;
}

static int
pdb_step(struct db_stmt *st)
{
	struct pst *s = PST(st);

	if (s->row == -1 && s->res == NULL && pst_run(s) != DB_OK) {
		PQclear(s->res);
		s->res = NULL;
		return DB_ERROR;
	}
	pst_forget(s);
	if (s->row + 1 < PQntuples(s->res)) {
		s->row++;
		return DB_ROW;
	}
	s->row = PQntuples(s->res);
	return DB_DONE;
}

/* A statement whose result is not read: in a transaction only sent (a
 * failure shows at the next statement that waits, or at commit). The
 * pipeline is flushed now and then, so that results never pile up
 * past what the socket buffers hold. */
static int
pdb_step_later(struct db_stmt *st)
{
	struct pst *s = PST(st);
	struct pdb *p = PDB(st->db);

	if (!p->piped)
		return pdb_step(st);
	if (p->pipe_failed || pst_send(s) != DB_OK)
		return DB_ERROR;
	p->changes = 0;
	if (++p->pending >= PG_PIPE_MAX) {
		pipe_flush(p);
		pipe_collect(p, p->pending);
		p->pending = 0;
		if (p->pipe_failed)
			return DB_ERROR;
	}
	return DB_DONE;
}

static bool
pdb_column_null(struct db_stmt *st, int i)
{
	struct pst *s = PST(st);

	return s->res == NULL || i >= s->ncols ||
	    PQgetisnull(s->res, s->row, i);
}

static enum db_type
pdb_column_type(struct db_stmt *st, int i)
{
	struct pst *s = PST(st);

	if (pdb_column_null(st, i))
		return DB_TYPE_NULL;
	switch (PQftype(s->res, i)) {
	case PG_INT8OID:
	case PG_INT4OID:
	case PG_INT2OID:
	case PG_BOOLOID:
		return DB_TYPE_INTEGER;
	case PG_BYTEAOID:
		return DB_TYPE_BLOB;
	default:
		return DB_TYPE_TEXT;
	}
}

static const char *
pdb_column_text(struct db_stmt *st, int i)
{
	struct pst *s = PST(st);

	if (pdb_column_null(st, i))
		return NULL;
	return PQgetvalue(s->res, s->row, i);
}

static int64_t
pdb_column_int64(struct db_stmt *st, int i)
{
	const char *v = pdb_column_text(st, i);

	if (v == NULL)
		return 0;
	if (v[0] == 't' && v[1] == '\0')
		return 1;
	return strtoll(v, NULL, 10);	/* "f" reads as 0 */
}

/* bytea arrives as text (the hex format): libpq decodes it, once per
 * row and column. An empty one reads as NULL, as in SQLite. */
static const void *
pdb_column_blob(struct db_stmt *st, int i, size_t *n)
{
	struct pst *s = PST(st);
	const char *v = pdb_column_text(st, i);
	size_t len = 0;

	*n = 0;
	if (v == NULL)
		return NULL;
	if (PQftype(s->res, i) != PG_BYTEAOID) {
		*n = strlen(v);
		return *n > 0 ? v : NULL;
	}
	if (s->blob[i] == NULL) {
		s->blob[i] = PQunescapeBytea((const unsigned char *)v, &len);
		s->bloblen[i] = len;
	}
	if (s->blob[i] == NULL || s->bloblen[i] == 0)
		return NULL;
	*n = s->bloblen[i];
	return s->blob[i];
}

static int64_t
pdb_changes(struct db *db)
{
	return PDB(db)->changes;
}

static int
pdb_exec(struct db *db, const char *sql)
{
	return pdb_run(PDB(db), sql);
}

static int
pdb_begin(struct db *db)
{
	char sql[80];
	int rc;

	snprintf(sql, sizeof(sql), "BEGIN; SELECT pg_advisory_xact_lock(%d)",
	    PG_LOCK_WRITE);
	if ((rc = pdb_run(PDB(db), sql)) == DB_OK) {
		PDB(db)->in_tx = true;
		PDB(db)->pipe_failed = false;
		if (PQenterPipelineMode(PDB(db)->conn) == 1)
			PDB(db)->piped = true;
	}
	return rc;
}

/* COMMIT of a failed transaction rolls back and says so in its status
 * only: that must not count as stored. */
static int
pdb_commit(struct db *db)
{
	struct pdb *p = PDB(db);
	PGresult *r;
	int rc = DB_OK;

	pipe_leave(p);
	p->in_tx = false;
	if (p->pipe_failed) {
		p->pipe_failed = false;
		r = PQexec(p->conn, "ROLLBACK");
		PQclear(r);
		return DB_ERROR;
	}
	r = PQexec(p->conn, "COMMIT");
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		rc = pdb_fail(p, PQresultErrorMessage(r));
	else if (strcmp(PQcmdStatus(r), "COMMIT") != 0)
		rc = pdb_fail(p, "transaction failed, rolled back");
	PQclear(r);
	return rc;
}

static void
pdb_rollback(struct db *db)
{
	struct pdb *p = PDB(db);

	pipe_leave(p);
	p->in_tx = false;
	p->pipe_failed = false;
	if (PQtransactionStatus(p->conn) != PQTRANS_IDLE) {
		PGresult *r = PQexec(p->conn, "ROLLBACK");

		PQclear(r);
	}
}

static int
pdb_data_version(struct db *db, int64_t *v)
{
	*v = ++PDB(db)->version;
	return DB_OK;
}

#define PG_CHANNEL "stsguard_domains"

/* In the pipeline too: NOTIFY goes out with the transaction's other
 * statements (and is delivered at commit). */
static int
pdb_notify(struct db *db)
{
	struct pdb *p = PDB(db);

	if (!p->piped)
		return pdb_run(p, "NOTIFY " PG_CHANNEL);
	if (PQsendQueryParams(p->conn, "NOTIFY " PG_CHANNEL, 0, NULL, NULL,
	    NULL, NULL, 0) != 1)
		return pdb_fail(p, PQerrorMessage(p->conn));
	p->pending++;
	return DB_OK;
}

/* LISTENs (again after a reconnect: a new connection listens to
 * nothing), then waits on the connection's socket. */
static int
pdb_wait(struct db *db, int ms)
{
	struct pdb *p = PDB(db);
	struct pollfd pfd;
	PGnotify *n;
	int got = 0;

	if (PQstatus(p->conn) != CONNECTION_OK)
		p->listening = false;
	if (!p->listening) {
		if (pdb_run(p, "LISTEN " PG_CHANNEL) != DB_OK)
			return -1;
		p->listening = true;
	}
	pfd.fd = PQsocket(p->conn);
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (pfd.fd < 0 || (poll(&pfd, 1, ms) == -1 && errno != EINTR))
		return -1;
	if (pfd.revents != 0 && PQconsumeInput(p->conn) == 0) {
		p->listening = false;
		return -1;
	}
	while ((n = PQnotifies(p->conn)) != NULL) {
		got = 1;
		PQfreemem(n);
	}
	return got;
}

/* Moves the identity sequence of table's id past its highest id (to 1
 * on an empty table), as a copy that kept the ids needs. */
static int
pdb_ids_follow(struct db *db, const char *table)
{
	char sql[256];
	int n;

	n = snprintf(sql, sizeof(sql), "SELECT setval(pg_get_serial_sequence("
	    "'%s', 'id'), coalesce(max(id), 0) + 1, false) FROM %s", table,
	    table);
	if (n < 0 || (size_t)n >= sizeof(sql))
		return pdb_fail(PDB(db), "table name too long");
	return pdb_run(PDB(db), sql);
}

static const struct db_ops pdb_ops = {
	.name = "postgresql",
	.close = pdb_close,
	.errmsg = pdb_errmsg,
	.prepare = pdb_prepare,
	.finalize = pdb_finalize,
	.bind_int64 = pdb_bind_int64,
	.bind_text = pdb_bind_text,
	.bind_blob = pdb_bind_blob,
	.bind_null = pdb_bind_null,
	.step = pdb_step,
	.step_later = pdb_step_later,
	.reset = pdb_reset,
	.column_type = pdb_column_type,
	.column_int64 = pdb_column_int64,
	.column_text = pdb_column_text,
	.column_blob = pdb_column_blob,
	.changes = pdb_changes,
	.begin = pdb_begin,
	.commit = pdb_commit,
	.rollback = pdb_rollback,
	.data_version = pdb_data_version,
	.exec = pdb_exec,
	.notify = pdb_notify,
	.wait = pdb_wait,
	.ids_follow = pdb_ids_follow,
};

/* --- Schema --- */

/* The steps, each taking the database to version `to`. Append, never
 * edit. No PostgreSQL store predates version 10: its first step
 * creates at once the tables SQLite reaches by its migrations 1 to 10
 * (store_db_sqlite.c), column for column, with the SQLite functions
 * the shared SQL uses. Text compares and sorts bytewise (COLLATE "C"),
 * as in SQLite, whatever the database's locale: lists and pages come
 * in the same order from both engines; e-mail addresses compare
 * without case (nocase, as SQLite's COLLATE NOCASE). */
static const struct {
	int		 to;
	const char	*sql;
} pg_migrations[] = {
	{ 10,
	"CREATE FUNCTION instr(text, text) RETURNS integer\n"
	"  AS 'SELECT strpos($1, $2)' LANGUAGE sql IMMUTABLE STRICT;\n"
	"CREATE FUNCTION sg_concat(text, text, text) RETURNS text\n"
	"  AS 'SELECT CASE WHEN $2 IS NULL THEN $1 WHEN $1 IS NULL THEN $2\n"
	"  ELSE $1 || $3 || $2 END' LANGUAGE sql IMMUTABLE;\n"
	"CREATE AGGREGATE group_concat(text, text)\n"
	"  (SFUNC = sg_concat, STYPE = text);\n"
	"CREATE COLLATION nocase (provider = icu,\n"
	"  locale = 'und-u-ks-level2', deterministic = false);\n"
	"CREATE TABLE tenant (\n"
	"  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,\n"
	"  name TEXT COLLATE \"C\" NOT NULL UNIQUE,\n"
	"  created BIGINT NOT NULL,\n"
	"  domains BIGINT NOT NULL DEFAULT 0\n"
	");\n"
	"CREATE TABLE domain (\n"
	"  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,\n"
	"  name TEXT COLLATE \"C\" NOT NULL UNIQUE,\n"
	"  tenant_id BIGINT NOT NULL REFERENCES tenant (id),\n"
	"  mode TEXT COLLATE \"C\" NOT NULL\n"
	"    CHECK (mode IN ('none', 'testing', 'enforce')),\n"
	"  max_age BIGINT NOT NULL,\n"
	"  mx TEXT COLLATE \"C\" NOT NULL,\n"
	"  policy_id TEXT COLLATE \"C\" NOT NULL,\n"
	"  token TEXT COLLATE \"C\" NOT NULL UNIQUE,\n"
	"  created BIGINT NOT NULL,\n"
	"  updated BIGINT NOT NULL,\n"
	"  removed BIGINT NOT NULL DEFAULT 0,\n"
	"  serve_until BIGINT NOT NULL DEFAULT 0,\n"
	"  revision BIGINT NOT NULL\n"
	");\n"
	"CREATE INDEX domain_tenant ON domain (tenant_id, name);\n"
	"CREATE TABLE policy_history (\n"
	"  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,\n"
	"  domain_id BIGINT NOT NULL REFERENCES domain (id),\n"
	"  policy_id TEXT COLLATE \"C\" NOT NULL,\n"
	"  since BIGINT NOT NULL,\n"
	"  body TEXT COLLATE \"C\" NOT NULL,\n"
	"  UNIQUE (domain_id, policy_id)\n"
	");\n"
	"CREATE TABLE report (\n"
	"  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,\n"
	"  organization_name TEXT COLLATE \"C\" NOT NULL,\n"
	"  report_id TEXT COLLATE \"C\" NOT NULL,\n"
	"  contact_info TEXT COLLATE \"C\",\n"
	"  start_time BIGINT NOT NULL,\n"
	"  end_time BIGINT NOT NULL,\n"
	"  received BIGINT NOT NULL,\n"
	"  route TEXT COLLATE \"C\",\n"
	"  client TEXT COLLATE \"C\",\n"
	"  mail_from TEXT COLLATE \"C\",\n"
	"  rcpt_to TEXT COLLATE \"C\",\n"
	"  dkim_present BIGINT NOT NULL,\n"
	"  successful BIGINT NOT NULL,\n"
	"  failed BIGINT NOT NULL,\n"
	"  quirks BIGINT NOT NULL,\n"
	"  raw BYTEA NOT NULL,\n"
	"  raw_len BIGINT NOT NULL,\n"
	"  raw_plain BIGINT NOT NULL,\n"
	"  duplicates BIGINT NOT NULL DEFAULT 0,\n"
	"  last_duplicate BIGINT,\n"
	"  intake_domain TEXT COLLATE \"C\",\n"
	"  provenance TEXT COLLATE \"C\" NOT NULL\n"
	"    CHECK (provenance IN ('dkim-verified',\n"
	"    'import', 'mail-unverified', 'https')),\n"
	"  provenance_reason TEXT COLLATE \"C\",\n"
	"  dkim_domain TEXT COLLATE \"C\",\n"
	"  report_domain TEXT COLLATE \"C\",\n"
	"  report_submitter TEXT COLLATE \"C\",\n"
	"  domain_mismatch BIGINT NOT NULL DEFAULT 0,\n"
	"  digest BYTEA,\n"
	"  counted BIGINT NOT NULL DEFAULT 1,\n"
	"  conflict BIGINT NOT NULL DEFAULT 0\n"
	");\n"
	"CREATE INDEX report_received ON report (received, id);\n"
	"CREATE INDEX report_key ON report (organization_name, report_id);\n"
	"CREATE INDEX report_conflict ON report (organization_name, report_id)\n"
	"  WHERE conflict = 1;\n"
	"CREATE TABLE report_policy (\n"
	"  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,\n"
	"  report BIGINT NOT NULL REFERENCES report (id) ON DELETE CASCADE,\n"
	"  idx BIGINT NOT NULL,\n"
	"  policy_type TEXT COLLATE \"C\" NOT NULL,\n"
	"  policy_domain TEXT COLLATE \"C\" NOT NULL,\n"
	"  policy_string TEXT COLLATE \"C\" NOT NULL,\n"
	"  mx_host TEXT COLLATE \"C\" NOT NULL,\n"
	"  successful BIGINT NOT NULL,\n"
	"  failed BIGINT NOT NULL\n"
	");\n"
	"CREATE INDEX report_policy_report ON report_policy (report);\n"
	"CREATE INDEX report_policy_domain ON report_policy "
	"(policy_domain, report);\n"
	"CREATE TABLE failure_detail (\n"
	"  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,\n"
	"  policy BIGINT NOT NULL REFERENCES report_policy (id) "
	"ON DELETE CASCADE,\n"
	"  result_type TEXT COLLATE \"C\" NOT NULL,\n"
	"  sending_mta_ip TEXT COLLATE \"C\",\n"
	"  receiving_mx_hostname TEXT COLLATE \"C\",\n"
	"  receiving_mx_helo TEXT COLLATE \"C\",\n"
	"  receiving_ip TEXT COLLATE \"C\",\n"
	"  additional_information TEXT COLLATE \"C\",\n"
	"  failure_reason_code TEXT COLLATE \"C\",\n"
	"  failed_session_count BIGINT NOT NULL\n"
	");\n"
	"CREATE INDEX failure_detail_policy ON failure_detail (policy);\n"
	"CREATE TABLE rollup (\n"
	"  policy_domain TEXT COLLATE \"C\" NOT NULL,\n"
	"  day TEXT COLLATE \"C\" NOT NULL,\n"
	"  organization_name TEXT COLLATE \"C\" NOT NULL,\n"
	"  policy_type TEXT COLLATE \"C\" NOT NULL,\n"
	"  result_type TEXT COLLATE \"C\" NOT NULL,\n"
	"  sessions BIGINT NOT NULL,\n"
	"  PRIMARY KEY (policy_domain, day, organization_name, policy_type,\n"
	"    result_type)\n"
	");\n"
	"CREATE TABLE quarantine (\n"
	"  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,\n"
	"  received BIGINT NOT NULL,\n"
	"  kind TEXT COLLATE \"C\" NOT NULL CHECK (kind IN ('report', 'message')),\n"
	"  route TEXT COLLATE \"C\",\n"
	"  client TEXT COLLATE \"C\",\n"
	"  mail_from TEXT COLLATE \"C\",\n"
	"  rcpt_to TEXT COLLATE \"C\",\n"
	"  intake_domain TEXT COLLATE \"C\",\n"
	"  reason TEXT COLLATE \"C\" NOT NULL,\n"
	"  size BIGINT NOT NULL,\n"
	"  raw BYTEA NOT NULL,\n"
	"  report BIGINT REFERENCES report (id),\n"
	"  sha256 BYTEA,\n"
	"  anon BIGINT NOT NULL DEFAULT 0,\n"
	"  client_key TEXT COLLATE \"C\",\n"
	"  seen BIGINT NOT NULL DEFAULT 1,\n"
	"  last_seen BIGINT\n"
	");\n"
	"CREATE INDEX quarantine_received ON quarantine (received, id);\n"
	"CREATE UNIQUE INDEX quarantine_sha256 ON quarantine (sha256);\n"
	"CREATE INDEX quarantine_anon ON quarantine (anon, id);\n"
	"CREATE INDEX quarantine_client ON quarantine (client_key, id)\n"
	"  WHERE anon = 1;\n"
	"CREATE TABLE domain_generation (\n"
	"  id BIGINT PRIMARY KEY CHECK (id = 1),\n"
	"  n BIGINT NOT NULL\n"
	");\n"
	"INSERT INTO domain_generation (id, n) VALUES (1, 0);\n"
	"CREATE TABLE domain_mx (\n"
	"  pattern TEXT COLLATE \"C\" NOT NULL,\n"
	"  domain_id BIGINT NOT NULL REFERENCES domain (id),\n"
	"  PRIMARY KEY (pattern, domain_id)\n"
	");\n"
	"CREATE INDEX domain_mx_domain ON domain_mx (domain_id);\n"
	"CREATE TABLE tlsa_host (\n"
	"  name TEXT COLLATE \"C\" PRIMARY KEY,\n"
	"  parent TEXT COLLATE \"C\" NOT NULL\n"
	");\n"
	"CREATE INDEX tlsa_host_parent ON tlsa_host (parent);\n"
	"CREATE TABLE quarantine_usage (\n"
	"  id BIGINT PRIMARY KEY CHECK (id = 1),\n"
	"  entries BIGINT NOT NULL,\n"
	"  bytes BIGINT NOT NULL,\n"
	"  folded BIGINT NOT NULL,\n"
	"  dropped BIGINT NOT NULL\n"
	");\n"
	"INSERT INTO quarantine_usage (id, entries, bytes, folded, dropped)\n"
	"  VALUES (1, 0, 0, 0, 0);\n"
	"CREATE FUNCTION quarantine_usage_add() RETURNS trigger AS $$\n"
	"BEGIN UPDATE quarantine_usage SET entries = entries + 1,\n"
	"  bytes = bytes + length(NEW.raw) WHERE id = 1; RETURN NULL; END\n"
	"$$ LANGUAGE plpgsql;\n"
	"CREATE FUNCTION quarantine_usage_del() RETURNS trigger AS $$\n"
	"BEGIN UPDATE quarantine_usage SET entries = entries - 1,\n"
	"  bytes = bytes - length(OLD.raw) WHERE id = 1; RETURN NULL; END\n"
	"$$ LANGUAGE plpgsql;\n"
	"CREATE TRIGGER quarantine_usage_add AFTER INSERT ON quarantine\n"
	"  FOR EACH ROW EXECUTE FUNCTION quarantine_usage_add();\n"
	"CREATE TRIGGER quarantine_usage_del AFTER DELETE ON quarantine\n"
	"  FOR EACH ROW EXECUTE FUNCTION quarantine_usage_del();\n"
	"CREATE TABLE account (\n"
	"  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,\n"
	"  email TEXT COLLATE nocase NOT NULL UNIQUE,\n"
	"  tenant_id BIGINT REFERENCES tenant (id),\n"
	"  role TEXT COLLATE \"C\" NOT NULL\n"
	"    CHECK (role IN ('admin', 'owner', 'viewer')),\n"
	"  password TEXT COLLATE \"C\" NOT NULL,\n"
	"  created BIGINT NOT NULL,\n"
	"  CHECK ((role = 'admin') = (tenant_id IS NULL))\n"
	");\n"
	"CREATE INDEX account_tenant ON account (tenant_id, email);\n"
	"CREATE TABLE api_token (\n"
	"  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,\n"
	"  tenant_id BIGINT NOT NULL REFERENCES tenant (id),\n"
	"  hash BYTEA NOT NULL UNIQUE,\n"
	"  prefix TEXT COLLATE \"C\" NOT NULL,\n"
	"  read_only BIGINT NOT NULL,\n"
	"  created BIGINT NOT NULL,\n"
	"  revoked BIGINT\n"
	");\n"
	"CREATE INDEX api_token_tenant ON api_token (tenant_id, id);\n"
	"CREATE TABLE session (\n"
	"  hash BYTEA PRIMARY KEY,\n"
	"  account_id BIGINT NOT NULL REFERENCES account (id)\n"
	"    ON DELETE CASCADE,\n"
	"  csrf TEXT COLLATE \"C\" NOT NULL,\n"
	"  created BIGINT NOT NULL,\n"
	"  expires BIGINT NOT NULL\n"
	");\n"
	"CREATE INDEX session_expires ON session (expires);\n"
	"CREATE TABLE login_failure (\n"
	"  key TEXT COLLATE \"C\" PRIMARY KEY,\n"
	"  count BIGINT NOT NULL,\n"
	"  since BIGINT NOT NULL\n"
	");\n"
	"CREATE TABLE fetch_day (\n"
	"  domain TEXT COLLATE \"C\" NOT NULL,\n"
	"  day TEXT COLLATE \"C\" NOT NULL,\n"
	"  fetches BIGINT NOT NULL,\n"
	"  clients BIGINT NOT NULL,\n"
	"  hll BYTEA,\n"
	"  agents_other BIGINT NOT NULL DEFAULT 0,\n"
	"  PRIMARY KEY (domain, day)\n"
	");\n"
	"CREATE INDEX fetch_day_day ON fetch_day (day);\n"
	"CREATE TABLE fetch_agent (\n"
	"  domain TEXT COLLATE \"C\" NOT NULL,\n"
	"  day TEXT COLLATE \"C\" NOT NULL,\n"
	"  agent TEXT COLLATE \"C\" NOT NULL,\n"
	"  fetches BIGINT NOT NULL,\n"
	"  PRIMARY KEY (domain, day, agent)\n"
	");\n"
	"CREATE INDEX fetch_agent_day ON fetch_agent (day);\n"
	"CREATE TABLE domain_check (\n"
	"  domain TEXT COLLATE \"C\" PRIMARY KEY,\n"
	"  checked BIGINT NOT NULL,\n"
	"  next_at BIGINT NOT NULL,\n"
	"  failures BIGINT NOT NULL,\n"
	"  warnings BIGINT NOT NULL,\n"
	"  findings TEXT COLLATE \"C\" NOT NULL\n"
	");\n"
	"CREATE INDEX domain_check_next ON domain_check (next_at);\n"
	"CREATE TABLE alert (\n"
	"  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,\n"
	"  domain TEXT COLLATE \"C\" NOT NULL,\n"
	"  subject TEXT COLLATE \"C\" NOT NULL,\n"
	"  kind TEXT COLLATE \"C\" NOT NULL,\n"
	"  severity TEXT COLLATE \"C\" NOT NULL,\n"
	"  text TEXT COLLATE \"C\" NOT NULL,\n"
	"  fix TEXT COLLATE \"C\" NOT NULL,\n"
	"  raised BIGINT NOT NULL,\n"
	"  hook_sent BIGINT NOT NULL,\n"
	"  hook_tries BIGINT NOT NULL DEFAULT 0,\n"
	"  mail_sent BIGINT NOT NULL,\n"
	"  mail_tries BIGINT NOT NULL DEFAULT 0\n"
	");\n"
	"CREATE INDEX alert_key ON alert (domain, subject, kind, raised);\n"
	"CREATE INDEX alert_domain ON alert (domain, id);\n"
	"CREATE INDEX alert_hook ON alert (id) WHERE hook_sent = 0;\n"
	"CREATE INDEX alert_mail ON alert (id) WHERE mail_sent = 0;\n"
	"CREATE TABLE digest (\n"
	"  tenant TEXT COLLATE \"C\" PRIMARY KEY,\n"
	"  sent BIGINT NOT NULL\n"
	");\n" },
	{ 11,
	"CREATE TABLE cert (\n"
	"  name TEXT COLLATE \"C\" PRIMARY KEY,\n"
	"  chain TEXT COLLATE \"C\" NOT NULL,\n"
	"  key BYTEA NOT NULL,\n"
	"  not_before BIGINT NOT NULL,\n"
	"  not_after BIGINT NOT NULL,\n"
	"  updated BIGINT NOT NULL,\n"
	"  version BIGINT NOT NULL\n"
	");\n"
	"CREATE UNIQUE INDEX cert_version ON cert (version);\n"
	"CREATE TABLE cert_lease (\n"
	"  name TEXT COLLATE \"C\" PRIMARY KEY,\n"
	"  holder TEXT COLLATE \"C\" NOT NULL,\n"
	"  expires BIGINT NOT NULL\n"
	");\n"
	"CREATE TABLE acme_account (\n"
	"  name TEXT COLLATE \"C\" PRIMARY KEY,\n"
	"  key BYTEA NOT NULL,\n"
	"  created BIGINT NOT NULL\n"
	");\n"
	"CREATE TABLE acme_challenge (\n"
	"  token TEXT COLLATE \"C\" PRIMARY KEY,\n"
	"  name TEXT COLLATE \"C\" NOT NULL,\n"
	"  type BIGINT NOT NULL,\n"
	"  keyauth TEXT COLLATE \"C\" NOT NULL,\n"
	"  expires BIGINT NOT NULL\n"
	");\n" },
};

static_assert(DB_SCHEMA_VERSION == 11, "a new migration needs its "
    "PostgreSQL step in pg_migrations too");

/* Reads the schema version (0: a new database). */
static int
pg_version(struct pdb *p, int *v)
{
	PGresult *r = PQexec(p->conn, "SELECT max(version) FROM "
	    "schema_version");
	int rc = DB_OK;

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = pdb_fail(p, PQresultErrorMessage(r));
	else
		*v = PQgetisnull(r, 0, 0) ? 0 :
		    (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return rc;
}

/* Runs the steps the database has not had, under an advisory lock, so
 * that nodes starting at once apply each step once. */
static int
pg_migrate(struct pdb *p, struct err *e)
{
	char sql[96];
	int v = 0, rc = -1;
	bool locked = false;

	if (pdb_run(p, "SET client_min_messages = warning") != DB_OK ||
	    pdb_run(p, "CREATE TABLE IF NOT EXISTS schema_version "
	    "(version INTEGER NOT NULL)") != DB_OK)
		goto fail;
	snprintf(sql, sizeof(sql), "SELECT pg_advisory_lock(%d)",
	    PG_LOCK_MIGRATE);
	if (pdb_run(p, sql) != DB_OK)
		goto fail;
	locked = true;
	if (pg_version(p, &v) != DB_OK)
		goto fail;
	for (size_t i = 0; i < sizeof(pg_migrations) /
	    sizeof(pg_migrations[0]); i++) {
		if (pg_migrations[i].to <= v)
			continue;
		snprintf(sql, sizeof(sql), "INSERT INTO schema_version "
		    "(version) VALUES (%d)", pg_migrations[i].to);
		if (pdb_run(p, "BEGIN") != DB_OK ||
		    pdb_run(p, pg_migrations[i].sql) != DB_OK ||
		    pdb_run(p, sql) != DB_OK || pdb_commit(&p->base) != DB_OK) {
			pdb_rollback(&p->base);
			err_set(e, "migration to %d: %s", pg_migrations[i].to,
			    p->msg);
			goto out;
		}
		v = pg_migrations[i].to;
	}
	if (v > DB_SCHEMA_VERSION) {
		err_set(e, "schema version %d is newer than this stsguard "
		    "knows (%d): upgrade stsguard", v, DB_SCHEMA_VERSION);
		goto out;
	}
	rc = 0;
	goto out;
fail:
	err_set(e, "migrations: %s", p->msg);
out:
	if (locked) {
		snprintf(sql, sizeof(sql), "SELECT pg_advisory_unlock(%d)",
		    PG_LOCK_MIGRATE);
		pdb_run(p, sql);
	}
	return rc;
}

/* libpq prints notices on stderr by default: the daemon logs its own. */
static void
pg_quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* A server that does not answer must not hold a thread for minutes (a
 * reload, an intake commit): connect_timeout, unless the URL sets its
 * own (later keywords win; the URL expands in place of dbname). */
int
db_pg_open(const char *conninfo, struct db **db, struct err *e)
{
	const char *keys[] = { "connect_timeout", "dbname", NULL };
	const char *values[] = { "5", conninfo, NULL };
	struct pdb *p;
	int rc = -1;

	*db = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return err_set(e, "store: out of memory");
	p->base.ops = &pdb_ops;
	if ((p->conn = PQconnectdbParams(keys, values, 1)) == NULL ||
	    PQstatus(p->conn) != CONNECTION_OK) {
		pdb_fail(p, p->conn != NULL ? PQerrorMessage(p->conn) :
		    "out of memory");
		err_set(e, "store PostgreSQL: connect: %s", p->msg);
		goto out;
	}
	PQsetNoticeProcessor(p->conn, pg_quiet, NULL);
	if (pg_migrate(p, e) == -1) {
		err_prefix(e, "store PostgreSQL: ");
		goto out;
	}
	*db = &p->base;
	p = NULL;
	rc = 0;
out:
	if (p != NULL)
		pdb_close(&p->base);
	return rc;
}
