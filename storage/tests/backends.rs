//! Each backend for real: create, mount, write, umount, clone, snapshot (where it can),
//! destroy, the errors where it cannot, and no mount or loop device left behind.

mod common;

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{assert_same_tree, make_fixture, LoopFs, Sandbox};
use lxcrs_storage::{self as storage, BackingStore, CreateSpec, Kind};

fn spec(lxcpath: &Path, name: &str) -> CreateSpec {
    CreateSpec::new(lxcpath.join(name), name)
}

fn read(store: &dyn BackingStore, rel: &str) -> Option<Vec<u8>> {
    storage::with_mounted(store, |root| std::fs::read(root.join(rel)).ok()).unwrap()
}

fn write(store: &dyn BackingStore, rel: &str, data: &[u8]) {
    storage::with_mounted(store, |root| std::fs::write(root.join(rel), data))
        .unwrap()
        .unwrap();
}

/// Mounts on `<sandbox>/mnt` in our own namespace, writes through it, unmounts.
fn mount_write_umount(sb: &Sandbox, store: &dyn BackingStore, rel: &str, data: &[u8]) {
    let mnt = sb.path.join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    store.mount(&mnt).unwrap();
    assert_eq!(common::mounts_under(&mnt), vec![mnt.clone()]);
    std::fs::write(mnt.join(rel), data).unwrap();
    store.umount(&mnt).unwrap();
    assert!(common::mounts_under(&mnt).is_empty());
}

#[test]
fn dir_backend() {
    require_root!();
    let sb = Sandbox::new();
    let lxc = sb.path.join("lxc");
    let c1 = storage::create(Kind::Dir, &spec(&lxc, "c1")).unwrap();
    let tree = lxc.join("c1/rootfs");
    assert_eq!(c1.rootfs_path(), format!("dir:{}", tree.display()));
    assert_eq!(c1.template_target(), Some(tree.as_path()));
    make_fixture(&tree);
    mount_write_umount(&sb, c1.as_ref(), "etc/hostname", b"c1\n");
    assert_eq!(std::fs::read(tree.join("etc/hostname")).unwrap(), b"c1\n");
    assert_eq!(
        storage::open(tree.to_str().unwrap()).unwrap().kind(),
        Kind::Dir
    );

    // A copy.
    let c2 = c1.clone_to(None, &spec(&lxc, "c2"), false).unwrap();
    assert_eq!(c2.kind(), Kind::Dir);
    assert!(!c2.needs_rdep());
    assert_same_tree(&tree, &lxc.join("c2/rootfs"), &[]);

    // A snapshot of a dir container is an overlay over it.
    let c3 = c1.clone_to(None, &spec(&lxc, "c3"), true).unwrap();
    assert_eq!(c3.kind(), Kind::Overlay);
    assert_eq!(
        c3.rootfs_path(),
        format!(
            "overlay:{}:{}",
            tree.display(),
            lxc.join("c3/overlay/delta").display()
        )
    );
    assert!(c3.needs_rdep());
    assert_eq!(read(c3.as_ref(), "etc/hostname").unwrap(), b"c1\n");
    write(c3.as_ref(), "etc/hostname", b"c3\n");
    assert_eq!(read(c3.as_ref(), "etc/hostname").unwrap(), b"c3\n");
    assert_eq!(
        std::fs::read(tree.join("etc/hostname")).unwrap(),
        b"c1\n",
        "the snapshot wrote into its origin"
    );

    // The overlay's root looks like the origin's root.
    let root_mode =
        storage::with_mounted(c3.as_ref(), |r| std::fs::metadata(r).unwrap().mode()).unwrap();
    assert_eq!(root_mode, std::fs::metadata(&tree).unwrap().mode());

    c3.destroy().unwrap();
    assert!(!lxc.join("c3/overlay").exists());
    assert!(
        tree.join("etc/passwd").exists(),
        "destroying the snapshot touched its lower"
    );
    c2.destroy().unwrap();
    c1.destroy().unwrap();
    assert!(!tree.exists() && !lxc.join("c2/rootfs").exists());
    sb.assert_clean();
}

