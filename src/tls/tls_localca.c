/*
 * tls_localca.c - the local CA of `certificates = local`: one ECDSA P-256
 * root made on first start, issuing a leaf per hosted name on demand, so
 * that a single machine serves real HTTPS that `curl --cacert
 * <data_dir>/local-ca.pem` (or SSL_CERT_FILE) verifies.
 *
 * Files: <data_dir>/local-ca.pem (certificate, 0644), local-ca.key
 * (PKCS#8 PEM, 0600); leaves as <data_dir>/certs/NAME.pem/.key, the same
 * layout as ACME and operator files. Never talks to the network.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "../lib/file.h"
#include "tls_int.h"

#define LOCALCA_DAYS (10 * 365)
#define LEAF_DAYS 398		/* the CA/B Forum maximum, so clients with
				 * validity caps accept it too */

static int
tls_ossl_err(struct err *e, const char *what)
{
	char buf[160];
	unsigned long code = ERR_get_error();

	ERR_clear_error();
	if (code == 0)
		return err_set(e, "%s failed", what);
	ERR_error_string_n(code, buf, sizeof(buf));
	return err_set(e, "%s: %s", what, buf);
}

/* PEM of a certificate or private key into a new buffer; writes it. */
static int
tls_write_pem(const char *path, X509 *cert, EVP_PKEY *key, mode_t mode,
    bool durable, struct err *e)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long len;
	int rc = -1;

	if (b == NULL)
		return tls_ossl_err(e, "BIO_new");
	if (cert != NULL && !PEM_write_bio_X509(b, cert)) {
		tls_ossl_err(e, "PEM_write_bio_X509");
		goto out;
	}
	if (key != NULL && !PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0,
	    NULL, NULL)) {
		tls_ossl_err(e, "PEM_write_bio_PrivateKey");
		goto out;
	}
	len = BIO_get_mem_data(b, &data);
	rc = file_write_atomic(path, data, (size_t)len, mode, durable, e);
out:
	BIO_free(b);
	return rc;
}

static EVP_PKEY *
tls_p256_key(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

static int
tls_add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return -1;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

/* A certificate with a random 128-bit serial, subject CN=cn, valid from
 * an hour ago (clock skew) for days. */
static X509 *
tls_new_cert(const char *cn, EVP_PKEY *key, long days)
{
	unsigned char serial[16];
	X509 *cert = X509_new();
	X509_NAME *name;
	BIGNUM *bn = NULL;

	if (cert == NULL)
		return NULL;
	RAND_bytes(serial, sizeof(serial));
	serial[0] &= 0x7f;
	if ((bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
	    !X509_set_version(cert, 2) ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) == NULL ||
	    X509_gmtime_adj(X509_getm_notBefore(cert), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(cert), days * 86400) == NULL ||
	    !X509_set_pubkey(cert, key) ||
	    (name = X509_get_subject_name(cert)) == NULL ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0)) {
		BN_free(bn);
		X509_free(cert);
		return NULL;
	}
	BN_free(bn);
	return cert;
}

static int
tls_localca_create(const char *pem, const char *keyp, struct tls_localca *ca,
    struct err *e)
{
	if ((ca->key = tls_p256_key()) == NULL)
		return tls_ossl_err(e, "EC key generation");
	if ((ca->cert = tls_new_cert("stsguard local CA", ca->key,
	    LOCALCA_DAYS)) == NULL ||
	    !X509_set_issuer_name(ca->cert, X509_get_subject_name(ca->cert)) ||
	    tls_add_ext(ca->cert, ca->cert, NID_basic_constraints,
	    "critical,CA:TRUE") == -1 ||
	    tls_add_ext(ca->cert, ca->cert, NID_key_usage,
	    "critical,keyCertSign,cRLSign") == -1 ||
	    tls_add_ext(ca->cert, ca->cert, NID_subject_key_identifier,
	    "hash") == -1 ||
	    !X509_sign(ca->cert, ca->key, EVP_sha256()))
		return tls_ossl_err(e, "local CA certificate");
	/* Key first: a crash in between leaves a key without certificate,
	 * which the next start reports instead of silently replacing. */
	if (tls_write_pem(keyp, NULL, ca->key, 0600, true, e) == -1 ||
	    tls_write_pem(pem, ca->cert, NULL, 0644, true, e) == -1)
		return -1;
	return 0;
}

