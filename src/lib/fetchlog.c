/*
 * fetchlog.c - the policy-fetch log's bounded counters (fetchlog.h):
 * an open-addressing index over a fixed table of domain-days, each with
 * a HyperLogLog sketch of client addresses and a few User-Agents.
 *
 * Never allocates after fetchlog_new, never blocks: a worker calls
 * fetchlog_count on its event loop for every policy served.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fetchlog.h"

struct fetchlog *
fetchlog_new(void)
{
	return calloc(1, sizeof(struct fetchlog));
}

void
fetchlog_reset(struct fetchlog *fl)
{
	memset(fl->index, 0, sizeof(fl->index));
	memset(fl->slots, 0, fl->n * sizeof(fl->slots[0]));
	fl->n = 0;
	fl->dropped = 0;
}

uint64_t
fetchlog_hash(const void *p, size_t len)
{
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	/* MurmurHash3's fmix64: FNV's low bits alone spread poorly. */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

void
fetchlog_hll_add(uint8_t regs[FETCHLOG_HLL_REGS], uint64_t h)
{
	uint32_t i = (uint32_t)(h >> (64 - FETCHLOG_HLL_BITS));
	uint64_t w = h << FETCHLOG_HLL_BITS;
	uint8_t rank = w == 0 ? 64 - FETCHLOG_HLL_BITS + 1 :
	    (uint8_t)(__builtin_clzll(w) + 1);

	if (rank > 64 - FETCHLOG_HLL_BITS + 1)
		rank = 64 - FETCHLOG_HLL_BITS + 1;
	if (regs[i] < rank)
		regs[i] = rank;
}

void
fetchlog_hll_merge(uint8_t dst[FETCHLOG_HLL_REGS],
    const uint8_t src[FETCHLOG_HLL_REGS])
{
	for (size_t i = 0; i < FETCHLOG_HLL_REGS; i++)
		if (dst[i] < src[i])
			dst[i] = src[i];
}

uint64_t
fetchlog_hll_estimate(const uint8_t regs[FETCHLOG_HLL_REGS])
{
	const double m = FETCHLOG_HLL_REGS;
	double sum = 0, est;
	unsigned zeros = 0;

	for (size_t i = 0; i < FETCHLOG_HLL_REGS; i++) {
		sum += ldexp(1.0, -(int)regs[i]);
		zeros += regs[i] == 0;
	}
	est = 0.7213 / (1 + 1.079 / m) * m * m / sum;
	/* Small range: linear counting over the empty registers. */
	if (est <= 2.5 * m && zeros > 0)
		est = m * log(m / zeros);
	return (uint64_t)llround(est);
}

static void
fetchlog_inc(uint32_t *n)
{
	if (*n < UINT32_MAX)
		(*n)++;
}

int
fetchlog_count(struct fetchlog *fl, const char *domain, size_t dlen,
    int32_t day, const char *client, size_t clen, const char *ua,
    size_t ualen)
{
	struct fetchlog_slot *s = NULL;
	uint32_t h;
	size_t i;
	char cut[LIMIT_FETCH_AGENT_LEN];

	if (dlen == 0 || dlen > LIMIT_DNAME_LEN)
		return -1;
	h = (uint32_t)fetchlog_hash(domain, dlen) ^ (uint32_t)day *
	    0x9e3779b1u;
	for (i = h & (FETCHLOG_INDEX - 1); fl->index[i] != 0;
	    i = (i + 1) & (FETCHLOG_INDEX - 1)) {
		struct fetchlog_slot *x = &fl->slots[fl->index[i] - 1];

		if (x->hash == h && x->day == day &&
		    strncmp(x->domain, domain, dlen) == 0 &&
		    x->domain[dlen] == '\0') {
			s = x;
			break;
		}
	}
	if (s == NULL) {
		if (fl->n == LIMIT_FETCH_SLOTS) {
			fl->dropped++;
			return -1;
		}
		s = &fl->slots[fl->n++];
		fl->index[i] = (uint16_t)fl->n;
		s->day = day;
		s->hash = h;
		memcpy(s->domain, domain, dlen);
		s->domain[dlen] = '\0';
	}
	fetchlog_inc(&s->fetches);
	fetchlog_hll_add(s->hll, fetchlog_hash(client, clen));
	if (ua == NULL) {
		ua = "-";
		ualen = 1;
	}
	if (ualen > sizeof(cut))
		ualen = sizeof(cut);
	for (i = 0; i < ualen; i++)
		cut[i] = ua[i] >= 0x20 && ua[i] < 0x7f ? ua[i] : '?';
	for (i = 0; i < s->nagents; i++) {
		struct fetchlog_agent *a = &s->agents[i];

		if (a->len == ualen && memcmp(a->ua, cut, ualen) == 0) {
			fetchlog_inc(&a->n);
			return 0;
		}
	}
	if (s->nagents == LIMIT_FETCH_SLOT_AGENTS) {
		fetchlog_inc(&s->other);
		return 0;
	}
	s->agents[s->nagents].n = 1;
	s->agents[s->nagents].len = (uint8_t)ualen;
	memcpy(s->agents[s->nagents].ua, cut, ualen);
	s->agents[s->nagents].ua[ualen] = '\0';
	s->nagents++;
	return 0;
}
