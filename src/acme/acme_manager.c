/*
 * acme_manager.c - the thread that keeps every certificate fresh.
 *
 * Each round (at start, every `interval` seconds, on acme_manager_kick,
 * and when a backoff ends or a renewal falls due):
 *
 *	names()                        -> the names that need a certificate
 *	for each name, in name order:
 *	    backing off?               -> skip until next_try
 *	    NAME.pem valid and more than a third of its lifetime left?
 *	                               -> skip until then (renew_at cached)
 *	    DNS points here?           -> else skip this round, no backoff:
 *	                                  the check costs the CA nothing
 *	    in a cluster: claim(name)  -> another node's lease: look again in
 *	                                  ACME_LEASE_RETRY; a fresh stored
 *	                                  certificate: now on disk, issued()
 *	    acme_obtain                -> ok: issued(name), failures = 0
 *	                                  failed: next_try = now + backoff
 *	                                  (the lease kept until then)
 *	backoff(n) = min(60 * 2^(n-1), 86400) seconds, per name
 *
 * "Points here" (RFC 8461 §8.1 deployments): the name's CNAME chain (DNS
 * CNAME queries with libresolv, at most ACME_CNAME_HOPS) reaches
 * service_host, or one of its addresses (getaddrinfo) is one of
 * service_addrs.
 *
 * Per-name state is a sorted array rebuilt each round from names(), so
 * names that went away are forgotten. One order runs at a time; a name
 * that fails only delays itself. Never touches the daemon's threads: it
 * talks to the daemon only through the two callbacks.
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "acme_int.h"
#include "../lib/file.h"
#include "../lib/limits.h"
#include "../lib/log.h"

struct acme_mstate {
	char	*name;
	unsigned failures;	/* consecutive failed orders */
	time_t	 next_try;	/* backoff ends (0: none) */
	time_t	 renew_at;	/* from NAME.pem (0: unknown, look) */
	time_t	 not_after;	/* from NAME.pem, with renew_at (0: none
				 * known) */
};

struct acme_manager {
	struct acme_config cfg;		/* strings below are its copies */
	char	*s_dir, *s_email, *s_ca, *s_data, *s_host;
	struct strv addrs;
	acme_names_cb names;
	acme_issued_cb issued;
	void	*arg;
	unsigned interval;		/* seconds between rounds */
	pthread_t thr;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool	 kicked;
	atomic_bool stop;
	struct acme_mstate *st;		/* sorted by name */
	size_t	 nst;
	/* For the metrics (acme_manager_stats): written by the manager's
	 * thread only, read by any. */
	atomic_uint_fast64_t n_orders;	/* orders started */
	atomic_uint_fast64_t n_renewals;	/* orders that replaced a
					 * certificate we had */
	atomic_uint_fast64_t n_failures;	/* orders that failed */
	atomic_llong soonest;		/* earliest not_after of the names'
					 * certificates, unix time; 0: none */
};

unsigned
acme_backoff(unsigned failures)
{
	unsigned s = ACME_BACKOFF_MIN;

	for (unsigned i = 1; i < failures && s < ACME_BACKOFF_MAX; i++)
		s *= 2;
	return s > ACME_BACKOFF_MAX ? ACME_BACKOFF_MAX : s;
}

time_t
acme_renew_at(time_t not_before, time_t not_after)
{
	if (not_after <= not_before)
		return not_before;
	return not_after - (not_after - not_before) / 3;
}

/* notBefore and notAfter of x, which is freed. 0, or -1. */
static int
acme_x509_times(X509 *x, time_t *not_before, time_t *not_after)
{
	struct tm tm;
	int rc = -1;

	if (x == NULL)
		return -1;
	if (ASN1_TIME_to_tm(X509_get0_notBefore(x), &tm) != 1)
		goto out;
	*not_before = timegm(&tm);
	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1)
		goto out;
	*not_after = timegm(&tm);
	rc = 0;
out:
	X509_free(x);
	return rc;
}

int
acme_cert_times(const char *path, time_t *not_before, time_t *not_after)
{
	X509 *x;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL)
		return -1;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return acme_x509_times(x, not_before, not_after);
}

