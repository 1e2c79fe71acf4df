/*
 * tlsrpt_json.c - writes a parsed report back as RFC 8460 §4.4 JSON,
 * normalized, for the API, the dashboard's raw view and exports; and
 * the digest of that normalized form, which tells two reports apart.
 *
 * Output, keys in the RFC's order (JSON_PRESERVE_ORDER):
 *
 *	{ "organization-name", "date-range": { "start-datetime",
 *	  "end-datetime" }, "contact-info"?, "report-id",
 *	  "policies": [ { "policy": { "policy-type", "policy-string": [],
 *	    "policy-domain"?, "mx-host": [] },
 *	    "summary": { "total-successful-session-count",
 *	      "total-failure-session-count" },
 *	    "failure-details": [ { "result-type", "sending-mta-ip"?,
 *	      "receiving-mx-hostname"?, "receiving-mx-helo"?,
 *	      "receiving-ip"?, "failed-session-count",
 *	      "additional-information"?, "failure-reason-code"? } ] } ] }
 *
 * "?" marks a key left out when the value is absent (NULL, or "" for
 * policy-domain). Arrays are always written, empty or not; datetimes are
 * always "YYYY-MM-DDThh:mm:ssZ". Quirks are not part of the output: the
 * normalized text is what the RFC asks for. tlsrpt_parse() reads the
 * output back into an equal report.
 *
 * Never does I/O; never fails except for lack of memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "tlsrpt.h"

void
tlsrpt_format_time(time_t t, char buf[21])
{
	char tmp[80];
	struct tm tm;
	size_t n;

	/* Parsed times lie in 1970..9999, so this always fits 20 chars. */
	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
	n = strnlen(tmp, 20);
	memcpy(buf, tmp, n);
	buf[n] = '\0';
}

/* Adds key = value to o. Values that are NULL are left out. Returns 0,
 * or -1 when out of memory (the value is freed either way). */
static int
tj_set(json_t *o, const char *key, json_t *value)
{
	if (value == NULL)
		return -1;
	return json_object_set_new(o, key, value);
}

static int
tj_set_str(json_t *o, const char *key, const char *s)
{
	if (s == NULL)
		return 0;
	return tj_set(o, key, json_string(s));
}

/* Counts come from json_int_t, so they fit; clamp for safety. */
static json_t *
tj_count(uint64_t n)
{
	return json_integer(n > INT64_MAX ? INT64_MAX : (json_int_t)n);
}

static json_t *
tj_strv(const struct strv *sv)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < sv->n; i++)
		if (json_array_append_new(a, json_string(sv->v[i])) == -1) {
			json_decref(a);
			a = NULL;
		}
	return a;
}

