/*
 * check_run.c - the checker's edges (check.h): it asks the DNS through
 * the one resolver (dns_resolve.c), fetches the policy with libcurl and
 * talks SMTP + STARTTLS with OpenSSL, then hands what it saw to the pure
 * checks of check_eval.c. check_many runs domains on a few threads, each
 * with its own resolver.
 *
 *	D NS (or the nearest parent's): each server asked for the SOA
 *	    directly                   -> check_delegation
 *	_mta-sts.D TXT (+ CNAMEs)      -> check_sts_txt
 *	mta-sts.D A/AAAA (+ CNAMEs)    -> check_policy_host
 *	GET https://mta-sts.D/.well-known/mta-sts.txt -> check_policy_fetch
 *	    (over IPv4 and IPv6 apart when it has both) -> check_policy_families
 *	D MX                           -> check_mx_cover, check_mx_templates
 *	each MX: A/AAAA, port 25: greeting, EHLO, STARTTLS, handshake;
 *	    _25._tcp.MX TLSA           -> check_smtp_probe
 *	_smtp._tls.D TXT               -> check_tlsrpt
 *	DNSSEC of those TXT and the MX answers -> check_dnssec
 *	(hosted) served id, service host -> check_hosted
 *
 * What it never does: connect to an address check_addr_private refuses
 * unless o->allow_private, follow a redirect, use a proxy from the
 * environment, or read more than LIMIT_POLICY_BYTES of a policy and
 * LIMIT_CHECK_SMTP_LINE * LIMIT_CHECK_SMTP_LINES bytes of an SMTP reply.
 * Names are resolved here, never by libcurl or the C library, so that
 * the `nameserver` setting and the private-address guard hold for every
 * connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "check.h"

/* The CNAMEs met from name on, one step at a time, into chain. */
static void
check_cnames(struct dns_resolver *res, const char *name, struct strv *chain)
{
	char cur[LIMIT_DNAME_LEN + 1], next[LIMIT_DNAME_LEN + 1];
	struct err e;

	snprintf(cur, sizeof(cur), "%s", name);
	while (chain->n < LIMIT_CHECK_CNAME_CHAIN &&
	    dns_cname(res, cur, next, &e) == DNS_FOUND && next[0] != '\0') {
		if (strv_push(chain, next) == -1)
			break;
		snprintf(cur, sizeof(cur), "%s", next);
	}
}

/* The answers step 6 judges (check_dnssec), kept from the steps that
 * asked: the resolver's status is of its last lookup only. */
struct check_sec_keep {
	struct check_sec a[3];
	size_t	 n;
	char	 what[3][LIMIT_DNAME_LEN + 24];
	char	 why[3][320];
};

/* Keeps the DNSSEC status of res's last lookup, of name and type. */
static void
check_sec_note(struct check_sec_keep *k, struct dns_resolver *res,
    const char *name, const char *type, int rc)
{
	struct check_sec *s;
	const char *why;

	if (k->n == sizeof(k->a) / sizeof(k->a[0]))
		return;
	s = &k->a[k->n];
	s->q.rc = rc;
	s->q.sec = dns_last_sec(res, &why);
	snprintf(k->what[k->n], sizeof(k->what[k->n]), "%s %s", name, type);
	snprintf(k->why[k->n], sizeof(k->why[k->n]), "%s", why);
	s->what = k->what[k->n];
	s->q.why = k->why[k->n];
	k->n++;
}

/* --- the policy fetch ------------------------------------------------- */

struct check_body {
	char	*b;		/* LIMIT_POLICY_BYTES + 1 */
	size_t	 n;
	bool	 too_large;
};

static size_t
check_body_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct check_body *cb = arg;
	size_t n = size * nmemb;

	if (n > LIMIT_POLICY_BYTES - cb->n) {
		cb->too_large = true;
		return 0;	/* stop reading: the limit is the verdict */
	}
	memcpy(cb->b + cb->n, p, n);
	cb->n += n;
	return n;
}

/* One fetch of the policy, connecting only to the addresses of addrs
 * that are allowed and of family fam (AF_UNSPEC: both), into f; the
 * texts f points at live in keep until check_fetch_free. */
