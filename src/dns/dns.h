/*
 * dns.h - what stsguard says in DNS. Today: the records a customer
 * publishes once for a hosted domain (built here, and only here, for the
 * CLI, and later the API and DNS UPDATE). The resolver and the publisher
 * (RFC 2136 DNS UPDATE) come next.
 */
#ifndef STSGUARD_DNS_H
#define STSGUARD_DNS_H

#include "../lib/limits.h"

#define DNS_TTL 3600		/* seconds, of the records we suggest */

/* One record, without the trailing dots of zone-file syntax. */
struct dns_rr {
	char		 name[LIMIT_DNAME_LEN + 16];	/* "mta-sts.example.com" */
	const char	*type;				/* "CNAME" or "TXT" */
	char		 value[2 * LIMIT_DNAME_LEN + 192];
};

/* What the owner of a hosted domain publishes, and the intake points
 * the _smtp._tls record names:
 *
 *	mta-sts.D     CNAME  <service_host>
 *	_mta-sts.D    TXT    "v=STSv1; id=<policy id>;"
 *	_smtp._tls.D  TXT    "v=TLSRPTv1; rua=mailto:<intake address>,<intake URL>"
 *
 * The mailto: URI comes first because some senders use only the first
 * rua URI, and mail is the route every sender supports. */
struct dns_records {
	struct dns_rr	 rr[3];		/* in the order above */
	char		 intake_url[LIMIT_DNAME_LEN + 64];	/* https://<service_host>/tlsrpt/<token> */
	char		 intake_addr[LIMIT_DNAME_LEN + 64];	/* tlsrpt+<token>@<service_host> */
};

/* Fills out for domain (A-label, lower case) with its policy id and
 * intake token, served by service_host (normalized). Pure. */
void	dns_records(const char *domain, const char *policy_id,
	    const char *token, const char *service_host,
	    struct dns_records *out);

#endif
