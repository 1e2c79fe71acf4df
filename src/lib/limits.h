/*
 * limits.h - every bound stsguard puts on untrusted input, in one place.
 *
 * Each limit says why it has the value it has. Parsers and listeners
 * include this header and enforce the limit while reading, before parsing,
 * so that a hostile peer costs us at most these many bytes, items or levels.
 * (Modelled on SQLite's sqliteLimit.h.)
 */
#ifndef STSGUARD_LIMITS_H
#define STSGUARD_LIMITS_H

/* --- DNS names -------------------------------------------------------- */

/* RFC 1035 §2.3.4: 255 octets on the wire, so 253 characters in text form
 * without the trailing dot. */
#define LIMIT_DNAME_LEN 253
/* RFC 1035 §2.3.4: 63 octets per label. */
#define LIMIT_LABEL_LEN 63

/* --- MTA-STS (RFC 8461) ----------------------------------------------- */

/* RFC 8461 §3.3: senders may refuse policy bodies over 64 KiB; we refuse
 * to parse or publish anything larger. */
#define LIMIT_POLICY_BYTES (64 * 1024)
/* RFC 8461 §3.2: max_age at most 31557600 (about one year). */
#define LIMIT_POLICY_MAX_AGE 31557600u
/* max_age is "1*10DIGIT" in the ABNF. */
#define LIMIT_POLICY_MAX_AGE_DIGITS 10
/* No real policy lists more than a handful of MX patterns; 1000 keeps a
 * 64 KiB body of one-letter patterns from allocating without bound. */
#define LIMIT_POLICY_MX 1000
/* RFC 8461 §3.1: sts-id = 1*32(ALPHA / DIGIT). */
#define LIMIT_STS_ID_LEN 32

/* --- DNS TXT records -------------------------------------------------- */

/* A TXT RRset may be split over several 255-byte strings; the DNS message
 * limit of 64 KiB bounds the whole, but no sane record exceeds 4 KiB. */
#define LIMIT_TXT_BYTES 4096
/* _smtp._tls rua URIs per record: reporters send to a few at most. */
#define LIMIT_RUA_URIS 16

/* --- TLS-RPT reports (RFC 8460) --------------------------------------- */

/* Compressed (or plain) report as received. Google's largest daily
 * reports for busy domains are tens of KiB; 4 MiB leaves two orders of
 * magnitude of headroom. */
#define LIMIT_REPORT_BYTES (4 * 1024 * 1024)
/* Decompressed JSON. Reports are aggregates, so even the busiest
 * reporter stays far below this. */
#define LIMIT_REPORT_JSON_BYTES (16 * 1024 * 1024)
/* Decompressed / compressed. Real reports compress 3-20x; a gzip bomb
 * compresses about 1000x. Checked only once the output passes 1 MiB, so
 * that small, very repetitive reports are never refused. */
#define LIMIT_REPORT_GZIP_RATIO 100
#define LIMIT_REPORT_GZIP_RATIO_FLOOR (1024 * 1024)
/* JSON nesting: a report is at most 5 levels deep (report, policies[],
 * policy, failure-details[], detail); 16 tolerates extensions and stops
 * stack-hungry 1000-level arrays before the JSON library sees them. */
#define LIMIT_REPORT_JSON_DEPTH 16
/* Policy entries per report: one per policy (and type) seen that day. */
#define LIMIT_REPORT_POLICIES 10000
/* Failure-detail entries per policy: one per (result, sending IP,
 * receiving MX) triple seen that day. */
#define LIMIT_REPORT_FAILURE_DETAILS 100000
/* Strings in policy-string or mx-host arrays. */
#define LIMIT_REPORT_STRINGS 1000
/* Any single JSON string in a report. */
#define LIMIT_REPORT_STRING_BYTES (64 * 1024)

/* --- Configuration ---------------------------------------------------- */

/* The config file is written by an operator, but read at every start. */
#define LIMIT_CONFIG_BYTES (1024 * 1024)
#define LIMIT_CONFIG_LINE 4096

/* --- Tenants ---------------------------------------------------------- */

/* Domains one tenant may host: big providers host hundreds of thousands
 * of domains, but in several tenants. */
#define LIMIT_DOMAINS_PER_TENANT 1000000

#endif
