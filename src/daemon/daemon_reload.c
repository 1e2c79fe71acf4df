/*
 * daemon_reload.c - the reload thread: notices changes in the store and
 * publishes a new policy table, frees replaced tables once no worker can
 * still read them, and rotates the session ticket keys.
 *
 * Change detection, every RELOAD_POLL_MS: the store's domains_version
 * (changes whenever any connection, of any node, commits a change to
 * domains: the CLI's `domain add/set/remove`, the API, the dashboard;
 * not for reports, so report intake does not rebuild the table), plus
 * the earliest serve_until of a removed domain, plus a full rebuild
 * every RELOAD_FULL_SECONDS as a safety net. So a change is served
 * within about half a second; on PostgreSQL the wait between polls is
 * a LISTEN that the change's NOTIFY ends at once. The table carries
 * the intake token set too (daemon_table.c). Never runs on a worker;
 * never blocks one.
 *
 * In a cluster (store_key_file), every CLUSTER_SYNC_MS: the certificates
 * and challenges other nodes stored (cluster_sync); a new certificate
 * takes the renewal's path, tls_forget.
 *
 * Delegated mode with dns_update_server: once a table built after a
 * change is the one served, the changed domains' TXT records go to the
 * operator's zone by DNS UPDATE (dns_publisher_sync; every domain at
 * start), so senders never see an id before its policy is served. A
 * failure is logged once, retried every RELOAD_DNS_RETRY_SECONDS, and
 * its end logged. An UPDATE blocks this thread for at most
 * DNS_TIMEOUT_MS a message (and a failure stops the round), so tables
 * keep being swapped meanwhile, only later.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../acme/acme.h"
#include "../lib/log.h"
#include "../tls/tls.h"
#include "daemon_int.h"

#define RELOAD_POLL_MS 250
#define RELOAD_FULL_SECONDS 60
#define RELOAD_DNS_RETRY_SECONDS 30

static void
reload_log_table(const struct ptable *t, double ms)
{
	struct log_line l;

	log_begin(&l, LOG_INFO, "policy_table");
	log_int(&l, "hosts", (int64_t)t->n);
	log_int(&l, "build_ms", (int64_t)(ms + 0.5));
	log_end(&l);
}

int
daemon_reload_now(struct daemon *d, struct store *s, struct err *e)
{
	struct timespec a, b;
	struct ptable *t, *old;

	clock_gettime(CLOCK_MONOTONIC, &a);
	if ((t = ptable_build(s, time(NULL), e)) == NULL)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &b);
	pthread_mutex_lock(&d->names_mu);
	old = atomic_exchange(&d->table, t);
	if (old != NULL) {
		old->retired_gen = atomic_fetch_add(&d->gen, 1) + 1;
		old->retired_next = d->retired;
		d->retired = old;
	}
	pthread_mutex_unlock(&d->names_mu);
	reload_log_table(t, (double)(b.tv_sec - a.tv_sec) * 1e3 +
	    (double)(b.tv_nsec - a.tv_nsec) / 1e6);
	if (d->acme_mgr != NULL)
		acme_manager_kick(d->acme_mgr);
	return 0;
}

/* A certificate another node stored was written to data_dir: the next
 * handshake for name reads it (the path a renewal here takes). */
static void
reload_cert_changed(void *arg, const char *name)
{
	struct daemon *d = arg;

	tls_forget(d->tls, name);
	log_info("cluster_cert", "serving the certificate of %s another "
	    "node stored", name);
}

/* Brings what the other nodes stored (cluster_sync); logs a failure
 * once, and its end. */
static void
reload_cluster(struct daemon *d, bool *failed)
{
	struct err e;

	if (cluster_sync(d->cluster, reload_cert_changed, d, &e) == -1) {
		if (!*failed)
			log_warn("cluster_sync", "%s (retrying every %d ms)",
			    e.msg, CLUSTER_SYNC_MS);
		*failed = true;
		return;
	}
	if (*failed)
		log_info("cluster_sync", "the store answers again");
	*failed = false;
}

/* Frees retired tables every worker has moved past. With force (no
 * worker runs any more) frees all. */
static void
reload_reclaim(struct daemon *d, bool force)
{
	uint64_t min = UINT64_MAX;
	struct ptable **pp, *t;

	if (!force)
		for (int i = 0; i < d->nworkers; i++) {
			uint64_t s = daemon_worker_seen(d, i);

			if (s < min)
				min = s;
		}
	pthread_mutex_lock(&d->names_mu);
	for (pp = &d->retired; (t = *pp) != NULL;) {
		if (force || t->retired_gen <= min) {
			*pp = t->retired_next;
			ptable_free(t);
		} else {
			pp = &t->retired_next;
		}
	}
	pthread_mutex_unlock(&d->names_mu);
}