int
acme_chain_times(const char *pem, size_t len, time_t *not_before,
    time_t *not_after)
{
	X509 *x;
	BIO *b;

	if (len > INT_MAX || (b = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return -1;
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	return acme_x509_times(x, not_before, not_after);
}

/* NAME.failed beside NAME.pem: "<unix time> <failures> <reason>\n" of
 * the last failed order, so that the dashboard says why a certificate
 * is missing or old; removed when an order succeeds. Best effort: a
 * note that cannot be written costs only the dashboard's reason. */
static void
acme_failed_note(const char *data_dir, const char *name, unsigned failures,
    const char *why)
{
	char path[4096], line[ACME_REASON_LEN + 48];
	struct err e;
	int n;

	if (acme_cert_path(data_dir, name, "failed", path, sizeof(path),
	    NULL) == -1)
		return;
	if (why == NULL) {
		unlink(path);
		return;
	}
	n = snprintf(line, sizeof(line), "%lld %u %.*s\n",
	    (long long)time(NULL), failures, ACME_REASON_LEN - 1, why);
	if (n > 0 && (size_t)n < sizeof(line))
		(void)file_write_atomic(path, line, (size_t)n, 0644, false, &e);
}

int
acme_cert_state(const char *data_dir, const char *name,
    struct acme_cert_state *st)
{
	char path[4096], line[ACME_REASON_LEN + 48];
	long long at;
	unsigned n;
	int used;
	FILE *f;

	memset(st, 0, sizeof(*st));
	if (acme_cert_path(data_dir, name, "pem", path, sizeof(path),
	    NULL) == -1)
		return -1;
	if (acme_cert_times(path, &st->not_before, &st->not_after) == 0)
		st->renew_at = acme_renew_at(st->not_before, st->not_after);
	else
		st->not_before = st->not_after = 0;
	if (acme_cert_path(data_dir, name, "failed", path, sizeof(path),
	    NULL) == -1 || (f = fopen(path, "r")) == NULL)
		return 0;
	if (fgets(line, sizeof(line), f) != NULL &&
	    sscanf(line, "%lld %u %n", &at, &n, &used) == 2) {
		st->failed_at = (time_t)at;
		st->failures = n;
		snprintf(st->reason, sizeof(st->reason), "%s", line + used);
		st->reason[strcspn(st->reason, "\n")] = '\0';
	}
	fclose(f);
	return 0;
}

/* Host names equal, ignoring case and one trailing dot. */
static bool
acme_same_host(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > 0 && a[la - 1] == '.')
		la--;
	if (lb > 0 && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

/* The CNAME target of name into out, 1; 0 when name has no CNAME; -1 on
 * lookup failure. */
static int
acme_cname(res_state rs, const char *name, char *out, size_t len)
{
	unsigned char ans[4096];
	ns_msg msg;
	ns_rr rr;
	int n;

	if ((n = res_nquery(rs, name, ns_c_in, ns_t_cname, ans,
	    sizeof(ans))) < 0)
		return h_errno == NO_DATA || h_errno == HOST_NOT_FOUND ? 0 : -1;
	if (ns_initparse(ans, n, &msg) < 0)
		return -1;
	for (int i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0)
			return -1;
		if (ns_rr_type(rr) != ns_t_cname ||
		    !acme_same_host(ns_rr_name(rr), name))
			continue;
		if (ns_name_uncompress(ns_msg_base(msg), ns_msg_end(msg),
		    ns_rr_rdata(rr), out, len) < 0)
			return -1;
		return 1;
	}
	return 0;
}

/* True when the text address a equals one of addrs (compared as binary
 * addresses, so "::1" matches "0::1"). */
static bool
acme_addr_listed(const struct sockaddr *sa, const struct strv *addrs)
{
	unsigned char want[16];

	for (size_t i = 0; i < addrs->n; i++) {
		if (sa->sa_family == AF_INET &&
		    inet_pton(AF_INET, addrs->v[i], want) == 1 &&
		    memcmp(want, &((const struct sockaddr_in *)(const void *)
		    sa)->sin_addr, 4) == 0)
			return true;
		if (sa->sa_family == AF_INET6 &&
		    inet_pton(AF_INET6, addrs->v[i], want) == 1 &&
		    memcmp(want, &((const struct sockaddr_in6 *)(const void *)
		    sa)->sin6_addr, 16) == 0)
			return true;
	}
	return false;
}

int
acme_dns_check(const struct acme_config *cfg, const char *name,
    struct err *e)
{
	struct __res_state rs;
	struct addrinfo hints, *res = NULL, *ai;
	char cur[NS_MAXDNAME], next[NS_MAXDNAME], seen[64] = "";
	size_t seenlen = 0;
	int r, rc = -1;

	if (cfg->skip_dns_check)
		return 0;
	memset(&rs, 0, sizeof(rs));
	if (res_ninit(&rs) != 0)
		return err_set(e, "%s: cannot initialize the resolver", name);
	snprintf(cur, sizeof(cur), "%s", name);
	if (cfg->service_host != NULL) {
		for (int hop = 0; hop <= ACME_CNAME_HOPS; hop++) {
			if (acme_same_host(cur, cfg->service_host)) {
				rc = 0;
				goto out;
			}
			if ((r = acme_cname(&rs, cur, next, sizeof(next))) != 1)
				break;
			memcpy(cur, next, sizeof(cur));
		}
	}
	if (cfg->service_addrs != NULL && cfg->service_addrs->n > 0) {
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		if (getaddrinfo(name, NULL, &hints, &res) == 0) {
			for (ai = res; ai != NULL; ai = ai->ai_next) {
				char a[INET6_ADDRSTRLEN] = "?";

				if (acme_addr_listed(ai->ai_addr,
				    cfg->service_addrs)) {
					rc = 0;
					goto out;
				}
				if (seenlen == 0 && getnameinfo(ai->ai_addr,
				    ai->ai_addrlen, a, sizeof(a), NULL, 0,
				    NI_NUMERICHOST) == 0)
					seenlen = (size_t)snprintf(seen,
					    sizeof(seen), " (it has %s)", a);
			}
		}
	}
	err_set(e, "%s does not point to this service: no CNAME chain to %s "
	    "and no address of ours%s", name,
	    cfg->service_host ? cfg->service_host : "(unset)", seen);
out:
	if (res != NULL)
		freeaddrinfo(res);
	res_nclose(&rs);
	return rc;
}

static int
acme_mstate_cmp(const void *a, const void *b)
{
	return strcmp(((const struct acme_mstate *)a)->name,
	    ((const struct acme_mstate *)b)->name);
}

static int
acme_str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Rebuilds m->st for the names in sv (sorted here), keeping the state of
 * names seen before. Takes the strings out of sv. */
static int
acme_mstate_sync(struct acme_manager *m, struct strv *sv)
{
	struct acme_mstate *st, key, *old;
	size_t n = 0;

	if (sv->n > 1)		/* qsort of nothing: v may be NULL */
		qsort(sv->v, sv->n, sizeof(char *), acme_str_cmp);
	if ((st = calloc(sv->n ? sv->n : 1, sizeof(*st))) == NULL)
		return -1;
	for (size_t i = 0; i < sv->n; i++) {
		if (n > 0 && strcmp(st[n - 1].name, sv->v[i]) == 0) {
			free(sv->v[i]);		/* duplicate */
			sv->v[i] = NULL;
			continue;
		}
		key.name = sv->v[i];
		old = m->nst ? bsearch(&key, m->st, m->nst, sizeof(*m->st),
		    acme_mstate_cmp) : NULL;
		if (old != NULL)
			st[n] = *old;
		st[n].name = sv->v[i];
		sv->v[i] = NULL;
		n++;
	}
	for (size_t i = 0; i < m->nst; i++)
		free(m->st[i].name);
	free(m->st);
	m->st = st;
	m->nst = n;
	sv->n = 0;
	return 0;
}

/* One more of a counter only the manager's thread writes. */
static void
acme_stat_add(atomic_uint_fast64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c,
	    memory_order_relaxed) + 1, memory_order_relaxed);
}

