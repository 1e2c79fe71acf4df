/*
 * acme_jws.c - the account key and the signed requests of ACME
 * (RFC 8555 §6.2): ES256 JWS in flattened JSON serialization.
 *
 *	body      = {"protected":b64u(header),"payload":b64u(payload),
 *		     "signature":b64u(R || S)}
 *	header    = {"alg":"ES256","jwk":JWK,"nonce":NONCE,"url":URL}
 *		  | {"alg":"ES256","kid":ACCOUNT-URL,"nonce":NONCE,"url":URL}
 *	signature = ECDSA P-256 over SHA-256 of b64u(header) "." b64u(payload),
 *		    R and S as 32-byte big-endian integers (RFC 7518 §3.4)
 *	JWK       = {"crv":"P-256","kty":"EC","x":b64u(X),"y":b64u(Y)}
 *		    (RFC 7638 canonical: lexical order, no white space)
 *
 * Also the small helpers the module needs (atomic write, mkdir, log).
 * Never talks to the network and never logs key material.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "../lib/file.h"
#include "../lib/log.h"
#include "acme_int.h"

void
acme_log(int level, const char *ev, const char *name, const char *detail)
{
	struct log_line l;

	log_begin(&l, (enum log_level)level, ev);
	if (name != NULL)
		log_cstr(&l, "name", name);
	if (detail != NULL)
		log_cstr(&l, "detail", detail);
	log_end(&l);
}

int
acme_b64url(const void *in, size_t len, char **out)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *p = in;
	size_t i, o = 0;
	char *s;

	if ((s = malloc(len / 3 * 4 + 5)) == NULL)
		return -1;
	for (i = 0; i + 2 < len; i += 3) {
		s[o++] = tab[p[i] >> 2];
		s[o++] = tab[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		s[o++] = tab[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
		s[o++] = tab[p[i + 2] & 63];
	}
	if (len - i == 1) {
		s[o++] = tab[p[i] >> 2];
		s[o++] = tab[(p[i] & 3) << 4];
	} else if (len - i == 2) {
		s[o++] = tab[p[i] >> 2];
		s[o++] = tab[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		s[o++] = tab[(p[i + 1] & 15) << 2];
	}
	s[o] = '\0';
	*out = s;
	return 0;
}

EVP_PKEY *
acme_key_new(void)
{
	return EVP_EC_gen("P-256");
}

int
acme_key_pem(EVP_PKEY *key, char **pem, size_t *len)
{
	BIO *b;
	char *p, *s = NULL;
	long n;
	int rc = -1;

	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return -1;
	if (!PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL))
		goto out;
	if ((n = BIO_get_mem_data(b, &p)) <= 0 ||
	    (s = malloc((size_t)n + 1)) == NULL)
		goto out;
	memcpy(s, p, (size_t)n);
	s[n] = '\0';
	*pem = s;
	*len = (size_t)n;
	rc = 0;
out:
	BIO_free(b);
	return rc;
}

int
acme_cert_path(const char *data_dir, const char *name, const char *ext,
    char *buf, size_t len, struct err *e)
{
	if ((size_t)snprintf(buf, len, "%s/certs/%s.%s", data_dir, name,
	    ext) >= len)
		return err_set(e, "%s: path too long", data_dir);
	return 0;
}

int
acme_mkdir(const char *dir, mode_t mode, struct err *e)
{
	if (mkdir(dir, mode) == -1 && errno != EEXIST)
		return err_set(e, "%s: %s", dir, strerror(errno));
	return 0;
}

int
acme_cert_write(const char *data_dir, const char *name, const char *chain,
    size_t chain_len, const char *key, size_t key_len, struct err *e)
{
	char path[4096];

	if ((size_t)snprintf(path, sizeof(path), "%s/certs", data_dir) >=
	    sizeof(path))
		return err_set(e, "%s: path too long", data_dir);
	if (acme_mkdir(data_dir, 0700, e) == -1 ||
	    acme_mkdir(path, 0700, e) == -1)
		return -1;
	/* Key first: a reader that sees the new NAME.pem finds its key. */
	if (acme_cert_path(data_dir, name, "key", path, sizeof(path), e) ==
	    -1 || file_write_atomic(path, key, key_len, 0600, true, e) == -1 ||
	    acme_cert_path(data_dir, name, "pem", path, sizeof(path), e) ==
	    -1 || file_write_atomic(path, chain, chain_len, 0644, true, e) == -1)
		return -1;
	return 0;
}

