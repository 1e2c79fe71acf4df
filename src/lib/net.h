/*
 * net.h - listening sockets from "ADDR:PORT" settings.
 */
#ifndef STSGUARD_NET_H
#define STSGUARD_NET_H

#include <stdbool.h>

#include "err.h"
#include "strv.h"

/* Opens a listening socket (non-blocking, close-on-exec, SO_REUSEADDR
 * and SO_REUSEPORT, so that every worker may have its own) for
 * "ADDR:PORT", ":PORT" (every address, IPv6 and IPv4) or "[V6]:PORT";
 * with defer, TCP_DEFER_ACCEPT (a connection is accepted once its first
 * bytes came). Returns the fd or -1 with the reason. */
int	net_listen(const char *spec, bool defer, struct err *e);

/* Appends the host part of a specific listen address ("127.0.0.10:443"
 * gives "127.0.0.10") to out; nothing for ":443". */
void	net_listen_host(const char *spec, struct strv *out);

#endif
