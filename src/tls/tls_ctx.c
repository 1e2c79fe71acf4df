/*
 * tls_ctx.c - server contexts, the SNI certificate cache, session ticket
 * keys and ALPN. See tls.h for the SNI policy.
 *
 * What the ClientHello callback reads (RFC 6066 §3, RFC 7301 §3.1) is
 * parsed by the pure functions of tls_hello.c:
 *
 *	server_name ext = list-len(2) type(1)=0 name-len(2) name
 *	ALPN ext        = list-len(2) 1*( proto-len(1) proto )
 *
 * Settings on every context: TLS 1.2 and 1.3 only; TLS 1.2 only ECDHE
 * with AEAD suites; X25519, P-256, P-384; no compression, no
 * renegotiation; no server-side session cache (its lock would be global):
 * resumption is by stateless tickets only, encrypted with keys shared by
 * all contexts (so a ticket stays valid whatever certificate served it)
 * and rotated every 12 hours, the previous key kept to decrypt; one
 * ticket per handshake (clients use one). The certificate file is sent as
 * it is (SSL_MODE_NO_AUTO_CHAIN: no chain building per handshake).
 *
 * Never reads the database; reads certificate files only on a cache miss.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "../acme/acme.h"
#include "../lib/log.h"
#include "tls_int.h"

#define TLS_SHARDS	64
#define TLS_BUCKETS	1024		/* per shard */
#define TLS_RENEW_LOCAL	(30 * 86400)	/* reissue local leaves expiring
					 * within 30 days */

static const char tls_ciphers12[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
static const char tls_ciphers13[] =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
    "TLS_CHACHA20_POLY1305_SHA256";
static const char tls_groups[] = "X25519:P-256:P-384";
static const unsigned char tls_sid_ctx[] = "stsguard";

/* A name's certificate, key and chain, shared by the cache and the
 * handshakes using it. One TLS context serves every name: switching the
 * certificate per handshake (SSL_use_cert_and_key) costs microseconds,
 * while a context per name cost about 21 KiB and an SSL_CTX_new (OpenSSL
 * 3 fetches its algorithms for each) on every cache miss. */
struct tls_cert {
	atomic_int	 refs;
	X509		*leaf;
	EVP_PKEY	*key;
	STACK_OF(X509)	*chain;		/* may be NULL */
};

/* A cached name: its certificate, or (cert NULL) the memory that loading
 * it failed, so that a flood of handshakes for a hosted name without a
 * certificate yet (ACME not done, an operator's file missing) costs no
 * file reads and logs one line per LIMIT_TLS_RETRY_SECONDS, not one per
 * handshake. */
struct tls_entry {
	struct tls_entry *next;		/* hash chain */
	struct tls_entry *older, *newer; /* insertion order, for eviction */
	uint32_t	 hash;
	struct tls_cert	*cert;		/* one reference owned here, or NULL */
	time_t		 retry;		/* cert NULL: monotonic second from
					 * which loading is tried again */
	char		 name[];
};

struct tls_shard {
	pthread_mutex_t	 mu;
	struct tls_entry *buckets[TLS_BUCKETS];
	struct tls_entry *oldest, *newest;
	size_t		 count;
};

struct tls_ticket_key {
	unsigned char	 name[16];
	unsigned char	 aes[32];
	unsigned char	 hmac[32];
};

struct tls {
	char		*data_dir;
	char		*service_host;
	enum tls_source	 source;
	bool		 acme_alpn;
	tls_hosted_cb	 hosted;
	void		*hosted_arg;
	SSL_CTX		*def;
	struct tls_localca *ca;
	EVP_CIPHER	*aes;		/* fetched once: implicit fetches
					 * take a lock in OpenSSL 3.0 */
	/* Ring of three keys: readers use cur and cur-1; rotation writes
	 * cur+1, which no reader touches, then publishes it. */
	struct tls_ticket_key keys[3];
	atomic_uint	 key_cur;
	atomic_size_t	 count;
	struct tls_shard shards[TLS_SHARDS];
};

/* Per-connection state kept in the SSL's ex_data. */
struct tls_conn {
	bool	 acme;
	bool	 has_sni;
	char	 sni[LIMIT_DNAME_LEN + 1];
};

static int tls_ex_conn = -1;	/* SSL ex_data: struct tls_conn */
static int tls_ex_tls = -1;	/* SSL_CTX ex_data: struct tls */
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static void
tls_conn_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	free(ptr);
}

