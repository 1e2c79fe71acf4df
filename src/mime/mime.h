/*
 * mime.h - finding the TLS-RPT report(s) in an e-mail (RFC 8460 §5.3).
 *
 * Pure: the bytes of one RFC 5322 message in, the report bytes and a few
 * envelope-independent facts out. No I/O, no globals of our own (GMime has
 * its own, set up once by mime_init()). Used by the SMTP listener's
 * delivery hook, by `report import` of .eml files and maildirs, and by the
 * fuzzer.
 */
#ifndef STSGUARD_MIME_H
#define STSGUARD_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/err.h"
#include "../lib/limits.h"

/* Where in the message a report was found, in the order they are tried:
 * the first rule that finds anything wins, later rules are not tried. */
enum mime_source {
	MIME_SRC_TLSRPT_PART = 1,	/* a part of type application/tlsrpt,
					 * application/tlsrpt+gzip, +json, ... */
	MIME_SRC_ATTACHMENT = 2,	/* a part named *.json or *.json.gz */
	MIME_SRC_BODY = 3,		/* the single-part body itself, when it
					 * starts with gzip magic or '{' */
};

struct mime_report {
	uint8_t	*data;		/* decoded bytes (transfer encoding undone;
				 * still gzip when sent gzipped); owned */
	size_t	 len;		/* 1..LIMIT_REPORT_BYTES */
	char	*content_type;	/* "application/tlsrpt+gzip", lower case */
	char	*filename;	/* as sent, or NULL */
	enum mime_source source;
};

struct mime_message {
	struct mime_report *reports;	/* 1..LIMIT_MIME_REPORTS, in message
					 * order */
	size_t	 nreports;
	char	*from_domain;	/* domain of the first From mailbox, lower
				 * case, or NULL when From has none */
	char	*subject;	/* decoded (RFC 2047) to UTF-8, or NULL */
	char	*message_id;	/* without the angle brackets, or NULL */
	char	*report_domain;	/* TLS-Report-Domain (RFC 8460 §5.3),
				 * lower case, or NULL */
	char	*report_submitter;	/* TLS-Report-Submitter, lower
				 * case, or NULL */
	bool	 dkim_present;	/* a DKIM-Signature header whose d= equals
				 * from_domain or is a parent of it. NOT
				 * verified: a hint for the operator only */
	unsigned nparts;	/* leaf MIME parts looked at */
};

/* Sets GMime up for the whole process. Safe to call from several threads
 * and more than once (pthread_once inside); mime_report_extract() calls it
 * itself, so calling it is optional, but the daemon should call it from
 * its main thread before starting workers so the first report is not
 * slowed down. GMime is never shut down: its tables live as long as the
 * process. After this, mime_report_extract() may run concurrently in any
 * number of threads: each call uses only objects it creates. */
void	mime_init(void);

/* Parses the message in buf (len bytes; CRLF or LF line ends; at most
 * LIMIT_SMTP_MESSAGE_BYTES) and extracts the TLS-RPT report(s):
 *   1. every part of type application/tlsrpt or application/tlsrpt+<x>;
 *   2. else every part whose filename ends in ".json" or ".json.gz";
 *   3. else the body of a single-part message, if it starts (after
 *      white space) with '{' or with the gzip magic bytes.
 * Multiparts are walked depth-first (multipart/report, multipart/mixed,
 * nested ones, and message/rfc822 parts); base64, quoted-printable and
 * unencoded parts are decoded. A multipart without its closing delimiter
 * (Mail.ru) is read to the end of the message. Limits: LIMIT_MIME_PARTS,
 * LIMIT_MIME_CONTAINERS, LIMIT_MIME_REPORTS, LIMIT_REPORT_BYTES per report.
 * The report bytes are not validated: hand them to tlsrpt_parse().
 *
 * Returns 0 and *out (caller calls mime_message_free) holding at least one
 * report, or -1 with *out NULL and the reason in e, written for the
 * sender ("no application/tlsrpt part or *.json(.gz) attachment in 3 MIME
 * parts"). Allocation failure aborts (GLib's policy). */
int	mime_report_extract(const uint8_t *buf, size_t len,
	    struct mime_message **out, struct err *e);

/* Frees m and everything it owns. NULL is fine. */
void	mime_message_free(struct mime_message *m);

/* The name of a source ("tlsrpt-part", "attachment", "body"). */
const char *mime_source_name(enum mime_source src);

#endif
