systemdsystemunit_DATA = contrib/systemd/luoemud.service
modulesloaddir = $(prefix)/lib/modules-load.d
modulesload_DATA = contrib/systemd/luoemu-cuse.conf
EXTRA_DIST += contrib/systemd/luoemud.service contrib/systemd/luoemu-cuse.conf
