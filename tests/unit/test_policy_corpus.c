/*
 * test_policy_corpus.c - our MTA-STS parsers against the shared corpus of
 * real-world inputs (policies, _mta-sts TXT records, MX matching cases)
 * that other projects' test suites collected. See
 * ../shared/corpus/MANIFEST.md for where each input comes from.
 *
 * The corpus is read in place, from $CORPUS (default ../shared/corpus,
 * relative to the repository root where tests run); it is never copied
 * into this repository. When that folder is absent every case is
 * skipped (cmocka skip(): "[  SKIPPED ]", counted by tests/run.sh);
 * when it is there but a file or folder below is missing, the case
 * fails. CI refuses to run without it (.ci/run).
 *
 * Expected verdicts:
 *   mtasts/policies/valid|invalid/  the folder, except that a name with
 *       "-lenient" (a source accepts what RFC 8461 forbids) or "-strict"
 *       (a source refuses what RFC 8461 allows) flips it: we follow the
 *       RFC.
 *   mtasts/records/txt-cases.tsv    the `expected` column, and on success
 *       the id in the third column.
 *   mtasts/mx-match/cases.tsv       the `expected` column.
 * Rows where we deliberately differ are listed below with the reason.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "policy/policy.h"

/* Sources disagree on these TXT records; we follow RFC 8461 §3.1/§3.2. */
static const struct {
	const char *text;
	const char *why;
} record_exceptions[] = {
	/* Snawoot accepts repeated ';'. The ABNF has no empty field
	 * (sts-field-delim sts-field), and mox refuses "id=a;;" too. */
	{ "v=STSv1; id=20160831085700Z;;;",
	    "empty fields are not in the RFC 8461 §3.1 grammar" },
	/* checkdmarc refuses a repeated id. RFC 8461 says a repeated
	 * non-mx field takes its first value; it is syntactically valid. */
	{ "v=STSv1; id=foo; id=bar",
	    "a repeated field is valid; the first value counts" },
};

struct corpus_counts {
	size_t	checked;
	size_t	wrong;
	size_t	excepted;	/* rows found in an exception list */
};

static const char *
corpus_dir(void)
{
	const char *d = getenv("CORPUS");

	return d != NULL && d[0] != '\0' ? d : "../shared/corpus";
}

/* Skips the calling case (cmocka skip(), which does not return) when the
 * corpus folder is absent. A corpus that is there but lacks mtasts/ is
 * broken, not absent: the reads below fail the case. */
static void
corpus_require(void)
{
	struct stat st;

	if (stat(corpus_dir(), &st) == 0 && S_ISDIR(st.st_mode))
		return;
	print_message("SKIP: no corpus at %s (set CORPUS)\n", corpus_dir());
	skip();
}

/* Reads a whole file; returns its bytes (caller frees) or NULL. */
static char *
corpus_read(const char *path, size_t *len)
{
	FILE *f;
	char *buf = NULL, *nb;
	size_t cap = 0, n = 0, r;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	do {
		if (n == cap) {
			cap = cap ? cap * 2 : 65536;
			if ((nb = realloc(buf, cap + 1)) == NULL) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
	} while (r > 0);
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Undoes the TSV escapes of MANIFEST.md (\t \r \n \\) in place. */
static void
corpus_unescape(char *s)
{
	char *o = s;

	for (; *s != '\0'; s++) {
		if (*s == '\\' && s[1] != '\0') {
			s++;
			*o++ = *s == 't' ? '\t' : *s == 'r' ? '\r' :
			    *s == 'n' ? '\n' : *s;
		} else
			*o++ = *s;
	}
	*o = '\0';
}

/* Splits line at TABs into at most max fields; returns how many. */
static size_t
corpus_split(char *line, char **f, size_t max)
{
	size_t n = 0;
	char *tab;

	while (n < max) {
		f[n++] = line;
		if ((tab = strchr(line, '\t')) == NULL)
			break;
		*tab = '\0';
		line = tab + 1;
	}
	return n;
}

/* Calls row() for each data line of a TSV file. */
static void
corpus_tsv(const char *rel, void (*row)(char **, size_t,
    struct corpus_counts *), struct corpus_counts *c)
{
	char path[4096], *buf, *line, *nl, *f[8];
	size_t len, lineno = 0;

	snprintf(path, sizeof(path), "%s/%s", corpus_dir(), rel);
	buf = corpus_read(path, &len);
	if (buf == NULL)
		fail_msg("cannot read %s", path);
	for (line = buf; *line != '\0'; line = nl) {
		if ((nl = strchr(line, '\n')) != NULL)
			*nl++ = '\0';
		else
			nl = line + strlen(line);
		if (lineno++ == 0)
			continue;	/* the header */
		row(f, corpus_split(line, f, 8), c);
	}
	free(buf);
}

static void
policy_file(const char *dir, const char *name, bool folder_valid,
    struct corpus_counts *c)
{
	char path[4096], *buf;
	struct policy p;
	struct err e = { "" };
	size_t len;
	bool want, got;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path))
		fail_msg("path too long: %s/%s", dir, name);
	if ((buf = corpus_read(path, &len)) == NULL)
		fail_msg("cannot read %s", path);
	want = folder_valid;
	if (strstr(name, "-lenient") != NULL || strstr(name, "-strict") != NULL)
		want = !want;
	got = policy_parse(buf, len, &p, NULL, &e) == 0;
	if (got != want) {
		print_message("policy %s: want %s, got %s%s\n", name,
		    want ? "valid" : "invalid", got ? "valid" : "invalid: ",
		    got ? "" : e.msg);
		c->wrong++;
	} else if (!got)
		print_message("    refused %s: %s\n", name, e.msg);
	if (got)
		policy_free(&p);
	c->checked++;
	free(buf);
}

