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

/* Number of contexts in the cache (for logs and the benchmark). */
size_t	tls_cache_count(struct tls *t);

#endif
