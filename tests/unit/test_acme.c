/*
 * test_acme.c - unit tests of the ACME module's pure parts: base64url,
 * JWK and RFC 7638 thumbprints, DER -> raw ECDSA signatures, the JWS
 * envelope, the TLS-ALPN-01 certificate (RFC 8737), the challenge
 * registry, backoff and renewal arithmetic.
 *
 * Vectors: RFC 4648 §10 (base64, in the url alphabet without padding),
 * RFC 7638 §3.1 (the RSA thumbprint), RFC 7515 A.3 (the P-256 key; its
 * thumbprint computed independently with
 *	printf '{"crv":"P-256","kty":"EC","x":"...","y":"..."}' |
 *	    openssl dgst -sha256 -binary | basenc --base64url).
 */
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "acme/acme_int.h"
#include "lib/file.h"

/* RFC 7515 Appendix A.3: the ES256 example key. */
static const char rfc7515_d[] =
    "8e9b109e719098bf980487df1f5d77e9cb29606ebed2263b5f57c213df84f4b2";
static const char rfc7515_pub[] = "04"
    "7fcdce2770f6c45d4183cbee6fdb4b7b580733357be9ef13bacf6e3c7bd15445"
    "c7f144cd1bbd9b7e872cdfedb9eeb9f4b3695d6ea90b24ad8a4623288588e5ad";
static const char rfc7515_jwk[] =
    "{\"crv\":\"P-256\",\"kty\":\"EC\","
    "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}";

static EVP_PKEY *
rfc7515_key(void)
{
	OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *k = NULL;
	BIGNUM *d = NULL;
	unsigned char pub[65];
	long len;
	unsigned char *pb = OPENSSL_hexstr2buf(rfc7515_pub, &len);

	assert_non_null(pb);
	assert_int_equal(len, 65);
	memcpy(pub, pb, 65);
	OPENSSL_free(pb);
	assert_true(BN_hex2bn(&d, rfc7515_d) > 0);
	assert_true(OSSL_PARAM_BLD_push_utf8_string(b,
	    OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0));
	assert_true(OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_PRIV_KEY, d));
	assert_true(OSSL_PARAM_BLD_push_octet_string(b,
	    OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub)));
	params = OSSL_PARAM_BLD_to_param(b);
	assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
	assert_int_equal(EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_KEYPAIR, params),
	    1);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(b);
	EVP_PKEY_CTX_free(ctx);
	/* d and (x, y) must belong together, or signing tests mean nothing. */
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
	assert_int_equal(EVP_PKEY_pairwise_check(ctx), 1);
	EVP_PKEY_CTX_free(ctx);
	BN_free(d);
	return k;
}

/* base64url decoding for checks (the module never decodes). */
static size_t
b64url_dec(const char *s, unsigned char *out)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned acc = 0, bits = 0;
	size_t n = 0;

	for (; *s; s++) {
		const char *p = strchr(tab, *s);

		assert_non_null(p);
		acc = (acc << 6) | (unsigned)(p - tab);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	return n;
}

static void
test_b64url(void **state)
{
	static const struct { const char *in, *out; } v[] = {
		{ "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg" }, { "fooba", "Zm9vYmE" },
		{ "foobar", "Zm9vYmFy" }, { "\xfb\xff\xfe", "-__-" },
	};
	char *s;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(acme_b64url(v[i].in, strlen(v[i].in), &s), 0);
		assert_string_equal(s, v[i].out);
		free(s);
	}
}

