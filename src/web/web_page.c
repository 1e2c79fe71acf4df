/*
 * web_page.c - the dashboard: server-rendered HTML pages on
 * https://<service_host>/, for people with an account (stsguard user
 * add). A request, already read by the HTTP front, in; a page, a
 * redirect or an error out. Runs on the daemon's pool threads (it reads
 * the store), never on an event loop.
 *
 *	GET  /login               the login form (sets sg_login, the form's
 *	                          CSRF token before there is a session)
 *	POST /login               email, password, csrf -> sg_session
 *	POST /logout              csrf
 *	GET  /                    overview: the tenant's domains, a page at a
 *	                          time (?q= search, ?after= next page;
 *	                          admins: ?tenant=)
 *	POST /domains             add a domain (owner, admin)
 *	GET  /domains/{d}         the domain: policy, editor, records, charts
 *	                          (?days=7|30|90|365), tables, reports
 *	POST /domains/{d}/policy  change the policy (owner, admin); a change
 *	                          that narrows what senders accept asks for
 *	                          confirmation first
 *	GET  /domains/{d}/export/stats, /export/reports
 *	                          the API's JSON or CSV, as a download
 *	GET  /domains/{d}/ready, /adoption, /fetches
 *	                          its views (web_page_views.c)
 *	GET  /reports/{id}        one report: every field, its provenance
 *	GET  /reports/{id}/raw    its bytes as received
 *
 * Who sees what: a session belongs to a user; a viewer reads, an owner
 * also changes, both within their tenant; an admin sees every tenant.
 * Another tenant's domain or report is the same 404 as none. Without a
 * session a page redirects to /login and a form is 403.
 *
 * Sessions: the cookie sg_session holds 32 random bytes (the form of an
 * API token, account.h), the store only their SHA-256; Secure, HttpOnly,
 * SameSite=Strict; every form carries the session's CSRF token, checked
 * in constant time. Failed logins are counted per account and per client
 * address (IPv6 per /64): past LIMIT_LOGIN_FAILURES (account) or
 * LIMIT_LOGIN_FAILURES_CLIENT (address) in the window, login answers 429
 * without checking the password. An unknown account costs
 * the same Argon2id check as a known one.
 *
 * Everything that came from a report, a user or the store is written
 * with web_html_text (escaped); the pages carry a Content-Security-Policy
 * that allows no script but the one copy-button snippet (by its hash).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "../account/account.h"
#include "../acme/acme.h"
#include "../check/check.h"
#include "../dns/dns.h"
#include "../lib/dname.h"
#include "../policy/policy.h"
#include "web.h"
#include "web_page_int.h"

#define PAGE_DOMAINS 50		/* domains per overview page */
#define PAGE_REPORTS 50		/* reports listed on a domain page */
#define PAGE_FIELD_MAX 4096	/* a form field's bytes, decoded */
#define PAGE_RANGE_DAYS 731	/* the longest range a chart shows */

/* The copy buttons: the page works without it (the buttons stay
 * hidden); the CSP allows this script only, by its hash. */
static const char page_script[] =
    "document.querySelectorAll('button[data-copy]').forEach(function(b)"
    "{b.hidden=false;b.onclick=function(){navigator.clipboard.writeText("
    "document.getElementById(b.dataset.copy).textContent);"
    "b.textContent='copied';};});";

static const char page_css[] =
    "body{font-family:sans-serif;margin:0;color:#222;line-height:1.4}"
    "header{background:#263238;color:#fff;padding:.6em 1em;display:flex;"
    "flex-wrap:wrap;gap:1em;align-items:center}"
    "header a{color:#fff}header form{margin-left:auto}"
    "main{padding:1em;max-width:72em}"
    "table{border-collapse:collapse;margin:.5em 0}"
    "td,th{border-bottom:1px solid #ddd;padding:.25em .6em;"
    "text-align:left;vertical-align:top}"
    ".scroll{overflow-x:auto}"
    ".chart{width:100%;max-width:720px;height:auto;font-size:12px}"
    ".bad{color:#c62828;font-weight:bold}.ok{color:#2e7d32}"
    ".note{background:#fff8e1;border:1px solid #ffcc80;padding:.5em}"
    "code,pre{background:#f5f5f5;padding:.1em .3em;overflow-x:auto}"
    "pre{padding:.5em;white-space:pre-wrap;word-break:break-all}"
    "label{display:block;margin:.4em 0}"
    "p,li,td,code{overflow-wrap:anywhere}"
    "input,textarea,select{max-width:100%;box-sizing:border-box}"
    "@media(max-width:600px){main{padding:.5em}td,th{padding:.2em}}";


/* --- answers ------------------------------------------------------- */

static char page_csp[256];
static pthread_once_t page_csp_once = PTHREAD_ONCE_INIT;

static void
page_csp_init(void)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	unsigned char b64[64];

	SHA256((const unsigned char *)page_script, sizeof(page_script) - 1,
	    md);
	EVP_EncodeBlock(b64, md, sizeof(md));
	snprintf(page_csp, sizeof(page_csp), "Content-Security-Policy: "
	    "default-src 'none'; style-src 'unsafe-inline'; "
	    "script-src 'sha256-%s'; form-action 'self'; "
	    "frame-ancestors 'none'; base-uri 'none'\r\n", b64);
}

/* Appends a header line (CRLF included) to the answer's extra lines. */
static void
page_header(struct web_pg *pg, const char *line)
{
	size_t have = strlen(pg->out->extra);

	if (have + strlen(line) < sizeof(pg->out->extra))
		memcpy(pg->out->extra + have, line, strlen(line) + 1);
}

/* Sends the page written so far with status. */
void
web_page_send(struct web_pg *pg, int status)
{
	if (pg->h.failed) {
		web_html_free(&pg->h);
		pg->out->status = 500;
		pg->out->type = "text/plain; charset=utf-8";
		pg->out->body = strdup("the page could not be made (out of "
		    "memory or too large)\n");
		pg->out->len = pg->out->body != NULL ?
		    strlen(pg->out->body) : 0;
		return;
	}
	pthread_once(&page_csp_once, page_csp_init);
	page_header(pg, page_csp);
	page_header(pg, "X-Content-Type-Options: nosniff\r\n"
	    "Referrer-Policy: no-referrer\r\nCache-Control: no-store\r\n");
	pg->out->status = status;
	pg->out->type = "text/html; charset=utf-8";
	pg->out->body = pg->h.p;
	pg->out->len = pg->h.len;
	memset(&pg->h, 0, sizeof(pg->h));
}

/* The start of every page, up to <main>. */
void
web_page_open(struct web_pg *pg, const char *title)
{
	struct web_html *h = &pg->h;

	web_html_raw(h, "<!DOCTYPE html><html lang=\"en\"><head>"
	    "<meta charset=\"utf-8\"><meta name=\"viewport\" "
	    "content=\"width=device-width, initial-scale=1\"><title>");
	web_html_text(h, title);
	web_html_raw(h, " - stsguard</title><style>");
	web_html_raw(h, page_css);
	web_html_raw(h, "</style></head><body><header><strong>stsguard"
	    "</strong>");
	if (pg->user) {
		web_html_raw(h, "<a href=\"/\">Overview</a><span>");
		web_html_text(h, pg->email);
		web_html_raw(h, " (");
		web_html_text(h, account_role_name(pg->role));
		if (pg->tenant[0] != '\0') {
			web_html_raw(h, " of ");
			web_html_text(h, pg->tenant);
		}
		web_html_raw(h, ")</span><form method=\"post\" "
		    "action=\"/logout\"><input type=\"hidden\" name=\"csrf\" "
		    "value=\"");
		web_html_text(h, pg->csrf);
		web_html_raw(h, "\"><button>Log out</button></form>");
	}
	web_html_raw(h, "</header><main><h1>");
	web_html_text(h, title);
	web_html_raw(h, "</h1>");
}

void
web_page_close(struct web_pg *pg)
{
	web_html_raw(&pg->h, "</main><script>");
	web_html_raw(&pg->h, page_script);
	web_html_raw(&pg->h, "</script></body></html>\n");
}

/* A whole page saying why, with status. */
void
web_page_error(struct web_pg *pg, int status, const char *why)
{
	web_html_free(&pg->h);
	web_page_open(pg, status == 404 ? "Not found" : status == 403 ?
	    "Forbidden" : status == 429 ? "Too many attempts" : "Error");
	web_html_raw(&pg->h, "<p>");
	web_html_text(&pg->h, why);
	web_html_raw(&pg->h, "</p>");
	web_page_close(pg);
	web_page_send(pg, status);
}

/* 303 to location (our own path; written as is). */
static void
page_redirect(struct web_pg *pg, const char *location)
{
	char line[LIMIT_DNAME_LEN + 96];

	snprintf(line, sizeof(line), "Location: %s\r\n", location);
	page_header(pg, line);
	pg->out->status = 303;
	pg->out->type = "text/plain; charset=utf-8";
	pg->out->body = strdup("see other\n");
	pg->out->len = pg->out->body != NULL ? strlen(pg->out->body) : 0;
}

/* --- request parts ------------------------------------------------- */

int
web_cookie_get(const char *cookie, size_t len, const char *name, char *out,
    size_t cap)
{
	const char *p = cookie, *end = p + len;
	size_t nl = strlen(name);

	while (p != NULL && p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *stop = semi != NULL ? semi : end;

		while (p < stop && *p == ' ')
			p++;
		if ((size_t)(stop - p) > nl && memcmp(p, name, nl) == 0 &&
		    p[nl] == '=') {
			size_t vl = (size_t)(stop - p) - nl - 1;

			if (vl >= cap)
				return -1;
			memcpy(out, p + nl + 1, vl);
			out[vl] = '\0';
			return (int)vl;
		}
		p = stop + 1;
	}
	return -1;
}

