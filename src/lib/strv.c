/*
 * strv.c - growable vector of owned strings. See strv.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strv.h"

static int
strv_take(struct strv *sv, char *s)
{
	char **nv;
	size_t ncap;

	if (s == NULL)
		return -1;
	if (sv->n == sv->cap) {
		ncap = sv->cap ? sv->cap * 2 : 4;
		nv = realloc(sv->v, ncap * sizeof(*nv));
		if (nv == NULL) {
			free(s);
			return -1;
		}
		sv->v = nv;
		sv->cap = ncap;
	}
	sv->v[sv->n++] = s;
	return 0;
}

int
strv_pushn(struct strv *sv, const char *s, size_t len)
{
	return strv_take(sv, strndup(s, len));
}

int
strv_push(struct strv *sv, const char *s)
{
	return strv_take(sv, strdup(s));
}

int
strv_pushf(struct strv *sv, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -1;
	return strv_take(sv, s);
}

void
strv_free(struct strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = sv->cap = 0;
}
