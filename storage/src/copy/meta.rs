//! An entry's metadata, in the order the kernel needs: owner first (chown drops setuid
//! bits and `security.capability`), then mode, then extended attributes (POSIX ACLs are
//! the `system.posix_acl_*` ones), then timestamps last (everything before changes them).
//! Everything goes through open descriptors, or a name in an open directory.

use std::ffi::OsStr;
use std::fs::{File, Permissions};
use std::os::fd::BorrowedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use nix::fcntl::AtFlags;
use nix::sys::stat::{
    fchmodat, futimens, utimensat, FchmodatFlags, FileStat, Mode, UtimensatFlags,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchownat, Gid, Uid};

use crate::fdwalk::at_path;
use crate::StorageError;

fn times(st: &FileStat) -> (TimeSpec, TimeSpec) {
    (
        TimeSpec::new(st.st_atime, st.st_atime_nsec),
        TimeSpec::new(st.st_mtime, st.st_mtime_nsec),
    )
}

/// Owner, mode, xattrs and times of a regular file or a directory, through open
/// descriptors on both sides.
pub(crate) fn apply_fd(
    st: &FileStat,
    src: &File,
    src_path: &Path,
    dst: &File,
    dst_path: &Path,
) -> Result<(), StorageError> {
    std::os::unix::fs::fchown(dst, Some(st.st_uid), Some(st.st_gid))
        .map_err(|err| StorageError::write("set the owner of", dst_path, err))?;
    dst.set_permissions(Permissions::from_mode(st.st_mode & 0o7777))
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
    let (a, m) = times(st);
    futimens(dst, &a, &m)
        .map_err(|err| StorageError::write("set the times of", dst_path, err.into()))
}

/// Owner, mode, xattrs and times of the entry `name` of the open directory `ddir`,
/// never following a symlink: symlinks, device nodes, fifos and sockets (which cannot
/// be opened to copy them). The xattrs come from `name` in `sdir`.
pub(crate) fn apply_at(
    st: &FileStat,
    sdir: BorrowedFd<'_>,
    ddir: BorrowedFd<'_>,
    name: &OsStr,
    src_path: &Path,
    dst_path: &Path,
) -> Result<(), StorageError> {
    let symlink = st.st_mode & libc::S_IFMT == libc::S_IFLNK;
    fchownat(
        ddir,
        name,
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(|err| StorageError::write("set the owner of", dst_path, err.into()))?;
    // A symlink's mode is always 0777 and chmod would follow it. The destination is
    // ours and was just made as a node, so following is not an issue otherwise.
    if !symlink {
        fchmodat(
            ddir,
            name,
            Mode::from_bits_truncate(st.st_mode & 0o7777),
            FchmodatFlags::FollowSymlink,
        )
        .map_err(|err| StorageError::write("set the mode of", dst_path, err.into()))?;
    }
    copy_xattrs_at(sdir, ddir, name, src_path, dst_path)?;
    let (a, m) = times(st);
    utimensat(ddir, name, &a, &m, UtimensatFlags::NoFollowSymlink)
        .map_err(|err| StorageError::write("set the times of", dst_path, err.into()))
}

/// Copies every extended attribute of `name` in `sdir` to `name` in `ddir`, without
/// following symlinks (the `l*xattr` calls on `/proc/self/fd/N/name`).
fn copy_xattrs_at(
    sdir: BorrowedFd<'_>,
    ddir: BorrowedFd<'_>,
    name: &OsStr,
    src_path: &Path,
    dst_path: &Path,
) -> Result<(), StorageError> {
    let (src, dst) = (at_path(sdir, name), at_path(ddir, name));
    let names = match xattr::list(&src) {
        Ok(n) => n,
        // Gone meanwhile (a running source): nothing to copy.
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
        Err(e) => {
            return Err(StorageError::io(
                "list the extended attributes of",
                src_path,
                e,
            ))
        }
    };
    for xname in names {
        let Some(value) = xattr::get(&src, &xname)
            .map_err(|err| StorageError::io("read the extended attributes of", src_path, err))?
        else {
            continue;
        };
        xattr::set(&dst, &xname, &value).map_err(|err| xattr_error(dst_path, &xname, err))?;
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
/// upper, which overlayfs shows as the rootfs root. Both paths are the caller's.
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
