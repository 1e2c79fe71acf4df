/*
 * test_mime.c - finding TLS-RPT reports in e-mails (RFC 8460 §5.3): our
 * own messages for each shape, then the real e-mails of the shared corpus
 * (read in place from $CORPUS/tlsrpt/emails, default ../shared/corpus,
 * skipped when absent) against the reports the MANIFEST says they yield.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <glib.h>
#include <jansson.h>
#include <zlib.h>

#include "mime/mime.h"

static const char report_json[] =
    "{\"organization-name\":\"Example Sender\",\"date-range\":"
    "{\"start-datetime\":\"2026-01-01T00:00:00Z\",\"end-datetime\":"
    "\"2026-01-01T23:59:59Z\"},\"contact-info\":\"tlsrpt@example.test\","
    "\"report-id\":\"2026-01-01T00:00:00Z_customer1.test\",\"policies\":"
    "[{\"policy\":{\"policy-type\":\"sts\",\"policy-domain\":"
    "\"customer1.test\"},\"summary\":{\"total-successful-session-count\":"
    "5,\"total-failure-session-count\":0}}]}";

static uint8_t *gz;		/* report_json gzipped */
static size_t	gzlen;
static char    *gz64;		/* and in base64, 76-column lines */

static void
make_gzip(void)
{
	z_stream z;
	gchar *b64;
	size_t n, o = 0;

	memset(&z, 0, sizeof(z));
	gz = malloc(1024);
	assert_non_null(gz);
	assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 31, 8,
	    Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (Bytef *)report_json;
	z.avail_in = sizeof(report_json) - 1;
	z.next_out = gz;
	z.avail_out = 1024;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	gzlen = 1024 - z.avail_out;
	deflateEnd(&z);
	b64 = g_base64_encode(gz, gzlen);
	n = strlen(b64);
	gz64 = malloc(n + n / 76 * 2 + 3);
	assert_non_null(gz64);
	for (size_t i = 0; i < n; i += 76) {
		size_t k = n - i < 76 ? n - i : 76;

		memcpy(gz64 + o, b64 + i, k);
		o += k;
		gz64[o++] = '\r';
		gz64[o++] = '\n';
	}
	gz64[o] = '\0';
	g_free(b64);
}

/* Builds a message from a printf template, with "\n" turned into "\r\n"
 * when crlf (gz64's own CRLFs are turned into LF when not). */
static char *
build(bool crlf, const char *fmt, ...)
{
	char *raw, *out;
	size_t n, o = 0;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&raw, fmt, ap);
	va_end(ap);
	assert_true(r >= 0);
	n = strlen(raw);
	out = malloc(n * 2 + 1);
	assert_non_null(out);
	for (size_t i = 0; i < n; i++) {
		if (raw[i] == '\r')
			continue;
		if (raw[i] == '\n' && crlf)
			out[o++] = '\r';
		out[o++] = raw[i];
	}
	out[o] = '\0';
	free(raw);
	return out;
}

static struct mime_message *
extract_ok(const char *msg)
{
	struct mime_message *m = NULL;
	struct err e = { "" };

	if (mime_report_extract((const uint8_t *)msg, strlen(msg), &m,
	    &e) != 0)
		fail_msg("unexpected error: %s", e.msg);
	assert_non_null(m);
	return m;
}

static void
extract_fails(const char *msg, size_t len, const char *want)
{
	struct mime_message *m = (void *)1;
	struct err e = { "" };

	assert_int_equal(mime_report_extract((const uint8_t *)msg, len, &m,
	    &e), -1);
	assert_null(m);
	assert_string_equal(e.msg, want);
}

static void
assert_gz_report(const struct mime_report *r)
{
	assert_int_equal(r->len, gzlen);
	assert_memory_equal(r->data, gz, gzlen);
}

#define HDRS \
    "From: TLS Reporting <noreply-smtp-tls-reporting@example.test>\n" \
    "To: tlsrpt+abc@stshost.test\n" \
    "Subject: Report Domain: customer1.test Submitter: example.test\n" \
    " Report-ID: <2026-01-01T00:00:00Z_customer1.test>\n" \
    "Date: Fri, May 09 2017 16:54:30 -0800\n" \
    "Message-ID: <r1@example.test>\n" \
    "MIME-Version: 1.0\n"