static void
tls_init_once(void)
{
	tls_ex_conn = SSL_get_ex_new_index(0, NULL, NULL, NULL, tls_conn_free);
	tls_ex_tls = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

int
tls_source_parse(const char *s, enum tls_source *src)
{
	if (strcmp(s, "local") == 0)
		*src = TLS_SOURCE_LOCAL;
	else if (strcmp(s, "files") == 0)
		*src = TLS_SOURCE_FILES;
	else if (strcmp(s, "acme") == 0)
		*src = TLS_SOURCE_ACME;
	else
		return -1;
	return 0;
}

static int
tls_ossl_fail(struct err *e, const char *what)
{
	char buf[160];
	unsigned long code = ERR_get_error();

	ERR_clear_error();
	if (code == 0)
		return err_set(e, "%s failed", what);
	ERR_error_string_n(code, buf, sizeof(buf));
	return err_set(e, "%s: %s", what, buf);
}

/* FNV-1a. */
static uint32_t
tls_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

/* --- session tickets ------------------------------------------------- */

static void
tls_key_fill(struct tls_ticket_key *k)
{
	RAND_bytes(k->name, sizeof(k->name));
	RAND_bytes(k->aes, sizeof(k->aes));
	RAND_bytes(k->hmac, sizeof(k->hmac));
}

void
tls_tickets_rotate(struct tls *t)
{
	unsigned next = (atomic_load(&t->key_cur) + 1) % 3;

	tls_key_fill(&t->keys[next]);
	atomic_store(&t->key_cur, next);
}

static int
tls_ticket_mac(EVP_MAC_CTX *hctx, const unsigned char *key)
{
	OSSL_PARAM params[3];

	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
	    (void *)key, 32);
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[2] = OSSL_PARAM_construct_end();
	return EVP_MAC_CTX_set_params(hctx, params);
}

/* OpenSSL's ticket key callback: enc = 1 to make a ticket, 0 to open
 * one. Returns 1 (ok), 2 (ok, but issue a fresh ticket: made with the
 * previous key), 0 (unknown key: full handshake), -1 (error). */
static int
tls_ticket_cb(SSL *s, unsigned char key_name[16], unsigned char *iv,
    EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	struct tls *t = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(s), tls_ex_tls);
	unsigned cur = atomic_load_explicit(&t->key_cur,
	    memory_order_acquire);
	const struct tls_ticket_key *k = &t->keys[cur];
	int rc = 1;

	if (enc) {
		if (RAND_bytes(iv, 16) != 1)
			return -1;
		memcpy(key_name, k->name, 16);
		if (!EVP_EncryptInit_ex(cctx, t->aes, NULL, k->aes, iv) ||
		    !tls_ticket_mac(hctx, k->hmac))
			return -1;
		return 1;
	}
	if (memcmp(key_name, k->name, 16) != 0) {
		k = &t->keys[(cur + 2) % 3];
		if (memcmp(key_name, k->name, 16) != 0)
			return 0;
		rc = 2;
	}
	if (!EVP_DecryptInit_ex(cctx, t->aes, NULL, k->aes, iv) ||
	    !tls_ticket_mac(hctx, k->hmac))
		return -1;
	/* TLS 1.3 clients use a ticket once (RFC 8446 §C.4): without a
	 * renewal a resumed connection hands out no new ticket and the next
	 * one is a full handshake (nginx does the same). */
	if (SSL_version(s) == TLS1_3_VERSION)
		return 2;
	return rc;
}

/* --- ALPN and SNI ---------------------------------------------------- */

static struct tls_conn *
tls_conn_get(SSL *s)
{
	struct tls_conn *c = SSL_get_ex_data(s, tls_ex_conn);

	if (c == NULL) {
		if ((c = calloc(1, sizeof(*c))) == NULL)
			return NULL;
		if (!SSL_set_ex_data(s, tls_ex_conn, c)) {
			free(c);
			return NULL;
		}
	}
	return c;
}

