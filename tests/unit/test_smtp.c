/*
 * test_smtp.c - the ESMTP state machine, driven with bytes (RFC 5321,
 * RFC 3207, RFC 1870, RFC 2920), no sockets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/smtp.h"

#define HOST "stshost.test"

struct rec {
	enum smtp_deliver_result result;
	const char *reason;
	int	 ndeliver;
	uint8_t *msg;
	size_t	 len;
	char	 from[300];
	size_t	 nrcpt;
	char	 rcpt0[300];
	bool	 tls;
	struct smtp_delivery *delivery;	/* env->delivery of the last call */
};

static enum smtp_rcpt_result
rcpt_hook(void *arg, const struct smtp_envelope *env, const char *addr)
{
	char token[33];

	if (!smtp_report_address(addr, HOST, token, sizeof(token)))
		return SMTP_RCPT_REFUSE;
	if (strcmp(token, "tempfail") == 0)
		return SMTP_RCPT_TEMPFAIL;
	if (strcmp(token, "limited") == 0) {
		/* Control bytes in a reason never reach the wire. */
		snprintf(env->reason, SMTP_REASON_LEN, "over %zu\r\n250 ok",
		    env->nrcpt);
		return SMTP_RCPT_LIMITED;
	}
	if (strcmp(token, "limitednoreason") == 0)
		return SMTP_RCPT_LIMITED;
	return SMTP_RCPT_ACCEPT;
}

static enum smtp_deliver_result
deliver_hook(void *arg, const struct smtp_envelope *env, const uint8_t *msg,
    size_t len, char *reason)
{
	struct rec *r = arg;

	r->ndeliver++;
	free(r->msg);
	r->msg = malloc(len + 1);
	assert_non_null(r->msg);
	memcpy(r->msg, msg, len);
	r->msg[len] = '\0';
	r->len = len;
	snprintf(r->from, sizeof(r->from), "%s", env->mail_from);
	r->nrcpt = env->nrcpt;
	snprintf(r->rcpt0, sizeof(r->rcpt0), "%s",
	    env->nrcpt ? env->rcpt[0] : "");
	r->tls = env->tls;
	r->delivery = env->delivery;
	if (r->reason != NULL)
		snprintf(reason, SMTP_REASON_LEN, "%s", r->reason);
	return r->result;
}

struct fx {
	struct rec	    rec;
	struct smtp_hooks   hooks;
	struct smtp_config  cfg;
	struct smtp_session *s;
	char		   *out;	/* all output so far */
	size_t		    outlen;
	unsigned	    act;
	size_t		    consumed;	/* by the last fx_send */
};

static void
fx_drain(struct fx *f)
{
	const char *o;
	size_t n;

	o = smtp_session_output(f->s, &n);
	f->out = realloc(f->out, f->outlen + n + 1);
	assert_non_null(f->out);
	memcpy(f->out + f->outlen, o, n);
	f->outlen += n;
	f->out[f->outlen] = '\0';
	smtp_session_output_consumed(f->s, n);
}

static struct fx *
fx_new(size_t max_message, bool starttls)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->hooks.arg = &f->rec;
	f->hooks.rcpt = rcpt_hook;
	f->hooks.deliver = deliver_hook;
	f->cfg.hostname = HOST;
	f->cfg.max_message = max_message;
	f->cfg.starttls = starttls;
	f->s = smtp_session_new(&f->cfg, &f->hooks, "192.0.2.1");
	assert_non_null(f->s);
	fx_drain(f);
	assert_string_equal(f->out, "220 " HOST
	    " ESMTP stsguard TLS-RPT intake\r\n");
	f->outlen = 0;
	f->out[0] = '\0';
	return f;
}

static void
fx_free(struct fx *f)
{
	smtp_session_free(f->s);
	free(f->rec.msg);
	free(f->out);
	free(f);
}

/* Feeds s, returns the output it produced (owned by f until the next
 * call). */
static const char *
fx_send(struct fx *f, const char *in)
{
	f->outlen = 0;
	if (f->out != NULL)
		f->out[0] = '\0';
	f->act = smtp_session_feed(f->s, (const uint8_t *)in, strlen(in),
	    &f->consumed);
	fx_drain(f);
	return f->out;
}

static void
fx_ehlo(struct fx *f)
{
	assert_non_null(strstr(fx_send(f, "EHLO mail.example.test\r\n"),
	    "250 ENHANCEDSTATUSCODES\r\n"));
}

