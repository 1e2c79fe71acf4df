/*
 * check_eval.c - the checker's pure half (check.h): what the DNS, the
 * policy host and each MX said, in; findings out, each failure with what
 * to fix. The RFC text each verdict follows is named beside it. The
 * grammars are not parsed here again: policy_parse, sts_record_select
 * and tlsrpt_record_parse are the ones every part of stsguard uses.
 *
 * The one reader of its own is for SMTP replies (RFC 5321 §4.2):
 *
 *	reply = *( code "-" text CRLF ) code [ SP text ] CRLF
 *	code  = 3DIGIT, the same on every line
 *
 * taken from a buffer that may hold part of a reply (then: "more"), at
 * most LIMIT_CHECK_SMTP_LINE bytes a line and LIMIT_CHECK_SMTP_LINES
 * lines. A bare LF ends a line too (servers that send one are common
 * and harmless to a reader).
 *
 * Never does I/O, never keeps state between calls.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../tlsrpt/tlsrpt.h"
#include "check.h"

void
check_report_init(struct check_report *r, const char *domain)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->domain, sizeof(r->domain), "%s", domain);
}

void
check_report_free(struct check_report *r)
{
	free(r->f);
	if (r->have_policy)
		policy_free(&r->policy);
	r->f = NULL;
	r->n = r->cap = 0;
	r->have_policy = false;
}

void
check_add(struct check_report *r, enum check_level lv, enum check_area a,
    const char *subject, const char *fix, const char *fmt, ...)
{
	struct check_finding *f;
	va_list ap;

	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		struct check_finding *nf = realloc(r->f, cap * sizeof(*nf));

		if (nf == NULL) {
			r->oom = true;
			r->nfail++;
			return;
		}
		r->f = nf;
		r->cap = cap;
	}
	f = &r->f[r->n++];
	f->level = lv;
	f->area = a;
	/* Each area's usual meaning; check_tag refines it. */
	f->kind = a == CHECK_A_STS_TXT || a == CHECK_A_TLSRPT ||
	    a == CHECK_A_MX || a == CHECK_A_DNSSEC ? CHECK_K_RECORD :
	    a == CHECK_A_POLICY ? CHECK_K_POLICY : a == CHECK_A_SMTP ?
	    CHECK_K_MX_TLS : CHECK_K_NONE;
	snprintf(f->subject, sizeof(f->subject), "%s", subject);
	snprintf(f->fix, sizeof(f->fix), "%s", fix ? fix : "");
	va_start(ap, fmt);
	vsnprintf(f->text, sizeof(f->text), fmt, ap);
	va_end(ap);
	if (lv == CHECK_FAIL)
		r->nfail++;
	else if (lv == CHECK_WARN)
		r->nwarn++;
}

void
check_tag(struct check_report *r, enum check_kind k)
{
	if (r->n > 0)
		r->f[r->n - 1].kind = k;
}

static const char *const check_kinds[] = { "none", "record", "policy",
    "mx-uncovered", "mx-tls", "cert-expiry", "cname", "id-lag",
    "cert-renewal", "new-failure-type", "failure-rate", "reporter-silent",
    "testing-ready" };

const char *
check_kind_name(enum check_kind k)
{
	return (unsigned)k <= CHECK_K_MAX ? check_kinds[k] : "?";
}

int
check_kind_parse(const char *name)
{
	for (int k = 0; k <= CHECK_K_MAX; k++)
		if (strcmp(check_kinds[k], name) == 0)
			return k;
	return -1;
}

const char *
check_level_name(enum check_level lv)
{
	static const char *const names[] = { "pass", "info", "warn", "fail" };

	return (unsigned)lv < 4 ? names[lv] : "?";
}

const char *
check_area_name(enum check_area a)
{
	static const char *const names[] = { "sts-txt", "policy", "mx",
	    "smtp", "tlsrpt", "hosted", "ns", "reports", "dnssec" };

	return (unsigned)a < sizeof(names) / sizeof(names[0]) ? names[a] :
	    "?";
}

/* "a -> b -> c" of a CNAME chain, after name. */
static void
check_chain_text(const char *name, const struct strv *chain, char *buf,
    size_t cap)
{
	size_t o = (size_t)snprintf(buf, cap, "%s", name);

	for (size_t i = 0; chain != NULL && i < chain->n && o < cap; i++)
		o += (size_t)snprintf(buf + o, cap - o, " -> %s",
		    chain->v[i]);
}

/* Reports a CNAME chain: info, or a failure when it was cut off. */
static void
check_chain(struct check_report *r, enum check_area a, const char *name,
    const struct strv *chain)
{
	char text[LIMIT_CHECK_CNAME_CHAIN * 64];

	if (chain == NULL || chain->n == 0)
		return;
	check_chain_text(name, chain, text, sizeof(text));
	if (chain->n >= LIMIT_CHECK_CNAME_CHAIN)
		check_add(r, CHECK_FAIL, a, name, "point the name at its "
		    "target with one CNAME",
		    "CNAME chain of %zu steps or more (%s): resolvers give up "
		    "on long chains", chain->n, text);
	else
		check_add(r, CHECK_INFO, a, name, NULL, "CNAME chain: %s",
		    text);
}

/* True when txt starts with tag followed by ';', SP, TAB or its end
 * (RFC 8461 §3.1 and RFC 8460 §3 both select records this way). */
static bool
check_tagged(const char *txt, const char *tag)
{
	size_t n = strlen(tag);

	return strncmp(txt, tag, n) == 0 && (txt[n] == '\0' ||
	    txt[n] == ';' || txt[n] == ' ' || txt[n] == '\t');
}

