# Units get this build's paths at make time (configure leaves ${prefix} unexpanded).
systemdsystemunit_DATA = contrib/systemd/luoemud.service
# The user unit is luoemud.service too: `systemctl --user start luoemud`.
systemduserunit_DATA = contrib/systemd/user/luoemud.service
modulesloaddir = $(prefix)/lib/modules-load.d
modulesload_DATA = contrib/systemd/luoemu-cuse.conf
defaultdir = $(sysconfdir)/default
default_DATA = contrib/systemd/luoemud
EXTRA_DIST += \
	contrib/systemd/luoemud.service.in \
	contrib/systemd/luoemud-user.service.in \
	contrib/systemd/luoemud.default \
	contrib/systemd/luoemu-cuse.conf
CLEANFILES += \
	contrib/systemd/luoemud.service \
	contrib/systemd/user/luoemud.service \
	contrib/systemd/luoemud

do_subst = sed -e 's|@sbindir[@]|$(sbindir)|g' -e 's|@bindir[@]|$(bindir)|g' \
	-e 's|@sysconfdir[@]|$(sysconfdir)|g'

contrib/systemd/luoemud.service: $(srcdir)/contrib/systemd/luoemud.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) contrib/systemd && \
	$(do_subst) <$(srcdir)/contrib/systemd/luoemud.service.in >$@.tmp && mv $@.tmp $@
contrib/systemd/user/luoemud.service: $(srcdir)/contrib/systemd/luoemud-user.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) contrib/systemd/user && \
	$(do_subst) <$(srcdir)/contrib/systemd/luoemud-user.service.in >$@.tmp && mv $@.tmp $@

# Installed as $(sysconfdir)/default/luoemud.
contrib/systemd/luoemud: $(srcdir)/contrib/systemd/luoemud.default
	$(AM_V_GEN)$(MKDIR_P) contrib/systemd && cp $(srcdir)/contrib/systemd/luoemud.default $@
