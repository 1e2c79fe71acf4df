/*
 * cli_domain.c - `stsguard domain add|list|show|set|remove`: the hosted
 * domains and the policies served for them.
 *
 * Names and mx patterns typed as U-labels are stored as A-labels. The
 * store gives a domain a new policy id whenever what would be served
 * changes, and keeps a removed domain served as mode none for its last
 * max_age (RFC 8461 §8.3).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "lib/csv.h"
#include "lib/dname.h"
#include "web/web.h"

/* A new domain starts in testing mode with a one-week max_age: long
 * enough to be useful, short enough to move to enforce soon. */
#define CLI_DEFAULT_MODE POLICY_MODE_TESTING
#define CLI_DEFAULT_MAX_AGE 604800u

/* Applies --mode, --mx and --max-age to p (which holds the current policy
 * for `set`, defaults for `add`) and validates the result. */
static int
cli_domain_policy(struct cli *c, struct policy *p)
{
	struct err e;

	if (policy_apply(p, c->mode, c->max_age,
	    (const char *const *)c->mx.v, c->mx.n, &e) == -1)
		return cli_fail(CLI_INVALID, "%s%s", strncmp(e.msg, "policy:",
		    7) != 0 ? "--" : "", e.msg);	/* names the flag */
	return 0;
}

static int
cli_domain_history_json(void *arg, const char *id, time_t since,
    const char *body)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_string(id));
	json_object_set_new(o, "since", cli_json_time(since));
	json_array_append_new(arg, o);
	return 0;
}

static int
cli_domain_history_text(void *arg, const char *id, time_t since,
    const char *body)
{
	char t[21];

	printf("  %-26s since %s\n", id, cli_time(since, t));
	return 0;
}

static void
cli_domain_print(const struct store_domain *d)
{
	char t[21];

	printf("domain:      %s\n", d->name);
	printf("tenant:      %s\n", d->tenant);
	if (d->removed) {
		printf("status:      removed %s, ", cli_time(d->removed, t));
		printf("serving mode none until %s\n",
		    cli_time(d->serve_until, t));
	} else {
		printf("status:      active\n");
	}
	printf("mode:        %s\n", policy_mode_name(d->policy.mode));
	for (size_t i = 0; i < d->policy.mx.n; i++)
		printf("mx:          %s\n", d->policy.mx.v[i]);
	printf("max_age:     %u\n", d->policy.max_age);
	printf("policy id:   %s\n", d->policy_id);
	printf("created:     %s\n", cli_time(d->created, t));
	printf("updated:     %s\n", cli_time(d->updated, t));
}

/* Prints d after a change, as text or JSON. */
static int
cli_domain_done(struct cli *c, const struct store_domain *d)
{
	if (c->json)
		cli_print_json(web_domain_json(d));
	else
		cli_domain_print(d);
	return CLI_OK;
}

static int
cli_domain_add(struct cli *c)
{
	struct store_domain d = { 0 };
	struct policy p = { 0 };
	char name[LIMIT_DNAME_LEN + 1];
	struct store *s;
	struct err e;
	int rc;

	p.mode = CLI_DEFAULT_MODE;
	p.max_age = CLI_DEFAULT_MAX_AGE;
	if ((rc = cli_domain_arg(c->args.v[0], name)) != 0 ||
	    (rc = cli_domain_policy(c, &p)) != 0)
		goto out;
	if ((s = cli_store(c)) == NULL) {
		rc = CLI_USAGE;
		goto out;
	}
	if (store_domain_add(s, conf_get(&c->conf, CONF_TENANT), name, &p,
	    &d, &e) == -1) {
		rc = cli_fail(CLI_INVALID, "%s", e.msg);
		goto out;
	}
	rc = cli_domain_done(c, &d);
out:
	store_domain_free(&d);
	policy_free(&p);
	return rc;
}

/* --- domain import FILE ----------------------------------------------
 *
 * Bulk onboarding: one domain a line, comma-separated (csv.h),
 *
 *	domain,tenant,mode,mx,max_age
 *	example.com,acme,enforce,mx1.example.com *.mail.example.net,86400
 *	example.org,,testing,"mx.example.org;mx2.example.org",
 *
 * a header line (first column "domain") and blank or "#" lines skipped;
 * an empty tenant, mode or max_age takes the default of `domain add`
 * (the tenant setting, testing, one week); mx patterns are separated by
 * blanks or ';'. Every line is checked first and each error said with
 * its line number; then all domains are added in one transaction, or
 * none (store domain_add_batch). A terminal sees the progress. */

