#!/usr/bin/env bash
# `make fuzz`: run every cargo-fuzz target, one after the other, and print one summary line per
# target (executions, executions per second, coverage, corpus, crashes).
#
# Settings (environment):
#   FUZZ_SECONDS=S    stop each target after S seconds (default 60 when FUZZ_RUNS is unset).
#   FUZZ_RUNS=N       stop each target after N executions instead (a campaign: FUZZ_RUNS=100000000);
#                     with FUZZ_SECONDS too, whichever comes first.
#   FUZZ_TARGETS="a b" only these targets (pipeline sync_decode config_parse ipvsadm_grammar
#                     admin_request).
#   FUZZ_SANITIZER=s  cargo-fuzz's sanitizer: address (the default, what `make fuzz` runs), or
#                     none for a long campaign: faster, without ASan's checks of unsafe code's
#                     memory accesses and leaks (a panic, a failed oracle and Rust's bounds checks
#                     still stop the run); builds go to <crate>/fuzz/target/sanitizer-<s>/, so
#                     switching does not rebuild the other.
#   FUZZ_ARGS="..."   extra libFuzzer flags, e.g. "-jobs=4 -workers=4" on a machine with the CPUs
#                     for it. Unset here: one process per target, as the shared 2-CPU VMs need
#                     (with -jobs, libFuzzer logs to fuzz-<n>.log and the summary line sees none).
# Run a campaign beside other work under `nice -n 19`. benches/README.md ("Fuzzing speed") has
# the measured executions per second.
#
# New inputs go to a scratch corpus under target/fuzz/ (the committed seeds under each crate's
# fuzz/corpus/ are read, never written); crashes land in <crate>/fuzz/artifacts/<target>/,
# which each crate's tests/fuzz_corpus.rs replays with `-- --ignored replay_fuzz_artifacts`.
# cargo-fuzz needs nightly -Z flags: RUSTC_BOOTSTRAP=1 lets the pinned stable accept them.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${FUZZ_RUNS:-}
secs=${FUZZ_SECONDS:-}
if [[ -z $runs && -z $secs ]]; then
    secs=60
fi
only=${FUZZ_TARGETS:-}
san=${FUZZ_SANITIZER:-address}
read -r -a extra <<<"${FUZZ_ARGS:-}"
build=(-O -s "$san")
if [[ $san != address ]]; then
    build+=(--target-dir "target/sanitizer-$san")
fi
limits=()
[[ -n $secs ]] && limits+=(-max_total_time="$secs")
[[ -n $runs ]] && limits+=(-runs="$runs")
targets=(
    "dataplane pipeline"
    "control sync_decode"
    "config config_parse"
    "admin ipvsadm_grammar"
    "admin admin_request"
)

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz (crates.io)"
    cargo install --locked cargo-fuzz
fi

root=$PWD
work=$root/target/fuzz
mkdir -p "$work"
report=$work/report.txt
: >"$report"
rc=0
for t in "${targets[@]}"; do
    read -r crate target <<<"$t"
    if [[ -n $only && " $only " != *" $target "* ]]; then
        continue
    fi
    scratch=$work/corpus/$target
    mkdir -p "$scratch"
    log=$work/$target.log
    echo "== $crate/$target: ${limits[*]}, sanitizer $san (log: $log)"
    (cd "$crate/fuzz" && RUSTC_BOOTSTRAP=1 cargo fuzz build "${build[@]}" "$target") || { rc=1; continue; }
    set +e
    (cd "$crate/fuzz" && RUSTC_BOOTSTRAP=1 cargo fuzz run "${build[@]}" "$target" "$scratch" "corpus/$target" -- \
        "${limits[@]}" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 "${extra[@]}") >"$log" 2>&1
    status=$?
    set -e
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    crashes=$(find "$crate/fuzz/artifacts/$target" -type f 2>/dev/null | wc -l)
    line=$(printf '%-16s %-10s executions=%s exec/s=%s coverage=%s corpus=%s crashes=%s exit=%s' \
        "$target" "$crate" "${execs:-?}" "${rate:-?}" "${cov:-?}" "$(ls "$scratch" | wc -l)" "$crashes" "$status")
    echo "$line" | tee -a "$report"
    if [[ $status -ne 0 ]]; then
        rc=1
        tail -30 "$log"
    fi
done
echo "summary in $report"
exit $rc
