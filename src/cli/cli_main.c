/*
 * cli_main.c - `stsguard [GLOBAL OPTIONS] COMMAND [ARGS] [FLAGS]`.
 *
 * Finds the subcommand (one to three words: "stats", "policy lint"), parses
 * its flags (its own, --json, --help, and every setting of conf.h as
 * --setting-name), loads the config file, and runs it. Flags may stand
 * anywhere after the command; "--" ends them.
 *
 *	stsguard [--data-dir DIR] [--config FILE] COMMAND ...
 *
 * Owns no domain logic: every command calls the modules.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define STSGUARD_VERSION "0.1.0"

static const struct cli_cmd *const cli_tables[] = {
	cli_policy_cmds, cli_record_cmds, cli_report_cmds, cli_domain_cmds,
	cli_dns_cmds, cli_check_cmds, cli_stats_cmds, cli_serve_cmds,
	cli_acme_cmds, cli_account_cmds, cli_store_cmds, NULL,
};

static void
cli_usage(FILE *out)
{
	fprintf(out,
	    "usage: stsguard [--data-dir DIR] [--config FILE] COMMAND [ARGS]\n"
	    "\n"
	    "MTA-STS policy hosting and TLS-RPT reports for many domains.\n"
	    "\n"
	    "commands:\n");
	for (size_t t = 0; cli_tables[t] != NULL; t++)
		for (const struct cli_cmd *c = cli_tables[t]; c->name; c++)
			fprintf(out, "  %-26s %s\n", c->name, c->help);
	fprintf(out,
	    "\n"
	    "Every command takes --help. Settings (config file keys) can be\n"
	    "given as flags after the command, dashes for underscores:\n"
	    "`stsguard dns example.com --service-host sts.example.net`.\n"
	    "Exit codes: 0 ok, 1 invalid input or failed check, 2 usage or "
	    "I/O error.\n");
}

static void
cli_cmd_usage(const struct cli_cmd *cmd, FILE *out)
{
	fprintf(out, "usage: stsguard %s %s\n\n%s\n", cmd->name, cmd->usage,
	    cmd->help);
	if (cmd->flags != NULL && cmd->flags[0].name != NULL) {
		fprintf(out, "\nflags:\n");
		for (const struct cli_flag *f = cmd->flags; f->name; f++) {
			char head[64];

			snprintf(head, sizeof(head), "--%s%s%s", f->name,
			    f->arg ? " " : "", f->arg ? f->arg : "");
			fprintf(out, "  %-28s %s\n", head, f->help);
		}
	}
	if (cmd->settings) {
		fprintf(out, "\nsettings (config file key, or flag):\n");
		for (int k = 0; k < CONF_NKEYS; k++) {
			char head[64], *p;

			snprintf(head, sizeof(head), "--%s %s",
			    conf_defs[k].name, conf_defs[k].arg);
			for (p = head + 2; *p != ' '; p++)
				if (*p == '_')
					*p = '-';
			fprintf(out, "  %-28s %s%s%s%s\n", head,
			    conf_defs[k].help, conf_defs[k].def ? " [" : "",
			    conf_defs[k].def ? conf_defs[k].def : "",
			    conf_defs[k].def ? "]" : "");
		}
	}
}

/* Finds the command named by the first words of argv (one to three:
 * "stats", "policy lint", "report quarantine list"); sets *used to the
 * number of words it took. */
static const struct cli_cmd *
cli_find(int argc, char **argv, int *used)
{
	for (size_t t = 0; cli_tables[t] != NULL; t++) {
		for (const struct cli_cmd *c = cli_tables[t]; c->name; c++) {
			const char *w = c->name, *sp;
			size_t n;
			int i;

			for (i = 0; i < argc; i++) {
				sp = strchr(w, ' ');
				n = sp ? (size_t)(sp - w) : strlen(w);
				if (strlen(argv[i]) != n ||
				    strncmp(argv[i], w, n) != 0)
					break;
				if (sp == NULL) {
					*used = i + 1;
					return c;
				}
				w = sp + 1;
			}
		}
	}
	return NULL;
}

