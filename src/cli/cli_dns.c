/*
 * cli_dns.c - `stsguard dns DOMAIN`: the records a customer publishes
 * once, in zone-file syntax or as JSON:
 *
 *	mta-sts.D.     CNAME  <service_host>.
 *	_mta-sts.D.    TXT    "v=STSv1; id=<policy id>;"
 *	_smtp._tls.D.  TXT    "v=TLSRPTv1; rua=mailto:tlsrpt+<token>@<service_host>,https://<service_host>/tlsrpt/<token>"
 *
 * The mailto: address comes first because some senders only use the
 * first rua URI, and mail is the route every sender supports.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "lib/dname.h"

#define CLI_DNS_TTL 3600

struct cli_dns_rr {
	char	name[LIMIT_DNAME_LEN + 16];
	const char *type;
	char	value[LIMIT_DNAME_LEN * 2 + 128];
};

/* A TXT string holds at most 255 bytes (RFC 1035 §3.3.14): longer values
 * are written as several strings, which resolvers concatenate. */
static void
cli_dns_print_txt(const char *name, const char *value)
{
	size_t len = strlen(value);

	printf("%s. %d IN TXT", name, CLI_DNS_TTL);
	for (size_t off = 0; off < len; off += 255)
		printf(" \"%.*s\"", (int)(len - off > 255 ? 255 : len - off),
		    value + off);
	printf("\n");
}

static int
cli_dns(struct cli *c)
{
	char name[LIMIT_DNAME_LEN + 1], host[LIMIT_DNAME_LEN + 1];
	const char *sh = conf_get(&c->conf, CONF_SERVICE_HOST);
	struct store_domain d = { 0 };
	struct cli_dns_rr rr[3];
	struct store *s;
	struct err e;
	int rc, r;

	if (cli_domain_arg(c->args.v[0], name) != 0)
		return CLI_INVALID;
	if (sh == NULL || dname_normalize(sh, strlen(sh), false, host,
	    &e) == -1)
		return cli_fail(CLI_USAGE, "service_host '%s': %s",
		    sh ? sh : "", sh ? e.msg : "not set");
	if ((s = cli_store(c)) == NULL)
		return CLI_USAGE;
	if ((r = s->ops->domain_get(s, name, &d, &e)) != 0)
		return r == 1 ? cli_fail(CLI_INVALID, "%s is not a hosted "
		    "domain (stsguard domain add %s)", name, name) :
		    cli_fail(CLI_USAGE, "%s", e.msg);

	snprintf(rr[0].name, sizeof(rr[0].name), "mta-sts.%s", name);
	rr[0].type = "CNAME";
	snprintf(rr[0].value, sizeof(rr[0].value), "%s", host);
	snprintf(rr[1].name, sizeof(rr[1].name), "_mta-sts.%s", name);
	rr[1].type = "TXT";
	snprintf(rr[1].value, sizeof(rr[1].value), "v=STSv1; id=%s;",
	    d.policy_id);
	snprintf(rr[2].name, sizeof(rr[2].name), "_smtp._tls.%s", name);
	rr[2].type = "TXT";
	snprintf(rr[2].value, sizeof(rr[2].value),
	    "v=TLSRPTv1; rua=mailto:tlsrpt+%s@%s,https://%s/tlsrpt/%s",
	    d.token, host, host, d.token);

	if (c->json) {
		json_t *a = json_array();

		for (size_t i = 0; i < 3; i++) {
			json_t *o = json_object();

			json_object_set_new(o, "name", json_string(rr[i].name));
			json_object_set_new(o, "type", json_string(rr[i].type));
			json_object_set_new(o, "value",
			    json_string(rr[i].value));
			json_array_append_new(a, o);
		}
		cli_print_json(a);
	} else {
		if (d.removed)
			printf("; %s is removed: keep these until the old "
			    "policy expires, then delete them\n", name);
		for (size_t i = 0; i < 3; i++) {
			if (strcmp(rr[i].type, "CNAME") == 0)
				printf("%s. %d IN CNAME %s.\n", rr[i].name,
				    CLI_DNS_TTL, rr[i].value);
			else
				cli_dns_print_txt(rr[i].name, rr[i].value);
		}
	}
	rc = CLI_OK;
	store_domain_free(&d);
	return rc;
}

static const struct cli_flag cli_dns_flags[] = {
	{ CLI_F_JSON, "json", NULL, "print JSON" },
	{ 0, NULL, NULL, NULL },
};

const struct cli_cmd cli_dns_cmds[] = {
	{ "dns", "DOMAIN", "print the DNS records the domain's owner "
	    "publishes", cli_dns_flags, true, cli_dns, 1, 1 },
	{ NULL, NULL, NULL, NULL, false, NULL, 0, 0 },
};
