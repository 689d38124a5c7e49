# Vessel build. `make` builds the release binaries into build/release;
# `make check` installs dependencies, builds the sanitised flavour
# (ASan+UBSan) and fuzzers, and runs every test; `make demo` runs the demo.

CC ?= gcc
FUZZ_CC ?= clang
BUILD ?= build
V_CFLAGS := -std=gnu17 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
	-Wformat=2 -Wno-format-nonliteral -fno-strict-aliasing -D_GNU_SOURCE \
	-Iinclude -I. -MMD -MP
V_LDLIBS := -ljson-c -lseccomp -lcap -lpthread

REL_FLAGS := -O2 -g -D_FORTIFY_SOURCE=2 -fstack-protector-strong
SAN_FLAGS := -O2 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=undefined

LIB_SRC := $(wildcard lib/*.c)
RUNTIME_SRC := $(filter-out runtime/main.c,$(wildcard runtime/*.c))
VMM_SRC := $(filter-out vmm/main.c,$(wildcard vmm/*.c vmm/*/*.c vmm/*/*/*.c))
UNIT_SRC := $(filter-out tests/unit/test_main.c,$(wildcard tests/unit/test_*.c))
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)

.PHONY: all release asan fuzz check demo deps clean format lint bench
all: release

# --- one set of rules per flavour -------------------------------------------
define flavour
$(1)_DIR := $(BUILD)/$(1)
$(1)_OBJ = $$(patsubst %.c,$$($(1)_DIR)/%.o,$$(1))

$$($(1)_DIR)/%.o: %.c
	@mkdir -p $$(dir $$@)
	$$(CC) $$(V_CFLAGS) $(2) $$(CFLAGS) -c -o $$@ $$<

$$($(1)_DIR)/libvessel.a: $$(patsubst %.c,$$($(1)_DIR)/%.o,$$(LIB_SRC))
	@rm -f $$@; ar rcs $$@ $$^
$$($(1)_DIR)/libct.a: $$(patsubst %.c,$$($(1)_DIR)/%.o,$$(RUNTIME_SRC))
	@rm -f $$@; ar rcs $$@ $$^
$$($(1)_DIR)/libvm.a: $$(patsubst %.c,$$($(1)_DIR)/%.o,$$(VMM_SRC))
	@rm -f $$@; ar rcs $$@ $$^

$$($(1)_DIR)/vessel-runtime: $$($(1)_DIR)/runtime/main.o $$($(1)_DIR)/libct.a $$($(1)_DIR)/libvessel.a
	$$(CC) $(2) $$(LDFLAGS) -o $$@ $$^ $$(V_LDLIBS)
# whole-archive: devices register through a linker section nothing references
$$($(1)_DIR)/vessel-vmm: $$($(1)_DIR)/vmm/main.o $$($(1)_DIR)/libvm.a $$($(1)_DIR)/libvessel.a
	$$(CC) $(2) $$(LDFLAGS) -o $$@ $$< -Wl,--whole-archive $$($(1)_DIR)/libvm.a \
		-Wl,--no-whole-archive $$($(1)_DIR)/libvessel.a $$(V_LDLIBS)

$$($(1)_DIR)/tests/unit/test_%: $$($(1)_DIR)/tests/unit/test_%.o $$($(1)_DIR)/tests/unit/test_main.o \
		$$($(1)_DIR)/libct.a $$($(1)_DIR)/libvm.a $$($(1)_DIR)/libvessel.a
	$$(CC) $(2) $$(LDFLAGS) -o $$@ $$^ $$(V_LDLIBS)

$(1)_BINS := $$($(1)_DIR)/vessel-runtime $$($(1)_DIR)/vessel-vmm
$(1)_TESTS := $$(patsubst tests/unit/%.c,$$($(1)_DIR)/tests/unit/%,$$(UNIT_SRC))
-include $$(shell find $$($(1)_DIR) -name '*.d' 2>/dev/null)
endef

$(eval $(call flavour,release,$(REL_FLAGS)))
$(eval $(call flavour,asan,$(SAN_FLAGS)))

release: $(release_BINS)
asan: $(asan_BINS) $(asan_TESTS)

# --- fuzzers (libFuzzer needs clang) ----------------------------------------
FUZZ_DIR := $(BUILD)/fuzz
FUZZ_FLAGS := -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_LIB_SRC := $(LIB_SRC) $(RUNTIME_SRC) $(VMM_SRC)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(FUZZ_DIR)/%,$(FUZZ_SRC))

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(V_CFLAGS) -O1 -g -fsanitize=fuzzer-no-link,address,undefined $(CFLAGS) -c -o $@ $<
$(FUZZ_DIR)/libfuzzlib.a: $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(FUZZ_LIB_SRC))
	@rm -f $@; ar rcs $@ $^
$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_DIR)/libfuzzlib.a
	$(FUZZ_CC) $(V_CFLAGS) $(FUZZ_FLAGS) -o $@ $(filter %.c %.a,$^) $(V_LDLIBS)
fuzz: $(FUZZ_BINS)
-include $(shell find $(FUZZ_DIR) -name '*.d' 2>/dev/null)

# --- guest programs and other parts bring their own rules -------------------
-include guests/guests.mk

# --- top-level commands ------------------------------------------------------
deps:
	@./scripts/install-deps.sh

check: deps
	$(MAKE) asan fuzz release $(CHECK_EXTRA)
	@BUILD=$(CURDIR)/$(BUILD)/asan tests/run.sh

demo: deps
	$(MAKE) release
	@./scripts/demo.sh

bench: deps release
	@./bench/run-all.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--inline-suppr -Iinclude -I. lib runtime vmm

clean:
	rm -rf $(BUILD)