/* Sends what changed to the operator's zone (see the top). */
static void
reload_dns(struct daemon *d, struct store *s, int64_t ver, bool *failed,
    time_t *last, bool *due)
{
	struct err e;
	size_t sent;
	int r;

	*last = time(NULL);
	if ((r = dns_publisher_sync(d->dnspub, s, ver, &sent, &e)) == 1)
		return;		/* the next table first; still due */
	*due = r == -1;
	if (r == -1) {
		if (!*failed)
			log_warn("dns_update", "%s (retrying every %d s)",
			    e.msg, RELOAD_DNS_RETRY_SECONDS);
		*failed = true;
		return;
	}
	if (*failed)
		log_info("dns_update", "the server takes updates again");
	*failed = false;
	if (sent > 0) {
		struct log_line l;

		log_begin(&l, LOG_INFO, "dns_update");
		log_int(&l, "domains", (int64_t)sent);
		log_end(&l);
	}
}

/* The store's domain change counter, or -1 when it cannot be read
 * (then we rebuild on the timer only). */
static int64_t
reload_version(struct store *s)
{
	uint64_t v;
	struct err e;

	if (s == NULL || store_domains_version(s, &v, &e) == -1)
		return -1;
	return (int64_t)(v & INT64_MAX);
}

static void *
reload_main(void *arg)
{
	struct daemon *d = arg;
	struct store *s = NULL;
	struct err e;
	int64_t ver = -1, nv;
	time_t last_full = time(NULL), last_rotate = time(NULL), now;
	time_t dns_last = 0;
	bool failed = false, dns_due = d->dnspub != NULL, dns_failed = false;
	bool cluster_failed = false;
	struct timespec synced = { 0 }, mono;

	if (store_open_at(d->store_url, d->data_dir, &s, &e) == -1) {
		log_warn("reload", "cannot open the store, no reloads: %s",
		    e.msg);
		s = NULL;
	}
	ver = reload_version(s);

	for (;;) {
		struct timespec until;
		struct ptable *t;
		bool stop, due;

		/* PostgreSQL wakes us at a change (NOTIFY); else, and when
		 * that fails, the poll's pause, which a stop cuts short. */
		if (s == NULL || store_domains_wait(s, RELOAD_POLL_MS) == -1) {
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += RELOAD_POLL_MS * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_mutex_lock(&d->reload_mu);
			if (!d->reload_stop)
				pthread_cond_timedwait(&d->reload_cond,
				    &d->reload_mu, &until);
			pthread_mutex_unlock(&d->reload_mu);
		}
		pthread_mutex_lock(&d->reload_mu);
		stop = d->reload_stop;
		pthread_mutex_unlock(&d->reload_mu);
		if (stop)
			break;

		now = time(NULL);
		nv = reload_version(s);
		t = atomic_load(&d->table);
		due = nv != ver || failed ||
		    now - last_full >= RELOAD_FULL_SECONDS ||
		    (t->next_expiry != 0 && now >= t->next_expiry);
		if (due && s != NULL) {
			if (daemon_reload_now(d, s, &e) == -1) {
				if (!failed)
					log_warn("reload", "%s", e.msg);
				failed = true;
			} else {
				if (failed)
					log_info("reload", "the store works "
					    "again");
				failed = false;
				/* Any new table: a change, or a removed
				 * domain's serve_until passed (its names
				 * go), or the full rebuild (a diff of
				 * nothing sends nothing). */
				dns_due |= d->dnspub != NULL;
				ver = nv;
				last_full = now;
			}
		}
		/* After the swap: the new policies are served. */
		if (dns_due && s != NULL && (!dns_failed ||
		    now - dns_last >= RELOAD_DNS_RETRY_SECONDS)) {
			reload_dns(d, s, ver, &dns_failed, &dns_last,
			    &dns_due);
		}
		clock_gettime(CLOCK_MONOTONIC, &mono);
		if (d->cluster != NULL && (mono.tv_sec - synced.tv_sec) * 1000 +
		    (mono.tv_nsec - synced.tv_nsec) / 1000000 >=
		    CLUSTER_SYNC_MS) {
			reload_cluster(d, &cluster_failed);
			synced = mono;
		}
		reload_reclaim(d, false);
		if (now - last_rotate >= TLS_TICKET_ROTATE_SECONDS) {
			tls_tickets_rotate(d->tls);
			last_rotate = now;
			log_info("tls_tickets", "rotated the ticket key");
		}
	}
	store_close(s);
	return NULL;
}

int
daemon_reload_start(struct daemon *d, struct err *e)
{
	d->reload_stop = false;
	if (pthread_create(&d->reload_thr, NULL, reload_main, d) != 0)
		return err_set(e, "cannot start the reload thread");
	d->reload_started = true;
	return 0;
}

void
daemon_reload_stop(struct daemon *d)
{
	if (d->reload_started) {
		pthread_mutex_lock(&d->reload_mu);
		d->reload_stop = true;
		pthread_cond_signal(&d->reload_cond);
		pthread_mutex_unlock(&d->reload_mu);
		pthread_join(d->reload_thr, NULL);
		d->reload_started = false;
	}
	reload_reclaim(d, true);
}