/* One line of the file, checked. */
struct cli_import_line {
	size_t	 lineno;
	char	*name;			/* normalized */
	char	*tenant;
	struct policy p;
};

struct cli_import_run {
	struct cli_import_line *v;
	size_t	 n, errors;
	bool	 tty;			/* progress on stderr */
};

static void
cli_import_error(struct cli_import_run *run, size_t lineno, const char *why)
{
	if (run->errors++ < LIMIT_IMPORT_ERRORS) {
		fprintf(stderr, "%sstsguard: line %zu: ", run->tty ? "\r" : "",
		    lineno);
		cli_put_safe(stderr, why);
		fputc('\n', stderr);
	}
}

static void
cli_import_refused(void *arg, size_t i, const char *why)
{
	struct cli_import_run *run = arg;

	cli_import_error(run, run->v[i].lineno, why);
}

static void
cli_import_progress(void *arg, size_t done, size_t n)
{
	struct cli_import_run *run = arg;

	if (run->tty)
		fprintf(stderr, "\rdomain import: %zu of %zu added", done, n);
}

/* Blanks off both ends of s, in place. */
static char *
cli_trim(char *s)
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
cli_import_parse(struct cli *c, char *line, size_t len,
    struct cli_import_line *l, struct err *e)
{
	char *f[5], *mxv[LIMIT_POLICY_MX], *tok, *save = NULL;
	char name[LIMIT_DNAME_LEN + 1];
	const char *tenant;
	size_t n, nmx = 0;

	if (csv_split(line, len, f, 5, &n, e) == -1)
		return -1;
	for (size_t i = 0; i < n; i++)
		f[i] = cli_trim(f[i]);
	if (dname_normalize(f[0], strlen(f[0]), false, name, e) == -1) {
		err_prefix(e, "domain '%s': ", f[0]);
		return -1;
	}
	tenant = n > 1 && f[1][0] != '\0' ? f[1] :
	    conf_get(&c->conf, CONF_TENANT);
	if (strlen(tenant) > STORE_TENANT_LEN)
		return err_set(e, "tenant: at most %d characters",
		    STORE_TENANT_LEN);
	for (tok = n > 3 ? strtok_r(f[3], " \t;", &save) : NULL; tok != NULL;
	    tok = strtok_r(NULL, " \t;", &save)) {
		if (nmx == LIMIT_POLICY_MX)
			return err_set(e, "mx: more than %d patterns",
			    LIMIT_POLICY_MX);
		mxv[nmx++] = tok;
	}
	l->p.mode = CLI_DEFAULT_MODE;
	l->p.max_age = CLI_DEFAULT_MAX_AGE;
	if (policy_apply(&l->p, n > 2 ? f[2] : NULL, n > 4 ? f[4] : NULL,
	    (const char *const *)mxv, nmx, e) == -1)
		return -1;
	if ((l->name = strdup(name)) == NULL ||
	    (l->tenant = strdup(tenant)) == NULL)
		return err_set(e, "out of memory");
	return 0;
}

static int
cli_import_by_name(const void *a, const void *b)
{
	const struct cli_import_line *x = *(struct cli_import_line *const *)a;
	const struct cli_import_line *y = *(struct cli_import_line *const *)b;
	int d = strcmp(x->name, y->name);

	return d != 0 ? d : (x->lineno > y->lineno) - (x->lineno < y->lineno);
}

/* Names a domain that is on two lines (the later one), and leaves it
 * out of the import: the file is refused either way. */
static int
cli_import_twice(struct cli_import_run *run)
{
	struct cli_import_line **by;
	char why[LIMIT_DNAME_LEN + 64];
	size_t k = 0;

	if (run->n < 2)
		return 0;
	if ((by = malloc(run->n * sizeof(*by))) == NULL)
		return -1;
	for (size_t i = 0; i < run->n; i++)
		by[i] = &run->v[i];
	qsort(by, run->n, sizeof(*by), cli_import_by_name);
	for (size_t i = 1, first = 0; i < run->n; i++) {
		if (strcmp(by[i]->name, by[first]->name) != 0) {
			first = i;
			continue;
		}
		snprintf(why, sizeof(why), "%s is on line %zu already",
		    by[i]->name, by[first]->lineno);
		cli_import_error(run, by[i]->lineno, why);
		by[i]->name[0] = '\0';		/* left out below */
	}
	/* Keep the lines still named, in file order. */
	for (size_t i = 0; i < run->n; i++) {
		if (run->v[i].name[0] == '\0') {
			free(run->v[i].name);
			free(run->v[i].tenant);
			policy_free(&run->v[i].p);
			continue;
		}
		run->v[k++] = run->v[i];
	}
	run->n = k;
	free(by);
	return 0;
}