struct check_fetch_keep {
	struct check_body cb;
	char	*ct, *loc;
	char	 url[LIMIT_DNAME_LEN + 64];
	char	 error[CURL_ERROR_SIZE + 64];
};

/* The leaf certificate's end of validity from libcurl's certificate
 * info ("Expire date:Dec  6 21:18:54 2027 GMT", OpenSSL's print
 * format), or 0 when it is not there. */
static time_t
check_fetch_not_after(CURL *c)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	struct curl_certinfo *ci = NULL;
	struct curl_slist *l;
	struct tm tm = { 0 };
	char mon[4];
	const char *m;

	if (curl_easy_getinfo(c, CURLINFO_CERTINFO, &ci) != CURLE_OK ||
	    ci == NULL || ci->num_of_certs < 1)
		return 0;
	for (l = ci->certinfo[0]; l != NULL; l = l->next) {
		if (strncmp(l->data, "Expire date:", 12) != 0)
			continue;
		if (sscanf(l->data + 12, "%3s %d %d:%d:%d %d", mon,
		    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
		    &tm.tm_year) != 6 || strlen(mon) != 3 ||
		    (m = strstr(months, mon)) == NULL ||
		    (m - months) % 3 != 0)
			return 0;
		tm.tm_mon = (int)((m - months) / 3);
		tm.tm_year -= 1900;
		return timegm(&tm);
	}
	return 0;
}

static void
check_fetch_free(struct check_fetch_keep *k)
{
	free(k->cb.b);
	free(k->ct);
	free(k->loc);
	memset(k, 0, sizeof(*k));
}

/* True when ip is of family fam (AF_UNSPEC: any). */
static bool
check_family_is(const char *ip, int fam)
{
	return fam == AF_UNSPEC || (fam == AF_INET6) == (strchr(ip, ':') !=
	    NULL);
}

static void
check_fetch_one(const struct check_opts *o, const char *domain,
    const struct strv *addrs, int fam, struct check_fetch *f,
    struct check_fetch_keep *k)
{
	char pin[2048], curlerr[CURL_ERROR_SIZE];
	struct curl_slist *resolve = NULL;
	char *ct = NULL, *loc = NULL;
	size_t po;
	CURL *c;
	CURLcode rc;

	memset(f, 0, sizeof(*f));
	memset(k, 0, sizeof(*k));
	snprintf(k->url, sizeof(k->url), "https://mta-sts.%s/.well-known/"
	    "mta-sts.txt", domain);
	f->url = k->url;
	/* curl connects only to the addresses we resolved and allowed. */
	po = (size_t)snprintf(pin, sizeof(pin), "mta-sts.%s:443:", domain);
	for (size_t i = 0, n = 0; i < addrs->n && po < sizeof(pin); i++) {
		if ((!o->allow_private && check_addr_private(addrs->v[i])) ||
		    !check_family_is(addrs->v[i], fam))
			continue;
		po += (size_t)snprintf(pin + po, sizeof(pin) - po,
		    strchr(addrs->v[i], ':') ? "%s[%s]" : "%s%s",
		    n++ ? "," : "", addrs->v[i]);
	}
	k->cb.b = malloc(LIMIT_POLICY_BYTES + 1);
	c = curl_easy_init();
	resolve = curl_slist_append(NULL, pin);
	if (k->cb.b == NULL || c == NULL || resolve == NULL) {
		f->error = "out of memory";
		goto out;
	}
	curlerr[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, k->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_RESOLVE, resolve);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)CHECK_FETCH_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (fam != AF_UNSPEC)
		curl_easy_setopt(c, CURLOPT_IPRESOLVE, fam == AF_INET ?
		    CURL_IPRESOLVE_V4 : CURL_IPRESOLVE_V6);
	if (o->ca_file != NULL) {
		curl_easy_setopt(c, CURLOPT_CAINFO, o->ca_file);
		curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
	}
	curl_easy_setopt(c, CURLOPT_USERAGENT, "stsguard-check");
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curlerr);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, check_body_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &k->cb);
	curl_easy_setopt(c, CURLOPT_CERTINFO, 1L);
	rc = curl_easy_perform(c);
	if (rc == CURLE_WRITE_ERROR && k->cb.too_large) {
		rc = CURLE_OK;
		f->too_large = true;
	}
	if (rc != CURLE_OK) {
		snprintf(k->error, sizeof(k->error), "%s%s%s",
		    curl_easy_strerror(rc), curlerr[0] ? ": " : "", curlerr);
		f->error = k->error;
		f->tls_error = rc == CURLE_PEER_FAILED_VERIFICATION ||
		    rc == CURLE_SSL_CONNECT_ERROR ||
		    rc == CURLE_SSL_CACERT_BADFILE;
	} else {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &f->status);
		if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) ==
		    CURLE_OK && ct != NULL)
			f->content_type = k->ct = strdup(ct);
		if (curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc) ==
		    CURLE_OK && loc != NULL)
			f->location = k->loc = strdup(loc);
		f->body = k->cb.b;
		f->len = k->cb.n;
		f->not_after = check_fetch_not_after(c);
		f->now = time(NULL);
	}
