/*
 * web_report.c - one stored report as every view shows it (report show
 * --json, the API): the normalized report, its quirks, what it counts,
 * and how it was stored: provenance, and the other reports under its
 * (organization-name, report-id) with which one counts and why.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tlsrpt/tlsrpt.h"
#include "web.h"

/* Why a report's counted sessions are not the plain sums of its entries'
 * totals, or NULL when they are (tlsrpt_count). */
const char *
web_counted_note(const struct tlsrpt_counted *c)
{
	if (c->two_views && c->details_over)
		return "its tlsa and sts entries report the same sessions, the "
		    "larger counting; failure details over an entry's total "
		    "count instead of it";
	if (c->two_views)
		return "its tlsa and sts entries report the same sessions: the "
		    "larger counts";
	if (c->details_over)
		return "failure details add up to more than an entry's total: "
		    "the details count";
	return NULL;
}

/* {"report": R, "quirks": [...], "totals": {...}} for a parsed report;
 * totals are the sessions counted (as statistics count them), with
 * "note" saying why when they are not the plain sums. */
json_t *
web_parsed_json(const struct tlsrpt_report *r)
{
	json_t *o = json_object(), *q = json_array(), *t = json_object();
	struct tlsrpt_counted c;
	json_error_t je;
	char *text;

	text = tlsrpt_report_json(r, 0);
	json_object_set_new(o, "report", text ? json_loads(text,
	    JSON_DECODE_ANY, &je) : json_null());
	free(text);
	for (unsigned b = 0; b < TLSRPT_Q_COUNT; b++)
		if (r->quirks & (1u << b))
			json_array_append_new(q,
			    json_string(tlsrpt_quirk_name(1u << b)));
	json_object_set_new(o, "quirks", q);
	tlsrpt_count(r, &c);
	json_object_set_new(t, "successful",
	    json_integer((json_int_t)c.successful));
	json_object_set_new(t, "failed", json_integer((json_int_t)c.failed));
	if (web_counted_note(&c) != NULL)
		json_object_set_new(t, "note", json_string(
		    web_counted_note(&c)));
	json_object_set_new(o, "totals", t);
	return o;
}

static int
web_report_group_cb(void *arg, const struct store_report_row *r)
{
	json_array_append_new(arg, web_report_json(r));
	return 0;
}

/* Writes into buf why the stored report row counts in the statistics or
 * not, from group: the rows under its (organization-name, report-id),
 * the one that counts first (store report_list, same_key_as). */
static void
web_counted_why(json_t *row, json_t *group, char *buf, size_t cap)
{
	json_t *first = json_array_get(group, 0), *x;
	const char *prov = json_string_value(json_object_get(row,
	    "provenance"));
	size_t n = json_array_size(group), i, same = 0;

	json_array_foreach(group, i, x)
		if (x != row && json_equal(json_object_get(x, "provenance"),
		    json_object_get(row, "provenance")))
			same++;
	if (json_is_true(json_object_get(row, "counted"))) {
		if (n <= 1)
			snprintf(buf, cap, "counts: the only report under its "
			    "organization-name and report-id");
		else
			snprintf(buf, cap, "counts: of %zu different reports "
			    "under its organization-name and report-id, the "
			    "strongest provenance (%s)%s", n, prov, same > 0 ?
			    ", received first" : "");
		return;
	}
	if (first != NULL && json_is_true(json_object_get(first,
	    "counted"))) {
		int a = store_provenance_parse(json_string_value(
		    json_object_get(first, "provenance")));
		int b = store_provenance_parse(prov);

		snprintf(buf, cap, "not counted: report %lld (%s) under the "
		    "same organization-name and report-id counts instead: %s",
		    (long long)json_integer_value(json_object_get(first,
		    "id")), json_string_value(json_object_get(first,
		    "provenance")), a < b ? "a stronger provenance" :
		    "the same provenance, received earlier");
		return;
	}
	if (store_provenance_parse(prov) == STORE_MAIL_UNVERIFIED)
		snprintf(buf, cap, "not counted: mail without a valid DKIM "
		    "signature of its reporter (require_dkim)");
	else
		snprintf(buf, cap, "not counted");
}

/* Adds to row (report show's "stored") why it counts or not
 * ("counted-why") and the other reports under its key ("conflicts":
 * id, provenance, received, counted of each). */
int
web_report_group(struct store *s, int64_t id, json_t *row, struct err *e)
{
	struct store_report_filter f = { .same_key_as = id };
	json_t *group = json_array(), *others = json_array(), *x, *o;
	json_t *self = row;
	char why[256];
	size_t i;

	if (store_report_list(s, &f, web_report_group_cb, group, e) == -1) {
		json_decref(group);
		json_decref(others);
		return -1;
	}
	json_array_foreach(group, i, x) {
		if (json_integer_value(json_object_get(x, "id")) == id) {
			self = x;	/* the row itself, as in the group */
			continue;
		}
		o = json_object();
		json_object_set(o, "id", json_object_get(x, "id"));
		json_object_set(o, "provenance", json_object_get(x,
		    "provenance"));
		json_object_set(o, "received", json_object_get(x,
		    "received"));
		json_object_set(o, "counted", json_object_get(x, "counted"));
		json_array_append_new(others, o);
	}
	web_counted_why(self, group, why, sizeof(why));
	json_object_set_new(row, "counted-why", json_string(why));
	json_object_set_new(row, "conflicts", others);
	json_decref(group);
	return 0;
}

static int
web_report_row_cb(void *arg, const struct store_report_row *r)
{
	*(json_t **)arg = web_report_json(r);
	return 0;
}

int
web_report_show(struct store *s, int64_t id, json_t **out, struct err *e)
{
	struct tlsrpt_report *r = NULL;
	json_t *row = NULL;
	uint8_t *raw = NULL;
	size_t rawlen;
	int res;

	*out = NULL;
	if ((res = store_report_get(s, id, web_report_row_cb, &row, &raw,
	    &rawlen, e)) != 0)
		goto out;
	res = -1;
	if (web_report_group(s, id, row, e) == -1)
		goto out;
	if (tlsrpt_parse(raw, rawlen, &r, e) == -1) {
		err_prefix(e, "report %lld no longer parses: ", (long long)id);
		goto out;
	}
	*out = web_parsed_json(r);
	json_object_set_new(*out, "stored", row);
	row = NULL;
	res = 0;
out:
	json_decref(row);
	tlsrpt_report_free(r);
	free(raw);
	return res;
}
