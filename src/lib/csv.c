/*
 * csv.c - one line of comma-separated values (csv.h). Written by hand:
 * a few dozen lines that split in place, where a CSV library would be a
 * dependency for one function.
 */
#include <stdbool.h>

#include "csv.h"

int
csv_split(char *line, size_t len, char **fields, size_t max, size_t *n,
    struct err *e)
{
	size_t i = 0, out = 0;

	*n = 0;
	for (;;) {
		size_t col = i + 1;	/* where the field starts, for errors */

		if (*n == max)
			return err_set(e, "more than %zu fields", max);
		fields[(*n)++] = line + out;
		if (i < len && line[i] == '"') {
			for (i++;; i++) {
				if (i == len)
					return err_set(e, "byte %zu: the "
					    "quote is not closed", col);
				if (line[i] == '"') {
					if (i + 1 < len && line[i + 1] == '"') {
						line[out++] = '"';
						i++;
						continue;
					}
					i++;
					break;
				}
				if (line[i] == '\0' || line[i] == '\r' ||
				    line[i] == '\n')
					return err_set(e, "byte %zu: a NUL "
					    "or a line end inside quotes", col);
				line[out++] = line[i];
			}
			if (i < len && line[i] != ',')
				return err_set(e, "byte %zu: bytes after "
				    "the closing quote", col);
		} else {
			for (; i < len && line[i] != ','; i++) {
				if (line[i] == '"')
					return err_set(e, "byte %zu: a quote "
					    "inside an unquoted field", col);
				if (line[i] == '\0' || line[i] == '\r' ||
				    line[i] == '\n')
					return err_set(e, "byte %zu: a NUL "
					    "or a line end", col);
				line[out++] = line[i];
			}
		}
		if (i == len) {
			line[out] = '\0';
			return 0;
		}
		line[out++] = '\0';	/* the comma at i, or before it */
		i++;
	}
}
