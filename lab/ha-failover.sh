#!/usr/bin/env bash
# Failover figures for the HA lab (issue 14 item 8): crash the master's ferrovs N times and time,
# from each crash to the client's first successful new connection through the backup.
#
#   lab/ha-failover.sh [--mode MODE] [--crashes N] [--advert-int S] [--every S]
#
# Method: `lab/lab up MODE --ha --advert-int S` (S below 1 s means VRRPv3). Each round: the
# client (lab/conn-loop.py --every) starts a new TCP connection to the VIP every --every seconds
# (default 0.02), each with a 0.5 s budget; at a random point between two adverts the master's
# ferrovs gets SIGKILL (`lab/lab stop gw`, a crash: its TAPs go, so its keepalived stops
# advertising); the failover time is from the kill to the end of the first connection that
# started after it and succeeded (through gw2). Then gw's ferrovs (and keepalived, see lab/lab
# start) starts again, gw takes the VIP back (preempt) and the client reaches it again before the
# next round. Prints one line per crash, then min, p50, p99 (nearest rank: with 20 crashes the
# p99 is the largest) and max, the load average before and after, and how often gw2's keepalived
# became master: once per crash, more if it took the VIP without a crash (a late advert on a
# loaded machine; a round where gw2 already holds the VIP at the crash is not timed, and run
# again). Needs root and the built binaries (target/release first); uses FERROVS_LAB_ID (default
# fvha).
set -euo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export FERROVS_LAB_ID=${FERROVS_LAB_ID:-fvha}
STATE=/run/ferrovs-lab/$FERROVS_LAB_ID
LAB=$LAB_DIR/lab

mode=dr crashes=20 advert=1 every=0.02
while [ $# -gt 0 ]; do
  case $1 in
    --mode) mode=${2:?}; shift ;;
    --crashes) crashes=${2:?}; shift ;;
    --advert-int) advert=${2:?}; shift ;;
    --every) every=${2:?}; shift ;;
    *) echo "ha-failover: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done

say() { echo "ha-failover: $*" >&2; }
trap '"$LAB" down >/dev/null 2>&1 || true' EXIT

"$LAB" up "$mode" --ha --advert-int "$advert" >&2
eval "$("$LAB" env)"

# holds HOST: keepalived has put the VIP on HOST's eth0.
holds() { [[ $(ip -n "$FERROVS_LAB_ID-$1" -4 addr show dev eth0 2>/dev/null) == *"inet $VIP/"* ]]; }

# until_ok SECONDS CMD...: poll CMD every 0.1 s.
until_ok() {
  local limit=$1 i
  shift
  for i in $(seq 1 $((limit * 10))); do "$@" && return 0; sleep 0.1; done
  return 1
}

# gw_serves: gw alone holds the VIP and a new connection from the client gets through.
gw_serves() {
  holds gw && ! holds gw2 &&
    "$LAB" exec client -- curl -sf -m 1 -o /dev/null "http://$VIP/"
}

load() { cut -d' ' -f1-3 /proc/loadavg; }
load_before=$(load)
results=() false_takeovers=0 round=0
while [ "$round" -lt "$crashes" ]; do
  round=$((round + 1))
  until_ok 30 gw_serves || { say "round $round: gw does not serve"; exit 1; }
  out=$STATE/failover-$round.txt stop=$STATE/failover-stop
  rm -f "$stop"
  "$LAB" exec client -- python3 "$LAB_DIR/conn-loop.py" --addr "$VIP" --timeout 0.5 \
    --every "$every" --duration 60 --stop-file "$stop" >"$out" &
  loop=$!
  # Half a second of connections first, then a random fraction of an advert interval: each
  # round starts a fixed time after gw took over, so without it every crash would fall at the
  # same point between two adverts.
  sleep "$(awk -v a="$advert" -v r="$RANDOM" 'BEGIN { printf "%.3f", 0.5 + a * r / 32768 }')"
  if holds gw2 || ! holds gw; then
    say "round $round: gw2 holds the VIP before the crash (took it without one); again"
    false_takeovers=$((false_takeovers + 1)) round=$((round - 1))
    [ "$false_takeovers" -le "$crashes" ] || { say "gw2 keeps taking the VIP without a crash"; exit 1; }
    touch "$stop"
    wait "$loop" || true
    continue
  fi
  # The moment of the SIGKILL, as lab/lab reports it.
  t0=$("$LAB" stop gw | sed -n 's/.* at \([0-9.]*\)$/\1/p')
  [ -n "$t0" ] || { say "round $round: lab stop gw did not say when"; exit 1; }
  # Until a connection that started after the crash has succeeded (60 s at most).
  found=""
  for _ in $(seq 1 600); do
    found=$(awk -v t0="$t0" '$1 >= t0 && $3 == "ok" { print $2 }' "$out" | sort -n | head -1)
    [ -n "$found" ] && break
    sleep 0.1
  done
  touch "$stop"
  wait "$loop" || true
  [ -n "$found" ] || { say "round $round: no connection through gw2 within 60 s"; exit 1; }
  secs=$(awk -v a="$found" -v b="$t0" 'BEGIN { printf "%.3f", a - b }')
  failed=$(awk -v t0="$t0" -v f="$found" '$1 >= t0 && $1 < f && $3 == "fail"' "$out" | wc -l)
  results+=("$secs")
  echo "crash $round: first new connection through gw2 after $secs s ($failed attempts started meanwhile failed)"
  "$LAB" start gw >/dev/null
done

masters=$(grep -c '(VI_1) Entering MASTER STATE' "$STATE/gw2-keepalived.log" || true)
say "load average before $load_before, after $(load); gw2's keepalived became master $masters times for $crashes crashes ($false_takeovers rounds run again: gw2 held the VIP before the crash)"
printf '%s\n' "${results[@]}" | sort -n | awk -v adv="$advert" -v n="$crashes" -v mode="$mode" '
  { v[NR] = $1 }
  END {
    p50 = v[int((NR * 50 + 99) / 100)]; p99 = v[int((NR * 99 + 99) / 100)]
    printf "%s, advert_int %s (VRRPv%s), %d crashes: min %.3f s, p50 %.3f s, p99 %.3f s, max %.3f s\n",
      mode, adv, (adv ~ /\./ ? 3 : 2), n, v[1], p50, p99, v[NR]
  }'