#[test]
fn overlay_backend() {
    require_root!();
    let sb = Sandbox::new();
    let lxc = sb.path.join("lxc");
    let c1 = storage::create(Kind::Overlay, &spec(&lxc, "c1")).unwrap();
    let lower = lxc.join("c1/rootfs");
    let delta = lxc.join("c1/overlay/delta");
    assert_eq!(
        c1.rootfs_path(),
        format!("overlay:{}:{}", lower.display(), delta.display())
    );
    assert_eq!(c1.template_target(), Some(lower.as_path()));
    assert!(!c1.needs_rdep());
    make_fixture(&lower);

    // Writes and deletions land in the delta; the lower stays as it was.
    mount_write_umount(&sb, c1.as_ref(), "etc/hostname", b"c1\n");
    storage::with_mounted(c1.as_ref(), |r| std::fs::remove_file(r.join("etc/shadow")))
        .unwrap()
        .unwrap();
    assert_eq!(std::fs::read(delta.join("etc/hostname")).unwrap(), b"c1\n");
    assert!(!lower.join("etc/hostname").exists() && lower.join("etc/shadow").exists());
    let whiteout = std::fs::symlink_metadata(delta.join("etc/shadow")).unwrap();
    assert!(whiteout.file_type().is_char_device() && whiteout.rdev() == 0);
    assert_eq!(
        storage::open(&c1.rootfs_path()).unwrap().kind(),
        Kind::Overlay
    );

    // Snapshot: same lower, a copy of the delta (whiteouts included).
    let c2 = c1.clone_to(None, &spec(&lxc, "c2"), true).unwrap();
    assert_eq!(
        c2.rootfs_path(),
        format!(
            "overlay:{}:{}",
            lower.display(),
            lxc.join("c2/overlay/delta").display()
        )
    );
    assert!(c2.needs_rdep());
    assert_eq!(read(c2.as_ref(), "etc/hostname").unwrap(), b"c1\n");
    assert_eq!(read(c2.as_ref(), "etc/shadow"), None);
    write(c2.as_ref(), "etc/hostname", b"c2\n");
    assert_eq!(read(c1.as_ref(), "etc/hostname").unwrap(), b"c1\n");

    // A full copy of an overlay is an independent dir of what the container sees.
    let c4 = c1.clone_to(None, &spec(&lxc, "c4"), false).unwrap();
    assert_eq!(c4.kind(), Kind::Dir);
    let t4 = c4.direct_tree().unwrap();
    assert_eq!(std::fs::read(t4.join("etc/hostname")).unwrap(), b"c1\n");
    assert!(!t4.join("etc/shadow").exists() && t4.join("etc/passwd").exists());

    // Not possible: an overlay that is not a snapshot.
    let e = c1
        .clone_to(Some(Kind::Overlay), &spec(&lxc, "c5"), false)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("overlay backing store cannot hold a full copy"),
        "{e}"
    );
    assert!(!lxc.join("c5").exists());

    // Several lowers: the leftmost is on top.
    let (l1, l2) = (sb.path.join("l1"), sb.path.join("l2"));
    for (l, v) in [(&l1, "top"), (&l2, "bottom")] {
        std::fs::create_dir_all(l).unwrap();
        std::fs::write(l.join("f"), v).unwrap();
        std::fs::write(l.join(v), v).unwrap();
    }
    let multi = storage::open(&format!(
        "overlay:{}:{}:{}",
        l1.display(),
        l2.display(),
        lxc.join("m/overlay/delta").display()
    ))
    .unwrap();
    std::fs::create_dir_all(lxc.join("m/overlay/delta")).unwrap();
    assert_eq!(read(multi.as_ref(), "f").unwrap(), b"top");
    assert!(read(multi.as_ref(), "bottom").is_some());
    multi.destroy().unwrap();

    c2.destroy().unwrap();
    assert!(!lxc.join("c2/overlay").exists());
    c4.destroy().unwrap();
    c1.destroy().unwrap();
    assert!(!lxc.join("c1/overlay").exists());
    assert!(
        lower.join("etc/passwd").exists(),
        "destroy removed the lower"
    );
    sb.assert_clean();
}

