/*
 * acme_int.h - what the files of src/acme/ share, and what the unit tests
 * reach: the JWS pieces (acme_jws.c), the challenge registry and the
 * TLS-ALPN-01 certificate (acme_challenge.c), the client flow with a
 * cancel flag (acme_client.c) and the manager's arithmetic and DNS check
 * (acme_manager.c). Not for other modules: they use acme.h.
 */
#ifndef STSGUARD_ACME_INT_H
#define STSGUARD_ACME_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "acme.h"

/* --- limits (to move into lib/limits.h with the other bounds) ---------- */

/* Any ACME response body (directory, order, authorization, certificate
 * chain). A PEM chain of three certificates is about 4 KiB and Let's
 * Encrypt's largest JSON objects are a few KiB; 1 MiB bounds a hostile
 * or broken CA. */
#define ACME_LIMIT_BODY (1024 * 1024)
/* A single HTTP header line kept (Replay-Nonce, Location). */
#define ACME_LIMIT_HEADER 2048
/* badNonce answers retried per request. Pebble rejects 5 % of good nonces
 * by default and tests push it higher; uacme, which gives up after two,
 * fails there (PEERS.md). */
#define ACME_BADNONCE_RETRIES 10
/* Polls of an authorization or an order before giving up, and the delay
 * between them: 250 ms doubling to 4 s, about 90 s in all. Let's Encrypt
 * validates in seconds; a CA that takes longer is retried by the manager
 * with backoff rather than by holding the thread for ever. */
#define ACME_POLL_TRIES 28
#define ACME_POLL_FIRST_MS 250
#define ACME_POLL_MAX_MS 4000
/* Seconds for one HTTP exchange with the CA (connect included). */
#define ACME_HTTP_TIMEOUT 30
/* CNAME hops followed from mta-sts.<domain> to service_host. */
#define ACME_CNAME_HOPS 8

/* In a cluster (acme_shared): how soon a node that found a name claimed
 * by another looks again (by then the certificate is usually stored and
 * the look finds it). */
#define ACME_LEASE_RETRY 60

/* Manager backoff after a failed order: 1 minute doubling to 1 day. */
#define ACME_BACKOFF_MIN 60
#define ACME_BACKOFF_MAX 86400

/* Key authorization "TOKEN.THUMBPRINT": tokens are >= 128 bits of
 * base64url (RFC 8555 §8.1), 43 characters at Let's Encrypt; 256 bytes
 * for the token leave room. */
#define ACME_TOKEN_MAX 256
#define ACME_KEYAUTH_MAX (ACME_TOKEN_MAX + 1 + 43)

/* --- acme_jws.c ------------------------------------------------------ */

/* base64url of len bytes without padding (RFC 7515 §2), in a new
 * NUL-terminated string (caller frees). Returns 0 or -1 (out of memory). */
int	acme_b64url(const void *in, size_t len, char **out);

/* A new ECDSA P-256 key, or NULL. */
EVP_PKEY *acme_key_new(void);

/* The account key at <data_dir>/acme/account.key: loaded, or created
 * (directory 0700, file 0600, written atomically) when missing. Returns 0
 * and *key (caller frees), or -1 with the reason. */
int	acme_account_key(const char *data_dir, EVP_PKEY **key, struct err *e);

/* The account key of cfg: with cfg->shared, the one every node uses
 * (stored by the first node that needed one: its local account.key, or
 * a new key); else acme_account_key(cfg->data_dir). Returns 0 and *key
 * (caller frees), or -1 with the reason. */
int	acme_account_key_shared(const struct acme_config *cfg, EVP_PKEY **key,
	    struct err *e);

/* The private key as PKCS#8 PEM in a new buffer (caller frees). */
int	acme_key_pem(EVP_PKEY *key, char **pem, size_t *len);

/* The public JWK of a P-256 key in RFC 7638 canonical form: members in
 * lexical order, no white space:
 *	{"crv":"P-256","kty":"EC","x":"<b64url 32>","y":"<b64url 32>"}
 * New string (caller frees); 0 or -1. */
