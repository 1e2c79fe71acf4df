/*
 * daemon_fetch.c - the policy-fetch log in the daemon: every policy a
 * worker serves is counted in the worker's own table (fetchlog.h: no
 * lock, no allocation, no I/O on the loop), and every
 * LIMIT_FETCH_FLUSH_SECONDS the worker hands the table to the pool and
 * counts on in its spare one; a pool thread adds the counts to the
 * store (store_fetch_add, its own store handle) and hands the table
 * back, emptied.
 *
 *	worker: fetchlog_count --tick--> pool: store_fetch_add
 *	        <--------- the table, empty (daemon_task_back) ----
 *
 * Each worker has two tables (about 6 MiB of address space each, used
 * as filled): while one is being written, the other counts; if a write
 * is slow the worker keeps counting in the one it has until the other
 * comes back. A table holds LIMIT_FETCH_SLOTS domain-days per interval;
 * fetches past that are counted as dropped and logged at the flush.
 * When the worker stops, what it counted is flushed once more.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/fetchlog.h"
#include "../lib/log.h"
#include "daemon_int.h"

/* One table on its way to the store and back. */
struct fetch_task {
	struct daemon_task task;	/* first: owner, queue link */
	struct worker	*w;
	struct fetchlog	*fl;
};

struct fetch_state {
	struct fetch_task *live;	/* counting; NULL once stopped */
	struct fetch_task *spare;	/* NULL while with the pool */
	time_t		 last;		/* monotonic: the last flush */
};

static _Thread_local struct store *fetch_store;

static struct fetch_task *
fetch_task_new(struct worker *w)
{
	struct fetch_task *t = calloc(1, sizeof(*t));

	if (t == NULL || (t->fl = fetchlog_new()) == NULL) {
		free(t);
		return NULL;
	}
	t->w = w;
	return t;
}

static void
fetch_task_free(struct fetch_task *t)
{
	if (t != NULL) {
		free(t->fl);
		free(t);
	}
}

int
fetch_setup(struct worker *w, struct err *e)
{
	struct fetch_state *f = calloc(1, sizeof(*f));

	if (f == NULL || (f->live = fetch_task_new(w)) == NULL ||
	    (f->spare = fetch_task_new(w)) == NULL) {
		if (f != NULL)
			fetch_task_free(f->live);
		free(f);
		return err_set(e, "fetch log: out of memory");
	}
	f->last = w->now;
	w->fetch = f;
	return 0;
}

void
fetch_count(struct worker *w, const char *host, size_t hlen,
    const char *client, const struct http_request *r)
{
	static const char pre[] = "mta-sts.";
	struct fetch_state *f = w->fetch;

	if (f == NULL || f->live == NULL)
		return;
	if (hlen > sizeof(pre) - 1 && memcmp(host, pre, sizeof(pre) - 1) ==
	    0) {
		host += sizeof(pre) - 1;
		hlen -= sizeof(pre) - 1;
	}
	/* w->date_sec: the wall clock second of the Date line, just
	 * refreshed by the handler. */
	fetchlog_count(f->live->fl, host, hlen, (int32_t)(w->date_sec /
	    86400), client, strlen(client), r->user_agent,
	    r->user_agent_len);
}

