/*
 * test_tlsrpt.c - unit tests of the TLS-RPT report parser, its JSON
 * writer, the _smtp._tls record parser and the gzip helper.
 *
 * Cases come from RFC 8460 (§3 record grammar, §4 report schema, §4.3
 * result types, Appendix B example), from the reporter quirks we accept
 * (one case per quirk bit), from every strict error (asserted by a
 * substring of its reason), and from the limits in limits.h (gzip bomb,
 * truncated gzip, 1000-level nesting, over-long arrays). Test data files
 * are read from tests/data/reports/, relative to the repository root,
 * where tests/run.sh starts every test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/gzip.h"
#include "tlsrpt/tlsrpt.h"

#define DATA "tests/data/reports/"

/* A report around a policies array, for cases that vary only that. */
#define REPORT(pols)							\
	"{\"organization-name\":\"Org\",\"date-range\":"		\
	"{\"start-datetime\":\"2026-05-12T00:00:00Z\","			\
	"\"end-datetime\":\"2026-05-12T23:59:59Z\"},"			\
	"\"contact-info\":\"tls@example.net\",\"report-id\":\"r1\","	\
	"\"policies\":" pols "}"
/* One sts policy entry with the given policy members and entry tail. */
#define STS(polx, tail)							\
	"[{\"policy\":{\"policy-type\":\"sts\",\"policy-domain\":"	\
	"\"example.com\"" polx "},\"summary\":"				\
	"{\"total-successful-session-count\":5,"			\
	"\"total-failure-session-count\":0}" tail "}]"
#define PS ",\"policy-string\":[\"version: STSv1\",\"mode: enforce\","	\
	"\"mx: mx.example.com\",\"max_age: 86400\"]"
#define MX ",\"mx-host\":[\"mx.example.com\"]"

/* RFC 8460 Appendix B, as printed (mx-host a string; the example's
 * "failure-error-code" is an erratum for failure-reason-code and is an
 * unknown key to us). */
/* A report's sessions as every view counts them (tlsrpt_count). */
static void
counted(const struct tlsrpt_report *r, uint64_t *ok, uint64_t *bad)
{
	struct tlsrpt_counted c;

	tlsrpt_count(r, &c);
	*ok = c.successful;
	*bad = c.failed;
}

static const char rfc_example[] =
"{\n"
"  \"organization-name\": \"Company-X\",\n"
"  \"date-range\": {\n"
"    \"start-datetime\": \"2016-04-01T00:00:00Z\",\n"
"    \"end-datetime\": \"2016-04-01T23:59:59Z\"\n"
"  },\n"
"  \"contact-info\": \"sts-reporting@company-x.example\",\n"
"  \"report-id\": \"5065427c-23d3-47ca-b6e0-946ea0e8c4be\",\n"
"  \"policies\": [{\n"
"    \"policy\": {\n"
"      \"policy-type\": \"sts\",\n"
"      \"policy-string\": [\"version: STSv1\",\"mode: testing\",\n"
"            \"mx: *.mail.company-y.example\",\"max_age: 86400\"],\n"
"      \"policy-domain\": \"company-y.example\",\n"
"      \"mx-host\": \"*.mail.company-y.example\"\n"
"    },\n"
"    \"summary\": {\n"
"      \"total-successful-session-count\": 5326,\n"
"      \"total-failure-session-count\": 303\n"
"    },\n"
"    \"failure-details\": [{\n"
"      \"result-type\": \"certificate-expired\",\n"
"      \"sending-mta-ip\": \"2001:db8:abcd:0012::1\",\n"
"      \"receiving-mx-hostname\": \"mx1.mail.company-y.example\",\n"
"      \"failed-session-count\": 100\n"
"    }, {\n"
"      \"result-type\": \"starttls-not-supported\",\n"
"      \"sending-mta-ip\": \"2001:db8:abcd:0013::1\",\n"
"      \"receiving-mx-hostname\": \"mx2.mail.company-y.example\",\n"
"      \"receiving-ip\": \"203.0.113.56\",\n"
"      \"failed-session-count\": 200,\n"
"      \"additional-information\": \"https://reports.company-x.example/"
"report_info?id=5065427c-23d3#StarttlsNotSupported\"\n"
"    }, {\n"
"      \"result-type\": \"validation-failure\",\n"
"      \"sending-mta-ip\": \"198.51.100.62\",\n"
"      \"receiving-ip\": \"203.0.113.58\",\n"
"      \"failed-session-count\": 3,\n"
"      \"failure-error-code\": \"X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED\"\n"
"    }]\n"
"  }]\n"
"}\n";

static struct tlsrpt_report *
parse_ok_len(const void *buf, size_t len)
{
	struct tlsrpt_report *r = NULL;
	struct err e = { "" };

	if (tlsrpt_parse(buf, len, &r, &e) == -1)
		fail_msg("unexpected parse error: %s", e.msg);
	assert_non_null(r);
	return r;
}

static struct tlsrpt_report *
parse_ok(const char *json)
{
	return parse_ok_len(json, strlen(json));
}

