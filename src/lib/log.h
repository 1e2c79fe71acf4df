/*
 * log.h - one line per event on stderr, key=value, untrusted strings
 * escaped. (Postfix util/msg.c: severities; the output format is logfmt.)
 *
 *	2026-11-28T10:00:00Z level=info event=policy_fetch client=192.0.2.7
 *	    host="mta-sts.example.com" ua="postfix-mta-sts-resolver" status=200
 *
 * Severities: debug and info (normal events), warn (something is off but
 * we carry on), fatal (the environment is broken: log and exit 1), panic
 * (a broken invariant: log and abort). Lines from worker threads may be
 * buffered per thread and written at most a second later (log_flush); a
 * warn or worse line is always written at once, with what was buffered.
 */
#ifndef STSGUARD_LOG_H
#define STSGUARD_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level {
	LOG_DEBUG = 0,
	LOG_INFO,
	LOG_WARN,
	LOG_FATAL,
	LOG_PANIC,
};

/* Least severity written (default info). Thread-safe. */
void	log_set_level(enum log_level lv);
/* Parses "debug", "info", "warn". Returns 0 or -1. */
int	log_level_parse(const char *s, enum log_level *lv);
/* True when a line of severity lv would be written. */
bool	log_enabled(enum log_level lv);

/* Buffer this thread's lines (workers: one write per second instead of
 * one per request). Call log_flush() periodically and before exit. */
void	log_buffer_thread(bool on);
/* Writes this thread's buffered lines. */
void	log_flush(void);

/* A line being built; lives on the caller's stack. */
struct log_line {
	enum log_level lv;
	size_t	 len;
	bool	 on;		/* false: level filtered, calls are no-ops */
	char	 buf[1024];	/* longer lines are cut, marked by "..." */
};

/* Starts a line "TIME level=L event=EVENT" (event: a trusted word). */
void	log_begin(struct log_line *l, enum log_level lv, const char *event);
/* Adds key="value", the value escaped: '"' and '\\' backslashed, control
 * bytes and bytes >= 0x7f as \xNN. For untrusted text (peers, files). */
void	log_str(struct log_line *l, const char *key, const char *s, size_t len);
/* log_str for a NUL-terminated string; NULL is logged as key=-. */
void	log_cstr(struct log_line *l, const char *key, const char *s);
/* Adds key=N. */
void	log_int(struct log_line *l, const char *key, int64_t n);
/* Ends the line and writes (or buffers) it. fatal exits 1, panic aborts. */
void	log_end(struct log_line *l);

/* One-shot: "event=EVENT msg=\"...\"" with the formatted text escaped. */
void	log_msg(enum log_level lv, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_info(ev, ...)	log_msg(LOG_INFO, ev, __VA_ARGS__)
#define log_warn(ev, ...)	log_msg(LOG_WARN, ev, __VA_ARGS__)
#define log_fatal(ev, ...)	log_msg(LOG_FATAL, ev, __VA_ARGS__)
#define log_panic(ev, ...)	log_msg(LOG_PANIC, ev, __VA_ARGS__)

#endif
