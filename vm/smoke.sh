#!/bin/bash
# Smoke test of the VM harness: boots the cached image and checks, for real, that the guest
# has what the host lacks — a pure cgroup v2 systemd host, ZFS (module built by DKMS, a pool
# on a file vdev), LVM thin pools on a loop device, ipvlan and 802.1q VLAN links — plus the
# rest the lxcrs tests rely on. Exits non-zero if any check fails.
# Usage: vm/smoke.sh   (env as for vm/run.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
share=$(mktemp -d "${TMPDIR:-/tmp}/lxcrs-vm-smoke.XXXXXX")
trap 'rm -rf "$share"' EXIT

cat >"$share/smoke-guest.sh" <<'GUEST'
#!/bin/bash
pass=0 fail=0
check() {   # check NAME COMMAND...: runs COMMAND, prints PASS/FAIL and its output
    local name=$1; shift
    local out rc
    # Not inside an `if`: there bash would ignore the `set -e` of the check functions.
    out=$("$@" 2>&1)
    rc=$?
    if [ "$rc" = 0 ]; then
        echo "PASS $name"; pass=$((pass + 1))
    else
        echo "FAIL $name"; fail=$((fail + 1))
    fi
    [ -z "$out" ] || echo "$out" | sed 's/^/    /'
}
echo "kernel: $(uname -r) ($(uname -v))"

cgroup() {
    t=$(stat -fc %T /sys/fs/cgroup); echo "/sys/fs/cgroup is $t"; [ "$t" = cgroup2fs ] || return 1
    ! grep -q ' cgroup ' /proc/mounts || { echo "a v1 hierarchy is mounted"; return 1; }
    [ "$(cat /proc/1/comm)" = systemd ] || { echo "PID 1 is $(cat /proc/1/comm)"; return 1; }
    echo "controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
}
check "pure cgroup v2 under systemd" cgroup

zfs_pool() {
    set -e
    modprobe zfs
    echo "zfs module $(cat /sys/module/zfs/version)"
    truncate -s 512M /var/tmp/zpool.img
    zpool create -f lxcrssmoke /var/tmp/zpool.img
    zfs create lxcrssmoke/ds
    echo hello >/lxcrssmoke/ds/f
    zfs snapshot lxcrssmoke/ds@s1
    zfs clone lxcrssmoke/ds@s1 lxcrssmoke/clone
    [ "$(cat /lxcrssmoke/clone/f)" = hello ]
    zpool list -H lxcrssmoke
    zpool destroy lxcrssmoke
    rm /var/tmp/zpool.img
}
check "zfs: modprobe, zpool create on a file vdev, dataset/snapshot/clone" zfs_pool

lvm_thin() {
    set -e
    truncate -s 1G /var/tmp/lvm.img
    dev=$(losetup -f --show /var/tmp/lvm.img)
    pvcreate -q "$dev"
    vgcreate -q lxcrssmoke "$dev"
    lvcreate -q --type thin-pool -L 512M -n pool lxcrssmoke
    lvcreate -q -V 2G --thinpool lxcrssmoke/pool -n thin1
    mkfs.ext4 -q /dev/lxcrssmoke/thin1
    mkdir -p /mnt/thin1 && mount /dev/lxcrssmoke/thin1 /mnt/thin1 && echo hi >/mnt/thin1/f && umount /mnt/thin1
    lvcreate -q -s -n snap1 lxcrssmoke/thin1
    lvs -o lv_name,lv_attr,lv_size,pool_lv,origin lxcrssmoke
    vgremove -q -f lxcrssmoke
    pvremove -q "$dev"
    losetup -d "$dev"
    rm /var/tmp/lvm.img
}
check "lvm: thin pool + thin LV + thin snapshot on a loop device" lvm_thin

links() {
    set -e
    ip link add lxs0 type dummy
    ip link add lxs1 type dummy     # macvlan and ipvlan cannot share a lower device
    ip link add link lxs0 name lxs0ipv type ipvlan mode l2
    ip link add link lxs0 name lxs0.42 type vlan id 42
    ip link add link lxs1 name lxs1mv type macvlan mode bridge
    ip link add lxsveth0 type veth peer name lxsveth1
    ip link add lxsbr0 type bridge
    ip -d link show lxs0ipv | grep -q ipvlan
    ip -d link show lxs0.42 | grep -q 'vlan protocol 802.1Q id 42'
    ip -br link | grep lxs
    for l in lxs0ipv lxs0.42 lxs1mv lxsveth0 lxsbr0 lxs0 lxs1; do ip link del "$l"; done
}
check "net: ipvlan, vlan (8021q), macvlan, veth, bridge links" links

btrfs_fs() {
    set -e
    truncate -s 256M /var/tmp/btrfs.img
    mkfs.btrfs -q /var/tmp/btrfs.img >/dev/null
    mkdir -p /mnt/btrfs && mount -o loop /var/tmp/btrfs.img /mnt/btrfs
    btrfs subvolume create /mnt/btrfs/sv && btrfs subvolume snapshot /mnt/btrfs/sv /mnt/btrfs/snap
    umount /mnt/btrfs && rm /var/tmp/btrfs.img
}
check "btrfs: subvolume + snapshot" btrfs_fs

check "overlayfs mount" sh -ec 'd=$(mktemp -d); mkdir $d/l $d/u $d/w $d/m; mount -t overlay o -o lowerdir=$d/l,upperdir=$d/u,workdir=$d/w $d/m; umount $d/m'
check "user namespaces (unshare -U -r)" unshare -U -r sh -c '[ "$(id -u)" = 0 ]'
check "uidmap tools" sh -c 'command -v newuidmap && command -v newgidmap'
check "nftables" nft list ruleset
check "scratch disk is /dev/vdb" sh -c '[ "$(readlink -f /dev/disk/by-id/virtio-lxcrs-scratch)" = /dev/vdb ]' 
hostpath=$(tr ' ' '\n' </proc/cmdline | sed -n 's/^lxcrs.hostpath=//p')
check "9p share at /share and at the host's path ($hostpath)" sh -c 'mountpoint -q /share && [ -f "$0/smoke-guest.sh" ]' "$hostpath"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
GUEST
chmod 755 "$share/smoke-guest.sh"
"$here/run.sh" "$share" smoke-guest.sh
