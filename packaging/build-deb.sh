#!/usr/bin/env bash
# Build the ferrovs Debian package: packaging/build-deb.sh [--profile release|debug] [--out DIR]
#
# Stages the binaries, units, default files, example configurations, the Grafana dashboard, man
# pages and shell completions (rendered by ferrovs-gen and go-md2man from the definitions and
# docs/config.md) into a tree, computes the shared-library dependencies with dpkg-shlibdeps (the
# DPDK runtime packages among them) and builds it with dpkg-deb. Prints the .deb's path last.
# `make deb` builds the release package; `make test` builds one from its debug binaries and
# checks its layout (tests/package.rs).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
profile=release
out="$ROOT/target/deb"
while [ $# -gt 0 ]; do
  case $1 in
    --profile) profile=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: $0 [--profile release|debug] [--out DIR]" >&2; exit 2 ;;
  esac
done
# The release package is built from the gateway's own features; the debug one (make test's) with
# the test build's flags, so that it reuses what the test run compiled.
case $profile in
  release) dir=release; build=(--release -p ferrovs -p ferrovs-gen --bins); compress=(-Zxz) ;;
  # The test's package is unpacked once and thrown away: fast compression.
  debug) dir=debug; build=(--workspace --all-features --bins); compress=(-Zgzip -z1) ;;
  *) echo "build-deb: unknown profile $profile (release or debug)" >&2; exit 2 ;;
esac
for tool in dpkg-deb dpkg-shlibdeps go-md2man; do
  command -v "$tool" >/dev/null || { echo "build-deb: $tool is missing (make deps installs it)" >&2; exit 1; }
done

cd "$ROOT"
cargo build -q "${build[@]}"
bin="$ROOT/target/$dir"
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
arch=$(dpkg --print-architecture)

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
pkg="$stage/ferrovs"
mkdir -p "$pkg/DEBIAN"

# Binaries: debug information stays in the build tree.
install -D -m 0755 "$bin/ferrovs" "$pkg/usr/sbin/ferrovs"
install -D -m 0755 "$bin/ferrovsadm" "$pkg/usr/sbin/ferrovsadm"
strip --strip-debug "$pkg/usr/sbin/ferrovs" "$pkg/usr/sbin/ferrovsadm"
install -D -m 0755 packaging/ferrovs-prepare "$pkg/usr/libexec/ferrovs/ferrovs-prepare"

# systemd: the unit and the drop-ins that order keepalived and BIRD after it.
install -D -m 0644 packaging/systemd/ferrovs.service "$pkg/lib/systemd/system/ferrovs.service"
for d in keepalived bird; do
  install -D -m 0644 "packaging/systemd/$d.service.d/ferrovs.conf" \
    "$pkg/lib/systemd/system/$d.service.d/ferrovs.conf"
done

# Configuration (conffiles) and examples.
install -D -m 0644 packaging/default/ferrovs "$pkg/etc/default/ferrovs"
install -D -m 0644 examples/ferrovs.toml "$pkg/etc/ferrovs/ferrovs.toml"
for f in examples/*; do
  install -D -m 0644 "$f" "$pkg/usr/share/doc/ferrovs/examples/$(basename "$f")"
done
install -D -m 0644 docs/grafana/ferrovs.json "$pkg/usr/share/ferrovs/grafana/ferrovs.json"
for f in README.md docs/*.md; do
  install -D -m 0644 "$f" "$pkg/usr/share/doc/ferrovs/$(basename "$f")"
done
cat >"$pkg/usr/share/doc/ferrovs/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: ferrovs

Files: *
License: Apache-2.0
 On Debian systems, the full text of the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
COPYRIGHT

# Man pages and completions from the command-line definitions; ferrovs.toml(5) from the docs.
"$bin/ferrovs-gen" man "$stage/man"
"$bin/ferrovs-gen" completions "$stage/completions"
mkdir -p "$pkg/usr/share/man/man8" "$pkg/usr/share/man/man5"
for p in ferrovs ferrovsadm; do
  gzip -9n <"$stage/man/$p.8" >"$pkg/usr/share/man/man8/$p.8.gz"
done
{
  printf 'ferrovs.toml 5 "%s" "ferrovs %s" "File Formats"\n==================================================\n\n' \
    "$(date -u -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}" +%Y-%m-%d)" "$version"
  printf '# NAME\n\nferrovs.toml - the ferrovs gateway configuration file\n\n'
  sed '1{/^# /d}' docs/config.md
} | go-md2man >"$stage/ferrovs.toml.5"
gzip -9n <"$stage/ferrovs.toml.5" >"$pkg/usr/share/man/man5/ferrovs.toml.5.gz"
install -D -m 0644 "$stage/completions/bash/ferrovs.bash" "$pkg/usr/share/bash-completion/completions/ferrovs"
install -D -m 0644 "$stage/completions/bash/ferrovsadm.bash" "$pkg/usr/share/bash-completion/completions/ferrovsadm"
for p in _ferrovs _ferrovsadm; do
  install -D -m 0644 "$stage/completions/zsh/$p" "$pkg/usr/share/zsh/vendor-completions/$p"
done

# Shared-library dependencies (libc, the DPDK runtime libraries), as Debian computes them.
mkdir -p "$stage/src/debian"
printf 'Source: ferrovs\n\nPackage: ferrovs\nArchitecture: any\n' >"$stage/src/debian/control"
depends=$(cd "$stage/src" && dpkg-shlibdeps -O "$pkg/usr/sbin/ferrovs" "$pkg/usr/sbin/ferrovsadm" 2>/dev/null |
  sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "build-deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

cat >"$pkg/DEBIAN/control" <<CONTROL
Package: ferrovs
Version: $version
Architecture: $arch
Maintainer: ferrovs developers <ferrovs@example.invalid>
Section: net
Priority: optional
Depends: $depends
Recommends: dpdk
Suggests: keepalived, bird2, prometheus
Installed-Size: $(du -sk "$pkg" | cut -f1)
Homepage: https://example.invalid/ferrovs
Description: L4 load-balancing gateway (LVS-style DR, NAT, TUN, FullNAT) on DPDK
 ferrovs does the job of Linux LVS (IPVS, ipvsadm, keepalived) or DPVS at
 kernel-bypass speed: poll-mode workers forward in DR, NAT, TUN and FullNAT
 with per-core session tables; ferrovsadm speaks ipvsadm's command line;
 keepalived (VRRP) and BIRD (BGP) run beside it on its exception path.
CONTROL
printf '/etc/default/ferrovs\n/etc/ferrovs/ferrovs.toml\n' >"$pkg/DEBIAN/conffiles"
cat >"$pkg/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
# The gateway takes over network ports: it is not enabled or started here
# (systemctl enable --now ferrovs once /etc/ferrovs/ferrovs.toml names them).
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null || true
fi
POSTINST
cat >"$pkg/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null || true
fi
POSTRM
chmod 0755 "$pkg/DEBIAN/postinst" "$pkg/DEBIAN/postrm"

mkdir -p "$out"
deb="$out/ferrovs_${version}_${arch}.deb"
dpkg-deb --root-owner-group "${compress[@]}" --build "$pkg" "$deb" >/dev/null
echo "$deb"
