#!/usr/bin/env bash
# Survival figures for the ECMP lab (issue 16 items 5e and 6): the share of established
# keep-alive connections that keep working when one gateway crashes, per mode, over several
# crashes.
#
#   lab/ecmp-survival.sh [--mode MODE] [--gateways N] [--crashes N] [--conns N] [--settle S]
#                        [--sync [--no-takeover]]
#
# Method: `lab/lab up MODE --ecmp N [--sync [--no-takeover]]` (BIRD, BFD 100 ms x 3, the router
# hashing on L4; --sync: session sync among all N, and in FullNAT the local-address takeover by
# keepalived VRRP, advert_int 1, unless --no-takeover). Each round: the client holds --conns
# keep-alive connections to the VIP (lab/hold-conns.py, a GET on each every 100 ms, 15 s for an
# answer: TCP retransmits through the outage), the router's own choice of gateway for each is
# read (`ip route get` with the ports), one gateway's ferrovs gets SIGKILL (`lab/lab stop`, the
# gateways taking turns), the choice is read again once the router has dropped it, and --settle
# seconds (default 10) later the client stops. A connection kept working when it had no error
# and answers in the last 2 s before the stop. One line per crash, counting the dead gateway's
# connections, the survivors' that the router left where they were, and the survivors' that
# its rehash moved to another survivor, with the longest stall in each kind (from the crash to
# a kept connection's first answer after it); then the totals. The gateway starts again (and, with
# the takeover, takes its local addresses back) before the next round. Needs root and the
# built binaries; uses FERROVS_LAB_ID (default fvsurv).
set -euo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export FERROVS_LAB_ID=${FERROVS_LAB_ID:-fvsurv}
STATE=/run/ferrovs-lab/$FERROVS_LAB_ID
LAB=$LAB_DIR/lab

mode=fullnat gateways=3 crashes=5 conns=60 settle=10 extra=()
while [ $# -gt 0 ]; do
  case $1 in
    --mode) mode=${2:?}; shift ;;
    --gateways) gateways=${2:?}; shift ;;
    --crashes) crashes=${2:?}; shift ;;
    --conns) conns=${2:?}; shift ;;
    --settle) settle=${2:?}; shift ;;
    --sync | --no-takeover) extra+=("$1") ;;
    *) echo "ecmp-survival: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done

say() { echo "ecmp-survival: $*" >&2; }
trap '"$LAB" down >/dev/null 2>&1 || true' EXIT

"$LAB" up "$mode" --ecmp "$gateways" "${extra[@]}" >&2
eval "$("$LAB" env)"
IFS=, read -r -a gws <<<"$GATEWAYS"

paths() { ip -n "$FERROVS_LAB_ID-router" -4 route show "$VIP" 2>/dev/null | grep -c 'via ' || true; }

# choices FILE: "PORT GATEWAY-ADDRESS" for every connection hold-conns.py opened.
choices() {
  local port
  for port in $(awk '$1 == "open" { print $3 }' "$1"); do
    echo "$port $(ip -n "$FERROVS_LAB_ID-router" -4 route get "$VIP" from "$CLIENT" iif eth1 \
      ipproto tcp sport "$port" dport 80 | grep -o 'via [0-9.]*' | cut -d' ' -f2)"
  done
}

# until_ok SECONDS CMD...: poll CMD every 0.1 s.
until_ok() {
  local limit=$1 i
  shift
  for i in $(seq 1 $((limit * 10))); do "$@" && return 0; sleep 0.1; done
  return 1
}
paths_are() { [ "$(paths)" = "$1" ]; }