out:
	curl_easy_cleanup(c);
	curl_slist_free_all(resolve);
}

/* Why a fetch gave no policy (NULL when it gave status 200), in buf. */
static const char *
check_fetch_why(const struct check_fetch *f, char *buf, size_t cap)
{
	if (f->error != NULL)
		return f->error;
	if (f->status != 200) {
		snprintf(buf, cap, "status %ld", f->status);
		return buf;
	}
	return NULL;
}

/* The policy fetch (step 2b) and, when the host has addresses of both
 * families, one fetch over each (step 2c): the step 2b verdict is then
 * on the IPv4 fetch, or the IPv6 one when only that gave a policy. */
static void
check_fetch_policy(const struct check_opts *o, struct check_report *r,
    const struct strv *addrs)
{
	struct check_fetch f4, f6;
	struct check_fetch_keep *k;
	struct check_family fam = { 0 };
	char w4[32], w6[32];

	for (size_t i = 0; i < addrs->n; i++) {
		if (!o->allow_private && check_addr_private(addrs->v[i]))
			continue;
		if (strchr(addrs->v[i], ':') != NULL)
			fam.n6++;
		else
			fam.n4++;
	}
	if ((k = calloc(2, sizeof(*k))) == NULL) {
		check_add(r, CHECK_FAIL, CHECK_A_POLICY, r->domain, NULL,
		    "out of memory");
		return;
	}
	if (fam.n4 == 0 || fam.n6 == 0) {
		check_fetch_one(o, r->domain, addrs, AF_UNSPEC, &f4, &k[0]);
		check_policy_fetch(r, &f4);
		check_policy_families(r, &fam);
		goto out;
	}
	check_fetch_one(o, r->domain, addrs, AF_INET, &f4, &k[0]);
	check_fetch_one(o, r->domain, addrs, AF_INET6, &f6, &k[1]);
	fam.err4 = check_fetch_why(&f4, w4, sizeof(w4));
	fam.err6 = check_fetch_why(&f6, w6, sizeof(w6));
	check_policy_fetch(r, fam.err4 != NULL && fam.err6 == NULL ? &f6 :
	    &f4);
	check_policy_families(r, &fam);
out:
	check_fetch_free(&k[0]);
	check_fetch_free(&k[1]);
	free(k);
}

/* --- the SMTP probe --------------------------------------------------- */

/* What one dialogue keeps: the texts check_smtp points at. */
struct check_conv {
	int	 fd;
	SSL	*ssl;
	char	 buf[LIMIT_CHECK_SMTP_LINE * LIMIT_CHECK_SMTP_LINES];
	size_t	 n;
	char	 error[320], tls_error[320], verify_text[160];
};

