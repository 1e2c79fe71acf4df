/*
 * peer.c - per-client connection counts, byte reservations, report
 * rates and uploads (see peer.h).
 *
 * A chained hash table under one mutex. The key is 16 bytes: an IPv4
 * address as ::ffff:a.b.c.d, an IPv6 address with its last 64 bits
 * cleared. The hash is keyed with random bits drawn at start, so that
 * clients cannot pick addresses that all land in one chain. An entry
 * exists while its client holds a connection, a byte or an upload; the
 * last peers_leave, peers_give or peers_upload_end frees it, unless its
 * report bucket is not full yet: a client that reconnects for every
 * report must find its bucket as it left it. Such entries are freed by
 * peers_sweep once their bucket is full again, at most a minute after
 * their last report.
 *
 * The bucket (peer_bucket_take) is a plain token bucket in integers: a
 * report costs PEER_BUCKET_UNIT units, the bucket gains `rate` units a
 * millisecond and holds rate * PEER_BUCKET_UNIT (a minute's worth).
 *
 *	level(now) = min(cap, level(last) + (now - last) * rate)
 *	take:  level >= UNIT ? level -= UNIT : wait ceil((UNIT - level)/rate)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "peer.h"

#define PEER_BUCKETS 4096	/* a power of two */

struct peer {
	struct peer	*next;
	uint8_t		 key[16];
	unsigned	 conns[PEER_NKINDS];
	size_t		 bytes;
	unsigned	 uploads;	/* HTTPS report uploads at once */
	struct peer_bucket reports;	/* its rate of reports */
	char		 text[PEER_TEXT_LEN];
};

struct peers {
	pthread_mutex_t	 mu;
	uint64_t	 seed[2];
	size_t		 max_bytes, max_bytes_per_peer;
	size_t		 bytes;		/* over all entries */
	unsigned	 rate;		/* reports a minute per client, 0:
					 * no limit */
	unsigned	 concurrent;	/* uploads at once per client, 0: no
					 * limit */
	struct peer	*bucket[PEER_BUCKETS];
};

/* The 16-byte key of sa, and its text. */
static void
peer_key(const struct sockaddr *sa, uint8_t key[16], char *text)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };
	char a[INET6_ADDRSTRLEN];

	memset(key, 0, 16);
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		memcpy(key, &s6->sin6_addr, 16);
		if (memcmp(key, mapped, 12) != 0) {
			memset(key + 8, 0, 8);	/* the /64 */
			inet_ntop(AF_INET6, key, a, sizeof(a));
			snprintf(text, PEER_TEXT_LEN, "%s/64", a);
			return;
		}
	} else if (sa->sa_family == AF_INET) {
		memcpy(key, mapped, 12);
		memcpy(key + 12, &((const struct sockaddr_in *)(const void *)
		    sa)->sin_addr, 4);
	} else {
		snprintf(text, PEER_TEXT_LEN, "-");	/* key all zero */
		return;
	}
	inet_ntop(AF_INET, key + 12, text, PEER_TEXT_LEN);
}

void
peer_key_text(const struct sockaddr *sa, char out[PEER_TEXT_LEN])
{
	uint8_t key[16];

	peer_key(sa, key, out);
}

static size_t
peer_hash(const struct peers *ps, const uint8_t key[16])
{
	uint64_t a, b, h;

	memcpy(&a, key, 8);
	memcpy(&b, key + 8, 8);
	h = (a ^ ps->seed[0]) * 0x9e3779b97f4a7c15u;
	h ^= h >> 29;
	h = (h ^ b ^ ps->seed[1]) * 0xbf58476d1ce4e5b9u;
	h ^= h >> 32;
	return (size_t)(h & (PEER_BUCKETS - 1));
}

