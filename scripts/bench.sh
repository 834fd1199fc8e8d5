#!/usr/bin/env bash
# `make bench`: build the benchmark binaries, then run every benchmark and write
# benches/results/<timestamp>.{json,md} and plots (benches/run.py; method in benches/README.md).
# FERROVS_BENCH_QUICK=1 runs a short smoke version; FERROVS_BENCH_SKIP=tlb,criterion,ring,idle,memif,external
# leaves steps out.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v dpdk-testpmd >/dev/null \
  || echo "bench: dpdk-testpmd not found (make deps): the testpmd steps are skipped" >&2
# The Debian python3 has python3-matplotlib; a python3 earlier on PATH (pyenv, venv) may not.
PY=python3
for p in python3 /usr/bin/python3; do
  if command -v "$p" >/dev/null && "$p" -c 'import matplotlib' 2>/dev/null; then PY=$p; break; fi
done
"$PY" -c 'import matplotlib' 2>/dev/null \
  || echo "bench: python3-matplotlib missing (make deps): no plots" >&2
cargo build --release -p ferrovs-bench -p ferrovs --bins
cargo build --release -p dpdk-huge --example tlb_reach
cargo bench -p dataplane --no-run
exec "$PY" benches/run.py
