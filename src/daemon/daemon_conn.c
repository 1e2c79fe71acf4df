/*
 * daemon_conn.c - a worker's HTTPS and HTTP connections: reading
 * requests, the route table and its handlers, writing answers.
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
 *	HTTPS     service_host  /api/v1/...                 (any)     api
 *	HTTPS     service_host  /... (the dashboard)        (any)     api
 *	HTTP      any           /.well-known/acme-challenge/  GET HEAD  acme
 *	HTTP      any           /...                        GET HEAD  redirect
 *	a path that matched with another method: 405 + Allow; else 404.
 *
 * policy: a hosted Host (port and trailing dot ignored) -> 200 with its
 * policy, 421 when the SNI named another host, 404 otherwise. intake: see
 * daemon_intake.c (its own JSON answers, 405 included). acme: a pending
 * HTTP-01 token -> 200, else 404. redirect: a hosted Host or
 * service_host -> 301 to https, else 404.
 * A request body is read only for report intake and for the web front
 * (the REST API and the dashboard's forms), each to its own limit (into a buffer that
 * grows as the bytes come, after an optional "100 Continue"): a
 * Content-Length body straight into that buffer; a chunked one into
 * rbuf, as heads are, and decoded from there into the buffer
 * (http_chunked_feed), so that the buffer holds data only and bytes
 * after the body's end stay in rbuf as the next request. A small body
 * sent to another route is skipped so that keep-alive goes on, a big or
 * chunked one closes the connection after the answer.
 * Never serves a policy over plain HTTP; never reads the store.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "../acme/acme.h"
#include "../http/http.h"
#include "../lib/log.h"
#include "../tls/tls.h"
#include "daemon_int.h"

#define CHALLENGE_PATH	"/.well-known/acme-challenge/"
#define OBUF_INLINE	2048
#define OBUF_FLUSH_AT	(16 * 1024)	/* pipelined answers: flush first */

enum conn_state {
	CONN_HANDSHAKE,
	CONN_READ,
	CONN_WRITE,
	CONN_LINGER,		/* answered and closing: drain, then close */
	CONN_BODY,		/* reading a request body into c->ib */
	CONN_PENDING,		/* its report is with the writer (c->job):
				 * no events, nothing read, until the job
				 * comes back (done_cb) */
};

/* Whose body is read: a report's (intake counted an upload of the
 * client, intake_admit) or a web request's (its job waits for it). */
enum conn_body_kind {
	CONN_BODY_INTAKE,
	CONN_BODY_WEB,
};

/* A request body being read: Content-Length bytes, or a chunked body
 * decoded as it comes; then the report, or the web request. The buffer
 * grows as data arrives, each step reserved for the client in d->peers
 * (so a slow upload holds only what it has sent). */
struct conn_body {
	enum conn_body_kind kind;
	size_t		 need;		/* bytes: the Content-Length; chunked:
					 * the most it may hold (the kind's
					 * limit) */
	size_t		 have;		/* data bytes in data (chunked:
					 * decoded) */
	size_t		 cap;		/* of data, all of it reserved */
	time_t		 since;		/* when the head came */
	bool		 chunked;	/* Transfer-Encoding: chunked */
	uint64_t	 raw;		/* chunked: bytes taken from rbuf,
					 * framing and data */
	struct http_chunked dec;	/* chunked: the decoder */
	char		 domain[LIMIT_DNAME_LEN + 1];	/* intake: the
					 * token's */
	struct api_job	*api;		/* web: the request, posted when the
					 * body is whole */
	uint8_t		*data;
};

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
	struct api_job	*api;		/* CONN_PENDING only: an API request
					 * with the pool */
	uint64_t	 skip;		/* body bytes still to drop */
	size_t		 rlen;
	char		 rbuf[LIMIT_HTTP_HEADER_BYTES];
	char		*out;		/* obuf, or a larger heap buffer */
	size_t		 olen, ooff, ocap;
	char		 obuf[OBUF_INLINE];
};


