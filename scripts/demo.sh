#!/bin/sh
# The main job: create a container from the busybox template, boot it, show it running.
# Uses the installed tools (make install) and the default lxcpath.
set -eu
name=${LXCRS_DEMO_NAME:-lxcrs-demo}
export PATH=/usr/local/bin:$PATH

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "$*"; "$@"; }

if lxc-info -n "$name" >/dev/null 2>&1; then
    lxc-stop -k -n "$name" >/dev/null 2>&1 || true
    lxc-destroy -n "$name" >/dev/null
fi
run lxc-create -n "$name" -t busybox
run lxc-start -n "$name"
run lxc-wait -n "$name" -s RUNNING -t 10
run lxc-ls -f
run lxc-info -n "$name"
run lxc-attach -n "$name" -- /bin/sh -c 'echo "hello from $(hostname): pid $$ in the container"; ps'
run lxc-stop -n "$name"
run lxc-ls -f
run lxc-destroy -n "$name"
