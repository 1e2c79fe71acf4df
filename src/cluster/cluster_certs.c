/*
 * cluster_certs.c - certificates, the ACME account key, leases and
 * challenges shared by the nodes over the store (cluster.h).
 *
 * What goes where:
 *
 *	ACME order on node A              the store (migration 11)
 *	  claim(name)                  -> cert_lease: name held by A until
 *	                                  now + CLUSTER_LEASE_SECONDS, unless
 *	                                  another holder's has not expired;
 *	                                  then, if cert holds a certificate
 *	                                  of name not due for renewal, it is
 *	                                  written here and A does not order
 *	  challenge_put / _remove      -> acme_challenge (token, keyauth)
 *	  cert_put(chain, key)         -> cert: chain, seal(key), version =
 *	                                  1 + the greatest
 *	  release(name, until)         -> lease dropped, or kept until the
 *	                                  end of A's backoff
 *	every node, once a second (cluster_sync)
 *	  cert rows with version > seen -> <data_dir>/certs/NAME.key, .pem
 *	                                  when newer than the files; changed()
 *	  acme_challenge rows           -> acme_challenge_mirror
 *
 * Keys reach the database only sealed (lib/seal.h) and leave it only to
 * this node's disk (0600). One store connection, under a mutex: the
 * ACME manager's thread and the reload thread both use it. Never runs
 * on a worker thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cluster.h"
#include "../lib/dname.h"
#include "../lib/file.h"
#include "../lib/limits.h"
#include "../lib/log.h"
#include "../store/store.h"

/* How long a node's claim on ordering a name lasts: an order takes a
 * few minutes at worst (ACME_POLL_TRIES per authorization plus the HTTP
 * timeouts); a node that dies holding it delays the name this much. A
 * stored challenge is forgotten after as long. */
#define CLUSTER_LEASE_SECONDS 600
/* The account every node uses (one row of acme_account). */
#define CLUSTER_ACCOUNT "default"
#define CLUSTER_HOLDER_LEN 96

struct cluster {
	struct acme_shared acme;	/* arg is this */
	pthread_mutex_t	 mu;		/* s, seen */
	struct store	*s;
	char		*data_dir;
	unsigned char	 key[SEAL_KEY_LEN];
	char		 holder[CLUSTER_HOLDER_LEN];	/* host/pid/random */
	int64_t		 seen;		/* greatest cert version synced */
};

/* Writes the certificate sc (key sealed) to <data_dir>/certs unless the
 * files there are as new (same or later notAfter). *wrote says whether
 * it did. Returns 0, or -1 with the reason (not written). */
static int
cluster_install(struct cluster *c, const struct store_cert *sc, bool *wrote,
    struct err *e)
{
	struct acme_cert_state st;
	unsigned char *pem = NULL;
	size_t n = 0;
	int rc = -1;

	*wrote = false;
	/* The name becomes a file name: only a host name will do. */
	if (dname_check_alabel(sc->name, strlen(sc->name), false, e) == -1)
		return -1;
	if (acme_cert_state(c->data_dir, sc->name, &st) == 0 &&
	    st.not_after != 0 && st.not_after >= sc->not_after)
		return 0;
	if (seal_decrypt(c->key, sc->key, sc->key_len, &pem, &n, e) == -1) {
		err_prefix(e, "its key cannot be opened: ");
		return -1;
	}
	if (acme_cert_write(c->data_dir, sc->name, sc->chain,
	    strlen(sc->chain), (const char *)pem, n, e) == -1)
		goto out;
	*wrote = true;
	rc = 0;
out:
	if (pem != NULL) {
		sodium_memzero(pem, n);
		free(pem);
	}
	return rc;
}

/* --- the ACME module's side (struct acme_shared) ---------------------- */

/* What claim learns of the stored certificate: is it fresh, and was it
 * written here. */
struct cluster_fresh {
	struct cluster	*c;
	time_t		 now;
	bool		 fresh;
	struct err	 e;
	int		 rc;
};

static int
cluster_fresh_cb(void *arg, const struct store_cert *sc)
{
	struct cluster_fresh *f = arg;
	bool wrote;

	if (acme_renew_at(sc->not_before, sc->not_after) <= f->now)
		return 0;		/* due: order a new one */
	f->fresh = true;
	f->rc = cluster_install(f->c, sc, &wrote, &f->e);
	return 0;
}

static int
cluster_claim(void *arg, const char *name, struct err *e)
{
	struct cluster *c = arg;
	struct cluster_fresh f = { .c = c, .now = time(NULL) };
	int r;

	pthread_mutex_lock(&c->mu);
	r = store_lease_take(c->s, name, c->holder, f.now,
	    f.now + CLUSTER_LEASE_SECONDS, e);
	if (r != 1)
		goto out;
	/* Another node may have stored one since this node last looked. */
	if (store_cert_get(c->s, name, cluster_fresh_cb, &f, e) == -1) {
		r = -1;
	} else if (f.fresh) {
		r = f.rc == 0 ? 2 : -1;
		if (f.rc == -1)
			err_set(e, "%s", f.e.msg);
	}
	if (r != 1)
		(void)store_lease_release(c->s, name, c->holder, NULL);
out:
	pthread_mutex_unlock(&c->mu);
	return r;
}

