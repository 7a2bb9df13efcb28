//! Recursive removal that never leaves the filesystem it starts on and never follows
//! symlinks: a bind mount or a mount point left inside a rootfs is refused, not emptied.
//! It works on directory descriptors ([`crate::fdwalk`]) with `unlinkat`, so a directory
//! swapped for a symlink while the removal runs (a tree someone is still writing to)
//! has the symlink removed, never its target's contents.

use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::sys::stat::FileStat;
use nix::unistd::{unlinkat, UnlinkatFlags};

use crate::fdwalk;
use crate::fdwalk::postorder::{walk_below, Leaf, Leave, Visit};
use crate::StorageError;

/// Removes `path` and everything below it. Symlinks are removed, not followed. A
/// directory on another device than `path` stops the removal with
/// [`StorageError::CrossDevice`]. A missing `path` is not an error.
pub fn remove_tree_onedev(path: &Path) -> Result<(), StorageError> {
    // Nothing to remove when even the parent is gone (a removal finished by an earlier,
    // interrupted run: the next command's recovery must not fail on it).
    let Some((parent, name)) = open_parent(path)? else {
        return Ok(());
    };
    let Some(st) =
        fdwalk::stat_at(parent.as_fd(), name).map_err(|e| StorageError::io("inspect", path, e))?
    else {
        return Ok(());
    };
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
        return unlink(parent.as_fd(), name, path).map(drop);
    }
    fdwalk::raise_nofile_limit();
    for _ in 0..16 {
        // The root may itself be a mount point (a scratch mount): open it as given.
        let root = nix::fcntl::openat(
            parent.as_fd(),
            name,
            nix::fcntl::OFlag::O_RDONLY
                | nix::fcntl::OFlag::O_DIRECTORY
                | nix::fcntl::OFlag::O_NOFOLLOW
                | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        );
        let root = match root {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return Ok(()),
            Err(Errno::ELOOP | Errno::ENOTDIR) => {
                return unlink(parent.as_fd(), name, path).map(drop)
            }
            Err(e) => return Err(StorageError::io("open directory", path, e.into())),
        };
        empty_dir(root, path)?;
        match unlinkat(parent.as_fd(), name, UnlinkatFlags::RemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => return Ok(()),
            Err(Errno::ENOTEMPTY | Errno::EEXIST) => continue,
            Err(e) => return Err(StorageError::io("remove directory", path, e.into())),
        }
    }
    Err(StorageError::Invalid(format!(
        "{} keeps getting new entries while it is being removed\nhint: stop whatever writes there (the container) and try again",
        path.display()
    )))
}

/// Removes everything inside the open directory `root` (shown as `shown`), on its
/// device only.
pub(crate) fn empty_dir(root: OwnedFd, shown: &Path) -> Result<(), StorageError> {
    let st =
        nix::sys::stat::fstat(&root).map_err(|e| StorageError::io("inspect", shown, e.into()))?;
    walk_below(root, shown, &mut Remover { dev: st.st_dev })
}

/// The parent directory of `path` (the caller's, trusted) and the last component.
fn open_parent(path: &Path) -> Result<Option<(OwnedFd, &OsStr)>, StorageError> {
    let name = path.file_name().ok_or_else(|| {
        StorageError::Invalid(format!(
            "refusing to remove {}: the path does not end in a name",
            path.display()
        ))
    })?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match nix::fcntl::open(
        parent,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    ) {
        Ok(fd) => Ok(Some((fd, name))),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(StorageError::io("open directory", parent, e.into())),
    }
}

/// `unlinkat` of a non-directory; `Leaf::IsDir` when it became a directory.
fn unlink(dir: BorrowedFd<'_>, name: &OsStr, shown: &Path) -> Result<Leaf, StorageError> {
    match unlinkat(dir, name, UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => Ok(Leaf::Done),
        Err(Errno::EISDIR) => Ok(Leaf::IsDir),
        Err(e) => Err(StorageError::io("remove", shown, e.into())),
    }
}

struct Remover {
    dev: u64,
}

impl Visit for Remover {
    fn enter(&mut self, shown: &Path, st: &FileStat, _parent_dev: u64) -> Result<(), StorageError> {
        if st.st_dev != self.dev {
            return Err(StorageError::CrossDevice {
                path: shown.to_path_buf(),
            });
        }
        Ok(())
    }

    fn leaf(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        shown: &Path,
    ) -> Result<Leaf, StorageError> {
        unlink(dir, name, shown)
    }

    fn leave(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &OsStr,
        _st: &FileStat,
        _parent_dev: u64,
        shown: &Path,
    ) -> Result<Leave, StorageError> {
        match unlinkat(parent, name, UnlinkatFlags::RemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => Ok(Leave::Done),
            Err(Errno::ENOTEMPTY | Errno::EEXIST) => Ok(Leave::Again),
            // Swapped for a non-directory after we emptied it: not ours to chase.
            Err(Errno::ENOTDIR) => Ok(Leave::Done),
            Err(e) => Err(StorageError::io("remove directory", shown, e.into())),
        }
    }

    fn mount(&mut self, shown: &Path) -> Result<(), StorageError> {
        Err(StorageError::CrossDevice {
            path: shown.to_path_buf(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_whose_parent_is_gone_is_already_removed() {
        let t = tempfile::tempdir().unwrap();
        remove_tree_onedev(&t.path().join("gone/delta")).unwrap();
        remove_tree_onedev(&t.path().join("gone")).unwrap();
    }

    #[test]
    fn removes_tree_without_following_symlinks() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("keep"), b"x").unwrap();
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("rootfs");
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/b/f"), b"y").unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("a/link")).unwrap();
        remove_tree_onedev(&root).unwrap();
        assert!(!root.exists());
        assert!(outside.path().join("keep").exists());
        remove_tree_onedev(&root).unwrap();
        // A symlink given as the root is removed, not followed.
        std::os::unix::fs::symlink(outside.path(), &root).unwrap();
        remove_tree_onedev(&root).unwrap();
        assert!(outside.path().join("keep").exists());
        assert!(root.symlink_metadata().is_err());
    }
}
