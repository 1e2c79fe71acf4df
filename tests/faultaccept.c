/*
 * faultaccept.c - an LD_PRELOAD shim for tests/t_hostile_fds.sh: while
 * the file named by FAULTACCEPT_FILE exists, accept() and accept4() fail
 * with EMFILE without taking a connection, as they do when a process is
 * out of descriptors: the listener stays readable. Counts the calls it
 * failed in FAULTACCEPT_FILE.count (one byte per call, appended), so the
 * test can tell a daemon that pauses from one that spins.
 *
 * Test code only: never linked into stsguard.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

int accept(int fd, struct sockaddr *sa, socklen_t *len);
int accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags);

/* True (and the call counted) when accept must fail now. */
static int
fault_now(void)
{
	const char *f = getenv("FAULTACCEPT_FILE");
	char count[4096];
	struct stat st;
	int fd;

	if (f == NULL || stat(f, &st) == -1)
		return 0;
	snprintf(count, sizeof(count), "%s.count", f);
	if ((fd = open(count, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0600)) != -1) {
		if (write(fd, "x", 1) != 1) {
			/* the count is a hint: go on */
		}
		close(fd);
	}
	return 1;
}

int
accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
	static int (*real)(int, struct sockaddr *, socklen_t *, int);

	if (fault_now()) {
		errno = EMFILE;
		return -1;
	}
	if (real == NULL)
		real = (int (*)(int, struct sockaddr *, socklen_t *, int))
		    dlsym(RTLD_NEXT, "accept4");
	return real(fd, sa, len, flags);
}

int
accept(int fd, struct sockaddr *sa, socklen_t *len)
{
	static int (*real)(int, struct sockaddr *, socklen_t *);

	if (fault_now()) {
		errno = EMFILE;
		return -1;
	}
	if (real == NULL)
		real = (int (*)(int, struct sockaddr *, socklen_t *))
		    dlsym(RTLD_NEXT, "accept");
	return real(fd, sa, len);
}