/* Lists "stsguard policy" subcommands when only the first word is given. */
static bool
cli_group_usage(const char *word, FILE *out)
{
	bool any = false;
	size_t n = strlen(word);

	for (size_t t = 0; cli_tables[t] != NULL; t++)
		for (const struct cli_cmd *c = cli_tables[t]; c->name; c++)
			if (strncmp(c->name, word, n) == 0 &&
			    c->name[n] == ' ') {
				if (!any)
					fprintf(out, "usage:\n");
				fprintf(out, "  stsguard %s %s\n      %s\n",
				    c->name, c->usage, c->help);
				any = true;
			}
	return any;
}

static int
cli_set_flag(struct cli *c, const struct cli_flag *f, const char *v)
{
	char *end;

	switch (f->id) {
	case CLI_F_JSON:	c->json = true; break;
	case CLI_F_STDIN:	c->stdin_flag = true; break;
	case CLI_F_RAW:		c->raw = true; break;
	case CLI_F_PROGRESS:	c->progress = true; break;
	case CLI_F_ALL:		c->all = true; break;
	case CLI_F_UNCLAIMED:	c->unclaimed = true; break;
	case CLI_F_CONFLICTS:	c->conflicts = true; break;
	case CLI_F_READ_ONLY:	c->read_only = true; break;
	case CLI_F_ALLOW_PRIVATE: c->allow_private = true; break;
	case CLI_F_CA_FILE:	c->ca_file = v; break;
	case CLI_F_FILE:	c->file = v; break;
	case CLI_F_DRY_RUN:	c->dry_run = true; break;
	case CLI_F_YES:		c->yes = true; break;
	case CLI_F_TRUST_ANCHOR:	/* the setting, by a shorter name */
		if (conf_set(&c->conf, CONF_DNSSEC_TRUST_ANCHOR, v,
		    true) == -1)
			return cli_fail(CLI_USAGE, "out of memory");
		break;
	case CLI_F_ROLE:	c->role = v; break;
	case CLI_F_PASSWORD_FILE: c->password_file = v; break;
	case CLI_F_MODE:	c->mode = v; break;
	case CLI_F_MAX_AGE:	c->max_age = v; break;
	case CLI_F_DOMAIN:	c->domain = v; break;
	case CLI_F_FROM:	c->from = v; break;
	case CLI_F_TO:		c->to = v; break;
	case CLI_F_MX:
		if (strv_push(&c->mx, v) == -1)
			return cli_fail(CLI_USAGE, "out of memory");
		break;
	case CLI_F_LIMIT:
		errno = 0;
		c->limit = strtol(v, &end, 10);
		if (errno != 0 || *end != '\0' || c->limit <= 0)
			return cli_fail(CLI_USAGE,
			    "--limit: '%s' is not a positive number", v);
		break;
	}
	return 0;
}

static const struct cli_flag cli_json_flag = {
	CLI_F_JSON, "json", NULL, "print JSON"
};

/* Parses argv (after the command words). Returns 0, CLI_USAGE after
 * printing why, or -1 for --help (printed). */
