/*
 * test_tlsrpt_corpus.c - the TLS-RPT parsers against the shared corpus of
 * real-world reports and _smtp._tls records, read in place (never
 * copied): $CORPUS, default ../shared/corpus, relative to the repository
 * root where tests/run.sh starts us. Without that folder every case is
 * skipped (cmocka skip(): "[  SKIPPED ]", counted by tests/run.sh); with
 * it, a missing file or folder below fails the case. CI refuses to run
 * without it (.ci/run).
 *
 * Every report in tlsrpt/reports/ has an entry below that says what
 * MANIFEST.md implies for it: parses, with this many policies, these
 * totals and exactly these quirks - or is refused, with this reason. A
 * report that appears in the folder but not in the table must parse (and
 * is reported so the table gets updated); an entry whose file is gone
 * fails, so the table cannot silently rot.
 *
 * Every row of tlsrpt/records/txt-cases.tsv is checked against its
 * expected verdict and rua list, except the deliberate departures listed
 * with their reason.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tlsrpt/tlsrpt.h"

#define Q(x) TLSRPT_Q_##x

struct expect {
	const char *file;
	bool	    ok;
	size_t	    npolicies;
	uint64_t    successful, failed;	/* tlsrpt_totals() */
	unsigned    quirks;		/* exactly these */
	const char *error;		/* substring, when !ok */
};

/*
 * What MANIFEST.md says of each report, in our terms. Quirks that recur:
 * Google omits failure-details when all went well and mx-host on
 * no-policy-found; Microsoft omits mx-host; Stalwart-style senders send
 * contact-info null and empty arrays.
 */
#define OK(file, np, succ, fail, q)	{ file, true, np, succ, fail, q, NULL }
#define REFUSED(file, why)		{ file, false, 0, 0, 0, 0, why }