static void
parse_err_len(const void *buf, size_t len, const char *want)
{
	struct tlsrpt_report *r = (void *)1;
	struct err e = { "" };

	if (tlsrpt_parse(buf, len, &r, &e) != -1)
		fail_msg("parsed, but expected an error with \"%s\"", want);
	assert_null(r);
	if (strstr(e.msg, want) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", e.msg, want);
}

static void
parse_err(const char *json, const char *want)
{
	parse_err_len(json, strlen(json), want);
}

static uint8_t *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (f == NULL)
		fail_msg("cannot open %s (tests run from the repo root)", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* --- RFC 8460 ---------------------------------------------------------- */

static void
test_rfc_example(void **state)
{
	struct tlsrpt_report *r = parse_ok(rfc_example);
	struct tlsrpt_policy *p = &r->policies[0];
	uint64_t ok, bad;
	char t[21];

	assert_string_equal(r->organization_name, "Company-X");
	assert_string_equal(r->report_id,
	    "5065427c-23d3-47ca-b6e0-946ea0e8c4be");
	assert_string_equal(r->contact_info,
	    "sts-reporting@company-x.example");
	tlsrpt_format_time(r->start, t);
	assert_string_equal(t, "2016-04-01T00:00:00Z");
	assert_int_equal(r->end - r->start, 86399);
	assert_int_equal(r->npolicies, 1);
	assert_string_equal(p->policy_type, "sts");
	assert_string_equal(p->policy_domain, "company-y.example");
	assert_int_equal(p->policy_string.n, 4);
	assert_string_equal(p->policy_string.v[2],
	    "mx: *.mail.company-y.example");
	assert_int_equal(p->mx_host.n, 1);
	assert_string_equal(p->mx_host.v[0], "*.mail.company-y.example");
	assert_int_equal(p->total_successful, 5326);
	assert_int_equal(p->total_failure, 303);
	assert_int_equal(p->nfailures, 3);
	assert_string_equal(p->failures[0].result_type, "certificate-expired");
	assert_int_equal(p->failures[0].failed_session_count, 100);
	assert_null(p->failures[0].receiving_ip);
	assert_string_equal(p->failures[1].receiving_ip, "203.0.113.56");
	assert_non_null(strstr(p->failures[1].additional_information,
	    "StarttlsNotSupported"));
	assert_null(p->failures[2].receiving_mx_hostname);
	assert_null(p->failures[2].failure_reason_code);
	/* 100 + 200 + 3 = 303: no mismatch. Deviations of the printed
	 * example: mx-host as a string, receiving fields left out. */
	assert_int_equal(r->quirks,
	    TLSRPT_Q_MX_HOST_STRING | TLSRPT_Q_RECEIVING_ABSENT);
	counted(r, &ok, &bad);
	assert_int_equal(ok, 5326);
	assert_int_equal(bad, 303);
	tlsrpt_report_free(r);
}

/* A report as the RFC schema has it, every field present and well-formed,
 * has no quirk at all. */
static void
test_conforming_no_quirks(void **state)
{
	struct tlsrpt_report *r = parse_ok(REPORT(STS(PS MX,
	    ",\"failure-details\":[]")));

	assert_int_equal(r->quirks, TLSRPT_Q_FAILURE_DETAILS_EMPTY);
	tlsrpt_report_free(r);
	r = parse_ok(REPORT("[{\"policy\":{\"policy-type\":\"sts\","
	    "\"policy-domain\":\"example.com\"" PS MX "},\"summary\":"
	    "{\"total-successful-session-count\":5,"
	    "\"total-failure-session-count\":2},\"failure-details\":"
	    "[{\"result-type\":\"dane-required\",\"sending-mta-ip\":"
	    "\"192.0.2.1\",\"receiving-mx-hostname\":\"mx.example.com\","
	    "\"receiving-ip\":\"192.0.2.2\",\"failed-session-count\":2}]}]"));
	assert_int_equal(r->quirks, 0);
	tlsrpt_report_free(r);
}

/* Every result type of §4.3 is known: no unknown-result-type quirk. */
static void
test_result_types(void **state)
{
	static const char *const types[] = {
		"starttls-not-supported", "certificate-host-mismatch",
		"certificate-expired", "certificate-not-trusted",
		"validation-failure", "tlsa-invalid", "dnssec-invalid",
		"dane-required", "sts-policy-fetch-error",
		"sts-policy-invalid", "sts-webpki-invalid",
	};
	char buf[1024];
	struct tlsrpt_report *r;

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		snprintf(buf, sizeof(buf), REPORT(STS(PS MX,
		    ",\"failure-details\":[{\"result-type\":\"%s\","
		    "\"failed-session-count\":0}]")), types[i]);
		r = parse_ok(buf);
		assert_false(r->quirks & TLSRPT_Q_UNKNOWN_RESULT_TYPE);
		assert_string_equal(r->policies[0].failures[0].result_type,
		    types[i]);
		tlsrpt_report_free(r);
	}
	r = parse_ok(REPORT(STS(PS MX, ",\"failure-details\":[{"
	    "\"result-type\":\"Testing\",\"failed-session-count\":0}]")));
	assert_true(r->quirks & TLSRPT_Q_UNKNOWN_RESULT_TYPE);
	assert_string_equal(r->policies[0].failures[0].result_type,
	    "Testing");
	tlsrpt_report_free(r);
}

/* --- quirks, one case each ------------------------------------------- */

struct quirk_case {
	const char *json;
	unsigned    quirk;
};

static const struct quirk_case quirk_cases[] = {
	{ REPORT(STS(PS ",\"mx-host\":\"mx.example.com\"", "")),
	    TLSRPT_Q_MX_HOST_STRING },
	{ REPORT(STS(PS ",\"mx-host\":[]", "")), TLSRPT_Q_MX_HOST_EMPTY },
	{ REPORT(STS(PS ",\"mx-host\":\"\"", "")), TLSRPT_Q_MX_HOST_EMPTY },
	{ REPORT(STS(PS, "")), TLSRPT_Q_MX_HOST_ABSENT },
	{ REPORT(STS(MX, "")), TLSRPT_Q_POLICY_STRING_ABSENT },
	{ REPORT(STS(MX ",\"policy-string\":[]", "")),
	    TLSRPT_Q_POLICY_STRING_EMPTY },
	{ REPORT("[{\"policy\":{\"policy-type\":\"tlsa\",\"policy-string\":"
	    "[\"[\\\"3 1 1 AB\\\",\\\"3 1 1 CD\\\"]\"],\"policy-domain\":"
	    "\"example.com\"},\"summary\":{\"total-successful-session-count\""
	    ":1,\"total-failure-session-count\":0}}]"),
	    TLSRPT_Q_POLICY_STRING_NESTED },
	{ "{\"organization-name\":\"Org\",\"date-range\":{\"start-datetime\":"
	    "\"2023-01-10T00:00:00\",\"end-datetime\":\"2023-01-10T23:59:59\""
	    "},\"report-id\":\"r\",\"policies\":" STS(PS MX, "") "}",
	    TLSRPT_Q_DATETIME_NO_TZ },
	{ "{\"organization-name\":\"Org\",\"date-range\":{\"start-datetime\":"
	    "\"2026-01-11T00:00:00Z\",\"end-datetime\":\"2026-01-12T00:00:00Z\""
	    "},\"contact-info\":null,\"report-id\":\"r\",\"policies\":"
	    STS(PS MX, "") "}", TLSRPT_Q_CONTACT_INFO_NULL },
	{ "{\"organization-name\":\"Org\",\"date-range\":{\"start-datetime\":"
	    "\"2026-01-11T00:00:00Z\",\"end-datetime\":\"2026-01-12T00:00:00Z\""
	    "},\"report-id\":\"r\",\"policies\":" STS(PS MX, "") "}",
	    TLSRPT_Q_CONTACT_INFO_ABSENT },
	{ REPORT("[{\"policy\":{\"policy-type\":\"no-policy-found\"},"
	    "\"summary\":{\"total-successful-session-count\":1,"
	    "\"total-failure-session-count\":0}}]"),
	    TLSRPT_Q_POLICY_DOMAIN_ABSENT },
	{ REPORT(STS(PS MX, ",\"failure-details\":[{\"result-type\":"
	    "\"sts-policy-fetch-error\",\"failed-session-count\":0}]")),
	    TLSRPT_Q_SENDING_IP_ABSENT },
	{ REPORT(STS(PS MX, ",\"failure-details\":[{\"result-type\":"
	    "\"sts-policy-fetch-error\",\"sending-mta-ip\":\"192.0.2.1\","
	    "\"failed-session-count\":0}]")), TLSRPT_Q_RECEIVING_ABSENT },
	{ REPORT(STS(PS MX, "")), TLSRPT_Q_FAILURE_DETAILS_ABSENT },
	{ REPORT(STS(PS MX, ",\"failure-details\":[]")),
	    TLSRPT_Q_FAILURE_DETAILS_EMPTY },
	{ REPORT(STS(PS MX, ",\"failure-details\":[{\"result-type\":"
	    "\"certificate-host-mismatch\",\"receiving-mx-host-name\":"
	    "\"mx.example.com\",\"failed-session-count\":0}]")),
	    TLSRPT_Q_RECEIVING_MX_HOST_NAME },
	{ REPORT(STS(PS MX, ",\"failure-details\":[{\"result-type\":"
	    "\"certificate-expired\",\"failed-session-count\":1}]")),
	    TLSRPT_Q_FAILURE_SUM_MISMATCH },
	{ REPORT("[" "{\"policy\":{\"policy-type\":\"sts\",\"policy-domain\":"
	    "\"example.com\"},\"summary\":{\"total-successful-session-count\""
	    ":1,\"total-failure-session-count\":0}},"
	    "{\"policy\":{\"policy-type\":\"sts\",\"policy-domain\":"
	    "\"EXAMPLE.com\"},\"summary\":{\"total-successful-session-count\""
	    ":0,\"total-failure-session-count\":0}}]"),
	    TLSRPT_Q_DUPLICATE_POLICY },
	{ REPORT("[{\"policy\":{\"policy-type\":\"sts\",\"policy-domain\":"
	    "\"example.com\"},\"summary\":{\"total-successful-session-count\""
	    ":1}}]"), TLSRPT_Q_FAILURE_TOTAL_ABSENT },
	{ REPORT(STS(PS MX, ",\"failure-details\":[{\"result-type\":"
	    "\"Testing\",\"failed-session-count\":0}]")),
	    TLSRPT_Q_UNKNOWN_RESULT_TYPE },
	{ "{\"organization-name\":\"Org\",\"date-range\":{\"start-datetime\":"
	    "\"2026-04-13T00:10:00Z\",\"end-datetime\":\"2026-04-13T00:00:00Z\""
	    "},\"contact-info\":\"c\",\"report-id\":\"r\",\"policies\":"
	    STS(PS MX, "") "}", TLSRPT_Q_END_BEFORE_START },
	{ REPORT(STS(PS MX, ",\"failure-details\":[{\"result-type\":"
	    "\"certificate-expired\",\"sending-mta-ip\":null,"
	    "\"failed-session-count\":0}]")), TLSRPT_Q_NULL_FIELD },
	{ REPORT("[{\"policy\":{\"policy-type\":\"tlsa\",\"policy-domain\":"
	    "\"MX1.Example.NET.\"},\"summary\":{\"total-successful-session-"
	    "count\":1,\"total-failure-session-count\":0}}]"),
	    TLSRPT_Q_POLICY_DOMAIN_FORM },
};

static void
test_quirks(void **state)
{
	unsigned seen = 0;

	for (size_t i = 0; i < sizeof(quirk_cases) / sizeof(quirk_cases[0]);
	    i++) {
		struct tlsrpt_report *r = parse_ok(quirk_cases[i].json);

		if (!(r->quirks & quirk_cases[i].quirk))
			fail_msg("case %zu: quirk %s not set (quirks %#x)", i,
			    tlsrpt_quirk_name(quirk_cases[i].quirk),
			    r->quirks);
		seen |= quirk_cases[i].quirk;
		tlsrpt_report_free(r);
	}
	/* One case at least for every quirk bit there is. */
	assert_int_equal(seen, (1u << TLSRPT_Q_COUNT) - 1);
}

/* The policy-domain is stored as the domains it names are: lower case,
 * A-labels, no trailing dot; a plain one costs no libidn2 call and sets
 * no quirk; one that is no hostname is only lower-cased. */
static void
test_policy_domain_form(void **state)
{
	static const struct {
		const char *in, *out;
		bool quirk;
	} cases[] = {
		{ "example.com", "example.com", false },
		{ "Example.COM", "example.com", false },
		{ "Example.COM.", "example.com", true },
		{ "b\\u00fccher.example", "xn--bcher-kva.example", true },
		{ "B\\u00dcCHER.example.", "xn--bcher-kva.example", true },
		{ "Not A Host.", "not a host.", false },
	};
	char buf[1024];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tlsrpt_report *r;

		snprintf(buf, sizeof(buf), REPORT("[{\"policy\":{\"policy-"
		    "type\":\"tlsa\",\"policy-domain\":\"%s\"},\"summary\":"
		    "{\"total-successful-session-count\":1,\"total-failure-"
		    "session-count\":0}}]"), cases[i].in);
		r = parse_ok(buf);
		assert_string_equal(r->policies[0].policy_domain,
		    cases[i].out);
		assert_int_equal(!!(r->quirks & TLSRPT_Q_POLICY_DOMAIN_FORM),
		    cases[i].quirk);
		tlsrpt_report_free(r);
	}
}

static void
test_quirk_names(void **state)
{
	for (unsigned b = 0; b < TLSRPT_Q_COUNT; b++) {
		const char *n = tlsrpt_quirk_name(1u << b);

		assert_non_null(n);
		for (unsigned c = 0; c < b; c++)
			assert_string_not_equal(n, tlsrpt_quirk_name(1u << c));
	}
	assert_string_equal(tlsrpt_quirk_name(TLSRPT_Q_MX_HOST_STRING),
	    "mx-host-string");
	assert_string_equal(tlsrpt_quirk_name(TLSRPT_Q_POLICY_STRING_NESTED),
	    "policy-string-nested-json");
	assert_string_equal(tlsrpt_quirk_name(TLSRPT_Q_NULL_FIELD),
	    "null-optional-field");
	assert_null(tlsrpt_quirk_name(0));
	assert_null(tlsrpt_quirk_name(3));
	assert_null(tlsrpt_quirk_name(1u << TLSRPT_Q_COUNT));
}

/* The Microsoft double-encoded TLSA list is expanded; an STS item that
 * looks like JSON is kept as sent; a TLSA item that is not a JSON array
 * of strings is kept as sent too. */
