/*
 * web_explain.c - every TLS-RPT result type (RFC 8460 §4.3) said in one
 * plain sentence with what to fix, for the people who read the
 * dashboard rather than the RFC. The MX host, when a report names one,
 * goes into the sentence ("the certificate of mx2.example.com has
 * expired: renew it"); without one the sentence says "an MX host".
 *
 * Pure: a result type and a host in, escaped text out.
 */
#include <string.h>

#include "web.h"

struct web_why {
	const char *type;
	const char *before, *after;	/* text around the host name */
};

static const struct web_why web_whys[] = {
	{ "starttls-not-supported", "",
	  " did not offer STARTTLS: enable TLS on its SMTP service (port "
	  "25)" },
	{ "certificate-host-mismatch", "the certificate of ",
	  " does not name the host: get one whose names include the MX "
	  "host name" },
	{ "certificate-expired", "the certificate of ",
	  " has expired: renew it" },
	{ "certificate-not-trusted", "the certificate of ",
	  " is not signed by a public CA (self-signed or a missing "
	  "intermediate): install a publicly trusted certificate with its "
	  "full chain" },
	{ "validation-failure", "the sender could not validate ",
	  " for another reason: check its certificate chain and TLS "
	  "configuration" },
	{ "tlsa-invalid", "the TLSA records of ",
	  " do not match its certificate: publish records for the "
	  "certificate in use before you roll it" },
	{ "dnssec-invalid", "the DNSSEC answers for ",
	  " did not validate: fix the zone's signatures or its DS "
	  "records" },
	{ "dane-required", "the sender requires DANE but ",
	  " has no usable TLSA records: publish them (signed) or stop "
	  "asking for DANE" },
	{ "sts-policy-fetch-error", "the sender could not fetch the "
	  "MTA-STS policy (for ",
	  "): check that mta-sts.<domain> resolves to stsguard and "
	  "answers over HTTPS" },
	{ "sts-policy-invalid", "the sender found the MTA-STS policy "
	  "invalid (for ",
	  "): check the policy's syntax and its mx lines" },
	{ "sts-webpki-invalid", "the sender could not validate the "
	  "certificate of the policy host (for ",
	  "): check the certificate of mta-sts.<domain>" },
};

void
web_explain(struct web_html *h, const char *type, const char *mx)
{
	const char *host = mx != NULL && mx[0] != '\0' ? mx : "an MX host";
	size_t i;

	for (i = 0; i < sizeof(web_whys) / sizeof(web_whys[0]); i++) {
		if (type == NULL || strcmp(type, web_whys[i].type) != 0)
			continue;
		web_html_text(h, web_whys[i].before);
		web_html_text(h, host);
		web_html_text(h, web_whys[i].after);
		web_html_raw(h, ".");
		return;
	}
	/* RFC 8460 allows other types; say what we know. */
	web_html_raw(h, "the sender reported &quot;");
	web_html_text(h, type != NULL ? type : "(none)");
	web_html_raw(h, "&quot; for ");
	web_html_text(h, host);
	web_html_raw(h, ": see the report's failure details.");
}