static void
test_corpus_policies(void **state)
{
	static const char *const folders[] = { "valid", "invalid" };
	struct corpus_counts c = { 0, 0, 0 };
	char dir[4096];
	struct dirent *de;
	DIR *d;

	(void)state;
	corpus_require();
	for (size_t i = 0; i < 2; i++) {
		snprintf(dir, sizeof(dir), "%s/mtasts/policies/%s",
		    corpus_dir(), folders[i]);
		if ((d = opendir(dir)) == NULL)
			fail_msg("cannot open %s", dir);
		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.')
				policy_file(dir, de->d_name, i == 0, &c);
		closedir(d);
	}
	print_message("policies: %zu checked, %zu wrong\n", c.checked,
	    c.wrong);
	assert_true(c.checked > 0);
	assert_int_equal(c.wrong, 0);
}

static const char *
record_exception(const char *text)
{
	for (size_t i = 0; i < sizeof(record_exceptions) /
	    sizeof(record_exceptions[0]); i++)
		if (strcmp(record_exceptions[i].text, text) == 0)
			return record_exceptions[i].why;
	return NULL;
}

static void
record_row(char **f, size_t n, struct corpus_counts *c)
{
	struct sts_record r;
	struct err e = { "" };
	const char *why;
	bool want, got;

	if (n < 3)
		fail_msg("record row with %zu fields", n);
	corpus_unescape(f[0]);
	want = strcmp(f[1], "valid") == 0;
	if (!want && strcmp(f[1], "invalid") != 0)
		fail_msg("record row: expected '%s'?", f[1]);
	if ((why = record_exception(f[0])) != NULL) {
		want = !want;
		c->excepted++;
	}
	got = sts_record_parse(f[0], strlen(f[0]), &r, NULL, &e) == 0;
	c->checked++;
	if (got != want) {
		print_message("record '%s': want %s, got %s %s\n", f[0],
		    want ? "valid" : "invalid", got ? "valid" : "invalid:",
		    got ? "" : e.msg);
		c->wrong++;
	} else if (got && why == NULL && strcmp(r.id, f[2]) != 0) {
		print_message("record '%s': id '%s', want '%s'\n", f[0], r.id,
		    f[2]);
		c->wrong++;
	}
}

static void
test_corpus_records(void **state)
{
	struct corpus_counts c = { 0, 0, 0 };

	(void)state;
	corpus_require();
	corpus_tsv("mtasts/records/txt-cases.tsv", record_row, &c);
	print_message("records: %zu checked, %zu wrong, %zu by exception\n",
	    c.checked, c.wrong, c.excepted);
	assert_true(c.checked > 0);
	assert_int_equal(c.wrong, 0);
	/* Every exception still names a row of the corpus. */
	assert_int_equal(c.excepted,
	    sizeof(record_exceptions) / sizeof(record_exceptions[0]));
}

static void
mx_row(char **f, size_t n, struct corpus_counts *c)
{
	struct policy p = { POLICY_MODE_ENFORCE, 86400, { 0 } };
	char *pat, *sp;
	bool want, got, any = false;

	if (n < 3)
		fail_msg("mx row with %zu fields", n);
	corpus_unescape(f[0]);
	want = strcmp(f[2], "match") == 0;
	if (!want && strcmp(f[2], "no-match") != 0)
		fail_msg("mx row: expected '%s'?", f[2]);
	/* Patterns go in as the source wrote them, not normalized: some
	 * rows have U-labels and upper case on the pattern side too. */
	for (pat = f[1]; pat != NULL; pat = sp) {
		if ((sp = strchr(pat, ' ')) != NULL)
			*sp++ = '\0';
		if (*pat == '\0')
			continue;
		assert_int_equal(strv_push(&p.mx, pat), 0);
		any = any || policy_mx_match(pat, f[0]);
	}
	got = policy_match(&p, f[0]);
	c->checked++;
	if (got != want || any != got) {
		print_message("mx '%s' vs policy: want %s, got %s (one by "
		    "one: %s)\n", f[0], want ? "match" : "no-match",
		    got ? "match" : "no-match", any ? "match" : "no-match");
		c->wrong++;
	}
	policy_free(&p);
}

static void
test_corpus_mx_match(void **state)
{
	struct corpus_counts c = { 0, 0, 0 };

	(void)state;
	corpus_require();
	corpus_tsv("mtasts/mx-match/cases.tsv", mx_row, &c);
	print_message("mx-match: %zu checked, %zu wrong\n", c.checked,
	    c.wrong);
	assert_true(c.checked > 0);
	assert_int_equal(c.wrong, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus_policies),
		cmocka_unit_test(test_corpus_records),
		cmocka_unit_test(test_corpus_mx_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
