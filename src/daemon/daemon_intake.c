/*
 * daemon_intake.c - TLS-RPT report intake (RFC 8460 §3): the HTTPS POST
 * route and the SMTP listener's hooks, both ending in the store.
 *
 * HTTPS, on the HTTPS listener, Host = service_host:
 *
 *	POST /tlsrpt/<token> HTTP/1.1          token = 32 hex digits, the
 *	Content-Type: application/tlsrpt+gzip   domain's intake token
 *	Content-Length: N                       (or +json, application/gzip,
 *	                                         application/json; parameters
 *	<N bytes: gzip or JSON>                  such as charset ignored)
 *
 *	  or, instead of Content-Length (RFC 9112 §7.1):
 *	Transfer-Encoding: chunked
 *
 *	<chunks of the gzip or JSON bytes>
 *
 *	201 {"status": "stored", "id": N}      a new report, committed
 *	200 {"status": "duplicate", "id": N}   seen before (org, report-id)
 *	400 {"error": "<reason>"}              invalid; kept in quarantine
 *	404 / 405 / 411 / 413 / 415            decided from the head alone,
 *	                                        before any body byte is read
 *	400 / 413 / 431 {"error": ...}         a chunked body refused while
 *	                                        it is decoded (then close)
 *	429 {"error": ...} + Retry-After       the client (an IPv4 address,
 *	                                        an IPv6 /64) is over its rate
 *	                                        or its uploads at once:
 *	                                        decided from the head too
 *	503 {"error": ...} + Retry-After       busy, or the store failed:
 *	                                        try later
 *
 * A chunked body is decoded as its bytes arrive (http_chunked_feed,
 * from the connection's head buffer into the body buffer: memory holds
 * decoded data only) under the same limits as a Content-Length one:
 * LIMIT_INTAKE_BODY_BYTES of data (413 at the size line of the chunk
 * that would pass it), the same per-client reservations, the minimum
 * upload rate counted in data bytes; and its framing may not outweigh
 * its data (LIMIT_INTAKE_CHUNK_FRAMING). Its length is known only at its
 * end, so an empty one ("0\r\n\r\n") gets the 400 of an empty
 * Content-Length body there, and 413 is sent after "100 Continue".
 *
 * Limits per client (intake_admit, peer.h), for anonymous senders: a
 * rate of reports (setting intake_client_rate; a token bucket holding a
 * minute's worth, one per client, HTTPS and SMTP together) and HTTPS
 * uploads at once (intake_client_concurrent). Past either, 429 with
 * Retry-After, decided on the worker from the head after the other
 * head answers: the body is never read, nothing reaches the pool or the
 * writer, so a flood from one address costs a lookup under the peers'
 * lock and never delays another's reports. An upload counts from its
 * head until its job is freed (answered, or its connection gone).
 *
 * SMTP (smtp_listen): RCPT is accepted only for tlsrpt+<token>@service_host
 * with a token of the published token set (550 otherwise: never a relay),
 * and the transaction's first accepted RCPT takes a report from the
 * client's bucket (450 4.7.1 "try again in N seconds" past the rate:
 * before DATA, so nothing of the message is read; at RCPT rather than
 * MAIL so that only transactions that carry a report to us count, and
 * once a message however many recipients); too many sessions from one
 * client stay 421 (LIMIT_SMTP_CONN_PER_CLIENT);
 * a message's reports are found and parsed; a message without a valid
 * report is quarantined whole (554); invalid reports beside valid ones
 * are quarantined one by one, and the valid ones stored with them: all
 * of a message's pieces in one transaction (250 when any report was new
 * or all were duplicates, 451 when the commit failed).
 *
 * A worker only reads bytes; every job then goes through two kinds of
 * threads, so that nothing an attacker can make slow (a gzip member
 * inflating to 16 MiB, a message GMime works hard on, a commit waiting
 * for the disk) runs on an event loop that serves policies:
 *
 *	worker            the pool's threads (as      writer thread (one)
 *	                   many as workers)
 *	post job --q--> intake_examine: reports, --q--> take whole jobs
 *	(the connection   quarantine entries,          queued (<= 256 pieces,
 *	 or session        reasons                     <= 8 MiB): report_add_
 *	 stops reading)                                batch: ONE transaction,
 *	answer 201/200/  <---- done list + eventfd ----  ONE sync, quarantine
 *	 400/503, or                                     caps applied
 *	 250/554/451
 *
 * Either way an answer of 2xx/250 (and 400/554: "kept in quarantine")
 * always means "on disk": the writer hands a job back only after its
 * commit returned. A connection that closes while its job is in flight
 * leaves the job alone (the waiter is cleared: conn_free, or the SMTP
 * deliver_cancel hook); its pieces are still stored and the answer
 * dropped (a retry gets 200 duplicate / 250). The bytes a job holds stay
 * reserved for its client in d->peers until it is freed.
 * Never reads the token set anywhere but the published table; never logs
 * untrusted bytes unescaped (log.h escapes).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../dns/dns.h"
#include "../http/http.h"
#include "../lib/log.h"
#include "../mime/mime.h"
#include "../smtp/smtp.h"
#include "../tlsrpt/tlsrpt.h"
#include "daemon_int.h"


/* --- small helpers --------------------------------------------------- */

