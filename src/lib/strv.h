/*
 * strv.h - a growable vector of owned C strings (warnings, mx lists, rua
 * lists). Small and boring on purpose.
 */
#ifndef STSGUARD_STRV_H
#define STSGUARD_STRV_H

#include <stddef.h>

struct strv {
	char	**v;	/* v[0..n-1], each owned by the vector */
	size_t	  n;
	size_t	  cap;
};

/* Appends a copy of s (or of its first len bytes with strv_pushn).
 * Returns 0, or -1 when out of memory (the vector is left unchanged). */
int	strv_push(struct strv *sv, const char *s);
int	strv_pushn(struct strv *sv, const char *s, size_t len);
/* Appends a formatted string. Returns 0 or -1. */
int	strv_pushf(struct strv *sv, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Frees every string and the array; leaves sv empty and reusable. */
void	strv_free(struct strv *sv);

#endif
