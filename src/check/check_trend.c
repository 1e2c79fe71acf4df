/*
 * check_trend.c - the monitor's findings that no DNS answer or fetch can
 * give (check.h): what a domain's TLS reports show over the last weeks,
 * a certificate renewal that keeps failing, and a domain left in testing
 * although it is ready. They join the domain's check as findings of
 * their own kinds, so that check_alerts_diff raises each once, when it
 * appears, and the cool-down keeps a flapping one quiet.
 *
 *	days[]  = check_day per UTC day, [0] today, [i] i days before
 *	          (web_stats_read of that day: sessions, failed sessions per
 *	          result type, sessions per organization)
 *
 *	recent  = days 0 .. CHECK_TREND_RECENT_DAYS-1     (today, yesterday)
 *	base    = the CHECK_TREND_BASE_DAYS after those   (days 2-15)
 *	silent  = days 0 .. CHECK_TREND_SILENT_DAYS-1     (days 0-3)
 *	daily   = the CHECK_TREND_BASE_DAYS after those   (days 4-17)
 *
 * When the recent days show sts-policy-fetch-error, which says nothing
 * of why, the check's own policy fetch (made just before, as a sender
 * makes it) is the cause shown beside it (check_fetch_cause).
 *
 * The baseline is the domain's own: a rate three times its usual share
 * alerts, not a fixed threshold, so that a domain whose one odd sender
 * always fails does not alert every day and one that never fails does
 * when a few percent start to.
 *
 * Never does I/O, never keeps state between calls.
 */
#include <stdio.h>
#include <string.h>

#include "../web/web.h"
#include "check.h"

/* Whether days[from..to) (past n: empty) have key in the table that
 * which picks (results: failed > 0; orgs: any row). Counts the days in
 * *ndays when not NULL. */
static bool
trend_has(const struct check_day *days, size_t n, size_t from, size_t to,
    bool results, const char *key, size_t *ndays)
{
	size_t c = 0;

	for (size_t d = from; d < to && d < n; d++) {
		const struct web_stat_table *t = results ? days[d].results :
		    days[d].orgs;

		for (size_t i = 0; t != NULL && i < t->n; i++) {
			if (strcmp(t->v[i].key, key) != 0 ||
			    (results && t->v[i].failed == 0))
				continue;
			c++;
			break;
		}
	}
	if (ndays != NULL)
		*ndays = c;
	return c > 0;
}

/* Sessions of days[from..to): successful into *ok, failed into *bad. */
static void
trend_sum(const struct check_day *days, size_t n, size_t from, size_t to,
    uint64_t *ok, uint64_t *bad)
{
	*ok = *bad = 0;
	for (size_t d = from; d < to && d < n; d++) {
		*ok += days[d].successful;
		*bad += days[d].failed;
	}
}

/* Result types failing in the recent days that the baseline lacks. */
static void
trend_new_types(struct check_report *r, const struct check_day *days,
    size_t n)
{
	const size_t b0 = CHECK_TREND_RECENT_DAYS;
	const size_t b1 = b0 + CHECK_TREND_BASE_DAYS;
	uint64_t ok, bad;
	size_t found = 0;

	trend_sum(days, n, b0, b1, &ok, &bad);
	if (ok + bad == 0)
		return;		/* no baseline: nothing is new */
	for (size_t d = 0; d < b0 && d < n; d++) {
		const struct web_stat_table *t = days[d].results;

		for (size_t i = 0; t != NULL && i < t->n; i++) {
			const char *type = t->v[i].key;
			uint64_t s = 0;

			if (t->v[i].failed == 0 || trend_has(days, n, 0, d,
			    true, type, NULL) || trend_has(days, n, b0, b1,
			    true, type, NULL))
				continue;	/* counted already, or old */
			for (size_t k = d; k < b0 && k < n; k++)
				for (size_t j = 0; days[k].results != NULL &&
				    j < days[k].results->n; j++)
					if (strcmp(days[k].results->v[j].key,
					    type) == 0)
						s += days[k].results->v[j].
						    failed;
			if (found++ == CHECK_TREND_MAX_EACH)
				return;
			check_add(r, CHECK_WARN, CHECK_A_REPORTS, type,
			    "look at the reports of the last days that show "
			    "it (their failure details name the MX host and "
			    "the sending IP)", "a new failure type in the "
			    "reports: %s, %llu session%s in the last %d days, "
			    "none in the %d days before", type,
			    (unsigned long long)s, s == 1 ? "" : "s",
			    CHECK_TREND_RECENT_DAYS, CHECK_TREND_BASE_DAYS);
			check_tag(r, CHECK_K_NEW_FAILURE);
		}
	}
}

