#!/bin/sh
# Copies the project's built binaries and share tree into a VM share directory, so that a
# script run by vm/run.sh can use them:
#   DIR/bin/lxcrs, DIR/bin/lxcrs-monitor (if built), DIR/bin/lxc-* -> lxcrs
#   DIR/templates/  (a copy of the checkout's templates/: templates + config includes)
# Usage: vm/stage-lxcrs.sh DIR [PROFILE]    PROFILE: debug (default) or release
# The guest is Debian 12 like the build host, so host-built binaries run there.
set -eu
[ $# -ge 1 ] || { echo "usage: $0 DIR [debug|release]" >&2; exit 2; }
dir=$1
profile=${2:-debug}
top=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$top/target}/$profile
[ -x "$target/lxcrs" ] || { echo "$target/lxcrs is missing: build it first (cargo build --bins; --release for release)" >&2; exit 1; }

mkdir -p "$dir/bin"
cp "$target/lxcrs" "$dir/bin/"
[ ! -x "$target/lxcrs-monitor" ] || cp "$target/lxcrs-monitor" "$dir/bin/"
# Every tool name the test suite knows, plus the Makefile's.
tools=$( { sed -n '/pub const TOOLS/,/];/p' "$top/tests/src/lib.rs" | grep -o '"lxc-[a-z-]*"' | tr -d '"'
           sed -n 's/^TOOLS *:= *//p' "$top/Makefile" | tr ' ' '\n' | sed '/^$/d; s/^/lxc-/'; } | sort -u)
for t in $tools; do ln -sfn lxcrs "$dir/bin/$t"; done
rm -rf "$dir/templates"
cp -r "$top/templates" "$dir/templates"
# The config includes name their own directory (the Makefile does this at install).
grep -rl '@LXCSHARE@' "$dir/templates" | while read -r f; do
    sed -i "s|@LXCSHARE@|$dir/templates|g" "$f"
done
