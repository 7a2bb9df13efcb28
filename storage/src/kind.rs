//! Backend kinds, `-B` lists and `lxc.rootfs.path` prefixes.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use crate::StorageError;

/// A backing store type, as LXC names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    Btrfs,
    Zfs,
    Lvm,
    Loop,
    Overlay,
    Rbd,
    Nbd,
}

impl Kind {
    /// LXC's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Dir => "dir",
            Kind::Btrfs => "btrfs",
            Kind::Zfs => "zfs",
            Kind::Lvm => "lvm",
            Kind::Loop => "loop",
            Kind::Overlay => "overlay",
            Kind::Rbd => "rbd",
            Kind::Nbd => "nbd",
        }
    }

    /// Parses one type name (`none` is `dir`, `overlayfs` is `overlay`).
    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "dir" | "none" => Kind::Dir,
            "btrfs" => Kind::Btrfs,
            "zfs" => Kind::Zfs,
            "lvm" => Kind::Lvm,
            "loop" => Kind::Loop,
            "overlay" | "overlayfs" => Kind::Overlay,
            "rbd" => Kind::Rbd,
            "nbd" => Kind::Nbd,
            _ => return None,
        })
    }
}

/// The order LXC tries for `-B best`.
pub const BEST: &[Kind] = &[Kind::Btrfs, Kind::Zfs, Kind::Lvm, Kind::Dir, Kind::Rbd];

/// Parses a `-B` value: one type, `best`, or a comma list of them (first that works).
pub fn parse_bdev_list(s: &str) -> Result<Vec<Kind>, StorageError> {
    let mut out = Vec::new();
    for part in s.split(',') {
        if part == "best" {
            out.extend_from_slice(BEST);
        } else {
            out.push(Kind::parse(part).ok_or_else(|| StorageError::InvalidKind {
                kind: part.to_string(),
            })?);
        }
    }
    Ok(out)
}

/// Splits `[type:]path` of `lxc.rootfs.path`. A leading `/` means no type.
pub fn split_rootfs_path(v: &str) -> (Option<Kind>, &str) {
    if v.starts_with('/') {
        return (None, v);
    }
    match v.split_once(':') {
        Some((t, rest)) => match Kind::parse(t) {
            Some(k) => (Some(k), rest),
            None => (None, v),
        },
        None => (None, v),
    }
}

/// Detects the backend of a path without a type prefix: a btrfs subvolume root (statfs
/// magic and inode 256), any other directory (dir), a regular file (a loop image), or a
/// block device that LVM owns (its device-mapper uuid starts with `LVM-`).
pub fn detect(path: &Path) -> Result<Kind, StorageError> {
    let md = std::fs::metadata(path).map_err(|e| StorageError::Detect {
        path: path.into(),
        why: e.to_string(),
    })?;
    let ft = md.file_type();
    if md.is_dir() {
        if is_btrfs_subvolume(path, &md) {
            Ok(Kind::Btrfs)
        } else {
            Ok(Kind::Dir)
        }
    } else if md.is_file() {
        Ok(Kind::Loop)
    } else if ft.is_block_device() && is_lvm_device(md.rdev()) {
        Ok(Kind::Lvm)
    } else {
        Err(StorageError::Detect {
            path: path.into(),
            why: "neither a directory, an image file nor an LVM volume".into(),
        })
    }
}

/// Inode 256 (`BTRFS_FIRST_FREE_OBJECTID`) is the root directory of every subvolume.
const BTRFS_SUBVOL_ROOT_INO: u64 = 256;

/// True when `path` (a directory with metadata `md`) is the root of a btrfs subvolume.
pub(crate) fn is_btrfs_subvolume(path: &Path, md: &std::fs::Metadata) -> bool {
    md.is_dir() && md.ino() == BTRFS_SUBVOL_ROOT_INO && is_on_btrfs(path)
}

/// True when `path` is on a btrfs filesystem.
pub(crate) fn is_on_btrfs(path: &Path) -> bool {
    nix::sys::statfs::statfs(path)
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::BTRFS_SUPER_MAGIC)
}

fn is_lvm_device(rdev: u64) -> bool {
    let (major, minor) = (nix::sys::stat::major(rdev), nix::sys::stat::minor(rdev));
    std::fs::read_to_string(format!("/sys/dev/block/{major}:{minor}/dm/uuid"))
        .is_ok_and(|u| u.starts_with("LVM-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bdev_lists() {
        assert_eq!(parse_bdev_list("dir").unwrap(), vec![Kind::Dir]);
        assert_eq!(parse_bdev_list("none").unwrap(), vec![Kind::Dir]);
        assert_eq!(
            parse_bdev_list("lvm,dir").unwrap(),
            vec![Kind::Lvm, Kind::Dir]
        );
        assert_eq!(parse_bdev_list("best").unwrap(), BEST.to_vec());
        assert!(parse_bdev_list("ext4")
            .unwrap_err()
            .to_string()
            .contains("invalid backing store type 'ext4'"));
    }

    #[test]
    fn rootfs_prefixes() {
        assert_eq!(split_rootfs_path("dir:/a/b"), (Some(Kind::Dir), "/a/b"));
        assert_eq!(split_rootfs_path("/a/b"), (None, "/a/b"));
        assert_eq!(
            split_rootfs_path("overlayfs:/l:/u"),
            (Some(Kind::Overlay), "/l:/u")
        );
        assert_eq!(
            split_rootfs_path("zfs:tank/c1"),
            (Some(Kind::Zfs), "tank/c1")
        );
        assert_eq!(
            split_rootfs_path("overlay:/l1:/l2:/u"),
            (Some(Kind::Overlay), "/l1:/l2:/u")
        );
        assert_eq!(
            split_rootfs_path("loop:/var/lib/lxc/c1/rootdev"),
            (Some(Kind::Loop), "/var/lib/lxc/c1/rootdev")
        );
        assert_eq!(
            split_rootfs_path("btrfs:/var/lib/lxc/c1/rootfs"),
            (Some(Kind::Btrfs), "/var/lib/lxc/c1/rootfs")
        );
        assert_eq!(
            split_rootfs_path("lvm:/dev/vg/c1"),
            (Some(Kind::Lvm), "/dev/vg/c1")
        );
        // Not a known type: the whole value is the path.
        assert_eq!(split_rootfs_path("weird:/x"), (None, "weird:/x"));
    }

    #[test]
    fn best_order_is_lxcs() {
        assert_eq!(
            parse_bdev_list("best").unwrap()[..4],
            [Kind::Btrfs, Kind::Zfs, Kind::Lvm, Kind::Dir]
        );
        assert_eq!(
            parse_bdev_list("overlayfs,loop").unwrap(),
            vec![Kind::Overlay, Kind::Loop]
        );
        assert!(parse_bdev_list("dir,").is_err());
    }

    #[test]
    fn detection_without_prefix() {
        let t = tempfile::tempdir().unwrap();
        assert_eq!(detect(t.path()).unwrap(), Kind::Dir);
        let img = t.path().join("rootdev");
        std::fs::write(&img, b"").unwrap();
        assert_eq!(detect(&img).unwrap(), Kind::Loop);
        let err = detect(&t.path().join("missing")).unwrap_err().to_string();
        assert!(err.starts_with("cannot tell the backing store of"), "{err}");
        // A character device is none of them.
        assert!(detect(Path::new("/dev/null")).is_err());
    }
}
