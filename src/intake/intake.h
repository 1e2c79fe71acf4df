/*
 * intake.h - the one way in for every report, whatever brought it (HTTPS,
 * SMTP, `report import`, `quarantine retry`): bytes and their origin in;
 * stored reports, duplicates and quarantine entries out. Two steps:
 *
 *	intake_examine  (pure: no I/O, no store, no globals) takes the bytes
 *			of a report (gzip or JSON) or of a whole e-mail
 *			apart: the valid reports found, and what must be
 *			kept in quarantine, each with its own bytes and,
 *			when refused, the reason;
 *	intake_commit   stores the pieces of a batch of inputs in one
 *			transaction (store report_add_batch): reports,
 *			duplicates counted, quarantine entries (capped for
 *			anonymous senders).
 *
 * So the same bytes reach the same verdict by every route, and unit
 * tests and fuzzers call intake_examine directly. It can be slow on
 * hostile input (a gzip member inflating to LIMIT_REPORT_JSON_BYTES, a
 * deeply built message), within the limits of limits.h: the daemon runs
 * both steps on its own threads, never on an event loop.
 */
#ifndef STSGUARD_INTAKE_H
#define STSGUARD_INTAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/err.h"
#include "../lib/limits.h"

/* The way in, as the _smtp._tls record publishes it (RFC 8460 §3): a
 * POST to https://<service_host>/tlsrpt/<token>, mail to
 * tlsrpt+<token>[+tag]@<service_host>. Named here, and only here. */
#define INTAKE_URL_PATH		"/tlsrpt/"
#define INTAKE_URL_PATH_LEN	(sizeof(INTAKE_URL_PATH) - 1)
#define INTAKE_ADDR_LOCAL	"tlsrpt+"

struct store;
struct store_origin;
struct store_quarantine_caps;
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
	bool		 domain_mismatch;	/* a report whose policy-domains
					 * do not include the mail's
					 * TLS-Report-Domain */
	bool		 has_digest;	/* a report: digest is set */
	unsigned char	 digest[32];	/* tlsrpt_report_digest of r, worked
					 * out here (the pool's threads), not
					 * on the writer's */
	char		 reason[ERR_MSG_LEN];	/* why it was refused */
};

/* What intake_examine found: at least one piece. */
struct intake_parts {
	size_t		 n;		/* 1..LIMIT_MIME_REPORTS */
	size_t		 nvalid;	/* pieces with a report */
	bool		 dkim_present;	/* e-mail: a DKIM-Signature of the
					 * From domain (not verified) */
	/* E-mail: its TLS-Report-Domain and TLS-Report-Submitter header
	 * fields (RFC 8460 §5.3), lower case, or "". */
	char		 report_domain[LIMIT_DNAME_LEN + 1];
	char		 report_submitter[LIMIT_DNAME_LEN + 1];
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

/* --- DKIM: is a report mail signed by its reporter? (intake_dkim.c) --- */

/* Looks up the TXT record of name (a DKIM key: sel._domainkey.d) into
 * buf (cap bytes, NUL-terminated): 0 found, 1 no such record, -1 the
 * lookup failed. */
typedef int (*intake_key_lookup)(void *arg, const char *name, char *buf,
    size_t cap);

/* A mail's DKIM verdict. */
struct intake_dkim {
	bool	 verified;
	char	 domain[LIMIT_DNAME_LEN + 1];	/* d= of the signature that
					 * verified, or of the one the
					 * reason is about; "" for none */
	char	 reason[LIMIT_DNAME_LEN + 80];	/* why not verified:
					 * "no signature", "bad signature
					 * (d=...)", "key not found (d=...)"
					 * (with ": the lookup failed" when
					 * the DNS gave no answer), "l= used
					 * (d=...)", "domain not aligned
					 * (d=...)" */
};

/* Verifies the DKIM signatures of the message msg[0..len) with
 * libopendkim, keys from fn: verified when one passes, has no l= tag,
 * and its d= is one of aligned[0..naligned) (NULL entries skipped) or a
 * parent of one. Otherwise out->reason says why, for the signature that
 * came closest. */
void	intake_dkim_verify(const uint8_t *msg, size_t len,
	    const char *const *aligned, size_t naligned, intake_key_lookup fn,
	    void *arg, struct intake_dkim *out);

/* intake_dkim_verify for the message msg that intake_examine took apart
 * into parts, aligned with RFC 8460's reporting domain: the
 * TLS-Report-Submitter header's domain and the domains of the valid
 * reports' contact-info. */
void	intake_dkim_message(const struct intake_parts *parts,
	    const uint8_t *msg, size_t len, intake_key_lookup fn, void *arg,
	    struct intake_dkim *out);

/* An input on its way to the store: its verdict, where it came from, and
 * then what became of each piece. */
struct intake_item {
	struct intake_parts parts;	/* intake_examine's */
	const struct store_origin *o;	/* borrowed: route, client,
					 * provenance, ...; intake_commit
					 * adds what parts say (dkim_present,
					 * the TLS-Report-* headers) */
	const struct store_quarantine_caps *caps;	/* anonymous input:
					 * the quarantine's caps (for what it
					 * leaves there); NULL for the
					 * operator's own */
	int		 results[LIMIT_MIME_REPORTS];	/* per piece:
					 * STORE_ADDED, STORE_DUPLICATE,
					 * STORE_QUARANTINED, or -1 */
	int64_t		 ids[LIMIT_MIME_REPORTS];	/* the report's or the
					 * entry's row id (0: none) */
};

/* Commits the pieces of items[0..n) (the caller keeps a batch within
 * LIMIT_INTAKE_BATCH_JOBS pieces) in one transaction, an item's pieces
 * never split: a message is stored whole or not at all. When that fails
 * and n > 1, each item is tried alone, so that one the store refuses
 * does not turn its neighbours away. Sets every piece's result and id
 * (-1 and 0 when it was not stored). Returns 0 when every item was
 * committed, -1 otherwise with the first reason in e. */
int	intake_commit(struct store *s, struct intake_item *const *items,
	    size_t n, struct err *e);

#endif
