/*
 * conf.c - the settings table, the config file reader and lookups.
 *
 * File format, one setting a line:
 *
 *	line    = *WSP [ key *WSP "=" *WSP value *WSP ] [ "#" comment ]
 *	key     = 1*( ALPHA / DIGIT / "_" / "-" )
 *
 * A value runs to the end of the line (or to a '#' preceded by
 * whitespace); it has no quoting. Never reads anything but the one file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "limits.h"

#define STR_(x) #x
#define STR(x) STR_(x)

const struct conf_def conf_defs[CONF_NKEYS] = {
	[CONF_DATA_DIR] = { "data_dir", "./data", "DIR",
	    "where the database, certificates and keys live" },
	[CONF_STORE] = { "store", NULL, "URL",
	    "the database: sqlite:PATH or postgresql://... (unset: "
	    "sqlite:<data_dir>/stsguard.db)" },
	[CONF_STORE_KEY_FILE] = { "store_key_file", NULL, "FILE",
	    "32 random bytes (or 64 hex digits) sealing the keys in the "
	    "store: with certificates acme, nodes share certificates "
	    "through the store (unset: files only)" },
	[CONF_SERVICE_HOST] = { "service_host", "sts.localhost", "HOST",
	    "the service's own name: CNAME target, report intake host" },
	[CONF_TENANT] = { "tenant", "default", "NAME",
	    "the tenant new domains belong to" },
	[CONF_HTTPS_LISTEN] = { "https_listen", ":443", "ADDR:PORT",
	    "HTTPS listener (policies, report intake, ACME tls-alpn-01)" },
	[CONF_HTTP_LISTEN] = { "http_listen", ":80", "ADDR:PORT",
	    "plain HTTP listener (ACME http-01, redirects)" },
	[CONF_SMTP_LISTEN] = { "smtp_listen", NULL, "ADDR:PORT",
	    "SMTP listener for e-mailed reports (off when unset)" },
	[CONF_WORKERS] = { "workers", "2", "N",
	    "worker threads, each with its own event loop" },
	[CONF_CERTIFICATES] = { "certificates", "local", "local|acme|files",
	    "where certificates come from" },
	[CONF_ACME_DIRECTORY] = { "acme_directory",
	    "https://acme-v02.api.letsencrypt.org/directory", "URL",
	    "ACME directory URL" },
	[CONF_ACME_EMAIL] = { "acme_email", NULL, "ADDR",
	    "contact address for the ACME account" },
	[CONF_ACME_CA_BUNDLE] = { "acme_ca_bundle", NULL, "FILE",
	    "CA bundle to trust for the ACME server (a test CA)" },
	[CONF_ACME_CHALLENGE] = { "acme_challenge", "tls-alpn-01",
	    "tls-alpn-01|http-01", "ACME challenge type to answer" },
	[CONF_USER] = { "user", NULL, "USER",
	    "drop root to this user after binding" },
	[CONF_LOG_LEVEL] = { "log_level", "info", "debug|info|warn",
	    "least severity logged" },
	[CONF_QUARANTINE_MAX_BYTES] = { "quarantine_max_bytes", "1073741824",
	    "BYTES", "quarantine kept from anonymous senders, in all "
	    "(compressed); the oldest give way" },
	[CONF_QUARANTINE_MAX_PER_CLIENT] = { "quarantine_max_per_client",
	    "100", "N", "quarantine entries one client address (IPv6: /64) "
	    "may have; its oldest give way" },
	[CONF_NAMESERVER] = { "nameserver", NULL, "IP[:PORT]",
	    "DNS server asked for DKIM keys and by check (unset: those of "
	    "/etc/resolv.conf)" },
	[CONF_DNSSEC_TRUST_ANCHOR] = { "dnssec_trust_anchor", NULL, "FILE",
	    "DS or DNSKEY records (zone-file format) DNS answers are "
	    "validated with; check reports DNSSEC (unset: not validated)" },
	[CONF_REQUIRE_DKIM] = { "require_dkim", "yes", "yes|no",
	    "count mailed reports only when DKIM-verified (RFC 8460, "
	    "section 3)" },
	[CONF_INTAKE_CLIENT_RATE] = { "intake_client_rate",
	    STR(LIMIT_INTAKE_CLIENT_RATE), "N", "reports a minute one "
	    "client address (IPv6: /64) may send; past it 429 / 450 "
	    "(0: no limit)" },
	[CONF_INTAKE_CLIENT_CONCURRENT] = { "intake_client_concurrent",
	    STR(LIMIT_INTAKE_CLIENT_CONCURRENT), "N", "report uploads one "
	    "client address may have at once; past it 429 (0: no limit)" },
	[CONF_MX_TEMPLATES] = { "mx_templates", NULL, "FILE",
	    "mail provider templates for domain add --mx auto and check "
	    "(unset: the built-in share/mx-templates.txt)" },
	[CONF_METRICS_LISTEN] = { "metrics_listen", NULL, "ADDR:PORT",
	    "Prometheus metrics over plain HTTP, GET /metrics (off when "
	    "unset)" },
	[CONF_MONITOR_INTERVAL] = { "monitor_interval", "21600", "SECONDS",
	    "serve checks each hosted domain this often, with jitter, and "
	    "alerts on what got worse (0: no monitor)" },
	[CONF_MONITOR_CA_FILE] = { "monitor_ca_file", NULL, "FILE",
	    "the monitor trusts only this CA for HTTPS and STARTTLS (a test "
	    "CA; unset: the system's)" },
	[CONF_MONITOR_ALLOW_PRIVATE] = { "monitor_allow_private", "no",
	    "yes|no", "the monitor probes loopback and private addresses too "
	    "(test set-ups; as check --allow-private)" },
	[CONF_ALERT_COOLDOWN] = { "alert_cooldown", "86400", "SECONDS",
	    "an alert for the same domain, name and kind is raised again "
	    "only after this long" },
	[CONF_ALERT_WEBHOOK] = { "alert_webhook", NULL, "URL",
	    "POST each alert there as JSON (unset: alerts are only kept and "
	    "shown)" },
	[CONF_ALERT_EMAIL] = { "alert_email", NULL, "ADDR",
	    "mail each alert there, from stsguard@<service_host>, through "
	    "alert_smtp_relay (unset: no e-mail)" },
	[CONF_ALERT_SMTP_RELAY] = { "alert_smtp_relay", "localhost:25",
	    "HOST[:PORT]", "the SMTP relay that takes alert e-mails "
	    "(STARTTLS when offered)" },
	[CONF_WEEKLY_DIGEST] = { "weekly_digest", "no", "yes|no",
	    "mail each tenant's owners a summary of their domains' week "
	    "through alert_smtp_relay" },
	[CONF_DNS_ZONE] = { "dns_zone", NULL, "ZONE",
	    "delegated mode: customers publish CNAMEs into this zone and "
	    "stsguard keeps the TXT records there (unset: customers publish "
	    "the TXT records)" },
	[CONF_DNS_UPDATE_SERVER] = { "dns_update_server", NULL, "IP[:PORT]",
	    "the authoritative server of dns_zone that takes DNS UPDATE "
	    "(RFC 2136; unset: dns export only)" },
	[CONF_DNS_TSIG_KEY] = { "dns_tsig_key", NULL, "FILE",
	    "the TSIG key signing updates, one line "
	    "ALGORITHM:NAME:BASE64SECRET (as dig -y takes)" },
};

int
conf_init(struct conf *c)
{
	memset(c, 0, sizeof(*c));
	for (int k = 0; k < CONF_NKEYS; k++) {
		if (conf_defs[k].def != NULL &&
		    (c->value[k] = strdup(conf_defs[k].def)) == NULL) {
			conf_free(c);
			return -1;
		}
	}
	return 0;
}

void
conf_free(struct conf *c)
{
	for (int k = 0; k < CONF_NKEYS; k++) {
		free(c->value[k]);
		c->value[k] = NULL;
	}
}

int
conf_lookup(const char *name)
{
	for (int k = 0; k < CONF_NKEYS; k++) {
		const char *a = conf_defs[k].name, *b = name;

		while (*a != '\0' && (*a == *b || (*a == '_' && *b == '-'))) {
			a++;
			b++;
		}
		if (*a == '\0' && *b == '\0')
			return k;
	}
	return -1;
}

int
conf_set(struct conf *c, int k, const char *v, bool from_flag)
{
	char *copy;

	if (k < 0 || k >= CONF_NKEYS || (copy = strdup(v)) == NULL)
		return -1;
	free(c->value[k]);
	c->value[k] = copy;
	c->from_flag[k] |= from_flag;
	return 0;
}

static char *
conf_trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' ||
	    end[-1] == '\r' || end[-1] == '\n'))
		*--end = '\0';
	return s;
}

int
conf_load(struct conf *c, const char *path, bool must_exist, struct err *e)
{
	char line[LIMIT_CONFIG_LINE], *key, *val, *hash, *eq;
	int lineno = 0, rc = -1, k;
	long total = 0;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		if (errno == ENOENT && !must_exist)
			return 0;
		return err_set(e, "%s: %s", path, strerror(errno));
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		total += (long)strlen(line);
		if (total > LIMIT_CONFIG_BYTES) {
			err_set(e, "%s: over %d bytes", path, LIMIT_CONFIG_BYTES);
			goto out;
		}
		if (strchr(line, '\n') == NULL && !feof(f)) {
			err_set(e, "%s:%d: line over %d bytes", path, lineno,
			    LIMIT_CONFIG_LINE - 2);
			goto out;
		}
		key = conf_trim(line);
		if (*key == '#' || *key == '\0')
			continue;
		for (hash = key; (hash = strchr(hash, '#')) != NULL; hash++)
			if (hash[-1] == ' ' || hash[-1] == '\t') {
				*hash = '\0';
				break;
			}
		if ((eq = strchr(key, '=')) == NULL) {
			err_set(e, "%s:%d: expected 'key = value'", path,
			    lineno);
			goto out;
		}
		*eq = '\0';
		key = conf_trim(key);
		val = conf_trim(eq + 1);
		if ((k = conf_lookup(key)) == -1) {
			err_set(e, "%s:%d: unknown setting '%s'", path, lineno,
			    key);
			goto out;
		}
		if (c->from_flag[k])
			continue;
		if (conf_set(c, k, val, false) == -1) {
			err_set(e, "%s:%d: out of memory", path, lineno);
			goto out;
		}
	}
	if (ferror(f)) {
		err_set(e, "%s: read error", path);
		goto out;
	}
	rc = 0;
out:
	fclose(f);
	return rc;
}

const char *
conf_get(const struct conf *c, enum conf_key k)
{
	return c->value[k];
}

int
conf_get_int(const struct conf *c, enum conf_key k, long min, long max,
    long *out, struct err *e)
{
	const char *v = c->value[k];
	char *end;
	long n;

	if (v == NULL || *v == '\0')
		return err_set(e, "%s is not set", conf_defs[k].name);
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max)
		return err_set(e, "%s: '%s' is not a number in %ld..%ld",
		    conf_defs[k].name, v, min, max);
	*out = n;
	return 0;
}

int
conf_get_bool(const struct conf *c, enum conf_key k, bool *out,
    struct err *e)
{
	const char *v = c->value[k];

	if (v != NULL && strcmp(v, "yes") == 0)
		*out = true;
	else if (v != NULL && strcmp(v, "no") == 0)
		*out = false;
	else
		return err_set(e, "%s: '%s': expected yes or no",
		    conf_defs[k].name, v != NULL ? v : "");
	return 0;
}
