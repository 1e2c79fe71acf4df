/*
 * test_smtp_server.c - the SMTP listener's I/O layer (smtp_server.c) in
 * process: a real smtp_server on a listening socket on 127.0.0.1:0, in
 * an event base of the test's own, with TCP clients whose sockets are
 * events in the same base (so that every reply is seen when it arrives,
 * with its time), and hooks of the test's own.
 *
 * What the fuzz target (fuzz/fuzz_smtp_server.c) cannot reach because it
 * takes seconds or a process limit:
 *   - the session lifetime (session_seconds): a chatty session (a NOOP
 *     every 0.3 s, so never idle) gets "421 4.4.2 ... session too long"
 *     and is closed after about 1 s; a session whose delivery is pending
 *     when its life ends gets the delivery's answer first (250 at
 *     1.5 s), then the 421;
 *   - accept failing with EMFILE (RLIMIT_NOFILE lowered in this process
 *     while clients connect): the listener pauses instead of spinning
 *     (CPU time over 1 s well under 0.5 s, one log line naming the
 *     error and the pause), and once descriptors are free again the
 *     waiting clients and a new one get their 220;
 *   - connections per client through the config's peers table
 *     (max_conn_per_client 2): a third from 127.0.0.1 gets 421 4.7.0,
 *     one from 127.0.0.2 is served, and a slot given back is usable.
 *
 * Each test makes and frees its own base, listener and server; nothing
 * is shared, the port is the kernel's choice (parallel-safe), and every
 * wait is bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "lib/peer.h"
#include "smtp/smtp.h"

#define HOST	"stshost.test"
#define NCLIENT	8
#define NLOG	16

struct client {
	struct fx	*fx;
	int		 fd;
	struct event	*ev;
	double		 t0;		/* connect() */
	char		 rx[8192];	/* what came, NUL-terminated */
	size_t		 len;
	bool		 eof;
	double		 t_eof;		/* seconds after t0 */
	double		 t_250;		/* first "250 2.0.0 Ok: report" */
	double		 t_421;		/* first "421 " */
	struct event	*noop;		/* a NOOP every 0.3 s, or NULL */
};

struct fx {
	struct event_base	*base;
	int			 lfd;
	struct sockaddr_in	 addr;
	struct smtp_hooks	 hooks;
	struct smtp_server_config cfg;
	struct smtp_server	*srv;
	struct client		 c[NCLIENT];
	/* The hooks' record. */
	unsigned		 nlog;
	char			 log[NLOG][256];
	unsigned		 ndeliver, ncancel;
	struct smtp_delivery	*dv;		/* the pending delivery */
	struct event		*answer;	/* answers it */
	double			 answer_at;	/* seconds after the deliver
						 * call */
	int			 want;		/* the client run() waits
						 * for */
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- hooks --------------------------------------------------------- */

static enum smtp_rcpt_result
hk_rcpt(void *arg, const struct smtp_envelope *env, const char *addr)
{
	char token[33];

	return smtp_report_address(addr, HOST, token, sizeof(token)) ?
	    SMTP_RCPT_ACCEPT : SMTP_RCPT_REFUSE;
}

static void
hk_answer(evutil_socket_t fd, short what, void *arg)
{
	struct fx *f = arg;
	struct smtp_delivery *dv = f->dv;

	if (dv == NULL)		/* cancelled: the slot is gone */
		return;
	f->dv = NULL;
	smtp_server_deliver_done(dv, SMTP_DELIVER_STORED, NULL);
}

/* Leaves every delivery pending; a timer answers it answer_at seconds
 * later (none when answer_at is 0: answered at once, stored). */
static enum smtp_deliver_result
hk_deliver(void *arg, const struct smtp_envelope *env, const uint8_t *msg,
    size_t len, char *reason)
{
	struct fx *f = arg;
	struct timeval tv;

	f->ndeliver++;
	if (f->answer_at <= 0 || env->delivery == NULL)
		return SMTP_DELIVER_STORED;
	f->dv = env->delivery;
	env->delivery->job = f;
	tv.tv_sec = (time_t)f->answer_at;
	tv.tv_usec = (suseconds_t)((f->answer_at - (double)tv.tv_sec) * 1e6);
	if (f->answer == NULL)
		f->answer = evtimer_new(f->base, hk_answer, f);
	if (f->answer == NULL || evtimer_add(f->answer, &tv) == -1)
		return SMTP_DELIVER_TEMPFAIL;
	return SMTP_DELIVER_PENDING;
}

static void
hk_cancel(void *arg, void *job)
{
	struct fx *f = arg;

	f->ncancel++;
	f->dv = NULL;
}

static void
hk_log(void *arg, const char *client, const char *line)
{
	struct fx *f = arg;

	if (f->nlog < NLOG)
		snprintf(f->log[f->nlog], sizeof(f->log[0]), "%s: %s",
		    client, line);
	f->nlog++;
}

/* --- the server ------------------------------------------------------ */

/* A listening socket on 127.0.0.1:0 and an smtp_server on it, with cfg
 * as the test set it in f->cfg (hostname filled in). */
static void
fx_start(struct fx *f)
{
	socklen_t len = sizeof(f->addr);
	struct err e = { "" };

	f->base = event_base_new();
	assert_non_null(f->base);
	f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(f->lfd >= 0);
	memset(&f->addr, 0, sizeof(f->addr));
	f->addr.sin_family = AF_INET;
	f->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&f->addr,
	    sizeof(f->addr)), 0);
	assert_int_equal(listen(f->lfd, 64), 0);
	assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&f->addr,
	    &len), 0);
	f->hooks = (struct smtp_hooks){ .arg = f, .rcpt = hk_rcpt,
	    .deliver = hk_deliver, .deliver_cancel = hk_cancel,
	    .log = hk_log };
	f->cfg.session.hostname = HOST;
	f->srv = smtp_server_start(f->base, f->lfd, NULL, &f->hooks, &f->cfg,
	    &e);
	if (f->srv == NULL)
		fail_msg("smtp_server_start: %s", e.msg);
	for (int i = 0; i < NCLIENT; i++)
		f->c[i].fd = -1;
}

