//! `lxc-copy -e` with `-t` (the delta on a tmpfs) and `-m` (bind and overlay mounts):
//! what the container sees, what the host keeps, and that a refused or failed ephemeral
//! copy leaves nothing.

use std::fs;
use std::process::Output;
use std::time::{Duration, Instant};

use lxcrs_tests::{require_root, Env};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts `lxc-copy args` fails with a message containing `want` and leaves only `keep`.
fn refused(env: &Env, args: &[&str], want: &str, keep: &[&str]) {
    let o = env.lxc("lxc-copy", args);
    assert!(!o.status.success(), "lxc-copy {args:?} succeeded");
    let e = stderr(&o);
    assert!(e.contains(want), "lxc-copy {args:?}: {e}");
    assert!(e.contains("hint:"), "lxc-copy {args:?} gives no hint: {e}");
    let keep: Vec<String> = keep.iter().map(|s| s.to_string()).collect();
    assert_eq!(env.containers(), keep, "after lxc-copy {args:?}");
}

/// Waits until only `names` are left in the lxcpath (an ephemeral container is destroyed
/// by its monitor after the stop returns).
fn wait_for_only(env: &Env, names: &[&str]) {
    let want: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while env.containers() != want && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(env.containers(), want);
}

/// The size of a tmpfs mounted without `size=`: half of the RAM, in KiB.
fn default_tmpfs_kib() -> u64 {
    let mi = fs::read_to_string("/proc/meminfo").unwrap();
    let total: u64 = mi
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    total / 4 / 2 * 4
}

fn attach(env: &Env, name: &str, script: &str) -> String {
    env.ok("lxc-attach", &["-n", name, "--", "sh", "-c", script])
        .trim()
        .to_string()
}

#[test]
fn tmpfs_ephemeral_delta_is_on_tmpfs_and_goes_away() {
    let env = require_root!();
    env.create_busybox("base");
    fs::write(env.lxcpath().join("base/rootfs/etc/hostname"), "base\n").unwrap();
    let out = env.ok("lxc-copy", &["-n", "base", "-N", "eph", "-e", "-t"]);
    assert!(out.contains("Created eph as clone of base"), "{out}");
    assert!(out.contains("placed on tmpfs"), "{out}");
    let cfg = fs::read_to_string(env.lxcpath().join("eph/config")).unwrap();
    assert!(cfg.contains("lxc.ephemeral = 1"), "{cfg}");
    assert!(cfg.contains("lxc.rootfs.path = overlay:"), "{cfg}");

    // The clone's new hostname came along onto the tmpfs.
    assert_eq!(attach(&env, "eph", "cat /etc/hostname"), "eph");
    attach(&env, "eph", "echo gone > /root/tmpmark");
    assert_eq!(attach(&env, "eph", "cat /root/tmpmark"), "gone");
    // Not in the delta on disk: the upper is elsewhere...
    let delta = env.lxcpath().join("eph/overlay/delta");
    assert!(delta.is_dir());
    assert!(!delta.join("root/tmpmark").exists());
    // ...on a tmpfs: overlayfs reports its upper filesystem's size, here half the RAM.
    let df = attach(&env, "eph", "df -k / | tail -n 1");
    let kib: u64 = df.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert_eq!(kib, default_tmpfs_kib(), "df /: {df}");
    // The tmpfs is the container's alone: the host's mount table never has it.
    let host_mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!host_mounts.contains("lxcrs-ephemeral"), "{host_mounts}");

    env.ok("lxc-stop", &["-n", "eph", "-k"]);
    wait_for_only(&env, &["base"]);
    assert!(!env.lxcpath().join("base/lxc_snapshots").exists());
    assert!(!env.lxcpath().join("base/rootfs/root/tmpmark").exists());

    // With a command: run, stop, gone.
    let out = env.ok(
        "lxc-copy",
        &[
            "-n",
            "base",
            "-e",
            "-t",
            "--",
            "sh",
            "-c",
            "echo ran > /x; cat /x",
        ],
    );
    assert!(out.contains("ran"), "{out}");
    wait_for_only(&env, &["base"]);
    env.finish();
}

#[test]
fn tmpfs_refusals_are_clear_and_leave_nothing() {
    let env = require_root!();
    env.create_busybox("base");
    refused(
        &env,
        &["-n", "base", "-N", "x", "-t"],
        "-t (--tmpfs) only applies to ephemeral containers",
        &["base"],
    );
    refused(
        &env,
        &["-n", "base", "-N", "x", "-e", "-t", "-D"],
        "-t (--tmpfs) cannot be combined with -D (--keepdata)",
        &["base"],
    );
    refused(
        &env,
        &["-n", "base", "-N", "x", "-e", "-t", "-B", "dir"],
        "-t (--tmpfs) needs an overlay clone, not -B dir",
        &["base"],
    );
    env.ok(
        "lxc-create",
        &[
            "-n", "lp", "-t", "busybox", "-B", "loop", "--fssize", "128M",
        ],
    );
    refused(
        &env,
        &["-n", "lp", "-N", "x", "-e", "-t"],
        "a loop container cannot be the lower directory of an overlay",
        &["base", "lp"],
    );
    env.finish();
}

