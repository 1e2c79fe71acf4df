/*
 * daemon_serve.c - `stsguard serve`: listeners, worker threads with their
 * own event loops, connections, routes, privilege drop and shutdown.
 *
 * Per connection (one struct conn, one read buffer, one write buffer):
 *
 *	accept -> [TLS handshake] -> read head -> route -> one write
 *	              ^                                     |
 *	              +------------ keep-alive -------------+
 *
 * A report POST waits between route and write (CONN_PENDING: no events,
 * nothing read) while the writer thread commits it with others (group
 * commit, daemon_intake.c); done_cb answers it when its job is back.
 * An e-mailed report's SMTP session waits the same way inside
 * smtp_server (a pending delivery), and done_cb answers it too.
 *
 * libevent is used only for readiness (one event on the fd, level
 * triggered); OpenSSL reads and writes the socket itself (SSL_read and
 * SSL_write, non-blocking). A bufferevent_openssl would copy every byte
 * once more through evbuffers and allocate per chain; this way a policy
 * response is a few memcpy into the connection's buffer and one
 * SSL_write, one TLS record, one syscall.
 *
 * Routes are a table (daemon_routes, below; http_route_find picks):
 *
 *	listener  host          path                        methods   handler
 *	HTTPS     any           /.well-known/mta-sts.txt    GET HEAD  policy
 *	HTTPS     service_host  /tlsrpt/...                 (any)     intake
 *	HTTP      any           /.well-known/acme-challenge/  GET HEAD  acme
 *	HTTP      any           /...                        GET HEAD  redirect
 *	a path that matched with another method: 405 + Allow; else 404.
 *
 * policy: a hosted Host (port and trailing dot ignored) -> 200 with its
 * policy, 421 when the SNI named another host, 404 otherwise. intake: see
 * daemon_intake.c (its own JSON answers, 405 included). acme: a pending
 * HTTP-01 token -> 200, else 404. redirect: a hosted Host or
 * service_host -> 301 to https, else 404.
 * A request body is read only for report intake (into a buffer that
 * grows as the bytes come, after an optional "100 Continue"); a small
 * body sent to another route is skipped so that keep-alive goes on, a big
 * or chunked one closes the connection after the answer.
 * Never serves a policy over plain HTTP; never reads the store.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <grp.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "../acme/acme.h"
#include "../http/http.h"
#include "../lib/log.h"
#include "../mime/mime.h"
#include "../smtp/smtp.h"
#include "../tls/tls.h"
#include "daemon.h"
#include "daemon_int.h"

#define CHALLENGE_PATH	"/.well-known/acme-challenge/"
#define ACCEPT_BATCH	64
#define OBUF_INLINE	2048
#define OBUF_FLUSH_AT	(16 * 1024)	/* pipelined answers: flush first */

enum conn_state {
	CONN_HANDSHAKE,
	CONN_READ,
	CONN_WRITE,
	CONN_LINGER,		/* answered and closing: drain, then close */
	CONN_BODY,		/* reading an intake body into c->ib */
	CONN_PENDING,		/* its report is with the writer (c->job):
				 * no events, nothing read, until the job
				 * comes back (done_cb) */
};

/* An intake body being read: Content-Length bytes, then the report.
 * The buffer grows as bytes arrive, each step reserved for the client
 * in d->peers (so a slow upload holds only what it has sent). */
struct conn_body {
	size_t		 need, have;	/* bytes */
	size_t		 cap;		/* of data, all of it reserved */
	time_t		 since;		/* when the head came */
	char		 domain[LIMIT_DNAME_LEN + 1];	/* the token's */
	uint8_t		*data;
};

struct worker;

struct conn {
	struct conn	*prev, *next;	/* the worker's connections */
	struct worker	*w;
	int		 fd;
	SSL		*ssl;		/* NULL on the plain HTTP listener */
	enum conn_state	 st;
	short		 ev_what;	/* EV_READ or EV_WRITE */
	bool		 close_after;	/* close once out is written */
	bool		 linger;	/* ... after draining the input */
	time_t		 deadline;	/* monotonic seconds */
	struct event	 ev;
	char		 peer[INET6_ADDRSTRLEN];
	struct peer	*client;	/* its entry in d->peers */
	struct conn_body *ib;		/* CONN_BODY only */
	struct intake_job *job;		/* CONN_PENDING only; the job owns
					 * the body then */
	uint64_t	 skip;		/* body bytes still to drop */
	size_t		 rlen;
	char		 rbuf[LIMIT_HTTP_HEADER_BYTES];
	char		*out;		/* obuf, or a larger heap buffer */
	size_t		 olen, ooff, ocap;
	char		 obuf[OBUF_INLINE];
};

struct worker {
	struct daemon	*d;
	int		 id;
	pthread_t	 thr;
	bool		 started;
	struct event_base *base;
	int		 https_fd, http_fd, stop_fd, smtp_fd;
	struct event	*ev_https, *ev_http, *ev_tick, *ev_stop;
	struct event	*ev_done;	/* intake.done_fd: jobs are back */
	struct smtp_server *smtp;	/* NULL without smtp_listen */
	struct smtp_hooks smtp_hooks;	/* .arg = &intake */
	struct intake	 intake;	/* jobs back from the writer */
	struct event	*ev_resume;	/* accepting again after a pause */
	time_t		 paused_logged;	/* last "paused" log line */
	unsigned	 pauses;	/* since that line */
	atomic_uint_fast64_t seen;	/* quiescent counter */
	bool		 draining;	/* SIGTERM: no new requests */
	time_t		 drain_until;
	time_t		 now;		/* monotonic, updated each tick */
	struct conn	*conns;
	size_t		 nconns;
	char		 date[HTTP_DATE_LINE_LEN + 1];
	time_t		 date_sec;
};

static void conn_cb(evutil_socket_t fd, short what, void *arg);
static void conn_read(struct conn *c);
static void conn_write(struct conn *c);

static time_t
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec;
}

uint64_t
daemon_worker_seen(struct daemon *d, int i)
{
	return atomic_load(&d->workers[i].seen);
}

/* A quiescent point: the worker holds no table pointer from before. */
static inline void
worker_quiesce(struct worker *w)
{
	atomic_store(&w->seen, atomic_load(&w->d->gen));
}

static void
worker_date(struct worker *w)
{
	time_t t = time(NULL);

	if (t != w->date_sec) {
		http_date_line((long long)t, w->date);
		w->date_sec = t;
	}
}

/* --- connections ----------------------------------------------------- */

/* Frees the intake body being read, and gives its bytes back. */
static void
conn_body_free(struct conn *c)
{
	if (c->ib == NULL)
		return;
	peers_give(c->w->d->peers, c->client, c->ib->cap);
	free(c->ib->data);
	free(c->ib);
	c->ib = NULL;
}

/* Makes room for the next bytes of the body: doubles the buffer, up to
 * its Content-Length, reserving each step for the client. Returns false
 * when the client's share or the total would pass (503, try later). */
static bool
conn_body_grow(struct conn *c)
{
	struct conn_body *ib = c->ib;
	size_t ncap = ib->cap * 2;
	uint8_t *n;

	if (ncap < LIMIT_INTAKE_BODY_FIRST)
		ncap = LIMIT_INTAKE_BODY_FIRST;
	if (ncap > ib->need)
		ncap = ib->need;
	if (!peers_take(c->w->d->peers, c->client, ncap - ib->cap))
		return false;
	if ((n = realloc(ib->data, ncap)) == NULL)
		log_fatal("intake", "out of memory");
	ib->data = n;
	ib->cap = ncap;
	return true;
}

