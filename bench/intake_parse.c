/*
 * intake_parse.c - the limit for report intake: how many TLS-RPT reports
 * per second one thread turns from bytes into a struct, with no I/O.
 *
 * Reads every FILE named on the command line into memory first, then
 * calls tlsrpt_parse() (gunzip when the bytes are gzip, JSON parse,
 * validation; what every intake route does before storing) on all of
 * them, round after round, until at least MIN_SECONDS have passed.
 * Prints one line:
 *
 *	parse reports=N rounds=R seconds=S reports_per_s=X bytes_per_report=B
 *
 * and exits 1 when any file does not parse (the bench's report set must
 * be valid). Never writes anything else. Built by bench/intake against
 * build/libstsguard.a with the Makefile's flags.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tlsrpt/tlsrpt.h"

#define MIN_SECONDS 2.0

struct blob {
	uint8_t	*buf;
	size_t	 len;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads path into b (caller frees b->buf). Returns 0 or -1 (message
 * printed). */
static int
read_file(const char *path, struct blob *b)
{
	FILE *f;
	long n;
	int rc = -1;

	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fprintf(stderr, "%s: cannot size\n", path);
		goto out;
	}
	if ((b->buf = malloc(n > 0 ? (size_t)n : 1)) == NULL) {
		fprintf(stderr, "out of memory\n");
		goto out;
	}
	b->len = (size_t)n;
	if (fread(b->buf, 1, b->len, f) != b->len) {
		fprintf(stderr, "%s: short read\n", path);
		goto out;
	}
	rc = 0;
out:
	fclose(f);
	return rc;
}

int
main(int argc, char **argv)
{
	struct blob *files;
	struct tlsrpt_report *r;
	struct err e;
	size_t n = (size_t)(argc - 1), i, total = 0, bytes = 0;
	unsigned rounds = 0;
	double t0, dt;
	int rc = 1;

	if (argc < 2) {
		fprintf(stderr, "usage: intake_parse FILE...\n");
		return 2;
	}
	if ((files = calloc(n, sizeof *files)) == NULL)
		return 2;
	for (i = 0; i < n; i++) {
		if (read_file(argv[i + 1], &files[i]) != 0)
			goto out;
		bytes += files[i].len;
	}
	t0 = now();
	do {
		for (i = 0; i < n; i++) {
			if (tlsrpt_parse(files[i].buf, files[i].len, &r, &e)
			    != 0) {
				fprintf(stderr, "%s: %s\n", argv[i + 1], e.msg);
				goto out;
			}
			tlsrpt_report_free(r);
		}
		total += n;
		rounds++;
	} while ((dt = now() - t0) < MIN_SECONDS);
	printf("parse reports=%zu rounds=%u seconds=%.3f reports_per_s=%.0f "
	    "bytes_per_report=%zu\n", n, rounds, dt, (double)total / dt,
	    bytes / n);
	rc = 0;
out:
	for (i = 0; i < n; i++)
		free(files[i].buf);
	free(files);
	return rc;
}
