/*
 * test_csv.c - one CSV line split in place (src/lib/csv.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/csv.h"

/* Splits s; returns the fields joined by "|", or "ERR: reason". */
static const char *
split(const char *s, size_t max)
{
	static char out[512];
	char line[256], *f[8];
	struct err e = { "" };
	size_t n, len = strlen(s);

	memcpy(line, s, len + 1);
	if (csv_split(line, len, f, max, &n, &e) == -1) {
		snprintf(out, sizeof(out), "ERR: %s", e.msg);
		return out;
	}
	out[0] = '\0';
	for (size_t i = 0, k = 0; i < n; i++)
		k += (size_t)snprintf(out + k, sizeof(out) - k, "%s%s", f[i],
		    i + 1 < n ? "|" : "");
	return out;
}

static void
test_split(void **state)
{
	assert_string_equal(split("a,b,c", 8), "a|b|c");
	assert_string_equal(split("", 8), "");
	assert_string_equal(split(",", 8), "|");
	assert_string_equal(split("a,,c,", 8), "a||c|");
	assert_string_equal(split(" a , b ", 8), " a | b ");
	assert_string_equal(split("\"a,b\",c", 8), "a,b|c");
	assert_string_equal(split("\"say \"\"hi\"\"\",x", 8), "say \"hi\"|x");
	assert_string_equal(split("\"\",x", 8), "|x");
	assert_string_equal(split("example.com,acme,enforce,\"mx1 mx2\","
	    "86400", 8), "example.com|acme|enforce|mx1 mx2|86400");
	/* Exactly max fields, then one more. */
	assert_string_equal(split("a,b,c,d,e", 5), "a|b|c|d|e");
	assert_string_equal(split("a,b,c,d,e,f", 5), "ERR: more than 5 fields");
	assert_string_equal(split("a,b,", 2), "ERR: more than 2 fields");
	assert_string_equal(split("\"ab", 8),
	    "ERR: byte 1: the quote is not closed");
	assert_string_equal(split("x,\"ab\"c", 8),
	    "ERR: byte 3: bytes after the closing quote");
	assert_string_equal(split("a\"b", 8),
	    "ERR: byte 1: a quote inside an unquoted field");
	assert_string_equal(split("a\rb", 8), "ERR: byte 1: a NUL or a line end");
	assert_string_equal(split("\"a\nb\"", 8),
	    "ERR: byte 1: a NUL or a line end inside quotes");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
