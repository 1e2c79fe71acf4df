/*
 * web_fetch.c - "Who fetches the policy": the daemon's fetch log of a
 * domain (store_fetch_read: per UTC day the fetches, the distinct client
 * addresses as a HyperLogLog estimate, and at most
 * LIMIT_FETCH_DAY_AGENTS User-Agents, the rest as "other"), with the top
 * WEB_FETCH_TOP agents of each day and of the whole range. A sign of
 * which senders apply MTA-STS: a sender that never fetches the policy
 * does not enforce it.
 */
#include <stdlib.h>
#include <string.h>

#include "web_views.h"

struct web_fetch_ctx {
	struct web_fetches *f;
	int	 oom;
};

static void
web_fetch_sat(uint64_t *a, uint64_t b)
{
	*a = *a + b < *a ? UINT64_MAX : *a + b;
}

static int
web_fetch_row(void *arg, const struct store_fetch_row *r)
{
	struct web_fetch_ctx *x = arg;
	struct web_fetches *f = x->f;
	struct web_fetch_day *d;
	struct web_stat_key *k;
	bool full;

	d = f->n > 0 ? &f->days[f->n - 1] : NULL;
	if (d == NULL || strcmp(d->day, r->day) != 0) {
		if (f->n == f->cap) {
			size_t cap = f->cap ? f->cap * 2 : 32;

			if ((d = realloc(f->days, cap * sizeof(*d))) == NULL)
				goto oom;
			f->days = d;
			f->cap = cap;
		}
		d = &f->days[f->n++];
		memset(d, 0, sizeof(*d));
		memcpy(d->day, r->day, strnlen(r->day, sizeof(d->day) - 1));
		d->fetches = r->fetches;
		d->clients = r->clients;
		d->agents_other = r->agents_other;
		web_fetch_sat(&f->fetches, r->fetches);
		web_fetch_sat(&f->agents_other, r->agents_other);
	}
	if (r->agent == NULL)
		return 0;
	/* Rows come most fetches first: the day's top, then "other". */
	if (d->nagents < WEB_FETCH_TOP) {
		struct web_fetch_agent *a = &d->agents[d->nagents];

		if ((a->agent = strdup(r->agent)) == NULL)
			goto oom;
		a->fetches = r->agent_fetches;
		d->nagents++;
	} else {
		web_fetch_sat(&d->agents_other, r->agent_fetches);
	}
	if ((k = web_view_key(&f->agents, r->agent, &full)) != NULL)
		web_fetch_sat(&k->successful, r->agent_fetches);
	else if (full)
		web_fetch_sat(&f->agents_other, r->agent_fetches);
	else
		goto oom;
	return 0;
oom:
	x->oom = 1;
	return -1;
}

static int
web_agent_cmp(const void *a, const void *b)
{
	const struct web_stat_key *x = a, *y = b;

	if (x->successful != y->successful)
		return x->successful < y->successful ? 1 : -1;
	return strcmp(x->key, y->key);
}

int
web_fetches_read(struct store *s, const char *domain, time_t from,
    time_t to, struct web_fetches *f, struct err *e)
{
	struct web_fetch_ctx x = { f, 0 };
	int r;

	memset(f, 0, sizeof(*f));
	r = store_fetch_read(s, domain, from, to, web_fetch_row, &x, e);
	if (x.oom)
		return err_set(e, "out of memory");
	if (r != 0)
		return -1;
	if (f->agents.n > 1)
		qsort(f->agents.v, f->agents.n, sizeof(*f->agents.v),
		    web_agent_cmp);
	/* Past the top, the range's agents count as other. */
	for (size_t i = WEB_FETCH_TOP; i < f->agents.n; i++)
		web_fetch_sat(&f->agents_other, f->agents.v[i].successful);
	return 0;
}

void
web_fetches_free(struct web_fetches *f)
{
	for (size_t i = 0; i < f->n; i++)
		for (size_t k = 0; k < f->days[i].nagents; k++)
			free(f->days[i].agents[k].agent);
	free(f->days);
	web_stat_free(&f->agents);
	memset(f, 0, sizeof(*f));
}

static json_t *
web_agent_json(const char *agent, uint64_t n)
{
	json_t *o = json_object();

	json_object_set_new(o, "user-agent", json_string(agent));
	json_object_set_new(o, "fetches", json_integer((json_int_t)n));
	return o;
}

json_t *
web_fetches_json(const char *domain, const struct web_fetches *f)
{
	json_t *o = json_object(), *a = json_array(), *days = json_array();

	json_object_set_new(o, "domain", json_string(domain));
	json_object_set_new(o, "clients-estimated", json_true());
	json_object_set_new(o, "fetches", json_integer((json_int_t)
	    f->fetches));
	for (size_t i = 0; i < f->agents.n && i < WEB_FETCH_TOP; i++)
		json_array_append_new(a, web_agent_json(f->agents.v[i].key,
		    f->agents.v[i].successful));
	json_object_set_new(o, "user-agents", a);
	json_object_set_new(o, "other", json_integer((json_int_t)
	    f->agents_other));
	for (size_t i = 0; i < f->n; i++) {
		const struct web_fetch_day *d = &f->days[i];
		json_t *x = json_object();

		a = json_array();
		json_object_set_new(x, "day", json_string(d->day));
		json_object_set_new(x, "fetches", json_integer((json_int_t)
		    d->fetches));
		json_object_set_new(x, "clients", json_integer((json_int_t)
		    d->clients));
		for (size_t k = 0; k < d->nagents; k++)
			json_array_append_new(a, web_agent_json(
			    d->agents[k].agent, d->agents[k].fetches));
		json_object_set_new(x, "user-agents", a);
		json_object_set_new(x, "other", json_integer((json_int_t)
		    d->agents_other));
		json_array_append_new(days, x);
	}
	json_object_set_new(o, "days", days);
	return o;
}