static void
conn_free(struct conn *c)
{
	struct worker *w = c->w;

	event_del(&c->ev);
	conn_body_free(c);
	if (c->job != NULL)		/* the job goes on; its answer is
					 * dropped when it comes back */
		c->job->waiter = NULL;
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	close(c->fd);
	peers_leave(w->d->peers, c->client, PEER_HTTP);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	w->nconns--;
	if (c->out != c->obuf)
		free(c->out);
	free(c);
}

static void
conn_want(struct conn *c, short what)
{
	if (c->ev_what == what)
		return;
	event_del(&c->ev);
	event_assign(&c->ev, c->w->base, c->fd, what | EV_PERSIST, conn_cb, c);
	event_add(&c->ev, NULL);
	c->ev_what = what;
}

/* Waits for the writer: no events, so nothing more is read (pipelined
 * requests wait in rbuf or the kernel) until done_cb answers. A
 * connection that waits past the deadline is closed; its job goes on. */
static void
conn_pend(struct conn *c)
{
	c->st = CONN_PENDING;
	c->deadline = c->w->now + LIMIT_INTAKE_SECONDS;
	event_del(&c->ev);
	c->ev_what = 0;
}

/* Closes after the answer: sends close_notify, and when the client may
 * still be sending (an error, a body we did not read) drains its input
 * for a moment so that it reads our answer instead of a reset. */
static void
conn_finish(struct conn *c)
{
	if (c->ssl != NULL) {
		SSL_shutdown(c->ssl);
		ERR_clear_error();
	}
	if (!c->linger) {
		conn_free(c);
		return;
	}
	shutdown(c->fd, SHUT_WR);
	c->st = CONN_LINGER;
	c->deadline = c->w->now + LIMIT_HTTP_LINGER_SECONDS;
	conn_want(c, EV_READ);
}

/* Makes room for n more bytes of output. */
static char *
conn_reserve(struct conn *c, size_t n)
{
	if (c->olen + n > c->ocap) {
		size_t ncap = c->ocap * 2;
		char *nb;

		while (ncap < c->olen + n)
			ncap *= 2;
		if (c->out == c->obuf) {
			if ((nb = malloc(ncap)) != NULL)
				memcpy(nb, c->obuf, c->olen);
		} else {
			nb = realloc(c->out, ncap);
		}
		if (nb == NULL)
			log_fatal("conn", "out of memory");
		c->out = nb;
		c->ocap = ncap;
	}
	return c->out + c->olen;
}

static void
conn_put(struct conn *c, const char *s, size_t n)
{
	memcpy(conn_reserve(c, n), s, n);
	c->olen += n;
}

static void
conn_error(struct conn *c, int status, const char *extra, bool head_only)
{
	char buf[512];
	size_t n;

	worker_date(c->w);
	n = http_error_response(buf, sizeof(buf), status, c->w->date, extra,
	    c->close_after, head_only);
	if (n == 0)
		log_panic("conn", "error response does not fit");
	conn_put(c, buf, n);
}

static void
conn_log(struct conn *c, const char *event, const struct http_request *r,
    int status)
{
	struct log_line l;

	log_begin(&l, LOG_INFO, event);
	if (!l.on)
		return;
	log_cstr(&l, "client", c->peer);
	if (c->ssl != NULL)
		log_cstr(&l, "sni", tls_sni(c->ssl));
	if (r != NULL) {
		log_str(&l, "method", r->method_str, r->method_len);
		log_str(&l, "host", r->host, r->host_len);
		log_str(&l, "path", r->target, r->target_len);
		log_str(&l, "ua", r->user_agent, r->user_agent_len);
	}
	log_int(&l, "status", status);
	log_end(&l);
}

/* Writes a response with a JSON body (intake answers). */
static void
conn_json(struct conn *c, int status, const char *json, size_t len,
    const char *extra)
{
	char head[256], num[24];
	int n;

	worker_date(c->w);
	n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\n", status,
	    http_reason(status));
	if (n < 0 || (size_t)n >= sizeof(head))
		log_panic("conn", "status line does not fit");
	conn_put(c, head, (size_t)n);
	conn_put(c, c->w->date, HTTP_DATE_LINE_LEN);
	conn_put(c, "Content-Type: application/json\r\nContent-Length: ",
	    48);
	n = snprintf(num, sizeof(num), "%zu\r\n", len);
	conn_put(c, num, (size_t)n);
	if (extra != NULL)
		conn_put(c, extra, strlen(extra));
	if (c->close_after)
		conn_put(c, "Connection: close\r\n", 19);
	conn_put(c, "\r\n", 2);
	conn_put(c, json, len);
}

static void
intake_log(struct conn *c, const struct http_request *r, const char *domain,
    int status, uint64_t bytes)
{
	struct log_line l;

	log_begin(&l, LOG_INFO, "intake_http");
	if (!l.on)
		return;
	log_cstr(&l, "client", c->peer);
	if (r != NULL) {
		log_str(&l, "method", r->method_str, r->method_len);
		log_str(&l, "path", r->target, r->target_len);
		log_str(&l, "ua", r->user_agent, r->user_agent_len);
		log_str(&l, "type", r->content_type, r->content_type_len);
	}
	log_cstr(&l, "domain", domain);
	log_int(&l, "bytes", (int64_t)bytes);
	log_int(&l, "status", status);
	log_end(&l);
}

/* The whole intake body is in c->ib: take the report. A valid one goes
 * to the writer with the body (c->job set: the caller's flush makes the
 * connection wait, see conn_flush); anything else is answered now. */
static void
conn_body_done(struct conn *c)
{
	struct conn_body *ib = c->ib;

	/* The job takes the buffer and its reservation. */
	c->job = intake_http_post(&c->w->intake, c, c->peer,
	    peer_text(c->client), ib->domain, c->client, ib->data, ib->cap,
	    ib->need);
	free(ib);
	c->ib = NULL;
}

/* Refuses an intake body the budget has no room for: 503, close. */
static void
conn_body_busy(struct conn *c, const struct http_request *r,
    const char *domain, uint64_t bytes)
{
	static const char busy[] = "{\"error\": \"busy; try later\"}\n";

	c->close_after = true;
	c->linger = true;
	conn_json(c, 503, busy, sizeof(busy) - 1, "Retry-After: 60\r\n");
	intake_log(c, r, domain, 503, bytes);
}

/* Report intake on the HTTPS listener (RFC 8460 §3): answers r or
 * starts reading its body (bytes already in rbuf from *used on are
 * taken). */
