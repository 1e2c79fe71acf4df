/*
 * daemon_int.h - what the files of the daemon module share; not for other
 * modules.
 *
 * Threads: the main thread sets up, drops root, then waits for signals;
 * `workers` worker threads each run their own libevent loop (a base with
 * no locks) and accept on their own SO_REUSEPORT sockets (HTTPS, HTTP,
 * and SMTP when smtp_listen is set); report intake only reads bytes on
 * a worker: the pool's threads (as many) take each report or message apart
 * (anything an attacker can make slow happens there), and the one
 * writer thread commits reports and quarantine entries in groups (see
 * daemon_intake.c); the reload thread polls the store and swaps the
 * policy table; the ACME manager (certificates = acme) runs in its own
 * thread inside the acme module. Nothing on a worker touches the disk.
 *
 * The policy table is immutable once published. Workers read it through
 * an atomic pointer without locks; a replaced table is freed by the
 * reload thread once every worker has passed a quiescent point (the
 * start of a callback) after the swap: quiescent-state-based reclamation,
 * one counter per worker, no reader-side atomics beyond one store.
 */
#ifndef STSGUARD_DAEMON_INT_H
#define STSGUARD_DAEMON_INT_H

/* The nice value of the pool's threads, relative to the workers. */
#define DAEMON_POOL_NICE 5

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../check/check.h"
#include "../cluster/cluster.h"
#include "../dns/dns.h"
#include "../http/http.h"
#include "../intake/intake.h"
#include "../lib/err.h"
#include "../lib/limits.h"
#include "../lib/peer.h"
#include "../smtp/smtp.h"
#include "../lib/strv.h"
#include "../store/store.h"
#include "../web/web.h"


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

/* One report intake token (the 32 hex digits of /tlsrpt/<token> and
 * tlsrpt+<token>@service_host) and the hosted domain it belongs to. One
 * allocation holds both strings. */
struct ptable_token {
	uint32_t	 hash;
	char		 token[STORE_TOKEN_LEN + 1];
	char		 domain[];	/* A-label, lower case */
};