static const char rfc8460_tpl[] =
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\n"
    "\td=Example.TEST; s=sel; h=from:to:subject; bh=x; b=y\n"
    HDRS
    "TLS-Report-Domain: customer1.test\n"
    "TLS-Report-Submitter: example.test\n"
    "Content-Type: multipart/report; report-type=\"tlsrpt\";\n"
    "\tboundary=\"----=_b1\"\n"
    "\n"
    "preamble\n"
    "------=_b1\n"
    "Content-Type: text/plain; charset=us-ascii\n"
    "\n"
    "This is an aggregate TLS report from example.test\n"
    "\n"
    "------=_b1\n"
    "Content-Type: application/tlsrpt+gzip\n"
    "Content-Transfer-Encoding: base64\n"
    "Content-Disposition: attachment;\n"
    "\tfilename=\"example.test!customer1.test!1767225600!1767311999!001"
    ".json.gz\"\n"
    "\n"
    "%s"
    "------=_b1--\n";

/* RFC 8460 §5.3 shape, CRLF and LF. */
static void
test_rfc8460_gzip(void **state)
{
	for (int crlf = 0; crlf < 2; crlf++) {
		char *msg = build(crlf, rfc8460_tpl, gz64);
		struct mime_message *m = extract_ok(msg);

		assert_int_equal(m->nreports, 1);
		assert_gz_report(&m->reports[0]);
		assert_int_equal(m->reports[0].source, MIME_SRC_TLSRPT_PART);
		assert_string_equal(m->reports[0].content_type,
		    "application/tlsrpt+gzip");
		assert_string_equal(m->reports[0].filename, "example.test!"
		    "customer1.test!1767225600!1767311999!001.json.gz");
		assert_string_equal(m->from_domain, "example.test");
		assert_string_equal(m->message_id, "r1@example.test");
		assert_string_equal(m->subject, "Report Domain: customer1.test "
		    "Submitter: example.test Report-ID: "
		    "<2026-01-01T00:00:00Z_customer1.test>");
		assert_true(m->dkim_present);
		assert_int_equal(m->nparts, 2);
		mime_message_free(m);
		free(msg);
	}
}

/* application/tlsrpt+json, quoted-printable; and plain application/tlsrpt
 * with raw JSON and no transfer encoding (Stalwart, quirk 12). */
static void
test_tlsrpt_json_variants(void **state)
{
	static const char tpl[] = HDRS
	    "Content-Type: multipart/report; report-type=tlsrpt; boundary=B\n"
	    "\n"
	    "--B\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "human\n"
	    "--B\n"
	    "Content-Type: %s\n"
	    "%s"
	    "\n"
	    "%s\n"
	    "--B--\n";
	char qp[sizeof(report_json) * 2], *msg;
	struct mime_message *m;
	size_t o = 0;

	/* Soft line breaks every 60 columns, '=' as =3D. */
	for (size_t i = 0; report_json[i] != '\0'; i++) {
		if (i > 0 && i % 60 == 0) {
			memcpy(qp + o, "=\n", 2);
			o += 2;
		}
		if (report_json[i] == '=') {
			memcpy(qp + o, "=3D", 3);
			o += 3;
		} else {
			qp[o++] = report_json[i];
		}
	}
	qp[o] = '\0';
	msg = build(true, tpl, "application/tlsrpt+json; name=r.json",
	    "Content-Transfer-Encoding: quoted-printable\n", qp);
	m = extract_ok(msg);
	assert_int_equal(m->nreports, 1);
	assert_int_equal(m->reports[0].len, sizeof(report_json) - 1);
	assert_memory_equal(m->reports[0].data, report_json,
	    sizeof(report_json) - 1);
	assert_string_equal(m->reports[0].content_type,
	    "application/tlsrpt+json");
	assert_false(m->dkim_present);
	mime_message_free(m);
	free(msg);

	msg = build(false, tpl, "Application/TLSRPT", "", report_json);
	m = extract_ok(msg);
	assert_int_equal(m->nreports, 1);
	assert_int_equal(m->reports[0].source, MIME_SRC_TLSRPT_PART);
	assert_null(m->reports[0].filename);
	/* The part's body is the JSON and its last line end. */
	assert_true(m->reports[0].len >= sizeof(report_json) - 1);
	assert_memory_equal(m->reports[0].data, report_json,
	    sizeof(report_json) - 1);
	mime_message_free(m);
	free(msg);
}

