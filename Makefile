# holdscan - hold-queue batch scanner for Postfix.
#
#   make            build daemon, admin tool, plugins       (build/rel/)
#   make check      install missing packages, build, run every test
#   make demo       run a private Postfix + holdscand and show what happens
#   make bench      throughput / latency / memory figures (results in build/bench/)
#   make bench-web  the web console's queries at 100,000 quarantined and
#                   1,000,000 logged messages, one host and a farm
#                   (build/bench/web.txt)
#   make bench-log  the message log's and a farm's figures alone (issue 15)
#   make fuzz       run every libFuzzer target for FUZZ_SECONDS each
#   make torture    kill -9 every kind of holdscan process while mail flows,
#                   during recovery and in a restart storm (tests/torture/;
#                   KILLS, RECOVERY_KILLS, STORM_RESTARTS, STORM_MESSAGES;
#                   figures in build/torture-results.txt)
#   make soak       mail + kills + reloads + faults for SOAK_SECONDS;
#                   SOAK_LONG=1 (or make soak-long): one holdscand for
#                   SOAK_LONG_SECONDS, no restarts, memory slope
#   make install    PREFIX=/usr/local DESTDIR= (binaries, the scanner program
#                   and plugins in $(LIBDIR), config, man pages, systemd
#                   units, SysV script, cron file, and without DESTDIR the
#                   system user holdscan; see doc/quickstart.md)
#   make deps       apt-get install what is missing (as root)
#
# Flavours never mix: BUILD=rel (default, -O2 -g) and BUILD=asan
# (-O1, AddressSanitizer + UndefinedBehaviorSanitizer, no recovery) build
# into build/$(BUILD)/. Unit tests always run in the asan flavour; the
# end-to-end tests run the rel flavour. V=1 prints full commands.

VERSION		 = 0.1.0

PREFIX		?= /usr/local
SBINDIR		?= $(PREFIX)/sbin
BINDIR		?= $(PREFIX)/bin
LIBDIR		?= $(PREFIX)/lib/holdscan
PLUGINDIR	?= $(LIBDIR)/plugins
MANDIR		?= $(PREFIX)/share/man
DOCDIR		?= $(PREFIX)/share/doc/holdscan
WEBDIR		?= $(PREFIX)/share/holdscan/web
ifeq ($(PREFIX),/usr)
SYSCONFDIR	?= /etc/holdscan
SYSTEMDDIR	?= /lib/systemd/system
else
SYSCONFDIR	?= $(PREFIX)/etc/holdscan
SYSTEMDDIR	?= $(PREFIX)/lib/systemd/system
endif
INITDIR		?= /etc/init.d
CRONDIR		?= /etc/cron.d
# holdscan.conf's defaults of state_directory and quarantine_directory,
# created by make install (owned by MAIL_OWNER when installing for real).
STATEDIR	?= /var/lib/holdscan
QUARANTINEDIR	?= /var/spool/holdscan/quarantine
MAIL_OWNER	?= postfix
DESTDIR		?=

BUILD		?= rel
O		 = build/$(BUILD)

CC		?= cc
FUZZ_CC		?= clang
CFLAGS		?= -O2 -g
FUZZ_SECONDS	?= 60
# make torture: kills while mail flows (tests/torture/1010-kills.t, at
# TORTURE_RATE messages/s), kills during recovery (1020-recovery.t), and a
# restart storm (1030-storm.t): 1,200 kills, about 30 minutes in all.
KILLS		?= 900
TORTURE_RATE	?= 30
RECOVERY_KILLS	?= 100
RECOVERY_HOLD	?= 1000
RECOVERY_BATCH	?= 500
STORM_RESTARTS	?= 200
STORM_MESSAGES	?= 30000
SOAK_SECONDS	?= 600
SOAK_LONG	?=
SOAK_LONG_SECONDS ?= 3600
SOAK_LONG_RATE	?= 50

# Each program links what it uses and nothing else (doc/hacking.md):
# holdscand and holdscan no libclamav, no GMime and no libdl; only the
# scanner program loads plugins, and only it puts its workers under a
# seccomp filter (libseccomp). Tests and tools link everything.
PKGS		 = libconfuse gmime-3.0 libclamav zlib libpcre2-8 libseccomp \
		   libarchive libmagic libxml-2.0 libytnef