static void
test_nested_tlsa(void **state)
{
	struct tlsrpt_report *r = parse_ok(REPORT(
	    "[{\"policy\":{\"policy-type\":\"tlsa\",\"policy-string\":"
	    "[\"[\\\"3 1 1 AB\\\",\\\"3 1 1 CD\\\"]\",\"3 1 1 EF\"],"
	    "\"policy-domain\":\"example.com\"},\"summary\":"
	    "{\"total-successful-session-count\":2,"
	    "\"total-failure-session-count\":0}},"
	    "{\"policy\":{\"policy-type\":\"sts\",\"policy-string\":"
	    "[\"[\\\"x\\\"]\"],\"policy-domain\":\"example.com\"},\"summary\":"
	    "{\"total-successful-session-count\":2,"
	    "\"total-failure-session-count\":0}},"
	    "{\"policy\":{\"policy-type\":\"tlsa\",\"policy-string\":"
	    "[\"[1,2]\",\"[broken\"],\"policy-domain\":\"example.org\"},"
	    "\"summary\":{\"total-successful-session-count\":2,"
	    "\"total-failure-session-count\":0}}]"));

	assert_true(r->quirks & TLSRPT_Q_POLICY_STRING_NESTED);
	assert_false(r->quirks & TLSRPT_Q_DUPLICATE_POLICY);
	assert_int_equal(r->policies[0].policy_string.n, 3);
	assert_string_equal(r->policies[0].policy_string.v[0], "3 1 1 AB");
	assert_string_equal(r->policies[0].policy_string.v[1], "3 1 1 CD");
	assert_string_equal(r->policies[0].policy_string.v[2], "3 1 1 EF");
	assert_int_equal(r->policies[1].policy_string.n, 1);
	assert_string_equal(r->policies[1].policy_string.v[0], "[\"x\"]");
	assert_int_equal(r->policies[2].policy_string.n, 2);
	assert_string_equal(r->policies[2].policy_string.v[0], "[1,2]");
	tlsrpt_report_free(r);
	/* Nested twice: kept as sent, so that the normalized output reads
	 * back to the same list. */
	r = parse_ok(REPORT("[{\"policy\":{\"policy-type\":\"tlsa\","
	    "\"policy-string\":[\"[\\\"[x]\\\",\\\"3 1 1 AB\\\"]\"]},"
	    "\"summary\":{\"total-successful-session-count\":2}}]"));
	assert_int_equal(r->policies[0].policy_string.n, 1);
	assert_string_equal(r->policies[0].policy_string.v[0],
	    "[\"[x]\",\"3 1 1 AB\"]");
	assert_false(r->quirks & TLSRPT_Q_POLICY_STRING_NESTED);
	tlsrpt_report_free(r);
}

static void
test_leniencies(void **state)
{
	struct tlsrpt_report *r;

	/* Any key order, unknown keys ignored, policy-domain lower-cased,
	 * receiving-mx-host-name used when receiving-mx-hostname is not. */
	r = parse_ok("{\"policies\":[{\"failure-details\":[{"
	    "\"failed-session-count\":2,\"x-extra\":{\"a\":[1]},"
	    "\"receiving-mx-host-name\":\"mx.example.com\",\"result-type\":"
	    "\"certificate-host-mismatch\"}],\"summary\":{"
	    "\"total-failure-session-count\":2,"
	    "\"total-successful-session-count\":0},\"policy\":{\"mx-host\":[],"
	    "\"policy-domain\":\"Example.COM\",\"policy-type\":\"sts\"}}],"
	    "\"report-id\":\"r\",\"unknown\":true,\"date-range\":{"
	    "\"end-datetime\":\"2026-05-12T00:00:00Z\",\"start-datetime\":"
	    "\"2026-05-11T00:00:00Z\"},\"organization-name\":\"Org\"}");
	assert_string_equal(r->policies[0].policy_domain, "example.com");
	assert_string_equal(r->policies[0].failures[0].receiving_mx_hostname,
	    "mx.example.com");
	assert_int_equal(r->policies[0].total_failure, 2);
	assert_false(r->quirks & TLSRPT_Q_FAILURE_SUM_MISMATCH);
	tlsrpt_report_free(r);

	/* Counts that don't add up are kept, both of them. */
	r = parse_ok(REPORT(STS(PS MX, ",\"failure-details\":[{\"result-type\""
	    ":\"sts-policy-fetch-error\",\"failed-session-count\":1},{"
	    "\"result-type\":\"sts-policy-fetch-error\","
	    "\"failed-session-count\":1}]")));
	assert_int_equal(r->policies[0].total_failure, 0);
	assert_int_equal(r->policies[0].nfailures, 2);
	assert_true(r->quirks & TLSRPT_Q_FAILURE_SUM_MISMATCH);
	tlsrpt_report_free(r);

	/* Absent total-failure counts as 0. */
	r = parse_ok(REPORT("[{\"policy\":{\"policy-type\":\"no-policy-found\","
	    "\"policy-domain\":\"example.org\"},\"summary\":{"
	    "\"total-successful-session-count\":7}}]"));
	assert_int_equal(r->policies[0].total_failure, 0);
	assert_int_equal(r->policies[0].total_successful, 7);
	assert_int_equal(r->policies[0].mx_host.n, 0);
	assert_int_equal(r->policies[0].policy_string.n, 0);
	tlsrpt_report_free(r);

	/* A leading/trailing newline and big counts are fine. */
	r = parse_ok("\n" REPORT("[{\"policy\":{\"policy-type\":\"sts\","
	    "\"policy-domain\":\"example.org\"},\"summary\":{"
	    "\"total-successful-session-count\":9223372036854775807,"
	    "\"total-failure-session-count\":0}}]") "\n");
	assert_true(r->policies[0].total_successful == INT64_MAX);
	tlsrpt_report_free(r);
}

/* --- datetimes --------------------------------------------------------- */

static void
check_datetime(const char *dt, const char *want, bool no_tz)
{
	char buf[1024], got[21];
	struct tlsrpt_report *r;

	snprintf(buf, sizeof(buf), "{\"organization-name\":\"O\","
	    "\"date-range\":{\"start-datetime\":\"%s\",\"end-datetime\":"
	    "\"9999-12-31T23:59:59Z\"},\"report-id\":\"r\",\"policies\":"
	    STS("", "") "}", dt);
	r = parse_ok(buf);
	tlsrpt_format_time(r->start, got);
	assert_string_equal(got, want);
	assert_int_equal(!!(r->quirks & TLSRPT_Q_DATETIME_NO_TZ), no_tz);
	tlsrpt_report_free(r);
}

static void
check_datetime_bad(const char *dt)
{
	char buf[1024];

	snprintf(buf, sizeof(buf), "{\"organization-name\":\"O\","
	    "\"date-range\":{\"start-datetime\":\"2026-01-01T00:00:00Z\","
	    "\"end-datetime\":\"%s\"},\"report-id\":\"r\",\"policies\":"
	    STS("", "") "}", dt);
	parse_err(buf, dt[0] ? "date-range.end-datetime: \"" :
	    "date-range.end-datetime: empty");
}

static void
test_datetimes(void **state)
{
	check_datetime("2026-05-12T00:00:00Z", "2026-05-12T00:00:00Z", false);
	check_datetime("2026-05-12t10:20:30z", "2026-05-12T10:20:30Z", false);
	check_datetime("2026-05-12T00:00:00", "2026-05-12T00:00:00Z", true);
	check_datetime("2026-05-12T23:59:59.999Z", "2026-05-12T23:59:59Z",
	    false);
	check_datetime("2026-05-12T00:30:00+01:00", "2026-05-11T23:30:00Z",
	    false);
	check_datetime("2026-05-12T22:00:00-05:30", "2026-05-13T03:30:00Z",
	    false);
	check_datetime("2026-05-12T00:00:00.5+00:00", "2026-05-12T00:00:00Z",
	    false);
	check_datetime("2024-02-29T12:00:00Z", "2024-02-29T12:00:00Z", false);
	check_datetime("2016-12-31T23:59:60Z", "2017-01-01T00:00:00Z", false);
	check_datetime("1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z", false);
	check_datetime_bad("2026-02-29T00:00:00Z");
	check_datetime_bad("2026-13-01T00:00:00Z");
	check_datetime_bad("2026-05-12T24:00:00Z");
	check_datetime_bad("2026-05-12T00:60:00Z");
	check_datetime_bad("2026-05-12 00:00:00Z");
	check_datetime_bad("2026-05-12T00:00Z");
	check_datetime_bad("2026-05-12T00:00:00ZZ");
	check_datetime_bad("2026-05-12T00:00:00+0100");
	check_datetime_bad("2026-05-12T00:00:00.Z");
	check_datetime_bad("2026-05-12");
	check_datetime_bad("1969-12-31T23:59:59Z");
	check_datetime_bad("1970-01-01T00:00:00+00:01");
	check_datetime_bad("9999-12-31T23:59:59-00:01");
	check_datetime_bad("+2026-05-12T00:00:00Z");
	check_datetime_bad("");
}

static void
test_format_time(void **state)
{
	char t[21];

	tlsrpt_format_time(0, t);
	assert_string_equal(t, "1970-01-01T00:00:00Z");
	tlsrpt_format_time(1778544000, t);
	assert_string_equal(t, "2026-05-12T00:00:00Z");
	tlsrpt_format_time((time_t)253402300799, t);
	assert_string_equal(t, "9999-12-31T23:59:59Z");
}

/* --- strict errors ------------------------------------------------------ */

struct err_case {
	const char *json;
	const char *want;
};

