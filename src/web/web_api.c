/*
 * web_api.c - the REST API (web.h): a request, already parsed by the
 * HTTP front, in; a status and a JSON body out. Every route checks the
 * bearer token first and sees only the token's tenant: a domain of
 * another tenant is answered exactly as one that does not exist.
 *
 *	request --token--> tenant, read-only? --route--> store --> JSON
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../account/account.h"
#include "../dns/dns.h"
#include "../lib/dname.h"
#include "web.h"
#include "web_views.h"

/* What the token says of its bearer. */
struct web_who {
	bool	 found;
	bool	 revoked;
	bool	 read_only;
	char	 tenant[STORE_TENANT_LEN + 1];
};

static int
web_token_cb(void *arg, const struct store_token_row *k)
{
	struct web_who *w = arg;

	w->found = true;
	w->revoked = k->revoked != 0;
	w->read_only = k->read_only;
	snprintf(w->tenant, sizeof(w->tenant), "%s", k->tenant);
	return 0;
}

/* Sets out to status with body o (dropped). */
static void
web_reply(struct web_response *out, int status, json_t *o)
{
	out->status = status;
	out->body = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (out->body == NULL) {
		out->status = 500;
		out->body = strdup("{\"error\": \"out of memory\"}");
	}
	out->len = out->body != NULL ? strlen(out->body) : 0;
}

void
web_error(struct web_response *out, int status, const char *why)
{
	json_t *o = json_object();

	json_object_set_new(o, "error", json_string(why));
	web_reply(out, status, o);
}

/* The tenant of the request's bearer token into who. Returns 0, or the
 * status already answered (401, 500). */
static int
web_auth(struct store *s, const struct web_request *rq, struct web_who *who,
    struct web_response *out)
{
	static const char scheme[] = "Bearer ";
	unsigned char hash[32];
	const char *tok;
	size_t len;
	struct err e;
	int r;

	memset(who, 0, sizeof(*who));
	if (rq->authorization == NULL || rq->authorization_len <
	    sizeof(scheme) - 1 || strncasecmp(rq->authorization, scheme,
	    sizeof(scheme) - 1) != 0) {
		snprintf(out->extra, sizeof(out->extra),
		    "WWW-Authenticate: Bearer realm=\"stsguard\"\r\n");
		web_error(out, 401, "an API token is required: "
		    "Authorization: Bearer <token> (stsguard token create)");
		return 401;
	}
	tok = rq->authorization + sizeof(scheme) - 1;
	len = rq->authorization_len - (sizeof(scheme) - 1);
	if (account_token_hash(tok, len, hash) == 0) {
		if ((r = store_token_find(s, hash, web_token_cb, who,
		    &e)) == -1) {
			web_error(out, 500, e.msg);
			return 500;
		}
	}
	if (!who->found || who->revoked) {
		snprintf(out->extra, sizeof(out->extra),
		    "WWW-Authenticate: Bearer realm=\"stsguard\", "
		    "error=\"invalid_token\"\r\n");
		web_error(out, 401, "the API token is not valid (unknown or "
		    "revoked)");
		return 401;
	}
	return 0;
}

/* The value of key in query q[0..n) ("a=1&b=2"), copied into out (cap
 * bytes) as sent (no percent-decoding: names and numbers need none).
 * Returns 1 when present, 0 when absent, -1 when too long. */
int
web_query(const char *q, size_t n, const char *key, char *out, size_t cap)
{
	size_t klen = strlen(key);

	while (q != NULL && n > 0) {
		const char *amp = memchr(q, '&', n);
		size_t plen = amp != NULL ? (size_t)(amp - q) : n;

		if (plen > klen && memcmp(q, key, klen) == 0 &&
		    q[klen] == '=') {
			if (plen - klen - 1 >= cap)
				return -1;
			memcpy(out, q + klen + 1, plen - klen - 1);
			out[plen - klen - 1] = '\0';
			return 1;
		}
		if (amp == NULL)
			break;
		n -= plen + 1;
		q = amp + 1;
	}
	return 0;
}