static int
cli_domain_import(struct cli *c)
{
	struct cli_import_run run = { .tty = isatty(STDERR_FILENO) == 1 };
	struct store_batch_cb cb = { .refused = cli_import_refused,
	    .progress = cli_import_progress, .arg = &run };
	struct store_domain_job *jobs = NULL;
	char line[LIMIT_IMPORT_LINE + 1];
	size_t len, lineno = 0, off = 0, cap = 0;
	uint8_t *buf = NULL;
	struct store *s;
	struct err e;
	int rc = CLI_USAGE, r;

	if (cli_read_file(c->args.v[0], LIMIT_IMPORT_BYTES, &buf, &len,
	    &e) == -1)
		return cli_fail(CLI_USAGE, "%s: %s", c->args.v[0], e.msg);
	while (off < len) {
		const char *nl = memchr(buf + off, '\n', len - off);
		size_t ll = nl != NULL ? (size_t)(nl - (const char *)buf) - off
		    : len - off;
		struct cli_import_line *l, *grown;

		lineno++;
		if (ll > 0 && buf[off + ll - 1] == '\r')
			ll--;
		if (ll > LIMIT_IMPORT_LINE) {
			snprintf(line, sizeof(line), "longer than %d bytes",
			    LIMIT_IMPORT_LINE);
			cli_import_error(&run, lineno, line);
			goto next;
		}
		memcpy(line, buf + off, ll);
		line[ll] = '\0';
		if (cli_trim(line)[0] == '\0' || cli_trim(line)[0] == '#' ||
		    (run.n == 0 && run.errors == 0 &&
		    strncasecmp(cli_trim(line), "domain", 6) == 0 &&
		    (cli_trim(line)[6] == ',' || cli_trim(line)[6] == '\0')))
			goto next;	/* blank, comment, header */
		if (run.n == LIMIT_IMPORT_LINES) {
			cli_import_error(&run, lineno, "more domains than one "
			    "import takes");
			break;
		}
		if (run.n == cap) {
			cap = cap != 0 ? 2 * cap : 1024;
			if ((grown = realloc(run.v, cap * sizeof(*grown))) ==
			    NULL) {
				rc = cli_fail(CLI_USAGE, "out of memory");
				goto out;
			}
			run.v = grown;
		}
		l = &run.v[run.n];
		memset(l, 0, sizeof(*l));
		l->lineno = lineno;
		if (cli_import_parse(c, line, ll, l, &e) == -1) {
			cli_import_error(&run, lineno, e.msg);
			free(l->name);
			free(l->tenant);
			policy_free(&l->p);
			goto next;
		}
		run.n++;
		if (run.tty && run.n % 1000 == 0)
			fprintf(stderr, "\rdomain import: %zu lines checked",
			    run.n);
next:
		off += (nl != NULL ? (size_t)(nl - (const char *)buf) - off + 1 :
		    len - off);
	}
	if (cli_import_twice(&run) == -1) {
		rc = cli_fail(CLI_USAGE, "out of memory");
		goto out;
	}
	if (run.errors == 0 && run.n == 0) {
		rc = cli_fail(CLI_INVALID, "%s: no domain in it",
		    c->args.v[0]);
		goto out;
	}
	/* With errors already, the lines that parsed are still checked
	 * against the store (hosted already, twice in the file), so that
	 * one pass names every error; nothing is written then. */
	cb.check_only = run.errors > 0;
	if (run.n > 0) {
		if ((jobs = calloc(run.n, sizeof(*jobs))) == NULL) {
			rc = cli_fail(CLI_USAGE, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < run.n; i++)
			jobs[i] = (struct store_domain_job){ run.v[i].tenant,
			    run.v[i].name, &run.v[i].p };
		if ((s = cli_store(c)) == NULL)
			goto out;
		r = store_domain_add_batch(s, jobs, run.n, &cb, &e);
		if (run.tty)
			fputc('\n', stderr);
		if (r == -1) {
			rc = cli_fail(CLI_USAGE, "%s", e.msg);
			goto out;
		}
	}
	if (run.errors > 0) {
		if (run.errors > LIMIT_IMPORT_ERRORS)
			fprintf(stderr, "stsguard: ... and %zu more\n",
			    run.errors - LIMIT_IMPORT_ERRORS);
		rc = cli_fail(CLI_INVALID, "%s: %zu line(s) refused; nothing "
		    "imported", c->args.v[0], run.errors);
		goto out;
	}
	printf("imported %zu domains\n", run.n);
	rc = CLI_OK;
out:
	for (size_t i = 0; i < run.n; i++) {
		free(run.v[i].name);
		free(run.v[i].tenant);
		policy_free(&run.v[i].p);
	}
	free(run.v);
	free(jobs);
	free(buf);
	return rc;
}

/* Loads the domain named by the first argument. Returns 0, or an exit
 * code after printing why. */
static int
cli_domain_load(struct cli *c, struct store **s, struct store_domain *d)
{
	char name[LIMIT_DNAME_LEN + 1];
	struct err e;
	int r;

	if ((r = cli_domain_arg(c->args.v[0], name)) != 0)
		return r;
	if ((*s = cli_store(c)) == NULL)
		return CLI_USAGE;
	r = store_domain_get(*s, name, d, &e);
	if (r == -1)
		return cli_fail(CLI_USAGE, "%s", e.msg);
	if (r == 1)
		return cli_fail(CLI_INVALID, "%s is not a hosted domain",
		    name);
	return 0;
}

static int
cli_domain_show(struct cli *c)
{
	struct store_domain d = { 0 };
	struct store *s;
	struct err e;
	json_t *o, *h;
	int rc;

	if ((rc = cli_domain_load(c, &s, &d)) != 0)
		goto out;
	if (c->json) {
		o = web_domain_json(&d);
		h = json_array();
		if (store_domain_history(s, d.name, cli_domain_history_json,
		    h, &e) == -1) {
			json_decref(o);
			json_decref(h);
			rc = cli_fail(CLI_USAGE, "%s", e.msg);
			goto out;
		}
		json_object_set_new(o, "history", h);
		cli_print_json(o);
		goto out;
	}
	cli_domain_print(&d);
	printf("policy ids:\n");
	if (store_domain_history(s, d.name, cli_domain_history_text, NULL,
	    &e) == -1) {
		rc = cli_fail(CLI_USAGE, "%s", e.msg);
		goto out;
	}
out:
	store_domain_free(&d);
	return rc;
}

static int
cli_domain_set(struct cli *c)
{
	struct store_domain d = { 0 }, nd = { 0 };
	struct policy p = { 0 };
	struct store *s;
	struct err e;
	int rc, r;

	if ((rc = cli_domain_load(c, &s, &d)) != 0)
		goto out;
	if (d.removed) {
		rc = cli_fail(CLI_INVALID, "%s was removed; `domain add` "
		    "brings it back", d.name);
		goto out;
	}
	if (policy_copy(&p, &d.policy) == -1) {
		rc = cli_fail(CLI_USAGE, "out of memory");
		goto out;
	}
	if ((rc = cli_domain_policy(c, &p)) != 0)
		goto out;
	r = store_domain_set(s, d.name, &p, &nd, &e);
	if (r != 0) {
		rc = cli_fail(r == 1 ? CLI_INVALID : CLI_USAGE, "%s",
		    r == 1 ? "no such domain" : e.msg);
		goto out;
	}
	rc = cli_domain_done(c, &nd);
out:
	store_domain_free(&d);
	store_domain_free(&nd);
	policy_free(&p);
	return rc;
}

static int
cli_domain_remove(struct cli *c)
{
	struct store_domain d = { 0 }, nd = { 0 };
	struct store *s;
	struct err e;
	char t[21];
	int rc, r;

	if ((rc = cli_domain_load(c, &s, &d)) != 0)
		goto out;
	r = store_domain_remove(s, d.name, time(NULL), &nd, &e);
	if (r != 0) {
		rc = cli_fail(r == 1 ? CLI_INVALID : CLI_USAGE, "%s: %s",
		    d.name, r == 1 ? "already removed" : e.msg);
		goto out;
	}
	if (c->json) {
		cli_print_json(web_domain_json(&nd));
		goto out;
	}
	printf("%s removed: serving mode none (policy id %s) until %s, "
	    "then nothing.\n", nd.name, nd.policy_id,
	    cli_time(nd.serve_until, t));
	printf("Remove the _mta-sts and mta-sts records after that time.\n");
out:
	store_domain_free(&d);
	store_domain_free(&nd);
	return rc;
}

static int
cli_domain_list_row(void *arg, const struct store_domain *d)
{
	char mx[256] = "";
	size_t off = 0;

	for (size_t i = 0; i < d->policy.mx.n && off < sizeof(mx); i++)
		off += (size_t)snprintf(mx + off, sizeof(mx) - off, "%s%s",
		    i ? "," : "", d->policy.mx.v[i]);
	printf("%-30s %-8s %-8s %-26s %s\n", d->name,
	    d->removed ? "removed" : "active",
	    policy_mode_name(d->policy.mode), d->policy_id,
	    d->policy.mx.n ? mx : "-");
	return 0;
}

static int
cli_domain_list_json(void *arg, const struct store_domain *d)
{
	json_array_append_new(arg, web_domain_json(d));
	return 0;
}

static int
cli_domain_list(struct cli *c)
{
	struct store *s;
	struct err e;
	json_t *a;

	if ((s = cli_store(c)) == NULL)
		return CLI_USAGE;
	if (c->json) {
		a = json_array();
		if (store_domain_list(s, cli_domain_list_json, a, &e) == -1) {
			json_decref(a);
			return cli_fail(CLI_USAGE, "%s", e.msg);
		}
		cli_print_json(a);
		return CLI_OK;
	}
	printf("%-30s %-8s %-8s %-26s %s\n", "DOMAIN", "STATUS", "MODE",
	    "POLICY ID", "MX");
	if (store_domain_list(s, cli_domain_list_row, c, &e) == -1)
		return cli_fail(CLI_USAGE, "%s", e.msg);
	return CLI_OK;
}

static const struct cli_flag cli_domain_policy_flags[] = {
	{ CLI_F_JSON, "json", NULL, "print JSON" },
	{ CLI_F_MODE, "mode", "testing|enforce|none", "policy mode "
	    "[testing for a new domain]" },
	{ CLI_F_MX, "mx", "PATTERN", "an mx host or *.domain pattern "
	    "(repeat for several)" },
	{ CLI_F_MAX_AGE, "max-age", "SECONDS", "policy max_age [604800]" },
	{ 0, NULL, NULL, NULL },
};

static const struct cli_flag cli_no_import_flags[] = {
	{ 0, NULL, NULL, NULL },
};

static const struct cli_flag cli_domain_flags[] = {
	{ CLI_F_JSON, "json", NULL, "print JSON" },
	{ 0, NULL, NULL, NULL },
};

const struct cli_cmd cli_domain_cmds[] = {
	{ "domain add", "DOMAIN [--mode M] [--mx PATTERN]... "
	    "[--max-age SECONDS]", "host a domain's MTA-STS policy",
	    cli_domain_policy_flags, true, cli_domain_add, 1, 1 },
	{ "domain import", "FILE", "add many domains from a CSV file "
	    "(domain,tenant,mode,mx,max_age): all of them, or none",
	    cli_no_import_flags, true, cli_domain_import, 1, 1 },
	{ "domain list", "", "list hosted domains", cli_domain_flags, true,
	    cli_domain_list, 0, 0 },
	{ "domain show", "DOMAIN", "show a domain, its policy and its policy "
	    "ids", cli_domain_flags, true, cli_domain_show, 1, 1 },
	{ "domain set", "DOMAIN [--mode M] [--mx PATTERN]... "
	    "[--max-age SECONDS]", "change a domain's policy (a new policy "
	    "id when it changes)", cli_domain_policy_flags, true,
	    cli_domain_set, 1, 1 },
	{ "domain remove", "DOMAIN", "stop hosting a domain safely (RFC "
	    "8461 §8.3)", cli_domain_flags, true, cli_domain_remove, 1, 1 },
	{ NULL, NULL, NULL, NULL, false, NULL, 0, 0 },
};
