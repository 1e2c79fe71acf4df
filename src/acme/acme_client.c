/*
 * acme_client.c - one ACME order (RFC 8555 §7), blocking, over libcurl.
 *
 *	GET  directory                         -> newNonce, newAccount, newOrder
 *	HEAD newNonce                          -> Replay-Nonce (only when none
 *	                                          is left from the last answer)
 *	POST newAccount {termsOfServiceAgreed, contact}   (jwk)  -> Location=kid
 *	POST newOrder {identifiers:[{dns,NAME}]}          (kid)  -> order
 *	POST authz ""          (POST-as-GET)   -> challenges[{type,url,token}]
 *	     register TOKEN -> TOKEN.THUMBPRINT (acme_challenge.c)
 *	POST challenge {}                      -> the CA validates
 *	POST authz ""  ... until valid | invalid (bounded polls)
 *	POST finalize {csr: b64u(DER CSR, new P-256 key, SAN NAME)}
 *	POST order ""  ... until valid         -> certificate URL
 *	POST certificate "" Accept: application/pem-certificate-chain
 *	write <data_dir>/certs/NAME.key (0600), then NAME.pem (chain as served)
 *
 * Every POST carries a fresh nonce, taken from the Replay-Nonce of the
 * previous answer; a badNonce problem is retried with the new nonce up to
 * ACME_BADNONCE_RETRIES times. Any other problem document ends the order
 * and its type and detail reach the caller's error.
 *
 * newAccount is sent at every order: for an existing key the CA answers
 * 200 with the same account URL (§7.3.1), so the account survives a CA
 * that forgot it (Pebble at every start) without extra state.
 *
 * Never follows redirects, never logs key material or nonces, and never
 * writes outside <data_dir>/acme and <data_dir>/certs.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "../lib/dname.h"
#include "../lib/file.h"
#include "../lib/limits.h"
#include "../lib/log.h"
#include "acme_int.h"

struct acme_resp {
	long	 status;
	char	*body;			/* NUL-terminated, owned */
	size_t	 len;
	bool	 toobig;
	char	 nonce[ACME_LIMIT_HEADER];
	char	 location[ACME_LIMIT_HEADER];
	long	 retry_after;		/* seconds, 0: none */
};

struct acme_sess {
	const struct acme_config *cfg;
	const atomic_bool *cancel;
	CURL	*curl;
	EVP_PKEY *key;			/* account key */
	char	 thumb[44];
	char	*kid;			/* account URL */
	char	 nonce[ACME_LIMIT_HEADER];
	json_t	*dir;			/* the directory object */
};

static pthread_once_t acme_curl_once = PTHREAD_ONCE_INIT;

static void
acme_curl_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void
acme_resp_reset(struct acme_resp *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

static size_t
acme_on_body(char *p, size_t size, size_t n, void *arg)
{
	struct acme_resp *r = arg;
	size_t len = size * n;
	char *b;

	if (r->len + len > ACME_LIMIT_BODY) {
		r->toobig = true;
		return 0;		/* curl aborts the transfer */
	}
	if ((b = realloc(r->body, r->len + len + 1)) == NULL)
		return 0;
	memcpy(b + r->len, p, len);
	r->body = b;
	r->len += len;
	b[r->len] = '\0';
	return len;
}

/* Copies the value of header line "Name: value\r\n" into out when it is
 * the header named name. */
static void
acme_header(const char *p, size_t len, const char *name, char *out,
    size_t outlen)
{
	size_t n = strlen(name);

	if (len <= n + 1 || strncasecmp(p, name, n) != 0 || p[n] != ':')
		return;
	p += n + 1;
	len -= n + 1;
	while (len > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		len--;
	}
	while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == '\n' ||
	    p[len - 1] == ' '))
		len--;
	if (len >= outlen)
		return;		/* too long to be real: keep none */
	memcpy(out, p, len);
	out[len] = '\0';
}

static size_t
acme_on_header(char *p, size_t size, size_t n, void *arg)
{
	struct acme_resp *r = arg;
	size_t len = size * n;
	char ra[32] = "";

	acme_header(p, len, "Replay-Nonce", r->nonce, sizeof(r->nonce));
	acme_header(p, len, "Location", r->location, sizeof(r->location));
	acme_header(p, len, "Retry-After", ra, sizeof(ra));
	if (ra[0] != '\0') {
		char *end;
		long v = strtol(ra, &end, 10);

		if (*end == '\0' && v > 0)
			r->retry_after = v;
	}
	return len;
}

