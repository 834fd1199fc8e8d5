#!/usr/bin/env bash
# The SYN proxy under a flood at the highest rate this machine allows, beside wrk: a
# benchmark, not part of `make test` (hping3 --flood takes every CPU cycle it can for 4 s of
# each run). Prints the figures; benches/README.md ("SYN flood at full rate") has a run.
# Needs root (network namespaces) and what `make deps` installs.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo nextest run --test lab_flood --run-ignored ignored-only --no-capture \
    lab_syn_proxy_flood_at_full_rate_figures 2>&1 | grep -E "full-rate flood|flood to port|PASS|FAIL|panicked"
