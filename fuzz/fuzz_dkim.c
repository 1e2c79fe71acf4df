/*
 * fuzz_dkim.c - fuzz target for a report mail's way through intake with
 * its DKIM check: intake_examine (the message taken apart, its
 * TLS-Report-* headers read) then intake_dkim_message (libopendkim on
 * any bytes, our alignment and reasons). Keys come from a table, not the
 * DNS: selector "sel" has the test key of tests/data/dkim/ (read once,
 * from the repository's top, where make test and fuzz/run.sh run), "fail"
 * a lookup that fails, any other none; so the seeds, signed with that
 * key, reach a verified signature, and mutations every way of failing.
 *
 * Checked: a verdict is verified with no reason, or not verified with a
 * reason; reason and domain are NUL-terminated within their arrays; a
 * verified signature's domain is not empty; the parts' header fields are
 * lower case.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intake/intake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_key[1024];

static int
fuzz_lookup(void *arg, const char *name, char *buf, size_t cap)
{
	(void)arg;
	if (strncmp(name, "fail.", 5) == 0)
		return -1;
	if (strncmp(name, "sel.", 4) != 0 || fuzz_key[0] == '\0')
		return 1;
	snprintf(buf, cap, "v=DKIM1; k=rsa; p=%s", fuzz_key);
	return 0;
}

static void
fuzz_key_load(void)
{
	FILE *f = fopen("tests/data/dkim/reporter.pub.b64", "r");
	size_t n;

	if (f == NULL)
		return;			/* no key: every signature fails */
	n = fread(fuzz_key, 1, sizeof(fuzz_key) - 1, f);
	fclose(f);
	while (n > 0 && isspace((unsigned char)fuzz_key[n - 1]))
		n--;
	fuzz_key[n] = '\0';
}

static void
fuzz_lower(const char *s, size_t cap)
{
	if (memchr(s, '\0', cap) == NULL)
		abort();
	for (; *s != '\0'; s++)
		if (isupper((unsigned char)*s))
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int loaded;
	struct intake_parts parts;
	struct intake_dkim d;

	if (!loaded) {
		fuzz_key_load();
		loaded = 1;
	}
	intake_examine(true, data, size, &parts);
	fuzz_lower(parts.report_domain, sizeof(parts.report_domain));
	fuzz_lower(parts.report_submitter, sizeof(parts.report_submitter));
	intake_dkim_message(&parts, data, size, fuzz_lookup, NULL, &d);
	if (memchr(d.reason, '\0', sizeof(d.reason)) == NULL ||
	    memchr(d.domain, '\0', sizeof(d.domain)) == NULL)
		abort();
	if (d.verified != (d.reason[0] == '\0'))
		abort();
	if (d.verified && d.domain[0] == '\0')
		abort();
	intake_parts_free(&parts);
	return 0;
}
