/*
 * check_monitor.c - the monitor inside `stsguard serve` (check.h): one
 * thread of its own, off every event loop, that checks each hosted domain
 * every monitor_interval (with jitter, so that domains added together do
 * not stay together), keeps the latest check per domain and raises
 * alerts for what got worse, then hands the alerts to the webhook.
 *
 *	round:  store check_due --> check_many (CHECK_MONITOR_CONCURRENCY)
 *	        --> per domain: what the checker cannot see added to its
 *	            check (check_trend.c: the ACME manager's failure note
 *	            of mta-sts.<domain>, web_stats_read per day of the
 *	            last CHECK_TREND_DAYS, web_ready_read when in testing)
 *	        --> per domain: the previous check, check_alerts_diff,
 *	            the cool-down (alert_last), check_put, alert_add
 *	        --> every alert not sent yet: POST alert_webhook, and an
 *	            e-mail to alert_email through alert_smtp_relay (libcurl),
 *	            alert_sent per channel (taken, or one more try)
 *
 *	        --> the service's own certificate: a failing renewal is an
 *	            alert of the service host, again after each cool-down
 *	        --> each tenant whose digest is a week old: web_digest, mailed
 *	            to its owners
 *
 * What it never does: run on a worker's loop, follow a webhook's
 * redirect, take a proxy from the environment, or keep more than the
 * latest check per domain and LIMIT_ALERTS_PER_DOMAIN alerts.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <curl/curl.h>

#include "../acme/acme.h"
#include "../lib/log.h"
#include "../store/store.h"
#include "../web/web.h"
#include "../web/web_views.h"
#include "check.h"

/* A tenant's digest: weekly. */
#define MONITOR_DIGEST_EVERY (7 * 86400)

struct check_monitor {
	struct check_monitor_config c;
	pthread_t	 thr;
	bool		 started;
	pthread_mutex_t	 mu;		/* guards stop, kick and the cond */
	pthread_cond_t	 cond;
	bool		 stop;
	bool		 kick;		/* alerts wait: send them now */
	pthread_mutex_t	 keep_mu;	/* one check kept at a time, so that
					 * two never raise the same alert */
	atomic_int	 on_demand;	/* check_monitor_run calls running */
	atomic_uint_fast64_t raised[CHECK_SEVERITIES];	/* by severity */
	struct store	*store;		/* the thread's own */
	/* For e-mail: the relay's URL, the envelope, the From line. */
	char		 relay_url[LIMIT_DNAME_LEN + 16];
	char		 env_from[LIMIT_DNAME_LEN + 16];
	char		 env_to[LIMIT_DNAME_LEN + 80];
	char		 hdr_from[LIMIT_DNAME_LEN + 32];
};

/* The jittered time of the next check: interval +- 10 %. */
static time_t
monitor_next(const struct check_monitor *m, time_t now)
{
	time_t iv = m->c.interval, span = iv / 5;
	uint32_t rnd = 0;

	if (iv <= 0)
		return now;
	if (span > 0 && getrandom(&rnd, sizeof(rnd), 0) == sizeof(rnd))
		return now + iv - span / 2 + (time_t)(rnd % (uint32_t)span);
	return now + iv;
}

/* What this store serves for name, for check_hosted. Returns 0, or -1
 * (not hosted, or the store failed) with the reason. */
static int
monitor_hosted(const struct check_monitor *m, struct store *s,
    const char *name, struct check_hosted_info *h, struct err *e)
{
	struct store_domain d = { 0 };
	int r;

	memset(h, 0, sizeof(*h));
	if ((r = store_domain_get(s, name, &d, e)) == -1)
		return -1;
	if (r != 0 || d.removed != 0) {
		if (r == 0)
			store_domain_free(&d);
		return err_set(e, "%s is not hosted here", name);
	}
	h->hosted = true;
	snprintf(h->policy_id, sizeof(h->policy_id), "%s", d.policy_id);
	snprintf(h->service_host, sizeof(h->service_host), "%s",
	    m->c.service_host);
	snprintf(h->own_prefix, sizeof(h->own_prefix), "mailto:tlsrpt+%s@%s",
	    d.token, m->c.service_host);
	store_domain_free(&d);
	return 0;
}

