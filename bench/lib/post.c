/*
 * post.c - the HTTPS client of bench/intake: POSTs every FILE exactly
 * once to https://SNI:PORT/PATH at ADDR, over CONNS keep-alive TLS
 * connections, and prints
 *
 *	answers: 201 x N, 200 x M, ...  seconds=S connections=C
 *
 * S is the wall time from the first connect to the last answer. Each
 * connection is one thread doing blocking request-answer turns over its
 * share of the files (file i goes to connection i mod CONNS), with the
 * server's certificate verified against CAFILE for SNI. Files are read
 * and every TLS context set up before the clock starts. A client as
 * cheap as it can be, so that on the 2 shared cores of the bench the
 * daemon, not the client, is measured (curl --parallel spent about as
 * much CPU per report as the daemon). Exits 1 when a connection fails:
 * its unanswered reports are counted as status 0.
 *
 *	post ADDR PORT SNI CAFILE PATH CONNS FILE...
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define MAXSTATUS 600

struct blob {
	char	*buf;
	size_t	 len;
};

struct conn {
	pthread_t thr;
	int	 k;
	unsigned long counts[MAXSTATUS];	/* by status; 0: no answer */
	int	 failed;
};

static struct sockaddr_in addr;
static const char *sni, *path;
static SSL_CTX *ctx;
static struct blob *files;
static int nfiles, nconns;
static pthread_barrier_t go;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
readfile(const char *name, struct blob *b)
{
	FILE *f = fopen(name, "rb");
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || (b->buf = malloc((size_t)n)) == NULL ||
	    fread(b->buf, 1, (size_t)n, f) != (size_t)n) {
		perror(name);
		return -1;
	}
	b->len = (size_t)n;
	fclose(f);
	return 0;
}

/* Reads one answer: its status, the head through CRLFCRLF and a
 * Content-Length body. Returns the status or -1. */
static int
answer(SSL *ssl, char *buf, size_t cap)
{
	size_t have = 0, head = 0, body = 0;
	int status = -1, n;
	char *e, *cl;

	for (;;) {
		if (head == 0 && (e = memmem(buf, have, "\r\n\r\n", 4)) != NULL) {
			head = (size_t)(e - buf) + 4;
			buf[head - 1] = '\0';
			if (sscanf(buf, "HTTP/1.1 %d", &status) != 1)
				return -1;
			if ((cl = strcasestr(buf, "\r\ncontent-length:")) != NULL)
				body = strtoul(cl + 17, NULL, 10);
		}
		if (head != 0 && have >= head + body)
			return status;
		if (have == cap)
			return -1;
		if ((n = SSL_read(ssl, buf + have, (int)(cap - have))) <= 0)
			return -1;
		have += (size_t)n;
	}
}

static void *
run(void *arg)
{
	struct conn *c = arg;
	char head[512], buf[4096];
	SSL *ssl = NULL;
	int fd, one = 1, i = c->k, status;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		goto fail;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	pthread_barrier_wait(&go);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == -1 ||
	    (ssl = SSL_new(ctx)) == NULL || !SSL_set_fd(ssl, fd) ||
	    !SSL_set_tlsext_host_name(ssl, sni) || !SSL_set1_host(ssl, sni) ||
	    SSL_connect(ssl) != 1)
		goto fail;
	for (; i < nfiles; i += nconns) {
		int n = snprintf(head, sizeof(head), "POST %s HTTP/1.1\r\n"
		    "Host: %s\r\nContent-Type: application/tlsrpt+gzip\r\n"
		    "Content-Length: %zu\r\n\r\n", path, sni, files[i].len);

		if (SSL_write(ssl, head, n) != n ||
		    SSL_write(ssl, files[i].buf, (int)files[i].len) !=
		    (int)files[i].len ||
		    (status = answer(ssl, buf, sizeof(buf))) < 0 ||
		    status >= MAXSTATUS)
			goto fail;
		c->counts[status]++;
	}
	SSL_shutdown(ssl);
	SSL_free(ssl);
	close(fd);
	return NULL;
fail:
	ERR_print_errors_fp(stderr);
	fprintf(stderr, "post: connection %d failed\n", c->k);
	c->failed = 1;
	for (; i < nfiles; i += nconns)
		c->counts[0]++;
	SSL_free(ssl);
	if (fd != -1)
		close(fd);
	return NULL;
}

/* A whole decimal number in [min, max] (atoi takes "12x" and "" too);
 * 0 and *out, or -1. */
static int
number(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
main(int argc, char **argv)
{
	unsigned long total[MAXSTATUS] = { 0 };
	struct conn *conns;
	const char *sep = "";
	double t0;
	long port, n;
	int rc = 0;

	if (argc < 8) {
		fprintf(stderr, "usage: post ADDR PORT SNI CAFILE PATH CONNS "
		    "FILE...\n");
		return 2;
	}
	if (number(argv[2], 1, 65535, &port) == -1 ||
	    number(argv[6], 1, 100000, &n) == -1) {
		fprintf(stderr, "post: PORT (1-65535) and CONNS (1-100000) "
		    "are whole numbers\n");
		return 2;
	}
	addr.sin_family = AF_INET;
	addr.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1)
		return 2;
	sni = argv[3];
	path = argv[5];
	nconns = (int)n;
	nfiles = argc - 7;
	if ((files = calloc((size_t)nfiles, sizeof(*files))) == NULL ||
	    (conns = calloc((size_t)nconns, sizeof(*conns))) == NULL)
		return 2;
	for (int i = 0; i < nfiles; i++)
		if (readfile(argv[7 + i], &files[i]) == -1)
			return 2;
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    !SSL_CTX_load_verify_locations(ctx, argv[4], NULL)) {
		ERR_print_errors_fp(stderr);
		return 2;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	pthread_barrier_init(&go, NULL, (unsigned)nconns + 1);
	for (int k = 0; k < nconns; k++) {
		conns[k].k = k;
		if (pthread_create(&conns[k].thr, NULL, run, &conns[k]) != 0)
			return 2;
	}
	t0 = now();
	pthread_barrier_wait(&go);
	for (int k = 0; k < nconns; k++) {
		pthread_join(conns[k].thr, NULL);
		rc |= conns[k].failed;
		for (int s = 0; s < MAXSTATUS; s++)
			total[s] += conns[k].counts[s];
	}
	printf("answers: ");
	for (int s = MAXSTATUS - 1; s >= 0; s--)
		if (total[s] != 0) {
			printf("%s%lu x %d", sep, total[s], s);
			sep = ", ";
		}
	printf("  seconds=%.4f connections=%d\n", now() - t0, nconns);
	return rc;
}
