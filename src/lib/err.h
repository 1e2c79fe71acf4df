/*
 * err.h - the error a parser or store call hands back to its caller.
 *
 * Every fallible function in stsguard takes a `struct err *` last and, on
 * failure, writes one line of text into it that says what was wrong and
 * where ("line 3: max_age 40000000 exceeds 31557600"). The text reaches
 * users, so it is written for them. Never allocates.
 */
#ifndef STSGUARD_ERR_H
#define STSGUARD_ERR_H

#include <stddef.h>

#define ERR_MSG_LEN 256

struct err {
	char msg[ERR_MSG_LEN];
};

/* Formats the message into e (truncated to fit). e may be NULL: the call
 * is then a no-op, so callers that don't care pass NULL. Always returns
 * -1, so that `return err_set(e, "...")` reads naturally. */
int err_set(struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prefixes e's message with the given text ("line 3: ..."). */
void err_prefix(struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Writes s[0..n) into buf (bufsz bytes, at least 16) for quoting
 * untrusted text in an error message: printable ASCII as is, backslash
 * and other bytes as \xNN, cut with "..." after ERR_QUOTE_MAX bytes of
 * output. Returns buf. */
#define ERR_QUOTE_MAX 48
const char *err_quote(const char *s, size_t n, char *buf, size_t bufsz);

#endif
