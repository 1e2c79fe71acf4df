# stsguard - MTA-STS and TLS-RPT service.
#
#   make run     install missing packages, build, start the demo
#   make test    install missing packages, build, run every test
#   make test SANITIZE=address,undefined   the same under ASan/UBSan
#   make test-pg the store's and the black-box tests on PostgreSQL
#   make fuzz    build libFuzzer targets (clang) into build-fuzz/
#   make lint    refuse banned functions (sprintf, strcpy, ...)
#   make bench   the benchmarks in bench/ (not tests; minutes; as root)
#   make install the binary, the man pages and the systemd unit
#                (PREFIX=/usr/local, DESTDIR for staging)

SANITIZE ?=
BUILD := build$(if $(SANITIZE),-san)

PKGS := openssl libevent libevent_pthreads libevent_openssl libcurl ldns \
	jansson sqlite3 libpq libidn2 zlib gmime-3.0 libunbound opendkim libsodium
CC ?= cc
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wpointer-arith -Wformat=2 -Wno-unused-parameter
OPT ?= -O2 -g
CFLAGS += $(OPT) -std=c17 -D_GNU_SOURCE $(WARN) -Isrc \
	$(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lresolv -lm
ifneq ($(SANITIZE),)
CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
endif

MODULES := lib policy tlsrpt store tls acme cluster http daemon mime smtp intake dns \
	account web check
LIB_SRC := $(foreach m,$(MODULES),$(wildcard src/$(m)/*.c))
CLI_SRC := $(wildcard src/cli/*.c)
# The mx templates (share/mx-templates.txt) are compiled in: one binary
# to install, and `domain add --mx auto` works without a data file in
# place; the setting mx_templates = FILE replaces them at run time.
GEN_OBJ := $(BUILD)/gen/policy_template_data.o
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o) $(GEN_OBJ)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)
FUZZ_REPLAY := $(FUZZ_SRC:fuzz/%.c=$(BUILD)/fuzz/%)

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
UNITDIR ?= $(PREFIX)/lib/systemd/system

.PHONY: all run test test-pg check deps lint fuzz bench clean install uninstall
all: $(BUILD)/stsguard

deps:
	@sh scripts/deps.sh

# run and test install first, then build in a fresh make so that
# pkg-config sees the libraries just installed.
run: deps
	@$(MAKE) --no-print-directory all
	@sh scripts/demo.sh $(BUILD)/stsguard

test: deps
	@$(MAKE) --no-print-directory -j2 all $(UNIT_BIN) $(FUZZ_REPLAY)
	@$(MAKE) --no-print-directory lint check

check:
	@bash tests/run.sh $(BUILD)

# The store's unit tests and the black-box tests again, every store on
# a PostgreSQL the run starts (tests/run_pg.sh); CI runs it after test.
test-pg: deps
	@$(MAKE) --no-print-directory -j2 all $(BUILD)/tests/test_store
	@bash tests/run_pg.sh $(BUILD)

$(BUILD)/stsguard: $(CLI_OBJ) $(BUILD)/libstsguard.a
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/libstsguard.a: $(LIB_OBJ)
	@rm -f $@; ar rcs $@ $^

$(BUILD)/gen/policy_template_data.c: share/mx-templates.txt
	@mkdir -p $(dir $@)
	@echo "  GEN     $@"
	@LC_ALL=C awk 'BEGIN { print "/* made by make from share/mx-templates.txt */"; \
	    print "extern const char policy_template_data[];"; \
	    print "const char policy_template_data[] =" } \
	    { gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); print "\"" $$0 "\\n\"" } \
	    END { print "\"\";" }' $< > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libstsguard.a
	@mkdir -p $(dir $@)
	@echo "  TEST    $@"
	@$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

# Fuzz targets built with a replay main: make test feeds them their corpus.
$(BUILD)/fuzz/%: fuzz/%.c fuzz/replay.c $(BUILD)/libstsguard.a
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	@$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

fuzz:
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang \
	    OPT="-O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all" \
	    build-fuzz/libstsguard.a
	@for f in $(FUZZ_SRC); do n=$$(basename $$f .c); \
	    echo "clang $$n"; \
	    clang -std=c17 -D_GNU_SOURCE -Isrc -g -O1 \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o build-fuzz/$$n $$f \
	    build-fuzz/libstsguard.a $(LDLIBS) || exit 1; done
	@echo "run each for 60 s: sh fuzz/run.sh 60   (some: sh fuzz/run.sh 60 http smtp_server)"
	@echo "or one: build-fuzz/fuzz_policy -max_total_time=60 \$$(mktemp -d) fuzz/corpus/policy"
	@echo "fuzz_http needs -max_len=65536 to pass the 8 KiB head limit (libFuzzer's default is 4096):"
	@echo "  build-fuzz/fuzz_http -max_len=65536 -max_total_time=60 \$$(mktemp -d) fuzz/corpus/http"

bench:
	@sh scripts/deps.sh --bench
	@$(MAKE) --no-print-directory all
	@bench/policy-serving
	@if [ -x bench/intake ]; then bench/intake; fi
	@if [ -x bench/cluster ]; then bench/cluster; fi

# Every .c and .h of the tree (src, tests, fuzz, bench, ...), but not the
# build folders nor .git.
lint:
	@! grep -nE '\b(sprintf|vsprintf|strcpy|strcat|atoi|atol|strtok|gets)\s*\(' \
	    $$(find . -type d \( -path './build*' -o -name .git \) -prune -o \
	    -type f \( -name '*.c' -o -name '*.h' \) -print) \
	    || (echo "lint: banned function above" >&2; exit 1)

# The unit's ExecStart names the binary where this install puts it.
install: $(BUILD)/stsguard
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(UNITDIR)
	install -m 0755 $(BUILD)/stsguard $(DESTDIR)$(BINDIR)/stsguard
	install -m 0644 docs/man/stsguard.8 $(DESTDIR)$(MANDIR)/man8/stsguard.8
	install -m 0644 docs/man/stsguard.conf.5 \
	    $(DESTDIR)$(MANDIR)/man5/stsguard.conf.5
	sed 's|^ExecStart=/usr/local/bin/stsguard |ExecStart=$(BINDIR)/stsguard |' \
	    contrib/stsguard.service > $(DESTDIR)$(UNITDIR)/stsguard.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/stsguard.service

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/stsguard $(DESTDIR)$(MANDIR)/man8/stsguard.8 \
	    $(DESTDIR)$(MANDIR)/man5/stsguard.conf.5 \
	    $(DESTDIR)$(UNITDIR)/stsguard.service

clean:
	rm -rf build build-san build-fuzz

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
