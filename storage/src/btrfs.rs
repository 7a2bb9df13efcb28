//! The `btrfs` backend: the rootfs is a subvolume (`<container>/rootfs`), cloned by a
//! writable snapshot on the same filesystem. All through the `libbtrfs` crate's ioctls
//! (`BTRFS_IOC_SUBVOL_CREATE_V2`, `BTRFS_IOC_SNAP_CREATE_V2`, `BTRFS_IOC_SNAP_DESTROY_V2`,
//! `BTRFS_IOC_GET_SUBVOL_ROOTREF` to find nested subvolumes): no `btrfs` command.

use std::path::{Path, PathBuf};

use nix::mount::{umount2, MntFlags};

use std::ffi::OsStr;
use std::os::fd::BorrowedFd;

use nix::sys::stat::FileStat;

use crate::fdwalk;
use crate::fdwalk::postorder::{walk_below, Leaf, Leave, Visit};
use crate::kind::{is_btrfs_subvolume, is_on_btrfs, Kind};
use crate::{remove, BackingStore, Capabilities, CreateSpec, StorageError};

/// A btrfs subvolume rootfs.
#[derive(Debug, Clone)]
pub struct BtrfsStore {
    path: PathBuf,
}

impl BtrfsStore {
    /// Makes the subvolume `<container_dir>/rootfs`; the container directory must be on
    /// btrfs.
    pub fn create(spec: &CreateSpec) -> Result<BtrfsStore, StorageError> {
        let dir = &spec.container_dir;
        std::fs::create_dir_all(dir)
            .map_err(|e| StorageError::io("create container directory", dir, e))?;
        check_on_btrfs(dir)?;
        let path = dir.join("rootfs");
        libbtrfs::subvol::create(&path).map_err(|e| StorageError::btrfs("create", &path, e))?;
        Ok(BtrfsStore { path })
    }

    /// An existing subvolume.
    pub fn open(path: &Path) -> BtrfsStore {
        BtrfsStore {
            path: path.to_path_buf(),
        }
    }

    /// A writable snapshot of this subvolume as `<spec.container_dir>/rootfs`, which must
    /// be on the same btrfs filesystem. Nested subvolumes are not part of a btrfs
    /// snapshot: they appear as empty directories in it.
    pub fn snapshot_to(&self, spec: &CreateSpec) -> Result<BtrfsStore, StorageError> {
        let dir = &spec.container_dir;
        std::fs::create_dir_all(dir)
            .map_err(|e| StorageError::io("create container directory", dir, e))?;
        check_on_btrfs(dir)?;
        let path = dir.join("rootfs");
        libbtrfs::snap::create(self.path.as_path(), path.as_path(), false)
            .map_err(|e| StorageError::btrfs("snapshot", &self.path, e))?;
        Ok(BtrfsStore { path })
    }

    /// True when `dir` is on the same btrfs filesystem as this subvolume (a snapshot can
    /// go there).
    pub fn same_filesystem(&self, dir: &Path) -> bool {
        let fsid = |p: &Path| {
            libbtrfs::fs::info(p, libbtrfs::Flags::empty())
                .ok()
                .map(|i| i.fsid())
        };
        is_on_btrfs(dir) && fsid(&self.path).is_some() && fsid(&self.path) == fsid(dir)
    }
}

fn check_on_btrfs(dir: &Path) -> Result<(), StorageError> {
    if is_on_btrfs(dir) {
        Ok(())
    } else {
        Err(StorageError::NotSupported {
            kind: "btrfs",
            op: "be used here",
            hint: format!("{} is not on a btrfs filesystem; put the lxcpath on btrfs (-P) or choose another -B", dir.display()),
        })
    }
}

impl BackingStore for BtrfsStore {
    fn kind(&self) -> Kind {
        Kind::Btrfs
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            can_snapshot: true,
            can_backup: true,
            instant_clone: true,
            block_based: false,
        }
    }

    fn rootfs_path(&self) -> String {
        format!("btrfs:{}", self.path.display())
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn relocated(&self, to: &Path) -> Option<Box<dyn BackingStore>> {
        Some(Box::new(BtrfsStore::open(to)))
    }

    fn direct_tree(&self) -> Option<&Path> {
        Some(&self.path)
    }

    fn mount(&self, target: &Path) -> Result<(), StorageError> {
        crate::dir::bind_tree(&self.path, target)
    }

    fn umount(&self, target: &Path) -> Result<(), StorageError> {
        umount2(target, MntFlags::MNT_DETACH)
            .map_err(|e| StorageError::io("unmount", target, e.into()))
    }

    /// Deletes the subvolume and every subvolume nested in it (deepest first). A path
    /// that is a plain directory (a rootfs made before the filesystem was btrfs, or
    /// copied in) is removed as a tree.
    fn destroy(&self) -> Result<(), StorageError> {
        let md = match std::fs::symlink_metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StorageError::io("inspect", &self.path, e)),
        };
        if !is_btrfs_subvolume(&self.path, &md) {
            return remove::remove_tree_onedev(&self.path);
        }
        // Nested subvolumes first, deepest first, found by a descriptor walk (not
        // libbtrfs' iterator or destroy_all: they open nested paths following symlinks)
        // and each destroyed by name in its parent's open directory.
        let root = fdwalk::open_root(&self.path)
            .map_err(|e| StorageError::io("open directory", &self.path, e))?;
        walk_below(root, &self.path, &mut NestedDestroyer)?;
        libbtrfs::subvol::destroy(&self.path)
            .map_err(|e| StorageError::btrfs("destroy", &self.path, e))
    }

    fn snapshot(&self, spec: &CreateSpec) -> Result<Box<dyn BackingStore>, StorageError> {
        Ok(Box::new(self.snapshot_to(spec)?))
    }
}

/// The inode number of every btrfs subvolume root (`BTRFS_FIRST_FREE_OBJECTID`).
const SUBVOL_ROOT_INO: u64 = 256;

/// Destroys the subvolumes nested below a walked one, children first; touches nothing
/// else (the subvolume destroy removes their files).
struct NestedDestroyer;

impl Visit for NestedDestroyer {
    fn enter(&mut self, _: &Path, _: &FileStat, _: u64) -> Result<(), StorageError> {
        Ok(())
    }

    fn leaf(&mut self, _: BorrowedFd<'_>, _: &OsStr, _: &Path) -> Result<Leaf, StorageError> {
        Ok(Leaf::Done)
    }

    fn leave(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &OsStr,
        st: &FileStat,
        parent_dev: u64,
        shown: &Path,
    ) -> Result<Leave, StorageError> {
        if st.st_dev != parent_dev && st.st_ino == SUBVOL_ROOT_INO {
            use std::os::unix::ffi::OsStrExt;
            libbtrfs::subvol::fd::destroy(parent, name.as_bytes())
                .map_err(|e| StorageError::btrfs("destroy nested", shown, e))?;
        }
        Ok(Leave::Done)
    }

    fn mount(&mut self, shown: &Path) -> Result<(), StorageError> {
        Err(StorageError::CrossDevice {
            path: shown.to_path_buf(),
        })
    }
}