/* No application/tlsrpt part: attachments named *.json(.gz) with other
 * types, as seen from some senders and mailing tools (swaks). */
static void
test_named_attachments(void **state)
{
	static const char tpl[] = HDRS
	    "Content-Type: multipart/mixed; boundary=\"=b\"\n"
	    "\n"
	    "--=b\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "see attached\n"
	    "--=b\n"
	    "Content-Type: %s\n"
	    "Content-Transfer-Encoding: base64\n"
	    "Content-Disposition: attachment; filename=\"%s\"\n"
	    "\n"
	    "%s"
	    "--=b\n"
	    "Content-Type: application/pdf; name=\"x.pdf\"\n"
	    "Content-Transfer-Encoding: base64\n"
	    "\n"
	    "AAAA\n"
	    "--=b--\n";
	static const char *types[] = { "application/octet-stream",
	    "application/gzip", "application/x-gzip" };
	struct mime_message *m;
	gchar *json64;
	char *msg;

	for (size_t i = 0; i < 3; i++) {
		msg = build(i % 2, tpl, types[i], "a!b!1!2!001.JSON.GZ", gz64);
		m = extract_ok(msg);
		assert_int_equal(m->nreports, 1);
		assert_gz_report(&m->reports[0]);
		assert_int_equal(m->reports[0].source, MIME_SRC_ATTACHMENT);
		assert_string_equal(m->reports[0].content_type, types[i]);
		assert_int_equal(m->nparts, 3);
		mime_message_free(m);
		free(msg);
	}
	json64 = g_base64_encode((const guchar *)report_json,
	    sizeof(report_json) - 1);
	msg = build(true, tpl, "application/json", "report.json", json64);
	g_free(json64);
	m = extract_ok(msg);
	assert_int_equal(m->nreports, 1);
	assert_memory_equal(m->reports[0].data, report_json,
	    sizeof(report_json) - 1);
	mime_message_free(m);
	free(msg);
}

/* A tlsrpt part wins over a named attachment; both shapes may repeat. */
static void
test_priority_and_several(void **state)
{
	static const char tpl[] = HDRS
	    "Content-Type: multipart/mixed; boundary=b\n"
	    "\n"
	    "--b\n"
	    "Content-Type: application/json; name=other.json\n"
	    "\n"
	    "{\"not\":\"this\"}\n"
	    "--b\n"
	    "Content-Type: application/tlsrpt+gzip\n"
	    "Content-Transfer-Encoding: base64\n"
	    "\n"
	    "%s"
	    "--b\n"
	    "Content-Type: application/tlsrpt+gzip\n"
	    "Content-Transfer-Encoding: base64\n"
	    "\n"
	    "%s"
	    "--b--\n";
	char *msg = build(true, tpl, gz64, gz64);
	struct mime_message *m = extract_ok(msg);

	assert_int_equal(m->nreports, 2);
	assert_gz_report(&m->reports[0]);
	assert_gz_report(&m->reports[1]);
	mime_message_free(m);
	free(msg);
}

/* A report forwarded: multipart/mixed > message/rfc822 > multipart/report
 * > multipart/alternative, nested; and a multipart inside a multipart. */
static void
test_nested(void **state)
{
	static const char tpl[] =
	    "From: admin@customer1.test\n"
	    "Subject: Fwd: report\n"
	    "Content-Type: multipart/mixed; boundary=outer\n"
	    "\n"
	    "--outer\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "forwarding\n"
	    "--outer\n"
	    "Content-Type: message/rfc822\n"
	    "\n"
	    HDRS
	    "Content-Type: multipart/report; report-type=tlsrpt; "
	    "boundary=inner\n"
	    "\n"
	    "--inner\n"
	    "Content-Type: multipart/alternative; boundary=alt\n"
	    "\n"
	    "--alt\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "plain\n"
	    "--alt\n"
	    "Content-Type: text/html\n"
	    "\n"
	    "<p>html</p>\n"
	    "--alt--\n"
	    "--inner\n"
	    "Content-Type: application/tlsrpt+gzip\n"
	    "Content-Transfer-Encoding: base64\n"
	    "\n"
	    "%s"
	    "--inner--\n"
	    "--outer--\n";
	char *msg = build(false, tpl, gz64);
	struct mime_message *m = extract_ok(msg);

	assert_int_equal(m->nreports, 1);
	assert_gz_report(&m->reports[0]);
	assert_int_equal(m->nparts, 4);
	/* The outer message's From, not the forwarded one's. */
	assert_string_equal(m->from_domain, "customer1.test");
	mime_message_free(m);
	free(msg);
}

