/*
 * cli_util.c - helpers shared by the subcommands: errors, the store,
 * files, JSON and time output.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "web/web.h"
#include "lib/dname.h"

int
cli_fail(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("stsguard: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

struct store *
cli_store(struct cli *c)
{
	const char *dir = conf_get(&c->conf, CONF_DATA_DIR);
	struct err e;

	if (c->store != NULL)
		return c->store;
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		cli_fail(CLI_USAGE, "data dir %s: %s", dir, strerror(errno));
		return NULL;
	}
	if (store_open_at(conf_get(&c->conf, CONF_STORE), dir,
	    &c->store, &e) == -1) {
		cli_fail(CLI_USAGE, "%s", e.msg);
		c->store = NULL;
	}
	return c->store;
}

int
cli_read_file(const char *path, size_t max, uint8_t **buf, size_t *len,
    struct err *e)
{
	FILE *f = stdin;
	uint8_t *b = NULL, *nb;
	size_t n = 0, cap = 0, r;
	int rc = -1;

	*buf = NULL;
	*len = 0;
	if (strcmp(path, "-") != 0 && (f = fopen(path, "rb")) == NULL)
		return err_set(e, "%s: %s", path, strerror(errno));
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 65536;
			if ((nb = realloc(b, cap + 1)) == NULL) {
				err_set(e, "%s: out of memory", path);
				goto out;
			}
			b = nb;
		}
		r = fread(b + n, 1, cap - n, f);
		n += r;
		if (n > max) {
			err_set(e, "%s: larger than %zu bytes", path, max);
			goto out;
		}
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		err_set(e, "%s: read error", path);
		goto out;
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	b = NULL;
	rc = 0;
out:
	free(b);
	if (f != stdin)
		fclose(f);
	return rc;
}

void
cli_print_json(json_t *v)
{
	json_dumpf(v, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(v);
}

json_t *
cli_json_str(const char *s)
{
	return web_json_str(s);
}

const char *
cli_time(time_t t, char buf[21])
{
	struct tm tm;

	if (t == 0 || gmtime_r(&t, &tm) == NULL)
		return "-";
	strftime(buf, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

json_t *
cli_json_time(time_t t)
{
	return web_json_time(t);
}

int
cli_domain_arg(const char *in, char out[LIMIT_DNAME_LEN + 1])
{
	struct err e;

	if (dname_normalize(in, strlen(in), false, out, &e) == -1)
		return cli_fail(CLI_INVALID, "domain '%s': %s", in, e.msg);
	return 0;
}

const char *
cli_safe(const char *s, char *buf, size_t bufsz)
{
	size_t o = 0;

	for (; s != NULL && *s != '\0' && o + 5 < bufsz; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f || c == '\\')
			o += (size_t)snprintf(buf + o, bufsz - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	buf[o] = '\0';
	return buf;
}

void
cli_put_safe(FILE *f, const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f || c == '\\')
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
}

int
cli_templates(struct cli *c, struct policy_templates *t)
{
	const char *path = conf_get(&c->conf, CONF_MX_TEMPLATES);
	uint8_t *buf;
	size_t len;
	struct err e;
	int r;

	if (path == NULL || path[0] == '\0') {
		if (policy_templates_builtin(t, &e) == -1)
			return cli_fail(CLI_USAGE, "%s", e.msg);
		return 0;
	}
	if (cli_read_file(path, LIMIT_TEMPLATE_BYTES, &buf, &len, &e) == -1)
		return cli_fail(CLI_USAGE, "mx_templates: %s", e.msg);
	r = policy_templates_parse((const char *)buf, len, t, &e);
	free(buf);
	if (r == -1)
		return cli_fail(CLI_USAGE, "mx_templates %s: %s", path, e.msg);
	return 0;
}