static int
monitor_prev_cb(void *arg, const struct store_check_row *row)
{
	char **json = arg;

	return (*json = strdup(row->json)) == NULL ? -1 : 0;
}

/* Adds to r what the checker cannot see (check_trend.c): the renewal of
 * mta-sts.<domain> failing, what the domain's reports of the last
 * CHECK_TREND_DAYS show, and a domain ready to leave testing. What
 * cannot be read is logged and left out. */
static void
monitor_more(const struct check_monitor *m, struct store *s,
    struct check_report *r, time_t now)
{
	struct web_stats *st = NULL;
	struct check_day days[CHECK_TREND_DAYS];
	struct store_domain d = { 0 };
	struct acme_cert_state cs;
	char name[LIMIT_DNAME_LEN + 16];
	time_t today = now - now % 86400;
	size_t nd = 0;
	struct err e;
	int g;

	if ((g = store_domain_get(s, r->domain, &d, &e)) != 0) {
		if (g == -1)
			log_warn("monitor", "%s: %s", r->domain, e.msg);
		return;
	}
	snprintf(name, sizeof(name), "mta-sts.%s", r->domain);
	if (m->c.data_dir != NULL && acme_cert_state(m->c.data_dir, name,
	    &cs) == 0)
		check_cert_renewal(r, name, cs.failed_at, cs.failures,
		    cs.reason, cs.not_after);
	if ((st = calloc(CHECK_TREND_DAYS, sizeof(*st))) == NULL) {
		log_warn("monitor", "%s: out of memory", r->domain);
		goto out;
	}
	for (; nd < CHECK_TREND_DAYS; nd++) {
		time_t from = today - (time_t)nd * 86400;

		if (web_stats_read(s, r->domain, from, from + 86400, &st[nd],
		    &e) == -1) {
			log_warn("monitor", "%s: reports: %s", r->domain,
			    e.msg);
			web_stats_free(&st[nd]);
			break;
		}
		days[nd].successful = st[nd].days.n ?
		    st[nd].days.v[0].successful : 0;
		days[nd].failed = st[nd].days.n ? st[nd].days.v[0].failed : 0;
		days[nd].results = &st[nd].results;
		days[nd].orgs = &st[nd].orgs;
	}
	if (nd == CHECK_TREND_DAYS) {
		check_trend(r, days, nd);
		check_fetch_cause(r, days, nd);
	}
	if (d.policy.mode == POLICY_MODE_TESTING && d.updated <= now &&
	    now - d.updated >= CHECK_TESTING_READY_S) {
		struct web_ready rd;

		if (web_ready_read(s, &d, now, &rd, &e) == -1)
			log_warn("monitor", "%s: readiness: %s", r->domain,
			    e.msg);
		else
			check_testing_ready(r, d.policy.mode, d.updated, now,
			    rd.verdict == WEB_READY_READY, rd.summary);
		web_ready_free(&rd);
	}
out:
	for (size_t i = 0; st != NULL && i < nd; i++)
		web_stats_free(&st[i]);
	free(st);
	store_domain_free(&d);
}

/* Raises al[0..na), alerts of domain at now, each past the cool-down of
 * its (domain, subject, kind): kept for the channels set up, logged.
 * Returns how many were raised, or -1 with the reason. */
/* check_monitor_alerts's index of a severity. */
static int
monitor_severity(const char *severity)
{
	if (strcmp(severity, "critical") == 0)
		return 0;
	return strcmp(severity, "error") == 0 ? 1 : 2;
}

static int
monitor_raise(struct check_monitor *m, struct store *s,
    const char *domain, const struct check_alert *al, size_t na, time_t now,
    struct err *e)
{
	int raised = 0;

	for (size_t i = 0; i < na; i++) {
		const char *kind = check_kind_name(al[i].kind);
		struct log_line l;
		time_t last;
		int64_t id;

		if (store_alert_last(s, domain, al[i].subject, kind, &last,
		    e) == -1)
			return -1;
		log_begin(&l, LOG_INFO, "alert");
		log_cstr(&l, "domain", domain);
		log_cstr(&l, "kind", kind);
		log_cstr(&l, "severity", al[i].severity);
		log_cstr(&l, "subject", al[i].subject);
		if (!check_alert_due(last, now, m->c.cooldown)) {
			log_cstr(&l, "raised", "no (cool-down)");
			log_end(&l);
			continue;
		}
		if (store_alert_add(s, domain, al[i].subject, kind,
		    al[i].severity, al[i].text, al[i].fix,
		    (m->c.webhook != NULL ? STORE_ALERT_HOOK : 0) |
		    (m->c.mail_to != NULL ? STORE_ALERT_MAIL : 0), now, &id,
		    e) == -1) {
			log_end(&l);
			return -1;
		}
		log_int(&l, "id", id);
		log_cstr(&l, "text", al[i].text);
		log_end(&l);
		atomic_fetch_add_explicit(&m->raised[monitor_severity(
		    al[i].severity)], 1, memory_order_relaxed);
		raised++;
	}
	return raised;
}