/* Mail.ru: the last boundary line lacks its trailing "--". */
static void
test_missing_close_delimiter(void **state)
{
	static const char tpl[] = HDRS
	    "Content-Type: multipart/report; report-type=tlsrpt; "
	    "boundary=\"mru\"\n"
	    "\n"
	    "--mru\n"
	    "Content-Type: text/plain; charset=utf-8\n"
	    "\n"
	    "This is an aggregate TLS report from mail.ru\n"
	    "--mru\n"
	    "Content-Type: application/tlsrpt+gzip; name=\"r.json.gz\"\n"
	    "Content-Transfer-Encoding: base64\n"
	    "\n"
	    "%s"
	    "--mru\n";

	for (int crlf = 0; crlf < 2; crlf++) {
		char *msg = build(crlf, tpl, gz64);
		struct mime_message *m = extract_ok(msg);

		assert_int_equal(m->nreports, 1);
		assert_gz_report(&m->reports[0]);
		mime_message_free(m);
		free(msg);
	}
}

/* Single-part bodies: the report is the body when it looks like one. */
static void
test_whole_body(void **state)
{
	struct mime_message *m;
	char *msg;

	msg = build(true, HDRS "Content-Type: application/gzip\n"
	    "Content-Transfer-Encoding: base64\n\n%s", gz64);
	m = extract_ok(msg);
	assert_int_equal(m->nreports, 1);
	assert_gz_report(&m->reports[0]);
	assert_int_equal(m->reports[0].source, MIME_SRC_BODY);
	assert_string_equal(m->reports[0].content_type, "application/gzip");
	mime_message_free(m);
	free(msg);

	/* No Content-Type at all: text/plain, JSON after blank lines. */
	msg = build(false, "From: a@example.test\nSubject: r\n\n\n  %s\n",
	    report_json);
	m = extract_ok(msg);
	assert_int_equal(m->nreports, 1);
	assert_int_equal(m->reports[0].source, MIME_SRC_BODY);
	assert_string_equal(m->reports[0].content_type, "text/plain");
	assert_non_null(strstr((char *)m->reports[0].data, "\"report-id\""));
	mime_message_free(m);
	free(msg);

	msg = build(false, "From: a@example.test\n\nHello, no report here.\n");
	extract_fails(msg, strlen(msg), "no application/tlsrpt part or "
	    "*.json(.gz) attachment in 1 MIME part, and the body is neither "
	    "gzip nor JSON");
	free(msg);
}

static void
test_no_report(void **state)
{
	static const char msg[] = HDRS
	    "Content-Type: multipart/mixed; boundary=b\n"
	    "\n"
	    "--b\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "{\"looks\":\"like json but is a text part of a multipart\"}\n"
	    "--b\n"
	    "Content-Type: application/pdf; name=\"report.pdf\"\n"
	    "\n"
	    "x\n"
	    "--b\n"
	    "Content-Type: application/octet-stream; name=\"report.json.zip\"\n"
	    "\n"
	    "x\n"
	    "--b--\n";

	extract_fails(msg, sizeof(msg) - 1, "no application/tlsrpt part or "
	    "*.json(.gz) attachment in 3 MIME parts");
	extract_fails("", 0, "empty message");
	extract_fails(HDRS "Content-Type: multipart/report; boundary=b\n\n"
	    "--b\nContent-Type: application/tlsrpt+gzip\n"
	    "Content-Transfer-Encoding: base64\n\n\n--b--\n", 0 + strlen(
	    HDRS "Content-Type: multipart/report; boundary=b\n\n"
	    "--b\nContent-Type: application/tlsrpt+gzip\n"
	    "Content-Transfer-Encoding: base64\n\n\n--b--\n"),
	    "application/tlsrpt part 1 of 1: empty part");
}

static void
test_dkim_and_headers(void **state)
{
	static const struct {
		const char *from, *dkim;
		bool want;
	} cases[] = {
		{ "a@google.com", "v=1; d=google.com; s=x", true },
		{ "a@Mail.Google.com", "v=1; d = google.com ; s=x", true },
		{ "a@google.com", "v=1; d=mail.google.com; s=x", false },
		{ "a@evilgoogle.com", "v=1; d=google.com; s=x", false },
		{ "a@google.com", "v=1; d=com; s=x", false },
		{ "a@google.com", "v=1; s=x; dd=google.com", false },
		{ "a@google.com", NULL, false },
	};
	struct mime_message *m;
	char *msg;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		msg = build(false, "%s%s%sFrom: <%s>\n"
		    "Subject: =?utf-8?q?R=C3=A9port?=\n\n%s\n",
		    cases[i].dkim ? "DKIM-Signature: " : "",
		    cases[i].dkim ? cases[i].dkim : "",
		    cases[i].dkim ? "\n" : "", cases[i].from, report_json);
		m = extract_ok(msg);
		if (m->dkim_present != cases[i].want)
			fail_msg("case %zu: dkim_present %d", i,
			    m->dkim_present);
		assert_string_equal(m->subject, "R\xc3\xa9port");
		assert_null(m->message_id);
		mime_message_free(m);
		free(msg);
	}
	msg = build(false, "Subject: no from\n\n%s\n", report_json);
	m = extract_ok(msg);
	assert_null(m->from_domain);
	assert_false(m->dkim_present);
	mime_message_free(m);
	free(msg);
}

