/*
 * web_page_views.c - three views of a domain as pages, from the structs
 * of web_views.h (the same data as the API's JSON):
 *
 *	GET /domains/{d}/ready      Ready to enforce? the verdict first,
 *	                            its reasons, then what would have
 *	                            failed, from whom, to which MX host
 *	GET /domains/{d}/adoption   Who has the new policy: per reporter,
 *	                            the version applied each day
 *	GET /domains/{d}/fetches    Who fetches the policy: per day,
 *	                            fetches, clients, User-Agents
 *
 * Every string from a report or a fetch (organizations, host names,
 * User-Agents) goes through web_html_text.
 */
#include <stdio.h>
#include <string.h>

#include "web.h"
#include "web_page_int.h"
#include "web_views.h"

/* The links between a domain's pages, the current one in bold. */
static void
views_nav(struct web_pg *pg, const char *domain, const char *here)
{
	static const char *const names[][2] = {
		{ "", "Overview" },
		{ "/ready", "Ready to enforce?" },
		{ "/adoption", "Who has the new policy" },
		{ "/fetches", "Who fetches the policy" },
	};
	struct web_html *h = &pg->h;
	size_t i;

	web_html_raw(h, "<p>");
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (i > 0)
			web_html_raw(h, " | ");
		if (strcmp(names[i][0], here) == 0) {
			web_html_raw(h, "<strong>");
			web_html_text(h, names[i][1]);
			web_html_raw(h, "</strong>");
			continue;
		}
		web_html_raw(h, "<a href=\"/domains/");
		web_html_url(h, domain);
		web_html_raw(h, names[i][0]);
		web_html_raw(h, "\">");
		web_html_text(h, names[i][1]);
		web_html_raw(h, "</a>");
	}
	web_html_raw(h, "</p>");
}

/* The start of a view's page: "<domain>: <what>" and the links, here
 * the current one. */
static void
views_open(struct web_pg *pg, const char *domain, const char *what,
    const char *here)
{
	char title[LIMIT_DNAME_LEN + 32];

	snprintf(title, sizeof(title), "%s: %s", domain, what);
	web_page_open(pg, title);
	views_nav(pg, domain, here);
}

/* Exported for web_page.c's domain page. */
void
web_page_nav(struct web_pg *pg, const char *domain)
{
	views_nav(pg, domain, "");
}

