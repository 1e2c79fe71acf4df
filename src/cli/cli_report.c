/*
 * cli_report.c - `stsguard report parse|import|list|show`: TLS-RPT
 * reports (RFC 8460) on the command line.
 *
 *	report parse FILE|-	 parse and print, store nothing
 *	report import FILE...	 parse and store (.json or .json.gz, told
 *				 apart by their bytes), duplicates counted
 *	report list		 stored reports, newest first
 *	report show ID		 one stored report
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tlsrpt/tlsrpt.h"

/* {"report": R, "quirks": [...], "totals": {...}} for a parsed report. */
static json_t *
cli_report_json(const struct tlsrpt_report *r)
{
	json_t *o = json_object(), *q = json_array(), *t = json_object();
	uint64_t ok, failed;
	json_error_t je;
	char *text;

	text = tlsrpt_report_json(r, 0);
	json_object_set_new(o, "report", text ? json_loads(text,
	    JSON_DECODE_ANY, &je) : json_null());
	free(text);
	for (unsigned b = 0; b < TLSRPT_Q_COUNT; b++)
		if (r->quirks & (1u << b))
			json_array_append_new(q,
			    json_string(tlsrpt_quirk_name(1u << b)));
	json_object_set_new(o, "quirks", q);
	tlsrpt_totals(r, &ok, &failed);
	json_object_set_new(t, "successful", json_integer((json_int_t)ok));
	json_object_set_new(t, "failed", json_integer((json_int_t)failed));
	json_object_set_new(o, "totals", t);
	return o;
}

/* Prints "label value" with value escaped (it comes from a reporter). */
static void
cli_report_field(const char *label, const char *value)
{
	printf("%-14s", label);
	cli_put_safe(stdout, value != NULL ? value : "-");
	putchar('\n');
}

static void
cli_report_print(const struct tlsrpt_report *r)
{
	char t1[21], t2[21], b1[256], b2[256], b3[256];
	uint64_t ok, failed;

	cli_report_field("organization:", r->organization_name);
	cli_report_field("report-id:", r->report_id);
	cli_report_field("contact:", r->contact_info);
	printf("date-range:   %s .. %s\n", cli_time(r->start, t1),
	    cli_time(r->end, t2));
	for (size_t i = 0; i < r->npolicies; i++) {
		const struct tlsrpt_policy *p = &r->policies[i];

		printf("policy %zu:     %s %s: %llu successful, %llu failed\n",
		    i + 1, cli_safe(p->policy_type, b1, sizeof(b1)),
		    p->policy_domain[0] ? cli_safe(p->policy_domain, b2,
		    sizeof(b2)) : "-",
		    (unsigned long long)p->total_successful,
		    (unsigned long long)p->total_failure);
		for (size_t j = 0; j < p->nfailures; j++) {
			const struct tlsrpt_failure *f = &p->failures[j];

			printf("  %-28s %8llu  %s %s\n",
			    cli_safe(f->result_type, b1, sizeof(b1)),
			    (unsigned long long)f->failed_session_count,
			    f->receiving_mx_hostname ? cli_safe(
			    f->receiving_mx_hostname, b2, sizeof(b2)) : "-",
			    f->sending_mta_ip ? cli_safe(f->sending_mta_ip, b3,
			    sizeof(b3)) : "-");
		}
	}
	tlsrpt_totals(r, &ok, &failed);
	printf("totals:       %llu successful, %llu failed\n",
	    (unsigned long long)ok, (unsigned long long)failed);
	if (r->quirks) {
		printf("quirks:      ");
		for (unsigned b = 0; b < TLSRPT_Q_COUNT; b++)
			if (r->quirks & (1u << b))
				printf(" %s", tlsrpt_quirk_name(1u << b));
		printf("\n");
	}
}

/* Reads a report file. LIMIT_REPORT_BYTES + 1 so that the parser, not
 * the reader, words the size error. */
static int
cli_report_read(const char *path, uint8_t **buf, size_t *len, struct err *e)
{
	return cli_read_file(path, LIMIT_REPORT_BYTES + 1, buf, len, e);
}

static int
cli_report_parse(struct cli *c)
{
	struct tlsrpt_report *r = NULL;
	uint8_t *buf;
	size_t len;
	struct err e;
	int rc;

	if (cli_report_read(c->args.v[0], &buf, &len, &e) == -1)
		return cli_fail(CLI_USAGE, "%s", e.msg);
	if (tlsrpt_parse(buf, len, &r, &e) == -1) {
		if (c->json) {
			json_t *o = json_object();

			json_object_set_new(o, "report", json_null());
			json_object_set_new(o, "error", json_string(e.msg));
			cli_print_json(o);
		}
		rc = cli_fail(CLI_INVALID, "%s: %s", c->args.v[0], e.msg);
		goto out;
	}
	if (c->json)
		cli_print_json(cli_report_json(r));
	else
		cli_report_print(r);
	rc = CLI_OK;
out:
	tlsrpt_report_free(r);
	free(buf);
	return rc;
}