static void
check_lookup_failed(struct check_report *r, enum check_area a,
    const char *name, struct check_dns q)
{
	check_add(r, CHECK_FAIL, a, name, "make the domain's name servers "
	    "answer for this name (senders treat a failed lookup as "
	    "\"try later\" or \"no policy\")", "DNS lookup failed: %s",
	    q.err ? q.err : "no answer");
}

void
check_sts_txt(struct check_report *r, struct check_dns q,
    const struct strv *txt, const struct strv *chain)
{
	char name[LIMIT_DNAME_LEN + 16], fix[1024];
	struct sts_record rec;
	struct err e;
	size_t nsts = 0;
	int rc;

	snprintf(name, sizeof(name), "_mta-sts.%s", r->domain);
	r->sts_id[0] = '\0';
	check_chain(r, CHECK_A_STS_TXT, name, chain);
	snprintf(fix, sizeof(fix), "publish one TXT record at %s: "
	    "\"v=STSv1; id=<1 to 32 letters and digits>;\"", name);
	if (q.rc == DNS_FAILED) {
		check_lookup_failed(r, CHECK_A_STS_TXT, name, q);
		return;
	}
	if (q.rc == DNS_NONE || txt->n == 0) {
		check_add(r, CHECK_FAIL, CHECK_A_STS_TXT, name, fix,
		    "no TXT record: senders see no MTA-STS policy "
		    "(RFC 8461 §3.1)");
		return;
	}
	for (size_t i = 0; i < txt->n; i++)
		if (check_tagged(txt->v[i], "v=STSv1"))
			nsts++;
	rc = sts_record_select((const char *const *)txt->v, NULL, txt->n,
	    &rec, &e);
	if (rc == 0) {
		struct strv w = { 0 };

		snprintf(r->sts_id, sizeof(r->sts_id), "%s", rec.id);
		check_add(r, CHECK_PASS, CHECK_A_STS_TXT, name, NULL,
		    "one v=STSv1 record, id %s", rec.id);
		for (size_t i = 0; i < txt->n; i++)
			if (check_tagged(txt->v[i], "v=STSv1"))
				(void)sts_record_parse(txt->v[i],
				    strlen(txt->v[i]), &rec, &w, &e);
		for (size_t i = 0; i < w.n; i++)
			check_add(r, CHECK_WARN, CHECK_A_STS_TXT, name,
			    "remove what RFC 8461 §3.1 does not define",
			    "%s", w.v[i]);
		strv_free(&w);
	} else if (nsts > 1) {
		check_add(r, CHECK_FAIL, CHECK_A_STS_TXT, name,
		    "keep exactly one v=STSv1 TXT record and delete the others",
		    "%zu v=STSv1 records: senders then use none of them "
		    "(RFC 8461 §3.1)", nsts);
	} else if (nsts == 0) {
		check_add(r, CHECK_FAIL, CHECK_A_STS_TXT, name, fix,
		    "%zu TXT record%s, none starting with v=STSv1: senders "
		    "see no MTA-STS policy", txt->n, txt->n == 1 ? "" : "s");
	} else {
		check_add(r, CHECK_FAIL, CHECK_A_STS_TXT, name, fix,
		    "the v=STSv1 record is invalid: %s", e.msg);
	}
}

size_t
check_policy_host(struct check_report *r, struct check_dns q,
    const struct strv *addrs, const struct strv *chain, bool allow_private)
{
	char name[LIMIT_DNAME_LEN + 16], list[512], refused[512];
	size_t ok = 0, lo = 0, ro = 0;

	snprintf(name, sizeof(name), "mta-sts.%s", r->domain);
	check_chain(r, CHECK_A_POLICY, name, chain);
	if (q.rc == DNS_FAILED) {
		check_lookup_failed(r, CHECK_A_POLICY, name, q);
		return 0;
	}
	if (q.rc == DNS_NONE || addrs->n == 0) {
		check_add(r, CHECK_FAIL, CHECK_A_POLICY, name, "publish "
		    "mta-sts.<domain> as a CNAME to the host that serves the "
		    "policy (or its A/AAAA records)", "no address (A or "
		    "AAAA): senders cannot fetch the policy");
		check_tag(r, CHECK_K_RECORD);
		return 0;
	}
	list[0] = refused[0] = '\0';
	for (size_t i = 0; i < addrs->n; i++) {
		bool priv = check_addr_private(addrs->v[i]);

		if (priv && !allow_private) {
			if (ro < sizeof(refused))
				ro += (size_t)snprintf(refused + ro,
				    sizeof(refused) - ro, "%s%s",
				    ro ? ", " : "", addrs->v[i]);
			continue;
		}
		ok++;
		if (lo < sizeof(list))
			lo += (size_t)snprintf(list + lo, sizeof(list) - lo,
			    "%s%s", lo ? ", " : "", addrs->v[i]);
	}
	if (ok == 0) {
		check_add(r, CHECK_FAIL, CHECK_A_POLICY, name,
		    "point it at public addresses (for a test set-up on a "
		    "private network: stsguard check --allow-private)",
		    "resolves only to private or loopback addresses (%s): "
		    "not fetched, and senders on the Internet cannot reach "
		    "them", refused);
		return 0;
	}
	if (ro > 0)
		check_add(r, CHECK_WARN, CHECK_A_POLICY, name, "publish public "
		    "addresses only", "private or loopback addresses (%s) "
		    "skipped", refused);
	check_add(r, CHECK_PASS, CHECK_A_POLICY, name, NULL, "resolves to %s",
	    list);
	return ok;
}

/* True when the media type of a Content-Type value is text/plain
 * (case-insensitive, parameters allowed: RFC 8461 §3.2, RFC 9110 §8.3). */