static void
test_thumbprint_rfc7638(void **state)
{
	/* RFC 7638 §3.1, the members in lexical order without spaces. */
	static const char jwk[] = "{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\""
	    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1R"
	    "K7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9"
	    "yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZg"
	    "nYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6We"
	    "Zu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDK"
	    "gw\"}";
	char t[44];

	assert_int_equal(acme_thumbprint_json(jwk, t), 0);
	assert_string_equal(t, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

static void
test_jwk_ec(void **state)
{
	EVP_PKEY *k = rfc7515_key();
	char *jwk, t[44];

	assert_int_equal(acme_jwk(k, &jwk), 0);
	assert_string_equal(jwk, rfc7515_jwk);
	assert_int_equal(acme_thumbprint(k, t), 0);
	assert_string_equal(t, "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U");
	free(jwk);
	EVP_PKEY_free(k);
}

static void
test_der_to_raw(void **state)
{
	/* r has its high bit set (DER adds a 0x00), s is the integer 1
	 * (one byte in DER, left-padded to 32 in raw). */
	unsigned char der[2 + 2 + 33 + 3], raw[64], want[64];
	size_t n = 0;

	der[n++] = 0x30;
	der[n++] = 2 + 33 + 3;
	der[n++] = 0x02;
	der[n++] = 33;
	der[n++] = 0x00;
	for (int i = 0; i < 32; i++)
		der[n++] = (unsigned char)(0x80 + i);
	der[n++] = 0x02;
	der[n++] = 1;
	der[n++] = 0x01;
	memset(want, 0, sizeof(want));
	for (int i = 0; i < 32; i++)
		want[i] = (unsigned char)(0x80 + i);
	want[63] = 1;
	assert_int_equal(acme_sig_der_to_raw(der, n, raw), 0);
	assert_memory_equal(raw, want, 64);

	/* Trailing bytes, truncation, and an r of 33 significant bytes
	 * are refused. */
	{
		unsigned char more[sizeof(der) + 1];

		memcpy(more, der, n);
		more[n] = 0;
		assert_int_equal(acme_sig_der_to_raw(more, n + 1, raw), -1);
	}
	assert_int_equal(acme_sig_der_to_raw(der, n - 1, raw), -1);
	der[4] = 0x01;	/* r = 0x01 80 81 ...: 33 bytes */
	assert_int_equal(acme_sig_der_to_raw(der, n, raw), -1);
}

/* Decodes part (b64url) of the JWS body into a JSON object. */
static json_t *
jws_part(json_t *body, const char *key, unsigned char *buf, size_t *len)
{
	const char *s = json_string_value(json_object_get(body, key));

	assert_non_null(s);
	*len = b64url_dec(s, buf);
	buf[*len] = '\0';
	return json_loadb((char *)buf, *len, 0, NULL);
}

static void
test_jws(void **state)
{
	EVP_PKEY *k = rfc7515_key();
	unsigned char buf[2048], sig[64], der[80], *dp = der;
	size_t len;
	char *out;
	json_t *body, *hdr, *jwk;
	ECDSA_SIG *es;
	EVP_MD_CTX *md;
	const char *prot, *pay;
	char input[2048];
	int derlen;

	/* newAccount style: jwk, payload. */
	assert_int_equal(acme_jws(k, NULL, "NONCE1", "https://ca/new-acct",
	    "{\"termsOfServiceAgreed\":true}", &out, NULL), 0);
	body = json_loads(out, 0, NULL);
	assert_non_null(body);
	hdr = jws_part(body, "protected", buf, &len);
	assert_non_null(hdr);
	assert_string_equal(json_string_value(json_object_get(hdr, "alg")),
	    "ES256");
	assert_string_equal(json_string_value(json_object_get(hdr, "nonce")),
	    "NONCE1");
	assert_string_equal(json_string_value(json_object_get(hdr, "url")),
	    "https://ca/new-acct");
	assert_null(json_object_get(hdr, "kid"));
	jwk = json_object_get(hdr, "jwk");
	assert_string_equal(json_string_value(json_object_get(jwk, "x")),
	    "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU");
	json_decref(hdr);

	/* The signature is raw r||s and verifies over protected.payload. */
	prot = json_string_value(json_object_get(body, "protected"));
	pay = json_string_value(json_object_get(body, "payload"));
	assert_int_equal(b64url_dec(json_string_value(json_object_get(body,
	    "signature")), sig), 64);
	snprintf(input, sizeof(input), "%s.%s", prot, pay);
	es = ECDSA_SIG_new();
	ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL),
	    BN_bin2bn(sig + 32, 32, NULL));
	derlen = i2d_ECDSA_SIG(es, &dp);
	md = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL,
	    k), 1);
	assert_int_equal(EVP_DigestVerify(md, der, (size_t)derlen,
	    (unsigned char *)input, strlen(input)), 1);
	input[0] ^= 1;
	assert_int_not_equal(EVP_DigestVerify(md, der, (size_t)derlen,
	    (unsigned char *)input, strlen(input)), 1);
	EVP_MD_CTX_free(md);
	ECDSA_SIG_free(es);
	json_decref(body);
	free(out);

	/* POST-as-GET with kid: empty payload, no jwk. */
	assert_int_equal(acme_jws(k, "https://ca/acct/1", "N2",
	    "https://ca/authz/1", NULL, &out, NULL), 0);
	body = json_loads(out, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(body,
	    "payload")), "");
	hdr = jws_part(body, "protected", buf, &len);
	assert_string_equal(json_string_value(json_object_get(hdr, "kid")),
	    "https://ca/acct/1");
	assert_null(json_object_get(hdr, "jwk"));
	json_decref(hdr);
	json_decref(body);
	free(out);
	EVP_PKEY_free(k);
}

