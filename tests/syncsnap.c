/*
 * syncsnap.c - an LD_PRELOAD shim for tests/t_intake_crash.sh that models
 * power loss: SYNCSNAP_DIR always holds exactly what the process (and the
 * processes before it, sharing the same SYNCSNAP_DIR) had made durable in
 * one watched directory, SYNCSNAP_WATCH, and nothing that is only in the
 * page cache. SIGKILL keeps the page cache, so a test that kills a daemon
 * and reads its data dir cannot tell a missing sync from a present one;
 * a test that kills it and reads SYNCSNAP_DIR can.
 *
 * Not built by the Makefile: the test compiles it with
 *     gcc -shared -fPIC -o syncsnap.so tests/syncsnap.c -ldl
 *
 * The model (POSIX durability, no more: what ext4 happens to make durable
 * besides is not counted):
 *   - fsync(fd) or fdatasync(fd) on a regular file whose directory is
 *     SYNCSNAP_WATCH makes the file's current content durable. The shim
 *     calls the real function first and, when it succeeded, reads the
 *     whole file through that fd (pread; a write-only fd is read through
 *     /proc/self/fd/N, the same open file, never by path) and stores it
 *     as the durable content of that inode, in .syncsnap/ino/<id>
 *     (<id> = device, inode number and birth time, so that a reused
 *     inode number is a new file), written to a temp name and renamed:
 *     always a whole file.
 *   - A name in SYNCSNAP_WATCH is durable only once the directory itself
 *     was synced (SQLite fsyncs the directory after creating a journal
 *     or the WAL). fsync/fdatasync on the directory's fd makes the names
 *     it holds at that moment durable: SYNCSNAP_DIR/<name> becomes the
 *     durable content of the name's inode (a hard link to it; empty if
 *     that inode was never synced: its name survives, its data does not),
 *     and a name in SYNCSNAP_DIR that the directory no longer holds is
 *     removed (an unlink or rename becomes durable). So a file created
 *     and never synced, or whose directory was never synced, never
 *     appears; one synced before its directory appears at the
 *     directory's sync with the content of its last sync.
 *   - When an inode that already has a durable name is synced again, that
 *     name is switched to the new content at once (link + rename).
 *   Subdirectories are not modelled. sync_file_range is passed through
 *   and not counted (it flushes no metadata and no disk cache: not a
 *   durability barrier). msync, syncfs and sync are passed through and
 *   logged as "unmodeled" (they would make durable what this model cannot
 *   see through an fd): the test fails when one shows up, rather than
 *   trust a wrong model. Writes through O_SYNC/O_DSYNC descriptors or
 *   pwritev2(RWF_DSYNC) are not seen either; SQLite uses none of these.
 *   SQLite 3.40 (Debian 12) in WAL mode with synchronous=FULL calls
 *   fdatasync on the WAL, on the database at checkpoints, and on the
 *   directory after creating the WAL (strace, 2026-12-06).
 *
 * SYNCSNAP_MODE=nosync (the test's negative control) also interposes
 * sqlite3_exec, sqlite3_prepare_v2 and sqlite3_prepare_v3 and rewrites
 * the value of every "PRAGMA [schema.]synchronous = V" or "(V)" to 0
 * (OFF); SYNCSNAP_MODE=normal rewrites it to 1 (NORMAL: in WAL mode a
 * sync only at checkpoints). The digit is padded with spaces to the
 * length of V, so the SQL keeps its length and a tail pointer maps back
 * to the caller's string. The store then really runs without its syncs;
 * everything else in the process is unchanged. Each rewrite is logged.
 *
 * SYNCSNAP_LOG, if set, gets one line per event ("pid P fdatasync NAME
 * BYTES bytes", "pid P dirsync NAMES names", "pid P rewrote ...",
 * "pid P unmodeled ...", "pid P error ..."), appended.
 *
 * Never changes what the intercepted call returns (errno included), and
 * never writes outside SYNCSNAP_DIR and SYNCSNAP_LOG.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <sqlite3.h>

typedef int (*exec_fn)(sqlite3 *, const char *,
    int (*)(void *, int, char **, char **), void *, char **);
typedef int (*prep2_fn)(sqlite3 *, const char *, int, sqlite3_stmt **,
    const char **);
typedef int (*prep3_fn)(sqlite3 *, const char *, int, unsigned int,
    sqlite3_stmt **, const char **);

static struct {
	int	(*fsync)(int);
	int	(*fdatasync)(int);
	int	(*sync_file_range)(int, off64_t, off64_t, unsigned int);
	int	(*msync)(void *, size_t, int);
	int	(*syncfs)(int);
	void	(*sync)(void);
	exec_fn	exec;
	prep2_fn prep2;
	prep3_fn prep3;
} real;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static const char *snapdir;	/* NULL: the shim only passes calls on */
static const char *watch;
static char rewrite_to;		/* '0' nosync, '1' normal, 0 off */
static int logfd = -1;
static unsigned long tmpseq;	/* under mu */