static json_t *
tj_failure(const struct tlsrpt_failure *f)
{
	json_t *o = json_object();

	if (o == NULL ||
	    tj_set_str(o, "result-type", f->result_type) == -1 ||
	    tj_set_str(o, "sending-mta-ip", f->sending_mta_ip) == -1 ||
	    tj_set_str(o, "receiving-mx-hostname",
	    f->receiving_mx_hostname) == -1 ||
	    tj_set_str(o, "receiving-mx-helo", f->receiving_mx_helo) == -1 ||
	    tj_set_str(o, "receiving-ip", f->receiving_ip) == -1 ||
	    tj_set(o, "failed-session-count",
	    tj_count(f->failed_session_count)) == -1 ||
	    tj_set_str(o, "additional-information",
	    f->additional_information) == -1 ||
	    tj_set_str(o, "failure-reason-code",
	    f->failure_reason_code) == -1) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *
tj_policy(const struct tlsrpt_policy *p)
{
	json_t *entry = json_object(), *pol = json_object(),
	    *sum = json_object(), *fails = json_array();
	json_t *ret = NULL;

	if (entry == NULL || pol == NULL || sum == NULL || fails == NULL)
		goto out;
	if (tj_set_str(pol, "policy-type", p->policy_type) == -1 ||
	    tj_set(pol, "policy-string", tj_strv(&p->policy_string)) == -1 ||
	    tj_set_str(pol, "policy-domain", p->policy_domain[0] ?
	    p->policy_domain : NULL) == -1 ||
	    tj_set(pol, "mx-host", tj_strv(&p->mx_host)) == -1)
		goto out;
	if (tj_set(sum, "total-successful-session-count",
	    tj_count(p->total_successful)) == -1 ||
	    tj_set(sum, "total-failure-session-count",
	    tj_count(p->total_failure)) == -1)
		goto out;
	for (size_t i = 0; i < p->nfailures; i++)
		if (json_array_append_new(fails,
		    tj_failure(&p->failures[i])) == -1)
			goto out;
	if (json_object_set(entry, "policy", pol) == -1 ||
	    json_object_set(entry, "summary", sum) == -1 ||
	    json_object_set(entry, "failure-details", fails) == -1)
		goto out;
	ret = entry;
	entry = NULL;
out:
	json_decref(entry);
	json_decref(pol);
	json_decref(sum);
	json_decref(fails);
	return ret;
}

char *
tlsrpt_report_json(const struct tlsrpt_report *r, int indent)
{
	json_t *o = json_object(), *dr = json_object(), *pols = json_array();
	char t1[21], t2[21];
	size_t flags;
	char *text = NULL;

	if (o == NULL || dr == NULL || pols == NULL)
		goto out;
	tlsrpt_format_time(r->start, t1);
	tlsrpt_format_time(r->end, t2);
	if (tj_set(dr, "start-datetime", json_string(t1)) == -1 ||
	    tj_set(dr, "end-datetime", json_string(t2)) == -1)
		goto out;
	for (size_t i = 0; i < r->npolicies; i++)
		if (json_array_append_new(pols,
		    tj_policy(&r->policies[i])) == -1)
			goto out;
	if (tj_set_str(o, "organization-name", r->organization_name) == -1 ||
	    json_object_set(o, "date-range", dr) == -1 ||
	    tj_set_str(o, "contact-info", r->contact_info) == -1 ||
	    tj_set_str(o, "report-id", r->report_id) == -1 ||
	    json_object_set(o, "policies", pols) == -1)
		goto out;
	flags = JSON_PRESERVE_ORDER;
	if (indent > 0)
		flags |= JSON_INDENT(indent > 31 ? 31 : indent);
	else
		flags |= JSON_COMPACT;
	text = json_dumps(o, flags);
out:
	json_decref(o);
	json_decref(dr);
	json_decref(pols);
	return text;
}

/* --- the digest of the normalized report ------------------------------
 *
 * What tlsrpt_report_json writes is fixed by the parsed fields (quirks
 * aside), so the digest hashes those fields themselves, in the output's
 * order, each framed so that no two reports feed the same bytes: a
 * string as 0 (absent) or 1, its length (8 bytes, big-endian) and its
 * bytes; a number as 8 bytes big-endian; a list as its count, then its
 * items. 2 us a report here (bench/intake's reports), where writing the
 * JSON and hashing it took 14: it runs once per report on intake. */

static void
tlsrpt_dig_u64(EVP_MD_CTX *h, uint64_t v)
{
	unsigned char b[8];

	for (int i = 7; i >= 0; i--) {
		b[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
	EVP_DigestUpdate(h, b, sizeof(b));
}

static void
tlsrpt_dig_str(EVP_MD_CTX *h, const char *s)
{
	unsigned char present = s != NULL;

	EVP_DigestUpdate(h, &present, 1);
	if (s == NULL)
		return;
	tlsrpt_dig_u64(h, strlen(s));
	EVP_DigestUpdate(h, s, strlen(s));
}

static void
tlsrpt_dig_strv(EVP_MD_CTX *h, const struct strv *sv)
{
	tlsrpt_dig_u64(h, sv->n);
	for (size_t i = 0; i < sv->n; i++)
		tlsrpt_dig_str(h, sv->v[i]);
}

int
tlsrpt_report_digest(const struct tlsrpt_report *r, unsigned char out[32])
{
	EVP_MD_CTX *h = EVP_MD_CTX_new();
	unsigned int n = 0;
	int ok;

	if (h == NULL || EVP_DigestInit_ex(h, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(h);
		return -1;
	}
	tlsrpt_dig_str(h, r->organization_name);
	tlsrpt_dig_u64(h, (uint64_t)r->start);
	tlsrpt_dig_u64(h, (uint64_t)r->end);
	tlsrpt_dig_str(h, r->contact_info);
	tlsrpt_dig_str(h, r->report_id);
	tlsrpt_dig_u64(h, r->npolicies);
	for (size_t i = 0; i < r->npolicies; i++) {
		const struct tlsrpt_policy *p = &r->policies[i];

		tlsrpt_dig_str(h, p->policy_type);
		tlsrpt_dig_strv(h, &p->policy_string);
		tlsrpt_dig_str(h, p->policy_domain);
		tlsrpt_dig_strv(h, &p->mx_host);
		tlsrpt_dig_u64(h, p->total_successful);
		tlsrpt_dig_u64(h, p->total_failure);
		tlsrpt_dig_u64(h, p->nfailures);
		for (size_t j = 0; j < p->nfailures; j++) {
			const struct tlsrpt_failure *f = &p->failures[j];

			tlsrpt_dig_str(h, f->result_type);
			tlsrpt_dig_str(h, f->sending_mta_ip);
			tlsrpt_dig_str(h, f->receiving_mx_hostname);
			tlsrpt_dig_str(h, f->receiving_mx_helo);
			tlsrpt_dig_str(h, f->receiving_ip);
			tlsrpt_dig_u64(h, f->failed_session_count);
			tlsrpt_dig_str(h, f->additional_information);
			tlsrpt_dig_str(h, f->failure_reason_code);
		}
	}
	ok = EVP_DigestFinal_ex(h, out, &n) == 1 && n == 32;
	EVP_MD_CTX_free(h);
	return ok ? 0 : -1;
}
