/*
 * fuzz_smtp_server.c - libFuzzer target for the SMTP listener's I/O layer
 * (smtp_server.c): a real smtp_server on a listening socket, one client
 * connected to it, the input written by the client in chunks, the event
 * loop run in between until nothing moves.
 *
 * The listener is an abstract AF_UNIX socket, not TCP: smtp_server_start
 * takes any listening stream socket, and a Unix one connects without a
 * handshake, leaves no TIME_WAIT and no port behind, and its queues can
 * be measured (SIOCINQ, SIOCOUTQ), which tells when the loop is idle.
 * (The AF_INET address formatting of the accept callback is therefore
 * not covered; the peer address is "-".) Per input: start a server,
 * connect, run, stop the server (which frees its connections), close:
 * nothing is carried over, so a leak shows as a leak.
 *
 * Input:
 *   byte 0  flags: 0x01 a STARTTLS context (else NULL: not offered)
 *                  0x02 the client half-closes after its last chunk
 *                  0x0c how the client reads replies: 0 and 3 at once,
 *                       1 only after its last chunk, 2 at most 64 bytes
 *                       per chunk (a slow reader)
 *                  0x10 a minimal send buffer on the server's socket,
 *                       so that replies back up (LIMIT_SMTP_OUTBUF)
 *                  0x20 max_conn 1 and a second client, refused
 *                  0x40 max_conn_per_client 1 and a second client,
 *                       refused
 *                  0x80 smtp_server_drain once connected (shutdown:
 *                       no more accepts, the session goes on)
 *   byte 1  chunks: 0 the rest in one write; 1..127 that many bytes
 *           each; 128..255 random sizes 1..(b - 127) * 16; the 256th
 *           chunk takes whatever is left
 *   bytes 2-3  seed of the chunk sizes and of the hooks' choices
 *   byte 4  limits: 0x03 message bytes budget (session.peers): 0 none
 *                        given (the server's own, unbounded), 1 a
 *                        client's share of 4095 bytes, one short of what
 *                        a message buffer reserves at once (min(16 KiB,
 *                        SIZE)), 2 a total of exactly that, 3 nothing
 *                        (non-empty messages: 452)
 *                   0x04 max_junk 1000000, so that floods of EHLO reach
 *                        LIMIT_SMTP_OUTBUF; 0x08 max_junk 2
 *                   0x30 max_errors: default, 1, 3, 1000
 *   the rest   what the client sends
 *
 * Hooks: a recipient is accepted when it is a report address of
 * stshost.test (token "tempfail": 451), else refused. A delivery is
 * answered at once (STORED, DUPLICATE, TEMPFAIL, NO_REPORT) or left
 * pending and answered by a zero timer in the next loop pass, after the
 * client's next chunk, or never (the server cancels it when the
 * connection goes). The late answer is any value, even out of range.
 * A pending delivery may take the message buffer (env->msg_buf, and the
 * bytes reserved for it), freed and given back when it ends.
 *
 * With a STARTTLS context the client never completes a handshake (that
 * would need randomness on both sides): what it sends after "220 Ready
 * to start TLS" is fed to OpenSSL as a ClientHello, which fails it.
 *
 * Checks: every reply line before TLS is "[2-5]xx[ -]" printable text
 * CRLF, the first is the 220 greeting, a 220 after it only with a
 * STARTTLS context; nothing follows a 221 or 421, and after one the
 * server has closed the connection; log lines are printable; the
 * deliver hook sees a message within SIZE, 1..max_rcpt recipients, its
 * delivery slot free and no other delivery pending; deliver_cancel
 * names a pending job; every pending delivery is answered or cancelled
 * by the time the server is stopped; with a budget of ours, every byte
 * reserved is given back by then; a refused second client gets 421 and
 * EOF; the loop goes idle (no livelock).
 *
 * Not covered: timers in seconds (command and DATA timeouts, the session
 * lifetime, the accept pause after EMFILE), a completed TLS handshake,
 * and the AF_INET/AF_INET6 peer address. Seeds: fuzz/seeds.py writes
 * them in this format.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/sockios.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "smtp/smtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_HOST		"stshost.test"
#define FZ_MAX_MESSAGE	4096
#define FZ_MAX_RCPT	4
#define FZ_PASSES	200000	/* loop passes per pump: a livelock */
#define FZ_CHUNKS	256	/* the last one takes the rest: each costs
				 * a few loop passes, and bytewise splits
				 * of 12 KiB would take 100 ms */