static void
test_ehlo_extensions(void **state)
{
	struct fx *f = fx_new(1000, true);

	assert_string_equal(fx_send(f, "EHLO mail.example.test\r\n"),
	    "250-" HOST " greets mail.example.test\r\n"
	    "250-PIPELINING\r\n"
	    "250-SIZE 1000\r\n"
	    "250-8BITMIME\r\n"
	    "250-STARTTLS\r\n"
	    "250 ENHANCEDSTATUSCODES\r\n");
	assert_string_equal(fx_send(f, "HELO x\r\n"), "250 " HOST "\r\n");
	assert_string_equal(fx_send(f, "EHLO\r\n"),
	    "501 5.5.4 Syntax: EHLO hostname\r\n");
	fx_free(f);

	f = fx_new(0, false);
	assert_null(strstr(fx_send(f, "ehlo x\r\n"), "STARTTLS"));
	assert_non_null(strstr(f->out, "250-SIZE 8388608\r\n"));
	assert_string_equal(fx_send(f, "STARTTLS\r\n"),
	    "502 5.5.1 Error: STARTTLS not available\r\n");
	fx_free(f);
}

static void
test_out_of_order(void **state)
{
	struct fx *f = fx_new(0, true);

	assert_string_equal(fx_send(f, "MAIL FROM:<a@b.test>\r\n"),
	    "503 5.5.1 Error: send HELO/EHLO first\r\n");
	assert_string_equal(fx_send(f, "STARTTLS\r\n"),
	    "503 5.5.1 Error: send EHLO first\r\n");
	fx_ehlo(f);
	assert_string_equal(fx_send(f, "RCPT TO:<tlsrpt+abc@" HOST ">\r\n"),
	    "503 5.5.1 Error: need MAIL command\r\n");
	assert_string_equal(fx_send(f, "DATA\r\n"),
	    "503 5.5.1 Error: need MAIL command\r\n");
	assert_string_equal(fx_send(f, "MAIL FROM:<>\r\n"), "250 2.1.0 Ok\r\n");
	assert_string_equal(fx_send(f, "MAIL FROM:<>\r\n"),
	    "503 5.5.1 Error: nested MAIL command\r\n");
	assert_string_equal(fx_send(f, "DATA\r\n"),
	    "554 5.5.1 Error: no valid recipients\r\n");
	assert_string_equal(fx_send(f, "STARTTLS\r\n"),
	    "503 5.5.1 Error: MAIL transaction in progress\r\n");
	assert_string_equal(fx_send(f, "RSET\r\n"), "250 2.0.0 Ok\r\n");
	assert_string_equal(fx_send(f, "RCPT TO:<tlsrpt+abc@" HOST ">\r\n"),
	    "503 5.5.1 Error: need MAIL command\r\n");
	assert_string_equal(fx_send(f, "FOO\r\n"),
	    "500 5.5.2 Error: command not recognized\r\n");
	assert_int_equal(f->rec.ndeliver, 0);
	fx_free(f);
}

static void
test_report_address(void **state)
{
	char tok[33];

	assert_true(smtp_report_address("tlsrpt+abc123@stshost.test",
	    "stshost.test", tok, sizeof(tok)));
	assert_string_equal(tok, "abc123");
	assert_true(smtp_report_address("TLSRPT+AbC123@StsHost.TEST.",
	    "stshost.test", tok, sizeof(tok)));
	assert_string_equal(tok, "abc123");
	assert_true(smtp_report_address("tlsrpt+abc+google+x@stshost.test",
	    "stshost.test.", tok, sizeof(tok)));
	assert_string_equal(tok, "abc");
	assert_false(smtp_report_address("tlsrpt@stshost.test",
	    "stshost.test", tok, sizeof(tok)));
	assert_false(smtp_report_address("tlsrpt+@stshost.test",
	    "stshost.test", tok, sizeof(tok)));
	assert_false(smtp_report_address("tlsrpt++x@stshost.test",
	    "stshost.test", tok, sizeof(tok)));
	assert_false(smtp_report_address("tlsrpt+abc@other.test",
	    "stshost.test", tok, sizeof(tok)));
	assert_false(smtp_report_address("tlsrpt+abc@sub.stshost.test",
	    "stshost.test", tok, sizeof(tok)));
	assert_false(smtp_report_address("tlsrpt+abc@stshost.test.evil",
	    "stshost.test", tok, sizeof(tok)));
	assert_false(smtp_report_address("tlsrpt+a-b@stshost.test",
	    "stshost.test", tok, sizeof(tok)));
	assert_false(smtp_report_address("tlsrpt+abcd@stshost.test",
	    "stshost.test", tok, 4));	/* token longer than the buffer */
	assert_false(smtp_report_address("xtlsrpt+abc@stshost.test",
	    "stshost.test", tok, sizeof(tok)));
	assert_false(smtp_report_address("tlsrpt+abc%other.test@stshost.test",
	    "stshost.test", tok, sizeof(tok)));
}

