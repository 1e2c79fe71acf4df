/*
 * smtp_session.c - the ESMTP server state machine: bytes in, replies out.
 *
 * The grammar it reads (RFC 5321 §4.1, with the extensions it offers):
 *
 *   session  = *command
 *   command  = verb [SP args] CRLF          ; <= 512 octets with CRLF
 *   verb     = EHLO / HELO / STARTTLS / MAIL / RCPT / DATA / RSET /
 *              NOOP / QUIT / VRFY / HELP    ; case-insensitive
 *   MAIL     = "MAIL FROM:" ("<>" / "<" path ">") *(SP param)
 *   param    = "SIZE=" 1*20DIGIT / "BODY=" ("7BIT" / "8BITMIME")
 *   RCPT     = "RCPT TO:" "<" path ">"
 *   DATA     = "DATA" CRLF *text-line CRLF "." CRLF
 *
 *   states:  GREET --HELO/EHLO--> READY --MAIL--> MAIL --RCPT--> MAIL
 *            MAIL --DATA (>=1 rcpt)--> DATA --"."--> READY
 *            DATA --"." (hook: PENDING)--> DELIVERING --deliver_done-->
 *              READY              (no input consumed while DELIVERING)
 *            READY --STARTTLS--> (TLS handshake) --> GREET
 *            any --QUIT / too many errors--> CLOSED
 *
 * Choices where RFC 5321 leaves room or real clients misbehave:
 * - Commands must end in CRLF. A bare LF in a command line is refused
 *   (500 5.5.2) so that no line end means two things.
 * - In DATA, a bare LF is accepted as a line end for the text (reporters'
 *   MTAs that convert line ends lose nothing), but the end of data is
 *   only CRLF "." CRLF, and dot-unstuffing happens only at the start of
 *   a line that follows CRLF: "<LF>.<CRLF>" is message text, so SMTP
 *   smuggling tricks cannot end a message early. Bytes are stored as
 *   received (CRLF or LF), minus the stuffed dots.
 * - Text lines longer than 1000 octets are accepted in DATA (see
 *   LIMIT_SMTP_TEXT_LINE); the message size is enforced while reading:
 *   past it the text is discarded and the end of data answered 552.
 * - STARTTLS followed by pipelined bytes is refused and the connection
 *   closed (plaintext command injection, CVE-2011-0411).
 *
 * It never touches a socket, a clock or a file, never relays (every
 * recipient goes through the rcpt hook), and never answers 250 to a
 * message before the deliver hook said it is stored.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../intake/intake.h"
#include "smtp.h"

enum smtp_state {
	SMTP_ST_GREET,		/* no HELO/EHLO yet (or again after TLS) */
	SMTP_ST_READY,		/* HELO done, no transaction */
	SMTP_ST_MAIL,		/* MAIL accepted, RCPTs being added */
	SMTP_ST_DATA,		/* reading message text */
	SMTP_ST_TLS_WAIT,	/* 220 to STARTTLS sent, handshake pending */
	SMTP_ST_DELIVERING,	/* the deliver hook answers later: input
				 * waits until smtp_session_deliver_done */
	SMTP_ST_CLOSED,
};

/* Where the DATA scanner is within a line. */
enum smtp_dstate {
	SMTP_D_BOL_CRLF,	/* start of a line that followed CRLF */
	SMTP_D_BOL_LF,		/* start of a line that followed a bare LF */
	SMTP_D_TEXT,		/* inside a line */
	SMTP_D_CR,		/* saw CR inside a line */
	SMTP_D_DOT,		/* saw "." at SMTP_D_BOL_CRLF */
	SMTP_D_DOT_CR,		/* saw ".\r" at SMTP_D_BOL_CRLF */
};

struct smtp_session {
	const struct smtp_config *cfg;
	const struct smtp_hooks	 *hooks;
	struct smtp_delivery	 *delivery;	/* the I/O layer's slot, or
						 * NULL */
	size_t		 max_message;
	unsigned	 max_rcpt;
	unsigned	 max_errors;
	unsigned	 max_junk;
	struct peer	*peer;		/* bytes are reserved for it in
					 * cfg->peers, or NULL: no budget */
	char		 client[64];
	enum smtp_state	 state;
	bool		 tls;
	char		*helo;
	char		*mail_from;
	char		**rcpt;
	size_t		 nrcpt;
	unsigned	 errors;
	unsigned	 junk;		/* commands that carry no mail */

