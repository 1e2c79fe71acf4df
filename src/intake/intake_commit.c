/*
 * intake_commit.c - stores what intake_examine found, for every route
 * (see intake.h): one transaction per batch of inputs, through the
 * store's report_add_batch, which takes reports and quarantine entries
 * alike.
 *
 *	items (inputs) -> pieces -> store_report_job[] -> ONE transaction
 *	on failure with several items: each item alone, pieces together
 *
 * A new report that shows sts-policy-fetch-error (which does not say
 * why) moves its domains' next check to now (store_check_soon), so that
 * the monitor fetches the policy as a sender would within a minute and
 * keeps the cause with the check (check_trend.c).
 *
 * Never parses (intake_examine did), never logs (the caller says what
 * became of each piece, in its own words).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../store/store.h"
#include "../tlsrpt/tlsrpt.h"
#include "intake.h"

/* The result type that asks the monitor for a check now (RFC 8460
 * §4.3.2.1: the policy could not be fetched). */
#define INTAKE_FETCH_ERROR "sts-policy-fetch-error"

/* For each policy of the new reports among items[0..n) with a failure of
 * INTAKE_FETCH_ERROR: its domain's next check now. Best effort: a check
 * missed here comes at its time. */
static void
intake_check_soon(struct store *s, struct intake_item *const *items,
    size_t n)
{
	time_t now = time(NULL);
	struct err e;

	for (size_t i = 0; i < n; i++)
		for (size_t r = 0; r < items[i]->parts.n; r++) {
			const struct tlsrpt_report *t = items[i]->parts.p[r].r;

			if (t == NULL || items[i]->results[r] != STORE_ADDED)
				continue;
			for (size_t k = 0; k < t->npolicies; k++) {
				const struct tlsrpt_policy *p =
				    &t->policies[k];

				for (size_t f = 0; f < p->nfailures; f++) {
					if (p->failures[f].result_type ==
					    NULL || strcmp(p->failures[f].
					    result_type, INTAKE_FETCH_ERROR) !=
					    0 ||
					    p->policy_domain[0] == '\0')
						continue;
					(void)store_check_soon(s,
					    p->policy_domain, now, &e);
					break;
				}
			}
		}
}

/* Sets every piece of items[0..n) as not stored. */
static void
intake_unstored(struct intake_item *const *items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t r = 0; r < LIMIT_MIME_REPORTS; r++) {
			items[i]->results[r] = -1;
			items[i]->ids[r] = 0;
		}
}

/* One report_add_batch over the pieces of items[0..n) (np in all), each
 * item's origin os[i] (its own, with what the message says of itself),
 * results copied back into the items. Returns the store's answer: -1
 * when the transaction failed (nothing stored); 0 when it committed,
 * *refused then telling whether some piece was refused before it (the
 * store's checks; e says why). */
static int
intake_batch(struct store *s, struct intake_item *const *items, size_t n,
    const struct store_origin *os, size_t np, struct store_report_job *sj,
    int *results, int64_t *ids, bool *refused, struct err *e)
{
	size_t k = 0;
	int rc;

	for (size_t i = 0; i < n; i++) {
		for (size_t r = 0; r < items[i]->parts.n; r++, k++) {
			const struct intake_piece *p = &items[i]->parts.p[r];

			sj[k] = (struct store_report_job){ .r = p->r,
			    .raw = p->raw, .rawlen = p->len, .o = &os[i],
			    .domain_mismatch = p->domain_mismatch,
			    .digest = p->has_digest ? p->digest : NULL,
			    .caps = items[i]->caps };
			if (p->r == NULL) {
				sj[k].reason = p->reason;
				sj[k].kind = p->kind;
			}
		}
	}
	rc = store_report_add_batch(s, sj, np, results, ids, e);
	k = 0;
	for (size_t i = 0; i < n; i++) {
		for (size_t r = 0; r < items[i]->parts.n; r++, k++) {
			items[i]->results[r] = results[k];
			items[i]->ids[r] = ids[k];
			if (results[k] == -1)
				*refused = true;
		}
	}
	return rc;
}

int
intake_commit(struct store *s, struct intake_item *const *items, size_t n,
    struct err *e)
{
	struct store_report_job *sj = NULL;
	struct store_origin *os = NULL;
	int *results = NULL;
	int64_t *ids = NULL;
	struct err e1;
	size_t np = 0;
	bool refused = false;
	int rc = -1;

	intake_unstored(items, n);
	for (size_t i = 0; i < n; i++)
		np += items[i]->parts.n;
	if (np == 0)
		return 0;
	if ((sj = calloc(np, sizeof(*sj))) == NULL ||
	    (results = calloc(np, sizeof(*results))) == NULL ||
	    (ids = calloc(np, sizeof(*ids))) == NULL ||
	    (os = calloc(n, sizeof(*os))) == NULL) {
		err_set(e, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct intake_parts *pa = &items[i]->parts;

		if (items[i]->o != NULL)
			os[i] = *items[i]->o;
		else
			os[i].provenance = STORE_IMPORT;
		os[i].dkim_present = pa->dkim_present;
		os[i].report_domain = pa->report_domain[0] != '\0' ?
		    pa->report_domain : NULL;
		os[i].report_submitter = pa->report_submitter[0] != '\0' ?
		    pa->report_submitter : NULL;
	}
	rc = intake_batch(s, items, n, os, np, sj, results, ids, &refused, e);
	if (rc == -1 && n > 1) {
		/* Rolled back: each alone; the first reason stays in e. */
		rc = 0;
		for (size_t i = 0; i < n; i++)
			if (intake_batch(s, &items[i], 1, &os[i],
			    items[i]->parts.n, sj, results, ids, &refused,
			    rc == 0 && !refused ? e : &e1) == -1)
				rc = -1;
	}
	intake_check_soon(s, items, n);
	if (refused)
		rc = -1;
out:
	free(sj);
	free(os);
	free(results);
	free(ids);
	return rc;
}
