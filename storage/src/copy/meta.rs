//! An entry's metadata, in the order the kernel needs: owner first (chown drops setuid
//! bits and `security.capability`), then mode, then extended attributes (POSIX ACLs are
//! the `system.posix_acl_*` ones), then timestamps last (everything before changes them).

use std::fs::{File, Permissions};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use nix::sys::stat::{futimens, utimensat, UtimensatFlags};
use nix::sys::time::TimeSpec;

use super::walk::Entry;
use crate::StorageError;

fn timespec((sec, nsec): (i64, i64)) -> TimeSpec {
    TimeSpec::new(sec, nsec)
}

/// Owner, mode, xattrs and times of a regular file, through open descriptors.
pub(crate) fn apply_fd(
    e: &Entry,
    src: &File,
    src_path: &Path,
    dst: &File,
    dst_path: &Path,
) -> Result<(), StorageError> {
    std::os::unix::fs::fchown(dst, Some(e.uid), Some(e.gid))
        .map_err(|err| StorageError::write("set the owner of", dst_path, err))?;
    dst.set_permissions(Permissions::from_mode(e.mode & 0o7777))
        .map_err(|err| StorageError::write("set the mode of", dst_path, err))?;
    let names = xattr::FileExt::list_xattr(src)
        .map_err(|err| StorageError::io("list the extended attributes of", src_path, err))?;
    for name in names {
        let Some(value) = xattr::FileExt::get_xattr(src, &name)
            .map_err(|err| StorageError::io("read the extended attributes of", src_path, err))?
        else {
            continue;
        };
        xattr::FileExt::set_xattr(dst, &name, &value)
            .map_err(|err| xattr_error(dst_path, &name, err))?;
    }
    futimens(dst, &timespec(e.atime), &timespec(e.mtime))
        .map_err(|err| StorageError::write("set the times of", dst_path, err.into()))
}

/// Owner, mode, xattrs and times by path, never following a symlink: directories,
/// symlinks, device nodes, fifos and sockets (which cannot be opened to copy them).
pub(crate) fn apply_path(
    e: &Entry,
    src_path: &Path,
    dst_path: &Path,
    symlink: bool,
) -> Result<(), StorageError> {
    std::os::unix::fs::lchown(dst_path, Some(e.uid), Some(e.gid))
        .map_err(|err| StorageError::write("set the owner of", dst_path, err))?;
    // A symlink's mode is always 0777 and chmod would follow it.
    if !symlink {
        std::fs::set_permissions(dst_path, Permissions::from_mode(e.mode & 0o7777))
            .map_err(|err| StorageError::write("set the mode of", dst_path, err))?;
    }
    copy_xattrs_path(src_path, dst_path)?;
    utimensat(
        nix::fcntl::AT_FDCWD,
        dst_path,
        &timespec(e.atime),
        &timespec(e.mtime),
        UtimensatFlags::NoFollowSymlink,
    )
    .map_err(|err| StorageError::write("set the times of", dst_path, err.into()))
}

/// Copies every extended attribute of `src` to `dst`, without following symlinks.
fn copy_xattrs_path(src: &Path, dst: &Path) -> Result<(), StorageError> {
    let names = xattr::list(src)
        .map_err(|err| StorageError::io("list the extended attributes of", src, err))?;
    for name in names {
        let Some(value) = xattr::get(src, &name)
            .map_err(|err| StorageError::io("read the extended attributes of", src, err))?
        else {
            continue;
        };
        xattr::set(dst, &name, &value).map_err(|err| xattr_error(dst, &name, err))?;
    }
    Ok(())
}

fn xattr_error(dst: &Path, name: &std::ffi::OsStr, err: std::io::Error) -> StorageError {
    match err.raw_os_error() {
        Some(libc::ENOTSUP) => StorageError::Invalid(format!(
            "failed to copy extended attribute {} to {}: the destination filesystem does not support it\nhint: choose a destination filesystem with xattr support (ext4, xfs, btrfs)",
            name.to_string_lossy(),
            dst.display()
        )),
        _ => StorageError::write("set the extended attributes of", dst, err),
    }
}

/// Gives `dst` (a directory) the owner, mode and times of `src`: the root of an overlay
/// upper, which overlayfs shows as the rootfs root.
pub(crate) fn copy_root(src: &Path, dst: &Path) -> Result<(), StorageError> {
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::symlink_metadata(src).map_err(|e| StorageError::io("inspect", src, e))?;
    std::os::unix::fs::lchown(dst, Some(md.uid()), Some(md.gid()))
        .map_err(|e| StorageError::write("set the owner of", dst, e))?;
    std::fs::set_permissions(dst, Permissions::from_mode(md.mode() & 0o7777))
        .map_err(|e| StorageError::write("set the mode of", dst, e))?;
    let (a, m) = (
        TimeSpec::new(md.atime(), md.atime_nsec()),
        TimeSpec::new(md.mtime(), md.mtime_nsec()),
    );
    utimensat(
        nix::fcntl::AT_FDCWD,
        dst,
        &a,
        &m,
        UtimensatFlags::NoFollowSymlink,
    )
    .map_err(|e| StorageError::write("set the times of", dst, e.into()))
}
