//! The workers' part of a copy: one non-directory entry, looked up by name in its open
//! source directory and made by name in its open destination directory.

use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::AsFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::{mknodat, FileStat, Mode, SFlag};

use super::data;
use super::meta;
use super::node::DirNode;
use crate::fdwalk::{self, Opened};
use crate::StorageError;

/// One entry for a worker: `name` in `dir`, as the walker saw it.
pub(crate) struct Job<'a> {
    pub dir: Arc<DirNode<'a>>,
    pub name: std::ffi::OsString,
    pub st: FileStat,
}

/// Copies one entry. Something that vanished or changed kind since the walker saw it
/// (a running source) is left out and counted.
pub(crate) fn copy(job: &Job<'_>, buf: &mut Vec<u8>) -> Result<(), StorageError> {
    let (dir, name, st) = (&job.dir, job.name.as_os_str(), &job.st);
    let made = match st.st_mode & libc::S_IFMT {
        libc::S_IFREG => file(dir, name, buf)?,
        libc::S_IFLNK => symlink(dir, name, st)?,
        _ => node(dir, name, st)?,
    };
    let counter = if made {
        &dir.shared.entries
    } else {
        &dir.shared.changed
    };
    counter.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

fn file(dir: &DirNode<'_>, name: &OsStr, buf: &mut Vec<u8>) -> Result<bool, StorageError> {
    let sp = dir.src_path(name);
    let sf = match fdwalk::open_file(dir.src.as_fd(), name)
        .map_err(|e| StorageError::io("open", &sp, e))?
    {
        Opened::Fd(fd) => File::from(fd),
        Opened::Mount => {
            if let Ok(mut m) = dir.shared.mount_points.lock() {
                m.push(dir.rel.join(name));
            }
            return Ok(false);
        }
        Opened::Changed => return Ok(false),
    };
    let st = nix::sys::stat::fstat(&sf).map_err(|e| StorageError::io("inspect", &sp, e.into()))?;
    let dp = dir.dst_path(name);
    let df = nix::fcntl::openat(
        dir.dst.as_fd(),
        name,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )
    .map_err(|e| StorageError::write("create", &dp, e.into()))?;
    let df = File::from(df);
    let size = u64::try_from(st.st_size).unwrap_or(0);
    let blocks = u64::try_from(st.st_blocks).unwrap_or(0);
    let sparse = blocks.saturating_mul(512) < size;
    match data::copy_contents(&sf, &df, size, sparse, &dir.shared.paths, buf) {
        Ok(data::How::Reflink) => {
            dir.shared.reflinked.fetch_add(1, Ordering::Relaxed);
        }
        Ok(data::How::Copied) => {}
        Err(data::Side::Read(err)) => return Err(StorageError::io("read", &sp, err)),
        Err(data::Side::Write(err)) => return Err(StorageError::write("write", &dp, err)),
    }
    meta::apply_fd(&st, &sf, &sp, &df, &dp)?;
    Ok(true)
}

fn symlink(dir: &DirNode<'_>, name: &OsStr, st: &FileStat) -> Result<bool, StorageError> {
    let sp = dir.src_path(name);
    let target = match nix::fcntl::readlinkat(dir.src.as_fd(), name) {
        Ok(t) => t,
        // No longer a symlink, or gone.
        Err(Errno::EINVAL | Errno::ENOENT) => return Ok(false),
        Err(e) => return Err(StorageError::io("read symlink", &sp, e.into())),
    };
    let dp = dir.dst_path(name);
    nix::unistd::symlinkat(target.as_os_str(), dir.dst.as_fd(), name)
        .map_err(|e| StorageError::write("create symlink", &dp, e.into()))?;
    meta::apply_at(st, dir.src.as_fd(), dir.dst.as_fd(), name, &sp, &dp)?;
    Ok(true)
}

fn node(dir: &DirNode<'_>, name: &OsStr, st: &FileStat) -> Result<bool, StorageError> {
    let (sp, dp) = (dir.src_path(name), dir.dst_path(name));
    let kind = SFlag::from_bits_truncate(st.st_mode & libc::S_IFMT);
    let rdev = if matches!(kind, SFlag::S_IFCHR | SFlag::S_IFBLK) {
        st.st_rdev
    } else {
        0
    };
    mknodat(
        dir.dst.as_fd(),
        name,
        kind,
        Mode::from_bits_truncate(0o600),
        rdev,
    )
    .map_err(|e| StorageError::write("create device node", &dp, e.into()))?;
    meta::apply_at(st, dir.src.as_fd(), dir.dst.as_fd(), name, &sp, &dp)?;
    Ok(true)
}
