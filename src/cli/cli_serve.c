/*
 * cli_serve.c - `stsguard serve`: runs the daemon with the settings from
 * flags and the config file. Thin: everything is in src/daemon/.
 */
#include "cli.h"
#include "daemon/daemon.h"

static int
cli_serve(struct cli *c)
{
	return daemon_serve(&c->conf) == 0 ? CLI_OK : CLI_USAGE;
}

static const struct cli_flag cli_serve_flags[] = {
	{ 0, NULL, NULL, NULL },
};

const struct cli_cmd cli_serve_cmds[] = {
	{ "serve", "",
	    "serve every hosted MTA-STS policy over HTTPS (until SIGTERM)",
	    cli_serve_flags, true, cli_serve, 0, 0 },
	{ NULL, NULL, NULL, NULL, false, NULL, 0, 0 },
};