static void
test_relay_refused(void **state)
{
	struct fx *f = fx_new(0, false);

	fx_ehlo(f);
	fx_send(f, "MAIL FROM:<a@example.test>\r\n");
	assert_string_equal(fx_send(f, "RCPT TO:<victim@gmail.com>\r\n"),
	    "550 5.7.1 <victim@gmail.com>: Recipient address rejected: not a "
	    "TLS-RPT report address of this server, no relaying\r\n");
	assert_string_equal(fx_send(f, "RCPT TO:<tlsrpt+abc@" HOST
	    "@gmail.com>\r\n"), "550 5.7.1 <tlsrpt+abc@" HOST "@gmail.com>: "
	    "Recipient address rejected: not a TLS-RPT report address of "
	    "this server, no relaying\r\n");
	assert_string_equal(fx_send(f, "RCPT TO:<@relay.test:x@gmail.com>\r\n"),
	    "550 5.7.1 <x@gmail.com>: Recipient address rejected: not a "
	    "TLS-RPT report address of this server, no relaying\r\n");
	assert_string_equal(fx_send(f, "RCPT TO:<tlsrpt+tempfail@" HOST
	    ">\r\n"), "451 4.3.0 <tlsrpt+tempfail@" HOST ">: try again "
	    "later\r\n");
	/* A limit of the hook's: 450 4.7.1 with its reason, one line; the
	 * hook sees the recipients accepted so far (none). */
	assert_string_equal(fx_send(f, "RCPT TO:<tlsrpt+limited@" HOST
	    ">\r\n"), "450 4.7.1 <tlsrpt+limited@" HOST ">: over 0??250 ok"
	    "\r\n");
	assert_string_equal(fx_send(f, "RCPT TO:<tlsrpt+limitednoreason@" HOST
	    ">\r\n"), "450 4.7.1 <tlsrpt+limitednoreason@" HOST ">: try "
	    "again later\r\n");
	assert_string_equal(fx_send(f, "RCPT TO:victim@gmail.com\r\n"),
	    "501 5.1.3 Bad recipient address syntax: address must be in "
	    "angle brackets\r\n");
	assert_string_equal(fx_send(f, "RCPT TO:<tlsrpt+\xc3\xa9@" HOST
	    ">\r\n"), "501 5.1.3 Bad recipient address syntax: non-ASCII "
	    "address without SMTPUTF8\r\n");
	assert_string_equal(fx_send(f, "RCPT TO:<>\r\n"),
	    "501 5.1.3 Bad recipient address syntax: empty address\r\n");
	assert_string_equal(fx_send(f, "RCPT TO:<tlsrpt+abc@" HOST
	    "> NOTIFY=NEVER\r\n"), "555 5.5.4 Unsupported RCPT parameter\r\n");
	assert_string_equal(fx_send(f, "DATA\r\n"),
	    "554 5.5.1 Error: no valid recipients\r\n");
	assert_string_equal(fx_send(f, "RCPT TO:<TLSRPT+Abc+x@STSHOST.TEST>\r\n"),
	    "250 2.1.5 Ok\r\n");
	fx_free(f);
}

static const char msg_in[] =
    "From: r@example.test\r\n"
    "Subject: t\r\n"
    "\r\n"
    "..leading dot stuffed\r\n"
    "... three\r\n"
    ".\tx\r\n"
    "plain\r\n"
    ".\r\n";
static const char msg_out[] =
    "From: r@example.test\r\n"
    "Subject: t\r\n"
    "\r\n"
    ".leading dot stuffed\r\n"
    ".. three\r\n"
    "\tx\r\n"
    "plain\r\n";

static void
test_transaction(void **state)
{
	struct fx *f = fx_new(0, false);

	fx_ehlo(f);
	assert_string_equal(fx_send(f, "MAIL FROM:<noreply@example.test> "
	    "SIZE=300 BODY=8BITMIME\r\n"), "250 2.1.0 Ok\r\n");
	assert_string_equal(fx_send(f, "RCPT TO:<tlsrpt+abc@" HOST ">\r\n"),
	    "250 2.1.5 Ok\r\n");
	assert_string_equal(fx_send(f, "DATA\r\n"),
	    "354 End data with <CR><LF>.<CR><LF>\r\n");
	assert_true(smtp_session_in_data(f->s));
	assert_string_equal(fx_send(f, msg_in),
	    "250 2.0.0 Ok: report stored\r\n");
	assert_false(smtp_session_in_data(f->s));
	assert_int_equal(f->rec.ndeliver, 1);
	assert_string_equal((char *)f->rec.msg, msg_out);
	assert_string_equal(f->rec.from, "noreply@example.test");
	assert_int_equal(f->rec.nrcpt, 1);
	assert_string_equal(f->rec.rcpt0, "tlsrpt+abc@" HOST);
	/* A second transaction on the same session, duplicate this time. */
	f->rec.result = SMTP_DELIVER_DUPLICATE;
	assert_string_equal(fx_send(f, "MAIL FROM:<>\r\nRCPT TO:<tlsrpt+abc@"
	    HOST ">\r\nDATA\r\n"), "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
	    "354 End data with <CR><LF>.<CR><LF>\r\n");
	assert_string_equal(fx_send(f, ".\r\n"),
	    "250 2.0.0 Ok: duplicate report, already stored\r\n");
	assert_int_equal(f->rec.len, 0);
	assert_string_equal(f->rec.from, "");
	assert_string_equal(fx_send(f, "VRFY x\r\nNOOP\r\nHELP\r\nQUIT\r\n"),
	    "252 2.5.0 Cannot VRFY user, but will accept report addresses "
	    "in RCPT\r\n250 2.0.0 Ok\r\n"
	    "214-2.0.0 This server accepts TLS-RPT reports (RFC 8460) for "
	    "its own addresses only.\r\n"
	    "214 2.0.0 Commands: EHLO HELO STARTTLS MAIL RCPT DATA RSET "
	    "NOOP QUIT VRFY HELP\r\n"
	    "221 2.0.0 " HOST " Bye\r\n");
	assert_int_equal(f->act, SMTP_ACT_CLOSE);
	assert_string_equal(fx_send(f, "NOOP\r\n"), "");
	fx_free(f);
}

