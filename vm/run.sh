#!/bin/bash
# Boots the cached test VM (vm/build-image.sh; built first if missing) under qemu and runs
# SHARE_DIR/SCRIPT inside it as root, then prints the script's output and exits with its
# exit status.
#
# Usage: vm/run.sh [--timeout SECONDS] SHARE_DIR SCRIPT
#        vm/run.sh --shell [SHARE_DIR]     interactive boot, serial console on this terminal
#                                          (log in as root, no password; Ctrl-a x quits)
#
# In the guest, SHARE_DIR is mounted (virtio 9p) at /share and also at SHARE_DIR's own path,
# so absolute host paths under it work unchanged. SCRIPT (a path inside SHARE_DIR, relative
# or absolute) runs with /share as its working directory, stdin from /dev/null, env
# LXCRS_VM=1 LXCRS_VM_SHARE=/share; it is run directly when executable, with sh otherwise.
# Its output is streamed here as it is written and kept in SHARE_DIR/.lxcrs-vm/output; the
# serial console (kernel + systemd messages) goes to SHARE_DIR/.lxcrs-vm/console.log.
#
# Exit status: the script's; 124 on timeout (qemu killed); 125 when the VM did not report a
# status (failed boot, kernel panic, share not mounted: see console.log).
#
# The cached disk is never written: qemu runs with snapshot=on (writes go to a temporary
# overlay that qemu deletes). The guest also gets a blank scratch disk (/dev/vdb,
# /dev/disk/by-id/virtio-lxcrs-scratch), a sparse temp file removed afterwards.
#
# Env: LXCRS_VM_TIMEOUT (seconds, default 900), LXCRS_VM_MEM (2G), LXCRS_VM_CPUS (2),
#      LXCRS_VM_SCRATCH (scratch disk size, default 4G; 0 = none),
#      LXCRS_VM_ACCEL (tcg; "kvm" where KVM works), LXCRS_VM_APPEND (extra kernel args),
#      LXCRS_VM_CACHE (see build-image.sh), LXCRS_VM_QUIET=1 (no streaming, output at end).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
timeout=${LXCRS_VM_TIMEOUT:-900}
shell=0
log() { echo "vm: $*" >&2; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
usage() { sed -n '5,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --timeout) timeout=${2:-}; shift; [ $# = 0 ] || shift ;;
        --timeout=*) timeout=${1#*=}; shift ;;
        --shell) shell=1; shift ;;
        -h|--help) usage ;;
        --) shift; break ;;
        -*) log "unknown option $1"; usage ;;
        *) break ;;
    esac
