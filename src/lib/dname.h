/*
 * dname.h - domain names as users type them and as we store them.
 *
 * Users may type U-labels ("bücher.example"), upper case, or a trailing
 * dot; stsguard stores and compares the A-label form in lower case without
 * the trailing dot ("xn--bcher-kva.example"). Pure: no DNS lookups.
 */
#ifndef STSGUARD_DNAME_H
#define STSGUARD_DNAME_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "limits.h"

/* Normalizes the host name in (len bytes, UTF-8) into out, which must hold
 * LIMIT_DNAME_LEN + 1 bytes: U-labels become A-labels (IDNA2008 via
 * libidn2, UTS #46 non-transitional mapping, so "ß" stays "ß"), letters
 * become lower case, one trailing dot is dropped. e may be NULL. On
 * error out is the empty string.
 * Refuses, with the reason in e, anything that is not a hostname: empty
 * labels, labels over 63 bytes, names over 253 bytes, characters other
 * than letters, digits and '-', a label starting or ending with '-', a
 * single-label name, an all-numeric top-level label.
 * If allow_wildcard is set, a leftmost label of exactly "*" is accepted
 * and kept (MX patterns). Returns 0 or -1. */
int	dname_normalize(const char *in, size_t len, bool allow_wildcard,
	    char out[LIMIT_DNAME_LEN + 1], struct err *e);

/* Checks that s (len bytes; need not be NUL-terminated) is already a
 * normalized hostname of A-labels as described above, without converting
 * anything: U-labels, upper case and a trailing dot are errors here, and
 * "xn--" labels must be valid A-labels (libidn2 decodes them). This is
 * what RFC 8461 asks of `mx` values in a policy. Returns 0 or -1 with the
 * reason ("label 2 'foo-' ends with '-'"). */
int	dname_check_alabel(const char *s, size_t len, bool allow_wildcard,
	    struct err *e);

#endif
