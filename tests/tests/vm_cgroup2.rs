//! A pure cgroup v2 host, for real, in the test VM (vm/: Debian's stock kernel, systemd as
//! PID 1, only the unified hierarchy): a busybox container's init, its monitor and an
//! attached process each sit in their own cgroup (init and the monitor are cloned straight
//! into theirs, `CLONE_INTO_CGROUP`), `lxc.cgroup2.*` limits apply, freeze and thaw work,
//! a stop followed at once by a start works, and nothing of ours is left in
//! /sys/fs/cgroup afterwards; and a Debian container boots systemd to `running` there,
//! with its controllers delegated, takes an attached process and stops cleanly. Slow (a
//! VM boot under emulation), so only with `LXCRS_VM_TESTS=1`.

use std::path::PathBuf;
use std::process::Command;

const SCRIPT: &str = r#"#!/bin/sh
set -eu
export PATH=/share/bin:$PATH LXCRS_SHARE_DIR=/share/templates
P=/var/lib/lxcrs-vmcg
mkdir -p $P
[ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] || { echo "not a cgroup2 host"; exit 1; }
printf 'lxc.net.0.type = empty\nlxc.cgroup2.memory.max = 64M\nlxc.cgroup2.pids.max = 50\n' > /tmp/c.conf
lxc-create -P $P -n c1 -t busybox -f /tmp/c.conf >/dev/null
lxc-start -P $P -n c1
init=$(lxc-info -P $P -n c1 -p -H)
mon=$(awk '/^PPid:/ {print $2}' /proc/$init/status)
echo "INIT $(cat /proc/$init/cgroup)"
echo "MONITOR $(cat /proc/$mon/cgroup)"
cg=/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/$init/cgroup)
echo "MEMORY.MAX $(cat $cg/memory.max)"
echo "PIDS.MAX $(cat $cg/pids.max)"
echo "CONTROLLERS $(cat $cg/cgroup.controllers)"
lxc-attach -P $P -n c1 -- sleep 31.4159 &
for _ in $(seq 50); do
    a=$(pgrep -x sleep | head -n 1 || true)
    [ -n "$a" ] && break
    sleep 0.1
done
echo "ATTACHED $(cat /proc/$a/cgroup)"
kill $a || true
wait || true
lxc-freeze -P $P -n c1
echo "FROZEN $(lxc-info -P $P -n c1 -s -H) $(cat $cg/cgroup.freeze)"
lxc-unfreeze -P $P -n c1
echo "THAWED $(lxc-info -P $P -n c1 -s -H)"
lxc-stop -P $P -n c1
lxc-start -P $P -n c1
echo "RESTARTED $(lxc-info -P $P -n c1 -s -H)"
lxc-stop -P $P -n c1 -k
lxc-destroy -P $P -n c1 >/dev/null
sleep 1
left=$(find /sys/fs/cgroup -type d -name 'lxcrs.*' ! -name lxcrs.pivot | tr '\n' ' ')
echo "LEFT [$left]"
"#;

const DEBIAN: &str = r#"#!/bin/sh
set -eu
export PATH=/share/bin:$PATH LXCRS_SHARE_DIR=/share/templates LXC_CACHE_PATH=/share/cache
P=/var/lib/lxcrs-vmdeb
mkdir -p $P
echo 'lxc.net.0.type = empty' > /tmp/d.conf
lxc-create -P $P -n deb -t debian -f /tmp/d.conf >/dev/null
lxc-start -P $P -n deb
state=""
for _ in $(seq 300); do
    state=$(lxc-attach -P $P -n deb -- systemctl is-system-running 2>/dev/null || true)
    case "$state" in running|degraded) break ;; esac
    sleep 1
done
echo "STATE $state"
lxc-attach -P $P -n deb -- systemctl --failed --no-legend --plain | sed 's/^/FAILED /'
init=$(lxc-info -P $P -n deb -p -H)
echo "INIT $(cat /proc/$init/cgroup)"
cg=$(dirname /sys/fs/cgroup$(sed -n 's/^0:://p' /proc/$init/cgroup))
echo "SUBTREE $(cat $cg/cgroup.subtree_control)"
echo "ATTACH $(lxc-attach -P $P -n deb -- cat /proc/self/cgroup)"
lxc-stop -P $P -n deb -t 120
echo "STOPPED $(lxc-info -P $P -n deb -s -H)"
lxc-destroy -P $P -n deb >/dev/null
sleep 1
left=$(find /sys/fs/cgroup -type d -name 'lxcrs.*' ! -name lxcrs.pivot | tr '\n' ' ')
echo "LEFT [$left]"
"#;

