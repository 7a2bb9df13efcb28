//! Walking a tree that someone else may be changing (a running container's rootfs)
//! through directory file descriptors only: every name is looked up in the open
//! directory it was read from, one component at a time, with
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV)`. A directory swapped
//! for a symlink between the listing and the open is refused by the kernel (`ELOOP`), never
//! followed; a mount point is reported, never entered; no path is ever resolved again from
//! the top. Copy ([`crate::copy`]), removal ([`crate::remove`]) and the btrfs nested
//! subvolume destroy share these primitives.

pub(crate) mod postorder;

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Once;

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{FileStat, Mode};

/// The resolve flags of every lookup below a walked directory.
fn resolve() -> ResolveFlag {
    ResolveFlag::RESOLVE_BENEATH
        | ResolveFlag::RESOLVE_NO_SYMLINKS
        | ResolveFlag::RESOLVE_NO_XDEV
        | ResolveFlag::RESOLVE_NO_MAGICLINKS
}

/// What a name turned out to be when it was opened.
#[derive(Debug)]
pub(crate) enum Opened {
    /// The object, opened.
    Fd(OwnedFd),
    /// A mount point (another filesystem or a bind mount): not entered.
    Mount,
    /// Gone, or no longer of the kind asked for (a directory swapped for a symlink):
    /// the walk leaves it out.
    Changed,
}

/// Opens the root of a walk: `path` itself must not be a symlink. The components above
/// it are the caller's (an lxcpath, a scratch mount point), not the tree's.
pub(crate) fn open_root(path: &Path) -> io::Result<OwnedFd> {
    raise_nofile_limit();
    nix::fcntl::open(
        path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(io::Error::from)
}

/// Opens the directory `name` of `parent` for reading, without following a symlink and
/// without crossing into another mount.
pub(crate) fn open_dir(parent: BorrowedFd<'_>, name: &OsStr) -> io::Result<Opened> {
    open_beneath(
        parent,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
    )
}

/// Opens the regular file `name` of `parent` for reading, without following a symlink,
/// without blocking on a fifo swapped in, and without touching its access time where
/// allowed. Anything but a regular file is [`Opened::Changed`].
pub(crate) fn open_file(parent: BorrowedFd<'_>, name: &OsStr) -> io::Result<Opened> {
    let base = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK;
    let r = match open_beneath(parent, name, base | OFlag::O_NOATIME) {
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => open_beneath(parent, name, base),
        r => r,
    }?;
    let Opened::Fd(fd) = r else { return Ok(r) };
    let st = nix::sys::stat::fstat(&fd)?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Ok(Opened::Changed);
    }
    // O_NONBLOCK stays: it changes nothing for a regular file.
    Ok(Opened::Fd(fd))
}

fn open_beneath(parent: BorrowedFd<'_>, name: &OsStr, flags: OFlag) -> io::Result<Opened> {
    check_name(name)?;
    let how = OpenHow::new().flags(flags).resolve(resolve());
    match nix::fcntl::openat2(parent, name, how) {
        Ok(fd) => Ok(Opened::Fd(fd)),
        Err(Errno::EXDEV) => Ok(Opened::Mount),
        Err(Errno::ELOOP | Errno::ENOTDIR | Errno::ENOENT) => Ok(Opened::Changed),
        Err(Errno::ENOSYS) => open_fallback(parent, name, flags),
        Err(e) => Err(e.into()),
    }
}

/// Kernels without openat2 (before 5.6): a single-component `openat` with `O_NOFOLLOW`,
/// then the mount id of the result compared with its parent's.
fn open_fallback(parent: BorrowedFd<'_>, name: &OsStr, flags: OFlag) -> io::Result<Opened> {
    let fd = match nix::fcntl::openat(parent, name, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::ELOOP | Errno::ENOTDIR | Errno::ENOENT) => return Ok(Opened::Changed),
        Err(e) => return Err(e.into()),
    };
    match (mount_id(parent), mount_id(fd.as_fd())) {
        (Some(a), Some(b)) if a == b => Ok(Opened::Fd(fd)),
        (Some(_), Some(_)) => Ok(Opened::Mount),
        _ => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "cannot tell mount points apart on this kernel (no openat2, no statx mount id)",
        )),
    }
}

/// The id of the mount an open file is on (statx `STATX_MNT_ID`, Linux 5.8+).
pub(crate) fn mount_id(fd: BorrowedFd<'_>) -> Option<u64> {
    let mut sx = std::mem::MaybeUninit::<libc::statx>::zeroed();
    // SAFETY: the path is a static empty C string used with AT_EMPTY_PATH on a valid fd;
    // sx points to writable memory of the size of struct statx.
    let r = unsafe {
        libc::statx(
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            libc::STATX_MNT_ID,
            sx.as_mut_ptr(),
        )
    };
    if r != 0 {
        return None;
    }
    // SAFETY: statx succeeded and initialised the struct (it was zeroed before anyway).
    let sx = unsafe { sx.assume_init() };
    (sx.stx_mask & libc::STATX_MNT_ID != 0).then_some(sx.stx_mnt_id)
}

/// A single path component: what a directory listing gives, never `/`, `.` or `..`.
fn check_name(name: &OsStr) -> io::Result<()> {
    let b = name.as_bytes();
    if b.is_empty() || b == b"." || b == b".." || b.contains(&b'/') || b.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{:?} is not a single file name", name),
        ));
    }
    Ok(())
}

/// `fstatat(parent, name, AT_SYMLINK_NOFOLLOW)`; `None` when the name is gone.
pub(crate) fn stat_at(parent: BorrowedFd<'_>, name: &OsStr) -> io::Result<Option<FileStat>> {
    check_name(name)?;
    match nix::sys::stat::fstatat(parent, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The names in the open directory `dir` (without `.` and `..`), read through a
/// duplicate of the descriptor so `dir` stays usable for `*at` calls.
pub(crate) fn read_names(dir: BorrowedFd<'_>) -> io::Result<Vec<OsString>> {
    let dup = dir.try_clone_to_owned()?;
    let mut d = nix::dir::Dir::from_fd(dup)?;
    // A duplicate shares the offset: start from the top even if it was read before.
    nix::unistd::lseek(dir, 0, nix::unistd::Whence::SeekSet)?;
    let mut out = Vec::new();
    for e in d.iter() {
        let e = e?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            out.push(OsStr::from_bytes(n).to_os_string());
        }
    }
    Ok(out)
}

/// `/proc/self/fd/<dir>/<name>`: a path for the `l*xattr` calls, which have no `*at`
/// form before Linux 6.13. The magic link pins the directory; the last component is
/// looked up in it without following.
pub(crate) fn at_path(dir: BorrowedFd<'_>, name: &OsStr) -> PathBuf {
    let mut p = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
    if !name.is_empty() {
        p.push(name);
    }
    p
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit once per process: a walk holds one
/// descriptor per level of the tree (two for a copy), plus those of queued files.
pub(crate) fn raise_nofile_limit() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        use nix::sys::resource::{getrlimit, setrlimit, Resource};
        if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
            if soft < hard {
                let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_symlinks_and_reports_changes() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("d")).unwrap();
        std::fs::write(t.path().join("f"), b"x").unwrap();
        std::os::unix::fs::symlink("/etc", t.path().join("l")).unwrap();
        let root = open_root(t.path()).unwrap();
        assert!(matches!(
            open_dir(root.as_fd(), OsStr::new("d")).unwrap(),
            Opened::Fd(_)
        ));
        assert!(matches!(
            open_dir(root.as_fd(), OsStr::new("l")).unwrap(),
            Opened::Changed
        ));
        assert!(matches!(
            open_file(root.as_fd(), OsStr::new("l")).unwrap(),
            Opened::Changed
        ));
        assert!(matches!(
            open_file(root.as_fd(), OsStr::new("d")).unwrap(),
            Opened::Changed
        ));
        assert!(matches!(
            open_file(root.as_fd(), OsStr::new("f")).unwrap(),
            Opened::Fd(_)
        ));
        assert!(open_dir(root.as_fd(), OsStr::new("..")).is_err());
        assert!(open_dir(root.as_fd(), OsStr::new("d/..")).is_err());
        let mut names = read_names(root.as_fd()).unwrap();
        names.sort();
        assert_eq!(names, ["d", "f", "l"]);
        assert!(open_root(&t.path().join("l")).is_err());
    }
}
