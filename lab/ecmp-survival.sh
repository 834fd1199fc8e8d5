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
# answer: TCP retransmits through the outage); which gateway carries each is read (FullNAT: the
# local address its real server saw, X-Client; otherwise the gateway listing it ESTABLISHED,
# exact without sync); one gateway's ferrovs gets SIGKILL (`lab/lab stop`, the gateways taking
# turns), and --settle seconds (default 10) later the client stops. A connection kept working
# when it had no error and answers in the last 2 s before the stop. One line per crash: the
# dead gateway's connections and the survivors' that kept working, with the longest stall of a
# kept one (from the crash to its first answer after it); then the totals. The gateway starts
# again (and, with the takeover, takes its local addresses back) before the next round. Needs
# root and the built binaries; uses FERROVS_LAB_ID (default fvsurv).
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
# A failed run keeps the lab's logs (and configurations) for a look.
on_exit() {
  local rc=$?
  if [ $rc != 0 ] && [ -d "$STATE" ]; then
    rm -rf "$STATE.failed" && cp -r "$STATE" "$STATE.failed" 2>/dev/null &&
      say "the lab's files are in $STATE.failed"
  fi
  "$LAB" down >/dev/null 2>&1 || true
}
trap on_exit EXIT

if [ "$mode" != fullnat ] && [ ${#extra[@]} -gt 0 ]; then
  say "with sync every gateway lists every connection: the carrier is known in FullNAT only"
  exit 2
fi
"$LAB" up "$mode" --ecmp "$gateways" "${extra[@]}" >&2
eval "$("$LAB" env)"
IFS=, read -r -a gws <<<"$GATEWAYS"

paths() { ip -n "$FERROVS_LAB_ID-router" -4 route show "$VIP" 2>/dev/null | grep -c 'via ' || true; }

# carriers FILE: "PORT GATEWAY" for every connection hold-conns.py opened (and found).
carriers() {
  local g var
  if [ "$mode" = fullnat ]; then
    local map=""
    for g in "${gws[@]}"; do var=${g^^}_LADDR; map+="${!var}=$g "; done
    awk -v map="$map" '
      BEGIN { n = split(map, m, " "); for (i = 1; i <= n; i++) { split(m[i], kv, "="); gw[kv[1]] = kv[2] } }
      $1 == "open" { port[$2] = $3 }
      $1 == "src" && ($3 in gw) { print port[$2], gw[$3] }' "$1"
  else
    for g in "${gws[@]}"; do
      "$LAB" exec "$g" -- ferrovsadm -Lnc | awk -v g="$g" '/ESTABLISHED/ { n = split($4, a, ":"); print a[n], g }'
    done
  fi
}

# until_ok SECONDS CMD...: poll CMD every 0.1 s.
until_ok() {
  local limit=$1 i
  shift
  for i in $(seq 1 $((limit * 10))); do "$@" && return 0; sleep 0.1; done
  return 1
}
paths_are() { [ "$(paths)" = "$1" ]; }

tot_dead=0 tot_dead_ok=0 tot_surv=0 tot_surv_ok=0 unknown=0
for round in $(seq 1 "$crashes"); do
  victim=${gws[$(((round - 1) % ${#gws[@]}))]}
  until_ok 30 paths_are "$gateways" || { say "round $round: the router has $(paths) of $gateways paths"; exit 1; }
  out=$STATE/survival-$round.txt stop=$STATE/survival-stop
  rm -f "$stop"
  "$LAB" exec client -- python3 "$LAB_DIR/hold-conns.py" --addr "$VIP" --conns "$conns" \
    --every 0.1 --timeout 15 --show-source --stop-file "$stop" >"$out" 2>&1 &
  client=$!
  until_ok 30 grep -qx ready "$out" || { say "round $round: not every connection answered: $(tail -3 "$out")"; exit 1; }
  carriers "$out" >"$STATE/carriers-$round.txt"
  t0=$("$LAB" stop "$victim" | sed -n 's/.* at \([0-9.]*\)$/\1/p')
  until_ok 10 paths_are $((gateways - 1)) || { say "round $round: the router still routes via $victim"; exit 1; }
  sleep "$settle"
  touch "$stop"
  wait "$client" || true
  # Per connection: kept working (no error, answers in the last 2 s), and whose it was.
  read -r dead dead_ok surv surv_ok dstall sstall unk < <(awk -v t0="$t0" -v s="$settle" -v v="$victim" '
    BEGIN { t = t0 + s - 2 }
    FILENAME ~ /carriers/ { via[$1] = $2; next }
    $1 == "open" { port[$2] = $3; n++ }
    $1 == "ok" && $3 > t { late[$2] = 1 }
    $1 == "ok" && $3 > t0 && !($2 in first) { first[$2] = $3 - t0 }
    $1 == "err" { err[$2] = 1 }
    END {
      for (c = 0; c < n; c++) {
        g = via[port[c]]; ok = late[c] && !err[c]; st = ok ? first[c] : 0
        if (g == "") u++
        else if (g == v) { d++; dk += ok; if (st > ds) ds = st }
        else { s2++; sk += ok; if (st > ss) ss = st }
      }
      printf "%d %d %d %d %.2f %.2f %d\n", d, dk, s2, sk, ds, ss, u
    }' "$STATE/carriers-$round.txt" "$out")
  note=""
  [ "$unk" = 0 ] || note=" ($unk without a known gateway)"
  echo "crash $round ($victim): kept working: $dead_ok/$dead of $victim's (longest stall $dstall s), $surv_ok/$surv of the survivors' ($sstall s)$note"
  tot_dead=$((tot_dead + dead)) tot_dead_ok=$((tot_dead_ok + dead_ok))
  tot_surv=$((tot_surv + surv)) tot_surv_ok=$((tot_surv_ok + surv_ok)) unknown=$((unknown + unk))
  "$LAB" start "$victim" >/dev/null
done

pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.1f%%", 100 * a / b }'; }
all_ok=$((tot_dead_ok + tot_surv_ok)) all=$((tot_dead + tot_surv))
echo "$mode${extra[*]:+ ${extra[*]}}, $gateways gateways, $crashes crashes x $conns connections:"
echo "  the dead gateway's: $tot_dead_ok/$tot_dead ($(pct "$tot_dead_ok" "$tot_dead"))"
echo "  the survivors': $tot_surv_ok/$tot_surv ($(pct "$tot_surv_ok" "$tot_surv"))"
echo "  all: $all_ok/$all ($(pct "$all_ok" "$all")); without a known gateway: $unknown"