/// Boots the VM on a share with the staged binaries, `script` and what `prepare` adds;
/// returns the script's stdout after asserting it succeeded.
fn run_in_vm(script: &str, prepare: impl FnOnce(&std::path::Path)) -> String {
    let st = Command::new(vm_dir().join("build-image.sh"))
        .status()
        .unwrap();
    assert!(st.success(), "vm/build-image.sh: {st}");
    let share = tempfile::tempdir().unwrap();
    let st = Command::new(vm_dir().join("stage-lxcrs.sh"))
        .arg(share.path())
        .status()
        .unwrap();
    assert!(st.success(), "vm/stage-lxcrs.sh: {st}");
    prepare(share.path());
    let path = share.path().join("script.sh");
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new(vm_dir().join("run.sh"))
        .arg(share.path())
        .arg("script.sh")
        .env("LXCRS_VM_QUIET", "1")
        .env("LXCRS_VM_SCRATCH", "0")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the VM script failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    stdout
}

fn vm_enabled() -> bool {
    if std::env::var("LXCRS_VM_TESTS").as_deref() == Ok("1") {
        return true;
    }
    eprintln!("SKIP: VM tests run with LXCRS_VM_TESTS=1 (this host is cgroup v1 hybrid)");
    false
}

fn vm_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vm")
}

fn line<'a>(out: &'a str, tag: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(tag).map(str::trim))
        .unwrap_or_else(|| panic!("no {tag} line in:\n{out}"))
}

#[test]
#[ignore = "pure cgroup v2 needs the VM: LXCRS_VM_TESTS=1 cargo test -p lxcrs-tests --test vm_cgroup2 -- --ignored"]
fn busybox_on_a_pure_cgroup2_host() {
    if !vm_enabled() {
        return;
    }
    let stdout = run_in_vm(SCRIPT, |_| {});
    // Root's containers go next to PID 1's cgroup (systemd's init.scope dropped): the root.
    assert_eq!(line(&stdout, "INIT"), "0::/lxcrs.payload.c1", "{stdout}");
    assert_eq!(line(&stdout, "MONITOR"), "0::/lxcrs.monitor.c1", "{stdout}");
    assert_eq!(
        line(&stdout, "ATTACHED"),
        "0::/lxcrs.payload.c1",
        "{stdout}"
    );
    assert_eq!(line(&stdout, "MEMORY.MAX"), (64u64 << 20).to_string());
    assert_eq!(line(&stdout, "PIDS.MAX"), "50");
    let controllers = line(&stdout, "CONTROLLERS");
    for c in ["memory", "pids"] {
        assert!(controllers.split(' ').any(|x| x == c), "{controllers}");
    }
    assert_eq!(line(&stdout, "FROZEN"), "FROZEN 1");
    assert_eq!(line(&stdout, "THAWED"), "RUNNING");
    assert_eq!(line(&stdout, "RESTARTED"), "RUNNING");
    assert_eq!(line(&stdout, "LEFT"), "[]", "{stdout}");
}

#[test]
#[ignore = "pure cgroup v2 needs the VM: LXCRS_VM_TESTS=1 cargo test -p lxcrs-tests --test vm_cgroup2 -- --ignored"]
fn debian_systemd_on_a_pure_cgroup2_host() {
    if !vm_enabled() {
        return;
    }
    let cache = PathBuf::from("/var/cache/lxc/lxcrs-debian/rootfs-bookworm-amd64");
    if !cache.is_dir() {
        // The guest creates from the host's warm cache (it has no network for
        // debootstrap): one create here builds it.
        let env = lxcrs_tests::Env::new().expect("root");
        env.ok("lxc-create", &["-n", "warm", "-t", "debian"]);
        env.finish();
    }
    let stdout = run_in_vm(DEBIAN, |share| {
        let dst = share.join("cache/lxcrs-debian");
        std::fs::create_dir_all(&dst).unwrap();
        let st = Command::new("cp")
            .arg("-a")
            .arg(&cache)
            .arg(&dst)
            .status()
            .unwrap();
        assert!(st.success(), "copy the Debian cache into the share");
    });
    assert_eq!(line(&stdout, "STATE"), "running", "{stdout}");
    assert!(!stdout.contains("FAILED "), "{stdout}");
    assert_eq!(
        line(&stdout, "INIT"),
        "0::/lxcrs.payload.deb/init.scope",
        "{stdout}"
    );
    let subtree = line(&stdout, "SUBTREE");
    assert!(subtree.split(' ').any(|c| c == "memory"), "{stdout}");
    // systemd hands controllers down from the payload, which may then hold no process:
    // an attached process goes to the payload's `.lxc` leaf (LXC's place for it).
    assert_eq!(line(&stdout, "ATTACH"), "0::/.lxc", "{stdout}");
    assert_eq!(line(&stdout, "STOPPED"), "STOPPED");
    assert_eq!(line(&stdout, "LEFT"), "[]", "{stdout}");
}