/* On a pool thread: the table's counts into the store, then back. */
static void
fetch_run(struct daemon *d, struct daemon_task *dt)
{
	struct fetch_task *t = (struct fetch_task *)dt;
	struct fetchlog *fl = t->fl;
	struct store_fetch_day *v = NULL;
	struct store_fetch_agent *ag = NULL;
	char (*days)[11] = NULL;
	uint64_t fetches = 0;
	struct err e;

	if (fl->dropped > 0)
		log_warn("fetch_log", "worker %d: %llu policy fetches not "
		    "counted: more than %d domain-days in %d s", t->w->id,
		    (unsigned long long)fl->dropped, LIMIT_FETCH_SLOTS,
		    LIMIT_FETCH_FLUSH_SECONDS);
	if (fl->n == 0)
		goto out;
	if (fetch_store == NULL &&
	    store_open_at(d->store_url, d->data_dir, &fetch_store,
	    &e) == -1) {
		log_warn("fetch_log", "cannot open the store: %s", e.msg);
		goto out;
	}
	v = calloc(fl->n, sizeof(*v));
	ag = calloc(fl->n * LIMIT_FETCH_SLOT_AGENTS, sizeof(*ag));
	days = calloc(fl->n, sizeof(*days));
	if (v == NULL || ag == NULL || days == NULL)
		log_fatal("fetch_log", "out of memory");
	for (size_t i = 0; i < fl->n; i++) {
		const struct fetchlog_slot *s = &fl->slots[i];
		time_t t0 = (time_t)s->day * 86400;
		struct tm tm;

		if (gmtime_r(&t0, &tm) == NULL)
			continue;
		strftime(days[i], sizeof(days[i]), "%Y-%m-%d", &tm);
		v[i].domain = s->domain;
		v[i].day = days[i];
		v[i].fetches = s->fetches;
		v[i].hll = s->hll;
		v[i].agents = &ag[i * LIMIT_FETCH_SLOT_AGENTS];
		v[i].nagents = s->nagents;
		v[i].agents_other = s->other;
		for (size_t k = 0; k < s->nagents; k++) {
			ag[i * LIMIT_FETCH_SLOT_AGENTS + k].agent =
			    s->agents[k].ua;
			ag[i * LIMIT_FETCH_SLOT_AGENTS + k].fetches =
			    s->agents[k].n;
		}
		fetches += s->fetches;
	}
	if (store_fetch_add(fetch_store, v, fl->n, time(NULL), &e) == -1)
		log_warn("fetch_log", "worker %d: %llu policy fetches of %zu "
		    "domain-days not stored: %s", t->w->id,
		    (unsigned long long)fetches, fl->n, e.msg);
out:
	free(v);
	free(ag);
	free(days);
	fetchlog_reset(fl);
	daemon_task_back(dt);
}

/* Back on the worker's loop (or in intake_fini): the spare again. */
static void
fetch_done(struct daemon_task *dt)
{
	struct fetch_task *t = (struct fetch_task *)dt;
	struct fetch_state *f = t->w->fetch;

	if (f == NULL)
		fetch_task_free(t);
	else if (f->live == NULL && f->spare != NULL)
		f->live = t;		/* stopped: kept to be freed */
	else if (f->spare == NULL)
		f->spare = t;
	else
		f->live = t;
}

static void
fetch_post(struct worker *w, struct fetch_task *t)
{
	t->task.owner = &w->intake;
	t->task.run = fetch_run;
	t->task.done = fetch_done;
	t->task.next = NULL;
	daemon_pool_post(w->d, &t->task);
}

void
fetch_tick(struct worker *w)
{
	struct fetch_state *f = w->fetch;

	if (f == NULL || f->live == NULL || f->spare == NULL ||
	    w->now - f->last < LIMIT_FETCH_FLUSH_SECONDS)
		return;
	f->last = w->now;
	if (f->live->fl->n == 0 && f->live->fl->dropped == 0)
		return;
	fetch_post(w, f->live);
	f->live = f->spare;
	f->spare = NULL;
}

void
fetch_final(struct worker *w)
{
	struct fetch_state *f = w->fetch;

	if (f == NULL || f->live == NULL)
		return;
	if (f->live->fl->n > 0 || f->live->fl->dropped > 0) {
		fetch_post(w, f->live);
		f->live = NULL;
	}
}

void
fetch_free(struct worker *w)
{
	struct fetch_state *f = w->fetch;

	if (f == NULL)
		return;
	fetch_task_free(f->live);
	fetch_task_free(f->spare);
	free(f);
	w->fetch = NULL;
}

void
fetch_thread_end(void)
{
	store_close(fetch_store);
	fetch_store = NULL;
}