tot_dead=0 tot_dead_ok=0 tot_stay=0 tot_stay_ok=0 tot_moved=0 tot_moved_ok=0
for round in $(seq 1 "$crashes"); do
  victim=${gws[$(((round - 1) % ${#gws[@]}))]}
  vaddr_var=${victim^^}_ADDR
  vaddr=${!vaddr_var}
  until_ok 30 paths_are "$gateways" || { say "round $round: the router has $(paths) of $gateways paths"; exit 1; }
  out=$STATE/survival-$round.txt stop=$STATE/survival-stop
  rm -f "$stop"
  "$LAB" exec client -- python3 "$LAB_DIR/hold-conns.py" --addr "$VIP" --conns "$conns" \
    --every 0.1 --timeout 15 --stop-file "$stop" >"$out" 2>&1 &
  client=$!
  until_ok 30 grep -qx ready "$out" || { say "round $round: not every connection answered: $(tail -3 "$out")"; exit 1; }
  choices "$out" >"$STATE/before-$round.txt"
  t0=$("$LAB" stop "$victim" | sed -n 's/.* at \([0-9.]*\)$/\1/p')
  until_ok 10 paths_are $((gateways - 1)) || { say "round $round: the router still routes via $victim"; exit 1; }
  choices "$out" >"$STATE/after-$round.txt"
  sleep "$settle"
  touch "$stop"
  wait "$client" || true
  # Per connection: kept working (no error, answers in the last 2 s), and its kind.
  read -r dead dead_ok stay stay_ok moved moved_ok dstall sstall mstall < <(awk -v t="$(awk -v a="$t0" -v s="$settle" 'BEGIN { printf "%.3f", a + s - 2 }')" \
    -v v="$vaddr" -v t0="$t0" '
    FILENAME ~ /before/ { before[$1] = $2; next }
    FILENAME ~ /after/ { after[$1] = $2; next }
    $1 == "open" { port[$2] = $3; n++ }
    $1 == "ok" && $3 > t { late[$2] = 1 }
    $1 == "ok" && $3 > t0 && !($2 in first) { first[$2] = $3 - t0 }
    $1 == "err" { err[$2] = 1 }
    END {
      for (c = 0; c < n; c++) {
        p = port[c]; ok = late[c] && !err[c]; st = ok ? first[c] : 0
        if (before[p] == v) { d++; dk += ok; if (st > ds) ds = st }
        else if (before[p] == after[p]) { s++; sk += ok; if (st > ss) ss = st }
        else { m++; mk += ok; if (st > ms) ms = st }
      }
      printf "%d %d %d %d %d %d %.2f %.2f %.2f\n", d, dk, s, sk, m, mk, ds, ss, ms
    }' "$STATE/before-$round.txt" "$STATE/after-$round.txt" "$out")
  echo "crash $round ($victim): kept working: $dead_ok/$dead of $victim's (longest stall $dstall s), $stay_ok/$stay of the survivors' that stayed ($sstall s), $moved_ok/$moved moved between survivors ($mstall s)"
  tot_dead=$((tot_dead + dead)) tot_dead_ok=$((tot_dead_ok + dead_ok))
  tot_stay=$((tot_stay + stay)) tot_stay_ok=$((tot_stay_ok + stay_ok))
  tot_moved=$((tot_moved + moved)) tot_moved_ok=$((tot_moved_ok + moved_ok))
  "$LAB" start "$victim" >/dev/null
done

pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.1f%%", 100 * a / b }'; }
all_ok=$((tot_dead_ok + tot_stay_ok + tot_moved_ok)) all=$((tot_dead + tot_stay + tot_moved))
echo "$mode${extra[*]:+ ${extra[*]}}, $gateways gateways, $crashes crashes x $conns connections:"
echo "  the dead gateway's: $tot_dead_ok/$tot_dead ($(pct "$tot_dead_ok" "$tot_dead"))"
echo "  the survivors' that stayed: $tot_stay_ok/$tot_stay ($(pct "$tot_stay_ok" "$tot_stay"))"
echo "  the survivors' moved between survivors: $tot_moved_ok/$tot_moved ($(pct "$tot_moved_ok" "$tot_moved"))"
echo "  all: $all_ok/$all ($(pct "$all_ok" "$all"))"
