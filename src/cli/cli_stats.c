/*
 * cli_stats.c - `stsguard stats DOMAIN [--from DATE] [--to DATE]`:
 * sessions that succeeded and failed, per day, per reporting organization
 * and per result type, read from the daily roll-ups (never from raw
 * reports). DATEs are YYYY-MM-DD, UTC, both inclusive.
 *
 * Sessions are counted as every view counts them (tlsrpt_count.c): for
 * each (day, organization) the tlsa view and the other view (sts,
 * no-policy-found) are the same traffic and the larger counts; the
 * store's roll-ups already count an entry's failures as its details
 * when they add up to more than its total.
 *
 * The tlsa view also holds the TLSA reports for the MX hosts that the
 * domain's mx patterns match (store.h: reporters of DANE results name
 * the MX host): the store adds them to the domain's own rows, and the
 * output names those hosts, with how many other hosted domains share
 * each, since the same sessions then show in their statistics too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tlsrpt/tlsrpt.h"

struct cli_stat_key {
	char	*key;
	uint64_t successful, failed;
};

struct cli_stat_table {
	struct cli_stat_key *v;
	size_t	 n, cap;
};

/* The (day, organization) group being read, one bucket per view. */
struct cli_stat_view {
	uint64_t successful, failed;
	struct cli_stat_table results;
};

struct cli_stats {
	struct cli_stat_table days, orgs, results;
	char	*day, *org;		/* current group, NULL before the
					 * first row */
	struct cli_stat_view view[2];	/* TLSRPT_VIEW_POLICY and
					 * TLSRPT_VIEW_TLSA */
	int	 oom;
};

/* The entry for key, added when new (rows come in day order, so the day
 * table stays sorted; the others are few). NULL when out of memory. */
static struct cli_stat_key *
cli_stat_get(struct cli_stat_table *t, const char *key)
{
	struct cli_stat_key *nv;

	for (size_t i = t->n; i > 0; i--)
		if (strcmp(t->v[i - 1].key, key) == 0)
			return &t->v[i - 1];
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		if ((nv = realloc(t->v, t->cap * sizeof(*nv))) == NULL)
			return NULL;
		t->v = nv;
	}
	nv = &t->v[t->n];
	if ((nv->key = strdup(key)) == NULL)
		return NULL;
	nv->successful = nv->failed = 0;
	t->n++;
	return nv;
}

static void
cli_stat_free(struct cli_stat_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].key);
	free(t->v);
}

/* Adds the current group's larger view to the tables and empties it. */
static int
cli_stats_flush(struct cli_stats *st)
{
	struct cli_stat_view *v0 = &st->view[0], *v1 = &st->view[1], *v;
	struct cli_stat_key *d, *o, *x;
	int rc = 0;

	if (st->day == NULL)
		return 0;
	if (st->org == NULL) {
		rc = -1;
		goto out;
	}
	{
		struct tlsrpt_views vs = { { v0->successful, v1->successful },
		    { v0->failed, v1->failed } };

		v = &st->view[tlsrpt_views_pick(&vs)];
	}
	d = cli_stat_get(&st->days, st->day);
	o = cli_stat_get(&st->orgs, st->org);
	if (d == NULL || o == NULL) {
		rc = -1;
		goto out;
	}
	d->successful += v->successful;
	d->failed += v->failed;
	o->successful += v->successful;
	o->failed += v->failed;
	for (size_t i = 0; i < v->results.n; i++) {
		if ((x = cli_stat_get(&st->results, v->results.v[i].key)) ==
		    NULL) {
			rc = -1;
			goto out;
		}
		x->failed += v->results.v[i].failed;
	}
out:
	for (int i = 0; i < 2; i++) {
		cli_stat_free(&st->view[i].results);
		memset(&st->view[i], 0, sizeof(st->view[i]));
	}
	free(st->day);
	free(st->org);
	st->day = st->org = NULL;
	if (rc == -1)
		st->oom = 1;
	return rc;
}

static int
cli_stats_row(void *arg, const struct store_stat_row *r)
{
	struct cli_stats *st = arg;
	struct cli_stat_view *v;
	struct cli_stat_key *x;

	if (st->day != NULL && (strcmp(st->day, r->day) != 0 ||
	    strcmp(st->org, r->organization_name) != 0) &&
	    cli_stats_flush(st) == -1)
		goto oom;
	if (st->day == NULL && ((st->day = strdup(r->day)) == NULL ||
	    (st->org = strdup(r->organization_name)) == NULL))
		goto oom;
	v = &st->view[tlsrpt_view(r->policy_type)];
	if (strcmp(r->result_type, "successful") == 0) {
		v->successful += r->sessions;
		return 0;
	}
	v->failed += r->sessions;
	if ((x = cli_stat_get(&v->results, r->result_type)) == NULL)
		goto oom;
	x->failed += r->sessions;
	return 0;
oom:
	st->oom = 1;
	return -1;
}

/* The MX hosts whose TLSA reports the statistics include. */
struct cli_mx_hosts {
	json_t	*names;			/* array of host strings */
	int64_t	*others;		/* other hosted domains, per host */
	size_t	 cap;
	int	 oom;
};

static int
cli_stats_mx_host(void *arg, const struct store_mx_host_row *r)
{
	struct cli_mx_hosts *mx = arg;
	size_t n = json_array_size(mx->names);
	int64_t *nv;

	if (n == mx->cap) {
		mx->cap = mx->cap ? mx->cap * 2 : 8;
		if ((nv = realloc(mx->others, mx->cap * sizeof(*nv))) == NULL)
			goto oom;
		mx->others = nv;
	}
	if (json_array_append_new(mx->names, json_string(r->host)) == -1)
		goto oom;
	mx->others[n] = r->others;
	return 0;
oom:
	mx->oom = 1;
	return -1;
}