/* The same conversation fed one byte at a time gives the same replies
 * and the same message. */
static void
test_byte_by_byte(void **state)
{
	static const char conv[] = "EHLO x\r\nMAIL FROM:<a@b.test>\r\n"
	    "RCPT TO:<tlsrpt+t@" HOST ">\r\nDATA\r\n";
	struct fx *f = fx_new(0, false);
	char *all = NULL;
	size_t n = 0, consumed;

	for (int pass = 0; pass < 2; pass++) {
		const char *src = pass == 0 ? conv : msg_in;

		for (size_t i = 0; src[i] != '\0'; i++) {
			smtp_session_feed(f->s, (const uint8_t *)src + i, 1,
			    &consumed);
			assert_int_equal(consumed, 1);
		}
	}
	fx_drain(f);
	all = f->out;
	n = f->outlen;
	assert_true(n > 0);
	assert_non_null(strstr(all, "354 End data"));
	assert_non_null(strstr(all, "250 2.0.0 Ok: report stored\r\n"));
	assert_string_equal((char *)f->rec.msg, msg_out);
	fx_free(f);
}

static void
test_deliver_outcomes(void **state)
{
	struct fx *f = fx_new(0, false);
	const char *tx = "MAIL FROM:<a@b.test>\r\nRCPT TO:<tlsrpt+t@" HOST
	    ">\r\nDATA\r\n";

	fx_ehlo(f);
	f->rec.result = SMTP_DELIVER_TEMPFAIL;
	fx_send(f, tx);
	assert_string_equal(fx_send(f, "x\r\n.\r\n"), "451 4.3.0 Error: "
	    "cannot store the report now, try again later\r\n");
	f->rec.result = SMTP_DELIVER_NO_REPORT;
	f->rec.reason = "no application/tlsrpt part or *.json(.gz) "
	    "attachment in 1 MIME part\r\n\x01";
	fx_send(f, tx);
	assert_string_equal(fx_send(f, "x\r\n.\r\n"), "554 5.6.0 Error: "
	    "no application/tlsrpt part or *.json(.gz) attachment in 1 MIME "
	    "part???\r\n");
	assert_int_equal(f->rec.ndeliver, 2);
	fx_free(f);
}

/* An asynchronous delivery (SMTP_DELIVER_PENDING): nothing after the
 * final "." is consumed and no reply is queued until deliver_done; then
 * the reply comes first and the commands pipelined behind the message
 * are answered after it, in order. */
static void
test_deliver_pending(void **state)
{
	static const char tail[] = "RSET\r\nNOOP\r\nQUIT\r\n";
	static const char end[] = "x\r\n.\r\n";
	struct fx *f = fx_new(0, false);
	struct smtp_delivery dv = { 0 };
	char in[64];

	smtp_session_set_delivery(f->s, &dv);
	fx_ehlo(f);
	fx_send(f, "MAIL FROM:<a@b.test>\r\nRCPT TO:<tlsrpt+t@" HOST
	    ">\r\nDATA\r\n");
	f->rec.result = SMTP_DELIVER_PENDING;
	snprintf(in, sizeof(in), "%s%s", end, tail);
	assert_string_equal(fx_send(f, in), "");
	assert_int_equal(f->act, SMTP_ACT_NONE);
	assert_int_equal(f->consumed, strlen(end));
	assert_int_equal(f->rec.ndeliver, 1);
	assert_string_equal((char *)f->rec.msg, "x\r\n");
	assert_ptr_equal(f->rec.delivery, &dv);
	assert_true(smtp_session_delivering(f->s));
	assert_false(smtp_session_in_data(f->s));
	/* Fed again while pending: still nothing taken, nothing said. */
	assert_string_equal(fx_send(f, tail), "");
	assert_int_equal(f->consumed, 0);
	assert_int_equal(f->act, SMTP_ACT_NONE);
	/* The answer, then the rest in order. */
	smtp_session_deliver_done(f->s, SMTP_DELIVER_STORED, NULL);
	assert_false(smtp_session_delivering(f->s));
	assert_string_equal(fx_send(f, tail), "250 2.0.0 Ok: report stored\r\n"
	    "250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n221 2.0.0 " HOST " Bye\r\n");
	assert_int_equal(f->consumed, strlen(tail));
	assert_int_equal(f->act, SMTP_ACT_CLOSE);
	/* A second deliver_done (nothing pending) says nothing. */
	smtp_session_deliver_done(f->s, SMTP_DELIVER_STORED, NULL);
	assert_string_equal(fx_send(f, ""), "");
	fx_free(f);
}

