#!/bin/sh
# mmdebstrap customize hook for vm/build-image.sh: $1 = the image's root directory (its
# /proc, /sys, /dev are mounted by mmdebstrap), $2 = this directory (vm/guest).
# Builds the ZFS module for the image's own kernel (not the host's), installs the test
# runner unit, and trims boot time.
set -eu
root=$1
guest=$2
inroot() { chroot "$root" "$@"; }

kvers=$(ls "$root/lib/modules")
[ "$(echo "$kvers" | wc -w)" = 1 ] || { echo "customize: expected one kernel, found: $kvers" >&2; exit 1; }
kver=$kvers
echo "customize: image kernel $kver"

# ZFS via DKMS, for the image's kernel. zfs-dkms's postinst may already have built it (it
# builds for every kernel whose headers are present); build it here if it did not.
if ! inroot modinfo -k "$kver" zfs >/dev/null 2>&1; then
    echo "customize: building zfs for $kver with dkms (slow: a few minutes)"
    inroot dkms autoinstall -k "$kver"
fi
inroot dkms status
inroot modinfo -k "$kver" -F version zfs >/dev/null || { echo "customize: zfs.ko missing for $kver" >&2; exit 1; }
for m in dm-thin-pool ipvlan 8021q 9p 9pnet_virtio btrfs overlay veth macvlan bridge loop; do
    inroot modinfo -k "$kver" -F filename "$m" >/dev/null || { echo "customize: module $m missing for $kver" >&2; exit 1; }
done
inroot depmod -a "$kver"

# A small initramfs of our own for direct kernel boot (see initrd-init), next to Debian's.
ird=$root/tmp/lxcrs-initrd
rm -rf "$ird"
mkdir -p "$ird/bin"
cp "$root/bin/busybox" "$ird/bin/busybox"
install -m 0755 "$guest/initrd-init" "$ird/init"
for m in virtio_pci virtio_blk crc32c_generic ext4; do
    inroot modprobe -S "$kver" --show-depends "$m" | sed -n 's/^insmod \([^ ]*\).*/\1/p'
done | awk '!seen[$0]++' >"$ird/modules"
while read -r m; do
    mkdir -p "$ird$(dirname "$m")"
    cp "$root$m" "$ird$m"
done <"$ird/modules"
echo "customize: initramfs modules: $(tr '\n' ' ' <"$ird/modules")"
# Uncompressed: decompressing costs more than reading under emulation.
inroot sh -c 'cd /tmp/lxcrs-initrd && find . | cpio -o -H newc -R 0:0 --quiet' >"$root/boot/lxcrs-initrd.img"
rm -rf "$ird"

# The test runner.
install -m 0755 "$guest/lxcrs-vm-run" "$root/usr/local/sbin/lxcrs-vm-run"
install -m 0644 "$guest/lxcrs-vm-run.service" "$root/etc/systemd/system/lxcrs-vm-run.service"
inroot systemctl enable lxcrs-vm-run.service
printf '9pnet_virtio\n9p\n' >"$root/etc/modules-load.d/lxcrs-vm.conf"

# System identity and mounts (every boot is a fresh -snapshot of this image).
echo lxcrs-vm >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tlxcrs-vm\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
echo 'LABEL=lxcrs-vm / ext4 rw,errors=remount-ro 0 0' >"$root/etc/fstab"
od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$root/etc/machine-id"; echo >>"$root/etc/machine-id"
inroot passwd -d root >/dev/null   # console login for manual debugging (vm/run.sh --shell)
# The serial console gets a getty only on manual boots (no lxcrs.script=).
mkdir -p "$root/etc/systemd/system/serial-getty@ttyS0.service.d"
printf '[Unit]\nConditionKernelCommandLine=!lxcrs.script\n' \
    >"$root/etc/systemd/system/serial-getty@ttyS0.service.d/lxcrs-vm.conf"

# Boot time under software emulation: nothing periodic, no gettys on the serial console
# during script runs (see above), no ZFS pool scans (tests make their own pools), no
# waiting for udev to settle (so ZFS is not loaded at boot: tests run modprobe zfs), no
# drivers for emulated hardware that nothing uses, a journal in memory only.
# Generators for things the VM does not have (a generator is masked by a /dev/null link).
mkdir -p "$root/etc/systemd/system-generators"
for g in systemd-gpt-auto-generator systemd-cryptsetup-generator systemd-integritysetup-generator \
         systemd-veritysetup-generator systemd-hibernate-resume-generator zfs-mount-generator \
         systemd-sysv-generator systemd-rc-local-generator systemd-system-update-generator; do
    ln -sf /dev/null "$root/etc/systemd/system-generators/$g"
done
printf 'blacklist %s\n' kvm kvm_amd kvm_intel iTCO_wdt iTCO_vendor_support pcspkr i2c_i801 \
    lpc_ich ahci bochs drm >"$root/etc/modprobe.d/lxcrs-vm-blacklist.conf"
mkdir -p "$root/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\n' >"$root/etc/systemd/journald.conf.d/lxcrs-vm.conf"
for u in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service \
         fstrim.timer getty@tty1.service \
         zfs-import-scan.service zfs-import-cache.service zfs-mount.service zfs-share.service \
         zfs-zed.service zfs-volume-wait.service systemd-timesyncd.service \
         systemd-udev-settle.service zfs-load-module.service dpkg-db-backup.timer \
         blk-availability.service lvm2-monitor.service systemd-pstore.service \
         modprobe@drm.service modprobe@efi_pstore.service; do
    inroot systemctl mask "$u" >/dev/null 2>&1 || true
done
inroot systemctl set-default multi-user.target
inroot apt-get clean
rm -rf "$root/var/lib/apt/lists/"* "$root/var/cache/apt/"*.bin
