/*
 * acme_challenge.c - challenges in progress, and the answers the daemon's
 * listeners give for them.
 *
 * HTTP-01 (RFC 8555 §8.3): the CA fetches
 *	GET http://NAME/.well-known/acme-challenge/TOKEN
 * and expects the body TOKEN "." THUMBPRINT (the key authorization);
 * acme_http01_lookup() gives that text for a token.
 *
 * TLS-ALPN-01 (RFC 8737 §3): the CA connects to NAME:443 with SNI NAME and
 * ALPN "acme-tls/1" only, and expects a self-signed certificate with
 *	subjectAltName  = dNSName NAME
 *	acmeIdentifier  = critical, OCTET STRING (SHA-256(key authorization))
 *	    id-pe-acmeIdentifier OBJECT IDENTIFIER ::= 1.3.6.1.5.5.7.1.31
 * acme_alpn01_lookup() hands out that certificate, made when the
 * challenge was registered so that lookups cost only a reference.
 *
 * The registry is a short list under one mutex: a few entries at a time
 * (one per order in progress). It never touches the network or disk.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "acme_int.h"
#include "../lib/limits.h"

struct acme_chal {
	struct acme_chal *next;
	enum acme_challenge type;
	char	 name[LIMIT_DNAME_LEN + 1];
	char	 token[ACME_TOKEN_MAX + 1];
	char	 keyauth[ACME_KEYAUTH_MAX + 1];
	X509	*cert;		/* tls-alpn-01 only */
	EVP_PKEY *key;
	bool	 mirrored;	/* another node's (acme_challenge_mirror) */
};

_Static_assert(ACME_KEYAUTH_MAX < ACME_HTTP01_BUF,
    "ACME_HTTP01_BUF must hold any key authorization");

static pthread_mutex_t acme_chal_mu = PTHREAD_MUTEX_INITIALIZER;
static struct acme_chal *acme_chal_list;

int
acme_alpn01_cert(const char *name, const char *keyauth, X509 **cert,
    EVP_PKEY **key, struct err *e)
{
	unsigned char md[32], der[2 + 32], serial[16];
	X509V3_CTX ctx;
	X509 *x = NULL;
	EVP_PKEY *k = NULL;
	ASN1_OBJECT *oid = NULL;
	ASN1_OCTET_STRING *val = NULL;
	X509_EXTENSION *ext = NULL;
	X509_NAME *subj;
	BIGNUM *bn = NULL;
	char san[LIMIT_DNAME_LEN + 8];
	int rc = -1;

	if (!EVP_Digest(keyauth, strlen(keyauth), md, NULL, EVP_sha256(),
	    NULL))
		goto fail;
	/* extnValue holds the DER of an OCTET STRING of the digest. */
	der[0] = V_ASN1_OCTET_STRING;
	der[1] = 32;
	memcpy(der + 2, md, 32);
	if ((k = acme_key_new()) == NULL || (x = X509_new()) == NULL ||
	    !X509_set_version(x, X509_VERSION_3) ||
	    RAND_bytes(serial, sizeof(serial)) != 1)
		goto fail;
	serial[0] &= 0x7f;
	if ((bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 7 * 86400) == NULL ||
	    !X509_set_pubkey(x, k))
		goto fail;
	subj = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC,
	    (const unsigned char *)name, -1, -1, 0) ||
	    !X509_set_issuer_name(x, subj))
		goto fail;
	snprintf(san, sizeof(san), "DNS:%s", name);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name,
	    san)) == NULL || !X509_add_ext(x, ext, -1))
		goto fail;
	X509_EXTENSION_free(ext);
	ext = NULL;
	if ((oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1)) == NULL ||
	    (val = ASN1_OCTET_STRING_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(val, der, sizeof(der)) ||
	    (ext = X509_EXTENSION_create_by_OBJ(NULL, oid, 1, val)) == NULL ||
	    !X509_add_ext(x, ext, -1) ||
	    X509_sign(x, k, EVP_sha256()) == 0)
		goto fail;
	*cert = x;
	*key = k;
	x = NULL;
	k = NULL;
	rc = 0;
	goto out;
fail:
	err_set(e, "cannot make the tls-alpn-01 certificate for %s", name);
out:
	BN_free(bn);
	ASN1_OBJECT_free(oid);
	ASN1_OCTET_STRING_free(val);
	X509_EXTENSION_free(ext);
	X509_free(x);
	EVP_PKEY_free(k);
	return rc;
}

static void
acme_chal_free(struct acme_chal *c)
{
	if (c == NULL)
		return;
	X509_free(c->cert);
	EVP_PKEY_free(c->key);
	OPENSSL_cleanse(c->keyauth, sizeof(c->keyauth));
	free(c);
}

