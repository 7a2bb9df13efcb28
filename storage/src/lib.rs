//! Backing stores for container root filesystems, behind one trait.
//!
//! Callers ask a store's [`Capabilities`], never its name. A store is made with
//! [`create`] (new rootfs for a new container) or [`open`] (from an `lxc.rootfs.path`
//! value, by its `type:` prefix or by detection). A new container's rootfs can also be
//! made from an existing store with [`clone_to`] (a snapshot when the backends allow,
//! else a full copy through [`copy::copy_tree`]).

mod block;
mod btrfs;
mod clone;
pub mod copy;
mod dir;
mod error;
pub mod failpoints;
mod fdwalk;
mod kind;
pub mod loopdev;
mod loopfile;
pub mod mountns;
mod overlay;
pub mod remove;
mod replace;

use std::path::{Path, PathBuf};

pub use btrfs::BtrfsStore;
pub use clone::{clone_to, copy_between};
pub use dir::DirStore;
pub use error::StorageError;
pub use kind::{parse_bdev_list, split_rootfs_path, Kind};
pub use loopfile::LoopStore;
pub use mountns::with_mounted;
pub use overlay::OverlayStore;
pub use replace::{discard, replace, Replaced};

/// What a backend can do, as data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Copy-on-write snapshots (`lxc-copy -s`) are native.
    pub can_snapshot: bool,
    /// `lxc-snapshot` may use it.
    pub can_backup: bool,
    /// Cloning costs O(1), not a copy of the tree.
    pub instant_clone: bool,
    /// The rootfs is a block device that must be mounted to be used.
    pub block_based: bool,
}

/// What [`create`] needs to make a new rootfs.
#[derive(Debug, Clone)]
pub struct CreateSpec {
    /// The container's directory (`<lxcpath>/<name>`).
    pub container_dir: PathBuf,
    /// The container's name.
    pub name: String,
    /// `--dir`: a user-chosen rootfs directory (dir backend only).
    pub dir: Option<PathBuf>,
    /// `--fstype` (block backends), default ext4.
    pub fstype: Option<String>,
    /// `--fssize` in bytes (block backends), default 1 GiB.
    pub fssize: Option<u64>,
}

impl CreateSpec {
    /// A spec with only the container's directory and name set.
    pub fn new(container_dir: impl Into<PathBuf>, name: impl Into<String>) -> CreateSpec {
        CreateSpec {
            container_dir: container_dir.into(),
            name: name.into(),
            dir: None,
            fstype: None,
            fssize: None,
        }
    }
}

/// The size of a block store's filesystem when none is given (`--fssize`): LXC's 1 GiB.
pub const DEFAULT_FSSIZE: u64 = 1 << 30;
/// The filesystem of a block store when none is given (`--fstype`).
pub const DEFAULT_FSTYPE: &str = "ext4";

