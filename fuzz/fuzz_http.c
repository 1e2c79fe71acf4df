/*
 * fuzz_http.c - libFuzzer target for the HTTP request head parser: parses
 * every request in the input as a pipelined connection would, and checks
 * the invariants the daemon relies on (pointers inside the input, head
 * length within limits, Host normalization never overruns).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define INSIDE(p, n) ((const char *)(p) >= buf && \
	(const char *)(p) + (n) <= buf + len)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char host[LIMIT_DNAME_LEN + 1];
	struct http_request r;
	int status;

	/* A copy of exactly size bytes, so ASan sees any overread. */
	char *copy = malloc(size ? size : 1);

	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	for (size_t off = 0; off < size;) {
		const char *buf = copy + off;
		size_t len = size - off;
		enum http_parse p = http_parse_request(buf, len, &r, &status);

		if (p != HTTP_PARSE_DONE) {
			if (p == HTTP_PARSE_ERROR && status < 400)
				abort();
			if (p == HTTP_PARSE_MORE &&
			    len >= LIMIT_HTTP_HEADER_BYTES)
				abort();
			break;
		}
		if (r.head_len == 0 || r.head_len > len ||
		    r.head_len > LIMIT_HTTP_HEADER_BYTES ||
		    !INSIDE(r.target, r.target_len) ||
		    (r.host_len && !INSIDE(r.host, r.host_len)) ||
		    (r.user_agent_len &&
		    !INSIDE(r.user_agent, r.user_agent_len)))
			abort();
		if (r.host_len > 0) {
			int n = http_host_normalize(r.host, r.host_len, host);

			if (n > LIMIT_DNAME_LEN || (n >= 0 &&
			    strlen(host) != (size_t)n))
				abort();
		}
		off += r.head_len;
		if (r.has_body)
			break;
	}
	free(copy);
	return 0;
}
