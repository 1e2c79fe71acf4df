/*
 * tlsrpt_count.c - how sessions are counted, once, by every view: the
 * report list, a report's page, the statistics and the store's roll-ups
 * all call these (the rules are in tlsrpt.h).
 *
 *	report ---- entries ---- view: tlsa | policy (sts, no-policy-found)
 *	               failed = max(total-failure, sum of details)
 *	group (a report; a day + organization) = the larger view
 *
 * Pure: no I/O, no state.
 */
#include <string.h>

#include "tlsrpt.h"

static void
tlsrpt_add_sat(uint64_t *a, uint64_t b)
{
	*a = *a + b < *a ? UINT64_MAX : *a + b;
}

int
tlsrpt_view(const char *policy_type)
{
	return policy_type != NULL && strcmp(policy_type, "tlsa") == 0 ?
	    TLSRPT_VIEW_TLSA : TLSRPT_VIEW_POLICY;
}

void
tlsrpt_views_add(struct tlsrpt_views *x, int v, uint64_t successful,
    uint64_t failed)
{
	tlsrpt_add_sat(&x->successful[v], successful);
	tlsrpt_add_sat(&x->failed[v], failed);
}

int
tlsrpt_views_pick(const struct tlsrpt_views *x)
{
	uint64_t p = x->successful[TLSRPT_VIEW_POLICY],
	    t = x->successful[TLSRPT_VIEW_TLSA];

	tlsrpt_add_sat(&p, x->failed[TLSRPT_VIEW_POLICY]);
	tlsrpt_add_sat(&t, x->failed[TLSRPT_VIEW_TLSA]);
	return t > p ? TLSRPT_VIEW_TLSA : TLSRPT_VIEW_POLICY;
}

uint64_t
tlsrpt_policy_failed(const struct tlsrpt_policy *p, uint64_t *details)
{
	uint64_t sum = 0;

	for (size_t j = 0; j < p->nfailures; j++)
		tlsrpt_add_sat(&sum, p->failures[j].failed_session_count);
	if (details != NULL)
		*details = sum;
	return sum > p->total_failure ? sum : p->total_failure;
}

void
tlsrpt_count(const struct tlsrpt_report *r, struct tlsrpt_counted *c)
{
	struct tlsrpt_views x;
	bool seen[2] = { false, false };
	int v;

	memset(&x, 0, sizeof(x));
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < r->npolicies; i++) {
		const struct tlsrpt_policy *p = &r->policies[i];
		uint64_t details, failed = tlsrpt_policy_failed(p, &details);

		if (details > p->total_failure)
			c->details_over = true;
		v = tlsrpt_view(p->policy_type);
		seen[v] = true;
		tlsrpt_views_add(&x, v, p->total_successful, failed);
	}
	v = tlsrpt_views_pick(&x);
	c->successful = x.successful[v];
	c->failed = x.failed[v];
	c->two_views = seen[0] && seen[1];
}

void
tlsrpt_totals(const struct tlsrpt_report *r, uint64_t *successful,
    uint64_t *failed)
{
	*successful = *failed = 0;
	for (size_t i = 0; i < r->npolicies; i++) {
		tlsrpt_add_sat(successful, r->policies[i].total_successful);
		tlsrpt_add_sat(failed, r->policies[i].total_failure);
	}
}