/* Appends s[0..n) to the JSON string being built in buf (cap bytes, *len
 * used), escaped: quote, backslash and every byte outside printable ASCII
 * as \u00XX. Stops quietly when full, keeping room for the closing
 * characters the caller adds. */
static void
json_esc(char *buf, size_t cap, size_t *len, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		char tmp[6];
		size_t k;

		if (ch == '"' || ch == '\\') {
			tmp[0] = '\\';
			tmp[1] = (char)ch;
			k = 2;
		} else if (ch < 0x20 || ch >= 0x7f) {
			memcpy(tmp, "\\u00", 4);
			tmp[4] = hex[ch >> 4];
			tmp[5] = hex[ch & 15];
			k = 6;
		} else {
			tmp[0] = (char)ch;
			k = 1;
		}
		if (*len + k + 4 > cap)		/* room for "}\n and NUL */
			return;
		memcpy(buf + *len, tmp, k);
		*len += k;
	}
}

/* Writes {"error": "<msg>"} + LF into json. Returns status. */
static int
json_error(int status, const char *msg, char json[INTAKE_JSON_LEN],
    size_t *jsonlen)
{
	size_t n = 0;

	memcpy(json, "{\"error\": \"", 11);
	n = 11;
	json_esc(json, INTAKE_JSON_LEN, &n, msg, strlen(msg));
	memcpy(json + n, "\"}\n", 3);
	n += 3;
	json[n] = '\0';
	*jsonlen = n;
	return status;
}

/* Writes {"status": "<word>", "id": N} + LF into json. Returns status. */
static int
json_status(int status, const char *word, int64_t id,
    char json[INTAKE_JSON_LEN], size_t *jsonlen)
{
	int n = snprintf(json, INTAKE_JSON_LEN,
	    "{\"status\": \"%s\", \"id\": %lld}\n", word, (long long)id);

	*jsonlen = n > 0 && n < INTAKE_JSON_LEN ? (size_t)n : 0;
	return status;
}

/* True when the media type (before any ';', case-insensitive, blanks
 * around it ignored) is one of the report types senders use. */
static bool
intake_media_ok(const char *ct, size_t len)
{
	static const char *const ok[] = {
		"application/tlsrpt+gzip", "application/tlsrpt+json",
		"application/gzip", "application/json",
	};
	const char *semi;
	size_t n;

	if (len == 0)		/* no Content-Type (ct may be NULL) */
		return false;
	semi = memchr(ct, ';', len);
	n = semi != NULL ? (size_t)(semi - ct) : len;

	while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	while (n > 0 && (*ct == ' ' || *ct == '\t')) {
		ct++;
		n--;
	}
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strlen(ok[i]) == n && strncasecmp(ct, ok[i], n) == 0)
			return true;
	return false;
}

/* --- jobs and queues ------------------------------------------------- */

static void intake_job_run(struct daemon *d, struct daemon_task *t);
static void intake_job_done(struct daemon_task *t);

static struct intake_job *
intake_job_new(struct intake *in, enum intake_via via)
{
	struct intake_job *j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		log_fatal("intake", "out of memory");
	j->task.owner = in;
	j->task.run = intake_job_run;
	j->task.done = intake_job_done;
	j->via = via;
	for (size_t i = 0; i < LIMIT_MIME_REPORTS; i++)
		j->item.results[i] = -1;
	return j;
}

void
intake_job_free(struct intake_job *j)
{
	if (j == NULL)
		return;
	intake_parts_free(&j->item.parts);
	free(j->in);
	if (j->upload)
		peers_upload_end(j->task.owner->d->peers, j->peer);
	peers_give(j->task.owner->d->peers, j->peer, j->held);
	free(j);
}

static void
task_queue_init(struct task_queue *q)
{
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cond, NULL);
	q->head = NULL;
	q->tail = &q->head;
	q->stop = false;
}

static void
task_queue_fini(struct task_queue *q)
{
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->mu);
}

