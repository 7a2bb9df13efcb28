//! The generic copy against `rsync -aHAXS` over a fixture rootfs with every kind of file,
//! and its failure modes. Root only (device nodes, owners, trusted.* xattrs, mounts).

mod common;

use std::ffi::OsStr;
use std::path::Path;

use common::{assert_same_tree, make_fixture, LoopFs, Sandbox, Tmpfs};
use lxcrs_storage::copy::{copy_tree, CopyOptions, Progress};

fn opts(threads: usize) -> CopyOptions {
    CopyOptions {
        progress: Progress::Never,
        threads,
        reflink: true,
    }
}

fn rsync(src: &Path, dst: &Path) {
    let s = format!("{}/", src.display());
    let d = format!("{}/", dst.display());
    common::run(
        "rsync",
        &[
            OsStr::new("-aHAXS"),
            OsStr::new("--numeric-ids"),
            OsStr::new(&s),
            OsStr::new(&d),
        ],
    );
}

#[test]
fn copy_keeps_everything_rsync_keeps() {
    require_root!();
    require_tool!("rsync");
    let sb = Sandbox::new();
    let src = sb.path.join("src");
    std::fs::create_dir(&src).unwrap();
    make_fixture(&src);

    let by_rsync = sb.path.join("rsync");
    std::fs::create_dir(&by_rsync).unwrap();
    rsync(&src, &by_rsync);
    // The reference itself must see the fixture as identical, or the walker is wrong.
    assert_same_tree(&src, &by_rsync, &[]);

    for threads in [1, 2, 4] {
        let ours = sb.path.join(format!("ours{threads}"));
        std::fs::create_dir(&ours).unwrap();
        let stats = copy_tree(&src, &ours, &opts(threads)).unwrap();
        assert_same_tree(&src, &ours, &[]);
        assert_same_tree(&by_rsync, &ours, &[]);
        // ping6, etc/a2, a3, bin/sh.hardlink.
        assert_eq!(stats.hard_links, 4);
        assert!(stats.mount_points.is_empty());
    }
    sb.assert_clean();
}

#[test]
fn out_of_space_names_the_path_and_removes_the_partial_copy() {
    require_root!();
    let sb = Sandbox::new();
    let src = sb.path.join("src");
    std::fs::create_dir(&src).unwrap();
    make_fixture(&src);
    for i in 0..4 {
        std::fs::write(
            src.join(format!("usr/lib/blob{i}")),
            vec![i as u8 + 1; 8 << 20],
        )
        .unwrap();
    }
    let small = Tmpfs::new(&sb, "small", 16 << 20);
    std::fs::write(small.mnt.join("was-here"), b"keep me").unwrap();

    let err = copy_tree(&src, &small.mnt, &opts(2)).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("no space left on the destination filesystem"),
        "{msg}"
    );
    assert!(
        msg.contains(&small.mnt.display().to_string()),
        "the error names no path below the destination: {msg}"
    );
    assert!(matches!(err, lxcrs_storage::StorageError::NoSpace { .. }));
    let left: Vec<_> = std::fs::read_dir(&small.mnt)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        vec![std::ffi::OsString::from("was-here")],
        "the partial copy was not removed"
    );
    drop(small);
    sb.assert_clean();
}

#[test]
fn reflinks_on_btrfs_and_stays_faithful() {
    require_root!();
    require_tool!("mkfs.btrfs");
    let sb = Sandbox::new();
    let mut fs = LoopFs::new(&sb, "btrfs", "btrfs", 512 << 20);
    let src = fs.mnt.join("src");
    std::fs::create_dir(&src).unwrap();
    make_fixture(&src);
    let dst = fs.mnt.join("dst");
    std::fs::create_dir(&dst).unwrap();
    let stats = copy_tree(&src, &dst, &opts(0)).unwrap();
    assert!(
        stats.reflinked > 0,
        "no file was reflinked on btrfs: {stats:?}"
    );
    assert_same_tree(&src, &dst, &[]);
    fs.unmount();
    sb.assert_clean();
}

#[test]
fn stops_at_mount_points_inside_the_source() {
    require_root!();
    let sb = Sandbox::new();
    let src = sb.path.join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("file"), b"x").unwrap();
    let inner = Tmpfs::new(&sb, "src/proc", 1 << 20);
    std::fs::write(inner.mnt.join("not-copied"), b"y").unwrap();
    let dst = sb.path.join("dst");
    std::fs::create_dir(&dst).unwrap();
    let stats = copy_tree(&src, &dst, &opts(1)).unwrap();
    assert_eq!(stats.mount_points, vec![std::path::PathBuf::from("proc")]);
    assert!(dst.join("proc").is_dir() && !dst.join("proc/not-copied").exists());
    assert!(dst.join("file").is_file());
    drop(inner);
    sb.assert_clean();
}

#[test]
fn source_must_be_a_directory() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("f"), b"").unwrap();
    let e = copy_tree(&t.path().join("f"), t.path(), &opts(1))
        .unwrap_err()
        .to_string();
    assert!(e.contains("is not a directory"), "{e}");
    let e = copy_tree(t.path(), &t.path().join("missing"), &opts(1))
        .unwrap_err()
        .to_string();
    assert!(e.contains("failed to read copy destination"), "{e}");
}
