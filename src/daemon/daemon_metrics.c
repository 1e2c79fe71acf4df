/*
 * daemon_metrics.c - what `serve` counts, and the listener Prometheus
 * scrapes (metrics_listen): plain HTTP, GET /metrics only, the text
 * exposition format (src/lib/metrics.c writes it).
 *
 * Counting costs the policy path one relaxed load and one relaxed store
 * of a counter its own thread alone writes: every worker has a slot of
 * counters (a cache line apart from the next worker's), the intake
 * writer one more; a scrape sums the slots. No lock, no atomic
 * read-modify-write, no shared cache line on the hot path; a scrape
 * may see one count not yet the next, never a torn one.
 *
 *	worker i ----- met[i]          (policy fetches, handshakes, intake
 *	                                answers by route and outcome)
 *	writer ------- met[nworkers]   (reports stored, duplicates,
 *	                                quarantined, commit latency)
 *	ACME manager - its own atomics (acme_manager_stats)
 *	a scrape ----- sums the slots; reads the store (quarantine size,
 *	                reports and conflicts), the table (domains) and the
 *	                ACME manager, on this module's own thread
 *
 * The listener is one thread with poll(): at most LIMIT_METRICS_CONNS
 * connections (more are closed at accept), LIMIT_METRICS_SECONDS from
 * accept to the end of the answer, a head within
 * LIMIT_HTTP_HEADER_BYTES parsed by http_parse_request, one request per
 * connection (Connection: close). Nothing here runs on a worker; the
 * only store reads are a scrape's, on this thread, with its own handle.
 * There is no alert source in stsguard yet, so no alert metric.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../acme/acme.h"
#include "../http/http.h"
#include "../lib/log.h"
#include "../lib/metrics.h"
#include "../lib/net.h"
#include "daemon_int.h"

/* --- what is counted -------------------------------------------------- */

enum met_family {
	MF_POLICY,
	MF_TLS,
	MF_INTAKE,
	MF_STORED,
	MF_DUPLICATES,
	MF_QUARANTINED,
	MF_STORE_FAIL,
	MF_NCOUNTERS,
};

static const struct {
	const char *name, *help;
} met_families[MF_NCOUNTERS] = {
	[MF_POLICY] = { "stsguard_policy_fetches_total",
	    "GET/HEAD /.well-known/mta-sts.txt on HTTPS, by result: served "
	    "(200), unknown_host (404), misdirected (421: SNI names another "
	    "host)" },
	[MF_TLS] = { "stsguard_tls_handshakes_total",
	    "TLS handshakes on the HTTPS listener, by result: full, resumed, "
	    "acme_challenge (tls-alpn-01), failed" },
	[MF_INTAKE] = { "stsguard_intake_total",
	    "report intake answers, by route (https, smtp) and outcome: "
	    "stored, duplicate, invalid (kept in quarantine), refused "
	    "(other 4xx from the head or the framing; SMTP 550 for an address "
	    "not ours), limited (429/450: the "
	    "client's rate or uploads), unavailable (503/451: the store "
	    "failed)" },
	[MF_STORED] = { "stsguard_reports_stored_total",
	    "new reports committed by the intake writer, by route (a "
	    "conflicting one included)" },
	[MF_DUPLICATES] = { "stsguard_report_duplicates_total",
	    "reports received again (equal after normalization), by route" },
	[MF_QUARANTINED] = { "stsguard_quarantined_total",
	    "inputs put in quarantine by the intake writer, by route" },
	[MF_STORE_FAIL] = { "stsguard_store_commit_failures_total",
	    "intake commits the store refused (the senders were told to "
	    "retry)" },
};

