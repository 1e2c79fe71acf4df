/*
 * smtp.h - the ESMTP listener for e-mailed TLS-RPT reports (RFC 5321,
 * RFC 3207 STARTTLS, RFC 1870 SIZE, RFC 2920 PIPELINING, RFC 6152
 * 8BITMIME, RFC 2034 ENHANCEDSTATUSCODES).
 *
 * Two layers:
 *   smtp_session_*  a pure state machine (smtp_session.c): bytes in,
 *                   replies out, hooks called; no sockets, no clock, so
 *                   unit tests and the fuzzer drive it directly;
 *   smtp_server_*   the I/O layer (smtp_server.c): a libevent listener
 *                   that feeds sessions from sockets, does TLS after
 *                   STARTTLS and enforces timeouts and connection limits.
 *
 * It is a final destination, never a relay: every recipient goes through
 * the rcpt hook, and the hook accepts only the service's own report
 * addresses (smtp_report_address() parses them).
 */
#ifndef STSGUARD_SMTP_H
#define STSGUARD_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/err.h"
#include "../lib/limits.h"
#include "../lib/peer.h"

struct smtp_delivery;

/* ------------------------------------------------------------------ */
/* Hooks: what the daemon plugs in (the store, the domain table).      */

/* The envelope of the current transaction, borrowed for the duration of
 * a hook call. */
struct smtp_envelope {
	const char	 *client;	/* peer address, "192.0.2.1" */
	const char	 *helo;		/* HELO/EHLO argument */
	bool		  tls;		/* STARTTLS done */
	const char	 *mail_from;	/* reverse-path without <>, "" for <> */
	const char *const *rcpt;	/* accepted forward-paths, without <> */
	size_t		  nrcpt;
	struct smtp_delivery *delivery;	/* deliver hook only: this
					 * connection's slot for an answer
					 * given later (SMTP_DELIVER_PENDING);
					 * NULL when the session runs without
					 * the I/O layer */
	/* Deliver hook only: the message's buffer (malloc'd; msg lies in
	 * it; NULL for an empty message) and the bytes reserved for it in
	 * the session's peers for peer (0 without a budget). A hook that
	 * answers later may take the buffer instead of copying msg: it
	 * sets *msg_buf = NULL and *msg_held = 0, then frees the buffer
	 * and gives the bytes back (peers_give) itself. */
	uint8_t		**msg_buf;
	size_t		 *msg_held;
	struct peer	 *peer;		/* rcpt and deliver hooks: the client's
					 * entry in the session's peers, or
					 * NULL */
	char		 *reason;	/* rcpt hook only: SMTP_REASON_LEN
					 * bytes for the reason sent with
					 * SMTP_RCPT_LIMITED */
};

/* A connection's slot for a delivery answered later. The I/O layer owns
 * it (one per connection) and lends it to the deliver hook in the
 * envelope. A hook that returns SMTP_DELIVER_PENDING keeps the pointer,
 * stores its own handle for the work in job, and later passes the slot
 * to smtp_server_deliver_done(); if the connection goes first, the I/O
 * layer gives job to the deliver_cancel hook instead, and the slot must
 * not be used again. */
struct smtp_delivery {
	void	*io;		/* the I/O layer's (its connection) */
	void	*job;		/* the hook's, while a delivery is pending;
				 * NULL otherwise */
};

enum smtp_rcpt_result {
	SMTP_RCPT_ACCEPT = 0,	/* 250 2.1.5 */
	SMTP_RCPT_REFUSE = 1,	/* 550 5.7.1 not a report address here */
	SMTP_RCPT_TEMPFAIL = 2,	/* 451 4.3.0 (the domain table is not
				 * available right now) */
	SMTP_RCPT_LIMITED = 3,	/* 450 4.7.1 <addr>: <reason>: the client
				 * is over a limit of ours; the hook
				 * writes the reason (when to come back)
				 * into env->reason */
};