/* Keeps r, checked at now, as its domain's latest check and raises the
 * alerts of what got worse since the one before (past the cool-down).
 * Returns how many alerts were raised, or -1 with the reason. */
static int
monitor_keep(struct check_monitor *m, struct store *s,
    const struct check_report *r, time_t now, struct err *e)
{
	struct check_alert *al = NULL;
	struct check_seen *prev = NULL;
	size_t nprev = 0, na;
	char *prevjson = NULL, *json = NULL;
	json_t *o = NULL;
	int rc = -1, g;

	pthread_mutex_lock(&m->keep_mu);
	if ((g = store_check_get(s, r->domain, monitor_prev_cb, &prevjson,
	    e)) == -1)
		goto out;
	if (g == 0 && check_seen_parse(prevjson, &prev, &nprev) == -1) {
		log_warn("monitor", "%s: the previous check is unreadable; "
		    "this one is the new baseline", r->domain);
		g = 1;
	}
	if ((al = calloc(LIMIT_MONITOR_ALERTS, sizeof(*al))) == NULL ||
	    (o = check_report_json(r, now)) == NULL ||
	    (json = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER)) ==
	    NULL) {
		err_set(e, "out of memory");
		goto out;
	}
	na = check_alerts_diff(r, g == 0, prev, nprev, al,
	    LIMIT_MONITOR_ALERTS);
	if (store_check_put(s, r->domain, now, monitor_next(m, now), r->nfail,
	    r->nwarn, json, e) == -1)
		goto out;
	rc = monitor_raise(m, s, r->domain, al, na, now, e);
out:
	pthread_mutex_unlock(&m->keep_mu);
	json_decref(o);
	free(json);
	free(prevjson);
	free(prev);
	free(al);
	return rc;
}

/* --- delivery: the webhook, e-mail --------------------------------------- */

struct monitor_pending {
	int64_t	 id;
	char	*body;		/* the webhook's JSON, or the e-mail */
	char	 domain[LIMIT_DNAME_LEN + 1];
};

struct monitor_batch {
	const struct check_monitor *m;
	unsigned channel;	/* STORE_ALERT_HOOK or _MAIL */
	struct monitor_pending v[LIMIT_ALERT_SEND_ROUND];
	size_t	 n;
};

static int
monitor_unsent_cb(void *arg, const struct store_alert_row *a)
{
	struct monitor_batch *b = arg;
	struct monitor_pending *p;
	struct check_alert_msg msg = { a->id, a->domain, a->kind, a->severity,
	    a->subject, a->text, a->fix, a->raised };

	if (b->n == LIMIT_ALERT_SEND_ROUND)
		return 1;
	p = &b->v[b->n];
	p->body = b->channel == STORE_ALERT_MAIL ? check_alert_mail(&msg,
	    b->m->hdr_from, b->m->c.mail_to, b->m->c.service_host) :
	    check_alert_webhook_body(&msg);
	if (p->body == NULL)
		return -1;
	p->id = a->id;
	snprintf(p->domain, sizeof(p->domain), "%s", a->domain);
	b->n++;
	return 0;
}

static size_t
monitor_discard(char *p, size_t size, size_t nmemb, void *arg)
{
	return size * nmemb;
}

/* POSTs body to the webhook. Returns 0 when it answered 2xx, else -1
 * with the reason. */
