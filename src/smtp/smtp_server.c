/*
 * smtp_server.c - the SMTP listener's I/O: libevent bufferevents around
 * smtp_session, OpenSSL after STARTTLS, timeouts and connection limits.
 *
 * One connection:
 *
 *   accept --limits ok--> plaintext bufferevent --greeting-->
 *     read: feed session, write its replies, obey its action:
 *       STARTTLS: wrap the bufferevent in an OpenSSL filter (the 220 is
 *                 flushed first, in plaintext), handshake, then
 *                 smtp_session_tls_done()
 *       CLOSE:    stop reading, flush replies, free
 *     timeout (command or DATA, per session state): 421 and close
 *
 *   end of data, the deliver hook answers later (SMTP_DELIVER_PENDING):
 *     stop reading (what the client pipelined behind the "." stays in
 *     the input buffer), no read timeout: the wait is ours;
 *     smtp_server_deliver_done: send the reply, feed the buffered
 *     commands, read again. If the connection goes first (client gone,
 *     write timeout, server stopped), the deliver_cancel hook is told,
 *     so that the answer never reaches a freed connection.
 *
 * Limits: connections per server (max_conn) and per client (an IPv4
 * address, an IPv6 /64: peer.h) across servers; a session lives at most
 * session_seconds; message bytes are reserved per client as they arrive
 * (smtp_session.c); when accept fails for want of descriptors, the
 * listener pauses instead of spinning.
 *
 * Back-pressure: a client that pipelines faster than it reads its replies
 * is not read from while more than LIMIT_SMTP_OUTBUF bytes wait for it;
 * libevent's input buffer is capped at the same size by a watermark.
 *
 * It never parses SMTP (smtp_session.c does), never blocks (the hooks are
 * quick; slow work is left pending, see smtp.h), and never closes the
 * listening fd.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "smtp.h"

struct smtp_conn;

struct smtp_server {
	struct event_base	*base;
	struct evconnlistener	*lev;
	struct event		*resume;	/* accepting again after a
						 * pause (out of descriptors) */
	time_t			 paused_logged;	/* last "paused" log line */
	unsigned		 pauses;	/* since that line */
	SSL_CTX			*ctx;
	struct smtp_hooks	 hooks;
	struct smtp_server_config cfg;
	struct peers		*peers;		/* connections per client: the
						 * config's, or own_peers */
	struct peers		*own_peers;	/* when cfg has none */
	struct smtp_conn	*conns;		/* doubly linked */
	unsigned		 nconn;
};

struct smtp_conn {
	struct smtp_server	*srv;
	struct bufferevent	*bev;
	struct smtp_session	*sess;
	struct event		*linger;	/* re-checks a pending flush */
	struct event		*life;		/* the session's lifetime */
	struct peer		*peer;		/* its client in the peers */
	char			 client[INET6_ADDRSTRLEN];
	bool			 tls_wait;	/* handshake running */
	bool			 closing;	/* flushing, then free */
	bool			 paused;	/* reading stopped: output full */
	bool			 delivering;	/* reading stopped: the deliver
						 * hook answers later (dv) */
	struct smtp_delivery	 dv;		/* .io = this connection */
	struct smtp_conn	*prev, *next;
};

/* ------------------------------------------------------------------ */

static void
smtp_srv_log(struct smtp_server *srv, const char *client, const char *msg)
{
	if (srv->hooks.log != NULL)
		srv->hooks.log(srv->hooks.arg, client, msg);
}

static void
smtp_conn_free(struct smtp_conn *c)
{
	struct smtp_server *srv = c->srv;

	/* A delivery is pending (possibly since the feed whose flush
	 * failed just now): the work goes on, its answer must not come
	 * here. */
	if (c->dv.job != NULL && srv->hooks.deliver_cancel != NULL)
		srv->hooks.deliver_cancel(srv->hooks.arg, c->dv.job);
	c->dv.job = NULL;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	srv->nconn--;
	if (c->linger != NULL)
		event_free(c->linger);
	if (c->life != NULL)
		event_free(c->life);
	if (c->bev != NULL)
		bufferevent_free(c->bev);	/* closes the fd, frees SSL */
	smtp_session_free(c->sess);	/* gives its message bytes back */
	peers_leave(srv->peers, c->peer, PEER_SMTP);
	free(c);
}