/* GMime recurses per container: deep nesting is refused up front. */
static void
test_limits(void **state)
{
	size_t cap = 256 * 1024, o = 0;
	char *msg = malloc(cap);
	int depth = 2000;

	assert_non_null(msg);
	o += (size_t)snprintf(msg + o, cap - o, "From: a@b.test\n");
	for (int i = 0; i < depth; i++)
		o += (size_t)snprintf(msg + o, cap - o, "Content-Type: "
		    "multipart/mixed; boundary=b%d\n\n--b%d\n", i, i);
	extract_fails(msg, o, "more than 16 multipart/ or message/ "
	    "containers");
	/* Many leaf parts. */
	o = (size_t)snprintf(msg, cap, "From: a@b.test\nContent-Type: "
	    "multipart/mixed; boundary=b\n\n");
	for (int i = 0; i < 100; i++)
		o += (size_t)snprintf(msg + o, cap - o, "--b\n\nx\n");
	o += (size_t)snprintf(msg + o, cap - o, "--b--\n");
	extract_fails(msg, o, "more than 64 MIME parts");
	free(msg);
}

/* ------------------------------------------------------------------ */
/* The shared corpus, per MANIFEST "TLS-RPT e-mails".                   */

static uint8_t *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (f == NULL)
		return NULL;
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

/* Inflates a gzip report and checks it is a JSON object. */
static void
assert_report_parses(const uint8_t *data, size_t len, const char *name)
{
	uint8_t out[1 << 16];
	json_t *j;
	json_error_t je;
	size_t jlen = len;
	const uint8_t *jtext = data;

	if (len >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
		z_stream z;

		memset(&z, 0, sizeof(z));
		assert_int_equal(inflateInit2(&z, 31), Z_OK);
		z.next_in = (Bytef *)data;
		z.avail_in = (uInt)len;
		z.next_out = out;
		z.avail_out = sizeof(out);
		if (inflate(&z, Z_FINISH) != Z_STREAM_END)
			fail_msg("%s: report does not gunzip", name);
		jlen = sizeof(out) - z.avail_out;
		jtext = out;
		inflateEnd(&z);
	}
	if ((j = json_loadb((const char *)jtext, jlen, 0, &je)) == NULL)
		fail_msg("%s: report is not JSON: %s", name, je.text);
	assert_true(json_is_object(j));
	assert_non_null(json_object_get(j, "report-id"));
	json_decref(j);
}

