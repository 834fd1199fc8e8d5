# ferrovs: the two-command quick start is `make demo` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: all deps build test lint fmt-check clippy unit doc demo bench deb fuzz clean

all: build

deps:
	@bash scripts/deps.sh

build:
	$(CARGO) build --release --bins

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets --all-features -- -D warnings

lint: fmt-check clippy

# nextest runs each test in its own process (the EAL starts once per process) and the lab tests
# one at a time with a timeout each (.config/nextest.toml). Without it, plain cargo test (the DPDK
# tests share one EAL per test binary) runs everything but the tests named lab_* side by side,
# then those (the tests/lab*.rs binaries, and the package build in tests/package.rs) one test at
# a time under one overall timeout.
LAB_TIMEOUT ?= 2700
unit:
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --workspace --all-features --no-fail-fast --final-status-level slow; \
	else \
		echo "cargo-nextest not found: cargo test, then the lab serially (timeout $(LAB_TIMEOUT) s)"; \
		rc=0; \
		$(CARGO) test --workspace --all-features --no-fail-fast -- --skip lab_ || rc=1; \
		timeout --kill-after=30 $(LAB_TIMEOUT) $(CARGO) test -p ferrovs --all-features \
			--no-fail-fast --test 'lab*' --test package -- lab_ --test-threads=1 || rc=1; \
		exit $$rc; \
	fi
	$(CARGO) test --workspace --doc

doc:
	$(CARGO) doc --workspace --no-deps

test: lint unit

demo:
	@bash scripts/demo.sh

bench:
	@bash scripts/bench.sh

# Every cargo-fuzz target for FUZZ_SECONDS each (default 60) or FUZZ_RUNS executions (the other
# settings are in scripts/fuzz.sh); `make test` replays the corpora.
fuzz:
	@bash scripts/fuzz.sh

# The Debian package (release build) in target/deb; tests/package.rs builds and checks one.
deb:
	@bash packaging/build-deb.sh --profile release

clean:
	$(CARGO) clean