enum { FZ_READ_ALWAYS, FZ_READ_AT_END, FZ_READ_SLOW };

/* How a delivery left pending is answered. */
enum fz_when { FZ_TIMER, FZ_NEXT_CHUNK, FZ_NEVER };

struct fz_job {
	struct fz		*f;
	struct smtp_delivery	*dv;
	struct event		*ev;	/* the zero timer that answers */
	enum fz_when		 when;
	int			 res;	/* the late answer, any value */
	uint8_t			*buf;	/* the message buffer, taken */
	size_t			 held;	/* bytes reserved for it */
	struct peer		*peer;
	struct fz_job		*prev, *next;
};

struct fz {
	uint32_t	 rng_chunk, rng_hook;
	int		 read_mode;
	int		 cfd;		/* the client */
	int		 sfd;		/* the server's end, or -1 */
	uint8_t		*rx;		/* what the client received */
	size_t		 rxlen, rxcap;
	bool		 eof;		/* the server closed */
	uint64_t	 progress;	/* hook calls, timers, bytes read */
	struct fz_job	*jobs;		/* pending deliveries */
	unsigned	 timers;	/* zero timers armed */
	struct peers	*peers;		/* the budget, when ours */
};

static struct event_base *fz_base;
static SSL_CTX *fz_ctx;
static int fz_lfd = -1;
static struct sockaddr_un fz_addr;
static socklen_t fz_addrlen;

static uint32_t
fz_rand(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* --- setup, once per process ------------------------------------------ */

/* A self-signed P-256 certificate for the STARTTLS context. */
static SSL_CTX *
fz_ctx_new(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (k == NULL || x == NULL || ctx == NULL ||
	    !X509_set_version(x, 2) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), 1) ||
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400) == NULL ||
	    !X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
	    MBSTRING_ASC, (const unsigned char *)FZ_HOST, -1, -1, 0) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(x)) ||
	    !X509_set_pubkey(x, k) || !X509_sign(x, k, EVP_sha256()) ||
	    !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    SSL_CTX_use_certificate(ctx, x) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, k) != 1)
		abort();
	X509_free(x);
	EVP_PKEY_free(k);
	return ctx;
}

static void
fz_init(void)
{
	if (fz_base != NULL)
		return;
	signal(SIGPIPE, SIG_IGN);
	if ((fz_base = event_base_new()) == NULL)
		abort();
	fz_ctx = fz_ctx_new();
	/* Abstract name (leading NUL), per process: parallel fuzzers. */
	memset(&fz_addr, 0, sizeof(fz_addr));
	fz_addr.sun_family = AF_UNIX;
	snprintf(fz_addr.sun_path + 1, sizeof(fz_addr.sun_path) - 1,
	    "stsguard-fuzz-smtp-%ld", (long)getpid());
	fz_addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
	    strlen(fz_addr.sun_path + 1));
	if ((fz_lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(fz_lfd, (struct sockaddr *)&fz_addr, fz_addrlen) == -1 ||
	    listen(fz_lfd, 16) == -1)
		abort();
}

/* --- hooks ------------------------------------------------------------ */

static void
fz_printable(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s < 0x20 || *s > 0x7e)
			abort();
}

static enum smtp_rcpt_result
fz_rcpt(void *arg, const struct smtp_envelope *env, const char *addr)
{
	struct fz *f = arg;
	char token[33];

	f->progress++;
	if (env->mail_from == NULL || env->client == NULL ||
	    env->helo == NULL || env->tls || env->nrcpt >= FZ_MAX_RCPT)
		abort();
	if (!smtp_report_address(addr, FZ_HOST, token, sizeof(token)))
		return SMTP_RCPT_REFUSE;
	return strcmp(token, "tempfail") == 0 ? SMTP_RCPT_TEMPFAIL :
	    SMTP_RCPT_ACCEPT;
}