static int
check_connect(const char *addr, struct err *e)
{
	struct addrinfo hints = { 0 }, *ai = NULL;
	struct timeval tv = { CHECK_SMTP_TIMEOUT_S, 0 };
	struct pollfd p;
	socklen_t sl = sizeof(int);
	int fd = -1, soerr = 0, g;

	hints.ai_flags = AI_NUMERICHOST;
	hints.ai_socktype = SOCK_STREAM;
	if ((g = getaddrinfo(addr, "25", &hints, &ai)) != 0)
		return err_set(e, "%s: %s", addr, gai_strerror(g));
	if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		err_set(e, "socket: %s", strerror(errno));
		goto fail;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1 &&
	    errno != EINPROGRESS) {
		err_set(e, "connect: %s", strerror(errno));
		goto fail;
	}
	p.fd = fd;
	p.events = POLLOUT;
	if (poll(&p, 1, CHECK_SMTP_TIMEOUT_S * 1000) != 1) {
		err_set(e, "connect: no answer within %d s",
		    CHECK_SMTP_TIMEOUT_S);
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == -1 ||
	    soerr != 0) {
		err_set(e, "connect: %s", strerror(soerr ? soerr : errno));
		goto fail;
	}
	/* From here on blocking reads and writes, each bounded. */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1) {
		err_set(e, "socket options: %s", strerror(errno));
		goto fail;
	}
	freeaddrinfo(ai);
	return fd;
fail:
	if (fd != -1)
		close(fd);
	freeaddrinfo(ai);
	return -1;
}

/* Reads one reply, over TLS once cv->ssl is set. Returns 0 with *rep,
 * or -1 with the reason. */
static int
check_read_reply(struct check_conv *cv, struct check_reply *rep,
    struct err *e)
{
	for (;;) {
		ssize_t got;
		int rc;

		if ((rc = check_reply_parse(cv->buf, cv->n, rep, e)) == -1)
			return -1;
		if (rc == 0) {
			memmove(cv->buf, cv->buf + rep->used,
			    cv->n - rep->used);
			cv->n -= rep->used;
			return 0;
		}
		if (cv->n == sizeof(cv->buf))
			return err_set(e, "reply over %zu bytes",
			    sizeof(cv->buf));
		if (cv->ssl != NULL) {
			int k = SSL_read(cv->ssl, cv->buf + cv->n,
			    (int)(sizeof(cv->buf) - cv->n));

			got = k > 0 ? k : -1;
		} else {
			got = recv(cv->fd, cv->buf + cv->n,
			    sizeof(cv->buf) - cv->n, 0);
		}
		if (got == 0)
			return err_set(e, "connection closed");
		if (got < 0)
			return err_set(e, "%s", errno == EAGAIN ||
			    errno == EWOULDBLOCK ? "no reply within the "
			    "timeout" : strerror(errno));
		cv->n += (size_t)got;
	}
}

static int
check_send(struct check_conv *cv, const char *line, struct err *e)
{
	size_t n = strlen(line);

	if (cv->ssl != NULL ? SSL_write(cv->ssl, line, (int)n) != (int)n :
	    send(cv->fd, line, n, MSG_NOSIGNAL) != (ssize_t)n)
		return err_set(e, "sending %.4s: %s", line, strerror(errno));
	return 0;
}

/* The dialogue with addr for MX host, into s (texts in cv). */
static void
check_dialogue(const struct check_opts *o, const char *addr,
    struct check_conv *cv, struct check_smtp *s)
{
	struct check_reply rep;
	struct err e;
	SSL_CTX *ctx = NULL;
	X509 *cert = NULL;
	char ehlo[300], host[256];

