/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * luoemu's copy of the Live Update Orchestrator uAPI (v7.2 layout).
 *
 * Names and layouts are the kernel's, so a program built against this header
 * runs unchanged on a real LUO kernel.  It is installed for systems whose
 * kernel headers predate LUO; where <linux/liveupdate.h> exists it is used.
 */
#ifndef LUOEMU_LIVEUPDATE_H
#define LUOEMU_LIVEUPDATE_H

#if defined(__has_include)
#if __has_include(<linux/liveupdate.h>) && !defined(LUOEMU_OWN_UAPI)
#include <linux/liveupdate.h>
#define LUOEMU_HAVE_KERNEL_UAPI 1
#endif
#endif

#ifndef LUOEMU_HAVE_KERNEL_UAPI
#include <linux/ioctl.h>
#include <linux/types.h>

#define LIVEUPDATE_IOCTL_TYPE	       0xBA
#define LIVEUPDATE_SESSION_NAME_LENGTH 64

enum {
	LIVEUPDATE_CMD_BASE = 0x00,
	LIVEUPDATE_CMD_CREATE_SESSION = LIVEUPDATE_CMD_BASE,
	LIVEUPDATE_CMD_RETRIEVE_SESSION = 0x01,
};

enum {
	LIVEUPDATE_CMD_SESSION_BASE = 0x40,
	LIVEUPDATE_CMD_SESSION_PRESERVE_FD = LIVEUPDATE_CMD_SESSION_BASE,
	LIVEUPDATE_CMD_SESSION_RETRIEVE_FD = 0x41,
	LIVEUPDATE_CMD_SESSION_FINISH = 0x42,
	LIVEUPDATE_CMD_SESSION_GET_NAME = 0x43,
};

struct liveupdate_ioctl_create_session {
	__u32 size;
	__s32 fd;
	__u8 name[LIVEUPDATE_SESSION_NAME_LENGTH];
};

struct liveupdate_ioctl_retrieve_session {
	__u32 size;
	__s32 fd;
	__u8 name[LIVEUPDATE_SESSION_NAME_LENGTH];
};

struct liveupdate_session_preserve_fd {
	__u32 size;
	__s32 fd;
	__aligned_u64 token;
};

struct liveupdate_session_retrieve_fd {
	__u32 size;
	__s32 fd;
	__aligned_u64 token;
};

struct liveupdate_session_finish {
	__u32 size;
	__u32 reserved;
};

struct liveupdate_session_get_name {
	__u32 size;
	__u32 reserved;
	__u8 name[LIVEUPDATE_SESSION_NAME_LENGTH];
};

#define LIVEUPDATE_IOCTL_CREATE_SESSION _IO(LIVEUPDATE_IOCTL_TYPE, LIVEUPDATE_CMD_CREATE_SESSION)
#define LIVEUPDATE_IOCTL_RETRIEVE_SESSION                                                          \
	_IO(LIVEUPDATE_IOCTL_TYPE, LIVEUPDATE_CMD_RETRIEVE_SESSION)
#define LIVEUPDATE_SESSION_PRESERVE_FD                                                             \
	_IO(LIVEUPDATE_IOCTL_TYPE, LIVEUPDATE_CMD_SESSION_PRESERVE_FD)
#define LIVEUPDATE_SESSION_RETRIEVE_FD                                                             \
	_IO(LIVEUPDATE_IOCTL_TYPE, LIVEUPDATE_CMD_SESSION_RETRIEVE_FD)
#define LIVEUPDATE_SESSION_FINISH   _IO(LIVEUPDATE_IOCTL_TYPE, LIVEUPDATE_CMD_SESSION_FINISH)
#define LIVEUPDATE_SESSION_GET_NAME _IO(LIVEUPDATE_IOCTL_TYPE, LIVEUPDATE_CMD_SESSION_GET_NAME)

#endif /* !LUOEMU_HAVE_KERNEL_UAPI */

/* The layout is ABI: identical for 32- and 64-bit callers. */
#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#include <stddef.h>
_Static_assert(sizeof(struct liveupdate_ioctl_create_session) == 72, "create_session size");
_Static_assert(offsetof(struct liveupdate_ioctl_create_session, fd) == 4, "create_session.fd");
_Static_assert(offsetof(struct liveupdate_ioctl_create_session, name) == 8, "create_session.name");
_Static_assert(sizeof(struct liveupdate_ioctl_retrieve_session) == 72, "retrieve_session size");
_Static_assert(offsetof(struct liveupdate_ioctl_retrieve_session, fd) == 4, "retrieve_session.fd");
_Static_assert(offsetof(struct liveupdate_ioctl_retrieve_session, name) == 8,
	       "retrieve_session.name");
_Static_assert(sizeof(struct liveupdate_session_preserve_fd) == 16, "preserve_fd size");
_Static_assert(offsetof(struct liveupdate_session_preserve_fd, fd) == 4, "preserve_fd.fd");
_Static_assert(offsetof(struct liveupdate_session_preserve_fd, token) == 8, "preserve_fd.token");
_Static_assert(sizeof(struct liveupdate_session_retrieve_fd) == 16, "retrieve_fd size");
_Static_assert(offsetof(struct liveupdate_session_retrieve_fd, fd) == 4, "retrieve_fd.fd");
_Static_assert(offsetof(struct liveupdate_session_retrieve_fd, token) == 8, "retrieve_fd.token");
_Static_assert(sizeof(struct liveupdate_session_finish) == 8, "finish size");
_Static_assert(offsetof(struct liveupdate_session_finish, reserved) == 4, "finish.reserved");
_Static_assert(sizeof(struct liveupdate_session_get_name) == 72, "get_name size");
_Static_assert(offsetof(struct liveupdate_session_get_name, reserved) == 4, "get_name.reserved");
_Static_assert(offsetof(struct liveupdate_session_get_name, name) == 8, "get_name.name");
_Static_assert(LIVEUPDATE_IOCTL_CREATE_SESSION == 0xBA00, "CREATE_SESSION encoding");
_Static_assert(LIVEUPDATE_IOCTL_RETRIEVE_SESSION == 0xBA01, "RETRIEVE_SESSION encoding");
_Static_assert(LIVEUPDATE_SESSION_PRESERVE_FD == 0xBA40, "PRESERVE_FD encoding");
_Static_assert(LIVEUPDATE_SESSION_RETRIEVE_FD == 0xBA41, "RETRIEVE_FD encoding");
_Static_assert(LIVEUPDATE_SESSION_FINISH == 0xBA42, "FINISH encoding");
_Static_assert(LIVEUPDATE_SESSION_GET_NAME == 0xBA43, "GET_NAME encoding");
#endif

#endif /* LUOEMU_LIVEUPDATE_H */
