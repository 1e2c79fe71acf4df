/*
 * cli_dns.c - `stsguard dns DOMAIN`: the records a customer publishes
 * once (dns_records builds them), in zone-file syntax or as JSON.
 */
#include <stdio.h>
#include <time.h>
#include <string.h>

#include "cli.h"
#include "dns/dns.h"
#include "lib/dname.h"

/* A TXT string holds at most 255 bytes (RFC 1035 §3.3.14): longer values
 * are written as several strings, which resolvers concatenate. */
static void
cli_dns_print_txt(const char *name, const char *value)
{
	size_t len = strlen(value);

	printf("%s. %d IN TXT", name, DNS_TTL);
	for (size_t off = 0; off < len; off += 255)
		printf(" \"%.*s\"", (int)(len - off > 255 ? 255 : len - off),
		    value + off);
	printf("\n");
}

static int
cli_dns(struct cli *c)
{
	char name[LIMIT_DNAME_LEN + 1], host[LIMIT_DNAME_LEN + 1];
	char zone[LIMIT_DNAME_LEN + 1];
	const char *sh = conf_get(&c->conf, CONF_SERVICE_HOST);
	struct store_domain d = { 0 };
	struct dns_records recs;
	const struct dns_rr *rr = recs.rr;
	struct store *s;
	struct err e;
	int rc, r;

	if (cli_domain_arg(c->args.v[0], name) != 0)
		return CLI_INVALID;
	if (sh == NULL || dname_normalize(sh, strlen(sh), false, host,
	    &e) == -1)
		return cli_fail(CLI_USAGE, "service_host '%s': %s",
		    sh ? sh : "", sh ? e.msg : "not set");
	if (dns_zone_parse(conf_get(&c->conf, CONF_DNS_ZONE), zone, &e) == -1)
		return cli_fail(CLI_USAGE, "%s", e.msg);
	if ((s = cli_store(c)) == NULL)
		return CLI_USAGE;
	if ((r = store_domain_get(s, name, &d, &e)) != 0)
		return r == 1 ? cli_fail(CLI_INVALID, "%s is not a hosted "
		    "domain (stsguard domain add %s)", name, name) :
		    cli_fail(CLI_USAGE, "%s", e.msg);

	dns_records(name, d.policy_id, d.token, host, zone, &recs);
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
				    DNS_TTL, rr[i].value);
			else
				cli_dns_print_txt(rr[i].name, rr[i].value);
		}
		if (recs.nkept > 0) {
			printf("; published once: stsguard keeps these in "
			    "%s (dns publish, dns export)\n", zone);
			for (size_t i = 0; i < recs.nkept; i++) {
				printf("; ");
				cli_dns_print_txt(recs.kept[i].name,
				    recs.kept[i].value);
			}
		}
	}
	rc = CLI_OK;
	store_domain_free(&d);
	return rc;
}

/* service_host, normalized into host; CLI_OK or CLI_USAGE (printed). */
static int
cli_dns_host(struct cli *c, char host[LIMIT_DNAME_LEN + 1])
{
	const char *sh = conf_get(&c->conf, CONF_SERVICE_HOST);
	struct err e;

	if (sh == NULL || dname_normalize(sh, strlen(sh), false, host,
	    &e) == -1)
		return cli_fail(CLI_USAGE, "service_host '%s': %s",
		    sh ? sh : "", sh ? e.msg : "not set");
	return CLI_OK;
}

/* `dns publish [DOMAIN...]`: the delegated mode's TXT records, sent by
 * DNS UPDATE now (dns_publisher_push), for the domains named or every
 * one. Exit 1 with the server's reason when it did not take them. */