/* The recent failure share against the baseline's. */
static void
trend_rate(struct check_report *r, const struct check_day *days, size_t n)
{
	const size_t b0 = CHECK_TREND_RECENT_DAYS;
	const size_t b1 = b0 + CHECK_TREND_BASE_DAYS;
	uint64_t rok, rbad, bok, bbad;
	double rshare, bshare;

	trend_sum(days, n, 0, b0, &rok, &rbad);
	trend_sum(days, n, b0, b1, &bok, &bbad);
	if (rok + rbad < CHECK_TREND_RATE_MIN || bok + bbad <
	    CHECK_TREND_RATE_MIN || rbad < CHECK_TREND_RATE_MIN_FAILED)
		return;
	rshare = (double)rbad / (double)(rok + rbad);
	bshare = (double)bbad / (double)(bok + bbad);
	if (rshare < CHECK_TREND_RATE_FACTOR * bshare)
		return;
	check_add(r, CHECK_WARN, CHECK_A_REPORTS, r->domain, "see which "
	    "failure types and MX hosts the reports of the last days name "
	    "(the domain's statistics)", "failure rate %.1f %% in the last "
	    "%d days (%llu of %llu sessions), %d times or more its %.1f %% "
	    "over the %d days before", rshare * 100, CHECK_TREND_RECENT_DAYS,
	    (unsigned long long)rbad, (unsigned long long)(rok + rbad),
	    CHECK_TREND_RATE_FACTOR, bshare * 100, CHECK_TREND_BASE_DAYS);
	check_tag(r, CHECK_K_FAILURE_RATE);
}

/* Organizations that reported daily and then stopped. */
static void
trend_silent(struct check_report *r, const struct check_day *days,
    size_t n)
{
	const size_t b0 = CHECK_TREND_SILENT_DAYS;
	const size_t b1 = b0 + CHECK_TREND_BASE_DAYS;
	size_t found = 0, c;

	for (size_t d = b0; d < b1 && d < n; d++) {
		const struct web_stat_table *t = days[d].orgs;

		for (size_t i = 0; t != NULL && i < t->n; i++) {
			const char *org = t->v[i].key;

			/* Once per organization: at its latest day. */
			if (trend_has(days, n, b0, d, false, org, NULL) ||
			    trend_has(days, n, 0, b0, false, org, NULL))
				continue;
			trend_has(days, n, b0, b1, false, org, &c);
			if (c < CHECK_TREND_DAILY)
				continue;
			if (found++ == CHECK_TREND_MAX_EACH)
				return;
			check_add(r, CHECK_WARN, CHECK_A_REPORTS, org,
			    "check the _smtp._tls record and that reports "
			    "still reach the service (a record that broke "
			    "stops every reporter)", "%s reported on %zu of "
			    "the %d days before and on none of the last %d",
			    org, c, CHECK_TREND_BASE_DAYS,
			    CHECK_TREND_SILENT_DAYS);
			check_tag(r, CHECK_K_REPORTER_SILENT);
		}
	}
}

void
check_trend(struct check_report *r, const struct check_day *days, size_t n)
{
	trend_new_types(r, days, n);
	trend_rate(r, days, n);
	trend_silent(r, days, n);
}

