# The README's main job: a toy VMM keeping guest RAM across a live update.
noinst_PROGRAMS += examples/vmm-demo
examples_vmm_demo_SOURCES = examples/vmm-demo.c
examples_vmm_demo_CPPFLAGS = -I$(top_srcdir)/include
EXTRA_DIST += examples/run-demo.sh examples/demo-guest.sh
