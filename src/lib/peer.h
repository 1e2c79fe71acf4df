/*
 * peer.h - what each client address holds right now, process-wide: its
 * open connections (per listener kind) and the bytes buffered for it
 * (unfinished uploads and messages, reports on their way to the disk),
 * with a total over all of them; and what report intake allows it: a
 * rate of reports (a token bucket, HTTPS and SMTP together) and a number
 * of HTTPS uploads at once.
 *
 * Every listener is public (the intake URL and address are in DNS), so
 * each limit is enforced per client as well as in total: one address
 * cannot take every slot or every byte. An IPv4 client is its address
 * (also when it arrives IPv4-mapped on an IPv6 socket); an IPv6 client
 * is its /64, the block one subscriber gets, or one attacker could be
 * 2^64 clients.
 *
 * Thread-safe (one mutex; taken per connection and per buffer growth,
 * never per request).
 */
#ifndef STSGUARD_PEER_H
#define STSGUARD_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sockaddr;

/* "192.0.2.1" or "2001:db8:1:2::/64": INET6_ADDRSTRLEN + "/64". */
#define PEER_TEXT_LEN 50

enum peer_kind {
	PEER_HTTP = 0,		/* HTTPS and plain HTTP connections */
	PEER_SMTP = 1,
	PEER_NKINDS
};

struct peer;
struct peers;

/* A table with a total of max_bytes and max_bytes_per_peer for any one
 * client. Returns NULL when out of memory. */
struct peers *peers_new(size_t max_bytes, size_t max_bytes_per_peer);
void	peers_free(struct peers *ps);

/* Counts one more connection of kind from the client of sa unless it
 * already has max of that kind (0: no limit). Returns the client's entry
 * (valid until the matching peers_leave, and as long as it holds bytes),
 * or NULL when over the limit or out of memory. */
struct peer *peers_join(struct peers *ps, const struct sockaddr *sa,
	    enum peer_kind kind, unsigned max);
void	peers_leave(struct peers *ps, struct peer *p, enum peer_kind kind);

/* Reserves n more bytes for p unless that would pass its share or the
 * total. Returns true when reserved. peers_give returns n of them. */
bool	peers_take(struct peers *ps, struct peer *p, size_t n);
void	peers_give(struct peers *ps, struct peer *p, size_t n);

/* Bytes reserved over all clients, and by p. */
size_t	peers_bytes(struct peers *ps);
size_t	peer_bytes(struct peers *ps, const struct peer *p);

/* The client's key as text, "192.0.2.1" or "2001:db8:1:2::/64" (for
 * logs and for the quarantine's per-client cap). Borrowed from p. */
const char *peer_text(const struct peer *p);

/* The key of sa as text, without a table. */
void	peer_key_text(const struct sockaddr *sa, char out[PEER_TEXT_LEN]);

/* --- report intake: a rate and uploads at once, per client ----------- */

/* A token bucket of reports for a rate of R a minute: it holds at most R
 * reports (a minute's worth), is full at first, and gains R a minute,
 * continuously. Exact integer arithmetic: a report is PEER_BUCKET_UNIT
 * units and the bucket gains R units a millisecond, so that
 * "exactly empty" and "exactly refilled" are exact at any rate. */
#define PEER_BUCKET_UNIT 60000u		/* milliseconds in a minute */
struct peer_bucket {
	uint64_t level;		/* units, 0 .. R * PEER_BUCKET_UNIT, as of
				 * last */
	uint64_t last;		/* milliseconds, the caller's clock */
	bool	 used;		/* false: full (level and last unset) */
};

/* Takes one report from b at now_ms (a monotonic clock in milliseconds;
 * a time before the last one counts as the last one) for a rate of rate
 * reports a minute (0: no limit, always true). Returns true when taken;
 * false when b holds less than one report, with *wait_ms set to the
 * milliseconds until it holds one (at least 1), b unchanged but for the
 * refill. Pure: no lock, no clock. */
bool	peer_bucket_take(struct peer_bucket *b, unsigned rate,
	    uint64_t now_ms, uint64_t *wait_ms);
/* True when b is full at now_ms (nothing taken that has not come back)
 * for rate a minute. Pure. */
bool	peer_bucket_full(const struct peer_bucket *b, unsigned rate,
	    uint64_t now_ms);

/* Sets the intake limits of every client: rate reports a minute (a
 * bucket each, above; 0: no limit) and concurrent uploads at once (0: no
 * limit). Call before the table is shared between threads. */
void	peers_set_intake(struct peers *ps, unsigned rate, unsigned concurrent);

enum peer_admit {
	PEER_ADMIT = 0,		/* a report taken (and an upload counted) */
	PEER_OVER_RATE,		/* the bucket holds less than a report */
	PEER_OVER_CONCURRENT,	/* concurrent uploads already */
};

/* Admits one report of p at now_ms: with upload (an HTTPS request, to be
 * ended by peers_upload_end), only while p has fewer than the concurrent
 * uploads; then takes it from p's bucket. Returns PEER_ADMIT when both
 * held (the upload counted, the report taken), else what did not, with
 * nothing counted or taken and, for PEER_OVER_RATE, *wait_ms until the
 * bucket holds a report. p's entry stays while its bucket is not full
 * (peers_sweep frees it later). */
enum peer_admit peers_admit(struct peers *ps, struct peer *p,
	    uint64_t now_ms, bool upload, uint64_t *wait_ms);
/* Ends one upload that peers_admit counted for p. */
void	peers_upload_end(struct peers *ps, struct peer *p);
/* Uploads of p now (for tests). */
unsigned peer_uploads(struct peers *ps, const struct peer *p);
/* Frees the entries that hold nothing (no connection, byte or upload)
 * and whose bucket is full again at now_ms. Returns how many entries are
 * left. Call once in a while (the daemon: once a second); walks the whole
 * table under the lock. */
size_t	peers_sweep(struct peers *ps, uint64_t now_ms);

#endif