/* Copies untrusted text from the CA into buf with control bytes and
 * non-ASCII replaced by '?', so that it is safe in an error line. */
static const char *
acme_clean(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; s != NULL && s[i] != '\0' && i + 1 < len; i++)
		buf[i] = (s[i] < 0x20 || s[i] >= 0x7f) ? '?' : s[i];
	buf[i] = '\0';
	return buf;
}

/* Formats a problem document (RFC 7807) into e:
 * "WHAT: TYPE: DETAIL" (or the HTTP status when there is none). */
static int
acme_problem(json_t *prob, long status, const char *what, struct err *e)
{
	const char *type = json_string_value(json_object_get(prob, "type"));
	const char *detail =
	    json_string_value(json_object_get(prob, "detail"));
	char t[128], d[ERR_MSG_LEN];

	if (type == NULL && detail == NULL)
		return err_set(e, "%s: HTTP status %ld from the CA", what,
		    status);
	return err_set(e, "%s: %s: %s", what,
	    acme_clean(type ? type : "?", t, sizeof(t)),
	    acme_clean(detail ? detail : "", d, sizeof(d)));
}

/* Sleeps ms milliseconds in small steps; -1 when cancelled. */
static int
acme_sleep(const struct acme_sess *s, unsigned ms)
{
	while (ms > 0) {
		unsigned step = ms < 50 ? ms : 50;
		struct timespec ts = { 0, (long)step * 1000000L };

		if (s->cancel != NULL && atomic_load(s->cancel))
			return -1;
		nanosleep(&ts, NULL);
		ms -= step;
	}
	return (s->cancel != NULL && atomic_load(s->cancel)) ? -1 : 0;
}

/* Aborts a transfer in progress once the manager is being stopped. */
static int
acme_on_progress(void *arg, curl_off_t dlt, curl_off_t dln, curl_off_t ult,
    curl_off_t uln)
{
	const struct acme_sess *s = arg;

	return s->cancel != NULL && atomic_load(s->cancel);
}

/* One HTTP exchange: GET (body NULL, head false), HEAD, or POST of a JWS.
 * Fills r. Returns 0 when an answer came (any status), or -1. */
