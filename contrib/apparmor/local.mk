# Ubuntu 23.10+ restricts unprivileged user namespaces unless a profile
# allows them: installed where apparmor_parser looks (not loaded: that is
# the packager's postinst, or `apparmor_parser -r` by hand).
apparmordir = $(sysconfdir)/apparmor.d
dist_apparmor_DATA = contrib/apparmor/luoemud