static void
test_corpus_emails(void **state)
{
	static const struct {
		const char *eml, *report;	/* NULL: not a report */
	} cases[] = {
		{ "parsedmarc-google-cardinalhealth.eml",
		    "parsedmarc-google-cardinalhealth-no-policy-found.json.gz" },
		{ "stalwart-rfc8460-example-gzip-attachment.eml",
		    "stalwart-rfc8460-example-from-eml.json.gz" },
		{ "stalwart-plain-json-attachment.eml",
		    "stalwart-google-certificate-host-mismatch.json" },
		{ "isseis-google-success-1.eml", "isseis-google-success-1.json.gz" },
		{ "isseis-google-success-2.eml", "isseis-google-success-2.json.gz" },
		{ "isseis-google-failure-edited.eml",
		    "isseis-google-failure-edited.json.gz" },
		{ "isseis-microsoft-success.eml",
		    "isseis-microsoft-success.json.gz" },
		{ "mox-google-test.xmox.nl.eml", "mox-google-test.xmox.nl.json.gz" },
		{ "mox-microsoft-no-timezone.eml",
		    "mox-microsoft-no-timezone.json.gz" },
		{ "kravietz-google-1.eml", "kravietz-google-1.json.gz" },
		{ "kravietz-google-2.eml", "kravietz-google-2.json.gz" },
		{ "kravietz-mailru-fetch-timeout.eml",
		    "kravietz-mailru-fetch-timeout.json.gz" },
		{ "kravietz-microsoft-sts-and-tlsa.eml",
		    "kravietz-microsoft-sts-and-tlsa.json.gz" },
		{ "kravietz-not-a-report-cron-mail.eml", NULL },
		{ "mailtlsrpt-google-fastmaildmarc.eml",
		    "mailtlsrpt-google-fastmaildmarc-no-policy-found.json.gz" },
	};
	const char *corpus = getenv("CORPUS");
	char path[1024];
	size_t len, rlen, seen = 0;
	uint8_t *eml, *want;

	if (corpus == NULL || corpus[0] == '\0')
		corpus = "../shared/corpus";
	snprintf(path, sizeof(path), "%s/tlsrpt/emails", corpus);
	if (access(path, R_OK) != 0) {
		print_message("corpus %s absent: skipped\n", path);
		skip();
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mime_message *m = NULL;
		struct err e = { "" };
		int rc;

		snprintf(path, sizeof(path), "%s/tlsrpt/emails/%s", corpus,
		    cases[i].eml);
		if ((eml = slurp(path, &len)) == NULL)
			fail_msg("cannot read %s", path);
		rc = mime_report_extract(eml, len, &m, &e);
		free(eml);
		if (cases[i].report == NULL) {
			assert_int_equal(rc, -1);
			assert_string_equal(e.msg, "no application/tlsrpt part "
			    "or *.json(.gz) attachment in 1 MIME part, and the "
			    "body is neither gzip nor JSON");
			seen++;
			continue;
		}
		if (rc != 0)
			fail_msg("%s: %s", cases[i].eml, e.msg);
		assert_int_equal(m->nreports, 1);
		assert_report_parses(m->reports[0].data, m->reports[0].len,
		    cases[i].eml);
		snprintf(path, sizeof(path), "%s/tlsrpt/reports/%s", corpus,
		    cases[i].report);
		if ((want = slurp(path, &rlen)) == NULL)
			fail_msg("cannot read %s", path);
		/* A JSON part's last line end is part of its body (RFC 2046
		 * gives only the CRLF before the delimiter to the delimiter),
		 * while the corpus file was saved without it. */
		len = m->reports[0].len;
		while (want[0] == '{' && len > 0 &&
		    (m->reports[0].data[len - 1] == '\n' ||
		    m->reports[0].data[len - 1] == '\r'))
			len--;
		while (want[0] == '{' && rlen > 0 && (want[rlen - 1] == '\n' ||
		    want[rlen - 1] == '\r'))
			rlen--;
		if (len != rlen || memcmp(m->reports[0].data, want, rlen) != 0)
			fail_msg("%s: extracted %zu bytes differ from %s (%zu)",
			    cases[i].eml, m->reports[0].len, cases[i].report,
			    rlen);
		assert_non_null(m->from_domain);
		assert_non_null(m->subject);
		free(want);
		mime_message_free(m);
		seen++;
	}
	assert_int_equal(seen, 15);
}

static int
setup(void **state)
{
	mime_init();
	make_gzip();
	return 0;
}

static int
teardown(void **state)
{
	free(gz);
	free(gz64);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc8460_gzip),
		cmocka_unit_test(test_tlsrpt_json_variants),
		cmocka_unit_test(test_named_attachments),
		cmocka_unit_test(test_priority_and_several),
		cmocka_unit_test(test_nested),
		cmocka_unit_test(test_missing_close_delimiter),
		cmocka_unit_test(test_whole_body),
		cmocka_unit_test(test_no_report),
		cmocka_unit_test(test_dkim_and_headers),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_corpus_emails),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