static void
fz_job_unlink(struct fz_job *j)
{
	if (j->prev != NULL)
		j->prev->next = j->next;
	else
		j->f->jobs = j->next;
	if (j->next != NULL)
		j->next->prev = j->prev;
	if (j->ev != NULL) {
		if (evtimer_pending(j->ev, NULL))
			j->f->timers--;
		event_free(j->ev);
	}
	free(j->buf);
	if (j->held > 0)
		peers_give(j->f->peers, j->peer, j->held);
	free(j);
}

static void
fz_job_fire(evutil_socket_t fd, short what, void *arg)
{
	struct fz_job *j = arg;
	struct fz *f = j->f;
	struct smtp_delivery *dv = j->dv;
	int res = j->res;

	f->timers--;		/* fired: no longer pending */
	f->progress++;
	if (dv->job != j)
		abort();
	fz_job_unlink(j);
	/* The connection may be gone when this returns: dv is not touched
	 * again. */
	smtp_server_deliver_done(dv, (enum smtp_deliver_result)res,
	    res % 2 ? "late\r\n421 injected" : NULL);
}

static void
fz_job_arm(struct fz_job *j)
{
	struct timeval tv = { 0, 0 };

	if (j->ev == NULL &&
	    (j->ev = evtimer_new(fz_base, fz_job_fire, j)) == NULL)
		abort();
	if (!evtimer_pending(j->ev, NULL)) {
		evtimer_add(j->ev, &tv);
		j->f->timers++;
	}
}

static enum smtp_deliver_result
fz_deliver(void *arg, const struct smtp_envelope *env, const uint8_t *msg,
    size_t len, char *reason)
{
	struct fz *f = arg;
	struct fz_job *j;
	uint32_t r = fz_rand(&f->rng_hook);

	f->progress++;
	if (len > FZ_MAX_MESSAGE || env->nrcpt == 0 ||
	    env->nrcpt > FZ_MAX_RCPT || env->mail_from == NULL ||
	    env->tls || env->delivery == NULL || env->delivery->io == NULL ||
	    env->delivery->job != NULL || f->jobs != NULL ||
	    env->msg_buf == NULL || env->msg_held == NULL ||
	    (*env->msg_buf == NULL && (len > 0 || *env->msg_held > 0)) ||
	    (*env->msg_buf != NULL && msg < *env->msg_buf))
		abort();
	/* What is reserved for the message is within the client's. */
	if (f->peers != NULL && env->peer != NULL &&
	    *env->msg_held > peer_bytes(f->peers, env->peer))
		abort();
	for (size_t i = 0; i < env->nrcpt; i++)
		if (env->rcpt[i] == NULL)
			abort();
	if (len > 0)
		reason[0] = (char)msg[len - 1];	/* anything: sanitised */
	reason[len > 0] = '\0';
	if (r % 8 < 4)
		return (enum smtp_deliver_result)(r % 4);
	if ((j = calloc(1, sizeof(*j))) == NULL)
		abort();
	j->f = f;
	j->dv = env->delivery;
	j->res = (int)(r >> 8) % 7;	/* 4..6: out of range, TEMPFAIL */
	j->when = r % 8 < 6 ? FZ_TIMER : r % 8 == 6 ? FZ_NEXT_CHUNK :
	    FZ_NEVER;
	j->next = f->jobs;
	if (f->jobs != NULL)
		f->jobs->prev = j;
	f->jobs = j;
	env->delivery->job = j;
	/* Take the buffer instead of copying (smtp.h), when the bytes
	 * reserved for it can be given back: a budget of ours, or none
	 * held (with the server's own table, we could not). */
	if ((r >> 16) % 2 && *env->msg_buf != NULL &&
	    (f->peers != NULL || *env->msg_held == 0)) {
		j->buf = *env->msg_buf;
		j->held = *env->msg_held;
		j->peer = env->peer;
		*env->msg_buf = NULL;
		*env->msg_held = 0;
	}
	if (j->when == FZ_TIMER)
		fz_job_arm(j);
	return SMTP_DELIVER_PENDING;
}

static void
fz_cancel(void *arg, void *job)
{
	struct fz *f = arg;
	struct fz_job *j;

	f->progress++;
	for (j = f->jobs; j != NULL && j != job; j = j->next)
		;
	if (j == NULL)
		abort();	/* not a pending job of ours */
	fz_job_unlink(j);
}

