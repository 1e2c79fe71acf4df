/*
 * dns_records.c - the records a customer publishes for a hosted domain
 * (see dns.h). The intake URL's path and the address's local part are
 * intake.h's, the one place that names them.
 *
 * dns_publish_now: the one record to publish after a change of id.
 * Delegated mode: the owner's three CNAMEs, and the TXT records
 * stsguard keeps at their targets in the operator's zone.
 *
 * Pure: strings in, records out.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "../intake/intake.h"
#include "../lib/dname.h"
#include "dns.h"

void
dns_records(const char *domain, const char *policy_id, const char *token,
    const char *service_host, const char *zone, struct dns_records *out)
{
	bool delegated = zone != NULL && zone[0] != '\0';

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
	snprintf(out->rr[2].name, sizeof(out->rr[2].name), "_smtp._tls.%s",
	    domain);
	out->nkept = delegated ? 2 : 0;
	/* The TXT records sit at the customer's names, or at the names in
	 * the operator's zone that the customer's CNAMEs point to. */
	struct dns_rr *sts = delegated ? &out->kept[0] : &out->rr[1];
	struct dns_rr *rpt = delegated ? &out->kept[1] : &out->rr[2];

	if (delegated) {
		snprintf(sts->name, sizeof(sts->name), "%s._mta-sts.%s",
		    domain, zone);
		snprintf(rpt->name, sizeof(rpt->name), "%s._smtp._tls.%s",
		    domain, zone);
		out->rr[1].type = "CNAME";
		snprintf(out->rr[1].value, sizeof(out->rr[1].value), "%.*s",
		    (int)sizeof(sts->name) - 1, sts->name);
		out->rr[2].type = "CNAME";
		snprintf(out->rr[2].value, sizeof(out->rr[2].value), "%.*s",
		    (int)sizeof(rpt->name) - 1, rpt->name);
	}
	sts->type = "TXT";
	snprintf(sts->value, sizeof(sts->value), "v=STSv1; id=%s;",
	    policy_id);
	rpt->type = "TXT";
	snprintf(rpt->value, sizeof(rpt->value),
	    "v=TLSRPTv1; rua=mailto:%s,%s", out->intake_addr, out->intake_url);
}

int
dns_zone_parse(const char *setting, char out[LIMIT_DNAME_LEN + 1],
    struct err *e)
{
	struct err why;

	out[0] = '\0';
	if (setting == NULL)
		return 0;
	if (dname_normalize(setting, strlen(setting), false, out, &why) == -1)
		return err_set(e, "dns_zone '%s': %s", setting, why.msg);
	/* "D._smtp._tls.ZONE" must still be a name for a domain D of
	 * LIMIT_DNS_ZONE_ROOM bytes. */
	if (strlen(out) + sizeof("._smtp._tls.") - 1 + LIMIT_DNS_ZONE_ROOM >
	    LIMIT_DNAME_LEN) {
		out[0] = '\0';
		return err_set(e, "dns_zone '%s': too long, the names under it "
		    "would leave hosted domains only %d bytes", setting,
		    LIMIT_DNAME_LEN - (int)sizeof("._smtp._tls.") + 1 -
		    (int)strlen(setting));
	}
	return 0;
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