/* True when nothing waits to be written, in the TLS filter or below. */
static bool
smtp_conn_flushed(struct smtp_conn *c)
{
	struct bufferevent *under = bufferevent_get_underlying(c->bev);

	if (evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
		return false;
	return under == NULL ||
	    evbuffer_get_length(bufferevent_get_output(under)) == 0;
}

static void
smtp_conn_linger_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_conn *c = arg;
	struct timeval tv = { 0, 20000 };

	if (smtp_conn_flushed(c)) {
		smtp_conn_free(c);
		return;
	}
	evtimer_add(c->linger, &tv);
}

/* Stops reading and frees c once its replies are written (bounded by
 * the write timeout, which frees it on expiry). */
static void
smtp_conn_close(struct smtp_conn *c)
{
	struct timeval tv = { 0, 20000 };

	c->closing = true;
	bufferevent_disable(c->bev, EV_READ);
	if (smtp_conn_flushed(c)) {
		smtp_conn_free(c);
		return;
	}
	/* The write callback fires when the top buffer drains; below a TLS
	 * filter bytes may still wait, so poll briefly until they left. */
	if (bufferevent_get_underlying(c->bev) != NULL && c->linger == NULL &&
	    (c->linger = evtimer_new(c->srv->base, smtp_conn_linger_cb,
	    c)) != NULL)
		evtimer_add(c->linger, &tv);
}

static void
smtp_conn_timeouts(struct smtp_conn *c)
{
	struct timeval rd = { 0, 0 }, wr = { 0, 0 };

	rd.tv_sec = smtp_session_in_data(c->sess) ? c->srv->cfg.data_timeout :
	    c->srv->cfg.cmd_timeout;
	wr.tv_sec = c->srv->cfg.cmd_timeout;
	bufferevent_set_timeouts(c->bev, &rd, &wr);
}

/* Moves the session's queued replies into the bufferevent. */
static int
smtp_conn_flush(struct smtp_conn *c)
{
	const char *out;
	size_t n;

	out = smtp_session_output(c->sess, &n);
	if (n == 0)
		return 0;
	if (bufferevent_write(c->bev, out, n) == -1)
		return -1;
	smtp_session_output_consumed(c->sess, n);
	return 0;
}

static void smtp_conn_read_cb(struct bufferevent *bev, void *arg);
static void smtp_conn_write_cb(struct bufferevent *bev, void *arg);
static void smtp_conn_event_cb(struct bufferevent *bev, short what,
    void *arg);

