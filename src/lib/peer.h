/*
 * peer.h - what each client address holds right now, process-wide: its
 * open connections (per listener kind) and the bytes buffered for it
 * (unfinished uploads and messages, reports on their way to the disk),
 * with a total over all of them.
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

#endif