/* The other answers a pending delivery may get, and a pipelined next
 * transaction behind the message. */
static void
test_deliver_pending_outcomes(void **state)
{
	static const char tx[] = "MAIL FROM:<a@b.test>\r\nRCPT TO:<tlsrpt+t@"
	    HOST ">\r\nDATA\r\n";
	struct fx *f = fx_new(0, false);
	char in[256];

	fx_ehlo(f);
	f->rec.result = SMTP_DELIVER_PENDING;
	fx_send(f, tx);
	snprintf(in, sizeof(in), "one\r\n.\r\n%s", tx);
	assert_string_equal(fx_send(f, in), "");
	smtp_session_deliver_done(f->s, SMTP_DELIVER_TEMPFAIL,
	    "cannot store the report now\r\n");
	/* The 451 (reason sanitised), then MAIL, RCPT, DATA. */
	assert_string_equal(fx_send(f, in + strlen("one\r\n.\r\n")),
	    "451 4.3.0 Error: cannot store the report now??\r\n"
	    "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
	    "354 End data with <CR><LF>.<CR><LF>\r\n");
	assert_true(smtp_session_in_data(f->s));
	assert_string_equal(fx_send(f, "two\r\n.\r\n"), "");
	assert_string_equal((char *)f->rec.msg, "two\r\n");
	smtp_session_deliver_done(f->s, SMTP_DELIVER_DUPLICATE, "ignored");
	assert_string_equal(fx_send(f, ""),
	    "250 2.0.0 Ok: duplicate report, already stored\r\n");
	/* A synchronous answer still works beside pending ones. */
	f->rec.result = SMTP_DELIVER_NO_REPORT;
	f->rec.reason = "no report";
	fx_send(f, tx);
	assert_string_equal(fx_send(f, "three\r\n.\r\n"),
	    "554 5.6.0 Error: no report\r\n");
	/* Aborted while pending (the I/O layer's timeout or stop): 421 and
	 * closed; a late answer says nothing. */
	f->rec.result = SMTP_DELIVER_PENDING;
	fx_send(f, tx);
	assert_string_equal(fx_send(f, "four\r\n.\r\n"), "");
	smtp_session_abort(f->s, "shutting down");
	smtp_session_deliver_done(f->s, SMTP_DELIVER_STORED, NULL);
	assert_string_equal(fx_send(f, "NOOP\r\n"), "421 4.4.2 " HOST
	    " Error: shutting down, closing\r\n");
	assert_int_equal(f->act, SMTP_ACT_CLOSE);
	assert_int_equal(f->rec.ndeliver, 4);
	fx_free(f);
}

/* A late 554 that is the client's tenth error closes the session: fed
 * nothing, the session says so (the I/O layer feeds it after every
 * deliver_done). */
static void
test_deliver_pending_last_error(void **state)
{
	struct fx *f = fx_new(0, false);

	fx_ehlo(f);
	for (int i = 0; i < 9; i++)
		fx_send(f, "BAD\r\n");
	f->rec.result = SMTP_DELIVER_PENDING;
	fx_send(f, "MAIL FROM:<a@b.test>\r\nRCPT TO:<tlsrpt+t@" HOST
	    ">\r\nDATA\r\n");
	assert_string_equal(fx_send(f, ".\r\n"), "");
	assert_int_equal(f->act, SMTP_ACT_NONE);
	smtp_session_deliver_done(f->s, SMTP_DELIVER_NO_REPORT, "empty");
	assert_string_equal(fx_send(f, ""), "554 5.6.0 Error: empty\r\n"
	    "421 4.7.0 " HOST " Error: too many errors, closing\r\n");
	assert_int_equal(f->act, SMTP_ACT_CLOSE);
	fx_free(f);
}

