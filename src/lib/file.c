/*
 * file.c - atomic, optionally durable file writes (see file.h).
 *
 *	mkstemp(path.tmp.XXXXXX) -> fchmod -> write -> [fsync] -> close
 *	-> rename over path -> [fsync of the directory]
 *
 * The directory sync makes the rename itself durable: without it, a
 * crash may leave the old name, or no name, whatever the file held.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"

int
file_write_atomic(const char *path, const void *buf, size_t len,
    mode_t mode, bool durable, struct err *e)
{
	char tmp[4096], dir[4096];
	const char *p = buf;
	int fd = -1, dfd, r;
	size_t off = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >=
	    sizeof(tmp))
		return err_set(e, "%s: path too long", path);
	if ((fd = mkstemp(tmp)) == -1)
		return err_set(e, "%s: %s", tmp, strerror(errno));
	if (fchmod(fd, mode) == -1)
		goto fail;
	while (off < len) {
		ssize_t w = write(fd, p + off, len - off);

		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		off += (size_t)w;
	}
	if (durable && fsync(fd) == -1)
		goto fail;
	r = close(fd);
	fd = -1;
	if (r == -1 || rename(tmp, path) == -1)
		goto fail;
	if (!durable)
		return 0;
	snprintf(dir, sizeof(dir), "%s", path);
	if ((dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC))
	    == -1)
		return err_set(e, "%s: %s", dir, strerror(errno));
	r = fsync(dfd);
	close(dfd);
	if (r == -1)
		return err_set(e, "%s: sync the directory: %s", path,
		    strerror(errno));
	return 0;
fail:
	r = err_set(e, "%s: %s", path, strerror(errno));
	if (fd != -1)
		close(fd);
	unlink(tmp);
	return r;
}
