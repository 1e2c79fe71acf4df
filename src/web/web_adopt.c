/*
 * web_adopt.c - "Who has the new policy": every TLS report names the
 * policy its sender applied (the sts entry's policy-string, RFC 8460
 * §4.3); matched to the versions the domain served (store_domain_history)
 * it says, per reporter and per day, which version each one applied,
 * and since when every reporter applies the current one.
 *
 * Matching compares normalized texts (web_adopt_normalize): a reporter
 * may send the lines in another order, with other spacing or case, or
 * with LF instead of CRLF. Two versions with the same text (a change
 * undone) match the one that was served when the report began, else the
 * latest. A policy-string that matches none is "unknown" (a policy
 * served before stsguard hosted the domain, or a reporter's own
 * mistake).
 *
 * Pure apart from web_adopt_read (two store reads).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web_views.h"

static int
web_line_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *
web_adopt_normalize(const char *text)
{
	struct strv lines = { 0 };
	char *out = NULL, *line = NULL;
	size_t total = 0, off = 0;
	const char *p = text;

	while (*p != '\0') {
		size_t n = strcspn(p, "\n"), k = 0;

		if ((line = malloc(n + 1)) == NULL)
			goto out;
		for (size_t i = 0; i < n; i++)
			if (!isspace((unsigned char)p[i]))
				line[k++] = (char)tolower((unsigned char)p[i]);
		line[k] = '\0';
		if (k > 0 && strv_push(&lines, line) == -1)
			goto out;
		free(line);
		line = NULL;
		p += n + (p[n] == '\n');
	}
	if (lines.n > 1)
		qsort(lines.v, lines.n, sizeof(*lines.v), web_line_cmp);
	for (size_t i = 0; i < lines.n; i++)
		total += strlen(lines.v[i]) + 1;
	if ((out = malloc(total + 1)) == NULL)
		goto out;
	for (size_t i = 0; i < lines.n; i++) {
		size_t n = strlen(lines.v[i]);

		memcpy(out + off, lines.v[i], n);
		off += n;
		out[off++] = '\n';
	}
	out[off] = '\0';
out:
	free(line);
	strv_free(&lines);
	return out;
}

void
web_adopt_init(struct web_adopt *a, time_t from, time_t to)
{
	memset(a, 0, sizeof(*a));
	a->from = from;
	a->to = to;
	a->current = -1;
	a->last_entry = -1;
}

int
web_adopt_version(struct web_adopt *a, const char *policy_id, time_t since,
    const char *body)
{
	struct web_adopt_version *nv, *v;

	if ((nv = realloc(a->versions, (a->nversions + 1) * sizeof(*nv))) ==
	    NULL)
		return -1;
	a->versions = nv;
	v = &a->versions[a->nversions];
	v->since = since;
	v->policy_id = strdup(policy_id);
	v->norm = web_adopt_normalize(body);
	if (v->policy_id == NULL || v->norm == NULL) {
		free(v->policy_id);
		free(v->norm);
		return -1;
	}
	a->nversions++;
	return 0;
}

/* The version whose text is norm: the one served at t among equal
 * texts, else the latest; -1 for none. */
static int
web_adopt_match(const struct web_adopt *a, const char *norm, time_t t)
{
	int best = -1;

	for (size_t i = 0; i < a->nversions; i++) {
		if (strcmp(a->versions[i].norm, norm) != 0)
			continue;
		if (best == -1 || a->versions[i].since <= t)
			best = (int)i;
	}
	return best;
}

static struct web_adopt_reporter *
web_adopt_reporter(struct web_adopt *a, const char *org)
{
	struct web_adopt_reporter *nv, *r;

	for (size_t i = 0; i < a->nreporters; i++)
		if (strcmp(a->reporters[i].organization, org) == 0)
			return &a->reporters[i];
	if (a->nreporters >= WEB_VIEW_KEYS)
		return NULL;
	if (a->nreporters == a->capreporters) {
		size_t cap = a->capreporters ? a->capreporters * 2 : 16;

		if ((nv = realloc(a->reporters, cap * sizeof(*nv))) == NULL)
			return NULL;
		a->reporters = nv;
		a->capreporters = cap;
	}
	r = &a->reporters[a->nreporters];
	memset(r, 0, sizeof(*r));
	if ((r->organization = strdup(org)) == NULL)
		return NULL;
	a->nreporters++;
	return r;
}