static void
client_close(struct client *c)
{
	if (c->noop != NULL)
		event_free(c->noop);
	c->noop = NULL;
	if (c->ev != NULL)
		event_free(c->ev);
	c->ev = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static void
fx_stop(struct fx *f)
{
	smtp_server_stop(f->srv);
	for (int i = 0; i < NCLIENT; i++)
		client_close(&f->c[i]);
	if (f->answer != NULL)
		event_free(f->answer);
	close(f->lfd);
	event_base_free(f->base);
}

/* --- clients ------------------------------------------------------- */

static void
client_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;
	double t = now() - c->t0;
	ssize_t n;

	for (;;) {
		n = recv(c->fd, c->rx + c->len, sizeof(c->rx) - 1 - c->len,
		    MSG_DONTWAIT);
		if (n > 0) {
			c->len += (size_t)n;
			c->rx[c->len] = '\0';
			if (c->t_250 == 0 &&
			    strstr(c->rx, "250 2.0.0 Ok: report") != NULL)
				c->t_250 = t;
			if (c->t_421 == 0 && (strncmp(c->rx, "421 ", 4) == 0 ||
			    strstr(c->rx, "\n421 ") != NULL))
				c->t_421 = t;
			if (c->len + 1 < sizeof(c->rx))
				continue;
		}
		if (n == 0 || (n < 0 && errno != EAGAIN &&
		    errno != EWOULDBLOCK) || c->len + 1 >= sizeof(c->rx)) {
			c->eof = true;
			c->t_eof = t;
			event_del(c->ev);
			if (c->noop != NULL)
				event_del(c->noop);
		}
		return;
	}
}

/* A socket for client i, not connected yet (made before the descriptor
 * limit is lowered in test_accept_emfile). */
static struct client *
client_new(struct fx *f, int i)
{
	struct client *c = &f->c[i];

	memset(c, 0, sizeof(*c));
	c->fx = f;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(c->fd >= 0);
	c->ev = event_new(f->base, c->fd, EV_READ | EV_PERSIST,
	    client_read_cb, c);
	assert_non_null(c->ev);
	return c;
}