/* s->renew_at and s->not_after from NAME.pem (left 0 when it cannot be
 * read: renew now). */
static void
acme_mstate_read(struct acme_manager *m, struct acme_mstate *s)
{
	char path[4096];
	time_t nb, na;

	if (acme_cert_path(m->cfg.data_dir, s->name, "pem", path,
	    sizeof(path), NULL) == 0 && acme_cert_times(path, &nb, &na) == 0) {
		s->renew_at = acme_renew_at(nb, na);
		s->not_after = na;
	}
}

/* *wake = t when t is earlier (0: nothing yet). */
static void
acme_wake_at(time_t *wake, time_t t)
{
	if (t != 0 && (*wake == 0 || t < *wake))
		*wake = t;
}

/* In a cluster: may this node order s now (acme_shared claim)? True when
 * it holds the lease. Otherwise s waits: for the other node's order
 * (ACME_LEASE_RETRY), or until the certificate another node stored,
 * now in data_dir, falls due. */
static bool
acme_claim(struct acme_manager *m, struct acme_mstate *s, time_t now,
    time_t *wake)
{
	const struct acme_shared *sh = m->cfg.shared;
	struct err e;
	int r;

	if (sh == NULL)
		return true;
	if ((r = sh->claim(sh->arg, s->name, &e)) == 1)
		return true;
	if (r == 2) {
		s->renew_at = 0;
		acme_mstate_read(m, s);
		if (m->issued != NULL)
			m->issued(m->arg, s->name);
		acme_log(LOG_INFO, "acme_shared", s->name, "a certificate "
		    "another node stored");
		acme_wake_at(wake, s->renew_at);
		return false;
	}
	if (r == -1)
		acme_log(LOG_WARN, "acme_claim_failed", s->name, e.msg);
	else
		acme_log(LOG_INFO, "acme_claimed_elsewhere", s->name,
		    "another node orders it");
	s->renew_at = 0;	/* read NAME.pem again: it may come */
	s->next_try = now + ACME_LEASE_RETRY;
	acme_wake_at(wake, s->next_try);
	return false;
}

