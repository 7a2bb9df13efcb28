//! Recursive removal that never leaves the filesystem it starts on and never follows
//! symlinks: a bind mount or a mount point left inside a rootfs is refused, not emptied.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::StorageError;

/// Removes `path` and everything below it. Symlinks are removed, not followed. A
/// directory on another device than `path` stops the removal with
/// [`StorageError::CrossDevice`]. A missing `path` is not an error.
pub fn remove_tree_onedev(path: &Path) -> Result<(), StorageError> {
    let md = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StorageError::io("inspect", path, e)),
    };
    if !md.is_dir() {
        return fs::remove_file(path).map_err(|e| StorageError::io("remove", path, e));
    }
    remove_dir(path, md.dev())
}

fn remove_dir(dir: &Path, dev: u64) -> Result<(), StorageError> {
    let rd = fs::read_dir(dir).map_err(|e| StorageError::io("read directory", dir, e))?;
    for entry in rd {
        let entry = entry.map_err(|e| StorageError::io("read directory", dir, e))?;
        let p = entry.path();
        let md = fs::symlink_metadata(&p).map_err(|e| StorageError::io("inspect", &p, e))?;
        if md.is_dir() {
            if md.dev() != dev {
                return Err(StorageError::CrossDevice { path: p });
            }
            remove_dir(&p, dev)?;
        } else {
            fs::remove_file(&p).map_err(|e| StorageError::io("remove", &p, e))?;
        }
    }
    fs::remove_dir(dir).map_err(|e| StorageError::io("remove directory", dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
