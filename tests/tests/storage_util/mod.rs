//! Helpers of the storage end-to-end tests (`tests/storage_*.rs`): loop devices and
//! mounts under a path, a btrfs filesystem on a loop image over a test's lxcpath.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use lxcrs_tests::Env;

/// The loop devices whose backing file is under `dir`.
pub fn loops_under(dir: &Path) -> Vec<String> {
    let out = Command::new("losetup").arg("-a").output().unwrap();
    let d = dir.display().to_string();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(&d))
        .map(str::to_string)
        .collect()
}

/// The mounts whose mount point or source mentions `dir`.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let d = dir.display().to_string();
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(&d))
        .map(str::to_string)
        .collect()
}

/// A btrfs filesystem on a loop image mounted over the env's lxcpath; unmounted (and its
/// image removed) by [`Btrfs::done`].
pub struct Btrfs {
    img: tempfile::NamedTempFile,
    mnt: PathBuf,
}

impl Btrfs {
    /// A 1 GiB filesystem.
    pub fn new(env: &Env) -> Option<Btrfs> {
        Btrfs::with_size(env, 1 << 30)
    }

    /// A filesystem of `size` bytes (a sparse image).
    pub fn with_size(env: &Env, size: u64) -> Option<Btrfs> {
        if Command::new("mkfs.btrfs")
            .arg("--version")
            .output()
            .is_err()
        {
            lxcrs_tests::skip("mkfs.btrfs is not installed");
            return None;
        }
        let img = tempfile::NamedTempFile::new().unwrap();
        img.as_file().set_len(size).unwrap();
        let ok = Command::new("mkfs.btrfs")
            .arg("-q")
            .arg(img.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "mkfs.btrfs failed");
        let mnt = env.lxcpath().to_path_buf();
        let ok = Command::new("mount")
            .args(["-o", "loop"])
            .arg(img.path())
            .arg(&mnt)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mounting the btrfs image failed");
        Some(Btrfs { img, mnt })
    }

    pub fn done(self, env: &Env) {
        let left = clear_and_umount(env, &self.mnt);
        drop(self.img);
        assert!(left.is_empty(), "left on btrfs: {left:?}");
    }
}

/// A small tmpfs mounted over the env's lxcpath, for running out of space.
pub struct SmallFs {
    mnt: PathBuf,
}

impl SmallFs {
    /// A tmpfs of `size` (`mount -o size=`).
    pub fn new(env: &Env, size: &str) -> SmallFs {
        let mnt = env.lxcpath().to_path_buf();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "lxcrs-test"])
            .arg(&mnt)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mounting a tmpfs on {} failed", mnt.display());
        SmallFs { mnt }
    }

    /// Free bytes.
    pub fn free(&self) -> u64 {
        let s = nix::sys::statvfs::statvfs(&self.mnt).unwrap();
        s.blocks_available() * s.fragment_size()
    }

    /// Fills the filesystem until `leave` bytes are free; returns the filler's path.
    pub fn fill(&self, leave: u64) -> PathBuf {
        let p = self.mnt.join("filler");
        let n = self.free().saturating_sub(leave);
        fs::write(&p, vec![1u8; n as usize]).unwrap();
        p
    }

    pub fn done(self, env: &Env) {
        let left = clear_and_umount(env, &self.mnt);
        assert!(left.is_empty(), "left on the tmpfs: {left:?}");
    }
}

/// Stops and destroys every container of `env`, then unmounts `mnt` (its lxcpath);
/// returns what was left in it.
fn clear_and_umount(env: &Env, mnt: &Path) -> Vec<std::ffi::OsString> {
    for n in env.containers() {
        let _ = env.lxc("lxc-stop", &["-k", "-n", &n]);
        let _ = env.lxc("lxc-destroy", &["-f", "-s", "-n", &n]);
    }
    let left: Vec<_> = fs::read_dir(mnt)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    let ok = Command::new("umount").arg(mnt).status().unwrap().success();
    assert!(ok, "umount {} failed", mnt.display());
    left
}