static void
fz_log(void *arg, const char *client, const char *line)
{
	fz_printable(client);
	fz_printable(line);
}

/* --- the client ----------------------------------------------------------- */

/* Reads what the server sent, at most *budget bytes. */
static void
fz_read(struct fz *f, size_t *budget)
{
	uint8_t buf[4096];
	ssize_t n;

	while (*budget > 0 && !f->eof) {
		n = recv(f->cfd, buf, *budget < sizeof(buf) ? *budget :
		    sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno == ECONNRESET)) {
			f->eof = true;
			f->progress++;
			f->sfd = -1;	/* closed: the number may be reused */
			return;
		}
		if (n < 0)
			return;		/* EAGAIN */
		if (f->rxlen + (size_t)n > f->rxcap) {
			size_t cap = f->rxcap ? f->rxcap * 2 : 8192;

			while (cap < f->rxlen + (size_t)n)
				cap *= 2;
			if ((f->rx = realloc(f->rx, cap)) == NULL)
				abort();
			f->rxcap = cap;
		}
		memcpy(f->rx + f->rxlen, buf, (size_t)n);
		f->rxlen += (size_t)n;
		f->progress += (uint64_t)n;
		*budget -= (size_t)n;
	}
}

static int
fz_queue(int fd, unsigned long req)
{
	int n = 0;

	if (fd < 0 || ioctl(fd, req, &n) == -1)
		return -1;
	return n;
}

/* Runs the loop until two passes in a row change nothing: no hook call,
 * no timer, no byte read by the client, the same bytes queued in both
 * directions (seen from the server's end), and no event active. (One
 * would do: whatever the server does shows in one of these; the second
 * is a margin.) The client reads everything that came (read_all, or
 * FZ_READ_ALWAYS), nothing (FZ_READ_AT_END), or 64 bytes per pump:
 * slower than the server writes (FZ_READ_SLOW). */
static void
fz_pump(struct fz *f, bool read_all)
{
	uint64_t last[4] = { 0 }, now[4];
	size_t budget = SIZE_MAX;
	int idle = 0;

	if (!read_all && f->read_mode == FZ_READ_AT_END)
		budget = 0;
	else if (!read_all && f->read_mode == FZ_READ_SLOW)
		budget = 64;
	for (long pass = 0; idle < 2; pass++) {
		if (pass == FZ_PASSES)
			abort();	/* the loop never settles */
		event_base_loop(fz_base, EVLOOP_NONBLOCK);
		fz_read(f, &budget);
		now[0] = f->progress;
		now[1] = (uint64_t)fz_queue(f->sfd, SIOCOUTQ);
		now[2] = (uint64_t)fz_queue(f->sfd, SIOCINQ);
		now[3] = (uint64_t)event_base_get_num_events(fz_base,
		    EVENT_BASE_COUNT_ACTIVE) + f->timers;
		if (f->sfd < 0)		/* not found: the client's side */
			now[2] = (uint64_t)fz_queue(f->cfd, SIOCOUTQ);
		if (memcmp(now, last, sizeof(now)) == 0 && now[3] == 0)
			idle++;
		else
			idle = 0;
		memcpy(last, now, sizeof(now));
	}
}

/* Arms the answer of deliveries waiting for the client's next chunk. */
static void
fz_next_chunk(struct fz *f)
{
	for (struct fz_job *j = f->jobs; j != NULL; j = j->next)
		if (j->when == FZ_NEXT_CHUNK)
			fz_job_arm(j);
}

/* Writes p[0..n) from the client, running the loop while the socket is
 * full. Returns false when the server reads no more (a delivery never
 * answered, the connection closed): the rest of the input is dropped. */
