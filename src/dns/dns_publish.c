/*
 * dns_publish.c - the delegated mode's one way in: which TXT records of
 * the operator's zone (dns_zone) to send, for the CLI (`dns publish`,
 * `dns export`) and the daemon's reload thread alike. It reads the
 * domains from the store, builds each one's records with dns_records
 * (the only place that names them) and hands them to dns_update_send.
 *
 * Which domains: every active one, and removed ones while they still
 * serve mode none (serve_until, RFC 8461 §8.3). The daemon remembers,
 * per domain, "name id token" as last sent with success; a sync sends
 * only the domains whose line is new (all of them the first time), and
 * after a failure the same ones again at the next sync. A domain sent
 * before that no longer serves (removed, past serve_until) has its two
 * names deleted from the zone; the owner's CNAMEs then point nowhere,
 * as they should once the policy is gone.
 *
 * Never runs on a worker's event loop: dns_update_send blocks.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../store/store.h"
#include "dns.h"

struct dns_publisher {
	char		 server[LIMIT_DNAME_LEN + 16];	/* IP[:PORT] */
	char		 zone[LIMIT_DNAME_LEN + 1];
	char		 host[LIMIT_DNAME_LEN + 1];	/* service_host */
	struct dns_tsig	 key;
	char		**sent;		/* sorted "name id token" lines */
	size_t		 nsent;
};

/* What one listing collects: the TXT records to send and the lines
 * that say what they were built from. */
struct dns_collect {
	const struct dns_publisher *p;
	char		**seen;		/* NULL: send every domain */
	size_t		 nseen;
	char		**lines;	/* every domain's line, sorted later */
	size_t		 nlines, caplines;
	struct dns_rr	*rr;		/* the records to send */
	size_t		 nrr, caprr;
	size_t		 ngone;		/* domains whose names go */
	time_t		 now;
	int		 oom;
};

int
dns_publisher_new(const char *zone, const char *server, const char *key_path,
    const char *service_host, struct dns_publisher **out, struct err *e)
{
	struct dns_publisher *p;
	char z[LIMIT_DNAME_LEN + 1];

	*out = NULL;
	if (dns_zone_parse(zone, z, e) == -1)
		return -1;
	if (z[0] == '\0')
		return err_set(e, "dns_zone is not set: customers publish "
		    "their TXT records themselves (stsguard dns DOMAIN)");
	if (server == NULL)
		return err_set(e, "dns_update_server is not set");
	if (dns_update_server_check(server, e) == -1)
		return -1;
	if (key_path == NULL)
		return err_set(e, "dns_tsig_key is not set");
	if (strlen(server) >= sizeof(p->server) || service_host == NULL ||
	    strlen(service_host) >= sizeof(p->host))
		return err_set(e, "dns_update_server '%s': too long", server);
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return err_set(e, "out of memory");
	if (dns_tsig_load(key_path, &p->key, e) == -1) {
		free(p);
		return -1;
	}
	snprintf(p->server, sizeof(p->server), "%s", server);
	snprintf(p->zone, sizeof(p->zone), "%s", z);
	snprintf(p->host, sizeof(p->host), "%s", service_host);
	*out = p;
	return 0;
}

static void
dns_lines_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
dns_publisher_free(struct dns_publisher *p)
{
	if (p == NULL)
		return;
	dns_lines_free(p->sent, p->nsent);
	explicit_bzero(&p->key, sizeof(p->key));
	free(p);
}

static int
dns_line_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Room for two more records. Returns 0 or -1. */
static int
dns_collect_grow(struct dns_collect *c)
{
	if (c->nrr + 2 > c->caprr) {
		size_t n = c->caprr ? 2 * c->caprr : 64;
		struct dns_rr *v = realloc(c->rr, n * sizeof(*v));

		if (v == NULL)
			return -1;
		c->rr = v;
		c->caprr = n;
	}
	return 0;
}

static int
dns_collect_one(void *arg, const struct store_domain *d)
{
	struct dns_collect *c = arg;
	struct dns_records recs;
	char line[LIMIT_DNAME_LEN + LIMIT_STS_ID_LEN + STORE_TOKEN_LEN + 4];
	char *dup, *key = line;

	if (d->removed != 0 && d->serve_until <= c->now)
		return 0;
	snprintf(line, sizeof(line), "%s %s %s", d->name, d->policy_id,
	    d->token);
	if (c->nlines == c->caplines) {
		size_t n = c->caplines ? 2 * c->caplines : 64;
		char **v = realloc(c->lines, n * sizeof(*v));

		if (v == NULL)
			return c->oom = 1;
		c->lines = v;
		c->caplines = n;
	}
	if ((dup = strdup(line)) == NULL)
		return c->oom = 1;
	c->lines[c->nlines++] = dup;
	if (c->seen != NULL && bsearch(&key, c->seen, c->nseen,
	    sizeof(*c->seen), dns_line_cmp) != NULL)
		return 0;	/* sent as it is now */
	if (dns_collect_grow(c) == -1)
		return c->oom = 1;
	dns_records(d->name, d->policy_id, d->token, c->p->host, c->p->zone,
	    &recs);
	c->rr[c->nrr++] = recs.kept[0];
	c->rr[c->nrr++] = recs.kept[1];
	return 0;
}