static void
cluster_release(void *arg, const char *name, time_t until)
{
	struct cluster *c = arg;
	time_t now = time(NULL);
	struct err e;
	int r;

	pthread_mutex_lock(&c->mu);
	if (until > now)
		r = store_lease_take(c->s, name, c->holder, now, until, &e);
	else
		r = store_lease_release(c->s, name, c->holder, &e);
	pthread_mutex_unlock(&c->mu);
	if (r == -1)	/* it expires by itself */
		log_warn("cluster_lease", "%s: %s", name, e.msg);
}

static int
cluster_cert_put(void *arg, const char *name, const char *chain,
    size_t chain_len, const char *key, size_t key_len, struct err *e)
{
	struct cluster *c = arg;
	struct store_cert sc = { .name = name, .updated = time(NULL) };
	unsigned char *sealed = NULL;
	size_t n;
	char *text = NULL;
	int rc = -1;

	if (acme_chain_times(chain, chain_len, &sc.not_before,
	    &sc.not_after) == -1)
		return err_set(e, "%s: no certificate in the chain", name);
	if ((text = malloc(chain_len + 1)) == NULL)
		return err_set(e, "out of memory");
	memcpy(text, chain, chain_len);
	text[chain_len] = '\0';
	sc.chain = text;
	if (seal_encrypt(c->key, key, key_len, &sealed, &n, e) == -1)
		goto out;
	sc.key = sealed;
	sc.key_len = n;
	pthread_mutex_lock(&c->mu);
	rc = store_cert_put(c->s, &sc, NULL, e);
	pthread_mutex_unlock(&c->mu);
out:
	free(sealed);
	free(text);
	return rc;
}

static int
cluster_account_get(void *arg, char **pem, size_t *len, struct err *e)
{
	struct cluster *c = arg;
	unsigned char *plain;
	void *sealed;
	size_t n;
	int r;

	*pem = NULL;
	*len = 0;
	pthread_mutex_lock(&c->mu);
	r = store_acme_account_get(c->s, CLUSTER_ACCOUNT, &sealed, &n, e);
	pthread_mutex_unlock(&c->mu);
	if (r != 0)
		return r;
	r = seal_decrypt(c->key, sealed, n, &plain, len, e);
	free(sealed);
	if (r == -1) {
		err_prefix(e, "the ACME account key in the store: ");
		return -1;
	}
	*pem = (char *)plain;	/* NUL-terminated by seal_decrypt */
	return 0;
}

static int
cluster_account_put(void *arg, const char *pem, size_t len, struct err *e)
{
	struct cluster *c = arg;
	unsigned char *sealed;
	size_t n;
	int rc;

	if (seal_encrypt(c->key, pem, len, &sealed, &n, e) == -1)
		return -1;
	pthread_mutex_lock(&c->mu);
	rc = store_acme_account_put(c->s, CLUSTER_ACCOUNT, sealed, n,
	    time(NULL), e);
	pthread_mutex_unlock(&c->mu);
	free(sealed);
	return rc;
}