int
acme_account_key(const char *data_dir, EVP_PKEY **key, struct err *e)
{
	char dir[4096], path[4096];
	EVP_PKEY *k = NULL;
	char *pem = NULL;
	size_t len;
	FILE *f;
	int rc = -1;

	if ((size_t)snprintf(dir, sizeof(dir), "%s/acme", data_dir) >=
	    sizeof(dir) ||
	    (size_t)snprintf(path, sizeof(path), "%s/acme/account.key",
	    data_dir) >= sizeof(path))
		return err_set(e, "%s: path too long", data_dir);
	if ((f = fopen(path, "r")) != NULL) {
		k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
		if (k == NULL || !EVP_PKEY_is_a(k, "EC")) {
			err_set(e, "%s: not an EC private key", path);
			goto out;
		}
		*key = k;
		k = NULL;
		rc = 0;
		goto out;
	}
	if (errno != ENOENT) {
		err_set(e, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (acme_mkdir(data_dir, 0700, e) == -1 ||
	    acme_mkdir(dir, 0700, e) == -1)
		goto out;
	if ((k = acme_key_new()) == NULL ||
	    acme_key_pem(k, &pem, &len) == -1) {
		err_set(e, "cannot create an ECDSA P-256 key");
		goto out;
	}
	if (file_write_atomic(path, pem, len, 0600, true, e) == -1)
		goto out;
	*key = k;
	k = NULL;
	rc = 0;
out:
	if (pem != NULL) {
		OPENSSL_cleanse(pem, strlen(pem));
		free(pem);
	}
	EVP_PKEY_free(k);
	return rc;
}

/* The coordinate named param of a P-256 public key as 32 bytes. */
static int
acme_ec_coord(EVP_PKEY *key, const char *param, unsigned char out[32])
{
	BIGNUM *bn = NULL;
	int rc = -1;

	if (!EVP_PKEY_get_bn_param(key, param, &bn))
		return -1;
	if (BN_bn2binpad(bn, out, 32) == 32)
		rc = 0;
	BN_free(bn);
	return rc;
}

int
acme_jwk(EVP_PKEY *key, char **json)
{
	unsigned char x[32], y[32];
	char *bx = NULL, *by = NULL, *s = NULL;
	size_t n;
	int rc = -1;

	if (!EVP_PKEY_is_a(key, "EC") || EVP_PKEY_get_bits(key) != 256)
		return -1;
	if (acme_ec_coord(key, OSSL_PKEY_PARAM_EC_PUB_X, x) == -1 ||
	    acme_ec_coord(key, OSSL_PKEY_PARAM_EC_PUB_Y, y) == -1 ||
	    acme_b64url(x, 32, &bx) == -1 || acme_b64url(y, 32, &by) == -1)
		goto out;
	n = strlen(bx) + strlen(by) + 64;
	if ((s = malloc(n)) == NULL)
		goto out;
	snprintf(s, n, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\","
	    "\"y\":\"%s\"}", bx, by);
	*json = s;
	rc = 0;
out:
	free(bx);
	free(by);
	return rc;
}

int
acme_thumbprint_json(const char *jwk, char out[44])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	char *b;

	if (!EVP_Digest(jwk, strlen(jwk), md, &mdlen, EVP_sha256(), NULL) ||
	    mdlen != 32 || acme_b64url(md, 32, &b) == -1)
		return -1;
	memcpy(out, b, 44);	/* 43 characters and the NUL */
	free(b);
	return 0;
}

int
acme_thumbprint(EVP_PKEY *key, char out[44])
{
	char *jwk;
	int rc;

	if (acme_jwk(key, &jwk) == -1)
		return -1;
	rc = acme_thumbprint_json(jwk, out);
	free(jwk);
	return rc;
}

int
acme_sig_der_to_raw(const unsigned char *der, size_t len,
    unsigned char raw[64])
{
	const unsigned char *p = der;
	const BIGNUM *r, *s;
	ECDSA_SIG *sig;
	int rc = -1;

	if ((sig = d2i_ECDSA_SIG(NULL, &p, (long)len)) == NULL)
		return -1;
	if (p != der + len)	/* trailing garbage */
		goto out;
	ECDSA_SIG_get0(sig, &r, &s);
	if (BN_is_negative(r) || BN_is_negative(s) ||
	    BN_bn2binpad(r, raw, 32) != 32 ||
	    BN_bn2binpad(s, raw + 32, 32) != 32)
		goto out;
	rc = 0;
out:
	ECDSA_SIG_free(sig);
	return rc;
}

int
acme_jws(EVP_PKEY *key, const char *kid, const char *nonce,
    const char *url, const char *payload, char **out, struct err *e)
{
	EVP_MD_CTX *md = NULL;
	json_t *hdr = NULL, *jwk = NULL, *body = NULL;
	char *jwks = NULL, *hdrs = NULL, *bh = NULL, *bp = NULL, *bs = NULL;
	char *input = NULL, *res = NULL;
	unsigned char der[80], raw[64];
	size_t derlen = sizeof(der), n;
	int r, rc = -1;

	if (kid == NULL) {
		if (acme_jwk(key, &jwks) == -1 ||
		    (jwk = json_loads(jwks, 0, NULL)) == NULL)
			goto oom;
	}
	/* JSON_SORT_KEYS keeps the header byte-identical run to run. */
	hdr = json_pack("{s:s, s:s, s:s}", "alg", "ES256", "nonce", nonce,
	    "url", url);
	if (hdr == NULL)
		goto oom;
	if (kid != NULL) {
		r = json_object_set_new(hdr, "kid", json_string(kid));
	} else {
		r = json_object_set_new(hdr, "jwk", jwk);	/* steals jwk */
		jwk = NULL;
	}
	if (r != 0)
		goto oom;
	if ((hdrs = json_dumps(hdr, JSON_COMPACT | JSON_SORT_KEYS)) == NULL ||
	    acme_b64url(hdrs, strlen(hdrs), &bh) == -1 ||
	    acme_b64url(payload ? payload : "", payload ? strlen(payload) : 0,
	    &bp) == -1)
		goto oom;
	n = strlen(bh) + strlen(bp) + 2;
	if ((input = malloc(n)) == NULL)
		goto oom;
	snprintf(input, n, "%s.%s", bh, bp);
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, der, &derlen, (unsigned char *)input,
	    strlen(input)) != 1 ||
	    acme_sig_der_to_raw(der, derlen, raw) == -1) {
		err_set(e, "signing the request failed");
		goto out;
	}
	if (acme_b64url(raw, sizeof(raw), &bs) == -1 ||
	    (body = json_pack("{s:s, s:s, s:s}", "protected", bh, "payload",
	    bp, "signature", bs)) == NULL ||
	    (res = json_dumps(body, JSON_COMPACT)) == NULL)
		goto oom;
	*out = res;
	rc = 0;
	goto out;
