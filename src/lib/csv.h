/*
 * csv.h - one line of comma-separated values (RFC 4180), for the files
 * operators give stsguard (`domain import`):
 *
 *	line   = field *( "," field )
 *	field  = *( any byte but "," DQUOTE CR LF ) / DQUOTE *( any byte
 *	         but DQUOTE / 2DQUOTE ) DQUOTE
 *
 * Blanks around a field are kept (the caller trims what it wants); a
 * quoted field may hold commas and doubled quotes, not line ends (one
 * record is one line). Pure.
 */
#ifndef STSGUARD_CSV_H
#define STSGUARD_CSV_H

#include <stddef.h>

#include "err.h"

/* Splits line[0..len) (no line end) in place: writes NUL-terminated
 * fields into line itself (quotes removed) and at most max pointers to
 * them into fields, *n their number. Returns 0, or -1 with the reason
 * (more than max fields, a quote inside an unquoted field, an unclosed
 * quote, stray bytes after a closing quote, a NUL or a CR). line must
 * hold len + 1 bytes. */
int	csv_split(char *line, size_t len, char **fields, size_t max,
	    size_t *n, struct err *e);

#endif