static int
cli_parse(struct cli *c, const struct cli_cmd *cmd, int argc, char **argv)
{
	bool flags_done = false;

	for (int i = 0; i < argc; i++) {
		const struct cli_flag *f = NULL;
		const char *a = argv[i], *name, *eq, *val = NULL;
		char key[64];
		size_t n;
		int k;

		if (flags_done || a[0] != '-' || a[1] != '-') {
			if (strcmp(a, "-") != 0 && a[0] == '-' && !flags_done)
				return cli_fail(CLI_USAGE,
				    "%s: unknown flag '%s' (see --help)",
				    cmd->name, a);
			if (strv_push(&c->args, a) == -1)
				return cli_fail(CLI_USAGE, "out of memory");
			continue;
		}
		if (a[2] == '\0') {
			flags_done = true;
			continue;
		}
		name = a + 2;
		eq = strchr(name, '=');
		n = eq ? (size_t)(eq - name) : strlen(name);
		if (n >= sizeof(key))
			return cli_fail(CLI_USAGE, "unknown flag '%s'", a);
		memcpy(key, name, n);
		key[n] = '\0';
		if (strcmp(key, "help") == 0) {
			cli_cmd_usage(cmd, stdout);
			return -1;
		}
		if (strcmp(key, "json") == 0)
			f = &cli_json_flag;
		for (const struct cli_flag *g = cmd->flags;
		    f == NULL && g != NULL && g->name != NULL; g++)
			if (strcmp(g->name, key) == 0)
				f = g;
		k = (f == NULL && cmd->settings) ? conf_lookup(key) : -1;
		if (f == NULL && k == -1)
			return cli_fail(CLI_USAGE,
			    "%s: unknown flag '--%s' (see --help)", cmd->name,
			    key);
		if (f != NULL && f->arg == NULL) {
			if (eq != NULL)
				return cli_fail(CLI_USAGE,
				    "--%s takes no value", key);
		} else if (eq != NULL) {
			val = eq + 1;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			return cli_fail(CLI_USAGE, "--%s needs a value", key);
		}
		if (f != NULL) {
			if (cli_set_flag(c, f, val) != 0)
				return CLI_USAGE;
		} else if (conf_set(&c->conf, k, val, true) == -1) {
			return cli_fail(CLI_USAGE, "out of memory");
		}
	}
	if (c->args.n < cmd->min_args || c->args.n > cmd->max_args) {
		fprintf(stderr, "stsguard: %s: wrong number of arguments\n",
		    cmd->name);
		cli_cmd_usage(cmd, stderr);
		return CLI_USAGE;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const struct cli_cmd *cmd;
	struct cli c;
	struct err e;
	char path[4096];
	int i, used, rc;

	memset(&c, 0, sizeof(c));
	if (conf_init(&c.conf) == -1)
		return cli_fail(CLI_USAGE, "out of memory");
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			cli_usage(stdout);
			rc = CLI_OK;
			goto out;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("stsguard %s\n", STSGUARD_VERSION);
			rc = CLI_OK;
			goto out;
		} else if (strcmp(argv[i], "--data-dir") == 0 && i + 1 < argc) {
			conf_set(&c.conf, CONF_DATA_DIR, argv[++i], true);
		} else if (strncmp(argv[i], "--data-dir=", 11) == 0) {
			conf_set(&c.conf, CONF_DATA_DIR, argv[i] + 11, true);
		} else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			c.config_path = argv[++i];
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			c.config_path = argv[i] + 9;
		} else {
			rc = cli_fail(CLI_USAGE, "unknown option '%s' before "
			    "the command (see --help)", argv[i]);
			goto out;
		}
	}
	if (i == argc) {
		cli_usage(stderr);
		rc = CLI_USAGE;
		goto out;
	}
	if ((cmd = cli_find(argc - i, argv + i, &used)) == NULL) {
		if (cli_group_usage(argv[i], stderr)) {
			rc = CLI_USAGE;
			goto out;
		}
		rc = cli_fail(CLI_USAGE, "unknown command '%s' (see --help)",
		    argv[i]);
		goto out;
	}
	if ((rc = cli_parse(&c, cmd, argc - i - used, argv + i + used)) != 0) {
		rc = rc == -1 ? CLI_OK : rc;
		goto out;
	}
	/* Flags are in; the file fills what they did not set. */
	if (c.config_path != NULL) {
		if (conf_load(&c.conf, c.config_path, true, &e) == -1) {
			rc = cli_fail(CLI_USAGE, "%s", e.msg);
			goto out;
		}
	} else {
		snprintf(path, sizeof(path), "%s/stsguard.conf",
		    conf_get(&c.conf, CONF_DATA_DIR));
		if (conf_load(&c.conf, path, false, &e) == -1) {
			rc = cli_fail(CLI_USAGE, "%s", e.msg);
			goto out;
		}
	}
	rc = cmd->run(&c);
out:
	store_close(c.store);
	strv_free(&c.mx);
	strv_free(&c.args);
	conf_free(&c.conf);
	return rc;
}
