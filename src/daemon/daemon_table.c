/*
 * daemon_table.c - the policy table: every served host name mapped to its
 * ready response bytes, built from the store off the hot path and never
 * changed after it is published.
 *
 *	host   = "mta-sts." domain          (lower case A-labels)
 *	fields = "Content-Type: text/plain" CRLF "Content-Length: " N CRLF
 *	body   = policy_render()            (canonical CRLF policy)
 *
 * The worker writes "HTTP/1.1 200 OK" CRLF, its cached Date line, fields,
 * CRLF and (GET only) body: a few memcpy, no formatting per request.
 * Next to it, the token set of report intake: token (32 hex digits) ->
 * domain, for the same domains (active ones and removed ones still
 * served), so that a report URL or address works exactly as long as the
 * policy is served.
 *
 * Open addressing with linear probing at load factor <= 1/2. Never reads
 * the store on lookup; never changes a published table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"
#include "../policy/policy.h"
#include "daemon_int.h"

#define PTABLE_PREFIX "mta-sts."
#define PTABLE_PREFIX_LEN 8

/* FNV-1a, the same function for build and lookup. */
static uint32_t
ptable_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

struct ptable_build {
	time_t		 now;
	struct ptable_entry **v;
	struct ptable_token **tv;	/* same index as v; NULL: no token */
	size_t		 n, cap;
	time_t		 next_expiry;
	struct err	*e;
};

static struct ptable_entry *
ptable_entry_new(const char *domain, const char *body, size_t body_len)
{
	char fields[96];
	size_t dlen = strlen(domain), hlen = PTABLE_PREFIX_LEN + dlen;
	int flen;
	struct ptable_entry *x;
	char *p;

	flen = snprintf(fields, sizeof(fields),
	    "Content-Type: text/plain\r\nContent-Length: %zu\r\n", body_len);
	if (flen < 0 || (size_t)flen >= sizeof(fields))
		return NULL;
	if ((x = malloc(sizeof(*x) + hlen + 1 + (size_t)flen + body_len))
	    == NULL)
		return NULL;
	p = (char *)(x + 1);
	memcpy(p, PTABLE_PREFIX, PTABLE_PREFIX_LEN);
	memcpy(p + PTABLE_PREFIX_LEN, domain, dlen);
	p[hlen] = '\0';
	x->host = p;
	x->host_len = (uint32_t)hlen;
	x->hash = ptable_hash(p, hlen);
	p += hlen + 1;
	memcpy(p, fields, (size_t)flen);
	x->fields = p;
	x->fields_len = (size_t)flen;
	p += flen;
	memcpy(p, body, body_len);
	x->body = p;
	x->body_len = body_len;
	return x;
}

static int
ptable_add_domain(void *arg, const struct store_domain *d)
{
	struct ptable_build *b = arg;
	struct ptable_entry *x, **nv;
	struct ptable_token *tk = NULL, **ntv;
	size_t len;
	char *body;

	if (d->removed != 0) {
		if (d->serve_until <= b->now)
			return 0;
		if (b->next_expiry == 0 || d->serve_until < b->next_expiry)
			b->next_expiry = d->serve_until;
	}
	if ((body = policy_render(&d->policy, &len)) == NULL) {
		err_set(b->e, "out of memory rendering %s", d->name);
		return -1;
	}
	x = ptable_entry_new(d->name, body, len);
	free(body);
	if (x == NULL) {
		err_set(b->e, "out of memory for %s", d->name);
		return -1;
	}
	if (d->token[0] != '\0') {
		size_t dl = strlen(d->name) + 1;

		if ((tk = malloc(sizeof(*tk) + dl)) == NULL) {
			free(x);
			err_set(b->e, "out of memory for %s", d->name);
			return -1;
		}
		memcpy(tk->token, d->token, sizeof(tk->token));
		tk->token[STORE_TOKEN_LEN] = '\0';
		tk->hash = ptable_hash(tk->token, strlen(tk->token));
		memcpy(tk->domain, d->name, dl);
	}
	if (b->n == b->cap) {
		size_t ncap = b->cap ? b->cap * 2 : 256;

		if ((nv = realloc(b->v, ncap * sizeof(*nv))) == NULL ||
		    (b->v = nv, (ntv = realloc(b->tv, ncap * sizeof(*ntv)))
		    == NULL)) {
			free(x);
			free(tk);
			err_set(b->e, "out of memory");
			return -1;
		}
		b->tv = ntv;
		b->cap = ncap;
	}
	b->tv[b->n] = tk;
	b->v[b->n++] = x;
	return 0;
}

struct ptable *
ptable_build(struct store *s, time_t now, struct err *e)
{
	struct ptable_build b = { .now = now, .e = e };
	struct ptable *t = NULL;
	size_t size = 16;
	int rc;

	rc = store_domain_list(s, ptable_add_domain, &b, e);
	if (rc != 0)
		goto fail;
	while (size < b.n * 2)
		size *= 2;
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->slots = calloc(size, sizeof(*t->slots))) == NULL ||
	    (t->tslots = calloc(size, sizeof(*t->tslots))) == NULL) {
		err_set(e, "out of memory");
		goto fail;
	}
	t->mask = size - 1;
	t->tmask = size - 1;
	for (size_t i = 0; i < b.n; i++) {
		size_t j;

		if (b.tv[i] == NULL)
			continue;
		for (j = b.tv[i]->hash & t->tmask; t->tslots[j] != NULL;
		    j = (j + 1) & t->tmask)
			;
		t->tslots[j] = b.tv[i];
	}
	t->next_expiry = b.next_expiry;
	for (size_t i = 0; i < b.n; i++) {
		size_t j = b.v[i]->hash & t->mask;

		while (t->slots[j] != NULL)
			j = (j + 1) & t->mask;
		t->slots[j] = b.v[i];
	}
	t->n = b.n;
	free(b.v);
	free(b.tv);
	return t;
fail:
	if (t != NULL) {
		free(t->slots);
		free(t->tslots);
	}
	free(t);
	for (size_t i = 0; i < b.n; i++) {
		free(b.v[i]);
		free(b.tv[i]);
	}
	free(b.v);
	free(b.tv);
	return NULL;
}

const struct ptable_entry *
ptable_find(const struct ptable *t, const char *host, size_t len)
{
	uint32_t h = ptable_hash(host, len);
	const struct ptable_entry *x;

	for (size_t j = h & t->mask; (x = t->slots[j]) != NULL;
	    j = (j + 1) & t->mask)
		if (x->hash == h && x->host_len == len &&
		    memcmp(x->host, host, len) == 0)
			return x;
	return NULL;
}

const char *
ptable_find_token(const struct ptable *t, const char *token)
{
	size_t len = strlen(token);
	uint32_t h = ptable_hash(token, len);
	const struct ptable_token *x;

	for (size_t j = h & t->tmask; (x = t->tslots[j]) != NULL;
	    j = (j + 1) & t->tmask)
		if (x->hash == h && strcmp(x->token, token) == 0)
			return x->domain;
	return NULL;
}

void
ptable_free(struct ptable *t)
{
	if (t == NULL)
		return;
	for (size_t j = 0; j <= t->mask; j++) {
		free(t->slots[j]);
		free(t->tslots[j]);
	}
	free(t->slots);
	free(t->tslots);
	free(t);
}
