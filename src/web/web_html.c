/*
 * web_html.c - the dashboard's pages are written into a growing buffer
 * by three kinds of call, so that a reader sees at each call whether the
 * text is trusted:
 *
 *	web_html_raw(h, "<td>")           our own markup, never user data
 *	web_html_text(h, org_name)        anything from a report, a user or
 *	                                  the store: & < > " ' escaped, so it
 *	                                  is text in an element or a quoted
 *	                                  attribute, never markup
 *	web_html_fmt(h, "%d", n)          our format with numbers only
 *	                                  (strings go through web_html_text)
 *
 * A failed allocation marks the buffer failed; every later call does
 * nothing, and the caller answers 500 once at the end. Never does I/O.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web.h"

/* Room for n more bytes and a NUL. Returns 0 or -1 (h failed). */
static int
web_html_room(struct web_html *h, size_t n)
{
	size_t ncap;
	char *p;

	if (h->failed)
		return -1;
	if (h->len + n + 1 <= h->cap)
		return 0;
	if (n > LIMIT_WEB_PAGE_BYTES - 1 - h->len) {
		h->failed = true;	/* the page, NUL included, would
					 * pass the limit */
		return -1;
	}
	ncap = h->cap != 0 ? h->cap : 4096;
	while (ncap < h->len + n + 1)
		ncap *= 2;
	if (ncap > LIMIT_WEB_PAGE_BYTES)
		ncap = LIMIT_WEB_PAGE_BYTES;
	if ((p = realloc(h->p, ncap)) == NULL) {
		h->failed = true;
		return -1;
	}
	h->p = p;
	h->cap = ncap;
	return 0;
}

void
web_html_rawn(struct web_html *h, const char *s, size_t n)
{
	if (web_html_room(h, n) == -1)
		return;
	memcpy(h->p + h->len, s, n);
	h->len += n;
	h->p[h->len] = '\0';
}

void
web_html_raw(struct web_html *h, const char *s)
{
	web_html_rawn(h, s, strlen(s));
}

void
web_html_textn(struct web_html *h, const char *s, size_t n)
{
	size_t i, run = 0;

	for (i = 0; i < n; i++) {
		const char *ent;

		switch (s[i]) {
		case '&':	ent = "&amp;"; break;
		case '<':	ent = "&lt;"; break;
		case '>':	ent = "&gt;"; break;
		case '"':	ent = "&quot;"; break;
		case '\'':	ent = "&#39;"; break;
		case '\0':	ent = "\xef\xbf\xbd"; break;	/* U+FFFD */
		default:	continue;
		}
		web_html_rawn(h, s + run, i - run);
		web_html_raw(h, ent);
		run = i + 1;
	}
	web_html_rawn(h, s + run, n - run);
}

void
web_html_text(struct web_html *h, const char *s)
{
	if (s != NULL)
		web_html_textn(h, s, strlen(s));
}

void
web_html_fmt(struct web_html *h, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || web_html_room(h, (size_t)n) == -1)
		return;
	va_start(ap, fmt);
	vsnprintf(h->p + h->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	h->len += (size_t)n;
}

/* RFC 3986 unreserved bytes pass; every other byte is %XX. */
void
web_html_url(struct web_html *h, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *u = (const unsigned char *)s;
	char pct[3] = { '%', 0, 0 };

	for (; s != NULL && *u != '\0'; u++) {
		if ((*u >= 'a' && *u <= 'z') || (*u >= 'A' && *u <= 'Z') ||
		    (*u >= '0' && *u <= '9') || *u == '-' || *u == '.' ||
		    *u == '_' || *u == '~') {
			web_html_rawn(h, (const char *)u, 1);
			continue;
		}
		pct[1] = hex[*u >> 4];
		pct[2] = hex[*u & 15];
		web_html_rawn(h, pct, 3);
	}
}

void
web_html_free(struct web_html *h)
{
	free(h->p);
	memset(h, 0, sizeof(*h));
}
