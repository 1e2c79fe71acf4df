/*
 * dns_records.c - the records a customer publishes for a hosted domain
 * (see dns.h). The intake URL's path and the address's local part are
 * intake.h's, the one place that names them.
 *
 * dns_publish_now: the one record to publish after a change of id.
 *
 * Pure: strings in, records out.
 */
#include <stdio.h>
#include <string.h>

#include "../intake/intake.h"
#include "dns.h"

void
dns_records(const char *domain, const char *policy_id, const char *token,
    const char *service_host, struct dns_records *out)
{
	snprintf(out->intake_url, sizeof(out->intake_url), "https://%s%s%s",
	    service_host, INTAKE_URL_PATH, token);
	snprintf(out->intake_addr, sizeof(out->intake_addr), "%s%s@%s",
	    INTAKE_ADDR_LOCAL, token, service_host);
	snprintf(out->rr[0].name, sizeof(out->rr[0].name), "mta-sts.%s",
	    domain);
	out->rr[0].type = "CNAME";
	snprintf(out->rr[0].value, sizeof(out->rr[0].value), "%s",
	    service_host);
	snprintf(out->rr[1].name, sizeof(out->rr[1].name), "_mta-sts.%s",
	    domain);
	out->rr[1].type = "TXT";
	snprintf(out->rr[1].value, sizeof(out->rr[1].value), "v=STSv1; id=%s;",
	    policy_id);
	snprintf(out->rr[2].name, sizeof(out->rr[2].name), "_smtp._tls.%s",
	    domain);
	out->rr[2].type = "TXT";
	snprintf(out->rr[2].value, sizeof(out->rr[2].value),
	    "v=TLSRPTv1; rua=mailto:%s,%s", out->intake_addr, out->intake_url);
}

size_t
dns_publish_now(const char *domain, const char *old_id, const char *new_id,
    bool delegated, struct dns_rr *out)
{
	if (delegated || strcmp(old_id, new_id) == 0)
		return 0;
	snprintf(out->name, sizeof(out->name), "_mta-sts.%s", domain);
	out->type = "TXT";
	snprintf(out->value, sizeof(out->value), "v=STSv1; id=%s;", new_id);
	return 1;
}