static int
tls_alpn_cb(SSL *s, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	struct tls_conn *c = SSL_get_ex_data(s, tls_ex_conn);
	const char *want = (c != NULL && c->acme) ? "acme-tls/1" : "http/1.1";
	size_t wlen = strlen(want);
	const uint8_t *hit = tls_alpn_find(in, inlen, want, wlen);

	if (hit != NULL) {
		*out = hit;
		*outlen = (unsigned char)wlen;
		return SSL_TLSEXT_ERR_OK;
	}
	/* A TLS-ALPN-01 client that does not get acme-tls/1 must fail
	 * (RFC 8737 §3); for anyone else, go on without ALPN. */
	return (c != NULL && c->acme) ? SSL_TLSEXT_ERR_ALERT_FATAL :
	    SSL_TLSEXT_ERR_NOACK;
}

/* Copies the SNI host name of the ClientHello into c->sni, normalized
 * (tls_sni_parse). Returns 1 when there is a usable name, 0 when none
 * (or an IP literal), -1 when it is malformed. */
static int
tls_hello_sni(SSL *s, struct tls_conn *c)
{
	const unsigned char *p;
	size_t len;

	c->sni[0] = '\0';
	if (!SSL_client_hello_get0_ext(s, TLSEXT_TYPE_server_name, &p, &len))
		return 0;
	return tls_sni_parse(p, len, c->sni);
}

/* True when the ClientHello offers ALPN "acme-tls/1" (tls_alpn_offers:
 * a malformed list offers nothing). */
static bool
tls_hello_acme(SSL *s)
{
	const unsigned char *p;
	size_t len;

	if (!SSL_client_hello_get0_ext(s,
	    TLSEXT_TYPE_application_layer_protocol_negotiation, &p, &len))
		return false;
	return tls_alpn_offers(p, len, "acme-tls/1", 10);
}

static struct tls_cert *tls_cache_get(struct tls *t, const char *name,
    bool *remembered, struct err *e);
static void tls_cert_unref(struct tls_cert *c);

static int
tls_hello_cb(SSL *s, int *al, void *arg)
{
	struct tls *t = arg;
	struct tls_conn *c;
	const char *name;
	struct tls_cert *tc;
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	struct err e;
	bool remembered;
	int r;

	if ((c = tls_conn_get(s)) == NULL) {
		*al = SSL_AD_INTERNAL_ERROR;
		return SSL_CLIENT_HELLO_ERROR;
	}
	if ((r = tls_hello_sni(s, c)) == -1) {
		*al = SSL_AD_UNRECOGNIZED_NAME;
		return SSL_CLIENT_HELLO_ERROR;
	}
	c->has_sni = r == 1;
	name = c->has_sni ? c->sni : t->service_host;

	/* RFC 8737: a validation handshake gets the challenge certificate
	 * and nothing else. */
	if (t->acme_alpn && c->has_sni && tls_hello_acme(s) &&
	    acme_alpn01_lookup(c->sni, &cert, &key) == 0) {
		c->acme = true;
		r = SSL_use_certificate(s, cert) == 1 &&
		    SSL_use_PrivateKey(s, key) == 1;
		X509_free(cert);
		EVP_PKEY_free(key);
		if (!r) {
			ERR_clear_error();
			*al = SSL_AD_INTERNAL_ERROR;
			return SSL_CLIENT_HELLO_ERROR;
		}
		return SSL_CLIENT_HELLO_SUCCESS;
	}

	if (c->has_sni && strcmp(c->sni, t->service_host) != 0 &&
	    !t->hosted(t->hosted_arg, c->sni, strlen(c->sni))) {
		*al = SSL_AD_UNRECOGNIZED_NAME;
		return SSL_CLIENT_HELLO_ERROR;
	}
	if ((tc = tls_cache_get(t, name, &remembered, &e)) == NULL) {
		struct log_line l;

		if (!remembered) {	/* logged when it first failed */
			log_begin(&l, LOG_WARN, "tls_cert");
			log_cstr(&l, "name", name);
			log_cstr(&l, "error", e.msg);
			log_end(&l);
		}
		*al = c->has_sni ? SSL_AD_UNRECOGNIZED_NAME :
		    SSL_AD_INTERNAL_ERROR;
		return SSL_CLIENT_HELLO_ERROR;
	}
	/* The SSL takes its own references. */
	r = SSL_use_cert_and_key(s, tc->leaf, tc->key, tc->chain, 1);
	tls_cert_unref(tc);
	if (r != 1) {
		ERR_clear_error();
		*al = SSL_AD_INTERNAL_ERROR;
		return SSL_CLIENT_HELLO_ERROR;
	}
	return SSL_CLIENT_HELLO_SUCCESS;
}

