/*
 * net.c - listening sockets from the settings' "ADDR:PORT" strings, for
 * the daemon and for `stsguard acme obtain` (see net.h).
 *
 *	spec = [ addr / "[" v6addr "]" ] ":" port	; "" addr: every
 *							; address, v6 and v4
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"

int
net_listen(const char *spec, bool defer, struct err *e)
{
	struct addrinfo hints, *res = NULL, *ai;
	char host[256], port[16];
	const char *colon = strrchr(spec, ':');
	size_t hl;
	int fd = -1, one = 1, zero = 0, r;

	if (colon == NULL || colon[1] == '\0' || strlen(colon + 1) >=
	    sizeof(port))
		return err_set(e, "'%s': expected ADDR:PORT or :PORT", spec);
	memcpy(port, colon + 1, strlen(colon + 1) + 1);
	hl = (size_t)(colon - spec);
	if (hl >= 2 && spec[0] == '[' && spec[hl - 1] == ']') {
		spec++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return err_set(e, "'%s': address too long", spec);
	memcpy(host, spec, hl);
	host[hl] = '\0';

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = hl == 0 ? AF_INET6 : AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((r = getaddrinfo(hl == 0 ? NULL : host, port, &hints, &res))
	    != 0 && hl == 0) {
		hints.ai_family = AF_INET;	/* no IPv6 here */
		r = getaddrinfo(NULL, port, &hints, &res);
	}
	if (r != 0)
		return err_set(e, "'%s': %s", spec, gai_strerror(r));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (fd == -1)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
		if (ai->ai_family == AF_INET6 && hl == 0)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
			    sizeof(zero));
		if (defer) {
			int secs = 1;

			setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs,
			    sizeof(secs));
		}
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, 4096) == 0)
			break;
		err_set(e, "'%s': %s", spec, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

void
net_listen_host(const char *spec, struct strv *out)
{
	const char *colon = strrchr(spec, ':');
	size_t hl = colon ? (size_t)(colon - spec) : 0;

	if (hl >= 2 && spec[0] == '[' && spec[hl - 1] == ']')
		strv_pushn(out, spec + 1, hl - 2);
	else if (hl > 0)
		strv_pushn(out, spec, hl);
}
