#!/usr/bin/env bash
# Issue 18 items 5 and 6 on a lent many-CPU machine that has neither Rust nor DPDK (the
# workplace's `device` tool: the working tree travels, plus up to 64 MiB of ignored paths).
#
#   benches/device.sh bundle    # here: release builds and the DPDK 22.11 libraries they load,
#                               # in target/device (carry that path to the lent machine)
#   benches/device.sh run       # there: reserve huge pages, run the plan, write the results to
#                               # $OUT (or benches/results), one file per step as it ends
#   benches/device.sh check     # here or there: every binary in the bundle resolves each
#                               # library it needs from the bundle or the C library
#
# The plan (FERROVS_DEVICE_PLAN, comma-separated, in order; default
# "tlb,scaling-1m,scaling-1m,scaling-1m,scaling-1k,scaling-1k,criterion"):
#   tlb         make bench's tlb step: the TLB's reach and what one or two lines a lookup cost
#   scaling-1m  benches/run.py --scaling 1,2,4,8, FullNAT UDP, 1M flows per worker (one round)
#   scaling-1k  the same at 1K flows per worker: tables in L2, the control for the 1M rounds
#   criterion   pipeline's DR and FullNAT benches at 1K, 1M, 10M (1 s warm-up, 3 s measured)
#   ring, memif make bench's ring or memif step (every mode, 1K/1M/10M, UDP and TCP)
# FERROVS_DEVICE_DEADLINE (seconds, default 540): no step starts after it; FERROVS_DEVICE_LIMIT
# (default 590): a step still running then is cut, so a 600 s call returns with the steps that
# ended (a step writes its results when it ends). What a step printed is in <stem>-device.log
# beside the results.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUNDLE=${FERROVS_DEVICE_BUNDLE:-$ROOT/target/device}
# The folder EAL loads its drivers from (RTE_EAL_PMD_PATH of Debian 12's DPDK 22.11).
PMD_PATH=/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0
# The drivers the bench steps need from EAL's driver folder: mempool ops, the vdev bus, memif
# and ring ports.
PMDS="librte_mempool_ring librte_bus_vdev librte_net_memif librte_net_ring"

# The C library's own objects: the lent machine has them, the bundle does not carry them.
LIBC='/(libc|libm|libdl|librt|libpthread|ld-linux[^/]*)\.so'

# The shared objects that a binary loads, less the C library's own.
closure() {
  ldd "$@" | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u | grep -Ev "$LIBC"
}

bundle() {
  command -v dpdk-testpmd >/dev/null || { echo "device: dpdk-testpmd missing (make deps)" >&2; exit 1; }
  cargo build --release -p ferrovs-bench
  cargo build --release -p dpdk-huge --example tlb_reach
  local crit json
  json=$(cargo bench -p dataplane --bench pipeline --no-run --message-format=json) \
    || { echo "device: cargo bench --no-run failed" >&2; exit 1; }
  crit=$(python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "pipeline":
        print(m["executable"])' <<<"$json")
  [[ -x $crit ]] || { echo "device: the pipeline bench binary was not found" >&2; exit 1; }
  rm -rf "$BUNDLE"
  mkdir -p "$BUNDLE"/{release/examples,bin,lib}
  cp target/release/ferrovs-bench "$BUNDLE/release/"
  cp target/release/examples/tlb_reach "$BUNDLE/release/examples/"
  cp "$crit" "$BUNDLE/release/pipeline"
  cp "$(command -v dpdk-testpmd)" "$BUNDLE/bin/"
  local p soname pmds=()
  for p in $PMDS; do pmds+=("$PMD_PATH/$p.so"); done
  # Each driver once, in lib/ under its soname; pmds.list names them for `run`, which links
  # EAL's driver folder to them (no links in the bundle: it travels as plain files). A binary
  # that also links a driver (ferrovs-bench links net_ring) then loads the same file.
  for p in "${pmds[@]}"; do
    soname=$(objdump -p "$p" | awk '$1 == "SONAME" {print $2}')
    cp -L "$p" "$BUNDLE/lib/$soname"
    echo "$(basename "$p") $soname" >> "$BUNDLE/pmds.list"
  done
  # Debug information is most of the binaries' size and not needed to run them.
  strip "$BUNDLE"/release/ferrovs-bench "$BUNDLE"/release/pipeline "$BUNDLE"/release/examples/tlb_reach
  for p in $(closure "$BUNDLE"/release/ferrovs-bench "$BUNDLE"/release/pipeline \
      "$BUNDLE"/release/examples/tlb_reach "$BUNDLE"/bin/dpdk-testpmd "${pmds[@]}"); do
    [[ -e $BUNDLE/lib/$(basename "$p") ]] || cp -L "$p" "$BUNDLE/lib/"
  done
  {
    echo "commit $(git rev-parse HEAD)$(git diff --quiet HEAD -- . ':!benches/results' || echo ' (with uncommitted changes)')"
    echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n)"
    (cd "$BUNDLE" && find . -type f ! -name MANIFEST | sort | xargs sha256sum)
  } > "$BUNDLE/MANIFEST"
  check
  du -sh "$BUNDLE"
}