static int
monitor_post(const struct check_monitor *m, const char *body, struct err *e)
{
	struct curl_slist *h = NULL;
	char curlerr[CURL_ERROR_SIZE];
	long status = 0;
	CURLcode rc;
	CURL *c;
	int ret = -1;

	if ((c = curl_easy_init()) == NULL || (h = curl_slist_append(NULL,
	    "Content-Type: application/json")) == NULL) {
		err_set(e, "out of memory");
		goto out;
	}
	curlerr[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, m->c.webhook);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT,
	    (long)LIMIT_ALERT_WEBHOOK_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "stsguard-monitor");
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curlerr);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, monitor_discard);
	if ((rc = curl_easy_perform(c)) != CURLE_OK) {
		err_set(e, "%s%s%s", curl_easy_strerror(rc), curlerr[0] ?
		    ": " : "", curlerr);
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		err_set(e, "the webhook answered %ld", status);
		goto out;
	}
	ret = 0;
out:
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return ret;
}

/* What libcurl uploads as the message. */
struct monitor_upload {
	const char *p;
	size_t	 left;
};

static size_t
monitor_read(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct monitor_upload *u = arg;
	size_t n = size * nmemb < u->left ? size * nmemb : u->left;

	memcpy(buf, u->p, n);
	u->p += n;
	u->left -= n;
	return n;
}

/* Hands the e-mail msg for to (envelope addresses, "<a@b>") to the relay
 * (SMTP, STARTTLS when offered; the relay is the operator's, so it is
 * trusted as configured). Returns 0 when the relay took it, else -1
 * with the reason. */
static int
monitor_mail(const struct check_monitor *m, const struct strv *to,
    const char *msg, struct err *e)
{
	struct monitor_upload u = { msg, strlen(msg) };
	struct curl_slist *rcpt = NULL, *l;
	char curlerr[CURL_ERROR_SIZE];
	CURLcode rc;
	CURL *c = NULL;
	int ret = -1;

	for (size_t i = 0; i < to->n; i++) {
		if ((l = curl_slist_append(rcpt, to->v[i])) == NULL) {
			err_set(e, "out of memory");
			goto out;
		}
		rcpt = l;
	}
	if ((c = curl_easy_init()) == NULL) {
		err_set(e, "out of memory");
		goto out;
	}
	curlerr[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, m->relay_url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp");
	curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, m->env_from);
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, monitor_read);
	curl_easy_setopt(c, CURLOPT_READDATA, &u);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT,
	    (long)LIMIT_ALERT_WEBHOOK_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curlerr);
	if ((rc = curl_easy_perform(c)) != CURLE_OK) {
		err_set(e, "%s%s%s", curl_easy_strerror(rc), curlerr[0] ?
		    ": " : "", curlerr);
		goto out;
	}
	ret = 0;
out:
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(c);
	return ret;
}

/* Sends what channel has not taken yet, oldest first; a failure is
 * logged and tried again next round (up to LIMIT_ALERT_TRIES). */
static void
monitor_send(struct check_monitor *m, unsigned channel)
{
	const char *what = channel == STORE_ALERT_MAIL ? "e-mail" : "webhook";
	const char *one[] = { m->env_to };
	const struct strv to = { (char **)one, 1, 1 };
	struct monitor_batch *b;
	struct err e;

	if (channel == STORE_ALERT_MAIL ? m->c.mail_to == NULL :
	    m->c.webhook == NULL)
		return;
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		log_warn("monitor", "%s: out of memory", what);
		return;
	}
	b->m = m;
	b->channel = channel;
	if (store_alert_list(m->store, NULL, channel, LIMIT_ALERT_SEND_ROUND,
	    monitor_unsent_cb, b, &e) < 0)
		log_warn("monitor", "alerts to send: %s", e.msg);
	for (size_t i = 0; i < b->n; i++) {
		struct monitor_pending *p = &b->v[i];
		time_t sent = time(NULL);

		if ((channel == STORE_ALERT_MAIL ? monitor_mail(m, &to,
		    p->body, &e) : monitor_post(m, p->body, &e)) == -1) {
			log_warn("monitor", "%s: alert %lld of %s: %s; tried "
			    "again next round", what, (long long)p->id,
			    p->domain, e.msg);
			sent = 0;
		}
		if (store_alert_sent(m->store, p->id, channel, sent, &e) ==
		    -1)
			log_warn("monitor", "alert %lld: %s",
			    (long long)p->id, e.msg);
		free(p->body);
	}
	free(b);
}