enum smtp_deliver_result {
	SMTP_DELIVER_STORED = 0,	/* committed durably: 250 2.0.0 */
	SMTP_DELIVER_DUPLICATE = 1,	/* already stored: 250 2.0.0 too, so
					 * the sender stops retrying */
	SMTP_DELIVER_TEMPFAIL = 2,	/* not stored, try later: 451 4.3.0 */
	SMTP_DELIVER_NO_REPORT = 3,	/* no valid report in the message;
					 * the hook has quarantined the raw
					 * message: 554 5.6.0 <reason> */
	SMTP_DELIVER_PENDING = 4,	/* the hook took the message and
					 * answers later with one of the
					 * above (smtp_server_deliver_done,
					 * or smtp_session_deliver_done for
					 * a session driven directly) */
};

#define SMTP_REASON_LEN 200

struct smtp_hooks {
	void	*arg;	/* passed to every hook */

	/* Decides one RCPT TO. addr is the forward-path without <>, as
	 * sent (case kept); env->rcpt holds the recipients accepted so far
	 * in this transaction. Must be fast (an in-memory table lookup, a
	 * counter): typically smtp_report_address() then a token lookup,
	 * and a rate check (SMTP_RCPT_LIMITED: plain ASCII reason, no
	 * CR/LF; it is sanitised anyway). */
	enum smtp_rcpt_result (*rcpt)(void *arg,
	    const struct smtp_envelope *env, const char *addr);

	/* Delivers one message (msg: len bytes, dot-unstuffed, lines as
	 * received, borrowed until the hook returns, like env) for env's
	 * accepted recipients. A 250 tells the sender to delete its copy,
	 * so STORED must mean "committed and synced". On NO_REPORT or
	 * TEMPFAIL the hook may write a one-line reason (plain ASCII, no
	 * CR/LF; it is sanitised anyway) into reason[SMTP_REASON_LEN],
	 * sent after the status code.
	 *
	 * A hook whose work takes long (the daemon's: a commit with a sync,
	 * done by the intake writer thread) copies what it needs, returns
	 * SMTP_DELIVER_PENDING and answers later through env->delivery.
	 * Meanwhile the session consumes no input (whatever the client
	 * pipelined after the final "." waits, unread by the I/O layer)
	 * and no client timeout runs: the wait is ours. A hook may also
	 * answer at once (a quarantined message, a failure): both kinds
	 * mix freely. */
	enum smtp_deliver_result (*deliver)(void *arg,
	    const struct smtp_envelope *env, const uint8_t *msg, size_t len,
	    char *reason);

	/* Required when deliver may return SMTP_DELIVER_PENDING: the
	 * connection whose delivery is pending is going away (client gone,
	 * write timeout, server stopped); job is what the hook put in
	 * env->delivery->job. The hook must forget the slot (the work may
	 * go on; its answer is dropped). Runs on the hooks' thread. */
	void	(*deliver_cancel)(void *arg, void *job);

	/* Optional: one line about the session for the log ("client
	 * 192.0.2.1: 550 relay refused for <x@y>"). Text is sanitised. */
	void	(*log)(void *arg, const char *client, const char *line);
};

/* Parses a report address "tlsrpt+<token>[+tag...]@<service_host>",
 * case-insensitively on the local-part prefix and the domain (a trailing
 * dot on the domain is allowed). The token is 1..STORE_TOKEN_LEN-ish
 * letters and digits (at most tokensize-1 of them); it is copied, lower
 * case, into token. Returns true when addr is such an address. Pure. */
bool	smtp_report_address(const char *addr, const char *service_host,
	    char *token, size_t tokensize);

/* ------------------------------------------------------------------ */
/* The session state machine.                                          */