static const struct err_case err_cases[] = {
	/* Required fields, missing or of the wrong type. */
	{ "{\"date-range\":{\"start-datetime\":\"2026-05-12T00:00:00Z\","
	    "\"end-datetime\":\"2026-05-12T23:59:59Z\"},\"report-id\":\"r\","
	    "\"policies\":" STS("", "") "}", "organization-name: missing" },
	{ "{\"organization-name\":7,\"date-range\":{\"start-datetime\":"
	    "\"2026-05-12T00:00:00Z\",\"end-datetime\":\"2026-05-12T23:59:59Z\""
	    "},\"report-id\":\"r\",\"policies\":" STS("", "") "}",
	    "organization-name: expected a string, got an integer" },
	{ "{\"organization-name\":\"\",\"date-range\":{\"start-datetime\":"
	    "\"2026-05-12T00:00:00Z\",\"end-datetime\":\"2026-05-12T23:59:59Z\""
	    "},\"report-id\":\"r\",\"policies\":" STS("", "") "}",
	    "organization-name: empty" },
	{ "{\"organization-name\":\"o\",\"date-range\":{\"start-datetime\":"
	    "\"2026-05-12T00:00:00Z\",\"end-datetime\":\"2026-05-12T23:59:59Z\""
	    "},\"policies\":" STS("", "") "}", "report-id: missing" },
	{ "{\"organization-name\":\"o\",\"date-range\":{\"start-datetime\":"
	    "\"2026-05-12T00:00:00Z\",\"end-datetime\":\"2026-05-12T23:59:59Z\""
	    "},\"report-id\":null,\"policies\":" STS("", "") "}",
	    "report-id: expected a string, got null" },
	{ "{\"organization-name\":\"o\",\"report-id\":\"r\",\"policies\":"
	    STS("", "") "}", "date-range: missing" },
	{ "{\"organization-name\":\"o\",\"date-range\":\"2026-05-12\","
	    "\"report-id\":\"r\",\"policies\":" STS("", "") "}",
	    "date-range: expected an object, got a string" },
	{ "{\"organization-name\":\"o\",\"date-range\":{\"end-datetime\":"
	    "\"2026-05-12T23:59:59Z\"},\"report-id\":\"r\",\"policies\":"
	    STS("", "") "}", "date-range.start-datetime: missing" },
	{ "{\"organization-name\":\"o\",\"date-range\":{\"start-datetime\":"
	    "\"2026-05-12T00:00:00Z\",\"end-datetime\":1778630399},"
	    "\"report-id\":\"r\",\"policies\":" STS("", "") "}",
	    "date-range.end-datetime: expected a string, got an integer" },
	{ "{\"organization-name\":\"o\",\"date-range\":{\"start-datetime\":"
	    "\"2026-05-12T00:00:00Z\",\"end-datetime\":\"2026-05-12T23:59:59Z\""
	    "},\"report-id\":\"r\"}", "policies: missing" },
	{ REPORT("{}"), "policies: expected an array, got an object" },
	{ REPORT("[]"), "policies: empty" },
	{ REPORT("[1]"), "policies[0]: expected an object, got an integer" },
	{ REPORT("[{\"summary\":{\"total-successful-session-count\":1}}]"),
	    "policies[0].policy: missing" },
	{ REPORT("[{\"policy\":[],\"summary\":{}}]"),
	    "policies[0].policy: expected an object, got an array" },
	{ REPORT("[{\"policy\":{\"policy-domain\":\"example.com\"},"
	    "\"summary\":{\"total-successful-session-count\":1}}]"),
	    "policies[0].policy.policy-type: missing" },
	{ REPORT("[{\"policy\":{\"policy-type\":\"invalid-policy-type\"},"
	    "\"summary\":{\"total-successful-session-count\":1}}]"),
	    "policies[0].policy.policy-type: \"invalid-policy-type\" is not" },
	{ REPORT("[{\"policy\":{\"policy-type\":\"STS\"},"
	    "\"summary\":{\"total-successful-session-count\":1}}]"),
	    "policy-type: \"STS\"" },
	{ REPORT("[{\"policy\":{\"policy-type\":\"sts\"}}]"),
	    "policies[0].summary: missing" },
	{ REPORT("[{\"policy\":{\"policy-type\":\"sts\"},\"summary\":{}}]"),
	    "policies[0].summary.total-successful-session-count: missing" },
	/* Counts. 5.0 is refused: see the file comment of the parser. */
	{ REPORT("[{\"policy\":{\"policy-type\":\"sts\"},\"summary\":{"
	    "\"total-successful-session-count\":5.0}}]"),
	    "policies[0].summary.total-successful-session-count: not an "
	    "integer (a real number)" },
	{ REPORT("[{\"policy\":{\"policy-type\":\"sts\"},\"summary\":{"
	    "\"total-successful-session-count\":\"5\"}}]"),
	    "total-successful-session-count: not an integer (a string)" },
	{ REPORT("[{\"policy\":{\"policy-type\":\"sts\"},\"summary\":{"
	    "\"total-successful-session-count\":1,"
	    "\"total-failure-session-count\":-1}}]"),
	    "total-failure-session-count: negative (-1)" },
	{ REPORT("[{\"policy\":{\"policy-type\":\"sts\"},\"summary\":{"
	    "\"total-successful-session-count\":1,"
	    "\"total-failure-session-count\":null}}]"),
	    "total-failure-session-count: not an integer (null)" },
	{ REPORT("[{\"policy\":{\"policy-type\":\"sts\"},\"summary\":{"
	    "\"total-successful-session-count\":99999999999999999999}}]"),
	    "invalid JSON" },
	{ REPORT(STS(PS MX, ",\"failure-details\":[{\"result-type\":"
	    "\"certificate-expired\"}]")),
	    "policies[0].failure-details[0].failed-session-count: missing" },
	{ REPORT(STS(PS MX, ",\"failure-details\":[{\"result-type\":"
	    "\"certificate-expired\",\"failed-session-count\":true}]")),
	    "failed-session-count: not an integer (a boolean)" },
	{ REPORT(STS(PS MX, ",\"failure-details\":[{"
	    "\"failed-session-count\":1}]")),
	    "policies[0].failure-details[0].result-type: missing" },
	{ REPORT(STS(PS MX, ",\"failure-details\":[7]")),
	    "policies[0].failure-details[0]: expected an object" },
	{ REPORT(STS(PS MX, ",\"failure-details\":{}")),
	    "policies[0].failure-details: expected an array, got an object" },
	/* Optional fields of the wrong type are errors too. */
	{ REPORT(STS(PS MX, ",\"failure-details\":[{\"result-type\":"
	    "\"certificate-expired\",\"failed-session-count\":1,"
	    "\"failure-reason-code\":404}]")),
	    "failure-details[0].failure-reason-code: expected a string" },
	{ REPORT(STS(",\"policy-string\":\"version: STSv1\"", "")),
	    "policies[0].policy.policy-string: expected an array of strings, "
	    "got a string" },
	{ REPORT(STS(",\"policy-string\":[\"version: STSv1\",1]", "")),
	    "policies[0].policy.policy-string[1]: expected a string" },
	{ REPORT(STS(",\"mx-host\":5", "")),
	    "policies[0].policy.mx-host: expected an array of strings" },
	{ REPORT(STS(",\"mx-host\":[[\"a\"]]", "")),
	    "policies[0].policy.mx-host[0]: expected a string, got an array" },
	{ "{\"organization-name\":\"o\",\"date-range\":{\"start-datetime\":"
	    "\"2026-05-12T00:00:00Z\",\"end-datetime\":\"2026-05-12T23:59:59Z\""
	    "},\"contact-info\":[],\"report-id\":\"r\",\"policies\":"
	    STS("", "") "}", "contact-info: expected a string, got an array" },
	{ REPORT("[{\"policy\":{\"policy-type\":\"sts\",\"policy-domain\":"
	    "{}},\"summary\":{\"total-successful-session-count\":1}}]"),
	    "policies[0].policy.policy-domain: expected a string, got an "
	    "object" },
	/* Not a report at all. */
	{ "[" REPORT(STS("", "")) "]", "expected a JSON object, got an array" },
	{ "not json", "invalid JSON at line 1" },
	{ "{\"organization-name\":\"o\"", "invalid JSON" },
	{ REPORT(STS("", "")) "x", "invalid JSON" },
	/* Duplicate keys: which count would be the true one? */
	{ "{\"organization-name\":\"o\",\"organization-name\":\"p\"}",
	    "duplicate object key" },
	/* \u0000 inside a string. */
	{ "{\"organization-name\":\"o\\u0000p\"}", "invalid JSON" },
};

static void
test_errors(void **state)
{
	for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++)
		parse_err(err_cases[i].json, err_cases[i].want);
}

/* Invalid UTF-8 is refused, and the message carries no raw byte. */
static void
test_not_utf8(void **state)
{
	static const char bad[] = "{\"organization-name\":\"Org\xff\xfe\"}";
	static const char latin1[] = REPORT("[{\"policy\":{\"policy-type\":"
	    "\"sts\",\"policy-domain\":\"b\xe4r.example\"},\"summary\":{"
	    "\"total-successful-session-count\":1}}]");
	struct tlsrpt_report *r = NULL;
	struct err e;

	assert_int_equal(tlsrpt_parse((const uint8_t *)bad, strlen(bad), &r,
	    &e), -1);
	assert_non_null(strstr(e.msg, "invalid JSON"));
	for (const char *c = e.msg; *c; c++)
		assert_true((unsigned char)*c >= 0x20 &&
		    (unsigned char)*c < 0x7f);
	parse_err(latin1, "invalid JSON");
	/* UTF-8 proper is fine. */
	r = parse_ok(REPORT("[{\"policy\":{\"policy-type\":\"sts\","
	    "\"policy-domain\":\"B\xc3\xa4r.example\"},\"summary\":{"
	    "\"total-successful-session-count\":1}}]"));
	/* A U-label policy-domain is stored as its A-label (see
	 * test_policy_domain_form). */
	assert_string_equal(r->policies[0].policy_domain, "xn--br-via.example");
	tlsrpt_report_free(r);
	parse_err_len("", 0, "empty report");
}

/* --- limits --------------------------------------------------------- */

