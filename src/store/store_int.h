/*
 * store_int.h - helpers shared by the store backends (store_sqlite.c now,
 * store_pg.c later). Not for callers outside src/store/ and its tests.
 *
 * Pure functions apart from store_token_new, which reads getrandom(2).
 */
#ifndef STSGUARD_STORE_INT_H
#define STSGUARD_STORE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../lib/err.h"
#include "../lib/strv.h"
#include "store.h"

/* store_open of every backend: the operations of store_sql.c over the
 * SQL engine of url (store_db.h). */
int	store_sql_open(const char *url, struct store **s, struct err *e);

/* "YYYY-MM-DD": the roll-up day key. */
#define STORE_DAY_LEN 10

/* A removed domain serves mode none with a max_age of at most this many
 * seconds (RFC 8461 §8.3 suggests "e.g., 1 day"). */
#define STORE_REMOVED_MAX_AGE 86400u

/* Writes a new intake token, STORE_TOKEN_LEN lower-case hex digits (128
 * bits from getrandom(2)) and a NUL, into out. Returns 0, or -1 with the
 * reason when the kernel gives no randomness. */
int	store_token_new(char out[STORE_TOKEN_LEN + 1], struct err *e);

/* Writes the policy id for a domain's revision-th policy, made at now:
 * UTC "YYYYMMDDhhmmss" 'r' revision, e.g. "20260512093000r7" (at most
 * 14 + 1 + 17 = 32 characters, all ALPHA/DIGIT as RFC 8461 §3.1 wants).
 * The revision, which the backend bumps on every change of a domain's
 * policy, keeps ids unique per domain even for several changes in one
 * second or a clock that steps back. Returns 0, or -1 when now is not
 * representable or revision is not in 1..INT64_MAX. */
int	store_policy_id(time_t now, int64_t revision,
	    char out[LIMIT_STS_ID_LEN + 1], struct err *e);

/* The body p is served as (policy_render), after the checks policy_parse
 * applies (policy_validate): the store is the last gate before a policy
 * is served. Returns the body (caller frees; *len its bytes), or NULL
 * with the reason. Every backend stores what this gives, and makes a
 * new policy id only when it changes. */
char	*store_policy_body(const struct policy *p, size_t *len,
	    struct err *e);

/* Makes p what a removed domain serves (RFC 8461 §8.3): mode none, a
 * max_age of at most STORE_REMOVED_MAX_AGE; the mx list stays (mode none
 * makes it harmless). */
void	store_policy_removed(struct policy *p);

/* One policy a domain served: since when, and its max_age (0 when its
 * body cannot be read). */
struct store_served {
	time_t	 since;
	uint32_t max_age;
};

/* The max_age of a served body (0 when it does not parse). */
uint32_t store_body_max_age(const char *body);

/* Until when a domain removed at now must serve mode none: until the
 * last copy any sender may hold has expired. A sender may have fetched
 * policy i (of h[0..n), oldest first) until the next one replaced it
 * (the last: until now) and keep it for its max_age, so the answer is
 * the latest of those ends, and at least now. Pure. */
time_t	store_serve_until(const struct store_served *h, size_t n,
	    time_t now);

/* Writes the UTC day of t as "YYYY-MM-DD" into out. Returns 0, or -1 when
 * t is out of the range gmtime_r handles (out is then ""). */
int	store_day_key(time_t t, char out[STORE_DAY_LEN + 1]);

/* Joins the strings of sv with sep between them into a new string (caller
 * frees); "" for an empty vector. Returns NULL when out of memory. */
char	*store_strv_join(const struct strv *sv, char sep);

/* Appends to sv the pieces of s split at sep; "" yields no pieces, so that
 * join and split round-trip an empty vector. Returns 0 or -1 (out of
 * memory; sv then holds what was appended so far, caller frees). */
int	store_strv_split(struct strv *sv, const char *s, char sep);

/* Adds b to *a, saturating at UINT64_MAX instead of wrapping: report
 * counts are untrusted and a wrapped sum would invent a small number. */
void	store_add_sat(uint64_t *a, uint64_t b);

/* The tables of the schema as store_migrate copies them (store_migrate.c),
 * foreign keys satisfied in list order. */
struct store_table {
	const char *name;
	const char *cols;	/* every column, ", "-separated, the key's
				 * first: "id, name, created, domains" */
	const char *key;	/* ORDER BY: the primary key */
	enum {
		STORE_TABLE_IDS,	/* key id: read by pages of ids,
					 * inserted, then db_ids_follow */
		STORE_TABLE_ROWS,	/* another key: read at once, inserted */
		STORE_TABLE_ONE,	/* one row, id 1, made by the schema:
					 * updated */
	} kind;
};
extern const struct store_table store_tables[];
extern const size_t store_ntables;

/* The columns of t. Pure. */
size_t	store_table_ncols(const struct store_table *t);

/* The statements of a copy of t: SELECT of its rows in key order (an id
 * table: "WHERE id > ?1", a page at a time); INSERT of a row, the
 * columns bound as ?1..?n; UPDATE of the row ?1 with the other columns
 * as ?2..?n. Returns the SQL (caller frees), or NULL when out of memory.
 * Pure. */
enum store_table_sql { STORE_SQL_SELECT, STORE_SQL_INSERT, STORE_SQL_UPDATE };
char	*store_table_sql(const struct store_table *t,
	    enum store_table_sql what);

/* The checksum of a table: the SHA-256 of its n row digests sorted
 * (rows is sorted in place), so that it does not depend on the order
 * the rows were read in. Returns 0, or -1 when OpenSSL fails. */
int	store_sum_fold(unsigned char (*rows)[32], size_t n,
	    unsigned char out[32]);

#endif