	char		 line[LIMIT_SMTP_CMD_LINE];	/* current command
							 * line, CR kept */
	size_t		 linelen;
	bool		 skipping;	/* line too long: skip to LF */

	enum smtp_dstate dstate;
	uint8_t		*msg;
	size_t		 msglen, msgcap;
	size_t		 held;		/* reserved for msg in cfg->peers:
					 * msgcap, or 0 without a budget */
	bool		 too_big;
	bool		 no_room;	/* the budget said no: drop the rest,
					 * answer 452 */

	char		*out;
	size_t		 outoff, outlen, outcap;	/* out[outoff..outlen) */
	bool		 oom;	/* output could not grow: close */
};

/* ------------------------------------------------------------------ */
/* Output                                                               */

/* Copies s into buf (size bytes) with anything outside printable ASCII
 * replaced by '?', for replies and log lines. */
static void
smtp_sanitize(char *buf, size_t size, const char *s)
{
	size_t i = 0;

	if (size == 0)
		return;
	for (; s != NULL && s[i] != '\0' && i + 1 < size; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	buf[i] = '\0';
}

static void
smtp_log(struct smtp_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
smtp_log(struct smtp_session *s, const char *fmt, ...)
{
	char raw[512], clean[512];
	va_list ap;

	if (s->hooks->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	smtp_sanitize(clean, sizeof(clean), raw);
	s->hooks->log(s->hooks->arg, s->client, clean);
}

static void
smtp_out(struct smtp_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Appends one formatted reply line; CRLF is added. */
static void
smtp_out(struct smtp_session *s, const char *fmt, ...)
{
	char line[LIMIT_SMTP_CMD_LINE];
	va_list ap;
	size_t n;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (r < 0)
		return;
	n = (size_t)r < sizeof(line) - 3 ? (size_t)r : sizeof(line) - 3;
	/* Replies may quote what the client sent: printable ASCII only. */
	for (size_t i = 0; i < n; i++)
		if (line[i] < 0x20 || line[i] > 0x7e)
			line[i] = '?';
	line[n++] = '\r';
	line[n++] = '\n';
	if (s->outoff > 0 && s->outoff == s->outlen)
		s->outoff = s->outlen = 0;
	if (s->outlen + n > s->outcap) {
		size_t cap = s->outcap ? s->outcap * 2 : 1024;
		char *p;

		while (cap < s->outlen + n)
			cap *= 2;
		if ((p = realloc(s->out, cap)) == NULL) {
			s->oom = true;
			return;
		}
		s->out = p;
		s->outcap = cap;
	}
	memcpy(s->out + s->outlen, line, n);
	s->outlen += n;
}

/* A reply that counts as an error (5xx). Closes the session with 421
 * when the client has had too many. */
static void
smtp_error(struct smtp_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
smtp_error(struct smtp_session *s, const char *fmt, ...)
{
	char line[LIMIT_SMTP_CMD_LINE];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	smtp_out(s, "%s", line);
	if (++s->errors >= s->max_errors && s->state != SMTP_ST_CLOSED) {
		smtp_out(s, "421 4.7.0 %s Error: too many errors, closing",
		    s->cfg->hostname);
		smtp_log(s, "too many errors (%u), closing", s->errors);
		s->state = SMTP_ST_CLOSED;
	}
}

const char *
smtp_session_output(struct smtp_session *s, size_t *len)
{
	*len = s->outlen - s->outoff;
	return s->out != NULL ? s->out + s->outoff : "";
}

void
smtp_session_output_consumed(struct smtp_session *s, size_t n)
{
	if (n > s->outlen - s->outoff)
		n = s->outlen - s->outoff;
	s->outoff += n;
	if (s->outoff == s->outlen)
		s->outoff = s->outlen = 0;
}

/* ------------------------------------------------------------------ */
/* Session life                                                         */

/* Frees the message buffer and gives its bytes back. */
static void
smtp_msg_free(struct smtp_session *s)
{
	free(s->msg);
	s->msg = NULL;
	s->msglen = s->msgcap = 0;
	if (s->held > 0)
		peers_give(s->cfg->peers, s->peer, s->held);
	s->held = 0;
}

static void
smtp_reset_transaction(struct smtp_session *s)
{
	free(s->mail_from);
	s->mail_from = NULL;
	for (size_t i = 0; i < s->nrcpt; i++)
		free(s->rcpt[i]);
	free(s->rcpt);
	s->rcpt = NULL;
	s->nrcpt = 0;
	smtp_msg_free(s);
	s->too_big = false;
	s->no_room = false;
}

struct smtp_session *
smtp_session_new(const struct smtp_config *cfg,
    const struct smtp_hooks *hooks, const char *client)
{
	struct smtp_session *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->cfg = cfg;
	s->hooks = hooks;
	s->max_message = cfg->max_message ? cfg->max_message :
	    LIMIT_SMTP_MESSAGE_BYTES;
	s->max_rcpt = cfg->max_rcpt ? cfg->max_rcpt : LIMIT_SMTP_RCPTS;
	s->max_errors = cfg->max_errors ? cfg->max_errors : LIMIT_SMTP_ERRORS;
	s->max_junk = cfg->max_junk ? cfg->max_junk :
	    LIMIT_SMTP_JUNK_COMMANDS;
	smtp_sanitize(s->client, sizeof(s->client), client ? client : "-");
	s->state = SMTP_ST_GREET;
	smtp_out(s, "220 %s ESMTP stsguard TLS-RPT intake", cfg->hostname);
	if (s->oom) {
		smtp_session_free(s);
		return NULL;
	}
	return s;
}

void
smtp_session_free(struct smtp_session *s)
{
	if (s == NULL)
		return;
	smtp_reset_transaction(s);
	free(s->helo);
	free(s->out);
	free(s);
}

void
smtp_session_tls_done(struct smtp_session *s)
{
	if (s->state != SMTP_ST_TLS_WAIT)
		return;
	/* RFC 3207 §4.2: forget everything learnt before TLS. */
	smtp_reset_transaction(s);
	free(s->helo);
	s->helo = NULL;
	s->linelen = 0;
	s->skipping = false;
	s->tls = true;
	s->state = SMTP_ST_GREET;
}

void
smtp_session_abort(struct smtp_session *s, const char *why)
{
	char clean[64];

	if (s->state == SMTP_ST_CLOSED)
		return;
	smtp_sanitize(clean, sizeof(clean), why);
	smtp_out(s, "421 4.4.2 %s Error: %s, closing", s->cfg->hostname,
	    clean);
	smtp_log(s, "closing: %s", clean);
	s->state = SMTP_ST_CLOSED;
}

bool
smtp_session_in_data(const struct smtp_session *s)
{
	return s->state == SMTP_ST_DATA;
}

void
smtp_session_set_peer(struct smtp_session *s, struct peer *p)
{
	s->peer = s->cfg->peers != NULL ? p : NULL;
}

void
smtp_session_set_delivery(struct smtp_session *s, struct smtp_delivery *dv)
{
	s->delivery = dv;
}

bool
smtp_session_delivering(const struct smtp_session *s)
{
	return s->state == SMTP_ST_DELIVERING;
}

/* ------------------------------------------------------------------ */
/* Addresses                                                            */

bool
smtp_report_address(const char *addr, const char *service_host,
    char *token, size_t tokensize)
{
	static const char prefix[] = INTAKE_ADDR_LOCAL;
	const char *at, *p, *dom;
	size_t n = 0, hostlen, domlen;

	if (addr == NULL || service_host == NULL || tokensize == 0 ||
	    (at = strrchr(addr, '@')) == NULL)
		return false;
	dom = at + 1;
	domlen = strlen(dom);
	if (domlen > 0 && dom[domlen - 1] == '.')
		domlen--;
	hostlen = strlen(service_host);
	if (hostlen > 0 && service_host[hostlen - 1] == '.')
		hostlen--;
	if (domlen == 0 || domlen != hostlen ||
	    strncasecmp(dom, service_host, hostlen) != 0)
		return false;
	if ((size_t)(at - addr) <= sizeof(prefix) - 1 ||
	    strncasecmp(addr, prefix, sizeof(prefix) - 1) != 0)
		return false;
	for (p = addr + sizeof(prefix) - 1; p < at && *p != '+'; p++) {
		if (!isalnum((unsigned char)*p) || n + 1 >= tokensize)
			return false;
		token[n++] = (char)tolower((unsigned char)*p);
	}
	/* Further +tags are allowed; their contents do not matter. */
	token[n] = '\0';
	return n > 0;
}

/* Parses "<path>" at *pp into a new string (without the brackets and
 * any source route "@a,@b:"). Returns the string (caller frees; "" for
 * <> when allow_empty), or NULL with *why set. Advances *pp past '>'. */
static char *
smtp_parse_path(const char **pp, bool allow_empty, const char **why)
{
	const char *p = *pp, *start, *end;
	char *r;

	while (*p == ' ')
		p++;	/* "MAIL FROM: <x>": common, harmless */
	if (*p != '<') {
		*why = "address must be in angle brackets";
		return NULL;
	}
	start = ++p;
	if (*start == '@' && (p = strchr(start, ':')) != NULL)
		start = ++p;	/* RFC 5321 §4.1.2 A-d-l, ignored */
	for (p = start; *p != '\0' && *p != '>'; p++) {
		if ((unsigned char)*p <= ' ' || (unsigned char)*p == 0x7f) {
			*why = "address contains spaces or control "
			    "characters";
			return NULL;
		}
		if ((unsigned char)*p >= 0x80) {
			/* RFC 6531: only with SMTPUTF8, not offered. */
			*why = "non-ASCII address without SMTPUTF8";
			return NULL;
		}
	}
	if (*p != '>') {
		*why = "missing '>'";
		return NULL;
	}
	end = p;
	if ((size_t)(end - start) + 2 > LIMIT_SMTP_PATH_LEN) {
		*why = "address longer than 256 octets";
		return NULL;
	}
	if (end == start && !allow_empty) {
		*why = "empty address";
		return NULL;
	}
	if (end != start && (memchr(start, '@', (size_t)(end - start)) ==
	    NULL)) {
		*why = "address has no domain";
		return NULL;
	}
	if ((r = strndup(start, (size_t)(end - start))) == NULL) {
		*why = "out of memory";
		return NULL;
	}
	*pp = end + 1;
	return r;
}

/* ------------------------------------------------------------------ */
/* Commands                                                             */

static const char *
smtp_arg(const char *line, size_t verblen)
{
	const char *p = line + verblen;

	while (*p == ' ')
		p++;
	return p;
}

static void
smtp_cmd_helo(struct smtp_session *s, const char *arg, bool ehlo)
{
	char clean[LIMIT_DNAME_LEN + 1];

	if (*arg == '\0') {
		smtp_error(s, "501 5.5.4 Syntax: %s hostname",
		    ehlo ? "EHLO" : "HELO");
		return;
	}
	smtp_reset_transaction(s);
	free(s->helo);
	smtp_sanitize(clean, sizeof(clean), arg);
	if ((s->helo = strdup(clean)) == NULL) {
		s->oom = true;
		return;
	}
	s->state = SMTP_ST_READY;
	if (!ehlo) {
		smtp_out(s, "250 %s", s->cfg->hostname);
		return;
	}
	smtp_out(s, "250-%s greets %s", s->cfg->hostname, clean);
	smtp_out(s, "250-PIPELINING");
	smtp_out(s, "250-SIZE %zu", s->max_message);
	smtp_out(s, "250-8BITMIME");
	if (s->cfg->starttls && !s->tls)
		smtp_out(s, "250-STARTTLS");
	smtp_out(s, "250 ENHANCEDSTATUSCODES");
}

static void
smtp_cmd_mail(struct smtp_session *s, const char *arg)
{
	const char *p = arg, *why = NULL;
	char *from;

	if (s->state == SMTP_ST_GREET) {
		smtp_error(s, "503 5.5.1 Error: send HELO/EHLO first");
		return;
	}
	if (s->state == SMTP_ST_MAIL) {
		smtp_error(s, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if (strncasecmp(p, "FROM:", 5) != 0) {
		smtp_error(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return;
	}
	p += 5;
	if ((from = smtp_parse_path(&p, true, &why)) == NULL) {
		smtp_error(s, "501 5.1.7 Bad sender address syntax: %s", why);
		return;
	}
	while (*p != '\0') {
		const char *kw;
		size_t n;

		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		kw = p;
		while (*p != '\0' && *p != ' ')
			p++;
		n = (size_t)(p - kw);
		if (n > 5 && strncasecmp(kw, "SIZE=", 5) == 0) {
			unsigned long long v = 0;
			size_t i;

			for (i = 5; i < n && isdigit((unsigned char)kw[i]);
			    i++) {
				if (v > s->max_message)
					break;	/* already too big */
				v = v * 10 + (unsigned)(kw[i] - '0');
			}
			if (i < n && !isdigit((unsigned char)kw[i])) {
				smtp_error(s, "501 5.5.4 Bad SIZE parameter");
				goto fail;
			}
			if (v > s->max_message) {
				smtp_error(s, "552 5.3.4 Message size exceeds "
				    "fixed limit of %zu bytes",
				    s->max_message);
				goto fail;
			}
		} else if ((n == 9 && strncasecmp(kw, "BODY=7BIT", 9) == 0) ||
		    (n == 13 && strncasecmp(kw, "BODY=8BITMIME", 13) == 0)) {
			/* 8BITMIME: we store bytes as they are. */
		} else {
			smtp_error(s, "555 5.5.4 Unsupported MAIL parameter "
			    "%.*s", (int)(n > 40 ? 40 : n), kw);
			goto fail;
		}
	}
	s->mail_from = from;
	s->state = SMTP_ST_MAIL;
	smtp_out(s, "250 2.1.0 Ok");
	return;
fail:
	free(from);
}

static void
smtp_cmd_rcpt(struct smtp_session *s, const char *arg)
{
	struct smtp_envelope env;
	const char *p = arg, *why = NULL;
	enum smtp_rcpt_result res;
	char *to = NULL, **v, reason[SMTP_REASON_LEN], clean[SMTP_REASON_LEN];

	if (s->state != SMTP_ST_MAIL) {
		smtp_error(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (strncasecmp(p, "TO:", 3) != 0) {
		smtp_error(s, "501 5.5.4 Syntax: RCPT TO:<address>");
		return;
	}
	p += 3;
	if ((to = smtp_parse_path(&p, false, &why)) == NULL) {
		smtp_error(s, "501 5.1.3 Bad recipient address syntax: %s",
		    why);
		return;
	}
	while (*p == ' ')
		p++;
	if (*p != '\0') {
		smtp_error(s, "555 5.5.4 Unsupported RCPT parameter");
		goto out;
	}
	if (s->nrcpt >= s->max_rcpt) {
		smtp_out(s, "452 4.5.3 Error: too many recipients");
		goto out;
	}
	reason[0] = '\0';
	env = (struct smtp_envelope){ .client = s->client, .helo = s->helo,
	    .tls = s->tls, .mail_from = s->mail_from,
	    .rcpt = (const char *const *)s->rcpt, .nrcpt = s->nrcpt,
	    .peer = s->peer, .reason = reason };
	res = s->hooks->rcpt(s->hooks->arg, &env, to);
	switch (res) {
	case SMTP_RCPT_ACCEPT:
		if ((v = realloc(s->rcpt, (s->nrcpt + 1) *
		    sizeof(*v))) == NULL) {
			smtp_out(s, "451 4.3.0 Error: out of memory");
			goto out;
		}
		s->rcpt = v;
		s->rcpt[s->nrcpt++] = to;
		to = NULL;
		smtp_out(s, "250 2.1.5 Ok");
		break;
	case SMTP_RCPT_TEMPFAIL:
		smtp_out(s, "451 4.3.0 <%s>: try again later", to);
		break;
	case SMTP_RCPT_LIMITED:
		reason[SMTP_REASON_LEN - 1] = '\0';
		smtp_sanitize(clean, sizeof(clean), reason);
		smtp_log(s, "450 limited <%s> from <%s>: %s", to,
		    s->mail_from, clean);
		smtp_out(s, "450 4.7.1 <%s>: %s", to, clean[0] != '\0' ?
		    clean : "try again later");
		break;
	case SMTP_RCPT_REFUSE:
	default:
		smtp_log(s, "550 relay refused for <%s> from <%s>", to,
		    s->mail_from);
		smtp_error(s, "550 5.7.1 <%s>: Recipient address rejected: "
		    "not a TLS-RPT report address of this server, no relaying",
		    to);
		break;
	}
out:
	free(to);
}

static void
smtp_cmd_data(struct smtp_session *s, const char *arg)
{
	if (*arg != '\0') {
		smtp_error(s, "501 5.5.4 Syntax: DATA");
		return;
	}
	if (s->state != SMTP_ST_MAIL) {
		smtp_error(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (s->nrcpt == 0) {
		/* RFC 2920 §3.1: after pipelined RCPTs that all failed. */
		smtp_error(s, "554 5.5.1 Error: no valid recipients");
		return;
	}
	s->state = SMTP_ST_DATA;
	s->dstate = SMTP_D_BOL_CRLF;	/* "DATA" ended in CRLF */
	s->msglen = 0;
	s->too_big = false;
	smtp_out(s, "354 End data with <CR><LF>.<CR><LF>");
}

/* Runs one complete command line (CRLF stripped). Returns false when the
 * session must stop consuming input (STARTTLS, close). */
static bool
smtp_command(struct smtp_session *s, char *line, bool more_input)
{
	static const struct {
		const char *verb;
		int	    id;
	} verbs[] = {
		{ "EHLO", 1 }, { "HELO", 2 }, { "MAIL", 3 }, { "RCPT", 4 },
		{ "DATA", 5 }, { "RSET", 6 }, { "NOOP", 7 }, { "QUIT", 8 },
		{ "VRFY", 9 }, { "HELP", 10 }, { "STARTTLS", 11 },
	};
	size_t vlen = 0;
	const char *arg;
	int id = 0;

	while (line[vlen] != '\0' && line[vlen] != ' ')
		vlen++;
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strlen(verbs[i].verb) == vlen &&
		    strncasecmp(line, verbs[i].verb, vlen) == 0)
			id = verbs[i].id;
	arg = smtp_arg(line, vlen);
	/* Commands that carry no mail (a HELO after the first one, RSET,
	 * NOOP, VRFY, HELP): a sender needs a few; a session made of them
	 * holds a slot for nothing. (Postfix: smtpd_junk_command_limit.) */
	if ((id == 6 || id == 7 || id == 9 || id == 10 ||
	    ((id == 1 || id == 2) && s->helo != NULL)) &&
	    ++s->junk > s->max_junk) {
		smtp_out(s, "421 4.7.0 %s Error: too many commands without "
		    "mail, closing", s->cfg->hostname);
		smtp_log(s, "too many commands without mail (%u), closing",
		    s->junk);
		s->state = SMTP_ST_CLOSED;
		return false;
	}
	switch (id) {
	case 1:
	case 2:
		smtp_cmd_helo(s, arg, id == 1);
		break;
	case 3:
		smtp_cmd_mail(s, arg);
		break;
	case 4:
		smtp_cmd_rcpt(s, arg);
		break;
	case 5:
		smtp_cmd_data(s, arg);
		break;
	case 6:
		smtp_reset_transaction(s);
		if (s->state == SMTP_ST_MAIL)
			s->state = SMTP_ST_READY;
		smtp_out(s, "250 2.0.0 Ok");
		break;
	case 7:
		smtp_out(s, "250 2.0.0 Ok");
		break;
	case 8:
		smtp_out(s, "221 2.0.0 %s Bye", s->cfg->hostname);
		s->state = SMTP_ST_CLOSED;
		return false;
	case 9:
		smtp_out(s, "252 2.5.0 Cannot VRFY user, but will accept "
		    "report addresses in RCPT");
		break;
	case 10:
		smtp_out(s, "214-2.0.0 This server accepts TLS-RPT reports "
		    "(RFC 8460) for its own addresses only.");
		smtp_out(s, "214 2.0.0 Commands: EHLO HELO STARTTLS MAIL "
		    "RCPT DATA RSET NOOP QUIT VRFY HELP");
		break;
	case 11:
		if (!s->cfg->starttls) {
			smtp_error(s, "502 5.5.1 Error: STARTTLS not "
			    "available");
		} else if (s->tls) {
			smtp_error(s, "503 5.5.1 Error: TLS already active");
		} else if (*arg != '\0') {
			smtp_error(s, "501 5.5.4 Syntax: STARTTLS");
		} else if (s->state == SMTP_ST_GREET) {
			smtp_error(s, "503 5.5.1 Error: send EHLO first");
		} else if (s->state == SMTP_ST_MAIL) {
			smtp_error(s, "503 5.5.1 Error: MAIL transaction in "
			    "progress");
		} else if (more_input) {
			smtp_out(s, "554 5.5.1 Error: command pipelined "
			    "after STARTTLS, closing");
			smtp_log(s, "STARTTLS with pipelined plaintext "
			    "refused");
			s->state = SMTP_ST_CLOSED;
			return false;
		} else {
			smtp_out(s, "220 2.0.0 Ready to start TLS");
			s->state = SMTP_ST_TLS_WAIT;
			return false;
		}
		break;
	default:
		smtp_error(s, "500 5.5.2 Error: command not recognized");
		break;
	}
	return s->state != SMTP_ST_CLOSED && !s->oom;
}

/* ------------------------------------------------------------------ */
/* DATA                                                                 */

static void
smtp_msg_put(struct smtp_session *s, const char *bytes, size_t n)
{
	if (s->too_big || s->no_room)
		return;
	if (s->msglen + n > s->max_message) {
		/* Past the limit: discard everything, keep reading to the
		 * end of data so that the reply lands in the right place. */
		s->too_big = true;
		smtp_msg_free(s);
		return;
	}
	if (s->msglen + n > s->msgcap) {
		size_t cap = s->msgcap ? s->msgcap : 16384;
		uint8_t *p;

		while (cap < s->msglen + n)
			cap *= 2;
		if (cap > s->max_message)
			cap = s->max_message;
		/* Reserved as it grows, so a slow sender holds only what it
		 * has sent; over its share or the total, the same as too
		 * big but "try later". */
		if (s->peer != NULL && !peers_take(s->cfg->peers, s->peer,
		    cap - s->msgcap)) {
			s->no_room = true;
			smtp_msg_free(s);
			return;
		}
		if (s->peer != NULL)
			s->held += cap - s->msgcap;
		if ((p = realloc(s->msg, cap)) == NULL) {
			s->oom = true;
			return;
		}
		s->msg = p;
		s->msgcap = cap;
	}
	memcpy(s->msg + s->msglen, bytes, n);
	s->msglen += n;
}

/* Queues the reply to the end of data for a delivery's result. */
static void
smtp_deliver_reply(struct smtp_session *s, enum smtp_deliver_result res,
    const char *reason)
{
	char clean[SMTP_REASON_LEN];

	smtp_sanitize(clean, sizeof(clean), reason);
	switch (res) {
	case SMTP_DELIVER_STORED:
		smtp_out(s, "250 2.0.0 Ok: report stored");
		break;
	case SMTP_DELIVER_DUPLICATE:
		smtp_out(s, "250 2.0.0 Ok: duplicate report, already stored");
		break;
	case SMTP_DELIVER_NO_REPORT:
		smtp_error(s, "554 5.6.0 Error: %s",
		    clean[0] ? clean : "no TLS-RPT report in the message");
		break;
	case SMTP_DELIVER_TEMPFAIL:
	case SMTP_DELIVER_PENDING:	/* not an answer: the caller's bug */
	default:
		smtp_out(s, "451 4.3.0 Error: %s",
		    clean[0] ? clean : "cannot store the report now, try "
		    "again later");
		break;
	}
}

static void
smtp_data_end(struct smtp_session *s)
{
	struct smtp_envelope env;
	enum smtp_deliver_result res;
	char reason[SMTP_REASON_LEN];

	s->state = SMTP_ST_READY;
	if (s->no_room) {
		smtp_log(s, "452 no room for a message from <%s> now",
		    s->mail_from);
		smtp_out(s, "452 4.3.1 Error: insufficient system storage, "
		    "try again later");
		smtp_reset_transaction(s);
		return;
	}
	if (s->too_big) {
		smtp_log(s, "552 message over %zu bytes from <%s>",
		    s->max_message, s->mail_from);
		smtp_error(s, "552 5.3.4 Error: message exceeds fixed limit "
		    "of %zu bytes", s->max_message);
		smtp_reset_transaction(s);
		return;
	}
	env = (struct smtp_envelope){ .client = s->client, .helo = s->helo,
	    .tls = s->tls, .mail_from = s->mail_from,
	    .rcpt = (const char *const *)s->rcpt, .nrcpt = s->nrcpt,
	    .delivery = s->delivery, .msg_buf = &s->msg,
	    .msg_held = &s->held, .peer = s->peer };
	reason[0] = '\0';
	res = s->hooks->deliver(s->hooks->arg, &env,
	    s->msg != NULL ? s->msg : (const uint8_t *)"", s->msglen, reason);
	reason[sizeof(reason) - 1] = '\0';
	/* The hook is done with the message and the envelope either way:
	 * a pending one has copied what it needs. */
	smtp_reset_transaction(s);
	if (res == SMTP_DELIVER_PENDING) {
		/* No reply and no input until smtp_session_deliver_done(). */
		s->state = SMTP_ST_DELIVERING;
		return;
	}
	smtp_deliver_reply(s, res, reason);
}

void
smtp_session_deliver_done(struct smtp_session *s,
    enum smtp_deliver_result res, const char *reason)
{
	if (s->state != SMTP_ST_DELIVERING)
		return;
	s->state = SMTP_ST_READY;
	smtp_deliver_reply(s, res, reason != NULL ? reason : "");
	if (s->oom && s->state != SMTP_ST_CLOSED)
		s->state = SMTP_ST_CLOSED;	/* see smtp_session_feed */
}

/* Scans message text; returns the bytes consumed (up to and including
 * the end of data, or all of buf). */
static size_t
smtp_data(struct smtp_session *s, const uint8_t *buf, size_t len)
{
	size_t i, run;

	for (i = 0; i < len; i++) {
		uint8_t c = buf[i];

		switch (s->dstate) {
		case SMTP_D_BOL_CRLF:
			if (c == '.') {
				s->dstate = SMTP_D_DOT;
				continue;
			}
			/* FALLTHROUGH */
		case SMTP_D_BOL_LF:
		case SMTP_D_TEXT:
			if (c == '\r') {
				s->dstate = SMTP_D_CR;
				continue;
			}
			if (c == '\n') {
				smtp_msg_put(s, "\n", 1);
				s->dstate = SMTP_D_BOL_LF;
				continue;
			}
			/* Copy the run of plain text in one go. */
			for (run = i; run < len && buf[run] != '\r' &&
			    buf[run] != '\n'; run++)
				;
			smtp_msg_put(s, (const char *)buf + i, run - i);
			i = run - 1;
			s->dstate = SMTP_D_TEXT;
			continue;
		case SMTP_D_CR:
			if (c == '\n') {
				smtp_msg_put(s, "\r\n", 2);
				s->dstate = SMTP_D_BOL_CRLF;
			} else {
				smtp_msg_put(s, "\r", 1);
				s->dstate = SMTP_D_TEXT;
				i--;	/* look at c again */
			}
			continue;
		case SMTP_D_DOT:
			if (c == '\r') {
				s->dstate = SMTP_D_DOT_CR;
				continue;
			}
			/* A stuffed dot: dropped (RFC 5321 §4.5.2). */
			s->dstate = SMTP_D_TEXT;
			i--;
			continue;
		case SMTP_D_DOT_CR:
			if (c == '\n') {
				smtp_data_end(s);	/* may leave the
							 * session DELIVERING */
				return i + 1;
			}
			/* ".\r" then text: the dot was stuffed. */
			smtp_msg_put(s, "\r", 1);
			s->dstate = SMTP_D_TEXT;
			i--;
			continue;
		}
	}
	return len;
}

/* ------------------------------------------------------------------ */
/* Input                                                                */

unsigned
smtp_session_feed(struct smtp_session *s, const uint8_t *buf, size_t len,
    size_t *consumed)
{
	size_t i = 0;
	unsigned act = SMTP_ACT_NONE;

	while (i < len && s->state != SMTP_ST_CLOSED &&
	    s->state != SMTP_ST_TLS_WAIT && s->state != SMTP_ST_DELIVERING &&
	    !s->oom &&
	    s->outlen - s->outoff <= LIMIT_SMTP_OUTBUF) {
		uint8_t c;

		if (s->state == SMTP_ST_DATA) {
			i += smtp_data(s, buf + i, len - i);
			continue;
		}
		c = buf[i++];
		if (c != '\n') {
			if (s->skipping)
				continue;
			if (s->linelen == sizeof(s->line) - 1) {
				/* With this byte and the LF still to come,
				 * the line would pass 512 octets. */
				s->skipping = true;
				continue;
			}
			s->line[s->linelen++] = (char)c;
			continue;
		}
		/* A complete line. */
		if (s->skipping) {
			s->skipping = false;
			s->linelen = 0;
			smtp_error(s, "500 5.5.2 Error: line too long (more "
			    "than %d octets)", LIMIT_SMTP_CMD_LINE);
			continue;
		}
		if (s->linelen == 0 || s->line[s->linelen - 1] != '\r') {
			s->linelen = 0;
			smtp_error(s, "500 5.5.2 Error: bare LF in command "
			    "refused, use CRLF");
			continue;
		}
		if (memchr(s->line, '\0', s->linelen - 1) != NULL ||
		    memchr(s->line, '\r', s->linelen - 1) != NULL) {
			s->linelen = 0;
			smtp_error(s, "500 5.5.2 Error: NUL or bare CR in "
			    "command refused");
			continue;
		}
		s->line[s->linelen - 1] = '\0';
		s->linelen = 0;
		smtp_command(s, s->line, i < len);
	}
	if (s->oom && s->state != SMTP_ST_CLOSED) {
		/* Cannot queue a reply either: just close. */
		s->state = SMTP_ST_CLOSED;
	}
	if (s->state == SMTP_ST_TLS_WAIT)
		act |= SMTP_ACT_STARTTLS;
	if (s->state == SMTP_ST_CLOSED) {
		act |= SMTP_ACT_CLOSE;
		i = len;	/* input after the end is ignored */
	}
	if (consumed != NULL)
		*consumed = i;
	return act;
}
