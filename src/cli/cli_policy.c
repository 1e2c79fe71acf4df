/*
 * cli_policy.c - `stsguard policy lint` and `policy match`, and
 * `stsguard record lint`: the RFC 8461/8460 parsers on the command line.
 *
 *	policy lint FILE|-	canonical policy on stdout, warnings on stderr
 *	policy match FILE HOST	exit 0 when HOST matches an mx of the policy
 *	record lint TEXT	an STSv1 or TLSRPTv1 TXT record
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "policy/policy.h"
#include "tlsrpt/tlsrpt.h"

static json_t *
cli_json_strv(const struct strv *sv)
{
	json_t *a = json_array();

	for (size_t i = 0; i < sv->n; i++)
		json_array_append_new(a, json_string(sv->v[i]));
	return a;
}

static void
cli_print_warnings(const struct strv *w)
{
	for (size_t i = 0; i < w->n; i++)
		fprintf(stderr, "warning: %s\n", w->v[i]);
}

/* Reads and parses the policy in path. Returns CLI_OK, CLI_INVALID (e
 * holds the reason) or CLI_USAGE (printed). */
static int
cli_policy_load(const char *path, struct policy *p, struct strv *w,
    struct err *e)
{
	uint8_t *buf;
	size_t len;
	int rc;

	/* Read one byte past the limit so that the parser, not the reader,
	 * reports an oversized body in its own words. */
	if (cli_read_file(path, LIMIT_POLICY_BYTES + 1, &buf, &len, e) == -1) {
		if (strstr(e->msg, "larger than") == NULL)
			return cli_fail(CLI_USAGE, "%s", e->msg);
		err_set(e, "policy larger than %d bytes (RFC 8461 §3.3)",
		    LIMIT_POLICY_BYTES);
		return CLI_INVALID;
	}
	rc = policy_parse((const char *)buf, len, p, w, e) == 0 ?
	    CLI_OK : CLI_INVALID;
	free(buf);
	return rc;
}

static int
cli_policy_lint(struct cli *c)
{
	struct policy p = { 0 };
	struct strv w = { 0 };
	struct err e = { "" };
	char *text;
	size_t len;
	int rc;

	rc = cli_policy_load(c->args.v[0], &p, &w, &e);
	if (rc == CLI_USAGE)
		goto out;
	if (c->json) {
		json_t *o = json_object();

		json_object_set_new(o, "valid", json_boolean(rc == CLI_OK));
		json_object_set_new(o, "mode", rc == CLI_OK ?
		    json_string(policy_mode_name(p.mode)) : json_null());
		json_object_set_new(o, "max_age", rc == CLI_OK ?
		    json_integer(p.max_age) : json_null());
		json_object_set_new(o, "mx", cli_json_strv(&p.mx));
		json_object_set_new(o, "error", rc == CLI_OK ?
		    json_null() : json_string(e.msg));
		json_object_set_new(o, "warnings", cli_json_strv(&w));
		cli_print_json(o);
		goto out;
	}
	cli_print_warnings(&w);
	if (rc != CLI_OK) {
		cli_fail(rc, "%s: %s", c->args.v[0], e.msg);
		goto out;
	}
	if ((text = policy_render(&p, &len)) == NULL) {
		rc = cli_fail(CLI_USAGE, "out of memory");
		goto out;
	}
	fwrite(text, 1, len, stdout);
	free(text);
out:
	policy_free(&p);
	strv_free(&w);
	return rc;
}

static int
cli_policy_match(struct cli *c)
{
	struct policy p = { 0 };
	struct err e;
	int rc;

	rc = cli_policy_load(c->args.v[0], &p, NULL, &e);
	if (rc == CLI_INVALID)
		cli_fail(CLI_USAGE, "%s: %s", c->args.v[0], e.msg);
	if (rc != CLI_OK) {
		rc = CLI_USAGE;
		goto out;
	}
	rc = policy_match(&p, c->args.v[1]) ? CLI_OK : CLI_INVALID;
	if (c->json) {
		json_t *o = json_object();

		json_object_set_new(o, "host", json_string(c->args.v[1]));
		json_object_set_new(o, "match", json_boolean(rc == CLI_OK));
		cli_print_json(o);
	} else {
		printf("%s: %s\n", c->args.v[1],
		    rc == CLI_OK ? "match" : "no match");
	}
out:
	policy_free(&p);
	return rc;
}

static const struct cli_flag cli_policy_flags[] = {
	{ CLI_F_JSON, "json", NULL, "print JSON" },
	{ 0, NULL, NULL, NULL },
};

const struct cli_cmd cli_policy_cmds[] = {
	{ "policy lint", "FILE|-", "check an MTA-STS policy file and print "
	    "it in canonical form", cli_policy_flags, false, cli_policy_lint,
	    1, 1 },
	{ "policy match", "FILE HOST", "exit 0 when HOST matches an mx "
	    "pattern of the policy, 1 when not", cli_policy_flags, false,
	    cli_policy_match, 2, 2 },
	{ NULL, NULL, NULL, NULL, false, NULL, 0, 0 },
};

/* "v=TLSRPTv1..." is a TLS-RPT record; everything else is linted as an
 * STSv1 record, whose parser explains what is wrong with it. */
static bool
cli_record_is_tlsrpt(const char *t)
{
	while (*t == ' ' || *t == '\t')
		t++;
	return strncmp(t, "v=TLSRPT", 8) == 0;
}

static int
cli_record_lint(struct cli *c)
{
	const char *text = c->args.v[0];
	struct tlsrpt_record tr = { 0 };
	struct sts_record sr = { "" };
	struct strv w = { 0 };
	struct err e = { "" };
	bool tlsrpt = cli_record_is_tlsrpt(text);
	int rc;

	if (tlsrpt)
		rc = tlsrpt_record_parse(text, strlen(text), &tr, &w, &e);
	else
		rc = sts_record_parse(text, strlen(text), &sr, &w, &e);
	rc = rc == 0 ? CLI_OK : CLI_INVALID;
	if (c->json) {
		json_t *o = json_object();

		json_object_set_new(o, "valid", json_boolean(rc == CLI_OK));
		json_object_set_new(o, "kind",
		    json_string(tlsrpt ? "tlsrpt" : "sts"));
		json_object_set_new(o, "id", !tlsrpt && rc == CLI_OK ?
		    json_string(sr.id) : json_null());
		json_object_set_new(o, "rua", cli_json_strv(&tr.rua));
		json_object_set_new(o, "error", rc == CLI_OK ?
		    json_null() : json_string(e.msg));
		json_object_set_new(o, "warnings", cli_json_strv(&w));
		cli_print_json(o);
	} else {
		cli_print_warnings(&w);
		if (rc != CLI_OK)
			cli_fail(rc, "%s record: %s",
			    tlsrpt ? "TLSRPTv1" : "STSv1", e.msg);
		else if (tlsrpt)
			for (size_t i = 0; i < tr.rua.n; i++)
				printf("rua: %s\n", tr.rua.v[i]);
		else
			printf("id: %s\n", sr.id);
	}
	tlsrpt_record_free(&tr);
	strv_free(&w);
	return rc;
}

const struct cli_cmd cli_record_cmds[] = {
	{ "record lint", "TEXT", "check an _mta-sts (v=STSv1) or _smtp._tls "
	    "(v=TLSRPTv1) TXT record", cli_policy_flags, false,
	    cli_record_lint, 1, 1 },
	{ NULL, NULL, NULL, NULL, false, NULL, 0, 0 },
};