int
web_adopt_add(struct web_adopt *a, const char *domain,
    const struct store_entry_row *row)
{
	struct web_adopt_reporter *r;
	struct web_adopt_cell *c;
	char day[11], *norm;
	struct tm tm;
	uint64_t n = row->successful + row->failed;
	int v;

	/* Once per entry: its first row (details follow in a row). */
	if (strcmp(row->policy_type, "sts") != 0 ||
	    strcmp(row->policy_domain, domain) != 0)
		return 0;
	if (row->entry == a->last_entry)
		return 0;
	a->last_entry = row->entry;
	if (gmtime_r(&row->start, &tm) == NULL ||
	    strftime(day, sizeof(day), "%Y-%m-%d", &tm) != 10)
		return 0;
	if ((norm = web_adopt_normalize(row->policy_string)) == NULL)
		return -1;
	v = norm[0] != '\0' ? web_adopt_match(a, norm, row->start) : -1;
	free(norm);
	if (n < row->successful)
		n = UINT64_MAX;
	if ((r = web_adopt_reporter(a, row->organization_name)) == NULL) {
		if (a->nreporters < WEB_VIEW_KEYS)
			return -1;
		a->reporters_other++;
		return 0;
	}
	for (size_t i = 0; i < r->n; i++) {
		c = &r->cells[i];
		if (strcmp(c->day, day) == 0 && c->version == v) {
			c->sessions = c->sessions + n < c->sessions ?
			    UINT64_MAX : c->sessions + n;
			return 0;
		}
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 8;

		if ((c = realloc(r->cells, cap * sizeof(*c))) == NULL)
			return -1;
		r->cells = c;
		r->cap = cap;
	}
	c = &r->cells[r->n++];
	memcpy(c->day, day, sizeof(c->day));
	c->version = v;
	c->sessions = n;
	return 0;
}

static int
web_cell_cmp(const void *a, const void *b)
{
	const struct web_adopt_cell *x = a, *y = b;
	int c = strcmp(x->day, y->day);

	return c != 0 ? c : (x->version > y->version) - (x->version <
	    y->version);
}

static int
web_reporter_name_cmp(const void *a, const void *b)
{
	const struct web_adopt_reporter *x = a, *y = b;

	return strcmp(x->organization, y->organization);
}

int
web_adopt_finish(struct web_adopt *a, const char *current_id)
{
	a->current = -1;
	for (size_t i = 0; i < a->nversions; i++)
		if (strcmp(a->versions[i].policy_id, current_id) == 0)
			a->current = (int)i;
	if (a->nreporters > 1)
		qsort(a->reporters, a->nreporters, sizeof(*a->reporters),
		    web_reporter_name_cmp);
	a->all_current = a->current != -1 && a->nreporters > 0;
	a->all_since = NULL;
	for (size_t i = 0; i < a->nreporters; i++) {
		struct web_adopt_reporter *r = &a->reporters[i];
		const char *since = NULL;

		if (r->n > 1)
			qsort(r->cells, r->n, sizeof(*r->cells), web_cell_cmp);
		r->latest_day = r->n > 0 ? r->cells[r->n - 1].day : NULL;
		/* Walk back from the last day while only the current one
		 * was applied. */
		r->current = r->n > 0;
		for (size_t k = r->n; k > 0; k--) {
			const struct web_adopt_cell *c = &r->cells[k - 1];

			if (c->version != a->current || a->current == -1) {
				if (strcmp(c->day, r->latest_day) == 0)
					r->current = false;
				break;
			}
			since = c->day;
		}
		r->current_since = r->current ? since : NULL;
		if (!r->current)
			a->all_current = false;
		else if (a->all_since == NULL || strcmp(since,
		    a->all_since) > 0)
			a->all_since = since;
	}
	if (!a->all_current)
		a->all_since = NULL;
	return 0;
}

static int
web_adopt_history(void *arg, const char *policy_id, time_t since,
    const char *body)
{
	return web_adopt_version(arg, policy_id, since, body) == -1 ? -1 : 0;
}

/* store_entries' rows for web_adopt_add, with the domain's name. */
struct web_adopt_ctx {
	struct web_adopt *a;
	const char *domain;
};

static int
web_adopt_row(void *arg, const struct store_entry_row *row)
{
	struct web_adopt_ctx *x = arg;

	return web_adopt_add(x->a, x->domain, row) == -1 ? -1 : 0;
}