static void
say(const char *fmt, ...)
{
	char line[PATH_MAX + 256];
	va_list ap;
	int n, k;

	if (logfd == -1)
		return;
	n = snprintf(line, sizeof(line), "pid %ld ", (long)getpid());
	if (n < 0)
		return;
	va_start(ap, fmt);
	k = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (k < 0)
		return;
	n += k;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (write(logfd, line, (size_t)n) < 0) {
		/* Nothing to do: the log is for the test's eyes only. */
	}
}

static void
init(void)
{
	const char *mode = getenv("SYNCSNAP_MODE"), *log;
	char path[PATH_MAX];

	real.fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	real.fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	real.sync_file_range = (int (*)(int, off64_t, off64_t,
	    unsigned int))dlsym(RTLD_NEXT, "sync_file_range");
	real.msync = (int (*)(void *, size_t, int))dlsym(RTLD_NEXT, "msync");
	real.syncfs = (int (*)(int))dlsym(RTLD_NEXT, "syncfs");
	real.sync = (void (*)(void))dlsym(RTLD_NEXT, "sync");
	real.exec = (exec_fn)dlsym(RTLD_NEXT, "sqlite3_exec");
	real.prep2 = (prep2_fn)dlsym(RTLD_NEXT, "sqlite3_prepare_v2");
	real.prep3 = (prep3_fn)dlsym(RTLD_NEXT, "sqlite3_prepare_v3");
	if ((log = getenv("SYNCSNAP_LOG")) != NULL && *log != '\0')
		logfd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
		    0644);
	if (mode != NULL && strcmp(mode, "nosync") == 0)
		rewrite_to = '0';
	else if (mode != NULL && strcmp(mode, "normal") == 0)
		rewrite_to = '1';
	else if (mode != NULL && *mode != '\0' && strcmp(mode, "full") != 0)
		say("error SYNCSNAP_MODE=%s: not full, nosync or normal", mode);
	snapdir = getenv("SYNCSNAP_DIR");
	watch = getenv("SYNCSNAP_WATCH");
	if (snapdir == NULL || *snapdir == '\0') {
		snapdir = NULL;
		return;
	}
	if (watch == NULL || *watch == '\0') {
		say("error SYNCSNAP_DIR without SYNCSNAP_WATCH: not modelling");
		snapdir = NULL;
		return;
	}
	/* The directory the shim keeps its inode contents in. */
	snprintf(path, sizeof(path), "%s/.syncsnap", snapdir);
	(void)mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/.syncsnap/ino", snapdir);
	(void)mkdir(path, 0700);
}

/* Whether DIR (an absolute, resolved path) is the watched directory.
 * SYNCSNAP_WATCH may not exist when the process starts (stsguard creates
 * its data dir), so it is resolved on every call. */
static bool
is_watched(const char *dir)
{
	char w[PATH_MAX];

	return realpath(watch, w) != NULL && strcmp(w, dir) == 0;
}

/* The path FD was opened as, now (renames followed). -1 when it has none
 * (unlinked, or not a file system object). */
static int
fd_path(int fd, char *buf, size_t n)
{
	char link[64];
	ssize_t len;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((len = readlink(link, buf, n - 1)) <= 0 || (size_t)len >= n - 1)
		return -1;
	buf[len] = '\0';
	if (buf[0] != '/' || (len > 10 && strcmp(buf + len - 10,
	    " (deleted)") == 0))
		return -1;
	return 0;
}

/* The identity of the inode DIRFD/NAME (FLAGS for statx), as a file name:
 * device, inode number, birth time when the file system keeps one. */
