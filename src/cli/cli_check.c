/*
 * cli_check.c - `stsguard check DOMAIN... [--file FILE]`: checks domains
 * the way a sending MTA would (src/check/), several at once, and prints
 * what passes, what warns and what fails, with what to fix. A domain
 * this data dir hosts is also compared with what stsguard serves.
 * Exit 1 when any domain has a failure.
 */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check/check.h"
#include "cli.h"
#include "dns/dns.h"
#include "lib/dname.h"

static void
cli_check_progress(size_t done, size_t total)
{
	fprintf(stderr, "\rchecked %zu of %zu domains", done, total);
	if (done == total)
		fprintf(stderr, "\r\033[K");
	fflush(stderr);
}

/* Adds the domains of --file: one a line, '#' comments, blanks ignored. */
static int
cli_check_file(const char *path, struct strv *out)
{
	uint8_t *buf;
	size_t len, lineno = 0;
	struct err e;
	char *p, *nl;

	if (cli_read_file(path, (size_t)LIMIT_CHECK_DOMAINS * 256, &buf, &len,
	    &e) == -1)
		return cli_fail(CLI_USAGE, "%s", e.msg);
	for (p = (char *)buf; p < (char *)buf + len; p = nl + 1) {
		char *end;

		lineno++;
		if ((nl = memchr(p, '\n', (size_t)((char *)buf + len - p))) ==
		    NULL)
			nl = (char *)buf + len;
		*nl = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		end = p + strlen(p);
		while (end > p && (end[-1] == ' ' || end[-1] == '\t' ||
		    end[-1] == '\r'))
			*--end = '\0';
		if (*p == '\0' || *p == '#')
			continue;
		if (out->n >= LIMIT_CHECK_DOMAINS) {
			free(buf);
			return cli_fail(CLI_USAGE, "%s: more than %d domains",
			    path, LIMIT_CHECK_DOMAINS);
		}
		if (strv_push(out, p) == -1) {
			free(buf);
			return cli_fail(CLI_USAGE, "out of memory");
		}
	}
	free(buf);
	return 0;
}

/* What this data dir serves for name, when it hosts it. Without a
 * database in the data dir nothing is hosted (and none is created). */
static int
cli_check_hosted(struct cli *c, const char *name, const char *sh,
    struct check_hosted_info *h)
{
	char db[4096];
	struct stat st;
	struct store_domain d = { 0 };
	struct store *s;
	struct err e;
	int r;

	memset(h, 0, sizeof(*h));
	snprintf(db, sizeof(db), "%s/stsguard.db",
	    conf_get(&c->conf, CONF_DATA_DIR));
	if (stat(db, &st) == -1)
		return 0;
	if ((s = cli_store(c)) == NULL)
		return CLI_USAGE;
	if ((r = store_domain_get(s, name, &d, &e)) == -1)
		return cli_fail(CLI_USAGE, "%s", e.msg);
	if (r == 0 && d.removed == 0) {
		h->hosted = true;
		snprintf(h->policy_id, sizeof(h->policy_id), "%s",
		    d.policy_id);
		snprintf(h->service_host, sizeof(h->service_host), "%s", sh);
		snprintf(h->own_prefix, sizeof(h->own_prefix),
		    "mailto:tlsrpt+%s@%s", d.token, sh);
	}
	if (r == 0)
		store_domain_free(&d);
	return 0;
}

static json_t *
cli_check_json(const struct check_report *r)
{
	json_t *o = json_object(), *a = json_array();

	json_object_set_new(o, "domain", json_string(r->domain));
	json_object_set_new(o, "verdict", json_string(r->nfail ? "fail" :
	    r->nwarn ? "warn" : "pass"));
	json_object_set_new(o, "failures", json_integer((json_int_t)r->nfail));
	json_object_set_new(o, "warnings", json_integer((json_int_t)r->nwarn));
	for (size_t i = 0; i < r->n; i++) {
		const struct check_finding *f = &r->f[i];
		json_t *x = json_object();

		json_object_set_new(x, "level",
		    json_string(check_level_name(f->level)));
		json_object_set_new(x, "area",
		    json_string(check_area_name(f->area)));
		json_object_set_new(x, "subject", json_string(f->subject));
		json_object_set_new(x, "text", json_string(f->text));
		json_object_set_new(x, "fix", f->fix[0] ?
		    json_string(f->fix) : json_null());
		json_array_append_new(a, x);
	}
	json_object_set_new(o, "findings", a);
	return o;
}

static void
cli_check_print(const struct check_report *r)
{
	printf("%s: %s", r->domain, r->nfail ? "FAIL" : r->nwarn ? "WARN" :
	    "PASS");
	if (r->nfail || r->nwarn)
		printf(" (%zu failure%s, %zu warning%s)", r->nfail,
		    r->nfail == 1 ? "" : "s", r->nwarn, r->nwarn == 1 ? "" :
		    "s");
	printf("\n");
	for (size_t i = 0; i < r->n; i++) {
		const struct check_finding *f = &r->f[i];

		printf("  %-4s  %-7s  ", f->level == CHECK_FAIL ? "FAIL" :
		    f->level == CHECK_WARN ? "warn" : check_level_name(
		    f->level), check_area_name(f->area));
		cli_put_safe(stdout, f->subject);
		printf(": ");
		cli_put_safe(stdout, f->text);
		printf("\n");
		if (f->fix[0] != '\0') {
			printf("  %-4s  %-7s  fix: ", "", "");
			cli_put_safe(stdout, f->fix);
			printf("\n");
		}
	}
	if (r->oom)
		printf("  FAIL  out of memory: findings were lost\n");
}

