//! Storage backends end to end: create/start/write/stop/clone/snapshot/destroy on
//! overlay, loop and btrfs; snapshot dependencies; ephemeral containers; fault cases.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use lxcrs_tests::{require_root, Env};
use storage_util::{loops_under, mounts_under, Btrfs};

mod storage_util;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn config_of(env: &Env, name: &str) -> String {
    fs::read_to_string(env.lxcpath().join(name).join("config")).unwrap()
}

/// Start, write through lxc-attach, stop, start, read back, stop.
fn start_write_restart(env: &Env, name: &str) {
    env.ok("lxc-start", &["-n", name, "-d"]);
    env.ok(
        "lxc-attach",
        &["-n", name, "--", "sh", "-c", "echo persisted > /root/mark"],
    );
    env.ok("lxc-stop", &["-n", name, "-k"]);
    env.ok("lxc-start", &["-n", name, "-d"]);
    let out = env.ok("lxc-attach", &["-n", name, "--", "cat", "/root/mark"]);
    assert_eq!(out.trim(), "persisted");
    env.ok("lxc-stop", &["-n", name, "-k"]);
}

/// The lifecycle every backend goes through.
fn backend_cycle(env: &Env, bdev: &str, can_snapshot: bool) {
    let c = env.unique_name(&format!("{bdev}-"));
    let mut args = vec!["-n", c.as_str(), "-t", "busybox", "-B", bdev];
    if bdev == "loop" {
        args.extend(["--fssize", "256M", "--fstype", "ext4"]);
    }
    env.ok("lxc-create", &args);
    let cfg = config_of(env, &c);
    assert!(cfg.contains(&format!("lxc.rootfs.path = {bdev}:")), "{cfg}");
    start_write_restart(env, &c);

    // Full copy, same backend.
    let full = format!("{c}-full");
    env.ok("lxc-copy", &["-n", &c, "-N", &full]);
    assert!(config_of(env, &full).contains(&format!("lxc.uts.name = {full}")));
    env.ok("lxc-start", &["-n", &full, "-d"]);
    let out = env.ok("lxc-attach", &["-n", &full, "--", "cat", "/root/mark"]);
    assert_eq!(out.trim(), "persisted");
    env.ok("lxc-stop", &["-n", &full, "-k"]);

    // Snapshot clone.
    let snap = format!("{c}-snap");
    let o = env.lxc("lxc-copy", &["-n", &c, "-N", &snap, "-s"]);
    if can_snapshot {
        assert!(o.status.success(), "{}", stderr(&o));
        env.ok("lxc-start", &["-n", &snap, "-d"]);
        env.ok(
            "lxc-attach",
            &["-n", &snap, "--", "sh", "-c", "echo clone > /root/mark"],
        );
        env.ok("lxc-stop", &["-n", &snap, "-k"]);
        // The origin is unchanged.
        env.ok("lxc-start", &["-n", &c, "-d"]);
        let out = env.ok("lxc-attach", &["-n", &c, "--", "cat", "/root/mark"]);
        assert_eq!(out.trim(), "persisted");
        env.ok("lxc-stop", &["-n", &c, "-k"]);
    } else {
        assert!(!o.status.success());
        assert!(
            stderr(&o).contains("cannot take snapshots"),
            "{}",
            stderr(&o)
        );
        assert!(!env.lxcpath().join(&snap).exists());
    }

    // lxc-snapshot, then restore in place.
    env.ok("lxc-snapshot", &["-n", &c]);
    let l = env.ok("lxc-snapshot", &["-n", &c, "-L"]);
    assert!(l.starts_with("snap0 ("), "{l}");
    env.ok("lxc-start", &["-n", &c, "-d"]);
    env.ok(
        "lxc-attach",
        &["-n", &c, "--", "sh", "-c", "echo changed > /root/mark"],
    );
    env.ok("lxc-stop", &["-n", &c, "-k"]);
    env.ok("lxc-snapshot", &["-n", &c, "-r", "snap0"]);
    env.ok("lxc-start", &["-n", &c, "-d"]);
    let out = env.ok("lxc-attach", &["-n", &c, "--", "cat", "/root/mark"]);
    assert_eq!(out.trim(), "persisted");
    env.ok("lxc-stop", &["-n", &c, "-k"]);

    // Destroy: snapshots and clones first.
    if can_snapshot && bdev == "overlay" {
        let o = env.lxc("lxc-destroy", &["-n", &c]);
        assert!(!o.status.success());
    }
    for n in [&snap, &full] {
        if env.lxcpath().join(n).exists() {
            env.ok("lxc-destroy", &["-n", n]);
        }
    }
    // Only the snapshot is left (an overlay one depends on the container like a clone,
    // and is still called what it is).
    let o = env.lxc("lxc-destroy", &["-n", &c]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains(&format!("{c} has snapshots")),
        "{}",
        stderr(&o)
    );
    env.ok("lxc-destroy", &["-n", &c, "-s"]);
    assert!(env.containers().is_empty(), "{:?}", env.containers());
    assert!(loops_under(env.lxcpath()).is_empty());
}

