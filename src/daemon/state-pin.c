// SPDX-License-Identifier: LGPL-2.1-or-later
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>

#include "daemon/state-pin.h"
#include "util.h"

#define STATE_FS_SOURCE "luoemu-state"

/*
 * Is @dir the mount point of our tmpfs?  *@noswap tells whether it was
 * mounted noswap.  From /proc/self/mountinfo: "... MOUNTPOINT OPTS ... -
 * FSTYPE SOURCE SUPEROPTS".
 */
static bool is_our_tmpfs(const char *dir, bool *noswap)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	bool found = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char mnt[PATH_MAX], fstype[64], source[128], opts[1024];
		const char *sep = strstr(line, " - ");

		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(sep + 3, "%63s %127s %1023s", fstype, source, opts) != 3)
			continue;
		/* The last mount on the path is the visible one. */
		if (strcmp(mnt, dir) == 0) {
			found = strcmp(fstype, "tmpfs") == 0 &&
				strcmp(source, STATE_FS_SOURCE) == 0;
			*noswap = strstr(opts, "noswap") != NULL;
		}
	}
	fclose(f);
	return found;
}

static bool dir_is_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool empty = true;

	if (!d)
		return false;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			empty = false;
	closedir(d);
	return empty;
}

int state_dir_pin(const char *dir, bool required, char *note, size_t note_len)
{
	const unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
	bool noswap = false;
	int r;

	if (is_our_tmpfs(dir, &noswap)) {
		snprintf(note, note_len, "%s: tmpfs of a previous daemon%s",
			 noswap ? "pinned" : "not pinned",
			 noswap ? ", noswap" : " without noswap (kernel < 6.4): can swap");
		return 0;
	}
	if (!dir_is_empty(dir)) {
		snprintf(note, note_len,
			 "not pinned: %s already holds files (a tmpfs mounted over them would hide "
			 "them); empty it, or mount a tmpfs with noswap there",
			 dir);
		return required ? -EEXIST : 0;
	}
	if (mount(STATE_FS_SOURCE, dir, "tmpfs", flags, "mode=0700,noswap") == 0) {
		snprintf(note, note_len, "pinned: tmpfs, noswap");
		return 0;
	}
	r = -errno;
	/* Before 6.4 tmpfs has no noswap: RAM-backed, but it can swap. */
	if (r == -EINVAL && mount(STATE_FS_SOURCE, dir, "tmpfs", flags, "mode=0700") == 0) {
		snprintf(note, note_len,
			 "not pinned: tmpfs without noswap (kernel < 6.4): can swap");
		return required ? -EOPNOTSUPP : 0;
	}
	snprintf(note, note_len, "not pinned: mounting a tmpfs on %s: %s", dir, strerror(-r));
	return required ? r : 0;
}