	s->addr = addr;
	if ((cv->fd = check_connect(addr, &e)) == -1) {
		snprintf(cv->error, sizeof(cv->error), "%s", e.msg);
		s->error = cv->error;
		return;
	}
	if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "stsguard-check.invalid");
	host[sizeof(host) - 1] = '\0';
	snprintf(ehlo, sizeof(ehlo), "EHLO %s\r\n", host);
	if (check_read_reply(cv, &rep, &e) == -1) {
		snprintf(cv->error, sizeof(cv->error), "greeting: %s", e.msg);
		goto error;
	}
	if (rep.code != 220) {
		snprintf(cv->error, sizeof(cv->error), "greeting %d %s",
		    rep.code, rep.text);
		goto error;
	}
	if (check_send(cv, ehlo, &e) == -1 ||
	    check_read_reply(cv, &rep, &e) == -1) {
		snprintf(cv->error, sizeof(cv->error), "EHLO: %s", e.msg);
		goto error;
	}
	if (rep.code != 250) {
		snprintf(cv->error, sizeof(cv->error), "EHLO answered %d %s",
		    rep.code, rep.text);
		goto error;
	}
	if (!(s->starttls = rep.starttls))
		goto out;
	if (check_send(cv, "STARTTLS\r\n", &e) == -1 ||
	    check_read_reply(cv, &rep, &e) == -1) {
		snprintf(cv->tls_error, sizeof(cv->tls_error), "%s", e.msg);
		goto tls_error;
	}
	if (rep.code != 220) {
		snprintf(cv->tls_error, sizeof(cv->tls_error), "STARTTLS "
		    "answered %d %s", rep.code, rep.text);
		goto tls_error;
	}
	/* Handshake whatever the certificate; verification is judged
	 * after, so that the finding can say what is wrong with it. */
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    (o->ca_file != NULL ? SSL_CTX_load_verify_locations(ctx,
	    o->ca_file, NULL) : SSL_CTX_set_default_verify_paths(ctx)) != 1 ||
	    (cv->ssl = SSL_new(ctx)) == NULL) {
		snprintf(cv->tls_error, sizeof(cv->tls_error), "TLS set-up: "
		    "%s", ERR_error_string(ERR_get_error(), NULL));
		goto tls_error;
	}
	SSL_set_verify(cv->ssl, SSL_VERIFY_NONE, NULL);
	SSL_set_fd(cv->ssl, cv->fd);
	SSL_set_tlsext_host_name(cv->ssl, s->host);
	SSL_set1_host(cv->ssl, s->host);
	if (SSL_connect(cv->ssl) != 1) {
		unsigned long err = ERR_get_error();

		snprintf(cv->tls_error, sizeof(cv->tls_error), "handshake: %s",
		    err ? ERR_reason_error_string(err) ?
		    ERR_reason_error_string(err) : "error" :
		    "connection closed");
		SSL_free(cv->ssl);
		cv->ssl = NULL;
		goto tls_error;
	}
	s->tls_version = SSL_get_version(cv->ssl);
	if ((cert = SSL_get1_peer_certificate(cv->ssl)) == NULL) {
		s->verify = X509_V_ERR_UNSPECIFIED;
		s->verify_text = "no certificate";
	} else {
		struct tm tm;

		if ((s->verify = SSL_get_verify_result(cv->ssl)) != X509_V_OK) {
			snprintf(cv->verify_text, sizeof(cv->verify_text),
			    "%s", X509_verify_cert_error_string(s->verify));
			s->verify_text = cv->verify_text;
		}
		if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1)
			s->not_after = timegm(&tm);
		X509_free(cert);
	}
	(void)check_send(cv, "QUIT\r\n", &e);
	SSL_shutdown(cv->ssl);
	goto out;
tls_error:
	s->tls_error = cv->tls_error;
	goto out;
error:
	s->error = cv->error;
out:
	ERR_clear_error();
	SSL_CTX_free(ctx);
}

static void
check_probe_mx(const struct check_opts *o, struct dns_resolver *res,
    struct check_report *r, const char *host)
{
	struct check_smtp s = { 0 };
	struct check_conv *cv;
	struct strv addrs = { 0 };
	char tlsa[LIMIT_DNAME_LEN + 16];
	struct err e, et;
	const char *pick = NULL;

	s.host = host;
	s.now = time(NULL);
	s.addrs.rc = dns_addrs(res, host, &addrs, &e);
	s.addrs.err = e.msg;
	if ((cv = calloc(1, sizeof(*cv))) == NULL) {
		check_add(r, CHECK_FAIL, CHECK_A_SMTP, host, NULL,
		    "out of memory");
		strv_free(&addrs);
		return;
	}
	cv->fd = -1;
	if (s.addrs.rc == DNS_FOUND) {
		for (size_t i = 0; i < addrs.n && pick == NULL; i++)
			if (o->allow_private ||
			    !check_addr_private(addrs.v[i]))
				pick = addrs.v[i];
		if (pick == NULL)
			s.private_only = true;
		else
			check_dialogue(o, pick, cv, &s);
	}
	snprintf(tlsa, sizeof(tlsa), "_25._tcp.%s", host);
	s.tlsa.rc = dns_count(res, tlsa, DNS_TYPE_TLSA, &s.ntlsa, &et);
	s.tlsa.err = et.msg;
	check_smtp_probe(r, &s);
	SSL_free(cv->ssl);
	if (cv->fd != -1)
		close(cv->fd);
	free(cv);
	strv_free(&addrs);
}