static void conn_cb(evutil_socket_t fd, short what, void *arg);
static void conn_read(struct conn *c);
static void conn_write(struct conn *c);

/* Frees the body being read and gives its bytes back; intake: ends its
 * upload (intake_admit counted it); web: drops its request. */
static void
conn_body_free(struct conn *c)
{
	if (c->ib == NULL)
		return;
	if (c->ib->kind == CONN_BODY_INTAKE)
		peers_upload_end(c->w->d->peers, c->client);
	else
		api_job_free(c->ib->api);
	peers_give(c->w->d->peers, c->client, c->ib->cap);
	free(c->ib->data);
	free(c->ib);
	c->ib = NULL;
}

/* Makes room for the next bytes of the body: doubles the buffer, up to
 * need, reserving each step for the client. Returns false when the
 * client's share or the total would pass (503, try later). */
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
		log_fatal("conn", "out of memory");
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
	if (c->api != NULL)
		c->api->waiter = NULL;
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
conn_put(struct conn *c, const void *s, size_t n)
{
	memcpy(conn_reserve(c, n), s, n);
	c->olen += n;
}

/* conn_put of a string literal, its length computed. */
#define conn_puts(c, lit)	conn_put((c), (lit), sizeof(lit) - 1)

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

/* Writes a whole response: a head of computed lengths
 * (http_response_head) with extra header lines (or NULL), then the body
 * unless head_only. */
static void
conn_respond(struct conn *c, int status, const char *type,
    const void *body, size_t len, const char *extra, bool head_only)
{
	/* The status line, Date, Server, Content-Type, -Length and
	 * Connection take under 384 bytes; extra is at most a
	 * web_response's (the dashboard's cookies and CSP). */
	char head[sizeof(((struct web_response *)NULL)->extra) + 384];
	size_t n;

	worker_date(c->w);
	if ((n = http_response_head(head, sizeof(head), status, c->w->date,
	    type, len, extra, c->close_after)) == 0)
		log_panic("conn", "response head does not fit");
	conn_put(c, head, n);
	if (!head_only)
		conn_put(c, body, len);
}

/* Writes a response with a JSON body (intake answers). */
static void
conn_json(struct conn *c, int status, const char *json, size_t len,
    const char *extra)
{
	conn_respond(c, status, "application/json", json, len, extra, false);
}