struct ptable {
	struct ptable_entry **slots;	/* open addressing, mask + 1 slots */
	size_t		 mask;
	size_t		 n;		/* entries */
	struct ptable_token **tslots;	/* the token set, tmask + 1 slots */
	size_t		 tmask;
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
/* The domain whose intake token is token (lower-case hex, NUL-ended),
 * or NULL. Borrowed as long as t is (until the caller's next quiescent
 * point). Pure and lock-free. */
const char *ptable_find_token(const struct ptable *t, const char *token);
void	ptable_free(struct ptable *t);

/* --- shared state ---------------------------------------------------- */

struct worker;
struct tls;
struct acme_manager;
struct intake;

struct daemon;
struct intake;

/* Slow work a worker hands off, so that its loop keeps serving
 * policies: a task runs on a thread of the pool (daemon_pool_post: run),
 * then comes back to the worker that posted it (owner), whose loop calls
 * done. Embed it as the first member of the task's own struct. Intake's
 * jobs are tasks (parsed in the pool, then committed by the writer); a
 * handler that must read the store or ask the DNS posts its own the same
 * way, and answers its connection from done. */
struct daemon_task {
	struct daemon_task *next;	/* in a queue or a done list */
	struct intake	*owner;		/* the worker it comes back to */
	/* On a pool thread: the work; then daemon_task_back(t), or t
	 * handed on (intake's: to the writer, which hands it back). */
	void		(*run)(struct daemon *d, struct daemon_task *t);
	/* On the owner's loop, once back: answers and frees. */
	void		(*done)(struct daemon_task *t);
};

/* What a job came by. */
enum intake_via {
	INTAKE_VIA_HTTPS = 0,	/* one report; waiter: a struct conn */
	INTAKE_VIA_SMTP = 1,	/* one message; waiter: its struct
				 * smtp_delivery */
};

/* A report POSTed over HTTPS, or one e-mail, on its way through intake
 * (daemon_intake.c):
 *
 *	worker --pool queue---> a pool thread: intake_examine
 *	       --write queue--> the writer: one transaction per batch
 *	       --done list----> the worker: the answer
 *
 * Made on a worker; owned by each queue in turn, then by the worker's
 * done list, then freed by the worker (intake_job_free). Only the worker
 * reads or writes waiter; only a pool thread writes parts, only the writer
 * results and ids, each before handing the job on under a lock. The
 * writer commits a job's pieces in one transaction, never split over
 * two (a message is stored whole or not at all). */
struct intake_job {
	struct daemon_task task;	/* first: owner, queue link */
	void		*waiter;	/* who gets the answer, NULL once it
					 * is gone (worker only) */
	enum intake_via	 via;
	uint8_t		*in;		/* owned (free): the body or message */
	size_t		 inlen;
	struct peer	*peer;		/* holds held bytes for it */
	size_t		 held;		/* reserved in d->peers: the size of
					 * in's buffer */
	bool		 upload;	/* HTTPS: counted as one of peer's
					 * uploads (peers_admit) until freed */
	char		 client[64];	/* peer address */
	char		 client_key[PEER_TEXT_LEN];	/* its /64 or so */
	char		 domain[LIMIT_DNAME_LEN + 1];	/* the token's, or ""
					 * (SMTP: the first recipient's) */
	/* SMTP only: the envelope as received. */
	char		 mail_from[LIMIT_SMTP_PATH_LEN + 1];
	char		 rcpt_to[LIMIT_SMTP_PATH_LEN + 1];
	struct intake_dkim dkim;	/* SMTP: the pool's DKIM verdict */
	struct store_origin o;		/* borrows from the job */
	struct intake_item item;	/* the pool's verdict (parts), then
					 * the writer's results */
};

/* A queue of tasks between threads. */
struct task_queue {
	pthread_mutex_t	 mu;		/* guards what follows */
	pthread_cond_t	 cond;		/* signalled on post and on stop */
	struct daemon_task *head, **tail;	/* FIFO */
	bool		 stop;		/* finish the queue, then exit */
};

/* The pool: as many threads as workers, each taking a task and running
 * it (intake: intake_examine, the slow part, then on to the writer). */
struct daemon_pool {
	struct task_queue q;
	pthread_t	*thr;
	int		 n, started;
};

/* The writer: one thread, its own store handle, a queue of jobs. It
 * takes everything queued (whole jobs, up to LIMIT_INTAKE_BATCH_JOBS
 * pieces and LIMIT_INTAKE_BATCH_BYTES raw bytes) and commits it in one
 * transaction (store report_add_batch: reports and quarantine entries,
 * one sync for the lot), then hands each job back to its worker. */
struct intake_writer {
	pthread_t	 thr;
	bool		 started;
	struct task_queue q;		/* of intake jobs */
	struct store	*store;		/* writer thread only; NULL until
					 * opened */
	const char	*data_dir;
	const char	*store_url;	/* the setting store, or NULL */
	bool		 store_failing;	/* the last commit failed (logged) */
	struct store_quarantine_caps caps;	/* for anonymous input */
	bool		 require_dkim;	/* the setting */
	struct met_slot	*met;		/* the writer's counters */
};

/* --- metrics (daemon_metrics.c) --------------------------------------- */

/* The counters of one thread: each worker has a slot, the intake writer
 * the last one. Only the slot's thread writes it (met_inc: a relaxed load
 * and store, no read-modify-write); a scrape reads them all, relaxed. */
#define MET_COMMIT_BUCKETS 12	/* 11 bounds (daemon_metrics.c) and +Inf */
enum met_counter {
	MET_POLICY_SERVED,	/* policy fetches: 200 */
	MET_POLICY_UNKNOWN,	/* 404: no such hosted name */
	MET_POLICY_MISDIRECTED,	/* 421: the SNI named another host */
	MET_TLS_FULL,		/* handshakes on the HTTPS listener */
	MET_TLS_RESUMED,
	MET_TLS_ACME,		/* tls-alpn-01 validations */
	MET_TLS_FAILED,
	MET_HTTPS_STORED,	/* intake answers: 201 */
	MET_HTTPS_DUPLICATE,	/* 200 */
	MET_HTTPS_INVALID,	/* 400, kept in quarantine */
	MET_HTTPS_REFUSED,	/* other 4xx, from the head or the framing */
	MET_HTTPS_LIMITED,	/* 429 */
	MET_HTTPS_UNAVAILABLE,	/* 503 */
	MET_SMTP_STORED,	/* 250, a report added */
	MET_SMTP_DUPLICATE,	/* 250, all duplicates */
	MET_SMTP_INVALID,	/* 554, kept in quarantine */
	MET_SMTP_REFUSED,	/* 550 at RCPT: not a report address of ours */
	MET_SMTP_LIMITED,	/* 450 at RCPT: the client's rate */
	MET_SMTP_UNAVAILABLE,	/* 451 */
	MET_STORED_HTTPS,	/* the writer: pieces stored, by route */
	MET_STORED_SMTP,
	MET_DUP_HTTPS,
	MET_DUP_SMTP,
	MET_QUAR_HTTPS,
	MET_QUAR_SMTP,
	MET_STORE_FAILED,	/* commits that failed */
	MET_N_COUNTERS,
	/* the writer's commit latency histogram (not cumulative here) */
	MET_COMMIT_BUCKET = MET_N_COUNTERS,
	MET_COMMIT_USEC = MET_COMMIT_BUCKET + MET_COMMIT_BUCKETS,	/* sum */
	MET_N,
};

struct met_slot {
	_Alignas(64) atomic_uint_fast64_t c[MET_N];
};

/* One more of counter k in s, from s's own thread. */
static inline void
met_add(struct met_slot *s, int k, uint64_t n)
{
	atomic_store_explicit(&s->c[k], atomic_load_explicit(&s->c[k],
	    memory_order_relaxed) + n, memory_order_relaxed);
}

static inline void
met_inc(struct met_slot *s, int k)
{
	met_add(s, k, 1);
}

struct daemon;
/* Makes the slots (d->nworkers + 1). Returns 0 or -1 with the reason. */
int	metrics_setup(struct daemon *d, struct err *e);
/* Opens the metrics listener at spec ("ADDR:PORT"; NULL, "" or "off":
 * none), as root, before the drop. Returns 0 or -1 with the reason. */
int	metrics_listen(struct daemon *d, const char *spec, struct err *e);
/* Starts the listener's thread (when there is a listener). Returns 0 or
 * -1 with the reason. */
int	metrics_start(struct daemon *d, struct err *e);
/* Stops that thread and closes the listener (first of all at stop: a
 * scrape reads the ACME manager). */
void	metrics_stop(struct daemon *d);
/* Frees the slots (last: every counting thread has stopped). */
void	metrics_free(struct daemon *d);
/* Counts one intake commit that took usec microseconds (writer). */
void	metrics_commit_time(struct met_slot *s, uint64_t usec);

struct daemon {
	const struct conf *conf;
	const char	*data_dir;
	const char	*store_url;	/* the setting store, or NULL */
	const char	*service_host;
	const char	*dns_zone;	/* the setting dns_zone, normalized
					 * into dns_zone_buf; NULL: unset */
	char		 dns_zone_buf[LIMIT_DNAME_LEN + 1];
	char		 https_port[8];	/* ":PORT" of https_listen for
					 * redirects, "" when it is 443 */
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
	/* Certificates shared with the other nodes (store_key_file set,
	 * certificates acme), synced by the reload thread; else NULL. */
	struct cluster	*cluster;
	unsigned char	 store_key[SEAL_KEY_LEN];	/* store_key_file */
	bool		 has_store_key;
	pthread_mutex_t	 names_mu;	/* held by the reload thread while it
					 * swaps or frees tables, and by the
					 * ACME names callback while it reads
					 * the current one */
	struct strv	 listen_addrs;	/* explicit listen addresses */

