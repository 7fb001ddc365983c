# Man pages carry the version; they are generated at make time.
man_MANS = man/luoemu.1 man/luoemud.8
EXTRA_DIST += man/luoemu.1.in man/luoemud.8.in
CLEANFILES += $(man_MANS)

man_subst = $(MKDIR_P) man && sed -e 's|@VERSION[@]|$(VERSION)|g'
man/luoemu.1: $(srcdir)/man/luoemu.1.in Makefile
	$(AM_V_GEN)$(man_subst) <$(srcdir)/man/luoemu.1.in >$@.tmp && mv $@.tmp $@
man/luoemud.8: $(srcdir)/man/luoemud.8.in Makefile
	$(AM_V_GEN)$(man_subst) <$(srcdir)/man/luoemud.8.in >$@.tmp && mv $@.tmp $@
