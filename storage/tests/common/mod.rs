//! Shared by the root tests: skip rules, a sandbox with a leak check, a btrfs filesystem
//! on a loop image, a fixture rootfs with every kind of file, and a tree comparison.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::hash::{Hash, Hasher};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::mount::{mount, umount2, MntFlags, MsFlags};

/// Skips the test (prints why) unless we are root; with `LXCRS_REQUIRE_ROOT=1` a skip
/// is a failure.
#[macro_export]
macro_rules! require_root {
    () => {
        if !nix::unistd::Uid::effective().is_root() {
            $crate::common::skip("needs root");
            return;
        }
    };
}

/// Skips the test unless `tool` is on the PATH.
#[macro_export]
macro_rules! require_tool {
    ($tool:expr) => {
        if !$crate::common::have_tool($tool) {
            $crate::common::skip(&format!("needs {} (scripts/deps.sh installs it)", $tool));
            return;
        }
    };
}

pub fn skip(why: &str) {
    let name = std::thread::current().name().unwrap_or("?").to_string();
    if std::env::var("LXCRS_REQUIRE_ROOT").as_deref() == Ok("1") {
        panic!("SKIP {name}: {why} — but LXCRS_REQUIRE_ROOT=1 forbids skipping");
    }
    eprintln!("SKIP {name}: {why}");
}

pub fn have_tool(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
                .any(|d| d.join(tool).is_file())
        })
        .unwrap_or(false)
}

/// A temporary directory for one test; everything the test mounts or attaches lives
/// below it, so the leak check looks only there.
pub struct Sandbox {
    dir: Option<tempfile::TempDir>,
    pub path: PathBuf,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("lxcrs-storage-test-")
            .tempdir()
            .expect("tempdir");
        let path = dir.path().to_path_buf();
        Sandbox {
            dir: Some(dir),
            path,
        }
    }

    /// Fails the test on any mount point or loop device still below the sandbox (loop
    /// devices get a few seconds: autoclear detaches them right after the last user).
    pub fn assert_clean(&self) {
        let mounts = mounts_under(&self.path);
        assert!(mounts.is_empty(), "leftover mounts: {mounts:?}");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let loops = lxcrs_storage::loopdev::devices_backed_by(&self.path);
            if loops.is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "leftover loop devices: {loops:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // After a failed test: take down what it left so the machine stays clean.
        let mut mounts = mounts_under(&self.path);
        mounts.sort_by_key(|m| std::cmp::Reverse(m.as_os_str().len()));
        for m in mounts {
            let _ = umount2(&m, MntFlags::MNT_DETACH);
        }
        if let Some(d) = self.dir.take() {
            let _ = d.close();
        }
    }
}

/// Mount points at or below `path` in our mount namespace.
pub fn mounts_under(path: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape_mountinfo)
        .filter(|p| p.starts_with(path))
        .collect()
}

fn unescape_mountinfo(s: &str) -> PathBuf {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 4], 8) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    PathBuf::from(OsStr::from_bytes(&out))
}