static void
test_size_limits(void **state)
{
	struct fx *f = fx_new(100, false);
	char big[400];

	fx_ehlo(f);
	assert_string_equal(fx_send(f, "MAIL FROM:<a@b.test> SIZE=101\r\n"),
	    "552 5.3.4 Message size exceeds fixed limit of 100 bytes\r\n");
	assert_string_equal(fx_send(f, "MAIL FROM:<a@b.test> "
	    "SIZE=99999999999999999999999999\r\n"),
	    "552 5.3.4 Message size exceeds fixed limit of 100 bytes\r\n");
	assert_string_equal(fx_send(f, "MAIL FROM:<a@b.test> SIZE=1x\r\n"),
	    "501 5.5.4 Bad SIZE parameter\r\n");
	assert_string_equal(fx_send(f, "MAIL FROM:<a@b.test> FOO=1\r\n"),
	    "555 5.5.4 Unsupported MAIL parameter FOO=1\r\n");
	assert_string_equal(fx_send(f, "MAIL FROM:<a@b.test> SIZE=100\r\n"),
	    "250 2.1.0 Ok\r\n");
	fx_send(f, "RCPT TO:<tlsrpt+t@" HOST ">\r\nDATA\r\n");
	memset(big, 'a', sizeof(big));
	for (size_t i = 60; i < sizeof(big); i += 62) {
		big[i] = '\r';
		big[i + 1] = '\n';
	}
	big[sizeof(big) - 1] = '\0';
	/* Over the limit: no reply until the end of data, then 552. */
	assert_string_equal(fx_send(f, big), "");
	assert_string_equal(fx_send(f, "\r\n.\r\n"), "552 5.3.4 Error: "
	    "message exceeds fixed limit of 100 bytes\r\n");
	assert_int_equal(f->rec.ndeliver, 0);
	/* The session goes on: a small message is delivered. */
	fx_send(f, "MAIL FROM:<a@b.test>\r\nRCPT TO:<tlsrpt+t@" HOST
	    ">\r\nDATA\r\n");
	assert_string_equal(fx_send(f, "small\r\n.\r\n"),
	    "250 2.0.0 Ok: report stored\r\n");
	assert_string_equal((char *)f->rec.msg, "small\r\n");
	fx_free(f);
}

static void
test_bare_lf(void **state)
{
	struct fx *f = fx_new(0, false);

	assert_string_equal(fx_send(f, "EHLO x\n"),
	    "500 5.5.2 Error: bare LF in command refused, use CRLF\r\n");
	assert_string_equal(fx_send(f, "\r\n"),
	    "500 5.5.2 Error: command not recognized\r\n");
	assert_string_equal(fx_send(f, "NO\rOP\r\n"),
	    "500 5.5.2 Error: NUL or bare CR in command refused\r\n");
	fx_ehlo(f);
	fx_send(f, "MAIL FROM:<a@b.test>\r\nRCPT TO:<tlsrpt+t@" HOST
	    ">\r\nDATA\r\n");
	/* Bare LF lines are text; "<LF>.<LF>" and "<LF>.<CRLF>" do not end
	 * the message (SMTP smuggling); only CRLF.CRLF does. */
	assert_string_equal(fx_send(f, "a\nb\n.\nc\n.\r\nMAIL FROM:<x@y.z>\r\n"),
	    "");
	assert_string_equal(fx_send(f, "\r\n.\r\n"),
	    "250 2.0.0 Ok: report stored\r\n");
	assert_string_equal((char *)f->rec.msg,
	    "a\nb\n.\nc\n.\r\nMAIL FROM:<x@y.z>\r\n\r\n");
	/* A bare CR inside text is kept. */
	fx_send(f, "MAIL FROM:<a@b.test>\r\nRCPT TO:<tlsrpt+t@" HOST
	    ">\r\nDATA\r\n");
	assert_string_equal(fx_send(f, "a\rb\r\n.x\r\r\n.\r\n"),
	    "250 2.0.0 Ok: report stored\r\n");
	assert_string_equal((char *)f->rec.msg, "a\rb\r\nx\r\r\n");
	fx_free(f);
}

static void
test_long_lines(void **state)
{
	struct fx *f = fx_new(0, false);
	char line[600];

	/* 512 octets with CRLF: accepted. */
	memcpy(line, "NOOP ", 5);
	memset(line + 5, 'x', 505);
	memcpy(line + 510, "\r\n", 3);
	assert_int_equal(strlen(line), 512);
	assert_string_equal(fx_send(f, line), "250 2.0.0 Ok\r\n");
	/* 513: refused, and the next command works. */
	memset(line + 5, 'x', 506);
	memcpy(line + 511, "\r\nNOOP\r\n", 9);
	assert_string_equal(fx_send(f, line), "500 5.5.2 Error: line too long "
	    "(more than 512 octets)\r\n250 2.0.0 Ok\r\n");
	fx_free(f);
}