struct web_page {
	json_t	*list;
	long	 n, limit;
	char	 last[LIMIT_DNAME_LEN + 1];
};

static int
web_page_cb(void *arg, const struct store_domain *d)
{
	struct web_page *p = arg;

	json_array_append_new(p->list, web_domain_json(d));
	snprintf(p->last, sizeof(p->last), "%s", d->name);
	p->n++;
	return 0;
}

/* GET /api/v1/domains: a page of the tenant's domains. */
static void
web_domains(struct store *s, const struct web_request *rq,
    const struct web_who *who, struct web_response *out)
{
	char lim[16], cursor[LIMIT_DNAME_LEN + 1] = "", *end;
	struct web_page p = { .limit = WEB_PAGE_DEFAULT };
	struct err e;
	json_t *o;
	int r;

	if ((r = web_query(rq->query, rq->query_len, "limit", lim,
	    sizeof(lim))) != 0) {
		errno = 0;
		p.limit = r == 1 ? strtol(lim, &end, 10) : 0;
		if (r == -1 || errno != 0 || *end != '\0' || p.limit < 1 ||
		    p.limit > WEB_PAGE_MAX) {
			web_error(out, 400, "limit: a number in 1..1000");
			return;
		}
	}
	if (web_query(rq->query, rq->query_len, "cursor", cursor,
	    sizeof(cursor)) == -1) {
		web_error(out, 400, "cursor: longer than a domain name");
		return;
	}
	p.list = json_array();
	/* One more than the page: is there a next one? */
	if (store_domain_page(s, who->tenant, cursor, p.limit + 1,
	    web_page_cb, &p, &e) == -1) {
		json_decref(p.list);
		web_error(out, 500, e.msg);
		return;
	}
	o = json_object();
	if (p.n > p.limit)
		json_array_remove(p.list, (size_t)p.limit);
	json_object_set_new(o, "domains", p.list);
	/* The cursor of the next page: the last name of this one. */
	json_object_set_new(o, "next", p.n > p.limit ?
	    json_string(json_string_value(json_object_get(json_array_get(
	    p.list, (size_t)p.limit - 1), "name"))) : json_null());
	web_reply(out, 200, o);
}

/* The domain named arg[0..arglen) into d, when the bearer's tenant has
 * it. Returns 0, or the status already answered: 404 (no such domain,
 * or another tenant's: the same answer), 500. */
static int
web_own_domain(struct store *s, const struct web_who *who, const char *arg,
    size_t arglen, struct store_domain *d, struct web_response *out)
{
	char name[LIMIT_DNAME_LEN + 1];
	struct err e;
	int r;

	memset(d, 0, sizeof(*d));
	if (dname_normalize(arg, arglen, false, name, &e) == -1 ||
	    (r = store_domain_get(s, name, d, &e)) == 1 ||
	    (r == 0 && strcmp(d->tenant, who->tenant) != 0)) {
		store_domain_free(d);
		web_error(out, 404, "no such domain");
		return 404;
	}
	if (r == -1) {
		web_error(out, 500, e.msg);
		return 500;
	}
	return 0;
}

/* GET /api/v1/domains/{domain}/stats[?from=YYYY-MM-DD&to=YYYY-MM-DD]:
 * sessions per day, organization and result type (web_stats.c), both
 * days inclusive. */
static void
web_domain_stats(struct store *s, const struct web_request *rq,
    const struct store_domain *d, struct web_response *out)
{
	char day[16];
	time_t from = 0, to = 0;
	struct web_stats st;
	struct err e;
	int r;

	if ((r = web_query(rq->query, rq->query_len, "from", day,
	    sizeof(day))) != 0 && (r == -1 || web_parse_day(day, &from) ==
	    -1)) {
		web_error(out, 400, "from: a day, YYYY-MM-DD");
		return;
	}
	if ((r = web_query(rq->query, rq->query_len, "to", day,
	    sizeof(day))) != 0) {
		if (r == -1 || web_parse_day(day, &to) == -1) {
			web_error(out, 400, "to: a day, YYYY-MM-DD");
			return;
		}
		to += 86400;		/* inclusive */
	}
	if (web_stats_read(s, d->name, from, to, &st, &e) == -1) {
		web_stats_free(&st);
		web_error(out, 500, e.msg);
		return;
	}
	web_reply(out, 200, web_stats_json(d->name, &st));
	web_stats_free(&st);
}

