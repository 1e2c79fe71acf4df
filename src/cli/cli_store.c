/*
 * cli_store.c - `stsguard store migrate --from URL --to URL`: moves a
 * whole installation from one store to another, empty one (SQLite to
 * PostgreSQL, say), and proves it (store_migrate does both). Prints a
 * line per table as it is compared, then one line for the whole:
 *
 *	TABLE             ROWS  SHA-256 (first 16 digits)
 *	verified: 21 tables, 1234 rows, the same on both sides
 *
 * Exit 0 only when every table is the same on both sides; 1 when one
 * differs after the copy, 2 when nothing was copied (a store cannot be
 * opened, the destination holds data, a copy failed).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

struct cli_migrate {
	bool	 progress;	/* --progress: each table copied, on stderr */
	bool	 differs;
	size_t	 tables;
	int64_t	 rows;
};

static void
cli_migrate_step(const struct store_migrate_step *s, void *arg)
{
	struct cli_migrate *m = arg;
	char hex[17];

	if (!s->verified) {
		if (m->progress)
			fprintf(stderr, "copied %-18s %10lld\n", s->table,
			    (long long)s->rows);
		return;
	}
	for (int i = 0; i < 8; i++)
		snprintf(hex + 2 * i, 3, "%02x", s->sum[i]);
	printf("%-18s %10lld  %s", s->table, (long long)s->rows, hex);
	if (s->rows != s->rows_to || memcmp(s->sum, s->sum_to, 32) != 0) {
		for (int i = 0; i < 8; i++)
			snprintf(hex + 2 * i, 3, "%02x", s->sum_to[i]);
		printf("  DIFFERS: the destination has %lld rows, %s",
		    (long long)s->rows_to, hex);
		m->differs = true;
	}
	printf("\n");
	m->tables++;
	m->rows += s->rows;
}

static int
cli_store_migrate(struct cli *c)
{
	struct cli_migrate m = { .progress = c->progress };
	struct err e;

	if (c->from == NULL || c->to == NULL)
		return cli_fail(CLI_USAGE, "store migrate: --from URL and "
		    "--to URL are both needed");
	if (store_migrate(c->from, c->to, cli_migrate_step, &m, &e) == -1) {
		fflush(stdout);
		return cli_fail(m.differs ? CLI_INVALID : CLI_USAGE,
		    "store migrate: %s", e.msg);
	}
	printf("verified: %zu tables, %lld rows, the same on both sides\n",
	    m.tables, (long long)m.rows);
	return CLI_OK;
}

static const struct cli_flag cli_store_migrate_flags[] = {
	{ CLI_F_FROM, "from", "URL", "the store to copy: sqlite:PATH or "
	    "postgresql://..." },
	{ CLI_F_TO, "to", "URL", "the empty store to copy into" },
	{ CLI_F_PROGRESS, "progress", NULL, "say on stderr as each table "
	    "is copied" },
	{ 0, NULL, NULL, NULL },
};

const struct cli_cmd cli_store_cmds[] = {
	{ "store migrate", "--from URL --to URL", "copy a whole store into an "
	    "empty one, checked by counts and checksums", cli_store_migrate_flags, false,
	    cli_store_migrate, 0, 0 },
	{ NULL, NULL, NULL, NULL, false, NULL, 0, 0 },
};
