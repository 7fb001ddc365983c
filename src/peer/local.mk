noinst_LIBRARIES += src/peer/libluopeer.a
src_peer_libluopeer_a_SOURCES = \
	src/peer/peer.h \
	src/peer/peer.c

check_PROGRAMS += tests/unit/test-peer
TESTS += tests/unit/test-peer
tests_unit_test_peer_SOURCES = tests/unit/test-peer.c
tests_unit_test_peer_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_peer_LDADD = src/peer/libluopeer.a $(CHECK_LIBS)