static void
test_too_many_errors(void **state)
{
	struct fx *f = fx_new(0, false);
	const char *out;

	for (int i = 0; i < 9; i++)
		fx_send(f, "BAD\r\n");
	assert_int_equal(f->act, SMTP_ACT_NONE);
	out = fx_send(f, "BAD\r\nNOOP\r\n");
	assert_string_equal(out, "500 5.5.2 Error: command not recognized\r\n"
	    "421 4.7.0 " HOST " Error: too many errors, closing\r\n");
	assert_int_equal(f->act, SMTP_ACT_CLOSE);
	fx_free(f);
}

static void
test_too_many_rcpts(void **state)
{
	struct fx *f = fx_new(0, false);
	const char *out = NULL;

	f->cfg.max_rcpt = 2;
	smtp_session_free(f->s);
	f->s = smtp_session_new(&f->cfg, &f->hooks, "c");
	fx_ehlo(f);
	fx_send(f, "MAIL FROM:<a@b.test>\r\n");
	for (int i = 0; i < 3; i++)
		out = fx_send(f, "RCPT TO:<tlsrpt+t@" HOST ">\r\n");
	assert_string_equal(out, "452 4.5.3 Error: too many recipients\r\n");
	fx_free(f);
}

static void
test_starttls(void **state)
{
	struct fx *f = fx_new(0, true);

	fx_ehlo(f);
	assert_string_equal(fx_send(f, "STARTTLS\r\n"),
	    "220 2.0.0 Ready to start TLS\r\n");
	assert_int_equal(f->act, SMTP_ACT_STARTTLS);
	/* Input before the handshake is ignored. */
	assert_string_equal(fx_send(f, "NOOP\r\n"), "");
	smtp_session_tls_done(f->s);
	/* RFC 3207 §4.2: the EHLO is forgotten. */
	assert_string_equal(fx_send(f, "MAIL FROM:<a@b.test>\r\n"),
	    "503 5.5.1 Error: send HELO/EHLO first\r\n");
	assert_null(strstr(fx_send(f, "EHLO x\r\n"), "STARTTLS"));
	assert_string_equal(fx_send(f, "STARTTLS\r\n"),
	    "503 5.5.1 Error: TLS already active\r\n");
	fx_send(f, "MAIL FROM:<a@b.test>\r\nRCPT TO:<tlsrpt+t@" HOST
	    ">\r\nDATA\r\nx\r\n.\r\n");
	assert_true(f->rec.tls);
	fx_free(f);
}

/* CVE-2011-0411: commands injected after STARTTLS in the same packet. */
static void
test_starttls_injection(void **state)
{
	struct fx *f = fx_new(0, true);

	fx_ehlo(f);
	assert_string_equal(fx_send(f, "STARTTLS\r\nRSET\r\n"),
	    "554 5.5.1 Error: command pipelined after STARTTLS, closing\r\n");
	assert_int_equal(f->act, SMTP_ACT_CLOSE);
	fx_free(f);
	f = fx_new(0, true);
	fx_ehlo(f);
	assert_string_equal(fx_send(f, "STARTTLS\r\nx"),
	    "554 5.5.1 Error: command pipelined after STARTTLS, closing\r\n");
	fx_free(f);
}

/* A new session on f with f->cfg as it is now. */
static void
fx_restart(struct fx *f)
{
	smtp_session_free(f->s);
	f->s = smtp_session_new(&f->cfg, &f->hooks, "192.0.2.1");
	assert_non_null(f->s);
	fx_drain(f);
}

/* Commands that carry no mail: LIMIT_SMTP_JUNK_COMMANDS of them, then
 * 421 and close; the first HELO and a transaction's commands do not
 * count. */
static void
test_junk_limit(void **state)
{
	struct fx *f = fx_new(0, false);
	static const char *const junk[] = { "NOOP", "RSET", "VRFY x", "HELP",
	    "HELO again.example" };
	char line[64];

	fx_ehlo(f);
	fx_send(f, "MAIL FROM:<a@example.net>\r\n");
	for (int i = 0; i < LIMIT_SMTP_JUNK_COMMANDS; i++) {
		snprintf(line, sizeof(line), "%s\r\n", junk[i % 5]);
		fx_send(f, line);
		assert_null(strstr(f->out, "421"));
		assert_int_equal(f->act, SMTP_ACT_NONE);
	}
	assert_string_equal(fx_send(f, "NOOP\r\n"), "421 4.7.0 " HOST
	    " Error: too many commands without mail, closing\r\n");
	assert_int_equal(f->act, SMTP_ACT_CLOSE);
	fx_free(f);
}

/* Message bytes are reserved for the client as they arrive; past its
 * share the rest is dropped and the message answered 452, the bytes
 * given back; a hook may take the buffer and its reservation. */