/* --- the name servers ------------------------------------------------- */

/* Step 0: the NS records of the domain, or of the nearest parent that
 * has some (a domain may be a name inside its parent's zone), never of
 * the top-level domain; each server asked directly for the zone's SOA
 * at its first allowed address. */
static void
check_ns_run(const struct check_opts *o, struct dns_resolver *res,
    struct check_report *r)
{
	struct strv ns = { 0 }, addrs[LIMIT_CHECK_NS];
	struct check_ns *probes = NULL;
	struct check_dns q = { .rc = DNS_NONE };
	const char *zone = r->domain;
	struct err e, ea[LIMIT_CHECK_NS];
	size_t n = 0;

	memset(addrs, 0, sizeof(addrs));
	while (strchr(zone, '.') != NULL) {
		q.rc = dns_ns(res, zone, &ns, &e);
		q.err = e.msg;
		if (q.rc != DNS_NONE)
			break;
		zone = strchr(zone, '.') + 1;
	}
	if (q.rc == DNS_NONE) {
		check_delegation(r, NULL, q, NULL, 0);
		goto out;
	}
	if (q.rc == DNS_FOUND && (probes = calloc(LIMIT_CHECK_NS,
	    sizeof(*probes))) == NULL) {
		check_add(r, CHECK_FAIL, CHECK_A_NS, zone, NULL,
		    "out of memory");
		goto out;
	}
	for (size_t i = 0; q.rc == DNS_FOUND && i < ns.n &&
	    n < LIMIT_CHECK_NS; i++, n++) {
		struct check_ns *p = &probes[n];

		p->host = ns.v[i];
		p->addrs.rc = dns_addrs(res, ns.v[i], &addrs[n], &ea[n]);
		p->addrs.err = ea[n].msg;
		if (p->addrs.rc != DNS_FOUND)
			continue;
		for (size_t k = 0; k < addrs[n].n && p->addr == NULL; k++)
			if (o->allow_private ||
			    !check_addr_private(addrs[n].v[k]))
				p->addr = addrs[n].v[k];
		if (p->addr == NULL)
			p->private_only = true;
		else
			dns_probe_soa(p->addr, 0, zone, CHECK_NS_TIMEOUT_MS,
			    &p->p);
	}
	check_delegation(r, zone, q, probes, n);
out:
	for (size_t i = 0; i < LIMIT_CHECK_NS; i++)
		strv_free(&addrs[i]);
	strv_free(&ns);
	free(probes);
}

/* --- one domain, many domains ----------------------------------------- */

void
check_domain(const struct check_opts *o, struct dns_resolver *res,
    const char *domain, const struct check_hosted_info *hosted,
    struct check_report *r)
{
	char name[LIMIT_DNAME_LEN + 16];
	struct strv txt = { 0 }, chain = { 0 }, addrs = { 0 }, mchain = { 0 };
	struct check_sec_keep sec = { 0 };
	struct dns_mx *mx;
	struct check_dns q = { 0 };
	struct err e;
	size_t nmx = 0, ok;

	check_report_init(r, domain);

	/* 0. the name servers */
	check_ns_run(o, res, r);

	/* 1. _mta-sts TXT */
	snprintf(name, sizeof(name), "_mta-sts.%s", domain);
	check_cnames(res, name, &chain);
	q.rc = dns_txt(res, name, &txt, &e);
	q.err = e.msg;
	check_sec_note(&sec, res, name, "TXT", q.rc);
	check_sts_txt(r, q, &txt, &chain);
	strv_free(&txt);

	/* 2. mta-sts.D and the policy */
	snprintf(name, sizeof(name), "mta-sts.%s", domain);
	check_cnames(res, name, &mchain);
	q.rc = dns_addrs(res, name, &addrs, &e);
	q.err = e.msg;
	ok = check_policy_host(r, q, &addrs, &mchain, o->allow_private);
	if (ok > 0)
		check_fetch_policy(o, r, &addrs);
	strv_free(&addrs);

