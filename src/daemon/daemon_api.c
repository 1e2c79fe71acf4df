/*
 * daemon_api.c - the web front in the daemon (the REST API, later the
 * dashboard): a request read by a worker (daemon_conn.c, route
 * /api/v1/ on the service host: its head copied here by api_new, its
 * body read into a buffer reserved for the client, api_body) is
 * answered by web_serve on a pool thread, since it reads the store, and
 * written back by its worker. Each pool thread opens its own store
 * handle at its first request (store.h: never share one between
 * threads).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"
#include "daemon_int.h"

static _Thread_local struct store *api_store;

void
api_job_free(struct api_job *j)
{
	struct intake *in = j->task.owner;

	web_response_free(&j->resp);
	if (j->body != NULL) {
		free(j->body);
		peers_give(in->d->peers, j->peer, j->body_cap);
	}
	free(j->fields);
	free(j);
}

/* On a pool thread. */
static void
api_run(struct daemon *d, struct daemon_task *t)
{
	struct api_job *j = (struct api_job *)t;
	struct err e;

	if (api_store == NULL &&
	    store_open_at(d->store_url, d->data_dir, &api_store,
	    &e) == -1) {
		log_warn("api", "cannot open the store: %s", e.msg);
		memset(&j->resp, 0, sizeof(j->resp));
		web_error(&j->resp, 503, "the store is not available; try "
		    "later");
		snprintf(j->resp.extra, sizeof(j->resp.extra),
		    "Retry-After: 60\r\n");
	} else {
		web_serve(api_store, &j->rq, &j->resp);
	}
	daemon_task_back(t);
}

/* Back on the worker's loop. */
static void
api_done(struct daemon_task *t)
{
	struct api_job *j = (struct api_job *)t;

	if (j->waiter != NULL)
		conn_api_done(j->waiter, j);
	api_job_free(j);
}

/* Appends s[0..n) and a NUL at fields + *off; returns where it went,
 * or NULL (and nothing appended) for an absent field. */
static const char *
api_field(char *fields, size_t *off, const char *s, size_t n)
{
	char *p = fields + *off;

	if (s == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	*off += n + 1;
	return p;
}

/* POST .../check: on the pool thread that answers the request. */
static int
api_check_now(void *arg, struct store *s, const char *domain, struct err *e)
{
	return check_monitor_run(arg, s, domain, e);
}

struct api_job *
api_new(struct intake *in, void *waiter, const struct http_request *r,
    const char *client)
{
	struct api_job *j;
	const char *q;
	size_t off = 0;

	/* The head is at most LIMIT_HTTP_HEADER_BYTES: so are these. */
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->fields = malloc(r->target_len + r->authorization_len +
	    r->content_type_len + r->cookie_len + r->origin_len + 5)) == NULL)
		log_fatal("api", "out of memory");
	j->task.owner = in;
	j->task.run = api_run;
	j->task.done = api_done;
	j->waiter = waiter;
	j->head = r->method == HTTP_HEAD;
	j->rq.method = j->head ? HTTP_GET : r->method;
	j->target = (char *)api_field(j->fields, &off, r->target,
	    r->target_len);
	j->rq.authorization = api_field(j->fields, &off, r->authorization,
	    r->authorization_len);
	j->rq.authorization_len = r->authorization_len;
	j->rq.content_type = api_field(j->fields, &off, r->content_type,
	    r->content_type_len);
	j->rq.content_type_len = r->content_type_len;
	j->rq.cookie = api_field(j->fields, &off, r->cookie, r->cookie_len);
	j->rq.cookie_len = r->cookie_len;
	j->rq.origin = api_field(j->fields, &off, r->origin, r->origin_len);
	j->rq.origin_len = r->origin_len;
	/* The path as the parser found it: within the target (copied),
	 * or "/" for an absolute-form target without one. */
	q = memchr(j->target, '?', r->target_len);
	if (r->path >= r->target && r->path < r->target + r->target_len)
		j->rq.path = j->target + (r->path - r->target);
	else
		j->rq.path = "/";
	j->rq.path_len = r->path_len;
	j->rq.query = q != NULL ? q + 1 : NULL;
	j->rq.query_len = q != NULL ? r->target_len - (size_t)(q + 1 -
	    j->target) : 0;
	snprintf(j->client, sizeof(j->client), "%s", client);
	j->rq.client = j->client;
	j->rq.service_host = in->d->service_host;
	j->rq.dns_zone = in->d->dns_zone;
	j->rq.data_dir = in->d->data_dir;
	if (in->d->monitor != NULL) {
		j->rq.check_now = api_check_now;
		j->rq.check_arg = in->d->monitor;
	}
	return j;
}

void
api_body(struct api_job *j, uint8_t *data, size_t cap, size_t len,
    struct peer *peer)
{
	j->body = data;
	j->body_cap = cap;
	j->peer = peer;
	j->rq.body = data;
	j->rq.body_len = len;
}

void
api_start(struct api_job *j)
{
	struct intake *in = j->task.owner;

	daemon_pool_post(in->d, &j->task);
}

void
api_thread_end(void)
{
	store_close(api_store);
	api_store = NULL;
}