static void
task_queue_post(struct task_queue *q, struct daemon_task *t)
{
	t->next = NULL;
	pthread_mutex_lock(&q->mu);
	*q->tail = t;
	q->tail = &t->next;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->mu);
}

/* Tells the queue's threads to finish what is queued, then exit. */
static void
task_queue_stop(struct task_queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->stop = true;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->mu);
}

int
intake_init(struct intake *in, struct daemon *d, int id, struct err *e)
{
	in->d = d;
	in->id = id;
	in->done = NULL;
	in->met = &d->met[id];
	pthread_mutex_init(&in->mu, NULL);
	if ((in->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		return err_set(e, "eventfd: %s", strerror(errno));
	return 0;
}

void
intake_fini(struct intake *in)
{
	struct daemon_task *t, *next;

	if (in->d == NULL)		/* intake_init never ran */
		return;
	/* Nobody waits any more: done answers no one, then frees. */
	for (t = in->done; t != NULL; t = next) {
		next = t->next;
		t->done(t);
	}
	in->done = NULL;
	if (in->done_fd != -1)
		close(in->done_fd);
	in->done_fd = -1;
	pthread_mutex_destroy(&in->mu);
	in->d = NULL;
}

struct daemon_task *
intake_done_take(struct intake *in)
{
	struct daemon_task *list;
	uint64_t v;

	/* The doorbell first: a job handed back after this read rings it
	 * again, one handed back before is in the list taken below. */
	if (read(in->done_fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing rung; the list decides */
	}
	pthread_mutex_lock(&in->mu);
	list = in->done;
	in->done = NULL;
	pthread_mutex_unlock(&in->mu);
	return list;
}

/* Rings the worker's doorbell only when its list was empty: a
 * non-empty one has rung already and not been taken yet. */
void
daemon_task_back(struct daemon_task *t)
{
	struct intake *in = t->owner;
	uint64_t one = 1;
	bool ring;

	pthread_mutex_lock(&in->mu);
	ring = in->done == NULL;
	t->next = in->done;
	in->done = t;
	pthread_mutex_unlock(&in->mu);
	if (ring && write(in->done_fd, &one, sizeof(one)) != sizeof(one))
		log_warn("intake", "worker %d: doorbell: %s", in->id,
		    strerror(errno));
}

/* --- the pool -------------------------------------------------------- */

/* A pool thread's resolver, for DKIM keys: made at its first mail, freed
 * when the thread ends (dns.h: one per thread). */
static _Thread_local struct dns_resolver *pool_dns;
static _Thread_local bool pool_dns_failed;

/* intake_key_lookup through the pool thread's resolver: the first TXT
 * record of name. */
static int
pool_key_lookup(void *arg, const char *name, char *buf, size_t cap)
{
	const struct daemon *d = arg;
	struct strv txt = { 0 };
	struct err e;
	int r;

	if (pool_dns == NULL && !pool_dns_failed &&
	    dns_resolver_new(&d->dns, &pool_dns, &e) == -1) {
		pool_dns_failed = true;		/* said once per thread */
		log_warn("intake", "DKIM keys cannot be looked up: %s",
		    e.msg);
	}
	if (pool_dns == NULL)
		return -1;
	r = dns_txt(pool_dns, name, &txt, &e);
	if (r == DNS_FOUND && txt.n > 0)
		snprintf(buf, cap, "%s", txt.v[0]);
	else if (r == DNS_FOUND)
		r = DNS_NONE;
	else if (r == DNS_FAILED)
		log_info("intake", "DKIM key %s: %s", name, e.msg);
	strv_free(&txt);
	return r == DNS_FOUND ? 0 : r == DNS_NONE ? 1 : -1;
}

static void *
daemon_pool_main(void *arg)
{
	struct daemon *d = arg;
	struct task_queue *q = &d->pool.q;
	struct daemon_task *t;

	/* The pool's work (a report's parsing, a dashboard page) yields to
	 * the workers that serve policies: on a busy machine their
	 * latency matters more (bench/RESULTS.md, dashboard). Best effort:
	 * Linux takes a nice value per thread. */
	if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid),
	    DAEMON_POOL_NICE) == -1)
		log_info("pool", "cannot lower the pool's priority: %s",
		    strerror(errno));

	for (;;) {
		pthread_mutex_lock(&q->mu);
		while (q->head == NULL && !q->stop)
			pthread_cond_wait(&q->cond, &q->mu);
		if ((t = q->head) != NULL) {
			q->head = t->next;
			if (q->head == NULL)
				q->tail = &q->head;
		}
		pthread_mutex_unlock(&q->mu);
		if (t == NULL)			/* stopping, queue empty */
			break;
		t->run(d, t);
	}
	dns_resolver_free(pool_dns);
	pool_dns = NULL;
	api_thread_end();
	fetch_thread_end();
	return NULL;
}

