/*
 * web_ready.c - "Ready to enforce?": what the last WEB_READY_DAYS days of
 * a domain's counted reports say about switching its policy to enforce.
 *
 * Under mode testing a sender that fails to validate the policy still
 * delivers, and reports the failure in the report's "sts" entry; under
 * enforce that session would not have been delivered. So:
 *   - would fail: the failed sessions of sts entries, by the failure
 *     details' receiving-mx-hostname, result-type and reporter (failures
 *     an entry counts but does not explain: host "", "unspecified");
 *   - MX hosts mail went to: every receiving-mx-hostname of a failure
 *     detail (any entry type) and the MX hosts of tlsa entries; those
 *     that no mx pattern of the current policy covers (policy_mx_match)
 *     would fail under enforce once mail goes there;
 *   - no-policy-found and tlsa entries say nothing about the policy.
 * The verdict: "not enough data" without a single sts session; "not
 * ready" with a failure or an uncovered host (the heaviest named first);
 * else "ready". Successful sessions carry no host name, so hosts that
 * only ever succeeded are not listed.
 *
 * Pure apart from web_ready_read (one store read). Never more than
 * WEB_VIEW_KEYS rows per table: a hostile reporter's endless host names
 * are summed as "other".
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web_views.h"

struct web_stat_key *
web_view_key(struct web_stat_table *t, const char *key, bool *full)
{
	struct web_stat_key *nv;

	*full = false;
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->v[i].key, key) == 0)
			return &t->v[i];
	if (t->n >= WEB_VIEW_KEYS) {
		*full = true;
		return NULL;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;

		if ((nv = realloc(t->v, cap * sizeof(*nv))) == NULL)
			return NULL;
		t->v = nv;
		t->cap = cap;
	}
	nv = &t->v[t->n];
	if ((nv->key = strdup(key)) == NULL)
		return NULL;
	nv->successful = nv->failed = 0;
	t->n++;
	return nv;
}

static void
web_sat(uint64_t *a, uint64_t b)
{
	*a = *a + b < *a ? UINT64_MAX : *a + b;
}

const char *
web_ready_verdict_name(enum web_ready_verdict v)
{
	switch (v) {
	case WEB_READY_READY:
		return "ready";
	case WEB_READY_NOT_READY:
		return "not-ready";
	default:
		return "not-enough-data";
	}
}

int
web_ready_init(struct web_ready *r, const char *domain,
    const struct policy *p, time_t from, time_t to)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->domain, sizeof(r->domain), "%s", domain);
	r->from = from;
	r->to = to;
	r->mode = p->mode;
	r->last_report = r->last_entry = -1;
	for (size_t i = 0; i < p->mx.n; i++)
		if (strv_push(&r->mx, p->mx.v[i]) == -1)
			return -1;
	return 0;
}

/* A host name as matching reads it: lower case, no trailing dot. Fits
 * LIMIT_DNAME_LEN or is cut (a longer one matches no pattern anyway). */
static void
web_host_fold(const char *in, char out[LIMIT_DNAME_LEN + 1])
{
	size_t n = 0;

	for (; in[n] != '\0' && n < LIMIT_DNAME_LEN; n++)
		out[n] = (char)tolower((unsigned char)in[n]);
	if (n > 0 && out[n - 1] == '.')
		n--;
	out[n] = '\0';
}

/* Adds sessions to MX host h (as reported). */
static int
web_ready_host(struct web_ready *r, const char *h, uint64_t sessions)
{
	char host[LIMIT_DNAME_LEN + 1];
	struct web_stat_key *k;
	bool full;

	web_host_fold(h, host);
	if (host[0] == '\0')
		return 0;
	if ((k = web_view_key(&r->hosts, host, &full)) == NULL) {
		if (!full)
			return -1;
		web_sat(&r->hosts_other, sessions);
		return 0;
	}
	web_sat(&k->failed, sessions);
	return 0;
}