void
web_page_ready(struct web_pg *pg, const char *arg)
{
	struct store_domain d = { 0 };
	struct web_ready r = { 0 };
	struct web_html *h = &pg->h;
	struct err e;
	size_t i;

	if (web_page_domain(pg, arg, &d) != 0)
		return;
	if (web_ready_read(pg->s, &d, pg->now, &r, &e) == -1) {
		web_page_error(pg, 500, e.msg);
		goto out;
	}
	views_open(pg, d.name, "ready to enforce?", "/ready");
	web_html_fmt(h, "<p class=\"%s\" style=\"font-size:1.3em\">",
	    r.verdict == WEB_READY_READY ? "ok" : "bad");
	web_html_text(h, r.summary);
	web_html_raw(h, "</p>");
	if (d.policy.mode == POLICY_MODE_ENFORCE)
		web_html_raw(h, "<p class=\"note\">This domain is in enforce "
		    "mode already: the view shows what failed under it.</p>");
	if (r.reasons.n > 0) {
		web_html_raw(h, "<ul>");
		for (i = 0; i < r.reasons.n; i++) {
			web_html_raw(h, "<li>");
			web_html_text(h, r.reasons.v[i]);
			web_html_raw(h, "</li>");
		}
		web_html_raw(h, "</ul>");
	}
	web_html_fmt(h, "<p>From %llu reports of the last %d days: %llu "
	    "sessions applied the policy, %llu of them would have failed "
	    "under enforce; %llu sessions had no MTA-STS verdict.</p>",
	    (unsigned long long)r.reports, WEB_READY_DAYS,
	    (unsigned long long)(r.sts_successful + r.sts_failed),
	    (unsigned long long)r.sts_failed,
	    (unsigned long long)r.other_sessions);
	if (r.nfails > 0) {
		web_html_raw(h, "<h2>What would have failed</h2>"
		    "<div class=\"scroll\"><table><tr><th>MX host</th>"
		    "<th>Result</th><th>Reporter</th><th>Sessions</th>"
		    "<th>What to fix</th></tr>");
		for (i = 0; i < r.nfails; i++) {
			const struct web_ready_fail *f = &r.fails[i];

			web_html_raw(h, "<tr><td>");
			web_html_text(h, f->mx_host[0] != '\0' ? f->mx_host :
			    "(not named)");
			web_html_raw(h, "</td><td>");
			web_html_text(h, f->result_type);
			web_html_raw(h, "</td><td>");
			web_html_text(h, f->organization);
			web_html_fmt(h, "</td><td>%llu</td><td>",
			    (unsigned long long)f->sessions);
			web_explain(h, f->result_type, f->mx_host[0] != '\0' ?
			    f->mx_host : NULL);
			web_html_raw(h, "</td></tr>");
		}
		web_html_raw(h, "</table></div>");
	}
	web_html_raw(h, "<h2>Reporters</h2>");
	web_page_table(h, &r.reporters, "Organization");
	web_html_raw(h, "<h2>MX hosts the reports name</h2><div "
	    "class=\"scroll\"><table><tr><th>Host</th><th>Covered by the "
	    "policy</th><th>Failed sessions</th></tr>");
	for (i = 0; i < r.hosts.n; i++) {
		web_html_raw(h, "<tr><td>");
		web_html_text(h, r.hosts.v[i].key);
		web_html_fmt(h, "</td><td%s>%s</td><td>%llu</td></tr>",
		    r.hosts.v[i].successful ? "" : " class=\"bad\"",
		    r.hosts.v[i].successful ? "yes" : "no: add a pattern",
		    (unsigned long long)r.hosts.v[i].failed);
	}
	web_html_raw(h, "</table></div>");
	web_page_close(pg);
	web_page_send(pg, 200);
out:
	web_ready_free(&r);
	store_domain_free(&d);
}

void
web_page_adoption(struct web_pg *pg, const char *arg)
{
	struct store_domain d = { 0 };
	struct web_adopt a = { 0 };
	struct web_html *h = &pg->h;
	struct err e;
	size_t i, j;

	if (web_page_domain(pg, arg, &d) != 0)
		return;
	if (web_adopt_read(pg->s, &d, 0, 0, pg->now, &a, &e) == -1) {
		web_page_error(pg, 500, e.msg);
		goto out;
	}
	views_open(pg, d.name, "who has the new policy", "/adoption");
	if (a.nreporters == 0)
		web_html_raw(h, "<p>No report of the last 30 days names a "
		    "policy of this domain yet.</p>");
	else if (a.all_current) {
		web_html_raw(h, "<p class=\"ok\">Every reporter applies the "
		    "current policy");
		if (a.all_since != NULL) {
			web_html_raw(h, " since ");
			web_html_text(h, a.all_since);
		}
		web_html_raw(h, ".</p>");
	} else {
		web_html_raw(h, "<p class=\"bad\">Still on an older policy "
		    "(or one we did not serve): ");
		for (i = 0, j = 0; i < a.nreporters; i++) {
			if (a.reporters[i].current)
				continue;
			if (j++ > 0)
				web_html_raw(h, ", ");
			web_html_text(h, a.reporters[i].organization);
		}
		web_html_raw(h, ".</p>");
	}
	web_html_raw(h, "<h2>Versions</h2><div class=\"scroll\"><table><tr>"
	    "<th>#</th><th>Policy id</th><th>Served since</th></tr>");
	for (i = 0; i < a.nversions; i++) {
		web_html_fmt(h, "<tr><td>v%zu%s</td><td><code>", i + 1,
		    (int)i == a.current ? " (current)" : "");
		web_html_text(h, a.versions[i].policy_id);
		web_html_raw(h, "</code></td><td>");
		web_page_time(h, a.versions[i].since);
		web_html_raw(h, "</td></tr>");
	}
	web_html_raw(h, "</table></div><h2>Per reporter and day</h2>"
	    "<div class=\"scroll\"><table><tr><th>Reporter</th>"
	    "<th>Current since</th><th>Days (version applied)</th></tr>");
	for (i = 0; i < a.nreporters; i++) {
		const struct web_adopt_reporter *r = &a.reporters[i];

		web_html_raw(h, "<tr><td>");
		web_html_text(h, r->organization);
		web_html_fmt(h, "</td><td%s>", r->current ? "" :
		    " class=\"bad\"");
		web_html_text(h, r->current_since != NULL ? r->current_since :
		    "not yet");
		web_html_raw(h, "</td><td>");
		for (j = 0; j < r->n; j++) {
			web_html_text(h, r->cells[j].day);
			if (r->cells[j].version >= 0)
				web_html_fmt(h, " v%d", r->cells[j].version +
				    1);
			else
				web_html_raw(h, " unknown");
			web_html_raw(h, j + 1 < r->n ? "; " : "");
		}
		web_html_raw(h, "</td></tr>");
	}
	web_html_raw(h, "</table></div>");
	web_page_close(pg);
	web_page_send(pg, 200);
out:
	web_adopt_free(&a);
	store_domain_free(&d);
}

