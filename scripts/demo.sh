#!/usr/bin/env bash
# `make demo`: install what is needed, build, bring up the FullNAT lab (client, ferrovs on DPDK,
# three nginx real servers, each in its own network namespace) and run the seeds' client test
# against the VIP; then the same for DR, the LVS classic. Everything is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n== %s\n' "$*"; }

step "installing what ferrovs needs (make deps)"
bash scripts/deps.sh

step "building the release binaries"
cargo build --release --bins 2>&1 | tail -n 1
./target/release/ferrovs version

export FERROVS_LAB_ID=fvdemo
trap 'lab/lab down >/dev/null 2>&1 || true' EXIT

demo_mode() {
  local mode=$1
  step "lab: $mode (lab/lab up $mode)"
  lab/lab up "$mode"
  eval "$(lab/lab env)"
  echo "client $CLIENT -> VIP $VIP:80 on ferrovs -> rs1 $RS1, rs2 $RS2 (rr)"
  echo "the gateway's configuration: $CONFIG"
  step "the seeds' client test: for i in 1..6; do curl http://$VIP/; done"
  for _ in 1 2 3 4 5 6; do
    lab/lab exec client -- curl -sS -m 5 "http://$VIP/"
  done
  step "ferrovsadm -L -n --stats (ipvsadm's grammar and output, on the gateway)"
  lab/lab exec gw -- ferrovsadm -L -n --stats
  if [ "$mode" = fullnat ]; then
    step "what rs1's nginx saw as the client address (FullNAT: the local address $LADDR)"
    tail -n 1 "/run/ferrovs-lab/$FERROVS_LAB_ID/rs1/access.log" | cut -d' ' -f1
  fi
  step "gateway log"
  grep -E "^ferrovs: (port|running)" "$LOG" || true
  lab/lab down >/dev/null
}

demo_mode fullnat
demo_mode dr

echo
echo "demo done. Try it yourself: lab/lab up nat; eval \"\$(lab/lab env)\"; lab/lab exec client -- curl http://\$VIP/; lab/lab down"
