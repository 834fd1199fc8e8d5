#!/usr/bin/env bash
# Convergence figures for the ECMP lab (issue 16 item 6): crash one gateway's ferrovs N times
# and time, from each crash, how long until every new connection succeeds again.
#
#   lab/ecmp-convergence.sh [--mode MODE] [--gateways N] [--crashes N] [--every S]
#
# Method: `lab/lab up MODE --ecmp N` (BIRD, BFD 100 ms x 3, the router hashing on L4). Each
# round: the client (lab/conn-loop.py --every) starts a new TCP connection to the VIP every
# --every seconds (default 0.02), each with a 0.5 s budget; after half a second and a random
# fraction of a second more, one gateway's ferrovs gets SIGKILL (`lab/lab stop`, a crash: its
# TAP goes, so its BIRD and BFD fall silent), the gateways taking turns. With ECMP most new
# connections never meet the dead gateway (the router hashes them to the others), so "the
# first successful new connection after the crash" comes at once; what counts is the dead
# gateway's share: the convergence time is from the kill to the end of the first successful
# connection that started after the last failed one (0 when none failed). Also printed: when
# the router's BIRD took the gateway's route down (its log, "State changed to stop"), and the
# failed attempts. Then the gateway starts again (ferrovs, the route, BIRD) and the router
# has every path back before the next round. Prints one line per crash, then min, p50, p99
# (nearest rank) and max of both times. Needs root and the built binaries; uses
# FERROVS_LAB_ID (default fvecmp).
set -euo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export FERROVS_LAB_ID=${FERROVS_LAB_ID:-fvecmp}
STATE=/run/ferrovs-lab/$FERROVS_LAB_ID
LAB=$LAB_DIR/lab

mode=dr gateways=3 crashes=10 every=0.02
while [ $# -gt 0 ]; do
  case $1 in
    --mode) mode=${2:?}; shift ;;
    --gateways) gateways=${2:?}; shift ;;
    --crashes) crashes=${2:?}; shift ;;
    --every) every=${2:?}; shift ;;
    *) echo "ecmp-convergence: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done

say() { echo "ecmp-convergence: $*" >&2; }
trap '"$LAB" down >/dev/null 2>&1 || true' EXIT

"$LAB" up "$mode" --ecmp "$gateways" >&2
eval "$("$LAB" env)"
IFS=, read -r -a gws <<<"$GATEWAYS"

# paths: how many next hops the router's route to the VIP has.
paths() { ip -n "$FERROVS_LAB_ID-router" -4 route show "$VIP" 2>/dev/null | grep -c 'via ' || true; }

# until_ok SECONDS CMD...: poll CMD every 0.1 s.
until_ok() {
  local limit=$1 i
  shift
  for i in $(seq 1 $((limit * 10))); do "$@" && return 0; sleep 0.1; done
  return 1
}
all_paths() { [ "$(paths)" = "$gateways" ]; }

# bird_down VICTIM SINCE: the Unix time at which the router's BIRD took VICTIM's IPv4 session
# down, the first time after SINCE (BIRD logs local time to the millisecond).
bird_down() {
  local line t
  while read -r line; do
    t=$(date -d "${line:0:23}" +%s.%N)
    if awk -v t="$t" -v s="$2" 'BEGIN { exit !(t >= s - 0.001) }'; then echo "$t"; return 0; fi
  done < <(grep " $1_4: State changed to stop" "$ROUTER_BIRD_LOG")
  return 1
}

conv=() bfd=()
for round in $(seq 1 "$crashes"); do
  victim=${gws[$(((round - 1) % ${#gws[@]}))]}
  until_ok 30 all_paths || { say "round $round: the router has $(paths) of $gateways paths"; exit 1; }
  out=$STATE/convergence-$round.txt stop=$STATE/convergence-stop
  rm -f "$stop"
  "$LAB" exec client -- python3 "$LAB_DIR/conn-loop.py" --addr "$VIP" --timeout 0.5 \
    --every "$every" --duration 60 --stop-file "$stop" >"$out" &
  loop=$!
  # A random point relative to the BFD packets (100 ms apart) and the BGP timers.
  sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.3f", 0.5 + r / 32768 }')"
  t0=$("$LAB" stop "$victim" | sed -n 's/.* at \([0-9.]*\)$/\1/p')
  [ -n "$t0" ] || { say "round $round: lab stop $victim did not say when"; exit 1; }
  # Three seconds of connections after the crash: the outage is well under one.
  sleep 3
  touch "$stop"
  wait "$loop" || true
  read -r secs failed < <(awk -v t0="$t0" '
    { s[NR] = $1; e[NR] = $2; ok[NR] = ($3 == "ok") }
    END {
      last = 0; failed = 0
      for (i = 1; i <= NR; i++) if (s[i] >= t0 && !ok[i]) { failed++; if (s[i] > last) last = s[i] }
      if (failed == 0) { printf "0.000 0\n"; exit }
      first = 0
      for (i = 1; i <= NR; i++) if (ok[i] && s[i] > last && (first == 0 || e[i] < first)) first = e[i]
      if (first == 0) { printf "none %d\n", failed; exit }
      printf "%.3f %d\n", first - t0, failed
    }' "$out")
  [ "$secs" != none ] || { say "round $round: no connection succeeded after the last failure"; exit 1; }
  down=$(bird_down "$victim" "$t0") || { say "round $round: the router's BIRD never took $victim down"; exit 1; }
  removal=$(awk -v a="$down" -v b="$t0" 'BEGIN { printf "%.3f", a - b }')
  conv+=("$secs")
  bfd+=("$removal")
  echo "crash $round ($victim): router dropped it after $removal s; every new connection succeeds after $secs s ($failed attempts failed)"
  "$LAB" start "$victim" >/dev/null
done

stats() {
  sort -n | awk -v what="$1" '
    { v[NR] = $1 }
    END {
      p50 = v[int((NR * 50 + 99) / 100)]; p99 = v[int((NR * 99 + 99) / 100)]
      printf "  %s: min %.3f s, p50 %.3f s, p99 %.3f s, max %.3f s\n", what, v[1], p50, p99, v[NR]
    }'
}
echo "$mode, $gateways gateways, BFD 100 ms x 3, $crashes crashes:"
printf '%s\n' "${bfd[@]}" | stats "crash to the router's withdrawal (BIRD log)"
printf '%s\n' "${conv[@]}" | stats "crash to every new connection succeeding"