/* Adds sessions that failed on host with result for org. */
static int
web_ready_fail(struct web_ready *r, const char *host, const char *result,
    const char *org, uint64_t sessions)
{
	char h[LIMIT_DNAME_LEN + 1];
	struct web_ready_fail *f, *nv;
	struct web_stat_key *k;
	bool full;

	if (sessions == 0)
		return 0;
	web_host_fold(host, h);
	if ((k = web_view_key(&r->reporters, org, &full)) != NULL)
		web_sat(&k->failed, sessions);
	else if (!full)
		return -1;
	for (size_t i = 0; i < r->nfails; i++) {
		f = &r->fails[i];
		if (strcmp(f->mx_host, h) == 0 && strcmp(f->result_type,
		    result) == 0 && strcmp(f->organization, org) == 0) {
			web_sat(&f->sessions, sessions);
			return 0;
		}
	}
	if (r->nfails >= WEB_VIEW_KEYS) {
		web_sat(&r->fails_other, sessions);
		return 0;
	}
	if (r->nfails == r->capfails) {
		size_t cap = r->capfails ? r->capfails * 2 : 16;

		if ((nv = realloc(r->fails, cap * sizeof(*nv))) == NULL)
			return -1;
		r->fails = nv;
		r->capfails = cap;
	}
	f = &r->fails[r->nfails];
	f->mx_host = strdup(h);
	f->result_type = strdup(result);
	f->organization = strdup(org);
	f->sessions = sessions;
	if (f->mx_host == NULL || f->result_type == NULL ||
	    f->organization == NULL) {
		free(f->mx_host);
		free(f->result_type);
		free(f->organization);
		return -1;
	}
	r->nfails++;
	return 0;
}

/* Closes the sts entry being read: its failures as counted
 * (tlsrpt_policy_failed: the details when they add up to more than the
 * total, else the total, the rest unexplained). */
static int
web_ready_entry_end(struct web_ready *r)
{
	int rc = 0;

	if (r->cur_sts) {
		if (r->cur_total_failed > r->cur_details) {
			rc = web_ready_fail(r, "", "unspecified", r->cur_org,
			    r->cur_total_failed - r->cur_details);
			web_sat(&r->sts_failed, r->cur_total_failed);
		} else {
			web_sat(&r->sts_failed, r->cur_details);
		}
	}
	r->cur_sts = false;
	r->cur_total_failed = r->cur_details = 0;
	free(r->cur_org);
	r->cur_org = NULL;
	return rc;
}

int
web_ready_add(struct web_ready *r, const struct store_entry_row *row)
{
	bool sts = strcmp(row->policy_type, "sts") == 0;
	bool tlsa = strcmp(row->policy_type, "tlsa") == 0;

	if (row->report != r->last_report) {
		r->reports++;
		r->last_report = row->report;
	}
	if (row->entry != r->last_entry) {
		if (web_ready_entry_end(r) == -1)
			return -1;
		r->last_entry = row->entry;
		if (sts) {
			struct web_stat_key *k;
			bool full;

			r->cur_sts = true;
			r->cur_total_failed = row->failed;
			if ((r->cur_org = strdup(row->organization_name)) ==
			    NULL)
				return -1;
			web_sat(&r->sts_successful, row->successful);
			if ((k = web_view_key(&r->reporters,
			    row->organization_name, &full)) != NULL)
				web_sat(&k->successful, row->successful);
			else if (!full)
				return -1;
		} else {
			web_sat(&r->other_sessions, row->successful);
			web_sat(&r->other_sessions, row->failed);
		}
		if (tlsa) {
			/* The MX host of a tlsa entry: its policy-domain
			 * when it is not the domain's own, else its mx-host
			 * lines. */
			const char *p = strcmp(row->policy_domain,
			    r->domain) != 0 ? "" : row->mx_host;
			uint64_t n = row->successful + row->failed;

			if (strcmp(row->policy_domain, r->domain) != 0 &&
			    row->policy_domain[0] != '\0' &&
			    web_ready_host(r, row->policy_domain, n) == -1)
				return -1;
			while (*p != '\0') {
				char one[LIMIT_DNAME_LEN + 1];
				size_t len = strcspn(p, "\n");

				if (len < sizeof(one)) {
					memcpy(one, p, len);
					one[len] = '\0';
					if (web_ready_host(r, one, n) == -1)
						return -1;
				}
				p += len + (p[len] == '\n');
			}
		}
	}
	if (row->result_type == NULL)
		return 0;
	if (row->receiving_mx_hostname != NULL && web_ready_host(r,
	    row->receiving_mx_hostname, row->failed_sessions) == -1)
		return -1;
	if (!sts)
		return 0;
	web_sat(&r->cur_details, row->failed_sessions);
	return web_ready_fail(r, row->receiving_mx_hostname != NULL ?
	    row->receiving_mx_hostname : "", row->result_type[0] != '\0' ?
	    row->result_type : "unspecified", row->organization_name,
	    row->failed_sessions);
}