static void
smtp_conn_starttls(struct smtp_conn *c)
{
	struct bufferevent *tb;
	SSL *ssl;

	if ((ssl = SSL_new(c->srv->ctx)) == NULL) {
		smtp_srv_log(c->srv, c->client, "SSL_new failed");
		smtp_conn_close(c);
		return;
	}
	/* The 220 is in c->bev's output and leaves before any TLS byte. */
	tb = bufferevent_openssl_filter_new(c->srv->base, c->bev, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (tb == NULL) {
		SSL_free(ssl);
		smtp_srv_log(c->srv, c->client, "cannot start TLS");
		smtp_conn_close(c);
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(tb, 1);
	c->bev = tb;
	c->tls_wait = true;
	bufferevent_setcb(tb, smtp_conn_read_cb, smtp_conn_write_cb,
	    smtp_conn_event_cb, c);
	bufferevent_setwatermark(tb, EV_READ, 0, LIMIT_SMTP_OUTBUF);
	smtp_conn_timeouts(c);
	bufferevent_enable(tb, EV_READ | EV_WRITE);
}

/* Feeds what was read to the session (possibly nothing: a delivery
 * answered late may have closed the session, its 554 being the tenth
 * error) and acts on its answer. */
static void
smtp_conn_process(struct smtp_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t len, consumed = 0;
	unsigned act;
	uint8_t *p = (uint8_t *)"";

	if (c->closing || c->tls_wait || c->paused || c->delivering)
		return;
	/* All of it in one call: STARTTLS must see what follows. */
	if ((len = evbuffer_get_length(in)) > 0 &&
	    (p = evbuffer_pullup(in, -1)) == NULL) {
		smtp_conn_close(c);
		return;
	}
	act = smtp_session_feed(c->sess, p, len, &consumed);
	evbuffer_drain(in, consumed);
	if (smtp_conn_flush(c) == -1) {
		smtp_conn_free(c);
		return;
	}
	if (act & SMTP_ACT_CLOSE) {
		smtp_conn_close(c);
		return;
	}
	if (act & SMTP_ACT_STARTTLS) {
		smtp_conn_starttls(c);
		return;
	}
	if (smtp_session_delivering(c->sess)) {
		/* The hook answers later (smtp_server_deliver_done). Read
		 * nothing meanwhile: the rest of the input stays in the
		 * buffer, the kernel holds what follows, and with reading
		 * off no read timeout runs; the client waits for us. */
		c->delivering = true;
		bufferevent_disable(c->bev, EV_READ);
		return;
	}
	if (consumed < len || evbuffer_get_length(bufferevent_get_output(
	    c->bev)) > LIMIT_SMTP_OUTBUF) {
		/* The client does not read its replies: wait until it has
		 * (the write callback resumes us). */
		c->paused = true;
		bufferevent_disable(c->bev, EV_READ);
	}
	smtp_conn_timeouts(c);
}

void
smtp_server_deliver_done(struct smtp_delivery *dv,
    enum smtp_deliver_result res, const char *reason)
{
	struct smtp_conn *c = dv->io;

	dv->job = NULL;
	if (!c->delivering)
		return;
	c->delivering = false;
	smtp_session_deliver_done(c->sess, res, reason);
	if (c->closing)
		return;
	/* Read again (unless the client's replies are still piling up:
	 * the write callback resumes then), and first go on with what it
	 * pipelined behind the message; the reply goes out before the
	 * answers to those. The command timeout starts again here. */
	if (!c->paused)
		bufferevent_enable(c->bev, EV_READ);
	smtp_conn_process(c);
}

static void
smtp_conn_read_cb(struct bufferevent *bev, void *arg)
{
	smtp_conn_process(arg);
}

static void
smtp_conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct smtp_conn *c = arg;

	if (c->closing) {
		if (smtp_conn_flushed(c))
			smtp_conn_free(c);
		return;
	}
	if (c->paused) {
		c->paused = false;
		if (c->delivering)	/* smtp_server_deliver_done resumes */
			return;
		bufferevent_enable(c->bev, EV_READ);
		smtp_conn_process(c);
	}
}

static void
smtp_conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_conn *c = arg;
	char line[160];
	unsigned long e;

	if (what & BEV_EVENT_CONNECTED) {
		/* TLS handshake done. */
		c->tls_wait = false;
		smtp_session_tls_done(c->sess);
		smtp_conn_timeouts(c);
		/* The client's EHLO may have come with its last handshake
		 * flight and be waiting already. */
		smtp_conn_process(c);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if (c->closing || (what & BEV_EVENT_WRITING)) {
			smtp_conn_free(c);
			return;
		}
		smtp_session_abort(c->sess, c->tls_wait ?
		    "TLS handshake timeout" : smtp_session_in_data(c->sess) ?
		    "timeout in DATA" : "timeout");
		if (smtp_conn_flush(c) == -1 || c->tls_wait) {
			smtp_conn_free(c);
			return;
		}
		bufferevent_enable(c->bev, EV_WRITE);
		smtp_conn_close(c);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		if (c->tls_wait || bufferevent_get_underlying(bev) != NULL) {
			e = bufferevent_get_openssl_error(bev);
			snprintf(line, sizeof(line), "TLS error: %s",
			    e ? ERR_reason_error_string(e) : "connection "
			    "closed");
			smtp_srv_log(c->srv, c->client, line);
		}
		while (bufferevent_get_openssl_error(bev) != 0)
			;
	}
	/* EOF or error: the client is gone. */
	smtp_conn_free(c);
}

/* The session has lived LIMIT_SMTP_SESSION_SECONDS: 421 and close,
 * unless a delivery is pending (its answer comes first; checked again a
 * second later). */
static void
smtp_conn_life_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_conn *c = arg;
	struct timeval again = { 1, 0 };

	if (c->closing)
		return;
	if (c->delivering || c->tls_wait) {
		evtimer_add(c->life, &again);
		return;
	}
	smtp_srv_log(c->srv, c->client, "session too long, closing");
	smtp_session_abort(c->sess, "session too long");
	if (smtp_conn_flush(c) == -1) {
		smtp_conn_free(c);
		return;
	}
	bufferevent_enable(c->bev, EV_WRITE);
	smtp_conn_close(c);
}