static void
test_depth(void **state)
{
	size_t n = 1000, len = 0;
	char *buf = malloc(2 * n + 64);
	char *deep;

	/* 1000-level nested array: refused by the scan, not by jansson. */
	assert_non_null(buf);
	for (size_t i = 0; i < n; i++)
		buf[len++] = '[';
	for (size_t i = 0; i < n; i++)
		buf[len++] = ']';
	parse_err_len(buf, len, "JSON nesting depth 17 at byte 16 exceeds "
	    "the limit of 16");
	free(buf);
	/* Exactly 16 levels pass the scan (and then fail as a report). */
	parse_err("[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]", "expected a JSON "
	    "object");
	/* Brackets inside strings don't count, escaped quotes neither. */
	deep = malloc(4096);
	assert_non_null(deep);
	snprintf(deep, 4096, REPORT(STS(",\"policy-string\":[\"%s\"]", "")),
	    "\\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[{{{{{{{{{{{{{{{{{{{{");
	tlsrpt_report_free(parse_ok(deep));
	/* Deep unknown extensions are refused as well. */
	snprintf(deep, 4096, REPORT(STS("", ",\"x\":%s")),
	    "[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]");
	parse_err(deep, "exceeds the limit of 16");
	free(deep);
}

/* A JSON array of n copies of item, as a policies/mx-host value. */
static char *
make_array(const char *head, const char *item, size_t n, const char *tail)
{
	size_t il = strlen(item), hl = strlen(head), tl = strlen(tail);
	char *s = malloc(hl + n * (il + 1) + tl + 4), *p;

	assert_non_null(s);
	memcpy(s, head, hl);
	p = s + hl;
	*p++ = '[';
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			*p++ = ',';
		memcpy(p, item, il);
		p += il;
	}
	*p++ = ']';
	memcpy(p, tail, tl);
	p[tl] = '\0';
	return s;
}

#define HEAD "{\"organization-name\":\"O\",\"date-range\":{\"start-datetime\":" \
	"\"2026-05-12T00:00:00Z\",\"end-datetime\":\"2026-05-12T23:59:59Z\"}," \
	"\"report-id\":\"r\",\"policies\":"

static void
test_array_limits(void **state)
{
	char *s;

	s = make_array(HEAD, "{}", LIMIT_REPORT_POLICIES + 1, "}");
	parse_err(s, "policies: 10001 entries exceed the limit of 10000");
	free(s);
	s = make_array(HEAD "[{\"policy\":{\"policy-type\":\"sts\","
	    "\"mx-host\":", "\"a\"", LIMIT_REPORT_STRINGS + 1, "},"
	    "\"summary\":{\"total-successful-session-count\":1}}]}");
	parse_err(s, "policies[0].policy.mx-host: 1001 items exceed");
	free(s);
	s = make_array(HEAD "[{\"policy\":{\"policy-type\":\"sts\","
	    "\"mx-host\":", "\"a\"", LIMIT_REPORT_STRINGS, "},"
	    "\"summary\":{\"total-successful-session-count\":1}}]}");
	tlsrpt_report_free(parse_ok(s));
	free(s);
	s = make_array(HEAD "[{\"policy\":{\"policy-type\":\"sts\","
	    "\"policy-string\":", "\"mx: a\"", LIMIT_REPORT_STRINGS + 1, "},"
	    "\"summary\":{\"total-successful-session-count\":1}}]}");
	parse_err(s, "policy-string: 1001 items exceed");
	free(s);
	s = make_array(HEAD "[{\"policy\":{\"policy-type\":\"sts\"},"
	    "\"summary\":{\"total-successful-session-count\":1},"
	    "\"failure-details\":", "{}", LIMIT_REPORT_FAILURE_DETAILS + 1,
	    "}]}");
	parse_err(s, "failure-details: 20001 entries exceed the limit");
	free(s);
	/* A nested TLSA list may not grow policy-string past the limit. */
	s = make_array(HEAD "[{\"policy\":{\"policy-type\":\"tlsa\","
	    "\"policy-string\":[\"", "\\\"3 1 1 AB\\\"",
	    LIMIT_REPORT_STRINGS + 1, "\"]},\"summary\":"
	    "{\"total-successful-session-count\":1}}]}");
	parse_err(s, "more than 1000 policy-string items");
	free(s);
}

/* Tokens are counted in the text before jansson builds a tree. */
static void
test_token_limit(void **state)
{
	size_t n = LIMIT_REPORT_JSON_TOKENS, len = 0, zlen;
	char *buf = malloc(2 * n + 64), *bomb;
	size_t blen = LIMIT_REPORT_JSON_BYTES - 6;
	uint8_t *z;
	struct err e;

	/* An array of exactly the limit: 1 + (n - 1) numbers. */
	assert_non_null(buf);
	buf[len++] = '[';
	for (size_t i = 0; i + 1 < n; i++) {
		buf[len++] = i ? ',' : ' ';
		buf[len++] = '7';
	}
	buf[len++] = ']';
	parse_err_len(buf, len, "expected a JSON object");
	/* One more, a literal: refused with where and why. */
	memcpy(buf + len - 1, ",true]", 6);
	parse_err_len(buf, len + 5, "JSON has more than 200000 values and "
	    "keys (at byte 400000)");
	/* Strings and keys count once, whatever they hold. */
	parse_err("[\"{},[],{},[]\", -12.5e3, null]", "expected a JSON "
	    "object");
	free(buf);
	/* 16 MiB of "{}," and "[]," with random blanks between, so that it
	 * compresses like the review's (about 10:1, under the ratio limit):
	 * refused after a few hundred KiB of scanning, before any tree is
	 * built. */
	bomb = malloc(blen + 2);
	assert_non_null(bomb);
	bomb[0] = '[';
	for (size_t i = 1, x = 1; i + 4 <= blen; i += 4) {
		x = x * 1103515245 + 12345;
		memcpy(bomb + i, (x >> 16) & 1 ? "{}," : "[],", 3);
		bomb[i + 3] = (x >> 17) & 1 ? ' ' : '\n';
	}
	bomb[blen - 1] = ']';
	assert_int_equal(gzip_deflate((uint8_t *)bomb, blen, &z, &zlen, &e),
	    0);
	free(bomb);
	assert_true(zlen < LIMIT_INTAKE_BODY_BYTES);
	parse_err_len(z, zlen, "JSON has more than 200000 values and keys");
	free(z);
}

static void
test_size_limits(void **state)
{
	size_t n = LIMIT_REPORT_STRING_BYTES + 1;
	char *s = malloc(n + 256);
	uint8_t *big;

	/* One string over 64 KiB. */
	assert_non_null(s);
	memcpy(s, "{\"organization-name\":\"", 22);
	memset(s + 22, 'a', n);
	memcpy(s + 22 + n, "\"}", 3);
	parse_err(s, "organization-name: string of 65537 bytes exceeds");
	free(s);
	/* Raw input over LIMIT_REPORT_BYTES: refused before anything. */
	big = calloc(LIMIT_REPORT_BYTES + 1, 1);
	assert_non_null(big);
	memset(big, ' ', LIMIT_REPORT_BYTES + 1);
	parse_err_len(big, LIMIT_REPORT_BYTES + 1, "report of 4194305 bytes "
	    "exceeds the limit of 4194304");
	free(big);
}

static void
test_gzip_bomb(void **state)
{
	size_t n = 50 * 1024 * 1024, zlen, outlen;
	uint8_t *zeros = calloc(n, 1), *z, *out;
	struct err e;

	/* 50 MB of zeros compress about 1000:1; refused by the ratio check
	 * long before the 16 MiB output bound. */
	assert_non_null(zeros);
	assert_int_equal(gzip_deflate(zeros, n, &z, &zlen, &e), 0);
	free(zeros);
	assert_true(zlen < n / 500);
	parse_err_len(z, zlen, "compression ratio over 100:1");
	assert_int_equal(gzip_inflate(z, zlen, 1000, 1000000, &out, &outlen,
	    &e), -1);
	assert_null(out);
	assert_string_equal(e.msg, "decompressed data exceeds 1000 bytes");
	free(z);
}

static void
test_gzip(void **state)
{
	const char *json = REPORT(STS(PS MX, ""));
	size_t jl = strlen(json), zlen, z2len, outlen;
	uint8_t *z, *z2, *out, *cat, *pad;
	struct tlsrpt_report *r;
	struct err e;

	assert_int_equal(gzip_deflate((const uint8_t *)json, jl, &z, &zlen,
	    &e), 0);
	assert_true(gzip_is(z, zlen));
	assert_false(gzip_is((const uint8_t *)json, jl));
	/* mtime 0, no name: the same bytes every time. */
	assert_int_equal(z[4] | z[5] | z[6] | z[7], 0);
	r = parse_ok_len(z, zlen);
	assert_string_equal(r->report_id, "r1");
	tlsrpt_report_free(r);
	assert_int_equal(gzip_inflate(z, zlen, jl, 100, &out, &outlen, &e),
	    0);
	assert_int_equal(outlen, jl);
	assert_memory_equal(out, json, jl);
	assert_int_equal(out[outlen], '\0');
	free(out);
	/* One byte short of the output bound. */
	assert_int_equal(gzip_inflate(z, zlen, jl - 1, 100, &out, &outlen,
	    &e), -1);
	/* Truncated: in the trailer, in the data, in the header. */
	parse_err_len(z, zlen - 4, "gzip data truncated");
	parse_err_len(z, zlen / 2, "gzip data truncated");
	parse_err_len(z, 5, "gzip data truncated");
	parse_err_len(z, 2, "gzip data truncated");
	/* Corrupt: a flipped CRC; a bad compression method. */
	z[zlen - 6] ^= 0xff;
	parse_err_len(z, zlen, "corrupt gzip data: incorrect data check");
	z[zlen - 6] ^= 0xff;
	z[2] = 7;
	parse_err_len(z, zlen, "corrupt gzip data: unknown compression method");
	z[2] = 8;
	/* Multi-member: two halves, concatenated, read as one. */
	assert_int_equal(gzip_deflate((const uint8_t *)json, jl / 2, &z2,
	    &z2len, &e), 0);
	{
		uint8_t *tail;
		size_t tlen;

		assert_int_equal(gzip_deflate((const uint8_t *)json + jl / 2,
		    jl - jl / 2, &tail, &tlen, &e), 0);
		cat = malloc(z2len + tlen);
		assert_non_null(cat);
		memcpy(cat, z2, z2len);
		memcpy(cat + z2len, tail, tlen);
		r = parse_ok_len(cat, z2len + tlen);
		tlsrpt_report_free(r);
		/* Garbage after the last member is refused, NUL padding
		 * is not. */
		memcpy(cat + z2len, "xyz", 3);
		assert_int_equal(gzip_inflate(cat, z2len + 3, 1000, 100, &out,
		    &outlen, &e), -1);
		assert_string_equal(e.msg, "3 bytes of trailing garbage after "
		    "gzip data");
		free(tail);
		free(cat);
	}
	pad = calloc(zlen + 16, 1);
	assert_non_null(pad);
	memcpy(pad, z, zlen);
	tlsrpt_report_free(parse_ok_len(pad, zlen + 16));
	free(pad);
	/* The gzip wrapper holds a report that is not valid JSON. */
	free(z);
	assert_int_equal(gzip_deflate((const uint8_t *)"{\"a\":", 5, &z,
	    &zlen, &e), 0);
	parse_err_len(z, zlen, "invalid JSON");
	free(z);
	free(z2);
	assert_int_equal(gzip_inflate((const uint8_t *)"{}", 2, 100, 100, &out,
	    &outlen, &e), -1);
	assert_non_null(strstr(e.msg, "not gzip"));
}

