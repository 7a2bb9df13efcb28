//! `lxc-snapshot -r SNAP` in place is transactional: when the restore runs out of space
//! half-way, the container (rootfs, config) is exactly as it was and nothing of the
//! attempt is left; once there is room, the same restore succeeds.

use std::fs;
use std::path::Path;

use lxcrs_tests::{require_root, Env};
use storage_util::SmallFs;

mod storage_util;

/// Every file below `dir` with its contents (symlinks as their targets), sorted.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            let md = fs::symlink_metadata(&p).unwrap();
            if md.is_symlink() {
                let t = fs::read_link(&p).unwrap();
                out.push((rel, t.display().to_string().into_bytes()));
            } else if md.is_dir() {
                out.push((rel + "/", Vec::new()));
                todo.push(p);
            } else if md.is_file() {
                out.push((rel, fs::read(&p).unwrap()));
            } else {
                out.push((rel, Vec::new()));
            }
        }
    }
    out.sort();
    out
}

fn blob() -> Vec<u8> {
    (0..(12u32 << 20))
        .map(|i| (i.wrapping_mul(2654435761u32) >> 11) as u8)
        .collect()
}

/// The restore of `name` (whose own files are under `data`) fails for lack of space and
/// leaves it as it was; with space again it succeeds.
fn restore_fails_then_succeeds(env: &Env, small: &SmallFs, name: &str, data: &Path) {
    let dir = env.lxcpath().join(name);
    env.ok("lxc-snapshot", &["-n", name]);
    // Changes after the snapshot, in the rootfs and the config.
    fs::create_dir_all(data.join("root")).unwrap();
    fs::write(data.join("root/mark"), "after the snapshot\n").unwrap();
    let mut cfg = fs::read_to_string(dir.join("config")).unwrap();
    cfg.push_str("# changed after the snapshot\n");
    fs::write(dir.join("config"), &cfg).unwrap();
    let before = tree(&dir);

    let filler = small.fill(4 << 20);
    let o = env.lxc("lxc-snapshot", &["-n", name, "-r", "snap0"]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success(), "the restore succeeded on a full fs");
    assert!(err.contains("the container is unchanged"), "{err}");
    assert!(err.to_lowercase().contains("no space left"), "{err}");
    fs::remove_file(&filler).unwrap();
    assert!(before == tree(&dir), "{name} changed by the failed restore");
    assert_eq!(fs::read_to_string(dir.join("config")).unwrap(), cfg);
    let l = env.ok("lxc-snapshot", &["-n", name, "-L"]);
    assert!(l.starts_with("snap0 ("), "{l}");

    // With room, the same restore works, and the container runs from it.
    env.ok("lxc-snapshot", &["-n", name, "-r", "snap0"]);
    assert!(!data.join("root/mark").exists());
    assert!(!fs::read_to_string(dir.join("config"))
        .unwrap()
        .contains("# changed after the snapshot"));
    let left: Vec<_> = tree(&dir)
        .into_iter()
        .filter(|(p, _)| p.contains(".lxcrs-restore"))
        .map(|(p, _)| p)
        .collect();
    assert!(left.is_empty(), "{left:?}");
    env.ok("lxc-start", &["-n", name, "-d"]);
    let out = env.ok(
        "lxc-attach",
        &[
            "-n",
            name,
            "--",
            "sh",
            "-c",
            "test ! -e /root/mark && wc -c < /blob",
        ],
    );
    assert_eq!(out.trim(), (12u32 << 20).to_string());
    env.ok("lxc-stop", &["-n", name, "-k"]);
}

#[test]
fn restore_in_place_out_of_space_leaves_the_container_whole() {
    let env = require_root!();
    let small = SmallFs::new(&env, "96M");
    // dir: the rootfs is copied back in full.
    env.create_busybox("d");
    let rootfs = env.lxcpath().join("d/rootfs");
    fs::write(rootfs.join("blob"), blob()).unwrap();
    restore_fails_then_succeeds(&env, &small, "d", &rootfs);
    env.ok("lxc-destroy", &["-n", "d", "-s"]);

    // overlay: the delta is copied back.
    env.ok("lxc-create", &["-n", "o", "-t", "busybox", "-B", "overlay"]);
    let delta = env.lxcpath().join("o/overlay/delta");
    fs::write(delta.join("blob"), blob()).unwrap();
    restore_fails_then_succeeds(&env, &small, "o", &delta);
    env.ok("lxc-destroy", &["-n", "o", "-s"]);
    small.done(&env);
    env.finish();
}

#[test]
fn restore_refused_while_running_and_for_a_missing_snapshot() {
    let env = require_root!();
    env.create_busybox("c");
    let o = env.lxc("lxc-snapshot", &["-n", "c", "-r", "snap7"]);
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("no such snapshot snap7"), "{e}");
    env.ok("lxc-snapshot", &["-n", "c"]);
    env.ok("lxc-start", &["-n", "c", "-d"]);
    let o = env.lxc("lxc-snapshot", &["-n", "c", "-r", "snap0"]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("running"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    env.ok("lxc-stop", &["-n", "c", "-k"]);
    env.ok("lxc-destroy", &["-n", "c", "-s"]);
    env.finish();
}
