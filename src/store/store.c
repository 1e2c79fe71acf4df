/*
 * store.c - what every store backend shares: freeing a domain row, intake
 * tokens, policy ids, roll-up day keys, provenance names, and joining the
 * string lists that a row keeps in one column.
 *
 *   token     = 32 lower-case hex digits      ; 128 random bits
 *   policy id = YYYYMMDDhhmmss "r" revision   ; UTC; 1*32 ALPHA/DIGIT
 *   day key   = YYYY-MM-DD                    ; UTC
 *
 * and the policy rules every backend applies: what body is served, what
 * a removed domain serves, and until when (RFC 8461 §8.3).
 *
 * Never touches a database, never keeps state between calls, never reads
 * the clock: callers pass the time in, so that tests can choose it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "store_db.h"
#include "store_int.h"

static const char *const store_provenance_names[] = {
	[STORE_PROVENANCE_UNSET] = "unset",
	[STORE_DKIM_VERIFIED] = "dkim-verified",
	[STORE_IMPORT] = "import",
	[STORE_MAIL_UNVERIFIED] = "mail-unverified",
	[STORE_HTTPS] = "https",
};

const char *
store_provenance_name(enum store_provenance p)
{
	return (unsigned)p <= STORE_PROVENANCE_MAX ?
	    store_provenance_names[p] : "unset";
}

int
store_provenance_parse(const char *name)
{
	for (int i = STORE_DKIM_VERIFIED; i <= STORE_PROVENANCE_MAX; i++)
		if (name != NULL && strcmp(name, store_provenance_names[i]) == 0)
			return i;
	return -1;
}

void
store_domain_free(struct store_domain *d)
{
	if (d != NULL)
		policy_free(&d->policy);
}

int
store_token_new(char out[STORE_TOKEN_LEN + 1], struct err *e)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t rnd[STORE_TOKEN_LEN / 2];
	size_t got = 0;
	ssize_t n;
	int rc = -1;

	out[0] = '\0';
	while (got < sizeof(rnd)) {
		n = getrandom(rnd + got, sizeof(rnd) - got, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			err_set(e, "intake token: getrandom: %s",
			    strerror(errno));
			goto out;
		}
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(rnd); i++) {
		out[2 * i] = hex[rnd[i] >> 4];
		out[2 * i + 1] = hex[rnd[i] & 0x0f];
	}
	out[STORE_TOKEN_LEN] = '\0';
	rc = 0;
out:
	return rc;
}

int
store_policy_id(time_t now, int64_t revision, char out[LIMIT_STS_ID_LEN + 1],
    struct err *e)
{
	struct tm tm;
	int n, rc = -1;

	out[0] = '\0';
	if (revision < 1) {
		err_set(e, "policy id: revision %" PRId64 " is not positive",
		    revision);
		goto out;
	}
	/* Years past 9999 would make the timestamp longer than 14 digits. */
	if (gmtime_r(&now, &tm) == NULL || tm.tm_year < 0 ||
	    tm.tm_year > 9999 - 1900) {
		err_set(e, "policy id: time %lld is out of range",
		    (long long)now);
		goto out;
	}
	n = snprintf(out, LIMIT_STS_ID_LEN + 1,
	    "%04d%02d%02d%02d%02d%02dr%" PRId64, tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    revision);
	/* 14 + 1 + at most 19 digits of INT64_MAX: revisions beyond 17
	 * digits cannot happen in practice, but must not truncate. */
	if (n < 0 || n > LIMIT_STS_ID_LEN) {
		out[0] = '\0';
		err_set(e, "policy id: revision %" PRId64 " too large",
		    revision);
		goto out;
	}
	rc = 0;
out:
	return rc;
}

