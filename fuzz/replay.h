/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The standalone replayer shared by the fuzz targets (built with
 * -DLUOEMU_FUZZ_STANDALONE, no libFuzzer): run a file, or every file of a
 * corpus directory, through the target's own reader of one input.
 */
#ifndef LUOEMU_FUZZ_REPLAY_H
#define LUOEMU_FUZZ_REPLAY_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "util.h"

/* Feed one input to the target: 0, or -errno when it could not be read. */
typedef int (*fuzz_replay_file_fn)(int dirfd, const char *name);

/* Replay @path (a file or a directory of them); *@count counts the inputs. */
static inline int fuzz_replay(const char *path, unsigned long *count,
			      fuzz_replay_file_fn replay_file)
{
	_cleanup_close_ int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (dfd < 0) {
		if (errno != ENOTDIR)
			return -errno;
		(*count)++;
		return replay_file(AT_FDCWD, path);
	}
	d = fdopendir(dup(dfd));
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		(*count)++;
		if (replay_file(dfd, de->d_name) < 0)
			r = -EIO;
	}
	closedir(d);
	return r;
}

#endif
