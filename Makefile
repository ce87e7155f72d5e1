# holdscan - hold-queue batch scanner for Postfix.
#
#   make            build daemon, admin tool, plugins       (build/rel/)
#   make check      install missing packages, build, run every test
#   make demo       run a private Postfix + holdscand and show what happens
#   make bench      throughput / latency / memory figures (results in build/bench/)
#   make fuzz       run every libFuzzer target for FUZZ_SECONDS each
#   make torture    the kill -9 test with KILLS kills (default 500)
#   make soak       mail + kills + reloads + faults for SOAK_SECONDS
#   make install    PREFIX=/usr/local DESTDIR=
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
ifeq ($(PREFIX),/usr)
SYSCONFDIR	?= /etc/holdscan
else
SYSCONFDIR	?= $(PREFIX)/etc/holdscan
endif
SYSTEMDDIR	?= /lib/systemd/system
INITDIR		?= /etc/init.d
DESTDIR		?=

BUILD		?= rel
O		 = build/$(BUILD)

CC		?= cc
FUZZ_CC		?= clang
CFLAGS		?= -O2 -g
FUZZ_SECONDS	?= 60
KILLS		?= 500
SOAK_SECONDS	?= 600

PKGS		 = libconfuse gmime-3.0 libclamav
PKG_CFLAGS	:= $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS	:= $(shell pkg-config --libs $(PKGS) 2>/dev/null) -ldb-5.3 -ldl

WARN		 = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
		   -Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral \
		   -Wpointer-arith -Wvla -Wno-format-truncation
HS_CPPFLAGS	 = -D_GNU_SOURCE -DHS_VERSION='"$(VERSION)"' -DHS_SRCDIR='"$(CURDIR)"' \
		   -DHS_SYSCONFDIR='"$(SYSCONFDIR)"' \
		   -DHS_PLUGINDIR='"$(PLUGINDIR)"' -Isrc
HS_CFLAGS	 = -std=gnu11 $(WARN) $(HS_CPPFLAGS) $(PKG_CFLAGS) -fPIC

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