# Every binary and driver resolves every library from the bundle (or the C library).
check() {
  local f bad=0
  for f in "$BUNDLE"/release/ferrovs-bench "$BUNDLE"/release/pipeline "$BUNDLE"/release/examples/tlb_reach \
      "$BUNDLE"/bin/dpdk-testpmd $(awk -v d="$BUNDLE/lib" '{print d "/" $2}' "$BUNDLE/pmds.list"); do
    while read -r lib path; do
      [[ $path == "$BUNDLE"/lib/* ]] || grep -Eq "$LIBC" <<<"$path" \
        || { echo "device: $f: $lib resolves to '$path', not the bundle" >&2; bad=1; }
    done < <(LD_LIBRARY_PATH="$BUNDLE/lib" ldd "$f" | awk '$2 == "=>" {print $1, $3}')
  done
  [[ $bad == 0 ]] || return 1
  echo "device: bundle $BUNDLE resolves every library ($(ls "$BUNDLE/lib" | wc -l) in lib/)"
}

# EAL loads drivers only from its compiled-in folder: link the bundle's there if it is absent.
install_pmds() {
  if [[ ! -d $PMD_PATH ]]; then
    mkdir -p "$PMD_PATH"
    local name soname
    while read -r name soname; do
      ln -s "$BUNDLE/lib/$soname" "$PMD_PATH/$name"
    done < "$BUNDLE/pmds.list"
    echo "device: linked the bundle's drivers into $PMD_PATH"
  fi
}

# 2 MiB pages for the DUTs' session tables: 8 workers x 1M sessions and criterion's 10M table.
reserve_huge() {
  local f=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages want=${FERROVS_DEVICE_HUGEPAGES:-4096}
  if [[ -w $f ]] && (($(cat "$f") < want)); then
    echo "$want" > "$f" || true
  fi
  echo "device: $(cat "$f" 2>/dev/null || echo 0) huge pages of 2 MiB"
}

run_step() {
  local step=$1
  case $step in
    tlb) FERROVS_BENCH_SKIP=criterion,ring,idle,memif,external python3 benches/run.py ;;
    scaling-1m) FERROVS_SCALING_FLOWS=1000000 python3 benches/run.py --scaling 1,2,4,8 ;;
    scaling-1k) FERROVS_SCALING_FLOWS=1000 python3 benches/run.py --scaling 1,2,4,8 ;;
    criterion)
      FERROVS_BENCH_SKIP=tlb,ring,idle,memif,external \
        FERROVS_BENCH_CRIT_SIZES=${FERROVS_BENCH_CRIT_SIZES:-1000,1000000,10000000} \
        FERROVS_BENCH_CRIT_ARGS=${FERROVS_BENCH_CRIT_ARGS:-"--warm-up-time 1 --measurement-time 3 (dr|fullnat)"} \
        python3 benches/run.py ;;
    ring) FERROVS_BENCH_SKIP=tlb,criterion,idle,memif,external python3 benches/run.py ;;
    memif) FERROVS_BENCH_SKIP=tlb,criterion,ring,idle,external python3 benches/run.py ;;
    *) echo "device: unknown step '$step'" >&2; return 2 ;;
  esac
}

run() {
  [[ -x $BUNDLE/release/ferrovs-bench ]] || { echo "device: no bundle in $BUNDLE (benches/device.sh bundle)" >&2; exit 1; }
  local out=${OUT:-$ROOT/benches/results} t0=$SECONDS deadline=${FERROVS_DEVICE_DEADLINE:-540}
  local limit=${FERROVS_DEVICE_LIMIT:-590}
  local plan=${FERROVS_DEVICE_PLAN:-tlb,scaling-1m,scaling-1m,scaling-1m,scaling-1k,scaling-1k,criterion}
  local log
  mkdir -p "$out"
  log="$out/$(date -u +%Y%m%dT%H%M%SZ)-device.log"
  export LD_LIBRARY_PATH="$BUNDLE/lib" PATH="$BUNDLE/bin:$PATH" CARGO_TARGET_DIR="$BUNDLE"
  export FERROVS_BENCH_RESULTS="$out" FERROVS_BENCH_CRIT_BIN="$BUNDLE/release/pipeline"
  # What fails here is reported, and the steps still run (and fail if it mattered).
  {
    head -2 "$BUNDLE/MANIFEST"
    check || true
    install_pmds || echo "device: could not link the drivers into $PMD_PATH"
    reserve_huge || true
    lscpu || true
    uname -a
  } 2>&1 | tee "$log" || true
  local step rc=0
  export -f run_step
  for step in ${plan//,/ }; do
    if ((SECONDS - t0 > deadline)); then
      echo "device: $((SECONDS - t0)) s gone, past the ${deadline} s deadline: '$step' and the rest NOT RUN" | tee -a "$log"
      rc=3
      break
    fi
    echo "device: step $step at $((SECONDS - t0)) s" | tee -a "$log"
    # Cut at the hard limit, the step's processes with it (timeout signals its process group),
    # so the call returns with the steps that ended.
    timeout --kill-after=5 $((limit - (SECONDS - t0))) bash -c "run_step $step" >>"$log" 2>&1 \
      || { echo "device: step $step failed or was cut (rc $?)" | tee -a "$log"; rc=1; }
  done
  echo "device: done at $((SECONDS - t0)) s; results in $out" | tee -a "$log"
  return $rc
}

case ${1:-} in
  bundle) bundle ;;
  check) check ;;
  run) run ;;
  *) sed -n '2,20p' "$0" >&2; exit 2 ;;
esac