oom:
	err_set(e, "out of memory building a request");
out:
	EVP_MD_CTX_free(md);
	json_decref(hdr);
	json_decref(jwk);
	json_decref(body);
	free(jwks);
	free(hdrs);
	free(bh);
	free(bp);
	free(bs);
	free(input);
	return rc;
}

/* The private key in PEM text p[0..n), if it is an EC key; else NULL. */
static EVP_PKEY *
acme_key_from_pem(const char *p, size_t n)
{
	EVP_PKEY *k = NULL;
	BIO *b;

	if (n > INT_MAX || (b = BIO_new_mem_buf(p, (int)n)) == NULL)
		return NULL;
	k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	if (k != NULL && !EVP_PKEY_is_a(k, "EC")) {
		EVP_PKEY_free(k);
		k = NULL;
	}
	return k;
}

int
acme_account_key_shared(const struct acme_config *cfg, EVP_PKEY **key,
    struct err *e)
{
	const struct acme_shared *sh = cfg->shared;
	EVP_PKEY *local = NULL;
	char *pem = NULL;
	size_t len = 0;
	int rc = -1, r;

	if (sh == NULL)
		return acme_account_key(cfg->data_dir, key, e);
	if ((r = sh->account_get(sh->arg, &pem, &len, e)) == 1) {
		/* None stored: offer ours (made now if need be), then take
		 * whichever the store kept. */
		if (acme_account_key(cfg->data_dir, &local, e) == -1)
			goto out;
		if (acme_key_pem(local, &pem, &len) == -1) {
			err_set(e, "cannot write the account key");
			goto out;
		}
		if (sh->account_put(sh->arg, pem, len, e) == -1)
			goto out;
		OPENSSL_cleanse(pem, len);
		free(pem);
		pem = NULL;
		r = sh->account_get(sh->arg, &pem, &len, e);
	}
	if (r == 1)
		err_set(e, "the stored account key is gone");
	if (r != 0)
		goto out;
	if ((*key = acme_key_from_pem(pem, len)) == NULL) {
		err_set(e, "the stored account key is not an EC private key");
		goto out;
	}
	rc = 0;
out:
	if (pem != NULL) {
		OPENSSL_cleanse(pem, len);
		free(pem);
	}
	EVP_PKEY_free(local);
	return rc;
}