int
tls_localca_open(const char *data_dir, struct tls_localca **out,
    struct err *e)
{
	char pem[4096], keyp[4096];
	struct tls_localca *ca;
	struct stat st;
	bool has_pem, has_key;
	FILE *f = NULL;
	int rc = -1;

	*out = NULL;
	if ((ca = calloc(1, sizeof(*ca))) == NULL)
		return err_set(e, "out of memory");
	snprintf(pem, sizeof(pem), "%s/local-ca.pem", data_dir);
	snprintf(keyp, sizeof(keyp), "%s/local-ca.key", data_dir);
	has_pem = stat(pem, &st) == 0;
	has_key = stat(keyp, &st) == 0;
	if (!has_pem && !has_key) {
		if (tls_localca_create(pem, keyp, ca, e) == -1)
			goto out;
		rc = 0;
		goto out;
	}
	if (!has_pem || !has_key) {
		err_set(e, "%s: only one of local-ca.pem and local-ca.key "
		    "exists; remove it to make a new CA", data_dir);
		goto out;
	}
	if ((f = fopen(pem, "r")) == NULL ||
	    (ca->cert = PEM_read_X509(f, NULL, NULL, NULL)) == NULL) {
		err_set(e, "%s: %s", pem, f ? "not a PEM certificate" :
		    strerror(errno));
		goto out;
	}
	fclose(f);
	if ((f = fopen(keyp, "r")) == NULL ||
	    (ca->key = PEM_read_PrivateKey(f, NULL, NULL, NULL)) == NULL) {
		err_set(e, "%s: %s", keyp, f ? "not a PEM private key" :
		    strerror(errno));
		goto out;
	}
	if (X509_check_private_key(ca->cert, ca->key) != 1) {
		err_set(e, "%s does not match %s", keyp, pem);
		goto out;
	}
	rc = 0;
out:
	if (f != NULL)
		fclose(f);
	ERR_clear_error();
	if (rc == 0)
		*out = ca;
	else
		tls_localca_free(ca);
	return rc;
}

void
tls_localca_free(struct tls_localca *ca)
{
	if (ca == NULL)
		return;
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	free(ca);
}

int
tls_localca_issue(struct tls_localca *ca, const char *name,
    const char *pem_path, const char *key_path, X509 **cert_out,
    EVP_PKEY **key_out, struct err *e)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char san[LIMIT_DNAME_LEN + 8];
	int rc = -1;

	snprintf(san, sizeof(san), "DNS:%s", name);
	if ((key = tls_p256_key()) == NULL) {
		tls_ossl_err(e, "EC key generation");
		goto out;
	}
	if ((cert = tls_new_cert(name, key, LEAF_DAYS)) == NULL ||
	    !X509_set_issuer_name(cert, X509_get_subject_name(ca->cert)) ||
	    tls_add_ext(cert, ca->cert, NID_basic_constraints,
	    "critical,CA:FALSE") == -1 ||
	    tls_add_ext(cert, ca->cert, NID_key_usage,
	    "critical,digitalSignature") == -1 ||
	    tls_add_ext(cert, ca->cert, NID_ext_key_usage,
	    "serverAuth") == -1 ||
	    tls_add_ext(cert, ca->cert, NID_subject_alt_name, san) == -1 ||
	    tls_add_ext(cert, ca->cert, NID_authority_key_identifier,
	    "keyid:always") == -1 ||
	    !X509_sign(cert, ca->key, EVP_sha256())) {
		tls_ossl_err(e, "leaf certificate");
		goto out;
	}
	if (tls_write_pem(key_path, NULL, key, 0600, false, e) == -1 ||
	    tls_write_pem(pem_path, cert, NULL, 0644, false, e) == -1)
		goto out;
	*cert_out = cert;
	*key_out = key;
	cert = NULL;
	key = NULL;
	rc = 0;
out:
	ERR_clear_error();
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}