void
check_fetch_cause(struct check_report *r, const struct check_day *days,
    size_t n)
{
	char cause[sizeof(r->f[0].text)];
	uint64_t s = 0;
	size_t o = 0, nf = r->n;

	for (size_t d = 0; d < CHECK_TREND_RECENT_DAYS && d < n; d++)
		for (size_t j = 0; days[d].results != NULL &&
		    j < days[d].results->n; j++)
			if (strcmp(days[d].results->v[j].key,
			    CHECK_FETCH_ERROR) == 0)
				s += days[d].results->v[j].failed;
	if (s == 0)
		return;
	cause[0] = '\0';
	for (size_t i = 0; i < nf && o < sizeof(cause); i++) {
		const struct check_finding *f = &r->f[i];

		if (f->area != CHECK_A_POLICY || f->level < CHECK_WARN)
			continue;
		o += (size_t)snprintf(cause + o, sizeof(cause) - o, "%s%s",
		    o ? "; " : "", f->text);
	}
	if (cause[0] == '\0')
		snprintf(cause, sizeof(cause), "it succeeds (the failure "
		    "passed, or was the sender's)");
	check_add(r, CHECK_INFO, CHECK_A_REPORTS, CHECK_FETCH_ERROR, NULL,
	    "%llu session%s in the last %d days could not fetch the policy; "
	    "the fetch as a sender makes it, now: %s", (unsigned long long)s,
	    s == 1 ? "" : "s", CHECK_TREND_RECENT_DAYS, cause);
	for (size_t i = 0; i < nf; i++) {
		struct check_finding *f = &r->f[i];
		size_t l = strlen(f->text);

		if (f->kind == CHECK_K_NEW_FAILURE &&
		    strcmp(f->subject, CHECK_FETCH_ERROR) == 0)
			snprintf(f->text + l, sizeof(f->text) - l, "; the "
			    "policy fetch now: %s", cause);
	}
}

/* "2026-12-06 21:18 UTC" into buf. */
static void
trend_time(time_t t, char buf[32])
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, 32, "%Y-%m-%d %H:%M UTC", &tm) == 0)
		snprintf(buf, 32, "?");
}

void
check_cert_renewal(struct check_report *r, const char *name,
    time_t failed_at, unsigned failures, const char *reason,
    time_t not_after)
{
	char at[32], end[32];

	if (failed_at == 0)
		return;
	trend_time(failed_at, at);
	trend_time(not_after, end);
	check_add(r, CHECK_FAIL, CHECK_A_HOSTED, name, "make the name "
	    "resolve to the service and its challenges reach it; the "
	    "manager tries again with a growing delay",
	    "the renewal of the certificate of %s failed %u time%s in a row, "
	    "last %s: %s; %s%s", name, failures, failures == 1 ? "" : "s",
	    at, reason != NULL && reason[0] ? reason : "no reason kept",
	    not_after != 0 ? "the current one ends " : "there is no current "
	    "one", not_after != 0 ? end : "");
	check_tag(r, CHECK_K_CERT_RENEWAL);
}

void
check_testing_ready(struct check_report *r, enum policy_mode mode,
    time_t updated, time_t now, bool ready, const char *why)
{
	char fix[LIMIT_DNAME_LEN + 64];

	if (mode != POLICY_MODE_TESTING || !ready || updated > now ||
	    now - updated < CHECK_TESTING_READY_S)
		return;
	snprintf(fix, sizeof(fix), "stsguard domain set %s --mode enforce",
	    r->domain);
	check_add(r, CHECK_WARN, CHECK_A_HOSTED, r->domain, fix, "in testing "
	    "for %lld days with the policy unchanged, and the reports say it "
	    "is ready to enforce%s%s", (long long)((now - updated) / 86400),
	    why != NULL && why[0] ? ": " : "", why != NULL ? why : "");
	check_tag(r, CHECK_K_TESTING_READY);
}