static int
cli_report_import(struct cli *c)
{
	struct store_origin o = { .route = "import" };
	char org[256];
	struct tlsrpt_report *r;
	struct store *s;
	uint8_t *buf;
	size_t len;
	int64_t id;
	struct err e;
	int rc = CLI_OK, res;
	size_t added = 0, dups = 0, bad = 0;

	if ((s = cli_store(c)) == NULL)
		return CLI_USAGE;
	for (size_t i = 0; i < c->args.n; i++) {
		const char *path = c->args.v[i];

		if (cli_report_read(path, &buf, &len, &e) == -1) {
			cli_fail(CLI_USAGE, "%s", e.msg);
			rc = CLI_USAGE;
			continue;
		}
		r = NULL;
		if (tlsrpt_parse(buf, len, &r, &e) == -1) {
			printf("%s: invalid: %s\n", path, e.msg);	/* escaped */
			bad++;
			if (rc == CLI_OK)
				rc = CLI_INVALID;
			free(buf);
			continue;
		}
		o.client = path;
		res = s->ops->report_add(s, r, buf, len, &o, &id, &e);
		if (res == -1) {
			cli_fail(CLI_USAGE, "%s: %s", path, e.msg);
			rc = CLI_USAGE;
		} else if (res == STORE_DUPLICATE) {
			printf("%s: duplicate of report %lld (%s, ", path,
			    (long long)id, cli_safe(r->organization_name, org,
			    sizeof(org)));
			cli_put_safe(stdout, r->report_id);
			printf(")\n");
			dups++;
		} else {
			printf("%s: stored as report %lld (%s, ", path,
			    (long long)id, cli_safe(r->organization_name, org,
			    sizeof(org)));
			cli_put_safe(stdout, r->report_id);
			printf(")\n");
			added++;
		}
		tlsrpt_report_free(r);
		free(buf);
	}
	fprintf(stderr, "imported %zu, duplicates %zu, invalid %zu\n", added,
	    dups, bad);
	return rc;
}

static json_t *
cli_report_row_json(const struct store_report_row *r)
{
	json_t *o = json_object(), *d = json_array();
	const char *p = r->policy_domains, *comma;

	while (p != NULL && *p != '\0') {
		comma = strchr(p, ',');
		json_array_append_new(d, json_stringn(p, comma ?
		    (size_t)(comma - p) : strlen(p)));
		p = comma ? comma + 1 : NULL;
	}
	json_object_set_new(o, "id", json_integer(r->id));
	json_object_set_new(o, "organization-name",
	    json_string(r->organization_name));
	json_object_set_new(o, "report-id", json_string(r->report_id));
	json_object_set_new(o, "contact-info", cli_json_str(r->contact_info));
	json_object_set_new(o, "policy-domains", d);
	json_object_set_new(o, "start", cli_json_time(r->start));
	json_object_set_new(o, "end", cli_json_time(r->end));
	json_object_set_new(o, "successful",
	    json_integer((json_int_t)r->successful));
	json_object_set_new(o, "failed", json_integer((json_int_t)r->failed));
	json_object_set_new(o, "received", cli_json_time(r->received));
	json_object_set_new(o, "route", cli_json_str(r->route));
	json_object_set_new(o, "duplicates", json_integer(r->duplicates));
	return o;
}

static int
cli_report_list_json(void *arg, const struct store_report_row *r)
{
	json_array_append_new(arg, cli_report_row_json(r));
	return 0;
}

static int
cli_report_list_text(void *arg, const struct store_report_row *r)
{
	char t[21], org[256], rid[256];

	printf("%6lld  %-10.10s  %-24.24s  %-32.32s  %-24.24s  %10llu  %8llu\n",
	    (long long)r->id, cli_time(r->start, t),
	    cli_safe(r->organization_name, org, sizeof(org)),
	    cli_safe(r->report_id, rid, sizeof(rid)), r->policy_domains,
	    (unsigned long long)r->successful, (unsigned long long)r->failed);
	return 0;
}