static int
cli_dns_publish(struct cli *c)
{
	char host[LIMIT_DNAME_LEN + 1], name[LIMIT_DNAME_LEN + 1];
	struct dns_publisher *p = NULL;
	struct strv names = { 0 };
	struct store *s;
	struct err e;
	size_t sent;
	int rc = CLI_USAGE;

	if (cli_dns_host(c, host) != CLI_OK)
		return CLI_USAGE;
	for (size_t i = 0; i < c->args.n; i++) {
		if (cli_domain_arg(c->args.v[i], name) != 0) {
			rc = CLI_INVALID;
			goto out;
		}
		if (strv_push(&names, name) == -1) {
			rc = cli_fail(CLI_USAGE, "out of memory");
			goto out;
		}
	}
	if (dns_publisher_new(conf_get(&c->conf, CONF_DNS_ZONE),
	    conf_get(&c->conf, CONF_DNS_UPDATE_SERVER),
	    conf_get(&c->conf, CONF_DNS_TSIG_KEY), host, &p, &e) == -1) {
		rc = cli_fail(CLI_USAGE, "%s", e.msg);
		goto out;
	}
	if ((s = cli_store(c)) == NULL)
		goto out;
	if (dns_publisher_push(p, s, &names, &sent, &e) == -1) {
		rc = cli_fail(CLI_INVALID, "dns publish: %s", e.msg);
		goto out;
	}
	printf("published the TXT records of %zu domain%s in %s\n", sent,
	    sent == 1 ? "" : "s", conf_get(&c->conf, CONF_DNS_ZONE));
	rc = CLI_OK;
out:
	dns_publisher_free(p);
	strv_free(&names);
	return rc;
}

/* `dns export`: the operator zone's TXT records of every hosted domain
 * that serves a policy, as zone-file lines, for operators who load the
 * zone their own way. */
struct cli_dns_export {
	const char	*host, *zone;
	time_t		 now;
	size_t		 n;
};

static int
cli_dns_export_one(void *arg, const struct store_domain *d)
{
	struct cli_dns_export *x = arg;
	struct dns_records recs;

	if (d->removed != 0 && d->serve_until <= x->now)
		return 0;
	dns_records(d->name, d->policy_id, d->token, x->host, x->zone, &recs);
	for (size_t i = 0; i < recs.nkept; i++)
		cli_dns_print_txt(recs.kept[i].name, recs.kept[i].value);
	x->n++;
	return 0;
}

static int
cli_dns_export(struct cli *c)
{
	char host[LIMIT_DNAME_LEN + 1], zone[LIMIT_DNAME_LEN + 1];
	struct cli_dns_export x = { host, zone, time(NULL), 0 };
	struct store *s;
	struct err e;

	if (cli_dns_host(c, host) != CLI_OK)
		return CLI_USAGE;
	if (dns_zone_parse(conf_get(&c->conf, CONF_DNS_ZONE), zone, &e) == -1)
		return cli_fail(CLI_USAGE, "%s", e.msg);
	if (zone[0] == '\0')
		return cli_fail(CLI_USAGE, "dns_zone is not set: customers "
		    "publish their TXT records themselves (stsguard dns "
		    "DOMAIN)");
	if ((s = cli_store(c)) == NULL)
		return CLI_USAGE;
	printf("; the TXT records stsguard keeps in %s\n", zone);
	if (store_domain_list(s, cli_dns_export_one, &x, &e) != 0)
		return cli_fail(CLI_USAGE, "%s", e.msg);
	return CLI_OK;
}

static const struct cli_flag cli_dns_flags[] = {
	{ CLI_F_JSON, "json", NULL, "print JSON" },
	{ 0, NULL, NULL, NULL },
};

const struct cli_cmd cli_dns_cmds[] = {
	/* Before "dns": the first command whose words match wins. */
	{ "dns publish", "[DOMAIN...]", "delegated mode: send the TXT "
	    "records of these domains (all without one) to dns_update_server "
	    "now, by DNS UPDATE", NULL, true, cli_dns_publish, 0, 10000 },
	{ "dns export", "", "delegated mode: print the TXT records of "
	    "dns_zone as zone-file lines", NULL, true, cli_dns_export, 0, 0 },
	{ "dns", "DOMAIN", "print the DNS records the domain's owner "
	    "publishes", cli_dns_flags, true, cli_dns, 1, 1 },
	{ NULL, NULL, NULL, NULL, false, NULL, 0, 0 },
};
