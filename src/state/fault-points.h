/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Named fault points of the core.  Slash-separated, stable: they are the
 * names users give to `luoemu fault set`.  Frontends and the handover add
 * their own under "cuse/", "seccomp/", "blob/" and "handover/".
 */
#ifndef LUOEMU_STATE_FAULT_POINTS_H
#define LUOEMU_STATE_FAULT_POINTS_H

#define LUO_FP_DEVICE_OPEN	 "device/open"
#define LUO_FP_SESSION_CREATE	 "session/create"
#define LUO_FP_SESSION_RETRIEVE	 "session/retrieve"
#define LUO_FP_SESSION_FINISH	 "session/finish"
#define LUO_FP_PRESERVE_TOKEN	 "preserve/token"
#define LUO_FP_PRESERVE_CAPACITY "preserve/capacity"
#define LUO_FP_PRESERVE_HANDLER	 "preserve/handler"
#define LUO_FP_RETRIEVE_FD	 "retrieve/fd"
#define LUO_FP_FREEZE_FILE	 "freeze/file"
#define LUO_FP_FINISH_CAN_FINISH "finish/can_finish"
#define LUO_FP_DESERIALIZE	 "deserialize/file"

#endif