int	acme_jwk(EVP_PKEY *key, char **json);

/* RFC 7638 thumbprint: base64url(SHA-256(canonical JWK)), 43 characters
 * and a NUL. acme_thumbprint_json hashes the given canonical text as is
 * (for any key type, e.g. RFC 7638's RSA example). 0 or -1. */
int	acme_thumbprint_json(const char *jwk, char out[44]);
int	acme_thumbprint(EVP_PKEY *key, char out[44]);

/* ECDSA-Sig-Value (DER SEQUENCE of two INTEGERs) to JWS's raw R || S,
 * each left-padded to 32 bytes (RFC 7518 §3.4). 0, or -1 when der is not
 * one signature of P-256 size. */
int	acme_sig_der_to_raw(const unsigned char *der, size_t len,
	    unsigned char raw[64]);

/* A flattened JWS (RFC 8555 §6.2) ready to POST:
 *	{"protected":B64(hdr),"payload":B64(payload),"signature":B64(r||s)}
 *	hdr = {"alg":"ES256","jwk":JWK,"nonce":N,"url":U}	(kid == NULL)
 *	    | {"alg":"ES256","kid":K,"nonce":N,"url":U}
 * payload NULL means POST-as-GET (empty payload, RFC 8555 §6.3).
 * New string (caller frees); 0 or -1 with the reason. */
int	acme_jws(EVP_PKEY *key, const char *kid, const char *nonce,
	    const char *url, const char *payload, char **out, struct err *e);

/* mkdir -p of one level: creates dir with mode unless it exists. 0/-1. */
int	acme_mkdir(const char *dir, mode_t mode, struct err *e);


/* One log line "event=EV name=NAME detail=DETAIL" (NULLs left out),
 * both values escaped. */
void	acme_log(int level, const char *ev, const char *name,
	    const char *detail);

/* --- acme_challenge.c ------------------------------------------------ */

/* Registers a pending challenge: for http-01 the token answers keyauth;
 * for tls-alpn-01 a challenge certificate for name is made now. Copies
 * everything. Returns 0 or -1 with the reason. */
int	acme_challenge_add(enum acme_challenge type, const char *name,
	    const char *token, const char *keyauth, struct err *e);
/* Forgets the challenge registered with token (no-op when absent). */
void	acme_challenge_remove(const char *token);

/* The self-signed TLS-ALPN-01 certificate (RFC 8737 §3) for name: a new
 * P-256 key, SAN dNSName name, and the critical extension
 * id-pe-acmeIdentifier (1.3.6.1.5.5.7.1.31) whose extnValue is the DER
 * OCTET STRING of SHA-256(keyauth):
 *	04 20 <32 bytes>
 * Returns 0 and both (caller frees), or -1 with the reason. */
int	acme_alpn01_cert(const char *name, const char *keyauth, X509 **cert,
	    EVP_PKEY **key, struct err *e);

/* --- acme_client.c --------------------------------------------------- */

/* acme_obtain() that gives up (with "cancelled") soon after *cancel
 * becomes true; cancel may be NULL. */
int	acme_obtain_cancel(const struct acme_config *cfg, const char *name,
	    const atomic_bool *cancel, struct err *e);

/* --- acme_manager.c -------------------------------------------------- */

/* Seconds to wait after the n-th consecutive failure (n >= 1):
 * 60 * 2^(n-1), at most 86400. */
unsigned acme_backoff(unsigned failures);
/* notBefore and notAfter of the first certificate in the PEM file at
 * path. 0, or -1 (missing or unreadable: renew now). */
int	acme_cert_times(const char *path, time_t *not_before,
	    time_t *not_after);
/* Checks that name resolves to this service: an A/AAAA address among
 * cfg->service_addrs, or a CNAME chain reaching cfg->service_host.
 * Returns 0, or -1 with what the DNS says instead. */
int	acme_dns_check(const struct acme_config *cfg, const char *name,
	    struct err *e);

#endif