static int
cluster_challenge_put(void *arg, enum acme_challenge type, const char *name,
    const char *token, const char *keyauth, struct err *e)
{
	struct cluster *c = arg;
	struct store_challenge sc = { .token = token, .name = name,
	    .type = (int)type, .keyauth = keyauth,
	    .expires = time(NULL) + CLUSTER_LEASE_SECONDS };
	int rc;

	pthread_mutex_lock(&c->mu);
	rc = store_challenge_put(c->s, &sc, e);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static void
cluster_challenge_remove(void *arg, const char *token)
{
	struct cluster *c = arg;
	struct err e;
	int r;

	pthread_mutex_lock(&c->mu);
	r = store_challenge_remove(c->s, token, time(NULL), &e);
	pthread_mutex_unlock(&c->mu);
	if (r == -1)	/* it expires by itself */
		log_warn("cluster_challenge", "%s", e.msg);
}

/* --- the sync ------------------------------------------------------- */

struct cluster_walk {
	struct cluster	*c;
	cluster_changed_cb changed;
	void		*arg;
	size_t		 rows;
};

static int
cluster_sync_cert(void *arg, const struct store_cert *sc)
{
	struct cluster_walk *w = arg;
	struct err e;
	bool wrote;

	w->rows++;
	w->c->seen = sc->version;
	if (cluster_install(w->c, sc, &wrote, &e) == -1) {
		struct log_line l;

		log_begin(&l, LOG_WARN, "cluster_cert");
		log_cstr(&l, "name", sc->name);
		log_cstr(&l, "error", e.msg);
		log_end(&l);
		return 0;
	}
	if (wrote && w->changed != NULL)
		w->changed(w->arg, sc->name);
	return 0;
}

/* The challenges of one sync, copied out of the store's rows. */
struct cluster_chals {
	struct acme_challenge_row row[CLUSTER_SYNC_CHALLENGES];
	char	*text[CLUSTER_SYNC_CHALLENGES][3];
	size_t	 n;
	bool	 oom;
};

static int
cluster_sync_chal(void *arg, const struct store_challenge *sc)
{
	struct cluster_chals *ch = arg;
	char **t = ch->text[ch->n];

	if (ch->n == CLUSTER_SYNC_CHALLENGES ||
	    (sc->type != ACME_TLS_ALPN_01 && sc->type != ACME_HTTP_01))
		return 0;
	if ((t[0] = strdup(sc->name)) == NULL ||
	    (t[1] = strdup(sc->token)) == NULL ||
	    (t[2] = strdup(sc->keyauth)) == NULL) {
		free(t[0]);
		free(t[1]);
		t[0] = t[1] = NULL;
		ch->oom = true;
		return 0;
	}
	ch->row[ch->n].type = (enum acme_challenge)sc->type;
	ch->row[ch->n].name = t[0];
	ch->row[ch->n].token = t[1];
	ch->row[ch->n].keyauth = t[2];
	ch->n++;
	return 0;
}

int
cluster_sync(struct cluster *c, cluster_changed_cb changed, void *arg,
    struct err *e)
{
	struct cluster_walk w = { .c = c, .changed = changed, .arg = arg };
	struct cluster_chals *ch;
	int rc = -1;

	if ((ch = calloc(1, sizeof(*ch))) == NULL)
		return err_set(e, "out of memory");
	pthread_mutex_lock(&c->mu);
	if (store_cert_since(c->s, c->seen, CLUSTER_SYNC_CERTS,
	    cluster_sync_cert, &w, e) == -1 ||
	    store_challenge_list(c->s, time(NULL), CLUSTER_SYNC_CHALLENGES,
	    cluster_sync_chal, ch, e) == -1) {
		pthread_mutex_unlock(&c->mu);
		goto out;
	}
	pthread_mutex_unlock(&c->mu);
	if (ch->oom) {
		err_set(e, "out of memory");
		goto out;
	}
	if (acme_challenge_mirror(ch->row, ch->n, e) == -1)
		goto out;
	rc = w.rows == CLUSTER_SYNC_CERTS ? 1 : 0;
out:
	for (size_t i = 0; i < ch->n; i++)
		for (int j = 0; j < 3; j++)
			free(ch->text[i][j]);
	free(ch);
	return rc;
}

/* --- open, close ----------------------------------------------------- */

/* Checks at start that key opens what the store holds (the account key,
 * when there is one), so that a wrong store_key_file stops the node with
 * a clear message instead of failing at the first renewal. */
static int
cluster_check_key(struct cluster *c, struct err *e)
{
	char *pem;
	size_t len;
	int r;

	if ((r = cluster_account_get(c, &pem, &len, e)) == -1)
		return -1;
	if (r == 0) {
		sodium_memzero(pem, len);
		free(pem);
	}
	return 0;
}

int
cluster_open(const char *store_url, const char *data_dir,
    const unsigned char key[SEAL_KEY_LEN], struct cluster **cp,
    struct err *e)
{
	struct cluster *c;
	char host[64] = "node";
	uint32_t rnd;

	*cp = NULL;
	if (sodium_init() < 0)
		return err_set(e, "libsodium: cannot initialise");
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->data_dir = strdup(data_dir)) == NULL) {
		free(c);
		return err_set(e, "out of memory");
	}
	pthread_mutex_init(&c->mu, NULL);
	memcpy(c->key, key, SEAL_KEY_LEN);
	(void)gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	rnd = randombytes_random();
	snprintf(c->holder, sizeof(c->holder), "%s/%ld/%08x", host,
	    (long)getpid(), (unsigned)rnd);
	c->acme = (struct acme_shared){
		.arg = c,
		.claim = cluster_claim,
		.release = cluster_release,
		.cert_put = cluster_cert_put,
		.account_get = cluster_account_get,
		.account_put = cluster_account_put,
		.challenge_put = cluster_challenge_put,
		.challenge_remove = cluster_challenge_remove,
		.challenge_wait_ms = CLUSTER_CHALLENGE_WAIT_MS,
	};
	if (store_open_at(store_url, data_dir, &c->s, e) == -1 ||
	    cluster_check_key(c, e) == -1) {
		cluster_close(c);
		return -1;
	}
	*cp = c;
	return 0;
}

void
cluster_close(struct cluster *c)
{
	if (c == NULL)
		return;
	store_close(c->s);
	pthread_mutex_destroy(&c->mu);
	sodium_memzero(c->key, sizeof(c->key));
	free(c->data_dir);
	free(c);
}

const struct acme_shared *
cluster_acme(struct cluster *c)
{
	return &c->acme;
}