bool
tls_is_acme_challenge(SSL *ssl)
{
	struct tls_conn *c = SSL_get_ex_data(ssl, tls_ex_conn);

	return c != NULL && c->acme;
}

const char *
tls_sni(SSL *ssl)
{
	struct tls_conn *c = SSL_get_ex_data(ssl, tls_ex_conn);

	return (c != NULL && c->has_sni) ? c->sni : NULL;
}

/* --- contexts -------------------------------------------------------- */

static SSL_CTX *
tls_ctx_new(struct tls *t, struct err *e)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		tls_ossl_fail(e, "SSL_CTX_new");
		return NULL;
	}
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_cipher_list(ctx, tls_ciphers12) ||
	    !SSL_CTX_set_ciphersuites(ctx, tls_ciphers13) ||
	    !SSL_CTX_set1_groups_list(ctx, tls_groups) ||
	    !SSL_CTX_set_session_id_context(ctx, tls_sid_ctx,
	    sizeof(tls_sid_ctx) - 1) ||
	    !SSL_CTX_set_num_tickets(ctx, 1) ||
	    !SSL_CTX_set_ex_data(ctx, tls_ex_tls, t)) {
		tls_ossl_fail(e, "TLS context settings");
		SSL_CTX_free(ctx);
		return NULL;
	}
	/* Read whole records in one read(2) instead of header then body:
	 * measured 5-7 % less CPU per keep-alive request. The daemon drains
	 * what OpenSSL holds with SSL_has_pending, which counts it. */
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	    SSL_MODE_NO_AUTO_CHAIN);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, tls_ticket_cb);
	SSL_CTX_set_client_hello_cb(ctx, tls_hello_cb, t);
	SSL_CTX_set_alpn_select_cb(ctx, tls_alpn_cb, t);
	return ctx;
}

/* Paths of name's files. name has been checked to be a DNS name (no
 * '/'), by the SNI parser or the caller. */
static void
tls_paths(struct tls *t, const char *name, char pem[4096], char key[4096])
{
	snprintf(pem, 4096, "%s/certs/%s.pem", t->data_dir, name);
	snprintf(key, 4096, "%s/certs/%s.key", t->data_dir, name);
}

/* Reads the PEM private key at path, or NULL. Our own keys (local CA,
 * ACME) are ECDSA P-256 in PKCS#8: a decoder told so in advance takes
 * about 100 us, where PEM_read_PrivateKey, trying every decoder OpenSSL 3
 * has, takes about 400 us on a certificate cache miss. Other keys (an
 * operator's RSA key, "EC PRIVATE KEY") take the general path. */