static bool
monitor_stopping(struct check_monitor *m)
{
	bool stop;

	pthread_mutex_lock(&m->mu);
	stop = m->stop;
	pthread_mutex_unlock(&m->mu);
	return stop;
}

/* --- the weekly digest ---------------------------------------------------- */

static int
monitor_tenant_cb(void *arg, const struct store_tenant_row *t)
{
	return strv_push(arg, t->name);
}

static int
monitor_owner_cb(void *arg, const struct store_account_row *a)
{
	if (a->tenant == NULL || strcmp(a->role, "owner") != 0)
		return 0;
	return strv_pushf(arg, "<%s>", a->email);
}

/* "<a>, <b>" of the envelope addresses, for the To line (caller frees),
 * or NULL when out of memory. */
static char *
monitor_to_line(const struct strv *to)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if ((f = open_memstream(&buf, &len)) == NULL)
		return NULL;
	for (size_t i = 0; i < to->n; i++)
		fprintf(f, "%s%s", i ? ", " : "", to->v[i]);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* Mails tenant's digest of the week before now to its owners. Returns
 * 0 when it is done for the week (mailed, or no owner to mail it to),
 * -1 (logged) to try again next round. */
static int
monitor_digest_one(struct check_monitor *m, const char *tenant, time_t now)
{
	struct strv owners = { 0 };
	char *body = NULL, *msg = NULL, *to = NULL;
	struct err e;
	int rc = -1;

	if (store_account_list(m->store, tenant, monitor_owner_cb, &owners,
	    &e) != 0) {
		log_warn("monitor", "digest of %s: owners: %s", tenant, e.msg);
		goto out;
	}
	if (owners.n == 0) {
		log_info("monitor", "digest of %s: no owner to mail it to",
		    tenant);
		rc = 0;
		goto out;
	}
	if ((body = web_digest(m->store, tenant, now, &e)) == NULL) {
		log_warn("monitor", "digest of %s: %s", tenant, e.msg);
		goto out;
	}
	if ((to = monitor_to_line(&owners)) == NULL ||
	    (msg = check_digest_mail(tenant, m->hdr_from, to,
	    m->c.service_host, now, body)) == NULL) {
		log_warn("monitor", "digest of %s: out of memory", tenant);
		goto out;
	}
	if (monitor_mail(m, &owners, msg, &e) == -1) {
		log_warn("monitor", "digest of %s: %s; tried again next round",
		    tenant, e.msg);
		goto out;
	}
	log_info("monitor", "digest of %s mailed to %zu owner%s", tenant,
	    owners.n, owners.n == 1 ? "" : "s");
	rc = 0;
out:
	free(to);
	free(msg);
	free(body);
	strv_free(&owners);
	return rc;
}

/* Mails each tenant whose last digest is MONITOR_DIGEST_EVERY old (or
 * that never had one) its digest. */
static void
monitor_digest(struct check_monitor *m)
{
	struct strv tenants = { 0 };
	time_t now = time(NULL), last;
	struct err e;

	if (!m->c.digest)
		return;
	if (store_tenant_list(m->store, monitor_tenant_cb, &tenants, &e) !=
	    0) {
		log_warn("monitor", "digest: tenants: %s", e.msg);
		goto out;
	}
	for (size_t i = 0; i < tenants.n && !monitor_stopping(m); i++) {
		if (store_digest_last(m->store, tenants.v[i], &last, &e) ==
		    -1) {
			log_warn("monitor", "digest: %s", e.msg);
			continue;
		}
		if (last != 0 && now >= last && now - last <
		    MONITOR_DIGEST_EVERY)
			continue;
		if (monitor_digest_one(m, tenants.v[i], now) == 0 &&
		    store_digest_sent(m->store, tenants.v[i], now, &e) == -1)
			log_warn("monitor", "digest of %s: %s", tenants.v[i],
			    e.msg);
	}
out:
	strv_free(&tenants);
}

/* --- rounds ------------------------------------------------------------- */

static int
monitor_due_cb(void *arg, const char *name)
{
	return strv_push(arg, name);
}

/* One line per domain checked: its counts and the alerts raised. */
static void
monitor_log(const struct check_report *r, int raised, const struct err *e)
{
	struct log_line l;

	log_begin(&l, raised < 0 ? LOG_WARN : LOG_INFO, "monitor");
	log_cstr(&l, "domain", r->domain);
	log_int(&l, "failures", (int64_t)r->nfail);
	log_int(&l, "warnings", (int64_t)r->nwarn);
	if (raised < 0)
		log_cstr(&l, "error", e->msg);
	else
		log_int(&l, "alerts", raised);
	log_end(&l);
}

