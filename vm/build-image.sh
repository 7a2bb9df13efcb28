#!/bin/bash
# Builds the lxcrs test VM image once and caches it: Debian bookworm, the stock Debian
# kernel, systemd (pure cgroup v2), ZFS (zfs-dkms, built here for the image's kernel),
# LVM thin, btrfs, and a unit that runs a script from a 9p share then powers off
# (see guest/). Prints the image directory (kernel, initrd, disk) on stdout, progress on
# stderr.
#
# Cache: $LXCRS_VM_CACHE (default /var/cache/lxcrs/vm)/<key>/ where <key> hashes this
# script, the package list and vm/guest/*, so changing any of them rebuilds. Concurrent
# builds are serialised with flock; a build goes to a temporary name and is renamed into
# place only when complete, so a cache dir that exists is always whole.
#
# Usage: vm/build-image.sh [--force]
# Env:   LXCRS_VM_CACHE, LXCRS_VM_MIRROR (default http://deb.debian.org/debian),
#        LXCRS_VM_KEEP (cache keys kept besides the current one, default 1)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${LXCRS_VM_CACHE:-/var/cache/lxcrs/vm}
mirror=${LXCRS_VM_MIRROR:-http://deb.debian.org/debian}
security=${LXCRS_VM_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
force=0
[ "${1:-}" = --force ] && force=1

# Everything the guest has. systemd-sysv makes systemd PID 1; bookworm's systemd mounts
# only the unified cgroup v2 hierarchy by default.
PKGS="
  systemd-sysv udev dbus kmod procps util-linux iproute2 e2fsprogs
  linux-image-amd64 linux-headers-amd64 initramfs-tools
  dkms zfs-dkms zfsutils-linux
  lvm2 thin-provisioning-tools btrfs-progs
  busybox-static dnsmasq-base nftables iptables uidmap
  rsync acl attr tar xz-utils libseccomp2 strace
"

log() { echo "vm: $*" >&2; }

key=$( { cat "$0"; cat "$here"/guest/*; } | sha256sum | cut -c1-16 )
dir=$cache/$key

if [ "$force" = 0 ] && [ -f "$dir/disk.raw" ]; then
    touch "$dir" 2>/dev/null || true
    log "image cached: $dir"
    echo "$dir"
    exit 0
fi

[ "$(id -u)" = 0 ] || { log "building the image needs root (mmdebstrap, chroot); run: sudo $0"; exit 1; }
"$here/host-deps.sh"

mkdir -p "$cache"
exec 9>"$cache/.lock"
if ! flock -n 9; then
    log "another build holds $cache/.lock; waiting for it"
    flock 9
fi
if [ "$force" = 0 ] && [ -f "$dir/disk.raw" ]; then   # built while we waited
    log "image cached: $dir"
    echo "$dir"
    exit 0
fi

start=$(date +%s)
tmp=$cache/.build-$key-$$
# Leftovers of interrupted builds (we hold the lock): unmount, then delete without ever
# crossing into another filesystem.
unmount_under() { { grep -o " $1/[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do umount -l "$m" || true; done; }
for old in "$cache"/.build-*; do
    [ -e "$old" ] || continue
    unmount_under "$old"; rm -rf --one-file-system "$old"
done
mkdir -p "$tmp"
heartbeat=
stop_heartbeat() {
    [ -n "$heartbeat" ] || return 0
    # Its sleep goes after it (killing the sleep first would make it print "Terminated").
    local kids
    kids=$(pgrep -P "$heartbeat" || true)
    { kill "$heartbeat" && wait "$heartbeat"; } 2>/dev/null || true
    # shellcheck disable=SC2086
    [ -z "$kids" ] || kill $kids 2>/dev/null || true
    heartbeat=
}
cleanup() {
    set +e
    stop_heartbeat
    # mmdebstrap unmounts what it mounted, even on failure; make sure before deleting.
    unmount_under "$tmp"
    rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "building image $key in $tmp (cold build: about 5-10 minutes; log: $tmp/build.log)"
# shellcheck disable=SC2086
pkgs=$(echo $PKGS | tr ' ' ',')
# A heartbeat while it runs: apt and the ZFS compile are silent for minutes.
( while sleep 60; do log "... $(( $(date +%s) - start )) s"; done ) &
heartbeat=$!
set +e
# shellcheck disable=SC2016
mmdebstrap --mode=root --variant=minbase --verbose \
    --aptopt='APT::Install-Recommends "false"' \
    --include="$pkgs" \
    --customize-hook='sh "'"$here"'/guest/customize.sh" "$1" "'"$here"'/guest"' \
    bookworm "$tmp/rootfs" \
    "deb $mirror bookworm main contrib" \
    "deb $mirror bookworm-updates main contrib" \
    "deb $security bookworm-security main contrib" \
    2>&1 | tee "$tmp/build.log" \
    | grep --line-buffered -E '^(I:|E:|customize:)|Building (initial )?module|DKMS: install completed|^Setting up (linux-image|zfs)' >&2
rc=${PIPESTATUS[0]}
set -e
stop_heartbeat
if [ "$rc" != 0 ]; then
    cp "$tmp/build.log" "$cache/failed-build.log"
    log "mmdebstrap failed (exit $rc); last lines of its log ($cache/failed-build.log):"
    tail -n 40 "$tmp/build.log" >&2
    exit 1
fi

kver=$(ls "$tmp/rootfs/lib/modules")
cp "$tmp/rootfs/boot/vmlinuz-$kver" "$tmp/vmlinuz"
cp "$tmp/rootfs/boot/lxcrs-initrd.img" "$tmp/initrd.img"     # see guest/initrd-init

# ext4 disk filled straight from the directory (no loop device, no mount): the tree's size
# plus 4 GiB for what the tests create (the VM writes go to a throw-away overlay anyway).
used_mb=$(du -sm "$tmp/rootfs" | cut -f1)
size_mb=$(( used_mb * 12 / 10 + 4096 ))
log "making the ${size_mb} MiB ext4 disk (rootfs ${used_mb} MiB)"
truncate -s "${size_mb}M" "$tmp/disk.raw"
mkfs.ext4 -q -F -L lxcrs-vm -d "$tmp/rootfs" "$tmp/disk.raw" >&2
rm -rf --one-file-system "$tmp/rootfs"

{
    echo "key=$key"
    echo "kernel=$kver"
    echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "build_seconds=$(( $(date +%s) - start ))"
    echo "packages=$pkgs"
} >"$tmp/info"
chmod 0444 "$tmp/disk.raw"
rm -rf "$dir"         # only with --force
mv "$tmp" "$dir"      # same filesystem: atomic
trap - EXIT

# Keep the newest $LXCRS_VM_KEEP other images (by last use: run.sh touches them), delete
# the rest.
keep=${LXCRS_VM_KEEP:-1}
n=0
# shellcheck disable=SC2012
for old in $(cd "$cache" && ls -1dt -- */ 2>/dev/null | tr -d /); do
    [ "$cache/$old" != "$dir" ] || continue
    n=$((n + 1))
    [ "$n" -gt "$keep" ] || continue
    log "removing old image $cache/$old"
    rm -rf --one-file-system "${cache:?}/$old"
done

log "image built in $(( $(date +%s) - start )) s: $dir (kernel $kver)"
echo "$dir"