static void
intake_log(struct conn *c, const struct http_request *r, const char *domain,
    int status, uint64_t bytes)
{
	struct met_slot *m = c->w->intake.met;
	struct log_line l;

	/* Every HTTPS intake answer passes here once; r is NULL for the
	 * answer of a job back from the writer (conn_job_done). */
	met_inc(m, status == 201 ? MET_HTTPS_STORED : status == 200 ?
	    MET_HTTPS_DUPLICATE : status == 429 ? MET_HTTPS_LIMITED :
	    status == 503 ? MET_HTTPS_UNAVAILABLE : status == 400 &&
	    r == NULL ? MET_HTTPS_INVALID : MET_HTTPS_REFUSED);
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

/* The whole body is in c->ib (have bytes). Intake: take the report; a
 * valid one goes to the writer with the body (c->job set: the caller's
 * flush makes the connection wait, see conn_flush); anything else is
 * answered now. Web: its request goes to the pool with the body (c->api
 * set; the connection waits the same way). */
static void
conn_body_done(struct conn *c)
{
	struct conn_body *ib = c->ib;

	/* The job takes the buffer, its reservation and the upload. */
	if (ib->kind == CONN_BODY_INTAKE) {
		c->job = intake_http_post(&c->w->intake, c, c->peer,
		    peer_text(c->client), ib->domain, c->client, ib->data,
		    ib->cap, ib->have);
	} else {
		api_body(ib->api, ib->data, ib->cap, ib->have, c->client);
		c->api = ib->api;
		api_start(c->api);
	}
	free(ib);
	c->ib = NULL;
}

/* Logs a web request answered on the worker (refused from its head or
 * while its body was read). */
static void
web_log(struct conn *c, const struct http_request *r, int status,
    uint64_t bytes)
{
	struct log_line l;

	log_begin(&l, LOG_INFO, "api_request");
	if (!l.on)
		return;
	log_cstr(&l, "client", c->peer);
	if (r != NULL) {
		log_str(&l, "method", r->method_str, r->method_len);
		log_str(&l, "path", r->target, r->target_len);
	}
	log_int(&l, "bytes", (int64_t)bytes);
	log_int(&l, "status", status);
	log_end(&l);
}

/* Refuses a body the budget has no room for: 503, close. domain: the
 * intake's, or NULL for a web request. */
static void
conn_body_busy(struct conn *c, const struct http_request *r,
    const char *domain, uint64_t bytes)
{
	static const char busy[] = "{\"error\": \"busy: too many bytes "
	    "held for this address or in all; try later\"}\n";

	c->close_after = true;
	c->linger = true;
	conn_json(c, 503, busy, sizeof(busy) - 1, "Retry-After: 60\r\n");
	if (domain != NULL)
		intake_log(c, r, domain, 503, bytes);
	else
		web_log(c, r, 503, bytes);
}

/* {"error": "request body larger than the limit of N bytes"}: 413 of a
 * web request, from its head or at the chunk that passes the limit. */
static size_t
web_too_big(char json[INTAKE_JSON_LEN], size_t limit)
{
	int n = snprintf(json, INTAKE_JSON_LEN, "{\"error\": \"request body "
	    "larger than the limit of %zu bytes\"}\n", limit);

	return n > 0 && n < INTAKE_JSON_LEN ? (size_t)n : 0;
}

/* Refuses an intake body while it is read, for why (intake_body_refuse:
 * a decoder's status, INTAKE_EMPTY, INTAKE_FRAMING): frees it and
 * answers. An empty body leaves the framing whole, and the connection
 * goes on; after any other fault the rest of the input cannot be framed:
 * drop it (*used = rlen) and close. */
static void
conn_body_refuse(struct conn *c, const struct http_request *r, int why,
    size_t *used)
{
	char json[INTAKE_JSON_LEN], dom[LIMIT_DNAME_LEN + 1];
	size_t jl = 0, have = c->ib->have;
	bool web = c->ib->kind == CONN_BODY_WEB;
	int st = intake_body_refuse(why, json, &jl);

	if (web && st == 413)
		jl = web_too_big(json, c->ib->need);	/* chunked: the most */
	memcpy(dom, c->ib->domain, sizeof(dom));
	conn_body_free(c);
	if (why != INTAKE_EMPTY) {
		c->close_after = true;
		c->linger = true;
		*used = c->rlen;
	}
	conn_json(c, st, json, jl, NULL);
	if (web)
		web_log(c, r, st, have);
	else
		intake_log(c, r, dom, st, have);
}

/* Decodes the chunked body bytes in rbuf[*used..rlen) into c->ib,
 * growing its buffer as data comes out, and moves *used past what was
 * taken. Returns true while the body goes on: everything was taken,
 * read more. Returns false when it has ended, c->ib gone: a report
 * posted to the writer (c->job), or an answer written (an empty body:
 * 400, and keep-alive goes on; a decoder's error, too much framing, no
 * room to grow: 400/413/431/503, and close). Bytes after the body's
 * last line end stay in rbuf: the next request. */
static bool
conn_body_decode(struct conn *c, const struct http_request *r, size_t *used)
{
	struct conn_body *ib = c->ib;

	for (;;) {
		enum http_chunked_result res;
		size_t u, p;
		int status;

		res = http_chunked_feed(&ib->dec, c->rbuf + *used,
		    c->rlen - *used, ib->data + ib->have, ib->cap - ib->have,
		    &u, &p, &status);
		*used += u;
		ib->have += p;
		ib->raw += u;
		if (res == HTTP_CHUNKED_ERROR) {
			conn_body_refuse(c, r, status, used);
			return false;
		}
		if (ib->raw - ib->have > LIMIT_INTAKE_CHUNK_FRAMING_FLOOR +
		    (uint64_t)LIMIT_INTAKE_CHUNK_FRAMING * ib->have) {
			conn_body_refuse(c, r, INTAKE_FRAMING, used);
			return false;
		}
		if (res == HTTP_CHUNKED_DONE) {
			if (ib->have == 0 && ib->kind == CONN_BODY_INTAKE)
				conn_body_refuse(c, r, INTAKE_EMPTY, used);
			else
				conn_body_done(c);
			return false;
		}
		if (*used == c->rlen)
			return true;		/* send more */
		/* The buffer is full and data comes next. The decoder
		 * keeps the total within need: there is room to grow. */
		if (!conn_body_grow(c)) {
			char dom[LIMIT_DNAME_LEN + 1];
			size_t have = ib->have;
			bool web = ib->kind == CONN_BODY_WEB;

			memcpy(dom, ib->domain, sizeof(dom));
			conn_body_free(c);
			*used = c->rlen;
			conn_body_busy(c, r, web ? NULL : dom, have);
			return false;
		}
	}
}

/* Starts reading r's body (announced and within max) into a new c->ib
 * of kind (intake: for domain; web: for job api, which the body takes
 * from here on); bytes already in rbuf from *used on are taken. The
 * body may be whole at once (conn_body_done), refused (answered), or go
 * on (c->ib set; conn_read takes the rest). */
static void
conn_body_start(struct conn *c, const struct http_request *r,
    enum conn_body_kind kind, size_t max, const char *domain,
    struct api_job *api, size_t *used)
{
	struct worker *w = c->w;
	struct conn_body *ib;
	size_t have;

	if ((ib = calloc(1, sizeof(*ib))) == NULL)
		log_fatal("conn", "out of memory");
	ib->kind = kind;
	ib->api = api;
	ib->chunked = r->chunked;
	ib->need = r->chunked ? max : (size_t)r->content_length;
	ib->since = w->now;
	if (domain != NULL)
		memcpy(ib->domain, domain, strlen(domain) + 1);
	if (r->chunked)
		http_chunked_init(&ib->dec, max);
	c->ib = ib;
	if (!conn_body_grow(c)) {
		conn_body_free(c);
		*used = c->rlen;
		conn_body_busy(c, r, domain, r->content_length);
		return;
	}
	if (r->chunked) {
		/* What came with the head, decoded; the rest comes into
		 * rbuf (conn_read). */
		if (!conn_body_decode(c, r, used))
			return;
	} else {
		/* What came with the head fits: rbuf is smaller than the
		 * first step, or the body is. */
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
	}
	/* The body goes on. With chunked, 413 comes after this, at the
	 * size line that passes the limit. */
	if (r->expect_continue)
		conn_puts(c, "HTTP/1.1 100 Continue\r\n\r\n");
	c->deadline = w->now + (kind == CONN_BODY_INTAKE ?
	    LIMIT_INTAKE_SECONDS : LIMIT_WEB_BODY_SECONDS);
}

/* A request answered from its head: its body is never read. A small
 * one is skipped (keep-alive goes on); a larger or chunked one, or one
 * the client holds back for 100-continue, closes the connection after
 * the answer (drained first: linger). */
static void
conn_body_unread(struct conn *c, const struct http_request *r, size_t *used)
{
	if (r->has_body && !r->chunked && !r->expect_continue &&
	    r->content_length <= LIMIT_HTTP_BODY_DISCARD) {
		c->skip = r->content_length;
	} else if (r->has_body || r->expect_continue) {
		c->close_after = true;
		c->linger = true;
		*used = c->rlen;
	}
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
	char json[INTAKE_JSON_LEN], retry[INTAKE_RETRY_LEN] = "";
	size_t jl = 0;
	int st;

	if ((st = intake_route(w->d, r, host, domain, json, &jl)) ==
	    INTAKE_NONE) {
		st = 404;		/* the table sent it here: never */
		jl = (size_t)snprintf(json, sizeof(json),
		    "{\"error\": \"not found\"}\n");
	}
	/* A report we would read: the client's rate and uploads at once
	 * (429 from the head, like the answers above). */
	if (st == INTAKE_READ_BODY)
		st = intake_admit(w->d, c->client, json, &jl, retry);
	if (st != INTAKE_READ_BODY) {
		conn_body_unread(c, r, used);
		conn_json(c, st, json, jl, st == 405 ? "Allow: POST\r\n" :
		    st == 429 ? retry : st == 503 ? "Retry-After: 60\r\n" :
		    NULL);
		intake_log(c, r, NULL, st, r->content_length);
		return;
	}
	conn_body_start(c, r, CONN_BODY_INTAKE, LIMIT_INTAKE_BODY_BYTES,
	    domain, NULL, used);
}

/* A request to the web front (the REST API) on the service host: its
 * head copied into a job, then its body read (at most
 * LIMIT_WEB_BODY_BYTES), then the job goes to the pool (web_serve); the
 * connection waits for its answer (conn_api_done). */
static void
route_web(struct conn *c, const struct http_request *r, size_t *used)
{
	struct api_job *j = api_new(&c->w->intake, c, r, c->peer);
	char json[INTAKE_JSON_LEN];
	size_t jl;

	bool api = r->path_len >= sizeof(WEB_API_PREFIX) - 1 &&
	    memcmp(r->path, WEB_API_PREFIX, sizeof(WEB_API_PREFIX) - 1) == 0;
	size_t max = api ? LIMIT_WEB_BODY_BYTES : LIMIT_WEB_FORM_BYTES;
	int st = 0;

	if (!r->has_body) {
		c->api = j;
		api_start(j);
		return;
	}
	/* Refused from the head, never read: a body nobody could be
	 * allowed to send (no token, no cookie: the login form has its
	 * CSRF cookie), or one past the limit (the dashboard's forms are
	 * small). */
	if (r->authorization == NULL && r->cookie == NULL) {
		st = api ? 401 : 403;
		jl = (size_t)snprintf(json, sizeof(json), "{\"error\": \"%s\"}"
		    "\n", api ? "an API token is required: Authorization: "
		    "Bearer <token>" : "log in first (no session cookie)");
	} else if (!r->chunked && r->content_length > max) {
		st = 413;
		jl = web_too_big(json, max);
	}
	if (st != 0) {
		api_job_free(j);
		conn_body_unread(c, r, used);
		conn_json(c, st, json, jl, st == 401 ? "WWW-Authenticate: "
		    "Bearer realm=\"stsguard\"\r\n" : NULL);
		web_log(c, r, st, r->content_length);
		return;
	}
	conn_body_start(c, r, CONN_BODY_WEB, max, NULL, j, used);
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
		met_inc(c->w->intake.met, MET_POLICY_UNKNOWN);
		conn_error(c, 404, NULL, head);
		conn_log(c, "policy_fetch", r, 404);
		return;
	}
	/* The certificate the client checked must be for this host. */
	if ((sni = tls_sni(c->ssl)) != NULL && strcmp(sni, host) != 0) {
		met_inc(c->w->intake.met, MET_POLICY_MISDIRECTED);
		conn_error(c, 421, NULL, head);
		conn_log(c, "policy_fetch", r, 421);
		return;
	}
	worker_date(c->w);
	conn_puts(c, "HTTP/1.1 200 OK\r\n");
	conn_put(c, c->w->date, HTTP_DATE_LINE_LEN);
	conn_put(c, x->fields, x->fields_len);
	if (c->close_after)
		conn_puts(c, "Connection: close\r\n\r\n");
	else
		conn_puts(c, "\r\n");
	if (!head)
		conn_put(c, x->body, x->body_len);
	fetch_count(c->w, host, (size_t)hlen, c->peer, r);
	met_inc(c->w->intake.met, MET_POLICY_SERVED);
	conn_log(c, "policy_fetch", r, 200);
}