/* Checks the domains due now and keeps them. */
static void
monitor_round(struct check_monitor *m)
{
	struct strv due = { 0 };
	struct check_hosted_info *hosted = NULL;
	const struct check_hosted_info **hp = NULL;
	struct check_report *reports = NULL;
	time_t now = time(NULL);
	size_t n, done = 0;
	struct err e;

	if (m->c.interval <= 0)
		return;
	if (store_check_due(m->store, now, LIMIT_MONITOR_ROUND,
	    monitor_due_cb, &due, &e) != 0) {
		log_warn("monitor", "domains due: %s", e.msg);
		goto out;
	}
	if ((n = due.n) == 0)
		goto out;
	if ((hosted = calloc(n, sizeof(*hosted))) == NULL ||
	    (hp = calloc(n, sizeof(*hp))) == NULL ||
	    (reports = calloc(n, sizeof(*reports))) == NULL) {
		log_warn("monitor", "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (monitor_hosted(m, m->store, due.v[i], &hosted[i], &e) ==
		    -1)
			log_info("monitor", "%s: %s", due.v[i], e.msg);
		hp[i] = hosted[i].hosted ? &hosted[i] : NULL;
	}
	/* A few at a time, so that a stop waits for one batch at most. */
	for (size_t off = 0; off < n && !monitor_stopping(m);
	    off += CHECK_MONITOR_CONCURRENCY) {
		size_t k = n - off < CHECK_MONITOR_CONCURRENCY ? n - off :
		    CHECK_MONITOR_CONCURRENCY;

		if (check_many(&m->c.opts, (const char *const *)due.v + off,
		    hp + off, k, k, reports + off, NULL, &e) == -1) {
			log_warn("monitor", "%s", e.msg);
			break;
		}
		done = off + k;
		now = time(NULL);
		for (size_t i = off; i < off + k; i++) {
			if (hp[i] != NULL)
				monitor_more(m, m->store, &reports[i], now);
			monitor_log(&reports[i], monitor_keep(m, m->store,
			    &reports[i], now, &e), &e);
		}
	}
out:
	for (size_t i = 0; reports != NULL && i < done; i++)
		check_report_free(&reports[i]);
	free(reports);
	free(hp);
	free(hosted);
	strv_free(&due);
}

/* The service's own certificate: while the ACME manager's renewal of
 * service_host fails, an alert of the service host (no hosted domain's:
 * it concerns them all), again after each cool-down. */
static void
monitor_service(struct check_monitor *m)
{
	struct acme_cert_state cs;
	struct check_report r;
	struct check_alert al[1];
	time_t now = time(NULL), last;
	size_t na;
	struct err e;

	if (m->c.data_dir == NULL || m->c.service_host == NULL ||
	    acme_cert_state(m->c.data_dir, m->c.service_host, &cs) == -1 ||
	    cs.failed_at == 0)
		return;
	/* Quiet within the cool-down: this runs every round, not once per
	 * check. */
	if (store_alert_last(m->store, m->c.service_host, m->c.service_host,
	    check_kind_name(CHECK_K_CERT_RENEWAL), &last, &e) == -1 ||
	    !check_alert_due(last, now, m->c.cooldown))
		return;
	check_report_init(&r, m->c.service_host);
	check_cert_renewal(&r, m->c.service_host, cs.failed_at, cs.failures,
	    cs.reason, cs.not_after);
	/* Against no previous check: cool-down alone decides. */
	na = check_alerts_diff(&r, true, NULL, 0, al, 1);
	pthread_mutex_lock(&m->keep_mu);
	if (monitor_raise(m, m->store, m->c.service_host, al, na, now, &e) ==
	    -1)
		log_warn("monitor", "%s: %s", m->c.service_host, e.msg);
	pthread_mutex_unlock(&m->keep_mu);
	check_report_free(&r);
}