/* Inflates d bytes (a pattern that compresses well) padded with NULs to
 * padto bytes of input (0: no padding) under max_out, and checks the
 * outcome: rc, the bytes, and the NUL after them. Under ASan a NUL
 * written past the buffer fails here. */
static void
gzip_exact(size_t d, size_t padto, size_t max_out, unsigned ratio, int rc)
{
	uint8_t *data = malloc(d), *z, *in, *out;
	size_t zlen, outlen;
	struct err e;

	assert_non_null(data);
	for (size_t i = 0; i < d; i++)
		data[i] = (uint8_t)('a' + i % 23);
	assert_int_equal(gzip_deflate(data, d, &z, &zlen, &e), 0);
	in = z;
	if (padto > zlen) {
		assert_non_null(in = calloc(padto, 1));
		memcpy(in, z, zlen);
		zlen = padto;
	}
	assert_int_equal(gzip_inflate(in, zlen, max_out, ratio, &out,
	    &outlen, &e), rc);
	if (rc == 0) {
		assert_int_equal(outlen, d);
		assert_memory_equal(out, data, d);
		assert_int_equal(out[outlen], '\0');
		free(out);
	} else {
		assert_null(out);
		assert_non_null(strstr(e.msg, "exceeds"));
	}
	if (in != z)
		free(in);
	free(z);
	free(data);
}

/* Output that exactly fills each buffer the inflater uses once wrote the
 * NUL one byte past it (a 52-byte POST crashed the daemon). */
static void
test_gzip_boundaries(void **state)
{
	/* The first buffer: 16 KiB for small input. */
	gzip_exact(16384, 0, LIMIT_REPORT_JSON_BYTES, 100, 0);
	gzip_exact(16383, 0, LIMIT_REPORT_JSON_BYTES, 100, 0);
	gzip_exact(16385, 0, LIMIT_REPORT_JSON_BYTES, 100, 0);
	/* The first buffer: 8 x the input (2049 bytes, NUL-padded). */
	gzip_exact(8 * 2049, 2049, LIMIT_REPORT_JSON_BYTES, 100, 0);
	gzip_exact(8 * 4096, 4096, LIMIT_REPORT_JSON_BYTES, 100, 0);
	/* Each doubling, up to past the ratio floor. */
	for (size_t d = 32768; d <= 4 * 1024 * 1024; d *= 2) {
		gzip_exact(d, 0, LIMIT_REPORT_JSON_BYTES, UINT_MAX, 0);
		gzip_exact(d + 1, 0, LIMIT_REPORT_JSON_BYTES, UINT_MAX, 0);
	}
	/* max_out: exactly, one over; on a doubling boundary and off it. */
	gzip_exact(100000, 0, 100000, UINT_MAX, 0);
	gzip_exact(100001, 0, 100000, UINT_MAX, -1);
	gzip_exact(65536, 0, 65536, UINT_MAX, 0);
	gzip_exact(65537, 0, 65536, UINT_MAX, -1);
	gzip_exact(16384, 0, 16384, UINT_MAX, 0);
	gzip_exact(16385, 0, 16384, UINT_MAX, -1);
	gzip_exact(10, 0, 10, UINT_MAX, 0);
	gzip_exact(11, 0, 10, UINT_MAX, -1);
}

/* --- JSON output ---------------------------------------------------- */

static void
assert_strv_equal(const struct strv *a, const struct strv *b)
{
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++)
		assert_string_equal(a->v[i], b->v[i]);
}

static void
assert_opt_equal(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

static void
assert_report_equal(const struct tlsrpt_report *a,
    const struct tlsrpt_report *b)
{
	assert_string_equal(a->organization_name, b->organization_name);
	assert_opt_equal(a->contact_info, b->contact_info);
	assert_string_equal(a->report_id, b->report_id);
	assert_int_equal(a->start, b->start);
	assert_int_equal(a->end, b->end);
	assert_int_equal(a->npolicies, b->npolicies);
	for (size_t i = 0; i < a->npolicies; i++) {
		const struct tlsrpt_policy *p = &a->policies[i];
		const struct tlsrpt_policy *q = &b->policies[i];

		assert_string_equal(p->policy_type, q->policy_type);
		assert_strv_equal(&p->policy_string, &q->policy_string);
		assert_string_equal(p->policy_domain, q->policy_domain);
		assert_strv_equal(&p->mx_host, &q->mx_host);
		assert_int_equal(p->total_successful, q->total_successful);
		assert_int_equal(p->total_failure, q->total_failure);
		assert_int_equal(p->nfailures, q->nfailures);
		for (size_t j = 0; j < p->nfailures; j++) {
			const struct tlsrpt_failure *f = &p->failures[j];
			const struct tlsrpt_failure *g = &q->failures[j];

			assert_string_equal(f->result_type, g->result_type);
			assert_opt_equal(f->sending_mta_ip, g->sending_mta_ip);
			assert_opt_equal(f->receiving_mx_hostname,
			    g->receiving_mx_hostname);
			assert_opt_equal(f->receiving_mx_helo,
			    g->receiving_mx_helo);
			assert_opt_equal(f->receiving_ip, g->receiving_ip);
			assert_opt_equal(f->additional_information,
			    g->additional_information);
			assert_opt_equal(f->failure_reason_code,
			    g->failure_reason_code);
			assert_int_equal(f->failed_session_count,
			    g->failed_session_count);
		}
	}
}

/* The digests of a and b are equal. */
static void
assert_digest_equal(const struct tlsrpt_report *a,
    const struct tlsrpt_report *b)
{
	unsigned char da[32], db[32];

	assert_int_equal(tlsrpt_report_digest(a, da), 0);
	assert_int_equal(tlsrpt_report_digest(b, db), 0);
	assert_memory_equal(da, db, 32);
}

/* parse(json(parse(x))) == parse(x), and json() is stable from there;
 * so is the digest. */
static void
round_trip(const void *buf, size_t len)
{
	struct tlsrpt_report *a = parse_ok_len(buf, len), *b;
	char *j1 = tlsrpt_report_json(a, 0), *j2, *pretty;

	assert_non_null(j1);
	assert_non_null(strstr(j1, "\"mx-host\":["));
	assert_null(strstr(j1, "\"mx-host\":\""));
	b = parse_ok(j1);
	assert_report_equal(a, b);
	assert_digest_equal(a, b);
	j2 = tlsrpt_report_json(b, 0);
	assert_string_equal(j1, j2);
	pretty = tlsrpt_report_json(a, 2);
	assert_non_null(pretty);
	assert_non_null(strstr(pretty, "\n  \"date-range\": {\n"));
	tlsrpt_report_free(b);
	b = parse_ok(pretty);
	assert_report_equal(a, b);
	assert_digest_equal(a, b);
	free(pretty);
	free(j1);
	free(j2);
	tlsrpt_report_free(a);
	tlsrpt_report_free(b);
}

static void
test_json_output(void **state)
{
	struct tlsrpt_report *r = parse_ok(
	    "{\"report-id\":\"r\",\"policies\":[{\"summary\":"
	    "{\"total-successful-session-count\":1},\"policy\":{"
	    "\"policy-domain\":\"EXAMPLE.com\",\"mx-host\":\"mx.example.com\","
	    "\"policy-type\":\"sts\"}}],\"date-range\":{\"end-datetime\":"
	    "\"2026-05-12T01:00:00+01:00\",\"start-datetime\":"
	    "\"2026-05-11T00:00:00\"},\"organization-name\":\"O\"}");
	char *j = tlsrpt_report_json(r, 0);

	/* RFC order, Z times, mx-host as an array, absent fields left out,
	 * arrays always there. */
	assert_string_equal(j, "{\"organization-name\":\"O\",\"date-range\":"
	    "{\"start-datetime\":\"2026-05-11T00:00:00Z\",\"end-datetime\":"
	    "\"2026-05-12T00:00:00Z\"},\"report-id\":\"r\",\"policies\":[{"
	    "\"policy\":{\"policy-type\":\"sts\",\"policy-string\":[],"
	    "\"policy-domain\":\"example.com\",\"mx-host\":[\"mx.example.com\""
	    "]},\"summary\":{\"total-successful-session-count\":1,"
	    "\"total-failure-session-count\":0},\"failure-details\":[]}]}");
	free(j);
	tlsrpt_report_free(r);
	round_trip(rfc_example, strlen(rfc_example));
}

/* The digest tells apart reports that differ in any field, absent from
 * empty, and one string split differently across two fields. */
static void
test_digest(void **state)
{
	struct tlsrpt_report *r = parse_ok(rfc_example);
	struct tlsrpt_policy *p = &r->policies[0];
	struct tlsrpt_failure *f = &p->failures[0];
	unsigned char base[32], d[32];
	char *saved;

	assert_true(p->nfailures > 0 && p->mx_host.n > 0);
	assert_int_equal(tlsrpt_report_digest(r, base), 0);
#define CHANGED() do {							\
	assert_int_equal(tlsrpt_report_digest(r, d), 0);		\
	assert_memory_not_equal(base, d, 32);				\
} while (0)
#define SAME() do {							\
	assert_int_equal(tlsrpt_report_digest(r, d), 0);		\
	assert_memory_equal(base, d, 32);				\
} while (0)
	r->start++; CHANGED(); r->start--;
	r->end++; CHANGED(); r->end--;
	p->total_successful++; CHANGED(); p->total_successful--;
	p->total_failure++; CHANGED(); p->total_failure--;
	f->failed_session_count++; CHANGED(); f->failed_session_count--;
	p->nfailures--; CHANGED(); p->nfailures++;
	p->mx_host.n--; CHANGED(); p->mx_host.n++;
	r->quirks ^= 1; SAME(); r->quirks ^= 1;
	saved = r->contact_info;
	r->contact_info = NULL; CHANGED();
	r->contact_info = (char *)""; CHANGED();
	r->contact_info = saved; SAME();
	saved = f->sending_mta_ip;
	f->sending_mta_ip = NULL; CHANGED();
	f->sending_mta_ip = saved;
	/* "ab" + "c" against "a" + "bc": lengths frame the strings. */
	saved = r->organization_name;
	{
		char *rid = r->report_id;
		char a1[] = "ab", a2[] = "c", b1[] = "a", b2[] = "bc";
		unsigned char x[32], y[32];

		r->organization_name = a1;
		r->report_id = a2;
		assert_int_equal(tlsrpt_report_digest(r, x), 0);
		r->organization_name = b1;
		r->report_id = b2;
		assert_int_equal(tlsrpt_report_digest(r, y), 0);
		assert_memory_not_equal(x, y, 32);
		r->report_id = rid;
	}
	r->organization_name = saved;
	SAME();
