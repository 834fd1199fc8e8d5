#!/usr/bin/env bash
# `make bench`: run the benchmarks that exist and say where results go.
set -euo pipefail
cd "$(dirname "$0")/.."
if ls dataplane/benches/*.rs >/dev/null 2>&1; then
  cargo bench -p dataplane "$@"
else
  echo "bench: no benchmarks are built yet (dataplane criterion benches come with the dataplane issue)."
fi
