/*
 * log.c - logfmt lines on stderr. See log.h.
 *
 *	line  = time SP "level=" level SP "event=" word *( SP key "=" value )
 *	value = 1*safe-char / DQUOTE *( safe / "\\" / "\"" / "\x" 2HEXDIG ) DQUOTE
 *
 * Each line reaches stderr with one write(2) (lines are shorter than
 * PIPE_BUF), so lines from threads never interleave. Never allocates.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_TBUF 16384		/* per-thread buffer of a worker */

static atomic_int log_min = LOG_INFO;

static _Thread_local bool log_buffered;
static _Thread_local size_t log_tlen;
static _Thread_local char log_tbuf[LOG_TBUF];
static _Thread_local time_t log_tsec = -1;
static _Thread_local char log_tstamp[24];

static const char *const log_names[] = {
	"debug", "info", "warn", "fatal", "panic",
};

void
log_set_level(enum log_level lv)
{
	atomic_store(&log_min, (int)lv);
}

int
log_level_parse(const char *s, enum log_level *lv)
{
	for (int i = LOG_DEBUG; i <= LOG_WARN; i++)
		if (strcmp(s, log_names[i]) == 0) {
			*lv = (enum log_level)i;
			return 0;
		}
	return -1;
}

bool
log_enabled(enum log_level lv)
{
	return (int)lv >= atomic_load_explicit(&log_min, memory_order_relaxed);
}

static void
log_write_all(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(STDERR_FILENO, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

void
log_buffer_thread(bool on)
{
	if (!on)
		log_flush();
	log_buffered = on;
}

void
log_flush(void)
{
	if (log_tlen > 0) {
		log_write_all(log_tbuf, log_tlen);
		log_tlen = 0;
	}
}

static void
log_put(struct log_line *l, const char *s, size_t n)
{
	/* Keep 4 bytes for "..." and the newline. */
	size_t room = sizeof(l->buf) - 4 - l->len;

	if (n > room)
		n = room;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

void
log_begin(struct log_line *l, enum log_level lv, const char *event)
{
	struct timespec ts;
	struct tm tm;

	l->lv = lv;
	l->len = 0;
	l->on = lv >= LOG_FATAL || log_enabled(lv);
	if (!l->on)
		return;
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	if (ts.tv_sec != log_tsec) {
		gmtime_r(&ts.tv_sec, &tm);
		strftime(log_tstamp, sizeof(log_tstamp), "%Y-%m-%dT%H:%M:%SZ",
		    &tm);
		log_tsec = ts.tv_sec;
	}
	log_put(l, log_tstamp, strlen(log_tstamp));
	log_put(l, " level=", 7);
	log_put(l, log_names[lv], strlen(log_names[lv]));
	log_put(l, " event=", 7);
	log_put(l, event, strlen(event));
}

void
log_str(struct log_line *l, const char *key, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char esc[4];

	if (!l->on)
		return;
	log_put(l, " ", 1);
	log_put(l, key, strlen(key));
	log_put(l, "=\"", 2);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\') {
			esc[0] = '\\';
			esc[1] = (char)ch;
			log_put(l, esc, 2);
		} else if (ch < 0x20 || ch >= 0x7f) {
			esc[0] = '\\';
			esc[1] = 'x';
			esc[2] = hex[ch >> 4];
			esc[3] = hex[ch & 15];
			log_put(l, esc, 4);
		} else {
			log_put(l, (const char *)&s[i], 1);
		}
	}
	log_put(l, "\"", 1);
}

void
log_cstr(struct log_line *l, const char *key, const char *s)
{
	if (!l->on)
		return;
	if (s == NULL) {
		log_put(l, " ", 1);
		log_put(l, key, strlen(key));
		log_put(l, "=-", 2);
		return;
	}
	log_str(l, key, s, strlen(s));
}

void
log_int(struct log_line *l, const char *key, int64_t n)
{
	char num[24];
	int k;

	if (!l->on)
		return;
	log_put(l, " ", 1);
	log_put(l, key, strlen(key));
	log_put(l, "=", 1);
	k = snprintf(num, sizeof(num), "%lld", (long long)n);
	if (k > 0)
		log_put(l, num, (size_t)k);
}

void
log_end(struct log_line *l)
{
	if (!l->on)
		return;
	if (l->len == sizeof(l->buf) - 4) {
		memcpy(l->buf + l->len, "...", 3);
		l->len += 3;
	}
	l->buf[l->len++] = '\n';
	if (log_buffered && l->lv < LOG_WARN) {
		if (log_tlen + l->len > sizeof(log_tbuf))
			log_flush();
		memcpy(log_tbuf + log_tlen, l->buf, l->len);
		log_tlen += l->len;
	} else {
		log_flush();
		log_write_all(l->buf, l->len);
	}
	if (l->lv == LOG_FATAL)
		exit(1);
	if (l->lv == LOG_PANIC)
		abort();
}

void
log_msg(enum log_level lv, const char *event, const char *fmt, ...)
{
	struct log_line l;
	char text[768];
	va_list ap;
	int n;

	log_begin(&l, lv, event);
	if (!l.on)
		return;
	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(text))
		n = sizeof(text) - 1;
	log_str(&l, "msg", text, (size_t)n);
	log_end(&l);
}