static const struct {
	enum met_family f;
	const char *labels;
} met_defs[MET_N_COUNTERS] = {
	[MET_POLICY_SERVED] = { MF_POLICY, "result=\"served\"" },
	[MET_POLICY_UNKNOWN] = { MF_POLICY, "result=\"unknown_host\"" },
	[MET_POLICY_MISDIRECTED] = { MF_POLICY, "result=\"misdirected\"" },
	[MET_TLS_FULL] = { MF_TLS, "result=\"full\"" },
	[MET_TLS_RESUMED] = { MF_TLS, "result=\"resumed\"" },
	[MET_TLS_ACME] = { MF_TLS, "result=\"acme_challenge\"" },
	[MET_TLS_FAILED] = { MF_TLS, "result=\"failed\"" },
	[MET_HTTPS_STORED] = { MF_INTAKE,
	    "route=\"https\",outcome=\"stored\"" },
	[MET_HTTPS_DUPLICATE] = { MF_INTAKE,
	    "route=\"https\",outcome=\"duplicate\"" },
	[MET_HTTPS_INVALID] = { MF_INTAKE,
	    "route=\"https\",outcome=\"invalid\"" },
	[MET_HTTPS_REFUSED] = { MF_INTAKE,
	    "route=\"https\",outcome=\"refused\"" },
	[MET_HTTPS_LIMITED] = { MF_INTAKE,
	    "route=\"https\",outcome=\"limited\"" },
	[MET_HTTPS_UNAVAILABLE] = { MF_INTAKE,
	    "route=\"https\",outcome=\"unavailable\"" },
	[MET_SMTP_STORED] = { MF_INTAKE, "route=\"smtp\",outcome=\"stored\"" },
	[MET_SMTP_DUPLICATE] = { MF_INTAKE,
	    "route=\"smtp\",outcome=\"duplicate\"" },
	[MET_SMTP_INVALID] = { MF_INTAKE,
	    "route=\"smtp\",outcome=\"invalid\"" },
	[MET_SMTP_REFUSED] = { MF_INTAKE,
	    "route=\"smtp\",outcome=\"refused\"" },
	[MET_SMTP_LIMITED] = { MF_INTAKE,
	    "route=\"smtp\",outcome=\"limited\"" },
	[MET_SMTP_UNAVAILABLE] = { MF_INTAKE,
	    "route=\"smtp\",outcome=\"unavailable\"" },
	[MET_STORED_HTTPS] = { MF_STORED, "route=\"https\"" },
	[MET_STORED_SMTP] = { MF_STORED, "route=\"smtp\"" },
	[MET_DUP_HTTPS] = { MF_DUPLICATES, "route=\"https\"" },
	[MET_DUP_SMTP] = { MF_DUPLICATES, "route=\"smtp\"" },
	[MET_QUAR_HTTPS] = { MF_QUARANTINED, "route=\"https\"" },
	[MET_QUAR_SMTP] = { MF_QUARANTINED, "route=\"smtp\"" },
	[MET_STORE_FAILED] = { MF_STORE_FAIL, NULL },
};

/* Upper bounds of the commit latency buckets, in microseconds; the last
 * bucket (MET_COMMIT_BUCKETS - 1) is +Inf. */
static const uint64_t met_commit_le[MET_COMMIT_BUCKETS - 1] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000,
};

int
metrics_setup(struct daemon *d, struct err *e)
{
	size_t n = (size_t)d->nworkers + 1;

	if ((d->met = aligned_alloc(_Alignof(struct met_slot),
	    n * sizeof(*d->met))) == NULL)
		return err_set(e, "out of memory");
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < MET_N; k++)
			atomic_init(&d->met[i].c[k], 0);
	return 0;
}

void
metrics_commit_time(struct met_slot *s, uint64_t usec)
{
	int b = 0;

	while (b < MET_COMMIT_BUCKETS - 1 && usec > met_commit_le[b])
		b++;
	met_inc(s, MET_COMMIT_BUCKET + b);
	met_add(s, MET_COMMIT_USEC, usec);
}

/* --- a scrape ---------------------------------------------------------- */

/* The figures read from the store, on this thread's handle (opened on
 * the first scrape; closed and opened again after a failure). Returns 0
 * or -1 (the store's gauges are left out, stsguard_store_up says 0). */
static int
metrics_store(struct daemon *d, struct store **sp,
    struct store_quarantine_usage *qu, struct store_report_tally *rt)
{
	struct err e;

	if (*sp == NULL && store_open_at(d->store_url, d->data_dir, sp,
	    &e) == -1) {
		log_warn("metrics", "cannot open the store: %s", e.msg);
		*sp = NULL;
		return -1;
	}
	if (store_quarantine_usage(*sp, qu, &e) == -1 ||
	    store_report_tally(*sp, rt, &e) == -1) {
		log_warn("metrics", "store: %s", e.msg);
		store_close(*sp);
		*sp = NULL;
		return -1;
	}
	return 0;
}

