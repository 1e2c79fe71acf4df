/*
 * fuzz_csv.c - fuzz target for csv_split(): any bytes as one line. The
 * first byte picks max (1..16). Checked: 0 with 1..max fields, each
 * NUL-terminated inside the line and in order, and their bytes no more
 * than the line's; or -1 with a reason.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line, *f[16];
	struct err e = { "" };
	size_t max, n, sum = 0;

	if (size == 0)
		return 0;
	max = (size_t)(data[0] % 16) + 1;
	if ((line = malloc(size)) == NULL)
		return 0;
	memcpy(line, data + 1, size - 1);
	line[size - 1] = '\0';
	if (csv_split(line, size - 1, f, max, &n, &e) == 0) {
		if (n == 0 || n > max)
			abort();
		for (size_t i = 0; i < n; i++) {
			if (f[i] < line || f[i] > line + size - 1 ||
			    (i > 0 && f[i] <= f[i - 1]))
				abort();
			sum += strlen(f[i]) + 1;
		}
		if (sum > size)
			abort();
	} else if (e.msg[0] == '\0') {
		abort();
	}
	free(line);
	return 0;
}