/* GET or HEAD /.well-known/acme-challenge/TOKEN on plain HTTP: the key
 * authorization of a pending HTTP-01 challenge (RFC 8555 §8.3). */
static void
route_acme(struct conn *c, const struct http_request *r)
{
	char token[256], keyauth[512];
	size_t plen = strlen(CHALLENGE_PATH), tlen = r->path_len - plen;
	bool head = r->method == HTTP_HEAD;

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
	conn_respond(c, 200, "application/octet-stream", keyauth,
	    strlen(keyauth), NULL, head);
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
	ROUTE_API,
};

const struct http_route daemon_routes[] = {
	{ HTTP_LISTEN_TLS, false, "/.well-known/mta-sts.txt",
	    HTTP_M(HTTP_GET) | HTTP_M(HTTP_HEAD), ROUTE_POLICY },
	/* intake_route answers wrong methods itself, in JSON. */
	{ HTTP_LISTEN_TLS, true, INTAKE_URL_PATH, HTTP_M_ANY, ROUTE_INTAKE },
	/* web_serve answers wrong methods itself: the API in JSON, the
	 * dashboard (every other path of the service host) in HTML. */
	{ HTTP_LISTEN_TLS, true, WEB_API_PREFIX, HTTP_M_ANY, ROUTE_API },
	{ HTTP_LISTEN_TLS, true, "/", HTTP_M_ANY, ROUTE_API },
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
	if (x != NULL && x->id == ROUTE_API) {
		/* Reads its body; answered on a pool thread, the
		 * connection waits (conn_pend). */
		route_web(c, r, used);
		return;
	}
	if (r->has_body)	/* no other route reads one */
		conn_body_unread(c, r, used);
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
	case ROUTE_API:			/* taken above */
		break;
	}
}

