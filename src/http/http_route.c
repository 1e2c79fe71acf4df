/*
 * http_route.c - finds the route of a request in a table (http.h).
 *
 *	route = listener bits, [Host = service_host], path (exact, or a
 *	        prefix when it ends in '/'), method bits -> handler id
 *
 * The first route whose listener, host and path match and whose methods
 * include the request's wins; routes whose path matched but not their
 * method make the Allow of a 405. Pure: no I/O, no allocation.
 */
#include <stdio.h>
#include <string.h>

#include "http.h"

const struct http_route *
http_route_find(const struct http_route *t, size_t n, unsigned listener,
    bool service_host, const struct http_request *r, unsigned *allow)
{
	*allow = 0;
	for (size_t i = 0; i < n; i++) {
		const struct http_route *x = &t[i];
		size_t pl = strlen(x->path);
		bool prefix = pl > 0 && x->path[pl - 1] == '/';

		if ((x->listeners & listener) == 0 ||
		    (x->service_host && !service_host))
			continue;
		if (prefix ? r->path_len < pl : r->path_len != pl)
			continue;
		if (memcmp(r->path, x->path, pl) != 0)
			continue;
		if (x->methods & HTTP_M(r->method))
			return x;
		*allow |= x->methods;
	}
	return NULL;
}

size_t
http_allow_line(unsigned allow, char *out, size_t cap)
{
	static const struct {
		enum http_method m;
		const char *name;
	} names[] = {
		{ HTTP_GET, "GET" }, { HTTP_HEAD, "HEAD" }, { HTTP_POST, "POST" },
		{ HTTP_PATCH, "PATCH" }, { HTTP_DELETE, "DELETE" },
	};
	size_t len;
	int k;

	if (cap < 10)
		return 0;
	memcpy(out, "Allow:", 7);
	len = 6;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if ((allow & HTTP_M(names[i].m)) == 0)
			continue;
		k = snprintf(out + len, cap - len, "%s %s",
		    len > 6 ? "," : "", names[i].name);
		if (k < 0 || (size_t)k >= cap - len)
			return 0;
		len += (size_t)k;
	}
	if (len + 3 > cap)
		return 0;
	memcpy(out + len, "\r\n", 3);
	return len + 2;
}