static void *
monitor_main(void *arg)
{
	struct check_monitor *m = arg;
	/* Rounds often enough that a short interval (tests) is kept, at
	 * most a minute apart (a round is one indexed query when nothing
	 * is due). */
	time_t tick = m->c.interval > 0 ? m->c.interval / 4 : 60;

	if (tick < 1)
		tick = 1;
	if (tick > 60)
		tick = 60;
	/* The first round a tick after the start too: a restart does not
	 * send every domain due at once into the first seconds, nor delay
	 * a quick stop. */
	for (;;) {
		struct timespec until;
		bool stop;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += tick;
		pthread_mutex_lock(&m->mu);
		while (!m->stop && !m->kick &&
		    pthread_cond_timedwait(&m->cond, &m->mu, &until) == 0)
			;
		m->kick = false;
		stop = m->stop;
		pthread_mutex_unlock(&m->mu);
		if (stop)
			break;
		monitor_round(m);
		if (m->c.interval > 0)
			monitor_service(m);
		monitor_send(m, STORE_ALERT_HOOK);
		monitor_send(m, STORE_ALERT_MAIL);
		monitor_digest(m);
	}
	return NULL;
}

int
check_monitor_start(const struct check_monitor_config *c,
    struct check_monitor **out, struct err *e)
{
	struct check_monitor *m;

	*out = NULL;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return err_set(e, "monitor: out of memory");
	m->c = *c;
	snprintf(m->relay_url, sizeof(m->relay_url), "smtp://%s",
	    c->smtp_relay != NULL ? c->smtp_relay : "localhost");
	snprintf(m->env_from, sizeof(m->env_from), "<stsguard@%s>",
	    c->service_host);
	snprintf(m->hdr_from, sizeof(m->hdr_from), "stsguard <stsguard@%s>",
	    c->service_host);
	snprintf(m->env_to, sizeof(m->env_to), "<%s>", c->mail_to != NULL ?
	    c->mail_to : "");
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->cond, NULL);
	pthread_mutex_init(&m->keep_mu, NULL);
	if (c->interval > 0 || c->webhook != NULL || c->mail_to != NULL ||
	    c->digest) {
		if (store_open_at(c->store_url, c->data_dir, &m->store,
		    e) == -1) {
			check_monitor_stop(m);
			return -1;
		}
		if (pthread_create(&m->thr, NULL, monitor_main, m) != 0) {
			check_monitor_stop(m);
			return err_set(e, "monitor: cannot start its thread");
		}
		m->started = true;
	}
	*out = m;
	return 0;
}

void
check_monitor_stop(struct check_monitor *m)
{
	if (m == NULL)
		return;
	if (m->started) {
		pthread_mutex_lock(&m->mu);
		m->stop = true;
		pthread_cond_signal(&m->cond);
		pthread_mutex_unlock(&m->mu);
		pthread_join(m->thr, NULL);
	}
	store_close(m->store);
	pthread_mutex_destroy(&m->keep_mu);
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

int
check_monitor_run(struct check_monitor *m, struct store *s,
    const char *domain, struct err *e)
{
	struct check_hosted_info h;
	struct dns_resolver *res = NULL;
	struct check_report r;
	int rc = -1;

	if (atomic_fetch_add(&m->on_demand, 1) >= CHECK_MONITOR_CONCURRENCY) {
		atomic_fetch_sub(&m->on_demand, 1);
		return 1;
	}
	if (monitor_hosted(m, s, domain, &h, e) == -1 ||
	    dns_resolver_new(&m->c.opts.dns, &res, e) == -1)
		goto out;
	check_domain(&m->c.opts, res, domain, &h, &r);
	monitor_more(m, s, &r, time(NULL));
	rc = monitor_keep(m, s, &r, time(NULL), e);
	check_report_free(&r);
	if (rc > 0 && m->started) {	/* the webhook at once */
		pthread_mutex_lock(&m->mu);
		m->kick = true;
		pthread_cond_signal(&m->cond);
		pthread_mutex_unlock(&m->mu);
	}
	rc = rc < 0 ? -1 : 0;
out:
	dns_resolver_free(res);
	atomic_fetch_sub(&m->on_demand, 1);
	return rc;
}

void
check_monitor_alerts(struct check_monitor *m, uint64_t out[CHECK_SEVERITIES])
{
	for (int i = 0; i < CHECK_SEVERITIES; i++)
		out[i] = m != NULL ? atomic_load_explicit(&m->raised[i],
		    memory_order_relaxed) : 0;
}
