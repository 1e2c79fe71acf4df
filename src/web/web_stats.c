/*
 * web_stats.c - a domain's statistics as every view shows them: its
 * daily roll-ups (never raw reports) read from the store into tables per
 * day, per reporting organization and per result type, and their JSON
 * (the CLI's `stats --json` and the API's /stats).
 *
 * Sessions are counted as every view counts them (tlsrpt_count.c): for
 * each (day, organization) the tlsa view and the other view (sts,
 * no-policy-found) are the same traffic and the larger counts; the
 * store's roll-ups already count an entry's failures as its details
 * when they add up to more than its total. The tlsa view also holds the
 * TLSA reports for the MX hosts that the domain's mx patterns match
 * (store.h): the output names those hosts, with how many other hosted
 * domains share each, since the same sessions show in theirs too.
 *
 * Failed sessions per receiving MX host and per sending IP come from
 * the failure details of the reports that count (roll-ups keep no
 * hosts), the larger view of each (day, organization) group
 * (tlsrpt_views_pick over its entries' summaries) taken, as for the
 * totals.
 */
#include <stdlib.h>
#include <string.h>

#include "../tlsrpt/tlsrpt.h"
#include "web.h"

/* One view's sessions of the (day, organization) group being read. */
struct web_stat_view {
	uint64_t successful, failed;
	struct web_stat_table results;
};

/* The (day, organization) group being read, and the tables it adds to. */
struct web_stats_acc {
	struct web_stats *st;
	char	*day, *org;		/* current group, NULL before the
					 * first row */
	struct web_stat_view view[2];	/* TLSRPT_VIEW_POLICY and
					 * TLSRPT_VIEW_TLSA */
	int	 oom;
};

/* The entry for key, added when new (rows come in day order, so the day
 * table stays sorted; the others are few). NULL when out of memory. */
static struct web_stat_key *
web_stat_get(struct web_stat_table *t, const char *key)
{
	struct web_stat_key *nv;

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

void
web_stat_free(struct web_stat_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].key);
	free(t->v);
}