	/* 3. MX records against the policy; 4. each MX on port 25 */
	if ((mx = calloc(LIMIT_CHECK_MX, sizeof(*mx))) == NULL) {
		check_add(r, CHECK_FAIL, CHECK_A_MX, domain, NULL,
		    "out of memory");
	} else {
		q.rc = dns_mx(res, domain, mx, LIMIT_CHECK_MX, &nmx, &e);
		q.err = e.msg;
		check_sec_note(&sec, res, domain, "MX", q.rc);
		check_mx_cover(r, q, mx, nmx);
		if (q.rc == DNS_FOUND)
			check_mx_templates(r, o->templates, mx, nmx);
		for (size_t i = 0; q.rc == DNS_FOUND && i < nmx; i++)
			if (mx[i].host[0] != '\0')
				check_probe_mx(o, res, r, mx[i].host);
		free(mx);
	}

	/* 5. _smtp._tls */
	snprintf(name, sizeof(name), "_smtp._tls.%s", domain);
	q.rc = dns_txt(res, name, &txt, &e);
	q.err = e.msg;
	check_sec_note(&sec, res, name, "TXT", q.rc);
	check_tlsrpt(r, q, &txt, hosted && hosted->hosted ?
	    hosted->own_prefix : NULL);
	strv_free(&txt);

	/* 6. DNSSEC of what a sender reads */
	check_dnssec(r, sec.a, sec.n);

	if (hosted != NULL && hosted->hosted)
		check_hosted(r, hosted->policy_id, hosted->service_host,
		    &mchain);
	strv_free(&chain);
	strv_free(&mchain);
}

struct check_pool {
	const struct check_opts *o;
	const char *const *domains;
	const struct check_hosted_info *const *hosted;
	struct check_report *reports;
	size_t	 n, next, done;
	pthread_mutex_t mu;
	void	(*progress)(size_t, size_t);
};

struct check_worker {
	struct check_pool *pool;
	struct dns_resolver *res;
	pthread_t tid;
};

static void *
check_worker_main(void *arg)
{
	struct check_worker *w = arg;
	struct check_pool *p = w->pool;

	for (;;) {
		size_t i;

		pthread_mutex_lock(&p->mu);
		i = p->next < p->n ? p->next++ : p->n;
		pthread_mutex_unlock(&p->mu);
		if (i == p->n)
			break;
		check_domain(p->o, w->res, p->domains[i],
		    p->hosted ? p->hosted[i] : NULL, &p->reports[i]);
		pthread_mutex_lock(&p->mu);
		p->done++;
		if (p->progress != NULL)
			p->progress(p->done, p->n);
		pthread_mutex_unlock(&p->mu);
	}
	return NULL;
}

int
check_many(const struct check_opts *o, const char *const *domains,
    const struct check_hosted_info *const *hosted, size_t n,
    size_t parallel, struct check_report *reports,
    void (*progress)(size_t done, size_t total), struct err *e)
{
	struct check_pool pool = { o, domains, hosted, reports, n, 0, 0,
	    PTHREAD_MUTEX_INITIALIZER, progress };
	struct check_worker *w;
	size_t nw = parallel < n ? parallel : n, started = 0;
	int rc = 0;

	if (nw == 0)
		return 0;
	if ((w = calloc(nw, sizeof(*w))) == NULL)
		return err_set(e, "out of memory");
	for (size_t i = 0; i < nw; i++) {
		w[i].pool = &pool;
		if (dns_resolver_new(&o->dns, &w[i].res, e) == -1) {
			rc = -1;
			goto out;
		}
	}
	for (; started < nw; started++)
		if (pthread_create(&w[started].tid, NULL, check_worker_main,
		    &w[started]) != 0)
			break;
	if (started == 0) {
		rc = err_set(e, "cannot start a thread");
		goto out;
	}
	for (size_t i = 0; i < started; i++)
		pthread_join(w[i].tid, NULL);
out:
	for (size_t i = 0; i < nw; i++)
		dns_resolver_free(w[i].res);
	free(w);
	return rc;
}