void
daemon_pool_post(struct daemon *d, struct daemon_task *t)
{
	task_queue_post(&d->pool.q, t);
}

/* An intake job in the pool: taken apart (a mail's DKIM signature
 * checked, its key looked up: seconds at worst, never on a worker's
 * loop), then on to the writer. */
static void
intake_job_run(struct daemon *d, struct daemon_task *t)
{
	struct intake_job *j = (struct intake_job *)t;

	intake_examine(j->via == INTAKE_VIA_SMTP, j->in, j->inlen,
	    &j->item.parts);
	if (j->via == INTAKE_VIA_SMTP && j->item.parts.nvalid > 0)
		intake_dkim_message(&j->item.parts, j->in, j->inlen,
		    pool_key_lookup, d, &j->dkim);
	task_queue_post(&d->writer.q, t);
}

/* An intake job back on its worker: answers its connection or SMTP
 * session, if still there, and frees it. */
static void
intake_job_done(struct daemon_task *t)
{
	struct intake_job *j = (struct intake_job *)t;

	if (j->via == INTAKE_VIA_SMTP)
		intake_smtp_done(j);	/* may run the session's pipelined
					 * commands */
	else if (j->waiter != NULL)
		conn_job_done(j->waiter, j);
	intake_job_free(j);
}

/* --- the writer ------------------------------------------------------ */

/* The origin stored with j's pieces: the route, the client, the
 * provenance, and for mail the envelope as received and the DKIM
 * verdict. Borrows from j. */
static void
intake_job_origin(const struct intake_writer *wr, const struct intake_job *j,
    struct store_origin *o)
{
	*o = (struct store_origin){ .route = "https", .client = j->client,
	    .client_key = j->client_key, .intake_domain = j->domain[0] !=
	    '\0' ? j->domain : NULL, .provenance = STORE_HTTPS,
	    .require_dkim = wr->require_dkim };
	if (j->via == INTAKE_VIA_SMTP) {
		o->route = "smtp";
		o->mail_from = j->mail_from;
		o->rcpt_to = j->rcpt_to[0] != '\0' ? j->rcpt_to : NULL;
		o->provenance = j->dkim.verified ? STORE_DKIM_VERIFIED :
		    STORE_MAIL_UNVERIFIED;
		o->provenance_reason = j->dkim.verified ? NULL :
		    j->dkim.reason;
		o->dkim_domain = j->dkim.domain[0] != '\0' ? j->dkim.domain :
		    NULL;
	}
}

/* Logs what became of one piece. */
static void
intake_piece_log(const struct store_origin *o, const struct intake_piece *p,
    int rc, int64_t id)
{
	struct log_line l;

	if (p->r == NULL) {
		log_begin(&l, rc == -1 ? LOG_WARN : LOG_INFO,
		    "intake_quarantine");
		log_cstr(&l, "route", o->route);
		log_cstr(&l, "client", o->client);
		log_cstr(&l, "domain", o->intake_domain);
		log_cstr(&l, "kind", p->kind);
		log_int(&l, "bytes", (int64_t)p->len);
		log_cstr(&l, "reason", p->reason);
		log_cstr(&l, "result", rc == -1 ? "failed" : id == 0 ?
		    "dropped by the caps" : "kept");
		log_int(&l, "id", id);
		log_end(&l);
		return;
	}
	log_begin(&l, rc == -1 ? LOG_WARN : LOG_INFO, "intake_report");
	log_cstr(&l, "route", o->route);
	log_cstr(&l, "client", o->client);
	log_cstr(&l, "domain", o->intake_domain);
	log_cstr(&l, "org", p->r->organization_name);
	log_cstr(&l, "report_id", p->r->report_id);
	log_cstr(&l, "provenance", store_provenance_name(o->provenance));
	if (o->provenance_reason != NULL)
		log_cstr(&l, "dkim", o->provenance_reason);
	log_cstr(&l, "result", rc == STORE_ADDED ? "stored" :
	    rc == STORE_DUPLICATE ? "duplicate" : "failed");
	log_int(&l, "id", id);
	log_end(&l);
}

/* Commits the jobs[0..n) in one transaction (intake_commit) and logs
 * what became of each piece. Writer thread only. */
