/*
 * cli.h - the stsguard command line: shared state of one invocation and
 * the helpers every subcommand uses. Subcommands are thin: they parse
 * flags, call the modules, and print.
 *
 * Exit codes, everywhere: CLI_OK (0) ok or valid, CLI_INVALID (1) invalid
 * input or a failed check, CLI_USAGE (2) usage or I/O error.
 */
#ifndef STSGUARD_CLI_H
#define STSGUARD_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "lib/conf.h"
#include "lib/strv.h"
#include "store/store.h"

enum { CLI_OK = 0, CLI_INVALID = 1, CLI_USAGE = 2 };

/* Flags a subcommand may accept besides the settings of conf.h. */
enum cli_flag_id {
	CLI_F_JSON, CLI_F_MODE, CLI_F_MX, CLI_F_MAX_AGE, CLI_F_LIMIT,
	CLI_F_DOMAIN, CLI_F_FROM, CLI_F_TO, CLI_F_STDIN, CLI_F_RAW,
	CLI_F_PROGRESS, CLI_F_ALL, CLI_F_UNCLAIMED, CLI_F_CONFLICTS,
	CLI_F_ROLE, CLI_F_PASSWORD_FILE, CLI_F_READ_ONLY, CLI_F_CA_FILE,
	CLI_F_ALLOW_PRIVATE, CLI_F_FILE, CLI_F_DRY_RUN, CLI_F_YES,
	CLI_F_TRUST_ANCHOR,
};

struct cli_flag {
	enum cli_flag_id id;
	const char *name;	/* "max-age" */
	const char *arg;	/* "SECONDS", or NULL for a switch */
	const char *help;
};

/* One invocation. */
struct cli {
	struct conf conf;
	const char *config_path;	/* --config, or NULL */
	bool	    config_loaded;
	struct store *store;		/* opened on first cli_store() */
	/* Parsed flags of the subcommand. */
	bool	    json, stdin_flag, raw, progress, all, unclaimed,
		    conflicts, read_only, allow_private, dry_run, yes;
	const char *mode, *max_age, *domain, *from, *to, *role,
		   *password_file, *ca_file, *file;
	long	    limit;
	struct strv mx;			/* --mx, repeatable */
	struct strv args;		/* positional arguments */
};

/* A subcommand: name, one-line help, usage line, its flags, and the
 * function that runs it after flags are parsed. */
struct cli_cmd {
	const char *name;		/* "policy lint" */
	const char *usage;		/* "FILE|-" */
	const char *help;
	const struct cli_flag *flags;	/* terminated by a NULL name */
	bool	    settings;		/* accepts --<setting> flags */
	int	  (*run)(struct cli *c);
	size_t	    min_args, max_args;	/* positional arguments */
};

/* Subcommand tables, one per file. */
extern const struct cli_cmd cli_policy_cmds[], cli_record_cmds[],
    cli_report_cmds[], cli_domain_cmds[], cli_dns_cmds[], cli_stats_cmds[],
    cli_serve_cmds[], cli_acme_cmds[], cli_account_cmds[], cli_check_cmds[],
    cli_store_cmds[];

/* Prints "stsguard: <message>" on stderr. Returns code. */
int	cli_fail(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Opens the store under the data dir (created 0700 when missing) once.
 * Returns it, or NULL after printing why. */
struct store *cli_store(struct cli *c);

/* Reads a whole file ("-" is stdin) of at most max bytes into a new
 * NUL-terminated buffer (caller frees). Returns 0, or -1 with the reason
 * (too large, I/O). */
int	cli_read_file(const char *path, size_t max, uint8_t **buf, size_t *len,
	    struct err *e);

/* Prints a JSON value with 2-space indent and a final newline on stdout,
 * and drops the reference. */
void	cli_print_json(json_t *v);

/* json_string(s), or json_null() for NULL; never fails silently. */
json_t	*cli_json_str(const char *s);

/* "2026-05-11T00:00:00Z" for t (0 prints as null in JSON, "-" in text). */
json_t	*cli_json_time(time_t t);
const char *cli_time(time_t t, char buf[21]);

/* Print s with control bytes (and backslash) as \xNN, so that strings
 * from reports cannot drive the terminal; UTF-8 passes through.
 * cli_put_safe writes to f; cli_safe writes into buf (cut to fit bufsz)
 * and returns buf. */
void	cli_put_safe(FILE *f, const char *s);
const char *cli_safe(const char *s, char *buf, size_t bufsz);

/* Normalizes a domain name given on the command line (U-labels to
 * A-labels, lower case) into out. Returns 0, or CLI_INVALID after
 * printing why. */
int	cli_domain_arg(const char *in, char out[LIMIT_DNAME_LEN + 1]);

/* The mx templates: the file of the setting mx_templates, else the
 * built-in table. Returns 0 with *t (caller calls
 * policy_templates_free), or CLI_USAGE after printing why. */
int	cli_templates(struct cli *c, struct policy_templates *t);

/* The line under every text view of session counts, saying how they are
 * counted (tlsrpt.h: the same rules everywhere). */
#define CLI_COUNTED_NOTE "Counted once: of a report's sts and tlsa " \
	"entries for the same sessions, the larger; an entry's failure " \
	"details when they add up to more than its total."

#endif