/* Connects client c, from src (a 127/8 address) when given. */
static void
client_connect(struct fx *f, struct client *c, const char *src)
{
	struct sockaddr_in sa;

	if (src != NULL) {
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, src, &sa.sin_addr), 1);
		assert_int_equal(bind(c->fd, (struct sockaddr *)&sa,
		    sizeof(sa)), 0);
	}
	c->t0 = now();
	if (connect(c->fd, (struct sockaddr *)&f->addr, sizeof(f->addr))
	    == -1)
		assert_int_equal(errno, EINPROGRESS);
	assert_int_equal(event_add(c->ev, NULL), 0);
}

static struct client *
client_open(struct fx *f, int i, const char *src)
{
	struct client *c = client_new(f, i);

	client_connect(f, c, src);
	return c;
}

/* Sends s (a blocking write is fine: a few bytes, the server reads). */
static void
client_send(struct client *c, const char *s)
{
	size_t len = strlen(s);

	assert_int_equal(send(c->fd, s, len, MSG_NOSIGNAL), (ssize_t)len);
}

static void
noop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;

	if (!c->eof)
		(void)send(c->fd, "NOOP\r\n", 6, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Runs the loop for secs seconds, or until done(f) (checked every
 * 10 ms) when given. */
static void
run(struct fx *f, double secs, bool (*done)(struct fx *))
{
	struct timeval slice = { 0, 10000 };
	double end = now() + secs;

	while (now() < end) {
		event_base_loopexit(f->base, &slice);
		event_base_dispatch(f->base);
		if (done != NULL && done(f))
			return;
	}
}

/* The number of "\r\n"-ended lines of c that begin with prefix. */
static unsigned
count_lines(const struct client *c, const char *prefix)
{
	unsigned n = 0;
	size_t pl = strlen(prefix);

	for (const char *p = c->rx; *p != '\0';) {
		const char *eol = strstr(p, "\r\n");

		if (eol == NULL)
			break;
		if ((size_t)(eol - p) >= pl && strncmp(p, prefix, pl) == 0)
			n++;
		p = eol + 2;
	}
	return n;
}

/* The last complete line of c, without its CRLF. */
static const char *
last_line(const struct client *c, char *buf, size_t size)
{
	const char *end, *start;

	buf[0] = '\0';
	if (c->len < 2 || strcmp(c->rx + c->len - 2, "\r\n") != 0)
		return buf;
	end = c->rx + c->len - 2;
	for (start = end; start > c->rx && start[-1] != '\n'; start--)
		;
	snprintf(buf, size, "%.*s", (int)(end - start), start);
	return buf;
}

/* --- a. the session's lifetime -------------------------------------------- */

static bool
c0_eof(struct fx *f)
{
	return f->c[0].eof;
}

static void
test_session_lifetime_chatty(void **state)
{
	struct fx f = { 0 };
	struct timeval every = { 0, 300000 };
	struct client *c;
	char last[256];

	f.cfg.session_seconds = 1;	/* the command timeout stays 300 */
	fx_start(&f);
	c = client_open(&f, 0, NULL);
	c->noop = event_new(f.base, -1, EV_PERSIST, noop_cb, c);
	assert_non_null(c->noop);
	assert_int_equal(evtimer_add(c->noop, &every), 0);
	run(&f, 10.0, c0_eof);		/* a hang guard: it ends at once */

	print_message("chatty session: 421 at %.2f s, closed at %.2f s, "
	    "%u NOOPs answered\n", c->t_421, c->t_eof,
	    count_lines(c, "250 2.0.0 Ok"));
	assert_true(strncmp(c->rx, "220 " HOST " ", 4 + strlen(HOST) + 1)
	    == 0);
	/* Never idle: its NOOPs (0.3, 0.6, 0.9 s) were answered. */
	assert_true(count_lines(c, "250 2.0.0 Ok") >= 2);
	assert_string_equal(last_line(c, last, sizeof(last)),
	    "421 4.4.2 " HOST " Error: session too long, closing");
	assert_true(c->eof);
	/* Not before its life was over; closed after the 421. */
	assert_true(c->t_421 >= 0.9);
	assert_true(c->t_eof >= c->t_421);
	assert_int_equal(smtp_server_connections(f.srv), 0);
	fx_stop(&f);
}

static void
test_session_lifetime_pending_delivery(void **state)
{
	struct fx f = { 0 };
	struct client *c;
	const char *r250, *r421;
	char last[256];

	f.cfg.session_seconds = 1;
	f.answer_at = 1.5;	/* the message is in at once: about 1.5 s */
	fx_start(&f);
	c = client_open(&f, 0, NULL);
	run(&f, 0.05, NULL);
	client_send(c, "EHLO client.test\r\nMAIL FROM:<a@client.test>\r\n"
	    "RCPT TO:<tlsrpt+abc@" HOST ">\r\nDATA\r\n"
	    "Subject: a report\r\n\r\nhello\r\n.\r\n");
	run(&f, 10.0, c0_eof);		/* a hang guard */

	print_message("pending delivery: 250 at %.2f s, 421 at %.2f s, "
	    "closed at %.2f s\n", c->t_250, c->t_421, c->t_eof);
	assert_int_equal(f.ndeliver, 1);
	assert_int_equal(f.ncancel, 0);	/* never cut off */
	r250 = strstr(c->rx, "250 2.0.0 Ok: report stored\r\n");
	r421 = strstr(c->rx, "421 4.4.2 " HOST " Error: session too long, "
	    "closing\r\n");
	assert_non_null(r250);
	assert_non_null(r421);
	assert_true(r250 < r421);	/* the answer first */
	assert_string_equal(last_line(c, last, sizeof(last)),
	    "421 4.4.2 " HOST " Error: session too long, closing");
	/* The answer came from the timer, past the 1 s life. */
	assert_true(c->t_250 >= 1.4);
	assert_true(c->t_421 >= c->t_250);
	assert_true(c->eof);
	assert_int_equal(smtp_server_connections(f.srv), 0);
	fx_stop(&f);
}

/* --- b. accept failing for want of descriptors ------------------------ */

static double
cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static bool
c012_greeted(struct fx *f)
{
	for (int i = 0; i < 3; i++)
		if (f->c[i].fd < 0 || strncmp(f->c[i].rx, "220 ", 4) != 0)
			return false;
	return true;
}

static bool
c01_greeted(struct fx *f)
{
	return strncmp(f->c[0].rx, "220 ", 4) == 0 &&
	    strncmp(f->c[1].rx, "220 ", 4) == 0;
}

/* The descriptor limit as it was, restored after test_accept_emfile
 * even when an assertion cut it short. */
static struct rlimit nofile_saved;
static bool nofile_lowered;

static int
nofile_restore(void **state)
{
	if (nofile_lowered && setrlimit(RLIMIT_NOFILE, &nofile_saved) == 0)
		nofile_lowered = false;
	return nofile_lowered ? -1 : 0;
}

static void
test_accept_emfile(void **state)
{
	struct fx f = { 0 };
	struct rlimit low;
	int spare[3], lowest;
	double cpu;
	unsigned conns_paused, nlog_paused;
	bool greeted_paused;

	fx_start(&f);
	/* Everything the test needs later, made while it can be. */
	for (int i = 0; i < 3; i++)
		client_new(&f, i);
	for (int i = 0; i < 3; i++)
		assert_true((spare[i] = open("/dev/null", O_RDONLY |
		    O_CLOEXEC)) >= 0);
	/* No descriptor below the limit is free: accept gets EMFILE. */
	assert_true((lowest = dup(0)) >= 0);
	close(lowest);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &nofile_saved), 0);
	low = nofile_saved;
	low.rlim_cur = (rlim_t)lowest;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	nofile_lowered = true;
	errno = 0;
	if ((lowest = dup(0)) != -1 || errno != EMFILE)
		fail_msg("lowered RLIMIT_NOFILE, but dup gave %d (%s)",
		    lowest, strerror(errno));

	/* Two clients connect (the kernel completes the handshake into
	 * the backlog), and the loop runs for a second. */
	client_connect(&f, &f.c[0], NULL);
	client_connect(&f, &f.c[1], NULL);
	cpu = cpu_seconds();
	run(&f, 1.0, NULL);
	cpu = cpu_seconds() - cpu;
	conns_paused = smtp_server_connections(f.srv);
	nlog_paused = f.nlog;
	greeted_paused = f.c[0].len > 0 || f.c[1].len > 0;

	/* Some descriptors come free: the waiting clients are served
	 * within a pause, and a new one too. */
	for (int i = 0; i < 3; i++)
		close(spare[i]);
	run(&f, 2.0, c01_greeted);
	client_connect(&f, &f.c[2], NULL);
	run(&f, 2.0, c012_greeted);
	assert_int_equal(nofile_restore(state), 0);

	print_message("accept at EMFILE: %.3f s of CPU in 1 s, %u log "
	    "line(s): %s\n", cpu, nlog_paused, f.nlog ? f.log[0] : "-");
	assert_true(cpu < 0.5);		/* paused, not spinning */
	assert_int_equal(conns_paused, 0);
	assert_false(greeted_paused);
	assert_true(nlog_paused >= 1 && nlog_paused <= 3);
	assert_non_null(strstr(f.log[0], "accept"));
	assert_non_null(strstr(f.log[0], strerror(EMFILE)));
	assert_non_null(strstr(f.log[0], "pausing"));
	assert_true(f.nlog <= 3);
	for (int i = 0; i < 3; i++) {
		if (strncmp(f.c[i].rx, "220 " HOST " ", 4 + strlen(HOST) + 1)
		    != 0)
			fail_msg("client %d after the pause: [%s]", i,
			    f.c[i].rx);
	}
	assert_int_equal(smtp_server_connections(f.srv), 3);
	fx_stop(&f);
}

