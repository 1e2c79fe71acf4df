/*
 * tlsrpt.h - SMTP TLS Reporting (RFC 8460): the report JSON (§4) and the
 * _smtp._tls TXT record (§3).
 *
 * Pure functions: bytes in, struct or error out. No I/O, no globals.
 * Lenient where real reporters deviate from the RFC, and every leniency is
 * recorded as a named quirk on the parsed report; strict where the data
 * would be wrong.
 */
#ifndef STSGUARD_TLSRPT_H
#define STSGUARD_TLSRPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../lib/err.h"
#include "../lib/limits.h"
#include "../lib/strv.h"

/* Quirks: deviations from RFC 8460 that we accept and record. Bit flags on
 * struct tlsrpt_report.quirks; names from tlsrpt_quirk_name(). A quirk
 * says what was sent, not that something is wrong: Google leaves out
 * failure-details when all went well, so most of its reports carry
 * "failure-details-absent". A JSON null for an optional field reads as
 * absent and adds "null-optional-field" to that field's own quirk (except
 * contact-info, which has its own "contact-info-null").
 * "duplicate-policy-domain" means two entries share policy-type AND
 * policy-domain (Microsoft's sts + tlsa pair is not flagged);
 * "receiving-fields-absent" means a failure detail lacks
 * receiving-mx-hostname or receiving-ip. */
enum tlsrpt_quirk {
	TLSRPT_Q_MX_HOST_STRING		= 1u << 0,  /* "mx-host-string" */
	TLSRPT_Q_MX_HOST_EMPTY		= 1u << 1,  /* "mx-host-empty": [] or "" */
	TLSRPT_Q_MX_HOST_ABSENT		= 1u << 2,  /* "mx-host-absent" */
	TLSRPT_Q_POLICY_STRING_ABSENT	= 1u << 3,  /* "policy-string-absent" */
	TLSRPT_Q_POLICY_STRING_EMPTY	= 1u << 4,  /* "policy-string-empty" */
	TLSRPT_Q_POLICY_STRING_NESTED	= 1u << 5,  /* "policy-string-nested-json" */
	TLSRPT_Q_DATETIME_NO_TZ		= 1u << 6,  /* "datetime-no-timezone" */
	TLSRPT_Q_CONTACT_INFO_NULL	= 1u << 7,  /* "contact-info-null" */
	TLSRPT_Q_CONTACT_INFO_ABSENT	= 1u << 8,  /* "contact-info-absent" */
	TLSRPT_Q_POLICY_DOMAIN_ABSENT	= 1u << 9,  /* "policy-domain-absent" */
	TLSRPT_Q_SENDING_IP_ABSENT	= 1u << 10, /* "sending-mta-ip-absent" */
	TLSRPT_Q_RECEIVING_ABSENT	= 1u << 11, /* "receiving-fields-absent" */
	TLSRPT_Q_FAILURE_DETAILS_ABSENT	= 1u << 12, /* "failure-details-absent" */
	TLSRPT_Q_FAILURE_DETAILS_EMPTY	= 1u << 13, /* "failure-details-empty" */
	TLSRPT_Q_RECEIVING_MX_HOST_NAME	= 1u << 14, /* "receiving-mx-host-name" */
	TLSRPT_Q_FAILURE_SUM_MISMATCH	= 1u << 15, /* "failure-count-mismatch" */
	TLSRPT_Q_DUPLICATE_POLICY	= 1u << 16, /* "duplicate-policy-domain" */
	TLSRPT_Q_FAILURE_TOTAL_ABSENT	= 1u << 17, /* "failure-total-absent" */
	TLSRPT_Q_UNKNOWN_RESULT_TYPE	= 1u << 18, /* "unknown-result-type" */
	TLSRPT_Q_END_BEFORE_START	= 1u << 19, /* "end-before-start" */
	TLSRPT_Q_NULL_FIELD		= 1u << 20, /* "null-optional-field" */
	TLSRPT_Q_POLICY_DOMAIN_FORM	= 1u << 21, /* "policy-domain-form":
						     * a trailing dot or
						     * U-labels, stored as
						     * A-labels without */
};
#define TLSRPT_Q_COUNT 22

/* The name of one quirk bit, given as its value (1u << n, e.g.
 * TLSRPT_Q_MX_HOST_STRING -> "mx-host-string"); NULL for 0, for several
 * bits at once and for unknown bits. Static storage. */
const char *tlsrpt_quirk_name(unsigned bit);

struct tlsrpt_failure {
	char	 *result_type;		/* as sent, e.g. "certificate-expired" */
	char	 *sending_mta_ip;	/* NULL when absent */
	char	 *receiving_mx_hostname;/* NULL when absent */
	char	 *receiving_mx_helo;	/* NULL when absent */
	char	 *receiving_ip;		/* NULL when absent */
	char	 *additional_information;/* NULL when absent */
	char	 *failure_reason_code;	/* NULL when absent */
	uint64_t  failed_session_count;
};

struct tlsrpt_policy {
	char	 *policy_type;		/* "sts", "tlsa", "no-policy-found" */
	struct strv policy_string;	/* one line or TLSA record each */
	char	 *policy_domain;	/* as sent, lower-cased; "" if absent */
	struct strv mx_host;		/* always a list, maybe empty */
	uint64_t  total_successful;
	uint64_t  total_failure;
	struct tlsrpt_failure *failures;
	size_t	  nfailures;
};

