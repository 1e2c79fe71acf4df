/*
 * err.c - formatting of error messages for users. See err.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

int
err_set(struct err *e, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

void
err_prefix(struct err *e, const char *fmt, ...)
{
	char old[ERR_MSG_LEN];
	size_t n, rest;
	va_list ap;
	int r;

	if (e == NULL)
		return;
	memcpy(old, e->msg, sizeof(old));
	va_start(ap, fmt);
	r = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	n = r < 0 ? 0 : (size_t)r;
	if (n >= sizeof(e->msg) - 1)
		return;
	rest = strnlen(old, sizeof(old) - 1);
	if (rest > sizeof(e->msg) - 1 - n)
		rest = sizeof(e->msg) - 1 - n;
	memcpy(e->msg + n, old, rest);
	e->msg[n + rest] = '\0';
}

const char *
err_quote(const char *s, size_t n, char *buf, size_t bufsz)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (o + 8 > bufsz || o >= ERR_QUOTE_MAX) {
			memcpy(buf + o, "...", 4);
			return buf;
		}
		if (c >= 0x20 && c < 0x7f && c != '\\')
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, bufsz - o, "\\x%02x", c);
	}
	buf[o] = '\0';
	return buf;
}