/* Refuses a connection over a limit with a best-effort 421. */
static void
smtp_refuse(evutil_socket_t fd, const char *host, const char *why)
{
	char line[256];
	int n;

	n = snprintf(line, sizeof(line), "421 4.7.0 %s Error: %s, try again "
	    "later\r\n", host, why);
	if (n > 0 && (size_t)n < sizeof(line) &&
	    send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* Nothing to do: the client will retry. */
	}
	evutil_closesocket(fd);
}

static void
smtp_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct smtp_server *srv = arg;
	struct smtp_conn *c;
	char addr[INET6_ADDRSTRLEN] = "-";

	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, addr,
		    sizeof(addr));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr,
		    addr, sizeof(addr));
	struct peer *peer;
	struct timeval life = { 0, 0 };

	if (sa->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(
	    &((struct sockaddr_in6 *)sa)->sin6_addr))
		inet_ntop(AF_INET, &((struct sockaddr_in6 *)sa)->sin6_addr.
		    s6_addr[12], addr, sizeof(addr));
	if (srv->nconn >= srv->cfg.max_conn) {
		smtp_srv_log(srv, addr, "refused: too many connections");
		smtp_refuse(fd, srv->cfg.session.hostname,
		    "too many connections");
		return;
	}
	if ((peer = peers_join(srv->peers, sa, PEER_SMTP,
	    srv->cfg.max_conn_per_client)) == NULL) {
		smtp_srv_log(srv, addr, "refused: too many connections from "
		    "this address");
		smtp_refuse(fd, srv->cfg.session.hostname,
		    "too many connections from your address");
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		peers_leave(srv->peers, peer, PEER_SMTP);
		evutil_closesocket(fd);
		return;
	}
	c->peer = peer;
	c->srv = srv;
	memcpy(c->client, addr, sizeof(c->client));
	c->next = srv->conns;
	if (srv->conns != NULL)
		srv->conns->prev = c;
	srv->conns = c;
	srv->nconn++;
	c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		evutil_closesocket(fd);
		smtp_conn_free(c);
		return;
	}
	if ((c->sess = smtp_session_new(&srv->cfg.session, &srv->hooks,
	    addr)) == NULL) {
		smtp_conn_free(c);
		return;
	}
	c->dv.io = c;
	smtp_session_set_delivery(c->sess, &c->dv);
	smtp_session_set_peer(c->sess, c->peer);
	life.tv_sec = srv->cfg.session_seconds;
	if ((c->life = evtimer_new(srv->base, smtp_conn_life_cb, c)) == NULL ||
	    evtimer_add(c->life, &life) == -1) {
		smtp_conn_free(c);
		return;
	}
	bufferevent_setcb(c->bev, smtp_conn_read_cb, smtp_conn_write_cb,
	    smtp_conn_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, LIMIT_SMTP_OUTBUF);
	smtp_conn_timeouts(c);
	if (smtp_conn_flush(c) == -1 ||
	    bufferevent_enable(c->bev, EV_READ | EV_WRITE) == -1) {
		smtp_conn_free(c);
		return;
	}
}

static void
smtp_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_server *srv = arg;

	if (srv->lev != NULL)
		evconnlistener_enable(srv->lev);
}

/* accept failed (out of descriptors or memory): the listener would stay
 * readable and libevent would call us again at once, a loop at 100 %
 * CPU. Pause accepting for LIMIT_ACCEPT_PAUSE_MS instead (the sessions
 * open go on), and say so at most once a minute. */
static void
smtp_accept_error_cb(struct evconnlistener *lev, void *arg)
{
	struct smtp_server *srv = arg;
	struct timeval tv = { 0, LIMIT_ACCEPT_PAUSE_MS * 1000 };
	int err = EVUTIL_SOCKET_ERROR();
	time_t now = time(NULL);
	char line[160];

	if (err == EINTR || err == ECONNABORTED || err == EAGAIN)
		return;
	evconnlistener_disable(lev);
	if (srv->resume != NULL)
		evtimer_add(srv->resume, &tv);
	srv->pauses++;
	if (now - srv->paused_logged >= 60) {
		snprintf(line, sizeof(line), "accept: %s: pausing %d ms "
		    "(%u pause%s since the last such line)",
		    evutil_socket_error_to_string(err), LIMIT_ACCEPT_PAUSE_MS,
		    srv->pauses, srv->pauses == 1 ? "" : "s");
		smtp_srv_log(srv, "-", line);
		srv->paused_logged = now;
		srv->pauses = 0;
	}
}