/// Runs a command, panicking with its stderr when it fails.
pub fn run(cmd: &str, args: &[&OsStr]) {
    let out = std::process::Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A filesystem made by `mkfs.<fstype>` on a sparse image in the sandbox, attached to an
/// autoclear loop device and mounted on `<sandbox>/<name>` until dropped.
pub struct LoopFs {
    pub mnt: PathBuf,
    mounted: bool,
}

impl LoopFs {
    pub fn new(sb: &Sandbox, name: &str, fstype: &str, size: u64) -> LoopFs {
        let img = sb.path.join(format!("{name}.img"));
        std::fs::File::create(&img).unwrap().set_len(size).unwrap();
        let flag = if fstype == "btrfs" { "-f" } else { "-F" };
        run(
            &format!("mkfs.{fstype}"),
            &[OsStr::new(flag), OsStr::new("-q"), img.as_os_str()],
        );
        let mnt = sb.path.join(name);
        std::fs::create_dir(&mnt).unwrap();
        let dev = lxcrs_storage::loopdev::attach(&img, false).unwrap();
        mount(
            Some(dev.path()),
            &mnt,
            Some(fstype),
            MsFlags::empty(),
            None::<&str>,
        )
        .unwrap();
        LoopFs { mnt, mounted: true }
    }

    pub fn unmount(&mut self) {
        if self.mounted {
            umount2(&self.mnt, MntFlags::empty()).unwrap();
            self.mounted = false;
        }
    }
}

impl Drop for LoopFs {
    fn drop(&mut self) {
        if self.mounted {
            let _ = umount2(&self.mnt, MntFlags::MNT_DETACH);
        }
    }
}

/// A tmpfs of `size` bytes on `<sandbox>/<name>` until dropped.
pub struct Tmpfs {
    pub mnt: PathBuf,
}

impl Tmpfs {
    pub fn new(sb: &Sandbox, name: &str, size: u64) -> Tmpfs {
        let mnt = sb.path.join(name);
        std::fs::create_dir(&mnt).unwrap();
        mount(
            Some("tmpfs"),
            &mnt,
            Some("tmpfs"),
            MsFlags::empty(),
            Some(format!("size={size}").as_str()),
        )
        .unwrap();
        Tmpfs { mnt }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = umount2(&self.mnt, MntFlags::empty());
    }
}

// ---- The fixture rootfs ----

/// `security.capability` v2: effective, CAP_NET_RAW permitted.
pub const CAP_NET_RAW: [u8; 20] = [
    1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// A POSIX ACL xattr value: user::rw- user:<uid>:rw- group::r-- mask::rw- other::r--.
pub fn acl(uid: u32) -> Vec<u8> {
    let mut v = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in [
        (0x01u16, 6u16, u32::MAX),
        (0x02, 6, uid),
        (0x04, 4, u32::MAX),
        (0x10, 6, u32::MAX),
        (0x20, 4, u32::MAX),
    ] {
        v.extend_from_slice(&tag.to_le_bytes());
        v.extend_from_slice(&perm.to_le_bytes());
        v.extend_from_slice(&id.to_le_bytes());
    }
    v
}

fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn chown(p: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(p, Some(uid), Some(gid)).unwrap();
}

fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A rootfs with every kind of file a copy must keep: nested directories with unusual
/// modes, setuid binaries with file capabilities, hard links (of files and of a
/// symlink), relative/absolute/dangling symlinks, character and block devices, a fifo, a
/// socket, user/trusted/security xattrs, access and default POSIX ACLs, sparse files,
/// odd names, shifted (100000) owners and nanosecond timestamps on everything.
pub fn make_fixture(root: &Path) {
    use nix::sys::stat::{mknod, Mode, SFlag};
    let mk = |p: &str| std::fs::create_dir_all(root.join(p)).unwrap();
    let write = |p: &str, data: &[u8]| std::fs::write(root.join(p), data).unwrap();
    for d in [
        "etc",
        "bin",
        "usr/lib/deep/er/still",
        "dev",
        "home/user",
        "tmp",
        "ro",
        "var/empty",
    ] {
        mk(d);
    }
    write("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n");
    write("etc/shadow", b"root:*:19000:0:99999:7:::\n");
    chmod(&root.join("etc/shadow"), 0o640);
    chown(&root.join("etc/shadow"), 0, 42);
    write("bin/busybox", &pseudo_random(3 << 20, 7));
    chmod(&root.join("bin/busybox"), 0o755);
    std::os::unix::fs::symlink("busybox", root.join("bin/sh")).unwrap();
    std::fs::hard_link(root.join("bin/sh"), root.join("bin/sh.hardlink")).unwrap();
    write("bin/ping", &pseudo_random(40_000, 9));
    chmod(&root.join("bin/ping"), 0o4755);
    xattr::set(root.join("bin/ping"), "security.capability", &CAP_NET_RAW).unwrap();
    std::fs::hard_link(root.join("bin/ping"), root.join("bin/ping6")).unwrap();
    write("bin/sgid", b"#!/bin/sh\n");
    chmod(&root.join("bin/sgid"), 0o2755);
    chown(&root.join("bin/sgid"), 0, 5);
    // Three names of one inode in three directories.
    write("usr/lib/a", b"hard linked\n");
    std::fs::hard_link(root.join("usr/lib/a"), root.join("etc/a2")).unwrap();
    std::fs::hard_link(root.join("usr/lib/a"), root.join("a3")).unwrap();
    // Sparse: data, hole, data, trailing hole; and one that is all hole.
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::File::create(root.join("usr/lib/big.sparse")).unwrap();
        f.write_all_at(&pseudo_random(4096, 3), 0).unwrap();
        f.write_all_at(&pseudo_random(4096, 4), 4 << 20).unwrap();
        f.set_len(8 << 20).unwrap();
        std::fs::File::create(root.join("usr/lib/allhole"))
            .unwrap()
            .set_len(1 << 20)
            .unwrap();
    }
    write("usr/lib/deep/er/still/leaf", b"deep\n");
    write("usr/lib/empty", b"");
    write("usr/lib/one", b"1");
    // Devices, fifo, socket.
    mknod(
        &root.join("dev/null"),
        SFlag::S_IFCHR,
        Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(1, 3),
    )
    .unwrap();
    chmod(&root.join("dev/null"), 0o666);
    mknod(
        &root.join("dev/loop9"),
        SFlag::S_IFBLK,
        Mode::from_bits_truncate(0o660),
        nix::sys::stat::makedev(7, 9),
    )
    .unwrap();
    chown(&root.join("dev/loop9"), 0, 6);
    mknod(
        &root.join("dev/initctl"),
        SFlag::S_IFIFO,
        Mode::from_bits_truncate(0o600),
        0,
    )
    .unwrap();
    drop(std::os::unix::net::UnixListener::bind(root.join("dev/log")).unwrap());
    // Symlinks: absolute, dangling, owned by someone else.
    std::os::unix::fs::symlink("/etc/passwd", root.join("etc/abs-link")).unwrap();
    std::os::unix::fs::symlink("../nowhere/at/all", root.join("etc/dangling")).unwrap();
    chown(&root.join("etc/dangling"), 1000, 1000);
    // A user's home with ACLs, shifted owners.
    write("home/user/notes", b"private\n");
    chown(&root.join("home/user/notes"), 1000, 1000);
    chmod(&root.join("home/user/notes"), 0o600);
    xattr::set(
        root.join("home/user/notes"),
        "system.posix_acl_access",
        &acl(1234),
    )
    .unwrap();
    xattr::set(
        root.join("home/user"),
        "system.posix_acl_default",
        &acl(5678),
    )
    .unwrap();
    chown(&root.join("home/user"), 1000, 1000);
    chmod(&root.join("home/user"), 0o700);
    write("home/shifted", b"owned by a mapped root\n");
    chown(&root.join("home/shifted"), 100000, 100000);
    // Xattrs of every namespace we can write.
    xattr::set(root.join("etc/passwd"), "user.comment", b"hello").unwrap();
    xattr::set(root.join("usr"), "trusted.overlay.opaque", b"y").unwrap();
    xattr::set(root.join("usr/lib/one"), "trusted.lxcrs", &[0, 1, 2, 255]).unwrap();
    xattr::set(root.join("var"), "user.dir", b"on a directory").unwrap();
    // Odd names.
    write("etc/name with spaces", b"s");
    write("etc/new\nline", b"n");
    std::fs::write(root.join(OsStr::from_bytes(b"etc/\xff\xfebytes")), b"b").unwrap();
    // Modes of directories.
    write("ro/inside", b"in a read-only dir");
    chmod(&root.join("tmp"), 0o1777);
    chmod(&root.join("ro"), 0o555);
    chmod(&root.join("var/empty"), 0o711);
    // Distinct nanosecond times everywhere, directories last (deepest first).
    let mut all: Vec<PathBuf> = walk_paths(root);
    all.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for (i, p) in all.iter().enumerate() {
        let i = i as i64;
        let at = nix::sys::time::TimeSpec::new(1_500_000_000 + i, 111_111_111 + i);
        let mt = nix::sys::time::TimeSpec::new(1_600_000_000 + i * 7, 987_654_321 - i);
        nix::sys::stat::utimensat(
            nix::fcntl::AT_FDCWD,
            p,
            &at,
            &mt,
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        )
        .unwrap();
    }
}

/// Every path below and including `root`, without following symlinks.
pub fn walk_paths(root: &Path) -> Vec<PathBuf> {
    let mut out = vec![root.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        let p = out[i].clone();
        if std::fs::symlink_metadata(&p).unwrap().is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                out.push(e.unwrap().path());
            }
        }
        i += 1;
    }
    out
}