static int
web_report_cb(void *arg, const struct store_report_row *r)
{
	json_array_append_new(arg, web_report_json(r));
	return 0;
}

/* GET /api/v1/domains/{domain}/reports[?limit=N]: its reports (its
 * policy-domain's, and TLSA ones for its MX hosts), newest first. */
static void
web_domain_reports(struct store *s, const struct web_request *rq,
    const struct store_domain *d, struct web_response *out)
{
	struct store_report_filter f = { .domain = d->name,
	    .limit = WEB_PAGE_DEFAULT };
	char lim[16], *end;
	json_t *a, *o;
	struct err e;
	int r;

	if ((r = web_query(rq->query, rq->query_len, "limit", lim,
	    sizeof(lim))) != 0) {
		errno = 0;
		f.limit = r == 1 ? strtol(lim, &end, 10) : 0;
		if (r == -1 || errno != 0 || *end != '\0' || f.limit < 1 ||
		    f.limit > WEB_PAGE_MAX) {
			web_error(out, 400, "limit: a number in 1..1000");
			return;
		}
	}
	a = json_array();
	if (store_report_list(s, &f, web_report_cb, a, &e) == -1) {
		json_decref(a);
		web_error(out, 500, e.msg);
		return;
	}
	o = json_object();
	json_object_set_new(o, "domain", json_string(d->name));
	json_object_set_new(o, "reports", a);
	web_reply(out, 200, o);
}

/* GET /api/v1/domains/{domain}: one, with what its owner publishes. */
static void
web_domain(const struct web_request *rq, const struct store_domain *d,
    struct web_response *out)
{
	struct dns_records recs;
	json_t *o, *a;

	o = web_domain_json(d);
	dns_records(d->name, d->policy_id, d->token, rq->service_host, &recs);
	a = json_array();
	for (size_t i = 0; i < sizeof(recs.rr) / sizeof(recs.rr[0]); i++) {
		json_t *x = json_object();

		json_object_set_new(x, "name", json_string(recs.rr[i].name));
		json_object_set_new(x, "type", json_string(recs.rr[i].type));
		json_object_set_new(x, "value",
		    json_string(recs.rr[i].value));
		json_array_append_new(a, x);
	}
	json_object_set_new(o, "records", a);
	json_object_set_new(o, "intake_url", json_string(recs.intake_url));
	json_object_set_new(o, "intake_address",
	    json_string(recs.intake_addr));
	web_reply(out, 200, o);
}

/* GET /api/v1/reports/{id}[/raw]: one report the tenant's domains
 * claim; any other id is the same 404 as none. */
static void
web_report(struct store *s, const struct web_who *who, const char *arg,
    size_t arglen, bool raw, struct web_response *out)
{
	char num[24], *end;
	long long id;
	uint8_t *bytes = NULL;
	size_t len;
	struct err e;
	json_t *o;
	int r;

	if (arglen == 0 || arglen >= sizeof(num)) {
		web_error(out, 404, "no such report");
		return;
	}
	memcpy(num, arg, arglen);
	num[arglen] = '\0';
	errno = 0;
	id = strtoll(num, &end, 10);
	if (errno != 0 || *end != '\0' || id <= 0 || num[0] == '+' ||
	    (r = store_report_claimed(s, id, who->tenant, &e)) == 1) {
		web_error(out, 404, "no such report");
		return;
	}
	if (r == -1) {
		web_error(out, 500, e.msg);
		return;
	}
	if (raw) {
		if ((r = store_report_get(s, id, NULL, NULL, &bytes, &len,
		    &e)) != 0) {
			web_error(out, r == 1 ? 404 : 500, r == 1 ?
			    "no such report" : e.msg);
			return;
		}
		out->status = 200;
		out->type = len >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b ?
		    "application/tlsrpt+gzip" : "application/tlsrpt+json";
		out->body = (char *)bytes;
		out->len = len;
		return;
	}
	if ((r = web_report_show(s, id, &o, &e)) != 0) {
		web_error(out, r == 1 ? 404 : 500, r == 1 ? "no such report" :
		    e.msg);
		return;
	}
	web_reply(out, 200, o);
}

