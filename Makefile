# ferrovs: the two-command quick start is `make demo` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: all deps build test lint fmt-check clippy unit doc demo bench clean

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

# nextest runs each test in its own process (the EAL starts once per process); plain cargo test
# works too because the DPDK tests share one EAL per test binary.
unit:
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --workspace --all-features --no-fail-fast --final-status-level slow; \
	else \
		$(CARGO) test --workspace --all-features --no-fail-fast; \
	fi
	$(CARGO) test --workspace --doc

doc:
	$(CARGO) doc --workspace --no-deps

test: lint unit

demo:
	@bash scripts/demo.sh

bench:
	@bash scripts/bench.sh

clean:
	$(CARGO) clean
