/*
 * fetchlog.h - the policy-fetch log's counters: per (domain, UTC day)
 * the number of fetches, the distinct client addresses (a HyperLogLog
 * sketch: approximate) and the most frequent User-Agents (a bounded
 * table; the rest counted as "other").
 *
 * A struct fetchlog is one worker's counts between two flushes: a fixed
 * table of LIMIT_FETCH_SLOTS domain-days, allocated once, so that
 * counting a fetch never allocates, locks or does I/O; a domain-day past
 * the table's room is counted in dropped. Pure: no I/O, no globals.
 *
 * The sketch: FETCHLOG_HLL_REGS one-byte registers (HyperLogLog,
 * Flajolet et al. 2007) over a fixed 64-bit hash of the address text, so
 * that sketches of every worker, flush and restart merge (register-wise
 * maximum). Its standard error is 1.04 / sqrt(256), about 6.5 %; below a
 * few hundred clients the small-range correction (linear counting) makes
 * it nearly exact.
 */
#ifndef STSGUARD_FETCHLOG_H
#define STSGUARD_FETCHLOG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "limits.h"

#define FETCHLOG_HLL_BITS 8
#define FETCHLOG_HLL_REGS (1u << FETCHLOG_HLL_BITS)

/* One User-Agent of a slot. */
struct fetchlog_agent {
	uint32_t n;			/* fetches, saturating */
	uint8_t	 len;			/* bytes of ua, 0..LIMIT_FETCH_AGENT_LEN */
	char	 ua[LIMIT_FETCH_AGENT_LEN + 1];	/* NUL-ended */
};

/* One domain-day. */
struct fetchlog_slot {
	int32_t	 day;			/* days since 1970-01-01, UTC */
	uint32_t hash;			/* of domain and day */
	uint32_t fetches;		/* saturating */
	uint32_t other;			/* fetches by agents past the slot's
					 * LIMIT_FETCH_SLOT_AGENTS */
	uint8_t	 nagents;
	char	 domain[LIMIT_DNAME_LEN + 1];
	uint8_t	 hll[FETCHLOG_HLL_REGS];
	struct fetchlog_agent agents[LIMIT_FETCH_SLOT_AGENTS];
};

#define FETCHLOG_INDEX (2 * LIMIT_FETCH_SLOTS)	/* a power of two */

struct fetchlog {
	size_t	 n;			/* slots used, 0..LIMIT_FETCH_SLOTS */
	uint64_t dropped;		/* fetches not counted: no room */
	uint16_t index[FETCHLOG_INDEX];	/* 0 free, else slot + 1 */
	struct fetchlog_slot slots[LIMIT_FETCH_SLOTS];
};

/* A new, empty table (caller frees with free()), or NULL when out of
 * memory. About 6 MiB of address space, touched as slots are used. */
struct fetchlog *fetchlog_new(void);
/* Empties fl for the next interval (touches only the used slots). */
void	fetchlog_reset(struct fetchlog *fl);
/* Counts one fetch of domain (dlen bytes, 1..LIMIT_DNAME_LEN) on UTC
 * day (days since the epoch) by client (the address as text) with
 * User-Agent ua (ualen bytes; NULL: none, counted as "-"). Bytes of ua
 * outside printable ASCII are kept as '?', and it is cut at
 * LIMIT_FETCH_AGENT_LEN bytes. Returns 0, or -1 when the table had no
 * room for a new domain-day (counted in dropped). Never allocates. */
int	fetchlog_count(struct fetchlog *fl, const char *domain, size_t dlen,
	    int32_t day, const char *client, size_t clen, const char *ua,
	    size_t ualen);

/* The 64-bit hash the sketches use (FNV-1a, then a finalizer that
 * spreads its bits). Fixed: sketches of every process merge. */
uint64_t fetchlog_hash(const void *p, size_t len);
/* Adds an item of hash h to sketch regs. */
void	fetchlog_hll_add(uint8_t regs[FETCHLOG_HLL_REGS], uint64_t h);
/* dst = the union of dst and src (register-wise maximum). */
void	fetchlog_hll_merge(uint8_t dst[FETCHLOG_HLL_REGS],
	    const uint8_t src[FETCHLOG_HLL_REGS]);
/* The distinct items sketch regs has seen, estimated (rounded). */
uint64_t fetchlog_hll_estimate(const uint8_t regs[FETCHLOG_HLL_REGS]);

#endif