static int
acme_http(struct acme_sess *s, const char *url, const char *body,
    bool head, const char *accept, struct acme_resp *r, struct err *e)
{
	struct curl_slist *h = NULL, *h2;
	char errbuf[CURL_ERROR_SIZE] = "", acc[128];
	CURLcode cc;
	int rc = -1;

	acme_resp_reset(r);
	if (s->cancel != NULL && atomic_load(s->cancel))
		return err_set(e, "cancelled");
	curl_easy_reset(s->curl);
	curl_easy_setopt(s->curl, CURLOPT_URL, url);
	curl_easy_setopt(s->curl, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(s->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->curl, CURLOPT_TIMEOUT, (long)ACME_HTTP_TIMEOUT);
	curl_easy_setopt(s->curl, CURLOPT_USERAGENT, "stsguard-acme/0.1");
	curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, acme_on_body);
	curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(s->curl, CURLOPT_HEADERFUNCTION, acme_on_header);
	curl_easy_setopt(s->curl, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(s->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(s->curl, CURLOPT_XFERINFOFUNCTION, acme_on_progress);
	curl_easy_setopt(s->curl, CURLOPT_XFERINFODATA, s);
	if (s->cfg->ca_bundle != NULL)
		curl_easy_setopt(s->curl, CURLOPT_CAINFO, s->cfg->ca_bundle);
	snprintf(acc, sizeof(acc), "Accept: %s",
	    accept ? accept : "application/json");
	if ((h2 = curl_slist_append(h, acc)) == NULL)
		goto oom;
	h = h2;
	if (head) {
		curl_easy_setopt(s->curl, CURLOPT_NOBODY, 1L);
	} else if (body != NULL) {
		if ((h2 = curl_slist_append(h,
		    "Content-Type: application/jose+json")) == NULL)
			goto oom;
		h = h2;
		curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE,
		    (long)strlen(body));
	}
	curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, h);
	cc = curl_easy_perform(s->curl);
	if (r->toobig) {
		err_set(e, "%s: answer larger than %d bytes", url,
		    ACME_LIMIT_BODY);
		goto out;
	}
	if (cc != CURLE_OK) {
		err_set(e, "%s: %s", url, errbuf[0] ? errbuf :
		    curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &r->status);
	rc = 0;
	goto out;
oom:
	err_set(e, "out of memory");
out:
	curl_slist_free_all(h);
	return rc;
}

/* The body of r as a JSON object (new reference), or NULL with the
 * reason. */
static json_t *
acme_json(const struct acme_resp *r, const char *what, struct err *e)
{
	json_t *j;

	if (r->body == NULL ||
	    (j = json_loadb(r->body, r->len, 0, NULL)) == NULL) {
		err_set(e, "%s: the CA's answer is not JSON", what);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		err_set(e, "%s: the CA's answer is not a JSON object", what);
		return NULL;
	}
	return j;
}

static const char *
acme_dir_url(const struct acme_sess *s, const char *key)
{
	return json_string_value(json_object_get(s->dir, key));
}

static int
acme_get_nonce(struct acme_sess *s, struct err *e)
{
	struct acme_resp r = { 0 };
	const char *url = acme_dir_url(s, "newNonce");
	int rc = -1;

	if (url == NULL)
		return err_set(e, "the ACME directory has no newNonce");
	if (acme_http(s, url, NULL, true, NULL, &r, e) == -1)
		goto out;
	if ((r.status != 200 && r.status != 204) || r.nonce[0] == '\0') {
		err_set(e, "newNonce: HTTP status %ld, no Replay-Nonce",
		    r.status);
		goto out;
	}
	memcpy(s->nonce, r.nonce, sizeof(s->nonce));
	rc = 0;
out:
	acme_resp_reset(&r);
	return rc;
}

/* POSTs payload (NULL: POST-as-GET) to url signed with the account key
 * (jwk when use_jwk, else kid). Retries badNonce. Returns 0 with a 2xx
 * answer in r, or -1 with the problem document in e. */
static int
acme_post(struct acme_sess *s, const char *url, const char *payload,
    bool use_jwk, const char *accept, const char *what, struct acme_resp *r,
    struct err *e)
{
	char *jws = NULL;
	int rc = -1;

	for (unsigned try = 0; ; try++) {
		json_t *prob;
		const char *type;
		bool bad_nonce;

		if (s->nonce[0] == '\0' && acme_get_nonce(s, e) == -1)
			goto out;
		free(jws);
		jws = NULL;
		if (acme_jws(s->key, use_jwk ? NULL : s->kid, s->nonce, url,
		    payload, &jws, e) == -1)
			goto out;
		s->nonce[0] = '\0';	/* a nonce is good once */
		if (acme_http(s, url, jws, false, accept, r, e) == -1) {
			err_prefix(e, "%s: ", what);
			goto out;
		}
		if (r->nonce[0] != '\0')
			memcpy(s->nonce, r->nonce, sizeof(s->nonce));
		if (r->status >= 200 && r->status < 300) {
			rc = 0;
			goto out;
		}
		prob = r->body ? json_loadb(r->body, r->len, 0, NULL) : NULL;
		type = json_string_value(json_object_get(prob, "type"));
		bad_nonce = type != NULL &&
		    strcmp(type, "urn:ietf:params:acme:error:badNonce") == 0;
		if (!bad_nonce || try + 1 >= ACME_BADNONCE_RETRIES) {
			acme_problem(prob, r->status, what, e);
			json_decref(prob);
			goto out;
		}
		json_decref(prob);
		acme_log(LOG_INFO, "acme_bad_nonce", NULL, what);
	}
out:
	free(jws);
	return rc;
}

static int
acme_account(struct acme_sess *s, struct err *e)
{
	struct acme_resp r = { 0 };
	json_t *p = NULL;
	char *payload = NULL, path[4096];
	const char *url = acme_dir_url(s, "newAccount");
	int rc = -1;

	if (url == NULL)
		return err_set(e, "the ACME directory has no newAccount");
	if ((p = json_pack("{s:b}", "termsOfServiceAgreed", 1)) == NULL)
		goto oom;
	if (s->cfg->email != NULL && s->cfg->email[0] != '\0') {
		char mail[512];

		snprintf(mail, sizeof(mail), "mailto:%s", s->cfg->email);
		if (json_object_set_new(p, "contact", json_pack("[s]", mail)))
			goto oom;
	}
	if ((payload = json_dumps(p, JSON_COMPACT)) == NULL)
		goto oom;
	if (acme_post(s, url, payload, true, NULL, "newAccount", &r, e) == -1)
		goto out;
	if (r.location[0] == '\0') {
		err_set(e, "newAccount: no account URL (Location) in the "
		    "answer");
		goto out;
	}
	if ((s->kid = strdup(r.location)) == NULL)
		goto oom;
	/* Kept beside the key for operators (which account is ours); in a
	 * cluster the key came from the store and the folder may be new. */
	snprintf(path, sizeof(path), "%s/acme", s->cfg->data_dir);
	if (acme_mkdir(s->cfg->data_dir, 0700, e) == -1 ||
	    acme_mkdir(path, 0700, e) == -1)
		goto out;
	snprintf(path, sizeof(path), "%s/acme/account.url",
	    s->cfg->data_dir);
	{
		char line[ACME_LIMIT_HEADER + 1];
		int n = snprintf(line, sizeof(line), "%s\n", s->kid);

		if (file_write_atomic(path, line, (size_t)n, 0600, true, e) == -1)
			goto out;
	}
	rc = 0;
	goto out;
oom:
	err_set(e, "out of memory");
out:
	json_decref(p);
	free(payload);
	acme_resp_reset(&r);
	return rc;
}

/* The error of challenge c of an invalid authorization, into e. */
static int
acme_authz_error(json_t *authz, const char *type, struct err *e)
{
	json_t *chals = json_object_get(authz, "challenges"), *c;
	size_t i;

	json_array_foreach(chals, i, c) {
		const char *t = json_string_value(json_object_get(c, "type"));
		json_t *err = json_object_get(c, "error");

		if (t != NULL && strcmp(t, type) == 0 && err != NULL)
			return acme_problem(err, 0, "validation failed", e);
	}
	return err_set(e, "validation failed: authorization invalid");
}

static bool
acme_token_ok(const char *t)
{
	size_t n = strlen(t);

	if (n == 0 || n > ACME_TOKEN_MAX)
		return false;
	return strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_") == n;
}

/* Answers one authorization with the configured challenge and waits until
 * the CA says valid (0) or invalid (-1 with its reason). */
static int
acme_authorize(struct acme_sess *s, const char *url, const char *name,
    struct err *e)
{
	const char *type = s->cfg->challenge == ACME_HTTP_01 ? "http-01" :
	    "tls-alpn-01";
	struct acme_resp r = { 0 };
	json_t *authz = NULL, *c, *chal = NULL;
	const char *st, *token = NULL, *curl = NULL, *ident;
	char keyauth[ACME_KEYAUTH_MAX + 1], tok[ACME_TOKEN_MAX + 1];
	const struct acme_shared *sh = s->cfg->shared;
	bool registered = false, shared = false;
	unsigned delay = ACME_POLL_FIRST_MS;
	size_t i;
	int rc = -1;

	if (acme_post(s, url, NULL, false, NULL, "authorization", &r, e) ==
	    -1 || (authz = acme_json(&r, "authorization", e)) == NULL)
		goto out;
	st = json_string_value(json_object_get(authz, "status"));
	if (st != NULL && strcmp(st, "valid") == 0) {
		rc = 0;		/* reused by the CA */
		goto out;
	}
	if (st == NULL || strcmp(st, "pending") != 0) {
		err_set(e, "authorization is %s, not pending", st ? st : "?");
		goto out;
	}
	ident = json_string_value(json_object_get(json_object_get(authz,
	    "identifier"), "value"));
	if (ident == NULL || strcasecmp(ident, name) != 0) {
		err_set(e, "authorization is not for %s", name);
		goto out;
	}
	json_array_foreach(json_object_get(authz, "challenges"), i, c) {
		const char *t = json_string_value(json_object_get(c, "type"));

		if (t != NULL && strcmp(t, type) == 0) {
			chal = c;
			break;
		}
	}
	if (chal == NULL ||
	    (token = json_string_value(json_object_get(chal, "token"))) ==
	    NULL ||
	    (curl = json_string_value(json_object_get(chal, "url"))) == NULL) {
		err_set(e, "the CA offers no %s challenge for %s", type, name);
		goto out;
	}
	if (!acme_token_ok(token)) {
		err_set(e, "the CA sent a malformed %s token", type);
		goto out;
	}
	/* token and curl point into authz, which the polls below replace. */
	memcpy(tok, token, strlen(token) + 1);
	snprintf(keyauth, sizeof(keyauth), "%s.%s", tok, s->thumb);
	if (acme_challenge_add(s->cfg->challenge, name, tok, keyauth, e) ==
	    -1)
		goto out;
	registered = true;
	/* In a cluster the CA may reach any node: each must know the
	 * challenge before the CA is told to validate. */
	if (sh != NULL) {
		if (sh->challenge_put(sh->arg, s->cfg->challenge, name, tok,
		    keyauth, e) == -1)
			goto out;
		shared = true;
		if (acme_sleep(s, sh->challenge_wait_ms) == -1) {
			err_set(e, "cancelled");
			goto out;
		}
	}
	if (acme_post(s, curl, "{}", false, NULL, "challenge", &r, e) == -1)
		goto out;
	for (i = 0; i < ACME_POLL_TRIES; i++) {
		unsigned wait = delay;

		if (r.retry_after > 0 && (unsigned long)r.retry_after * 1000 <
		    ACME_POLL_MAX_MS)
			wait = (unsigned)r.retry_after * 1000;
		if (acme_sleep(s, wait) == -1) {
			err_set(e, "cancelled");
			goto out;
		}
		delay = delay * 2 > ACME_POLL_MAX_MS ? ACME_POLL_MAX_MS :
		    delay * 2;
		json_decref(authz);
		authz = NULL;
		if (acme_post(s, url, NULL, false, NULL, "authorization", &r,
		    e) == -1 ||
		    (authz = acme_json(&r, "authorization", e)) == NULL)
			goto out;
		st = json_string_value(json_object_get(authz, "status"));
		if (st == NULL)
			continue;
		if (strcmp(st, "valid") == 0) {
			rc = 0;
			goto out;
		}
		if (strcmp(st, "invalid") == 0) {
			acme_authz_error(authz, type, e);
			goto out;
		}
	}
	err_set(e, "the CA did not validate %s in time", name);
out:
	if (shared)
		sh->challenge_remove(sh->arg, tok);
	if (registered)
		acme_challenge_remove(tok);
	json_decref(authz);
	acme_resp_reset(&r);
	return rc;
}

/* base64url of a DER CSR for name with key: subject CN=name, SAN name. */
static int
acme_csr(EVP_PKEY *key, const char *name, char **out, struct err *e)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	X509_EXTENSION *ext = NULL;
	X509_REQ *req = NULL;
	unsigned char *der = NULL;
	char san[LIMIT_DNAME_LEN + 8];
	int len, rc = -1;

	snprintf(san, sizeof(san), "DNS:%s", name);
	if ((req = X509_REQ_new()) == NULL ||
	    !X509_REQ_set_version(req, X509_REQ_VERSION_1) ||
	    !X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN",
	    MBSTRING_ASC, (const unsigned char *)name, -1, -1, 0) ||
	    !X509_REQ_set_pubkey(req, key) ||
	    (exts = sk_X509_EXTENSION_new_null()) == NULL ||
	    (ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name,
	    san)) == NULL ||
	    !sk_X509_EXTENSION_push(exts, ext))
		goto out;
	ext = NULL;
	if (!X509_REQ_add_extensions(req, exts) ||
	    X509_REQ_sign(req, key, EVP_sha256()) <= 0 ||
	    (len = i2d_X509_REQ(req, &der)) <= 0 ||
	    acme_b64url(der, (size_t)len, out) == -1)
		goto out;
	rc = 0;