fn wait_detached(image: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !storage::loopdev::devices_backed_by(image).is_empty() {
        assert!(
            Instant::now() < deadline,
            "loop device for {} still attached",
            image.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn loop_backend() {
    require_root!();
    require_tool!("mkfs.ext4");
    let sb = Sandbox::new();
    let lxc = sb.path.join("lxc");
    let mut s = spec(&lxc, "c1");
    s.fssize = Some(64 << 20);
    let c1 = storage::create(Kind::Loop, &s).unwrap();
    let image = lxc.join("c1/rootdev");
    assert_eq!(c1.rootfs_path(), format!("loop:{}", image.display()));
    let md = std::fs::metadata(&image).unwrap();
    assert_eq!(md.len(), 64 << 20);
    assert!(md.blocks() * 512 < md.len() / 2, "the image is not sparse");
    assert_eq!(c1.fs_type().as_deref(), Some("ext4"));
    assert!(
        c1.capabilities().block_based
            && c1.direct_tree().is_none()
            && c1.template_target().is_none()
    );
    assert_eq!(
        storage::open(image.to_str().unwrap()).unwrap().kind(),
        Kind::Loop
    );

    storage::with_mounted(c1.as_ref(), make_fixture).unwrap();
    mount_write_umount(&sb, c1.as_ref(), "etc/hostname", b"c1\n");
    wait_detached(&image);
    assert_eq!(read(c1.as_ref(), "etc/hostname").unwrap(), b"c1\n");

    // No snapshots, said clearly.
    let e = c1
        .clone_to(None, &spec(&lxc, "s"), true)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("the loop backing store cannot take snapshots"),
        "{e}"
    );
    assert!(c1.snapshot(&spec(&lxc, "s")).is_err());

    // A copy: a new image of the same size and filesystem.
    let c2 = c1.clone_to(None, &spec(&lxc, "c2"), false).unwrap();
    assert_eq!(c2.kind(), Kind::Loop);
    assert_eq!(c2.fs_size(), Some(64 << 20));
    assert_eq!(c2.fs_type().as_deref(), Some("ext4"));
    storage::with_mounted(c1.as_ref(), |a| {
        storage::with_mounted(c2.as_ref(), |b| assert_same_tree(a, b, &["lost+found"])).unwrap()
    })
    .unwrap();

    // To another backend.
    let c3 = c1
        .clone_to(Some(Kind::Dir), &spec(&lxc, "c3"), false)
        .unwrap();
    storage::with_mounted(c1.as_ref(), |a| {
        assert_same_tree(a, c3.direct_tree().unwrap(), &["lost+found"])
    })
    .unwrap();

    for c in [&c1, &c2, &c3] {
        c.destroy().unwrap();
    }
    assert!(!image.exists() && !lxc.join("c2/rootdev").exists());
    sb.assert_clean();
}

#[test]
fn loop_backend_with_another_filesystem() {
    require_root!();
    require_tool!("mkfs.btrfs");
    let sb = Sandbox::new();
    let lxc = sb.path.join("lxc");
    let mut s = spec(&lxc, "c1");
    s.fssize = Some(256 << 20);
    s.fstype = Some("btrfs".into());
    let c1 = storage::create(Kind::Loop, &s).unwrap();
    assert_eq!(c1.fs_type().as_deref(), Some("btrfs"));
    write(c1.as_ref(), "hello", b"world");
    assert_eq!(read(c1.as_ref(), "hello").unwrap(), b"world");
    c1.destroy().unwrap();
    sb.assert_clean();

    let mut s = spec(&lxc, "bad");
    s.fstype = Some("nosuchfs".into());
    let e = storage::create(Kind::Loop, &s).unwrap_err().to_string();
    assert!(e.contains("mkfs.nosuchfs is not installed"), "{e}");
    assert!(
        !lxc.join("bad/rootdev").exists(),
        "a failed create left its image"
    );
}

#[test]
fn loop_clone_out_of_space_removes_the_new_image() {
    require_root!();
    require_tool!("mkfs.ext4");
    let sb = Sandbox::new();
    let lxc = sb.path.join("lxc");
    let c1 = storage::create(Kind::Dir, &spec(&lxc, "c1")).unwrap();
    let tree = c1.direct_tree().unwrap().to_path_buf();
    make_fixture(&tree);
    for i in 0..3 {
        std::fs::write(tree.join(format!("blob{i}")), vec![i as u8 + 1; 8 << 20]).unwrap();
    }
    let mut s = spec(&lxc, "c2");
    s.fssize = Some(16 << 20);
    let e = c1.clone_to(Some(Kind::Loop), &s, false).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("no space left on the destination filesystem"),
        "{msg}"
    );
    assert!(msg.contains("--fssize"), "{msg}");
    // Named inside the store, not below a temporary mount point that no longer exists.
    assert!(
        msg.contains(&format!("loop:{}/blob", lxc.join("c2/rootdev").display())),
        "{msg}"
    );
    assert!(
        !lxc.join("c2/rootdev").exists(),
        "the partial image was left behind"
    );
    c1.destroy().unwrap();
    sb.assert_clean();
}

#[test]
fn btrfs_backend() {
    require_root!();
    require_tool!("mkfs.btrfs");
    let sb = Sandbox::new();
    let mut fs = LoopFs::new(&sb, "btrfs", "btrfs", 512 << 20);
    let lxc = fs.mnt.join("lxc");

    let c1 = storage::create_first(
        &storage::parse_bdev_list("best").unwrap(),
        &spec(&lxc, "c1"),
    )
    .unwrap();
    assert_eq!(c1.kind(), Kind::Btrfs, "best on btrfs");
    let tree = lxc.join("c1/rootfs");
    assert_eq!(c1.rootfs_path(), format!("btrfs:{}", tree.display()));
    assert_eq!(
        std::fs::metadata(&tree).unwrap().ino(),
        256,
        "not a subvolume"
    );
    assert_eq!(
        storage::open(tree.to_str().unwrap()).unwrap().kind(),
        Kind::Btrfs,
        "detection without prefix"
    );
    make_fixture(&tree);
    // Nested subvolumes, two deep.
    libbtrfs::subvol::create(tree.join("var/lib-machines")).unwrap();
    std::fs::write(tree.join("var/lib-machines/inner"), b"nested").unwrap();
    libbtrfs::subvol::create(tree.join("var/lib-machines/deeper")).unwrap();
    std::fs::write(tree.join("var/lib-machines/deeper/f"), b"deeper").unwrap();
    mount_write_umount(&sb, c1.as_ref(), "etc/hostname", b"c1\n");

    // Snapshot, and a "copy" on the same filesystem: both writable snapshots.
    let c2 = c1.clone_to(None, &spec(&lxc, "c2"), true).unwrap();
    let c3 = c1.clone_to(None, &spec(&lxc, "c3"), false).unwrap();
    for c in [&c2, &c3] {
        assert_eq!(c.kind(), Kind::Btrfs);
        assert!(!c.needs_rdep());
        let t = c.direct_tree().unwrap();
        assert_eq!(std::fs::metadata(t).unwrap().ino(), 256);
        assert_eq!(std::fs::read(t.join("etc/hostname")).unwrap(), b"c1\n");
        assert_eq!(
            std::fs::read(t.join("bin/busybox")).unwrap(),
            std::fs::read(tree.join("bin/busybox")).unwrap()
        );
    }
    std::fs::write(c2.direct_tree().unwrap().join("etc/hostname"), b"c2\n").unwrap();
    assert_eq!(std::fs::read(tree.join("etc/hostname")).unwrap(), b"c1\n");

    // A copy to another backend takes the nested subvolumes' contents along.
    let c4 = c1
        .clone_to(Some(Kind::Dir), &spec(&lxc, "c4"), false)
        .unwrap();
    assert_same_tree(&tree, c4.direct_tree().unwrap(), &[]);
    // An overlay snapshot over a btrfs tree, the delta elsewhere.
    let c5 = c1
        .clone_to(Some(Kind::Overlay), &spec(&sb.path.join("lxc"), "c5"), true)
        .unwrap();
    assert_eq!(
        read(c5.as_ref(), "var/lib-machines/inner").unwrap(),
        b"nested"
    );

    // A btrfs snapshot cannot leave the filesystem.
    let e = c1
        .clone_to(None, &spec(&sb.path.join("lxc"), "c6"), true)
        .unwrap_err()
        .to_string();
    assert!(e.contains("is not on a btrfs filesystem"), "{e}");
    let e = storage::create(Kind::Btrfs, &spec(&sb.path.join("lxc"), "c7"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("is not on a btrfs filesystem"), "{e}");

    for c in [&c5, &c4, &c3, &c2] {
        c.destroy().unwrap();
    }
    c1.destroy().unwrap();
    assert!(
        !tree.exists(),
        "the subvolume (or a nested one) is still there"
    );
    let left: Vec<PathBuf> = std::fs::read_dir(&lxc)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("rootfs").exists())
        .collect();
    assert!(left.is_empty(), "left: {left:?}");
    fs.unmount();
    sb.assert_clean();
}

const CHILD_ENV: &str = "LXCRS_STORAGE_TEST_KILL_CHILD";

/// Runs in a child process of `killed_clone_leaves_no_mount_or_loop_device`.
#[test]
#[ignore = "helper: run by killed_clone_leaves_no_mount_or_loop_device"]
fn kill_child_helper() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let lxc = PathBuf::from(dir);
    let src = storage::open(&format!("dir:{}", lxc.join("c1/rootfs").display())).unwrap();
    let mut s = spec(&lxc, "c2");
    s.fssize = Some(1 << 30);
    let _ = src.clone_to(Some(Kind::Loop), &s, false);
}

