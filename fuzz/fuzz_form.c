/*
 * fuzz_form.c - fuzz target for web_form_get(), the dashboard's decoder
 * of form bodies and queries ("k=v&k=v"), and web_cookie_get(), its
 * reader of Cookie headers ("a=1; b=2") (attacker bytes: anyone can
 * post to /login). The first byte picks the output's
 * size (1..64), the rest is the text. Checked for the keys a form has:
 * -1, 0 or 1; with 1, the value NUL-terminated inside the buffer with no
 * NUL before its end, and no longer than the text it came from.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "web/web.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = { "csrf", "email", "password",
	    "mx", "a", "" };
	char out[65];
	size_t cap, i;

	if (size == 0)
		return 0;
	cap = (size_t)(data[0] % 64) + 1;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		int r, c;

		/* The same bytes as a Cookie header's value. */
		memset(out, 'x', sizeof(out));
		c = web_cookie_get((const char *)data + 1, size - 1, keys[i],
		    out, cap);
		if (c < -1 || c >= (int)cap || (c >= 0 &&
		    (strlen(out) != (size_t)c || out[cap] != 'x')))
			abort();

		memset(out, 'x', sizeof(out));
		r = web_form_get((const char *)data + 1, size - 1, keys[i], out,
		    cap);
		if (r < -1 || r > 1)
			abort();
		if (r == 1) {
			size_t n = strnlen(out, cap);

			if (n == cap || n > size - 1 || out[cap] != 'x')
				abort();
		}
	}
	return 0;
}
