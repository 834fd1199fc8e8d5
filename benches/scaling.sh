#!/usr/bin/env bash
# Issue 18 item 5: the ring and memif steps with 1, 2, 4 and 8 ferrovs workers (each with its
# own generator, each on its own CPU: N workers need 2N CPUs), e.g. on a 16-core machine:
#   benches/scaling.sh            # 1,2,4,8 workers, FullNAT UDP, 1M flows per worker
#   benches/scaling.sh 1,2        # the counts this machine has CPUs for
# Counts the machine lacks CPUs for are refused with a warning (and not run). Environment:
# FERROVS_SCALING_MODE (dr|nat|tun|fullnat), FERROVS_SCALING_FLOWS (per worker),
# FERROVS_BENCH_SECS (window). Writes benches/results/<timestamp>-scaling.{json,md}.
set -euo pipefail
cd "$(dirname "$0")/.."
counts=${1:-1,2,4,8}
cpus=$(nproc)
for n in ${counts//,/ }; do
  if (( 2 * n > cpus )); then
    echo "scaling: WARNING: $n workers need $((2 * n)) CPUs, this machine has $cpus: that count will not run" >&2
  fi
done
cargo build --release -p ferrovs-bench
exec python3 benches/run.py --scaling "$counts"
