/*
 * smtp_driver.c - a test-only program that runs the SMTP listener the way
 * `stsguard serve` will, so that tests/t_smtp_swaks.sh can talk to it
 * with swaks. It STANDS IN FOR THE DAEMON UNTIL INTEGRATION: the daemon
 * will call smtp_server_start() in each worker's event loop with hooks
 * backed by the store; here the hooks save files instead.
 *
 * Not built by the Makefile: the test script compiles it against
 * libstsguard.a.
 *
 *   smtp_driver -d DIR -p PORTFILE [-c CERT -k KEY] [-H HOST] [-s MAXSIZE]
 *               [-t CMD_TIMEOUT] [-T DATA_TIMEOUT] [-n MAX_PER_CLIENT]
 *
 * Binds 127.0.0.1 on a port the kernel picks and writes it to PORTFILE.
 * RCPT accepts tlsrpt+<token>@HOST for tokens starting with "tok" and the
 * token "tempfail" (whose messages then fail with 451). DATA: the report
 * is extracted with mime_report_extract(); DIR/msg-N.eml and
 * DIR/report-N-I.bin are written for a message with reports (250, or 250
 * "duplicate" when the same report bytes came before), DIR/quarantine-N.eml
 * for one without (554 with the reason). SIGTERM stops it.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "mime/mime.h"
#include "smtp/smtp.h"

struct driver {
	const char *dir;
	const char *host;
	int	    n;		/* messages so far */
	uint8_t	  **seen;	/* report bytes stored so far */
	size_t	   *seenlen;
	size_t	    nseen;
};

static int
write_file(const char *dir, const char *name, const uint8_t *buf,
    size_t len)
{
	char path[4096];
	FILE *f;
	int rc = -1;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL)
		return -1;
	if (fwrite(buf, 1, len, f) == len)
		rc = 0;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

static enum smtp_rcpt_result
drv_rcpt(void *arg, const struct smtp_envelope *env, const char *addr)
{
	struct driver *d = arg;
	char token[33];

	if (!smtp_report_address(addr, d->host, token, sizeof(token)))
		return SMTP_RCPT_REFUSE;
	if (strncmp(token, "tok", 3) == 0 || strcmp(token, "tempfail") == 0)
		return SMTP_RCPT_ACCEPT;
	return SMTP_RCPT_REFUSE;	/* unknown token */
}

static enum smtp_deliver_result
drv_deliver(void *arg, const struct smtp_envelope *env, const uint8_t *msg,
    size_t len, char *reason)
{
	struct driver *d = arg;
	struct mime_message *m = NULL;
	struct err e = { "" };
	enum smtp_deliver_result res = SMTP_DELIVER_STORED;
	char name[64];
	int n = ++d->n;

	for (size_t i = 0; i < env->nrcpt; i++)
		if (strncasecmp(env->rcpt[i], "tlsrpt+tempfail", 15) == 0) {
			snprintf(reason, SMTP_REASON_LEN, "store busy (test)");
			return SMTP_DELIVER_TEMPFAIL;
		}
	if (mime_report_extract(msg, len, &m, &e) == -1) {
		snprintf(name, sizeof(name), "quarantine-%d.eml", n);
		if (write_file(d->dir, name, msg, len) == -1)
			return SMTP_DELIVER_TEMPFAIL;
		snprintf(reason, SMTP_REASON_LEN, "%.*s", SMTP_REASON_LEN - 1,
		    e.msg);
		return SMTP_DELIVER_NO_REPORT;
	}
	snprintf(name, sizeof(name), "msg-%d.eml", n);
	if (write_file(d->dir, name, msg, len) == -1) {
		res = SMTP_DELIVER_TEMPFAIL;
		goto out;
	}
	for (size_t i = 0; i < m->nreports; i++) {
		const struct mime_report *r = &m->reports[i];
		bool dup = false;

		for (size_t j = 0; j < d->nseen; j++)
			if (d->seenlen[j] == r->len &&
			    memcmp(d->seen[j], r->data, r->len) == 0)
				dup = true;
		if (dup) {
			res = SMTP_DELIVER_DUPLICATE;
			continue;
		}
		snprintf(name, sizeof(name), "report-%d-%zu.bin", n, i);
		if (write_file(d->dir, name, r->data, r->len) == -1) {
			res = SMTP_DELIVER_TEMPFAIL;
			goto out;
		}
		d->seen = realloc(d->seen, (d->nseen + 1) * sizeof(*d->seen));
		d->seenlen = realloc(d->seenlen, (d->nseen + 1) *
		    sizeof(*d->seenlen));
		if (d->seen == NULL || d->seenlen == NULL)
			abort();
		if ((d->seen[d->nseen] = malloc(r->len)) == NULL)
			abort();
		memcpy(d->seen[d->nseen], r->data, r->len);
		d->seenlen[d->nseen++] = r->len;
		res = SMTP_DELIVER_STORED;
	}
	fprintf(stderr, "driver: message %d from <%s> tls=%d: %zu report(s), "
	    "from domain %s, dkim %d\n", n, env->mail_from, env->tls,
	    m->nreports, m->from_domain ? m->from_domain : "-",
	    m->dkim_present);
out:
	mime_message_free(m);
	return res;
}