static int
inode_id(int dirfd, const char *name, int flags, char *id, size_t n)
{
	struct statx sx;

	if (statx(dirfd, name, flags, STATX_INO | STATX_BTIME | STATX_TYPE,
	    &sx) == -1)
		return -1;
	if (!S_ISREG(sx.stx_mode))
		return 1;
	snprintf(id, n, "%x.%x-%llx-%lld.%u", sx.stx_dev_major,
	    sx.stx_dev_minor, (unsigned long long)sx.stx_ino,
	    (sx.stx_mask & STATX_BTIME) ? (long long)sx.stx_btime.tv_sec : 0,
	    (sx.stx_mask & STATX_BTIME) ? sx.stx_btime.tv_nsec : 0u);
	return 0;
}

/* A fresh temp name in SYNCSNAP_DIR/.syncsnap (under mu). */
static void
tmp_name(char *buf, size_t n)
{
	snprintf(buf, n, "%s/.syncsnap/tmp.%ld.%lu", snapdir, (long)getpid(),
	    ++tmpseq);
}

/* Copies what FD holds, from offset 0 to its end, to OUT. */
static int
copy_fd(int fd, int out, long long *bytes)
{
	char buf[65536], link[64];
	off_t off = 0;
	ssize_t r;
	int in = fd, rc = -1;

	*bytes = 0;
	for (;;) {
		r = pread(in, buf, sizeof(buf), off);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && errno == EBADF && in == fd) {
			/* Opened write-only: the same open file, read-only. */
			snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
			if ((in = open(link, O_RDONLY | O_CLOEXEC)) == -1)
				goto out;
			continue;
		}
		if (r == -1)
			goto out;
		if (r == 0)
			break;
		for (ssize_t w = 0, k; w < r; w += k)
			if ((k = write(out, buf + w, (size_t)(r - w))) <= 0)
				goto out;
		off += r;
	}
	*bytes = (long long)off;
	rc = 0;
out:
	if (in != fd)
		close(in);
	return rc;
}