static bool
check_text_plain(const char *ct)
{
	size_t n = strlen("text/plain");

	if (ct == NULL || strncasecmp(ct, "text/plain", n) != 0)
		return false;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

/* Whether an answer is a web firewall's browser challenge (a page that
 * runs a script or asks a person, which no sending MTA can pass): HTML
 * carrying the marks of the common ones. Bytes are scanned as they are,
 * case aside; a policy is never HTML. */
bool
check_challenge_page(const char *content_type, const char *body, size_t len)
{
	static const char *const marks[] = {
		"cf-chl", "challenge-platform", "just a moment",
		"attention required", "captcha", "_incapsula_resource",
		"sucuri website firewall", "ddos protection by",
		"checking your browser",
	};
	size_t i, j, n;

	if (body == NULL || len == 0 || content_type == NULL ||
	    strncasecmp(content_type, "text/html", 9) != 0)
		return false;
	for (i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
		n = strlen(marks[i]);
		for (j = 0; j + n <= len; j++)
			if (strncasecmp(body + j, marks[i], n) == 0)
				return true;
	}
	return false;
}

void
check_policy_fetch(struct check_report *r, const struct check_fetch *f)
{
	const char *url = f->url;
	struct strv w = { 0 };
	struct policy p;
	struct err e;
	char q[64];
	bool lf = false;

	if (f->error != NULL) {
		check_add(r, CHECK_FAIL, CHECK_A_POLICY, url, f->tls_error ?
		    "serve a certificate for mta-sts.<domain> from a CA that "
		    "senders trust (WebPKI), with its intermediate "
		    "certificates" : "serve the policy over HTTPS on port 443",
		    "fetch failed: %s", f->error);
		return;
	}
	if (f->status >= 300 && f->status < 400) {
		check_add(r, CHECK_FAIL, CHECK_A_POLICY, url, "serve the "
		    "policy itself at this URL with status 200",
		    "status %ld, a redirect to %s: senders do not follow "
		    "redirects (RFC 8461 §3.3)", f->status,
		    f->location ? err_quote(f->location, strlen(f->location),
		    q, sizeof(q)) : "(no Location)");
		return;
	}
	if (check_challenge_page(f->content_type, f->body, f->len)) {
		check_add(r, CHECK_FAIL, CHECK_A_POLICY, url, "exempt "
		    "mta-sts.<domain>/.well-known/mta-sts.txt from the web "
		    "firewall's challenge, or point mta-sts.<domain> at "
		    "stsguard directly (CNAME)", "status %ld, a web "
		    "firewall's browser challenge (HTML): sending MTAs are "
		    "programs and cannot pass it", f->status);
		return;
	}
	if (f->status != 200) {
		check_add(r, CHECK_FAIL, CHECK_A_POLICY, url, "serve the "
		    "policy at this URL with status 200", "status %ld: "
		    "senders accept only 200 (RFC 8461 §3.3)", f->status);
		return;
	}
	if (f->too_large) {
		check_add(r, CHECK_FAIL, CHECK_A_POLICY, url, "serve the "
		    "policy alone (a few hundred bytes)", "body over %d "
		    "bytes: senders may refuse it (RFC 8461 §3.3)",
		    LIMIT_POLICY_BYTES);
		return;
	}
	if (!check_text_plain(f->content_type))
		check_add(r, CHECK_FAIL, CHECK_A_POLICY, url, "serve it with "
		    "Content-Type: text/plain", "Content-Type %s: senders "
		    "require text/plain (RFC 8461 §3.2)", f->content_type ?
		    err_quote(f->content_type, strlen(f->content_type), q,
		    sizeof(q)) : "missing");
	else
		check_add(r, CHECK_PASS, CHECK_A_POLICY, url, NULL, "fetched: "
		    "status 200, text/plain, %zu bytes, certificate valid, "
		    "no redirect", f->len);
	if (f->not_after != 0 && f->not_after - f->now < CHECK_EXPIRY_WARN_S) {
		check_add(r, CHECK_WARN, CHECK_A_POLICY, url, "renew the "
		    "certificate of mta-sts.<domain> now (with certificates = "
		    "acme, see why renewal fails in the log)", "the "
		    "certificate expires in %ld days",
		    (long)((f->not_after - f->now) / 86400));
		check_tag(r, CHECK_K_CERT_EXPIRY);
	}

	if (policy_parse(f->body, f->len, &p, &w, &e) == -1) {
		check_add(r, CHECK_FAIL, CHECK_A_POLICY, url, "correct the "
		    "policy text (RFC 8461 §3.2: version, mode, mx, max_age, "
		    "one per line)", "policy invalid: %s", e.msg);
		strv_free(&w);
		return;
	}
	for (size_t i = 0; i < w.n; i++)
		check_add(r, CHECK_WARN, CHECK_A_POLICY, url, "remove what "
		    "RFC 8461 §3.2 does not define", "policy: %s", w.v[i]);
	strv_free(&w);
	for (size_t i = 0; i < f->len; i++)
		if (f->body[i] == '\n' && (i == 0 || f->body[i - 1] != '\r'))
			lf = true;
	if (lf)
		check_add(r, CHECK_WARN, CHECK_A_POLICY, url, "end lines with "
		    "CRLF", "lines end in LF alone: senders accept it, RFC "
		    "8461 §3.2 asks for CRLF");
	if (p.mode != POLICY_MODE_NONE && p.max_age < CHECK_MAX_AGE_DAY)
		check_add(r, CHECK_WARN, CHECK_A_POLICY, url, "raise max_age "
		    "(a week or more, once the policy is settled)",
		    "max_age %u is under a day: senders fetch the policy again "
		    "and again, and a short outage of the policy host leaves "
		    "them without one", p.max_age);
	else if (p.mode == POLICY_MODE_ENFORCE &&
	    p.max_age < CHECK_MAX_AGE_ENFORCE)
		check_add(r, CHECK_WARN, CHECK_A_POLICY, url, "use a max_age "
		    "of two weeks or more in enforce mode (RFC 8461 §3.2 "
		    "suggests weeks)", "max_age %u is under two weeks in "
		    "enforce mode: a cached policy protects for less time "
		    "than an attacker may wait", p.max_age);
	check_add(r, CHECK_PASS, CHECK_A_POLICY, url, NULL, "policy valid: "
	    "mode %s, max_age %u, %zu mx pattern%s",
	    policy_mode_name(p.mode), p.max_age, p.mx.n,
	    p.mx.n == 1 ? "" : "s");
	if (r->have_policy)
		policy_free(&r->policy);
	r->policy = p;
	r->have_policy = true;
}

void
check_mx_cover(struct check_report *r, struct check_dns q,
    const struct dns_mx *mx, size_t n)
{
	const char *d = r->domain;
	char fix[1024];

	if (q.rc == DNS_FAILED) {
		check_lookup_failed(r, CHECK_A_MX, d, q);
		return;
	}
	if (q.rc == DNS_NONE || n == 0) {
		check_add(r, CHECK_WARN, CHECK_A_MX, d, "publish MX records "
		    "and list them in the policy", "no MX record: senders "
		    "deliver to the domain's own address, which the policy's "
		    "mx patterns must then cover");
		return;
	}
	if (n == 1 && mx[0].host[0] == '\0') {
		check_add(r, CHECK_INFO, CHECK_A_MX, d, NULL, "null MX "
		    "(RFC 7505): the domain receives no mail");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const char *h = mx[i].host;

		if (!r->have_policy) {
			check_add(r, CHECK_INFO, CHECK_A_MX, h, NULL,
			    "MX %u %s (no policy to compare with)",
			    mx[i].pref, h);
			continue;
		}
		if (policy_match(&r->policy, h)) {
			check_add(r, CHECK_PASS, CHECK_A_MX, h, NULL,
			    "MX %u %s is covered by the policy", mx[i].pref,
			    h);
			continue;
		}
		snprintf(fix, sizeof(fix), "add \"mx: %s\" (or a \"*.\" "
		    "pattern of its parent) to the policy, or remove the MX "
		    "record", h);
		switch (r->policy.mode) {
		case POLICY_MODE_ENFORCE:
			check_add(r, CHECK_FAIL, CHECK_A_MX, h, fix, "MX %u "
			    "%s: no mx pattern of the policy covers it; in "
			    "enforce mode senders will not deliver to it "
			    "(RFC 8461 §4.1)", mx[i].pref, h);
			check_tag(r, CHECK_K_MX_UNCOVERED);
			break;
		case POLICY_MODE_TESTING:
			check_add(r, CHECK_WARN, CHECK_A_MX, h, fix, "MX %u "
			    "%s: no mx pattern of the policy covers it; "
			    "senders deliver (testing) but report failures, "
			    "and enforce mode would bounce", mx[i].pref, h);
			check_tag(r, CHECK_K_MX_UNCOVERED);
			break;
		default:
			check_add(r, CHECK_INFO, CHECK_A_MX, h, NULL, "MX %u "
			    "%s: not covered (mode none: nothing enforced)",
			    mx[i].pref, h);
			break;
		}
	}
}

void
check_policy_families(struct check_report *r, const struct check_family *f)
{
	char name[LIMIT_DNAME_LEN + 16];

	snprintf(name, sizeof(name), "mta-sts.%s", r->domain);
	if (f->n4 > 0 && f->n6 > 0) {
		if (f->err4 == NULL && f->err6 == NULL)
			check_add(r, CHECK_PASS, CHECK_A_POLICY, name, NULL,
			    "the policy is fetched over IPv4 and over IPv6");
		else if (f->err4 == NULL || f->err6 == NULL)
			check_add(r, CHECK_WARN, CHECK_A_POLICY, name,
			    f->err6 != NULL ? "make the policy host answer on "
			    "its IPv6 addresses as on IPv4 (or remove the AAAA "
			    "records)" : "make the policy host answer on its "
			    "IPv4 addresses as on IPv6 (or remove the A "
			    "records)", "reachable over %s but not over %s "
			    "(%s): senders that try %s first fail the fetch "
			    "or wait for its timeout",
			    f->err6 ? "IPv4" : "IPv6", f->err6 ? "IPv6" :
			    "IPv4", f->err6 ? f->err6 : f->err4,
			    f->err6 ? "IPv6" : "IPv4");
		return;
	}
	if (f->n4 > 0 || f->n6 > 0)
		check_add(r, CHECK_INFO, CHECK_A_POLICY, name, NULL, "%s only "
		    "(no %s record): senders on %s-only networks cannot "
		    "fetch the policy", f->n4 ? "IPv4" : "IPv6",
		    f->n4 ? "AAAA" : "A", f->n4 ? "IPv6" : "IPv4");
}

void
check_mx_templates(struct check_report *r, const struct policy_templates *t,
    const struct dns_mx *mx, size_t n)
{
	const char *hosts[LIMIT_CHECK_MX];
	size_t nh = 0;

	if (t == NULL)
		return;
	for (size_t i = 0; i < n && nh < LIMIT_CHECK_MX; i++)
		if (mx[i].host[0] != '\0')
			hosts[nh++] = mx[i].host;
	for (size_t i = 0; i < nh; i++) {
		const struct policy_template *tp =
		    policy_template_find(t, hosts[i]);
		char pats[512];
		size_t o = 0;

		if (tp == NULL)
			continue;
		pats[0] = '\0';
		for (size_t k = 0; k < tp->npat && o < sizeof(pats); k++)
			o += (size_t)snprintf(pats + o, sizeof(pats) - o,
			    "%s%s", k ? ", " : "", tp->pat[k]);
		check_add(r, CHECK_INFO, CHECK_A_MX, hosts[i], NULL, "an MX "
		    "of %s, whose documentation gives mx: %s (%s)",
		    tp->provider, pats, tp->doc);
	}
	if (!r->have_policy)
		return;
	for (size_t i = 0; i < r->policy.mx.n; i++) {
		const char *p = r->policy.mx.v[i];

		for (size_t k = 0; k < t->n; k++) {
			const struct policy_template *tp = &t->t[k];
			char fix[1024];

			if (!policy_template_stray(tp, p, hosts, nh))
				continue;
			snprintf(fix, sizeof(fix), "list \"mx: %s\"%s as %s "
			    "documents (%s), or remove this pattern",
			    tp->pat[0], tp->npat > 1 ? " and the others" : "",
			    tp->provider, tp->doc);
			check_add(r, CHECK_WARN, CHECK_A_MX, p, fix, "mx "
			    "pattern %s lies in the namespace of %s but "
			    "matches none of the domain's MX names, and is "
			    "not one %s documents: a pattern meant for "
			    "its hosts that covers none of them", p,
			    tp->provider, tp->provider);
			break;
		}
	}
}

/* "NOERROR", "SERVFAIL", ... for an rcode. */
static const char *
check_rcode_name(int rc)
{
	static const char *const names[] = { "NOERROR", "FORMERR",
	    "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED" };

	return rc >= 0 && rc < 6 ? names[rc] : "an error";
}

void
check_delegation(struct check_report *r, const char *zone,
    struct check_dns q, const struct check_ns *ns, size_t n)
{
	size_t good = 0;

	if (zone == NULL) {
		check_add(r, CHECK_INFO, CHECK_A_NS, r->domain, NULL, "no NS "
		    "records found below the top-level domain: name servers "
		    "not checked");
		return;
	}
	if (q.rc == DNS_FAILED) {
		check_lookup_failed(r, CHECK_A_NS, zone, q);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct check_ns *s = &ns[i];
		char sub[LIMIT_DNAME_LEN + 64];

		snprintf(sub, sizeof(sub), "%s", s->host);
		if (s->addrs.rc != DNS_FOUND) {
			check_add(r, CHECK_WARN, CHECK_A_NS, sub, "give the "
			    "name server an address, or remove its NS record "
			    "at the parent and in the zone", "name server of "
			    "%s without an address (%s): lame, resolvers "
			    "waste a lookup on it", zone, s->addrs.err ?
			    s->addrs.err : "none");
			continue;
		}
		if (s->private_only) {
			check_add(r, CHECK_WARN, CHECK_A_NS, sub, "point the "
			    "name server at public addresses (test set-ups: "
			    "stsguard check --allow-private)", "resolves only "
			    "to private or loopback addresses: not asked");
			continue;
		}
		snprintf(sub, sizeof(sub), "%s (%s)", s->host, s->addr);
		if (!s->p.answered) {
			check_add(r, CHECK_WARN, CHECK_A_NS, sub, "make this "
			    "name server answer for the zone, or remove it "
			    "from the delegation", "does not answer for %s: "
			    "%s: every lookup that tries it first waits",
			    zone, s->p.error);
			continue;
		}
		if (s->p.rcode != 0 || !s->p.aa) {
			check_add(r, CHECK_WARN, CHECK_A_NS, sub, "load the "
			    "zone on this name server (authoritative), or "
			    "remove it from the delegation", "lame: asked "
			    "for the SOA of %s it answers %s%s, not "
			    "authoritatively: resolvers drop it and retry "
			    "elsewhere", zone, check_rcode_name(s->p.rcode),
			    s->p.rcode == 0 ? " (a referral or a cached "
			    "answer)" : "");
			continue;
		}
		good++;
		if (s->p.ms > CHECK_NS_SLOW_MS)
			check_add(r, CHECK_WARN, CHECK_A_NS, sub, "find out "
			    "why this name server is slow (load, network, "
			    "distance) or add faster ones", "slow: answered "
			    "for %s after %ld ms (over %d ms): lookups of "
			    "the domain's records stall", zone, s->p.ms,
			    CHECK_NS_SLOW_MS);
		else
			check_add(r, CHECK_PASS, CHECK_A_NS, sub, NULL,
			    "answers for %s with authority in %ld ms", zone,
			    s->p.ms);
	}
	if (good == 0 && n > 0)
		check_add(r, CHECK_FAIL, CHECK_A_NS, zone, "make at least one "
		    "(better two) of the delegated name servers answer "
		    "authoritatively for the zone", "none of the %zu name "
		    "servers answers for %s with authority: the domain's "
		    "records, MTA-STS ones included, cannot be looked up",
		    n, zone);
}

void
check_smtp_probe(struct check_report *r, const struct check_smtp *s)
{
	char sub[LIMIT_DNAME_LEN + 16], tlsa[LIMIT_DNAME_LEN + 16], when[32];
	const char *h = s->host;
	struct tm tm;

	snprintf(sub, sizeof(sub), "%s:25", h);
	snprintf(tlsa, sizeof(tlsa), "_25._tcp.%s", h);
	if (s->addrs.rc != DNS_FOUND) {
		if (s->addrs.rc == DNS_FAILED)
			check_lookup_failed(r, CHECK_A_SMTP, h, s->addrs);
		else
			check_add(r, CHECK_FAIL, CHECK_A_SMTP, h, "publish an "
			    "A or AAAA record for the MX host", "the MX host "
			    "has no address: mail cannot be delivered to it");
		return;
	}
	if (s->private_only) {
		check_add(r, CHECK_FAIL, CHECK_A_SMTP, sub, "point the MX host "
		    "at public addresses (for a test set-up on a private "
		    "network: stsguard check --allow-private)", "resolves "
		    "only to private or loopback addresses: not probed");
		return;
	}
	if (s->error != NULL) {
		check_add(r, CHECK_FAIL, CHECK_A_SMTP, sub, "make port 25 of "
		    "the MX host accept SMTP connections from the Internet",
		    "%s: %s", s->addr ? s->addr : "-", s->error);
		return;
	}
	if (!s->starttls) {
		check_add(r, CHECK_FAIL, CHECK_A_SMTP, sub, "enable STARTTLS "
		    "on the MX host, with a certificate for its name",
		    "%s: STARTTLS not offered in the EHLO reply: MTA-STS "
		    "senders will not deliver (RFC 8461 §4.2)", s->addr);
		return;
	}
	if (s->tls_error != NULL) {
		check_add(r, CHECK_FAIL, CHECK_A_SMTP, sub, "fix the TLS set-up "
		    "of the MX host (certificate, key, protocols)",
		    "%s: STARTTLS failed: %s", s->addr, s->tls_error);
		return;
	}
	if (s->verify != 0) {
		check_add(r, CHECK_FAIL, CHECK_A_SMTP, sub, "serve a "
		    "certificate for the MX name from a CA senders trust, "
		    "with its intermediate certificates (RFC 8461 §4.2)",
		    "%s: certificate not valid for %s: %s", s->addr, h,
		    s->verify_text ? s->verify_text : "verification failed");
	} else {
		gmtime_r(&s->not_after, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d", &tm);
		if (s->not_after - s->now < CHECK_EXPIRY_WARN_S) {
			check_add(r, CHECK_WARN, CHECK_A_SMTP, sub, "renew the "
			    "certificate of the MX host now", "%s: %s, "
			    "certificate for %s expires on %s, in %ld days",
			    s->addr, s->tls_version ? s->tls_version : "TLS",
			    h, when, (long)((s->not_after - s->now) / 86400));
			check_tag(r, CHECK_K_CERT_EXPIRY);
		} else
			check_add(r, CHECK_PASS, CHECK_A_SMTP, sub, NULL,
			    "%s: STARTTLS, %s, certificate valid for %s "
			    "until %s", s->addr, s->tls_version ?
			    s->tls_version : "TLS", h, when);
	}
	if (s->tlsa.rc == DNS_FOUND)
		check_add(r, CHECK_INFO, CHECK_A_SMTP, tlsa, NULL, "%zu TLSA "
		    "record%s (DANE, RFC 7672): DANE senders check those "
		    "instead", s->ntlsa, s->ntlsa == 1 ? "" : "s");
	else if (s->tlsa.rc == DNS_NONE)
		check_add(r, CHECK_INFO, CHECK_A_SMTP, tlsa, NULL, "no TLSA "
		    "record (no DANE)");
	else
		check_add(r, CHECK_WARN, CHECK_A_SMTP, tlsa, "make the name "
		    "servers answer TLSA queries (NODATA when there is none)",
		    "TLSA lookup failed: %s: DANE senders defer mail",
		    s->tlsa.err ? s->tlsa.err : "no answer");
}

void
check_tlsrpt(struct check_report *r, struct check_dns q,
    const struct strv *txt, const char *own_prefix)
{
	char name[LIMIT_DNAME_LEN + 16], list[1024];
	struct tlsrpt_record rec;
	struct strv w = { 0 };
	const char *one = NULL;
	struct err e;
	size_t nrec = 0, o = 0;
	enum check_level missing = own_prefix ? CHECK_FAIL : CHECK_WARN;

	snprintf(name, sizeof(name), "_smtp._tls.%s", r->domain);
	if (q.rc == DNS_FAILED) {
		check_lookup_failed(r, CHECK_A_TLSRPT, name, q);
		return;
	}
	for (size_t i = 0; q.rc == DNS_FOUND && i < txt->n; i++)
		if (check_tagged(txt->v[i], "v=TLSRPTv1")) {
			nrec++;
			one = txt->v[i];
		}
	if (nrec == 0) {
		check_add(r, missing, CHECK_A_TLSRPT, name, "publish "
		    "\"v=TLSRPTv1; rua=mailto:<address>\" there",
		    "no v=TLSRPTv1 record: senders send no TLS reports, so "
		    "failures go unseen (RFC 8460 §3)");
		return;
	}
	if (nrec > 1) {
		check_add(r, CHECK_FAIL, CHECK_A_TLSRPT, name, "keep exactly "
		    "one v=TLSRPTv1 record", "%zu v=TLSRPTv1 records: "
		    "senders then use none (RFC 8460 §3)", nrec);
		return;
	}
	if (tlsrpt_record_parse(one, strlen(one), &rec, &w, &e) == -1) {
		check_add(r, CHECK_FAIL, CHECK_A_TLSRPT, name, "correct the "
		    "record: \"v=TLSRPTv1; rua=mailto:a@b,https://c/d\"",
		    "the record is invalid: %s", e.msg);
		strv_free(&w);
		return;
	}
	for (size_t i = 0; i < w.n; i++)
		check_add(r, CHECK_WARN, CHECK_A_TLSRPT, name, "remove what "
		    "RFC 8460 §3 does not define", "%s", w.v[i]);
	strv_free(&w);
	list[0] = '\0';
	for (size_t i = 0; i < rec.rua.n && o < sizeof(list); i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s",
		    i ? ", " : "", rec.rua.v[i]);
	check_add(r, CHECK_PASS, CHECK_A_TLSRPT, name, NULL, "one v=TLSRPTv1 "
	    "record; reports go to %s", list);
	if (own_prefix != NULL) {
		size_t pn = strlen(own_prefix);
		bool first = rec.rua.n > 0 &&
		    strncasecmp(rec.rua.v[0], own_prefix, pn) == 0, any = false;

		for (size_t i = 0; i < rec.rua.n; i++)
			if (strncasecmp(rec.rua.v[i], own_prefix, pn) == 0)
				any = true;
		if (first)
			check_add(r, CHECK_PASS, CHECK_A_TLSRPT, name, NULL,
			    "the service's own address comes first");
		else
			check_add(r, CHECK_WARN, CHECK_A_TLSRPT, name,
			    "publish the record `stsguard dns` prints (the "
			    "service's mailto: address first)", any ?
			    "the service's own address is not the first rua "
			    "URI: some senders use only the first" :
			    "the record does not name the service's own "
			    "address: these reports never reach stsguard");
	}
	tlsrpt_record_free(&rec);
}

/* Equal host names, case and one final dot aside. */
static bool
check_same_host(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);

	if (na > 0 && a[na - 1] == '.')
		na--;
	if (nb > 0 && b[nb - 1] == '.')
		nb--;
	return na == nb && strncasecmp(a, b, na) == 0;
}

/* Step 6: DNSSEC. The answers of a[0..n) with status s, "x, y", into
 * buf (cut to fit); returns how many. */
static size_t
check_sec_names(const struct check_sec *a, size_t n, enum dns_sec s,
    char *buf, size_t cap)
{
	size_t o = 0, k = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (a[i].q.sec != s)
			continue;
		k++;
		if (o < cap)
			o += (size_t)snprintf(buf + o, cap - o, "%s%s",
			    o ? ", " : "", a[i].what);
	}
	return k;
}

