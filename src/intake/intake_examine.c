/*
 * intake_examine.c - takes an input apart into reports and quarantine
 * entries (see intake.h).
 *
 *	report:  bytes --tlsrpt_parse--> report | refused (reason)
 *	e-mail:  bytes --mime_report_extract--> report parts (1..16)
 *	           each --tlsrpt_parse--> report | refused (kept alone)
 *	         no part, or none valid --> the whole message is kept
 *
 * Never does I/O, never logs; the caller decides what to store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../mime/mime.h"
#include "../tlsrpt/tlsrpt.h"
#include "intake.h"

/* Makes out one refused piece: the whole input, of kind. */
static void
intake_whole(struct intake_parts *out, const char *kind, const uint8_t *in,
    size_t len, const char *reason)
{
	struct intake_piece *p = &out->p[0];

	intake_parts_free(out);
	out->n = 1;
	p->raw = in;
	p->len = len;
	p->kind = kind;
	memcpy(p->reason, reason, strnlen(reason, sizeof(p->reason) - 1));
	out->first_error = p->reason;
}

/* True when one of r's policy-domains is domain (lower case; a trailing
 * dot on either side ignored). */
static bool
intake_names_domain(const struct tlsrpt_report *r, const char *domain)
{
	size_t n = strlen(domain);

	if (n > 0 && domain[n - 1] == '.')
		n--;
	for (size_t i = 0; i < r->npolicies; i++) {
		const char *d = r->policies[i].policy_domain;
		size_t k = d != NULL ? strlen(d) : 0;

		if (k > 0 && d[k - 1] == '.')
			k--;
		if (k == n && n > 0 && strncasecmp(d, domain, n) == 0)
			return true;
	}
	return false;
}

/* Takes piece p's report: counts it valid and works out its digest. */
static void
intake_valid(struct intake_parts *out, struct intake_piece *p)
{
	out->nvalid++;
	p->has_digest = tlsrpt_report_digest(p->r, p->digest) == 0;
}

void
intake_examine(bool message, const uint8_t *in, size_t len,
    struct intake_parts *out)
{
	struct mime_message *m = NULL;
	struct err e;

	memset(out, 0, sizeof(*out));
	if (!message) {
		struct intake_piece *p = &out->p[0];

		out->n = 1;
		p->raw = in;
		p->len = len;
		p->kind = "report";
		if (tlsrpt_parse(in, len, &p->r, &e) == 0) {
			intake_valid(out, p);
		} else {
			p->r = NULL;
			memcpy(p->reason, e.msg, sizeof(p->reason));
			out->first_error = p->reason;
		}
		return;
	}
	if (mime_report_extract(in, len, &m, &e) == -1) {
		intake_whole(out, "message", in, len, e.msg);
		return;
	}
	out->dkim_present = m->dkim_present;
	if (m->report_domain != NULL)
		snprintf(out->report_domain, sizeof(out->report_domain), "%s",
		    m->report_domain);
	if (m->report_submitter != NULL)
		snprintf(out->report_submitter, sizeof(out->report_submitter),
		    "%s", m->report_submitter);
	for (size_t i = 0; i < m->nreports && i < LIMIT_MIME_REPORTS; i++) {
		struct mime_report *mr = &m->reports[i];
		struct intake_piece *p = &out->p[out->n++];

		p->data = mr->data;	/* taken: mime_message_free skips */
		mr->data = NULL;
		p->raw = p->data;
		p->len = mr->len;
		p->kind = "report";
		if (tlsrpt_parse(p->raw, p->len, &p->r, &e) == 0) {
			intake_valid(out, p);
			p->domain_mismatch = out->report_domain[0] != '\0' &&
			    !intake_names_domain(p->r, out->report_domain);
			continue;
		}
		p->r = NULL;
		memcpy(p->reason, e.msg, sizeof(p->reason));
		if (out->first_error == NULL)
			out->first_error = p->reason;
	}
	mime_message_free(m);
	if (out->nvalid == 0) {
		char reason[ERR_MSG_LEN];

		/* Nothing to store: keep the whole message, with the first
		 * report's reason. */
		memcpy(reason, out->first_error, sizeof(reason));
		intake_whole(out, "message", in, len, reason);
	}
}

void
intake_parts_free(struct intake_parts *parts)
{
	for (size_t i = 0; i < parts->n; i++) {
		tlsrpt_report_free(parts->p[i].r);
		free(parts->p[i].data);
	}
	memset(parts, 0, sizeof(*parts));
}
