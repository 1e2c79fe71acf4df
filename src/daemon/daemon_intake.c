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
 *	201 {"status": "stored", "id": N}      a new report, committed
 *	200 {"status": "duplicate", "id": N}   seen before (org, report-id)
 *	400 {"error": "<reason>"}              invalid; kept in quarantine
 *	404 / 405 / 411 / 413 / 415            decided from the head alone,
 *	                                        before any body byte is read
 *	503 {"error": ...} + Retry-After       the store failed: try later
 *
 * Chunked bodies are answered 411: every known TLS-RPT sender sends a
 * Content-Length, and a length known up front lets us answer 413 before
 * reading anything and buffer exactly once.
 *
 * SMTP (smtp_listen): RCPT is accepted only for tlsrpt+<token>@service_host
 * with a token of the published token set (550 otherwise: never a relay);
 * a message is taken apart by mime_report_extract and each report
 * parsed; a message without a report, or whose reports are all invalid,
 * is quarantined whole (554); invalid reports beside valid ones are
 * quarantined one by one, and the valid ones stored together: all of a
 * message's reports in one transaction (250 when any was new or all were
 * duplicates, 451 when the commit failed).
 *
 * Parsing runs on a worker's thread; quarantine entries (rare) are
 * stored there, synchronously, with the worker's own store handle.
 * Reports of both routes go through group commit:
 *
 *	worker                          writer thread (one per daemon)
 *	parse, post job  --- queue --->  take whole jobs queued (<= 256
 *	(HTTPS connection or SMTP        reports, <= 8 MiB), report_add_
 *	 session stops reading)          batch: ONE transaction, ONE sync
 *	answer 201/200/503, or   <----  done list + eventfd of the job's
 *	 250/451 (smtp_server_           worker
 *	 deliver_done)
 *
 * A job is an HTTPS report or the valid reports of one message; the
 * writer never splits a job over two batches. Either way an answer of
 * 2xx/250 always means "on disk": the writer hands a job back only after
 * its commit returned. A connection that closes while its job is queued
 * leaves the job alone (the waiter is cleared: conn_free, or the SMTP
 * deliver_cancel hook); the reports are still stored and the answer
 * dropped (a retry gets 200 duplicate / 250).
 * Never reads the token set anywhere but the published table; never logs
 * untrusted bytes unescaped (log.h escapes).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../http/http.h"
#include "../lib/log.h"
#include "../mime/mime.h"
#include "../smtp/smtp.h"
#include "../tlsrpt/tlsrpt.h"
#include "daemon_int.h"

#define INTAKE_PREFIX	  "/tlsrpt/"
#define INTAKE_PREFIX_LEN 8

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
	const char *semi = memchr(ct, ';', len);
	size_t n = semi != NULL ? (size_t)(semi - ct) : len;

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

/* The worker's store, opened on first use. NULL (logged) when it cannot
 * be opened: the caller answers "try later". */
static struct store *
intake_store(struct intake *in)
{
	struct err e;

	if (in->store != NULL)
		return in->store;
	if (store_open_dir(in->d->data_dir, &in->store, &e) == -1) {
		log_warn("intake", "worker %d: cannot open the store: %s",
		    in->id, e.msg);
		in->store = NULL;
	}
	return in->store;
}

/* Keeps raw in quarantine. Returns 0 or -1 (logged). */
static int
intake_quarantine(struct intake *in, const char *kind, const uint8_t *raw,
    size_t len, const char *reason, const struct store_origin *o)
{
	struct store *s = intake_store(in);
	struct log_line l;
	struct err e;
	int64_t id = 0;
	int rc = -1;

	if (s == NULL)
		goto out;
	if (s->ops->quarantine_add(s, kind, raw, len, reason, o, &id, &e)
	    == -1) {
		log_warn("intake", "quarantine failed: %s", e.msg);
		goto out;
	}
	rc = 0;
out:
	log_begin(&l, rc == 0 ? LOG_INFO : LOG_WARN, "intake_quarantine");
	log_cstr(&l, "route", o->route);
	log_cstr(&l, "client", o->client);
	log_cstr(&l, "domain", o->intake_domain);
	log_cstr(&l, "kind", kind);
	log_int(&l, "bytes", (int64_t)len);
	log_cstr(&l, "reason", reason);
	log_int(&l, "id", id);
	log_end(&l);
	return rc;
}

