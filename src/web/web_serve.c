/*
 * web_serve.c - the one way in from the daemon to what stsguard shows
 * on https://<service_host>/: a request, read whole by the HTTP front
 * (head and body), in; an answer out. Paths are data:
 *
 *	/api/v1/...    the REST API (web_api.c), JSON
 *	/              the dashboard (web_page.c), HTML: every other path
 *
 * Runs on a pool thread with that thread's store handle; never on an
 * event loop.
 */
#include <string.h>

#include "web.h"

typedef void web_handler(struct store *, const struct web_request *,
    struct web_response *);

static const struct {
	const char	*prefix;
	web_handler	*fn;
} web_routes[] = {
	{ WEB_API_PREFIX, web_api },
	{ "/", web_page },
};

void
web_serve(struct store *s, const struct web_request *rq,
    struct web_response *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < sizeof(web_routes) / sizeof(web_routes[0]);
	    i++) {
		size_t n = strlen(web_routes[i].prefix);

		if (rq->path_len >= n &&
		    memcmp(rq->path, web_routes[i].prefix, n) == 0) {
			web_routes[i].fn(s, rq, out);
			return;
		}
	}
	web_error(out, 404, "not found");
}
