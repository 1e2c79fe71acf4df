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
 * one connection at a time, each bounded by a 5-second timeout. It does
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

#include "cli.h"
#include "acme/acme.h"

#define CLI_ACME_IO_SECONDS 5
#define CLI_ACME_REQ_BYTES 4096
#define CLI_ACME_PREFIX "/.well-known/acme-challenge/"

struct cli_acme_srv {
	enum acme_challenge type;
	int	 lfd;
	int	 wake[2];	/* written to stop the thread */
	SSL_CTX	*ctx;
	pthread_t thr;
};

/* Listens on "ADDR:PORT", ":PORT" or "[V6ADDR]:PORT". Returns the socket
 * or -1 after printing why. */
static int
cli_acme_listen(const char *spec)
{
	struct addrinfo hints, *res = NULL;
	char host[256] = "";
	const char *colon = strrchr(spec, ':'), *h = spec;
	size_t hl;
	int fd = -1, one = 1, r;

	if (colon == NULL || colon[1] == '\0') {
		cli_fail(CLI_USAGE, "%s: expected ADDR:PORT", spec);
		return -1;
	}
	hl = (size_t)(colon - spec);
	if (hl >= 2 && spec[0] == '[' && spec[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl >= sizeof(host)) {
		cli_fail(CLI_USAGE, "%s: address too long", spec);
		return -1;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	if ((r = getaddrinfo(hl ? host : NULL, colon + 1, &hints, &res)) !=
	    0) {
		cli_fail(CLI_USAGE, "%s: %s", spec, gai_strerror(r));
		return -1;
	}
	if ((fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC,
	    0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ==
	    -1 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) == -1 ||
	    listen(fd, 16) == -1) {
		cli_fail(CLI_USAGE, "listen on %s: %s", spec, strerror(errno));
		if (fd != -1)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* HTTP-01: reads one request head and answers it. */
static void
cli_acme_http(int fd)
{
	char req[CLI_ACME_REQ_BYTES + 1], body[ACME_HTTP01_BUF], out[1024];
	const char *tok, *end;
	size_t len = 0;
	int n;

	while (len < CLI_ACME_REQ_BYTES) {
		ssize_t r = recv(fd, req + len, CLI_ACME_REQ_BYTES - len, 0);

		if (r <= 0)
			return;
		len += (size_t)r;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n") != NULL)
			break;
	}
	req[len] = '\0';
	if (strncmp(req, "GET " CLI_ACME_PREFIX,
	    4 + strlen(CLI_ACME_PREFIX)) == 0) {
		tok = req + 4 + strlen(CLI_ACME_PREFIX);
		if ((end = strchr(tok, ' ')) != NULL &&
		    (size_t)(end - tok) < 256) {
			char t[256];

			memcpy(t, tok, (size_t)(end - tok));
			t[end - tok] = '\0';
			if (acme_http01_lookup(t, body, sizeof(body)) == 0) {
				n = snprintf(out, sizeof(out),
				    "HTTP/1.1 200 OK\r\n"
				    "Content-Type: application/octet-stream\r\n"
				    "Content-Length: %zu\r\n"
				    "Connection: close\r\n\r\n%s",
				    strlen(body), body);
				(void)send(fd, out, (size_t)n, MSG_NOSIGNAL);
				return;
			}
		}
	}
	n = snprintf(out, sizeof(out), "HTTP/1.1 404 Not Found\r\n"
	    "Content-Length: 0\r\nConnection: close\r\n\r\n");
	(void)send(fd, out, (size_t)n, MSG_NOSIGNAL);
}

/* True when the ALPN extension (RFC 7301 §3.1) lists "acme-tls/1". */
static bool
cli_acme_alpn_offered(const unsigned char *p, size_t len)
{
	size_t n;

	if (len < 2 || (size_t)((p[0] << 8) | p[1]) != len - 2)
		return false;
	for (p += 2, len -= 2; len > 0; p += n, len -= n) {
		n = *p++;
		len--;
		if (n > len)
			return false;
		if (n == 10 && memcmp(p, "acme-tls/1", 10) == 0)
			return true;
	}
	return false;
}

/* The host_name of the SNI extension (RFC 6066 §3) into out. */
static bool
cli_acme_sni(const unsigned char *p, size_t len, char *out, size_t outlen)
{
	size_t n;

	if (len < 5 || (size_t)((p[0] << 8) | p[1]) != len - 2 || p[2] != 0)
		return false;
	n = (size_t)((p[3] << 8) | p[4]);
	if (n + 5 > len || n == 0 || n >= outlen)
		return false;
	memcpy(out, p + 5, n);
	out[n] = '\0';
	return true;
}

/* Picks the challenge certificate before the handshake goes on: only a
 * ClientHello offering acme-tls/1 with an SNI name we have a challenge
 * for gets anything. */
static int
cli_acme_hello(SSL *ssl, int *alert, void *arg)
{
	const unsigned char *p;
	size_t len;
	char name[256];
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	int ok;

	*alert = SSL_AD_NO_APPLICATION_PROTOCOL;
	if (!SSL_client_hello_get0_ext(ssl,
	    TLSEXT_TYPE_application_layer_protocol_negotiation, &p, &len) ||
	    !cli_acme_alpn_offered(p, len))
		return SSL_CLIENT_HELLO_ERROR;
	*alert = SSL_AD_UNRECOGNIZED_NAME;
	if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p,
	    &len) || !cli_acme_sni(p, len, name, sizeof(name)) ||
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
	static const unsigned char want[] = "\x0a" "acme-tls/1";
	unsigned char *sel;

	if (SSL_select_next_proto(&sel, outlen, want, sizeof(want) - 1, in,
	    inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = sel;
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
	const char *listen_on;
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
	if ((s.lfd = cli_acme_listen(listen_on)) == -1) {
		rc = CLI_USAGE;
		goto out;
	}
	if (pipe2(s.wake, O_CLOEXEC) == -1 ||
	    pthread_create(&s.thr, NULL, cli_acme_serve, &s) != 0) {
		rc = cli_fail(CLI_USAGE, "cannot start the responder: %s",
		    strerror(errno));
		goto out;
	}
	running = true;
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
	return rc;
}

const struct cli_cmd cli_acme_cmds[] = {
	{ "acme obtain", "NAME", "obtain a certificate for NAME now (ACME; "
	    "not while serve runs)", NULL, true, cli_acme_obtain, 1, 1 },
	{ NULL, NULL, NULL, NULL, false, NULL, 0, 0 },
};
