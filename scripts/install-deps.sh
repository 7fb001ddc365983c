#!/bin/sh
# Install every Debian 12 package luoemu needs to build and test (root).
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends \
	build-essential autoconf automake libtool pkg-config \
	libfuse3-dev fuse3 libcap-dev check libsystemd-dev \
	qemu-system-x86 busybox-static cpio kmod xz-utils zstd ca-certificates \
	apt-utils mandoc debhelper dpkg-dev bash-completion man-db python3 jq systemd \
	kexec-tools procps util-linux passwd uidmap