#[test]
fn overlay_backend() {
    let env = require_root!();
    backend_cycle(&env, "overlay", true);
    assert!(mounts_under(env.lxcpath()).is_empty());
    env.finish();
}

#[test]
fn loop_backend() {
    let env = require_root!();
    backend_cycle(&env, "loop", false);
    assert!(mounts_under(env.lxcpath()).is_empty());
    env.finish();
}

#[test]
fn btrfs_backend() {
    let env = require_root!();
    let Some(b) = Btrfs::new(&env) else { return };
    backend_cycle(&env, "btrfs", true);
    // best picks btrfs here.
    let c = env.unique_name("best-");
    env.ok("lxc-create", &["-n", &c, "-t", "busybox", "-B", "best"]);
    assert!(config_of(&env, &c).contains("lxc.rootfs.path = btrfs:"));
    env.ok("lxc-destroy", &["-n", &c]);
    b.done(&env);
    env.finish();
}

#[test]
fn btrfs_refused_off_btrfs() {
    let env = require_root!();
    let o = env.lxc("lxc-create", &["-n", "b", "-t", "busybox", "-B", "btrfs"]);
    assert!(!o.status.success());
    assert!(env.containers().is_empty());
    env.finish();
}

#[test]
fn failed_loop_create_leaves_nothing() {
    let env = require_root!();
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("fail");
    fs::write(&t, "#!/bin/sh\necho half > \"$(echo \"$@\" | sed 's/.*--rootfs=\\([^ ]*\\).*/\\1/')/half\"\nexit 3\n").unwrap();
    fs::set_permissions(&t, fs::Permissions::from_mode(0o755)).unwrap();
    for b in ["loop", "overlay"] {
        let o = env.lxc(
            "lxc-create",
            &["-n", "f", "-t", t.to_str().unwrap(), "-B", b],
        );
        assert!(!o.status.success());
        assert!(env.containers().is_empty(), "{b}: {:?}", env.containers());
    }
    let o = env.lxc(
        "lxc-create",
        &["-n", "f", "-t", "busybox", "-B", "loop", "--fstype", "nofs"],
    );
    assert!(!o.status.success());
    assert!(env.containers().is_empty());
    assert!(loops_under(env.lxcpath()).is_empty());
    env.finish();
}