void
check_dnssec(struct check_report *r, const struct check_sec *a, size_t n)
{
	char secure[160], insecure[160];
	const struct check_sec *bogus = NULL;
	size_t nbogus = 0, nsecure, ninsecure;

	for (size_t i = 0; i < n; i++)
		if (a[i].q.sec == DNS_SEC_BOGUS && nbogus++ == 0)
			bogus = &a[i];
	if (bogus != NULL) {
		/* RFC 4035 §5.5: a validator answers SERVFAIL for it, so a
		 * sender that validates sees no record at all. */
		check_add(r, CHECK_FAIL, CHECK_A_DNSSEC, bogus->what,
		    "re-sign the zone (its signatures have expired or are "
		    "missing), or make the DS record at the parent match the "
		    "zone's key (KSK): until then validating senders cannot "
		    "read these records", "DNSSEC bogus: %s%s",
		    bogus->q.why != NULL && bogus->q.why[0] != '\0' ?
		    bogus->q.why : "validation failed", nbogus > 1 ?
		    " (and other answers)" : "");
		return;
	}
	nsecure = check_sec_names(a, n, DNS_SEC_SECURE, secure,
	    sizeof(secure));
	ninsecure = check_sec_names(a, n, DNS_SEC_INSECURE, insecure,
	    sizeof(insecure));
	for (size_t i = 0; i < n; i++)
		if (a[i].q.sec == DNS_SEC_UNCHECKED) {
			check_add(r, CHECK_INFO, CHECK_A_DNSSEC, r->domain,
			    NULL, "DNSSEC not validated (no trust anchor set; "
			    "set dnssec_trust_anchor)");
			return;
		}
	if (ninsecure > 0)
		check_add(r, CHECK_INFO, CHECK_A_DNSSEC, r->domain, NULL,
		    "DNSSEC insecure (unsigned): %s%s%s", insecure,
		    nsecure ? "; secure: " : "", secure);
	else if (nsecure > 0)
		check_add(r, CHECK_PASS, CHECK_A_DNSSEC, r->domain, NULL,
		    "DNSSEC secure: %s", secure);
	else
		check_add(r, CHECK_INFO, CHECK_A_DNSSEC, r->domain, NULL,
		    "DNSSEC not judged: no answer came to validate");
}