static bool
fz_write(struct fz *f, const uint8_t *p, size_t n)
{
	int tries = 0;

	while (n > 0) {
		ssize_t w = send(f->cfd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w > 0) {
			p += w;
			n -= (size_t)w;
			tries = 0;
			continue;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return false;	/* EPIPE, ECONNRESET: closed */
		if (tries++ == 2)
			return false;
		/* Full: let the server read, answer what waits for a next
		 * chunk (there is none until this one is in), and the second
		 * time read all replies: the server may be waiting for
		 * that (LIMIT_SMTP_OUTBUF). */
		fz_next_chunk(f);
		fz_pump(f, tries == 2);
	}
	return true;
}

/* Connects a client to the listener, from an autobound abstract
 * address (so that the server's end can be told by its peer name). */
static int
fz_connect(struct sockaddr_un *self, socklen_t *selflen)
{
	sa_family_t fam = AF_UNIX;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd == -1)
		abort();
	/* Just the family: the kernel picks a unique abstract name. */
	*selflen = sizeof(*self);
	if (bind(fd, (struct sockaddr *)&fam, sizeof(fam)) == -1 ||
	    getsockname(fd, (struct sockaddr *)self, selflen) == -1 ||
	    connect(fd, (struct sockaddr *)&fz_addr, fz_addrlen) == -1 ||
	    fcntl(fd, F_SETFL, O_NONBLOCK) == -1)
		abort();
	return fd;
}

/* The server's end of the client's connection: accept() takes the
 * lowest free descriptor, checked by its peer name. -1 if not found. */
static int
fz_server_end(int guess, const struct sockaddr_un *peer, socklen_t peerlen)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);

	if (guess < 0 || getpeername(guess, (struct sockaddr *)&sa, &len) ==
	    -1 || len != peerlen || memcmp(&sa, peer, len) != 0)
		return -1;
	return guess;
}

/* The lowest free descriptor, as the next accept() will get it. */
static int
fz_next_fd(void)
{
	int fd = dup(0);

	if (fd >= 0)
		close(fd);
	return fd;
}

/* --- checks ---------------------------------------------------------- */

/* The replies the client got, as the server must have sent them. */
static void
fz_check_replies(struct fz *f, bool starttls, bool complete)
{
	const uint8_t *o = f->rx;
	size_t n = f->rxlen;
	bool closed = false;

	if (n < 4 || memcmp(o, "220 ", 4) != 0)
		abort();	/* no greeting */
	for (size_t i = 0; i < n;) {
		const uint8_t *eol = memchr(o + i, '\n', n - i);
		size_t l;

		if (closed)
			abort();	/* bytes after 221 / 421 */
		if (eol == NULL) {
			/* Half a line while idle, unless the client's EOF
			 * made the server drop what it had not sent. */
			if (complete && !f->eof)
				abort();
			return;
		}
		l = (size_t)(eol - (o + i)) + 1;
		if (l < 6 || eol[-1] != '\r' || o[i] < '2' || o[i] > '5' ||
		    o[i + 1] < '0' || o[i + 1] > '9' || o[i + 2] < '0' ||
		    o[i + 2] > '9' || (o[i + 3] != ' ' && o[i + 3] != '-'))
			abort();
		for (size_t k = i; k < i + l - 2; k++)
			if (o[k] < 0x20 || o[k] > 0x7e)
				abort();
		if (o[i + 3] == ' ' && (memcmp(o + i, "221", 3) == 0 ||
		    memcmp(o + i, "421", 3) == 0))
			closed = true;
		if (i > 0 && o[i + 3] == ' ' && memcmp(o + i, "220", 3) == 0) {
			/* STARTTLS accepted: TLS bytes follow. */
			if (!starttls)
				abort();
			return;
		}
		i += l;
	}
	/* The server closes after 221 and 421, once they are read. */
	if (closed && complete && !f->eof)
		abort();
}

/* A second client, over a limit: 421 at once, then EOF. */
static void
fz_check_refused(struct fz *f, int fd2)
{
	char buf[512];
	size_t n = 0;
	ssize_t r;

	while ((r = recv(fd2, buf + n, sizeof(buf) - 1 - n, MSG_DONTWAIT)) >
	    0)
		n += (size_t)r;
	if (r != 0 || n < 12 || memcmp(buf, "421 4.7.0 ", 10) != 0 ||
	    buf[n - 2] != '\r' || buf[n - 1] != '\n')
		abort();
}