struct smtp_config {
	const char *hostname;	/* our name in greetings and replies */
	size_t	    max_message;/* SIZE, bytes; 0: LIMIT_SMTP_MESSAGE_BYTES */
	unsigned    max_rcpt;	/* 0: LIMIT_SMTP_RCPTS */
	unsigned    max_errors;	/* 0: LIMIT_SMTP_ERRORS */
	unsigned    max_junk;	/* 0: LIMIT_SMTP_JUNK_COMMANDS */
	bool	    starttls;	/* offer STARTTLS (the I/O layer has a
				 * TLS context) */
	struct peers *peers;	/* message bytes are reserved here, for the
				 * session's peer, as they arrive (NULL: no
				 * budget); past the client's share or the
				 * total the rest of the message is read and
				 * dropped, and answered 452 */
};

/* What the I/O layer must do after smtp_session_feed(), bit flags. In
 * every case it first sends the pending output (smtp_session_output). */
enum smtp_action {
	SMTP_ACT_NONE = 0,
	SMTP_ACT_STARTTLS = 1,	/* then start a TLS server handshake on the
				 * connection and call smtp_session_tls_done
				 * when it succeeded (close if it failed) */
	SMTP_ACT_CLOSE = 2,	/* then close the connection */
};

struct smtp_session;

/* Creates a session for a client (address string, copied) and queues the
 * 220 greeting. cfg and hooks are borrowed and must outlive the session.
 * Returns NULL when out of memory. */
struct smtp_session *smtp_session_new(const struct smtp_config *cfg,
	    const struct smtp_hooks *hooks, const char *client);
void	smtp_session_free(struct smtp_session *s);

/* Feeds len bytes received from the client (any split: half lines,
 * several pipelined commands, a whole message). A partial line is kept
 * inside, bounded by LIMIT_SMTP_CMD_LINE in command mode and by the
 * message size in DATA. Replies are appended to the output; hooks are
 * called as commands complete. Sets *consumed to the bytes taken: all of
 * them, except when the queued output passed LIMIT_SMTP_OUTBUF (a client
 * pipelining more than it reads: write the output, then feed the rest
 * again), when a STARTTLS or close action stopped the session, or when
 * the deliver hook left the message pending (then *consumed ends just
 * after the final "." line: feed the rest again after
 * smtp_session_deliver_done; until then nothing is consumed).
 * Returns the SMTP_ACT_* bits. After SMTP_ACT_CLOSE, and between
 * SMTP_ACT_STARTTLS and smtp_session_tls_done(), input is ignored.
 *
 * STARTTLS followed by more bytes in the same buf (commands injected in
 * plaintext, CVE-2011-0411) is refused with 554 and SMTP_ACT_CLOSE, so
 * the I/O layer must pass everything it has read in one call. */
unsigned smtp_session_feed(struct smtp_session *s, const uint8_t *buf,
	    size_t len, size_t *consumed);

/* The replies queued so far (*len bytes at the returned pointer, valid
 * until the next call on s); smtp_session_output_consumed() drops n of
 * them once written. */
const char *smtp_session_output(struct smtp_session *s, size_t *len);
void	smtp_session_output_consumed(struct smtp_session *s, size_t n);

/* TLS is up after SMTP_ACT_STARTTLS: the session forgets the client's
 * HELO and any transaction (RFC 3207 §4.2) and stops offering STARTTLS. */
void	smtp_session_tls_done(struct smtp_session *s);

/* Queues "421 4.4.2 <host> <why>, closing" (why: "timeout", ...) and
 * marks the session closed; the I/O layer flushes and closes. */
void	smtp_session_abort(struct smtp_session *s, const char *why);

/* True while the client is sending message text (after 354): the I/O
 * layer then applies the DATA timeout instead of the command timeout. */
bool	smtp_session_in_data(const struct smtp_session *s);

/* The client's entry in cfg->peers, which message bytes are reserved
 * for (the I/O layer calls it once, after smtp_session_new; borrowed,
 * must outlive the session). Without it there is no budget. */
void	smtp_session_set_peer(struct smtp_session *s, struct peer *p);

/* Sets the slot put in every envelope's delivery field (the I/O layer
 * calls it once, after smtp_session_new). dv is borrowed and must
 * outlive the session. */