static int
web_fail_cmp(const void *a, const void *b)
{
	const struct web_ready_fail *x = a, *y = b;
	int c;

	if (x->sessions != y->sessions)
		return x->sessions < y->sessions ? 1 : -1;
	if ((c = strcmp(x->mx_host, y->mx_host)) != 0)
		return c;
	if ((c = strcmp(x->result_type, y->result_type)) != 0)
		return c;
	return strcmp(x->organization, y->organization);
}

/* Reporters: most failed first, then most sessions, then by name. */
static int
web_reporter_cmp(const void *a, const void *b)
{
	const struct web_stat_key *x = a, *y = b;

	if (x->failed != y->failed)
		return x->failed < y->failed ? 1 : -1;
	if (x->successful != y->successful)
		return x->successful < y->successful ? 1 : -1;
	return strcmp(x->key, y->key);
}

/* Hosts: uncovered first, then most sessions, then by name. */
static int
web_host_cmp(const void *a, const void *b)
{
	const struct web_stat_key *x = a, *y = b;

	if (x->successful != y->successful)
		return x->successful < y->successful ? -1 : 1;
	if (x->failed != y->failed)
		return x->failed < y->failed ? 1 : -1;
	return strcmp(x->key, y->key);
}

static bool
web_ready_covered(const struct web_ready *r, const char *host)
{
	for (size_t i = 0; i < r->mx.n; i++)
		if (policy_mx_match(r->mx.v[i], host))
			return true;
	return false;
}

int
web_ready_finish(struct web_ready *r)
{
	size_t shown = 0;
	int n;

	if (web_ready_entry_end(r) == -1)
		return -1;
	for (size_t i = 0; i < r->hosts.n; i++) {
		r->hosts.v[i].successful = web_ready_covered(r,
		    r->hosts.v[i].key);
		if (!r->hosts.v[i].successful)
			r->uncovered++;
	}
	if (r->nfails > 1)
		qsort(r->fails, r->nfails, sizeof(*r->fails), web_fail_cmp);
	if (r->reporters.n > 1)
		qsort(r->reporters.v, r->reporters.n,
		    sizeof(*r->reporters.v), web_reporter_cmp);
	if (r->hosts.n > 1)
		qsort(r->hosts.v, r->hosts.n, sizeof(*r->hosts.v),
		    web_host_cmp);

	/* The reasons: the heaviest failures, then uncovered hosts. */
	for (size_t i = 0; i < r->nfails && shown < 5; i++, shown++) {
		const struct web_ready_fail *f = &r->fails[i];

		if (strv_pushf(&r->reasons, "%s fails %s for %s (%llu "
		    "session%s)", f->mx_host[0] != '\0' ? f->mx_host :
		    "an MX host the reporter did not name", f->result_type,
		    f->organization, (unsigned long long)f->sessions,
		    f->sessions == 1 ? "" : "s") == -1)
			return -1;
	}
	if (r->nfails > shown && strv_pushf(&r->reasons, "and %zu more "
	    "failure%s", r->nfails - shown, r->nfails - shown == 1 ? "" :
	    "s") == -1)
		return -1;
	for (size_t i = 0; i < r->hosts.n && !r->hosts.v[i].successful; i++)
		if (strv_pushf(&r->reasons, "mail went to %s, which no mx "
		    "pattern of the policy covers", r->hosts.v[i].key) == -1)
			return -1;

	if (r->reports == 0) {
		r->verdict = WEB_READY_NO_DATA;
		n = snprintf(r->summary, sizeof(r->summary), "not enough "
		    "data: no reports in %d days", WEB_READY_DAYS);
	} else if (r->sts_successful == 0 && r->sts_failed == 0) {
		r->verdict = WEB_READY_NO_DATA;
		n = snprintf(r->summary, sizeof(r->summary), "not enough "
		    "data: %llu report%s in %d days, but no reporter applied "
		    "the policy", (unsigned long long)r->reports,
		    r->reports == 1 ? "" : "s", WEB_READY_DAYS);
	} else if (r->sts_failed > 0 || r->uncovered > 0) {
		r->verdict = WEB_READY_NOT_READY;
		n = snprintf(r->summary, sizeof(r->summary), "not ready: %s",
		    r->reasons.n > 0 ? r->reasons.v[0] : "policy failures");
	} else {
		r->verdict = WEB_READY_READY;
		n = snprintf(r->summary, sizeof(r->summary), "ready: %zu "
		    "reporter%s, 0 policy failures in %d days",
		    r->reporters.n, r->reporters.n == 1 ? "" : "s",
		    WEB_READY_DAYS);
		if (strv_pushf(&r->reasons, "%llu sessions applied the "
		    "policy and none failed", (unsigned long long)
		    r->sts_successful) == -1)
			return -1;
	}
	if (n < 0)
		return -1;
	if (r->mode == POLICY_MODE_ENFORCE && strv_push(&r->reasons,
	    "the policy is in mode enforce already") == -1)
		return -1;
	return 0;
}