int
store_day_key(time_t t, char out[STORE_DAY_LEN + 1])
{
	struct tm tm;
	int rc = -1;

	out[0] = '\0';
	/* Four-digit years keep keys sorting as days do. */
	if (gmtime_r(&t, &tm) == NULL || tm.tm_year < 1000 - 1900 ||
	    tm.tm_year > 9999 - 1900)
		goto out;
	if (strftime(out, STORE_DAY_LEN + 1, "%Y-%m-%d", &tm) !=
	    STORE_DAY_LEN) {
		out[0] = '\0';
		goto out;
	}
	rc = 0;
out:
	return rc;
}

char *
store_strv_join(const struct strv *sv, char sep)
{
	size_t len = 1, off = 0, n;
	char *s;

	for (size_t i = 0; i < sv->n; i++)
		len += strlen(sv->v[i]) + 1;
	if ((s = malloc(len)) == NULL)
		return NULL;
	for (size_t i = 0; i < sv->n; i++) {
		if (i > 0)
			s[off++] = sep;
		n = strlen(sv->v[i]);
		memcpy(s + off, sv->v[i], n);
		off += n;
	}
	s[off] = '\0';
	return s;
}

int
store_strv_split(struct strv *sv, const char *s, char sep)
{
	const char *p = s, *q = s;
	int rc = 0;

	while (*s != '\0' && q != NULL && rc == 0) {
		q = strchr(p, sep);
		rc = strv_pushn(sv, p, q ? (size_t)(q - p) : strlen(p));
		if (q != NULL)
			p = q + 1;
	}
	return rc;
}

void
store_add_sat(uint64_t *a, uint64_t b)
{
	*a = b > UINT64_MAX - *a ? UINT64_MAX : *a + b;
}

int
store_open(const char *url, struct store **s, struct err *e)
{
	*s = NULL;
	return store_sql_open(url, s, e);
}

int
db_open(const char *url, struct db **db, struct err *e)
{
	*db = NULL;
	if (strncmp(url, "sqlite:", 7) == 0 && url[7] != '\0')
		return db_sqlite_open(url + 7, db, e);
	if (strncmp(url, "postgresql://", 13) == 0 ||
	    strncmp(url, "postgres://", 11) == 0)
		return db_pg_open(url, db, e);
	return err_set(e, "store '%s': expected sqlite:PATH or "
	    "postgresql://...", url);
}

int
store_open_at(const char *url, const char *dir, struct store **s,
    struct err *e)
{
	char def[4096];
	int n;

	*s = NULL;
	if (url != NULL && url[0] != '\0')
		return store_open(url, s, e);
	n = snprintf(def, sizeof(def), "sqlite:%s/stsguard.db", dir);
	if (n < 0 || (size_t)n >= sizeof(def))
		return err_set(e, "data dir %s: path too long", dir);
	return store_open(def, s, e);
}

char *
store_policy_body(const struct policy *p, size_t *len, struct err *e)
{
	char *body;

	if (policy_validate(p, e) == -1) {
		err_prefix(e, "policy: ");
		return NULL;
	}
	if ((body = policy_render(p, len)) == NULL)
		err_set(e, "policy: out of memory");
	return body;
}

void
store_policy_removed(struct policy *p)
{
	p->mode = POLICY_MODE_NONE;
	if (p->max_age > STORE_REMOVED_MAX_AGE)
		p->max_age = STORE_REMOVED_MAX_AGE;
}

uint32_t
store_body_max_age(const char *body)
{
	struct policy p;
	struct err e;
	uint32_t max_age;

	if (body == NULL ||
	    policy_parse(body, strlen(body), &p, NULL, &e) == -1)
		return 0;
	max_age = p.max_age;
	policy_free(&p);
	return max_age;
}

time_t
store_serve_until(const struct store_served *h, size_t n, time_t now)
{
	time_t until = now;

	for (size_t i = 0; i < n; i++) {
		time_t end = i + 1 < n ? h[i + 1].since : now, t;

		if (end > now)
			end = now;
		t = end + (time_t)h[i].max_age;
		if (t > until)
			until = t;
	}
	return until;
}