void
check_hosted(struct check_report *r, const char *served_id,
    const char *service_host, const struct strv *mta_chain)
{
	char sts[LIMIT_DNAME_LEN + 16], mta[LIMIT_DNAME_LEN + 16];
	char fix[1024];
	bool ours = false;

	snprintf(sts, sizeof(sts), "_mta-sts.%s", r->domain);
	snprintf(mta, sizeof(mta), "mta-sts.%s", r->domain);
	if (r->sts_id[0] != '\0') {
		if (strcmp(r->sts_id, served_id) == 0) {
			check_add(r, CHECK_PASS, CHECK_A_HOSTED, sts, NULL,
			    "the published id is the one stsguard serves (%s)",
			    served_id);
		} else {
			snprintf(fix, sizeof(fix), "publish %s TXT \"v=STSv1; "
			    "id=%s;\" (stsguard dns %s)", sts, served_id,
			    r->domain);
			check_add(r, CHECK_FAIL, CHECK_A_HOSTED, sts, fix,
			    "id out of date: DNS says %s, stsguard serves the "
			    "policy with id %s; senders holding an older "
			    "policy keep it until it expires", r->sts_id,
			    served_id);
			check_tag(r, CHECK_K_ID_LAG);
		}
	}
	for (size_t i = 0; mta_chain != NULL && i < mta_chain->n; i++)
		if (check_same_host(mta_chain->v[i], service_host))
			ours = true;
	snprintf(fix, sizeof(fix), "publish %s CNAME %s.", mta, service_host);
	if (ours)
		check_add(r, CHECK_PASS, CHECK_A_HOSTED, mta, NULL, "a CNAME "
		    "to the service (%s)", service_host);
	else if (mta_chain == NULL || mta_chain->n == 0)
		check_add(r, CHECK_WARN, CHECK_A_HOSTED, mta, fix, "not a CNAME "
		    "to %s: when the service moves, this name keeps the old "
		    "addresses", service_host);
	else
		check_add(r, CHECK_FAIL, CHECK_A_HOSTED, mta, fix, "a CNAME to "
		    "%s, not to the service (%s): senders fetch the policy "
		    "from someone else", mta_chain->v[0], service_host);
	if (!ours)
		check_tag(r, CHECK_K_CNAME);
}

