/*
 * web_api.c - the REST API (web.h): a request, already parsed and its
 * body read by the HTTP front, in; a status and a JSON body out. Every
 * route checks the bearer token first and sees only the token's tenant:
 * a domain of another tenant is answered exactly as one that does not
 * exist. A read-only token changes nothing (403).
 *
 *	request --token--> tenant, read-only? --route table--> store --> JSON
 *
 * Request bodies: a domain as JSON (an object of name, mode, mx,
 * max_age; at most LIMIT_WEB_JSON_BYTES, LIMIT_WEB_JSON_DEPTH levels,
 * checked before parsing), or the CSV of `domain import`. The rules of
 * adding, changing and importing are store_onboard.c's, the CLI's too.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

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

/* ?format=json (the default) or csv. Returns 0 (JSON), 1 (CSV) or the
 * status already answered (400). */
static int
web_format(const struct web_request *rq, struct web_response *out)
{
	char f[8];
	int r = web_form_get(rq->query, rq->query_len, "format", f, sizeof(f));

	if (r == 0 || (r == 1 && strcmp(f, "json") == 0))
		return 0;
	if (r == 1 && strcmp(f, "csv") == 0)
		return 1;
	web_error(out, 400, "format: json or csv");
	return 400;
}

/* Answers 200 with the objects of rows (dropped) as CSV in cols, the
 * next page's cursor (or NULL; may point into rows) in an X-Next-Cursor
 * line. */
static void
web_reply_csv(struct web_response *out, json_t *rows,
    const char *const *cols, const char *next)
{
	/* next may be rows' own: use it before rows go. */
	if (next != NULL)
		snprintf(out->extra, sizeof(out->extra), "X-Next-Cursor: %s\r\n",
		    next);
	out->body = web_csv(rows, cols, &out->len);
	json_decref(rows);
	if (out->body == NULL) {
		web_error(out, 500, "out of memory");
		return;
	}
	out->status = 200;
	out->type = "text/csv; charset=utf-8";
}

/* The columns of the CSV lists: the members of web_domain_json (the
 * served policy's text aside: the other columns make it) and of
 * web_report_json. */
static const char *const web_domain_cols[] = { "name", "tenant", "status",
	"mode", "mx", "max_age", "policy_id", "token", "created", "updated",
	"removed", "serve_until", NULL };
