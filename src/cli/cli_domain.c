/*
 * cli_domain.c - `stsguard domain add|import|list|show|set|remove`: the
 * hosted domains and the policies served for them. The rules of adding,
 * changing and importing (defaults, checks, the CSV of import) are
 * store_onboard.c's, shared with the REST API; this file prints.
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
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "dns/dns.h"
#include "lib/dname.h"
#include "web/web.h"

/* --mode, --max-age and --mx as asked of a policy. */
static struct store_ask
cli_domain_ask(const struct cli *c)
{
	return (struct store_ask){ c->mode, c->max_age,
	    (const char *const *)c->mx.v, c->mx.n };
}

/* Checks --mode, --mx and --max-age on p (the current policy for `set`,
 * the defaults for `add`) before the store is opened, so that a bad
 * flag is named as a flag ("--mode: ..."); the store call applies them
 * (store_onboard.c). */
static int
cli_domain_policy(struct cli *c, const struct policy *cur)
{
	struct store_ask a = cli_domain_ask(c);
	struct policy p = { .mode = STORE_DEFAULT_MODE,
	    .max_age = STORE_DEFAULT_MAX_AGE };
	struct err e;
	int r;

	if (cur != NULL && policy_copy(&p, cur) == -1)
		return cli_fail(CLI_USAGE, "out of memory");
	r = policy_apply(&p, a.mode, a.max_age, a.mx, a.nmx, &e);
	policy_free(&p);
	if (r == -1)
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

/* The record the owner publishes now, and why. */
static void
cli_domain_publish(const struct dns_rr *rr)
{
	printf("\nA new policy id: publish this record now (senders keep the "
	    "policy they hold until they see the new id):\n");
	printf("  %s  %s  \"%s\"\n", rr->name, rr->type, rr->value);
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

/* Prints d after a change, as text or JSON; before, when not NULL, is
 * the domain before it (set): the record to publish now when the id
 * changed (web_publish_json, dns_publish_now). */
static int
cli_domain_done(struct cli *c, const struct store_domain *before,
    const struct store_domain *d)
{
	struct dns_rr rr;

	if (c->json) {
		json_t *o = web_domain_json(d);

		if (before != NULL)
			json_object_set_new(o, "publish",
			    web_publish_json(before, d,
			    conf_get(&c->conf, CONF_DNS_ZONE) != NULL));
		cli_print_json(o);
		return CLI_OK;
	}
	cli_domain_print(d);
	if (before != NULL && dns_publish_now(d->name, before->policy_id,
	    d->policy_id, conf_get(&c->conf, CONF_DNS_ZONE) != NULL,
	    &rr) == 1)
		cli_domain_publish(&rr);
	return CLI_OK;
}

/* --- domain add DOMAIN --mx auto -------------------------------------
 *
 * The mx patterns from the domain's MX records (the shared resolver,
 * the nameserver setting), through the mx templates of hosted mail
 * providers (policy_template_map; an MX of no known provider stands for
 * itself). The policy is shown before it is saved: --dry-run stops
 * there; a terminal is asked; otherwise --yes must say so, because a
 * script that saved whatever the DNS said today would be wrong quietly
 * the day the MX records are. */

/* Fills c->mx with the patterns; the preview goes to f. Returns 0, or
 * an exit code after printing why; *stop when nothing is to be saved
 * (dry run) with exit code 0. */
static int
cli_domain_auto(struct cli *c, const char *name, FILE *f, bool *stop)
{
	struct policy_templates t = { 0 };
	const struct policy_template *used[LIMIT_CHECK_MX];
	const char *hosts[LIMIT_CHECK_MX];
	struct dns_resolver *res = NULL;
	struct dns_conf dc;
	struct dns_mx *mx = NULL;
	struct strv pats = { 0 };
	struct policy p = { .mode = STORE_DEFAULT_MODE,
	    .max_age = STORE_DEFAULT_MAX_AGE };
	struct err e;
	char answer[16], *body = NULL;
	size_t n = 0, blen;
	int rc, r;

	*stop = false;
	if ((rc = cli_templates(c, &t)) != 0)
		return rc;
	rc = CLI_USAGE;
	if ((mx = calloc(LIMIT_CHECK_MX, sizeof(*mx))) == NULL) {
		rc = cli_fail(CLI_USAGE, "out of memory");
		goto out;
	}
	dc = dns_conf_get(&c->conf);
	if (dns_resolver_new(&dc, &res, &e) == -1) {
		rc = cli_fail(CLI_USAGE, "%s", e.msg);
		goto out;
	}
	r = dns_mx(res, name, mx, LIMIT_CHECK_MX, &n, &e);
	if (r == DNS_FAILED) {
		rc = cli_fail(CLI_USAGE, "--mx auto: the MX lookup of %s "
		    "failed: %s", name, e.msg);
		goto out;
	}
	if (r == DNS_NONE || n == 0) {
		rc = cli_fail(CLI_INVALID, "--mx auto: %s has no MX record; "
		    "give the mx patterns with --mx", name);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		hosts[i] = mx[i].host;
	if (policy_template_map(&t, hosts, n, &pats, used, &e) == -1) {
		rc = cli_fail(CLI_INVALID, "--mx auto: %s: %s", name, e.msg);
		goto out;
	}
	if (policy_apply(&p, c->mode, c->max_age, (const char *const *)
	    pats.v, pats.n, &e) == -1) {
		rc = cli_fail(CLI_INVALID, "%s%s", strncmp(e.msg, "policy:",
		    7) != 0 && strncmp(e.msg, "mx ", 3) != 0 ? "--" : "--mx "
		    "auto: ", e.msg);
		goto out;
	}
	fprintf(f, "MX records of %s:\n", name);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "  %-5u %-40s ", mx[i].pref, mx[i].host);
		if (used[i] != NULL) {
			fprintf(f, "%s:", used[i]->provider);
			for (size_t k = 0; k < used[i]->npat; k++)
				fprintf(f, " %s", used[i]->pat[k]);
			fprintf(f, " (%s)\n", used[i]->doc);
		} else {
			fprintf(f, "no provider template: as it is\n");
		}
	}
	if ((body = policy_render(&p, &blen)) == NULL) {
		rc = cli_fail(CLI_USAGE, "out of memory");
		goto out;
	}
	fprintf(f, "Policy for https://mta-sts.%s/.well-known/mta-sts.txt:\n",
	    name);
	for (char *l = body, *nl; *l != '\0'; l = nl + 1) {
		if ((nl = strchr(l, '\n')) == NULL)
			nl = l + strlen(l) - 1;
		fprintf(f, "  %.*s\n", (int)(nl - l - (nl > l &&
		    nl[-1] == '\r')), l);
	}
	fflush(f);
	if (c->dry_run) {
		fprintf(f, "Dry run: nothing saved.\n");
		*stop = true;
		rc = CLI_OK;
		goto out;
	}
	if (!c->yes) {
		if (isatty(STDIN_FILENO) != 1) {
			rc = cli_fail(CLI_USAGE, "--mx auto: not saved; add "
			    "--yes to save without asking (stdin is not a "
			    "terminal)");
			goto out;
		}
		fprintf(stderr, "Host %s with this policy? [y/N] ", name);
		fflush(stderr);
		if (fgets(answer, sizeof(answer), stdin) == NULL ||
		    (strcmp(answer, "y\n") != 0 &&
		    strcmp(answer, "yes\n") != 0 &&
		    strcmp(answer, "Y\n") != 0)) {
			rc = cli_fail(CLI_INVALID, "not saved");
			goto out;
		}
	}
	strv_free(&c->mx);
	c->mx = pats;
	memset(&pats, 0, sizeof(pats));
	rc = 0;
out:
	free(body);
	policy_free(&p);
	strv_free(&pats);
	free(mx);
	dns_resolver_free(res);
	policy_templates_free(&t);
	return rc;
}

static int
cli_domain_add(struct cli *c)
{
	struct store_domain d = { 0 };
	struct store_ask a;
	char name[LIMIT_DNAME_LEN + 1];
	struct store *s;
	struct err e;
	bool stop;
	int rc, r;

	if ((rc = cli_domain_arg(c->args.v[0], name)) != 0)
		return rc;
	for (size_t i = 0; i < c->mx.n; i++)
		if (strcmp(c->mx.v[i], "auto") == 0 && c->mx.n > 1)
			return cli_fail(CLI_USAGE, "--mx auto stands alone "
			    "(no other --mx with it)");
	if (c->mx.n == 1 && strcmp(c->mx.v[0], "auto") == 0) {
		if ((rc = cli_domain_auto(c, name, c->json ? stderr : stdout,
		    &stop)) != 0 || stop)
			return rc;
	} else if (c->dry_run || c->yes) {
		return cli_fail(CLI_USAGE, "--dry-run and --yes go with "
		    "--mx auto");
	}
	if ((rc = cli_domain_policy(c, NULL)) != 0)
		return rc;
	a = cli_domain_ask(c);
	if ((s = cli_store(c)) == NULL)
		return CLI_USAGE;
	r = store_domain_create(s, conf_get(&c->conf, CONF_TENANT), name, &a,
	    true, &d, &e);
	rc = r == 0 ? cli_domain_done(c, NULL, &d) : cli_fail(r > 0 ?
	    CLI_INVALID :
	    CLI_USAGE, "%s", e.msg);
	store_domain_free(&d);
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

struct cli_import_run {
	size_t	 shown;			/* errors said */
	bool	 tty;			/* progress on stderr */
};

static void
cli_import_error(void *arg, size_t lineno, const char *why)
{
	struct cli_import_run *run = arg;

	if (run->shown++ < LIMIT_IMPORT_ERRORS) {
		fprintf(stderr, "%sstsguard: line %zu: ", run->tty ? "\r" : "",
		    lineno);
		cli_put_safe(stderr, why);
		fputc('\n', stderr);
	}
}

static void
cli_import_checked(void *arg, size_t n)
{
	struct cli_import_run *run = arg;

	if (run->tty)
		fprintf(stderr, "\rdomain import: %zu lines checked", n);
}

static void
cli_import_progress(void *arg, size_t done, size_t n)
{
	struct cli_import_run *run = arg;

	if (run->tty)
		fprintf(stderr, "\rdomain import: %zu of %zu added", done, n);
}

static int
cli_domain_import(struct cli *c)
{
	struct cli_import_run run = { .tty = isatty(STDERR_FILENO) == 1 };
	struct store_import im = { .tenant = conf_get(&c->conf, CONF_TENANT),
	    .operator = true, .error = cli_import_error,
	    .checked = cli_import_checked, .progress = cli_import_progress,
	    .arg = &run };
	uint8_t *buf = NULL;
	size_t len;
	struct store *s;
	struct err e;
	int rc = CLI_USAGE, r;

	if (cli_read_file(c->args.v[0], LIMIT_IMPORT_BYTES, &buf, &len,
	    &e) == -1)
		return cli_fail(CLI_USAGE, "%s: %s", c->args.v[0], e.msg);
	if (store_import_parse(&im, buf, len, &e) == -1) {
		rc = cli_fail(CLI_USAGE, "%s: %s", c->args.v[0], e.msg);
		goto out;
	}
	if (im.errors == 0 && im.n == 0) {
		rc = cli_fail(CLI_INVALID, "%s: no domain in it",
		    c->args.v[0]);
		goto out;
	}
	if ((s = cli_store(c)) == NULL)
		goto out;
	r = store_import_apply(s, &im, &e);
	if (run.tty)
		fputc('\n', stderr);
	if (r == -1) {
		rc = cli_fail(CLI_USAGE, "%s", e.msg);
		goto out;
	}
	if (im.errors > 0) {
		if (im.errors > LIMIT_IMPORT_ERRORS)
			fprintf(stderr, "stsguard: ... and %zu more\n",
			    im.errors - LIMIT_IMPORT_ERRORS);
		rc = cli_fail(CLI_INVALID, "%s: %zu line(s) refused; nothing "
		    "imported", c->args.v[0], im.errors);
		goto out;
	}
	printf("imported %zu domains\n", im.n);
	rc = CLI_OK;
out:
	store_import_free(&im);
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
	struct store_ask a = cli_domain_ask(c);
	struct store *s;
	struct err e;
	int rc, r;

	if ((rc = cli_domain_load(c, &s, &d)) != 0)
		goto out;
	if (!d.removed && (rc = cli_domain_policy(c, &d.policy)) != 0)
		goto out;
	r = store_domain_change(s, &d, &a, &nd, &e);
	rc = r == 0 ? cli_domain_done(c, &d, &nd) : cli_fail(r > 0 ?
	    CLI_INVALID : CLI_USAGE, "%s", e.msg);
out:
	store_domain_free(&d);
	store_domain_free(&nd);
	return rc;
}

static int
cli_domain_remove(struct cli *c)
{
	struct store_domain d = { 0 }, nd = { 0 };
	struct store *s;
	struct dns_rr rr;
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
		json_t *o = web_domain_json(&nd);

		json_object_set_new(o, "publish", web_publish_json(&d, &nd,
		    conf_get(&c->conf, CONF_DNS_ZONE) != NULL));
		cli_print_json(o);
		goto out;
	}
	printf("%s removed: serving mode none (policy id %s) until %s, "
	    "then nothing.\n", nd.name, nd.policy_id,
	    cli_time(nd.serve_until, t));
	if (dns_publish_now(nd.name, d.policy_id, nd.policy_id,
	    conf_get(&c->conf, CONF_DNS_ZONE) != NULL, &rr) == 1)
		printf("Publish now, so that senders fetch mode none: %s %s "
		    "\"%s\"\n", rr.name, rr.type, rr.value);
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

static const struct cli_flag cli_domain_add_flags[] = {
	{ CLI_F_JSON, "json", NULL, "print JSON" },
	{ CLI_F_MODE, "mode", "testing|enforce|none", "policy mode "
	    "[testing for a new domain]" },
	{ CLI_F_MX, "mx", "PATTERN|auto", "an mx host or *.domain pattern "
	    "(repeat for several); auto: from the domain's MX records and "
	    "the mx templates of known mail providers, shown first" },
	{ CLI_F_MAX_AGE, "max-age", "SECONDS", "policy max_age [604800]" },
	{ CLI_F_DRY_RUN, "dry-run", NULL, "with --mx auto: show the policy, "
	    "save nothing" },
	{ CLI_F_YES, "yes", NULL, "with --mx auto: save without asking (a "
	    "terminal is asked; otherwise --yes is required)" },
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
	{ "domain add", "DOMAIN [--mode M] [--mx PATTERN]... | --mx auto "
	    "[--dry-run|--yes] [--max-age SECONDS]", "host a domain's "
	    "MTA-STS policy", cli_domain_add_flags, true, cli_domain_add,
	    1, 1 },
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