PKG_CFLAGS	:= $(shell pkg-config --cflags libconfuse gmime-3.0 libpq 2>/dev/null)
PKG_LIBS	:= $(shell pkg-config --libs $(PKGS) libpq libmicrohttpd jansson libsodium libcrypt 2>/dev/null) -ldb-5.3 -ldl -pthread
TEST_CFLAGS	:= $(shell pkg-config --cflags $(PKGS) libpq 2>/dev/null)
CONFUSE_LIBS	:= $(shell pkg-config --libs libconfuse 2>/dev/null)
GMIME_LIBS	:= $(shell pkg-config --libs gmime-3.0 2>/dev/null)
SECCOMP_LIBS	:= $(shell pkg-config --libs libseccomp 2>/dev/null)
# libpq (a farm's database, state/pgdb.c) only where the store layer is:
# holdscand's master and the holdscan tool, never the scanner program.
PQ_LIBS		:= $(shell pkg-config --libs libpq 2>/dev/null)
# jansson: holdscand's control socket for the web console speaks JSON;
# the tool hashes the console's passwords (libcrypt, yescrypt).
JANSSON_LIBS	:= $(shell pkg-config --libs jansson 2>/dev/null)
MHD_LIBS	:= $(shell pkg-config --libs libmicrohttpd 2>/dev/null)
SODIUM_LIBS	:= $(shell pkg-config --libs libsodium 2>/dev/null)
CRYPT_LIBS	:= $(shell pkg-config --libs libcrypt 2>/dev/null)
DAEMON_LIBS	 = $(CONFUSE_LIBS) $(PQ_LIBS) $(JANSSON_LIBS) -ldb-5.3 -pthread
TOOL_LIBS	 = $(CONFUSE_LIBS) $(PQ_LIBS) $(CRYPT_LIBS) $(SODIUM_LIBS) \
		   -ldb-5.3 -pthread
# holdscan-web: HTTP, JSON, passwords, random tokens, and on a farm libpq
# (the farm's tables with its own role: state/pgdb.c and state/pgreq.c
# are all it takes of the store layer); no Berkeley DB.
WEB_LIBS	 = $(CONFUSE_LIBS) $(MHD_LIBS) $(JANSSON_LIBS) $(CRYPT_LIBS) \
		   $(SODIUM_LIBS) $(PQ_LIBS)
PCRE2_LIBS	:= $(shell pkg-config --libs libpcre2-8 2>/dev/null)
# PCRE2: the rulesets' regular expressions (scanner/ruleset.c), matched
# in the scanner program only.
SCANNER_LIBS	 = $(GMIME_LIBS) $(CONFUSE_LIBS) $(SECCOMP_LIBS) $(PCRE2_LIBS) -ldl

WARN		 = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
		   -Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral \
		   -Wpointer-arith -Wvla -Wno-format-truncation
HS_CPPFLAGS	 = -D_GNU_SOURCE -DHS_VERSION='"$(VERSION)"' -DHS_SRCDIR='"$(CURDIR)"' \
		   $(PATHS_CPPFLAGS) -Isrc -Iinclude
HS_CFLAGS	 = -std=gnu11 -pthread $(WARN) $(HS_CPPFLAGS) $(PKG_CFLAGS) -fPIC
# The installed paths are compiled into PATHS_OBJS alone (src/common/paths.c,
# the headers plugin's default rules_file, two test programs that print
# them): a change of PREFIX (make, then make install PREFIX=/usr) rebuilds
# these and relinks, nothing else. Any other file that uses HS_SYSCONFDIR,
# HS_PLUGINDIR or HS_LIBEXECDIR does not compile: it uses common/paths.h.
PATHS_DEFS	 = -DHS_SYSCONFDIR='"$(SYSCONFDIR)"' -DHS_WEBDIR='"$(WEBDIR)"' \
		   -DHS_PLUGINDIR='"$(PLUGINDIR)"' -DHS_LIBEXECDIR='"$(LIBDIR)"'
