//! Copy and removal of a tree that a hostile process changes while we work on it (a
//! running container's rootfs): symlinks to host directories, a directory swapped for a
//! symlink to `/etc` in a tight loop, a mount point inside the tree. Nothing outside the
//! tree may be read into the copy, removed, or crossed into.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::{Sandbox, Tmpfs};
use lxcrs_storage::copy::{copy_tree, CopyOptions, Progress};
use lxcrs_storage::remove::remove_tree_onedev;

fn opts() -> CopyOptions {
    CopyOptions {
        progress: Progress::Never,
        threads: 2,
        reflink: false,
    }
}

/// Files named like host secrets inside the tree, and a marker for host content.
const MARKER: &[u8] = b"HOST-SECRET-MARKER";

/// A fake "host" directory outside the tree holding a secret, and a tree with a
/// directory `d` full of files and symlinks to the host directory.
fn setup(base: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let host = base.join("host");
    std::fs::create_dir_all(&host).unwrap();
    for i in 0..50 {
        std::fs::write(host.join(format!("f{i}")), MARKER).unwrap();
    }
    std::fs::write(host.join("shadow"), MARKER).unwrap();
    let tree = base.join("tree");
    for i in 0..20 {
        let d = tree.join(format!("d{i}"));
        std::fs::create_dir_all(&d).unwrap();
        for j in 0..50 {
            std::fs::write(d.join(format!("f{j}")), b"container data").unwrap();
        }
    }
    std::os::unix::fs::symlink(&host, tree.join("etc-link")).unwrap();
    std::os::unix::fs::symlink("/etc", tree.join("real-etc")).unwrap();
    (host, tree)
}

/// Swaps each `tree/dN` for a symlink to `host` and back as fast as it can until
/// stopped: `rename(dN, dN.real); symlink(host, dN); unlink(dN); rename(dN.real, dN)`.
fn swapper(tree: &Path, host: &Path, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    let (tree, host) = (tree.to_path_buf(), host.to_path_buf());
    std::thread::spawn(move || {
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            for i in 0..20 {
                let d = tree.join(format!("d{i}"));
                let real = tree.join(format!("d{i}.real"));
                if std::fs::rename(&d, &real).is_err() {
                    continue;
                }
                let _ = std::os::unix::fs::symlink(&host, &d);
                std::thread::yield_now();
                let _ = std::fs::remove_file(&d);
                let _ = std::fs::rename(&real, &d);
                n += 1;
            }
        }
        n
    })
}

/// Every regular file below `dir` whose content is the host marker.
fn host_files_in(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() && std::fs::read(e.path()).unwrap() == MARKER {
                out.push(e.path());
            }
        }
    }
    out
}

#[test]
fn copy_never_takes_host_files_through_symlinks_or_swapped_dirs() {
    let t = tempfile::tempdir().unwrap();
    let (host, tree) = setup(t.path());
    let stop = Arc::new(AtomicBool::new(false));
    let h = swapper(&tree, &host, stop.clone());
    let mut failures = 0;
    for round in 0..20 {
        let dst = t.path().join(format!("copy{round}"));
        std::fs::create_dir(&dst).unwrap();
        // A copy may fail (an older walker errors out on a swapped entry); whatever it
        // made must hold no host file, and most copies must succeed.
        if copy_tree(&tree, &dst, &opts()).is_err() {
            failures += 1;
            let leaked = host_files_in(&dst);
            assert!(
                leaked.is_empty(),
                "round {round}: host files copied: {leaked:?}"
            );
            continue;
        }
        let leaked = host_files_in(&dst);
        assert!(
            leaked.is_empty(),
            "round {round}: host files copied: {leaked:?}"
        );
        // The planted symlinks are copied as symlinks, never followed.
        assert!(dst
            .join("etc-link")
            .symlink_metadata()
            .unwrap()
            .file_type()
            .is_symlink());
        assert!(dst
            .join("real-etc")
            .symlink_metadata()
            .unwrap()
            .file_type()
            .is_symlink());
        remove_tree_onedev(&dst).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    assert!(h.join().unwrap() > 0, "the swapper never swapped");
    assert!(
        failures <= 2,
        "{failures} of 20 copies failed on a changing tree"
    );
}

#[test]
fn removal_with_swapped_dirs_never_removes_outside() {
    let t = tempfile::tempdir().unwrap();
    for round in 0..20 {
        let base = t.path().join(format!("r{round}"));
        let (host, tree) = setup(&base);
        let stop = Arc::new(AtomicBool::new(false));
        let h = swapper(&tree, &host, stop.clone());
        // The swapper keeps re-creating entries, so the removal may give up: it must
        // never touch the host directory either way.
        let _ = remove_tree_onedev(&tree);
        stop.store(true, Ordering::Relaxed);
        h.join().unwrap();
        let left = std::fs::read_dir(&host).unwrap().count();
        assert_eq!(left, 51, "round {round}: files removed outside the tree");
        remove_tree_onedev(&base).unwrap();
        assert!(!base.exists());
    }
}

#[test]
fn mount_points_inside_the_tree_are_not_crossed() {
    if !nix::unistd::Uid::effective().is_root() {
        common::skip("needs root (tmpfs mount)");
        return;
    }
    let sb = Sandbox::new();
    let tree = sb.path.join("tree");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    std::fs::write(tree.join("sub/file"), b"x").unwrap();
    let inner = Tmpfs::new(&sb, "tree/sub/mnt", 1 << 20);
    std::fs::write(inner.mnt.join("secret"), MARKER).unwrap();
    let dst = sb.path.join("dst");
    std::fs::create_dir(&dst).unwrap();
    let stats = copy_tree(&tree, &dst, &opts()).unwrap();
    assert_eq!(
        stats.mount_points,
        vec![std::path::PathBuf::from("sub/mnt")]
    );
    assert!(!dst.join("sub/mnt/secret").exists());
    let e = remove_tree_onedev(&tree).unwrap_err();
    assert!(e.to_string().contains("mount point"), "{e}");
    assert!(
        inner.mnt.join("secret").exists(),
        "removal crossed into the mount"
    );
    assert_eq!(
        std::fs::metadata(inner.mnt.join("secret")).unwrap().size(),
        MARKER.len() as u64
    );
    drop(inner);
    remove_tree_onedev(&tree).unwrap();
    remove_tree_onedev(&dst).unwrap();
    sb.assert_clean();
}