done
if [ "$shell" = 1 ]; then
    [ $# -le 1 ] || usage
    share=${1:-$(mktemp -d)}
else
    [ $# = 2 ] || usage
    share=$1
fi
[ -d "$share" ] || { log "share directory $share does not exist"; exit 2; }
share=$(cd "$share" && pwd -P)
case "$timeout" in ''|*[!0-9]*) log "--timeout wants whole seconds, got '$timeout'"; exit 2 ;; esac

append="console=ttyS0 root=/dev/vda rw quiet panic=1 mitigations=off audit=0 nowatchdog lxcrs.hostpath=$share"
if [ "$shell" = 0 ]; then
    script=$2
    case "$script" in /*) ;; *) script=$share/$script ;; esac
    [ -f "$script" ] || { log "script $script does not exist"; exit 2; }
    script=$(cd "$(dirname "$script")" && pwd -P)/$(basename "$script")
    rel=${script#"$share"/}
    [ "$rel" != "$script" ] || { log "script $script is not inside the share $share"; exit 2; }
    append="$append lxcrs.script=$rel"
fi
for w in "$share" "${rel:-}"; do
    case "$w" in *[[:space:]]*) log "paths with whitespace cannot go on the kernel command line: '$w'"; exit 2 ;; esac
done
append="$append ${LXCRS_VM_APPEND:-}"

img=$("$here/build-image.sh") || { log "the image could not be built (see above)"; exit 125; }
[ -f "$img/disk.raw" ] || { log "no image in '$img'"; exit 125; }

st=$share/.lxcrs-vm
rm -rf "$st"
mkdir -p "$st"
work=$(mktemp -d "${TMPDIR:-/tmp}/lxcrs-vm.XXXXXX")
qpid=
cleanup() {
    if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
        kill -TERM "$qpid" 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$qpid" 2>/dev/null || break; sleep 0.5; done
        kill -KILL "$qpid" 2>/dev/null || true
        wait "$qpid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP

accel=${LXCRS_VM_ACCEL:-tcg}
args=(
    -name lxcrs-vm -machine q35 -accel "$accel" -cpu max
    -m "${LXCRS_VM_MEM:-2G}" -smp "${LXCRS_VM_CPUS:-2}"
    -nodefaults -nographic -no-reboot
    -kernel "$img/vmlinuz" -initrd "$img/initrd.img" -append "$append"
    # The root disk is /dev/vda: fixed PCI slots make the probe order fixed.
    -drive "file=$img/disk.raw,format=raw,if=none,id=root,snapshot=on,cache=unsafe"
    -device "virtio-blk-pci,drive=root,addr=0x4"
    -device "virtio-rng-pci,addr=0x3"
)
if [ "$(id -u)" = 0 ]; then model=passthrough; else model=none; fi
args+=(-fsdev "local,path=$share,security_model=$model,id=lxcrs"
       -device "virtio-9p-pci,fsdev=lxcrs,mount_tag=lxcrs,addr=0x6")
scratch=${LXCRS_VM_SCRATCH:-4G}
if [ "$scratch" != 0 ]; then
    truncate -s "$scratch" "$work/scratch.raw"
    args+=(-drive "file=$work/scratch.raw,format=raw,if=none,id=scratch,cache=unsafe"
           -device "virtio-blk-pci,drive=scratch,serial=lxcrs-scratch,addr=0x5")
fi

if [ "$shell" = 1 ]; then
    log "interactive boot (share $share at /share); log in as root; Ctrl-a x quits"
    # The guest runs nothing by itself on a manual boot, and leaves a getty on the console.
    TMPDIR=$work qemu-system-x86_64 "${args[@]}" -serial mon:stdio
    exit $?
fi

log "booting $(sed -n 's/^kernel=//p' "$img/info" 2>/dev/null) ($accel, timeout ${timeout}s) to run $rel"
t0=$(date +%s.%N)
# TMPDIR: where qemu puts the snapshot overlay (deleted by qemu itself).
TMPDIR=$work qemu-system-x86_64 "${args[@]}" -serial "file:$st/console.log" -monitor none \
    </dev/null >"$work/qemu.out" 2>&1 &
qpid=$!

printed=0
stream() {   # prints what the script wrote since last time
    [ "${LXCRS_VM_QUIET:-0}" = 1 ] && return 0
    [ -f "$st/output" ] || return 0
    local size
    size=$(stat -c %s "$st/output")
    if [ "$size" -gt "$printed" ]; then
        tail -c +$((printed + 1)) "$st/output" | head -c $((size - printed))
        printed=$size
    fi
}
started=
deadline=$(( $(date +%s) + timeout ))
timed_out=0
while kill -0 "$qpid" 2>/dev/null; do
    if [ -z "$started" ] && [ -f "$st/started" ]; then
        started=$(date +%s.%N)
        log "script started $(secs "$t0" "$started")s after qemu launch (guest uptime $(cat "$st/started")s)"
    fi
    stream
    if [ "$(date +%s)" -ge "$deadline" ]; then
        timed_out=1
        break
    fi
    sleep 0.5
done
if [ "$timed_out" = 1 ]; then
    log "TIMEOUT: the VM ran longer than ${timeout}s; killing qemu (pid $qpid)"
    cleanup
    qpid=
    stream
    log "last console lines ($st/console.log):"
    tail -n 30 "$st/console.log" | sed 's/^/  | /' >&2
    exit 124
fi
qrc=0
wait "$qpid" || qrc=$?
qpid=
t1=$(date +%s.%N)
if [ "${LXCRS_VM_QUIET:-0}" = 1 ]; then
    [ -f "$st/output" ] && cat "$st/output"
else
    stream
fi
if [ ! -f "$st/status" ]; then
    log "the VM stopped (qemu exit $qrc) without reporting the script's status"
    [ -s "$work/qemu.out" ] && sed 's/^/  qemu: /' "$work/qemu.out" >&2
    log "last console lines ($st/console.log):"
    tail -n 40 "$st/console.log" | sed 's/^/  | /' >&2
    exit 125
fi
rc=$(cat "$st/status")
log "script exited with $rc; VM ran $(secs "$t0" "$t1")s"
exit "$rc"
