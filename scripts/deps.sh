#!/usr/bin/env bash
# Install what ferrovs needs on Debian 12 and prepare hugepages. Idempotent; says what it did.
set -euo pipefail

# Debian packages the build, the tests and the lab use.
PACKAGES=(
  libdpdk-dev dpdk-dev        # DPDK 22.11 headers, libraries, PMDs and dpdk-testpmd
  pkg-config clang libclang-dev  # bindgen needs libclang; pkg-config finds libdpdk
  libpcap-dev                 # the net_pcap PMD's library
  iproute2 ethtool            # network namespaces, veth and offload settings for the lab
  nginx curl wrk python3      # the lab's real servers, client and load
  tshark tcpdump socat        # captures and UDP clients in the lab tests
  iputils-ping                # ping through the exception path
  hping3                      # bounded SYN floods in the lab (tests/lab_flood.rs)
  keepalived                  # VRRP on the exception path: the director HA lab (issue 14)
  bird2                       # bird and birdc: BGP/BFD on the exception path (ECMP, issue 16), the lab, examples/bird.conf
  nftables                    # the ECMP lab in NAT (replies to their gateway); sync-path loss in lab_hasync
  prometheus                  # promtool for the metrics test; a real Prometheus for scrape tests
  python3-matplotlib          # make bench: the plots
  dpkg-dev go-md2man systemd  # make deb: dpkg-shlibdeps, ferrovs.toml(5); systemd-analyze verify
  chromium                    # headless browser driving the web console in tests/lab_console.rs (issue 20)
)
# Strip the comments out of the list above.
pkgs=()
for p in "${PACKAGES[@]}"; do pkgs+=("$p"); done

say() { echo "deps: $*"; }

if [ "$(id -u)" != 0 ]; then
  say "not root: cannot install packages or reserve hugepages; run 'sudo make deps'" >&2
  exit 1
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  say "all ${#pkgs[@]} Debian packages already installed"
else
  say "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  say "installed ${#missing[@]} packages"
fi

if ! command -v cargo >/dev/null 2>&1; then
  say "cargo not found: install Rust (rustup) first; rust-toolchain.toml pins the version" >&2
  exit 1
fi

# Hugepages: the gateway wants them (tests run with --no-huge and do not). 512 (1 GiB), or
# 1024 (2 GiB) with 16 GiB of memory or more: `make bench`'s 10M-session tables need 449 (criterion)
# and 504 (the ring's DUT), besides the mbuf pools, to sit on huge pages as the gateway's do.
# MemTotal is a little under the memory installed, so a 16 GiB machine shows about 15.6 GiB.
mem_kib=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
default_pages=512
if [ "${mem_kib:-0}" -ge $((15 * 1024 * 1024)) ]; then default_pages=1024; fi
want=${FERROVS_HUGEPAGES:-$default_pages}
nr=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
if [ -w "$nr" ]; then
  have=$(cat "$nr")
  if [ "$have" -lt "$want" ]; then
    echo "$want" > "$nr" 2>/dev/null || true
    say "reserved 2 MiB hugepages: $have -> $(cat "$nr") (asked for $want)"
  else
    say "$have 2 MiB hugepages already reserved"
  fi
else
  say "cannot write $nr (container or read-only /sys): skipping hugepages; use --no-huge"
fi
if ! mount | grep -q ' type hugetlbfs '; then
  mkdir -p /dev/hugepages
  if mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null; then
    say "mounted hugetlbfs on /dev/hugepages"
  else
    say "could not mount hugetlbfs (not permitted here): DPDK will need --no-huge"
  fi
else
  say "hugetlbfs already mounted"
fi

# keepalived: its sample configurations feed the importer test (admin/tests/import.rs), which
# fails without them under CI. An image whose dpkg excludes /usr/share/doc drops them even with
# the package installed: take them out of the package then.
samples=/usr/share/doc/keepalived/samples
if ! dpkg-query -W -f='${Status}' keepalived 2>/dev/null | grep -q "install ok installed"; then
  say "installing: keepalived"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends keepalived >/dev/null
fi
if ! ls "$samples"/keepalived.conf.* >/dev/null 2>&1; then
  tmp=$(mktemp -d)
  chmod 755 "$tmp" # apt-get download runs as _apt
  (cd "$tmp" && apt-get download -q keepalived >/dev/null)
  dpkg-deb --fsys-tarfile "$tmp"/keepalived_*.deb | tar -x -C / ./usr/share/doc/keepalived/samples
  rm -rf "$tmp"
  say "keepalived samples extracted to $samples"
else
  say "keepalived and its samples present"
fi
