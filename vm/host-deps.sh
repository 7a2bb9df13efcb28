#!/bin/sh
# Installs what the VM harness needs on the host: qemu (x86 system emulator), mmdebstrap,
# e2fsprogs (mkfs.ext4 -d). Idempotent. Kept out of scripts/deps.sh so that CI runs that
# do not enable the VM tests (LXCRS_VM_TESTS=1) do not pay for qemu.
#
# qemu-system-x86 must match the installed qemu-utils' version (same source package): on
# hosts that carry qemu-utils from bookworm-backports (this project's machine image does),
# qemu-system-x86 comes from bookworm-backports too.
set -eu
need=
command -v qemu-system-x86_64 >/dev/null 2>&1 || need="$need qemu-system-x86"
command -v mmdebstrap >/dev/null 2>&1 || need="$need mmdebstrap"
command -v mkfs.ext4 >/dev/null 2>&1 || need="$need e2fsprogs"
command -v flock >/dev/null 2>&1 || need="$need util-linux"
[ -n "$need" ] || exit 0
[ "$(id -u)" = 0 ] || { echo "vm/host-deps.sh: missing:$need; run as root to install them" >&2; exit 1; }

export DEBIAN_FRONTEND=noninteractive
target=
case "$need" in *qemu-system-x86*)
    if dpkg-query -W -f='${Version}' qemu-utils 2>/dev/null | grep -q 'bpo12'; then
        list=/etc/apt/sources.list.d/lxcrs-vm-backports.sources
        if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
            echo "vm/host-deps.sh: adding bookworm-backports (pinned low by apt: only used when asked) in $list" >&2
            printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' >"$list"
        fi
        target="-t bookworm-backports"
    fi ;;
esac
echo "vm/host-deps.sh: installing:$need" >&2
apt-get update -q >&2
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $target $need >&2
