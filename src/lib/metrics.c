/*
 * metrics.c - the Prometheus text exposition format into a buffer
 * (grammar in metrics.h). Never does I/O; an allocation failure marks
 * the buffer failed instead of stopping the caller halfway.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

void
metrics_printf(struct metrics_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->failed)
		return;
	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->p != NULL ? b->p + b->len : NULL, room, fmt,
		    ap);
		va_end(ap);
		if (n < 0) {
			b->failed = 1;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap * 2 : 4096;
		while (cap - b->len <= (size_t)n)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (p == NULL) {
			b->failed = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

void
metrics_family(struct metrics_buf *b, const char *name, const char *type,
    const char *help)
{
	metrics_printf(b, "# HELP %s ", name);
	for (const char *s = help; *s != '\0'; s++) {
		if (*s == '\\')
			metrics_printf(b, "\\\\");
		else if (*s == '\n')
			metrics_printf(b, "\\n");
		else
			metrics_printf(b, "%c", *s);
	}
	metrics_printf(b, "\n# TYPE %s %s\n", name, type);
}

void
metrics_u64(struct metrics_buf *b, const char *name, const char *labels,
    uint64_t v)
{
	if (labels != NULL)
		metrics_printf(b, "%s{%s} %llu\n", name, labels,
		    (unsigned long long)v);
	else
		metrics_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

void
metrics_double(struct metrics_buf *b, const char *name, const char *labels,
    double v)
{
	if (labels != NULL)
		metrics_printf(b, "%s{%s} %.17g\n", name, labels, v);
	else
		metrics_printf(b, "%s %.17g\n", name, v);
}