# Every src/*.c except the two programs' main files is library code.
PROG_SRCS	 = src/holdscand.c src/holdscan.c
LIB_SRCS	 = $(filter-out $(PROG_SRCS),$(wildcard src/*.c))
LIB_OBJS	 = $(LIB_SRCS:%.c=$(O)/%.o)
LIB		 = $(O)/libholdscan.a

PLUGIN_SRCS	 = $(wildcard plugins/*.c)
PLUGINS		 = $(PLUGIN_SRCS:plugins/%.c=$(O)/plugins/%.so)
# Test-only plugins: built into the same directory, never installed.
TPLUGIN_SRCS	 = $(wildcard tests/plugins/*.c)
TPLUGINS	 = $(TPLUGIN_SRCS:tests/plugins/%.c=$(O)/plugins/%.so)

UNIT_SRCS	 = $(wildcard tests/unit/test_*.c)
UNIT_BINS	 = $(UNIT_SRCS:%.c=$(O)/%)
TOOL_SRCS	 = $(wildcard tests/tools/*.c)
TOOL_BINS	 = $(TOOL_SRCS:%.c=$(O)/%)
FUZZ_SRCS	 = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES	 = $(FUZZ_SRCS:tests/fuzz/fuzz_%.c=%)
REPLAY_BINS	 = $(FUZZ_SRCS:%.c=$(O)/%-replay)

PROGS		 = $(wildcard $(PROG_SRCS:src/%.c=src/%.c))
PROG_BINS	 = $(PROGS:src/%.c=$(O)/%)

.PHONY: all progs check check-build check-unit check-e2e check-replay \
	demo bench fuzz torture soak install clean deps lint

all: progs

progs: $(PROG_BINS) $(PLUGINS) $(TPLUGINS) $(TOOL_BINS)

$(O)/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(HS_CFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIB): $(LIB_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(O)/%: $(O)/src/%.o $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(PKG_LIBS)

$(O)/plugins/%.so: $(O)/plugins/%.o $(LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -shared -o $@ $< $(LIB) $(PKG_LIBS)

$(O)/plugins/%.so: $(O)/tests/plugins/%.o $(LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -shared -o $@ $< $(LIB) $(PKG_LIBS)

$(O)/tests/unit/%: $(O)/tests/unit/%.o $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(PKG_LIBS) -lcmocka

$(O)/tests/tools/%: $(O)/tests/tools/%.o $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(PKG_LIBS)

# make check replays every fuzz corpus once through a plain driver.
$(O)/tests/fuzz/%-replay: $(O)/tests/fuzz/%.o $(O)/tests/fuzz/replay_main.o $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(O)/tests/fuzz/replay_main.o \
	    $(LIB) $(PKG_LIBS)

# --- deps: what a fresh Debian 12 needs ---------------------------------
DEB_PKGS = build-essential pkg-config clang libclang-rt-14-dev \
	   libclamav-dev libdb5.3-dev db5.3-util libconfuse-dev \
	   libgmime-3.0-dev libcmocka-dev postfix clamav-testfiles swaks \
	   spamassassin spamc python3 perl procps iproute2 man-db \
	   systemd shellcheck

deps:
	$(Q)sh tests/lib/deps.sh $(DEB_PKGS)

# --- tests ---------------------------------------------------------------
# check: deps first, then a fresh make so pkg-config sees what was installed.
check: deps
	$(Q)$(MAKE) --no-print-directory check-build
	$(Q)$(MAKE) --no-print-directory BUILD=asan check-unit check-replay
	$(Q)$(MAKE) --no-print-directory check-e2e

check-build: progs

check-unit: $(UNIT_BINS)
	$(Q)CMOCKA_MESSAGE_OUTPUT=TAP prove --exec '' $(UNIT_BINS)

check-replay: $(REPLAY_BINS)
	$(Q)set -e; for f in $(FUZZ_NAMES); do \
	    echo "replay corpus $$f"; \
	    $(O)/tests/fuzz/fuzz_$$f-replay tests/fuzz/corpus/$$f; \
	done

check-e2e: progs
	$(Q)HS_BUILD=$(CURDIR)/$(O) prove $(PROVE_FLAGS) tests/e2e/*.t

# --- fuzzing (clang, libFuzzer) -----------------------------------------
FUZZ_O		 = build/fuzz
FUZZ_CFLAGS	 = -O1 -g -fsanitize=fuzzer-no-link,address,undefined \
		   -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_LIB_OBJS	 = $(LIB_SRCS:%.c=$(FUZZ_O)/%.o)

$(FUZZ_O)/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) -std=gnu11 -Wall -Wextra -Werror -Wno-unused-command-line-argument \
	    $(HS_CPPFLAGS) $(PKG_CFLAGS) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_O)/fuzz_%: $(FUZZ_O)/tests/fuzz/fuzz_%.o $(FUZZ_LIB_OBJS)
	@$(if $(Q),echo "  FUZZLD  $@")
	$(Q)$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(PKG_LIBS)

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

torture: deps
	$(Q)$(MAKE) --no-print-directory progs
	$(Q)HS_BUILD=$(CURDIR)/$(O) KILLS=$(KILLS) prove -v tests/torture/*.t

soak: deps
	$(Q)$(MAKE) --no-print-directory progs
	$(Q)HS_BUILD=$(CURDIR)/$(O) SOAK_SECONDS=$(SOAK_SECONDS) sh tests/soak/run.sh

lint:
	$(Q)shellcheck -s sh tests/lib/*.sh tests/e2e/*.t
	$(Q)cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
	    -D_GNU_SOURCE -Isrc src plugins

# --- install --------------------------------------------------------------
install: progs
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(PLUGINDIR)
	install -m 0755 $(O)/holdscand $(DESTDIR)$(SBINDIR)/holdscand
	install -m 0755 $(O)/holdscan $(DESTDIR)$(BINDIR)/holdscan
	$(if $(PLUGINS),install -m 0644 $(PLUGINS) $(DESTDIR)$(PLUGINDIR)/)
	install -d $(DESTDIR)$(SYSCONFDIR)
	for f in notify-postmaster.txt notify-recipient.txt; do \
	    test -e $(DESTDIR)$(SYSCONFDIR)/$$f || \
	    install -m 0644 etc/$$f $(DESTDIR)$(SYSCONFDIR)/$$f; done

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
