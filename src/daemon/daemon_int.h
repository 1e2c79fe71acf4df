/*
 * daemon_int.h - what the files of the daemon module share; not for other
 * modules.
 *
 * Threads: the main thread sets up, drops root, then waits for signals;
 * `workers` worker threads each run their own libevent loop (a base with
 * no locks) and accept on their own SO_REUSEPORT sockets; the reload
 * thread polls the store and swaps the policy table; the ACME manager
 * (certificates = acme) runs in its own thread inside the acme module.
 *
 * The policy table is immutable once published. Workers read it through
 * an atomic pointer without locks; a replaced table is freed by the
 * reload thread once every worker has passed a quiescent point (the
 * start of a callback) after the swap: quiescent-state-based reclamation,
 * one counter per worker, no reader-side atomics beyond one store.
 */
#ifndef STSGUARD_DAEMON_INT_H
#define STSGUARD_DAEMON_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../lib/err.h"
#include "../lib/limits.h"
#include "../lib/strv.h"
#include "../store/store.h"

/* --- the policy table (daemon_table.c) ------------------------------- */

/* One hosted name, its response ready to send. One allocation holds the
 * entry and its bytes. */
struct ptable_entry {
	uint32_t	 hash;
	uint32_t	 host_len;
	const char	*host;		/* "mta-sts.example.com" */
	const char	*fields;	/* "Content-Type: text/plain\r\n
					 * Content-Length: N\r\n" */
	size_t		 fields_len;
	const char	*body;		/* the canonical CRLF policy */
	size_t		 body_len;
};

struct ptable {
	struct ptable_entry **slots;	/* open addressing, mask + 1 slots */
	size_t		 mask;
	size_t		 n;		/* entries */
	time_t		 next_expiry;	/* earliest serve_until of a removed
					 * domain still served, or 0 */
	/* Reclamation bookkeeping (reload thread only). */
	uint64_t	 retired_gen;
	struct ptable	*retired_next;
};

/* Builds a table from every domain of the store: active domains, and
 * removed ones whose serve_until is still after now (they serve mode
 * none, RFC 8461 §8.3). Returns the table (free with ptable_free) or NULL
 * with the reason. */
struct ptable *ptable_build(struct store *s, time_t now, struct err *e);
/* The entry for host (normalized: lower case, no port, no trailing dot),
 * or NULL. Pure and lock-free. */
const struct ptable_entry *ptable_find(const struct ptable *t,
	    const char *host, size_t len);
void	ptable_free(struct ptable *t);

/* --- shared state ---------------------------------------------------- */

struct worker;
struct tls;
struct acme_manager;

struct daemon {
	const struct conf *conf;
	const char	*data_dir;
	const char	*service_host;
	struct tls	*tls;
	bool		 acme;		/* certificates = acme */
	bool		 http01;	/* answer ACME HTTP-01 */
	int		 nworkers;
	struct worker	*workers;

	_Atomic(struct ptable *) table;
	atomic_uint_fast64_t gen;	/* bumped after each swap */
	atomic_bool	 stopping;

	/* Reload thread. */
	pthread_t	 reload_thr;
	bool		 reload_started;
	pthread_mutex_t	 reload_mu;	/* guards stop flag and the cond */
	pthread_cond_t	 reload_cond;
	bool		 reload_stop;
	struct ptable	*retired;	/* waiting for every worker */

	/* ACME manager. */
	struct acme_manager *acme_mgr;
	pthread_mutex_t	 names_mu;	/* held by the reload thread while it
					 * swaps or frees tables, and by the
					 * ACME names callback while it reads
					 * the current one */
	struct strv	 listen_addrs;	/* explicit listen addresses */
};

/* Quiescent counter of worker i (daemon_serve.c). */
uint64_t daemon_worker_seen(struct daemon *d, int i);

/* Starts the reload thread (daemon_reload.c); the first table must be
 * published already. Returns 0 or -1 with the reason. */
int	daemon_reload_start(struct daemon *d, struct err *e);
/* Stops it and frees every retired table. */
void	daemon_reload_stop(struct daemon *d);
/* Builds and publishes a table now (start-up, and the reload thread).
 * Returns 0 or -1 with the reason (the old table stays). */
int	daemon_reload_now(struct daemon *d, struct store *s, struct err *e);

#endif