void
conn_api_done(struct conn *c, struct api_job *j)
{
	struct log_line l;

	c->api = NULL;
	conn_respond(c, j->resp.status, j->resp.type != NULL ? j->resp.type :
	    "application/json", j->resp.body,
	    j->resp.len, j->resp.extra[0] != '\0' ? j->resp.extra : NULL,
	    j->head);
	log_begin(&l, LOG_INFO, "api_request");
	log_cstr(&l, "client", c->peer);
	log_cstr(&l, "path", j->target);
	log_int(&l, "status", j->resp.status);
	log_end(&l);
	c->deadline = c->w->now + LIMIT_HTTP_REQUEST_SECONDS;
	c->st = CONN_WRITE;
	conn_write(c);		/* then pipelined requests, if any */
}

/* Answers every complete request in rbuf (pipelining) into out. */
static void
conn_answer(struct conn *c)
{
	struct http_request r;
	size_t used = 0;
	int status;

	while (!c->close_after && c->olen < OBUF_FLUSH_AT && c->ib == NULL &&
	    c->job == NULL && c->api == NULL) {
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
	else if (c->job != NULL || c->api != NULL)
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
	if (c->job != NULL || c->api != NULL) {	/* before close_after:
					 * the answer is still to come */
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

/* Reads what is there: into the intake body (Content-Length), or into
 * rbuf (heads, chunked bodies: decoded at once); answers complete
 * requests. Level-triggered readiness brings us back for bytes still in
 * the kernel; bytes OpenSSL already holds (SSL_has_pending) must be
 * taken now. */
static void
conn_read(struct conn *c)
{
	for (;;) {
		size_t room = sizeof(c->rbuf) - c->rlen;
		char *dst = c->rbuf + c->rlen;
		int n;

		if (c->ib != NULL && !c->ib->chunked) {
			if (c->ib->have == c->ib->cap &&
			    !conn_body_grow(c)) {
				char dom[LIMIT_DNAME_LEN + 1];
				size_t need = c->ib->need;
				bool web = c->ib->kind == CONN_BODY_WEB;

				memcpy(dom, c->ib->domain, sizeof(dom));
				conn_body_free(c);
				conn_body_busy(c, NULL, web ? NULL : dom,
				    need);
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
		if (c->ib != NULL && !c->ib->chunked) {
			c->ib->have += (size_t)n;
			if (c->ib->have == c->ib->need) {
				conn_body_done(c);
				conn_write(c);	/* pends */
				return;
			}
		} else if (c->ib != NULL) {
			size_t used = 0;
			bool more;

			c->rlen += (size_t)n;
			more = conn_body_decode(c, NULL, &used);
			memmove(c->rbuf, c->rbuf + used, c->rlen - used);
			c->rlen -= used;
			if (!more) {
				/* pends, or answers (then pipelined
				 * requests, or close) */
				conn_write(c);
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

			met_inc(c->w->intake.met, MET_TLS_ACME);
			log_begin(&l, LOG_INFO, "acme_tls_alpn01");
			log_cstr(&l, "client", c->peer);
			log_cstr(&l, "sni", tls_sni(c->ssl));
			log_end(&l);
			conn_finish(c);
			return;
		}
		met_inc(c->w->intake.met, SSL_session_reused(c->ssl) ?
		    MET_TLS_RESUMED : MET_TLS_FULL);
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
	met_inc(c->w->intake.met, MET_TLS_FAILED);
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
void
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

/* Once a second, from the worker's tick: closes the connections past
 * their deadline or uploading too slowly, and idle keep-alive ones when
 * draining. */
void
conn_tick(struct worker *w)
{
	struct conn *c, *next;

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
}

/* Takes the connection accept gave (fd, from ss, counted for client in
 * d->peers) into w: a TLS handshake first on the HTTPS listener (tls),
 * the request at once on plain HTTP. */
void
conn_accepted(struct worker *w, int fd, const struct sockaddr_storage *ss,
    struct peer *client, bool tls)
{
	struct daemon *d = w->d;
	struct conn *c;
	int one = 1;

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
	c->api = NULL;
	c->skip = 0;
	c->rlen = c->olen = c->ooff = 0;
	c->out = c->obuf;
	c->ocap = sizeof(c->obuf);
	c->deadline = w->now + LIMIT_HTTP_REQUEST_SECONDS;
	c->peer[0] = '\0';
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)ss;

		if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr))
			inet_ntop(AF_INET, &a6->sin6_addr.s6_addr[12],
			    c->peer, sizeof(c->peer));
		else
			inet_ntop(AF_INET6, &a6->sin6_addr, c->peer,
			    sizeof(c->peer));
	} else if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr,
		    c->peer, sizeof(c->peer));
	}
	c->prev = NULL;
	c->next = w->conns;
	if (w->conns != NULL)
		w->conns->prev = c;
	w->conns = c;
	w->nconns++;
	if (tls) {
		if ((c->ssl = SSL_new(tls_default_ctx(d->tls))) == NULL ||
		    !SSL_set_fd(c->ssl, fd)) {
			ERR_clear_error();
			c->ev_what = 0;
			event_assign(&c->ev, w->base, fd, EV_READ, conn_cb, c);
			conn_free(c);
			return;
		}
		SSL_set_accept_state(c->ssl);
		c->st = CONN_HANDSHAKE;
	} else {
		c->st = CONN_READ;
	}
	c->ev_what = EV_READ;
	event_assign(&c->ev, w->base, fd, EV_READ | EV_PERSIST, conn_cb, c);
	event_add(&c->ev, NULL);
	/* With TCP_DEFER_ACCEPT the first bytes are there already. */
	conn_cb(fd, EV_READ, c);
}

/* Closes every connection of w (at exit: no answer is sent). */
void
conn_free_all(struct worker *w)
{
	while (w->conns != NULL)
		conn_free(w->conns);
}