// ---- Tree comparison ----

/// What the comparison checks of one entry.
#[derive(Debug, PartialEq, Eq)]
pub struct Info {
    kind: &'static str,
    mode: u32,
    uid: u32,
    gid: u32,
    size: Option<u64>,
    hash: Option<u64>,
    xattrs: BTreeMap<Vec<u8>, Vec<u8>>,
    link: Option<PathBuf>,
    rdev: Option<u64>,
    /// The first (sorted) name of the inode's hard-link group.
    group: Option<PathBuf>,
    mtime: (i64, i64),
    sparse: Option<bool>,
}

/// Every entry of a tree, by relative path. `skip` names top-level entries to ignore
/// (a fresh filesystem's `lost+found`).
pub fn scan(root: &Path, skip: &[&str]) -> BTreeMap<PathBuf, Info> {
    let mut out = BTreeMap::new();
    let mut inodes: HashMap<(u64, u64), Vec<PathBuf>> = HashMap::new();
    for p in walk_paths(root) {
        let rel = p.strip_prefix(root).unwrap().to_path_buf();
        if rel
            .components()
            .next()
            .is_some_and(|c| skip.iter().any(|s| c.as_os_str() == *s))
        {
            continue;
        }
        let md = std::fs::symlink_metadata(&p).unwrap();
        let ft = md.file_type();
        let kind = if ft.is_dir() {
            "dir"
        } else if ft.is_file() {
            "file"
        } else if ft.is_symlink() {
            "symlink"
        } else if ft.is_char_device() {
            "chr"
        } else if ft.is_block_device() {
            "blk"
        } else if ft.is_fifo() {
            "fifo"
        } else {
            "socket"
        };
        let hash = ft.is_file().then(|| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            std::fs::read(&p).unwrap().hash(&mut h);
            h.finish()
        });
        let xattrs = xattr::list(&p)
            .unwrap()
            .map(|n| {
                (
                    n.as_bytes().to_vec(),
                    xattr::get(&p, &n).unwrap().unwrap_or_default(),
                )
            })
            .collect();
        if !ft.is_dir() && md.nlink() > 1 {
            inodes
                .entry((md.dev(), md.ino()))
                .or_default()
                .push(rel.clone());
        }
        out.insert(
            rel,
            Info {
                kind,
                mode: md.mode() & 0o7777,
                uid: md.uid(),
                gid: md.gid(),
                size: (!ft.is_dir()).then_some(md.size()),
                hash,
                xattrs,
                link: ft.is_symlink().then(|| std::fs::read_link(&p).unwrap()),
                rdev: (ft.is_char_device() || ft.is_block_device()).then_some(md.rdev()),
                group: None,
                mtime: (md.mtime(), md.mtime_nsec()),
                sparse: ft.is_file().then_some(md.blocks() * 512 < md.size()),
            },
        );
    }
    for mut names in inodes.into_values() {
        names.sort();
        for n in &names {
            out.get_mut(n).unwrap().group = Some(names[0].clone());
        }
    }
    out
}

/// Every difference between two scans, one line each.
pub fn diff(a: &BTreeMap<PathBuf, Info>, b: &BTreeMap<PathBuf, Info>) -> Vec<String> {
    let mut out = Vec::new();
    for (k, va) in a {
        match b.get(k) {
            None => out.push(format!("{k:?}: only in the first tree")),
            Some(vb) if va != vb => out.push(format!("{k:?}:\n   first  {va:?}\n   second {vb:?}")),
            Some(_) => {}
        }
    }
    for k in b.keys().filter(|k| !a.contains_key(*k)) {
        out.push(format!("{k:?}: only in the second tree"));
    }
    out
}

/// Asserts two trees are the same in everything [`scan`] looks at.
pub fn assert_same_tree(a: &Path, b: &Path, skip: &[&str]) {
    let d = diff(&scan(a, skip), &scan(b, skip));
    assert!(
        d.is_empty(),
        "{} and {} differ:\n{}",
        a.display(),
        b.display(),
        d.join("\n")
    );
}