/// A container's backing store.
///
/// Implementations: [`DirStore`], [`OverlayStore`], [`LoopStore`], [`BtrfsStore`]; zfs
/// and lvm (thin) fit the same shape: `snapshot` is their native clone, `fs_size` and
/// `fs_type` describe an LV like a loop image.
pub trait BackingStore: std::fmt::Debug + Send + Sync {
    /// Which backend this is.
    fn kind(&self) -> Kind;
    /// What it can do.
    fn capabilities(&self) -> Capabilities;
    /// The value for `lxc.rootfs.path`, e.g. `dir:/var/lib/lxc/c1/rootfs`.
    fn rootfs_path(&self) -> String;
    /// The rootfs tree when it is usable in place (dir, btrfs); otherwise what names the
    /// store: the upper (delta) directory of an overlay, the image file of a loop store.
    fn path(&self) -> &Path;
    /// The tree, readable and writable without mounting anything (dir, btrfs), or `None`
    /// when [`BackingStore::mount`] is needed first (overlay, loop); see [`with_mounted`].
    fn direct_tree(&self) -> Option<&Path> {
        None
    }
    /// Where a template writes a new container's rootfs at create time without a mount:
    /// the tree of dir and btrfs, the overlay's own lower directory (`<c>/rootfs`, so
    /// that snapshots of it share the template's files). `None`: mount it first.
    fn template_target(&self) -> Option<&Path> {
        self.direct_tree()
    }
    /// Mounts the rootfs on `target` (a bind mount for dir and btrfs).
    fn mount(&self, target: &Path) -> Result<(), StorageError>;
    /// Undoes [`BackingStore::mount`] (and frees a loop device).
    fn umount(&self, target: &Path) -> Result<(), StorageError>;
    /// Removes the rootfs and everything in it, never crossing into another filesystem
    /// and never touching what it only depends on (an overlay's lower directories).
    fn destroy(&self) -> Result<(), StorageError>;
    /// A copy-on-write snapshot of this store as the rootfs of the new container that
    /// `spec` describes. Only when [`Capabilities::can_snapshot`] is set.
    fn snapshot(&self, spec: &CreateSpec) -> Result<Box<dyn BackingStore>, StorageError> {
        let _ = spec;
        Err(StorageError::NotSupported {
            kind: self.kind().name(),
            op: "take snapshots",
            hint: "make a full copy instead (lxc-copy without -s), or use a btrfs or overlay container".into(),
        })
    }
    /// True when this store depends on another container's files (an overlay's lower):
    /// the origin must then record it (`lxc_snapshots`/`lxc_rdepends`) and must not be
    /// destroyed while it exists.
    fn needs_rdep(&self) -> bool {
        false
    }
    /// The size of a block store's filesystem, in bytes.
    fn fs_size(&self) -> Option<u64> {
        None
    }
    /// The filesystem type of a block store (`ext4`, `xfs`, …), when it can be told.
    fn fs_type(&self) -> Option<String> {
        None
    }
    /// The files and directories this store consists of, the ones [`replace`] renames:
    /// the tree (dir, btrfs), the image (loop), the upper and work directories (overlay).
    fn own_paths(&self) -> Vec<PathBuf> {
        vec![self.path().to_path_buf()]
    }
    /// The same store after its own files were renamed so that [`BackingStore::path`] is
    /// `to` (the others beside it under their own names). `None` for a store that renaming
    /// files cannot move (an LVM volume, a ZFS dataset).
    fn relocated(&self, to: &Path) -> Option<Box<dyn BackingStore>> {
        let _ = to;
        None
    }
}

impl dyn BackingStore {
    /// Makes the rootfs of a new container from this one; see [`clone_to`].
    pub fn clone_to(
        &self,
        kind: Option<Kind>,
        spec: &CreateSpec,
        snapshot: bool,
    ) -> Result<Box<dyn BackingStore>, StorageError> {
        clone::clone_to(self, kind, spec, snapshot)
    }
}

/// Creates a new rootfs of `kind` for a new container.
pub fn create(kind: Kind, spec: &CreateSpec) -> Result<Box<dyn BackingStore>, StorageError> {
    match kind {
        Kind::Dir => Ok(Box::new(DirStore::create(spec)?)),
        Kind::Overlay => Ok(Box::new(OverlayStore::create(spec)?)),
        Kind::Loop => Ok(Box::new(LoopStore::create(spec)?)),
        Kind::Btrfs => Ok(Box::new(BtrfsStore::create(spec)?)),
        other => Err(StorageError::Unsupported {
            kind: other.name().to_string(),
        }),
    }
}

/// Tries each kind of a `-B` list (`best`, `lvm,dir`, …) in order; the first that can
/// be created wins. The error of the last one tried is returned when none can.
pub fn create_first(
    kinds: &[Kind],
    spec: &CreateSpec,
) -> Result<Box<dyn BackingStore>, StorageError> {
    let mut last = None;
    for k in kinds {
        match create(*k, spec) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or(StorageError::Unsupported {
        kind: "(none)".into(),
    }))
}

