/*
 * web_json.c - the JSON of stsguard's objects, one shape wherever they
 * are shown: the CLI's --json and the REST API.
 */
#include <stdlib.h>

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