struct tlsrpt_report {
	char	 *organization_name;
	char	 *contact_info;		/* NULL when null or absent */
	char	 *report_id;
	time_t	  start;		/* date-range start-datetime, UTC */
	time_t	  end;			/* date-range end-datetime, UTC */
	struct tlsrpt_policy *policies;
	size_t	  npolicies;
	unsigned  quirks;		/* TLSRPT_Q_* bits */
};

/* Parses a report of len bytes: gzip (told by its magic bytes) or plain
 * JSON. Limits from limits.h are enforced before and while parsing:
 * LIMIT_REPORT_BYTES, decompressed size and ratio, JSON depth (checked by a
 * scan before the JSON library sees the text), array lengths and string
 * sizes. Strict on organization-name, report-id, date-range and policies
 * (and on types: a count that is not a non-negative integer is an error).
 * On success returns 0 and *out (caller calls tlsrpt_report_free); on
 * error returns -1, *out NULL, and the reason in e, naming the field
 * ("policies[0].summary.total-successful-session-count: not an integer"). */
int	tlsrpt_parse(const uint8_t *buf, size_t len,
	    struct tlsrpt_report **out, struct err *e);

void	tlsrpt_report_free(struct tlsrpt_report *r);

/* --- How sessions are counted (tlsrpt_count.c), by every view --------
 *
 * One sending session can be reported twice: Microsoft sends an "sts"
 * and a "tlsa" policy entry for the same domain and the same sessions.
 * So the entries of the tlsa type and those of the others (sts,
 * no-policy-found) are two views of the same traffic, and the larger
 * view (by successful + failed) counts, the policy view on a tie;
 * within a view, entries add up (Google sends no-policy-found plus two
 * sts entries when a policy changed during the day: different
 * sessions). An entry's failed sessions are its failure details when
 * they add up to more than its total-failure-session-count (Mail.ru
 * does this: the details are the more specific data), else its total
 * (the rest being failures it did not explain). All sums saturate. */
enum {
	TLSRPT_VIEW_POLICY = 0,		/* sts, no-policy-found, others */
	TLSRPT_VIEW_TLSA = 1,
};

/* Sessions of the two views of one group (a report; a day and an
 * organization in statistics). */
struct tlsrpt_views {
	uint64_t successful[2], failed[2];
};

/* The view of an entry of policy_type (NULL or "": the policy view). */
int	tlsrpt_view(const char *policy_type);
/* Adds sessions to view v of x. */
void	tlsrpt_views_add(struct tlsrpt_views *x, int v, uint64_t successful,
	    uint64_t failed);
/* The view of x that counts. */
int	tlsrpt_views_pick(const struct tlsrpt_views *x);
/* An entry's failed sessions as counted, and the sum of its details. */
uint64_t tlsrpt_policy_failed(const struct tlsrpt_policy *p,
	    uint64_t *details);

/* What counts of a report: its sessions counted once, as statistics
 * count them. */
struct tlsrpt_counted {
	uint64_t successful, failed;
	bool	 two_views;	/* it has entries of both views: one counted */
	bool	 details_over;	/* some entry's details add up to more than
				 * its total: they counted */
};
void	tlsrpt_count(const struct tlsrpt_report *r, struct tlsrpt_counted *c);
/* What the report itself says, which tlsrpt_count may not count: the
 * sums of its entries' total-successful and total-failure counts. */
void	tlsrpt_totals(const struct tlsrpt_report *r, uint64_t *successful,
	    uint64_t *failed);

/* The report in RFC 8460's own JSON schema, normalized: mx-host always an
 * array, datetimes "YYYY-MM-DDThh:mm:ssZ", absent optional fields left out
 * (contact-info, policy-domain "", the optional failure-detail strings),
 * policy-string, mx-host and failure-details always written as arrays,
 * keys in the RFC's order. tlsrpt_parse() reads it back to an equal
 * report (quirks aside). Returns a UTF-8 JSON text (compact if indent is
 * 0, else pretty with that many spaces, at most 31; caller frees) or NULL
 * when out of memory (or when a hand-built report holds invalid UTF-8). */
char	*tlsrpt_report_json(const struct tlsrpt_report *r, int indent);

/* SHA-256 of the report as normalized (what tlsrpt_report_json writes,
 * without writing it): two reports are the same report when these are
 * equal, whatever their whitespace, key order, mx-host form or
 * compression. Returns 0, or -1 when the hash cannot be had. */
int	tlsrpt_report_digest(const struct tlsrpt_report *r,
	    unsigned char out[32]);

/* The _smtp._tls TXT record (RFC 8460 §3). */
struct tlsrpt_record {
	struct strv rua;	/* mailto: and https: URIs, in record order */
};

/* Parses one TXT record (strings concatenated): "v=TLSRPTv1" first, then
 * ';'-separated fields with optional whitespace; "rua=" holds one or more
 * comma-separated URIs, each "mailto:addr@domain" or "https://host/...";
 * anything else (an address without mailto:, say) is an error naming the
 * URI. Unknown extension fields are allowed (warned about), so are
 * several rua= fields (merged in order, warned about); at most
 * LIMIT_RUA_URIS URIs and LIMIT_TXT_BYTES bytes. *r is overwritten, not
 * freed first; warnings may be NULL. Returns 0 (fill *r; caller calls
 * tlsrpt_record_free) or -1 with the reason (*r then empty). */
int	tlsrpt_record_parse(const char *txt, size_t len,
	    struct tlsrpt_record *r, struct strv *warnings, struct err *e);
void	tlsrpt_record_free(struct tlsrpt_record *r);

/* Formats t as "YYYY-MM-DDThh:mm:ssZ" into buf (at least 21 bytes). */
void	tlsrpt_format_time(time_t t, char buf[21]);

#endif