out:
	if (rc == -1)
		err_set(e, "cannot make the CSR for %s", name);
	X509_EXTENSION_free(ext);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	OPENSSL_free(der);
	return rc;
}

/* Polls the order at url until its status is valid; its certificate URL
 * into *cert (caller frees). */
static int
acme_order_wait(struct acme_sess *s, const char *url, json_t *order,
    char **cert, struct err *e)
{
	struct acme_resp r = { 0 };
	unsigned delay = ACME_POLL_FIRST_MS;
	json_t *o = json_incref(order);
	int rc = -1;

	for (unsigned i = 0; ; i++) {
		const char *st = json_string_value(json_object_get(o,
		    "status"));
		const char *c = json_string_value(json_object_get(o,
		    "certificate"));

		if (st != NULL && strcmp(st, "valid") == 0 && c != NULL) {
			if ((*cert = strdup(c)) == NULL) {
				err_set(e, "out of memory");
				goto out;
			}
			rc = 0;
			goto out;
		}
		if (st != NULL && strcmp(st, "invalid") == 0) {
			json_t *p = json_object_get(o, "error");

			acme_problem(p, 0, "order failed", e);
			goto out;
		}
		if (i >= ACME_POLL_TRIES) {
			err_set(e, "the CA did not issue in time (order %s)",
			    st ? st : "?");
			goto out;
		}
		if (acme_sleep(s, delay) == -1) {
			err_set(e, "cancelled");
			goto out;
		}
		delay = delay * 2 > ACME_POLL_MAX_MS ? ACME_POLL_MAX_MS :
		    delay * 2;
		json_decref(o);
		o = NULL;
		if (acme_post(s, url, NULL, false, NULL, "order", &r, e) ==
		    -1 || (o = acme_json(&r, "order", e)) == NULL)
			goto out;
	}
out:
	json_decref(o);
	acme_resp_reset(&r);
	return rc;
}