struct peers *
peers_new(size_t max_bytes, size_t max_bytes_per_peer)
{
	struct peers *ps = calloc(1, sizeof(*ps));

	if (ps == NULL)
		return NULL;
	if (getrandom(ps->seed, sizeof(ps->seed), 0) != sizeof(ps->seed)) {
		/* Only chain lengths depend on it: go on unkeyed. */
		ps->seed[0] = 0x243f6a8885a308d3u;
		ps->seed[1] = 0x13198a2e03707344u;
	}
	pthread_mutex_init(&ps->mu, NULL);
	ps->max_bytes = max_bytes;
	ps->max_bytes_per_peer = max_bytes_per_peer;
	return ps;
}

void
peers_free(struct peers *ps)
{
	if (ps == NULL)
		return;
	for (size_t i = 0; i < PEER_BUCKETS; i++) {
		struct peer *p, *next;

		for (p = ps->bucket[i]; p != NULL; p = next) {
			next = p->next;
			free(p);
		}
	}
	pthread_mutex_destroy(&ps->mu);
	free(ps);
}

/* True when p holds no connection, byte or upload. */
static bool
peer_unused(const struct peer *p)
{
	for (int k = 0; k < PEER_NKINDS; k++)
		if (p->conns[k] > 0)
			return false;
	return p->bytes == 0 && p->uploads == 0;
}

/* Frees p when it holds nothing any more and its bucket was never
 * used (peers_sweep frees the others). Called with the lock. */
static void
peer_drop_if_idle(struct peers *ps, struct peer *p)
{
	struct peer **pp;

	if (!peer_unused(p) || p->reports.used)
		return;
	for (pp = &ps->bucket[peer_hash(ps, p->key)]; *pp != NULL;
	    pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			free(p);
			return;
		}
	}
}

struct peer *
peers_join(struct peers *ps, const struct sockaddr *sa, enum peer_kind kind,
    unsigned max)
{
	uint8_t key[16];
	char text[PEER_TEXT_LEN];
	struct peer *p;
	size_t h;

	peer_key(sa, key, text);
	h = peer_hash(ps, key);
	pthread_mutex_lock(&ps->mu);
	for (p = ps->bucket[h]; p != NULL; p = p->next)
		if (memcmp(p->key, key, 16) == 0)
			break;
	if (p == NULL) {
		if ((p = calloc(1, sizeof(*p))) == NULL)
			goto out;
		memcpy(p->key, key, 16);
		memcpy(p->text, text, sizeof(text));
		p->next = ps->bucket[h];
		ps->bucket[h] = p;
	}
	if (max != 0 && p->conns[kind] >= max) {
		peer_drop_if_idle(ps, p);
		p = NULL;
		goto out;
	}
	p->conns[kind]++;
out:
	pthread_mutex_unlock(&ps->mu);
	return p;
}

void
peers_leave(struct peers *ps, struct peer *p, enum peer_kind kind)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&ps->mu);
	if (p->conns[kind] > 0)
		p->conns[kind]--;
	peer_drop_if_idle(ps, p);
	pthread_mutex_unlock(&ps->mu);
}

bool
peers_take(struct peers *ps, struct peer *p, size_t n)
{
	bool ok = false;

	pthread_mutex_lock(&ps->mu);
	if (n <= ps->max_bytes - ps->bytes &&
	    n <= ps->max_bytes_per_peer - p->bytes) {
		ps->bytes += n;
		p->bytes += n;
		ok = true;
	}
	pthread_mutex_unlock(&ps->mu);
	return ok;
}

void
peers_give(struct peers *ps, struct peer *p, size_t n)
{
	if (p == NULL || n == 0)
		return;
	pthread_mutex_lock(&ps->mu);
	if (n > p->bytes)		/* a caller's bug: never underflow */
		n = p->bytes;
	p->bytes -= n;
	ps->bytes -= n;
	peer_drop_if_idle(ps, p);
	pthread_mutex_unlock(&ps->mu);
}

