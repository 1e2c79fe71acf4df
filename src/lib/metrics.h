/*
 * metrics.h - the Prometheus text exposition format (version 0.0.4),
 * written into a growing buffer.
 *
 * What a scrape reads, per metric family:
 *
 *	# HELP <name> <text>\n
 *	# TYPE <name> counter|gauge|histogram\n
 *	<name>[{<label>="<value>",...}] <value>\n      one line per sample
 *
 * Names and label sets are the caller's constants (never untrusted
 * bytes), so nothing here escapes them; HELP text is escaped as the
 * format requires (backslash, newline). Pure: no I/O, no globals.
 */
#ifndef STSGUARD_METRICS_H
#define STSGUARD_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* The text being built. Zero it to start; free p when done. */
struct metrics_buf {
	char	*p;		/* owned (free), NUL-terminated when len > 0 */
	size_t	 len;
	size_t	 cap;
	int	 failed;	/* 1 once an allocation failed: the text is
				 * incomplete, answer 500 */
};

/* Starts a family: its HELP and TYPE lines. type is "counter", "gauge"
 * or "histogram". */
void	metrics_family(struct metrics_buf *b, const char *name,
	    const char *type, const char *help);
/* One sample: name{labels} value; labels is 'k="v",k2="v2"' or NULL. */
void	metrics_u64(struct metrics_buf *b, const char *name,
	    const char *labels, uint64_t v);
void	metrics_double(struct metrics_buf *b, const char *name,
	    const char *labels, double v);
/* printf into the buffer (lines of a histogram's buckets). */
void	metrics_printf(struct metrics_buf *b, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#endif