PATHS_CPPFLAGS	 =
PATHS_SRCS	 = src/common/paths.c plugins/headers.c tests/unit/test_headers.c

# Plugins see holdscan/plugin.h and nothing else of ours; they export
# their descriptor only and link their own libraries only: a symbol
# they take from anywhere else is an error when they are linked.
PLUGIN_CFLAGS	 = -std=gnu11 $(WARN) -D_GNU_SOURCE \
		   $(PATHS_CPPFLAGS) -Iinclude -fPIC \
		   -fvisibility=hidden
PLUGIN_LDFLAGS	 = -shared -Wl,--no-undefined
PLUGIN_LIBS_clamav	:= $(shell pkg-config --libs libclamav 2>/dev/null)
PLUGIN_LIBS_attachments	:= $(shell pkg-config --libs libmagic libarchive libytnef libpcre2-8 2>/dev/null)
PLUGIN_LIBS_headers	:= $(shell pkg-config --libs libpcre2-8 2>/dev/null)
PLUGIN_LIBS_html	:= $(shell pkg-config --libs libxml-2.0 2>/dev/null)
PLUGIN_CFLAGS_clamav	:= $(shell pkg-config --cflags libclamav 2>/dev/null)
PLUGIN_CFLAGS_attachments := $(shell pkg-config --cflags libmagic libarchive libytnef libpcre2-8 2>/dev/null)
PLUGIN_CFLAGS_headers	:= $(shell pkg-config --cflags libpcre2-8 2>/dev/null)
PLUGIN_CFLAGS_html	:= $(shell pkg-config --cflags libxml-2.0 2>/dev/null)
# The test plugin smuggle plays a worker taken over and speaks the
# master's wire protocol: it sees common/wire.h (structs; it links
# nothing of ours).
TPLUGIN_CFLAGS_smuggle	 = -Isrc

ifeq ($(BUILD),asan)
CFLAGS		 = -O1 -g -fsanitize=address,undefined \
		   -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS		+= -fsanitize=address,undefined
endif

ifeq ($(V),1)
Q		 =
else
Q		 = @
endif

# src/ has one folder per process or layer (doc/hacking.md); every
# src/*/*.c except the programs' main files is library code, one
# library per layer:
#	libhs-common	common/			every program
#	libhs-store	state/ quarantine/ commit/	holdscand, holdscan (and
#						holdscan-web on a farm:
#						pgdb.o, pgreq.o only)
#	libhs-daemon	daemon/			holdscand
#	libhs-scanner	scanner/		holdscan-scanner
#	libhs-tool	tool/			holdscan
#	libhs-web	web/			holdscan-web (and the tool's
#						holdscan web user: accounts,
#						holdscan digest: links)
PROG_SRCS	 = src/daemon/holdscand.c src/tool/holdscan.c \
		   src/scanner/holdscan-scanner.c src/web/holdscan-web.c
