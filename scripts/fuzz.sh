#!/usr/bin/env bash
# `make fuzz`: run every cargo-fuzz target for FUZZ_SECONDS (default 60) each, one after the
# other, and print one summary line per target (executions, coverage, crashes).
#
# New inputs go to a scratch corpus under target/fuzz/ (the committed seeds under each crate's
# fuzz/corpus/ are read, never written); crashes land in <crate>/fuzz/artifacts/<target>/,
# which each crate's tests/fuzz_corpus.rs replays with `-- --ignored replay_fuzz_artifacts`.
# cargo-fuzz needs nightly -Z flags: RUSTC_BOOTSTRAP=1 lets the pinned stable accept them.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${FUZZ_SECONDS:-60}
only=${FUZZ_TARGETS:-}
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
    echo "== $crate/$target for ${secs}s (log: $log)"
    (cd "$crate/fuzz" && RUSTC_BOOTSTRAP=1 cargo fuzz build -O "$target") || { rc=1; continue; }
    set +e
    (cd "$crate/fuzz" && RUSTC_BOOTSTRAP=1 cargo fuzz run -O "$target" "$scratch" "corpus/$target" -- \
        -max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048) >"$log" 2>&1
    status=$?
    set -e
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
    crashes=$(find "$crate/fuzz/artifacts/$target" -type f 2>/dev/null | wc -l)
    line=$(printf '%-16s %-10s executions=%s coverage=%s corpus=%s crashes=%s exit=%s' \
        "$target" "$crate" "${execs:-?}" "${cov:-?}" "$(ls "$scratch" | wc -l)" "$crashes" "$status")
    echo "$line" | tee -a "$report"
    if [[ $status -ne 0 ]]; then
        rc=1
        tail -30 "$log"
    fi
done
echo "summary in $report"
exit $rc