static void
route_intake(struct conn *c, const struct http_request *r, const char *host,
    size_t *used)
{
	struct worker *w = c->w;
	char domain[LIMIT_DNAME_LEN + 1];
	char json[INTAKE_JSON_LEN];
	size_t jl = 0, have;
	struct conn_body *ib;
	int st;

	if ((st = intake_route(w->d, r, host, domain, json, &jl)) ==
	    INTAKE_NONE) {
		st = 404;		/* the table sent it here: never */
		jl = (size_t)snprintf(json, sizeof(json),
		    "{\"error\": \"not found\"}\n");
	}
	if (st != INTAKE_READ_BODY) {
		/* Answered from the head: the body is never parsed. A
		 * small one is skipped (keep-alive goes on), else close. */
		if (r->has_body && !r->chunked && !r->expect_continue &&
		    r->content_length <= LIMIT_HTTP_BODY_DISCARD) {
			c->skip = r->content_length;
		} else if (r->has_body || r->expect_continue) {
			c->close_after = true;
			c->linger = true;
			*used = c->rlen;
		}
		conn_json(c, st, json, jl, st == 405 ? "Allow: POST\r\n" :
		    st == 503 ? "Retry-After: 60\r\n" : NULL);
		intake_log(c, r, NULL, st, r->content_length);
		return;
	}
	if ((ib = calloc(1, sizeof(*ib))) == NULL)
		log_fatal("intake", "out of memory");
	ib->need = (size_t)r->content_length;
	ib->since = w->now;
	memcpy(ib->domain, domain, strlen(domain) + 1);
	c->ib = ib;
	if (!conn_body_grow(c)) {
		conn_body_free(c);
		*used = c->rlen;
		conn_body_busy(c, r, domain, r->content_length);
		return;
	}
	/* What came with the head fits: rbuf is smaller than the first
	 * step, or the body is. */
	have = c->rlen - *used;
	if (have > ib->need)
		have = ib->need;
	memcpy(ib->data, c->rbuf + *used, have);
	ib->have = have;
	*used += have;
	if (ib->have == ib->need) {
		conn_body_done(c);
		return;
	}
	if (r->expect_continue)
		conn_put(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
	c->deadline = w->now + LIMIT_INTAKE_SECONDS;
	return;
}

/* GET or HEAD /.well-known/mta-sts.txt on HTTPS: the policy of host. */
static void
route_policy(struct conn *c, const struct http_request *r, const char *host,
    int hlen)
{
	struct daemon *d = c->w->d;
	const struct ptable *t;
	const struct ptable_entry *x = NULL;
	const char *sni;
	bool head = r->method == HTTP_HEAD;

	t = atomic_load_explicit(&d->table, memory_order_acquire);
	if (hlen > 0)
		x = ptable_find(t, host, (size_t)hlen);
	if (x == NULL) {
		conn_error(c, 404, NULL, head);
		conn_log(c, "policy_fetch", r, 404);
		return;
	}
	/* The certificate the client checked must be for this host. */
	if ((sni = tls_sni(c->ssl)) != NULL && strcmp(sni, host) != 0) {
		conn_error(c, 421, NULL, head);
		conn_log(c, "policy_fetch", r, 421);
		return;
	}
	worker_date(c->w);
	conn_put(c, "HTTP/1.1 200 OK\r\n", 17);
	conn_put(c, c->w->date, HTTP_DATE_LINE_LEN);
	conn_put(c, x->fields, x->fields_len);
	if (c->close_after)
		conn_put(c, "Connection: close\r\n\r\n", 21);
	else
		conn_put(c, "\r\n", 2);
	if (!head)
		conn_put(c, x->body, x->body_len);
	conn_log(c, "policy_fetch", r, 200);
}

/* GET or HEAD /.well-known/acme-challenge/TOKEN on plain HTTP: the key
 * authorization of a pending HTTP-01 challenge (RFC 8555 §8.3). */
static void
route_acme(struct conn *c, const struct http_request *r)
{
	char token[256], keyauth[512], len[32];
	size_t plen = strlen(CHALLENGE_PATH), tlen = r->path_len - plen;
	bool head = r->method == HTTP_HEAD;
	int n;

	if (!c->w->d->http01 || tlen == 0 || tlen >= sizeof(token)) {
		conn_error(c, 404, NULL, head);
		conn_log(c, "acme_http01", r, 404);
		return;
	}
	memcpy(token, r->path + plen, tlen);
	token[tlen] = '\0';
	if (acme_http01_lookup(token, keyauth, sizeof(keyauth)) == -1) {
		conn_error(c, 404, NULL, head);
		conn_log(c, "acme_http01", r, 404);
		return;
	}
	worker_date(c->w);
	n = snprintf(len, sizeof(len), "%zu", strlen(keyauth));
	conn_put(c, "HTTP/1.1 200 OK\r\n", 17);
	conn_put(c, c->w->date, HTTP_DATE_LINE_LEN);
	conn_put(c, "Content-Type: application/octet-stream\r\n"
	    "Content-Length: ", 56);
	conn_put(c, len, (size_t)n);
	conn_put(c, c->close_after ? "\r\nConnection: close\r\n\r\n" :
	    "\r\n\r\n", c->close_after ? 23 : 4);
	if (!head)
		conn_put(c, keyauth, strlen(keyauth));
	conn_log(c, "acme_http01", r, 200);
}

/* GET or HEAD anything else on plain HTTP: 301 to https for a hosted
 * name or the service's own; never a policy over plain HTTP. */
static void
route_redirect(struct conn *c, const struct http_request *r,
    const char *host, int hlen)
{
	struct daemon *d = c->w->d;
	const struct ptable *t;
	char loc[LIMIT_DNAME_LEN + LIMIT_HTTP_REQUEST_LINE + 32];
	bool head = r->method == HTTP_HEAD;
	int n;

	t = atomic_load_explicit(&d->table, memory_order_acquire);
	if (hlen <= 0 || (strcmp(host, d->service_host) != 0 &&
	    ptable_find(t, host, (size_t)hlen) == NULL)) {
		conn_error(c, 404, NULL, head);
		conn_log(c, "http_plain", r, 404);
		return;
	}
	n = snprintf(loc, sizeof(loc), "Location: https://%s%s%.*s\r\n",
	    host, d->https_port, (int)r->target_len,
	    r->target[0] == '/' ? r->target : "/");
	if (n < 0 || (size_t)n >= sizeof(loc)) {
		conn_error(c, 404, NULL, head);
		return;
	}
	conn_error(c, 301, loc, head);
	conn_log(c, "http_plain", r, 301);
}

/* The routes, in the order they are tried (http_route_find). */
enum {
	ROUTE_POLICY,
	ROUTE_INTAKE,
	ROUTE_ACME,
	ROUTE_REDIRECT,
};

const struct http_route daemon_routes[] = {
	{ HTTP_LISTEN_TLS, false, "/.well-known/mta-sts.txt",
	    HTTP_M(HTTP_GET) | HTTP_M(HTTP_HEAD), ROUTE_POLICY },
	/* intake_route answers wrong methods itself, in JSON. */
	{ HTTP_LISTEN_TLS, true, INTAKE_URL_PATH, HTTP_M_ANY, ROUTE_INTAKE },
	{ HTTP_LISTEN_PLAIN, false, CHALLENGE_PATH,
	    HTTP_M(HTTP_GET) | HTTP_M(HTTP_HEAD), ROUTE_ACME },
	{ HTTP_LISTEN_PLAIN, false, "/",
	    HTTP_M(HTTP_GET) | HTTP_M(HTTP_HEAD), ROUTE_REDIRECT },
};
const size_t daemon_nroutes = sizeof(daemon_routes) /
    sizeof(daemon_routes[0]);

/* Answers r, one request of c: finds its route, then its handler. */
static void
conn_route(struct conn *c, const struct http_request *r, size_t *used)
{
	char host[LIMIT_DNAME_LEN + 1], allow[64];
	const struct http_route *x;
	unsigned methods;
	int hlen;

	hlen = http_host_normalize(r->host, r->host_len, host);
	x = http_route_find(daemon_routes, daemon_nroutes, c->ssl != NULL ?
	    HTTP_LISTEN_TLS : HTTP_LISTEN_PLAIN, hlen > 0 &&
	    strcmp(host, c->w->d->service_host) == 0, r, &methods);
	if (x != NULL && x->id == ROUTE_INTAKE) {
		route_intake(c, r, host, used);	/* reads its body */
		return;
	}
	if (r->has_body) {
		/* No other route reads a body: drop a small one and keep
		 * the connection; else answer, drain, close. */
		if (!r->chunked && !r->expect_continue &&
		    r->content_length <= LIMIT_HTTP_BODY_DISCARD) {
			c->skip = r->content_length;
		} else {
			c->close_after = true;
			c->linger = true;
			*used = c->rlen;
		}
	}
	if (x == NULL && methods != 0 &&
	    http_allow_line(methods, allow, sizeof(allow)) > 0) {
		conn_error(c, 405, allow, false);
		conn_log(c, c->ssl != NULL ? "http_request" : "http_plain", r,
		    405);
		return;
	}
	if (x == NULL) {
		conn_error(c, 404, NULL, r->method == HTTP_HEAD);
		conn_log(c, c->ssl != NULL ? "http_request" : "http_plain", r,
		    404);
		return;
	}
	switch (x->id) {
	case ROUTE_POLICY:
		route_policy(c, r, host, hlen);
		break;
	case ROUTE_ACME:
		route_acme(c, r);
		break;
	case ROUTE_REDIRECT:
		route_redirect(c, r, host, hlen);
		break;
	}
}

/* Answers every complete request in rbuf (pipelining) into out. */
static void
conn_answer(struct conn *c)
{
	struct http_request r;
	size_t used = 0;
	int status;

	while (!c->close_after && c->olen < OBUF_FLUSH_AT && c->ib == NULL &&
	    c->job == NULL) {
		enum http_parse p;

		if (c->skip > 0) {
			size_t k = c->rlen - used;

			if (k > c->skip)
				k = (size_t)c->skip;
			used += k;
			c->skip -= k;
			if (c->skip > 0)
				break;
		}
		p = http_parse_request(c->rbuf + used, c->rlen - used, &r,
		    &status);
		if (p == HTTP_PARSE_MORE)
			break;
		if (p == HTTP_PARSE_ERROR) {
			c->close_after = true;
			c->linger = true;
			conn_error(c, status, NULL, false);
			conn_log(c, "http_error", NULL, status);
			used = c->rlen;
			break;
		}
		used += r.head_len;
		if (!r.keep_alive || c->w->draining)
			c->close_after = true;
		conn_route(c, &r, &used);
	}
	if (used > 0) {
		memmove(c->rbuf, c->rbuf + used, c->rlen - used);
		c->rlen -= used;
	}
	if (c->olen > 0)
		c->st = CONN_WRITE;	/* conn_flush pends after it */
	else if (c->job != NULL)
		conn_pend(c);
	else if (c->ib != NULL)
		c->st = CONN_BODY;
}

/* Writes out; when done, waits for the writer (a report is with it),
 * closes, or goes back to reading. Returns false when c was freed, is
 * closing or waits for the writer. */
static bool
conn_flush(struct conn *c)
{
	while (c->ooff < c->olen) {
		int n;

		if (c->ssl != NULL) {
			ERR_clear_error();
			n = SSL_write(c->ssl, c->out + c->ooff,
			    (int)(c->olen - c->ooff));
			if (n <= 0) {
				int err = SSL_get_error(c->ssl, n);

				if (err == SSL_ERROR_WANT_WRITE) {
					conn_want(c, EV_WRITE);
					return true;
				}
				if (err == SSL_ERROR_WANT_READ) {
					conn_want(c, EV_READ);
					return true;
				}
				ERR_clear_error();
				conn_free(c);
				return false;
			}
		} else {
			ssize_t k = write(c->fd, c->out + c->ooff,
			    c->olen - c->ooff);

			if (k < 0) {
				if (errno == EAGAIN || errno == EINTR) {
					conn_want(c, EV_WRITE);
					return true;
				}
				conn_free(c);
				return false;
			}
			n = (int)k;
		}
		c->ooff += (size_t)n;
	}
	c->olen = c->ooff = 0;
	if (c->out != c->obuf && c->ocap > 4 * OBUF_INLINE) {
		free(c->out);		/* a rare big answer: give it back */
		c->out = c->obuf;
		c->ocap = sizeof(c->obuf);
	}
	if (c->job != NULL) {		/* before close_after: the answer
					 * is still to come */
		conn_pend(c);
		return false;
	}
	if (c->close_after) {
		conn_finish(c);
		return false;
	}
	if (c->ib != NULL) {		/* sent "100 Continue" */
		c->st = CONN_BODY;
		conn_want(c, EV_READ);
		return true;
	}
	c->st = CONN_READ;
	c->deadline = c->w->now + (c->rlen > 0 || c->skip > 0 ?
	    LIMIT_HTTP_REQUEST_SECONDS : LIMIT_HTTP_IDLE_SECONDS);
	conn_want(c, EV_READ);
	return true;
}

/* Reads what is there; answers complete requests. Level-triggered
 * readiness brings us back for bytes still in the kernel; bytes OpenSSL
 * already holds (SSL_has_pending) must be taken now. */
static void
conn_read(struct conn *c)
{
	for (;;) {
		size_t room = sizeof(c->rbuf) - c->rlen;
		char *dst = c->rbuf + c->rlen;
		int n;

		if (c->ib != NULL) {
			if (c->ib->have == c->ib->cap &&
			    !conn_body_grow(c)) {
				char dom[LIMIT_DNAME_LEN + 1];
				size_t need = c->ib->need;

				memcpy(dom, c->ib->domain, sizeof(dom));
				conn_body_free(c);
				conn_body_busy(c, NULL, dom, need);
				conn_write(c);
				return;
			}
			dst = (char *)c->ib->data + c->ib->have;
			room = c->ib->cap - c->ib->have;
		} else if (room == 0) {
			conn_answer(c);		/* answers 431 */
			conn_write(c);
			return;
		}
		if (c->ssl != NULL) {
			ERR_clear_error();
			n = SSL_read(c->ssl, dst, (int)room);
			if (n <= 0) {
				int err = SSL_get_error(c->ssl, n);

				if (err == SSL_ERROR_WANT_READ) {
					conn_want(c, EV_READ);
					return;
				}
				if (err == SSL_ERROR_WANT_WRITE) {
					conn_want(c, EV_WRITE);
					return;
				}
				ERR_clear_error();
				conn_free(c);
				return;
			}
		} else {
			ssize_t k = read(c->fd, dst, room);

			if (k <= 0) {
				if (k < 0 && (errno == EAGAIN ||
				    errno == EINTR))
					return;
				conn_free(c);
				return;
			}
			n = (int)k;
		}
		if (c->ib != NULL) {
			c->ib->have += (size_t)n;
			if (c->ib->have == c->ib->need) {
				conn_body_done(c);
				conn_write(c);	/* pends */
				return;
			}
		} else {
			c->rlen += (size_t)n;
			conn_answer(c);
		}
		if (c->olen > 0) {
			conn_write(c);
			return;
		}
		if (c->st == CONN_PENDING || c->ssl == NULL ||
		    !SSL_has_pending(c->ssl))
			return;
	}
}

/* Writes the answers, then goes on with pipelined requests. */
static void
conn_write(struct conn *c)
{
	if (!conn_flush(c))
		return;
	if (c->st == CONN_BODY) {
		if (c->ssl != NULL && SSL_has_pending(c->ssl))
			conn_read(c);
		return;
	}
	if (c->st != CONN_READ)
		return;
	if (c->rlen > 0) {
		conn_answer(c);
		if (c->olen > 0) {
			conn_write(c);
			return;
		}
		if (c->st == CONN_PENDING)
			return;
	}
	if (c->ssl != NULL && SSL_has_pending(c->ssl))
		conn_read(c);
}

static void
conn_handshake(struct conn *c)
{
	int r, err;

	ERR_clear_error();
	if ((r = SSL_do_handshake(c->ssl)) == 1) {
		if (tls_is_acme_challenge(c->ssl)) {
			struct log_line l;

			log_begin(&l, LOG_INFO, "acme_tls_alpn01");
			log_cstr(&l, "client", c->peer);
			log_cstr(&l, "sni", tls_sni(c->ssl));
			log_end(&l);
			conn_finish(c);
			return;
		}
		if (log_enabled(LOG_DEBUG)) {
			struct log_line l;

			log_begin(&l, LOG_DEBUG, "tls_handshake");
			log_cstr(&l, "client", c->peer);
			log_cstr(&l, "sni", tls_sni(c->ssl));
			log_cstr(&l, "version", SSL_get_version(c->ssl));
			log_int(&l, "resumed", SSL_session_reused(c->ssl));
			log_end(&l);
		}
		c->st = CONN_READ;
		conn_read(c);
		return;
	}
	err = SSL_get_error(c->ssl, r);
	if (err == SSL_ERROR_WANT_READ) {
		conn_want(c, EV_READ);
		return;
	}
	if (err == SSL_ERROR_WANT_WRITE) {
		conn_want(c, EV_WRITE);
		return;
	}
	if (log_enabled(LOG_DEBUG)) {
		struct log_line l;
		char buf[160];

		ERR_error_string_n(ERR_peek_error(), buf, sizeof(buf));
		log_begin(&l, LOG_DEBUG, "tls_handshake_failed");
		log_cstr(&l, "client", c->peer);
		log_cstr(&l, "error", buf);
		log_end(&l);
	}
	ERR_clear_error();
	conn_free(c);
}

static void
conn_linger(struct conn *c)
{
	char buf[4096];
	ssize_t k = read(c->fd, buf, sizeof(buf));

	if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR))
		conn_free(c);
}

