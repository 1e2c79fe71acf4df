/*
 * store_onboard.c - adding, changing and importing hosted domains as a
 * person asks (the CLI's `domain add|set|import`, the REST API's POST,
 * PATCH and import): one set of rules, defaults and messages for both.
 *
 * Import takes CSV (csv.h), one domain a line:
 *
 *	domain,tenant,mode,mx,max_age
 *	example.com,acme,enforce,mx1.example.com *.mail.example.net,86400
 *	example.org,,testing,"mx.example.org;mx2.example.org",
 *
 * a header line (first column "domain") and blank or "#" lines skipped;
 * an empty tenant, mode or max_age takes the default (the caller's
 * tenant, testing, one week); mx patterns are separated by blanks or
 * ';'. Every line is checked first and each error said with its line
 * number; then all domains are added in one transaction, or none
 * (store_domain_add_batch).
 *
 * Never prints, never reads files: bytes in, domains and reasons out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/csv.h"
#include "../lib/dname.h"
#include "store.h"

int
store_domain_create(struct store *s, const char *tenant, const char *name,
    const struct store_ask *ask, bool operator, struct store_domain *out,
    struct err *e)
{
	struct store_domain cur = { 0 };
	struct policy p = { .mode = STORE_DEFAULT_MODE,
	    .max_age = STORE_DEFAULT_MAX_AGE };
	char norm[LIMIT_DNAME_LEN + 1];
	int rc = 1, r;

	memset(out, 0, sizeof(*out));
	if (dname_normalize(name, strlen(name), false, norm, e) == -1) {
		char q[64];

		err_prefix(e, "domain '%s': ", err_quote(name, strlen(name),
		    q, sizeof(q)));
		goto out;
	}
	if (policy_apply(&p, ask->mode, ask->max_age, ask->mx, ask->nmx,
	    e) == -1)
		goto out;
	/* Hosted already: say so, naming another tenant to the operator
	 * only (a tenant learns nothing of another's domains but that
	 * this one is taken). */
	if ((r = store_domain_get(s, norm, &cur, e)) == -1) {
		rc = -1;
		goto out;
	}
	if (r == 0 && cur.removed == 0) {
		if (operator || strcmp(cur.tenant, tenant) == 0)
			err_set(e, "%s is already hosted (tenant %s)", norm,
			    cur.tenant);
		else
			err_set(e, "%s is already hosted", norm);
		rc = 2;
		goto out;
	}
	if (store_domain_add(s, tenant, norm, &p, out, e) == -1) {
		rc = -1;
		goto out;
	}
	rc = 0;
out:
	store_domain_free(&cur);
	policy_free(&p);
	return rc;
}

int
store_domain_change(struct store *s, const struct store_domain *d,
    const struct store_ask *ask, struct store_domain *out, struct err *e)
{
	struct policy p = { 0 };
	int rc = 1, r;

	memset(out, 0, sizeof(*out));
	if (d->removed) {
		err_set(e, "%s was removed; adding it again brings it back",
		    d->name);
		rc = 2;
		goto out;
	}
	if (policy_copy(&p, &d->policy) == -1) {
		rc = err_set(e, "out of memory");
		goto out;
	}
	if (policy_apply(&p, ask->mode, ask->max_age, ask->mx, ask->nmx,
	    e) == -1)
		goto out;
	if ((r = store_domain_set(s, d->name, &p, out, e)) != 0) {
		if (r == 1)
			err_set(e, "no such domain");
		rc = r;
		goto out;
	}
	rc = 0;
out:
	policy_free(&p);
	return rc;
}

/* --- import ---------------------------------------------------------- */

static void
import_error(struct store_import *im, size_t lineno, const char *why)
{
	im->errors++;
	if (im->error != NULL)
		im->error(im->arg, lineno, why);
}

/* Blanks off both ends of s, in place. */
static char *
import_trim(char *s)
{
	char *end = s + strlen(s);

	while (*s == ' ' || *s == '\t')
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return s;
}

