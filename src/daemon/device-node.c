// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/device-node.h"
#include "util.h"

void mount_detach_all(const char *path)
{
	for (int i = 0; i < 64 && umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) == 0; i++)
		;
}

int device_node_bind(const char *src, const char *dst, char *why, size_t why_len)
{
	struct stat st;
	int fd;

	mount_detach_all(dst);
	if (lstat(dst, &st) == 0) {
		/* Never mount over somebody else's node: a CUSE device or a real LUO kernel's. */
		if (!S_ISREG(st.st_mode))
			return why_err(why, why_len, -EEXIST,
				       "%s exists and is not a regular file (is another LUO "
				       "device, CUSE or a real kernel's, there?)",
				       dst);
	} else {
		fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			return why_err(why, why_len, -errno, "creating %s: %s", dst,
				       strerror(errno));
		close(fd);
	}
	if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
		return why_err(why, why_len, -errno, "bind-mounting %s on %s: %s", src, dst,
			       strerror(errno));
	return 0;
}

void device_node_unbind(const char *dst)
{
	struct stat st;

	mount_detach_all(dst);
	if (lstat(dst, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0)
		unlink(dst);
}