static void
conn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	worker_quiesce(c->w);
	switch (c->st) {
	case CONN_HANDSHAKE:
		conn_handshake(c);
		break;
	case CONN_READ:
	case CONN_BODY:
		conn_read(c);
		break;
	case CONN_WRITE:
		conn_write(c);
		break;
	case CONN_LINGER:
		conn_linger(c);
		break;
	case CONN_PENDING:		/* no event is set */
		break;
	}
}

/* A report's job is back from the writer: answer its connection. */
static void
conn_job_done(struct conn *c, struct intake_job *j)
{
	char json[INTAKE_JSON_LEN];
	size_t jl = 0;
	int status = intake_http_answer(j, json, &jl);

	c->job = NULL;
	conn_json(c, status, json, jl, status == 503 ?
	    "Retry-After: 60\r\n" : NULL);
	intake_log(c, NULL, j->domain, status, j->inlen);
	c->deadline = c->w->now + LIMIT_HTTP_REQUEST_SECONDS;
	c->st = CONN_WRITE;
	conn_write(c);		/* then pipelined requests, if any */
}

/* --- workers --------------------------------------------------------- */

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
		struct conn *c;
		int fd, one = 1;

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
		if ((c = malloc(sizeof(*c))) == NULL)
			log_fatal("accept", "out of memory");
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->w = w;
		c->fd = fd;
		c->ssl = NULL;
		c->client = client;
		c->close_after = c->linger = false;
		c->ib = NULL;
		c->job = NULL;
		c->skip = 0;
		c->rlen = c->olen = c->ooff = 0;
		c->out = c->obuf;
		c->ocap = sizeof(c->obuf);
		c->deadline = w->now + LIMIT_HTTP_REQUEST_SECONDS;
		c->peer[0] = '\0';
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;

			if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr))
				inet_ntop(AF_INET, &a6->sin6_addr.s6_addr[12],
				    c->peer, sizeof(c->peer));
			else
				inet_ntop(AF_INET6, &a6->sin6_addr, c->peer,
				    sizeof(c->peer));
		} else if (ss.ss_family == AF_INET) {
			inet_ntop(AF_INET,
			    &((struct sockaddr_in *)&ss)->sin_addr, c->peer,
			    sizeof(c->peer));
		}
		c->prev = NULL;
		c->next = w->conns;
		if (w->conns != NULL)
			w->conns->prev = c;
		w->conns = c;
		w->nconns++;
		if (tls) {
			if ((c->ssl = SSL_new(tls_default_ctx(d->tls)))
			    == NULL || !SSL_set_fd(c->ssl, fd)) {
				ERR_clear_error();
				c->ev_what = 0;
				event_assign(&c->ev, w->base, fd, EV_READ, conn_cb,
				    c);
				conn_free(c);
				continue;
			}
			SSL_set_accept_state(c->ssl);
			c->st = CONN_HANDSHAKE;
		} else {
			c->st = CONN_READ;
		}
		c->ev_what = EV_READ;
		event_assign(&c->ev, w->base, fd, EV_READ | EV_PERSIST, conn_cb,
		    c);
		event_add(&c->ev, NULL);
		/* With TCP_DEFER_ACCEPT the first bytes are there already. */
		conn_cb(fd, EV_READ, c);
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