/* One round. *wake: the earliest time something becomes due (or 0). */
static void
acme_round(struct acme_manager *m, time_t *wake)
{
	struct strv sv = { 0 };
	struct err e;

	*wake = 0;
	if (m->names(m->arg, &sv) != 0) {
		acme_log(LOG_WARN, "acme_names_failed", NULL, NULL);
		goto out;
	}
	if (acme_mstate_sync(m, &sv) == -1) {
		acme_log(LOG_WARN, "acme_out_of_memory", NULL, NULL);
		goto out;
	}
	for (size_t i = 0; i < m->nst && !atomic_load(&m->stop); i++) {
		struct acme_mstate *s = &m->st[i];
		time_t now = time(NULL), due;
		int r;

		if (s->renew_at == 0)
			acme_mstate_read(m, s);
		due = s->next_try > s->renew_at ? s->next_try : s->renew_at;
		if (due > now) {
			if (*wake == 0 || due < *wake)
				*wake = due;
			continue;
		}
		if (acme_dns_check(&m->cfg, s->name, &e) == -1) {
			acme_log(LOG_INFO, "acme_dns_not_ready", s->name,
			    e.msg);
			continue;
		}
		if (!acme_claim(m, s, now, wake))
			continue;
		acme_stat_add(&m->n_orders);
		r = acme_obtain_cancel(&m->cfg, s->name, &m->stop, &e);
		if (r == 0) {
			if (m->cfg.shared != NULL)
				m->cfg.shared->release(m->cfg.shared->arg,
				    s->name, 0);
			if (s->not_after != 0)
				acme_stat_add(&m->n_renewals);
			acme_failed_note(m->cfg.data_dir, s->name, 0, NULL);
			s->failures = 0;
			s->next_try = 0;
			s->renew_at = 0;	/* read again next round */
			acme_mstate_read(m, s);
			/* Wake for this renewal too (short-lived certs). */
			acme_wake_at(wake, s->renew_at);
			if (m->issued != NULL)
				m->issued(m->arg, s->name);
			continue;
		}
		if (atomic_load(&m->stop)) {
			if (m->cfg.shared != NULL)
				m->cfg.shared->release(m->cfg.shared->arg,
				    s->name, 0);
			break;
		}
		acme_stat_add(&m->n_failures);
		s->failures++;
		s->next_try = time(NULL) + acme_backoff(s->failures);
		/* The backoff holds for every node: the lease stays ours
		 * until it ends. */
		if (m->cfg.shared != NULL)
			m->cfg.shared->release(m->cfg.shared->arg, s->name,
			    s->next_try);
		acme_failed_note(m->cfg.data_dir, s->name, s->failures, e.msg);
		{
			struct log_line l;

			log_begin(&l, LOG_WARN, "acme_failed");
			log_cstr(&l, "name", s->name);
			log_int(&l, "failures", s->failures);
			log_int(&l, "retry_in", acme_backoff(s->failures));
			log_cstr(&l, "error", e.msg);
			log_end(&l);
		}
		if (*wake == 0 || s->next_try < *wake)
			*wake = s->next_try;
	}
	{
		time_t soonest = 0;

		for (size_t i = 0; i < m->nst; i++)
			if (m->st[i].not_after != 0 && (soonest == 0 ||
			    m->st[i].not_after < soonest))
				soonest = m->st[i].not_after;
		atomic_store_explicit(&m->soonest, (long long)soonest,
		    memory_order_relaxed);
	}
out:
	strv_free(&sv);
}