/* Checks one line into l. Returns 0, or -1 with the reason. */
static int
import_parse_line(const struct store_import *im, char *line, size_t len,
    struct store_import_line *l, struct err *e)
{
	char *f[5], *mxv[LIMIT_POLICY_MX], *tok, *save = NULL;
	char name[LIMIT_DNAME_LEN + 1], q[64];
	const char *tenant;
	size_t n, nmx = 0;

	if (csv_split(line, len, f, 5, &n, e) == -1)
		return -1;
	for (size_t i = 0; i < n; i++)
		f[i] = import_trim(f[i]);
	if (dname_normalize(f[0], strlen(f[0]), false, name, e) == -1) {
		err_prefix(e, "domain '%s': ", err_quote(f[0], strlen(f[0]),
		    q, sizeof(q)));
		return -1;
	}
	tenant = n > 1 && f[1][0] != '\0' ? f[1] : im->tenant;
	if (strlen(tenant) > STORE_TENANT_LEN)
		return err_set(e, "tenant: at most %d characters",
		    STORE_TENANT_LEN);
	if (im->tenant_only && strcmp(tenant, im->tenant) != 0)
		return err_set(e, "tenant '%s': only %s's domains may be "
		    "imported here", err_quote(tenant, strlen(tenant), q,
		    sizeof(q)), im->tenant);
	for (tok = n > 3 ? strtok_r(f[3], " \t;", &save) : NULL; tok != NULL;
	    tok = strtok_r(NULL, " \t;", &save)) {
		if (nmx == LIMIT_POLICY_MX)
			return err_set(e, "mx: more than %d patterns",
			    LIMIT_POLICY_MX);
		mxv[nmx++] = tok;
	}
	l->p.mode = STORE_DEFAULT_MODE;
	l->p.max_age = STORE_DEFAULT_MAX_AGE;
	if (policy_apply(&l->p, n > 2 ? f[2] : NULL, n > 4 ? f[4] : NULL,
	    (const char *const *)mxv, nmx, e) == -1)
		return -1;
	if ((l->name = strdup(name)) == NULL ||
	    (l->tenant = strdup(tenant)) == NULL)
		return err_set(e, "out of memory");
	return 0;
}

static void
import_line_free(struct store_import_line *l)
{
	free(l->name);
	free(l->tenant);
	policy_free(&l->p);
}

int
store_import_parse(struct store_import *im, const uint8_t *buf, size_t len,
    struct err *e)
{
	char line[LIMIT_IMPORT_LINE + 1];
	size_t lineno = 0, off = 0;

	if (len > LIMIT_IMPORT_BYTES)
		return err_set(e, "more than %d bytes", LIMIT_IMPORT_BYTES);
	while (off < len) {
		const char *nl = memchr(buf + off, '\n', len - off);
		size_t ll = nl != NULL ? (size_t)(nl - (const char *)buf) - off
		    : len - off;
		struct store_import_line *l, *grown;
		struct err le;
		char *t;

		lineno++;
		if (ll > 0 && buf[off + ll - 1] == '\r')
			ll--;
		if (ll > LIMIT_IMPORT_LINE) {
			snprintf(line, sizeof(line), "longer than %d bytes",
			    LIMIT_IMPORT_LINE);
			import_error(im, lineno, line);
			goto next;
		}
		memcpy(line, buf + off, ll);
		line[ll] = '\0';
		t = import_trim(line);
		if (t[0] == '\0' || t[0] == '#' || (im->n == 0 &&
		    im->errors == 0 && strncasecmp(t, "domain", 6) == 0 &&
		    (t[6] == ',' || t[6] == '\0')))
			goto next;	/* blank, comment, header */
		if (im->n == LIMIT_IMPORT_LINES) {
			import_error(im, lineno, "more domains than one import "
			    "takes");
			break;
		}
		if (im->n == im->cap) {
			size_t cap = im->cap != 0 ? 2 * im->cap : 1024;

			if ((grown = realloc(im->v, cap * sizeof(*grown))) ==
			    NULL)
				return err_set(e, "out of memory");
			im->v = grown;
			im->cap = cap;
		}
		l = &im->v[im->n];
		memset(l, 0, sizeof(*l));
		l->lineno = lineno;
		if (import_parse_line(im, line, ll, l, &le) == -1) {
			import_error(im, lineno, le.msg);
			import_line_free(l);
			goto next;
		}
		im->n++;
		if (im->checked != NULL && im->n % 1000 == 0)
			im->checked(im->arg, im->n);
next:
		off += (nl != NULL ? (size_t)(nl - (const char *)buf) - off + 1 :
		    len - off);
	}
	return 0;
}

