//! The storage crate's error.

use std::path::PathBuf;

/// What went wrong with a backing store.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A filesystem operation failed.
    #[error("failed to {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The destination filesystem filled up (ENOSPC or EDQUOT) during `op`.
    #[error("failed to {op} {path}: no space left on the destination filesystem\nhint: free space there, or give block backends (loop, lvm) a larger size with -L/--fssize")]
    NoSpace { op: &'static str, path: PathBuf },
    /// The backend exists in LXC but not in lxcrs yet.
    #[error("backing store '{kind}' is not supported yet\nhint: use -B dir (the default)")]
    Unsupported { kind: String },
    /// The backend exists but cannot do this operation.
    #[error("the {kind} backing store cannot {op}\nhint: {hint}")]
    NotSupported {
        kind: &'static str,
        op: &'static str,
        hint: String,
    },
    /// Not a backing store type at all.
    #[error("invalid backing store type '{kind}'\nhint: valid types are dir, btrfs, loop, lvm, overlay, overlayfs, zfs, rbd, nbd, best (or a comma list)")]
    InvalidKind { kind: String },
    /// A rootfs path that nothing recognises.
    #[error("cannot tell the backing store of {path}: {why}")]
    Detect { path: PathBuf, why: String },
    /// Removing would cross into another filesystem (a mount inside the rootfs).
    #[error("refusing to remove {path}: it is a mount point of another filesystem inside the tree\nhint: unmount it first (umount {path})")]
    CrossDevice { path: PathBuf },
    /// A mount(2) failed.
    #[error("failed to mount {what} on {target}: {source}")]
    Mount {
        what: String,
        target: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Attaching an image to a loop device failed.
    #[error("failed to attach {image} to a loop device: {why}")]
    Loop { image: PathBuf, why: String },
    /// An external program (mkfs) failed or is missing.
    #[error("{command} failed: {why}")]
    Command { command: String, why: String },
    /// A btrfs ioctl failed.
    #[error(
        "failed to {op} btrfs subvolume {path}: {source}{}",
        btrfs_hint(source)
    )]
    Btrfs {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A bad option for this backend.
    #[error("{0}")]
    Invalid(String),
}

fn btrfs_hint(e: &std::io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(libc::EXDEV) => "\nhint: a btrfs snapshot must be on the same btrfs filesystem as its origin; make a full copy instead (no -s)",
        Some(libc::EPERM) | Some(libc::EACCES) => {
            "\nhint: deleting subvolumes as a normal user needs the btrfs mount option user_subvol_rm_allowed"
        }
        Some(libc::ENOTTY) | Some(libc::EINVAL) => "\nhint: the path is not a btrfs subvolume (or not on btrfs)",
        _ => "",
    }
}

impl StorageError {
    /// Names a path below the temporary mount point `from` by the store it shows
    /// (`to`, e.g. `loop:/var/lib/lxc/c1/rootdev`) instead of the scratch directory.
    pub(crate) fn rebase(self, from: &std::path::Path, to: &str) -> StorageError {
        let fix = |p: PathBuf| match p.strip_prefix(from) {
            Ok(rel) => PathBuf::from(format!("{to}/{}", rel.display())),
            Err(_) => p,
        };
        match self {
            StorageError::Io { op, path, source } => StorageError::Io {
                op,
                path: fix(path),
                source,
            },
            StorageError::NoSpace { op, path } => StorageError::NoSpace {
                op,
                path: fix(path),
            },
            other => other,
        }
    }

    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> StorageError {
        StorageError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// Like [`StorageError::io`], but a full destination becomes [`StorageError::NoSpace`]:
    /// used on every write to a copy's destination.
    pub(crate) fn write(
        op: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> StorageError {
        match source.raw_os_error() {
            Some(libc::ENOSPC) | Some(libc::EDQUOT) => StorageError::NoSpace {
                op,
                path: path.into(),
            },
            _ => StorageError::Io {
                op,
                path: path.into(),
                source,
            },
        }
    }

    pub(crate) fn mount(
        what: impl Into<String>,
        target: impl Into<PathBuf>,
        e: nix::Error,
    ) -> StorageError {
        StorageError::Mount {
            what: what.into(),
            target: target.into(),
            source: e.into(),
        }
    }

    pub(crate) fn btrfs(
        op: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> StorageError {
        StorageError::Btrfs {
            op,
            path: path.into(),
            source,
        }
    }
}