static void
metrics_gauge(struct metrics_buf *b, const char *name, const char *help,
    double v)
{
	metrics_family(b, name, "gauge", help);
	metrics_double(b, name, NULL, v);
}

static void
metrics_counter(struct metrics_buf *b, const char *name, const char *help,
    uint64_t v)
{
	metrics_family(b, name, "counter", help);
	metrics_u64(b, name, NULL, v);
}

/* Writes every metric into b. Metrics thread. */
static void
metrics_render(struct daemon *d, struct store **sp, struct metrics_buf *b)
{
	uint64_t sum[MET_N] = { 0 }, cum = 0;
	struct store_quarantine_usage qu;
	struct store_report_tally rt;
	size_t domains = 0;
	int store_ok;

	for (int i = 0; i <= d->nworkers; i++)
		for (int k = 0; k < MET_N; k++)
			sum[k] += atomic_load_explicit(&d->met[i].c[k],
			    memory_order_relaxed);
	for (int f = 0; f < MF_NCOUNTERS; f++) {
		metrics_family(b, met_families[f].name, "counter",
		    met_families[f].help);
		for (int k = 0; k < MET_N_COUNTERS; k++)
			if (met_defs[k].f == (enum met_family)f)
				metrics_u64(b, met_families[f].name,
				    met_defs[k].labels, sum[k]);
	}

	metrics_family(b, "stsguard_store_commit_seconds", "histogram",
	    "time the intake writer's commits took (one transaction and one "
	    "sync for a batch of reports)");
	for (int i = 0; i < MET_COMMIT_BUCKETS; i++) {
		cum += sum[MET_COMMIT_BUCKET + i];
		if (i < MET_COMMIT_BUCKETS - 1)
			metrics_printf(b, "stsguard_store_commit_seconds_bucket"
			    "{le=\"%g\"} %llu\n", (double)met_commit_le[i] / 1e6,
			    (unsigned long long)cum);
		else
			metrics_printf(b, "stsguard_store_commit_seconds_bucket"
			    "{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
	}
	metrics_double(b, "stsguard_store_commit_seconds_sum", NULL,
	    (double)sum[MET_COMMIT_USEC] / 1e6);
	metrics_u64(b, "stsguard_store_commit_seconds_count", NULL, cum);

	pthread_mutex_lock(&d->names_mu);	/* the table stays */
	{
		const struct ptable *t = atomic_load(&d->table);

		domains = t != NULL ? t->n : 0;
	}
	pthread_mutex_unlock(&d->names_mu);
	metrics_gauge(b, "stsguard_policies_served", "names whose policy the "
	    "workers serve now (mta-sts.<domain>, removed ones still served "
	    "included)", (double)domains);

	store_ok = metrics_store(d, sp, &qu, &rt) == 0;
	metrics_gauge(b, "stsguard_store_up", "1 when this scrape could read "
	    "the store, else 0 (and the store's figures are left out)",
	    store_ok);
	if (store_ok) {
		metrics_gauge(b, "stsguard_quarantine_entries", "inputs kept in "
		    "quarantine", (double)qu.entries);
		metrics_gauge(b, "stsguard_quarantine_bytes", "bytes the "
		    "quarantine holds (compressed)", (double)qu.bytes);
		metrics_gauge(b, "stsguard_reports", "reports in the store",
		    (double)rt.reports);
		metrics_gauge(b, "stsguard_report_conflicts", "stored reports "
		    "flagged a conflict (a different report shares their "
		    "organization-name and report-id)", (double)rt.conflicts);
	}

	if (d->monitor != NULL) {
		static const char *const sev[CHECK_SEVERITIES] = {
			"severity=\"critical\"", "severity=\"error\"",
			"severity=\"warning\"" };
		uint64_t al[CHECK_SEVERITIES];

		check_monitor_alerts(d->monitor, al);
		metrics_family(b, "stsguard_alerts_total", "counter", "alerts "
		    "the monitor raised (past their cool-down), by severity");
		for (int i = 0; i < CHECK_SEVERITIES; i++)
			metrics_u64(b, "stsguard_alerts_total", sev[i], al[i]);
	}

	if (d->acme_mgr != NULL) {
		struct acme_stats as;

		acme_manager_stats(d->acme_mgr, &as);
		metrics_counter(b, "stsguard_acme_orders_total", "ACME orders "
		    "started", as.orders);
		metrics_counter(b, "stsguard_acme_renewals_total", "ACME orders "
		    "that replaced a certificate the name had", as.renewals);
		metrics_counter(b, "stsguard_acme_failures_total", "ACME orders "
		    "that failed", as.failures);
		if (as.soonest_expiry != 0)
			metrics_gauge(b, "stsguard_certificate_expiry_soonest_"
			    "timestamp_seconds", "the earliest notAfter of the "
			    "certificates the ACME manager keeps, unix time",
			    (double)as.soonest_expiry);
	}
}

/* --- the listener ------------------------------------------------------ */

struct mconn {
	int	 fd;		/* -1: a free slot */
	time_t	 deadline;	/* monotonic */
	char	 in[LIMIT_HTTP_HEADER_BYTES];
	size_t	 inlen;
	char	*out;		/* owned: the whole answer */
	size_t	 outlen, outoff;
};

static void
mconn_close(struct mconn *c)
{
	close(c->fd);
	free(c->out);
	c->fd = -1;
	c->out = NULL;
	c->inlen = c->outlen = c->outoff = 0;
}

/* The answer to the head in c->in (complete, or in error with status):
 * 200 with the metrics for GET /metrics, 405 for another method on it,
 * 404 elsewhere, or the parser's error. Sets c->out. */
static void
mconn_answer(struct daemon *d, struct store **sp, struct mconn *c,
    const struct http_request *r, int status)
{
	char date[HTTP_DATE_LINE_LEN + 1], head[512];
	struct metrics_buf b = { 0 };
	size_t hl;

	http_date_line((long long)time(NULL), date);
	if (status == 0 && (r->path_len != 8 ||
	    memcmp(r->path, "/metrics", 8) != 0))
		status = 404;
	else if (status == 0 && r->method != HTTP_GET)
		status = 405;
	if (status == 0) {
		metrics_render(d, sp, &b);
		if (b.failed)
			status = 500;
	}
	if (status != 0) {
		free(b.p);
		if ((c->out = malloc(512)) == NULL)
			return;
		c->outlen = http_error_response(c->out, 512, status, date,
		    status == 405 ? "Allow: GET\r\n" : NULL, true,
		    r != NULL && r->method == HTTP_HEAD);
		return;
	}
	hl = http_response_head(head, sizeof(head), 200, date,
	    "text/plain; version=0.0.4; charset=utf-8", b.len, NULL, true);
	if ((c->out = malloc(hl + b.len)) == NULL) {
		free(b.p);
		return;
	}
	memcpy(c->out, head, hl);
	memcpy(c->out + hl, b.p, b.len);
	c->outlen = hl + b.len;
	free(b.p);
}

/* Reads what c has sent; answers once its head is whole or wrong. */
static void
mconn_read(struct daemon *d, struct store **sp, struct mconn *c)
{
	struct http_request r;
	enum http_parse pr;
	ssize_t k;
	int status = 0;

	k = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
	if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR)) {
		mconn_close(c);
		return;
	}
	if (k < 0)
		return;
	c->inlen += (size_t)k;
	pr = http_parse_request(c->in, c->inlen, &r, &status);
	if (pr == HTTP_PARSE_MORE && c->inlen < sizeof(c->in))
		return;
	if (pr == HTTP_PARSE_MORE) {
		pr = HTTP_PARSE_ERROR;
		status = 431;
	}
	mconn_answer(d, sp, c, pr == HTTP_PARSE_DONE ? &r : NULL,
	    pr == HTTP_PARSE_DONE ? 0 : status);
	if (c->out == NULL)
		mconn_close(c);		/* out of memory: no answer */
}

