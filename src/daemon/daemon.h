/*
 * daemon.h - `stsguard serve`: the HTTPS policy server, the plain HTTP
 * listener (ACME HTTP-01, redirects), the reload thread and the ACME
 * manager, wired together.
 */
#ifndef STSGUARD_DAEMON_H
#define STSGUARD_DAEMON_H

#include "../lib/conf.h"

/* Runs the daemon with the settings in c until SIGTERM or SIGINT, then
 * shuts down cleanly (stops accepting, lets in-flight requests finish for
 * up to LIMIT_SHUTDOWN_SECONDS). Returns the process exit code: 0 after a
 * clean shutdown, 1 when it could not start (the reason logged). */
int	daemon_serve(const struct conf *c);

#endif
