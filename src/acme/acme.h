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
 *  - Several nodes (acme_config.shared, filled by src/cluster/): one
 *    node at a time orders a name, the certificate, its key and the
 *    account key are kept in the shared store as well, and challenges
 *    are registered there too so that any node answers them.
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

/* What the ACME module shares with the other nodes of a cluster (the
 * cluster module fills it over the store; NULL in acme_config: the
 * files in data_dir are all there is, as on one node). Called from the
 * thread running an order; e is set on -1. */
struct acme_shared {
	void	*arg;
	/* May this node order name now? 1: yes, it holds the lease on name
	 * for a bounded time; 0: no, another node holds it; 2: no need, a
	 * certificate of name stored by another node is not due for
	 * renewal, and is now in <data_dir>/certs; -1: cannot tell. */
	int	(*claim)(void *arg, const char *name, struct err *e);
	/* Ends the claim on name: until 0 lets any node order it now; a
	 * later time keeps the others off until then (this node's backoff
	 * after a failure, shared). */
	void	(*release)(void *arg, const char *name, time_t until);
	/* NAME.key and NAME.pem were written: keep the chain (PEM) and the
	 * key (PEM) for the other nodes. */
	int	(*cert_put)(void *arg, const char *name, const char *chain,
		    size_t chain_len, const char *key, size_t key_len,
		    struct err *e);
	/* The account key every node uses, PEM in a new string (caller
	 * frees): 0, 1 when none is stored yet, or -1. */
	int	(*account_get)(void *arg, char **pem, size_t *len,
		    struct err *e);
	/* Offers pem as the account key unless one is stored (another
	 * node's may win: read it back with account_get). */
	int	(*account_put)(void *arg, const char *pem, size_t len,
		    struct err *e);
	/* A challenge this node registered, for the other nodes to answer
	 * too; and its end. */
	int	(*challenge_put)(void *arg, enum acme_challenge type,
		    const char *name, const char *token, const char *keyauth,
		    struct err *e);
	void	(*challenge_remove)(void *arg, const char *token);
	/* Milliseconds the other nodes need to see a new challenge: the
	 * order waits that long before asking the CA to validate. */
	unsigned challenge_wait_ms;
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
	const struct acme_shared *shared;	/* NULL: one node (borrowed
					 * for as long as the manager runs) */
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

/* A challenge another node registered (acme_challenge_mirror). */
struct acme_challenge_row {
	enum acme_challenge type;
	const char *name;
	const char *token;
	const char *keyauth;
};
/* Makes the challenges other nodes have in progress, rows[0..n),
 * answerable here too: adds those not known yet (a tls-alpn-01
 * certificate is made for each, once), forgets those mirrored before
 * that rows no longer holds. Challenges this process registered itself
 * are left alone. Rows are copied. Returns 0, or -1 with the reason
 * (a row too long, out of memory: the others are still mirrored). */
int	acme_challenge_mirror(const struct acme_challenge_row *rows, size_t n,
	    struct err *e);

/* Replaces name's certificate in <data_dir>/certs (made 0700 when
 * missing): NAME.key (mode 0600) first, then NAME.pem (0644), each
 * atomically and durably, so that a reader that sees the new NAME.pem
 * finds its key. name must be a checked host name. Returns 0 or -1 with
 * the reason. */
int	acme_cert_write(const char *data_dir, const char *name,
	    const char *chain, size_t chain_len, const char *key,
	    size_t key_len, struct err *e);

/* <data_dir>/certs/NAME.EXT into buf. 0, or -1 when it does not fit. */
int	acme_cert_path(const char *data_dir, const char *name,
	    const char *ext, char *buf, size_t len, struct err *e);

/* When a certificate valid [not_before, not_after] is due for renewal:
 * when a third of its lifetime is left. */
time_t	acme_renew_at(time_t not_before, time_t not_after);
/* notBefore and notAfter of the first certificate of the PEM text
 * pem[0..len). 0, or -1 when there is none. */
int	acme_chain_times(const char *pem, size_t len, time_t *not_before,
	    time_t *not_after);

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
