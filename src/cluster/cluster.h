/*
 * cluster.h - what several `stsguard serve` nodes sharing one database
 * share about certificates (issue 15, "Several nodes"): the certificates
 * and keys the ACME module obtains, its account key, who orders which
 * name, and the challenges in progress.
 *
 * The module fills the ACME module's struct acme_shared over the store
 * (migration 11) and, called once a second from the daemon's reload
 * thread, brings what other nodes stored to this node: certificates
 * newer than this node's go to <data_dir>/certs (key 0600), and pending
 * challenges to the ACME module's registry, so that the listeners answer
 * from memory and never ask the database. Keys are sealed in the
 * database under the operator's store_key_file (lib/seal.h).
 */
#ifndef STSGUARD_CLUSTER_H
#define STSGUARD_CLUSTER_H

#include <stdint.h>

#include "../acme/acme.h"
#include "../lib/err.h"
#include "../lib/limits.h"
#include "../lib/seal.h"

/* How often a node looks for what the others stored (milliseconds), and
 * so how long an order waits after storing a challenge before the CA is
 * told to validate (acme_shared challenge_wait_ms). */
#define CLUSTER_SYNC_MS 1000
#define CLUSTER_CHALLENGE_WAIT_MS (2 * CLUSTER_SYNC_MS + 500)
/* Certificates read per sync: a node catching up with a large
 * installation takes several calls (serve makes them all at start). */
#define CLUSTER_SYNC_CERTS 256
#define CLUSTER_SYNC_CHALLENGES LIMIT_CLUSTER_CHALLENGES

struct cluster;

/* Opens the store of store_url (store_open_at: NULL means the SQLite file
 * of data_dir) for the shared state, with key the sealing key (copied).
 * A holder name for leases is made here (host name, process id, random).
 * Returns 0 and *c, or -1 with the reason. */
int	cluster_open(const char *store_url, const char *data_dir,
	    const unsigned char key[SEAL_KEY_LEN], struct cluster **c,
	    struct err *e);
void	cluster_close(struct cluster *c);

/* The ACME module's view of c (borrowed until cluster_close). Its
 * functions and cluster_sync may run on different threads. */
const struct acme_shared *cluster_acme(struct cluster *c);

/* Called by cluster_sync for each name whose files it replaced. */
typedef void (*cluster_changed_cb)(void *arg, const char *name);

/* One look at what the other nodes stored since the last: certificates
 * (written to data_dir when newer than the files there, then changed()
 * is called) and the challenges in progress (acme_challenge_mirror).
 * A certificate whose key cannot be opened (another store_key_file) is
 * skipped with a warning naming it. At most CLUSTER_SYNC_CERTS
 * certificates a call: returns 1 when more may wait (call again), 0
 * when this node has them all, or -1 with the reason (the database
 * cannot be read: the next call tries again). */
int	cluster_sync(struct cluster *c, cluster_changed_cb changed, void *arg,
	    struct err *e);

#endif