/* Logs what became of one report. */
static void
intake_report_log(const struct store_origin *o, const struct tlsrpt_report *r,
    int rc, int64_t id)
{
	struct log_line l;

	log_begin(&l, rc == -1 ? LOG_WARN : LOG_INFO, "intake_report");
	log_cstr(&l, "route", o->route);
	log_cstr(&l, "client", o->client);
	log_cstr(&l, "domain", o->intake_domain);
	log_cstr(&l, "org", r->organization_name);
	log_cstr(&l, "report_id", r->report_id);
	log_cstr(&l, "result", rc == STORE_ADDED ? "stored" :
	    rc == STORE_DUPLICATE ? "duplicate" : "failed");
	log_int(&l, "id", id);
	log_end(&l);
}

/* --- group commit: the writer ---------------------------------------- */

/* A job for n reports (1..LIMIT_MIME_REPORTS), zeroed; the caller fills
 * it in. */
static struct intake_job *
intake_job_new(struct intake *in, enum intake_via via, size_t n)
{
	struct intake_job *j;

	if ((j = calloc(1, sizeof(*j) + n * sizeof(j->reports[0]))) == NULL)
		log_fatal("intake", "out of memory");
	j->owner = in;
	j->via = via;
	j->nreports = n;
	for (size_t i = 0; i < n; i++)
		j->reports[i].result = -1;
	return j;
}

void
intake_job_free(struct intake_job *j)
{
	if (j == NULL)
		return;
	for (size_t i = 0; i < j->nreports; i++) {
		tlsrpt_report_free(j->reports[i].r);
		free(j->reports[i].data);
	}
	free(j->buf);
	free(j);
}