static int
cli_check(struct cli *c)
{
	const char *sh = conf_get(&c->conf, CONF_SERVICE_HOST);
	struct check_opts o = {
		dns_conf_get(&c->conf), c->ca_file, c->allow_private, NULL,
	};
	struct policy_templates tpl = { 0 };
	struct strv raw = { 0 }, names = { 0 };
	struct check_hosted_info *hosted = NULL;
	const struct check_hosted_info **hp = NULL;
	struct check_report *reports = NULL;
	char host[LIMIT_DNAME_LEN + 1];
	size_t n = 0, failed = 0;
	struct err e;
	int rc = CLI_USAGE;

	if (o.ca_file != NULL && access(o.ca_file, R_OK) != 0)
		return cli_fail(CLI_USAGE, "--ca-file %s: cannot read it",
		    o.ca_file);
	if (sh == NULL || dname_normalize(sh, strlen(sh), false, host,
	    &e) == -1)
		return cli_fail(CLI_USAGE, "service_host '%s': %s",
		    sh ? sh : "", sh ? e.msg : "not set");
	if ((rc = cli_templates(c, &tpl)) != 0)
		return rc;
	o.templates = &tpl;
	rc = CLI_USAGE;
	for (size_t i = 0; i < c->args.n; i++)
		if (strv_push(&raw, c->args.v[i]) == -1)
			goto oom;
	if (c->file != NULL && cli_check_file(c->file, &raw) != 0)
		goto out;
	if (raw.n == 0) {
		rc = cli_fail(CLI_USAGE, "check: no domain (give DOMAIN... "
		    "or --file FILE)");
		goto out;
	}
	for (size_t i = 0; i < raw.n; i++) {
		char name[LIMIT_DNAME_LEN + 1];

		if ((rc = cli_domain_arg(raw.v[i], name)) != 0)
			goto out;
		if (strv_push(&names, name) == -1)
			goto oom;
	}
	n = names.n;
	rc = CLI_USAGE;
	if ((hosted = calloc(n, sizeof(*hosted))) == NULL ||
	    (hp = calloc(n, sizeof(*hp))) == NULL ||
	    (reports = calloc(n, sizeof(*reports))) == NULL)
		goto oom;
	for (size_t i = 0; i < n; i++) {
		if (cli_check_hosted(c, names.v[i], host, &hosted[i]) != 0)
			goto out;
		hp[i] = &hosted[i];
	}
	/* A probed MX that closes early must not kill us on a TLS write
	 * (OpenSSL writes to the socket without MSG_NOSIGNAL). */
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		rc = cli_fail(CLI_USAGE, "libcurl: cannot initialise");
		goto out;
	}
	if (check_many(&o, (const char *const *)names.v, hp, n,
	    CHECK_CONCURRENCY, reports, n > 1 && !c->json &&
	    isatty(STDERR_FILENO) ? cli_check_progress : NULL, &e) == -1) {
		curl_global_cleanup();
		rc = cli_fail(CLI_USAGE, "%s", e.msg);
		goto out;
	}
	curl_global_cleanup();
	if (c->json) {
		json_t *a = json_array();

		for (size_t i = 0; i < n; i++)
			json_array_append_new(a, cli_check_json(&reports[i]));
		cli_print_json(a);
	}
	for (size_t i = 0; i < n; i++) {
		if (!c->json) {
			if (i > 0)
				printf("\n");
			cli_check_print(&reports[i]);
		}
		if (reports[i].nfail > 0)
			failed++;
	}
	if (!c->json && n > 1)
		printf("\n%zu domain%s checked, %zu with failures\n", n,
		    n == 1 ? "" : "s", failed);
	rc = failed ? CLI_INVALID : CLI_OK;
	goto out;
oom:
	rc = cli_fail(CLI_USAGE, "out of memory");
out:
	for (size_t i = 0; reports != NULL && i < n; i++)
		check_report_free(&reports[i]);
	policy_templates_free(&tpl);
	free(reports);
	free(hp);
	free(hosted);
	strv_free(&raw);
	strv_free(&names);
	return rc;
}

static const struct cli_flag cli_check_flags[] = {
	{ CLI_F_FILE, "file", "FILE", "check the domains of FILE too (one a "
	    "line, # comments)" },
	{ CLI_F_CA_FILE, "ca-file", "FILE", "trust only this CA for HTTPS "
	    "and STARTTLS (test CAs)" },
	{ CLI_F_ALLOW_PRIVATE, "allow-private", NULL, "probe private and "
	    "loopback addresses too (test set-ups)" },
	{ CLI_F_TRUST_ANCHOR, "trust-anchor", "FILE", "validate DNSSEC with "
	    "these DS or DNSKEY records (overrides dnssec_trust_anchor)" },
	{ CLI_F_JSON, "json", NULL, "print JSON" },
	{ 0, NULL, NULL, NULL },
};

const struct cli_cmd cli_check_cmds[] = {
	{ "check", "DOMAIN... [--file FILE]", "check domains as a sending "
	    "MTA would: DNS, policy fetch, MX, STARTTLS, TLS-RPT",
	    cli_check_flags, true, cli_check, 0, LIMIT_CHECK_DOMAINS },
	{ NULL, NULL, NULL, NULL, false, NULL, 0, 0 },
};
