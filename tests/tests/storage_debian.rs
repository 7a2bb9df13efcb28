//! Debian (systemd) containers on each backend: create from the `debian` template, boot
//! to `systemctl is-system-running` = `running`, write inside, stop cleanly, clone (a
//! snapshot clone where the backend has one, else the clear refusal and a full copy),
//! boot the clone and read the file back, lxc-snapshot / restore in place, destroy.
//!
//! The template's base rootfs is cached in `/var/cache/lxc/lxcrs-debian/` (built by the
//! first Debian test on a machine, minutes, needs the Debian mirror); from a warm cache
//! each test takes seconds.

use std::fs;
use std::process::Output;
use std::time::{Duration, Instant};

use lxcrs_tests::{require_root, Env};
use storage_util::{loops_under, mounts_under, Btrfs};

mod storage_util;

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn config_of(env: &Env, name: &str) -> String {
    fs::read_to_string(env.lxcpath().join(name).join("config")).unwrap()
}

fn run(env: &Env, name: &str, script: &str) -> String {
    env.ok("lxc-attach", &["-n", name, "--", "sh", "-c", script])
        .trim()
        .to_string()
}

/// Starts `name` and waits until systemd says `running` (`degraded` fails the test
/// with the failed units).
fn boot(env: &Env, name: &str) {
    let t0 = Instant::now();
    env.ok("lxc-start", &["-n", name, "-d"]);
    env.ok("lxc-wait", &["-n", name, "-s", "RUNNING", "-t", "30"]);
    let state = loop {
        let o = env.lxc(
            "lxc-attach",
            &["-n", name, "--", "systemctl", "is-system-running", "--wait"],
        );
        let s = String::from_utf8_lossy(&o.stdout).trim().to_string();
        if s == "running" || s == "degraded" || t0.elapsed() > Duration::from_secs(120) {
            break s;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    if state != "running" {
        let failed = env.lxc(
            "lxc-attach",
            &["-n", name, "--", "systemctl", "--failed", "--no-pager"],
        );
        panic!(
            "{name}: system state {state:?}, expected running\n{}",
            text(&failed)
        );
    }
    eprintln!("{name}: booted to running in {:?}", t0.elapsed());
}

/// A clean shutdown (systemd halts by itself, no SIGKILL).
fn stop(env: &Env, name: &str) {
    env.ok("lxc-stop", &["-n", name, "-t", "120", "--nokill"]);
}

/// The cycle of one backend; `snapshot_clone` says whether `lxc-copy -s` is supported.
fn debian_cycle(env: &Env, bdev: &str, snapshot_clone: bool) {
    let t0 = Instant::now();
    let c = env.unique_name(&format!("deb-{bdev}-"));
    let mut args = vec!["-n", c.as_str(), "-t", "debian", "-B", bdev];
    if bdev == "loop" {
        args.extend(["--fssize", "1G"]);
    }
    env.ok("lxc-create", &args);
    assert!(
        config_of(env, &c).contains(&format!("lxc.rootfs.path = {bdev}:")),
        "{}",
        config_of(env, &c)
    );
    eprintln!("{bdev}: create {:?}", t0.elapsed());
    boot(env, &c);
    assert_eq!(run(env, &c, "hostname"), c);
    run(env, &c, "echo persisted > /root/mark && sync");
    stop(env, &c);

    // Clone: a snapshot where the backend has one; else the refusal, and a full copy.
    let clone = format!("{c}-clone");
    let o = env.lxc("lxc-copy", &["-n", &c, "-N", &clone, "-s"]);
    if snapshot_clone {
        assert!(o.status.success(), "{}", text(&o));
        let want = if bdev == "dir" { "overlay" } else { bdev };
        let cfg = config_of(env, &clone);
        assert!(cfg.contains(&format!("lxc.rootfs.path = {want}:")), "{cfg}");
    } else {
        assert!(
            !o.status.success(),
            "lxc-copy -s of a {bdev} container worked"
        );
        let e = text(&o);
        assert!(
            e.contains(&format!("the {bdev} backing store cannot take snapshots")),
            "{e}"
        );
        assert!(e.contains("hint: make a full copy instead"), "{e}");
        assert!(!env.lxcpath().join(&clone).exists());
        env.ok("lxc-copy", &["-n", &c, "-N", &clone]);
    }
    boot(env, &clone);
    assert_eq!(run(env, &clone, "hostname"), clone);
    assert_eq!(run(env, &clone, "cat /etc/hostname"), clone);
    assert_eq!(run(env, &clone, "cat /root/mark"), "persisted");
    run(env, &clone, "echo clone > /root/mark");
    stop(env, &clone);

    // lxc-snapshot, a change, restore in place: the change is gone, the clone's too.
    env.ok("lxc-snapshot", &["-n", &c]);
    boot(env, &c);
    assert_eq!(run(env, &c, "cat /root/mark"), "persisted");
    run(env, &c, "echo changed > /root/mark && sync");
    stop(env, &c);
    env.ok("lxc-snapshot", &["-n", &c, "-r", "snap0"]);
    boot(env, &c);
    assert_eq!(run(env, &c, "cat /root/mark"), "persisted");
    stop(env, &c);

    // Destroy: refused while snapshots (and overlay clones) depend on it; -s takes them.
    let o = env.lxc("lxc-destroy", &["-n", &c]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("has snapshots") || text(&o).contains("has clones"),
        "{}",
        text(&o)
    );
    env.ok("lxc-destroy", &["-n", &clone]);
    env.ok("lxc-destroy", &["-n", &c, "-s"]);
    assert!(env.containers().is_empty(), "{:?}", env.containers());
    assert!(loops_under(env.lxcpath()).is_empty());
    eprintln!("{bdev}: whole cycle {:?}", t0.elapsed());
}

#[test]
fn debian_on_dir() {
    let env = require_root!();
    debian_cycle(&env, "dir", true);
    env.finish();
}

#[test]
fn debian_on_overlay() {
    let env = require_root!();
    debian_cycle(&env, "overlay", true);
    assert!(mounts_under(env.lxcpath()).is_empty());
    env.finish();
}

/// A loop rootfs is attached by the child (/dev/loop-control, /dev/loopN) while the
/// payload cgroup exists: the device rules of common.conf must come after the mounts.
#[test]
fn debian_on_loop() {
    let env = require_root!();
    debian_cycle(&env, "loop", false);
    assert!(mounts_under(env.lxcpath()).is_empty());
    env.finish();
}

#[test]
fn debian_on_btrfs() {
    let env = require_root!();
    let Some(b) = Btrfs::with_size(&env, 3 << 30) else {
        return;
    };
    debian_cycle(&env, "btrfs", true);
    b.done(&env);
    env.finish();
}