void	smtp_session_set_delivery(struct smtp_session *s,
	    struct smtp_delivery *dv);

/* True while a delivery is pending (the deliver hook returned
 * SMTP_DELIVER_PENDING): smtp_session_feed() consumes nothing until
 * smtp_session_deliver_done(). */
bool	smtp_session_delivering(const struct smtp_session *s);

/* Ends the pending delivery with res (STORED, DUPLICATE, TEMPFAIL or
 * NO_REPORT; anything else counts as TEMPFAIL) and reason (may be NULL;
 * sanitised), queues its reply (250, 451 or 554, as a synchronous
 * answer would) and lets smtp_session_feed() go on with the input that
 * followed the message. Does nothing when no delivery is pending (the
 * session was aborted meanwhile, say). */
void	smtp_session_deliver_done(struct smtp_session *s,
	    enum smtp_deliver_result res, const char *reason);

/* ------------------------------------------------------------------ */
/* The I/O layer.                                                       */

struct event_base;
struct ssl_ctx_st;		/* OpenSSL's SSL_CTX */

struct smtp_server_config {
	struct smtp_config session;	/* hostname is required */
	unsigned cmd_timeout;	/* seconds; 0: LIMIT_SMTP_CMD_TIMEOUT */
	unsigned data_timeout;	/* seconds; 0: LIMIT_SMTP_DATA_TIMEOUT */
	unsigned max_conn;	/* 0: LIMIT_SMTP_CONNECTIONS */
	unsigned max_conn_per_client; /* per client (an IPv4 address, an
				 * IPv6 /64) in session.peers, process-wide;
				 * 0: LIMIT_SMTP_CONN_PER_CLIENT */
	unsigned session_seconds; /* a session's whole life, seconds; 0:
				 * LIMIT_SMTP_SESSION_SECONDS */
};

struct smtp_server;

/* Starts accepting SMTP connections on listen_fd (a bound, listening TCP
 * socket; made non-blocking; NOT closed by us, so several worker threads
 * may each start a server on the same fd or on their own SO_REUSEPORT
 * fds) in the caller's event loop base. starttls_ctx (may be NULL: no
 * STARTTLS) is the service certificate's server context; it is borrowed
 * and must outlive the server. hooks and cfg are copied (hooks->arg and
 * cfg->session.hostname are borrowed). Hooks run on base's thread.
 * Returns the server, or NULL with the reason in e. Everything else
 * happens in base's thread: call smtp_server_stop() there too. */
struct smtp_server *smtp_server_start(struct event_base *base,
	    int listen_fd, struct ssl_ctx_st *starttls_ctx,
	    const struct smtp_hooks *hooks,
	    const struct smtp_server_config *cfg, struct err *e);

/* Stops accepting, closes every connection of this server (without a
 * reply: call it at shutdown, after the loop stopped) and frees it. */
void	smtp_server_stop(struct smtp_server *srv);

/* Answers a delivery the deliver hook left pending, on the server's
 * thread: queues the reply (smtp_session_deliver_done), sends it, goes
 * on with the commands the client pipelined behind the message, and
 * reads again. dv is the slot the hook got in env->delivery; it must
 * not have been cancelled (deliver_cancel). The connection may be
 * closed and freed before this returns (a pipelined QUIT, an error):
 * do not touch dv afterwards. */
void	smtp_server_deliver_done(struct smtp_delivery *dv,
	    enum smtp_deliver_result res, const char *reason);

/* Shutting down, first step: stops accepting; open sessions go on.
 * Then wait while smtp_server_busy(), and call smtp_server_stop(). */
void	smtp_server_drain(struct smtp_server *srv);
/* Sessions whose message is being delivered (the deliver hook's answer
 * is pending) or whose reply is not yet sent: what a graceful shutdown
 * waits for. */
unsigned smtp_server_busy(const struct smtp_server *srv);

/* Connections currently open on srv (for tests and metrics). */
unsigned smtp_server_connections(const struct smtp_server *srv);

#endif
