/*
 * cli_acme.c - `stsguard acme obtain NAME`: one ACME order, by hand.
 *
 * For operators (a first certificate before `serve` runs, a forced
 * renewal) and for tests with Pebble. It uses the settings acme_directory,
 * acme_ca_bundle, acme_email, acme_challenge and data_dir, and writes
 * <data_dir>/certs/NAME.pem and NAME.key like the daemon's manager does.
 * `stsguard serve` must not be running on the same listener: while the
 * order is in progress this command answers the CA itself,
 *
 *	http-01      on http_listen:   GET /.well-known/acme-challenge/TOKEN
 *	                               -> 200, the key authorization
 *	tls-alpn-01  on https_listen:  ClientHello with ALPN "acme-tls/1"
 *	                               -> the acmeIdentifier certificate for
 *	                                  the SNI name, ALPN acme-tls/1
 *
 * one connection at a time, each bounded by a 5-second timeout. With
 * store_key_file (a cluster) the certificate, its sealed key and the
 * challenge go to the store too, as the daemon's manager does. It does
 * not check first that NAME points here (the operator asked for it).
 * Never serves anything but challenges.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <sodium.h>

#include "cli.h"
#include "acme/acme.h"
#include "cluster/cluster.h"
#include "http/http.h"
#include "lib/net.h"
#include "tls/tls.h"

#define CLI_ACME_IO_SECONDS 5
#define CLI_ACME_PREFIX "/.well-known/acme-challenge/"

struct cli_acme_srv {
	enum acme_challenge type;
	int	 lfd;
	int	 wake[2];	/* written to stop the thread */
	SSL_CTX	*ctx;
	pthread_t thr;
};

/* HTTP-01: reads one request head (the HTTP parser's) and answers it
 * (the HTTP response writer's): the key authorization of a pending
 * challenge, else 404. */
static void
cli_acme_http(int fd)
{
	char req[LIMIT_HTTP_HEADER_BYTES], body[ACME_HTTP01_BUF], out[1024];
	char token[256];
	struct http_request r;
	size_t len = 0, plen = strlen(CLI_ACME_PREFIX), n;
	int status = 404;
	enum http_parse p = HTTP_PARSE_MORE;

	while (len < sizeof(req) && p == HTTP_PARSE_MORE) {
		ssize_t k = recv(fd, req + len, sizeof(req) - len, 0);

		if (k <= 0)
			return;
		len += (size_t)k;
		p = http_parse_request(req, len, &r, &status);
	}
	if (p == HTTP_PARSE_DONE && (r.method == HTTP_GET ||
	    r.method == HTTP_HEAD) && r.path_len > plen &&
	    r.path_len - plen < sizeof(token) &&
	    memcmp(r.path, CLI_ACME_PREFIX, plen) == 0) {
		memcpy(token, r.path + plen, r.path_len - plen);
		token[r.path_len - plen] = '\0';
		if (acme_http01_lookup(token, body, sizeof(body)) == 0 &&
		    (n = http_response_head(out, sizeof(out), 200, NULL,
		    "application/octet-stream", strlen(body), NULL, true))
		    > 0) {
			(void)send(fd, out, n, MSG_NOSIGNAL | MSG_MORE);
			if (r.method == HTTP_GET)
				(void)send(fd, body, strlen(body),
				    MSG_NOSIGNAL);
			return;
		}
		status = 404;
	} else if (p == HTTP_PARSE_DONE) {
		status = 404;
	}
	if ((n = http_error_response(out, sizeof(out), status, NULL, NULL,
	    true, false)) > 0)
		(void)send(fd, out, n, MSG_NOSIGNAL);
}

/* Picks the challenge certificate before the handshake goes on: only a
 * ClientHello offering acme-tls/1 with an SNI name we have a challenge
 * for gets anything. */
static int
cli_acme_hello(SSL *ssl, int *alert, void *arg)
{
	const unsigned char *p;
	size_t len;
	char name[LIMIT_DNAME_LEN + 1];
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	int ok;

	/* The ClientHello readers the daemon uses (tls.h). */
	*alert = SSL_AD_NO_APPLICATION_PROTOCOL;
	if (!SSL_client_hello_get0_ext(ssl,
	    TLSEXT_TYPE_application_layer_protocol_negotiation, &p, &len) ||
	    !tls_alpn_offers(p, len, "acme-tls/1", 10))
		return SSL_CLIENT_HELLO_ERROR;
	*alert = SSL_AD_UNRECOGNIZED_NAME;
	if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p,
	    &len) || tls_sni_parse(p, len, name) != 1 ||
	    acme_alpn01_lookup(name, &cert, &key) == -1)
		return SSL_CLIENT_HELLO_ERROR;
	ok = SSL_use_certificate(ssl, cert) == 1 &&
	    SSL_use_PrivateKey(ssl, key) == 1;
	X509_free(cert);
	EVP_PKEY_free(key);
	*alert = SSL_AD_INTERNAL_ERROR;
	return ok ? SSL_CLIENT_HELLO_SUCCESS : SSL_CLIENT_HELLO_ERROR;
}

static int
cli_acme_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	const uint8_t *sel = tls_alpn_find(in, inlen, "acme-tls/1", 10);

	if (sel == NULL)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = sel;
	*outlen = 10;
	return SSL_TLSEXT_ERR_OK;
}

static void
cli_acme_tls(struct cli_acme_srv *s, int fd)
{
	SSL *ssl;

	if ((ssl = SSL_new(s->ctx)) == NULL)
		return;
	if (SSL_set_fd(ssl, fd) == 1 && SSL_accept(ssl) == 1)
		(void)SSL_shutdown(ssl);
	SSL_free(ssl);
}

