/*
 * daemon_api.c - the REST API in the daemon: a request read by a worker
 * (daemon_conn.c, route /api/v1/ on the service host) is answered by
 * web_api on a pool thread, since it reads the store, and written back
 * by its worker. Each pool thread opens its own store handle at its
 * first API request (store.h: never share one between threads).
 */
#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"
#include "daemon_int.h"

static _Thread_local struct store *api_store;

static void
api_job_free(struct api_job *j)
{
	web_response_free(&j->resp);
	free(j->target);
	free(j->auth);
	free(j);
}

/* On a pool thread. */
static void
api_run(struct daemon *d, struct daemon_task *t)
{
	struct api_job *j = (struct api_job *)t;
	struct err e;

	if (api_store == NULL &&
	    store_open_dir(d->data_dir, &api_store, &e) == -1) {
		log_warn("api", "cannot open the store: %s", e.msg);
		j->resp.status = 503;
		j->resp.body = strdup("{\"error\": \"the store is not "
		    "available; try later\"}");
		j->resp.len = j->resp.body != NULL ? strlen(j->resp.body) : 0;
		memcpy(j->resp.extra, "Retry-After: 60\r\n", 18);
	} else {
		web_api(api_store, &j->rq, &j->resp);
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

struct api_job *
api_post(struct intake *in, void *waiter, const struct http_request *r)
{
	struct api_job *j;
	const char *q;

	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->target = strndup(r->target, r->target_len)) == NULL ||
	    (r->authorization != NULL && (j->auth = strndup(r->authorization,
	    r->authorization_len)) == NULL))
		log_fatal("api", "out of memory");
	j->task.owner = in;
	j->task.run = api_run;
	j->task.done = api_done;
	j->waiter = waiter;
	j->head = r->method == HTTP_HEAD;
	j->rq.method = j->head ? HTTP_GET : r->method;
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
	j->rq.authorization = j->auth;
	j->rq.authorization_len = r->authorization_len;
	j->rq.service_host = in->d->service_host;
	daemon_pool_post(in->d, &j->task);
	return j;
}

void
api_thread_end(void)
{
	store_close(api_store);
	api_store = NULL;
}