void
web_api(struct store *s, const struct web_request *rq,
    struct web_response *out)
{
	static const char reports[] = WEB_API_PREFIX "reports/";
	const size_t rlen = sizeof(reports) - 1;
	static const char domains[] = WEB_API_PREFIX "domains";
	const size_t dlen = sizeof(domains) - 1;
	struct web_who who;

	memset(out, 0, sizeof(*out));
	if (web_auth(s, rq, &who, out) != 0)
		return;
	if (rq->path_len == dlen && memcmp(rq->path, domains, dlen) == 0) {
		if (rq->method != HTTP_GET && rq->method != HTTP_HEAD) {
			snprintf(out->extra, sizeof(out->extra),
			    "Allow: GET, HEAD\r\n");
			web_error(out, 405, "only GET here, for now");
			return;
		}
		web_domains(s, rq, &who, out);
		return;
	}
	if (rq->path_len > dlen + 1 && memcmp(rq->path, domains, dlen) == 0 &&
	    rq->path[dlen] == '/') {
		/* domains/{domain}[/stats|/reports] */
		const char *name = rq->path + dlen + 1;
		const char *end = rq->path + rq->path_len;
		const char *slash = memchr(name, '/', (size_t)(end - name));
		const char *sub = slash != NULL ? slash + 1 : end;
		size_t sublen = (size_t)(end - sub);
		struct store_domain d;

		if (sublen > 0 && !(sublen == 5 && memcmp(sub, "stats", 5) ==
		    0) && !(sublen == 7 && memcmp(sub, "reports", 7) == 0) &&
		    !web_views_route(sub, sublen)) {
			web_error(out, 404, "no such API route");
			return;
		}
		if (rq->method != HTTP_GET && rq->method != HTTP_HEAD) {
			snprintf(out->extra, sizeof(out->extra),
			    "Allow: GET, HEAD\r\n");
			web_error(out, 405, "only GET here, for now");
			return;
		}
		if (web_own_domain(s, &who, name, (size_t)((slash != NULL ?
		    slash : end) - name), &d, out) != 0)
			return;
		if (sublen == 0) {
			web_domain(rq, &d, out);
		} else if (web_views_route(sub, sublen)) {
			int status;
			json_t *o = web_views_api(s, &d, sub, sublen,
			    rq->query, rq->query_len, time(NULL), &status);

			web_reply(out, status, o);
		} else if (sub[0] == 's')
			web_domain_stats(s, rq, &d, out);
		else
			web_domain_reports(s, rq, &d, out);
		store_domain_free(&d);
		return;
	}
	if (rq->path_len > rlen && memcmp(rq->path, reports, rlen) == 0) {
		/* reports/{id}[/raw] */
		const char *num = rq->path + rlen;
		const char *end = rq->path + rq->path_len;
		const char *slash = memchr(num, '/', (size_t)(end - num));

		if (slash != NULL && !((size_t)(end - slash) == 4 &&
		    memcmp(slash, "/raw", 4) == 0)) {
			web_error(out, 404, "no such API route");
			return;
		}
		if (rq->method != HTTP_GET && rq->method != HTTP_HEAD) {
			snprintf(out->extra, sizeof(out->extra),
			    "Allow: GET, HEAD\r\n");
			web_error(out, 405, "only GET here");
			return;
		}
		web_report(s, &who, num, (size_t)((slash != NULL ? slash :
		    end) - num), slash != NULL, out);
		return;
	}
	web_error(out, 404, "no such API route");
}

void
web_response_free(struct web_response *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}
