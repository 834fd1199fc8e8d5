#!/usr/bin/env bash
# `make demo`. The network-namespace lab (issue: the lab) is not built yet, so this shows what
# exists today: the DPDK layer moving real frames through virtual devices, and the dataplane.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n== %s\n' "$*"; }

step "installing what ferrovs needs (make deps)"
bash scripts/deps.sh

step "building the release binaries"
cargo build --release --bins 2>&1 | tail -n 1
./target/release/ferrovs version

cat <<'TXT'

== what exists today
ferrovs is being built issue by issue. Today it has:
  - dpdk-sys / dpdk: bindings generated from the installed DPDK and a safe layer (EAL, lcores,
    mempools, mbufs, ethdev ports, rings, rte_flow probe), tested on real virtual devices;
  - dataplane: the packet pipeline, free of DPDK: DR, NAT, TUN and FullNAT (IPv4/IPv6), TOA,
    ICMP error translation, sessions with IPVS states, the 13 ipvsadm schedulers with Maglev;
    specified by a table of 144 golden packets;
  - config: the TOML schema (`ferrovs check FILE`), doctor (`ferrovs doctor`);
  - `ferrovs run --config FILE`: the gateway on DPDK ports (first version).
Not yet: ferrovsadm, health checks, metrics, the lab. Once the lab lands, `make demo` brings up
a FullNAT lab in network namespaces and curls the VIP through ferrovs.

== DPDK in action: frames through net_ring and net_pcap virtual devices (no hugepages)
TXT
cargo test -q -p dpdk --test eal -- --test-threads 1 test_frames_round_trip test_pcap_port_pair test_bad_vdev 2>&1 \
  | grep -E "^test |test result" || true

echo
echo "== the dataplane on its golden packets (each mode x IPv4/IPv6 x TCP/UDP, ICMP, malformed)"
cargo test -q -p dataplane --features golden --test golden 2>&1 | grep -E "^test |test result" || true

echo
echo "== the example configuration, checked"
./target/release/ferrovs check examples/ferrovs.toml

echo
echo "demo done."