static int
acme_chal_add(enum acme_challenge type, const char *name, const char *token,
    const char *keyauth, bool mirrored, struct err *e)
{
	struct acme_chal *c;

	if (strlen(name) > LIMIT_DNAME_LEN || strlen(token) > ACME_TOKEN_MAX ||
	    strlen(keyauth) > ACME_KEYAUTH_MAX)
		return err_set(e, "challenge for %s too long", name);
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return err_set(e, "out of memory");
	c->type = type;
	c->mirrored = mirrored;
	memcpy(c->name, name, strlen(name) + 1);
	memcpy(c->token, token, strlen(token) + 1);
	memcpy(c->keyauth, keyauth, strlen(keyauth) + 1);
	if (type == ACME_TLS_ALPN_01 &&
	    acme_alpn01_cert(name, keyauth, &c->cert, &c->key, e) == -1) {
		acme_chal_free(c);
		return -1;
	}
	pthread_mutex_lock(&acme_chal_mu);
	c->next = acme_chal_list;
	acme_chal_list = c;
	pthread_mutex_unlock(&acme_chal_mu);
	return 0;
}

int
acme_challenge_add(enum acme_challenge type, const char *name,
    const char *token, const char *keyauth, struct err *e)
{
	return acme_chal_add(type, name, token, keyauth, false, e);
}

/* True when token is one of rows[0..n)'s. */
static bool
acme_chal_listed(const struct acme_challenge_row *rows, size_t n,
    const char *token)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i].token, token) == 0)
			return true;
	return false;
}

/* True when a challenge with token is registered. */
static bool
acme_chal_known(const char *token)
{
	struct acme_chal *c;
	bool found = false;

	pthread_mutex_lock(&acme_chal_mu);
	for (c = acme_chal_list; c != NULL && !found; c = c->next)
		found = strcmp(c->token, token) == 0;
	pthread_mutex_unlock(&acme_chal_mu);
	return found;
}

int
acme_challenge_mirror(const struct acme_challenge_row *rows, size_t n,
    struct err *e)
{
	struct acme_chal **pp, *c, *gone = NULL;
	int rc = 0;

	pthread_mutex_lock(&acme_chal_mu);
	for (pp = &acme_chal_list; (c = *pp) != NULL;) {
		if (c->mirrored && !acme_chal_listed(rows, n, c->token)) {
			*pp = c->next;
			c->next = gone;
			gone = c;
		} else {
			pp = &c->next;
		}
	}
	pthread_mutex_unlock(&acme_chal_mu);
	while ((c = gone) != NULL) {
		gone = c->next;
		acme_chal_free(c);
	}
	/* New ones: made outside the lock (a tls-alpn-01 certificate is a
	 * key and a signature); only this caller adds mirrored entries. */
	for (size_t i = 0; i < n; i++)
		if (!acme_chal_known(rows[i].token) &&
		    acme_chal_add(rows[i].type, rows[i].name, rows[i].token,
		    rows[i].keyauth, true, e) == -1)
			rc = -1;
	return rc;
}

void
acme_challenge_remove(const char *token)
{
	struct acme_chal **pp, *c = NULL;

	pthread_mutex_lock(&acme_chal_mu);
	for (pp = &acme_chal_list; *pp != NULL; pp = &(*pp)->next) {
		if (strcmp((*pp)->token, token) == 0) {
			c = *pp;
			*pp = c->next;
			break;
		}
	}
	pthread_mutex_unlock(&acme_chal_mu);
	acme_chal_free(c);
}

int
acme_http01_lookup(const char *token, char *buf, size_t len)
{
	struct acme_chal *c;
	int rc = -1;

	pthread_mutex_lock(&acme_chal_mu);
	for (c = acme_chal_list; c != NULL; c = c->next) {
		if (c->type == ACME_HTTP_01 && strcmp(c->token, token) == 0) {
			if (strlen(c->keyauth) < len) {
				memcpy(buf, c->keyauth, strlen(c->keyauth) + 1);
				rc = 0;
			}
			break;
		}
	}
	pthread_mutex_unlock(&acme_chal_mu);
	return rc;
}

int
acme_alpn01_lookup(const char *name, X509 **cert, EVP_PKEY **key)
{
	struct acme_chal *c;
	int rc = -1;

	pthread_mutex_lock(&acme_chal_mu);
	for (c = acme_chal_list; c != NULL; c = c->next) {
		if (c->type == ACME_TLS_ALPN_01 &&
		    strcasecmp(c->name, name) == 0) {
			X509_up_ref(c->cert);
			EVP_PKEY_up_ref(c->key);
			*cert = c->cert;
			*key = c->key;
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&acme_chal_mu);
	return rc;
}