void
web_page_fetches(struct web_pg *pg, const char *arg)
{
	struct store_domain d = { 0 };
	struct web_fetches f = { 0 };
	struct web_html *h = &pg->h;
	struct err e;
	size_t i, j;

	if (web_page_domain(pg, arg, &d) != 0)
		return;
	if (web_fetches_read(pg->s, d.name, pg->now - 30 * 86400, 0, &f,
	    &e) == -1) {
		web_page_error(pg, 500, e.msg);
		goto out;
	}
	views_open(pg, d.name, "who fetches the policy", "/fetches");
	web_html_fmt(h, "<p>%llu fetches of the policy in the last 30 days. "
	    "Senders that fetch it are the ones that apply MTA-STS; the "
	    "clients per day are estimated.</p>",
	    (unsigned long long)f.fetches);
	web_html_raw(h, "<h2>User-Agents</h2><div class=\"scroll\"><table>"
	    "<tr><th>User-Agent</th><th>Fetches</th></tr>");
	for (i = 0; i < f.agents.n; i++) {
		web_html_raw(h, "<tr><td>");
		web_html_text(h, f.agents.v[i].key);
		web_html_fmt(h, "</td><td>%llu</td></tr>",
		    (unsigned long long)f.agents.v[i].successful);
	}
	if (f.agents_other > 0)
		web_html_fmt(h, "<tr><td>(others)</td><td>%llu</td></tr>",
		    (unsigned long long)f.agents_other);
	web_html_raw(h, "</table></div><h2>Per day</h2><div class=\"scroll\">"
	    "<table><tr><th>Day</th><th>Fetches</th><th>Clients</th>"
	    "<th>Most frequent User-Agents</th></tr>");
	for (i = 0; i < f.n; i++) {
		const struct web_fetch_day *x = &f.days[i];

		web_html_raw(h, "<tr><td>");
		web_html_text(h, x->day);
		web_html_fmt(h, "</td><td>%llu</td><td>~%llu</td><td>",
		    (unsigned long long)x->fetches,
		    (unsigned long long)x->clients);
		for (j = 0; j < x->nagents; j++) {
			web_html_text(h, x->agents[j].agent);
			web_html_fmt(h, " (%llu)%s",
			    (unsigned long long)x->agents[j].fetches,
			    j + 1 < x->nagents ? "; " : "");
		}
		web_html_raw(h, "</td></tr>");
	}
	web_html_raw(h, "</table></div>");
	web_page_close(pg);
	web_page_send(pg, 200);
out:
	web_fetches_free(&f);
	store_domain_free(&d);
}
