/*
 * acme.h - the ACME client (RFC 8555) that gets and renews certificates
 * for `mta-sts.<domain>` and for the service's own name, answering
 * TLS-ALPN-01 (RFC 8737) or HTTP-01 challenges through the daemon's own
 * listeners.
 *
 * Contract between the daemon and this module:
 *  - Certificates live under <data_dir>/certs/: NAME.pem (leaf then
 *    chain) and NAME.key (ECDSA P-256, PEM, mode 0600), each replaced
 *    atomically (write to a temporary file, fsync, rename). The daemon's
 *    certificate cache loads them from there and reloads a name when
 *    told through on_issued.
 *  - The account key is <data_dir>/acme/account.key (ECDSA P-256, 0600),
 *    created on first use; the account URL is kept beside it.
 *  - Challenges in progress sit in a registry inside this module; the
 *    daemon's HTTP listener asks acme_http01_lookup() for
 *    /.well-known/acme-challenge/TOKEN, and its TLS listener asks
 *    acme_alpn01_lookup() when a ClientHello offers ALPN "acme-tls/1".
 *    Both are safe to call from any thread and cheap; they are off the
 *    policy hot path (only challenge traffic calls them).
 *  - The manager runs in its own thread: it never blocks a worker.
 */
#ifndef STSGUARD_ACME_H
#define STSGUARD_ACME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "../lib/err.h"
#include "../lib/strv.h"

enum acme_challenge {
	ACME_TLS_ALPN_01,
	ACME_HTTP_01,
};

struct acme_config {
	const char *directory_url;	/* "https://.../dir" */
	const char *email;		/* account contact, may be NULL */
	const char *ca_bundle;		/* trust for the ACME server, or NULL
					 * for the system store */
	const char *data_dir;
	enum acme_challenge challenge;
	const char *service_host;	/* CNAME target customers point at */
	/* Addresses this service answers on, to check before ordering that
	 * mta-sts.<domain> resolves here (A/AAAA equal, or a CNAME chain
	 * reaching service_host). NULL: check the CNAME only. */
	const struct strv *service_addrs;
	bool	    skip_dns_check;	/* tests without DNS */
};

/* Called by the manager (from its thread) to learn the names that need a
 * certificate now; fill out (strv_push), return 0. */
typedef int (*acme_names_cb)(void *arg, struct strv *out);
/* Called by the manager (from its thread) after NAME.pem/NAME.key were
 * replaced, so that the daemon serves the new certificate. */
typedef void (*acme_issued_cb)(void *arg, const char *name);

struct acme_manager;

/* Starts the manager thread: every interval seconds (and at once) it asks
 * names() and, for each name whose certificate is missing or has a third
 * or less of its lifetime left, orders one; after a failure it backs off
 * exponentially for that name only (1 min doubling to 1 day), so one
 * broken domain never delays another. A name whose DNS does not point
 * here yet is skipped without backoff (retried next round; no CA request
 * was made). cfg is copied (strings and service_addrs included): the
 * caller may free it after the call. names and issued run on the
 * manager's thread, one at a time; names() must not block for long and
 * issued() should only schedule the reload. Orders run one at a time.
 * Returns 0 and *m, or -1. */
int	acme_manager_start(const struct acme_config *cfg, acme_names_cb names,
	    acme_issued_cb issued, void *arg, unsigned interval,
	    struct acme_manager **m, struct err *e);
/* Wakes the manager at once (a domain was added). */
void	acme_manager_kick(struct acme_manager *m);
/* What the manager did since it started, for the metrics. */
struct acme_stats {
	uint64_t orders;	/* orders started */
	uint64_t renewals;	/* of them, successful ones that replaced a
				 * certificate the name had */
	uint64_t failures;	/* orders that failed */
	time_t	 soonest_expiry;	/* earliest notAfter among the
				 * managed names' certificates as of the
				 * last round, unix time; 0: none yet */
};
/* Fills out; from any thread, while m runs (relaxed reads: each figure
 * is exact, the four may be of slightly different moments). */
void	acme_manager_stats(struct acme_manager *m, struct acme_stats *out);
/* Stops the thread (waits for it; an order in progress is abandoned
 * within about a second) and frees m. */
void	acme_manager_stop(struct acme_manager *m);

/* One order, blocking, for tools and tests: obtains a certificate for name
 * (a normalized A-label host name; anything else is refused before any
 * request) and writes it as described above, NAME.key before NAME.pem.
 * Does not check DNS first (the manager does). Something must answer the
 * challenge meanwhile: the daemon's listeners, or `stsguard acme obtain`'s
 * own responder. Returns 0 or -1 with the reason, e.g.
 *   "mta-sts.x.test: validation failed: urn:ietf:params:acme:error:dns: ..."
 * (the CA's problem type and detail). Thread-safe. */
int	acme_obtain(const struct acme_config *cfg, const char *name,
	    struct err *e);

/* A buffer this large always holds a key authorization. */
#define ACME_HTTP01_BUF 512

/* HTTP-01: the key authorization for token, copied into buf (NUL-ended;
 * ACME_HTTP01_BUF bytes are enough). Returns 0, or -1 when no challenge with that
 * token is pending or buf is too small. Serve it as the 200 body of
 * GET /.well-known/acme-challenge/TOKEN, on any Host. */
int	acme_http01_lookup(const char *token, char *buf, size_t len);

/* TLS-ALPN-01: a new reference to the self-signed challenge certificate
 * and key for name (with the acmeIdentifier extension), or -1 when no
 * challenge for name (compared without case) is pending. Caller frees
 * both. Use it only when the ClientHello offers ALPN "acme-tls/1" (and
 * then select that protocol), with the SNI name; RFC 8737 §3. */
int	acme_alpn01_lookup(const char *name, X509 **cert, EVP_PKEY **key);

/* What the dashboard shows of a name's certificate: its validity (from
 * <data_dir>/certs/NAME.pem), when the manager renews it, and the last
 * failed order (NAME.failed, which the manager writes on a failure and
 * removes on success). */
#define ACME_REASON_LEN 256
struct acme_cert_state {
	time_t	 not_before, not_after;	/* 0: no certificate */
	time_t	 renew_at;		/* a third of its lifetime left */
	time_t	 failed_at;		/* 0: the last order did not fail */
	unsigned failures;		/* consecutive failed orders */
	char	 reason[ACME_REASON_LEN];
};
/* Fills st for name. Returns 0 (also when there is no certificate yet)
 * or -1 when the path does not fit. Reads two small files. */
int	acme_cert_state(const char *data_dir, const char *name,
	    struct acme_cert_state *st);

#endif
