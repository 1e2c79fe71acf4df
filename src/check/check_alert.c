/*
 * check_alert.c - the monitor's pure half (check.h): a check as the
 * store keeps it (JSON), and the alerts one check raises against the one
 * before it.
 *
 *	stored check = { "domain", "checked", "verdict", "failures",
 *	                 "warnings", "findings": [ finding... ] }
 *	finding      = { "level", "area", "kind", "subject", "text", "fix" }
 *
 * An alert is a warning or failure of an alerting kind (check_kind: an
 * uncovered MX, a record gone or broken, the CNAME, a certificate near
 * expiry, the published id lagging, ...) whose (kind, subject) the
 * previous check did not have at that level or worse: something changed
 * for the worse. The first check is the baseline; what persists raises
 * nothing more; the cool-down (check_alert_due) keeps a flapping record
 * from raising one per round.
 *
 * Never does I/O, never keeps state between calls.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* "2026-12-06T21:18:54Z" into buf. */
static void
check_time_text(time_t t, char buf[32])
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, 32, "1970-01-01T00:00:00Z");
}

/* Makes s valid UTF-8 in place: when it is not (a TXT record may hold
 * any bytes), every byte past ASCII becomes '?', rather than the finding
 * or alert being lost to a JSON encoder that refuses it. */
static void
check_text_clean(char *s)
{
	json_t *j = json_string(s);

	if (j != NULL) {
		json_decref(j);
		return;
	}
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			*s = '?';
}

/* s as a JSON string, cleaned as check_text_clean does. NULL when out of
 * memory. */
static json_t *
check_json_text(const char *s)
{
	json_t *j;
	char *c;

	if ((j = json_string(s)) != NULL || (c = strdup(s)) == NULL)
		return j;
	check_text_clean(c);
	j = json_string(c);
	free(c);
	return j;
}

json_t *
check_report_json(const struct check_report *r, time_t checked)
{
	json_t *o = json_object(), *a = json_array();
	char when[32];
	int bad = o == NULL || a == NULL;

	check_time_text(checked, when);
	bad |= json_object_set_new(o, "domain", json_string(r->domain));
	bad |= json_object_set_new(o, "checked", json_string(when));
	bad |= json_object_set_new(o, "verdict", json_string(r->nfail ?
	    "fail" : r->nwarn ? "warn" : "pass"));
	bad |= json_object_set_new(o, "failures",
	    json_integer((json_int_t)r->nfail));
	bad |= json_object_set_new(o, "warnings",
	    json_integer((json_int_t)r->nwarn));
	for (size_t i = 0; !bad && i < r->n; i++) {
		const struct check_finding *f = &r->f[i];
		json_t *x = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o}",
		    "level", check_level_name(f->level),
		    "area", check_area_name(f->area),
		    "kind", check_kind_name(f->kind),
		    "subject", check_json_text(f->subject),
		    "text", check_json_text(f->text),
		    "fix", f->fix[0] ? check_json_text(f->fix) : json_null());

		bad |= json_array_append_new(a, x);
	}
	bad |= json_object_set(o, "findings", a);
	json_decref(a);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static enum check_level
check_level_parse(const char *s)
{
	return strcmp(s, "fail") == 0 ? CHECK_FAIL : strcmp(s, "warn") == 0 ?
	    CHECK_WARN : strcmp(s, "info") == 0 ? CHECK_INFO : CHECK_PASS;
}

int
check_seen_parse(const char *json, struct check_seen **out, size_t *n)
{
	json_t *o, *a, *x;
	json_error_t je;
	size_t i;
	int rc = -1;

	*out = NULL;
	*n = 0;
	if ((o = json_loads(json, 0, &je)) == NULL)
		return -1;
	if (!json_is_array(a = json_object_get(o, "findings")))
		goto out;
	if (json_array_size(a) > 0 && (*out = calloc(json_array_size(a),
	    sizeof(**out))) == NULL)
		goto out;
	json_array_foreach(a, i, x) {
		const char *lv = json_string_value(json_object_get(x, "level"));
		const char *k = json_string_value(json_object_get(x, "kind"));
		const char *sub = json_string_value(json_object_get(x,
		    "subject"));
		struct check_seen *s = &(*out)[*n];
		int kind;

		if (lv == NULL || k == NULL || sub == NULL)
			continue;
		s->level = check_level_parse(lv);
		s->kind = (kind = check_kind_parse(k)) < 0 ? CHECK_K_NONE :
		    (enum check_kind)kind;
		snprintf(s->subject, sizeof(s->subject), "%s", sub);
		(*n)++;
	}
	rc = 0;
out:
	if (rc == -1) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	json_decref(o);
	return rc;
}

/* The worst level prev had for (kind, subject), or -1 when none. */
static int
check_prev_level(const struct check_seen *prev, size_t nprev,
    enum check_kind kind, const char *subject)
{
	int worst = -1;

	for (size_t i = 0; i < nprev; i++)
		if (prev[i].kind == kind && (int)prev[i].level > worst &&
		    strcmp(prev[i].subject, subject) == 0)
			worst = (int)prev[i].level;
	return worst;
}