/* The domain's part of a line: up to the first blank. */
static size_t
dns_line_name(const char *line)
{
	return strcspn(line, " ");
}

/* Whether the sorted lines hold one for the name of len bytes at name:
 * the first line not before "name " starts with it. */
static bool
dns_lines_have(char *const *v, size_t n, const char *name, size_t len)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strncmp(v[mid], name, len);

		if (c == 0)
			c = v[mid][len] < ' ' ? -1 : v[mid][len] == ' ' ? 0 :
			    1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && strncmp(v[lo], name, len) == 0 && v[lo][len] == ' ';
}

/* The deletes of the names of every domain sent before that this
 * listing no longer has (removed, and past serve_until). */
static int
dns_collect_gone(struct dns_collect *c)
{
	for (size_t i = 0; i < c->nseen; i++) {
		size_t len = dns_line_name(c->seen[i]);
		char name[LIMIT_DNAME_LEN + 1];
		struct dns_records recs;

		if (dns_lines_have(c->lines, c->nlines, c->seen[i], len))
			continue;
		if (len >= sizeof(name) || dns_collect_grow(c) == -1)
			return -1;
		memcpy(name, c->seen[i], len);
		name[len] = '\0';
		dns_records(name, "", "", c->p->host, c->p->zone, &recs);
		c->rr[c->nrr] = recs.kept[0];
		c->rr[c->nrr++].type = NULL;	/* delete only */
		c->rr[c->nrr] = recs.kept[1];
		c->rr[c->nrr++].type = NULL;
		c->ngone++;
	}
	return 0;
}

static void
dns_collect_free(struct dns_collect *c)
{
	dns_lines_free(c->lines, c->nlines);
	free(c->rr);
}

int
dns_publisher_push(struct dns_publisher *p, struct store *s,
    const struct strv *names, size_t *sent, struct err *e)
{
	struct dns_collect c = { .p = p, .now = time(NULL) };
	int rc = -1;

	*sent = 0;
	if (names == NULL || names->n == 0) {
		if (store_domain_list(s, dns_collect_one, &c, e) != 0) {
			if (c.oom)
				err_set(e, "out of memory");
			goto out;
		}
	} else {
		for (size_t i = 0; i < names->n; i++) {
			struct store_domain d = { 0 };
			int r = store_domain_get(s, names->v[i], &d, e);

			if (r == 1)
				err_set(e, "%s is not a hosted domain",
				    names->v[i]);
			if (r == 0) {
				r = dns_collect_one(&c, &d) != 0 ? -1 : 0;
				if (r == -1)
					err_set(e, "out of memory");
			}
			store_domain_free(&d);
			if (r != 0)
				goto out;
		}
	}
	if (c.nrr > 0 && dns_update_send(p->server, &p->key, p->zone, c.rr,
	    c.nrr, e) == -1)
		goto out;
	*sent = c.nrr / 2;
	rc = 0;
out:
	dns_collect_free(&c);
	return rc;
}

int
dns_publisher_sync(struct dns_publisher *p, struct store *s,
    int64_t served_version, size_t *sent, struct err *e)
{
	struct dns_collect c = { .p = p, .now = time(NULL) };
	int rc = -1;

	*sent = 0;
	/* The first sync (p->sent NULL) sends every domain: the zone may
	 * hold anything from before this process. */
	c.seen = p->sent;
	c.nseen = p->nsent;
	if (store_domain_list(s, dns_collect_one, &c, e) != 0) {
		if (c.oom)
			err_set(e, "out of memory");
		goto out;
	}
	/* A change after the table was built is not served yet: its id
	 * waits for the next table. */
	if (served_version >= 0) {
		uint64_t v;

		if (store_domains_version(s, &v, e) == -1)
			goto out;
		if ((int64_t)(v & INT64_MAX) != served_version) {
			rc = 1;
			goto out;
		}
	}
	qsort(c.lines, c.nlines, sizeof(*c.lines), dns_line_cmp);
	if (dns_collect_gone(&c) == -1) {
		err_set(e, "out of memory");
		goto out;
	}
	if (c.nrr > 0 && dns_update_send(p->server, &p->key, p->zone, c.rr,
	    c.nrr, e) == -1)
		goto out;
	*sent = c.nrr / 2;
	/* What the zone holds now: every line of this listing. */
	dns_lines_free(p->sent, p->nsent);
	p->sent = c.lines;
	p->nsent = c.nlines;
	c.lines = NULL;
	c.nlines = 0;
	if (p->sent == NULL && (p->sent = calloc(1, sizeof(char *))) == NULL) {
		err_set(e, "out of memory");	/* an empty store: remember */
		goto out;			/* that we synced */
	}
	rc = 0;
out:
	dns_collect_free(&c);
	return rc;
}
