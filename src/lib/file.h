/*
 * file.h - writing a file so that readers see the old bytes or the new,
 * never a mix, and (when asked) so that the new survive a power loss.
 */
#ifndef STSGUARD_FILE_H
#define STSGUARD_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "err.h"

/* Writes len bytes to path atomically: a temporary file in the same
 * directory with mode, renamed over path. With durable, the file is
 * synced before the rename and the directory after it, so that after a
 * crash path holds the new bytes (not an empty file, not the old name
 * only). On error nothing is left behind and path is unchanged. Returns
 * 0 or -1 with the reason. */
int	file_write_atomic(const char *path, const void *buf, size_t len,
	    mode_t mode, bool durable, struct err *e);

#endif