	struct peers	*peers;		/* per client: connections, bytes,
					 * report rate, uploads */
	unsigned	 intake_rate;	/* reports a minute per client (the
					 * setting), 0: no limit */
	unsigned	 intake_concurrent;	/* uploads at once per client
					 * (the setting), 0: no limit */
	unsigned	 max_conns;	/* HTTP(S) per worker (fd budget) */
	unsigned	 max_conns_client;	/* HTTP(S) per client, in all */
	unsigned	 smtp_max_conns;	/* SMTP per worker */
	struct daemon_pool pool;	/* slow work, intake's parsing and
					 * DKIM keys */
	struct dns_conf	 dns;		/* the settings nameserver and
					 * dnssec_trust_anchor, for every
					 * resolver the daemon makes */
	struct dns_publisher *dnspub;	/* delegated mode with
					 * dns_update_server: the reload
					 * thread's (daemon_reload.c); NULL:
					 * no DNS UPDATE */
	struct intake_writer writer;	/* report intake: group commit */

	/* Metrics (daemon_metrics.c). */
	struct met_slot	*met;		/* nworkers + 1: the workers', then
					 * the writer's */
	int		 metrics_fd;	/* the listener, or -1 */
	int		 metrics_stop_fd;	/* eventfd, or -1 */
	pthread_t	 metrics_thr;
	bool		 metrics_started;
	struct check_monitor_config monitor_conf;	/* the settings */
	struct check_monitor *monitor;	/* periodic checks, alerts, and
					 * checks on demand (the API) */
};

/* --- the REST API (daemon_api.c) -------------------------------------- */

/* One request to the service host's web front (the REST API, later the
 * dashboard) on its way through the pool: its head copied and its body
 * read on the worker, answered by web_serve on a pool thread (with that
 * thread's own store handle), written by the worker. */
struct api_job {
	struct daemon_task task;	/* first: owner, queue link */
	void		*waiter;	/* its struct conn; NULL once gone */
	bool		 head;		/* HEAD: no body in the answer */
	char		*fields;	/* owned: target, Authorization,
					 * Content-Type, Cookie, Origin, each
					 * NUL-terminated, one after another */
	char		*target;	/* in fields: path and query */
	uint8_t		*body;		/* owned (free), or NULL */
	size_t		 body_cap;	/* of body, reserved for peer */
	struct peer	*peer;		/* holds body_cap bytes for it */
	char		 client[64];	/* peer address */
	struct web_request rq;		/* points into the above */
	struct web_response resp;	/* the pool's answer */
};

/* Copies what web_serve needs of r's head (the connection's peer
 * address client) into a new job for in's worker; nothing is posted
 * yet. Never fails (out of memory is fatal). */
struct api_job *api_new(struct intake *in, void *waiter,
	    const struct http_request *r, const char *client);
/* Gives j the body read for it: data[0..len) in a buffer of cap bytes
 * that peer holds in d->peers (j frees it and gives the bytes back),
 * or NULL. */
void	api_body(struct api_job *j, uint8_t *data, size_t cap, size_t len,
	    struct peer *peer);
/* Posts j to the pool; the answer comes back to its worker
 * (conn_api_done), which then frees j. */
void	api_start(struct api_job *j);
/* Frees a job that was never started (its body refused). */
void	api_job_free(struct api_job *j);
/* Closes the pool thread's store handle (at the thread's end). */
void	api_thread_end(void);

/* --- report intake (daemon_intake.c) --------------------------------- */

/* A worker's mailbox: the tasks that came back to it. */
struct intake {
	struct daemon	*d;
	int		 id;		/* worker number, for logs */
	pthread_mutex_t	 mu;		/* guards done */
	struct daemon_task *done;	/* back, not yet taken */
	int		 done_fd;	/* eventfd: rung when done becomes
					 * non-empty; -1 when not set up */
	struct met_slot	*met;		/* the worker's counters */
};

/* What intake_route decided about a request head. */
enum {
	INTAKE_NONE = 0,	/* not an intake request: route it as before */
	INTAKE_READ_BODY = 1,	/* read content_length bytes, or decode
				 * the chunked body, then call
				 * intake_http_post */
	/* any other value: the HTTP status to answer now, with the JSON
	 * body intake_route wrote (the body is not read) */
};

#define INTAKE_JSON_LEN 320	/* {"error": "..."} answers */

/* Decides a request on the HTTPS listener for host (normalized) before
 * its body is read: POST /tlsrpt/<token> on service_host with a known
 * token, a report media type and a Content-Length from 1 to
 * LIMIT_INTAKE_BODY_BYTES, or a chunked body, gives INTAKE_READ_BODY
 * and the token's domain in domain; any other request for /tlsrpt/...
 * on service_host gives the status to answer (400 Content-Length 0, 404
 * unknown token or path, 405 method, 411 neither Content-Length nor
 * chunked, 413 Content-Length too large, 415 media type) and its JSON
 * body in json; everything else gives INTAKE_NONE. A chunked body's size
 * is decided while it is read (intake_body_refuse). Reads only the
 * published table: no I/O. */
int	intake_route(const struct daemon *d, const struct http_request *r,
	    const char *host, char domain[LIMIT_DNAME_LEN + 1],
	    char json[INTAKE_JSON_LEN], size_t *jsonlen);
/* Why a body is refused while it is read (intake_body_refuse): the
 * status http_chunked_feed gave (400 malformed, 413 over
 * LIMIT_INTAKE_BODY_BYTES, 431 trailers over the head's limits), or: */
enum {
	INTAKE_EMPTY = -1,	/* no data ("0\r\n\r\n"): 400 */
	INTAKE_FRAMING = -2,	/* more chunk framing than its data allows
				 * (LIMIT_INTAKE_CHUNK_FRAMING): 400 */
};
/* Writes the JSON answer to a body refused for why (above) into json,
 * the same words as intake_route's for the same fault. Returns the HTTP
 * status: 400, 413 or 431. */
int	intake_body_refuse(int why, char json[INTAKE_JSON_LEN],
	    size_t *jsonlen);
/* "Retry-After: N\r\n" and its NUL. */
#define INTAKE_RETRY_LEN 40
/* The per-client limits of anonymous intake, for a request that
 * intake_route would read (INTAKE_READ_BODY) from peer: counts one
 * upload of peer and takes one report from its bucket (peers_admit at
 * the time now) and returns INTAKE_READ_BODY; or returns 429 with its
 * JSON body in json (which limit, and for the rate when to come back)
 * and the header line "Retry-After: N\r\n" (seconds until the client
 * may try again) in retry, nothing counted or taken. The upload ends
 * with peers_upload_end, or when the job that takes the body is freed.
 * Worker thread; takes the peers' lock once, never waits. */
int	intake_admit(struct daemon *d, struct peer *peer,
	    char json[INTAKE_JSON_LEN], size_t *jsonlen,
	    char retry[INTAKE_RETRY_LEN]);
/* Posts one report body received for domain from client to the
 * pool, as a job (waiter = waiter) that takes buf (a malloc'd block
 * of held bytes, reserved for peer in d->peers; the job gives them
 * back when freed) and holds len bytes of body, and peer's upload that
 * intake_admit counted (ended when the job is freed). Returns the job:
 * the answer comes when it is back on the worker (intake_done_take,
 * intake_http_answer). Worker thread; never waits. */
struct intake_job *intake_http_post(struct intake *in, void *waiter,
	    const char *client, const char *client_key, const char *domain,
	    struct peer *peer, uint8_t *buf, size_t held, size_t len);
/* The answer for a finished HTTPS job: 201 stored, 200 duplicate, 400
 * invalid (kept in quarantine: the reason), or 503 (the commit failed:
 * try later), its JSON body in json. */
int	intake_http_answer(const struct intake_job *j,
	    char json[INTAKE_JSON_LEN], size_t *jsonlen);
/* Sets up in's completion list and eventfd (done_fd, non-blocking; the
 * worker watches it). Returns 0 or -1 with the reason. */
int	intake_init(struct intake *in, struct daemon *d, int id,
	    struct err *e);
/* Reads the doorbell and takes every task that came back to in, as a
 * list through next (the caller calls each one's done). */
struct daemon_task *intake_done_take(struct intake *in);
/* Queues t for the pool (from a worker; t->owner is it). */
void	daemon_pool_post(struct daemon *d, struct daemon_task *t);
/* Hands t back to its owner's loop (from any thread): rings its
 * doorbell when its list was empty. */
void	daemon_task_back(struct daemon_task *t);
/* Frees j and gives back the bytes it held. */
void	intake_job_free(struct intake_job *j);

/* Starts the writer, then the pool's threads (d->nworkers of them).
 * Returns 0 or -1 with the reason. */
int	intake_start(struct daemon *d, struct err *e);
/* Stops them once every queued task has run and every job is committed
 * and handed back: call after the workers have stopped posting
 * (joined). */
void	intake_stop(struct daemon *d);
/* Fills h with the SMTP hooks of the worker whose intake state is in
 * (h->arg = in): rcpt checks the token set; deliver takes the message
 * and posts it as a job, answering later (SMTP_DELIVER_PENDING;
 * intake_smtp_done gives the answer); deliver_cancel forgets a job whose
 * connection is gone; log writes to the daemon's log. */
struct smtp_hooks;
void	intake_smtp_hooks(struct intake *in, struct smtp_hooks *h);
/* Answers the SMTP delivery of a finished job (INTAKE_VIA_SMTP), unless
 * its connection is gone: 250 when a report was added or all were
 * duplicates, 554 when nothing in it was a valid report (it is kept in
 * quarantine), 451 when the commit failed. Worker thread, from the
 * completion list; the caller frees j afterwards. */
void	intake_smtp_done(struct intake_job *j);
/* Frees what intake_init made and any finished job nobody took (after
 * the writer has stopped). */
void	intake_fini(struct intake *in);

/* --- workers (daemon_worker.c) and their connections (daemon_conn.c) --- */

struct conn;
struct event;
struct event_base;
struct sockaddr_storage;

/* One worker thread: its event loop, its listening sockets, its
 * connections. Only its own thread touches it after start, but for
 * seen (the reload thread reads it). */
struct worker {
	struct daemon	*d;
	int		 id;
	pthread_t	 thr;
	bool		 started;
	struct event_base *base;
	int		 https_fd, http_fd, stop_fd, smtp_fd;
	struct event	*ev_https, *ev_http, *ev_tick, *ev_stop;
	struct event	*ev_done;	/* intake.done_fd: jobs are back */
	struct smtp_server *smtp;	/* NULL without smtp_listen */
	struct smtp_hooks smtp_hooks;	/* .arg = &intake */
	struct intake	 intake;	/* jobs back from the writer */
	struct event	*ev_resume;	/* accepting again after a pause */
	time_t		 paused_logged;	/* last "paused" log line */
	unsigned	 pauses;	/* since that line */
	atomic_uint_fast64_t seen;	/* quiescent counter */
	bool		 draining;	/* SIGTERM: no new requests */
	time_t		 drain_until;
	time_t		 now;		/* monotonic, updated each tick */
	struct conn	*conns;
	size_t		 nconns;
	char		 date[HTTP_DATE_LINE_LEN + 1];
	time_t		 date_sec;
	struct fetch_state *fetch;	/* the fetch log (daemon_fetch.c) */
};

/* --- the policy-fetch log (daemon_fetch.c) ----------------------------- */

struct fetch_state;
/* Gives w its two fetch-log tables. Returns 0 or -1 with the reason. */
int	fetch_setup(struct worker *w, struct err *e);
/* Counts a policy served for host (normalized; "mta-sts." is taken
 * off) to client with r's User-Agent, on the day of w->date_sec. Worker
 * thread; no lock, no allocation, no I/O. */
void	fetch_count(struct worker *w, const char *host, size_t hlen,
	    const char *client, const struct http_request *r);
/* From the tick: every LIMIT_FETCH_FLUSH_SECONDS, hands the counts to
 * the pool (store_fetch_add) and counts on in the spare table. */
void	fetch_tick(struct worker *w);
/* At the worker's end: hands what is left to the pool. */
void	fetch_final(struct worker *w);
/* Frees the tables (after intake_fini gave back those in flight). */
void	fetch_free(struct worker *w);
/* Closes the pool thread's store handle of the fetch log. */
void	fetch_thread_end(void);

/* Monotonic seconds (coarse: the tick's clock). */
static inline time_t
daemon_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec;
}