static int
import_by_name(const void *a, const void *b)
{
	const struct store_import_line *x =
	    *(struct store_import_line *const *)a;
	const struct store_import_line *y =
	    *(struct store_import_line *const *)b;
	int d = strcmp(x->name, y->name);

	return d != 0 ? d : (x->lineno > y->lineno) - (x->lineno < y->lineno);
}

/* Names a domain that is on two lines (the later one), and leaves it
 * out of the import: the file is refused either way. */
static int
import_twice(struct store_import *im)
{
	struct store_import_line **by;
	char why[LIMIT_DNAME_LEN + 64];
	size_t k = 0;

	if (im->n < 2)
		return 0;
	if ((by = malloc(im->n * sizeof(*by))) == NULL)
		return -1;
	for (size_t i = 0; i < im->n; i++)
		by[i] = &im->v[i];
	qsort(by, im->n, sizeof(*by), import_by_name);
	for (size_t i = 1, first = 0; i < im->n; i++) {
		if (strcmp(by[i]->name, by[first]->name) != 0) {
			first = i;
			continue;
		}
		snprintf(why, sizeof(why), "%s is on line %zu already",
		    by[i]->name, by[first]->lineno);
		import_error(im, by[i]->lineno, why);
		by[i]->name[0] = '\0';		/* left out below */
	}
	/* Keep the lines still named, in file order. */
	for (size_t i = 0; i < im->n; i++) {
		if (im->v[i].name[0] == '\0') {
			import_line_free(&im->v[i]);
			continue;
		}
		im->v[k++] = im->v[i];
	}
	im->n = k;
	free(by);
	return 0;
}

/* The store refused line i: say why, naming another tenant (the store
 * says "X is already hosted (tenant T)") to the operator only. */
static void
import_refused(void *arg, size_t i, const char *why)
{
	struct store_import *im = arg;
	char msg[ERR_MSG_LEN];
	const char *t = strstr(why, " (tenant ");

	snprintf(msg, sizeof(msg), "%s", why);
	if (!im->operator && t != NULL && !(strncmp(t + 9, im->tenant,
	    strlen(im->tenant)) == 0 && t[9 + strlen(im->tenant)] == ')'))
		msg[t - why] = '\0';
	import_error(im, im->v[i].lineno, msg);
}

static void
import_progress(void *arg, size_t done, size_t n)
{
	struct store_import *im = arg;

	if (im->progress != NULL)
		im->progress(im->arg, done, n);
}

int
store_import_apply(struct store *s, struct store_import *im, struct err *e)
{
	struct store_batch_cb cb = { .refused = import_refused,
	    .progress = import_progress, .arg = im };
	struct store_domain_job *jobs;
	int r;

	if (import_twice(im) == -1)
		return err_set(e, "out of memory");
	if (im->n == 0)
		return im->errors > 0 ? 1 : 0;
	/* With errors already, the lines that parsed are still checked
	 * against the store (hosted already, the tenant's limit), so that
	 * one pass names every error; nothing is written then. */
	cb.check_only = im->errors > 0;
	if ((jobs = calloc(im->n, sizeof(*jobs))) == NULL)
		return err_set(e, "out of memory");
	for (size_t i = 0; i < im->n; i++)
		jobs[i] = (struct store_domain_job){ im->v[i].tenant,
		    im->v[i].name, &im->v[i].p };
	r = store_domain_add_batch(s, jobs, im->n, &cb, e);
	free(jobs);
	if (r == -1)
		return -1;
	return im->errors > 0 ? 1 : 0;
}

void
store_import_free(struct store_import *im)
{
	for (size_t i = 0; i < im->n; i++)
		import_line_free(&im->v[i]);
	free(im->v);
	im->v = NULL;
	im->n = im->cap = 0;
}