static int
web_ready_row(void *arg, const struct store_entry_row *row)
{
	return web_ready_add(arg, row) == -1 ? -1 : 0;
}

int
web_ready_read(struct store *s, const struct store_domain *d, time_t now,
    struct web_ready *r, struct err *e)
{
	time_t from = now - (time_t)WEB_READY_DAYS * 86400;

	if (web_ready_init(r, d->name, &d->policy, from, now + 1) == -1)
		return err_set(e, "out of memory");
	if (store_entries(s, d->name, from, now + 1, web_ready_row, r, e) ==
	    -1)
		return -1;
	if (web_ready_finish(r) == -1)
		return err_set(e, "out of memory");
	return 0;
}

void
web_ready_free(struct web_ready *r)
{
	for (size_t i = 0; i < r->nfails; i++) {
		free(r->fails[i].mx_host);
		free(r->fails[i].result_type);
		free(r->fails[i].organization);
	}
	free(r->fails);
	web_stat_free(&r->reporters);
	web_stat_free(&r->hosts);
	strv_free(&r->mx);
	strv_free(&r->reasons);
	free(r->cur_org);
	memset(r, 0, sizeof(*r));
}

json_t *
web_ready_json(const char *domain, const struct web_ready *r)
{
	json_t *o = json_object(), *a, *x;

	json_object_set_new(o, "domain", json_string(domain));
	json_object_set_new(o, "mode", json_string(policy_mode_name(r->mode)));
	json_object_set_new(o, "from", web_json_time(r->from));
	json_object_set_new(o, "to", web_json_time(r->to));
	json_object_set_new(o, "verdict",
	    json_string(web_ready_verdict_name(r->verdict)));
	json_object_set_new(o, "summary", json_string(r->summary));
	a = json_array();
	for (size_t i = 0; i < r->reasons.n; i++)
		json_array_append_new(a, json_string(r->reasons.v[i]));
	json_object_set_new(o, "reasons", a);
	json_object_set_new(o, "reports", json_integer((json_int_t)
	    r->reports));
	x = json_object();
	json_object_set_new(x, "successful", json_integer((json_int_t)
	    r->sts_successful));
	json_object_set_new(x, "failed", json_integer((json_int_t)
	    r->sts_failed));
	json_object_set_new(x, "other", json_integer((json_int_t)
	    r->other_sessions));
	json_object_set_new(o, "sessions", x);
	a = json_array();
	for (size_t i = 0; i < r->reporters.n; i++) {
		x = json_object();
		json_object_set_new(x, "organization-name",
		    json_string(r->reporters.v[i].key));
		json_object_set_new(x, "successful", json_integer((json_int_t)
		    r->reporters.v[i].successful));
		json_object_set_new(x, "failed", json_integer((json_int_t)
		    r->reporters.v[i].failed));
		json_array_append_new(a, x);
	}
	json_object_set_new(o, "reporters", a);
	a = json_array();
	for (size_t i = 0; i < r->nfails; i++) {
		x = json_object();
		json_object_set_new(x, "mx-host", r->fails[i].mx_host[0] ?
		    json_string(r->fails[i].mx_host) : json_null());
		json_object_set_new(x, "result-type",
		    json_string(r->fails[i].result_type));
		json_object_set_new(x, "organization-name",
		    json_string(r->fails[i].organization));
		json_object_set_new(x, "sessions", json_integer((json_int_t)
		    r->fails[i].sessions));
		json_array_append_new(a, x);
	}
	json_object_set_new(o, "failures", a);
	json_object_set_new(o, "failures-other", json_integer((json_int_t)
	    r->fails_other));
	a = json_array();
	for (size_t i = 0; i < r->hosts.n; i++) {
		x = json_object();
		json_object_set_new(x, "host", json_string(r->hosts.v[i].key));
		json_object_set_new(x, "covered",
		    json_boolean(r->hosts.v[i].successful));
		json_object_set_new(x, "sessions", json_integer((json_int_t)
		    r->hosts.v[i].failed));
		json_array_append_new(a, x);
	}
	json_object_set_new(o, "mx-hosts", a);
	return o;
}