/* --- the target ------------------------------------------------------- */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_hooks hooks = { .rcpt = fz_rcpt, .deliver = fz_deliver,
	    .deliver_cancel = fz_cancel, .log = fz_log };
	struct smtp_server_config cfg = { .session = { .hostname = FZ_HOST,
	    .max_message = FZ_MAX_MESSAGE, .max_rcpt = FZ_MAX_RCPT } };
	struct fz f = { .cfd = -1, .sfd = -1 };
	struct smtp_server *srv;
	struct sockaddr_un self;
	socklen_t selflen;
	struct err e = { "" };
	uint8_t flags, chunk, lim;
	uint32_t seed;
	bool second, starttls, fed = true;
	int fd2 = -1, guess;

	static const size_t share[4] = { 0, FZ_MAX_MESSAGE - 1, SIZE_MAX, 0 };
	static const size_t total[4] = { 0, SIZE_MAX, FZ_MAX_MESSAGE, 0 };
	static const unsigned errors[4] = { 0, 1, 3, 1000 };

	if (size < 5)
		return 0;
	fz_init();
	flags = data[0];
	chunk = data[1];
	seed = ((uint32_t)data[2] << 8 | data[3]) * 2654435761u | 1;
	lim = data[4];
	data += 5;
	size -= 5;
	if ((lim & 3) != 0 &&
	    (f.peers = peers_new(total[lim & 3], share[lim & 3])) == NULL)
		abort();
	cfg.session.peers = f.peers;
	cfg.session.max_junk = lim & 4 ? 1000000 : lim & 8 ? 2 : 0;
	cfg.session.max_errors = errors[(lim >> 4) & 3];
	f.rng_chunk = seed;
	f.rng_hook = seed ^ 0x5bd1e995u;
	f.read_mode = (flags >> 2) & 3;
	if (f.read_mode == 3)
		f.read_mode = FZ_READ_ALWAYS;
	starttls = flags & 0x01;
	second = flags & 0x60;
	if (flags & 0x20)
		cfg.max_conn = 1;
	if (flags & 0x40)
		cfg.max_conn_per_client = 1;
	hooks.arg = &f;

	srv = smtp_server_start(fz_base, fz_lfd, starttls ? fz_ctx : NULL,
	    &hooks, &cfg, &e);
	if (srv == NULL)
		abort();
	f.cfd = fz_connect(&self, &selflen);
	guess = fz_next_fd();
	fz_pump(&f, false);		/* accept, greeting */
	if (smtp_server_connections(srv) != 1)
		abort();
	f.sfd = fz_server_end(guess, &self, selflen);
	if (f.sfd >= 0 && (flags & 0x10)) {
		int one = 1;	/* the kernel's minimum, about 4.5 KiB */

		setsockopt(f.sfd, SOL_SOCKET, SO_SNDBUF, &one, sizeof(one));
	}
	if (second) {
		fd2 = fz_connect(&self, &selflen);
		fz_pump(&f, false);
		fz_check_refused(&f, fd2);
		if (smtp_server_connections(srv) > 1)
			abort();
	}
	if (flags & 0x80)
		smtp_server_drain(srv);

	for (size_t i = 0, k = 0; i < size && fed; k++) {
		size_t n;

		if (chunk == 0 || k == FZ_CHUNKS - 1)
			n = size - i;
		else if (chunk < 128)
			n = chunk;
		else
			n = 1 + fz_rand(&f.rng_chunk) % ((size_t)(chunk - 127) *
			    16);
		if (n > size - i)
			n = size - i;
		fed = fz_write(&f, data + i, n);
		i += n;
		fz_next_chunk(&f);
		fz_pump(&f, false);
	}
	if (flags & 0x02)
		shutdown(f.cfd, SHUT_WR);
	fz_next_chunk(&f);
	fz_pump(&f, true);
	fz_check_replies(&f, starttls, true);
	if (smtp_server_connections(srv) > 1 ||
	    (f.eof && smtp_server_connections(srv) != 0) ||
	    smtp_server_busy(srv) > smtp_server_connections(srv) ||
	    (f.jobs != NULL && smtp_server_busy(srv) == 0))
		abort();

	smtp_server_stop(srv);
	/* Every delivery left pending was answered or cancelled, and every
	 * byte reserved for a message given back. */
	if (f.jobs != NULL || f.timers != 0 ||
	    (f.peers != NULL && peers_bytes(f.peers) != 0))
		abort();
	peers_free(f.peers);
	if (fd2 >= 0)
		close(fd2);
	close(f.cfd);
	free(f.rx);
	return 0;
}