static void
drv_log(void *arg, const char *client, const char *line)
{
	fprintf(stderr, "smtp %s: %s\n", client, line);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopbreak(arg);
}

int
main(int argc, char **argv)
{
	struct driver d = { .host = "stshost.test" };
	struct smtp_hooks hooks = { .arg = &d, .rcpt = drv_rcpt,
	    .deliver = drv_deliver, .log = drv_log };
	struct smtp_server_config cfg = { 0 };
	const char *portfile = NULL, *cert = NULL, *key = NULL;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t slen = sizeof(sin);
	struct event_base *base = NULL;
	struct event *sigterm = NULL, *sigint = NULL;
	struct smtp_server *srv = NULL;
	SSL_CTX *ctx = NULL;
	struct err e = { "" };
	FILE *pf;
	int fd = -1, one = 1, c, rc = 1;

	while ((c = getopt(argc, argv, "d:p:c:k:H:s:t:T:n:")) != -1) {
		switch (c) {
		case 'd': d.dir = optarg; break;
		case 'p': portfile = optarg; break;
		case 'c': cert = optarg; break;
		case 'k': key = optarg; break;
		case 'H': d.host = optarg; break;
		case 's': cfg.session.max_message = strtoul(optarg, NULL, 10);
			break;
		case 't': cfg.cmd_timeout = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'T': cfg.data_timeout = (unsigned)strtoul(optarg, NULL,
			    10);
			break;
		case 'n': cfg.max_conn_per_client = (unsigned)strtoul(optarg,
			    NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: see the comment at the top\n");
			return 2;
		}
	}
	if (d.dir == NULL || portfile == NULL)
		return 2;
	cfg.session.hostname = d.host;
	signal(SIGPIPE, SIG_IGN);
	mime_init();
	if (cert != NULL) {
		ctx = SSL_CTX_new(TLS_server_method());
		if (ctx == NULL ||
		    SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
		    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) !=
		    1) {
			fprintf(stderr, "driver: cannot load %s / %s\n", cert,
			    key);
			goto out;
		}
	}
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 64) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &slen) == -1) {
		perror("driver: socket");
		goto out;
	}
	base = event_base_new();
	if (base == NULL ||
	    (srv = smtp_server_start(base, fd, ctx, &hooks, &cfg, &e)) ==
	    NULL) {
		fprintf(stderr, "driver: %s\n", e.msg);
		goto out;
	}
	sigterm = evsignal_new(base, SIGTERM, on_signal, base);
	sigint = evsignal_new(base, SIGINT, on_signal, base);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	if ((pf = fopen(portfile, "w")) == NULL)
		goto out;
	fprintf(pf, "%u\n", ntohs(sin.sin_port));
	fclose(pf);
	fprintf(stderr, "driver: listening on 127.0.0.1:%u\n",
	    ntohs(sin.sin_port));
	event_base_dispatch(base);
	rc = 0;
out:
	smtp_server_stop(srv);
	if (sigterm != NULL)
		event_free(sigterm);
	if (sigint != NULL)
		event_free(sigint);
	if (base != NULL)
		event_base_free(base);
	if (fd != -1)
		close(fd);
	SSL_CTX_free(ctx);
	for (size_t i = 0; i < d.nseen; i++)
		free(d.seen[i]);
	free(d.seen);
	free(d.seenlen);
	return rc;
}