#[test]
fn killed_clone_leaves_no_mount_or_loop_device() {
    require_root!();
    require_tool!("mkfs.ext4");
    let sb = Sandbox::new();
    let lxc = sb.path.join("lxc");
    let c1 = storage::create(Kind::Dir, &spec(&lxc, "c1")).unwrap();
    let tree = c1.direct_tree().unwrap();
    let block = vec![0x5au8; 1 << 20];
    for i in 0..400 {
        std::fs::write(tree.join(format!("f{i}")), &block).unwrap();
    }
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "kill_child_helper",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &lxc)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the clone has the new image attached (mounted in its private namespace).
    let deadline = Instant::now() + Duration::from_secs(60);
    while storage::loopdev::devices_backed_by(&lxc.join("c2")).is_empty() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the clone ended before it could be killed"
        );
        assert!(
            Instant::now() < deadline,
            "the clone never attached its image"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the clone ended before it could be killed"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    // Its mounts died with its namespace, the loop device with them (autoclear).
    sb.assert_clean();
    c1.destroy().unwrap();
}

#[test]
fn unsupported_backends_say_so() {
    let t = tempfile::tempdir().unwrap();
    for k in ["zfs", "lvm", "rbd", "nbd"] {
        let kind = storage::parse_bdev_list(k).unwrap()[0];
        let e = storage::create(kind, &spec(t.path(), "c"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(&format!("backing store '{k}' is not supported yet")),
            "{e}"
        );
    }
}