bool
check_addr_private(const char *ip)
{
	unsigned char a[16];

	if (inet_pton(AF_INET, ip, a) == 1)
		goto v4;
	if (inet_pton(AF_INET6, ip, a) != 1)
		return true;
	/* IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d). */
	{
		static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0,
		    0, 0, 0, 0, 0xff, 0xff };
		static const unsigned char zero[12] = { 0 };

		if (memcmp(a, mapped, 12) == 0 || memcmp(a, zero, 12) == 0) {
			memmove(a, a + 12, 4);
			if (memcmp(a, zero, 4) == 0 || (a[0] == 0 &&
			    a[1] == 0 && a[2] == 0 && a[3] == 1))
				return true;	/* :: and ::1 */
			goto v4;
		}
	}
	return (a[0] & 0xfe) == 0xfc ||			/* fc00::/7 ULA */
	    (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) ||	/* fe80::/10 */
	    (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0) ||	/* fec0::/10 */
	    a[0] == 0xff ||				/* multicast */
	    (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d &&
	    a[3] == 0xb8) ||				/* 2001:db8::/32 */
	    (a[0] == 0x01 && a[1] == 0 && a[2] == 0 && a[3] == 0 &&
	    a[4] == 0 && a[5] == 0 && a[6] == 0 && a[7] == 0) ||	/* 100::/64 */
	    (a[0] == 0x00 && a[1] == 0x64 && a[2] == 0xff &&
	    a[3] == 0x9b);				/* 64:ff9b::/96 NAT64 */