/* Checks that the chain's first certificate is for name and key. */
static int
acme_check_chain(const char *pem, size_t len, EVP_PKEY *key,
    const char *name, struct err *e)
{
	BIO *b;
	X509 *x = NULL;
	int rc = -1;

	if ((b = BIO_new_mem_buf(pem, (int)len)) == NULL ||
	    (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL) {
		err_set(e, "the CA's certificate chain is not PEM");
		goto out;
	}
	if (X509_check_private_key(x, key) != 1) {
		err_set(e, "the CA's certificate is not for our key");
		goto out;
	}
	if (X509_check_host(x, name, 0, 0, NULL) != 1) {
		err_set(e, "the CA's certificate is not for %s", name);
		goto out;
	}
	rc = 0;
out:
	X509_free(x);
	BIO_free(b);
	return rc;
}

int
acme_obtain_cancel(const struct acme_config *cfg, const char *name,
    const atomic_bool *cancel, struct err *e)
{
	struct acme_sess s;
	struct acme_resp r = { 0 };
	json_t *p = NULL, *order = NULL, *u;
	EVP_PKEY *ckey = NULL;
	char *payload = NULL, *csr = NULL, *cert_url = NULL, *pem = NULL;
	char *order_url = NULL, dir[4096];
	const char *fin;
	size_t i, pemlen;
	int rc = -1;

	memset(&s, 0, sizeof(s));
	s.cfg = cfg;
	s.cancel = cancel;
	if (dname_check_alabel(name, strlen(name), false, e) == -1) {
		err_prefix(e, "%s: ", name);
		return -1;
	}
	if (cfg->directory_url == NULL || cfg->data_dir == NULL)
		return err_set(e, "%s: no ACME directory or data dir", name);
	if ((size_t)snprintf(dir, sizeof(dir), "%s/certs", cfg->data_dir) >=
	    sizeof(dir) - LIMIT_DNAME_LEN - 8)
		return err_set(e, "%s: path too long", cfg->data_dir);
	pthread_once(&acme_curl_once, acme_curl_init);
	if ((s.curl = curl_easy_init()) == NULL) {
		err_set(e, "out of memory");
		goto out;
	}
	if (acme_account_key_shared(cfg, &s.key, e) == -1)
		goto out;
	if (acme_thumbprint(s.key, s.thumb) == -1) {
		err_set(e, "cannot compute the account key thumbprint");
		goto out;
	}
	if (acme_http(&s, cfg->directory_url, NULL, false, NULL, &r, e) == -1)
		goto out;
	if (r.status != 200) {
		err_set(e, "%s: HTTP status %ld", cfg->directory_url,
		    r.status);
		goto out;
	}
	if ((s.dir = acme_json(&r, "directory", e)) == NULL)
		goto out;
	if (acme_account(&s, e) == -1)
		goto out;

	/* The order. */
	if ((p = json_pack("{s:[{s:s, s:s}]}", "identifiers", "type", "dns",
	    "value", name)) == NULL ||
	    (payload = json_dumps(p, JSON_COMPACT)) == NULL) {
		err_set(e, "out of memory");
		goto out;
	}
	if (acme_dir_url(&s, "newOrder") == NULL) {
		err_set(e, "the ACME directory has no newOrder");
		goto out;
	}
	if (acme_post(&s, acme_dir_url(&s, "newOrder"), payload, false, NULL,
	    "newOrder", &r, e) == -1 ||
	    (order = acme_json(&r, "newOrder", e)) == NULL)
		goto out;
	if (r.location[0] == '\0' ||
	    (order_url = strdup(r.location)) == NULL) {
		err_set(e, "newOrder: no order URL (Location)");
		goto out;
	}
	acme_log(LOG_INFO, "acme_order", name, NULL);
	json_array_foreach(json_object_get(order, "authorizations"), i, u) {
		if (!json_is_string(u)) {
			err_set(e, "newOrder: malformed authorizations");
			goto out;
		}
		if (acme_authorize(&s, json_string_value(u), name, e) == -1)
			goto out;
	}

	/* Finalize with a CSR for a new key. */
	if ((fin = json_string_value(json_object_get(order, "finalize"))) ==
	    NULL) {
		err_set(e, "newOrder: no finalize URL");
		goto out;
	}
	if ((ckey = acme_key_new()) == NULL) {
		err_set(e, "cannot create an ECDSA P-256 key");
		goto out;
	}
	if (acme_csr(ckey, name, &csr, e) == -1)
		goto out;
	json_decref(p);
	free(payload);
	payload = NULL;
	if ((p = json_pack("{s:s}", "csr", csr)) == NULL ||
	    (payload = json_dumps(p, JSON_COMPACT)) == NULL) {
		err_set(e, "out of memory");
		goto out;
	}
	/* fin points into order: the answer replaces order only after. */
	if (acme_post(&s, fin, payload, false, NULL, "finalize", &r, e) == -1)
		goto out;
	json_decref(order);
	if ((order = acme_json(&r, "finalize", e)) == NULL)
		goto out;
	if (acme_order_wait(&s, order_url, order, &cert_url, e) == -1)
		goto out;
	if (acme_post(&s, cert_url, NULL, false,
	    "application/pem-certificate-chain", "certificate", &r, e) == -1)
		goto out;
	if (r.body == NULL || acme_check_chain(r.body, r.len, ckey, name,
	    e) == -1)
		goto out;

	if (acme_key_pem(ckey, &pem, &pemlen) == -1) {
		err_set(e, "cannot write the certificate key");
		goto out;
	}
	if (acme_cert_write(cfg->data_dir, name, r.body, r.len, pem, pemlen,
	    e) == -1)
		goto out;
	acme_log(LOG_INFO, "acme_issued", name, NULL);
	/* Served here already; the other nodes order it themselves later
	 * if it cannot be shared now. */
	if (cfg->shared != NULL && cfg->shared->cert_put(cfg->shared->arg,
	    name, r.body, r.len, pem, pemlen, e) == -1)
		acme_log(LOG_WARN, "acme_share_failed", name, e->msg);
	rc = 0;
out:
	if (rc == -1)
		err_prefix(e, "%s: ", name);
	if (pem != NULL) {
		OPENSSL_cleanse(pem, pemlen);
		free(pem);
	}
	json_decref(p);
	json_decref(order);
	json_decref(s.dir);
	free(payload);
	free(csr);
	free(cert_url);
	free(order_url);
	free(s.kid);
	EVP_PKEY_free(ckey);
	EVP_PKEY_free(s.key);
	acme_resp_reset(&r);
	if (s.curl != NULL)
		curl_easy_cleanup(s.curl);
	return rc;
}

int
acme_obtain(const struct acme_config *cfg, const char *name, struct err *e)
{
	return acme_obtain_cancel(cfg, name, NULL, e);
}