#[test]
fn clone_rewrites_config() {
    let env = require_root!();
    env.create_busybox("src");
    let d = env.lxcpath().join("src");
    let mut cfg = config_of(&env, "src");
    cfg.push_str(&format!(
        "lxc.net.0.type = empty\nlxc.net.0.hwaddr = 00:16:3e:11:22:33\nlxc.hook.clone = {}/hook.sh\nlxc.mount.entry = {}/data srv none bind,optional,create=dir 0 0\n",
        d.display(),
        d.display()
    ));
    fs::write(d.join("config"), cfg).unwrap();
    fs::write(
        d.join("hook.sh"),
        "#!/bin/sh\necho \"$1 $2 $3 $LXC_SRC_NAME $4\" > \"$LXC_ROOTFS_MOUNT/cloned\"\n",
    )
    .unwrap();
    fs::set_permissions(d.join("hook.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(d.join("rootfs/etc/hostname"), "src\n").unwrap();
    env.ok("lxc-copy", &["-n", "src", "-N", "dst", "--", "extra"]);
    let nd = env.lxcpath().join("dst");
    let c = config_of(&env, "dst");
    assert!(c.contains("lxc.uts.name = dst"), "{c}");
    assert!(!c.contains("00:16:3e:11:22:33"), "{c}");
    assert!(
        c.contains(&format!("lxc.hook.clone = {}/hook.sh", nd.display())),
        "{c}"
    );
    assert!(nd.join("hook.sh").exists());
    assert!(
        c.contains(&format!("lxc.mount.entry = {}/data", nd.display())),
        "{c}"
    );
    assert!(
        c.contains(&format!("lxc.rootfs.path = dir:{}/rootfs", nd.display())),
        "{c}"
    );
    assert_eq!(
        fs::read_to_string(nd.join("rootfs/etc/hostname")).unwrap(),
        "dst\n"
    );
    assert_eq!(
        fs::read_to_string(nd.join("rootfs/cloned")).unwrap().trim(),
        "dst lxc clone src extra"
    );
    // -K -M keep name and MAC.
    env.ok("lxc-copy", &["-n", "src", "-N", "keep", "-K", "-M"]);
    let k = config_of(&env, "keep");
    assert!(
        k.contains("00:16:3e:11:22:33") && !k.contains("lxc.uts.name = keep"),
        "{k}"
    );
    assert_eq!(
        fs::read_to_string(env.lxcpath().join("keep/rootfs/etc/hostname")).unwrap(),
        "src\n"
    );
    // Rename.
    env.ok("lxc-copy", &["-n", "keep", "-N", "renamed", "-R"]);
    assert!(!env.lxcpath().join("keep").exists());
    let r = config_of(&env, "renamed");
    assert!(
        r.contains(&format!("dir:{}/renamed/rootfs", env.lxcpath().display())),
        "{r}"
    );
    assert!(r.contains("lxc.uts.name = renamed"));
    // Existing target.
    let o = env.lxc("lxc-copy", &["-n", "src", "-N", "dst"]);
    assert!(!o.status.success());
    // A running source: refused with a hint, then cloned with -a (--allowrunning).
    env.ok("lxc-start", &["-n", "src", "-d"]);
    let o = env.lxc("lxc-copy", &["-n", "src", "-N", "live"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("src is running"), "{}", stderr(&o));
    assert!(stderr(&o).contains("-a (--allowrunning)"), "{}", stderr(&o));
    assert!(!env.lxcpath().join("live").exists());
    env.ok("lxc-copy", &["-n", "src", "-N", "live", "-a"]);
    assert!(env.lxcpath().join("live/rootfs/bin/busybox").exists());
    env.ok("lxc-stop", &["-n", "src", "-k"]);
    env.finish();
}

#[test]
fn twenty_overlay_clones_hold_their_origin() {
    let env = require_root!();
    env.create_busybox("origin");
    for i in 0..20 {
        env.ok("lxc-copy", &["-n", "origin", "-N", &format!("c{i}"), "-s"]);
    }
    let deps = fs::read_to_string(env.lxcpath().join("origin/lxc_snapshots")).unwrap();
    assert_eq!(deps.lines().count(), 40);
    let rd = fs::read_to_string(env.lxcpath().join("c7/lxc_rdepends")).unwrap();
    assert_eq!(rd, format!("{}\norigin\n", env.lxcpath().display()));
    assert!(config_of(&env, "c3").contains(&format!(
        "lxc.rootfs.path = overlay:{}/origin/rootfs:{}/c3/overlay/delta",
        env.lxcpath().display(),
        env.lxcpath().display()
    )));
    let o = env.lxc("lxc-destroy", &["-n", "origin"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("has clones depending on it"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("hint:"));
    // Destroying a clone updates the list; the origin is still held by the others.
    env.ok("lxc-destroy", &["-n", "c0"]);
    let deps = fs::read_to_string(env.lxcpath().join("origin/lxc_snapshots")).unwrap();
    assert_eq!(deps.lines().count(), 38);
    assert!(!env.lxc("lxc-destroy", &["-n", "origin"]).status.success());
    env.ok("lxc-destroy", &["-n", "origin", "-s"]);
    assert!(env.containers().is_empty(), "{:?}", env.containers());
    env.finish();
}

#[test]
fn ephemeral_disappears_after_stop() {
    let env = require_root!();
    env.create_busybox("base");
    let out = env.ok(
        "lxc-copy",
        &["-n", "base", "-e", "--", "sh", "-c", "echo in-ephemeral"],
    );
    assert!(out.contains("as clone of base"), "{out}");
    assert!(out.contains("in-ephemeral"), "{out}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while env.containers().len() > 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(env.containers(), vec!["base".to_string()]);
    assert!(!env.lxcpath().join("base/lxc_snapshots").exists());
    // Named, kept (-D): survives its stop.
    env.ok("lxc-copy", &["-n", "base", "-N", "kept", "-e", "-D"]);
    env.ok("lxc-stop", &["-n", "kept", "-k"]);
    assert!(env.lxcpath().join("kept/config").exists());
    env.ok("lxc-destroy", &["-n", "kept"]);
    env.finish();
}

#[test]
fn out_of_space_in_loop_copy_leaves_nothing() {
    let env = require_root!();
    env.create_busybox("big");
    let f = env.lxcpath().join("big/rootfs/blob");
    let data: Vec<u8> = (0..(24u32 << 20))
        .map(|i| (i.wrapping_mul(2654435761u32) >> 13) as u8)
        .collect();
    fs::write(&f, data).unwrap();
    let o = env.lxc(
        "lxc-copy",
        &["-n", "big", "-N", "small", "-B", "loop", "-L", "8M"],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no space left"), "{}", stderr(&o));
    assert!(!env.lxcpath().join("small").exists());
    assert!(loops_under(env.lxcpath()).is_empty());
    assert!(mounts_under(env.lxcpath()).is_empty());
    env.finish();
}

#[test]
fn kill_during_clone_leaves_no_half_container() {
    let env = require_root!();
    env.create_busybox("many");
    let r = env.lxcpath().join("many/rootfs/many");
    for i in 0..200 {
        let d = r.join(format!("d{i}"));
        fs::create_dir_all(&d).unwrap();
        for j in 0..100 {
            fs::write(d.join(format!("f{j}")), vec![b'x'; 4096]).unwrap();
        }
    }
    let mut interrupted = 0;
    for (bdev, delay) in [("dir", 0), ("dir", 40), ("loop", 0), ("loop", 40)] {
        let mut child = env
            .cmd("lxc-copy")
            .args(["-n", "many", "-N", "half", "-B", bdev])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let marker = env.lxcpath().join("half/partial");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !marker.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill();
        let _ = child.wait();
        if marker.exists() {
            interrupted += 1;
        }
        // The next command undoes it; what is left is nothing or a whole container.
        env.ok("lxc-ls", &[]);
        let half = env.lxcpath().join("half");
        if half.exists() {
            assert!(
                half.join("config").exists() && !marker.exists(),
                "{bdev}: half container left"
            );
            env.ok("lxc-destroy", &["-n", "half"]);
        }
        assert!(loops_under(env.lxcpath()).is_empty());
        assert!(mounts_under(env.lxcpath()).is_empty());
    }
    assert!(interrupted > 0, "no copy was caught in the middle");
    env.finish();
}