int
web_adopt_read(struct store *s, const struct store_domain *d, time_t from,
    time_t to, time_t now, struct web_adopt *a, struct err *e)
{
	struct web_adopt_ctx x = { a, d->name };

	if (from == 0 && to == 0) {
		from = now - (time_t)WEB_READY_DAYS * 86400;
		to = now + 1;
	}
	web_adopt_init(a, from, to);
	if (store_domain_history(s, d->name, web_adopt_history, a, e) == -1)
		return -1;
	if (store_entries(s, d->name, from, to, web_adopt_row, &x, e) == -1)
		return -1;
	return web_adopt_finish(a, d->policy_id) == -1 ?
	    err_set(e, "out of memory") : 0;
}

void
web_adopt_free(struct web_adopt *a)
{
	for (size_t i = 0; i < a->nversions; i++) {
		free(a->versions[i].policy_id);
		free(a->versions[i].norm);
	}
	free(a->versions);
	for (size_t i = 0; i < a->nreporters; i++) {
		free(a->reporters[i].organization);
		free(a->reporters[i].cells);
	}
	free(a->reporters);
	memset(a, 0, sizeof(*a));
}

static json_t *
web_adopt_id(const struct web_adopt *a, int v)
{
	return json_string(v >= 0 ? a->versions[v].policy_id : "unknown");
}

json_t *
web_adopt_json(const char *domain, const struct web_adopt *a)
{
	json_t *o = json_object(), *vs = json_array(), *rs = json_array(),
	    *old = json_array();

	json_object_set_new(o, "domain", json_string(domain));
	json_object_set_new(o, "from", web_json_time(a->from));
	json_object_set_new(o, "to", web_json_time(a->to));
	json_object_set_new(o, "current", a->current >= 0 ?
	    web_adopt_id(a, a->current) : json_null());
	for (size_t i = 0; i < a->nversions; i++) {
		json_t *v = json_object();

		json_object_set_new(v, "policy_id",
		    json_string(a->versions[i].policy_id));
		json_object_set_new(v, "since",
		    web_json_time(a->versions[i].since));
		json_object_set_new(v, "current",
		    json_boolean((int)i == a->current));
		json_array_append_new(vs, v);
	}
	json_object_set_new(o, "versions", vs);
	for (size_t i = 0; i < a->nreporters; i++) {
		const struct web_adopt_reporter *r = &a->reporters[i];
		json_t *x = json_object(), *days = json_array(), *day = NULL,
		    *pols = NULL, *latest = json_array();

		for (size_t k = 0; k < r->n; k++) {
			const struct web_adopt_cell *c = &r->cells[k];
			json_t *p = json_object();

			if (k == 0 || strcmp(c->day, r->cells[k - 1].day) !=
			    0) {
				day = json_object();
				pols = json_array();
				json_object_set_new(day, "day",
				    json_string(c->day));
				json_object_set_new(day, "policies", pols);
				json_array_append_new(days, day);
			}
			json_object_set_new(p, "policy_id",
			    web_adopt_id(a, c->version));
			json_object_set_new(p, "sessions",
			    json_integer((json_int_t)c->sessions));
			json_array_append_new(pols, p);
			if (strcmp(c->day, r->latest_day) == 0)
				json_array_append_new(latest,
				    web_adopt_id(a, c->version));
		}
		json_object_set_new(x, "organization-name",
		    json_string(r->organization));
		json_object_set_new(x, "latest-day",
		    web_json_str(r->latest_day));
		json_object_set_new(x, "latest", latest);
		json_object_set_new(x, "current", json_boolean(r->current));
		json_object_set_new(x, "current-since",
		    web_json_str(r->current_since));
		json_object_set_new(x, "days", days);
		json_array_append_new(rs, x);
		if (!r->current) {
			json_t *s = json_object();

			json_object_set_new(s, "organization-name",
			    json_string(r->organization));
			json_object_set(s, "latest", latest);
			json_array_append_new(old, s);
		}
	}
	json_object_set_new(o, "reporters", rs);
	json_object_set_new(o, "reporters-other",
	    json_integer((json_int_t)a->reporters_other));
	json_object_set_new(o, "all-current", json_boolean(a->all_current));
	json_object_set_new(o, "all-current-since", web_json_str(a->all_since));
	json_object_set_new(o, "still-old", old);
	return o;
}