/* The value of cookie name of the request into out (cap bytes). */
static int
page_cookie(const struct web_request *rq, const char *name, char *out,
    size_t cap)
{
	if (rq->cookie == NULL)
		return -1;
	return web_cookie_get(rq->cookie, rq->cookie_len, name, out, cap);
}

static int
page_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The value of key in an application/x-www-form-urlencoded text (a
 * form's body, or a query) into out (cap bytes), decoded ('+' is a
 * blank, %XX a byte; a NUL byte is refused). Returns 1 present, 0
 * absent, -1 too long or badly encoded. */
int
web_form_get(const char *q, size_t n, const char *key, char *out,
    size_t cap)
{
	size_t klen = strlen(key);

	while (q != NULL && n > 0) {
		const char *amp = memchr(q, '&', n);
		size_t plen = amp != NULL ? (size_t)(amp - q) : n;

		if (plen >= klen + 1 && memcmp(q, key, klen) == 0 &&
		    q[klen] == '=') {
			size_t i, o = 0;

			for (i = klen + 1; i < plen; i++) {
				int c = (unsigned char)q[i], hi, lo;

				if (c == '+') {
					c = ' ';
				} else if (c == '%') {
					if (i + 2 >= plen ||
					    (hi = page_hex(q[i + 1])) < 0 ||
					    (lo = page_hex(q[i + 2])) < 0)
						return -1;
					c = hi * 16 + lo;
					i += 2;
				}
				if (c == 0 || o + 1 >= cap)
					return -1;
				out[o++] = (char)c;
			}
			out[o] = '\0';
			return 1;
		}
		if (amp == NULL)
			break;
		n -= plen + 1;
		q = amp + 1;
	}
	return 0;
}

/* A form field of the request's body ("" when absent). Returns 0, or -1
 * when it is too long or badly encoded. */
static int
page_field(struct web_pg *pg, const char *key, char *out, size_t cap)
{
	int r = web_form_get((const char *)pg->rq->body, pg->rq->body_len,
	    key, out, cap);

	if (r == 0)
		out[0] = '\0';
	return r == -1 ? -1 : 0;
}

/* A query parameter ("" when absent). */
int
web_page_query(struct web_pg *pg, const char *key, char *out, size_t cap)
{
	int r = web_form_get(pg->rq->query, pg->rq->query_len, key, out,
	    cap);

	if (r == 0)
		out[0] = '\0';
	return r == -1 ? -1 : 0;
}

/* True when the body's csrf field is the session's token. */
static bool
page_csrf_ok(struct web_pg *pg, const char *want)
{
	char got[ACCOUNT_TOKEN_LEN + 1];

	if (page_field(pg, "csrf", got, sizeof(got)) == -1 ||
	    strlen(got) != ACCOUNT_TOKEN_LEN || strlen(want) !=
	    ACCOUNT_TOKEN_LEN)
		return false;
	return CRYPTO_memcmp(got, want, ACCOUNT_TOKEN_LEN) == 0;
}

/* --- sessions -------------------------------------------------------- */

static void
page_session_cb(void *arg, const struct store_account_row *a,
    const char *csrf, time_t expires)
{
	struct web_pg *pg = arg;
	int role = account_role_parse(a->role);

	(void)expires;
	if (role == -1)
		return;			/* the schema's CHECK forbids it */
	pg->user = true;
	pg->uid = a->id;
	pg->role = (enum account_role)role;
	snprintf(pg->email, sizeof(pg->email), "%s", a->email);
	snprintf(pg->tenant, sizeof(pg->tenant), "%s",
	    a->tenant != NULL ? a->tenant : "");
	snprintf(pg->csrf, sizeof(pg->csrf), "%s", csrf);
}

/* Finds the request's session. Returns 0 (pg->user tells whether there
 * is one) or -1 with the reason. */
static int
page_session(struct web_pg *pg, struct err *e)
{
	char v[ACCOUNT_TOKEN_LEN + 2];
	int n;

	n = page_cookie(pg->rq, "sg_session", v, sizeof(v));
	if (n <= 0 || account_token_hash(v, (size_t)n, pg->sess) != 0)
		return 0;
	return store_session_find(pg->s, pg->sess, pg->now, page_session_cb,
	    pg, e) == -1 ? -1 : 0;
}

/* The throttling key of the client: its address, an IPv6 one as its
 * /64. */
static void
page_client_key(const char *client, char *out, size_t cap)
{
	struct in6_addr a6;
	char buf[INET6_ADDRSTRLEN];

	if (client != NULL && inet_pton(AF_INET6, client, &a6) == 1) {
		memset(a6.s6_addr + 8, 0, 8);
		inet_ntop(AF_INET6, &a6, buf, sizeof(buf));
		snprintf(out, cap, "client:%s/64", buf);
	} else {
		snprintf(out, cap, "client:%s", client != NULL ? client : "-");
	}
}

static atomic_int page_checks;		/* Argon2id checks running */
static char page_dummy_hash[ACCOUNT_HASH_LEN];
static pthread_once_t page_dummy_once = PTHREAD_ONCE_INIT;

static void
page_dummy_init(void)
{
	struct err e;

	if (account_password_hash("not the password of anyone",
	    page_dummy_hash, &e) == -1)
		page_dummy_hash[0] = '\0';
}

struct page_login {
	bool	 found;
	int64_t	 id;
	char	 hash[ACCOUNT_HASH_LEN];
};

static int
page_login_cb(void *arg, const struct store_account_row *a)
{
	struct page_login *l = arg;

	l->found = true;
	l->id = a->id;
	snprintf(l->hash, sizeof(l->hash), "%s", a->password);
	return 0;
}

static void
page_login_form(struct web_pg *pg, int status, const char *why,
    const char *email)
{
	char tok[ACCOUNT_TOKEN_LEN + 1], line[160];
	unsigned char hash[32];
	struct err e;

	if (account_token_new(tok, hash, &e) == -1) {
		web_page_error(pg, 500, e.msg);
		return;
	}
	/* The login form's CSRF token, before there is a session: the
	 * same value in a cookie and in the form (a page of another site
	 * can post the form but cannot read or set our cookie). */
	snprintf(line, sizeof(line), "Set-Cookie: sg_login=%s; Path=/login; "
	    "Secure; HttpOnly; SameSite=Strict; Max-Age=3600\r\n", tok);
	page_header(pg, line);
	web_page_open(pg, "Log in");
	if (why != NULL) {
		web_html_raw(&pg->h, "<p class=\"bad\">");
		web_html_text(&pg->h, why);
		web_html_raw(&pg->h, "</p>");
	}
	web_html_raw(&pg->h, "<form method=\"post\" action=\"/login\">"
	    "<input type=\"hidden\" name=\"csrf\" value=\"");
	web_html_text(&pg->h, tok);
	web_html_raw(&pg->h, "\"><label>E-mail <input name=\"email\" "
	    "type=\"email\" autocomplete=\"username\" required value=\"");
	web_html_text(&pg->h, email != NULL ? email : "");
	web_html_raw(&pg->h, "\"></label><label>Password <input "
	    "name=\"password\" type=\"password\" "
	    "autocomplete=\"current-password\" required></label>"
	    "<button>Log in</button></form>");
	web_page_close(pg);
	web_page_send(pg, status);
}

static void
page_login_get(struct web_pg *pg, const char *arg)
{
	(void)arg;
	if (pg->user) {
		page_redirect(pg, "/");
		return;
	}
	page_login_form(pg, 200, NULL, NULL);
}

