//! Environment overrides do not steer root (audit L3): as root, `LXCRS_MONITOR`,
//! `LXCRS_SHARE_DIR` and `TMPDIR` are honoured only for root-owned paths nobody else can
//! write, and the monitor is the one next to the running binary.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use lxcrs_tests::runtime_support::{self, busybox, serial, text};

/// A directory anybody may write (what another user could have prepared).
fn world_writable_dir(base: &Path, name: &str) -> std::path::PathBuf {
    let d = base.join(name);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
    d
}

fn script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777)).unwrap();
}

#[test]
fn untrusted_overrides_are_ignored_as_root() {
    let _g = serial();
    let Some((env, before)) = runtime_support::env() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let evil = world_writable_dir(tmp.path(), "evil");
    let marker = tmp.path().join("pwned");

    // 1. LXCRS_MONITOR pointing at a world-writable script: the real monitor runs.
    let fake_monitor = evil.join("lxcrs-monitor");
    script(
        &fake_monitor,
        &format!("touch {}; exit 1", marker.display()),
    );
    let n = env.unique_name("envmon");
    busybox(&env, &n);
    let out = env
        .cmd("lxc-start")
        .args(["-n", &n])
        .env("LXCRS_MONITOR", &fake_monitor)
        .output()
        .unwrap();
    assert!(
        !marker.exists(),
        "root ran $LXCRS_MONITOR from a world-writable dir"
    );
    assert!(out.status.success(), "lxc-start: {}", text(&out).1);
    env.ok("lxc-stop", &["-n", &n, "-k"]);

    // 2. LXCRS_SHARE_DIR in a world-writable dir: its templates are not run.
    std::fs::create_dir_all(evil.join("templates")).unwrap();
    script(
        &evil.join("templates/lxc-probe"),
        &format!("touch {}; exit 1", marker.display()),
    );
    let out = env
        .cmd("lxc-create")
        .args(["-n", &env.unique_name("envshare"), "-t", "probe"])
        .env("LXCRS_SHARE_DIR", &evil)
        .output()
        .unwrap();
    assert!(
        !marker.exists(),
        "root ran a template from an untrusted LXCRS_SHARE_DIR"
    );
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out).1.contains("ignoring LXCRS_SHARE_DIR"),
        "says why: {}",
        text(&out).1
    );

    // 3. A root-owned share dir nobody else can write is honoured, and TMPDIR pointing
    //    to a world-writable dir does not reach what root runs.
    let good = tmp.path().join("share");
    std::fs::create_dir_all(good.join("templates")).unwrap();
    let seen = tmp.path().join("seen-tmpdir");
    script(
        &good.join("templates/lxc-probe"),
        &format!("echo \"TMPDIR=$TMPDIR\" > {}; exit 1", seen.display()),
    );
    std::fs::set_permissions(
        good.join("templates/lxc-probe"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let _ = env
        .cmd("lxc-create")
        .args(["-n", &env.unique_name("envtmp"), "-t", "probe"])
        .env("LXCRS_SHARE_DIR", &good)
        .env("TMPDIR", &evil)
        .output()
        .unwrap();
    let seen = std::fs::read_to_string(&seen).unwrap_or_default();
    assert!(
        seen.starts_with("TMPDIR="),
        "a trusted LXCRS_SHARE_DIR's template did not run"
    );
    assert!(
        !seen.contains(&evil.display().to_string()),
        "root passed an untrusted TMPDIR on: {seen}"
    );
    runtime_support::finish(env, before);
}