/* True when an intake body comes slower than LIMIT_INTAKE_MIN_RATE on
 * average, past LIMIT_INTAKE_RATE_GRACE seconds: it holds a slot and
 * its bytes for nothing. */
static bool
conn_body_slow(const struct conn *c)
{
	time_t t;

	if (c->ib == NULL)
		return false;
	t = c->w->now - c->ib->since;
	return t > LIMIT_INTAKE_RATE_GRACE &&
	    c->ib->have < (size_t)t * LIMIT_INTAKE_MIN_RATE;
}

/* Once a second: the clock, the Date line, timeouts, the log buffer. */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct conn *c, *next;

	(void)fd;
	(void)what;
	worker_quiesce(w);
	w->now = mono_now();
	worker_date(w);
	for (c = w->conns; c != NULL; c = next) {
		next = c->next;
		if (w->draining && c->st == CONN_READ && c->rlen == 0 &&
		    c->olen == 0) {
			conn_free(c);		/* idle keep-alive */
			continue;
		}
		if (c->deadline <= w->now || (c->st == CONN_BODY &&
		    conn_body_slow(c))) {
			if ((c->st == CONN_READ && c->rlen > 0) ||
			    c->st == CONN_BODY) {
				struct log_line l;

				log_begin(&l, LOG_INFO, "http_timeout");
				log_cstr(&l, "client", c->peer);
				log_int(&l, "bytes", c->ib != NULL ?
				    (int64_t)c->ib->have : (int64_t)c->rlen);
				log_cstr(&l, "why", c->deadline <= w->now ?
				    "deadline" : "upload too slow");
				log_end(&l);
			}
			conn_free(c);
		}
	}
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

/* The writer handed jobs back (intake.done_fd rang): answer the HTTPS
 * connections and SMTP sessions still waiting for them. */
static void
done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct intake_job *j, *next;

	(void)fd;
	(void)what;
	worker_quiesce(w);
	w->now = mono_now();
	for (j = intake_done_take(&w->intake); j != NULL; j = next) {
		next = j->next;
		if (j->via == INTAKE_VIA_SMTP) {
			intake_smtp_done(j);	/* may run the session's
						 * pipelined commands */
		} else if (j->waiter != NULL) {
			conn_job_done(j->waiter, j);
		}
		intake_job_free(j);
	}
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	log_buffer_thread(true);
	event_base_dispatch(w->base);
	while (w->conns != NULL)
		conn_free(w->conns);
	if (w->smtp != NULL) {
		/* In the worker's own thread, as smtp.h asks. */
		smtp_server_stop(w->smtp);
		w->smtp = NULL;
	}
	atomic_store(&w->seen, UINT64_MAX);
	log_buffer_thread(false);
	return NULL;
}