#[test]
fn mounts_bind_and_overlay() {
    let env = require_root!();
    env.create_busybox("base");
    let host = tempfile::tempdir().unwrap();
    let (bind, ro, ovl) = (
        host.path().join("bind"),
        host.path().join("ro"),
        host.path().join("ovl"),
    );
    for d in [&bind, &ro, &ovl] {
        fs::create_dir(d).unwrap();
    }
    fs::write(bind.join("file"), "hello\n").unwrap();
    fs::write(ro.join("file"), "readonly\n").unwrap();
    fs::write(ovl.join("orig"), "lower\n").unwrap();
    let spec1 = format!(
        "bind={}:/mnt/b,overlay={}:/mnt/o",
        bind.display(),
        ovl.display()
    );
    let spec2 = format!("bind={}:ro", ro.display());
    env.ok(
        "lxc-copy",
        &["-n", "base", "-N", "m", "-e", "-m", &spec1, "-m", &spec2],
    );
    // bind, read-write: both ways.
    assert_eq!(attach(&env, "m", "cat /mnt/b/file"), "hello");
    attach(&env, "m", "echo from-inside > /mnt/b/new");
    assert_eq!(
        fs::read_to_string(bind.join("new")).unwrap(),
        "from-inside\n"
    );
    // bind=SRC:ro: at the same path inside, read-only.
    let ro_in = ro.display().to_string();
    assert_eq!(attach(&env, "m", &format!("cat {ro_in}/file")), "readonly");
    let o = env.lxc(
        "lxc-attach",
        &["-n", "m", "--", "sh", "-c", &format!("echo x > {ro_in}/w")],
    );
    assert!(!o.status.success(), "a write to the ro bind succeeded");
    assert!(!ro.join("w").exists());
    // overlay: writable inside, SRC unchanged.
    assert_eq!(attach(&env, "m", "cat /mnt/o/orig"), "lower");
    attach(
        &env,
        "m",
        "echo upper > /mnt/o/orig && echo n > /mnt/o/new && rm -f /mnt/o/gone",
    );
    assert_eq!(attach(&env, "m", "cat /mnt/o/orig /mnt/o/new"), "upper\nn");
    assert_eq!(fs::read_to_string(ovl.join("orig")).unwrap(), "lower\n");
    assert!(!ovl.join("new").exists());
    let upper = env.lxcpath().join("m/overlay/mount1/delta");
    assert_eq!(fs::read_to_string(upper.join("new")).unwrap(), "n\n");

    env.ok("lxc-stop", &["-n", "m", "-k"]);
    wait_for_only(&env, &["base"]);
    // Destroying the container kept every host directory whole.
    assert_eq!(fs::read_to_string(bind.join("file")).unwrap(), "hello\n");
    assert_eq!(fs::read_to_string(ro.join("file")).unwrap(), "readonly\n");
    assert_eq!(fs::read_to_string(ovl.join("orig")).unwrap(), "lower\n");
    assert_eq!(fs::read_dir(&ovl).unwrap().count(), 1);
    env.finish();
}

#[test]
fn bad_mount_specs_and_failed_start_leave_nothing() {
    let env = require_root!();
    env.create_busybox("base");
    let host = tempfile::tempdir().unwrap();
    let h = host.path().display().to_string();
    refused(
        &env,
        &["-n", "base", "-N", "x", "-e", "-m", "foo=/tmp"],
        "invalid mount specification -m 'foo=/tmp': unknown mount type 'foo'",
        &["base"],
    );
    refused(
        &env,
        &["-n", "base", "-e", "-m", "bind=/nonexistent-lxcrs-src"],
        "the source /nonexistent-lxcrs-src does not exist",
        &["base"],
    );
    let spec = format!("bind={h}:/mnt:rx");
    refused(
        &env,
        &["-n", "base", "-e", "-m", &spec],
        &format!("-m '{spec}': unknown option 'rx'"),
        &["base"],
    );
    refused(
        &env,
        &["-n", "base", "-N", "x", "-m", &format!("bind={h}")],
        "-m (--mount) only applies to ephemeral containers",
        &["base"],
    );
    // A clone that is made but cannot start (its mount target crosses a symlink) is
    // removed again, and its origin no longer lists it.
    std::os::unix::fs::symlink("/tmp", env.lxcpath().join("base/rootfs/lnk")).unwrap();
    let o = env.lxc(
        "lxc-copy",
        &[
            "-n",
            "base",
            "-N",
            "x",
            "-e",
            "-m",
            &format!("bind={h}:/lnk/x"),
        ],
    );
    assert!(!o.status.success());
    wait_for_only(&env, &["base"]);
    assert!(!env.lxcpath().join("base/lxc_snapshots").exists());
    env.finish();
}
