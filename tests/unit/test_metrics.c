/*
 * test_metrics.c - the Prometheus text exposition format written by
 * src/lib/metrics.c: HELP and TYPE lines (HELP escaped as the format
 * says: backslash and newline), samples with and without labels, and a
 * buffer that grows past its first allocation without losing a byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/metrics.h"

static void
test_family(void **state)
{
	struct metrics_buf b = { 0 };

	(void)state;
	metrics_family(&b, "x_total", "counter", "a \\ b\nc");
	metrics_u64(&b, "x_total", "route=\"https\",outcome=\"stored\"", 42);
	metrics_u64(&b, "x_total", NULL, UINT64_MAX);
	metrics_double(&b, "g", NULL, 0.5);
	metrics_double(&b, "g", "le=\"+Inf\"", 1700000000);
	assert_false(b.failed);
	assert_string_equal(b.p,
	    "# HELP x_total a \\\\ b\\nc\n"
	    "# TYPE x_total counter\n"
	    "x_total{route=\"https\",outcome=\"stored\"} 42\n"
	    "x_total 18446744073709551615\n"
	    "g 0.5\n"
	    "g{le=\"+Inf\"} 1700000000\n");
	assert_int_equal(b.len, strlen(b.p));
	free(b.p);
}

static void
test_grow(void **state)
{
	struct metrics_buf b = { 0 };
	char want[64];
	size_t off = 0;

	(void)state;
	for (int i = 0; i < 5000; i++)
		metrics_u64(&b, "n", NULL, (uint64_t)i);
	assert_false(b.failed);
	for (int i = 0; i < 5000; i++) {
		int k = snprintf(want, sizeof(want), "n %d\n", i);

		assert_memory_equal(b.p + off, want, (size_t)k);
		off += (size_t)k;
	}
	assert_int_equal(off, b.len);
	assert_true(b.cap > b.len);
	free(b.p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_family),
		cmocka_unit_test(test_grow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