int
intake_init(struct intake *in, struct daemon *d, int id, struct err *e)
{
	in->d = d;
	in->id = id;
	in->done = NULL;
	pthread_mutex_init(&in->mu, NULL);
	if ((in->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		return err_set(e, "eventfd: %s", strerror(errno));
	return 0;
}

void
intake_fini(struct intake *in)
{
	struct intake_job *j, *next;

	if (in->d == NULL)		/* intake_init never ran */
		return;
	for (j = in->done; j != NULL; j = next) {
		next = j->next;
		intake_job_free(j);
	}
	in->done = NULL;
	if (in->done_fd != -1)
		close(in->done_fd);
	in->done_fd = -1;
	pthread_mutex_destroy(&in->mu);
	in->d = NULL;
}

struct intake_job *
intake_done_take(struct intake *in)
{
	struct intake_job *list;
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

/* Hands a finished job back to its worker. Rings the worker's doorbell
 * only when its list was empty: a non-empty one has rung already and
 * not been taken yet. */
static void
intake_done_post(struct intake_job *j)
{
	struct intake *in = j->owner;
	uint64_t one = 1;
	bool ring;

	pthread_mutex_lock(&in->mu);
	ring = in->done == NULL;
	j->next = in->done;
	in->done = j;
	pthread_mutex_unlock(&in->mu);
	if (ring && write(in->done_fd, &one, sizeof(one)) != sizeof(one))
		log_warn("intake", "worker %d: doorbell: %s", in->id,
		    strerror(errno));
}

/* Queues j for the writer. */
static void
intake_writer_post(struct intake_writer *wr, struct intake_job *j)
{
	j->next = NULL;
	pthread_mutex_lock(&wr->mu);
	*wr->tail = j;
	wr->tail = &j->next;
	pthread_cond_signal(&wr->cond);
	pthread_mutex_unlock(&wr->mu);
}

/* The origin stored with j's reports: the route, and for mail the
 * envelope as received. Borrows from j. */
static void
intake_job_origin(const struct intake_job *j, struct store_origin *o)
{
	if (j->via == INTAKE_VIA_SMTP) {
		*o = (struct store_origin){ .route = "smtp",
		    .client = j->client, .mail_from = j->mail_from,
		    .rcpt_to = j->rcpt_to[0] != '\0' ? j->rcpt_to : NULL,
		    .intake_domain = j->domain[0] != '\0' ? j->domain : NULL,
		    .dkim_present = j->dkim_present };
		return;
	}
	*o = (struct store_origin){ .route = "https", .client = j->client,
	    .intake_domain = j->domain };
}

/* Commits the reports of jobs[0..n) (nrep in all) in one transaction
 * and sets each report's result and id. When the batch fails as a
 * whole and has more than one job, each job is tried alone (its reports
 * still together), so that one the store refuses does not turn its
 * neighbours away. Writer thread only; sj, results and ids hold nrep,
 * o holds n. */
static void
intake_writer_commit(struct intake_writer *wr, struct intake_job **jobs,
    size_t n, size_t nrep, struct store_report_job *sj,
    struct store_origin *o, int *results, int64_t *ids)
{
	struct err e;
	size_t k = 0;

	if (wr->store == NULL &&
	    store_open_dir(wr->data_dir, &wr->store, &e) == -1)
		log_warn("intake", "writer: cannot open the store: %s", e.msg);
	for (size_t i = 0; i < n; i++) {
		intake_job_origin(jobs[i], &o[i]);
		for (size_t r = 0; r < jobs[i]->nreports; r++, k++) {
			const struct intake_report *ir = &jobs[i]->reports[r];

			sj[k] = (struct store_report_job){ .r = ir->r,
			    .raw = ir->raw, .rawlen = ir->len, .o = &o[i] };
			results[k] = -1;
			ids[k] = 0;
		}
	}
	if (wr->store != NULL && wr->store->ops->report_add_batch(wr->store,
	    sj, nrep, results, ids, &e) == -1) {
		log_warn("intake", "storing %zu report(s) failed: %s", nrep,
		    e.msg);
		for (size_t i = 0, at = 0; n > 1 && i < n; i++) {
			size_t m = jobs[i]->nreports;

			if (wr->store->ops->report_add_batch(wr->store,
			    &sj[at], m, &results[at], &ids[at], &e) == -1)
				log_warn("intake", "storing %zu report(s) "
				    "failed: %s", m, e.msg);
			at += m;
		}
	}
	k = 0;
	for (size_t i = 0; i < n; i++) {
		for (size_t r = 0; r < jobs[i]->nreports; r++, k++) {
			struct intake_report *ir = &jobs[i]->reports[r];

			ir->result = results[k];
			ir->id = ids[k];
			intake_report_log(&o[i], ir->r, results[k], ids[k]);
		}
	}
}

/* A message's reports always fit one batch. */
_Static_assert(LIMIT_MIME_REPORTS <= LIMIT_INTAKE_BATCH_JOBS,
    "a message's reports must fit one batch");

static void *
intake_writer_main(void *arg)
{
	struct intake_writer *wr = arg;
	struct intake_job *jobs[LIMIT_INTAKE_BATCH_JOBS];
	struct store_report_job sj[LIMIT_INTAKE_BATCH_JOBS];
	struct store_origin o[LIMIT_INTAKE_BATCH_JOBS];
	int results[LIMIT_INTAKE_BATCH_JOBS];
	int64_t ids[LIMIT_INTAKE_BATCH_JOBS];

	pthread_mutex_lock(&wr->mu);
	for (;;) {
		size_t n = 0, nrep = 0, bytes = 0;

		while (wr->head == NULL && !wr->stop)
			pthread_cond_wait(&wr->cond, &wr->mu);
		if (wr->head == NULL)		/* stopping, queue empty */
			break;
		/* Whole jobs, everything queued up to the bounds; at least
		 * one job even when it alone is over the bytes bound. */
		while (wr->head != NULL &&
		    nrep + wr->head->nreports <= LIMIT_INTAKE_BATCH_JOBS &&
		    (n == 0 || bytes + wr->head->len <=
		    LIMIT_INTAKE_BATCH_BYTES)) {
			struct intake_job *j = wr->head;

			wr->head = j->next;
			jobs[n++] = j;
			nrep += j->nreports;
			bytes += j->len;
		}
		if (wr->head == NULL)
			wr->tail = &wr->head;
		pthread_mutex_unlock(&wr->mu);

		intake_writer_commit(wr, jobs, n, nrep, sj, o, results, ids);
		for (size_t i = 0; i < n; i++)
			intake_done_post(jobs[i]);

		pthread_mutex_lock(&wr->mu);
	}
	pthread_mutex_unlock(&wr->mu);
	store_close(wr->store);
	wr->store = NULL;
	return NULL;
}

int
intake_writer_start(struct daemon *d, struct err *e)
{
	struct intake_writer *wr = &d->writer;

	wr->head = NULL;
	wr->tail = &wr->head;
	wr->stop = false;
	wr->store = NULL;
	wr->data_dir = d->data_dir;
	pthread_mutex_init(&wr->mu, NULL);
	pthread_cond_init(&wr->cond, NULL);
	if (pthread_create(&wr->thr, NULL, intake_writer_main, wr) != 0) {
		pthread_cond_destroy(&wr->cond);
		pthread_mutex_destroy(&wr->mu);
		return err_set(e, "cannot start the intake writer");
	}
	wr->started = true;
	return 0;
}

void
intake_writer_stop(struct daemon *d)
{
	struct intake_writer *wr = &d->writer;

	if (!wr->started)
		return;
	pthread_mutex_lock(&wr->mu);
	wr->stop = true;
	pthread_cond_signal(&wr->cond);
	pthread_mutex_unlock(&wr->mu);
	pthread_join(wr->thr, NULL);
	pthread_cond_destroy(&wr->cond);
	pthread_mutex_destroy(&wr->mu);
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
	    r->path_len < INTAKE_PREFIX_LEN ||
	    memcmp(r->path, INTAKE_PREFIX, INTAKE_PREFIX_LEN) != 0)
		return INTAKE_NONE;
	if (r->method != HTTP_POST)
		return json_error(405, "only POST is allowed here", json,
		    jsonlen);
	p = r->path + INTAKE_PREFIX_LEN;
	if (r->path_len - INTAKE_PREFIX_LEN != STORE_TOKEN_LEN)
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
	if (r->chunked || !r->has_length)
		return json_error(411, "a Content-Length is required", json,
		    jsonlen);
	if (r->content_length > LIMIT_INTAKE_BODY_BYTES) {
		char msg[80];

		snprintf(msg, sizeof(msg), "report larger than the limit of "
		    "%d bytes", LIMIT_INTAKE_BODY_BYTES);
		return json_error(413, msg, json, jsonlen);
	}
	memcpy(domain, dom, strlen(dom) + 1);
	*jsonlen = 0;
	return INTAKE_READ_BODY;
}

int
intake_http_report(struct intake *in, void *waiter, const char *client,
    const char *domain, void *buf, const uint8_t *body, size_t len,
    struct intake_job **job, char json[INTAKE_JSON_LEN], size_t *jsonlen)
{
	struct store_origin o = {
		.route = "https", .client = client, .intake_domain = domain,
	};
	struct tlsrpt_report *r = NULL;
	struct intake_job *j;
	struct err e;

	*job = NULL;
	if (len == 0)
		return json_error(400, "empty body: no report", json,
		    jsonlen);
	if (tlsrpt_parse(body, len, &r, &e) == -1) {
		if (intake_quarantine(in, "report", body, len, e.msg, &o)
		    == -1)
			return json_error(503, "cannot keep the report now; "
			    "try later", json, jsonlen);
		return json_error(400, e.msg, json, jsonlen);
	}
	j = intake_job_new(in, INTAKE_VIA_HTTPS, 1);
	j->waiter = waiter;
	j->buf = buf;
	j->len = len;
	j->reports[0].r = r;
	j->reports[0].raw = body;
	j->reports[0].len = len;
	snprintf(j->client, sizeof(j->client), "%s", client);
	snprintf(j->domain, sizeof(j->domain), "%s", domain);
	*job = j;
	*jsonlen = 0;
	intake_writer_post(&in->d->writer, j);
	return INTAKE_QUEUED;
}

int
intake_http_answer(const struct intake_job *j, char json[INTAKE_JSON_LEN],
    size_t *jsonlen)
{
	const struct intake_report *ir = &j->reports[0];

	if (ir->result == STORE_ADDED)
		return json_status(201, "stored", ir->id, json, jsonlen);
	if (ir->result == STORE_DUPLICATE)
		return json_status(200, "duplicate", ir->id, json, jsonlen);
	return json_error(503, "cannot store the report now; try later",
	    json, jsonlen);
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

static enum smtp_rcpt_result
intake_smtp_rcpt(void *arg, const struct smtp_envelope *env,
    const char *addr)
{
	struct intake *in = arg;

	(void)env;
	return intake_smtp_domain(in->d, addr) != NULL ? SMTP_RCPT_ACCEPT :
	    SMTP_RCPT_REFUSE;
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

/* The job for a message's valid reports (rs[i] != NULL): takes them and
 * their bytes out of rs and m, and copies the envelope. */
static struct intake_job *
intake_smtp_job(struct intake *in, const struct smtp_envelope *env,
    const char *domain, struct mime_message *m, struct tlsrpt_report **rs,
    size_t nvalid)
{
	struct intake_job *j = intake_job_new(in, INTAKE_VIA_SMTP, nvalid);
	size_t k = 0;

	for (size_t i = 0; i < m->nreports; i++) {
		struct mime_report *mr = &m->reports[i];
		struct intake_report *ir;

		if (rs[i] == NULL)
			continue;
		ir = &j->reports[k++];
		ir->r = rs[i];
		rs[i] = NULL;
		ir->data = mr->data;	/* mime_message_free skips NULL */
		ir->raw = mr->data;
		ir->len = mr->len;
		mr->data = NULL;
		j->len += ir->len;
	}
	snprintf(j->client, sizeof(j->client), "%s", env->client);
	snprintf(j->domain, sizeof(j->domain), "%s", domain);
	snprintf(j->mail_from, sizeof(j->mail_from), "%s",
	    env->mail_from != NULL ? env->mail_from : "");
	if (env->nrcpt > 0)
		snprintf(j->rcpt_to, sizeof(j->rcpt_to), "%s", env->rcpt[0]);
	j->dkim_present = m->dkim_present;
	return j;
}

static enum smtp_deliver_result
intake_smtp_deliver(void *arg, const struct smtp_envelope *env,
    const uint8_t *msg, size_t len, char *reason)
{
	struct intake *in = arg;
	struct mime_message *m = NULL;
	struct tlsrpt_report **rs = NULL;
	struct err *errs = NULL;	/* why report i is invalid */
	struct store_origin o = {
		.route = "smtp", .client = env->client,
		.mail_from = env->mail_from,
	};
	char domain[LIMIT_DNAME_LEN + 1] = "";
	const char *first_err = NULL;
	const char *dom;
	struct intake_job *j;
	struct err e;
	enum smtp_deliver_result res = SMTP_DELIVER_TEMPFAIL;
	size_t nvalid = 0;

	/* The domain of the first accepted recipient: a copy, the table may
	 * change while we work. */
	if (env->nrcpt > 0) {
		o.rcpt_to = env->rcpt[0];
		if ((dom = intake_smtp_domain(in->d, env->rcpt[0])) != NULL)
			memcpy(domain, dom, strlen(dom) + 1);
	}
	o.intake_domain = domain[0] != '\0' ? domain : NULL;

	if (mime_report_extract(msg, len, &m, &e) == -1) {
		if (intake_quarantine(in, "message", msg, len, e.msg, &o)
		    == -1) {
			intake_reason(reason, "cannot keep the message now");
			res = SMTP_DELIVER_TEMPFAIL;
			goto out;
		}
		intake_reason(reason, e.msg);
		res = SMTP_DELIVER_NO_REPORT;
		goto out;
	}
	o.dkim_present = m->dkim_present;
	if ((rs = calloc(m->nreports, sizeof(*rs))) == NULL ||
	    (errs = calloc(m->nreports, sizeof(*errs))) == NULL)
		log_fatal("intake", "out of memory");
	for (size_t i = 0; i < m->nreports; i++) {
		if (tlsrpt_parse(m->reports[i].data, m->reports[i].len, &rs[i],
		    &errs[i]) == 0) {
			nvalid++;
			continue;
		}
		rs[i] = NULL;
		if (first_err == NULL)
			first_err = errs[i].msg;
	}
	if (nvalid == 0) {
		/* Nothing to store: keep the whole message. */
		if (intake_quarantine(in, "message", msg, len, first_err, &o)
		    == -1) {
			intake_reason(reason, "cannot keep the message now");
			res = SMTP_DELIVER_TEMPFAIL;
			goto out;
		}
		intake_reason(reason, first_err);
		res = SMTP_DELIVER_NO_REPORT;
		goto out;
	}
	/* An invalid report beside valid ones: keep it alone, with its
	 * reason, before the valid ones go to the writer (a retry after a
	 * failure here finds nothing of the message stored). */
	for (size_t i = 0; i < m->nreports; i++) {
		const struct mime_report *mr = &m->reports[i];

		if (rs[i] != NULL)
			continue;
		if (intake_quarantine(in, "report", mr->data, mr->len,
		    errs[i].msg, &o) == -1) {
			intake_reason(reason, "cannot keep a report now");
			res = SMTP_DELIVER_TEMPFAIL;
			goto out;
		}
	}
	if (env->delivery == NULL) {
		/* Only smtp_server runs these hooks, and it always lends a
		 * slot: a broken invariant, but the sender can retry. */
		log_warn("intake", "worker %d: SMTP delivery without a slot",
		    in->id);
		intake_reason(reason, "cannot store the report now");
		res = SMTP_DELIVER_TEMPFAIL;
		goto out;
	}
	/* The valid reports, all of them in one job: the writer commits
	 * them in one transaction, then intake_smtp_done answers. */
	j = intake_smtp_job(in, env, domain, m, rs, nvalid);
	j->waiter = env->delivery;
	env->delivery->job = j;
	intake_writer_post(&in->d->writer, j);
	res = SMTP_DELIVER_PENDING;
out:
	for (size_t i = 0; rs != NULL && i < m->nreports; i++)
		tlsrpt_report_free(rs[i]);
	free(rs);
	free(errs);
	mime_message_free(m);
	return res;
}

void
intake_smtp_done(struct intake_job *j)
{
	char reason[SMTP_REASON_LEN] = "";
	enum smtp_deliver_result res = SMTP_DELIVER_DUPLICATE;
	struct smtp_delivery *dv = j->waiter;

	if (dv == NULL)			/* the connection is gone */
		return;
	j->waiter = NULL;
	for (size_t i = 0; i < j->nreports; i++) {
		if (j->reports[i].result == -1) {
			/* The commit failed (or the store refused one):
			 * the retry finds what was stored as duplicates. */
			res = SMTP_DELIVER_TEMPFAIL;
			intake_reason(reason, "cannot store the report now");
			break;
		}
		if (j->reports[i].result == STORE_ADDED)
			res = SMTP_DELIVER_STORED;
	}
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

void
intake_close(struct intake *in)
{
	store_close(in->store);
	in->store = NULL;
}