static int
cli_report_list(struct cli *c)
{
	struct store_report_filter f = { .limit = c->limit };
	char name[LIMIT_DNAME_LEN + 1];
	struct store *s;
	struct err e;
	json_t *a = NULL;
	int r;

	if (c->domain != NULL) {
		if (cli_domain_arg(c->domain, name) != 0)
			return CLI_INVALID;
		f.domain = name;
	}
	if ((s = cli_store(c)) == NULL)
		return CLI_USAGE;
	if (c->json) {
		a = json_array();
		r = s->ops->report_list(s, &f, cli_report_list_json, a, &e);
	} else {
		printf("%6s  %-10s  %-24s  %-32s  %-24s  %10s  %8s\n", "ID",
		    "DAY", "ORGANIZATION", "REPORT-ID", "DOMAINS",
		    "SUCCESSFUL", "FAILED");
		r = s->ops->report_list(s, &f, cli_report_list_text, NULL, &e);
	}
	if (r == -1) {
		json_decref(a);
		return cli_fail(CLI_USAGE, "%s", e.msg);
	}
	if (a != NULL)
		cli_print_json(a);
	return CLI_OK;
}

static int
cli_report_show_row(void *arg, const struct store_report_row *r)
{
	*(json_t **)arg = cli_report_row_json(r);
	return 0;
}

static int
cli_report_show(struct cli *c)
{
	struct tlsrpt_report *r = NULL;
	json_t *row = NULL, *o;
	uint8_t *raw = NULL;
	size_t rawlen;
	struct store *s;
	struct err e;
	long long id;
	char *end;
	int rc, res;

	errno = 0;
	id = strtoll(c->args.v[0], &end, 10);
	if (errno != 0 || *end != '\0' || id <= 0)
		return cli_fail(CLI_USAGE, "report show: '%s' is not a report "
		    "id (see report list)", c->args.v[0]);
	if ((s = cli_store(c)) == NULL)
		return CLI_USAGE;
	res = s->ops->report_get(s, id, cli_report_show_row, &row, &raw,
	    &rawlen, &e);
	if (res != 0) {
		rc = res == 1 ? cli_fail(CLI_INVALID, "no report %lld", id) :
		    cli_fail(CLI_USAGE, "%s", e.msg);
		goto out;
	}
	if (c->raw) {
		fwrite(raw, 1, rawlen, stdout);
		rc = CLI_OK;
		goto out;
	}
	if (tlsrpt_parse(raw, rawlen, &r, &e) == -1) {
		rc = cli_fail(CLI_USAGE, "report %lld no longer parses: %s",
		    id, e.msg);
		goto out;
	}
	if (c->json) {
		o = cli_report_json(r);
		json_object_set_new(o, "stored", row);
		row = NULL;
		cli_print_json(o);
	} else {
		printf("id:           %lld\n", id);
		printf("received:     %s\n", json_string_value(
		    json_object_get(row, "received")));
		printf("route:        %s\n", json_string_value(
		    json_object_get(row, "route")));
		printf("duplicates:   %lld\n", (long long)json_integer_value(
		    json_object_get(row, "duplicates")));
		cli_report_print(r);
	}
	rc = CLI_OK;
out:
	json_decref(row);
	tlsrpt_report_free(r);
	free(raw);
	return rc;
}

static const struct cli_flag cli_report_json_flags[] = {
	{ CLI_F_JSON, "json", NULL, "print JSON" },
	{ 0, NULL, NULL, NULL },
};

static const struct cli_flag cli_report_list_flags[] = {
	{ CLI_F_JSON, "json", NULL, "print JSON" },
	{ CLI_F_DOMAIN, "domain", "DOMAIN", "only reports on this "
	    "policy-domain" },
	{ CLI_F_LIMIT, "limit", "N", "at most N reports (newest first)" },
	{ 0, NULL, NULL, NULL },
};

static const struct cli_flag cli_report_show_flags[] = {
	{ CLI_F_JSON, "json", NULL, "print JSON" },
	{ CLI_F_RAW, "raw", NULL, "print the report's bytes as received" },
	{ 0, NULL, NULL, NULL },
};

const struct cli_cmd cli_report_cmds[] = {
	{ "report parse", "FILE|-", "parse a TLS-RPT report (JSON or gzip) "
	    "and print it; store nothing", cli_report_json_flags, false,
	    cli_report_parse, 1, 1 },
	{ "report import", "FILE...", "store reports (.json, .json.gz); "
	    "duplicates are counted once", cli_report_json_flags, true,
	    cli_report_import, 1, (size_t)-1 },
	{ "report list", "[--domain D] [--limit N]", "list stored reports, "
	    "newest first", cli_report_list_flags, true, cli_report_list,
	    0, 0 },
	{ "report show", "ID", "show one stored report",
	    cli_report_show_flags, true, cli_report_show, 1, 1 },
	{ NULL, NULL, NULL, NULL, false, NULL, 0, 0 },
};