struct smtp_server *
smtp_server_start(struct event_base *base, int listen_fd,
    struct ssl_ctx_st *starttls_ctx, const struct smtp_hooks *hooks,
    const struct smtp_server_config *cfg, struct err *e)
{
	struct smtp_server *srv;

	if (base == NULL || listen_fd < 0 || hooks == NULL ||
	    hooks->rcpt == NULL || hooks->deliver == NULL || cfg == NULL ||
	    cfg->session.hostname == NULL) {
		err_set(e, "smtp_server_start: missing argument");
		return NULL;
	}
	if ((srv = calloc(1, sizeof(*srv))) == NULL) {
		err_set(e, "out of memory");
		return NULL;
	}
	srv->base = base;
	srv->ctx = starttls_ctx;
	srv->hooks = *hooks;
	srv->cfg = *cfg;
	srv->cfg.session.starttls = starttls_ctx != NULL;
	if (srv->cfg.cmd_timeout == 0)
		srv->cfg.cmd_timeout = LIMIT_SMTP_CMD_TIMEOUT;
	if (srv->cfg.data_timeout == 0)
		srv->cfg.data_timeout = LIMIT_SMTP_DATA_TIMEOUT;
	if (srv->cfg.max_conn == 0)
		srv->cfg.max_conn = LIMIT_SMTP_CONNECTIONS;
	if (srv->cfg.max_conn_per_client == 0)
		srv->cfg.max_conn_per_client = LIMIT_SMTP_CONN_PER_CLIENT;
	if (srv->cfg.session_seconds == 0)
		srv->cfg.session_seconds = LIMIT_SMTP_SESSION_SECONDS;
	srv->peers = srv->cfg.session.peers;
	if (srv->peers == NULL) {
		/* Connections per client are still limited; message bytes
		 * have no budget (sessions reserve in cfg.session.peers
		 * only, which a deliver hook can name to give them back). */
		if ((srv->own_peers = peers_new(SIZE_MAX, SIZE_MAX)) == NULL) {
			err_set(e, "out of memory");
			goto fail;
		}
		srv->peers = srv->own_peers;
	}
	if ((srv->resume = evtimer_new(base, smtp_resume_cb, srv)) == NULL) {
		err_set(e, "out of memory");
		goto fail;
	}
	if (evutil_make_socket_nonblocking(listen_fd) == -1) {
		err_set(e, "listening socket: %s", strerror(errno));
		goto fail;
	}
	/* backlog 0: the socket is already listening. */
	srv->lev = evconnlistener_new(base, smtp_accept_cb, srv,
	    LEV_OPT_CLOSE_ON_EXEC, 0, listen_fd);
	if (srv->lev == NULL) {
		err_set(e, "cannot listen for SMTP on fd %d", listen_fd);
		goto fail;
	}
	evconnlistener_set_error_cb(srv->lev, smtp_accept_error_cb);
	return srv;
fail:
	if (srv->resume != NULL)
		event_free(srv->resume);
	peers_free(srv->own_peers);
	free(srv);
	return NULL;
}

/* Every connection is freed: one whose delivery is pending tells the
 * deliver_cancel hook. */
void
smtp_server_stop(struct smtp_server *srv)
{
	if (srv == NULL)
		return;
	if (srv->lev != NULL)
		evconnlistener_free(srv->lev);
	while (srv->conns != NULL)
		smtp_conn_free(srv->conns);
	if (srv->resume != NULL)
		event_free(srv->resume);
	peers_free(srv->own_peers);
	free(srv);
}

void
smtp_server_drain(struct smtp_server *srv)
{
	if (srv != NULL && srv->lev != NULL) {
		evconnlistener_free(srv->lev);
		srv->lev = NULL;
	}
}

unsigned
smtp_server_busy(const struct smtp_server *srv)
{
	unsigned n = 0;

	for (const struct smtp_conn *c = srv->conns; c != NULL; c = c->next)
		if (c->delivering || evbuffer_get_length(
		    bufferevent_get_output(c->bev)) > 0)
			n++;
	return n;
}

unsigned
smtp_server_connections(const struct smtp_server *srv)
{
	return srv->nconn;
}
