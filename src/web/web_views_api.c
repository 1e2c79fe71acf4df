/*
 * web_views_api.c - the API routes of the three views (web_views.h):
 *
 *	GET /api/v1/domains/{domain}/readiness
 *	GET /api/v1/domains/{domain}/adoption[?from=DAY&to=DAY]
 *	GET /api/v1/domains/{domain}/fetches[?from=DAY&to=DAY]
 *
 * web_api.c has checked the token and that the domain is the tenant's;
 * this file reads the view and gives its JSON. DAY is YYYY-MM-DD, both
 * inclusive.
 */
#include <string.h>

#include "web_views.h"

static const char *const web_views[] = { "readiness", "adoption",
    "fetches" };

bool
web_views_route(const char *sub, size_t sublen)
{
	for (size_t i = 0; i < sizeof(web_views) / sizeof(web_views[0]); i++)
		if (strlen(web_views[i]) == sublen &&
		    memcmp(web_views[i], sub, sublen) == 0)
			return true;
	return false;
}

static json_t *
web_views_error(int *status, int code, const char *why)
{
	json_t *o = json_object();

	*status = code;
	json_object_set_new(o, "error", json_string(why));
	return o;
}

/* ?from=DAY&to=DAY into [*from, *to) (0: unbounded). Returns 0 or -1
 * with the error's JSON in *err. */
static int
web_views_range(const char *q, size_t qlen, time_t *from, time_t *to,
    int *status, json_t **err)
{
	char day[16];
	int r;

	*from = *to = 0;
	if ((r = web_form_get(q, qlen, "from", day, sizeof(day))) != 0 &&
	    (r == -1 || web_parse_day(day, from) == -1)) {
		*err = web_views_error(status, 400, "from: a day, YYYY-MM-DD");
		return -1;
	}
	if ((r = web_form_get(q, qlen, "to", day, sizeof(day))) != 0) {
		if (r == -1 || web_parse_day(day, to) == -1) {
			*err = web_views_error(status, 400,
			    "to: a day, YYYY-MM-DD");
			return -1;
		}
		*to += 86400;		/* inclusive */
	}
	return 0;
}

json_t *
web_views_api(struct store *s, const struct store_domain *d, const char *sub,
    size_t sublen, const char *query, size_t query_len, time_t now,
    int *status)
{
	time_t from, to;
	struct err e;
	json_t *o = NULL;

	*status = 200;
	if (sublen == 9 && memcmp(sub, "readiness", 9) == 0) {
		struct web_ready r;

		if (web_ready_read(s, d, now, &r, &e) == 0)
			o = web_ready_json(d->name, &r);
		web_ready_free(&r);
	} else if (web_views_range(query, query_len, &from, &to, status,
	    &o) == -1) {
		return o;
	} else if (sub[0] == 'a') {
		struct web_adopt a;

		if (from != 0 && to == 0)
			to = now + 1;
		if (from == 0 && to != 0)
			from = 1;
		if (web_adopt_read(s, d, from, to, now, &a, &e) == 0)
			o = web_adopt_json(d->name, &a);
		web_adopt_free(&a);
	} else {
		struct web_fetches f;

		if (web_fetches_read(s, d->name, from, to, &f, &e) == 0)
			o = web_fetches_json(d->name, &f);
		web_fetches_free(&f);
	}
	if (o == NULL)
		return web_views_error(status, 500, e.msg);
	return o;
}