static void
test_message_budget(void **state)
{
	struct fx *f = fx_new(0, false);
	struct peers *ps = peers_new(1 << 20, 64 * 1024);
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct peer *p;
	char *big = malloc(100 * 1024 + 16);

	assert_non_null(ps);
	assert_non_null(big);
	sin.sin_addr.s_addr = htonl(0xc0000201);
	p = peers_join(ps, (struct sockaddr *)&sin, PEER_SMTP, 0);
	assert_non_null(p);
	f->cfg.peers = ps;
	fx_restart(f);
	smtp_session_set_peer(f->s, p);
	fx_ehlo(f);
	/* 100 KiB: over the 64 KiB share. */
	memset(big, 'a', 100 * 1024);
	memcpy(big + 100 * 1024, "\r\n.\r\n", 6);
	big[100 * 1024 + 5] = '\0';
	fx_send(f, "MAIL FROM:<a@example.net>\r\n"
	    "RCPT TO:<tlsrpt+abc@" HOST ">\r\nDATA\r\n");
	assert_string_equal(fx_send(f, big), "452 4.3.1 Error: insufficient "
	    "system storage, try again later\r\n");
	assert_int_equal(f->rec.ndeliver, 0);
	assert_int_equal(peer_bytes(ps, p), 0);
	assert_int_equal(peers_bytes(ps), 0);
	/* 20 KiB fits (a 32 KiB buffer, reserved while it is read). */
	memcpy(big + 20 * 1024, "\r\n.\r\n", 6);
	big[20 * 1024 + 5] = '\0';
	fx_send(f, "MAIL FROM:<a@example.net>\r\n"
	    "RCPT TO:<tlsrpt+abc@" HOST ">\r\nDATA\r\n");
	assert_string_equal(fx_send(f, big), "250 2.0.0 Ok: report stored\r\n");
	assert_int_equal(f->rec.ndeliver, 1);
	assert_int_equal(f->rec.len, 20 * 1024 + 2);
	assert_int_equal(peers_bytes(ps), 0);	/* given back after */
	fx_free(f);
	peers_leave(ps, p, PEER_SMTP);
	peers_free(ps);
	free(big);
}

static void
test_backpressure_and_abort(void **state)
{
	struct fx *f = fx_new(0, false);
	size_t n = 60000, consumed, total = 0;
	char *in = malloc(n * 6);
	const char *o;
	size_t olen;
	unsigned act;

	/* 60,000 NOOPs: over the junk limit, which is not what this test
	 * is about. */
	f->cfg.max_junk = UINT_MAX;
	fx_restart(f);
	assert_non_null(in);
	for (size_t i = 0; i < n; i++)
		memcpy(in + i * 6, "NOOP\r\n", 6);
	act = smtp_session_feed(f->s, (uint8_t *)in, n * 6, &consumed);
	assert_int_equal(act, SMTP_ACT_NONE);
	assert_true(consumed < n * 6);
	o = smtp_session_output(f->s, &olen);
	assert_true(olen > LIMIT_SMTP_OUTBUF);
	assert_true(olen < LIMIT_SMTP_OUTBUF + 100);
	assert_memory_equal(o, "250 2.0.0 Ok\r\n", 14);
	while (total < n * 6) {
		total += consumed;
		smtp_session_output_consumed(f->s, olen);
		act = smtp_session_feed(f->s, (uint8_t *)in + total,
		    n * 6 - total, &consumed);
		o = smtp_session_output(f->s, &olen);
	}
	free(in);
	smtp_session_abort(f->s, "timeout\r\n");
	o = smtp_session_output(f->s, &olen);
	assert_memory_equal(o, "421 4.4.2 " HOST " Error: timeout??, "
	    "closing\r\n", olen);
	assert_int_equal(smtp_session_feed(f->s, (uint8_t *)"NOOP\r\n", 6,
	    &consumed), SMTP_ACT_CLOSE);
	fx_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ehlo_extensions),
		cmocka_unit_test(test_out_of_order),
		cmocka_unit_test(test_report_address),
		cmocka_unit_test(test_relay_refused),
		cmocka_unit_test(test_transaction),
		cmocka_unit_test(test_byte_by_byte),
		cmocka_unit_test(test_deliver_outcomes),
		cmocka_unit_test(test_deliver_pending),
		cmocka_unit_test(test_deliver_pending_outcomes),
		cmocka_unit_test(test_deliver_pending_last_error),
		cmocka_unit_test(test_size_limits),
		cmocka_unit_test(test_bare_lf),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_too_many_errors),
		cmocka_unit_test(test_too_many_rcpts),
		cmocka_unit_test(test_starttls),
		cmocka_unit_test(test_starttls_injection),
		cmocka_unit_test(test_backpressure_and_abort),
		cmocka_unit_test(test_junk_limit),
		cmocka_unit_test(test_message_budget),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
