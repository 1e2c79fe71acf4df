/*
 * daemon_worker.c - the worker threads: each its own event loop
 * (libevent base, no locks) accepting on its own SO_REUSEPORT sockets;
 * accept with its limits (per worker, per client, descriptors), the
 * once-a-second tick, the stop doorbell and the doorbell of jobs back
 * from intake. Connections themselves are daemon_conn.c's, SMTP
 * sessions smtp_server's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "../lib/log.h"
#include "../smtp/smtp.h"
#include "../tls/tls.h"
#include "daemon_int.h"

#define ACCEPT_BATCH	64	/* connections taken per readiness */

uint64_t
daemon_worker_seen(struct daemon *d, int i)
{
	return atomic_load(&d->workers[i].seen);
}

void
worker_date(struct worker *w)
{
	time_t t = time(NULL);

	if (t != w->date_sec) {
		http_date_line((long long)t, w->date);
		w->date_sec = t;
	}
}

/* accept failed for want of descriptors or memory: the listener stays
 * readable, so stop watching it (both listeners of this worker) for
 * LIMIT_ACCEPT_PAUSE_MS; open connections are served meanwhile. Says so
 * at most once a minute. */
static void
accept_pause(struct worker *w, int err)
{
	struct timeval tv = { 0, LIMIT_ACCEPT_PAUSE_MS * 1000 };

	if (w->ev_https != NULL)
		event_del(w->ev_https);
	if (w->ev_http != NULL)
		event_del(w->ev_http);
	event_add(w->ev_resume, &tv);
	w->pauses++;
	if (w->now - w->paused_logged >= 60 || w->paused_logged == 0) {
		log_warn("accept", "worker %d: %s: not accepting for %d ms "
		    "(%u pause%s since the last such line)", w->id,
		    strerror(err), LIMIT_ACCEPT_PAUSE_MS, w->pauses,
		    w->pauses == 1 ? "" : "s");
		w->paused_logged = w->now;
		w->pauses = 0;
	}
}

static void
accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	worker_quiesce(w);
	if (w->draining)
		return;
	if (w->ev_https != NULL)
		event_add(w->ev_https, NULL);
	if (w->ev_http != NULL)
		event_add(w->ev_http, NULL);
}

static void
accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct worker *w = arg;
	struct daemon *d = w->d;
	bool tls = lfd == w->https_fd;

	(void)what;
	worker_quiesce(w);
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct peer *client;
		int fd;

		fd = accept4(lfd, (struct sockaddr *)&ss, &sl,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				accept_pause(w, errno);
			else if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("accept", "%s", strerror(errno));
			return;
		}
		/* Over a limit: closed at once, which costs the client a
		 * retry and us one accept. */
		if (w->draining || w->nconns >= d->max_conns ||
		    (client = peers_join(d->peers, (struct sockaddr *)&ss,
		    PEER_HTTP, d->max_conns_client)) == NULL) {
			close(fd);
			continue;
		}
		conn_accepted(w, fd, &ss, client, tls);
	}
}

static void
worker_stop_listening(struct worker *w)
{
	if (w->ev_https != NULL) {
		event_free(w->ev_https);
		w->ev_https = NULL;
	}
	if (w->ev_http != NULL) {
		event_free(w->ev_http);
		w->ev_http = NULL;
	}
	if (w->https_fd != -1)
		close(w->https_fd);
	if (w->http_fd != -1)
		close(w->http_fd);
	w->https_fd = w->http_fd = -1;
}


/* Once a second: the clock, the Date line, timeouts, the log buffer;
 * on worker 0, the clients whose report bucket is full again are
 * forgotten (peers_sweep: the table is process-wide, one sweep is
 * enough). */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	worker_quiesce(w);
	w->now = daemon_now();
	worker_date(w);
	conn_tick(w);
	if (w->id == 0)
		peers_sweep(w->d->peers, daemon_now_ms());
	fetch_tick(w);
	/* In flight: HTTP requests, and SMTP messages being committed or
	 * their replies being sent. Idle SMTP sessions are closed after. */
	if (w->draining && ((w->nconns == 0 && (w->smtp == NULL ||
	    smtp_server_busy(w->smtp) == 0)) || w->now >= w->drain_until))
		event_base_loopexit(w->base, NULL);
	log_flush();
}

static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	uint64_t v;

	(void)what;
	if (read(fd, &v, sizeof(v)) < 0) {
		/* nothing: the eventfd is only a doorbell */
	}
	worker_quiesce(w);
	w->draining = true;
	w->drain_until = w->now + LIMIT_SHUTDOWN_SECONDS;
	worker_stop_listening(w);
	smtp_server_drain(w->smtp);
	tick_cb(-1, 0, w);
}