static const struct expect expects[] = {
	/* Sanitised Stalwart-style: contact-info null, failure-details []. */
	OK("cryinc-contact-info-null-sanitized.json", 1, 1, 0,
	    Q(CONTACT_INFO_NULL) | Q(FAILURE_DETAILS_EMPTY)),
	/* Google no-policy-found: no mx-host, policy-string, details. */
	OK("cryinc-google-compact-one-line-2025-04-12.json", 1, 2, 0,
	    Q(MX_HOST_ABSENT) | Q(POLICY_STRING_ABSENT) |
	    Q(FAILURE_DETAILS_ABSENT)),
	OK("cryinc-google-no-policy-found.json", 1, 1, 0,
	    Q(MX_HOST_ABSENT) | Q(POLICY_STRING_ABSENT) |
	    Q(FAILURE_DETAILS_ABSENT)),
	/* Google sts, mx-host ["*.foo-bar.io"]. */
	OK("cryinc-google-wildcard-mx.json", 1, 1, 0,
	    Q(FAILURE_DETAILS_ABSENT)),
	/* Microsoft fetch error: detail has only result-type and count. */
	OK("cryinc-microsoft-fetch-error-no-ip-no-mx.json", 1, 0, 3,
	    Q(MX_HOST_ABSENT) | Q(POLICY_STRING_ABSENT) |
	    Q(SENDING_IP_ABSENT) | Q(RECEIVING_ABSENT)),
	/* Microsoft sts + tlsa for one domain (not a duplicate), TLSA
	 * policy-string double-encoded. */
	OK("cryinc-microsoft-sts-and-tlsa.json", 2, 4, 0,
	    Q(MX_HOST_ABSENT) | Q(POLICY_STRING_NESTED) |
	    Q(FAILURE_DETAILS_ABSENT)),
	/* RFC 8460 Appendix B: details lack receiving-ip / -hostname. */
	OK("cryinc-rfc8460-example-normalized.json", 1, 5326, 303,
	    Q(RECEIVING_ABSENT)),
	/* Hand-made Google failure: no mx-host, no receiving-ip. */
	OK("isseis-google-failure-edited.json.gz", 1, 4523, 2,
	    Q(MX_HOST_ABSENT) | Q(RECEIVING_ABSENT)),
	OK("isseis-google-success-1.json.gz", 1, 1, 0,
	    Q(FAILURE_DETAILS_ABSENT)),
	OK("isseis-google-success-2.json.gz", 1, 4, 0,
	    Q(FAILURE_DETAILS_ABSENT)),
	OK("isseis-microsoft-success.json.gz", 1, 2, 0,
	    Q(MX_HOST_ABSENT) | Q(FAILURE_DETAILS_ABSENT)),
	/* Issue #57: the report that broke a serde parser. */
	OK("issue-cryinc57-microsoft-sts-policy-fetch-error.json", 1,
	    0, 3, Q(MX_HOST_ABSENT) | Q(POLICY_STRING_ABSENT) |
	    Q(SENDING_IP_ABSENT) | Q(RECEIVING_ABSENT)),
	OK("issue-cryinc71-contact-info-null-refluxstop.json", 1, 1, 0,
	    Q(CONTACT_INFO_NULL) | Q(FAILURE_DETAILS_EMPTY)),
	OK("issue-jgosmann52-google-migadu-reformatted.json", 1, 3, 0,
	    Q(FAILURE_DETAILS_ABSENT)),
	/* egressif.io: [] everywhere, contact-info null. */
	OK("issue-parsedmarc575-egressif-no-policy-found-empty-arrays.json", 1, 1, 0, Q(MX_HOST_EMPTY) | Q(POLICY_STRING_EMPTY) |
	    Q(CONTACT_INFO_NULL) | Q(FAILURE_DETAILS_EMPTY)),
	/* Postfix + sys4: no-policy-found without policy-domain. */
	OK("issue-sys4tlsrpt51-postfix-no-policy-domain.json", 1, 1, 0,
	    Q(MX_HOST_ABSENT) | Q(POLICY_STRING_ABSENT) |
	    Q(POLICY_DOMAIN_ABSENT) | Q(FAILURE_DETAILS_EMPTY)),
	OK("kravietz-google-1.json.gz", 1, 1, 0,
	    Q(FAILURE_DETAILS_ABSENT)),
	OK("kravietz-google-2.json.gz", 1, 2, 0,
	    Q(FAILURE_DETAILS_ABSENT)),
	/* Mail.ru fetch timeout: no policy-string, no IPs. */
	OK("kravietz-mailru-fetch-timeout.json.gz", 1, 0, 1,
	    Q(MX_HOST_ABSENT) | Q(POLICY_STRING_ABSENT) |
	    Q(SENDING_IP_ABSENT) | Q(RECEIVING_ABSENT)),
	/* 13 TLSA records in one string. */
	OK("kravietz-microsoft-sts-and-tlsa.json.gz", 2, 4, 0,
	    Q(MX_HOST_ABSENT) | Q(POLICY_STRING_NESTED) |
	    Q(FAILURE_DETAILS_ABSENT)),
	OK("mailtlsrpt-google-fastmaildmarc-no-policy-found.json", 1,
	    343, 0, Q(MX_HOST_ABSENT) | Q(POLICY_STRING_ABSENT) |
	    Q(FAILURE_DETAILS_ABSENT)),
	OK("mailtlsrpt-google-fastmaildmarc-no-policy-found.json.gz", 1,
	    343, 0, Q(MX_HOST_ABSENT) | Q(POLICY_STRING_ABSENT) |
	    Q(FAILURE_DETAILS_ABSENT)),
	OK("mox-google-test.xmox.nl.json.gz", 1, 3, 0,
	    Q(FAILURE_DETAILS_ABSENT)),
	/* Microsoft Jan 2023: datetimes without a zone. */
	OK("mox-microsoft-no-timezone.json.gz", 1, 2, 0,
	    Q(MX_HOST_ABSENT) | Q(DATETIME_NO_TZ) |
	    Q(FAILURE_DETAILS_ABSENT)),
	/* Hand-edited: result-type "Testing", 3 failed vs total 2,
	 * draft-era "additional-info-uri" (ignored). Lenient: parses. */
	OK("neztore-microsoft-hand-edited-nonstandard.json", 1, 2, 2,
	    Q(MX_HOST_ABSENT) | Q(RECEIVING_ABSENT) |
	    Q(FAILURE_SUM_MISMATCH) | Q(UNKNOWN_RESULT_TYPE)),
	OK("neztore-microsoft-josh.scot.json.gz", 1, 2, 0,
	    Q(MX_HOST_ABSENT) | Q(FAILURE_DETAILS_ABSENT)),
	OK("parsedmarc-google-cardinalhealth-no-policy-found.json.gz", 1,
	    48, 0, Q(MX_HOST_ABSENT) | Q(POLICY_STRING_ABSENT) |
	    Q(FAILURE_DETAILS_ABSENT)),
	/* Mail.ru: total-failure 1, details sum 2: both kept. */
	OK("parsedmarc-mailru-sts-policy-fetch-error.json", 1, 0, 1,
	    Q(MX_HOST_ABSENT) | Q(POLICY_STRING_ABSENT) |
	    Q(SENDING_IP_ABSENT) | Q(RECEIVING_ABSENT) |
	    Q(FAILURE_SUM_MISMATCH)),
	/* RFC example with mx-host as a plain string. */
	OK("parsedmarc-rfc8460-example.json", 1, 5326, 303,
	    Q(MX_HOST_STRING) | Q(RECEIVING_ABSENT)),
	OK("parsedmarc-sanitized-google-validation-failure.json", 1, 0,
	    3, Q(MX_HOST_ABSENT)),
	OK("stalwart-google-certificate-host-mismatch.json", 1, 23, 1,
	    Q(MX_HOST_ABSENT)),
	/* DELIBERATELY MALFORMED: policy-type "invalid-policy-type". Our
	 * strict rule: the type decides how policy-string is read, so an
	 * unknown one is refused (the rest - no policy-domain, no
	 * total-failure - we would accept). */
	REFUSED("stalwart-malformed-missing-fields.json",
	    "policies[1].policy.policy-type: \"invalid-policy-type\""),
	OK("stalwart-rfc8460-example-from-eml.json.gz", 1, 5326, 303,
	    Q(RECEIVING_ABSENT)),
	OK("stalwart-rfc8460-example-mxhost-array.json", 1, 5326, 303,
	    Q(RECEIVING_ABSENT)),
	/* Google, three entries for one domain: no-policy-found + two sts
	 * versions after a mid-day change. */
	OK("unattributed-google-three-policies-policy-changed-midday.json", 3, 1, 13, Q(MX_HOST_ABSENT) | Q(POLICY_STRING_ABSENT) |
	    Q(FAILURE_DETAILS_ABSENT) | Q(DUPLICATE_POLICY)),
	/* HAND-EDITED: end before start is kept (quirk), "version:STSv1"
	 * items are kept as sent. */
	OK("unattributed-hand-edited-end-before-start-no-space-policy-string"
	    ".json", 2, 12, 2, Q(MX_HOST_EMPTY) |
	    Q(FAILURE_DETAILS_ABSENT) | Q(RECEIVING_MX_HOST_NAME) |
	    Q(DUPLICATE_POLICY) | Q(END_BEFORE_START)),
	/* SocketLabs: same policy twice, receiving-mx-host-name. */
	OK("unattributed-socketlabs-two-policies-receiving-mx-host-name.json", 2, 12, 2, Q(MX_HOST_EMPTY) | Q(FAILURE_DETAILS_ABSENT) |
	    Q(RECEIVING_MX_HOST_NAME) | Q(DUPLICATE_POLICY)),
};

