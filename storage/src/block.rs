//! What block backends (loop now, lvm later) share: making a filesystem with the
//! distro's `mkfs.<fstype>` (the only external program here, as in LXC), telling an
//! image's filesystem from its superblock, and mounting a device whose type is unknown.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::{Command, Stdio};

use nix::mount::{mount, MsFlags};

use crate::StorageError;

/// Checks an `--fstype` value: it becomes part of a command name.
pub(crate) fn check_fstype(fstype: &str) -> Result<(), StorageError> {
    if !fstype.is_empty()
        && fstype
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        Ok(())
    } else {
        Err(StorageError::Invalid(format!(
            "invalid filesystem type '{fstype}'\nhint: give a type such as ext4, xfs or btrfs"
        )))
    }
}

/// The flags that make `mkfs.<fstype>` quiet and willing to write to a regular file or
/// a device that holds something already.
pub(crate) fn mkfs_flags(fstype: &str) -> &'static [&'static str] {
    match fstype {
        "ext2" | "ext3" | "ext4" => &["-F", "-q"],
        "xfs" | "btrfs" => &["-f", "-q"],
        // mkfs.vfat's -F is the FAT size, others differ again: no guessing.
        _ => &[],
    }
}

/// Runs `mkfs.<fstype>` on `dev` (an image file or a block device).
pub(crate) fn mkfs(fstype: &str, dev: &Path) -> Result<(), StorageError> {
    check_fstype(fstype)?;
    let prog = format!("mkfs.{fstype}");
    let out = Command::new(&prog)
        .args(mkfs_flags(fstype))
        .arg(dev)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| StorageError::Command {
            command: format!("{prog} {}", dev.display()),
            why: if e.kind() == std::io::ErrorKind::NotFound {
                format!("{prog} is not installed\nhint: install the package that provides it (e2fsprogs, xfsprogs, btrfs-progs, …)")
            } else {
                e.to_string()
            },
        })?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    Err(StorageError::Command {
        command: format!("{prog} {}", dev.display()),
        why: format!("{}: {}", out.status, stderr.trim()),
    })
}

/// Superblock signatures: (offset, magic, type to mount as). The ext4 driver mounts
/// ext2 and ext3 too.
const SIGNATURES: &[(u64, &[u8], &str)] = &[
    (0x438, &[0x53, 0xef], "ext4"),
    (0, b"XFSB", "xfs"),
    (0x10040, b"_BHRfS_M", "btrfs"),
];

/// The filesystem on `dev`, from its superblock, when it is one we know by sight.
pub(crate) fn probe_fstype(dev: &Path) -> Option<&'static str> {
    let f = File::open(dev).ok()?;
    SIGNATURES.iter().find_map(|&(off, magic, name)| {
        let mut buf = vec![0u8; magic.len()];
        (f.read_exact_at(&mut buf, off).is_ok() && buf == magic).then_some(name)
    })
}

/// The block filesystems the kernel offers (`/proc/filesystems` without `nodev`), for
/// a device whose type no signature told.
fn kernel_filesystems() -> Vec<String> {
    let text = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    text.lines()
        .filter(|l| !l.starts_with("nodev"))
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Mounts block device `dev` on `target`: as `fstype` when given, else as what its
/// superblock says, else trying every block filesystem the kernel knows (LXC's
/// `mount_unknown_fs`).
pub(crate) fn mount_block(
    dev: &Path,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
) -> Result<(), StorageError> {
    let candidates: Vec<String> = match fstype.or_else(|| probe_fstype(dev)) {
        Some(t) => vec![t.to_string()],
        None => kernel_filesystems(),
    };
    let mut last = nix::Error::ENODEV;
    for t in &candidates {
        match mount(Some(dev), target, Some(t.as_str()), flags, None::<&str>) {
            Ok(()) => return Ok(()),
            Err(e) => last = e,
        }
    }
    Err(StorageError::mount(
        format!("{} (tried {})", dev.display(), candidates.join(", ")),
        target,
        last,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fstype_names_are_checked() {
        assert!(check_fstype("ext4").is_ok());
        assert!(check_fstype("ext4 -O x").is_err());
        assert!(check_fstype("../x").is_err());
        assert!(check_fstype("").is_err());
    }

    #[test]
    fn mkfs_flags_per_type() {
        assert_eq!(mkfs_flags("ext4"), &["-F", "-q"]);
        assert_eq!(mkfs_flags("xfs"), &["-f", "-q"]);
        assert!(mkfs_flags("vfat").is_empty());
    }

    #[test]
    fn probes_superblocks() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("img");
        let f = File::create(&p).unwrap();
        f.set_len(0x20000).unwrap();
        assert_eq!(probe_fstype(&p), None);
        f.write_all_at(&[0x53, 0xef], 0x438).unwrap();
        assert_eq!(probe_fstype(&p), Some("ext4"));
        f.write_all_at(&[0, 0], 0x438).unwrap();
        f.write_all_at(b"_BHRfS_M", 0x10040).unwrap();
        assert_eq!(probe_fstype(&p), Some("btrfs"));
    }

    #[test]
    fn missing_mkfs_is_explained() {
        let e = mkfs("nosuchfs", Path::new("/nonexistent"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("mkfs.nosuchfs is not installed"), "{e}");
    }
}