void
acme_manager_stats(struct acme_manager *m, struct acme_stats *out)
{
	out->orders = atomic_load_explicit(&m->n_orders,
	    memory_order_relaxed);
	out->renewals = atomic_load_explicit(&m->n_renewals,
	    memory_order_relaxed);
	out->failures = atomic_load_explicit(&m->n_failures,
	    memory_order_relaxed);
	out->soonest_expiry = (time_t)atomic_load_explicit(&m->soonest,
	    memory_order_relaxed);
}

static void *
acme_manager_main(void *arg)
{
	struct acme_manager *m = arg;

	pthread_mutex_lock(&m->mu);
	while (!atomic_load(&m->stop)) {
		struct timespec ts;
		time_t wake, now;
		long secs;

		m->kicked = false;
		pthread_mutex_unlock(&m->mu);
		acme_round(m, &wake);
		pthread_mutex_lock(&m->mu);
		if (atomic_load(&m->stop) || m->kicked)
			continue;
		now = time(NULL);
		secs = (long)m->interval;
		if (wake != 0 && wake - now < secs)
			secs = wake > now ? (long)(wake - now) : 1;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += secs;
		while (!atomic_load(&m->stop) && !m->kicked &&
		    pthread_cond_timedwait(&m->cv, &m->mu, &ts) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

static void
acme_manager_free(struct acme_manager *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->nst; i++)
		free(m->st[i].name);
	free(m->st);
	free(m->s_dir);
	free(m->s_email);
	free(m->s_ca);
	free(m->s_data);
	free(m->s_host);
	strv_free(&m->addrs);
	free(m);
}

/* strdup that keeps NULL; false when out of memory. */
static bool
acme_dup(const char *s, char **out)
{
	*out = NULL;
	return s == NULL || (*out = strdup(s)) != NULL;
}

int
acme_manager_start(const struct acme_config *cfg, acme_names_cb names,
    acme_issued_cb issued, void *arg, unsigned interval,
    struct acme_manager **mp, struct err *e)
{
	struct acme_manager *m;
	pthread_condattr_t ca;
	int r;

	if (cfg->directory_url == NULL || cfg->data_dir == NULL ||
	    names == NULL)
		return err_set(e, "acme: directory, data dir and names "
		    "callback are required");
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return err_set(e, "out of memory");
	if (!acme_dup(cfg->directory_url, &m->s_dir) ||
	    !acme_dup(cfg->email, &m->s_email) ||
	    !acme_dup(cfg->ca_bundle, &m->s_ca) ||
	    !acme_dup(cfg->data_dir, &m->s_data) ||
	    !acme_dup(cfg->service_host, &m->s_host))
		goto oom;
	for (size_t i = 0; cfg->service_addrs != NULL &&
	    i < cfg->service_addrs->n; i++)
		if (strv_push(&m->addrs, cfg->service_addrs->v[i]) == -1)
			goto oom;
	m->cfg = *cfg;
	m->cfg.directory_url = m->s_dir;
	m->cfg.email = m->s_email;
	m->cfg.ca_bundle = m->s_ca;
	m->cfg.data_dir = m->s_data;
	m->cfg.service_host = m->s_host;
	m->cfg.service_addrs = cfg->service_addrs ? &m->addrs : NULL;
	m->names = names;
	m->issued = issued;
	m->arg = arg;
	m->interval = interval ? interval : 1;
	atomic_init(&m->stop, false);
	pthread_mutex_init(&m->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((r = pthread_create(&m->thr, NULL, acme_manager_main, m)) != 0) {
		pthread_cond_destroy(&m->cv);
		pthread_mutex_destroy(&m->mu);
		acme_manager_free(m);
		return err_set(e, "acme: cannot start thread: %s",
		    strerror(r));
	}
	*mp = m;
	return 0;
oom:
	acme_manager_free(m);
	return err_set(e, "out of memory");
}

void
acme_manager_kick(struct acme_manager *m)
{
	pthread_mutex_lock(&m->mu);
	m->kicked = true;
	pthread_cond_signal(&m->cv);
	pthread_mutex_unlock(&m->mu);
}

void
acme_manager_stop(struct acme_manager *m)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->mu);
	atomic_store(&m->stop, true);
	pthread_cond_signal(&m->cv);
	pthread_mutex_unlock(&m->mu);
	pthread_join(m->thr, NULL);
	pthread_cond_destroy(&m->cv);
	pthread_mutex_destroy(&m->mu);
	acme_manager_free(m);
}
