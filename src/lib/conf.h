/*
 * conf.h - stsguard's settings: one table drives the config file, the
 * command-line flags and --help.
 *
 * A setting `https_listen` is written `https_listen = 127.0.0.1:8443` in
 * the config file and `--https-listen 127.0.0.1:8443` (or
 * `--https-listen=...`) after the subcommand that uses it; a flag wins
 * over the file, the file over the built-in default. The config file is
 * `--config FILE`, else `stsguard.conf` in the data dir when present.
 */
#ifndef STSGUARD_CONF_H
#define STSGUARD_CONF_H

#include <stdbool.h>

#include "err.h"

enum conf_key {
	CONF_DATA_DIR,
	CONF_STORE,
	CONF_STORE_KEY_FILE,
	CONF_SERVICE_HOST,
	CONF_TENANT,
	CONF_HTTPS_LISTEN,
	CONF_HTTP_LISTEN,
	CONF_SMTP_LISTEN,
	CONF_WORKERS,
	CONF_CERTIFICATES,
	CONF_ACME_DIRECTORY,
	CONF_ACME_EMAIL,
	CONF_ACME_CA_BUNDLE,
	CONF_ACME_CHALLENGE,
	CONF_USER,
	CONF_LOG_LEVEL,
	CONF_QUARANTINE_MAX_BYTES,
	CONF_QUARANTINE_MAX_PER_CLIENT,
	CONF_NAMESERVER,
	CONF_DNSSEC_TRUST_ANCHOR,
	CONF_REQUIRE_DKIM,
	CONF_INTAKE_CLIENT_RATE,
	CONF_INTAKE_CLIENT_CONCURRENT,
	CONF_MX_TEMPLATES,
	CONF_METRICS_LISTEN,
	CONF_MONITOR_INTERVAL,
	CONF_MONITOR_CA_FILE,
	CONF_MONITOR_ALLOW_PRIVATE,
	CONF_ALERT_COOLDOWN,
	CONF_ALERT_WEBHOOK,
	CONF_ALERT_EMAIL,
	CONF_ALERT_SMTP_RELAY,
	CONF_WEEKLY_DIGEST,
	CONF_DNS_ZONE,
	CONF_DNS_UPDATE_SERVER,
	CONF_DNS_TSIG_KEY,
	CONF_NKEYS
};

struct conf_def {
	const char *name;	/* "https_listen" */
	const char *def;	/* built-in default, or NULL */
	const char *arg;	/* "ADDR:PORT" for --help */
	const char *help;	/* one line */
};

struct conf {
	char	*value[CONF_NKEYS];	/* owned; NULL: unset, no default */
	bool	 from_flag[CONF_NKEYS];
};

/* The table, CONF_NKEYS entries, in enum order. */
extern const struct conf_def conf_defs[CONF_NKEYS];

/* Fills c with the built-in defaults. Returns 0 or -1 (out of memory). */
int	conf_init(struct conf *c);
void	conf_free(struct conf *c);

/* The key named name ("https_listen" or "https-listen"), or -1. */
int	conf_lookup(const char *name);

/* Sets key k to v (copied). from_flag marks flag values, which a later
 * file read does not override. Returns 0 or -1. */
int	conf_set(struct conf *c, int k, const char *v, bool from_flag);

/* Reads "key = value" lines ('#' comments, blank lines) from the file at
 * path; unknown keys and malformed lines are errors ("FILE:LINE: ...").
 * Values set by flags are kept. If must_exist is false, a missing file is
 * not an error. Returns 0 or -1. */
int	conf_load(struct conf *c, const char *path, bool must_exist,
	    struct err *e);

/* The value of k, or NULL when unset. Borrowed until c changes. */
const char *conf_get(const struct conf *c, enum conf_key k);

/* conf_get as "yes" or "no" (true, false); returns 0 or -1 with the
 * reason. */
int	conf_get_bool(const struct conf *c, enum conf_key k, bool *out,
	    struct err *e);

/* conf_get as a number in [min, max]; returns 0 or -1 with the reason. */
int	conf_get_int(const struct conf *c, enum conf_key k, long min,
	    long max, long *out, struct err *e);

#endif