static const char *const web_report_cols[] = { "id", "organization-name",
	"report-id", "contact-info", "policy-domains", "start", "end",
	"successful", "failed", "received", "route", "client", "duplicates",
	"provenance", "provenance-reason", "dkim-domain", "tls-report-domain",
	"tls-report-submitter", "report-domain-mismatch", "counted",
	"conflict", NULL };

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
	int r, csv;

	if ((csv = web_format(rq, out)) > 1)
		return;
	if ((r = web_form_get(rq->query, rq->query_len, "limit", lim,
	    sizeof(lim))) != 0) {
		errno = 0;
		p.limit = r == 1 ? strtol(lim, &end, 10) : 0;
		if (r == -1 || errno != 0 || *end != '\0' || p.limit < 1 ||
		    p.limit > WEB_PAGE_MAX) {
			web_error(out, 400, "limit: a number in 1..1000");
			return;
		}
	}
	if (web_form_get(rq->query, rq->query_len, "cursor", cursor,
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
	if (p.n > p.limit)
		json_array_remove(p.list, (size_t)p.limit);
	if (csv) {
		web_reply_csv(out, p.list, web_domain_cols, p.n > p.limit ?
		    json_string_value(json_object_get(json_array_get(p.list,
		    (size_t)p.limit - 1), "name")) : NULL);
		return;
	}
	o = json_object();
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

/* The stats as CSV: one line per row of each table, named in the first
 * column (day, organization, result-type, receiving-mx-host,
 * sending-ip, mx-host). */
static const char *const web_stat_cols[] = { "table", "key", "successful",
	"failed", "sessions", NULL };

/* The rows of the stats JSON o (dropped) for web_stat_cols. */
static json_t *
web_stats_rows(json_t *o)
{
	static const struct {
		const char *member, *key, *table;
	} t[] = {
		{ "days", "day", "day" },
		{ "organizations", "organization-name", "organization" },
		{ "result-types", "result-type", "result-type" },
		{ "receiving-mx-hosts", "receiving-mx-hostname",
		    "receiving-mx-host" },
		{ "sending-ips", "sending-mta-ip", "sending-ip" },
	};
	json_t *rows = json_array(), *x, *r;
	size_t j;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		json_array_foreach(json_object_get(o, t[i].member), j, x) {
			r = json_copy(x);
			json_object_set_new(r, "table", json_string(t[i].table));
			json_object_set(r, "key", json_object_get(x, t[i].key));
			json_array_append_new(rows, r);
		}
	}
	json_array_foreach(json_object_get(o, "mx-hosts"), j, x) {
		r = json_object();
		json_object_set_new(r, "table", json_string("mx-host"));
		json_object_set(r, "key", x);
		json_array_append_new(rows, r);
	}
	json_decref(o);
	return rows;
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
	int r, csv;

	if ((csv = web_format(rq, out)) > 1)
		return;
	if ((r = web_form_get(rq->query, rq->query_len, "from", day,
	    sizeof(day))) != 0 && (r == -1 || web_parse_day(day, &from) ==
	    -1)) {
		web_error(out, 400, "from: a day, YYYY-MM-DD");
		return;
	}
	if ((r = web_form_get(rq->query, rq->query_len, "to", day,
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
	if (csv)
		web_reply_csv(out, web_stats_rows(web_stats_json(d->name,
		    &st)), web_stat_cols, NULL);
	else
		web_reply(out, 200, web_stats_json(d->name, &st));
	web_stats_free(&st);
}

struct web_reports {
	json_t	*list;
	long	 n, limit;
	time_t	 received;		/* of the last row */
	int64_t	 id;
};

static int
web_report_cb(void *arg, const struct store_report_row *r)
{
	struct web_reports *w = arg;

	if (++w->n > w->limit)
		return 0;		/* the one past the page */
	json_array_append_new(w->list, web_report_json(r));
	w->received = r->received;
	w->id = r->id;
	return 0;
}

/* GET /api/v1/reports and /api/v1/domains/{domain}/reports: the
 * tenant's claimed reports (or d's: its policy-domain's, and TLSA ones
 * for its MX hosts), newest first, a page at a time:
 *	?domain=NAME (the list of all only)  ?org=ORGANIZATION-NAME
 *	?from=DAY&to=DAY (the report's range meets them, both inclusive)
 *	?provenance=dkim-verified|import|mail-unverified|https
 *	?limit=1..1000 (100)  ?cursor=<the next of the page before> */
static void
web_reports(struct store *s, const struct web_request *rq,
    const struct web_who *who, const struct store_domain *d,
    struct web_response *out)
{
	struct store_report_filter f = { .tenant = who->tenant };
	struct web_reports w = { .limit = WEB_PAGE_DEFAULT };
	char lim[16], day[16], org[LIMIT_REPORT_ORG_QUERY + 1], prov[24];
	char dom[LIMIT_DNAME_LEN + 1], cur[48], *end;
	struct store_domain own = { 0 };
	long long rcv, id;
	struct err e;
	json_t *o;
	int r, csv;

	if ((csv = web_format(rq, out)) > 1)
		return;
	if ((r = web_form_get(rq->query, rq->query_len, "limit", lim,
	    sizeof(lim))) != 0) {
		errno = 0;
		w.limit = r == 1 ? strtol(lim, &end, 10) : 0;
		if (r == -1 || errno != 0 || *end != '\0' || w.limit < 1 ||
		    w.limit > WEB_PAGE_MAX) {
			web_error(out, 400, "limit: a number in 1..1000");
			return;
		}
	}
	if (d == NULL && (r = web_form_get(rq->query, rq->query_len, "domain",
	    dom, sizeof(dom))) != 0) {
		if (r == -1 || web_own_domain(s, who, dom, strlen(dom), &own,
		    out) != 0) {
			if (r == -1)
				web_error(out, 404, "no such domain");
			return;
		}
		d = &own;
	}
	f.domain = d != NULL ? d->name : NULL;
	if ((r = web_form_get(rq->query, rq->query_len, "org", org,
	    sizeof(org))) == -1) {
		web_error(out, 400, "org: an organization-name, percent-"
		    "encoded, of at most 1024 bytes");
		goto out;
	}
	f.org = r == 1 ? org : NULL;
	if ((r = web_form_get(rq->query, rq->query_len, "from", day,
	    sizeof(day))) != 0 && (r == -1 || web_parse_day(day, &f.from) ==
	    -1)) {
		web_error(out, 400, "from: a day, YYYY-MM-DD");
		goto out;
	}
	if ((r = web_form_get(rq->query, rq->query_len, "to", day,
	    sizeof(day))) != 0) {
		if (r == -1 || web_parse_day(day, &f.to) == -1) {
			web_error(out, 400, "to: a day, YYYY-MM-DD");
			goto out;
		}
		f.to += 86400;		/* inclusive */
	}
	if ((r = web_form_get(rq->query, rq->query_len, "provenance", prov,
	    sizeof(prov))) != 0) {
		if (r == -1 || store_provenance_parse(prov) == -1) {
			web_error(out, 400, "provenance: one of dkim-verified, "
			    "import, mail-unverified, https");
			goto out;
		}
		f.provenance = prov;
	}
	if ((r = web_form_get(rq->query, rq->query_len, "cursor", cur,
	    sizeof(cur))) != 0) {
		/* "<received>.<id>" of the last row of the page before. */
		errno = 0;
		rcv = r == 1 ? strtoll(cur, &end, 10) : 0;
		id = r == 1 && *end == '.' ? strtoll(end + 1, &end, 10) : 0;
		if (r == -1 || errno != 0 || *end != '\0' || rcv <= 0 ||
		    id <= 0) {
			web_error(out, 400, "cursor: the next of a page, as "
			    "given");
			goto out;
		}
		f.before_received = (time_t)rcv;
		f.before_id = id;
	}
	f.limit = w.limit + 1;		/* one more: is there a next page? */
	w.list = json_array();
	if (store_report_list(s, &f, web_report_cb, &w, &e) == -1) {
		json_decref(w.list);
		web_error(out, 500, e.msg);
		goto out;
	}
	if (w.n > w.limit)
		snprintf(cur, sizeof(cur), "%lld.%lld", (long long)w.received,
		    (long long)w.id);
	if (csv) {
		web_reply_csv(out, w.list, web_report_cols, w.n > w.limit ?
		    cur : NULL);
		goto out;
	}
	o = json_object();
	if (d != NULL)
		json_object_set_new(o, "domain", json_string(d->name));
	json_object_set_new(o, "reports", w.list);
	if (w.n > w.limit) {
		json_object_set_new(o, "next", json_string(cur));
	} else {
		json_object_set_new(o, "next", json_null());
	}
	web_reply(out, 200, o);
out:
	store_domain_free(&own);
}

/* A domain with what its owner publishes, as the answer with status:
 * GET /api/v1/domains/{domain}, and after each change. before, when
 * not NULL, is the domain before a change (PATCH, DELETE): "publish"
 * then says which record to publish now (web_publish_json). */
static void
web_domain(const struct web_request *rq, const struct store_domain *before,
    const struct store_domain *d, int status, struct web_response *out)
{
	struct dns_records recs;
	json_t *o, *a;

	o = web_domain_json(d);
	dns_records(d->name, d->policy_id, d->token, rq->service_host,
	    rq->dns_zone, &recs);
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
	if (before != NULL)
		json_object_set_new(o, "publish", web_publish_json(before, d,
		    rq->dns_zone != NULL));
	web_reply(out, status, o);
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

/* --- request bodies ---------------------------------------------------- */

/* True when the Content-Type of rq is absent or one of types ("a/b"
 * each, NULL-terminated), parameters (";charset=...") ignored. */
static bool
web_type_is(const struct web_request *rq, const char *const *types)
{
	size_t n = rq->content_type_len;
	const char *semi;

	if (rq->content_type == NULL)
		return true;
	if ((semi = memchr(rq->content_type, ';', n)) != NULL)
		n = (size_t)(semi - rq->content_type);
	while (n > 0 && (rq->content_type[n - 1] == ' ' ||
	    rq->content_type[n - 1] == '\t'))
		n--;
	for (; *types != NULL; types++)
		if (strlen(*types) == n &&
		    strncasecmp(rq->content_type, *types, n) == 0)
			return true;
	return false;
}

/* The nesting depth of the JSON text b[0..n) (brackets outside
 * strings), counted before the JSON library sees it; stops counting
 * past max. */
static int
web_json_depth(const uint8_t *b, size_t n, int max)
{
	int d = 0, most = 0;
	bool str = false;

	for (size_t i = 0; i < n && most <= max; i++) {
		if (str) {
			if (b[i] == '\\')
				i++;
			else if (b[i] == '"')
				str = false;
		} else if (b[i] == '"') {
			str = true;
		} else if (b[i] == '{' || b[i] == '[') {
			if (++d > most)
				most = d;
		} else if (b[i] == '}' || b[i] == ']') {
			d--;
		}
	}
	return most;
}

/* The body of rq as a JSON object into *o (caller decrefs). Returns 0,
 * or the status already answered (400, 415). */
static int
web_body_json(const struct web_request *rq, json_t **o,
    struct web_response *out)
{
	static const char *const json_types[] = { "application/json", NULL };
	char why[ERR_MSG_LEN + 64];
	json_error_t je;

	*o = NULL;
	if (!web_type_is(rq, json_types)) {
		web_error(out, 415, "Content-Type: application/json expected");
		return 415;
	}
	if (rq->body_len == 0) {
		web_error(out, 400, "a JSON object is required as the body");
		return 400;
	}
	if (rq->body_len > LIMIT_WEB_JSON_BYTES) {
		snprintf(why, sizeof(why), "JSON body larger than %d bytes",
		    LIMIT_WEB_JSON_BYTES);
		web_error(out, 400, why);
		return 400;
	}
	if (web_json_depth(rq->body, rq->body_len, LIMIT_WEB_JSON_DEPTH) >
	    LIMIT_WEB_JSON_DEPTH) {
		snprintf(why, sizeof(why), "JSON nested deeper than %d levels",
		    LIMIT_WEB_JSON_DEPTH);
		web_error(out, 400, why);
		return 400;
	}
	*o = json_loadb((const char *)rq->body, rq->body_len,
	    JSON_REJECT_DUPLICATES, &je);
	if (*o == NULL) {
		snprintf(why, sizeof(why), "bad JSON: %s (line %d, column %d)",
		    je.text, je.line, je.column);
		web_error(out, 400, why);
		return 400;
	}
	if (!json_is_object(*o)) {
		json_decref(*o);
		*o = NULL;
		web_error(out, 400, "bad JSON: an object is expected");
		return 400;
	}
	return 0;
}

/* What a JSON domain asks (POST: name too; PATCH: no name). */
struct web_ask {
	const char	*name;
	struct store_ask a;
	char		 max_age[24];
	const char	*mx[LIMIT_POLICY_MX];
};

/* Reads o's members into w: name (with_name only; required then),
 * mode, mx (an array of strings), max_age (an integer, or its digits
 * as a string). Returns 0, or -1 with the reason in why. */
static int
web_ask_read(json_t *o, bool with_name, struct web_ask *w, char *why,
    size_t cap)
{
	const char *k;
	json_t *v;

	memset(w, 0, sizeof(*w));
	json_object_foreach(o, k, v) {
		if (strcmp(k, "name") == 0 && with_name) {
			if ((w->name = json_string_value(v)) == NULL)
				goto type;
		} else if (strcmp(k, "mode") == 0) {
			if ((w->a.mode = json_string_value(v)) == NULL)
				goto type;
		} else if (strcmp(k, "max_age") == 0) {
			if (json_is_integer(v))
				snprintf(w->max_age, sizeof(w->max_age),
				    "%" JSON_INTEGER_FORMAT,
				    json_integer_value(v));
			else if (json_is_string(v) && json_string_length(v) <
			    sizeof(w->max_age))
				snprintf(w->max_age, sizeof(w->max_age), "%s",
				    json_string_value(v));
			else
				goto type;
			w->a.max_age = w->max_age;
		} else if (strcmp(k, "mx") == 0) {
			size_t i;
			json_t *x;

			if (!json_is_array(v) || json_array_size(v) == 0)
				goto type;
			if (json_array_size(v) > LIMIT_POLICY_MX) {
				snprintf(why, cap, "mx: more than %d patterns",
				    LIMIT_POLICY_MX);
				return -1;
			}
			json_array_foreach(v, i, x) {
				if ((w->mx[i] = json_string_value(x)) == NULL)
					goto type;
			}
			w->a.mx = w->mx;
			w->a.nmx = json_array_size(v);
		} else {
			char q[64];

			snprintf(why, cap, "unknown member '%s' (%smode, mx, "
			    "max_age)", err_quote(k, strlen(k), q, sizeof(q)),
			    with_name ? "name, " : "");
			return -1;
		}
		/* A NUL inside a string would cut it short unseen. */
		if (json_is_string(v) && strlen(json_string_value(v)) !=
		    json_string_length(v)) {
			snprintf(why, cap, "%s: a NUL in the string", k);
			return -1;
		}
	}
	if (with_name && w->name == NULL) {
		snprintf(why, cap, "name: required (the domain to host)");
		return -1;
	}
	return 0;
type:
	snprintf(why, cap, "%s: %s", k, strcmp(k, "name") == 0 ||
	    strcmp(k, "mode") == 0 ? "a string" : strcmp(k, "mx") == 0 ?
	    "a non-empty array of strings (mx patterns)" :
	    "an integer, seconds");
	return -1;
}

/* --- routes ------------------------------------------------------------ */

/* What a handler gets: the request, its bearer, the path's "*" segment
 * and, on routes of one domain, that domain (the bearer's tenant's). */
struct web_ctx {
	struct store	*s;
	const struct web_request *rq;
	const struct web_who *who;
	const char	*arg;		/* the "*" segment, or NULL */
	size_t		 arglen;
	struct store_domain *d;		/* routes with domain set */
	struct web_response *out;
};

static void
route_domains(struct web_ctx *x)
{
	web_domains(x->s, x->rq, x->who, x->out);
}

/* The request's JSON body as a person's ask (web_ask_read; creating: a
 * new domain, its name required) into a new web_ask and *o (the caller
 * frees both), or NULL with the answer given (400, 415, 500). */
static struct web_ask *
web_ask_body(struct web_ctx *x, bool creating, json_t **o)
{
	char why[ERR_MSG_LEN + 64];
	struct web_ask *w;

	if (web_body_json(x->rq, o, x->out) != 0)
		return NULL;
	if ((w = malloc(sizeof(*w))) == NULL) {
		web_error(x->out, 500, "out of memory");
	} else if (web_ask_read(*o, creating, w, why, sizeof(why)) == -1) {
		web_error(x->out, 400, why);
		free(w);
		w = NULL;
	}
	if (w == NULL)
		json_decref(*o);
	return w;
}

/* POST /api/v1/domains: hosts a domain for the bearer's tenant, as
 * `domain add` does. */
static void
route_domain_create(struct web_ctx *x)
{
	struct store_domain d = { 0 };
	struct web_ask *w;
	struct err e;
	json_t *o;
	int r;

	if ((w = web_ask_body(x, true, &o)) == NULL)
		return;
	r = store_domain_create(x->s, x->who->tenant, w->name, &w->a, false,
	    &d, &e);
	if (r != 0) {
		web_error(x->out, r == 1 ? 400 : r == 2 ? 409 : 500, e.msg);
		goto out;
	}
	web_domain(x->rq, NULL, &d, 201, x->out);
	snprintf(x->out->extra, sizeof(x->out->extra), "Location: "
	    WEB_API_PREFIX "domains/%s\r\n", d.name);
out:
	store_domain_free(&d);
	json_decref(o);
	free(w);
}

static void
route_domain(struct web_ctx *x)
{
	web_domain(x->rq, NULL, x->d, 200, x->out);
}

/* PATCH /api/v1/domains/{domain}: mode, mx, max_age, as `domain set`;
 * the answer has the new policy id when what is served changed. */
static void
route_domain_patch(struct web_ctx *x)
{
	struct store_domain nd = { 0 };
	struct web_ask *w;
	struct err e;
	json_t *o;
	int r;

	if ((w = web_ask_body(x, false, &o)) == NULL)
		return;
	r = store_domain_change(x->s, x->d, &w->a, &nd, &e);
	if (r != 0) {
		web_error(x->out, r == 1 ? 400 : r == 2 ? 409 : 500, e.msg);
		goto out;
	}
	web_domain(x->rq, x->d, &nd, 200, x->out);
out:
	store_domain_free(&nd);
	json_decref(o);
	free(w);
}

/* DELETE /api/v1/domains/{domain}: as `domain remove` (RFC 8461 §8.3:
 * served as mode none until serve_until). */
static void
route_domain_delete(struct web_ctx *x)
{
	struct store_domain nd = { 0 };
	struct err e;
	int r;

	if ((r = store_domain_remove(x->s, x->d->name, time(NULL), &nd,
	    &e)) != 0) {
		if (r == 1)
			err_set(&e, "%s: already removed", x->d->name);
		web_error(x->out, r == 1 ? 409 : 500, e.msg);
		return;
	}
	web_domain(x->rq, x->d, &nd, 200, x->out);
	store_domain_free(&nd);
}

/* The refused lines of an import, as JSON. */
struct web_import {
	json_t	*errors;
	size_t	 n;
};

static void
web_import_error(void *arg, size_t lineno, const char *why)
{
	struct web_import *wi = arg;
	json_t *o;

	if (wi->n++ >= LIMIT_IMPORT_ERRORS)
		return;
	o = json_object();
	json_object_set_new(o, "line", json_integer((json_int_t)lineno));
	json_object_set_new(o, "error", json_string(why));
	json_array_append_new(wi->errors, o);
}

/* POST /api/v1/domains/import: the CSV of `domain import` (text/csv),
 * every line the bearer's tenant's: all of them added, or none. */
static void
route_domain_import(struct web_ctx *x)
{
	static const char *const csv_types[] = { "text/csv", "text/plain",
	    "application/csv", NULL };
	struct web_import wi = { .errors = json_array() };
	struct store_import im = { .tenant = x->who->tenant,
	    .tenant_only = true, .error = web_import_error, .arg = &wi };
	char why[ERR_MSG_LEN + 64];
	struct err e;
	json_t *o;
	int r;

	if (!web_type_is(x->rq, csv_types)) {
		web_error(x->out, 415, "Content-Type: text/csv expected");
		goto out;
	}
	if (store_import_parse(&im, x->rq->body, x->rq->body_len, &e) == -1) {
		web_error(x->out, 500, e.msg);
		goto out;
	}
	if (im.errors == 0 && im.n == 0) {
		web_error(x->out, 400, "no domain in the body (CSV: domain,"
		    "tenant,mode,mx,max_age)");
		goto out;
	}
	if ((r = store_import_apply(x->s, &im, &e)) == -1) {
		web_error(x->out, 500, e.msg);
		goto out;
	}
	o = json_object();
	if (r == 1) {
		snprintf(why, sizeof(why), "%zu line(s) refused; nothing "
		    "imported", im.errors);
		json_object_set_new(o, "error", json_string(why));
		json_object_set_new(o, "imported", json_integer(0));
		json_object_set_new(o, "errors", wi.errors);
		json_object_set_new(o, "more_errors", json_integer(
		    (json_int_t)(wi.n > LIMIT_IMPORT_ERRORS ?
		    wi.n - LIMIT_IMPORT_ERRORS : 0)));
		wi.errors = NULL;
		web_reply(x->out, 422, o);
		goto out;
	}
	json_object_set_new(o, "imported", json_integer((json_int_t)im.n));
	web_reply(x->out, 201, o);
out:
	json_decref(wi.errors);
	store_import_free(&im);
}

void
web_api_export(struct store *s, const struct web_request *rq,
    const struct store_domain *d, bool reports, struct web_response *out)
{
	struct web_who who = { .found = true };

	memset(out, 0, sizeof(*out));
	snprintf(who.tenant, sizeof(who.tenant), "%s", d->tenant);
	if (reports)
		web_reports(s, rq, &who, d, out);
	else
		web_domain_stats(s, rq, d, out);
}

static void
route_domain_stats(struct web_ctx *x)
{
	web_domain_stats(x->s, x->rq, x->d, x->out);
}

static void
route_domain_reports(struct web_ctx *x)
{
	web_reports(x->s, x->rq, x->who, x->d, x->out);
}

static void
route_reports(struct web_ctx *x)
{
	web_reports(x->s, x->rq, x->who, NULL, x->out);
}

/* GET .../domains/{d}/readiness, /adoption, /fetches (web_views.h). */
static void
route_domain_view(struct web_ctx *x, const char *view)
{
	int status;
	json_t *o = web_views_api(x->s, x->d, view, strlen(view),
	    x->rq->query, x->rq->query_len, x->rq->now != 0 ? x->rq->now :
	    time(NULL), &status);

	if (o == NULL) {
		web_error(x->out, 500, "out of memory");
		return;
	}
	web_reply(x->out, status, o);
}

static void
route_domain_readiness(struct web_ctx *x)
{
	route_domain_view(x, "readiness");
}

static void
route_domain_adoption(struct web_ctx *x)
{
	route_domain_view(x, "adoption");
}

static void
route_domain_fetches(struct web_ctx *x)
{
	route_domain_view(x, "fetches");
}

static void
route_report(struct web_ctx *x)
{
	web_report(x->s, x->who, x->arg, x->arglen, false, x->out);
}

static void
route_report_raw(struct web_ctx *x)
{
	web_report(x->s, x->who, x->arg, x->arglen, true, x->out);
}

/* The latest check of a domain and its recent alerts. */
struct web_check {
	json_t	*o;		/* the stored check, parsed */
	json_t	*alerts;
};

static int
web_check_cb(void *arg, const struct store_check_row *r)
{
	struct web_check *w = arg;
	json_error_t je;

	w->o = json_loads(r->json, 0, &je);
	return w->o != NULL && json_is_object(w->o) ? 0 : -1;
}

/* A channel's state of an alert: when it took it, "pending", "given
 * up", or null when the channel was not set up. */
static json_t *
web_alert_sent(time_t sent)
{
	char when[32];
	struct tm tm;

	if (sent > 0) {
		gmtime_r(&sent, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		return json_string(when);
	}
	return sent == 0 ? json_string("pending") : sent == -1 ?
	    json_string("given up") : json_null();
}

static int
web_alert_cb(void *arg, const struct store_alert_row *a)
{
	struct web_check *w = arg;
	char raised[32];
	struct tm tm;
	json_t *x;

	gmtime_r(&a->raised, &tm);
	strftime(raised, sizeof(raised), "%Y-%m-%dT%H:%M:%SZ", &tm);
	x = json_pack("{s:I, s:s, s:s, s:s, s:s, s:o, s:s, s:o, s:o}",
	    "id", (json_int_t)a->id, "kind", a->kind, "severity", a->severity,
	    "subject", a->subject, "text", a->text, "fix", a->fix[0] ?
	    json_string(a->fix) : json_null(), "raised", raised,
	    "webhook", web_alert_sent(a->hook_sent),
	    "email", web_alert_sent(a->mail_sent));
	return json_array_append_new(w->alerts, x) == 0 ? 0 : -1;
}

/* Alerts shown with a check. */
#define WEB_CHECK_ALERTS 20

/* GET .../domains/{d}/check: the latest check kept for the domain, with
 * its last alerts; 404 before the first. POST runs one now (on this pool
 * thread, answering when it is done) and answers the same way. */
static void
route_domain_check(struct web_ctx *x)
{
	struct web_check w = { 0 };
	struct err e;
	int r;

	if (x->rq->method == HTTP_POST) {
		if (x->d->removed != 0) {
			web_error(x->out, 409, "the domain is removed: it is "
			    "not checked any more");
			return;
		}
		if (x->rq->check_now == NULL) {
			web_error(x->out, 503, "checks on demand are not "
			    "available here");
			return;
		}
		if ((r = x->rq->check_now(x->rq->check_arg, x->s,
		    x->d->name, &e)) == 1) {
			snprintf(x->out->extra, sizeof(x->out->extra),
			    "Retry-After: 30\r\n");
			web_error(x->out, 503, "other checks are running: "
			    "try again later");
			return;
		}
		if (r == -1) {
			web_error(x->out, 500, e.msg);
			return;
		}
	}
	if ((r = store_check_get(x->s, x->d->name, web_check_cb, &w,
	    &e)) == 1) {
		web_error(x->out, 404, "no check of this domain yet (POST to "
		    "run one now)");
		return;
	}
	if (r != 0 || (w.alerts = json_array()) == NULL ||
	    store_alert_list(x->s, x->d->name, 0, WEB_CHECK_ALERTS, web_alert_cb,
	    &w, &e) != 0) {
		json_decref(w.o);
		json_decref(w.alerts);
		web_error(x->out, 500, r != 0 || w.alerts != NULL ? e.msg :
		    "out of memory");
		return;
	}
	json_object_set_new(w.o, "alerts", w.alerts);
	web_reply(x->out, 200, w.o);
}

#define M_GET		HTTP_M(HTTP_GET)
#define M_WRITE		(HTTP_M(HTTP_POST) | HTTP_M(HTTP_PATCH) | \
			    HTTP_M(HTTP_DELETE))

/* The API's routes, tried in order: a path under WEB_API_PREFIX, "*" one
 * segment; a path that matched with another method is 405 with the
 * methods of all that matched. domain: "*" is a domain the bearer's
 * tenant has, loaded for the handler (else 404). */
static const struct web_api_route {
	const char	*path;
	unsigned	 methods;	/* HTTP_M() bits; HEAD is GET */
	bool		 domain;
	void		(*fn)(struct web_ctx *);
} web_api_routes[] = {
	{ "domains", M_GET, false, route_domains },
	{ "domains", HTTP_M(HTTP_POST), false, route_domain_create },
	{ "domains/import", HTTP_M(HTTP_POST), false, route_domain_import },
	{ "domains/*", M_GET, true, route_domain },
	{ "domains/*", HTTP_M(HTTP_PATCH), true, route_domain_patch },
	{ "domains/*", HTTP_M(HTTP_DELETE), true, route_domain_delete },
	{ "domains/*/stats", M_GET, true, route_domain_stats },
	{ "domains/*/reports", M_GET, true, route_domain_reports },
	{ "domains/*/readiness", M_GET, true, route_domain_readiness },
	{ "domains/*/adoption", M_GET, true, route_domain_adoption },
	{ "domains/*/fetches", M_GET, true, route_domain_fetches },
	{ "domains/*/check", M_GET, true, route_domain_check },
	{ "domains/*/check", HTTP_M(HTTP_POST), true, route_domain_check },
	{ "reports", M_GET, false, route_reports },
	{ "reports/*", M_GET, false, route_report },
	{ "reports/*/raw", M_GET, false, route_report_raw },
};

/* Whether path p[0..n) matches pattern pat; the "*" segment (non-empty,
 * no '/') into *arg. */
static bool
web_path_match(const char *pat, const char *p, size_t n, const char **arg,
    size_t *arglen)
{
	const char *end = p + n;

	for (; *pat != '\0'; pat++) {
		if (*pat == '*') {
			const char *seg = p;

			while (p < end && *p != '/')
				p++;
			if (p == seg)
				return false;
			*arg = seg;
			*arglen = (size_t)(p - seg);
			continue;
		}
		if (p == end || *p != *pat)
			return false;
		p++;
	}
	return p == end;
}

void
web_api(struct store *s, const struct web_request *rq,
    struct web_response *out)
{
	const size_t plen = sizeof(WEB_API_PREFIX) - 1;
	const struct web_api_route *hit = NULL;
	struct store_domain d = { 0 };
	struct web_ctx x = { .s = s, .rq = rq, .out = out };
	struct web_who who;
	unsigned allow = 0;

	memset(out, 0, sizeof(*out));
	if (web_auth(s, rq, &who, out) != 0)
		return;
	x.who = &who;
	for (size_t i = 0; rq->path_len >= plen && i <
	    sizeof(web_api_routes) / sizeof(web_api_routes[0]); i++) {
		const struct web_api_route *r = &web_api_routes[i];
		const char *arg = NULL;
		size_t arglen = 0;

		if (!web_path_match(r->path, rq->path + plen,
		    rq->path_len - plen, &arg, &arglen))
			continue;
		allow |= r->methods;
		if ((r->methods & HTTP_M(rq->method)) != 0) {
			hit = r;
			x.arg = arg;
			x.arglen = arglen;
			break;
		}
	}
	if (hit == NULL && allow == 0) {
		web_error(out, 404, "no such API route");
		return;
	}
	if (hit == NULL) {
		char line[80];

		if (allow & M_GET)
			allow |= HTTP_M(HTTP_HEAD);
		if (http_allow_line(allow, line, sizeof(line)) > 0)
			snprintf(out->extra, sizeof(out->extra), "%s", line);
		web_error(out, 405, "this method is not allowed here (see "
		    "Allow)");
		return;
	}
	if ((hit->methods & M_WRITE) != 0 && who.read_only) {
		web_error(out, 403, "this token is read-only: it changes "
		    "nothing (stsguard token create without --read-only)");
		return;
	}
	if (hit->domain) {
		if (web_own_domain(s, &who, x.arg, x.arglen, &d, out) != 0)
			return;
		x.d = &d;
	}
	hit->fn(&x);
	store_domain_free(&d);
}

void
web_response_free(struct web_response *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}
