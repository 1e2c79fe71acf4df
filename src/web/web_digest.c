/*
 * web_digest.c - a tenant's weekly digest (web.h): what each of its
 * hosted domains did in the week, as a plain e-mail body. The figures
 * are web_stats_read's, the same as every view's; the latest check and
 * the alerts are the monitor's (check_monitor.c), which mails the
 * digest.
 *
 *	example.com (enforce)
 *	  sessions: 1200 successful, 3 failed (99.8 %)
 *	  failures: 3 certificate-expired
 *	  latest check 2026-12-06 21:30 UTC: 1 failure, 0 warnings
 *	  alerts this week: critical mx-uncovered mx2.example.com
 *
 * Reads the store only; writes nothing.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web.h"

struct web_digest_names {
	char	 (*v)[LIMIT_DNAME_LEN + 1];
	size_t	 n, more;
	char	 last[LIMIT_DNAME_LEN + 1];
};

static int
web_digest_name(void *arg, const struct store_domain *d)
{
	struct web_digest_names *x = arg;

	snprintf(x->last, sizeof(x->last), "%s", d->name);
	if (d->removed != 0)
		return 0;
	if (x->n == LIMIT_DIGEST_DOMAINS) {
		x->more++;
		return 0;
	}
	snprintf(x->v[x->n++], sizeof(x->v[0]), "%s", d->name);
	return 0;
}

struct web_digest_check {
	bool	 found;
	time_t	 checked;
	uint64_t failures, warnings;
};

static int
web_digest_check_cb(void *arg, const struct store_check_row *r)
{
	struct web_digest_check *c = arg;

	c->found = true;
	c->checked = r->checked;
	c->failures = r->failures;
	c->warnings = r->warnings;
	return 0;
}

struct web_digest_alerts {
	FILE	*f;
	time_t	 from;
	size_t	 n;
};

static int
web_digest_alert_cb(void *arg, const struct store_alert_row *a)
{
	struct web_digest_alerts *x = arg;

	if (a->raised < x->from)
		return 1;		/* newest first: the rest are older */
	fprintf(x->f, "%s%s %s %s", x->n++ ? "; " : " ", a->severity,
	    a->kind, a->subject);
	return 0;
}

/* "2026-12-06 21:30 UTC" */
static void
web_digest_time(FILE *f, time_t t)
{
	char buf[32];
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M UTC", &tm);
	fputs(buf, f);
}

/* One domain's paragraph. Returns 0 or -1. */
static int
web_digest_domain(FILE *f, struct store *s, const char *name, time_t from,
    struct err *e)
{
	struct store_domain d = { 0 };
	struct web_stats st = { 0 };
	struct web_digest_check c = { 0 };
	struct web_digest_alerts al = { f, from, 0 };
	uint64_t ok = 0, fail = 0;
	int r;

	if ((r = store_domain_get(s, name, &d, e)) != 0)
		return r == 1 ? 0 : -1;	/* removed meanwhile: left out */
	fprintf(f, "%s (%s)\r\n", name, policy_mode_name(d.policy.mode));
	store_domain_free(&d);
	if (web_stats_read(s, name, from, 0, &st, e) == -1) {
		web_stats_free(&st);
		return -1;
	}
	for (size_t i = 0; i < st.days.n; i++) {
		ok += st.days.v[i].successful;
		fail += st.days.v[i].failed;
	}
	if (ok + fail == 0)
		fputs("  sessions: no report this week\r\n", f);
	else
		fprintf(f, "  sessions: %llu successful, %llu failed "
		    "(%.1f %%)\r\n", (unsigned long long)ok,
		    (unsigned long long)fail, 100.0 * (double)ok /
		    (double)(ok + fail));
	for (size_t i = 0; i < st.results.n && i < 3; i++)
		fprintf(f, "%s%llu %s", i ? ", " : "  failures: ",
		    (unsigned long long)st.results.v[i].failed,
		    st.results.v[i].key);
	if (st.results.n > 0)
		fputs("\r\n", f);
	web_stats_free(&st);
	if (store_check_get(s, name, web_digest_check_cb, &c, e) == -1)
		return -1;
	if (c.found) {
		fputs("  latest check ", f);
		web_digest_time(f, c.checked);
		fprintf(f, ": %llu failure%s, %llu warning%s\r\n",
		    (unsigned long long)c.failures, c.failures == 1 ? "" : "s",
		    (unsigned long long)c.warnings, c.warnings == 1 ? "" :
		    "s");
	} else {
		fputs("  not checked yet\r\n", f);
	}
	fputs("  alerts this week:", f);
	if (store_alert_list(s, name, 0, LIMIT_ALERTS_PER_DOMAIN,
	    web_digest_alert_cb, &al, e) < 0)
		return -1;
	fputs(al.n ? "\r\n" : " none\r\n", f);
	fputs("\r\n", f);
	return 0;
}

char *
web_digest(struct store *s, const char *tenant, time_t now, struct err *e)
{
	struct web_digest_names names = { 0 };
	time_t from = now - 7 * 86400;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = NULL;
	int rc = -1;

	if ((names.v = calloc(LIMIT_DIGEST_DOMAINS, sizeof(*names.v))) ==
	    NULL || (f = open_memstream(&buf, &len)) == NULL) {
		err_set(e, "out of memory");
		goto out;
	}
	if (store_domain_page(s, tenant, "", LONG_MAX, web_digest_name,
	    &names, e) != 0)
		goto out;
	fprintf(f, "The week of tenant %s, from ", tenant);
	web_digest_time(f, from);
	fputs(" to ", f);
	web_digest_time(f, now);
	fprintf(f, ": %zu hosted domain%s.\r\n\r\n", names.n + names.more,
	    names.n + names.more == 1 ? "" : "s");
	for (size_t i = 0; i < names.n; i++)
		if (web_digest_domain(f, s, names.v[i], from, e) == -1)
			goto out;
	if (names.more > 0)
		fprintf(f, "... and %zu more domains: see the dashboard.\r\n",
		    names.more);
	rc = 0;
out:
	if (f != NULL && fclose(f) != 0 && rc == 0) {
		err_set(e, "out of memory");
		rc = -1;
	}
	free(names.v);
	if (rc == -1) {
		free(buf);
		return NULL;
	}
	return buf;
}