/* Links the durable content SRC to SYNCSNAP_DIR/NAME, atomically. */
static int
link_name(const char *src, const char *name)
{
	char tmp[PATH_MAX], dst[PATH_MAX];

	tmp_name(tmp, sizeof(tmp));
	snprintf(dst, sizeof(dst), "%s/%s", snapdir, name);
	if (link(src, tmp) == -1)
		return -1;
	if (rename(tmp, dst) == -1) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Whether a name in SYNCSNAP_DIR is one of the shim's own. */
static bool
own_name(const char *name)
{
	return strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	    strcmp(name, ".syncsnap") == 0;
}

/* FD, a regular file in the watched directory, was synced: its content
 * is durable now; so is any durable name's view of it. */
static void
snap_file(int fd, const char *call, const char *base)
{
	char id[128], tmp[PATH_MAX], ino[PATH_MAX];
	struct stat old, st;
	long long bytes;
	bool had_old;
	DIR *d;
	struct dirent *de;
	int out;

	if (inode_id(fd, "", AT_EMPTY_PATH, id, sizeof(id)) != 0) {
		say("error %s %s: statx: %s", call, base, strerror(errno));
		return;
	}
	tmp_name(tmp, sizeof(tmp));
	if ((out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600))
	    == -1) {
		say("error %s %s: %s: %s", call, base, tmp, strerror(errno));
		return;
	}
	if (copy_fd(fd, out, &bytes) == -1) {
		say("unmodeled %s %s: cannot read it: %s", call, base,
		    strerror(errno));
		close(out);
		unlink(tmp);
		return;
	}
	close(out);
	snprintf(ino, sizeof(ino), "%s/.syncsnap/ino/%s", snapdir, id);
	had_old = stat(ino, &old) == 0;
	/* Durable names of this inode see the new content. */
	if (had_old && (d = opendir(snapdir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (own_name(de->d_name) ||
			    fstatat(dirfd(d), de->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) == -1 ||
			    st.st_ino != old.st_ino || st.st_dev != old.st_dev)
				continue;
			if (link_name(tmp, de->d_name) == -1)
				say("error %s %s: relink %s: %s", call, base,
				    de->d_name, strerror(errno));
		}
		closedir(d);
	}
	if (rename(tmp, ino) == -1) {
		say("error %s %s: rename to %s: %s", call, base, ino,
		    strerror(errno));
		unlink(tmp);
		return;
	}
	say("%s %s %lld bytes", call, base, bytes);
}

/* FD, the watched directory, was synced: the names it holds now are
 * durable, and the names it no longer holds are gone. */
static void
snap_dir(int fd, const char *call)
{
	char id[128], ino[PATH_MAX], tmp[PATH_MAX];
	struct stat a, b;
	DIR *d;
	struct dirent *de;
	int dfd, n = 0, out;

	/* The directory read through its fd, not by its path. */
	if ((dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    (d = fdopendir(dfd)) == NULL) {
		say("error %s dir: %s", call, strerror(errno));
		if (dfd != -1)
			close(dfd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (own_name(de->d_name) || inode_id(fd, de->d_name,
		    AT_SYMLINK_NOFOLLOW, id, sizeof(id)) != 0)
			continue;	/* gone meanwhile, or not a file */
		snprintf(ino, sizeof(ino), "%s/.syncsnap/ino/%s", snapdir,
		    id);
		if (stat(ino, &a) == -1) {
			/* Never synced: the name survives, no data. */
			tmp_name(tmp, sizeof(tmp));
			if ((out = open(tmp, O_WRONLY | O_CREAT | O_EXCL |
			    O_CLOEXEC, 0600)) == -1 || close(out) == -1 ||
			    rename(tmp, ino) == -1 || stat(ino, &a) == -1) {
				say("error %s dir: empty %s: %s", call,
				    de->d_name, strerror(errno));
				continue;
			}
		}
		n++;
		snprintf(tmp, sizeof(tmp), "%s/%s", snapdir, de->d_name);
		if (stat(tmp, &b) == 0 && b.st_ino == a.st_ino &&
		    b.st_dev == a.st_dev)
			continue;	/* already this inode's name */
		if (link_name(ino, de->d_name) == -1)
			say("error %s dir: link %s: %s", call, de->d_name,
			    strerror(errno));
	}
	closedir(d);
	/* Names the directory no longer holds. */
	if ((d = opendir(snapdir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (own_name(de->d_name))
				continue;
			if (fstatat(fd, de->d_name, &a, AT_SYMLINK_NOFOLLOW)
			    == 0 && S_ISREG(a.st_mode))
				continue;
			if (unlinkat(dirfd(d), de->d_name, 0) == -1)
				say("error %s dir: unlink %s: %s", call,
				    de->d_name, strerror(errno));
		}
		closedir(d);
	}
	say("dirsync %d names", n);
}

/* After a successful sync of FD by CALL: update the model. */
static void
synced(int fd, const char *call)
{
	char path[PATH_MAX], *slash;
	struct stat st;
	int saved = errno;

	if (snapdir == NULL || fstat(fd, &st) == -1 ||
	    fd_path(fd, path, sizeof(path)) == -1)
		goto out;
	pthread_mutex_lock(&mu);
	if (S_ISDIR(st.st_mode)) {
		if (is_watched(path))
			snap_dir(fd, call);
	} else if (S_ISREG(st.st_mode) && (slash = strrchr(path, '/')) !=
	    NULL) {
		*slash = '\0';
		if (is_watched(path[0] != '\0' ? path : "/"))
			snap_file(fd, call, slash + 1);
	}
	pthread_mutex_unlock(&mu);
out:
	errno = saved;
}

int
fsync(int fd)
{
	int rc;

	pthread_once(&once, init);
	if ((rc = real.fsync(fd)) == 0)
		synced(fd, "fsync");
	return rc;
}

int
fdatasync(int fd)
{
	int rc;

	pthread_once(&once, init);
	if ((rc = real.fdatasync(fd)) == 0)
		synced(fd, "fdatasync");
	return rc;
}

int
sync_file_range(int fd, off64_t offset, off64_t nbytes, unsigned int flags)
{
	pthread_once(&once, init);
	/* Not a durability barrier (see the top): passed on, not counted. */
	say("sync_file_range fd %d (not a barrier: ignored)", fd);
	return real.sync_file_range(fd, offset, nbytes, flags);
}

int
msync(void *addr, size_t len, int flags)
{
	int saved, rc;

	pthread_once(&once, init);
	rc = real.msync(addr, len, flags);
	saved = errno;
	if (snapdir != NULL && (flags & MS_SYNC))
		say("unmodeled msync %p %zu", addr, len);
	errno = saved;
	return rc;
}

int
syncfs(int fd)
{
	int saved, rc;

	pthread_once(&once, init);
	rc = real.syncfs(fd);
	saved = errno;
	if (snapdir != NULL)
		say("unmodeled syncfs fd %d", fd);
	errno = saved;
	return rc;
}

void
sync(void)
{
	pthread_once(&once, init);
	real.sync();
	if (snapdir != NULL)
		say("unmodeled sync");
}

/* --- SYNCSNAP_MODE=nosync|normal: PRAGMA synchronous rewritten -------- */

static bool
ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

static const char *
skip_space(const char *p)
{
	while (isspace((unsigned char)*p))
		p++;
	return p;
}

/* A NUL-terminated copy of the first N bytes of SQL (all of it when N is
 * negative, as SQLite reads it) in which the value of every PRAGMA
 * [schema.]synchronous assignment is rewrite_to padded with spaces; NULL
 * when none is (or when rewrite_to is 0, or out of memory). The copy has
 * the length of what SQLite reads of SQL, so offsets map back. */
static char *
rewrite_sql(const char *sql, int n)
{
	const char *p, *q, *v, *e;
	char *copy;
	bool changed = false;

	if (rewrite_to == 0 || sql == NULL)
		return NULL;
	copy = n < 0 ? strdup(sql) : strndup(sql, (size_t)n);
	if (copy == NULL)
		return NULL;
	for (p = copy; (p = strcasestr(p, "pragma")) != NULL; ) {
		q = p + 6;
		if ((p > copy && ident_char(p[-1])) || ident_char(*q)) {
			p = q;
			continue;	/* part of a longer word */
		}
		p = q;
		q = skip_space(q);
		for (e = q; ident_char(*e); e++)
			;
		if (*e == '.')		/* a schema name */
			q = skip_space(e + 1);
		if (strncasecmp(q, "synchronous", 11) != 0 ||
		    ident_char(q[11]))
			continue;
		q = skip_space(q + 11);
		if (*q != '=' && *q != '(')
			continue;	/* reads the value: leave it */
		v = skip_space(q + 1);
		for (e = v; ident_char(*e) || *e == '\'' || *e == '"'; e++)
			;
		if (e == v || (e - v == 1 && *v == rewrite_to))
			continue;	/* nothing, or already rewritten */
		say("rewrote PRAGMA synchronous %.*s -> %c", (int)(e - v), v,
		    rewrite_to);
		copy[v - copy] = rewrite_to;
		memset(copy + (v - copy) + 1, ' ', (size_t)(e - v - 1));
		changed = true;
	}
	if (!changed) {
		free(copy);
		copy = NULL;
	}
	return copy;
}

int
sqlite3_exec(sqlite3 *db, const char *sql,
    int (*cb)(void *, int, char **, char **), void *arg, char **errmsg)
{
	char *copy;
	int rc;

	pthread_once(&once, init);
	copy = rewrite_sql(sql, -1);
	rc = real.exec(db, copy != NULL ? copy : sql, cb, arg, errmsg);
	free(copy);
	return rc;
}

int
sqlite3_prepare_v2(sqlite3 *db, const char *sql, int n, sqlite3_stmt **st,
    const char **tail)
{
	char *copy;
	int rc;

	pthread_once(&once, init);
	copy = rewrite_sql(sql, n);
	rc = real.prep2(db, copy != NULL ? copy : sql, n, st, tail);
	if (copy != NULL && tail != NULL && *tail != NULL)
		*tail = sql + (*tail - copy);
	free(copy);
	return rc;
}

int
sqlite3_prepare_v3(sqlite3 *db, const char *sql, int n, unsigned int flags,
    sqlite3_stmt **st, const char **tail)
{
	char *copy;
	int rc;

	pthread_once(&once, init);
	copy = rewrite_sql(sql, n);
	rc = real.prep3(db, copy != NULL ? copy : sql, n, flags, st, tail);
	if (copy != NULL && tail != NULL && *tail != NULL)
		*tail = sql + (*tail - copy);
	free(copy);
	return rc;
}