size_t
peers_bytes(struct peers *ps)
{
	size_t n;

	pthread_mutex_lock(&ps->mu);
	n = ps->bytes;
	pthread_mutex_unlock(&ps->mu);
	return n;
}

size_t
peer_bytes(struct peers *ps, const struct peer *p)
{
	size_t n;

	pthread_mutex_lock(&ps->mu);
	n = p->bytes;
	pthread_mutex_unlock(&ps->mu);
	return n;
}

const char *
peer_text(const struct peer *p)
{
	return p->text;
}

/* --- report intake --------------------------------------------------- */

/* Brings b's level up to now_ms. */
static uint64_t
bucket_level(const struct peer_bucket *b, unsigned rate, uint64_t now_ms)
{
	uint64_t cap = (uint64_t)rate * PEER_BUCKET_UNIT, dt;

	if (!b->used)
		return cap;
	dt = now_ms > b->last ? now_ms - b->last : 0;
	if (dt >= PEER_BUCKET_UNIT)	/* a minute refills any bucket */
		return cap;
	/* dt * rate < PEER_BUCKET_UNIT * rate = cap: no overflow. */
	return cap - b->level <= dt * rate ? cap : b->level + dt * rate;
}

bool
peer_bucket_take(struct peer_bucket *b, unsigned rate, uint64_t now_ms,
    uint64_t *wait_ms)
{
	uint64_t level;

	if (rate == 0)
		return true;
	level = bucket_level(b, rate, now_ms);
	if (!b->used || now_ms > b->last)
		b->last = now_ms;
	b->used = true;
	b->level = level;
	if (level < PEER_BUCKET_UNIT) {
		*wait_ms = (PEER_BUCKET_UNIT - level + rate - 1) / rate;
		return false;
	}
	b->level = level - PEER_BUCKET_UNIT;
	return true;
}

bool
peer_bucket_full(const struct peer_bucket *b, unsigned rate, uint64_t now_ms)
{
	return rate == 0 || bucket_level(b, rate, now_ms) ==
	    (uint64_t)rate * PEER_BUCKET_UNIT;
}

void
peers_set_intake(struct peers *ps, unsigned rate, unsigned concurrent)
{
	ps->rate = rate;
	ps->concurrent = concurrent;
}

enum peer_admit
peers_admit(struct peers *ps, struct peer *p, uint64_t now_ms, bool upload,
    uint64_t *wait_ms)
{
	enum peer_admit r = PEER_ADMIT;

	pthread_mutex_lock(&ps->mu);
	if (upload && ps->concurrent != 0 && p->uploads >= ps->concurrent)
		r = PEER_OVER_CONCURRENT;
	else if (!peer_bucket_take(&p->reports, ps->rate, now_ms, wait_ms))
		r = PEER_OVER_RATE;
	else if (upload)
		p->uploads++;
	pthread_mutex_unlock(&ps->mu);
	return r;
}

void
peers_upload_end(struct peers *ps, struct peer *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&ps->mu);
	if (p->uploads > 0)
		p->uploads--;
	peer_drop_if_idle(ps, p);
	pthread_mutex_unlock(&ps->mu);
}

unsigned
peer_uploads(struct peers *ps, const struct peer *p)
{
	unsigned n;

	pthread_mutex_lock(&ps->mu);
	n = p->uploads;
	pthread_mutex_unlock(&ps->mu);
	return n;
}

size_t
peers_sweep(struct peers *ps, uint64_t now_ms)
{
	size_t left = 0;

	pthread_mutex_lock(&ps->mu);
	for (size_t i = 0; i < PEER_BUCKETS; i++) {
		struct peer **pp = &ps->bucket[i], *p;

		while ((p = *pp) != NULL) {
			if (peer_unused(p) && peer_bucket_full(&p->reports,
			    ps->rate, now_ms)) {
				*pp = p->next;
				free(p);
			} else {
				left++;
				pp = &p->next;
			}
		}
	}
	pthread_mutex_unlock(&ps->mu);
	return left;
}
