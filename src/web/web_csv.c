/*
 * web_csv.c - the API's lists as CSV (?format=csv): the rows of the JSON
 * answer, one line each, in the columns asked for (RFC 4180):
 *
 *	file   = header *(CRLF record) CRLF
 *	field  = plain / DQUOTE *(any but DQUOTE / 2DQUOTE) DQUOTE
 *
 * A field is quoted when it holds a comma, a quote, CR or LF. A string
 * a spreadsheet would take for a formula (it starts with =, +, -, @, a
 * tab or CR: OWASP's "CSV injection") gets a leading "'" first: report
 * strings come from anyone. null is empty, an array is its strings
 * joined by blanks, true and false are as in JSON.
 *
 * Pure: JSON in, bytes out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web.h"

struct web_csv_buf {
	char	*b;
	size_t	 len, cap;
	int	 oom;
};

static void
csv_put(struct web_csv_buf *o, const char *s, size_t n)
{
	char *nb;

	if (o->oom)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 4096;

		while (cap < o->len + n + 1)
			cap *= 2;
		if ((nb = realloc(o->b, cap)) == NULL) {
			o->oom = 1;
			return;
		}
		o->b = nb;
		o->cap = cap;
	}
	memcpy(o->b + o->len, s, n);
	o->len += n;
	o->b[o->len] = '\0';
}

/* One field: s[0..n) quoted when needed, defused when a formula. */
static void
csv_field(struct web_csv_buf *o, const char *s, size_t n)
{
	bool quote = false, formula = n > 0 && strchr("=+-@\t\r", s[0]) !=
	    NULL;

	for (size_t i = 0; i < n && !quote; i++)
		quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' ||
		    s[i] == '\n';
	if (quote)
		csv_put(o, "\"", 1);
	if (formula)
		csv_put(o, "'", 1);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			csv_put(o, "\"\"", 2);
		else
			csv_put(o, s + i, 1);
	}
	if (quote)
		csv_put(o, "\"", 1);
}

/* v as the text of one field. */
static void
csv_value(struct web_csv_buf *o, json_t *v)
{
	char num[32];
	size_t i;
	json_t *x;

	switch (json_typeof(v)) {
	case JSON_STRING:
		csv_field(o, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
		csv_put(o, num, strlen(num));
		break;
	case JSON_TRUE:
		csv_put(o, "true", 4);
		break;
	case JSON_FALSE:
		csv_put(o, "false", 5);
		break;
	case JSON_ARRAY: {
		struct web_csv_buf j = { 0 };

		json_array_foreach(v, i, x) {
			if (i > 0)
				csv_put(&j, " ", 1);
			if (json_is_string(x))
				csv_put(&j, json_string_value(x),
				    json_string_length(x));
		}
		o->oom |= j.oom;
		csv_field(o, j.b != NULL ? j.b : "", j.len);
		free(j.b);
		break;
	}
	default:			/* null, objects: empty */
		break;
	}
}

char *
web_csv(json_t *rows, const char *const *cols, size_t *len)
{
	struct web_csv_buf o = { 0 };
	size_t i;
	json_t *r;

	for (size_t c = 0; cols[c] != NULL; c++) {
		if (c > 0)
			csv_put(&o, ",", 1);
		csv_field(&o, cols[c], strlen(cols[c]));
	}
	csv_put(&o, "\r\n", 2);
	json_array_foreach(rows, i, r) {
		for (size_t c = 0; cols[c] != NULL; c++) {
			json_t *v = json_object_get(r, cols[c]);

			if (c > 0)
				csv_put(&o, ",", 1);
			if (v != NULL)
				csv_value(&o, v);
		}
		csv_put(&o, "\r\n", 2);
	}
	if (o.oom) {
		free(o.b);
		return NULL;
	}
	*len = o.len;
	return o.b;
}
