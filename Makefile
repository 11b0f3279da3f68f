# Myco: a thin wrapper around Meson + Ninja so that a fresh Debian machine
# needs only `make demo` and `make test`.
#
#   make            build everything (build/)
#   make test       unit + integration tests, then again under ASan+UBSan
#                   (build-asan/), then the threaded tests under TSan (build-tsan/)
#   make demo       run the main example system
#   make bench      every benchmark; make bench-<name> one of them
#   make fuzz       a bounded run of every libFuzzer harness (build-fuzz/)
#   make soak       the chaos soak for SOAK_SECONDS (600): kill -9 of a random
#                   partition every 100 ms plus channel faults, zero loss
#                   (not part of `make test`, which runs it for 60 s); then the
#                   immune system's clean run, load 1x..5x..1x over
#                   SOAK_SECONDS: nothing may be healed
#   make install PREFIX=/usr/local
#
# WERROR=true turns warnings into errors (CI sets it).

BUILD    ?= build
ASAN     ?= build-asan
TSAN     ?= build-tsan
FUZZ     ?= build-fuzz
PREFIX   ?= /usr/local
WERROR   ?= false
FUZZ_SECONDS ?= 60
SOAK_SECONDS ?= 600
MESON    ?= meson
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
TESTJOBS ?= $(JOBS)
MESON_COMMON = -Dwerror=$(WERROR) --prefix=$(PREFIX)

.PHONY: all deps build test test-plain test-asan test-tsan demo bench bench-build fuzz soak install clean

all: build

deps:
	@scripts/deps.sh test

$(BUILD)/build.ninja:
	$(MESON) setup $(BUILD) $(MESON_COMMON) --buildtype=debugoptimized

$(ASAN)/build.ninja:
	$(MESON) setup $(ASAN) $(MESON_COMMON) --buildtype=debug \
	  -Db_sanitize=address,undefined -Db_lundef=false -Dsanitized=true

$(TSAN)/build.ninja:
	$(MESON) setup $(TSAN) $(MESON_COMMON) --buildtype=debugoptimized \
	  -Db_sanitize=thread -Db_lundef=false -Dsanitized=true

$(FUZZ)/build.ninja:
	CC=clang $(MESON) setup $(FUZZ) --buildtype=debugoptimized -Dfuzz=true \
	  -Db_sanitize=address,undefined -Db_lundef=false -Dsanitized=true

build: deps $(BUILD)/build.ninja
	$(MESON) configure $(BUILD) -Dwerror=$(WERROR) >/dev/null
	ninja -C $(BUILD)

test: deps
	@scripts/test.sh "$(BUILD)" "$(ASAN)" "$(TSAN)"

test-plain: build
	$(MESON) test -C $(BUILD) --print-errorlogs --num-processes $(TESTJOBS)

test-asan: deps $(ASAN)/build.ninja
	ninja -C $(ASAN)
	$(MESON) test -C $(ASAN) --print-errorlogs --num-processes $(TESTJOBS) --timeout-multiplier 3

test-tsan: deps $(TSAN)/build.ninja
	ninja -C $(TSAN)
	$(MESON) test -C $(TSAN) --suite tsan --print-errorlogs --num-processes $(TESTJOBS) --timeout-multiplier 4

demo: build
	@scripts/demo.sh "$(BUILD)"

# Benchmarks need their baselines (libuv, iceoryx, nats-server, ...): install
# them first, then reconfigure so that Meson finds what was just installed.
bench-build:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory build
	@$(MESON) setup --reconfigure $(BUILD) >/dev/null
	ninja -C $(BUILD)

bench: bench-build
	@scripts/bench.sh "$(BUILD)" all

bench-%: bench-build
	@scripts/bench.sh "$(BUILD)" $*

fuzz: deps $(FUZZ)/build.ninja
	ninja -C $(FUZZ)
	@scripts/fuzz.sh "$(FUZZ)" $(FUZZ_SECONDS)

soak: build
	CHAOS_SOAK_SECONDS=$(SOAK_SECONDS) $(MESON) test -C $(BUILD) chaos-soak --print-errorlogs \
		--timeout-multiplier $$(( ($(SOAK_SECONDS) + 600) / 600 + 1 ))
	IMMUNE_STEP_MS=$$(( $(SOAK_SECONDS) * 1000 / 9 )) $(MESON) test -C $(BUILD) immune-clean \
		--print-errorlogs --timeout-multiplier $$(( $(SOAK_SECONDS) / 120 + 2 ))

install: build
	$(MESON) install -C $(BUILD) --destdir "$(DESTDIR)"

clean:
	rm -rf $(BUILD) $(ASAN) $(TSAN) $(FUZZ)