/* Monotonic milliseconds (coarse: a few ms), the clock of the report
 * buckets (peers_admit). */
static inline uint64_t
daemon_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A quiescent point: the worker holds no table pointer from before. */
static inline void
worker_quiesce(struct worker *w)
{
	atomic_store(&w->seen, atomic_load(&w->d->gen));
}

/* Refreshes w's Date line when the second changed. */
void	worker_date(struct worker *w);
/* Sets a worker up (its base, events, SMTP server) on the main thread,
 * before it runs. Returns 0 or -1 with the reason. */
int	worker_setup(struct worker *w, struct err *e);
/* The worker's thread: runs the loop until stopped, then closes every
 * connection. */
void	*worker_main(void *arg);
/* Frees what worker_setup made (after the thread, if any, was joined). */
void	worker_free(struct worker *w);

/* Takes a connection accept gave (fd, from ss, counted for client in
 * d->peers) into w; tls on the HTTPS listener. */
void	conn_accepted(struct worker *w, int fd,
	    const struct sockaddr_storage *ss, struct peer *client, bool tls);
/* Once a second: closes connections past their deadline (or uploading
 * too slowly), and idle ones when draining. */
void	conn_tick(struct worker *w);
/* A report's job is back from intake: answers its connection. */
void	conn_job_done(struct conn *c, struct intake_job *j);
/* An API request is back from the pool: answers its connection. */
void	conn_api_done(struct conn *c, struct api_job *j);
/* Closes every connection of w, without an answer (at exit). */
void	conn_free_all(struct worker *w);

/* The route table of both listeners (daemon_conn.c), for the fuzzer. */
extern const struct http_route daemon_routes[];
extern const size_t daemon_nroutes;

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
