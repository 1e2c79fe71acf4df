/*
 * web_page_int.h - what the dashboard's page files share (web_page.c:
 * sessions, routes, the overview, a domain, a report; web_page_views.c:
 * the readiness, adoption and fetch views of a domain). Not for other
 * modules: they call web_page (web.h).
 */
#ifndef STSGUARD_WEB_PAGE_INT_H
#define STSGUARD_WEB_PAGE_INT_H

#include "../account/account.h"
#include "web.h"

/* The request being answered, and who asks. */
struct web_pg {
	struct store	*s;
	const struct web_request *rq;
	struct web_response *out;
	struct web_html	 h;
	time_t		 now;
	bool		 user;		/* a valid session */
	int64_t		 uid;
	char		 email[ACCOUNT_EMAIL_LEN + 1];
	char		 tenant[STORE_TENANT_LEN + 1];	/* "" for admin */
	enum account_role role;
	char		 csrf[ACCOUNT_TOKEN_LEN + 1];
	unsigned char	 sess[32];	/* the session's hash */
};

/* The start of a page, up to its <h1>title</h1>; and its end. */
void	web_page_open(struct web_pg *pg, const char *title);
void	web_page_close(struct web_pg *pg);
/* Sends the page written so far with status (a 500 when it failed). */
void	web_page_send(struct web_pg *pg, int status);
/* A whole page saying why, with status. */
void	web_page_error(struct web_pg *pg, int status, const char *why);
/* The domain named arg into d, when the user may see it. Returns 0, or
 * the status already answered (404, 500). */
int	web_page_domain(struct web_pg *pg, const char *arg,
	    struct store_domain *d);
/* Whether the user may change things (owner, admin). */
bool	web_page_may_change(const struct web_pg *pg);
/* A query parameter ("" when absent). Returns 0 or -1 (bad). */
int	web_page_query(struct web_pg *pg, const char *key, char *out,
	    size_t cap);
/* "YYYY-MM-DD HH:MM UTC", or "-" for 0. */
void	web_page_time(struct web_html *h, time_t t);
/* A table of keys with their successful and failed sessions. */
void	web_page_table(struct web_html *h, const struct web_stat_table *t,
	    const char *what);

/* The views of a domain (web_page_views.c): GET /domains/{d}/ready,
 * /adoption, /fetches. */
void	web_page_ready(struct web_pg *pg, const char *arg);
void	web_page_adoption(struct web_pg *pg, const char *arg);
void	web_page_fetches(struct web_pg *pg, const char *arg);
/* The links between a domain's pages. */
void	web_page_nav(struct web_pg *pg, const char *domain);

#endif