/// Opens the store named by an `lxc.rootfs.path` value (`[type:]path`).
pub fn open(rootfs_path: &str) -> Result<Box<dyn BackingStore>, StorageError> {
    let (kind, path) = kind::split_rootfs_path(rootfs_path);
    let kind = match kind {
        Some(k) => k,
        None => kind::detect(Path::new(path))?,
    };
    match kind {
        Kind::Dir => Ok(Box::new(DirStore::open(Path::new(path)))),
        Kind::Overlay => Ok(Box::new(OverlayStore::parse(path)?)),
        Kind::Loop => Ok(Box::new(LoopStore::open(Path::new(path)))),
        Kind::Btrfs => Ok(Box::new(BtrfsStore::open(Path::new(path)))),
        other => Err(StorageError::Unsupported {
            kind: other.name().to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_by_prefix() {
        let s = open("overlay:/var/lib/lxc/a/rootfs:/var/lib/lxc/b/overlay/delta").unwrap();
        assert_eq!(s.kind(), Kind::Overlay);
        assert!(s.needs_rdep());
        assert_eq!(
            s.rootfs_path(),
            "overlay:/var/lib/lxc/a/rootfs:/var/lib/lxc/b/overlay/delta"
        );
        let s = open("overlayfs:/l1:/l2:/c/overlay/delta").unwrap();
        assert_eq!(s.rootfs_path(), "overlay:/l1:/l2:/c/overlay/delta");
        let s = open("loop:/var/lib/lxc/c1/rootdev").unwrap();
        assert_eq!(s.kind(), Kind::Loop);
        assert!(s.capabilities().block_based && !s.capabilities().can_snapshot);
        let s = open("btrfs:/var/lib/lxc/c1/rootfs").unwrap();
        assert_eq!(s.kind(), Kind::Btrfs);
        assert!(s.capabilities().can_snapshot && s.capabilities().instant_clone);
        assert_eq!(open("dir:/x").unwrap().direct_tree(), Some(Path::new("/x")));
        let e = open("zfs:tank/c1").unwrap_err().to_string();
        assert_eq!(
            e.lines().next().unwrap(),
            "backing store 'zfs' is not supported yet"
        );
        assert!(open("lvm:/dev/vg/c1")
            .unwrap_err()
            .to_string()
            .contains("'lvm' is not supported yet"));
        assert!(open("overlay:/only-one")
            .unwrap_err()
            .to_string()
            .contains("lower"));
    }

    #[test]
    fn capabilities_are_data() {
        let t = tempfile::tempdir().unwrap();
        let spec = CreateSpec::new(t.path().join("c1"), "c1");
        let d = create(Kind::Dir, &spec).unwrap();
        assert_eq!(
            d.capabilities(),
            Capabilities {
                can_snapshot: false,
                can_backup: true,
                instant_clone: false,
                block_based: false
            }
        );
        let e = d
            .snapshot(&CreateSpec::new(t.path().join("c2"), "c2"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("the dir backing store cannot take snapshots"),
            "{e}"
        );
    }

    #[test]
    fn best_falls_back_to_dir_off_btrfs() {
        let t = tempfile::tempdir().unwrap();
        if kind::is_on_btrfs(t.path()) {
            return;
        }
        let spec = CreateSpec::new(t.path().join("c1"), "c1");
        let s = create_first(&parse_bdev_list("best").unwrap(), &spec).unwrap();
        assert_eq!(s.kind(), Kind::Dir);
        assert_eq!(
            s.rootfs_path(),
            format!("dir:{}", t.path().join("c1/rootfs").display())
        );
        // The failed btrfs attempt left nothing but the container dir.
        let names: Vec<_> = std::fs::read_dir(t.path().join("c1"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("rootfs")]);
    }
}