#define NEXPECTS (sizeof(expects) / sizeof(expects[0]))

/*
 * txt-cases.tsv rows where we decide differently from the row's source,
 * on purpose.
 */
struct departure {
	const char *record;
	bool	    ok;		/* our verdict */
	const char *rua;	/* our rua list, when ok */
	const char *why;
};

static const struct departure departures[] = {
	{ "v=TLSRPTv1; rua=mailto:a@example.com; rua=mailto:b@example.com",
	    true, "mailto:a@example.com mailto:b@example.com",
	    "checkdmarc refuses a second rua=; RFC 8460's grammar "
	    "1*(field-delim tlsrpt-field) allows it and mox asserts it: we "
	    "merge the URIs and warn" },
};

static const char *
corpus_dir(void)
{
	const char *c = getenv("CORPUS");

	return c != NULL && c[0] != '\0' ? c : "../shared/corpus";
}

/* Skips the calling case (cmocka skip(), which does not return) when the
 * corpus folder is absent. A corpus that is there but lacks tlsrpt/ is
 * broken, not absent: the reads below fail the case. */
static void
corpus_require(void)
{
	struct stat st;

	if (stat(corpus_dir(), &st) == 0 && S_ISDIR(st.st_mode))
		return;
	printf("SKIP: no corpus at %s (set CORPUS)\n", corpus_dir());
	skip();
}

static uint8_t *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (f == NULL)
		fail_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void
quirk_list(unsigned q, char *buf, size_t n)
{
	size_t o = 0;

	buf[0] = '\0';
	for (unsigned b = 0; b < TLSRPT_Q_COUNT && o < n; b++)
		if (q & (1u << b))
			o += (size_t)snprintf(buf + o, n - o, " %s",
			    tlsrpt_quirk_name(1u << b));
}