v4:
	return a[0] == 0 || a[0] == 10 || a[0] == 127 ||
	    (a[0] == 100 && (a[1] & 0xc0) == 64) ||	/* 100.64/10 */
	    (a[0] == 169 && a[1] == 254) ||
	    (a[0] == 172 && (a[1] & 0xf0) == 16) ||
	    (a[0] == 192 && a[1] == 168) ||
	    (a[0] == 192 && a[1] == 0 && a[2] == 0) ||	/* 192.0.0/24 */
	    (a[0] == 192 && a[1] == 0 && a[2] == 2) ||	/* TEST-NET-1 */
	    (a[0] == 198 && (a[1] & 0xfe) == 18) ||	/* 198.18/15 */
	    (a[0] == 198 && a[1] == 51 && a[2] == 100) ||
	    (a[0] == 203 && a[1] == 0 && a[2] == 113) ||
	    a[0] >= 224;				/* multicast, 240/4 */
}

int
check_reply_parse(const char *buf, size_t len, struct check_reply *out,
    struct err *e)
{
	size_t off = 0, lines = 0;

	memset(out, 0, sizeof(*out));
	for (;;) {
		const char *nl = memchr(buf + off, '\n', len - off);
		size_t n, ln;
		int code;
		char sep;

		if (nl == NULL) {
			if (len - off > LIMIT_CHECK_SMTP_LINE)
				return err_set(e, "reply line %zu: over %d "
				    "bytes", lines + 1, LIMIT_CHECK_SMTP_LINE);
			return 1;
		}
		n = (size_t)(nl - (buf + off)) + 1;
		ln = n - 1;
		if (ln > 0 && buf[off + ln - 1] == '\r')
			ln--;
		if (n > LIMIT_CHECK_SMTP_LINE)
			return err_set(e, "reply line %zu: over %d bytes",
			    lines + 1, LIMIT_CHECK_SMTP_LINE);
		if (++lines > LIMIT_CHECK_SMTP_LINES)
			return err_set(e, "reply of over %d lines",
			    LIMIT_CHECK_SMTP_LINES);
		if (ln < 3 || buf[off] < '2' || buf[off] > '5' ||
		    buf[off + 1] < '0' || buf[off + 1] > '9' ||
		    buf[off + 2] < '0' || buf[off + 2] > '9')
			return err_set(e, "reply line %zu: no 3-digit code "
			    "(RFC 5321 §4.2)", lines);
		code = (buf[off] - '0') * 100 + (buf[off + 1] - '0') * 10 +
		    (buf[off + 2] - '0');
		sep = ln > 3 ? buf[off + 3] : ' ';
		if (sep != ' ' && sep != '-')
			return err_set(e, "reply line %zu: '%c' after the "
			    "code, not ' ' or '-'", lines,
			    sep >= 0x20 && sep < 0x7f ? sep : '?');
		if (lines == 1) {
			out->code = code;
			snprintf(out->text, sizeof(out->text), "%.*s",
			    (int)(ln > 4 ? ln - 4 : 0), buf + off + 4);
			for (char *p = out->text; *p; p++)
				if ((unsigned char)*p < 0x20 ||
				    (unsigned char)*p >= 0x7f)
					*p = '?';
		} else if (code != out->code) {
			return err_set(e, "reply line %zu: code %d after %d",
			    lines, code, out->code);
		} else {
			size_t tn = ln > 4 ? ln - 4 : 0;
			const char *t = buf + off + 4;

			while (tn > 0 && (t[tn - 1] == ' ' ||
			    t[tn - 1] == '\t'))
				tn--;
			if (tn >= 8 && strncasecmp(t, "STARTTLS", 8) == 0 &&
			    (tn == 8 || t[8] == ' '))
				out->starttls = true;
		}
		off += n;
		if (sep == ' ') {
			out->used = off;
			return 0;
		}
	}
}