static void
page_login_post(struct web_pg *pg, const char *arg)
{
	char email_in[ACCOUNT_EMAIL_LEN + 1], email[ACCOUNT_EMAIL_LEN + 1];
	char pw[LIMIT_PASSWORD_BYTES + 1], pre[ACCOUNT_TOKEN_LEN + 2];
	char akey[ACCOUNT_EMAIL_LEN + 16], ckey[INET6_ADDRSTRLEN + 16];
	char tok[ACCOUNT_TOKEN_LEN + 1], csrf[ACCOUNT_TOKEN_LEN + 1];
	char line[200];
	unsigned char hash[32], h2[32];
	struct page_login l = { 0 };
	int64_t na = 0, nc = 0;
	struct err e;
	bool ok;

	(void)arg;
	if (page_cookie(pg->rq, "sg_login", pre, sizeof(pre)) <= 0 ||
	    !page_csrf_ok(pg, pre)) {
		page_login_form(pg, 403, "The form expired or came from "
		    "another site: log in again.", NULL);
		return;
	}
	if (page_field(pg, "email", email_in, sizeof(email_in)) == -1 ||
	    page_field(pg, "password", pw, sizeof(pw)) == -1 ||
	    account_email(email_in, email, &e) == -1) {
		page_login_form(pg, 400, "Wrong e-mail address or password.",
		    NULL);
		return;
	}
	snprintf(akey, sizeof(akey), "account:%s", email);
	for (char *p = akey; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	page_client_key(pg->rq->client, ckey, sizeof(ckey));
	if (store_login_failures(pg->s, akey, pg->now,
	    LIMIT_LOGIN_WINDOW_SECONDS, &na, &e) == -1 ||
	    store_login_failures(pg->s, ckey, pg->now,
	    LIMIT_LOGIN_WINDOW_SECONDS, &nc, &e) == -1) {
		web_page_error(pg, 500, e.msg);
		return;
	}
	if (na >= LIMIT_LOGIN_FAILURES || nc >= LIMIT_LOGIN_FAILURES_CLIENT) {
		snprintf(line, sizeof(line), "Retry-After: %d\r\n",
		    LIMIT_LOGIN_WINDOW_SECONDS);
		page_header(pg, line);
		page_login_form(pg, 429, "Too many failed logins: wait a "
		    "quarter of an hour, then try again.", email);
		return;
	}
	if (store_account_get(pg->s, email, page_login_cb, &l, &e) == -1) {
		web_page_error(pg, 500, e.msg);
		return;
	}
	pthread_once(&page_dummy_once, page_dummy_init);
	/* One Argon2id check at a time in the whole daemon (64 MiB, about
	 * 0.1 s of a pool thread each): logins from many addresses must
	 * not take every pool thread from report intake. */
	if (atomic_fetch_add(&page_checks, 1) >= LIMIT_LOGIN_CONCURRENT) {
		atomic_fetch_sub(&page_checks, 1);
		OPENSSL_cleanse(pw, sizeof(pw));
		page_header(pg, "Retry-After: 1\r\n");
		page_login_form(pg, 503, "Busy with other logins: try again in "
		    "a second.", email);
		return;
	}
	/* The same Argon2id work whether the account exists or not. */
	ok = account_password_check(l.found ? l.hash : page_dummy_hash, pw) &&
	    l.found;
	atomic_fetch_sub(&page_checks, 1);
	OPENSSL_cleanse(pw, sizeof(pw));
	if (!ok) {
		if (store_login_failure(pg->s, akey, true, pg->now,
		    LIMIT_LOGIN_WINDOW_SECONDS, &e) == -1 ||
		    store_login_failure(pg->s, ckey, true, pg->now,
		    LIMIT_LOGIN_WINDOW_SECONDS, &e) == -1) {
			web_page_error(pg, 500, e.msg);
			return;
		}
		page_login_form(pg, 401, "Wrong e-mail address or password.",
		    email);
		return;
	}
	if (account_token_new(tok, hash, &e) == -1 ||
	    account_token_new(csrf, h2, &e) == -1 ||
	    store_login_failure(pg->s, akey, false, pg->now,
	    LIMIT_LOGIN_WINDOW_SECONDS, &e) == -1 ||
	    store_session_add(pg->s, hash, l.id, csrf, pg->now,
	    pg->now + LIMIT_SESSION_SECONDS, &e) == -1) {
		web_page_error(pg, 500, e.msg);
		return;
	}
	snprintf(line, sizeof(line), "Set-Cookie: sg_session=%s; Path=/; "
	    "Secure; HttpOnly; SameSite=Strict; Max-Age=%d\r\n", tok,
	    LIMIT_SESSION_SECONDS);
	page_header(pg, line);
	page_header(pg, "Set-Cookie: sg_login=; Path=/login; Secure; "
	    "HttpOnly; SameSite=Strict; Max-Age=0\r\n");
	page_redirect(pg, "/");
}

static void
page_logout(struct web_pg *pg, const char *arg)
{
	struct err e;

	(void)arg;
	if (store_session_remove(pg->s, pg->sess, &e) == -1) {
		web_page_error(pg, 500, e.msg);
		return;
	}
	page_header(pg, "Set-Cookie: sg_session=; Path=/; Secure; HttpOnly; "
	    "SameSite=Strict; Max-Age=0\r\n");
	page_redirect(pg, "/login");
}

/* --- what a user may see --------------------------------------------- */

/* The domain named arg (U- or A-label) into d, when the user may see
 * it. Returns 0, or the status already answered (404, 500). */
int
web_page_domain(struct web_pg *pg, const char *arg, struct store_domain *d)
{
	char name[LIMIT_DNAME_LEN + 1];
	struct err e;
	int r;

	if (dname_normalize(arg, strlen(arg), false, name, &e) == -1 ||
	    (r = store_domain_get(pg->s, name, d, &e)) == 1 ||
	    (r == 0 && pg->role != ACCOUNT_ADMIN &&
	    strcmp(d->tenant, pg->tenant) != 0)) {
		store_domain_free(d);
		web_page_error(pg, 404, "No such domain.");
		return 404;
	}
	if (r == -1) {
		web_page_error(pg, 500, e.msg);
		return 500;
	}
	return 0;
}

bool
web_page_may_change(const struct web_pg *pg)
{
	return pg->role == ACCOUNT_ADMIN || pg->role == ACCOUNT_OWNER;
}

/* --- the overview ------------------------------------------------------ */

void
web_page_time(struct web_html *h, time_t t)
{
	struct tm tm;
	char buf[32];

	if (t == 0) {
		web_html_raw(h, "-");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M UTC", &tm);
	web_html_text(h, buf);
}

struct page_last {
	bool	 found;
	char	 org[256];
	time_t	 received;
};

static int
page_last_cb(void *arg, const struct store_report_row *r)
{
	struct page_last *l = arg;

	l->found = true;
	snprintf(l->org, sizeof(l->org), "%s", r->organization_name);
	l->received = r->received;
	return 1;
}

/* The state of the certificate of mta-sts.<d>: issued (until), due
 * for renewal, failing (with the CA's or the DNS check's reason), or
 * none yet. */
static void
page_cert(struct web_pg *pg, const struct store_domain *d)
{
	struct web_html *h = &pg->h;
	struct acme_cert_state st;
	char name[LIMIT_DNAME_LEN + 16];

	snprintf(name, sizeof(name), "mta-sts.%s", d->name);
	if (pg->rq->data_dir == NULL || acme_cert_state(pg->rq->data_dir,
	    name, &st) == -1) {
		web_html_raw(h, "-");
		return;
	}
	if (st.failed_at != 0) {
		web_html_fmt(h, "<span class=\"bad\">failing (%u tries): ",
		    st.failures);
		web_html_text(h, st.reason);
		web_html_raw(h, "</span>");
		if (st.not_after != 0) {
			web_html_raw(h, "; the current one ends ");
			web_page_time(h, st.not_after);
		}
		return;
	}
	if (st.not_after == 0) {
		web_html_raw(h, "none yet");
		return;
	}
	if (st.not_after <= pg->now) {
		web_html_raw(h, "<span class=\"bad\">expired ");
		web_page_time(h, st.not_after);
		web_html_raw(h, "</span>");
		return;
	}
	web_html_raw(h, st.renew_at <= pg->now ? "renewing, ends " :
	    "issued, until ");
	web_page_time(h, st.not_after);
}

/* --- the monitor's latest check ---------------------------------------- */

/* A domain's latest check as the monitor keeps it. */
struct page_check {
	bool	 found;
	time_t	 checked;
	uint64_t failures, warnings;
	json_t	*o;		/* the findings (check_report_json), or NULL
				 * when only the counts are wanted */
	bool	 want_json;
};

static int
page_check_cb(void *arg, const struct store_check_row *r)
{
	struct page_check *c = arg;
	json_error_t je;

	c->found = true;
	c->checked = r->checked;
	c->failures = r->failures;
	c->warnings = r->warnings;
	if (c->want_json)
		c->o = json_loads(r->json, 0, &je);
	return 0;
}

/* Alerts shown on a domain's page. */
#define PAGE_ALERTS 10

/* A channel's state of an alert: when it took it, or why not. */
static void
page_alert_sent(struct web_html *h, time_t sent)
{
	if (sent > 0)
		web_page_time(h, sent);
	else
		web_html_text(h, sent == 0 ? "pending" : sent == -1 ?
		    "given up" : "-");
}

static int
page_alert_row(void *arg, const struct store_alert_row *a)
{
	struct web_pg *pg = arg;
	struct web_html *h = &pg->h;

	web_html_raw(h, "<tr><td>");
	web_page_time(h, a->raised);
	web_html_raw(h, strcmp(a->severity, "warning") == 0 ? "</td><td>" :
	    "</td><td class=\"bad\">");
	web_html_text(h, a->severity);
	web_html_raw(h, "</td><td>");
	web_html_text(h, a->kind);
	web_html_raw(h, "</td><td>");
	web_html_text(h, a->subject);
	web_html_raw(h, "</td><td>");
	web_html_text(h, a->text);
	web_html_raw(h, "</td><td>");
	page_alert_sent(h, a->hook_sent);
	web_html_raw(h, "</td><td>");
	page_alert_sent(h, a->mail_sent);
	web_html_raw(h, "</td></tr>");
	return 0;
}

/* The latest check of d (its time, its failures and warnings with their
 * fixes) and its latest alerts. Returns 0 or -1 with the reason. */
static int
page_check(struct web_pg *pg, const struct store_domain *d, struct err *e)
{
	struct web_html *h = &pg->h;
	struct page_check c = { .want_json = true };
	json_t *x;
	size_t i;

	web_html_raw(h, "<h2 id=\"check\">Deployment check</h2>");
	if (store_check_get(pg->s, d->name, page_check_cb, &c, e) == -1)
		return -1;
	if (!c.found) {
		web_html_raw(h, "<p>Not checked yet: the monitor of "
		    "<code>stsguard serve</code> checks every domain "
		    "periodically (<code>monitor_interval</code>).</p>");
		return 0;
	}
	web_html_raw(h, "<p>Checked ");
	web_page_time(h, c.checked);
	if (c.failures > 0)
		web_html_fmt(h, ": <span class=\"bad\">%llu failure%s</span>",
		    (unsigned long long)c.failures, c.failures == 1 ? "" :
		    "s");
	else
		web_html_raw(h, ": <span class=\"ok\">no failure</span>");
	web_html_fmt(h, ", %llu warning%s.</p>",
	    (unsigned long long)c.warnings, c.warnings == 1 ? "" : "s");
	if (c.failures + c.warnings > 0)
		web_html_raw(h, "<ul>");
	json_array_foreach(json_object_get(c.o, "findings"), i, x) {
		const char *lv = json_string_value(json_object_get(x, "level"));
		const char *sub = json_string_value(json_object_get(x,
		    "subject"));
		const char *text = json_string_value(json_object_get(x, "text"));
		const char *fix = json_string_value(json_object_get(x, "fix"));

		if (lv == NULL || sub == NULL || text == NULL ||
		    (strcmp(lv, "fail") != 0 && strcmp(lv, "warn") != 0))
			continue;
		web_html_raw(h, strcmp(lv, "fail") == 0 ?
		    "<li><span class=\"bad\">fail</span> " : "<li>warn ");
		web_html_text(h, sub);
		web_html_raw(h, ": ");
		web_html_text(h, text);
		if (fix != NULL) {
			web_html_raw(h, "<br>fix: ");
			web_html_text(h, fix);
		}
		web_html_raw(h, "</li>");
	}
	if (c.failures + c.warnings > 0)
		web_html_raw(h, "</ul>");
	json_decref(c.o);
	web_html_raw(h, "<h3>Alerts</h3><div class=\"scroll\"><table><tr>"
	    "<th>Raised</th><th>Severity</th><th>Kind</th><th>About</th>"
	    "<th>What</th><th>Webhook</th><th>E-mail</th></tr>");
	if (store_alert_list(pg->s, d->name, 0, PAGE_ALERTS, page_alert_row, pg,
	    e) == -1)
		return -1;
	web_html_raw(h, "</table></div>");
	return 0;
}

/* One row of the overview. Returns 0 or -1. */
static int
page_overview_row(struct web_pg *pg, const struct store_domain *d)
{
	struct web_html *h = &pg->h;
	struct store_report_filter f = { .domain = d->name, .limit = 1 };
	struct page_last last = { 0 };
	struct page_check chk = { 0 };
	struct web_stats st = { 0 };
	uint64_t ok = 0, fail = 0;
	bool chk_bad;
	struct err e;
	size_t i;

	if (web_stats_read(pg->s, d->name, pg->now - 30 * 86400, 0, &st,
	    &e) == -1 || store_report_list(pg->s, &f, page_last_cb, &last,
	    &e) == -1 || store_check_get(pg->s, d->name, page_check_cb, &chk,
	    &e) == -1) {
		web_stats_free(&st);
		return -1;
	}
	for (i = 0; i < st.days.n; i++) {
		ok += st.days.v[i].successful;
		fail += st.days.v[i].failed;
	}
	web_html_raw(h, "<tr><td><a href=\"/domains/");
	web_html_url(h, d->name);
	web_html_raw(h, "\">");
	web_html_text(h, d->name);
	web_html_raw(h, "</a></td><td>");
	web_html_text(h, d->removed != 0 ? "removed" :
	    policy_mode_name(d->policy.mode));
	web_html_raw(h, "</td><td>");
	page_cert(pg, d);
	web_html_raw(h, "</td><td>");
	if (ok + fail > 0)
		web_html_fmt(h, "%.1f %%", 100.0 * (double)ok /
		    (double)(ok + fail));
	else
		web_html_raw(h, "-");
	web_html_raw(h, "</td><td>");
	web_svg_spark(h, &st.days);
	web_html_raw(h, "</td><td>");
	if (last.found) {
		web_page_time(h, last.received);
		web_html_raw(h, " from ");
		web_html_text(h, last.org);
	} else {
		web_html_raw(h, "none yet");
	}
	web_html_raw(h, "</td><td>");
	/* Attention: the monitor's latest check failing (mail may bounce
	 * now), failures in the last 30 days, or no report in them for an
	 * active domain older than two days (reports come daily; none
	 * means a record is broken or nobody sends). */
	chk_bad = chk.found && chk.failures > 0 && d->removed == 0;
	if (chk_bad) {
		web_html_raw(h, "<a class=\"bad\" href=\"/domains/");
		web_html_url(h, d->name);
		web_html_fmt(h, "#check\">check: %llu failure%s</a>",
		    (unsigned long long)chk.failures, chk.failures == 1 ?
		    "" : "s");
	}
	if (fail > 0)
		web_html_fmt(h, "%s<span class=\"bad\">%llu failed sessions"
		    "</span>", chk_bad ? "<br>" : "",
		    (unsigned long long)fail);
	else if (d->removed == 0 && (!last.found || last.received <
	    pg->now - 30 * 86400) && d->created < pg->now - 2 * 86400)
		web_html_fmt(h, "%s<span class=\"bad\">no reports in 30 days"
		    "</span>", chk_bad ? "<br>" : "");
	else if (!chk_bad)
		web_html_raw(h, "<span class=\"ok\">ok</span>");
	web_html_raw(h, "</td></tr>");
	web_stats_free(&st);
	return 0;
}

struct page_list {
	struct web_pg	*pg;
	const char	*q;		/* search text, or "" */
	size_t		 shown;
	char		 last[LIMIT_DNAME_LEN + 1];	/* last name read */
	char		 prev[LIMIT_DNAME_LEN + 1];	/* last name shown */
	bool		 more;		/* another page follows */
	int		 failed;
};

static int
page_list_cb(void *arg, const struct store_domain *d)
{
	struct page_list *l = arg;

	snprintf(l->last, sizeof(l->last), "%s", d->name);
	if (l->q[0] != '\0' && strstr(d->name, l->q) == NULL)
		return 0;
	if (l->shown == PAGE_DOMAINS) {
		l->more = true;
		return 1;
	}
	if (page_overview_row(l->pg, d) == -1) {
		l->failed = 1;
		return 1;
	}
	snprintf(l->prev, sizeof(l->prev), "%s", d->name);
	l->shown++;
	return 0;
}

static int
page_tenant_first(void *arg, const struct store_tenant_row *t)
{
	snprintf(arg, STORE_TENANT_LEN + 1, "%s", t->name);
	return 1;
}

static void
page_add_form(struct web_pg *pg, const char *tenant)
{
	struct web_html *h = &pg->h;

	web_html_raw(h, "<details><summary>Add a domain</summary>"
	    "<form method=\"post\" action=\"/domains\">"
	    "<input type=\"hidden\" name=\"csrf\" value=\"");
	web_html_text(h, pg->csrf);
	web_html_raw(h, "\"><input type=\"hidden\" name=\"tenant\" value=\"");
	web_html_text(h, tenant);
	web_html_raw(h, "\"><label>Domain <input name=\"name\" required>"
	    "</label><label>Mode <select name=\"mode\"><option>testing"
	    "</option><option>enforce</option><option>none</option>"
	    "</select></label><label>MX patterns, one a line <textarea "
	    "name=\"mx\" rows=\"3\" required></textarea></label>"
	    "<label>max_age (seconds) <input name=\"max_age\" "
	    "value=\"604800\"></label><button>Add</button></form></details>");
}

static void
page_overview(struct web_pg *pg, const char *arg)
{
	char q[LIMIT_DNAME_LEN + 1], after[LIMIT_DNAME_LEN + 1];
	char tenant[STORE_TENANT_LEN + 1];
	struct page_list l = { 0 };
	struct web_html *h = &pg->h;
	struct err e;
	int r = 0;

	(void)arg;
	if (web_page_query(pg, "q", q, sizeof(q)) == -1 ||
	    web_page_query(pg, "after", after, sizeof(after)) == -1 ||
	    web_page_query(pg, "tenant", tenant, sizeof(tenant)) == -1) {
		web_page_error(pg, 400, "Bad search, page or tenant.");
		return;
	}
	if (pg->role != ACCOUNT_ADMIN)
		snprintf(tenant, sizeof(tenant), "%s", pg->tenant);
	else if (tenant[0] == '\0' && store_tenant_list(pg->s,
	    page_tenant_first, tenant, &e) == -1) {
		web_page_error(pg, 500, e.msg);
		return;
	}
	web_page_open(pg, "Overview");
	web_html_raw(h, "<form method=\"get\" action=\"/\">");
	if (pg->role == ACCOUNT_ADMIN) {
		web_html_raw(h, "<label>Tenant <input name=\"tenant\" "
		    "value=\"");
		web_html_text(h, tenant);
		web_html_raw(h, "\"></label>");
	}
	web_html_raw(h, "<label>Search <input name=\"q\" value=\"");
	web_html_text(h, q);
	web_html_raw(h, "\"></label><button>Find</button></form>");
	if (web_page_may_change(pg))
		page_add_form(pg, tenant);
	web_html_raw(h, "<div class=\"scroll\"><table><thead><tr>"
	    "<th>Domain</th><th>Mode</th><th>Certificate</th>"
	    "<th>Successful (30 days)</th>"
	    "<th>Per day</th><th>Last report</th><th>Attention</th></tr>"
	    "</thead><tbody>");
	l.pg = pg;
	l.q = q;
	snprintf(l.last, sizeof(l.last), "%s", after);
	/* Pages of the store, filtered by the search, until a page of
	 * ours is full (a search reads the tenant's names once at most). */
	for (;;) {
		char from[LIMIT_DNAME_LEN + 1];

		snprintf(from, sizeof(from), "%s", l.last);
		r = store_domain_page(pg->s, tenant, from, 500, page_list_cb,
		    &l, &e);
		if (r == -1 || l.failed || l.more || strcmp(from, l.last) == 0)
			break;
	}
	if (r == -1 || l.failed) {
		web_page_error(pg, 500, "cannot read the domains");
		return;
	}
	web_html_raw(h, "</tbody></table></div>");
	if (l.shown == 0)
		web_html_raw(h, "<p>No domains here yet.</p>");
	if (l.more) {
		web_html_raw(h, "<p><a href=\"/?q=");
		web_html_url(h, q);
		web_html_raw(h, "&amp;tenant=");
		web_html_url(h, tenant);
		web_html_raw(h, "&amp;after=");
		web_html_url(h, l.prev);	/* the last row shown */
		web_html_raw(h, "\">Next page</a></p>");
	}
	web_page_close(pg);
	web_page_send(pg, 200);
}

/* --- a domain ---------------------------------------------------------- */

/* The note after a policy change (the editor redirects to
 * ?saved=<new id>, or ?saved=same when the id stayed): the exact
 * _mta-sts TXT record to publish now while the id saved is still the
 * one served (dns_publish_now), or, delegated (dns_zone), that stsguard
 * publishes it itself. The query value is only compared, never
 * shown. */
static void
page_saved_note(struct web_pg *pg, const struct store_domain *d,
    const char *saved)
{
	struct web_html *h = &pg->h;
	struct dns_rr rr;

	if (strcmp(saved, "same") == 0) {
		web_html_raw(h, "<p class=\"note\">Saved. The policy served "
		    "did not change, so its id did not either: nothing to "
		    "publish.</p>");
		return;
	}
	if (pg->rq->dns_zone != NULL) {
		web_html_raw(h, "<p class=\"note\">Saved. stsguard publishes "
		    "the new policy id in <code>");
		web_html_text(h, pg->rq->dns_zone);
		web_html_raw(h, "</code> itself, once the new policy is "
		    "served: nothing to publish.</p>");
		return;
	}
	if (strcmp(saved, d->policy_id) != 0 || dns_publish_now(d->name, "",
	    d->policy_id, false, &rr) != 1) {
		web_html_raw(h, "<p class=\"note\">Saved. Publish the "
		    "_mta-sts TXT record below with the current id: senders "
		    "fetch the new policy only when they see it.</p>");
		return;
	}
	web_html_raw(h, "<p class=\"note\" id=\"publish\">Saved, with a new "
	    "policy id. Publish this record now; senders keep the policy "
	    "they hold until they see the new id:<br><code>");
	web_html_text(h, rr.name);
	web_html_raw(h, " ");
	web_html_text(h, rr.type);
	web_html_raw(h, " \"");
	web_html_text(h, rr.value);
	web_html_raw(h, "\"</code></p>");
}

/* The records to publish, each with a copy button. */
static void
page_records(struct web_pg *pg, const struct store_domain *d)
{
	struct web_html *h = &pg->h;
	struct dns_records recs;
	size_t i;

	dns_records(d->name, d->policy_id, d->token, pg->rq->service_host,
	    pg->rq->dns_zone, &recs);
	web_html_raw(h, "<h2>Records to publish</h2><div class=\"scroll\">"
	    "<table><tr><th>Name</th><th>Type</th><th>Value</th></tr>");
	for (i = 0; i < sizeof(recs.rr) / sizeof(recs.rr[0]); i++) {
		web_html_raw(h, "<tr><td><code>");
		web_html_text(h, recs.rr[i].name);
		web_html_raw(h, "</code></td><td>");
		web_html_text(h, recs.rr[i].type);
		web_html_fmt(h, "</td><td><code id=\"rr%zu\">", i);
		web_html_text(h, recs.rr[i].value);
		web_html_fmt(h, "</code> <button type=\"button\" "
		    "data-copy=\"rr%zu\" hidden>copy</button></td></tr>", i);
	}
	web_html_raw(h, "</table></div>");
	if (recs.nkept > 0) {
		web_html_raw(h, "<p>Published once, for good: stsguard keeps "
		    "the TXT records at <code>");
		web_html_text(h, recs.kept[0].name);
		web_html_raw(h, "</code> and <code>");
		web_html_text(h, recs.kept[1].name);
		web_html_raw(h, "</code> up to date itself.</p>");
	}
	web_html_raw(h, "<p>Reports arrive at <code>");
	web_html_text(h, recs.intake_url);
	web_html_raw(h, "</code> and <code>");
	web_html_text(h, recs.intake_addr);
	web_html_raw(h, "</code>.</p>");
}

/* The policy editor, filled with p. */
static void
page_editor(struct web_pg *pg, const struct store_domain *d,
    const struct policy *p, bool confirm)
{
	struct web_html *h = &pg->h;
	size_t i;

	web_html_raw(h, "<form method=\"post\" action=\"/domains/");
	web_html_url(h, d->name);
	web_html_raw(h, "/policy\"><input type=\"hidden\" name=\"csrf\" "
	    "value=\"");
	web_html_text(h, pg->csrf);
	web_html_raw(h, "\">");
	if (confirm)
		web_html_raw(h, "<input type=\"hidden\" name=\"confirm\" "
		    "value=\"1\">");
	web_html_raw(h, "<label>Mode <select name=\"mode\">");
	for (i = POLICY_MODE_NONE; i <= POLICY_MODE_ENFORCE; i++) {
		web_html_raw(h, i == p->mode ? "<option selected>" :
		    "<option>");
		web_html_text(h, policy_mode_name((enum policy_mode)i));
		web_html_raw(h, "</option>");
	}
	web_html_raw(h, "</select></label><label>MX patterns, one a line "
	    "<textarea name=\"mx\" rows=\"4\">");
	for (i = 0; i < p->mx.n; i++) {
		web_html_text(h, p->mx.v[i]);
		web_html_raw(h, "\n");
	}
	web_html_fmt(h, "</textarea></label><label>max_age (seconds) "
	    "<input name=\"max_age\" value=\"%u\"></label>", p->max_age);
	web_html_raw(h, confirm ? "<button>Yes, change the policy</button>" :
	    "<button>Save</button>");
	web_html_raw(h, "</form>");
}

void
web_page_table(struct web_html *h, const struct web_stat_table *t,
    const char *what)
{
	size_t i;

	web_html_raw(h, "<div class=\"scroll\"><table><tr><th>");
	web_html_text(h, what);
	web_html_raw(h, "</th><th>Successful</th><th>Failed</th></tr>");
	for (i = 0; i < t->n; i++) {
		web_html_raw(h, "<tr><td>");
		web_html_text(h, t->v[i].key);
		web_html_fmt(h, "</td><td>%llu</td><td%s>%llu</td></tr>",
		    (unsigned long long)t->v[i].successful,
		    t->v[i].failed > 0 ? " class=\"bad\"" : "",
		    (unsigned long long)t->v[i].failed);
	}
	web_html_raw(h, "</table></div>");
}

/* Failed sessions per key ("" when the reports did not say). */
static void
page_failed_table(struct web_html *h, const struct web_stat_table *t,
    const char *what)
{
	size_t i;

	if (t->n == 0) {
		web_html_raw(h, "<p>No failed sessions in this range.</p>");
		return;
	}
	web_html_raw(h, "<div class=\"scroll\"><table><tr><th>");
	web_html_text(h, what);
	web_html_raw(h, "</th><th>Failed sessions</th></tr>");
	for (i = 0; i < t->n; i++) {
		web_html_raw(h, "<tr><td>");
		web_html_text(h, t->v[i].key[0] != '\0' ? t->v[i].key :
		    "(not reported)");
		web_html_fmt(h, "</td><td class=\"bad\">%llu</td></tr>",
		    (unsigned long long)t->v[i].failed);
	}
	web_html_raw(h, "</table></div>");
}

static int
page_report_row(void *arg, const struct store_report_row *r)
{
	struct web_html *h = arg;
	char t[16];
	struct tm tm;

	web_html_fmt(h, "<tr><td><a href=\"/reports/%lld\">%lld</a></td><td>",
	    (long long)r->id, (long long)r->id);
	web_html_text(h, r->organization_name);
	gmtime_r(&r->start, &tm);
	strftime(t, sizeof(t), "%Y-%m-%d", &tm);
	web_html_raw(h, "</td><td>");
	web_html_text(h, t);
	web_html_fmt(h, "</td><td>%llu</td><td%s>%llu</td><td>",
	    (unsigned long long)r->successful, r->failed > 0 ?
	    " class=\"bad\"" : "", (unsigned long long)r->failed);
	web_html_text(h, store_provenance_name(r->provenance));
	web_html_raw(h, "</td><td>");
	web_html_raw(h, r->conflict ? (r->counted ? "conflict (counts)" :
	    "conflict (not counted)") : r->counted ? "" : "not counted");
	web_html_raw(h, "</td></tr>");
	return 0;
}

static void
page_domain(struct web_pg *pg, const char *arg)
{
	static const int ranges[] = { 7, 30, 90, 365 };
	struct store_domain d = { 0 };
	struct web_stats st = { 0 };
	struct store_report_filter f = { 0 };
	struct web_html *h = &pg->h;
	char v[16];
	long days = 30;
	char from_day[16];
	struct tm tm;
	time_t from, to, t1, t2;
	bool custom = false;
	struct err e;
	size_t i;

	if (web_page_domain(pg, arg, &d) != 0)
		return;
	if (web_page_query(pg, "days", v, sizeof(v)) == -1)
		v[0] = '\0';
	for (i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
		if (strtol(v, NULL, 10) == ranges[i])
			days = ranges[i];
	/* Whole UTC days, today the last; or any range of days (both
	 * inclusive, at most PAGE_RANGE_DAYS) with ?from=&to=. */
	from = (pg->now / 86400 - days + 1) * 86400;
	to = 0;
	if (web_page_query(pg, "from", v, sizeof(v)) == 0 &&
	    web_parse_day(v, &t1) == 0 && web_page_query(pg, "to", v,
	    sizeof(v)) == 0 && web_parse_day(v, &t2) == 0 && t2 >= t1 &&
	    (t2 - t1) / 86400 < PAGE_RANGE_DAYS) {
		from = t1;
		to = t2 + 86400;
		days = (long)((to - from) / 86400);
		custom = true;
	}
	gmtime_r(&from, &tm);
	strftime(from_day, sizeof(from_day), "%Y-%m-%d", &tm);
	if (web_stats_read(pg->s, d.name, from, to, &st, &e) == -1) {
		web_stats_free(&st);
		store_domain_free(&d);
		web_page_error(pg, 500, e.msg);
		return;
	}
	web_page_open(pg, d.name);
	web_html_raw(h, "<p>Mode <strong>");
	web_html_text(h, policy_mode_name(d.policy.mode));
	web_html_raw(h, "</strong>, policy id <code>");
	web_html_text(h, d.policy_id);
	web_html_raw(h, "</code>, tenant ");
	web_html_text(h, d.tenant);
	if (d.removed != 0) {
		web_html_raw(h, ", <span class=\"bad\">removed</span> (served "
		    "as mode none until ");
		web_page_time(h, d.serve_until);
		web_html_raw(h, ")");
	}
	web_html_raw(h, ".</p>");
	web_page_nav(pg, d.name);
	{
		char saved[LIMIT_STS_ID_LEN + 2];	/* longer: no id */

		if (web_page_query(pg, "saved", saved, sizeof(saved)) == 0 &&
		    saved[0] != '\0')
			page_saved_note(pg, &d, saved);
	}
	page_records(pg, &d);
	web_html_raw(h, "<h2>Policy</h2><pre>");
	{
		size_t bl;
		char *body = policy_render(&d.policy, &bl);

		web_html_text(h, body != NULL ? body : "(out of memory)");
		free(body);
	}
	web_html_raw(h, "</pre>");
	if (web_page_may_change(pg) && d.removed == 0) {
		web_html_raw(h, "<details><summary>Change the policy"
		    "</summary>");
		page_editor(pg, &d, &d.policy, false);
		web_html_raw(h, "</details>");
	}
	if (page_check(pg, &d, &e) == -1) {
		web_stats_free(&st);
		store_domain_free(&d);
		web_page_error(pg, 500, e.msg);
		return;
	}
	web_html_raw(h, "<h2>TLS sessions</h2><p>Last ");
	for (i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		if (ranges[i] == days && !custom) {
			web_html_fmt(h, "<strong>%d</strong> ", ranges[i]);
			continue;
		}
		web_html_raw(h, "<a href=\"/domains/");
		web_html_url(h, d.name);
		web_html_fmt(h, "?days=%d\">%d</a> ", ranges[i], ranges[i]);
	}
	web_html_raw(h, "days, or from <form method=\"get\" action=\""
	    "/domains/");
	web_html_url(h, d.name);
	web_html_raw(h, "\" style=\"display:inline\"><input type=\"date\" "
	    "name=\"from\" value=\"");
	web_html_text(h, from_day);
	web_html_raw(h, "\"> to <input type=\"date\" name=\"to\" value=\"");
	{
		time_t last = from + (time_t)(days - 1) * 86400;
		char last_day[16];

		gmtime_r(&last, &tm);
		strftime(last_day, sizeof(last_day), "%Y-%m-%d", &tm);
		web_html_text(h, last_day);
	}
	web_html_raw(h, "\"> <button>Show</button></form>.</p>");
	web_svg_days(h, &st.days, from, (size_t)days);
	web_html_raw(h, "<details><summary>Per day</summary>");
	web_page_table(h, &st.days, "Day");
	web_html_raw(h, "</details><h2>Failures by type</h2>");
	web_svg_types(h, &st.results);
	if (st.results.n > 0) {
		web_html_raw(h, "<ul>");
		for (i = 0; i < st.results.n; i++) {
			web_html_fmt(h, "<li><strong>%llu</strong> ",
			    (unsigned long long)st.results.v[i].failed);
			web_html_text(h, st.results.v[i].key);
			web_html_raw(h, ": ");
			web_explain(h, st.results.v[i].key, NULL);
			web_html_raw(h, "</li>");
		}
		web_html_raw(h, "</ul>");
	}
	web_html_raw(h, "<h2>By reporting organization</h2>");
	web_page_table(h, &st.orgs, "Organization");
	web_html_raw(h, "<h2>Failures by receiving MX host</h2>");
	page_failed_table(h, &st.mx_failed, "MX host");
	web_html_raw(h, "<h2>Failures by sending IP</h2>");
	page_failed_table(h, &st.ips_failed, "Sending IP");
	web_html_raw(h, "<p>Export: <a href=\"/domains/");
	web_html_url(h, d.name);
	web_html_fmt(h, "/export/stats?format=csv&amp;from=%s\">statistics "
	    "(CSV)</a>, <a href=\"/domains/", from_day);
	web_html_url(h, d.name);
	web_html_fmt(h, "/export/stats?from=%s\">(JSON)</a>; <a href=\""
	    "/domains/", from_day);
	web_html_url(h, d.name);
	web_html_fmt(h, "/export/reports?format=csv&amp;from=%s&amp;"
	    "limit=1000\">reports (CSV)</a>, <a href=\"/domains/", from_day);
	web_html_url(h, d.name);
	web_html_fmt(h, "/export/reports?from=%s&amp;limit=1000\">(JSON)</a>"
	    ".</p>", from_day);
	web_html_raw(h, "<h2>Reports</h2><div class=\"scroll\"><table><tr>"
	    "<th>Id</th><th>Organization</th><th>Day</th><th>Successful</th>"
	    "<th>Failed</th><th>Provenance</th><th></th></tr>");
	f.domain = d.name;
	f.limit = PAGE_REPORTS;
	if (store_report_list(pg->s, &f, page_report_row, h, &e) == -1) {
		web_stats_free(&st);
		store_domain_free(&d);
		web_page_error(pg, 500, e.msg);
		return;
	}
	web_html_raw(h, "</table></div>");
	web_page_close(pg);
	web_page_send(pg, 200);
	web_stats_free(&st);
	store_domain_free(&d);
}

/* The mx textarea's patterns (blanks, commas, semicolons or lines
 * between them) into v (n at most cap). Returns how many, or -1 when
 * there are more than cap. */
static int
page_mx_split(char *text, char **v, size_t cap)
{
	size_t n = 0;
	char *p = text;

	for (;;) {
		p += strspn(p, " \t\r\n,;");
		if (*p == '\0')
			return (int)n;
		if (n == cap)
			return -1;
		v[n++] = p;
		p += strcspn(p, " \t\r\n,;");
		if (*p != '\0')
			*p++ = '\0';
	}
}

/* The form's mode, mx and max_age applied to p. Returns 0, or -1 with
 * the reason. */
static int
page_policy_form(struct web_pg *pg, struct policy *p, struct err *e)
{
	char mode[16], maxage[16], mx[PAGE_FIELD_MAX];
	char *v[LIMIT_POLICY_MX];
	int n;

	if (page_field(pg, "mode", mode, sizeof(mode)) == -1 ||
	    page_field(pg, "max_age", maxage, sizeof(maxage)) == -1 ||
	    page_field(pg, "mx", mx, sizeof(mx)) == -1)
		return err_set(e, "a field is too long or badly encoded");
	if ((n = page_mx_split(mx, v, LIMIT_POLICY_MX)) == -1)
		return err_set(e, "mx: more than %d patterns",
		    LIMIT_POLICY_MX);
	return policy_apply(p, mode, maxage, (const char *const *)v,
	    (size_t)n, e);
}

struct page_until {
	time_t	 until;		/* the latest end of a cached copy */
	time_t	 prev_since;	/* since of the version read before */
	uint32_t prev_max_age;
	bool	 have_prev;
};

static int
page_until_cb(void *arg, const char *id, time_t since, const char *body)
{
	struct page_until *u = arg;
	struct policy p = { 0 };
	struct err e;

	(void)id;
	/* The version before this one was served until since: a sender
	 * may hold it max_age longer. */
	if (u->have_prev && since + (time_t)u->prev_max_age > u->until)
		u->until = since + (time_t)u->prev_max_age;
	u->have_prev = policy_parse(body, strlen(body), &p, NULL, &e) == 0;
	u->prev_since = since;
	u->prev_max_age = p.max_age;
	policy_free(&p);
	return 0;
}

/* Whether going from old to new narrows what senders accept: new is in
 * enforce mode and old was not, or an MX host old accepted is no longer
 * covered. */
static bool
page_narrows(const struct policy *old, const struct policy *new)
{
	size_t i;

	if (new->mode != POLICY_MODE_ENFORCE)
		return false;
	if (old->mode != POLICY_MODE_ENFORCE)
		return true;
	for (i = 0; i < old->mx.n; i++) {
		const char *pat = old->mx.v[i];
		size_t j;
		bool kept = false;

		for (j = 0; j < new->mx.n && !kept; j++)
			kept = strcmp(pat, new->mx.v[j]) == 0;
		if (!kept && strncmp(pat, "*.", 2) != 0)
			kept = policy_match(new, pat);
		if (!kept)
			return true;
	}
	return false;
}

static void
page_policy_post(struct web_pg *pg, const char *arg)
{
	struct store_domain d = { 0 }, nd = { 0 };
	struct page_until u = { 0 };
	struct policy p = { 0 };
	struct web_html *h = &pg->h;
	char confirm[4], loc[LIMIT_DNAME_LEN * 3 + LIMIT_STS_ID_LEN + 32];
	struct web_html url = { 0 };
	struct err e;
	int r;

	if (web_page_domain(pg, arg, &d) != 0)
		return;
	if (d.removed != 0) {
		web_page_error(pg, 409, "This domain was removed; add it again "
		    "to serve a policy.");
		goto out;
	}
	if (policy_copy(&p, &d.policy) == -1) {
		web_page_error(pg, 500, "out of memory");
		goto out;
	}
	if (page_policy_form(pg, &p, &e) == -1) {
		web_page_open(pg, d.name);
		web_html_raw(h, "<p class=\"bad\">The policy was not changed: ");
		web_html_text(h, e.msg);
		web_html_raw(h, "</p>");
		page_editor(pg, &d, &d.policy, false);
		web_page_close(pg);
		web_page_send(pg, 400);
		goto out;
	}
	if (page_field(pg, "confirm", confirm, sizeof(confirm)) == -1)
		confirm[0] = '\0';
	if (page_narrows(&d.policy, &p) && strcmp(confirm, "1") != 0) {
		if (store_domain_history(pg->s, d.name, page_until_cb, &u,
		    &e) == -1) {
			web_page_error(pg, 500, e.msg);
			goto out;
		}
		if (pg->now + (time_t)d.policy.max_age > u.until)
			u.until = pg->now + (time_t)d.policy.max_age;
		web_page_open(pg, d.name);
		web_html_raw(h, "<p class=\"note\">This change narrows what "
		    "senders accept (enforce mode, or an MX host no longer "
		    "listed). Senders that fetched the current policy may "
		    "keep it until <strong>");
		web_page_time(h, u.until);
		web_html_raw(h, "</strong>: until then some deliver by the "
		    "old policy, after it mail to a host the new policy does "
		    "not cover is refused. Change it?</p>");
		page_editor(pg, &d, &p, true);
		web_page_close(pg);
		web_page_send(pg, 200);
		goto out;
	}
	if ((r = store_domain_set(pg->s, d.name, &p, &nd, &e)) != 0) {
		web_page_error(pg, r == 1 ? 404 : 500, r == 1 ? "No such domain." :
		    e.msg);
		goto out;
	}
	web_html_url(&url, d.name);
	/* The new id (letters and digits) goes in the URL as is. */
	snprintf(loc, sizeof(loc), "/domains/%s?saved=%s",
	    url.p != NULL ? url.p : "", strcmp(d.policy_id, nd.policy_id) !=
	    0 ? nd.policy_id : "same");
	page_redirect(pg, loc);
out:
	web_html_free(&url);
	policy_free(&p);
	store_domain_free(&d);
	store_domain_free(&nd);
}

static void
page_domain_add(struct web_pg *pg, const char *arg)
{
	char in[LIMIT_DNAME_LEN * 4 + 1], name[LIMIT_DNAME_LEN + 1];
	char tenant[STORE_TENANT_LEN + 1], loc[LIMIT_DNAME_LEN * 3 + 32];
	struct store_domain d = { 0 };
	struct policy p = { 0 };
	struct web_html url = { 0 };
	struct err e;

	(void)arg;
	p.mode = POLICY_MODE_TESTING;
	p.max_age = 604800;
	if (page_field(pg, "name", in, sizeof(in)) == -1 ||
	    page_field(pg, "tenant", tenant, sizeof(tenant)) == -1) {
		web_page_error(pg, 400, "The domain or tenant is too long.");
		return;
	}
	if (pg->role != ACCOUNT_ADMIN || tenant[0] == '\0')
		snprintf(tenant, sizeof(tenant), "%s", pg->tenant);
	if (tenant[0] == '\0') {
		web_page_error(pg, 400, "Say which tenant the domain is for.");
		return;
	}
	if (dname_normalize(in, strlen(in), false, name, &e) == -1 ||
	    page_policy_form(pg, &p, &e) == -1 ||
	    store_domain_add(pg->s, tenant, name, &p, &d, &e) == -1) {
		web_page_error(pg, 400, e.msg);
		goto out;
	}
	web_html_url(&url, d.name);
	snprintf(loc, sizeof(loc), "/domains/%s", url.p != NULL ? url.p : "");
	page_redirect(pg, loc);
out:
	web_html_free(&url);
	policy_free(&p);
	store_domain_free(&d);
}

/* GET /domains/{d}/export/stats and /export/reports: the API's JSON or
 * CSV (?format=csv) of what the domain page shows, as a download. */
static void
page_export(struct web_pg *pg, const char *arg, bool reports)
{
	struct store_domain d = { 0 };

	if (web_page_domain(pg, arg, &d) != 0)
		return;
	web_api_export(pg->s, pg->rq, &d, reports, pg->out);
	if (pg->out->status == 200)
		page_header(pg, "Content-Disposition: attachment\r\n");
	store_domain_free(&d);
}

static void
page_export_stats(struct web_pg *pg, const char *arg)
{
	page_export(pg, arg, false);
}

static void
page_export_reports(struct web_pg *pg, const char *arg)
{
	page_export(pg, arg, true);
}

/* --- a report ------------------------------------------------------- */

/* A JSON value as text: strings as they are, the rest compact. */
static void
page_json_text(struct web_html *h, const json_t *v)
{
	char *t;

	if (json_is_string(v)) {
		web_html_text(h, json_string_value(v));
		return;
	}
	if ((t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY |
	    JSON_PRESERVE_ORDER)) == NULL) {
		h->failed = true;
		return;
	}
	web_html_text(h, t);
	free(t);
}

/* An object's members as a two-column table. */
static void
page_json_table(struct web_html *h, const json_t *o)
{
	const char *k;
	json_t *v;

	web_html_raw(h, "<div class=\"scroll\"><table>");
	json_object_foreach((json_t *)o, k, v) {
		web_html_raw(h, "<tr><th>");
		web_html_text(h, k);
		web_html_raw(h, "</th><td>");
		page_json_text(h, v);
		web_html_raw(h, "</td></tr>");
	}
	web_html_raw(h, "</table></div>");
}

/* Report id (a number) into *id, when the user may see it. Returns 0 or
 * the status already answered. */
static int
page_report_id(struct web_pg *pg, const char *arg, int64_t *id)
{
	char *end;
	long long n;
	struct err e;
	int r;

	errno = 0;
	n = strtoll(arg, &end, 10);
	if (errno != 0 || *end != '\0' || n <= 0 || arg[0] == '+' ||
	    arg[0] == ' ') {
		web_page_error(pg, 404, "No such report.");
		return 404;
	}
	if (pg->role == ACCOUNT_ADMIN)
		r = store_report_get(pg->s, n, NULL, NULL, NULL, NULL, &e);
	else
		r = store_report_claimed(pg->s, n, pg->tenant, &e);
	if (r == 1) {
		web_page_error(pg, 404, "No such report.");
		return 404;
	}
	if (r == -1) {
		web_page_error(pg, 500, e.msg);
		return 500;
	}
	*id = n;
	return 0;
}

/* Beside a failure detail of type sts-policy-fetch-error for domain (a
 * report's policy-domain): what the monitor's own fetch of the policy
 * found (check_fetch_cause's finding in the domain's latest check), when
 * the user may see that domain. Nothing otherwise. */
static void
page_fetch_cause(struct web_pg *pg, const char *type, const char *domain)
{
	struct page_check c = { .want_json = true };
	struct store_domain d = { 0 };
	json_t *x;
	size_t i;
	struct err e;
	int r;

	if (type == NULL || domain == NULL ||
	    strcmp(type, CHECK_FETCH_ERROR) != 0)
		return;
	if ((r = store_domain_get(pg->s, domain, &d, &e)) != 0)
		return;
	if ((pg->role == ACCOUNT_ADMIN || strcmp(d.tenant, pg->tenant) ==
	    0) && store_check_get(pg->s, d.name, page_check_cb, &c, &e) == 0)
		json_array_foreach(json_object_get(c.o, "findings"), i, x) {
			const char *a = json_string_value(json_object_get(x,
			    "area"));
			const char *sub = json_string_value(json_object_get(x,
			    "subject"));
			const char *k = json_string_value(json_object_get(x,
			    "kind"));

			if (a == NULL || sub == NULL || k == NULL ||
			    strcmp(a, "reports") != 0 || strcmp(k, "none") !=
			    0 || strcmp(sub, CHECK_FETCH_ERROR) != 0)
				continue;
			web_html_raw(&pg->h, "<br>The monitor's check (");
			web_page_time(&pg->h, c.checked);
			web_html_raw(&pg->h, "): ");
			web_html_text(&pg->h, json_string_value(
			    json_object_get(x, "text")));
			break;
		}
	json_decref(c.o);
	store_domain_free(&d);
}

static void
page_report(struct web_pg *pg, const char *arg)
{
	struct web_html *h = &pg->h;
	json_t *o = NULL, *rep, *pols, *pol, *fd, *x;
	char title[64];
	struct err e;
	size_t i, j;
	int64_t id;
	int r;

	if (page_report_id(pg, arg, &id) != 0)
		return;
	if ((r = web_report_show(pg->s, id, &o, &e)) != 0) {
		web_page_error(pg, r == 1 ? 404 : 500, r == 1 ? "No such report." :
		    e.msg);
		return;
	}
	snprintf(title, sizeof(title), "Report %lld", (long long)id);
	web_page_open(pg, title);
	web_html_raw(h, "<h2>How it arrived</h2>");
	page_json_table(h, json_object_get(o, "stored"));
	rep = json_object_get(o, "report");
	web_html_raw(h, "<h2>The report</h2><div class=\"scroll\"><table>");
	{
		const char *k;
		json_t *v;

		json_object_foreach(rep, k, v) {
			if (strcmp(k, "policies") == 0)
				continue;
			web_html_raw(h, "<tr><th>");
			web_html_text(h, k);
			web_html_raw(h, "</th><td>");
			page_json_text(h, v);
			web_html_raw(h, "</td></tr>");
		}
	}
	web_html_raw(h, "</table></div>");
	pols = json_object_get(rep, "policies");
	json_array_foreach(pols, i, pol) {
		web_html_fmt(h, "<h3>Policy %zu</h3>", i + 1);
		if ((x = json_object_get(pol, "policy")) != NULL)
			page_json_table(h, x);
		if ((x = json_object_get(pol, "summary")) != NULL)
			page_json_table(h, x);
		fd = json_object_get(pol, "failure-details");
		if (json_array_size(fd) == 0)
			continue;
		web_html_raw(h, "<div class=\"scroll\"><table><tr>"
		    "<th>Result</th><th>Sessions</th><th>Sending IP</th>"
		    "<th>Receiving MX</th><th>What to fix</th></tr>");
		json_array_foreach(fd, j, x) {
			const char *type = json_string_value(
			    json_object_get(x, "result-type"));
			const char *mx = json_string_value(
			    json_object_get(x, "receiving-mx-hostname"));

			web_html_raw(h, "<tr><td>");
			web_html_text(h, type);
			web_html_raw(h, "</td><td>");
			page_json_text(h, json_object_get(x,
			    "failed-session-count"));
			web_html_raw(h, "</td><td>");
			web_html_text(h, json_string_value(json_object_get(x,
			    "sending-mta-ip")));
			web_html_raw(h, "</td><td>");
			web_html_text(h, mx);
			web_html_raw(h, "</td><td>");
			web_explain(h, type, mx);
			page_fetch_cause(pg, type, json_string_value(
			    json_object_get(json_object_get(pol, "policy"),
			    "policy-domain")));
			web_html_raw(h, "</td></tr>");
		}
		web_html_raw(h, "</table></div>");
	}
	web_html_fmt(h, "<h2>As received</h2><p><a href=\"/reports/%lld/raw\">"
	    "Download the bytes as received</a></p><details><summary>The "
	    "report's JSON</summary><pre>", (long long)id);
	{
		char *t = json_dumps(rep, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		web_html_text(h, t != NULL ? t : "(out of memory)");
		free(t);
	}
	web_html_raw(h, "</pre></details>");
	json_decref(o);
	web_page_close(pg);
	web_page_send(pg, 200);
}

static void
page_report_raw(struct web_pg *pg, const char *arg)
{
	uint8_t *bytes = NULL;
	size_t len;
	struct err e;
	int64_t id;
	int r;

	if (page_report_id(pg, arg, &id) != 0)
		return;
	if ((r = store_report_get(pg->s, id, NULL, NULL, &bytes, &len,
	    &e)) != 0) {
		web_page_error(pg, r == 1 ? 404 : 500, r == 1 ? "No such report." :
		    e.msg);
		return;
	}
	page_header(pg, "X-Content-Type-Options: nosniff\r\n"
	    "Content-Disposition: attachment\r\n");
	pg->out->status = 200;
	pg->out->type = len >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b ?
	    "application/tlsrpt+gzip" : "application/tlsrpt+json";
	pg->out->body = (char *)bytes;
	pg->out->len = len;
}

/* --- routes ---------------------------------------------------------- */

enum page_access {
	PAGE_ANYONE,		/* no session needed */
	PAGE_READ,		/* a session: viewer, owner or admin */
	PAGE_CHANGE,		/* a session of an owner or admin */
};

/* path: exact, or with one "*" standing for a path segment (the
 * handler's arg, percent-decoded). */
static const struct page_route {
	enum http_method method;
	const char	*path;
	enum page_access access;
	void		(*run)(struct web_pg *, const char *arg);
} page_routes[] = {
	{ HTTP_GET,  "/login",			PAGE_ANYONE, page_login_get },
	{ HTTP_POST, "/login",			PAGE_ANYONE, page_login_post },
	{ HTTP_POST, "/logout",			PAGE_READ,   page_logout },
	{ HTTP_GET,  "/",			PAGE_READ,   page_overview },
	{ HTTP_POST, "/domains",		PAGE_CHANGE, page_domain_add },
	{ HTTP_GET,  "/domains/*",		PAGE_READ,   page_domain },
	{ HTTP_POST, "/domains/*/policy",	PAGE_CHANGE, page_policy_post },
	{ HTTP_GET,  "/domains/*/export/stats",	PAGE_READ,   page_export_stats },
	{ HTTP_GET,  "/domains/*/export/reports", PAGE_READ, page_export_reports },
	{ HTTP_GET,  "/domains/*/ready",	PAGE_READ,   web_page_ready },
	{ HTTP_GET,  "/domains/*/adoption",	PAGE_READ,   web_page_adoption },
	{ HTTP_GET,  "/domains/*/fetches",	PAGE_READ,   web_page_fetches },
	{ HTTP_GET,  "/reports/*",		PAGE_READ,   page_report },
	{ HTTP_GET,  "/reports/*/raw",		PAGE_READ,   page_report_raw },
};

/* Whether path[0..len) matches pattern; the segment "*" stands for is
 * decoded into arg (cap bytes). */
static bool
page_match(const char *pattern, const char *path, size_t len, char *arg,
    size_t cap)
{
	const char *star = strchr(pattern, '*');
	size_t pre, post, seg;

	if (star == NULL)
		return strlen(pattern) == len && memcmp(pattern, path,
		    len) == 0;
	pre = (size_t)(star - pattern);
	post = strlen(star + 1);
	if (len < pre + post + 1 || memcmp(path, pattern, pre) != 0 ||
	    memcmp(path + len - post, star + 1, post) != 0)
		return false;
	seg = len - pre - post;
	if (memchr(path + pre, '/', seg) != NULL)
		return false;
	/* The segment, percent-decoded like a form value. */
	{
		char enc[LIMIT_DNAME_LEN * 3 + 8];

		if (seg + 3 > sizeof(enc))
			return false;
		memcpy(enc, "a=", 2);
		memcpy(enc + 2, path + pre, seg);
		return web_form_get(enc, seg + 2, "a", arg, cap) == 1 &&
		    arg[0] != '\0';
	}
}

void
web_page(struct store *s, const struct web_request *rq,
    struct web_response *out)
{
	struct web_pg pg = { 0 };
	const struct page_route *r = NULL;
	char arg[LIMIT_DNAME_LEN * 2 + 1];
	bool path_known = false;
	struct err e;
	size_t i;

	memset(out, 0, sizeof(*out));
	pg.s = s;
	pg.rq = rq;
	pg.out = out;
	pg.now = rq->now != 0 ? rq->now : time(NULL);
	for (i = 0; i < sizeof(page_routes) / sizeof(page_routes[0]); i++) {
		if (!page_match(page_routes[i].path, rq->path, rq->path_len,
		    arg, sizeof(arg)))
			continue;
		path_known = true;
		if (page_routes[i].method == rq->method) {
			r = &page_routes[i];
			break;
		}
	}
	if (r == NULL) {
		if (path_known) {
			page_header(&pg, rq->method == HTTP_POST ?
			    "Allow: GET, HEAD\r\n" : "Allow: POST\r\n");
			web_page_error(&pg, 405, "That method is not allowed "
			    "here.");
		} else {
			web_page_error(&pg, 404, "No such page.");
		}
		return;
	}
	if (page_session(&pg, &e) == -1) {
		web_page_error(&pg, 500, e.msg);
		return;
	}
	if (r->access != PAGE_ANYONE && !pg.user) {
		if (rq->method == HTTP_GET)
			page_redirect(&pg, "/login");
		else
			web_page_error(&pg, 403, "Log in first.");
		return;
	}
	if (rq->method == HTTP_POST && r->access != PAGE_ANYONE &&
	    !page_csrf_ok(&pg, pg.csrf)) {
		web_page_error(&pg, 403, "The form is stale or came from another "
		    "site (CSRF token missing or wrong): reload the page and "
		    "try again.");
		return;
	}
	if (r->access == PAGE_CHANGE && !web_page_may_change(&pg)) {
		web_page_error(&pg, 403, "A viewer cannot change anything: ask an "
		    "owner of the tenant.");
		return;
	}
	r->run(&pg, arg);
	web_html_free(&pg.h);
}
