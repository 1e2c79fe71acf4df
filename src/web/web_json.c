/*
 * web_json.c - the JSON of stsguard's objects, one shape wherever they
 * are shown: the CLI's --json and the REST API.
 */
#include <stdlib.h>
#include <string.h>

#include "../dns/dns.h"
#include "web.h"

json_t *
web_json_str(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

json_t *
web_json_time(time_t t)
{
	char buf[21];
	struct tm tm;

	if (t == 0 || gmtime_r(&t, &tm) == NULL)
		return json_null();
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

json_t *
web_publish_json(const struct store_domain *before,
    const struct store_domain *after, bool delegated)
{
	struct dns_rr rr;
	json_t *a = json_array();

	if (dns_publish_now(after->name, before->policy_id, after->policy_id,
	    delegated, &rr) == 1) {
		json_t *x = json_object();

		json_object_set_new(x, "name", json_string(rr.name));
		json_object_set_new(x, "type", json_string(rr.type));
		json_object_set_new(x, "value", json_string(rr.value));
		json_array_append_new(a, x);
	}
	return a;
}

json_t *
web_domain_json(const struct store_domain *d)
{
	json_t *o = json_object(), *mx = json_array();
	char *body;
	size_t len;

	for (size_t i = 0; i < d->policy.mx.n; i++)
		json_array_append_new(mx, json_string(d->policy.mx.v[i]));
	json_object_set_new(o, "name", json_string(d->name));
	json_object_set_new(o, "tenant", json_string(d->tenant));
	json_object_set_new(o, "status", json_string(d->removed ?
	    "removed" : "active"));
	json_object_set_new(o, "mode",
	    json_string(policy_mode_name(d->policy.mode)));
	json_object_set_new(o, "mx", mx);
	json_object_set_new(o, "max_age", json_integer(d->policy.max_age));
	json_object_set_new(o, "policy_id", json_string(d->policy_id));
	json_object_set_new(o, "token", json_string(d->token));
	json_object_set_new(o, "created", web_json_time(d->created));
	json_object_set_new(o, "updated", web_json_time(d->updated));
	json_object_set_new(o, "removed", web_json_time(d->removed));
	json_object_set_new(o, "serve_until", web_json_time(d->serve_until));
	body = policy_render(&d->policy, &len);
	json_object_set_new(o, "policy", web_json_str(body));
	free(body);
	return o;
}

int
web_parse_day(const char *s, time_t *t)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%d", &tm);
	if (end == NULL || *end != '\0')
		return -1;
	*t = timegm(&tm);
	return 0;
}

json_t *
web_report_json(const struct store_report_row *r)
{
	json_t *o = json_object(), *d = json_array();
	const char *p = r->policy_domains, *comma;

	while (p != NULL && *p != '\0') {
		comma = strchr(p, ',');
		json_array_append_new(d, json_stringn(p, comma ?
		    (size_t)(comma - p) : strlen(p)));
		p = comma ? comma + 1 : NULL;
	}
	json_object_set_new(o, "id", json_integer(r->id));
	json_object_set_new(o, "organization-name",
	    json_string(r->organization_name));
	json_object_set_new(o, "report-id", json_string(r->report_id));
	json_object_set_new(o, "contact-info", web_json_str(r->contact_info));
	json_object_set_new(o, "policy-domains", d);
	json_object_set_new(o, "start", web_json_time(r->start));
	json_object_set_new(o, "end", web_json_time(r->end));
	json_object_set_new(o, "successful",
	    json_integer((json_int_t)r->successful));
	json_object_set_new(o, "failed", json_integer((json_int_t)r->failed));
	json_object_set_new(o, "received", web_json_time(r->received));
	json_object_set_new(o, "route", web_json_str(r->route));
	json_object_set_new(o, "client", web_json_str(r->client));
	json_object_set_new(o, "duplicates", json_integer(r->duplicates));
	json_object_set_new(o, "provenance",
	    json_string(store_provenance_name(r->provenance)));
	json_object_set_new(o, "provenance-reason",
	    web_json_str(r->provenance_reason));
	json_object_set_new(o, "dkim-domain", web_json_str(r->dkim_domain));
	json_object_set_new(o, "tls-report-domain",
	    web_json_str(r->report_domain));
	json_object_set_new(o, "tls-report-submitter",
	    web_json_str(r->report_submitter));
	json_object_set_new(o, "report-domain-mismatch",
	    json_boolean(r->domain_mismatch));
	json_object_set_new(o, "counted", json_boolean(r->counted));
	json_object_set_new(o, "conflict", json_boolean(r->conflict));
	return o;
}
