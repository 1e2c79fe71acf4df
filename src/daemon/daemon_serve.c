/*
 * daemon_serve.c - `stsguard serve`, the wiring: configure, listen (as
 * root, then drop root), start the store's first table, TLS, the
 * workers (daemon_worker.c, their connections daemon_conn.c), intake
 * (daemon_intake.c), the reload thread (daemon_reload.c) and the ACME
 * manager; then wait for signals, and stop in order.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "../acme/acme.h"
#include "../check/check.h"
#include "../lib/log.h"
#include "../lib/net.h"
#include "../mime/mime.h"
#include "../tls/tls.h"
#include "daemon.h"
#include "daemon_int.h"

/* --- privileges ------------------------------------------------------ */

/* Makes data_dir (0700) when it is missing, checks that everything
 * directly in it belongs to pw, the account the daemon will run as, and
 * only then, when root owns the directory itself, gives it to pw. Runs
 * as root, before the drop: it never follows a link, never walks a tree
 * and never changes the owner of anything by path, since the service
 * user can write there (and could swap a subdirectory for a link to
 * /etc mid-walk); everything inside is only read, by descriptor. What
 * an earlier run as root left there is the operator's to hand over (the
 * error says how); a refused start changes nothing. Returns 0 or -1
 * with the reason. */
static int
data_dir_prepare(const char *dir, const struct passwd *pw, struct err *e)
{
	struct dirent *de;
	struct stat st, dst;
	DIR *dp = NULL;
	int fd, dfd = -1, rc = -1;

	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return err_set(e, "data dir %s: %s", dir, strerror(errno));
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return err_set(e, "data dir %s: %s", dir, strerror(errno));
	if (pw == NULL) {
		close(fd);
		return 0;
	}
	if (fstat(fd, &dst) == -1) {
		err_set(e, "data dir %s: %s", dir, strerror(errno));
		goto out;
	}
	if (dst.st_uid != 0 && dst.st_uid != pw->pw_uid) {
		err_set(e, "data dir %s belongs to uid %u, not to %s", dir,
		    (unsigned)dst.st_uid, pw->pw_name);
		goto out;
	}
	/* A second descriptor for the listing: fdopendir takes its fd. */
	if ((dfd = dup(fd)) == -1 || (dp = fdopendir(dfd)) == NULL) {
		err_set(e, "data dir %s: %s", dir, strerror(errno));
		goto out;
	}
	dfd = -1;			/* dp's now */
	while ((de = readdir(dp)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1)
			continue;
		if (st.st_uid != pw->pw_uid) {
			err_set(e, "data dir %s: %s belongs to uid %u, not to "
			    "%s; hand the data dir over once with "
			    "`chown -R %s: %s` (serve changes no owner "
			    "inside it)", dir, de->d_name,
			    (unsigned)st.st_uid, pw->pw_name, pw->pw_name,
			    dir);
			goto out;
		}
	}
	if (dst.st_uid == 0 && fchown(fd, pw->pw_uid, pw->pw_gid) == -1) {
		err_set(e, "data dir %s: chown to %s: %s", dir, pw->pw_name,
		    strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (dp != NULL)
		closedir(dp);
	if (dfd != -1)
		close(dfd);
	close(fd);
	return rc;
}

/* The account to run as, checked: not root (a daemon facing the
 * internet with root's rights is what the drop is for). Returns 0 with
 * a copy in *pw, or -1 with the reason. */
static int
user_lookup(const char *user, struct passwd *out, struct err *e)
{
	struct passwd *pw;

	if ((pw = getpwnam(user)) == NULL)
		return err_set(e, "user %s: no such user", user);
	if (pw->pw_uid == 0 || pw->pw_gid == 0)
		return err_set(e, "user %s: refusing to run with uid or gid "
		    "0; name an unprivileged account", user);
	if (geteuid() != 0)
		return err_set(e, "user %s: not running as root", user);
	/* Its supplementary groups come along (initgroups): none may be
	 * root's. */
	{
		gid_t groups[256];
		int n = (int)(sizeof(groups) / sizeof(groups[0]));

		if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) == -1)
			return err_set(e, "user %s: in more than %zu groups",
			    user, sizeof(groups) / sizeof(groups[0]));
		for (int i = 0; i < n; i++)
			if (groups[i] == 0)
				return err_set(e, "user %s: a member of group "
				    "0 (root); name an unprivileged account",
				    user);
	}
	*out = *pw;
	return 0;
}

