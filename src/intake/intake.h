/*
 * intake.h - what arrives is taken apart here: the bytes of a report
 * (gzip or JSON) or of a whole e-mail go in; the valid reports found in
 * them and what must be kept in quarantine come out, each with its own
 * bytes and, when refused, the reason.
 *
 * Pure: no I/O, no store, no globals; so every route (HTTPS, SMTP,
 * import, retry) can call it and reach the same verdict on the same
 * bytes, and unit tests and fuzzers call it directly. It can be slow on
 * hostile input (a gzip member inflating to LIMIT_REPORT_JSON_BYTES, a
 * deeply built message), within the limits of limits.h: the daemon runs
 * it on its parser threads, never on an event loop.
 */
#ifndef STSGUARD_INTAKE_H
#define STSGUARD_INTAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/err.h"
#include "../lib/limits.h"

struct tlsrpt_report;

/* One thing found in the input. */
struct intake_piece {
	struct tlsrpt_report *r;	/* a valid report (owned), or NULL:
					 * keep raw in quarantine */
	const uint8_t	*raw;		/* its bytes: inside the input, or
					 * data */
	size_t		 len;
	void		*data;		/* owned (free), or NULL */
	const char	*kind;		/* "report", or "message" for a whole
					 * e-mail kept because nothing in it
					 * could be taken */
	char		 reason[ERR_MSG_LEN];	/* why it was refused */
};

/* What intake_examine found: at least one piece. */
struct intake_parts {
	size_t		 n;		/* 1..LIMIT_MIME_REPORTS */
	size_t		 nvalid;	/* pieces with a report */
	bool		 dkim_present;	/* e-mail: a DKIM-Signature of the
					 * From domain (not verified) */
	const char	*first_error;	/* the first refused piece's reason,
					 * or NULL; borrowed from the parts */
	struct intake_piece p[LIMIT_MIME_REPORTS];
};

/* Takes in[0..len) apart: one report (message false) or a whole e-mail
 * (true), whose reports are found by mime_report_extract. Each valid
 * report is a piece with r set; each invalid one a "report" piece to
 * quarantine with its reason; an e-mail with no valid report at all (or
 * none found) is one "message" piece holding the whole input. Pieces
 * borrow from in (which must outlive them) or own their bytes. Always
 * fills out (free it with intake_parts_free), even for empty input. */
void	intake_examine(bool message, const uint8_t *in, size_t len,
	    struct intake_parts *out);
void	intake_parts_free(struct intake_parts *parts);

#endif