/* Tasks came back (intake.done_fd rang): each one's done answers its
 * connection or session, if still there. */
static void
done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct daemon_task *t, *next;

	(void)fd;
	(void)what;
	worker_quiesce(w);
	w->now = daemon_now();
	for (t = intake_done_take(&w->intake); t != NULL; t = next) {
		next = t->next;
		t->done(t);
	}
}

void *
worker_main(void *arg)
{
	struct worker *w = arg;

	log_buffer_thread(true);
	event_base_dispatch(w->base);
	fetch_final(w);
	conn_free_all(w);
	if (w->smtp != NULL) {
		/* In the worker's own thread, as smtp.h asks. */
		smtp_server_stop(w->smtp);
		w->smtp = NULL;
	}
	atomic_store(&w->seen, UINT64_MAX);
	log_buffer_thread(false);
	return NULL;
}

int
worker_setup(struct worker *w, struct err *e)
{
	struct event_config *cfg = event_config_new();
	struct timeval sec = { 1, 0 };

	if (cfg == NULL)
		return err_set(e, "out of memory");
	if (intake_init(&w->intake, w->d, w->id, e) == -1 ||
	    fetch_setup(w, e) == -1) {
		event_config_free(cfg);
		return -1;
	}
	/* One thread per base: no locks inside libevent. */
	event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
	event_config_set_flag(cfg, EVENT_BASE_FLAG_IGNORE_ENV);
	w->base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (w->base == NULL)
		return err_set(e, "event_base_new failed");
	w->now = daemon_now();
	worker_date(w);
	if ((w->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		return err_set(e, "eventfd: %s", strerror(errno));
	if ((w->ev_https = event_new(w->base, w->https_fd,
	    EV_READ | EV_PERSIST, accept_cb, w)) == NULL ||
	    event_add(w->ev_https, NULL) == -1 ||
	    (w->http_fd != -1 && ((w->ev_http = event_new(w->base, w->http_fd,
	    EV_READ | EV_PERSIST, accept_cb, w)) == NULL ||
	    event_add(w->ev_http, NULL) == -1)) ||
	    (w->ev_tick = event_new(w->base, -1, EV_PERSIST, tick_cb, w))
	    == NULL || event_add(w->ev_tick, &sec) == -1 ||
	    (w->ev_stop = event_new(w->base, w->stop_fd, EV_READ | EV_PERSIST,
	    stop_cb, w)) == NULL || event_add(w->ev_stop, NULL) == -1 ||
	    (w->ev_done = event_new(w->base, w->intake.done_fd,
	    EV_READ | EV_PERSIST, done_cb, w)) == NULL ||
	    event_add(w->ev_done, NULL) == -1 ||
	    (w->ev_resume = evtimer_new(w->base, accept_resume_cb, w)) == NULL)
		return err_set(e, "cannot set up the worker's events");
	if (w->smtp_fd != -1) {
		struct smtp_server_config sc;

		memset(&sc, 0, sizeof(sc));
		sc.session.hostname = w->d->service_host;
		sc.session.starttls = true;
		sc.session.peers = w->d->peers;
		sc.max_conn = w->d->smtp_max_conns;
		/* Hooks run on this worker's thread: they take the message
		 * and post it to the pool; the answers come back through
		 * done_cb. */
		intake_smtp_hooks(&w->intake, &w->smtp_hooks);
		if ((w->smtp = smtp_server_start(w->base, w->smtp_fd,
		    tls_default_ctx(w->d->tls), &w->smtp_hooks, &sc, e))
		    == NULL)
			return -1;
	}
	return 0;
}

void
worker_free(struct worker *w)
{
	worker_stop_listening(w);
	if (w->smtp != NULL) {		/* the worker never ran */
		smtp_server_stop(w->smtp);
		w->smtp = NULL;
	}
	if (w->smtp_fd != -1)
		close(w->smtp_fd);
	w->smtp_fd = -1;
	if (w->ev_resume != NULL)
		event_free(w->ev_resume);
	if (w->ev_tick != NULL)
		event_free(w->ev_tick);
	if (w->ev_stop != NULL)
		event_free(w->ev_stop);
	if (w->ev_done != NULL)
		event_free(w->ev_done);
	intake_fini(&w->intake);	/* after the writer stopped */
	fetch_free(w);			/* after intake_fini: the tables back */
	if (w->stop_fd != -1)
		close(w->stop_fd);
	if (w->base != NULL)
		event_base_free(w->base);
}