static int
worker_setup(struct worker *w, struct err *e)
{
	struct event_config *cfg = event_config_new();
	struct timeval sec = { 1, 0 };

	if (cfg == NULL)
		return err_set(e, "out of memory");
	if (intake_init(&w->intake, w->d, w->id, e) == -1) {
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
	w->now = mono_now();
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
		 * and post it to the parsers; the answers come back through
		 * done_cb. */
		intake_smtp_hooks(&w->intake, &w->smtp_hooks);
		if ((w->smtp = smtp_server_start(w->base, w->smtp_fd,
		    tls_default_ctx(w->d->tls), &w->smtp_hooks, &sc, e))
		    == NULL)
			return -1;
	}
	return 0;
}

static void
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
	if (w->stop_fd != -1)
		close(w->stop_fd);
	if (w->base != NULL)
		event_base_free(w->base);
}

/* --- listeners ------------------------------------------------------- */

/* Opens a listening socket for "ADDR:PORT", ":PORT" (every address,
 * IPv6 and IPv4) or "[V6]:PORT", with SO_REUSEPORT so that every worker
 * has its own. Returns the fd or -1 with the reason. */
static int
listen_open(const char *spec, bool defer, struct err *e)
{
	struct addrinfo hints, *res = NULL, *ai;
	char host[256], port[16];
	const char *colon = strrchr(spec, ':');
	size_t hl;
	int fd = -1, one = 1, zero = 0, r;

	if (colon == NULL || colon[1] == '\0' || strlen(colon + 1) >=
	    sizeof(port))
		return err_set(e, "'%s': expected ADDR:PORT or :PORT", spec);
	memcpy(port, colon + 1, strlen(colon + 1) + 1);
	hl = (size_t)(colon - spec);
	if (hl >= 2 && spec[0] == '[' && spec[hl - 1] == ']') {
		spec++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return err_set(e, "'%s': address too long", spec);
	memcpy(host, spec, hl);
	host[hl] = '\0';

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = hl == 0 ? AF_INET6 : AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((r = getaddrinfo(hl == 0 ? NULL : host, port, &hints, &res))
	    != 0 && hl == 0) {
		hints.ai_family = AF_INET;	/* no IPv6 here */
		r = getaddrinfo(NULL, port, &hints, &res);
	}
	if (r != 0)
		return err_set(e, "'%s': %s", spec, gai_strerror(r));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (fd == -1)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
		if (ai->ai_family == AF_INET6 && hl == 0)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
			    sizeof(zero));
		if (defer) {
			int secs = 1;

			setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs,
			    sizeof(secs));
		}
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, 4096) == 0)
			break;
		err_set(e, "'%s': %s", spec, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* The host part of a specific listen address ("127.0.0.10:443"), for the
 * ACME pre-check; nothing for ":443". */
static void
listen_addr(const char *spec, struct strv *out)
{
	const char *colon = strrchr(spec, ':');
	size_t hl = colon ? (size_t)(colon - spec) : 0;

	if (hl >= 2 && spec[0] == '[' && spec[hl - 1] == ']')
		strv_pushn(out, spec + 1, hl - 2);
	else if (hl > 0)
		strv_pushn(out, spec, hl);
}

/* --- privileges ------------------------------------------------------ */

/* Makes data_dir (0700) when it is missing, checks that everything
 * directly in it belongs to pw, the account the daemon will run as, and
 * only then, when root owns the directory itself, gives it to pw. Runs
 * as root, before the drop: it never follows a link, never walks a tree
 * and never changes the owner of anything by path, since the service
 * user can write there (and could swap a subdirectory for a link to
 * /etc mid-walk); everything inside is only read, by descriptor. What
 * an earlier run as root left there is the operator's to hand over (the
 * error says how); a refused start changes nothing. Returns 0 or -1
 * with the reason. */
static int
data_dir_prepare(const char *dir, const struct passwd *pw, struct err *e)
{
	struct dirent *de;
	struct stat st, dst;
	DIR *dp = NULL;
	int fd, dfd = -1, rc = -1;

	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return err_set(e, "data dir %s: %s", dir, strerror(errno));
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return err_set(e, "data dir %s: %s", dir, strerror(errno));
	if (pw == NULL) {
		close(fd);
		return 0;
	}
	if (fstat(fd, &dst) == -1) {
		err_set(e, "data dir %s: %s", dir, strerror(errno));
		goto out;
	}
	if (dst.st_uid != 0 && dst.st_uid != pw->pw_uid) {
		err_set(e, "data dir %s belongs to uid %u, not to %s", dir,
		    (unsigned)dst.st_uid, pw->pw_name);
		goto out;
	}
	/* A second descriptor for the listing: fdopendir takes its fd. */
	if ((dfd = dup(fd)) == -1 || (dp = fdopendir(dfd)) == NULL) {
		err_set(e, "data dir %s: %s", dir, strerror(errno));
		goto out;
	}
	dfd = -1;			/* dp's now */
	while ((de = readdir(dp)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1)
			continue;
		if (st.st_uid != pw->pw_uid) {
			err_set(e, "data dir %s: %s belongs to uid %u, not to "
			    "%s; hand the data dir over once with "
			    "`chown -R %s: %s` (serve changes no owner "
			    "inside it)", dir, de->d_name,
			    (unsigned)st.st_uid, pw->pw_name, pw->pw_name,
			    dir);
			goto out;
		}
	}
	if (dst.st_uid == 0 && fchown(fd, pw->pw_uid, pw->pw_gid) == -1) {
		err_set(e, "data dir %s: chown to %s: %s", dir, pw->pw_name,
		    strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (dp != NULL)
		closedir(dp);
	if (dfd != -1)
		close(dfd);
	close(fd);
	return rc;
}

/* The account to run as, checked: not root (a daemon facing the
 * internet with root's rights is what the drop is for). Returns 0 with
 * a copy in *pw, or -1 with the reason. */
static int
user_lookup(const char *user, struct passwd *out, struct err *e)
{
	struct passwd *pw;

	if ((pw = getpwnam(user)) == NULL)
		return err_set(e, "user %s: no such user", user);
	if (pw->pw_uid == 0 || pw->pw_gid == 0)
		return err_set(e, "user %s: refusing to run with uid or gid "
		    "0; name an unprivileged account", user);
	if (geteuid() != 0)
		return err_set(e, "user %s: not running as root", user);
	/* Its supplementary groups come along (initgroups): none may be
	 * root's. */
	{
		gid_t groups[256];
		int n = (int)(sizeof(groups) / sizeof(groups[0]));

		if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) == -1)
			return err_set(e, "user %s: in more than %zu groups",
			    user, sizeof(groups) / sizeof(groups[0]));
		for (int i = 0; i < n; i++)
			if (groups[i] == 0)
				return err_set(e, "user %s: a member of group "
				    "0 (root); name an unprivileged account",
				    user);
	}
	*out = *pw;
	return 0;
}

/* Becomes pw for good: groups, gid, uid, then no way back (setuid(0)
 * fails) and no new privileges for anything we might exec. Returns 0
 * or -1 with the reason. */
static int
drop_root(const struct passwd *pw, struct err *e)
{
	if (initgroups(pw->pw_name, pw->pw_gid) == -1 ||
	    setgid(pw->pw_gid) == -1 || setuid(pw->pw_uid) == -1)
		return err_set(e, "user %s: %s", pw->pw_name,
		    strerror(errno));
	if (setuid(0) != -1)
		return err_set(e, "user %s: could regain root", pw->pw_name);
	log_info("user", "running as %s", pw->pw_name);
	return 0;
}

/* --- descriptors ----------------------------------------------------- */

/* Descriptors open now. */
static long
fds_open(void)
{
	struct dirent *de;
	DIR *dp;
	long n = 0;

	if ((dp = opendir("/proc/self/fd")) == NULL)
		return 64;		/* a guess on the safe side */
	while ((de = readdir(dp)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(dp);
	return n - 1;			/* dp's own */
}

/* Sizes the connection limits to RLIMIT_NOFILE, raising the soft limit
 * to what the full limits need (up to the hard limit): every connection
 * is a descriptor, and LIMIT_FD_RESERVE stay free for the store,
 * certificate files and the ACME client, so that running out of
 * descriptors (accept's EMFILE) is rare and never stops those. When the
 * hard limit is lower, the limits are lowered to fit (and logged once);
 * below LIMIT_CONNS_MIN per worker the daemon refuses to start. Call
 * with the listeners open, before the workers are set up. Returns 0 or
 * -1 with the reason. */
static int
fd_budget(struct daemon *d, bool smtp, struct err *e)
{
	const long per_worker_fds = 8;	/* epoll, eventfds, timers */
	long want = LIMIT_CONNS_PER_WORKER + (smtp ? LIMIT_SMTP_CONNECTIONS :
	    0), open_now = fds_open() + d->nworkers * per_worker_fds, avail,
	    per;
	struct rlimit rl;
	rlim_t need = (rlim_t)(open_now + LIMIT_FD_RESERVE +
	    d->nworkers * want);

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return err_set(e, "getrlimit: %s", strerror(errno));
	if (rl.rlim_cur < need) {
		struct rlimit up = rl;

		up.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			rl = up;
	}
	avail = (long)rl.rlim_cur - open_now - LIMIT_FD_RESERVE;
	per = avail > 0 ? avail / d->nworkers : 0;
	if (per < LIMIT_CONNS_MIN)
		return err_set(e, "RLIMIT_NOFILE is %llu (hard %llu): with %ld "
		    "descriptors in use and %d kept in reserve, %ld "
		    "connection(s) per worker are left, under the %d needed; "
		    "raise it (ulimit -n, systemd LimitNOFILE=) to %llu, or "
		    "run fewer workers", (unsigned long long)rl.rlim_cur,
		    (unsigned long long)rl.rlim_max, open_now,
		    LIMIT_FD_RESERVE, per, LIMIT_CONNS_MIN,
		    (unsigned long long)need);
	d->max_conns = LIMIT_CONNS_PER_WORKER;
	d->smtp_max_conns = LIMIT_SMTP_CONNECTIONS;
	if (per < want) {
		/* SMTP keeps its share of what there is, and at least an
		 * eighth. */
		d->smtp_max_conns = smtp ? (unsigned)(per *
		    LIMIT_SMTP_CONNECTIONS / want) : 0;
		if (smtp && d->smtp_max_conns < (unsigned)per / 8)
			d->smtp_max_conns = (unsigned)per / 8;
		d->max_conns = (unsigned)per - d->smtp_max_conns;
		if (smtp)
			log_warn("start", "RLIMIT_NOFILE %llu (hard %llu) "
			    "allows %u HTTPS/HTTP and %u SMTP connections per "
			    "worker, not %d and %d; raise it to %llu for the "
			    "full limits", (unsigned long long)rl.rlim_cur,
			    (unsigned long long)rl.rlim_max, d->max_conns,
			    d->smtp_max_conns, LIMIT_CONNS_PER_WORKER,
			    LIMIT_SMTP_CONNECTIONS, (unsigned long long)need);
		else
			log_warn("start", "RLIMIT_NOFILE %llu (hard %llu) "
			    "allows %u HTTPS/HTTP connections per worker, not "
			    "%d; raise it to %llu for the full limits",
			    (unsigned long long)rl.rlim_cur,
			    (unsigned long long)rl.rlim_max, d->max_conns,
			    LIMIT_CONNS_PER_WORKER, (unsigned long long)need);
	}
	/* One client gets at most a quarter of all slots. */
	d->max_conns_client = LIMIT_HTTP_CONN_PER_CLIENT;
	if (d->max_conns_client > d->max_conns * (unsigned)d->nworkers / 4)
		d->max_conns_client = d->max_conns * (unsigned)d->nworkers / 4;
	if (d->max_conns_client < 2)
		d->max_conns_client = 2;
	return 0;
}

/* --- ACME ------------------------------------------------------------ */

static int
acme_names(void *arg, struct strv *out)
{
	struct daemon *d = arg;
	const struct ptable *t;
	int rc = 0;

	pthread_mutex_lock(&d->names_mu);
	t = atomic_load(&d->table);
	for (size_t j = 0; t != NULL && j <= t->mask && rc == 0; j++)
		if (t->slots[j] != NULL)
			rc = strv_push(out, t->slots[j]->host);
	pthread_mutex_unlock(&d->names_mu);
	if (rc == 0)
		rc = strv_push(out, d->service_host);
	return rc;
}

static void
acme_issued(void *arg, const char *name)
{
	struct daemon *d = arg;

	tls_forget(d->tls, name);
	log_info("acme_issued", "serving the new certificate of %s", name);
}

static bool
daemon_hosted(void *arg, const char *name, size_t len)
{
	struct daemon *d = arg;
	const struct ptable *t = atomic_load_explicit(&d->table,
	    memory_order_acquire);

	return ptable_find(t, name, len) != NULL;
}

/* --- the daemon ------------------------------------------------------ */

int
daemon_serve(const struct conf *cf)
{
	struct daemon d;
	struct tls_config tc;
	struct store *s = NULL;
	struct err e;
	enum log_level lv;
	const char *https = conf_get(cf, CONF_HTTPS_LISTEN);
	const char *http = conf_get(cf, CONF_HTTP_LISTEN);
	const char *user = conf_get(cf, CONF_USER);
	const char *smtp = conf_get(cf, CONF_SMTP_LISTEN);
	struct passwd pw, *as_user = NULL;
	sigset_t sigs;
	long nw, qb, qc;
	int sig, rc = 1, started = 0;

	memset(&d, 0, sizeof(d));
	pthread_mutex_init(&d.reload_mu, NULL);
	pthread_cond_init(&d.reload_cond, NULL);
	pthread_mutex_init(&d.names_mu, NULL);
	d.conf = cf;
	d.data_dir = conf_get(cf, CONF_DATA_DIR);
	d.service_host = conf_get(cf, CONF_SERVICE_HOST);

	if (conf_get(cf, CONF_LOG_LEVEL) != NULL) {
		if (log_level_parse(conf_get(cf, CONF_LOG_LEVEL), &lv) == -1) {
			log_warn("start", "log_level '%s': expected debug, "
			    "info or warn", conf_get(cf, CONF_LOG_LEVEL));
			goto out;
		}
		log_set_level(lv);
	}
	if (conf_get_int(cf, CONF_WORKERS, 1, 256, &nw, &e) == -1) {
		log_warn("start", "%s", e.msg);
		goto out;
	}
	memset(&tc, 0, sizeof(tc));
	if (d.service_host == NULL || d.data_dir == NULL ||
	    tls_source_parse(conf_get(cf, CONF_CERTIFICATES), &tc.source)
	    == -1) {
		log_warn("start", "certificates: expected local, files or "
		    "acme; service_host and data_dir must be set");
		goto out;
	}
	d.acme = tc.source == TLS_SOURCE_ACME;
	d.http01 = d.acme && conf_get(cf, CONF_ACME_CHALLENGE) != NULL &&
	    strcmp(conf_get(cf, CONF_ACME_CHALLENGE), "http-01") == 0;
	if (conf_get_int(cf, CONF_QUARANTINE_MAX_BYTES, 0, LONG_MAX, &qb, &e)
	    == -1 || conf_get_int(cf, CONF_QUARANTINE_MAX_PER_CLIENT, 0,
	    LONG_MAX, &qc, &e) == -1) {
		log_warn("start", "%s", e.msg);
		goto out;
	}
	d.writer.caps.max_bytes = qb;
	d.writer.caps.max_per_client = qc;
	/* Nothing we run may gain privileges (setuid programs, file
	 * capabilities), root or not. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		log_warn("start", "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		goto out;
	}
	if (user != NULL && *user != '\0') {
		if (user_lookup(user, &pw, &e) == -1) {
			log_warn("start", "%s", e.msg);
			goto out;
		}
		as_user = &pw;
	}
	if (data_dir_prepare(d.data_dir, as_user, &e) == -1) {
		log_warn("start", "%s", e.msg);
		goto out;
	}
	if ((d.peers = peers_new(LIMIT_INTAKE_INFLIGHT_BYTES,
	    LIMIT_INTAKE_CLIENT_BYTES)) == NULL) {
		log_warn("start", "out of memory");
		goto out;
	}

	/* Signals: every thread inherits this mask; main waits for them. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	/* The listeners, while root may bind low ports; the kernel queues
	 * connections until the workers run. */
	d.nworkers = (int)nw;
	if ((d.workers = calloc((size_t)nw, sizeof(*d.workers))) == NULL) {
		log_warn("start", "out of memory");
		goto out;
	}
	for (int i = 0; i < d.nworkers; i++)	/* worker_free may see any */
		d.workers[i].https_fd = d.workers[i].http_fd =
		    d.workers[i].stop_fd = d.workers[i].smtp_fd = -1;
	for (int i = 0; i < d.nworkers; i++) {
		struct worker *w = &d.workers[i];

		w->d = &d;
		w->id = i;
		w->https_fd = w->http_fd = w->stop_fd = w->smtp_fd = -1;
		if ((w->https_fd = listen_open(https, true, &e)) == -1 ||
		    (http != NULL && *http != '\0' && strcmp(http, "off") != 0 &&
		    (w->http_fd = listen_open(http, false, &e)) == -1) ||
		    (smtp != NULL && *smtp != '\0' && strcmp(smtp, "off") != 0 &&
		    (w->smtp_fd = listen_open(smtp, false, &e)) == -1)) {
			log_warn("start", "listen %s", e.msg);
			goto out;
		}
	}
	listen_addr(https, &d.listen_addrs);
	if (strcmp(strrchr(https, ':'), ":443") != 0)	/* checked by listen_open */
		snprintf(d.https_port, sizeof(d.https_port), "%s",
		    strrchr(https, ':'));
	/* Then root is given up before any file of the data dir is opened
	 * or made: everything there is made by the service user. */
	if (as_user != NULL && drop_root(as_user, &e) == -1) {
		log_warn("start", "%s", e.msg);
		goto out;
	}
	if (fd_budget(&d, d.workers[0].smtp_fd != -1, &e) == -1) {
		log_warn("start", "%s", e.msg);
		goto out;
	}

	/* The first table. */
	if (store_open_dir(d.data_dir, &s, &e) == -1 ||
	    daemon_reload_now(&d, s, &e) == -1) {
		log_warn("start", "%s", e.msg);
		goto out;
	}
	store_close(s);
	s = NULL;

	tc.data_dir = d.data_dir;
	tc.service_host = d.service_host;
	tc.acme_alpn = d.acme;
	tc.hosted = daemon_hosted;
	tc.hosted_arg = &d;
	if (tls_new(&tc, &d.tls, &e) == -1) {
		log_warn("start", "%s", e.msg);
		goto out;
	}
	if (tls_preload(d.tls, d.service_host, &e) == -1) {
		if (tc.source == TLS_SOURCE_LOCAL) {
			log_warn("start", "%s", e.msg);
			goto out;
		}
		log_info("start", "no certificate for %s yet (%s)",
		    d.service_host, e.msg);
	}

	/* GMime's tables, once, before any worker parses a message. */
	mime_init();
	for (int i = 0; i < d.nworkers; i++) {
		if (worker_setup(&d.workers[i], &e) == -1) {
			log_warn("start", "%s", e.msg);
			goto out;
		}
	}
	/* The writer and parsers before any worker can post to them. */
	if (intake_start(&d, &e) == -1) {
		log_warn("start", "%s", e.msg);
		goto out;
	}
	for (int i = 0; i < d.nworkers; i++) {
		if (pthread_create(&d.workers[i].thr, NULL, worker_main,
		    &d.workers[i]) != 0) {
			log_warn("start", "cannot start worker %d", i);
			goto out;
		}
		d.workers[i].started = true;
		started++;
	}
	if (daemon_reload_start(&d, &e) == -1) {
		log_warn("start", "%s", e.msg);
		goto out;
	}
	if (d.acme) {
		struct acme_config ac = {
			.directory_url = conf_get(cf, CONF_ACME_DIRECTORY),
			.email = conf_get(cf, CONF_ACME_EMAIL),
			.ca_bundle = conf_get(cf, CONF_ACME_CA_BUNDLE),
			.data_dir = d.data_dir,
			.challenge = d.http01 ? ACME_HTTP_01 : ACME_TLS_ALPN_01,
			.service_host = d.service_host,
			.service_addrs = d.listen_addrs.n ? &d.listen_addrs :
			    NULL,
		};

		if (acme_manager_start(&ac, acme_names, acme_issued, &d, 3600,
		    &d.acme_mgr, &e) == -1) {
			log_warn("start", "acme: %s", e.msg);
			goto out;
		}
	}
	{
		struct log_line l;

		log_begin(&l, LOG_INFO, "serving");
		log_cstr(&l, "https", https);
		log_cstr(&l, "http", http);
		log_cstr(&l, "smtp", smtp);
		log_int(&l, "workers", d.nworkers);
		log_cstr(&l, "certificates", conf_get(cf,
		    CONF_CERTIFICATES));
		log_cstr(&l, "service_host", d.service_host);
		log_end(&l);
	}

	for (;;) {
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {	/* domains reload by themselves */
			tls_forget_all(d.tls);
			log_info("signal", "SIGHUP: certificates are read "
			    "again on each name's next handshake");
			continue;
		}
		log_info("signal", "%s: shutting down",
		    sig == SIGTERM ? "SIGTERM" : "SIGINT");
		break;
	}
	rc = 0;
out:
	atomic_store(&d.stopping, true);
	if (d.acme_mgr != NULL)
		acme_manager_stop(d.acme_mgr);
	for (int i = 0; i < d.nworkers; i++) {
		uint64_t one = 1;

		if (d.workers[i].started && write(d.workers[i].stop_fd, &one,
		    sizeof(one)) != sizeof(one))
			log_warn("stop", "worker %d: %s", i, strerror(errno));
	}
	for (int i = 0; i < d.nworkers; i++)
		if (d.workers[i].started)
			pthread_join(d.workers[i].thr, NULL);
	/* No worker posts any more: the writer commits what is queued (an
	 * in-flight report is stored, even if its answer is lost). */
	intake_stop(&d);
	daemon_reload_stop(&d);
	for (int i = 0; d.workers != NULL && i < d.nworkers; i++)
		worker_free(&d.workers[i]);
	free(d.workers);
	store_close(s);
	ptable_free(atomic_load(&d.table));
	tls_free(d.tls);
	strv_free(&d.listen_addrs);
	peers_free(d.peers);	/* every job and connection is gone */
	if (rc == 0)
		log_info("stopped", "clean shutdown");
	log_flush();
	return rc;
}
