//! The `dir` backend: the rootfs is a plain directory, bind-mounted at start.

use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};

use crate::kind::Kind;
use crate::{remove, BackingStore, Capabilities, CreateSpec, StorageError};

/// A directory rootfs.
#[derive(Debug, Clone)]
pub struct DirStore {
    path: PathBuf,
}

impl DirStore {
    /// Makes `<container_dir>/rootfs`, or the `--dir` given (which may exist: then it
    /// is used as it is, never emptied).
    pub fn create(spec: &CreateSpec) -> Result<DirStore, StorageError> {
        let path = match &spec.dir {
            Some(d) => {
                if !d.is_absolute() {
                    return Err(StorageError::Invalid(format!(
                        "--dir {}: the rootfs directory must be an absolute path",
                        d.display()
                    )));
                }
                d.clone()
            }
            None => spec.container_dir.join("rootfs"),
        };
        std::fs::create_dir_all(&path)
            .map_err(|e| StorageError::io("create rootfs directory", &path, e))?;
        Ok(DirStore { path })
    }

    /// An existing directory rootfs.
    pub fn open(path: &Path) -> DirStore {
        DirStore {
            path: path.to_path_buf(),
        }
    }
}

impl BackingStore for DirStore {
    fn kind(&self) -> Kind {
        Kind::Dir
    }

    fn capabilities(&self) -> Capabilities {
        // LXC turns a snapshot of a dir container into an overlay clone; the dir store
        // itself has no copy-on-write.
        Capabilities {
            can_snapshot: false,
            can_backup: true,
            instant_clone: false,
            block_based: false,
        }
    }

    fn rootfs_path(&self) -> String {
        format!("dir:{}", self.path.display())
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn relocated(&self, to: &Path) -> Option<Box<dyn BackingStore>> {
        Some(Box::new(DirStore::open(to)))
    }

    fn direct_tree(&self) -> Option<&Path> {
        Some(&self.path)
    }

    fn mount(&self, target: &Path) -> Result<(), StorageError> {
        bind_tree(&self.path, target)
    }

    fn umount(&self, target: &Path) -> Result<(), StorageError> {
        umount2(target, MntFlags::MNT_DETACH)
            .map_err(|e| StorageError::io("unmount", target, e.into()))
    }

    fn destroy(&self) -> Result<(), StorageError> {
        remove::remove_tree_onedev(&self.path)
    }
}

/// Recursive bind mount of a rootfs tree on `target`: how the tree-backed stores (dir,
/// btrfs) are mounted.
pub(crate) fn bind_tree(tree: &Path, target: &Path) -> Result<(), StorageError> {
    mount(
        Some(tree),
        target,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| StorageError::mount(format!("{} (bind)", tree.display()), target, e))
}