/* "Includes TLSA reports for MX hosts: a (shared with 2 other hosted
 * domains), b", or nothing when there are none. Host names come from
 * reports: escaped. */
static void
cli_stats_print_mx(const struct cli_mx_hosts *mx)
{
	size_t n = json_array_size(mx->names);

	if (n == 0)
		return;
	printf("Includes TLSA reports for MX hosts: ");
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			printf(", ");
		cli_put_safe(stdout, json_string_value(json_array_get(
		    mx->names, i)));
		if (mx->others[i] > 0)
			printf(" (shared with %lld other hosted domain%s)",
			    (long long)mx->others[i],
			    mx->others[i] == 1 ? "" : "s");
	}
	printf("\n");
}

static int
cli_stat_cmp_failed(const void *a, const void *b)
{
	const struct cli_stat_key *x = a, *y = b;

	if (x->failed != y->failed)
		return x->failed < y->failed ? 1 : -1;
	return strcmp(x->key, y->key);
}

static int
cli_stat_cmp_total(const void *a, const void *b)
{
	const struct cli_stat_key *x = a, *y = b;
	uint64_t tx = x->successful + x->failed, ty = y->successful + y->failed;

	if (tx != ty)
		return tx < ty ? 1 : -1;
	return strcmp(x->key, y->key);
}

static json_t *
cli_stats_json_table(const struct cli_stat_table *t, const char *keyname,
    bool both)
{
	json_t *a = json_array();

	for (size_t i = 0; i < t->n; i++) {
		json_t *o = json_object();

		json_object_set_new(o, keyname, json_string(t->v[i].key));
		if (both) {
			json_object_set_new(o, "successful",
			    json_integer((json_int_t)t->v[i].successful));
			json_object_set_new(o, "failed",
			    json_integer((json_int_t)t->v[i].failed));
		} else {
			json_object_set_new(o, "sessions",
			    json_integer((json_int_t)t->v[i].failed));
		}
		json_array_append_new(a, o);
	}
	return a;
}

static void
cli_stats_print_table(const char *title, const char *head,
    const struct cli_stat_table *t, bool both)
{
	uint64_t sum_ok = 0, sum_failed = 0;

	printf("%s\n", title);
	if (both)
		printf("  %-32s %12s %10s %8s\n", head, "SUCCESSFUL", "FAILED",
		    "FAILED%");
	else
		printf("  %-32s %12s\n", head, "SESSIONS");
	for (size_t i = 0; i < t->n; i++) {
		const struct cli_stat_key *k = &t->v[i];
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
	struct cli_stats st = { 0 };
	struct cli_mx_hosts mx = { 0 };
	time_t from = 0, to = 0;
	struct store *s;
	struct err e;
	int rc;

	if (cli_domain_arg(c->args.v[0], name) != 0)
		return CLI_INVALID;
	if (c->from != NULL && cli_parse_day(c->from, &from) == -1)
		return cli_fail(CLI_USAGE, "--from: '%s' is not YYYY-MM-DD",
		    c->from);
	if (c->to != NULL) {
		if (cli_parse_day(c->to, &to) == -1)
			return cli_fail(CLI_USAGE, "--to: '%s' is not "
			    "YYYY-MM-DD", c->to);
		to += 86400;	/* inclusive */
	}
	if ((s = cli_store(c)) == NULL)
		return CLI_USAGE;
	if (store_stats(s, name, from, to, cli_stats_row, &st, &e) == -1 ||
	    cli_stats_flush(&st) == -1) {
		rc = st.oom ? cli_fail(CLI_USAGE, "out of memory") :
		    cli_fail(CLI_USAGE, "%s", e.msg);
		goto out;
	}
	if ((mx.names = json_array()) == NULL) {
		rc = cli_fail(CLI_USAGE, "out of memory");
		goto out;
	}
	if (store_stats_mx_hosts(s, name, from, to, cli_stats_mx_host, &mx,
	    &e) != 0) {
		rc = mx.oom ? cli_fail(CLI_USAGE, "out of memory") :
		    cli_fail(CLI_USAGE, "%s", e.msg);
		goto out;
	}
	if (st.orgs.n > 1)
		qsort(st.orgs.v, st.orgs.n, sizeof(*st.orgs.v),
		    cli_stat_cmp_total);
	if (st.results.n > 1)
		qsort(st.results.v, st.results.n, sizeof(*st.results.v),
	    cli_stat_cmp_failed);
	if (c->json) {
		json_t *o = json_object();

		json_object_set_new(o, "domain", json_string(name));
		json_object_set(o, "mx-hosts", mx.names);
		json_object_set_new(o, "days",
		    cli_stats_json_table(&st.days, "day", true));
		json_object_set_new(o, "organizations",
		    cli_stats_json_table(&st.orgs, "organization-name", true));
		json_object_set_new(o, "result-types",
		    cli_stats_json_table(&st.results, "result-type", false));
		cli_print_json(o);
	} else {
		printf("TLS sessions reported for %s\n", name);
		cli_stats_print_mx(&mx);
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
	json_decref(mx.names);
	free(mx.others);
	cli_stats_flush(&st);
	cli_stat_free(&st.days);
	cli_stat_free(&st.orgs);
	cli_stat_free(&st.results);
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
