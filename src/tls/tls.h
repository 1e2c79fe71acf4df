/*
 * tls.h - the daemon's TLS side: OpenSSL server contexts, certificate by
 * SNI from a lazily filled cache, session tickets with rotated keys, ALPN
 * ("http/1.1", and "acme-tls/1" for RFC 8737 challenges), and the local CA
 * of `certificates = local`.
 *
 * One SSL_CTX per certificate. Connections are created from the default
 * context (tls_default_ctx) and switched to the context of their SNI name
 * in the ClientHello callback; a name's context is built on its first
 * handshake (from <data_dir>/certs/NAME.pem + NAME.key, issued first by
 * the local CA when that is the source), not at start, so 100,000 hosted
 * names cost nothing until they are fetched.
 *
 * SNI policy: a hosted name (the daemon's hosted() callback) or
 * service_host gets its own certificate; no SNI, or an IP literal as SNI,
 * gets service_host's certificate; any other name fails the handshake
 * with an unrecognized_name alert, so we never present a certificate for
 * a name we do not serve.
 *
 * Thread-safety: everything here may be called from any worker thread.
 * The cache is sharded (64 mutexes held for a hash probe), ticket keys
 * are read without locks.
 */
#ifndef STSGUARD_TLS_H
#define STSGUARD_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "../lib/err.h"
#include "../lib/limits.h"

enum tls_source {
	TLS_SOURCE_LOCAL,	/* the local CA issues on demand */
	TLS_SOURCE_FILES,	/* operator-provided files */
	TLS_SOURCE_ACME,	/* files written by the ACME module */
};

/* Answers whether name (lower case, no trailing dot, len bytes) is
 * served here. Called from worker threads during handshakes: must be
 * fast and lock-free. */
typedef bool (*tls_hosted_cb)(void *arg, const char *name, size_t len);

struct tls_config {
	const char	*data_dir;
	const char	*service_host;
	enum tls_source	 source;
	bool		 acme_alpn;	/* answer "acme-tls/1" (RFC 8737) */
	tls_hosted_cb	 hosted;
	void		*hosted_arg;
};

struct tls;

/* Parses "local", "files", "acme". Returns 0 or -1. */
int	tls_source_parse(const char *s, enum tls_source *src);

/* Sets up contexts, ticket keys and (source local) the local CA, creating
 * <data_dir>/local-ca.pem and local-ca.key (0600) and <data_dir>/certs/
 * when missing. cfg strings are copied. Returns 0 and *t, or -1 with the
 * reason. */
int	tls_new(const struct tls_config *cfg, struct tls **t, struct err *e);
void	tls_free(struct tls *t);

/* The context new server connections are created from (borrowed until
 * tls_free). */
SSL_CTX	*tls_default_ctx(struct tls *t);

/* Loads (or, for source local, issues) the certificate of name now, so
 * that the first handshake is fast and errors show at start. Returns 0
 * or -1 with the reason. */
int	tls_preload(struct tls *t, const char *name, struct err *e);

/* Drops name's cached context so that its next handshake reads the files
 * again (the ACME module replaced them). Any thread. */
void	tls_forget(struct tls *t, const char *name);
/* Drops every cached certificate and remembered failure: each name reads
 * its files again on its next handshake (SIGHUP, for an operator who
 * replaced files). Connections keep the certificate they have. Any
 * thread. */
void	tls_forget_all(struct tls *t);

/* Makes a new ticket encryption key current, keeping the previous one to
 * decrypt (and renew) tickets issued before. Call every
 * TLS_TICKET_ROTATE_SECONDS from one thread. */
#define TLS_TICKET_ROTATE_SECONDS (12 * 3600)
void	tls_tickets_rotate(struct tls *t);

/* True when the handshake of ssl was a TLS-ALPN-01 challenge: the
 * connection must be closed after it, without HTTP. */
bool	tls_is_acme_challenge(SSL *ssl);

/* The SNI name of ssl as normalized by the ClientHello callback (lower
 * case, no trailing dot), or NULL when none or an IP literal. Borrowed
 * for the life of ssl. */
const char *tls_sni(SSL *ssl);

/* --- ClientHello extensions (tls_hello.c; pure, no SSL) --------------- */

/* Reads the body of a server_name extension (RFC 6066 §3), p[0..len) as
 * SSL_client_hello_get0_ext gives it: exactly one host_name entry, whose
 * 2-byte list and name lengths must add up to len. Letters are folded to
 * lower case and one trailing dot is dropped; the name must then be
 * 1..LIMIT_DNAME_LEN bytes of letters, digits, '-', '_' and '.', in
 * labels of 1..LIMIT_LABEL_LEN bytes.
 * Returns 1 with the name in out (NUL-terminated), 0 when the name is
 * an IPv4 or IPv6 literal (clients given an IP URL send one: no SNI), or
 * -1 when the extension is malformed or the name is not a host name
 * (the caller answers unrecognized_name). On 0 and -1 out is "". Reads
 * no byte outside p[0..len). */
int	tls_sni_parse(const uint8_t *p, size_t len,
	    char out[LIMIT_DNAME_LEN + 1]);

/* True when the ALPN extension body p[0..len) (RFC 7301 §3.1: a 2-byte
 * list length equal to len - 2, then entries of a 1-byte length and
 * 1..255 bytes) is well formed and one entry is exactly proto (plen
 * bytes). A malformed list (length mismatch, an empty or truncated
 * entry, anywhere in the list) offers nothing: false. Reads no byte
 * outside p[0..len). */
bool	tls_alpn_offers(const uint8_t *p, size_t len, const char *proto,
	    size_t plen);

/* The same over the entries alone, list[0..len) without the 2-byte
 * length (what OpenSSL's ALPN select callback is given): a pointer to
 * the first entry equal to proto (its plen bytes, inside list), or NULL
 * when there is none or the list is malformed. */
const uint8_t *tls_alpn_find(const uint8_t *list, size_t len,
	    const char *proto, size_t plen);

/* Number of contexts in the cache (for logs and the benchmark). */
size_t	tls_cache_count(struct tls *t);

#endif
