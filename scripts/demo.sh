#!/bin/sh
# The main job: on the default setup (lxcpath /var/lib/lxc, /etc/lxc/default.conf with
# a veth on lxcbr0), bring up the default NAT network, create a Debian container with
# systemd from the debian template, boot it and show it running; then stop and destroy
# it. Uses the installed tools (make install).
set -eu
name=${LXCRS_DEMO_NAME:-lxcrs-demo}
export PATH=/usr/local/bin:$PATH

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "$*"; "$@"; }

if ! ip link show lxcbr0 >/dev/null 2>&1; then
    run lxcrs-net up
fi
if lxc-info -n "$name" >/dev/null 2>&1; then
    lxc-stop -k -n "$name" >/dev/null 2>&1 || true
    lxc-destroy -n "$name" >/dev/null
fi
run lxc-create -n "$name" -t debian
run lxc-start -n "$name"
run lxc-wait -n "$name" -s RUNNING -t 30
say "lxc-attach -n $name -- systemctl is-system-running --wait"
# systemd's bus socket appears a moment after init starts: ask until it answers.
i=0
state=
while [ $i -lt 120 ]; do
    state=$(lxc-attach -n "$name" -- systemctl is-system-running --wait 2>/dev/null || true)
    case "$state" in running|degraded) break ;; esac
    sleep 1
    i=$((i + 1))
done
echo "$state"
if [ "$state" != running ]; then
    lxc-attach -n "$name" -- systemctl --failed --no-pager
    exit 1
fi
# The DHCP lease from lxcbr0's dnsmasq takes a moment after boot.
i=0
while [ $i -lt 30 ] && ! lxc-info -n "$name" -i | grep -Eq 'IP: +[0-9]+\.'; do sleep 1; i=$((i + 1)); done
run lxc-ls -f
run lxc-info -n "$name"
run lxc-attach -n "$name" -- sh -c 'hostnamectl 2>/dev/null | head -3 || hostname; ip -4 -o addr show eth0'
run lxc-stop -n "$name"
run lxc-ls -f
run lxc-destroy -n "$name"
