/*
 * fuzz_smtp.c - fuzz target for the SMTP session state machine. The first
 * byte picks how the rest is split into reads (1..256 bytes each), so
 * that partial lines and pipelined commands at every boundary are tried;
 * STARTTLS is "completed" at once, and so is a delivery the hook left
 * pending (with the answer the message's length picks). Checks: every
 * reply line ends in CRLF and starts with a 3-digit code, delivered
 * messages respect the size limit, nothing is consumed and nothing said
 * while a delivery is pending, and after close no more output appears.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum smtp_rcpt_result
fz_rcpt(void *arg, const struct smtp_envelope *env, const char *addr)
{
	char token[33];

	if (env->mail_from == NULL)
		abort();
	return smtp_report_address(addr, "stshost.test", token,
	    sizeof(token)) ? SMTP_RCPT_ACCEPT : SMTP_RCPT_REFUSE;
}

static enum smtp_deliver_result
fz_deliver(void *arg, const struct smtp_envelope *env, const uint8_t *msg,
    size_t len, char *reason)
{
	if (len > 4096 || env->nrcpt == 0)
		abort();
	if (len > 0)
		reason[0] = (char)msg[0];	/* anything goes: sanitised */
	reason[1] = '\0';
	return (enum smtp_deliver_result)(len % 5);	/* 4: PENDING */
}

static void
fz_check(struct smtp_session *s)
{
	const char *o;
	size_t n;

	o = smtp_session_output(s, &n);
	for (size_t i = 0; i < n;) {
		const char *eol = memchr(o + i, '\n', n - i);

		if (eol == NULL || eol == o + i || eol[-1] != '\r' ||
		    n - i < 5 || o[i] < '2' || o[i] > '5' ||
		    (o[i + 3] != ' ' && o[i + 3] != '-'))
			abort();
		for (const char *p = o + i; p < eol - 1; p++)
			if (*p < 0x20 || *p > 0x7e)
				abort();
		i = (size_t)(eol - o) + 1;
	}
	smtp_session_output_consumed(s, n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_hooks hooks = { .rcpt = fz_rcpt, .deliver = fz_deliver };
	struct smtp_config cfg = { .hostname = "stshost.test",
	    .max_message = 4096, .max_rcpt = 4, .starttls = true };
	struct smtp_session *s;
	size_t step, i = 1, consumed;
	unsigned act = 0;
	bool closed = false;

	if (size == 0)
		return 0;
	step = (size_t)data[0] + 1;
	if ((s = smtp_session_new(&cfg, &hooks, "192.0.2.1")) == NULL)
		return 0;
	fz_check(s);
	while (i < size) {
		size_t n = size - i < step ? size - i : step;

		act = smtp_session_feed(s, data + i, n, &consumed);
		if (consumed > n)
			abort();
		if (closed) {
			size_t len;

			smtp_session_output(s, &len);
			if (len != 0)
				abort();
		}
		fz_check(s);
		if (act & SMTP_ACT_CLOSE)
			closed = true;
		if (act & SMTP_ACT_STARTTLS)
			smtp_session_tls_done(s);
		i += consumed;
		if (smtp_session_delivering(s)) {
			size_t len, again;

			if (smtp_session_feed(s, data + i, size - i, &again) !=
			    SMTP_ACT_NONE || again != 0 ||
			    (smtp_session_output(s, &len), len != 0))
				abort();
			smtp_session_deliver_done(s,
			    (enum smtp_deliver_result)(data[i - 1] % 4),
			    "late\r\n\x01");
			fz_check(s);
		}
	}
	smtp_session_free(s);
	return 0;
}