static const struct expect *
find_expect(const char *file)
{
	for (size_t i = 0; i < NEXPECTS; i++)
		if (strcmp(expects[i].file, file) == 0)
			return &expects[i];
	return NULL;
}

/* Parses one report and checks it against x (NULL: must parse).
 * Returns 1 when it held, 0 (with a message) when not. */
static int
check_report(const char *dir, const char *file, const struct expect *x)
{
	char path[4096 + 256 + 2], got[512], want[512];
	struct tlsrpt_report *r = NULL;
	uint64_t ok, bad;
	struct err e = { "" };
	uint8_t *buf;
	size_t len;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	buf = read_file(path, &len);
	if (tlsrpt_parse(buf, len, &r, &e) == -1) {
		if (x != NULL && !x->ok && strstr(e.msg, x->error) != NULL)
			rc = 1;
		else
			printf("FAIL %s: error \"%s\"%s%s\n", file, e.msg,
			    x && !x->ok ? ", wanted " : "",
			    x && !x->ok ? x->error : "");
		goto out;
	}
	if (x == NULL) {
		quirk_list(r->quirks, got, sizeof(got));
		printf("NOTE %s: not in the expectation table; parses with "
		    "quirks:%s\n", file, got);
		rc = 1;
		goto out;
	}
	if (!x->ok) {
		printf("FAIL %s: parsed, wanted error \"%s\"\n", file,
		    x->error);
		goto out;
	}
	tlsrpt_totals(r, &ok, &bad);
	quirk_list(r->quirks, got, sizeof(got));
	quirk_list(x->quirks, want, sizeof(want));
	if (r->npolicies != x->npolicies || ok != x->successful ||
	    bad != x->failed || r->quirks != x->quirks) {
		printf("FAIL %s: %zu policies, %llu/%llu sessions, quirks:%s;"
		    " wanted %zu, %llu/%llu, quirks:%s\n", file, r->npolicies,
		    (unsigned long long)ok, (unsigned long long)bad, got,
		    x->npolicies, (unsigned long long)x->successful,
		    (unsigned long long)x->failed, want);
		goto out;
	}
	rc = 1;
out:
	tlsrpt_report_free(r);
	free(buf);
	return rc;
}

static void
test_corpus_reports(void **state)
{
	char dir[4096];
	size_t n = 0, good = 0, seen[NEXPECTS] = { 0 };
	struct dirent *de;
	DIR *d;

	corpus_require();
	snprintf(dir, sizeof(dir), "%s/tlsrpt/reports", corpus_dir());
	if ((d = opendir(dir)) == NULL)
		fail_msg("cannot open %s", dir);
	while ((de = readdir(d)) != NULL) {
		const struct expect *x;

		if (de->d_name[0] == '.' || (strstr(de->d_name, ".json") ==
		    NULL))
			continue;
		x = find_expect(de->d_name);
		if (x != NULL)
			seen[x - expects]++;
		n++;
		good += (size_t)check_report(dir, de->d_name, x);
	}
	closedir(d);
	for (size_t i = 0; i < NEXPECTS; i++)
		if (seen[i] == 0) {
			printf("FAIL %s: in the table, not in the corpus\n",
			    expects[i].file);
			n++;
		}
	printf("corpus reports: %zu of %zu as expected\n", good, n);
	assert_true(n > 0);
	assert_int_equal(good, n);
}

/* The .json and the .json.gz of one report read the same. */
static void
test_corpus_gzip_twin(void **state)
{
	static const char base[] =
	    "mailtlsrpt-google-fastmaildmarc-no-policy-found.json";
	char path[4096];
	struct tlsrpt_report *a = NULL, *b = NULL;
	struct err e;
	uint8_t *buf;
	size_t len;
	char *ja, *jb;

	corpus_require();
	snprintf(path, sizeof(path), "%s/tlsrpt/reports/%s", corpus_dir(),
	    base);
	buf = read_file(path, &len);
	assert_int_equal(tlsrpt_parse(buf, len, &a, &e), 0);
	free(buf);
	snprintf(path, sizeof(path), "%s/tlsrpt/reports/%s.gz", corpus_dir(),
	    base);
	buf = read_file(path, &len);
	assert_int_equal(tlsrpt_parse(buf, len, &b, &e), 0);
	free(buf);
	ja = tlsrpt_report_json(a, 0);
	jb = tlsrpt_report_json(b, 0);
	assert_non_null(ja);
	assert_string_equal(ja, jb);
	free(ja);
	free(jb);
	tlsrpt_report_free(a);
	tlsrpt_report_free(b);
}

