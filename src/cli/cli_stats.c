/*
 * cli_stats.c - `stsguard stats DOMAIN [--from DATE] [--to DATE]`:
 * sessions that succeeded and failed, per day, per reporting organization
 * and per result type (web_stats.c reads and counts them; the API shows
 * the same). DATEs are YYYY-MM-DD, UTC, both inclusive.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "web/web.h"

/* "Includes TLSA reports for MX hosts: a (shared with 2 other hosted
 * domains), b", or nothing when there are none. Host names come from
 * reports: escaped. */
static void
cli_stats_print_mx(const struct web_stats *st)
{
	size_t n = json_array_size(st->mx_names);

	if (n == 0)
		return;
	printf("Includes TLSA reports for MX hosts: ");
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			printf(", ");
		cli_put_safe(stdout, json_string_value(json_array_get(
		    st->mx_names, i)));
		if (st->mx_others[i] > 0)
			printf(" (shared with %lld other hosted domain%s)",
			    (long long)st->mx_others[i],
			    st->mx_others[i] == 1 ? "" : "s");
	}
	printf("\n");
}

static void
cli_stats_print_table(const char *title, const char *head,
    const struct web_stat_table *t, bool both)
{
	uint64_t sum_ok = 0, sum_failed = 0;

	printf("%s\n", title);
	if (both)
		printf("  %-32s %12s %10s %8s\n", head, "SUCCESSFUL", "FAILED",
		    "FAILED%");
	else
		printf("  %-32s %12s\n", head, "SESSIONS");
	for (size_t i = 0; i < t->n; i++) {
		const struct web_stat_key *k = &t->v[i];
		uint64_t all = k->successful + k->failed;

		sum_ok += k->successful;
		sum_failed += k->failed;
		if (both)
			printf("  %-32s %12llu %10llu %7.1f%%\n", k->key,
			    (unsigned long long)k->successful,
			    (unsigned long long)k->failed,
			    all ? 100.0 * (double)k->failed / (double)all : 0);
		else
			printf("  %-32s %12llu\n", k->key,
			    (unsigned long long)k->failed);
	}
	if (t->n == 0)
		printf("  (none)\n");
	else if (both)
		printf("  %-32s %12llu %10llu\n", "total",
		    (unsigned long long)sum_ok,
		    (unsigned long long)sum_failed);
	printf("\n");
}

static int
cli_stats(struct cli *c)
{
	char name[LIMIT_DNAME_LEN + 1];
	struct web_stats st;
	time_t from = 0, to = 0;
	struct store *s;
	struct err e;
	int rc;

	if (cli_domain_arg(c->args.v[0], name) != 0)
		return CLI_INVALID;
	if (c->from != NULL && web_parse_day(c->from, &from) == -1)
		return cli_fail(CLI_USAGE, "--from: '%s' is not YYYY-MM-DD",
		    c->from);
	if (c->to != NULL) {
		if (web_parse_day(c->to, &to) == -1)
			return cli_fail(CLI_USAGE, "--to: '%s' is not "
			    "YYYY-MM-DD", c->to);
		to += 86400;	/* inclusive */
	}
	if ((s = cli_store(c)) == NULL)
		return CLI_USAGE;
	if (web_stats_read(s, name, from, to, &st, &e) == -1) {
		rc = cli_fail(CLI_USAGE, "%s", e.msg);
		goto out;
	}
	if (c->json) {
		cli_print_json(web_stats_json(name, &st));
	} else {
		printf("TLS sessions reported for %s\n", name);
		cli_stats_print_mx(&st);
		printf("\n");
		cli_stats_print_table("Per day (UTC)", "DAY", &st.days, true);
		cli_stats_print_table("Per reporting organization",
		    "ORGANIZATION", &st.orgs, true);
		cli_stats_print_table("Failures per result type",
		    "RESULT TYPE", &st.results, false);
		printf("%s\n", CLI_COUNTED_NOTE);
	}
	rc = CLI_OK;
out:
	web_stats_free(&st);
	return rc;
}

static const struct cli_flag cli_stats_flags[] = {
	{ CLI_F_JSON, "json", NULL, "print JSON" },
	{ CLI_F_FROM, "from", "YYYY-MM-DD", "first day (UTC)" },
	{ CLI_F_TO, "to", "YYYY-MM-DD", "last day (UTC), inclusive" },
	{ 0, NULL, NULL, NULL },
};

const struct cli_cmd cli_stats_cmds[] = {
	{ "stats", "DOMAIN [--from DATE] [--to DATE]", "sessions succeeded "
	    "and failed per day, organization and result type",
	    cli_stats_flags, true, cli_stats, 1, 1 },
	{ NULL, NULL, NULL, NULL, false, NULL, 0, 0 },
};