static void
intake_writer_commit(struct intake_writer *wr, struct intake_job **jobs,
    size_t n)
{
	struct intake_item *items[LIMIT_INTAKE_BATCH_JOBS];
	struct timespec t0, t1;
	struct err e;

	if (wr->store == NULL &&
	    store_open_at(wr->store_url, wr->data_dir, &wr->store,
	    &e) == -1)
		log_warn("intake", "writer: cannot open the store: %s", e.msg);
	for (size_t i = 0; i < n; i++) {
		intake_job_origin(wr, jobs[i], &jobs[i]->o);
		jobs[i]->item.o = &jobs[i]->o;
		jobs[i]->item.caps = &wr->caps;
		items[i] = &jobs[i]->item;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (wr->store == NULL || intake_commit(wr->store, items, n, &e) ==
	    -1) {
		/* Once per outage (a database gone answers every batch
		 * with the same error): senders get 503 and retry. */
		if (wr->store != NULL && !wr->store_failing)
			log_warn("intake", "storing %zu input(s): %s; "
			    "answering 503/451 until the store works", n,
			    e.msg);
		wr->store_failing = wr->store != NULL;
		met_inc(wr->met, MET_STORE_FAILED);
	} else if (wr->store_failing) {
		log_info("intake", "the store works again");
		wr->store_failing = false;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (wr->store != NULL)
		metrics_commit_time(wr->met, (uint64_t)((t1.tv_sec -
		    t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000));
	for (size_t i = 0; i < n; i++) {
		bool smtp = jobs[i]->via == INTAKE_VIA_SMTP;

		for (size_t r = 0; r < jobs[i]->item.parts.n; r++) {
			int rc = jobs[i]->item.results[r];

			intake_piece_log(&jobs[i]->o, &jobs[i]->item.parts.p[r],
			    rc, jobs[i]->item.ids[r]);
			if (rc == STORE_ADDED)
				met_inc(wr->met, smtp ? MET_STORED_SMTP :
				    MET_STORED_HTTPS);
			else if (rc == STORE_DUPLICATE)
				met_inc(wr->met, smtp ? MET_DUP_SMTP :
				    MET_DUP_HTTPS);
			else if (rc == STORE_QUARANTINED)
				met_inc(wr->met, smtp ? MET_QUAR_SMTP :
				    MET_QUAR_HTTPS);
		}
	}
}

/* A message's pieces always fit one batch. */
_Static_assert(LIMIT_MIME_REPORTS <= LIMIT_INTAKE_BATCH_JOBS,
    "a message's pieces must fit one batch");

static void *
intake_writer_main(void *arg)
{
	struct intake_writer *wr = arg;
	struct task_queue *q = &wr->q;
	struct intake_job *jobs[LIMIT_INTAKE_BATCH_JOBS];

	log_buffer_thread(true);
	pthread_mutex_lock(&q->mu);
	for (;;) {
		size_t n = 0, np = 0, bytes = 0;

		while (q->head == NULL && !q->stop)
			pthread_cond_wait(&q->cond, &q->mu);
		if (q->head == NULL)		/* stopping, queue empty */
			break;
		/* Whole jobs, everything queued up to the bounds; at least
		 * one job even when it alone is over the bytes bound. */
		while (q->head != NULL &&
		    np + ((struct intake_job *)q->head)->item.parts.n <=
		    LIMIT_INTAKE_BATCH_JOBS && (n == 0 || bytes +
		    ((struct intake_job *)q->head)->inlen <=
		    LIMIT_INTAKE_BATCH_BYTES)) {
			struct intake_job *j = (struct intake_job *)q->head;

			q->head = j->task.next;
			jobs[n++] = j;
			np += j->item.parts.n;
			bytes += j->inlen;
		}
		if (q->head == NULL)
			q->tail = &q->head;
		pthread_mutex_unlock(&q->mu);

		intake_writer_commit(wr, jobs, n);
		for (size_t i = 0; i < n; i++)
			daemon_task_back(&jobs[i]->task);
		log_flush();

		pthread_mutex_lock(&q->mu);
	}
	pthread_mutex_unlock(&q->mu);
	store_close(wr->store);
	wr->store = NULL;
	log_buffer_thread(false);
	return NULL;
}

int
intake_start(struct daemon *d, struct err *e)
{
	struct intake_writer *wr = &d->writer;
	struct daemon_pool *ps = &d->pool;

	task_queue_init(&wr->q);
	wr->store = NULL;
	wr->data_dir = d->data_dir;
	wr->store_url = d->store_url;
	wr->met = &d->met[d->nworkers];
	if (pthread_create(&wr->thr, NULL, intake_writer_main, wr) != 0) {
		task_queue_fini(&wr->q);
		return err_set(e, "cannot start the intake writer");
	}
	wr->started = true;
	task_queue_init(&ps->q);
	ps->n = d->nworkers;
	if ((ps->thr = calloc((size_t)ps->n, sizeof(*ps->thr))) == NULL)
		return err_set(e, "out of memory");
	for (ps->started = 0; ps->started < ps->n; ps->started++)
		if (pthread_create(&ps->thr[ps->started], NULL,
		    daemon_pool_main, d) != 0)
			return err_set(e, "cannot start pool thread %d",
			    ps->started);
	return 0;
}

void
intake_stop(struct daemon *d)
{
	struct intake_writer *wr = &d->writer;
	struct daemon_pool *ps = &d->pool;

	/* The pool first: the intake jobs it finishes go to the writer. */
	if (ps->thr != NULL) {
		task_queue_stop(&ps->q);
		for (int i = 0; i < ps->started; i++)
			pthread_join(ps->thr[i], NULL);
		task_queue_fini(&ps->q);
		free(ps->thr);
		ps->thr = NULL;
	}
	if (!wr->started)
		return;
	task_queue_stop(&wr->q);
	pthread_join(wr->thr, NULL);
	task_queue_fini(&wr->q);
	wr->started = false;
}

/* --- HTTPS ----------------------------------------------------------- */

int
intake_route(const struct daemon *d, const struct http_request *r,
    const char *host, char domain[LIMIT_DNAME_LEN + 1],
    char json[INTAKE_JSON_LEN], size_t *jsonlen)
{
	const struct ptable *t;
	const char *dom;
	char token[STORE_TOKEN_LEN + 1];
	const char *p;

	if (strcmp(host, d->service_host) != 0 ||
	    r->path_len < INTAKE_URL_PATH_LEN ||
	    memcmp(r->path, INTAKE_URL_PATH, INTAKE_URL_PATH_LEN) != 0)
		return INTAKE_NONE;
	if (r->method != HTTP_POST)
		return json_error(405, "only POST is allowed here", json,
		    jsonlen);
	p = r->path + INTAKE_URL_PATH_LEN;
	if (r->path_len - INTAKE_URL_PATH_LEN != STORE_TOKEN_LEN)
		return json_error(404, "no such report URL", json, jsonlen);
	for (size_t i = 0; i < STORE_TOKEN_LEN; i++) {
		char ch = p[i];

		if (ch >= 'A' && ch <= 'F')
			ch = (char)(ch - 'A' + 'a');
		else if (!((ch >= '0' && ch <= '9') || (ch >= 'a' &&
		    ch <= 'f')))
			return json_error(404, "no such report URL", json,
			    jsonlen);
		token[i] = ch;
	}
	token[STORE_TOKEN_LEN] = '\0';
	t = atomic_load_explicit(&((struct daemon *)d)->table,
	    memory_order_acquire);
	if ((dom = ptable_find_token(t, token)) == NULL)
		return json_error(404, "no such report URL", json, jsonlen);
	if (!intake_media_ok(r->content_type, r->content_type_len))
		return json_error(415, "expected Content-Type "
		    "application/tlsrpt+gzip or application/tlsrpt+json",
		    json, jsonlen);
	/* A chunked body's length is known at its end: its 413 and the
	 * 400 of an empty one come while it is read (daemon_conn.c). */
	if (!r->chunked) {
		if (!r->has_length)
			return json_error(411, "a Content-Length or a "
			    "chunked body is required", json, jsonlen);
		if (r->content_length > LIMIT_INTAKE_BODY_BYTES)
			return intake_body_refuse(413, json, jsonlen);
		if (r->content_length == 0)
			return intake_body_refuse(INTAKE_EMPTY, json,
			    jsonlen);
	}
	memcpy(domain, dom, strlen(dom) + 1);
	*jsonlen = 0;
	return INTAKE_READ_BODY;
}

int
intake_body_refuse(int why, char json[INTAKE_JSON_LEN], size_t *jsonlen)
{
	char msg[80];

	switch (why) {
	case INTAKE_EMPTY:
		return json_error(400, "empty body: no report", json, jsonlen);
	case 413:
		snprintf(msg, sizeof(msg), "report larger than the limit of "
		    "%d bytes", LIMIT_INTAKE_BODY_BYTES);
		return json_error(413, msg, json, jsonlen);
	case 431:
		return json_error(431, "chunked body: trailer section over "
		    "the limits of a request head", json, jsonlen);
	case INTAKE_FRAMING:
		return json_error(400, "chunked body: more framing than the "
		    "data allows", json, jsonlen);
	default:
		return json_error(400, "chunked body: malformed framing",
		    json, jsonlen);
	}
}

int
intake_admit(struct daemon *d, struct peer *peer, char json[INTAKE_JSON_LEN],
    size_t *jsonlen, char retry[INTAKE_RETRY_LEN])
{
	uint64_t wait_ms = 0, secs;
	char msg[160];

	switch (peers_admit(d->peers, peer, daemon_now_ms(), true, &wait_ms)) {
	case PEER_ADMIT:
		return INTAKE_READ_BODY;
	case PEER_OVER_CONCURRENT:
		snprintf(retry, INTAKE_RETRY_LEN, "Retry-After: %d\r\n",
		    LIMIT_INTAKE_CONCURRENT_RETRY);
		snprintf(msg, sizeof(msg), "too many uploads at once from "
		    "this address (at most %u); retry in %d seconds",
		    d->intake_concurrent, LIMIT_INTAKE_CONCURRENT_RETRY);
		return json_error(429, msg, json, jsonlen);
	default:
		secs = (wait_ms + 999) / 1000;	/* at least 1: wait_ms > 0 */
		snprintf(retry, INTAKE_RETRY_LEN, "Retry-After: %llu\r\n",
		    (unsigned long long)secs);
		snprintf(msg, sizeof(msg), "too many reports from this address "
		    "(at most %u a minute); retry in %llu seconds",
		    d->intake_rate, (unsigned long long)secs);
		return json_error(429, msg, json, jsonlen);
	}
}

struct intake_job *
intake_http_post(struct intake *in, void *waiter, const char *client,
    const char *client_key, const char *domain, struct peer *peer,
    uint8_t *buf, size_t held, size_t len)
{
	struct intake_job *j = intake_job_new(in, INTAKE_VIA_HTTPS);

	j->waiter = waiter;
	j->in = buf;
	j->inlen = len;
	j->peer = peer;
	j->held = held;
	j->upload = true;
	snprintf(j->client, sizeof(j->client), "%s", client);
	snprintf(j->client_key, sizeof(j->client_key), "%s", client_key);
	snprintf(j->domain, sizeof(j->domain), "%s", domain);
	daemon_pool_post(in->d, &j->task);
	return j;
}

int
intake_http_answer(const struct intake_job *j, char json[INTAKE_JSON_LEN],
    size_t *jsonlen)
{
	const struct intake_piece *p = &j->item.parts.p[0];

	switch (j->item.parts.n > 0 ? j->item.results[0] : -1) {
	case STORE_ADDED:
		return json_status(201, "stored", j->item.ids[0], json, jsonlen);
	case STORE_DUPLICATE:
		return json_status(200, "duplicate", j->item.ids[0], json,
		    jsonlen);
	case STORE_QUARANTINED:
		return json_error(400, p->reason, json, jsonlen);
	default:
		return json_error(503, "cannot store the report now; try "
		    "later", json, jsonlen);
	}
}

/* --- SMTP hooks ------------------------------------------------------ */

/* The domain of a report address, or NULL (not ours, unknown token). */
static const char *
intake_smtp_domain(const struct daemon *d, const char *addr)
{
	char token[STORE_TOKEN_LEN + 2];
	const struct ptable *t;

	if (!smtp_report_address(addr, d->service_host, token, sizeof(token))
	    || strlen(token) != STORE_TOKEN_LEN)
		return NULL;
	t = atomic_load_explicit(&((struct daemon *)d)->table,
	    memory_order_acquire);
	return ptable_find_token(t, token);
}

/* A report address of ours, and the client's rate: a transaction takes
 * one report from the client's bucket (the one its HTTPS uploads take
 * from) at its first accepted recipient, so that a message counts once
 * and a transaction that carries no report to us costs nothing. Over the
 * rate: 450 4.7.1 with when to come back, before DATA. */
static enum smtp_rcpt_result
intake_smtp_rcpt(void *arg, const struct smtp_envelope *env,
    const char *addr)
{
	struct intake *in = arg;
	uint64_t wait_ms = 0;

	if (intake_smtp_domain(in->d, addr) == NULL) {
		met_inc(in->met, MET_SMTP_REFUSED);
		return SMTP_RCPT_REFUSE;
	}
	if (env->nrcpt > 0 || env->peer == NULL ||
	    peers_admit(in->d->peers, env->peer, daemon_now_ms(), false,
	    &wait_ms) == PEER_ADMIT)
		return SMTP_RCPT_ACCEPT;
	met_inc(in->met, MET_SMTP_LIMITED);
	snprintf(env->reason, SMTP_REASON_LEN, "too many reports from your "
	    "address (at most %u a minute); try again in %llu seconds",
	    in->d->intake_rate, (unsigned long long)(wait_ms + 999) / 1000);
	return SMTP_RCPT_LIMITED;
}

static void
intake_reason(char *reason, const char *msg)
{
	size_t n = strlen(msg);

	if (n >= SMTP_REASON_LEN)
		n = SMTP_REASON_LEN - 1;
	memcpy(reason, msg, n);
	reason[n] = '\0';
}

/* Takes the message (its buffer and the bytes reserved for it, from the
 * session) into a job for the pool, and answers later. */
static enum smtp_deliver_result
intake_smtp_deliver(void *arg, const struct smtp_envelope *env,
    const uint8_t *msg, size_t len, char *reason)
{
	struct intake *in = arg;
	struct intake_job *j;
	const char *dom;

	if (env->delivery == NULL || env->msg_buf == NULL) {
		/* Only smtp_server runs these hooks, and it always lends a
		 * slot: a broken invariant, but the sender can retry. */
		log_warn("intake", "worker %d: SMTP delivery without a slot",
		    in->id);
		intake_reason(reason, "cannot store the report now");
		return SMTP_DELIVER_TEMPFAIL;
	}
	j = intake_job_new(in, INTAKE_VIA_SMTP);
	j->in = *env->msg_buf;		/* NULL for an empty message */
	j->inlen = len;
	j->held = *env->msg_held;
	j->peer = env->peer;
	*env->msg_buf = NULL;
	*env->msg_held = 0;
	(void)msg;			/* it is j->in */
	snprintf(j->client, sizeof(j->client), "%s", env->client);
	snprintf(j->client_key, sizeof(j->client_key), "%s",
	    env->peer != NULL ? peer_text(env->peer) : env->client);
	snprintf(j->mail_from, sizeof(j->mail_from), "%s",
	    env->mail_from != NULL ? env->mail_from : "");
	/* The domain of the first accepted recipient: a copy, the table
	 * may change while the job is on its way. */
	if (env->nrcpt > 0) {
		snprintf(j->rcpt_to, sizeof(j->rcpt_to), "%s", env->rcpt[0]);
		if ((dom = intake_smtp_domain(in->d, env->rcpt[0])) != NULL)
			snprintf(j->domain, sizeof(j->domain), "%s", dom);
	}
	j->waiter = env->delivery;
	env->delivery->job = j;
	daemon_pool_post(in->d, &j->task);
	return SMTP_DELIVER_PENDING;
}

void
intake_smtp_done(struct intake_job *j)
{
	char reason[SMTP_REASON_LEN] = "";
	enum smtp_deliver_result res = SMTP_DELIVER_NO_REPORT;
	struct smtp_delivery *dv = j->waiter;

	for (size_t i = 0; i < j->item.parts.n; i++) {
		if (j->item.results[i] == -1) {
			/* The commit failed (or the store refused one):
			 * the retry finds what was stored as duplicates. */
			res = SMTP_DELIVER_TEMPFAIL;
			intake_reason(reason, "cannot store the report now");
			break;
		}
		if (j->item.results[i] == STORE_ADDED)
			res = SMTP_DELIVER_STORED;
		else if (j->item.results[i] == STORE_DUPLICATE &&
		    res == SMTP_DELIVER_NO_REPORT)
			res = SMTP_DELIVER_DUPLICATE;
	}
	/* Counted even when the connection is gone: it was decided. */
	met_inc(j->task.owner->met, res == SMTP_DELIVER_STORED ?
	    MET_SMTP_STORED : res == SMTP_DELIVER_DUPLICATE ?
	    MET_SMTP_DUPLICATE : res == SMTP_DELIVER_TEMPFAIL ?
	    MET_SMTP_UNAVAILABLE : MET_SMTP_INVALID);
	if (dv == NULL)			/* the connection is gone */
		return;
	j->waiter = NULL;
	if (res == SMTP_DELIVER_NO_REPORT && j->item.parts.first_error != NULL)
		intake_reason(reason, j->item.parts.first_error);
	smtp_server_deliver_done(dv, res, reason);
}

/* The connection of a pending delivery is gone: its job goes on, its
 * answer is dropped when it comes back. */
static void
intake_smtp_cancel(void *arg, void *job)
{
	struct intake_job *j = job;

	(void)arg;
	j->waiter = NULL;
}

static void
intake_smtp_log(void *arg, const char *client, const char *line)
{
	struct intake *in = arg;
	struct log_line l;

	log_begin(&l, LOG_INFO, "smtp");
	log_int(&l, "worker", in->id);
	log_cstr(&l, "client", client);
	log_cstr(&l, "msg", line);
	log_end(&l);
}

void
intake_smtp_hooks(struct intake *in, struct smtp_hooks *h)
{
	memset(h, 0, sizeof(*h));
	h->arg = in;
	h->rcpt = intake_smtp_rcpt;
	h->deliver = intake_smtp_deliver;
	h->deliver_cancel = intake_smtp_cancel;
	h->log = intake_smtp_log;
}