/* --- c. connections per client, through the config's peers ---------- */

/* Client f->want has a complete line or is closed. */
static bool
want_answered(struct fx *f)
{
	const struct client *c = &f->c[f->want];

	return strstr(c->rx, "\r\n") != NULL || c->eof;
}

static bool
want_eof(struct fx *f)
{
	return f->c[f->want].eof;
}

static bool
two_left(struct fx *f)
{
	return smtp_server_connections(f->srv) == 2;
}

static void
expect_greeting(const struct client *c, int i)
{
	if (strncmp(c->rx, "220 " HOST " ", 4 + strlen(HOST) + 1) != 0 ||
	    c->eof)
		fail_msg("client %d: [%s]%s", i, c->rx, c->eof ? " closed" :
		    "");
}

static void
test_conn_per_client(void **state)
{
	struct fx f = { 0 };
	struct peers *ps = peers_new(SIZE_MAX, SIZE_MAX);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct peer *p;
	static const char *const from[] = { "127.0.0.1", "127.0.0.1",
	    "127.0.0.1", "127.0.0.2" };

	assert_non_null(ps);
	f.cfg.session.peers = ps;
	f.cfg.max_conn_per_client = 2;
	fx_start(&f);
	/* One at a time, each answered before the next connects. */
	for (int i = 0; i < 4; i++) {
		client_open(&f, i, from[i]);
		f.want = i;
		run(&f, 2.0, i == 2 ? want_eof : want_answered);
	}
	expect_greeting(&f.c[0], 0);
	expect_greeting(&f.c[1], 1);
	assert_string_equal(f.c[2].rx, "421 4.7.0 " HOST " Error: too many "
	    "connections from your address, try again later\r\n");
	assert_true(f.c[2].eof);
	expect_greeting(&f.c[3], 3);	/* another client */
	assert_int_equal(smtp_server_connections(f.srv), 3);
	assert_int_equal(f.nlog, 1);
	assert_string_equal(f.log[0], "127.0.0.1: refused: too many "
	    "connections from this address");

	/* One of 127.0.0.1's leaves: its slot is given back. */
	client_close(&f.c[0]);
	run(&f, 2.0, two_left);
	assert_int_equal(smtp_server_connections(f.srv), 2);
	client_open(&f, 4, "127.0.0.1");
	f.want = 4;
	run(&f, 2.0, want_answered);
	expect_greeting(&f.c[4], 4);
	fx_stop(&f);

	/* Stopped: 127.0.0.1 holds no connection in the table. */
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	p = peers_join(ps, (struct sockaddr *)&sa, PEER_SMTP, 1);
	assert_non_null(p);
	peers_leave(ps, p, PEER_SMTP);
	assert_int_equal(peers_bytes(ps), 0);
	peers_free(ps);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session_lifetime_chatty),
		cmocka_unit_test(test_session_lifetime_pending_delivery),
		cmocka_unit_test_teardown(test_accept_emfile, nofile_restore),
		cmocka_unit_test(test_conn_per_client),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
