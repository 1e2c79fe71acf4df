/*
 * tls_int.h - what the files of the tls module share; not for other
 * modules.
 */
#ifndef STSGUARD_TLS_INT_H
#define STSGUARD_TLS_INT_H

#include <sys/types.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "tls.h"

struct tls_localca {
	X509		*cert;
	EVP_PKEY	*key;
};

/* Loads <data_dir>/local-ca.pem + local-ca.key, creating them (ECDSA
 * P-256, self-signed, 10 years, key 0600) when both are missing. Returns
 * 0 and *ca (free with tls_localca_free), or -1 with the reason. */
int	tls_localca_open(const char *data_dir, struct tls_localca **ca,
	    struct err *e);
void	tls_localca_free(struct tls_localca *ca);

/* Issues a leaf for name (ECDSA P-256 key, SAN dNSName name, serverAuth,
 * 398 days) and writes it to pem_path (leaf only) and key_path (0600),
 * each atomically (temporary file, rename; no fsync: a leaf lost in a
 * crash is issued again, and the first handshake must stay fast), and
 * hands back the
 * certificate and key (caller frees) so that the caller need not read
 * the files back (another thread may be replacing them). Any thread.
 * Returns 0 or -1 with the reason. */
int	tls_localca_issue(struct tls_localca *ca, const char *name,
	    const char *pem_path, const char *key_path, X509 **cert,
	    EVP_PKEY **key, struct err *e);

#endif