size_t
check_alerts_diff(const struct check_report *r, bool have_prev,
    const struct check_seen *prev, size_t nprev, struct check_alert *out,
    size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; have_prev && i < r->n && n < cap; i++) {
		const struct check_finding *f = &r->f[i];
		struct check_alert *al;
		bool dup = false;

		if (f->kind == CHECK_K_NONE || f->level < CHECK_WARN ||
		    check_prev_level(prev, nprev, f->kind, f->subject) >=
		    (int)f->level)
			continue;
		for (size_t k = 0; k < n; k++)
			if (out[k].kind == f->kind &&
			    strcmp(out[k].subject, f->subject) == 0)
				dup = true;
		if (dup)
			continue;
		al = &out[n++];
		al->kind = f->kind;
		al->level = f->level;
		al->severity = f->level != CHECK_FAIL ? "warning" :
		    f->kind == CHECK_K_MX_UNCOVERED ? "critical" : "error";
		snprintf(al->subject, sizeof(al->subject), "%s", f->subject);
		snprintf(al->text, sizeof(al->text), "%s", f->text);
		snprintf(al->fix, sizeof(al->fix), "%s", f->fix);
		check_text_clean(al->subject);
		check_text_clean(al->text);
		check_text_clean(al->fix);
	}
	return n;
}

bool
check_alert_due(time_t last, time_t now, time_t cooldown)
{
	return last == 0 || now < last || now - last >= cooldown;
}

char *
check_alert_webhook_body(const struct check_alert_msg *a)
{
	char when[32];
	json_t *o;
	char *s;

	check_time_text(a->raised, when);
	o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:o, s:s}",
	    "id", (json_int_t)a->id, "domain", a->domain, "kind", a->kind,
	    "severity", a->severity, "subject", a->subject, "text", a->text,
	    "fix", a->fix != NULL && a->fix[0] ? json_string(a->fix) :
	    json_null(), "raised", when);
	if (o == NULL)
		return NULL;
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return s;
}

/* Appends s to the message with every control character a space. */
static void
check_mail_put(FILE *f, const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s, f);
}

/* The header of a message to to from from, its subject subj (any bytes:
 * controls become spaces), dated t, its Message-ID <id@host>, and the
 * blank line that ends it. */
static void
check_mail_head(FILE *f, const char *from, const char *to, const char *subj,
    time_t t, const char *id, const char *host)
{
	char date[64];
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	fputs("From: ", f);
	check_mail_put(f, from);
	fputs("\r\nTo: ", f);
	check_mail_put(f, to);
	fputs("\r\nSubject: ", f);
	check_mail_put(f, subj);
	fprintf(f, "\r\nDate: %s\r\nMessage-ID: <", date);
	check_mail_put(f, id);
	fputs("@", f);
	check_mail_put(f, host);
	fputs(">\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n"
	    "Auto-Submitted: auto-generated\r\n\r\n", f);
}

/* Closes f, the open_memstream of *buf (set by the close); returns
 * the buffer, or NULL (freed) when writing failed. */
static char *
check_mail_end(FILE *f, char **buf)
{
	if (fclose(f) != 0) {
		free(*buf);
		return NULL;
	}
	return *buf;
}

char *
check_alert_mail(const struct check_alert_msg *a, const char *from,
    const char *to, const char *host)
{
	char when[32], subj[LIMIT_DNAME_LEN * 2 + 128], id[64];
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if ((f = open_memstream(&buf, &len)) == NULL)
		return NULL;
	check_time_text(a->raised, when);
	snprintf(subj, sizeof(subj), "[stsguard] %s: %s: %s %s", a->severity,
	    a->domain, a->kind, a->subject);
	snprintf(id, sizeof(id), "alert-%lld-%lld", (long long)a->id,
	    (long long)a->raised);
	check_mail_head(f, from, to, subj, a->raised, id, host);
	check_mail_put(f, a->domain);
	fputs(": ", f);
	check_mail_put(f, a->text);
	if (a->fix != NULL && a->fix[0] != '\0') {
		fputs("\r\n\r\nfix: ", f);
		check_mail_put(f, a->fix);
	}
	fputs("\r\n\r\nkind: ", f);
	check_mail_put(f, a->kind);
	fputs(", about ", f);
	check_mail_put(f, a->subject);
	fprintf(f, ", raised %s\r\n", when);
	return check_mail_end(f, &buf);
}

char *
check_digest_mail(const char *tenant, const char *from, const char *to,
    const char *host, time_t now, const char *body)
{
	char subj[160], id[32];	/* a tenant's name: 64 bytes at most */
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if ((f = open_memstream(&buf, &len)) == NULL)
		return NULL;
	snprintf(subj, sizeof(subj), "[stsguard] weekly digest: %s", tenant);
	snprintf(id, sizeof(id), "digest-%lld", (long long)now);
	check_mail_head(f, from, to, subj, now, id, host);
	/* CRLF pairs stay, every other control becomes a space. */
	for (const char *p = body; *p != '\0'; p++) {
		if (p[0] == '\r' && p[1] == '\n') {
			fputs("\r\n", f);
			p++;
		} else {
			fputc((unsigned char)*p < 0x20 || *p == 0x7f ? ' ' :
			    *p, f);
		}
	}
	return check_mail_end(f, &buf);
}