/* The TSV escapes: \t \r \n \\ ; everything else literal. */
static char *
tsv_unescape(const char *s, size_t n)
{
	char *o = malloc(n + 1);
	size_t j = 0;

	assert_non_null(o);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n && strchr("trn\\", s[i + 1])) {
			i++;
			o[j++] = s[i] == 't' ? '\t' : s[i] == 'r' ? '\r' :
			    s[i] == 'n' ? '\n' : '\\';
		} else {
			o[j++] = s[i];
		}
	}
	o[j] = '\0';
	return o;
}

/* "a b | c" -> "a b c": the rua URIs of every rua= field, in order. */
static void
tsv_rua_list(const char *s, size_t n, char *out, size_t outsz)
{
	size_t o = 0, i = 0;

	out[0] = '\0';
	while (i < n) {
		size_t j = i;

		while (j < n && s[j] != ' ')
			j++;
		if (j > i && !(j - i == 1 && s[i] == '|'))
			o += (size_t)snprintf(out + o, outsz - o, "%s%.*s",
			    o ? " " : "", (int)(j - i), s + i);
		i = j + 1;
	}
}

static const struct departure *
find_departure(const char *record)
{
	for (size_t i = 0; i < sizeof(departures) / sizeof(departures[0]);
	    i++)
		if (strcmp(departures[i].record, record) == 0)
			return &departures[i];
	return NULL;
}

static void
test_corpus_records(void **state)
{
	char path[4096], want_rua[1024], got_rua[1024];
	size_t len, rows = 0, good = 0, ndep = 0;
	char *text, *line, *next;
	uint8_t *buf;

	corpus_require();
	snprintf(path, sizeof(path), "%s/tlsrpt/records/txt-cases.tsv",
	    corpus_dir());
	buf = read_file(path, &len);
	text = (char *)buf;
	/* Skip the header line. */
	line = strchr(text, '\n');
	assert_non_null(line);
	for (line++; *line != '\0'; line = next) {
		char *col[4], *rec, *nl = strchr(line, '\n');
		const struct departure *dep;
		struct tlsrpt_record r;
		struct strv w = { 0 };
		struct err e = { "" };
		bool want_ok, ok;
		int ncol = 0;

		next = nl ? nl + 1 : line + strlen(line);
		if (nl)
			*nl = '\0';
		if (*line == '\0')
			continue;
		col[ncol++] = line;
		for (char *c = line; *c && ncol < 4; c++)
			if (*c == '\t') {
				*c = '\0';
				col[ncol++] = c + 1;
			}
		assert_int_equal(ncol, 4);
		rows++;
		rec = tsv_unescape(col[0], strlen(col[0]));
		want_ok = strcmp(col[1], "valid") == 0;
		tsv_rua_list(col[2], strlen(col[2]), want_rua,
		    sizeof(want_rua));
		if ((dep = find_departure(rec)) != NULL) {
			want_ok = dep->ok;
			snprintf(want_rua, sizeof(want_rua), "%s",
			    dep->rua ? dep->rua : "");
			ndep++;
		}
		ok = tlsrpt_record_parse(rec, strlen(rec), &r, &w, &e) == 0;
		got_rua[0] = '\0';
		for (size_t i = 0, o = 0; ok && i < r.rua.n; i++)
			o += (size_t)snprintf(got_rua + o, sizeof(got_rua) - o,
			    "%s%s", i ? " " : "", r.rua.v[i]);
		if (ok != want_ok || (ok && strcmp(got_rua, want_rua) != 0))
			printf("FAIL record \"%s\" (%s): got %s%s%s, wanted "
			    "%s %s\n", col[0], col[3], ok ? "valid " : "error: ",
			    ok ? got_rua : e.msg, "", want_ok ? "valid" :
			    "invalid", want_ok ? want_rua : col[2]);
		else
			good++;
		if (ok)
			tlsrpt_record_free(&r);
		strv_free(&w);
		free(rec);
	}
	free(buf);
	printf("corpus records: %zu of %zu as expected (%zu deliberate "
	    "departures)\n", good, rows, ndep);
	assert_true(rows > 0);
	assert_int_equal(ndep, sizeof(departures) / sizeof(departures[0]));
	assert_int_equal(good, rows);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus_reports),
		cmocka_unit_test(test_corpus_gzip_twin),
		cmocka_unit_test(test_corpus_records),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