static void
test_alpn01_cert(void **state)
{
	/* SHA-256("token.thumb"), computed with openssl dgst. */
	static const char digest[] =
	    "94275fb692425daa5a64790118865b72e6de296f11980d23486fda64dd35cdb5";
	unsigned char want[34];
	X509 *x;
	EVP_PKEY *k;
	X509_EXTENSION *ext;
	ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
	ASN1_OCTET_STRING *data;
	unsigned char *d;
	long dl;
	int i;

	assert_int_equal(acme_alpn01_cert("mta-sts.customer1.test",
	    "token.thumb", &x, &k, NULL), 0);
	i = X509_get_ext_by_OBJ(x, oid, -1);
	assert_true(i >= 0);
	ext = X509_get_ext(x, i);
	assert_int_equal(X509_EXTENSION_get_critical(ext), 1);
	data = X509_EXTENSION_get_data(ext);
	want[0] = 0x04;
	want[1] = 0x20;
	d = OPENSSL_hexstr2buf(digest, &dl);
	assert_int_equal(dl, 32);
	memcpy(want + 2, d, 32);
	OPENSSL_free(d);
	assert_int_equal(ASN1_STRING_length(data), 34);
	assert_memory_equal(ASN1_STRING_get0_data(data), want, 34);
	/* Only that one acmeIdentifier. */
	assert_int_equal(X509_get_ext_by_OBJ(x, oid, i), -1);
	/* SAN is the name (and only it matches); self-signed by its key. */
	assert_int_equal(X509_check_host(x, "mta-sts.customer1.test", 0, 0,
	    NULL), 1);
	assert_int_not_equal(X509_check_host(x, "customer1.test", 0, 0, NULL),
	    1);
	assert_int_equal(X509_check_private_key(x, k), 1);
	assert_int_equal(X509_verify(x, k), 1);
	ASN1_OBJECT_free(oid);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void
test_registry(void **state)
{
	char buf[ACME_KEYAUTH_MAX + 1];
	X509 *x;
	EVP_PKEY *k;

	assert_int_equal(acme_http01_lookup("tok1", buf, sizeof(buf)), -1);
	assert_int_equal(acme_challenge_add(ACME_HTTP_01, "a.example",
	    "tok1", "tok1.THUMB", NULL), 0);
	assert_int_equal(acme_challenge_add(ACME_TLS_ALPN_01, "b.example",
	    "tok2", "tok2.THUMB", NULL), 0);
	assert_int_equal(acme_http01_lookup("tok1", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "tok1.THUMB");
	assert_int_equal(acme_http01_lookup("tok1", buf, 5), -1); /* short */
	assert_int_equal(acme_http01_lookup("tok2", buf, sizeof(buf)), -1);
	assert_int_equal(acme_alpn01_lookup("a.example", &x, &k), -1);
	assert_int_equal(acme_alpn01_lookup("B.Example", &x, &k), 0);
	assert_int_equal(X509_check_host(x, "b.example", 0, 0, NULL), 1);
	X509_free(x);
	EVP_PKEY_free(k);
	acme_challenge_remove("tok1");
	acme_challenge_remove("tok2");
	acme_challenge_remove("nope");
	assert_int_equal(acme_http01_lookup("tok1", buf, sizeof(buf)), -1);
	assert_int_equal(acme_alpn01_lookup("b.example", &x, &k), -1);
}

/* Challenges other nodes registered (acme_challenge_mirror): added,
 * answered like local ones, forgotten when the store no longer lists
 * them; this process's own are never touched. */
static void
test_mirror(void **state)
{
	char buf[ACME_KEYAUTH_MAX + 1], big[ACME_TOKEN_MAX + 8];
	struct acme_challenge_row rows[2] = {
		{ ACME_HTTP_01, "a.example", "rtok1", "rtok1.THUMB" },
		{ ACME_TLS_ALPN_01, "b.example", "rtok2", "rtok2.THUMB" },
	};
	struct err e;
	X509 *x;
	EVP_PKEY *k;

	(void)state;
	assert_int_equal(acme_challenge_add(ACME_HTTP_01, "c.example",
	    "own", "own.THUMB", NULL), 0);
	assert_int_equal(acme_challenge_mirror(rows, 2, &e), 0);
	assert_int_equal(acme_http01_lookup("rtok1", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "rtok1.THUMB");
	assert_int_equal(acme_alpn01_lookup("b.example", &x, &k), 0);
	X509_free(x);
	EVP_PKEY_free(k);
	/* Again: nothing doubles; then one row gone. */
	assert_int_equal(acme_challenge_mirror(rows, 2, &e), 0);
	assert_int_equal(acme_challenge_mirror(rows + 1, 1, &e), 0);
	assert_int_equal(acme_http01_lookup("rtok1", buf, sizeof(buf)), -1);
	assert_int_equal(acme_alpn01_lookup("b.example", &x, &k), 0);
	X509_free(x);
	EVP_PKEY_free(k);
	/* None listed: the mirrored go, this process's own stays. */
	assert_int_equal(acme_challenge_mirror(NULL, 0, &e), 0);
	assert_int_equal(acme_alpn01_lookup("b.example", &x, &k), -1);
	assert_int_equal(acme_http01_lookup("own", buf, sizeof(buf)), 0);
	/* A row too long for the registry: refused, the others kept. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	rows[1].token = big;
	assert_int_equal(acme_challenge_mirror(rows, 2, &e), -1);
	assert_int_equal(acme_http01_lookup("rtok1", buf, sizeof(buf)), 0);
	assert_int_equal(acme_challenge_mirror(NULL, 0, &e), 0);
	acme_challenge_remove("own");
	assert_int_equal(acme_http01_lookup("own", buf, sizeof(buf)), -1);
}

static void
test_backoff(void **state)
{
	assert_int_equal(acme_backoff(0), 60);
	assert_int_equal(acme_backoff(1), 60);
	assert_int_equal(acme_backoff(2), 120);
	assert_int_equal(acme_backoff(3), 240);
	assert_int_equal(acme_backoff(11), 61440);
	assert_int_equal(acme_backoff(12), 86400);	/* 122880 capped */
	assert_int_equal(acme_backoff(1000), 86400);
	assert_int_equal(acme_backoff(~0u), 86400);
}

static void
test_renew_at(void **state)
{
	/* 90 days (Let's Encrypt): renew after day 60, 30 days left. */
	assert_int_equal(acme_renew_at(1000, 1000 + 90 * 86400),
	    1000 + 60 * 86400);
	/* 5 years (Pebble): 20 months left. */
	assert_int_equal(acme_renew_at(0, 3 * 600), 2 * 600);
	/* Inverted or empty validity: renew at once. */
	assert_int_equal(acme_renew_at(500, 500), 500);
	assert_int_equal(acme_renew_at(500, 100), 500);
}

static void
test_files(void **state)
{
	char dir[] = "/tmp/test_acme.XXXXXX", path[512], t1[44], t2[44];
	EVP_PKEY *k1, *k2;
	X509 *x;
	EVP_PKEY *xk;
	struct stat st;
	struct err e;
	time_t nb, na;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	/* The account key is created 0600 and read back the same. */
	assert_int_equal(acme_account_key(dir, &k1, &e), 0);
	snprintf(path, sizeof(path), "%s/acme/account.key", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(acme_account_key(dir, &k2, &e), 0);
	assert_int_equal(acme_thumbprint(k1, t1), 0);
	assert_int_equal(acme_thumbprint(k2, t2), 0);
	assert_string_equal(t1, t2);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
	unlink(path);

	/* Certificate times read back from a PEM file. */
	assert_int_equal(acme_alpn01_cert("x.example", "a.b", &x, &xk, &e), 0);
	snprintf(path, sizeof(path), "%s/c.pem", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	PEM_write_X509(f, x);
	fclose(f);
	assert_int_equal(acme_cert_times(path, &nb, &na), 0);
	assert_int_equal(na - nb, 7 * 86400 + 3600);
	assert_true(nb <= time(NULL) - 3500 && nb >= time(NULL) - 3700);
	unlink(path);
	assert_int_equal(acme_cert_times(path, &nb, &na), -1);
	X509_free(x);
	EVP_PKEY_free(xk);

	/* Atomic write: mode as asked, replaces, leaves no temporary. */
	snprintf(path, sizeof(path), "%s/f", dir);
	assert_int_equal(file_write_atomic(path, "one", 3, 0600, true, &e), 0);
	assert_int_equal(file_write_atomic(path, "two", 3, 0644, false, &e), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(st.st_size, 3);
	unlink(path);
	snprintf(path, sizeof(path), "%s/acme", dir);
	assert_int_equal(rmdir(path), 0);	/* empty: no leftovers */
	assert_int_equal(rmdir(dir), 0);
	snprintf(path, sizeof(path), "%s/none/f", dir);
	assert_int_equal(file_write_atomic(path, "x", 1, 0600, true, &e), -1);
}

static void
test_dns_check(void **state)
{
	struct strv addrs = { 0 };
	struct acme_config cfg = { .service_host = "localhost" };
	struct err e;

	/* Skipped, and the service's own name. */
	cfg.skip_dns_check = true;
	assert_int_equal(acme_dns_check(&cfg, "nothing.invalid", &e), 0);
	cfg.skip_dns_check = false;
	assert_int_equal(acme_dns_check(&cfg, "LOCALHOST.", &e), 0);
	/* Addresses (from /etc/hosts, no DNS traffic): no CNAME check. */
	cfg.service_host = NULL;
	cfg.service_addrs = &addrs;
	assert_int_equal(strv_push(&addrs, "192.0.2.1"), 0);
	assert_int_equal(acme_dns_check(&cfg, "localhost", &e), -1);
	assert_non_null(strstr(e.msg, "does not point to this service"));
	assert_int_equal(strv_push(&addrs, "127.0.0.1"), 0);
	assert_int_equal(strv_push(&addrs, "::1"), 0);
	assert_int_equal(acme_dns_check(&cfg, "localhost", &e), 0);
	strv_free(&addrs);
}

/*
 * The manager thread, against a stand-in CA of the test's own that
 * accepts each connection and closes it at once: every order fails at its
 * first request, and each order is one connection, so the stand-in counts
 * the orders. What happens, in this order:
 *   round 1 (at start): names() gives c, whose certificate (made here,
 *	valid for a week) is far from renewal: no order, nothing due, the
 *	thread waits for its interval (3600 s);
 *   round 2 (kick): names() gives b, a, a: one order per distinct name,
 *	both fail and back off (60 s);
 *   round 3 (kick): the same names, both backing off: no order;
 *   round 4 (kick): names() gives c again: the 3600 s wait again;
 *   acme_manager_stop() wakes it and joins it: no round after that, and
 *	issued() was never called.
 * No duration is asserted. A kick or a stop that did not wake the thread
 * would leave it in its 3600 s wait; the watchdog (MANAGER_WATCHDOG s,
 * far below that) then ends the test naming the step it waited for,
 * instead of letting it hang until tests/run.sh's timeout.
 */
#ifndef MANAGER_WATCHDOG
#define MANAGER_WATCHDOG 120
#endif
#define MANAGER_ROUNDS	 4

static atomic_int names_calls, issued_calls, ca_conns;
static int orders_at_names[MANAGER_ROUNDS + 1];	/* ca_conns at call N */
static const char *volatile manager_step = "";

static int
names_cb(void *arg, struct strv *out)
{
	int n = atomic_fetch_add(&names_calls, 1) + 1;

	if (n <= MANAGER_ROUNDS)
		orders_at_names[n] = atomic_load(&ca_conns);
	if (n != 2 && n != 3)
		return strv_push(out, "c.example");
	return strv_push(out, "b.example") | strv_push(out, "a.example") |
	    strv_push(out, "a.example");
}

static void
issued_cb(void *arg, const char *name)
{
	atomic_fetch_add(&issued_calls, 1);
}

/* The stand-in CA: accepts, counts, closes, until its socket is shut
 * down. */
static void *
ca_main(void *arg)
{
	int lfd = *(int *)arg, fd;

	while ((fd = accept(lfd, NULL, NULL)) != -1 || errno == EINTR) {
		if (fd == -1)
			continue;
		atomic_fetch_add(&ca_conns, 1);
		close(fd);
	}
	return NULL;
}

static void
manager_watchdog(int sig)
{
	static const char head[] = "test_manager: watchdog: still waiting "
	    "for ";
	const char *step = manager_step;

	(void)sig;
	(void)!write(STDERR_FILENO, head, sizeof(head) - 1);
	(void)!write(STDERR_FILENO, step, strlen(step));
	(void)!write(STDERR_FILENO, "\n", 1);
	_exit(1);
}

/* Waits (no bound but the watchdog's) until names() was called n times. */
static void
wait_names(int n, const char *step)
{
	manager_step = step;
	while (atomic_load(&names_calls) < n)
		usleep(10000);
}

static void
test_manager(void **state)
{
	char dir[] = "/tmp/test_acme_m.XXXXXX", url[64], cmd[128], path[128];
	struct acme_config cfg = { .skip_dns_check = true };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t slen = sizeof(sin);
	struct acme_manager *m;
	EVP_PKEY *ck;
	pthread_t ca;
	struct err e;
	X509 *c;
	FILE *f;
	int lfd;

	/* The stand-in CA on a port of the kernel's choice. */
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >=
	    0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(lfd, 16), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &slen), 0);
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/dir",
	    (unsigned)ntohs(sin.sin_port));
	assert_int_equal(pthread_create(&ca, NULL, ca_main, &lfd), 0);

	assert_non_null(mkdtemp(dir));
	/* c.example: a certificate with a week to run. */
	snprintf(path, sizeof(path), "%s/certs", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/certs/c.example.pem", dir);
	assert_int_equal(acme_alpn01_cert("c.example", "a.b", &c, &ck, &e), 0);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(PEM_write_X509(f, c), 1);
	assert_int_equal(fclose(f), 0);
	X509_free(c);
	EVP_PKEY_free(ck);
	cfg.directory_url = url;
	cfg.data_dir = dir;
	signal(SIGALRM, manager_watchdog);
	alarm(MANAGER_WATCHDOG);
	assert_int_equal(acme_manager_start(&cfg, names_cb, issued_cb, NULL,
	    3600, &m, &e), 0);
	wait_names(1, "round 1 (names() at start)");
	acme_manager_kick(m);
	wait_names(2, "round 2 (a kick must wake the thread out of its "
	    "3600 s wait)");
	acme_manager_kick(m);
	wait_names(3, "round 3 (the second kick)");
	acme_manager_kick(m);
	wait_names(4, "round 4 (the third kick)");
	manager_step = "acme_manager_stop() (it must wake the thread out "
	    "of its 3600 s wait)";
	acme_manager_stop(m);
	alarm(0);
	signal(SIGALRM, SIG_DFL);

	shutdown(lfd, SHUT_RDWR);	/* ends accept() in ca_main */
	assert_int_equal(pthread_join(ca, NULL), 0);
	close(lfd);
	print_message("manager: names() %d times, orders before each: %d %d "
	    "%d %d, after stop: %d\n", atomic_load(&names_calls),
	    orders_at_names[1], orders_at_names[2], orders_at_names[3],
	    orders_at_names[4], atomic_load(&ca_conns));
	/* Round 1 ordered nothing (c is not due); round 2 ordered a and b
	 * once each (the duplicate a once). */
	assert_int_equal(orders_at_names[1], 0);
	assert_int_equal(orders_at_names[2], 0);
	assert_int_equal(orders_at_names[3], 2);
	/* Round 3: both backing off, nothing ordered. */
	assert_int_equal(orders_at_names[4], 2);
	/* Stopped in its wait: no round, no order after round 4. */
	assert_int_equal(atomic_load(&names_calls), 4);
	assert_int_equal(atomic_load(&ca_conns), 2);
	assert_int_equal(atomic_load(&issued_calls), 0);
	/* What the dashboard reads: a and b failed once, with the reason;
	 * c has its certificate and no failure. */
	{
		struct acme_cert_state cs;

		assert_int_equal(acme_cert_state(dir, "a.example", &cs), 0);
		assert_true(cs.failed_at >= time(NULL) - 60);
		assert_int_equal(cs.failures, 1);
		assert_true(cs.reason[0] != '\0');
		assert_int_equal(cs.not_after, 0);
		print_message("a.example failed: %s\n", cs.reason);
		assert_int_equal(acme_cert_state(dir, "c.example", &cs), 0);
		assert_int_equal(cs.failed_at, 0);
		assert_int_equal(cs.not_after - cs.not_before, 7 * 86400 + 3600);
		assert_true(cs.renew_at > cs.not_before &&
		    cs.renew_at < cs.not_after);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64url),
		cmocka_unit_test(test_thumbprint_rfc7638),
		cmocka_unit_test(test_jwk_ec),
		cmocka_unit_test(test_der_to_raw),
		cmocka_unit_test(test_jws),
		cmocka_unit_test(test_alpn01_cert),
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_mirror),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_renew_at),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_dns_check),
		cmocka_unit_test(test_manager),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