LIB_SRCS	 = $(filter-out $(PROG_SRCS),$(wildcard src/*/*.c))
layer_srcs	 = $(filter-out $(PROG_SRCS),$(wildcard $(1:%=src/%/*.c)))
LIB_COMMON	 = $(O)/libhs-common.a
LIB_STORE	 = $(O)/libhs-store.a
LIB_DAEMON	 = $(O)/libhs-daemon.a
LIB_SCANNER	 = $(O)/libhs-scanner.a
LIB_TOOL	 = $(O)/libhs-tool.a
LIB_WEB		 = $(O)/libhs-web.a
# Everything, in link order, for the tests and test tools.
LIBS_ALL	 = $(LIB_TOOL) $(LIB_WEB) $(LIB_DAEMON) $(LIB_SCANNER) \
		   $(LIB_STORE) $(LIB_COMMON)

PLUGIN_SRCS	 = $(wildcard plugins/*.c)
PLUGINS		 = $(PLUGIN_SRCS:plugins/%.c=$(O)/plugins/%.so)
# Test-only plugins: built into the same directory, never installed.
TPLUGIN_SRCS	 = $(wildcard tests/plugins/*.c)
TPLUGINS	 = $(TPLUGIN_SRCS:tests/plugins/%.c=$(O)/plugins/%.so)

# LD_PRELOAD fault injection for the robustness tests, never installed.
FAULT_SRCS	 = $(wildcard tests/fault/*.c)
FAULT_SOS	 = $(FAULT_SRCS:tests/fault/%.c=$(O)/tests/fault/lib%.so)
UNIT_SRCS	 = $(wildcard tests/unit/test_*.c)
UNIT_BINS	 = $(UNIT_SRCS:%.c=$(O)/%)
TOOL_SRCS	 = $(wildcard tests/tools/*.c)
TOOL_BINS	 = $(TOOL_SRCS:%.c=$(O)/%)
# What the test tools share (tests/tools/lib), linked into each.
TOOL_LIB_OBJS	 = $(patsubst %.c,$(O)/%.o,$(wildcard tests/tools/lib/*.c))
FUZZ_SRCS	 = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES	 = $(FUZZ_SRCS:tests/fuzz/fuzz_%.c=%)
REPLAY_BINS	 = $(FUZZ_SRCS:%.c=$(O)/%-replay)

PROG_BINS	 = $(O)/holdscand $(O)/holdscan $(O)/holdscan-scanner \
		   $(O)/holdscan-web

.PHONY: all progs check check-build check-unit check-e2e check-replay \
	check-unit-glibc demo bench bench-web bench-log fuzz torture soak soak-long install clean deps lint FORCE

all: progs

progs: $(PROG_BINS) $(PLUGINS) $(TPLUGINS) $(TOOL_BINS) $(FAULT_SOS)

# The paths compiled in (default config file, plugin directory) are
# those make install installs to: PATHS_SRCS' objects (and only they) are
# rebuilt when they change.
PATHS_STAMP	 = $(O)/.paths
PATHS_NOW	 = $(SYSCONFDIR) $(PLUGINDIR) $(LIBDIR) $(WEBDIR)
PATHS_OBJS	 = $(PATHS_SRCS:%.c=$(O)/%.o)

$(PATHS_OBJS): $(PATHS_STAMP)
$(PATHS_OBJS): PATHS_CPPFLAGS = $(PATHS_DEFS)

$(PATHS_STAMP): FORCE
	@mkdir -p $(@D)
	@echo '$(PATHS_NOW)' | cmp -s - $@ || echo '$(PATHS_NOW)' >$@

FORCE:

# Objects are kept (not removed as make's intermediate files), so that a
# relink after "make" never needs to compile them again.
.SECONDARY:

$(O)/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(HS_CFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(O)/tests/%.o: tests/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(HS_CFLAGS) $(TEST_CFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIB_COMMON): $(patsubst %.c,$(O)/%.o,$(call layer_srcs,common))
$(LIB_STORE): $(patsubst %.c,$(O)/%.o,$(call layer_srcs,state quarantine commit))
$(LIB_DAEMON): $(patsubst %.c,$(O)/%.o,$(call layer_srcs,daemon))
$(LIB_SCANNER): $(patsubst %.c,$(O)/%.o,$(call layer_srcs,scanner))
$(LIB_TOOL): $(patsubst %.c,$(O)/%.o,$(call layer_srcs,tool))
$(LIB_WEB): $(patsubst %.c,$(O)/%.o,$(call layer_srcs,web))
$(O)/libhs-%.a:
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

# The programs: each its own layers and libraries.
$(O)/holdscand: $(O)/src/daemon/holdscand.o $(LIB_DAEMON) $(LIB_STORE) \
    $(LIB_COMMON)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(DAEMON_LIBS)

$(O)/holdscan: $(O)/src/tool/holdscan.o $(LIB_TOOL) $(LIB_WEB) $(LIB_STORE) \
    $(LIB_COMMON)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(TOOL_LIBS)

$(O)/holdscan-web: $(O)/src/web/holdscan-web.o $(LIB_WEB) $(LIB_STORE) \
    $(LIB_COMMON)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(WEB_LIBS)

$(O)/holdscan-scanner: $(O)/src/scanner/holdscan-scanner.o $(LIB_SCANNER) \
    $(LIB_COMMON)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(SCANNER_LIBS)

$(O)/plugins/%.o: plugins/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(PLUGIN_CFLAGS) $(PLUGIN_CFLAGS_$*) $(CFLAGS) -MMD -MP -c \
	    -o $@ $<

$(O)/tests/plugins/%.o: tests/plugins/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(PLUGIN_CFLAGS) $(TPLUGIN_CFLAGS_$*) $(CFLAGS) -MMD -MP -c \
	    -o $@ $<

$(O)/plugins/%.so: $(O)/plugins/%.o
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $(PLUGIN_LDFLAGS) -o $@ $< \
	    $(PLUGIN_LIBS_$*)

$(O)/plugins/%.so: $(O)/tests/plugins/%.o
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $(PLUGIN_LDFLAGS) -o $@ $<

$(O)/tests/fault/lib%.so: $(O)/tests/fault/%.o
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -shared -o $@ $< -ldl

$(O)/tests/unit/%: $(O)/tests/unit/%.o $(LIBS_ALL)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBS_ALL) $(PKG_LIBS) -lcmocka

$(O)/tests/tools/%: $(O)/tests/tools/%.o $(TOOL_LIB_OBJS) $(LIBS_ALL)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(TOOL_LIB_OBJS) $(LIBS_ALL) \
	    $(PKG_LIBS)

# make check replays every fuzz corpus once through a plain driver.
$(O)/tests/fuzz/%-replay: $(O)/tests/fuzz/%.o $(O)/tests/fuzz/replay_main.o \
    $(LIBS_ALL)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(O)/tests/fuzz/replay_main.o \
	    $(LIBS_ALL) $(PKG_LIBS)

# --- deps: what a fresh Debian 12 needs ---------------------------------
DEB_PKGS = build-essential pkg-config clang libclang-rt-14-dev \
	   libclamav-dev libdb5.3-dev db5.3-util libconfuse-dev \
	   libgmime-3.0-dev zlib1g-dev libmagic-dev libarchive-dev libytnef0-dev \
	   libpcre2-dev libxml2-dev libseccomp-dev libcmocka-dev \
	   postfix clamav-testfiles postgresql-15 libpq-dev \
	   swaks spamassassin spamd spamc python3 perl procps iproute2 man-db \
	   systemd shellcheck cppcheck time \
	   libmicrohttpd-dev libjansson-dev libsodium-dev libcrypt-dev \
	   chromium chromium-driver python3-selenium

deps:
	$(Q)sh tests/lib/deps.sh $(DEB_PKGS)

# --- tests ---------------------------------------------------------------
# check: deps first, then a fresh make so pkg-config sees what was installed.
check: deps
	$(Q)$(MAKE) --no-print-directory check-build lint
	$(Q)$(MAKE) --no-print-directory BUILD=asan check-unit check-replay
	$(Q)$(MAKE) --no-print-directory check-unit-glibc
	$(Q)$(MAKE) --no-print-directory check-e2e

check-build: progs

check-unit: $(UNIT_BINS) $(PLUGINS) $(TPLUGINS)
	$(Q)CMOCKA_MESSAGE_OUTPUT=TAP prove --exec '' $(UNIT_BINS)

# What AddressSanitizer's allocator cannot show: glibc's heap kept between
# messages (xalloc_keep_heap()), in the release build.
check-unit-glibc: $(O)/tests/unit/test_core
	$(Q)CMOCKA_MESSAGE_OUTPUT=TAP prove --exec '' $(O)/tests/unit/test_core

check-replay: $(REPLAY_BINS)
	$(Q)set -e; for f in $(FUZZ_NAMES); do \
	    echo "replay corpus $$f"; \
	    $(O)/tests/fuzz/fuzz_$$f-replay tests/fuzz/corpus/$$f; \
	done

# Two scripts at a time: each waits on its own private Postfix most of
# the time (ports, directories and clusters are per script), and the whole
# suite stays within 20 minutes on a 2-CPU machine. PROVE_FLAGS=-j1 runs
# them one by one.
# A failed script's diagnostics are shown again at the end (e2e-failures.sh),
# where the tail of a CI log has them.
PROVE_FLAGS	?= -j2 --timer
E2E_LOGS	 = $(O)/e2e-logs
check-e2e: progs
	$(Q)rm -rf $(E2E_LOGS) && mkdir -p $(E2E_LOGS)
	$(Q)HS_BUILD=$(CURDIR)/$(O) HS_E2E_LOGS=$(CURDIR)/$(E2E_LOGS) \
	    prove $(PROVE_FLAGS) --exec 'sh tests/lib/e2e-run.sh' \
	    tests/e2e/*.t || { sh tests/lib/e2e-failures.sh $(E2E_LOGS); exit 1; }

# --- fuzzing (clang, libFuzzer) -----------------------------------------
FUZZ_O		 = build/fuzz
FUZZ_CFLAGS	 = -O1 -g -fsanitize=fuzzer-no-link,address,undefined \
		   -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_LIB_OBJS	 = $(LIB_SRCS:%.c=$(FUZZ_O)/%.o)
$(PATHS_SRCS:%.c=$(FUZZ_O)/%.o): PATHS_CPPFLAGS = $(PATHS_DEFS)

$(FUZZ_O)/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) -std=gnu11 -Wall -Wextra -Werror -Wno-unused-command-line-argument \
	    $(HS_CPPFLAGS) $(TEST_CFLAGS) $(FUZZ_CFLAGS) -c -o $@ $<

# An archive, so that a target takes only the objects it uses (the tool's
# need its main's commands).
$(FUZZ_O)/libfuzzdeps.a: $(FUZZ_LIB_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(FUZZ_O)/fuzz_%: $(FUZZ_O)/tests/fuzz/fuzz_%.o $(FUZZ_O)/libfuzzdeps.a
	@$(if $(Q),echo "  FUZZLD  $@")
	$(Q)$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $< \
	    $(FUZZ_O)/libfuzzdeps.a $(PKG_LIBS)

fuzz: deps
	$(Q)$(MAKE) --no-print-directory fuzz-run

fuzz-run: $(FUZZ_NAMES:%=$(FUZZ_O)/fuzz_%)
	$(Q)sh tests/fuzz/run.sh $(FUZZ_O) $(FUZZ_SECONDS) $(FUZZ_NAMES)

# --- demo, bench, torture, soak: real Postfix, see tests/lib/ -------------
demo: deps
	$(Q)$(MAKE) --no-print-directory progs
	$(Q)HS_BUILD=$(CURDIR)/$(O) sh tests/demo.sh

bench: deps
	$(Q)$(MAKE) --no-print-directory progs
	$(Q)HS_BUILD=$(CURDIR)/$(O) sh tests/bench/run.sh

# The web console's queries over 100,000 quarantined messages and
# 1,000,000 log records (tests/bench/web.sh; BENCH_WEB_QUARANTINE,
# BENCH_WEB_LOG, BENCH_WEB_RUNS, BENCH_WEB_TOOL_RUNS), then the same on a
# farm's PostgreSQL (tests/bench/webfarm.sh; BENCH_WEB_FARM=no leaves it
# out); make bench runs it too (BENCH_WEB=no leaves it out). Figures in
# build/bench/web.txt and build/bench/web.json.
bench-web: progs
	$(Q)mkdir -p build/bench
	$(Q)HS_BUILD=$(CURDIR)/$(O) sh tests/bench/web.sh 2>&1 | \
	    tee build/bench/web.txt; \
	    ! grep -Eq '^web(farm)?\.sh: ' build/bench/web.txt
# The message log's and the farm's figures alone (issue 15): also part of
# make bench.
bench-log: deps
	$(Q)$(MAKE) --no-print-directory progs
	$(Q)HS_BUILD=$(CURDIR)/$(O) sh tests/bench/log.sh

TORTURE_ENV	 = KILLS=$(KILLS) TORTURE_RATE=$(TORTURE_RATE) \
		   RECOVERY_KILLS=$(RECOVERY_KILLS) RECOVERY_HOLD=$(RECOVERY_HOLD) \
		   RECOVERY_BATCH=$(RECOVERY_BATCH) \
		   STORM_RESTARTS=$(STORM_RESTARTS) STORM_MESSAGES=$(STORM_MESSAGES)

torture: deps
	$(Q)$(MAKE) --no-print-directory progs
	$(Q)rm -rf build/torture-results.txt build/torture-failures
	$(Q)HS_BUILD=$(CURDIR)/$(O) TT_RESULTS=$(CURDIR)/build/torture-results.txt \
	    $(TORTURE_ENV) prove -v tests/torture/*.t; rc=$$?; \
	    echo; cat build/torture-results.txt 2>/dev/null; exit $$rc

soak: deps
	$(Q)$(MAKE) --no-print-directory progs
ifeq ($(SOAK_LONG),)
	$(Q)HS_BUILD=$(CURDIR)/$(O) SOAK_SECONDS=$(SOAK_SECONDS) sh tests/soak/run.sh
else
	$(Q)HS_BUILD=$(CURDIR)/$(O) SOAK_LONG_SECONDS=$(SOAK_LONG_SECONDS) \
	    SOAK_LONG_RATE=$(SOAK_LONG_RATE) sh tests/soak/long.sh
endif

soak-long:
	$(Q)$(MAKE) --no-print-directory soak SOAK_LONG=1

QUEUE_H		 = /usr/include/$(shell gcc -dumpmachine)/sys/queue.h
lint:
	@# a merge's conflict markers left in any file of the tree
	$(Q)! grep -rnE --exclude-dir=build --exclude-dir=.git \
	    '^(<<<<<<<|>>>>>>>) ' . || { echo "lint: conflict markers"; exit 1; }
	$(Q)shellcheck -s sh -e SC1091 tests/lib/*.sh tests/e2e/*.t tests/*.sh \
	    tests/bench/*.sh tests/fuzz/*.sh tests/torture/*.t tests/soak/*.sh
	$(Q)cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
	    -D_GNU_SOURCE -Isrc -Iinclude --include=$(QUEUE_H) src plugins

# --- install --------------------------------------------------------------
# Files are shipped with the paths of PREFIX=/usr/local (doc/, etc/) or of
# PREFIX=/usr (init/); make install writes the configured ones into them.
PATH_SED	 = -e 's|/usr/local/etc/holdscan|$(SYSCONFDIR)|g' \
		   -e 's|/usr/local/lib/holdscan/plugins|$(PLUGINDIR)|g' \
		   -e 's|/usr/local/lib/holdscan|$(LIBDIR)|g' \
		   -e 's|/usr/local/share/doc/holdscan|$(DOCDIR)|g' \
		   -e 's|/usr/local/share/holdscan/web|$(WEBDIR)|g'
INIT_SED	 = -e 's|/usr/sbin/holdscand|$(SBINDIR)/holdscand|g' \
		   -e 's|/usr/sbin/holdscan-web|$(SBINDIR)/holdscan-web|g' \
		   -e 's|/usr/bin/holdscan |$(BINDIR)/holdscan |g' \
		   -e 's|/etc/holdscan/|$(SYSCONFDIR)/|g' \
		   -e 's|^User=postfix$$|User=$(MAIL_OWNER)|' \
		   -e 's|^Group=postfix$$|Group=$(MAIL_OWNER)|' \
		   -e 's|^\([0-9].* \)postfix \[|\1$(MAIL_OWNER) [|'
ETC_FILES	 = $(shell find etc -type f | sort)
MAN_PAGES	 = $(wildcard doc/*.[158])
UNITS		 = init/holdscand.service init/holdscan-expire.service \
		   init/holdscan-expire.timer init/holdscan-web.service \
		   init/holdscan-digest.service init/holdscan-digest.timer
WEB_FILES	 = $(wildcard web/*.html web/*.js web/*.css web/*.svg)

# A configuration file that is already there is never overwritten: when
# it differs from the new one, the new one is installed beside it as
# FILE.dist (dpkg keeps an edited conffile the same way, as .dpkg-dist).
# The scanners' user, worker_user's default holdscan, and the web
# console's, web { user }'s default holdscan-web (system users and groups
# of their own, no home, no login shell: never nobody, which other
# daemons share), are created unless they exist; not with DESTDIR, whose
# tree is installed elsewhere.
install: progs
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) \
	    $(DESTDIR)$(PLUGINDIR) $(DESTDIR)$(SYSCONFDIR) $(DESTDIR)$(DOCDIR) \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSTEMDDIR) $(DESTDIR)$(INITDIR) \
	    $(DESTDIR)$(CRONDIR) $(DESTDIR)$(WEBDIR)
	install -m 0755 $(O)/holdscand $(DESTDIR)$(SBINDIR)/holdscand
	install -m 0755 $(O)/holdscan-web $(DESTDIR)$(SBINDIR)/holdscan-web
	install -m 0644 $(WEB_FILES) $(DESTDIR)$(WEBDIR)/
	install -m 0755 $(O)/holdscan $(DESTDIR)$(BINDIR)/holdscan
	install -m 0755 $(O)/holdscan-scanner $(DESTDIR)$(LIBDIR)/holdscan-scanner
	$(if $(PLUGINS),install -m 0644 $(PLUGINS) $(DESTDIR)$(PLUGINDIR)/)
	@set -e; for f in $(ETC_FILES); do \
	    dst=$(DESTDIR)$(SYSCONFDIR)/$${f#etc/}; \
	    install -d "$$(dirname "$$dst")"; \
	    sed $(PATH_SED) "$$f" >"$$dst.new"; \
	    chmod 0644 "$$dst.new"; \
	    if [ ! -e "$$dst" ]; then \
		echo "installed $$dst"; mv "$$dst.new" "$$dst"; \
	    elif cmp -s "$$dst.new" "$$dst"; then \
		rm "$$dst.new"; \
	    else \
		echo "kept $$dst as it is; the new version is $$dst.dist"; \
		mv "$$dst.new" "$$dst.dist"; \
	    fi; \
	done
	@set -e; for f in $(MAN_PAGES); do \
	    dst=$(DESTDIR)$(MANDIR)/man$${f##*.}/$${f#doc/}; \
	    sed $(PATH_SED) "$$f" >"$$dst"; chmod 0644 "$$dst"; \
	done
	install -m 0644 README.md doc/quickstart.md doc/farm.md doc/web.md doc/digest.md \
	    doc/security.md $(DESTDIR)$(DOCDIR)/
	@set -e; for f in $(UNITS); do \
	    dst=$(DESTDIR)$(SYSTEMDDIR)/$${f#init/}; \
	    sed $(INIT_SED) "$$f" >"$$dst"; chmod 0644 "$$dst"; \
	done
	sed $(INIT_SED) init/holdscand.init >$(DESTDIR)$(INITDIR)/holdscand
	chmod 0755 $(DESTDIR)$(INITDIR)/holdscand
	sed $(INIT_SED) init/holdscan-web.init >$(DESTDIR)$(INITDIR)/holdscan-web
	chmod 0755 $(DESTDIR)$(INITDIR)/holdscan-web
	install -d $(DESTDIR)$(CRONDIR)
	sed $(INIT_SED) init/holdscan.cron >$(DESTDIR)$(CRONDIR)/holdscan
	chmod 0644 $(DESTDIR)$(CRONDIR)/holdscan
	install -d -m 0700 $(DESTDIR)$(STATEDIR) $(DESTDIR)$(QUARANTINEDIR)
	@if [ -z "$(DESTDIR)" ] && id -u $(MAIL_OWNER) >/dev/null 2>&1; then \
	    echo "chown $(MAIL_OWNER): $(STATEDIR) $(QUARANTINEDIR)"; \
	    chown $(MAIL_OWNER): $(STATEDIR) $(QUARANTINEDIR); \
	fi
	@set -e; for u in holdscan holdscan-web; do \
	    if [ -z "$(DESTDIR)" ] && ! id -u $$u >/dev/null 2>&1; then \
		if command -v adduser >/dev/null 2>&1; then \
		    echo "adduser --system --group --no-create-home $$u"; \
		    adduser --quiet --system --group --no-create-home $$u; \
		else \
		    echo "useradd --system --user-group --no-create-home" \
			"--home-dir /nonexistent --shell /usr/sbin/nologin $$u"; \
		    useradd --system --user-group --no-create-home \
			--home-dir /nonexistent --shell /usr/sbin/nologin $$u; \
		fi; \
	    fi; \
	done

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