static void
mconn_write(struct mconn *c)
{
	ssize_t k = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);

	if (k < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (k <= 0) {
		mconn_close(c);
		return;
	}
	c->outoff += (size_t)k;
	if (c->outoff == c->outlen) {
		shutdown(c->fd, SHUT_WR);
		mconn_close(c);
	}
}

static void *
metrics_main(void *arg)
{
	struct daemon *d = arg;
	struct mconn *cs;
	struct store *store = NULL;
	struct pollfd pfd[2 + LIMIT_METRICS_CONNS];
	int slot[2 + LIMIT_METRICS_CONNS];

	if ((cs = calloc(LIMIT_METRICS_CONNS, sizeof(*cs))) == NULL) {
		log_warn("metrics", "out of memory: no metrics");
		return NULL;
	}
	for (int i = 0; i < LIMIT_METRICS_CONNS; i++)
		cs[i].fd = -1;
	log_buffer_thread(true);
	for (;;) {
		nfds_t n = 2;
		time_t now;

		pfd[0] = (struct pollfd){ .fd = d->metrics_stop_fd,
		    .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = d->metrics_fd,
		    .events = POLLIN };
		for (int i = 0; i < LIMIT_METRICS_CONNS; i++)
			if (cs[i].fd != -1) {
				pfd[n] = (struct pollfd){ .fd = cs[i].fd,
				    .events = cs[i].out != NULL ? POLLOUT :
				    POLLIN };
				slot[n++] = i;
			}
		if (poll(pfd, n, 1000) == -1 && errno != EINTR) {
			log_warn("metrics", "poll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents != 0)
			break;
		now = daemon_now();
		for (nfds_t p = 2; p < n; p++) {
			struct mconn *c = &cs[slot[p]];

			if (c->fd == -1)
				continue;
			if (now >= c->deadline)
				mconn_close(c);
			else if (pfd[p].revents & (POLLERR | POLLHUP |
			    POLLNVAL) && c->out == NULL &&
			    !(pfd[p].revents & POLLIN))
				mconn_close(c);
			else if (c->out == NULL && pfd[p].revents != 0)
				mconn_read(d, &store, c);
			else if (c->out != NULL && pfd[p].revents != 0)
				mconn_write(c);
		}
		while (pfd[1].revents & POLLIN) {
			int fd = accept4(d->metrics_fd, NULL, NULL,
			    SOCK_NONBLOCK | SOCK_CLOEXEC), i;

			if (fd == -1)
				break;		/* EAGAIN, or try later */
			for (i = 0; i < LIMIT_METRICS_CONNS &&
			    cs[i].fd != -1; i++)
				;
			if (i == LIMIT_METRICS_CONNS) {
				close(fd);	/* full: the scraper retries */
				continue;
			}
			cs[i].fd = fd;
			cs[i].deadline = now + LIMIT_METRICS_SECONDS;
		}
		log_flush();
	}
	for (int i = 0; i < LIMIT_METRICS_CONNS; i++)
		if (cs[i].fd != -1)
			mconn_close(&cs[i]);
	free(cs);
	store_close(store);
	log_buffer_thread(false);
	return NULL;
}

int
metrics_listen(struct daemon *d, const char *spec, struct err *e)
{
	if (spec == NULL || *spec == '\0' || strcmp(spec, "off") == 0)
		return 0;
	if ((d->metrics_fd = net_listen(spec, false, e)) == -1)
		return -1;
	return 0;
}

int
metrics_start(struct daemon *d, struct err *e)
{
	if (d->metrics_fd == -1)
		return 0;
	if ((d->metrics_stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) ==
	    -1)
		return err_set(e, "metrics: eventfd: %s", strerror(errno));
	if (pthread_create(&d->metrics_thr, NULL, metrics_main, d) != 0)
		return err_set(e, "cannot start the metrics thread");
	d->metrics_started = true;
	return 0;
}

void
metrics_stop(struct daemon *d)
{
	uint64_t one = 1;

	if (d->metrics_started) {
		if (write(d->metrics_stop_fd, &one, sizeof(one)) !=
		    sizeof(one))
			log_warn("stop", "metrics: %s", strerror(errno));
		pthread_join(d->metrics_thr, NULL);
		d->metrics_started = false;
	}
	if (d->metrics_stop_fd != -1)
		close(d->metrics_stop_fd);
	if (d->metrics_fd != -1)
		close(d->metrics_fd);
	d->metrics_fd = d->metrics_stop_fd = -1;
}

void
metrics_free(struct daemon *d)
{
	free(d->met);
	d->met = NULL;
}