#undef CHANGED
#undef SAME
	tlsrpt_report_free(r);
}

static const char *const data_files[] = {
	"001-google-style-success.json",
	"001-google-style-success.json.gz",
	"002-microsoft-style-sts-tlsa.json",
	"002-microsoft-style-sts-tlsa.json.gz",
	"003-failures-mismatch.json",
	"004-no-policy-found.json",
	"005-multi-policy.json",
	"006-split-entries-host-name.json",
};

static void
test_round_trip_data(void **state)
{
	char path[256];
	uint8_t *buf;
	size_t len;

	for (size_t i = 0; i < sizeof(data_files) / sizeof(data_files[0]);
	    i++) {
		snprintf(path, sizeof(path), DATA "%s", data_files[i]);
		buf = read_file(path, &len);
		round_trip(buf, len);
		free(buf);
	}
	for (size_t i = 0; i < sizeof(quirk_cases) / sizeof(quirk_cases[0]);
	    i++)
		round_trip(quirk_cases[i].json, strlen(quirk_cases[i].json));
}

/* Our own test reports, as the CLI golden tests and the demo see them. */
static struct tlsrpt_report *
parse_file(const char *name)
{
	char path[256];
	struct tlsrpt_report *r;
	uint8_t *buf;
	size_t len;

	snprintf(path, sizeof(path), DATA "%s", name);
	buf = read_file(path, &len);
	r = parse_ok_len(buf, len);
	free(buf);
	return r;
}

/* The counting rules, on entries made here (tlsrpt.h): views, details
 * over a total, ties, saturation. */
static void
test_count(void **state)
{
	struct tlsrpt_failure f[2] = { { .failed_session_count = 4 },
	    { .failed_session_count = 5 } };
	struct tlsrpt_policy p[3] = {
		{ .policy_type = "sts", .total_successful = 10,
		    .total_failure = 3, .failures = f, .nfailures = 2 },
		{ .policy_type = "no-policy-found", .total_successful = 1 },
		{ .policy_type = "tlsa", .total_successful = 12 },
	};
	struct tlsrpt_report r = { .policies = p, .npolicies = 3 };
	struct tlsrpt_views v;
	struct tlsrpt_counted c;
	uint64_t d;

	assert_int_equal(tlsrpt_policy_failed(&p[0], &d), 9);
	assert_int_equal(d, 9);
	p[0].total_failure = 20;	/* details under the total: the total */
	assert_int_equal(tlsrpt_policy_failed(&p[0], &d), 20);
	p[0].total_failure = 3;
	/* Policy view: 10 + 9 + 1 = 20 sessions; tlsa: 12. */
	tlsrpt_count(&r, &c);
	assert_int_equal(c.successful, 11);
	assert_int_equal(c.failed, 9);
	assert_true(c.two_views && c.details_over);
	/* tlsa larger: it counts; a tie: the policy view. */
	p[2].total_successful = 21;
	tlsrpt_count(&r, &c);
	assert_int_equal(c.successful, 21);
	assert_int_equal(c.failed, 0);
	p[2].total_successful = 20;
	tlsrpt_count(&r, &c);
	assert_int_equal(c.successful, 11);
	/* One view only. */
	r.npolicies = 2;
	tlsrpt_count(&r, &c);
	assert_false(c.two_views);
	/* Sums saturate. */
	memset(&v, 0, sizeof(v));
	tlsrpt_views_add(&v, TLSRPT_VIEW_TLSA, UINT64_MAX - 1, 0);
	tlsrpt_views_add(&v, TLSRPT_VIEW_TLSA, 5, UINT64_MAX);
	assert_true(v.successful[TLSRPT_VIEW_TLSA] == UINT64_MAX);
	assert_int_equal(tlsrpt_views_pick(&v), TLSRPT_VIEW_TLSA);
	assert_int_equal(tlsrpt_view("tlsa"), TLSRPT_VIEW_TLSA);
	assert_int_equal(tlsrpt_view(NULL), TLSRPT_VIEW_POLICY);
}

static void
test_data_files(void **state)
{
	struct tlsrpt_report *r, *g;
	uint64_t ok, bad;

	r = parse_file("001-google-style-success.json");
	g = parse_file("001-google-style-success.json.gz");
	assert_report_equal(r, g);
	counted(r, &ok, &bad);
	assert_int_equal(ok, 1843);
	assert_int_equal(bad, 0);
	assert_int_equal(r->quirks, TLSRPT_Q_FAILURE_DETAILS_ABSENT);
	tlsrpt_report_free(r);
	tlsrpt_report_free(g);

	r = parse_file("002-microsoft-style-sts-tlsa.json.gz");
	assert_int_equal(r->quirks, TLSRPT_Q_MX_HOST_ABSENT |
	    TLSRPT_Q_POLICY_STRING_NESTED | TLSRPT_Q_DATETIME_NO_TZ |
	    TLSRPT_Q_FAILURE_DETAILS_ABSENT);
	assert_int_equal(r->policies[1].policy_string.n, 2);
	assert_int_equal(r->end - r->start, 86399);
	/* The sts and the tlsa entry report the same 212 sessions. */
	{
		struct tlsrpt_counted c;

		tlsrpt_count(r, &c);
		assert_int_equal(c.successful, 212);
		assert_true(c.two_views);
		assert_false(c.details_over);
	}
	tlsrpt_report_free(r);

	r = parse_file("003-failures-mismatch.json");
	assert_string_equal(r->policies[0].policy_domain, "example.com");
	assert_int_equal(r->policies[0].nfailures, 4);
	assert_string_equal(r->policies[0].failures[0].receiving_mx_hostname,
	    "mx2.example.com");
	assert_int_equal(r->quirks, TLSRPT_Q_MX_HOST_STRING |
	    TLSRPT_Q_RECEIVING_MX_HOST_NAME | TLSRPT_Q_FAILURE_SUM_MISMATCH |
	    TLSRPT_Q_SENDING_IP_ABSENT | TLSRPT_Q_RECEIVING_ABSENT);
	/* Details add up to 10, the total says 9: the details count. */
	counted(r, &ok, &bad);
	assert_int_equal(ok, 57);
	assert_int_equal(bad, 10);
	tlsrpt_report_free(r);

	r = parse_file("004-no-policy-found.json");
	assert_null(r->contact_info);
	assert_int_equal(r->quirks, TLSRPT_Q_CONTACT_INFO_NULL |
	    TLSRPT_Q_POLICY_STRING_EMPTY | TLSRPT_Q_MX_HOST_EMPTY |
	    TLSRPT_Q_FAILURE_DETAILS_EMPTY);
	tlsrpt_report_free(r);

	r = parse_file("005-multi-policy.json");
	assert_int_equal(r->npolicies, 3);
	assert_true(r->quirks & TLSRPT_Q_DUPLICATE_POLICY);
	counted(r, &ok, &bad);
	assert_int_equal(ok, 96 + 1377);
	assert_int_equal(bad, 5);
	tlsrpt_report_free(r);

	r = parse_file("006-split-entries-host-name.json");
	assert_true(r->quirks & TLSRPT_Q_DUPLICATE_POLICY);
	assert_true(r->quirks & TLSRPT_Q_RECEIVING_MX_HOST_NAME);
	assert_true(r->quirks & TLSRPT_Q_MX_HOST_EMPTY);
	tlsrpt_report_free(r);
}

static void
test_totals_saturate(void **state)
{
	struct tlsrpt_policy p[2] = {
		{ .total_successful = UINT64_MAX - 1, .total_failure = 1 },
		{ .total_successful = 5, .total_failure = 2 },
	};
	struct tlsrpt_report r = { .policies = p, .npolicies = 2 };
	uint64_t ok, bad;

	tlsrpt_totals(&r, &ok, &bad);
	assert_true(ok == UINT64_MAX);
	assert_int_equal(bad, 3);
}

/* --- _smtp._tls record (RFC 8460 §3) ------------------------------- */