static EVP_PKEY *
tls_read_key(const char *path)
{
	OSSL_DECODER_CTX *d;
	EVP_PKEY *key = NULL;
	BIO *b;
	FILE *f;

	if ((b = BIO_new_file(path, "r")) == NULL)
		goto out;
	d = OSSL_DECODER_CTX_new_for_pkey(&key, "PEM", "PrivateKeyInfo",
	    "EC", EVP_PKEY_KEYPAIR, NULL, NULL);
	if (d == NULL || !OSSL_DECODER_from_bio(d, b)) {
		EVP_PKEY_free(key);
		key = NULL;
	}
	OSSL_DECODER_CTX_free(d);
	BIO_free(b);
	if (key == NULL && (f = fopen(path, "r")) != NULL) {
		key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
out:
	ERR_clear_error();
	return key;
}

/* A local leaf on disk that is still good for a while: its certificate
 * and key, or -1. */
static int
tls_read_local(const char *pem, const char *keyp, X509 **cert,
    EVP_PKEY **key)
{
	FILE *f;
	time_t soon = time(NULL) + TLS_RENEW_LOCAL;

	*cert = NULL;
	*key = NULL;
	if ((f = fopen(pem, "r")) != NULL) {
		*cert = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	*key = tls_read_key(keyp);
	if (*cert != NULL && *key != NULL &&
	    X509_cmp_time(X509_get0_notAfter(*cert), &soon) > 0 &&
	    X509_check_private_key(*cert, *key) == 1)
		return 0;
	ERR_clear_error();
	X509_free(*cert);
	EVP_PKEY_free(*key);
	*cert = NULL;
	*key = NULL;
	return -1;
}

static void
tls_cert_unref(struct tls_cert *c)
{
	if (c == NULL || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	X509_free(c->leaf);
	EVP_PKEY_free(c->key);
	sk_X509_pop_free(c->chain, X509_free);
	free(c);
}

/* Reads a PEM file of a leaf followed by its chain. Returns 0 or -1. */
static int
tls_read_chain(const char *path, X509 **leaf, STACK_OF(X509) **chain)
{
	X509 *x;
	FILE *f;

	*leaf = NULL;
	*chain = NULL;
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	*leaf = PEM_read_X509(f, NULL, NULL, NULL);
	while (*leaf != NULL && (x = PEM_read_X509(f, NULL, NULL, NULL)) !=
	    NULL) {
		if ((*chain == NULL && (*chain = sk_X509_new_null()) == NULL) ||
		    !sk_X509_push(*chain, x)) {
			X509_free(x);
			break;
		}
	}
	fclose(f);
	ERR_clear_error();		/* the end of the file reads as one */
	return *leaf != NULL ? 0 : -1;
}

/* Loads the certificate of name: reads its files, or (source local)
 * issues them first when missing or expiring. Returns a new tls_cert
 * with one reference, or NULL with the reason. */
static struct tls_cert *
tls_load(struct tls *t, const char *name, struct err *e)
{
	char pem[4096], keyp[4096];
	struct tls_cert *c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		err_set(e, "out of memory");
		return NULL;
	}
	atomic_init(&c->refs, 1);
	tls_paths(t, name, pem, keyp);
	if (t->source == TLS_SOURCE_LOCAL) {
		if (tls_read_local(pem, keyp, &c->leaf, &c->key) == -1) {
			if (tls_localca_issue(t->ca, name, pem, keyp, &c->leaf,
			    &c->key, e) == -1)
				goto fail;
			log_info("tls_issue_local", "issued %s", name);
		}
		return c;
	}
	if (tls_read_chain(pem, &c->leaf, &c->chain) == -1) {
		err_set(e, "%s: no certificate", pem);
		goto fail;
	}
	if ((c->key = tls_read_key(keyp)) == NULL) {
		tls_ossl_fail(e, keyp);
		goto fail;
	}
	if (X509_check_private_key(c->leaf, c->key) != 1) {
		tls_ossl_fail(e, "certificate and key do not match");
		goto fail;
	}
	return c;
fail:
	ERR_clear_error();
	tls_cert_unref(c);
	return NULL;
}

static struct tls_entry *
tls_find(struct tls_shard *sh, uint32_t h, const char *name)
{
	for (struct tls_entry *x = sh->buckets[(h >> 6) % TLS_BUCKETS];
	    x != NULL; x = x->next)
		if (x->hash == h && strcmp(x->name, name) == 0)
			return x;
	return NULL;
}

/* Unlinks x from its shard (locked by the caller); returns its
 * certificate reference for the caller to drop outside the lock. */
static struct tls_cert *
tls_unlink(struct tls *t, struct tls_shard *sh, struct tls_entry *x)
{
	struct tls_entry **pp = &sh->buckets[(x->hash >> 6) % TLS_BUCKETS];
	struct tls_cert *c = x->cert;

	while (*pp != x)
		pp = &(*pp)->next;
	*pp = x->next;
	if (x->older != NULL)
		x->older->newer = x->newer;
	else
		sh->oldest = x->newer;
	if (x->newer != NULL)
		x->newer->older = x->older;
	else
		sh->newest = x->older;
	sh->count--;
	atomic_fetch_sub(&t->count, 1);
	free(x);
	return c;
}

static time_t
tls_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec;
}

/* Links nx (its cert NULL: a failed load, retried from nx->retry on) into
 * sh, locked by the caller, and returns it; unless another thread linked
 * an entry for the name first and that one is not a failure replaced by
 * our certificate: then frees nx and returns that one. The certificate
 * the caller must drop outside the lock (an evicted one, or nx's when it
 * lost the race) is left in *drop. */
static struct tls_entry *
tls_link(struct tls *t, struct tls_shard *sh, struct tls_entry *nx,
    struct tls_cert **drop)
{
	struct tls_entry *x, **head;

	*drop = NULL;
	if ((x = tls_find(sh, nx->hash, nx->name)) != NULL) {
		if (x->cert != NULL || nx->cert == NULL) {
			*drop = nx->cert;
			free(nx);
			return x;
		}
		tls_unlink(t, sh, x);	/* a failure: ours loaded since */
	}
	head = &sh->buckets[(nx->hash >> 6) % TLS_BUCKETS];
	nx->next = *head;
	*head = nx;
	nx->older = sh->newest;
	nx->newer = NULL;
	if (sh->newest != NULL)
		sh->newest->newer = nx;
	else
		sh->oldest = nx;
	sh->newest = nx;
	sh->count++;
	atomic_fetch_add(&t->count, 1);
	if (sh->count > LIMIT_TLS_CACHE_ENTRIES / TLS_SHARDS)
		*drop = tls_unlink(t, sh, sh->oldest);
	return nx;
}

/* name's certificate with a reference for the caller (who drops it with
 * tls_cert_unref), from the cache or loaded into it; NULL with the
 * reason, *remembered telling whether that is a failure of the last
 * LIMIT_TLS_RETRY_SECONDS (nothing was tried now) or a new one. */
static struct tls_cert *
tls_cache_get(struct tls *t, const char *name, bool *remembered,
    struct err *e)
{
	size_t n = strlen(name);
	uint32_t h = tls_hash(name, n);
	struct tls_shard *sh = &t->shards[h % TLS_SHARDS];
	struct tls_entry *x, *nx;
	struct tls_cert *c, *drop = NULL;

	*remembered = false;
	pthread_mutex_lock(&sh->mu);
	if ((x = tls_find(sh, h, name)) != NULL) {
		if ((c = x->cert) != NULL) {
			atomic_fetch_add(&c->refs, 1);
			pthread_mutex_unlock(&sh->mu);
			return c;
		}
		if (tls_now() < x->retry) {
			pthread_mutex_unlock(&sh->mu);
			*remembered = true;
			err_set(e, "no usable certificate (failed less than "
			    "%d s ago)", LIMIT_TLS_RETRY_SECONDS);
			return NULL;
		}
		tls_unlink(t, sh, x);		/* time to try again */
	}
	pthread_mutex_unlock(&sh->mu);

	/* Miss: load without the lock (file reads, maybe issuing). */
	c = tls_load(t, name, e);
	if ((nx = malloc(sizeof(*nx) + n + 1)) == NULL) {
		log_fatal("tls_cache", "out of memory");
		return NULL;
	}
	memcpy(nx->name, name, n + 1);
	nx->hash = h;
	nx->cert = c;
	nx->retry = tls_now() + LIMIT_TLS_RETRY_SECONDS;

	pthread_mutex_lock(&sh->mu);
	x = tls_link(t, sh, nx, &drop);
	if ((c = x->cert) != NULL)
		atomic_fetch_add(&c->refs, 1);
	pthread_mutex_unlock(&sh->mu);
	tls_cert_unref(drop);
	return c;		/* NULL: e says why (ours, or a racer's) */
}

void
tls_forget(struct tls *t, const char *name)
{
	uint32_t h = tls_hash(name, strlen(name));
	struct tls_shard *sh = &t->shards[h % TLS_SHARDS];
	struct tls_entry *x;
	struct tls_cert *c = NULL;

	pthread_mutex_lock(&sh->mu);
	if ((x = tls_find(sh, h, name)) != NULL)
		c = tls_unlink(t, sh, x);
	pthread_mutex_unlock(&sh->mu);
	tls_cert_unref(c);
}

void
tls_forget_all(struct tls *t)
{
	for (size_t i = 0; i < TLS_SHARDS; i++) {
		struct tls_shard *sh = &t->shards[i];
		struct tls_entry *x, *nx;

		pthread_mutex_lock(&sh->mu);
		x = sh->oldest;
		memset(sh->buckets, 0, sizeof(sh->buckets));
		sh->oldest = sh->newest = NULL;
		atomic_fetch_sub(&t->count, sh->count);
		sh->count = 0;
		pthread_mutex_unlock(&sh->mu);
		for (; x != NULL; x = nx) {	/* now ours alone */
			nx = x->newer;
			tls_cert_unref(x->cert);
			free(x);
		}
	}
}

int
tls_preload(struct tls *t, const char *name, struct err *e)
{
	bool remembered;
	struct tls_cert *c = tls_cache_get(t, name, &remembered, e);

	if (c == NULL)
		return -1;
	tls_cert_unref(c);
	return 0;
}

size_t
tls_cache_count(struct tls *t)
{
	return atomic_load(&t->count);
}

SSL_CTX *
tls_default_ctx(struct tls *t)
{
	return t->def;
}

int
tls_new(const struct tls_config *cfg, struct tls **out, struct err *e)
{
	struct tls *t;
	char dir[4096];
	int rc = -1;

	*out = NULL;
	pthread_once(&tls_once, tls_init_once);
	if (tls_ex_conn < 0 || tls_ex_tls < 0)
		return err_set(e, "OpenSSL ex_data indexes");
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return err_set(e, "out of memory");
	for (int i = 0; i < TLS_SHARDS; i++)
		pthread_mutex_init(&t->shards[i].mu, NULL);
	t->source = cfg->source;
	t->acme_alpn = cfg->acme_alpn;
	t->hosted = cfg->hosted;
	t->hosted_arg = cfg->hosted_arg;
	if ((t->data_dir = strdup(cfg->data_dir)) == NULL ||
	    (t->service_host = strdup(cfg->service_host)) == NULL) {
		err_set(e, "out of memory");
		goto out;
	}
	if ((t->aes = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL)) == NULL) {
		tls_ossl_fail(e, "AES-256-CBC");
		goto out;
	}
	tls_key_fill(&t->keys[0]);
	tls_key_fill(&t->keys[2]);	/* "previous": random, never matches */
	atomic_store(&t->key_cur, 0);

	snprintf(dir, sizeof(dir), "%s/certs", cfg->data_dir);
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		err_set(e, "%s: %s", dir, strerror(errno));
		goto out;
	}
	if (t->source == TLS_SOURCE_LOCAL &&
	    tls_localca_open(cfg->data_dir, &t->ca, e) == -1)
		goto out;
	if ((t->def = tls_ctx_new(t, e)) == NULL)
		goto out;
	rc = 0;
out:
	if (rc == 0)
		*out = t;
	else
		tls_free(t);
	return rc;
}

void
tls_free(struct tls *t)
{
	if (t == NULL)
		return;
	for (int i = 0; i < TLS_SHARDS; i++) {
		struct tls_shard *sh = &t->shards[i];

		while (sh->oldest != NULL)
			tls_cert_unref(tls_unlink(t, sh, sh->oldest));
		pthread_mutex_destroy(&sh->mu);
	}
	SSL_CTX_free(t->def);
	EVP_CIPHER_free(t->aes);
	tls_localca_free(t->ca);
	OPENSSL_cleanse(t->keys, sizeof(t->keys));
	free(t->data_dir);
	free(t->service_host);
	free(t);
}
