# devhost — see README.md. `make demo` and `make test` install what they need themselves.
SWIFT ?= swift
PREFIX ?= /usr/local
CONFIG ?= debug
BIN_DEBUG := .build/debug/devhost
BIN_RELEASE := .build/release/devhost
DEMO ?= examples/shop
# Fuzzing (docs/fuzzing.md): seconds per target for `make fuzz` and inside `make test`; targets (default all).
FUZZ_SECONDS ?= 600
FUZZ_TEST_SECONDS ?= 20
FUZZ_TARGETS ?=

.PHONY: all deps test-deps build release test fuzz demo bench install uninstall lint clean

all: build

deps:
	@scripts/install-deps.sh build

test-deps:
	@scripts/install-deps.sh test

build: deps
	$(SWIFT) build

# The Swift runtime linked in statically: ~4 ms less start-up for every command, and a binary that
# runs without the toolchain installed. Dynamic exclusivity checks off in every module (SwiftNIO's
# too): they were a few per cent of the proxy's CPU per request. Not position-independent: a PIE
# spends ~0.7 ms of every start applying 115,000 relocations (page faults on the data they touch);
# the price is a fixed load address for devhost's own code (libraries, heap and stack stay random).
# No $ORIGIN run path: nothing is loaded from beside the binary, and the loader would look there
# (ten failed stats) for every library of every start.
RELEASE_FLAGS := -c release --static-swift-stdlib --disable-local-rpath -Xswiftc -enforce-exclusivity=unchecked -Xswiftc -Xclang-linker -Xswiftc -no-pie
release: deps
	$(SWIFT) build $(RELEASE_FLAGS)

# Swift Testing only: its summary line is what CI reads. Serial: tests start real servers and pip installs,
# and two cores shared by parallel suites turn timing into flakiness.
# XDG_DATA_HOME: the local CA that HTTPS makes on first use goes under .build, not the user's data folder.
test: test-deps
	$(SWIFT) build --build-tests
	rm -rf .build/test-data && XDG_DATA_HOME=$(CURDIR)/.build/test-data $(SWIFT) test --skip-build --disable-xctest --no-parallel
	SWIFT="$(SWIFT)" scripts/fuzz.sh $(FUZZ_TEST_SECONDS) $(FUZZ_TARGETS)

# libFuzzer with AddressSanitizer on the proxy's head parser, its body framing and the manifest
# loader, one target after another (a one-line summary each; libFuzzer's output in .build-fuzz/logs).
fuzz: deps
	SWIFT="$(SWIFT)" scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

demo: build
	$(BIN_DEBUG) up -f $(DEMO)

bench: release
	scripts/bench.sh

install: release
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/devhost
	install -m 0755 $(BIN_RELEASE) $(DESTDIR)$(PREFIX)/bin/devhost
	rm -rf $(DESTDIR)$(PREFIX)/share/devhost/templates
	cp -R templates $(DESTDIR)$(PREFIX)/share/devhost/templates

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/devhost
	rm -rf $(DESTDIR)$(PREFIX)/share/devhost

lint:
	$(SWIFT) format lint --recursive --strict Sources Tests

clean:
	rm -rf .build .build-fuzz