static void *
cli_acme_serve(void *arg)
{
	struct cli_acme_srv *s = arg;
	struct timeval tv = { CLI_ACME_IO_SECONDS, 0 };

	for (;;) {
		struct pollfd p[2] = {
			{ s->lfd, POLLIN, 0 }, { s->wake[0], POLLIN, 0 },
		};
		int fd;

		if (poll(p, 2, -1) == -1 && errno != EINTR)
			break;
		if (p[1].revents != 0)
			break;
		if (!(p[0].revents & POLLIN) ||
		    (fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC)) == -1)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (s->type == ACME_HTTP_01)
			cli_acme_http(fd);
		else
			cli_acme_tls(s, fd);
		close(fd);
	}
	return NULL;
}

static int
cli_acme_obtain(struct cli *c)
{
	struct cli_acme_srv s = { .lfd = -1, .wake = { -1, -1 } };
	struct acme_config cfg;
	char name[LIMIT_DNAME_LEN + 1];
	const char *ch = conf_get(&c->conf, CONF_ACME_CHALLENGE);
	const char *listen_on, *kf;
	unsigned char key[SEAL_KEY_LEN];
	struct cluster *cl = NULL;
	bool running = false;
	struct err e;
	int rc;

	if ((rc = cli_domain_arg(c->args.v[0], name)) != 0)
		return rc;
	memset(&cfg, 0, sizeof(cfg));
	cfg.directory_url = conf_get(&c->conf, CONF_ACME_DIRECTORY);
	cfg.email = conf_get(&c->conf, CONF_ACME_EMAIL);
	cfg.ca_bundle = conf_get(&c->conf, CONF_ACME_CA_BUNDLE);
	cfg.data_dir = conf_get(&c->conf, CONF_DATA_DIR);
	cfg.service_host = conf_get(&c->conf, CONF_SERVICE_HOST);
	cfg.skip_dns_check = true;
	if (ch != NULL && strcmp(ch, "http-01") == 0) {
		cfg.challenge = ACME_HTTP_01;
		listen_on = conf_get(&c->conf, CONF_HTTP_LISTEN);
	} else if (ch != NULL && strcmp(ch, "tls-alpn-01") == 0) {
		cfg.challenge = ACME_TLS_ALPN_01;
		listen_on = conf_get(&c->conf, CONF_HTTPS_LISTEN);
	} else {
		return cli_fail(CLI_USAGE, "acme_challenge: expected "
		    "tls-alpn-01 or http-01, not '%s'", ch ? ch : "");
	}
	if (cfg.directory_url == NULL || listen_on == NULL)
		return cli_fail(CLI_USAGE, "acme_directory and the listener "
		    "must be set");
	signal(SIGPIPE, SIG_IGN);
	s.type = cfg.challenge;
	if (cfg.challenge == ACME_TLS_ALPN_01) {
		if ((s.ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
		    !SSL_CTX_set_min_proto_version(s.ctx, TLS1_2_VERSION)) {
			rc = cli_fail(CLI_USAGE, "cannot set up TLS");
			goto out;
		}
		SSL_CTX_set_client_hello_cb(s.ctx, cli_acme_hello, NULL);
		SSL_CTX_set_alpn_select_cb(s.ctx, cli_acme_alpn, NULL);
	}
	if ((s.lfd = net_listen(listen_on, false, &e)) == -1) {
		rc = cli_fail(CLI_USAGE, "listen on %s", e.msg);
		goto out;
	}
	if (pipe2(s.wake, O_CLOEXEC) == -1 ||
	    pthread_create(&s.thr, NULL, cli_acme_serve, &s) != 0) {
		rc = cli_fail(CLI_USAGE, "cannot start the responder: %s",
		    strerror(errno));
		goto out;
	}
	running = true;
	/* In a cluster the certificate goes to the store too, and the nodes
	 * serve it (and answer the challenge) like one they ordered. */
	kf = conf_get(&c->conf, CONF_STORE_KEY_FILE);
	if (kf != NULL && *kf != '\0') {
		if (seal_key_load(kf, key, &e) == -1 ||
		    cluster_open(conf_get(&c->conf, CONF_STORE), cfg.data_dir,
		    key, &cl, &e) == -1) {
			rc = cli_fail(CLI_USAGE, "store_key_file: %s", e.msg);
			goto out;
		}
		cfg.shared = cluster_acme(cl);
	}
	if (acme_obtain(&cfg, name, &e) == -1) {
		rc = cli_fail(CLI_INVALID, "%s", e.msg);
		goto out;
	}
	printf("%s/certs/%s.pem\n", cfg.data_dir, name);
	rc = CLI_OK;
out:
	if (running) {
		(void)write(s.wake[1], "x", 1);
		pthread_join(s.thr, NULL);
	}
	if (s.wake[0] != -1) {
		close(s.wake[0]);
		close(s.wake[1]);
	}
	if (s.lfd != -1)
		close(s.lfd);
	SSL_CTX_free(s.ctx);
	cluster_close(cl);
	sodium_memzero(key, sizeof(key));
	return rc;
}

const struct cli_cmd cli_acme_cmds[] = {
	{ "acme obtain", "NAME", "obtain a certificate for NAME now (ACME; "
	    "not while serve runs)", NULL, true, cli_acme_obtain, 1, 1 },
	{ NULL, NULL, NULL, NULL, false, NULL, 0, 0 },
};