/* Adds the current group's larger view to the tables and empties it. */
static int
web_stats_flush(struct web_stats_acc *st)
{
	struct web_stat_view *v0 = &st->view[0], *v1 = &st->view[1], *v;
	struct web_stat_key *d, *o, *x;
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
	d = web_stat_get(&st->st->days, st->day);
	o = web_stat_get(&st->st->orgs, st->org);
	if (d == NULL || o == NULL) {
		rc = -1;
		goto out;
	}
	d->successful += v->successful;
	d->failed += v->failed;
	o->successful += v->successful;
	o->failed += v->failed;
	for (size_t i = 0; i < v->results.n; i++) {
		if ((x = web_stat_get(&st->st->results, v->results.v[i].key)) ==
		    NULL) {
			rc = -1;
			goto out;
		}
		x->failed += v->results.v[i].failed;
	}
out:
	for (int i = 0; i < 2; i++) {
		web_stat_free(&st->view[i].results);
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
web_stats_row(void *arg, const struct store_stat_row *r)
{
	struct web_stats_acc *st = arg;
	struct web_stat_view *v;
	struct web_stat_key *x;

	if (st->day != NULL && (strcmp(st->day, r->day) != 0 ||
	    strcmp(st->org, r->organization_name) != 0) &&
	    web_stats_flush(st) == -1)
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
	if ((x = web_stat_get(&v->results, r->result_type)) == NULL)
		goto oom;
	x->failed += r->sessions;
	return 0;
oom:
	st->oom = 1;
	return -1;
}

static int
web_stats_mx_host(void *arg, const struct store_mx_host_row *r)
{
	struct web_stats *st = arg;
	int64_t *nv;

	if (st->mx_n == st->mx_cap) {
		st->mx_cap = st->mx_cap ? st->mx_cap * 2 : 8;
		if ((nv = realloc(st->mx_others, st->mx_cap * sizeof(*nv))) ==
		    NULL)
			return -1;
		st->mx_others = nv;
	}
	if (json_array_append_new(st->mx_names, json_string(r->host)) == -1)
		return -1;
	st->mx_others[st->mx_n++] = r->others;
	return 0;
}

/* *a += b, at most UINT64_MAX. */
static void
web_add_sat(uint64_t *a, uint64_t b)
{
	*a = *a > UINT64_MAX - b ? UINT64_MAX : *a + b;
}

/* The (day, organization) group whose failure details are being read,
 * as the roll-ups group sessions: per view, its failed sessions per MX
 * host and per sending IP. */
struct web_fail_acc {
	struct web_stats *st;
	char	*group;			/* "day\norganization", NULL before
					 * the first row */
	int64_t	 policy;		/* the entry last counted in vs */
	struct tlsrpt_views vs;		/* the report's entries' totals */
	struct web_stat_table mx[2], ips[2];
	int	 oom;
};

/* Adds the current group's larger view to the tables; empties it. */
static void
web_fail_flush(struct web_fail_acc *a)
{
	int v = tlsrpt_views_pick(&a->vs);
	struct web_stat_key *x;

	for (size_t i = 0; a->group != NULL && i < a->mx[v].n; i++) {
		if ((x = web_stat_get(&a->st->mx_failed, a->mx[v].v[i].key)) ==
		    NULL)
			a->oom = 1;
		else
			web_add_sat(&x->failed, a->mx[v].v[i].failed);
	}
	for (size_t i = 0; a->group != NULL && i < a->ips[v].n; i++) {
		if ((x = web_stat_get(&a->st->ips_failed,
		    a->ips[v].v[i].key)) == NULL)
			a->oom = 1;
		else
			web_add_sat(&x->failed, a->ips[v].v[i].failed);
	}
	for (int i = 0; i < 2; i++) {
		web_stat_free(&a->mx[i]);
		web_stat_free(&a->ips[i]);
		memset(&a->mx[i], 0, sizeof(a->mx[i]));
		memset(&a->ips[i], 0, sizeof(a->ips[i]));
	}
	memset(&a->vs, 0, sizeof(a->vs));
	free(a->group);
	a->group = NULL;
}

static int
web_fail_row(void *arg, const struct store_failure_row *r)
{
	struct web_fail_acc *a = arg;
	int v = tlsrpt_view(r->policy_type);
	struct web_stat_key *m, *i;

	size_t dl = strlen(r->day), ol = strlen(r->organization_name);

	if (a->group == NULL || strncmp(a->group, r->day, dl) != 0 ||
	    a->group[dl] != '\n' || strcmp(a->group + dl + 1,
	    r->organization_name) != 0) {
		web_fail_flush(a);
		if ((a->group = malloc(dl + ol + 2)) == NULL) {
			a->oom = 1;
			return -1;
		}
		memcpy(a->group, r->day, dl);
		a->group[dl] = '\n';
		memcpy(a->group + dl + 1, r->organization_name, ol + 1);
	}
	if (r->policy != a->policy) {
		tlsrpt_views_add(&a->vs, v, r->policy_successful,
		    r->policy_failed);
		a->policy = r->policy;
	}
	if (!r->detail)
		return 0;
	m = web_stat_get(&a->mx[v], r->receiving_mx != NULL ?
	    r->receiving_mx : "");
	i = web_stat_get(&a->ips[v], r->sending_ip != NULL ? r->sending_ip :
	    "");
	if (m == NULL || i == NULL) {
		a->oom = 1;
		return -1;
	}
	web_add_sat(&m->failed, r->sessions);
	web_add_sat(&i->failed, r->sessions);
	return 0;
}

static int
web_stat_cmp_failed(const void *a, const void *b)
{
	const struct web_stat_key *x = a, *y = b;

	if (x->failed != y->failed)
		return x->failed < y->failed ? 1 : -1;
	return strcmp(x->key, y->key);
}

static int
web_stat_cmp_total(const void *a, const void *b)
{
	const struct web_stat_key *x = a, *y = b;
	uint64_t tx = x->successful + x->failed, ty = y->successful + y->failed;

	if (tx != ty)
		return tx < ty ? 1 : -1;
	return strcmp(x->key, y->key);
}

static json_t *
web_stats_json_table(const struct web_stat_table *t, const char *keyname,
    bool both)
{
	json_t *a = json_array();

	for (size_t i = 0; i < t->n; i++) {
		json_t *o = json_object();

		/* "": a failure detail without it */
		json_object_set_new(o, keyname, t->v[i].key[0] != '\0' ?
		    json_string(t->v[i].key) : json_null());
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

int
web_stats_read(struct store *s, const char *domain, time_t from, time_t to,
    struct web_stats *st, struct err *e)
{
	struct web_stats_acc acc = { .st = st };
	int r;

	memset(st, 0, sizeof(*st));
	if ((st->mx_names = json_array()) == NULL)
		return err_set(e, "out of memory");
	r = store_stats(s, domain, from, to, web_stats_row, &acc, e);
	if (web_stats_flush(&acc) == -1 || acc.oom)
		return err_set(e, "out of memory");
	if (r == -1)
		return -1;
	if (store_stats_mx_hosts(s, domain, from, to, web_stats_mx_host, st,
	    e) != 0)
		return -1;
	{
		struct web_fail_acc fa = { .st = st };

		r = store_stats_failures(s, domain, from, to, web_fail_row,
		    &fa, e);
		web_fail_flush(&fa);
		if (fa.oom)
			return err_set(e, "out of memory");
		if (r != 0)
			return -1;
	}
	if (st->mx_failed.n > 1)
		qsort(st->mx_failed.v, st->mx_failed.n,
		    sizeof(*st->mx_failed.v), web_stat_cmp_failed);
	if (st->ips_failed.n > 1)
		qsort(st->ips_failed.v, st->ips_failed.n,
		    sizeof(*st->ips_failed.v), web_stat_cmp_failed);
	if (st->orgs.n > 1)
		qsort(st->orgs.v, st->orgs.n, sizeof(*st->orgs.v),
		    web_stat_cmp_total);
	if (st->results.n > 1)
		qsort(st->results.v, st->results.n, sizeof(*st->results.v),
		    web_stat_cmp_failed);
	return 0;
}

void
web_stats_free(struct web_stats *st)
{
	web_stat_free(&st->days);
	web_stat_free(&st->orgs);
	web_stat_free(&st->results);
	web_stat_free(&st->mx_failed);
	web_stat_free(&st->ips_failed);
	json_decref(st->mx_names);
	free(st->mx_others);
	memset(st, 0, sizeof(*st));
}

json_t *
web_stats_json(const char *domain, const struct web_stats *st)
{
	json_t *o = json_object();

	json_object_set_new(o, "domain", json_string(domain));
	json_object_set(o, "mx-hosts", st->mx_names);
	json_object_set_new(o, "days",
	    web_stats_json_table(&st->days, "day", true));
	json_object_set_new(o, "organizations",
	    web_stats_json_table(&st->orgs, "organization-name", true));
	json_object_set_new(o, "result-types",
	    web_stats_json_table(&st->results, "result-type", false));
	json_object_set_new(o, "receiving-mx-hosts",
	    web_stats_json_table(&st->mx_failed, "receiving-mx-hostname",
	    false));
	json_object_set_new(o, "sending-ips",
	    web_stats_json_table(&st->ips_failed, "sending-mta-ip", false));
	return o;
}
