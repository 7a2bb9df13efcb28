#!/bin/sh
# Installs every Debian package lxcrs needs to build, run and test. Idempotent.
set -eu

PKGS="
  build-essential pkg-config libseccomp-dev
  busybox-static debootstrap rsync acl attr uidmap iproute2 procps util-linux
  e2fsprogs btrfs-progs xz-utils tar nftables dnsmasq-base
  lxc lxc-templates distro-info
  hyperfine python3 strace
"
missing=
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
fi

if ! command -v cargo >/dev/null 2>&1; then
    echo "lxcrs needs a Rust toolchain (cargo, rustc >= 1.85)." >&2
    echo "hint: install one with rustup (https://rustup.rs), then run this again." >&2
    exit 1
fi