static void
record_ok(const char *txt, const char *want_rua, size_t want_warnings)
{
	struct tlsrpt_record r;
	struct strv w = { 0 };
	struct err e = { "" };
	char joined[1024] = "";
	size_t o = 0;

	if (tlsrpt_record_parse(txt, strlen(txt), &r, &w, &e) == -1)
		fail_msg("record \"%s\": %s", txt, e.msg);
	for (size_t i = 0; i < r.rua.n; i++)
		o += (size_t)snprintf(joined + o, sizeof(joined) - o, "%s%s",
		    i ? " " : "", r.rua.v[i]);
	assert_string_equal(joined, want_rua);
	assert_int_equal(w.n, want_warnings);
	tlsrpt_record_free(&r);
	strv_free(&w);
}

static void
record_err(const char *txt, const char *want)
{
	struct tlsrpt_record r;
	struct err e = { "" };

	if (tlsrpt_record_parse(txt, strlen(txt), &r, NULL, &e) != -1)
		fail_msg("record \"%s\" parsed, wanted \"%s\"", txt, want);
	assert_int_equal(r.rua.n, 0);
	assert_null(r.rua.v);
	if (strstr(e.msg, want) == NULL)
		fail_msg("record \"%s\": error \"%s\" lacks \"%s\"", txt,
		    e.msg, want);
}

static void
test_record_valid(void **state)
{
	/* RFC 8460 §3 examples. */
	record_ok("v=TLSRPTv1;rua=mailto:reports@example.com",
	    "mailto:reports@example.com", 0);
	record_ok("v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt",
	    "https://reporting.example.com/v1/tlsrpt", 0);
	record_ok("v=TLSRPTv1; rua=mailto:a@example.com, "
	    "https://r.example.net:8443/x?y=1",
	    "mailto:a@example.com https://r.example.net:8443/x?y=1", 0);
	record_ok("v=TLSRPTv1 ;\trua=mailto:a@example.com\t,\t"
	    "mailto:b@example.com ; ", "mailto:a@example.com "
	    "mailto:b@example.com", 0);
	record_ok("  v=TLSRPTv1; rua=mailto:a@example.com;",
	    "mailto:a@example.com", 0);
	record_ok("v=TLSRPTv1; rua=MAILTO:tls%2Brpt@example.com",
	    "MAILTO:tls%2Brpt@example.com", 0);
	record_ok("v=TLSRPTv1; rua=mailto:a@example.com?subject=tls",
	    "mailto:a@example.com?subject=tls", 0);
	record_ok("v=TLSRPTv1; rua=https://user@[2001:db8::1]:443/r",
	    "https://user@[2001:db8::1]:443/r", 0);
	record_ok("v=TLSRPTv1; rua=https://r.example.org",
	    "https://r.example.org", 0);
	/* Extensions are allowed and warned about. */
	record_ok("v=TLSRPTv1; ext.v-1_x=yes!; rua=mailto:a@example.com",
	    "mailto:a@example.com", 1);
	/* Several rua= fields: allowed by the grammar, merged, warned. */
	record_ok("v=TLSRPTv1; rua=mailto:a@example.com; "
	    "rua=mailto:b@example.com", "mailto:a@example.com "
	    "mailto:b@example.com", 1);
	/* Sixteen URIs are fine. */
	record_ok("v=TLSRPTv1; rua=mailto:a@e.x,mailto:a@e.x,mailto:a@e.x,"
	    "mailto:a@e.x,mailto:a@e.x,mailto:a@e.x,mailto:a@e.x,mailto:a@e.x,"
	    "mailto:a@e.x,mailto:a@e.x,mailto:a@e.x,mailto:a@e.x,mailto:a@e.x,"
	    "mailto:a@e.x,mailto:a@e.x,https://e.x",
	    "mailto:a@e.x mailto:a@e.x mailto:a@e.x mailto:a@e.x mailto:a@e.x "
	    "mailto:a@e.x mailto:a@e.x mailto:a@e.x mailto:a@e.x mailto:a@e.x "
	    "mailto:a@e.x mailto:a@e.x mailto:a@e.x mailto:a@e.x mailto:a@e.x "
	    "https://e.x", 0);
}

static void
test_record_invalid(void **state)
{
	char big[LIMIT_TXT_BYTES + 16];

	record_err("", "not a TLS-RPT record");
	record_err("v=spf1 -all", "not a TLS-RPT record: \"v=spf1 -all\"");
	record_err("rua=mailto:a@example.com; v=TLSRPTv1",
	    "must start with v=TLSRPTv1");
	record_err("v=TLSRPTv2; rua=mailto:a@example.com",
	    "unsupported version \"v=TLSRPTv2\"");
	record_err("v=TLSRPTv10; rua=mailto:a@example.com",
	    "unsupported version \"v=TLSRPTv10\"");
	record_err("v=tlsrptv1; rua=mailto:a@example.com", "not a TLS-RPT");
	record_err("v=TLSRPTv1", "missing rua=");
	record_err("v=TLSRPTv1;", "missing rua=");
	record_err("v=TLSRPTv1; ext=1", "missing rua=");
	record_err("v=TLSRPTv1; RUA=mailto:a@example.com", "missing rua=");
	record_err("v=TLSRPTv1; rua=", "rua= is empty");
	record_err("v=TLSRPTv1; rua=,, ,", "empty URI");
	record_err("v=TLSRPTv1; rua=mailto:a@example.com,", "empty URI");
	record_err("v=TLSRPTv1; rua=postmaster@example.com",
	    "rua URI \"postmaster@example.com\": no scheme");
	record_err("v=TLSRPTv1; rua=noscheme", "\"noscheme\": no scheme");
	record_err("v=TLSRPTv1; rua=http://r.example.net/x",
	    "rua URI \"http://r.example.net/x\": scheme \"http\" not "
	    "supported");
	record_err("v=TLSRPTv1; rua=mailto:", "needs an address");
	record_err("v=TLSRPTv1; rua=mailto:postmaster", "needs an address");
	record_err("v=TLSRPTv1; rua=mailto:@example.com", "needs an address");
	record_err("v=TLSRPTv1; rua=mailto:a@", "needs an address");
	record_err("v=TLSRPTv1; rua=mailto:a?x=b@c", "needs an address");
	record_err("v=TLSRPTv1; rua=https:/r.example.net", "needs //host");
	record_err("v=TLSRPTv1; rua=https:///x", "needs a host");
	record_err("v=TLSRPTv1; rua=https://r.example.net:/x", "empty port");
	record_err("v=TLSRPTv1; rua=https://r.example.net:44x/",
	    "port is not a number");
	record_err("v=TLSRPTv1; rua=https://[::1/x", "unclosed IP literal");
	record_err("v=TLSRPTv1; rua=mailto:a@example.com other",
	    "(a space, control or non-ASCII byte) at offset 20");
	record_err("v=TLSRPTv1; rua=mailto:a!b@example.com", "'!' at offset");
	record_err("v=TLSRPTv1; rua=mailto:a@ex\x01ple.com",
	    "\"mailto:a@ex\\x01ple.com\": ? (a space, control or non-ASCII");
	record_err("v=TLSRPTv1; rua=https://bad/%", "bad %-escape");
	record_err("v=TLSRPTv1; rua=https://bad/%zz", "bad %-escape");
	record_err("v=TLSRPTv1; rua=mailto:a@example.com;;",
	    "empty field (\";;\")");
	record_err("v=TLSRPTv1;; rua=mailto:a@example.com", "empty field");
	record_err("v=TLSRPTv1; rua=mailto:a@example.com; more=",
	    "field \"more\" has an empty value");
	record_err("v=TLSRPTv1; rua=mailto:a@example.com; "
	    "a12345678901234567890123456789012=1", "is not 1-32 letters");
	record_err("v=TLSRPTv1; rua=mailto:a@example.com; 1%=a",
	    "field name \"1%\": bad character");
	record_err("v=TLSRPTv1; rua=mailto:a@example.com; _x=a",
	    "field name \"_x\" is not");
	record_err("v=TLSRPTv1; rua=mailto:a@example.com; test==",
	    "value \"=\" holds");
	record_err("v=TLSRPTv1; rua=mailto:a@example.com; junk",
	    "field \"junk\" has no '='");
	record_err("v=TLSRPTv1; rua=mailto:a@e.x,mailto:a@e.x,mailto:a@e.x,"
	    "mailto:a@e.x,mailto:a@e.x,mailto:a@e.x,mailto:a@e.x,mailto:a@e.x,"
	    "mailto:a@e.x,mailto:a@e.x,mailto:a@e.x,mailto:a@e.x,mailto:a@e.x,"
	    "mailto:a@e.x,mailto:a@e.x,mailto:a@e.x,mailto:a@e.x",
	    "more than 16 rua URIs");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "v=TLSRPTv1; rua=mailto:a@", 25);
	record_err(big, "exceeds the limit of 4096");
	/* A NUL inside the text (len counts it) is no URI character. */
	{
		static const char nul[] = "v=TLSRPTv1; rua=mailto:a@b\0c";
		struct tlsrpt_record r;
		struct err e;

		assert_int_equal(tlsrpt_record_parse(nul, sizeof(nul) - 1, &r,
		    NULL, &e), -1);
		assert_non_null(strstr(e.msg, "\\x00"));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_example),
		cmocka_unit_test(test_conforming_no_quirks),
		cmocka_unit_test(test_result_types),
		cmocka_unit_test(test_quirks),
		cmocka_unit_test(test_quirk_names),
		cmocka_unit_test(test_policy_domain_form),
		cmocka_unit_test(test_nested_tlsa),
		cmocka_unit_test(test_leniencies),
		cmocka_unit_test(test_datetimes),
		cmocka_unit_test(test_format_time),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_not_utf8),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_array_limits),
		cmocka_unit_test(test_size_limits),
		cmocka_unit_test(test_token_limit),
		cmocka_unit_test(test_gzip_bomb),
		cmocka_unit_test(test_gzip),
		cmocka_unit_test(test_gzip_boundaries),
		cmocka_unit_test(test_json_output),
		cmocka_unit_test(test_digest),
		cmocka_unit_test(test_round_trip_data),
		cmocka_unit_test(test_count),
		cmocka_unit_test(test_data_files),
		cmocka_unit_test(test_totals_saturate),
		cmocka_unit_test(test_record_valid),
		cmocka_unit_test(test_record_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