/* Becomes pw for good: groups, gid, uid, then no way back (setuid(0)
 * fails) and no new privileges for anything we might exec. Returns 0
 * or -1 with the reason. */
static int
drop_root(const struct passwd *pw, struct err *e)
{
	if (initgroups(pw->pw_name, pw->pw_gid) == -1 ||
	    setgid(pw->pw_gid) == -1 || setuid(pw->pw_uid) == -1)
		return err_set(e, "user %s: %s", pw->pw_name,
		    strerror(errno));
	if (setuid(0) != -1)
		return err_set(e, "user %s: could regain root", pw->pw_name);
	log_info("user", "running as %s", pw->pw_name);
	return 0;
}

/* --- descriptors ----------------------------------------------------- */

/* Descriptors open now. */
static long
fds_open(void)
{
	struct dirent *de;
	DIR *dp;
	long n = 0;

	if ((dp = opendir("/proc/self/fd")) == NULL)
		return 64;		/* a guess on the safe side */
	while ((de = readdir(dp)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(dp);
	return n - 1;			/* dp's own */
}

/* Sizes the connection limits to RLIMIT_NOFILE, raising the soft limit
 * to what the full limits need (up to the hard limit): every connection
 * is a descriptor, and LIMIT_FD_RESERVE stay free for the store,
 * certificate files and the ACME client, so that running out of
 * descriptors (accept's EMFILE) is rare and never stops those. When the
 * hard limit is lower, the limits are lowered to fit (and logged once);
 * below LIMIT_CONNS_MIN per worker the daemon refuses to start. Call
 * with the listeners open, before the workers are set up. Returns 0 or
 * -1 with the reason. */
static int
fd_budget(struct daemon *d, bool smtp, struct err *e)
{
	const long per_worker_fds = 8;	/* epoll, eventfds, timers */
	long want = LIMIT_CONNS_PER_WORKER + (smtp ? LIMIT_SMTP_CONNECTIONS :
	    0), open_now = fds_open() + d->nworkers * per_worker_fds +
	    /* the metrics thread: its connections, eventfd, store */
	    (d->metrics_fd != -1 ? LIMIT_METRICS_CONNS + 4 : 0), avail, per;
	struct rlimit rl;
	rlim_t need = (rlim_t)(open_now + LIMIT_FD_RESERVE +
	    d->nworkers * want);

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return err_set(e, "getrlimit: %s", strerror(errno));
	if (rl.rlim_cur < need) {
		struct rlimit up = rl;

		up.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			rl = up;
	}
	avail = (long)rl.rlim_cur - open_now - LIMIT_FD_RESERVE;
	per = avail > 0 ? avail / d->nworkers : 0;
	if (per < LIMIT_CONNS_MIN)
		return err_set(e, "RLIMIT_NOFILE is %llu (hard %llu): with %ld "
		    "descriptors in use and %d kept in reserve, %ld "
		    "connection(s) per worker are left, under the %d needed; "
		    "raise it (ulimit -n, systemd LimitNOFILE=) to %llu, or "
		    "run fewer workers", (unsigned long long)rl.rlim_cur,
		    (unsigned long long)rl.rlim_max, open_now,
		    LIMIT_FD_RESERVE, per, LIMIT_CONNS_MIN,
		    (unsigned long long)need);
	d->max_conns = LIMIT_CONNS_PER_WORKER;
	d->smtp_max_conns = LIMIT_SMTP_CONNECTIONS;
	if (per < want) {
		/* SMTP keeps its share of what there is, and at least an
		 * eighth. */
		d->smtp_max_conns = smtp ? (unsigned)(per *
		    LIMIT_SMTP_CONNECTIONS / want) : 0;
		if (smtp && d->smtp_max_conns < (unsigned)per / 8)
			d->smtp_max_conns = (unsigned)per / 8;
		d->max_conns = (unsigned)per - d->smtp_max_conns;
		if (smtp)
			log_warn("start", "RLIMIT_NOFILE %llu (hard %llu) "
			    "allows %u HTTPS/HTTP and %u SMTP connections per "
			    "worker, not %d and %d; raise it to %llu for the "
			    "full limits", (unsigned long long)rl.rlim_cur,
			    (unsigned long long)rl.rlim_max, d->max_conns,
			    d->smtp_max_conns, LIMIT_CONNS_PER_WORKER,
			    LIMIT_SMTP_CONNECTIONS, (unsigned long long)need);
		else
			log_warn("start", "RLIMIT_NOFILE %llu (hard %llu) "
			    "allows %u HTTPS/HTTP connections per worker, not "
			    "%d; raise it to %llu for the full limits",
			    (unsigned long long)rl.rlim_cur,
			    (unsigned long long)rl.rlim_max, d->max_conns,
			    LIMIT_CONNS_PER_WORKER, (unsigned long long)need);
	}
	/* One client gets at most a quarter of all slots. */
	d->max_conns_client = LIMIT_HTTP_CONN_PER_CLIENT;
	if (d->max_conns_client > d->max_conns * (unsigned)d->nworkers / 4)
		d->max_conns_client = d->max_conns * (unsigned)d->nworkers / 4;
	if (d->max_conns_client < 2)
		d->max_conns_client = 2;
	return 0;
}

/* --- ACME ------------------------------------------------------------ */

static int
acme_names(void *arg, struct strv *out)
{
	struct daemon *d = arg;
	const struct ptable *t;
	int rc = 0;

	pthread_mutex_lock(&d->names_mu);
	t = atomic_load(&d->table);
	for (size_t j = 0; t != NULL && j <= t->mask && rc == 0; j++)
		if (t->slots[j] != NULL)
			rc = strv_push(out, t->slots[j]->host);
	pthread_mutex_unlock(&d->names_mu);
	if (rc == 0)
		rc = strv_push(out, d->service_host);
	return rc;
}

static void
acme_issued(void *arg, const char *name)
{
	struct daemon *d = arg;

	tls_forget(d->tls, name);
	log_info("acme_issued", "serving the new certificate of %s", name);
}

static bool
daemon_hosted(void *arg, const char *name, size_t len)
{
	struct daemon *d = arg;
	const struct ptable *t = atomic_load_explicit(&d->table,
	    memory_order_acquire);

	return ptable_find(t, name, len) != NULL;
}

/* --- the daemon ------------------------------------------------------ */

/* Reads the settings into d (and *as_user, when set), and sets the
 * process up: log level, no new privileges, the data dir. Returns 0 or
 * -1 (logged). */
/* The monitor's settings into d->monitor_conf. Returns 0 or -1 with the
 * reason. */
static int
daemon_configure_monitor(struct daemon *d, const struct conf *cf,
    struct err *e)
{
	struct check_monitor_config *mc = &d->monitor_conf;
	const char *ca = conf_get(cf, CONF_MONITOR_CA_FILE);
	const char *hook = conf_get(cf, CONF_ALERT_WEBHOOK);
	const char *to = conf_get(cf, CONF_ALERT_EMAIL);
	const char *relay = conf_get(cf, CONF_ALERT_SMTP_RELAY);
	long iv, cool;
	bool priv, digest;

	if (conf_get_int(cf, CONF_MONITOR_INTERVAL, 0, 31536000, &iv,
	    e) == -1 || conf_get_int(cf, CONF_ALERT_COOLDOWN, 0, 31536000,
	    &cool, e) == -1 || conf_get_bool(cf, CONF_MONITOR_ALLOW_PRIVATE,
	    &priv, e) == -1 || conf_get_bool(cf, CONF_WEEKLY_DIGEST, &digest,
	    e) == -1)
		return -1;
	if (ca != NULL && access(ca, R_OK) != 0)
		return err_set(e, "monitor_ca_file %s: cannot read it", ca);
	if (hook != NULL && strncmp(hook, "http://", 7) != 0 &&
	    strncmp(hook, "https://", 8) != 0)
		return err_set(e, "alert_webhook '%s': expected an http:// or "
		    "https:// URL", hook);
	mc->data_dir = d->data_dir;
	mc->store_url = d->store_url;
	mc->service_host = d->service_host;
	mc->opts.dns = d->dns;
	mc->opts.ca_file = ca;
	mc->opts.allow_private = priv;
	mc->interval = (time_t)iv;
	mc->cooldown = (time_t)cool;
	/* An address for an SMTP envelope: no brackets, blanks or
	 * controls, one '@' with something on each side. */
	if (to != NULL && (strlen(to) > LIMIT_DNAME_LEN + 64 ||
	    strpbrk(to, "<>\" \t\r\n,;") != NULL || strchr(to, '@') == NULL ||
	    to[0] == '@' || strchr(to, '@')[1] == '\0'))
		return err_set(e, "alert_email '%s': expected one address, "
		    "user@domain", to);
	if (relay == NULL || relay[0] == '\0' || strlen(relay) >
	    LIMIT_DNAME_LEN + 6 || strpbrk(relay, "/?#@ \t\r\n") != NULL)
		return err_set(e, "alert_smtp_relay '%s': expected HOST[:PORT]",
		    relay != NULL ? relay : "");
	mc->webhook = hook;
	mc->mail_to = to;
	mc->smtp_relay = relay;
	mc->digest = digest;
	return 0;
}

static int
daemon_configure(struct daemon *d, const struct conf *cf,
    struct tls_config *tc, struct passwd *pw, struct passwd **as_user)
{
	const char *user = conf_get(cf, CONF_USER);
	enum log_level lv;
	struct err e;
	long nw, qb, qc, rate, conc;

	d->conf = cf;
	d->data_dir = conf_get(cf, CONF_DATA_DIR);
	d->store_url = conf_get(cf, CONF_STORE);
	d->service_host = conf_get(cf, CONF_SERVICE_HOST);
	*as_user = NULL;
	if (conf_get(cf, CONF_LOG_LEVEL) != NULL) {
		if (log_level_parse(conf_get(cf, CONF_LOG_LEVEL), &lv) == -1)
			return log_warn("start", "log_level '%s': expected "
			    "debug, info or warn", conf_get(cf,
			    CONF_LOG_LEVEL)), -1;
		log_set_level(lv);
	}
	if (conf_get_int(cf, CONF_WORKERS, 1, 256, &nw, &e) == -1 ||
	    conf_get_int(cf, CONF_QUARANTINE_MAX_BYTES, 0, LONG_MAX, &qb,
	    &e) == -1 || conf_get_int(cf, CONF_QUARANTINE_MAX_PER_CLIENT, 0,
	    LONG_MAX, &qc, &e) == -1 ||
	    conf_get_int(cf, CONF_INTAKE_CLIENT_RATE, 0, 1000000, &rate,
	    &e) == -1 ||
	    conf_get_int(cf, CONF_INTAKE_CLIENT_CONCURRENT, 0, 1000000, &conc,
	    &e) == -1)
		return log_warn("start", "%s", e.msg), -1;
	d->intake_rate = (unsigned)rate;	/* 0: no limit */
	d->intake_concurrent = (unsigned)conc;
	d->nworkers = (int)nw;
	d->writer.caps.max_bytes = qb;
	d->writer.caps.max_per_client = qc;
	if (conf_get_bool(cf, CONF_REQUIRE_DKIM, &d->writer.require_dkim,
	    &e) == -1)
		return log_warn("start", "%s", e.msg), -1;
	d->dns = dns_conf_get(cf);
	/* Read by each resolver later, after root is dropped. */
	if (d->dns.trust_anchor != NULL && access(d->dns.trust_anchor,
	    R_OK) != 0)
		return log_warn("start", "dnssec_trust_anchor %s: cannot "
		    "read it", d->dns.trust_anchor), -1;
	if (dns_zone_parse(conf_get(cf, CONF_DNS_ZONE), d->dns_zone_buf,
	    &e) == -1)
		return log_warn("start", "%s", e.msg), -1;
	d->dns_zone = d->dns_zone_buf[0] != '\0' ? d->dns_zone_buf : NULL;
	/* The key file is read now, before root is dropped. */
	if (d->dns_zone != NULL && conf_get(cf, CONF_DNS_UPDATE_SERVER) !=
	    NULL && dns_publisher_new(d->dns_zone, conf_get(cf,
	    CONF_DNS_UPDATE_SERVER), conf_get(cf, CONF_DNS_TSIG_KEY),
	    d->service_host, &d->dnspub, &e) == -1)
		return log_warn("start", "%s", e.msg), -1;
	if (daemon_configure_monitor(d, cf, &e) == -1)
		return log_warn("start", "%s", e.msg), -1;
	memset(tc, 0, sizeof(*tc));
	if (d->service_host == NULL || d->data_dir == NULL ||
	    tls_source_parse(conf_get(cf, CONF_CERTIFICATES), &tc->source)
	    == -1)
		return log_warn("start", "certificates: expected local, files "
		    "or acme; service_host and data_dir must be set"), -1;
	d->acme = tc->source == TLS_SOURCE_ACME;
	d->http01 = d->acme && conf_get(cf, CONF_ACME_CHALLENGE) != NULL &&
	    strcmp(conf_get(cf, CONF_ACME_CHALLENGE), "http-01") == 0;
	/* Read now, before root is dropped, like the TSIG key. */
	if (d->acme && conf_get(cf, CONF_STORE_KEY_FILE) != NULL &&
	    *conf_get(cf, CONF_STORE_KEY_FILE) != '\0') {
		if (seal_key_load(conf_get(cf, CONF_STORE_KEY_FILE),
		    d->store_key, &e) == -1)
			return log_warn("start", "store_key_file %s", e.msg),
			    -1;
		d->has_store_key = true;
	}
	/* Nothing we run may gain privileges (setuid programs, file
	 * capabilities), root or not. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return log_warn("start", "PR_SET_NO_NEW_PRIVS: %s",
		    strerror(errno)), -1;
	if (user != NULL && *user != '\0') {
		if (user_lookup(user, pw, &e) == -1)
			return log_warn("start", "%s", e.msg), -1;
		*as_user = pw;
	}
	if (data_dir_prepare(d->data_dir, *as_user, &e) == -1)
		return log_warn("start", "%s", e.msg), -1;
	if ((d->peers = peers_new(LIMIT_INTAKE_INFLIGHT_BYTES,
	    LIMIT_INTAKE_CLIENT_BYTES)) == NULL)
		return log_warn("start", "out of memory"), -1;
	peers_set_intake(d->peers, d->intake_rate, d->intake_concurrent);
	return 0;
}

/* Opens every worker's listening sockets, while root may bind low
 * ports (the kernel queues connections until the workers run); then
 * gives root up (as_user) before any file of the data dir is opened or
 * made, and sizes the connection limits to the descriptors. Returns 0 or
 * -1 (logged). */
static int
daemon_listen(struct daemon *d, const struct passwd *as_user)
{
	const char *https = conf_get(d->conf, CONF_HTTPS_LISTEN);
	const char *http = conf_get(d->conf, CONF_HTTP_LISTEN);
	const char *smtp = conf_get(d->conf, CONF_SMTP_LISTEN);
	struct err e;

	if ((d->workers = calloc((size_t)d->nworkers, sizeof(*d->workers)))
	    == NULL)
		return log_warn("start", "out of memory"), -1;
	for (int i = 0; i < d->nworkers; i++) {	/* worker_free may see any */
		d->workers[i].d = d;
		d->workers[i].id = i;
		d->workers[i].https_fd = d->workers[i].http_fd =
		    d->workers[i].stop_fd = d->workers[i].smtp_fd = -1;
	}
	if (metrics_setup(d, &e) == -1 || metrics_listen(d,
	    conf_get(d->conf, CONF_METRICS_LISTEN), &e) == -1)
		return log_warn("start", "metrics_listen %s", e.msg), -1;
	for (int i = 0; i < d->nworkers; i++) {
		struct worker *w = &d->workers[i];

		if ((w->https_fd = net_listen(https, true, &e)) == -1 ||
		    (http != NULL && *http != '\0' && strcmp(http, "off") != 0 &&
		    (w->http_fd = net_listen(http, false, &e)) == -1) ||
		    (smtp != NULL && *smtp != '\0' && strcmp(smtp, "off") != 0 &&
		    (w->smtp_fd = net_listen(smtp, false, &e)) == -1))
			return log_warn("start", "listen %s", e.msg), -1;
	}
	net_listen_host(https, &d->listen_addrs);
	if (strcmp(strrchr(https, ':'), ":443") != 0)	/* checked by net_listen */
		snprintf(d->https_port, sizeof(d->https_port), "%s",
		    strrchr(https, ':'));
	if (as_user != NULL && drop_root(as_user, &e) == -1)
		return log_warn("start", "%s", e.msg), -1;
	if (fd_budget(d, d->workers[0].smtp_fd != -1, &e) == -1)
		return log_warn("start", "%s", e.msg), -1;
	return 0;
}

/* The first policy table from the store, then TLS (tc filled in here;
 * the local CA and service certificate made now). Returns 0 or -1
 * (logged). */
static int
daemon_load(struct daemon *d, struct tls_config *tc)
{
	struct store *s = NULL;
	struct err e;

	if (store_open_at(d->store_url, d->data_dir, &s, &e) == -1 ||
	    daemon_reload_now(d, s, &e) == -1) {
		store_close(s);
		return log_warn("start", "%s", e.msg), -1;
	}
	store_close(s);
	/* The certificates other nodes stored, all on disk before the
	 * first handshake. */
	if (d->has_store_key) {
		int r;

		if (cluster_open(d->store_url, d->data_dir, d->store_key,
		    &d->cluster, &e) == -1)
			return log_warn("start", "store_key_file: %s", e.msg),
			    -1;
		while ((r = cluster_sync(d->cluster, NULL, NULL, &e)) == 1)
			;
		if (r == -1)
			return log_warn("start", "store_key_file: %s", e.msg),
			    -1;
	}
	tc->data_dir = d->data_dir;
	tc->service_host = d->service_host;
	tc->acme_alpn = d->acme;
	tc->hosted = daemon_hosted;
	tc->hosted_arg = d;
	if (tls_new(tc, &d->tls, &e) == -1)
		return log_warn("start", "%s", e.msg), -1;
	if (tls_preload(d->tls, d->service_host, &e) == -1) {
		if (tc->source == TLS_SOURCE_LOCAL)
			return log_warn("start", "%s", e.msg), -1;
		log_info("start", "no certificate for %s yet (%s)",
		    d->service_host, e.msg);
	}
	return 0;
}

/* Starts the threads, in the order they need each other: intake (the
 * writer and the pool) before the workers that post to it, the reload
 * thread, the ACME manager. Returns 0 or -1 (logged). */
static int
daemon_start(struct daemon *d)
{
	const struct conf *cf = d->conf;
	struct log_line l;
	struct err e;

	/* GMime's tables, once, before any thread parses a message; and
	 * libcurl's (the monitor, the ACME client). */
	mime_init();
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		return log_warn("start", "libcurl: cannot initialise"), -1;
	for (int i = 0; i < d->nworkers; i++)
		if (worker_setup(&d->workers[i], &e) == -1)
			return log_warn("start", "%s", e.msg), -1;
	if (intake_start(d, &e) == -1)
		return log_warn("start", "%s", e.msg), -1;
	for (int i = 0; i < d->nworkers; i++) {
		if (pthread_create(&d->workers[i].thr, NULL, worker_main,
		    &d->workers[i]) != 0)
			return log_warn("start", "cannot start worker %d", i),
			    -1;
		d->workers[i].started = true;
	}
	if (daemon_reload_start(d, &e) == -1)
		return log_warn("start", "%s", e.msg), -1;
	if (check_monitor_start(&d->monitor_conf, &d->monitor, &e) == -1)
		return log_warn("start", "%s", e.msg), -1;
	if (d->acme) {
		struct acme_config ac = {
			.directory_url = conf_get(cf, CONF_ACME_DIRECTORY),
			.email = conf_get(cf, CONF_ACME_EMAIL),
			.ca_bundle = conf_get(cf, CONF_ACME_CA_BUNDLE),
			.data_dir = d->data_dir,
			.challenge = d->http01 ? ACME_HTTP_01 : ACME_TLS_ALPN_01,
			.service_host = d->service_host,
			.service_addrs = d->listen_addrs.n ? &d->listen_addrs :
			    NULL,
			.shared = d->cluster != NULL ?
			    cluster_acme(d->cluster) : NULL,
		};

		if (acme_manager_start(&ac, acme_names, acme_issued, d, 3600,
		    &d->acme_mgr, &e) == -1)
			return log_warn("start", "acme: %s", e.msg), -1;
	}
	if (metrics_start(d, &e) == -1)
		return log_warn("start", "%s", e.msg), -1;
	log_begin(&l, LOG_INFO, "serving");
	log_cstr(&l, "https", conf_get(cf, CONF_HTTPS_LISTEN));
	log_cstr(&l, "http", conf_get(cf, CONF_HTTP_LISTEN));
	log_cstr(&l, "smtp", conf_get(cf, CONF_SMTP_LISTEN));
	log_cstr(&l, "metrics", conf_get(cf, CONF_METRICS_LISTEN));
	log_int(&l, "workers", d->nworkers);
	log_cstr(&l, "certificates", conf_get(cf, CONF_CERTIFICATES));
	log_cstr(&l, "service_host", d->service_host);
	log_int(&l, "intake_client_rate", d->intake_rate);
	log_int(&l, "intake_client_concurrent", d->intake_concurrent);
	log_int(&l, "monitor_interval", (int64_t)d->monitor_conf.interval);
	log_end(&l);
	return 0;
}

/* Waits for SIGTERM or SIGINT (sigs blocked in every thread); SIGHUP
 * makes every certificate be read again. */
static void
daemon_wait(struct daemon *d, const sigset_t *sigs)
{
	int sig;

	for (;;) {
		if (sigwait(sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {	/* domains reload by themselves */
			tls_forget_all(d->tls);
			log_info("signal", "SIGHUP: certificates are read "
			    "again on each name's next handshake");
			continue;
		}
		log_info("signal", "%s: shutting down",
		    sig == SIGTERM ? "SIGTERM" : "SIGINT");
		return;
	}
}

/* Stops what runs, in order: the ACME manager; the workers (each drains
 * its requests, up to LIMIT_SHUTDOWN_SECONDS); then intake, which
 * commits what is queued (an in-flight report is stored even if its
 * answer is lost); the reload thread; then frees everything. Safe on a
 * daemon that started only in part. */
static void
daemon_stop(struct daemon *d)
{
	atomic_store(&d->stopping, true);
	metrics_stop(d);	/* first: a scrape reads the ACME manager */
	if (d->acme_mgr != NULL)
		acme_manager_stop(d->acme_mgr);
	for (int i = 0; i < d->nworkers && d->workers != NULL; i++) {
		uint64_t one = 1;

		if (d->workers[i].started && write(d->workers[i].stop_fd,
		    &one, sizeof(one)) != sizeof(one))
			log_warn("stop", "worker %d: %s", i, strerror(errno));
	}
	for (int i = 0; i < d->nworkers && d->workers != NULL; i++)
		if (d->workers[i].started)
			pthread_join(d->workers[i].thr, NULL);
	intake_stop(d);		/* the pool: no check on demand after */
	check_monitor_stop(d->monitor);
	d->monitor = NULL;
	daemon_reload_stop(d);
	cluster_close(d->cluster);	/* its users have stopped */
	d->cluster = NULL;
	sodium_memzero(d->store_key, sizeof(d->store_key));
	dns_publisher_free(d->dnspub);
	d->dnspub = NULL;
	for (int i = 0; d->workers != NULL && i < d->nworkers; i++)
		worker_free(&d->workers[i]);
	free(d->workers);
	ptable_free(atomic_load(&d->table));
	tls_free(d->tls);
	strv_free(&d->listen_addrs);
	peers_free(d->peers);	/* every job and connection is gone */
	metrics_free(d);	/* every thread that counts has stopped */
}

/* Tells systemd (Type=notify) how the service is, by the NOTIFY_SOCKET
 * protocol of sd_notify(3): one datagram of "KEY=VALUE" lines to the
 * AF_UNIX socket named in $NOTIFY_SOCKET (a path, or '@' for the
 * abstract namespace). Without the variable (not under systemd), does
 * nothing; a failure is logged, never fatal. From the main thread (the
 * service's main PID). */
static void
daemon_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n, len = strlen(state);
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    (n = strlen(path)) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 ||
	    sendto(fd, state, len, MSG_NOSIGNAL, (struct sockaddr *)&sa,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) !=
	    (ssize_t)len)
		log_warn("notify", "NOTIFY_SOCKET %s: %s", path,
		    strerror(errno));
	if (fd != -1)
		close(fd);
}

int
daemon_serve(const struct conf *cf)
{
	struct daemon d;
	struct tls_config tc;
	struct passwd pw, *as_user;
	sigset_t sigs;
	int rc = 1;

	memset(&d, 0, sizeof(d));
	d.metrics_fd = d.metrics_stop_fd = -1;
	pthread_mutex_init(&d.reload_mu, NULL);
	pthread_cond_init(&d.reload_cond, NULL);
	pthread_mutex_init(&d.names_mu, NULL);
	/* Signals: every thread inherits this mask; main waits for them. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	if (daemon_configure(&d, cf, &tc, &pw, &as_user) == 0 &&
	    daemon_listen(&d, as_user) == 0 && daemon_load(&d, &tc) == 0 &&
	    daemon_start(&d) == 0) {
		daemon_notify("READY=1\nSTATUS=serving");
		daemon_wait(&d, &sigs);
		daemon_notify("STOPPING=1");
		rc = 0;
	}
	daemon_stop(&d);
	if (rc == 0)
		log_info("stopped", "clean shutdown");
	log_flush();
	return rc;
}
