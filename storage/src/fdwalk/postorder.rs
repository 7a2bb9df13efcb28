//! A depth-first, children-before-parent walk below an open directory, for removal and
//! for destroying nested btrfs subvolumes. It holds one descriptor per level (the stack
//! of open ancestors) and never goes back up by name: a directory renamed or swapped
//! for a symlink by someone else cannot lead the walk out of the tree.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::sys::stat::FileStat;

use super::{open_dir, read_names, stat_at, Opened};
use crate::StorageError;

/// What to do with a non-directory entry (or a name that stopped being a directory).
pub(crate) enum Leaf {
    Done,
    /// It is a directory after all (it changed under us): look at it again.
    IsDir,
}

/// What happened when leaving a directory.
pub(crate) enum Leave {
    Done,
    /// Entries appeared meanwhile: list it again.
    Again,
}

/// The callbacks of a post-order walk. `shown` is the path for messages only.
pub(crate) trait Visit {
    /// About to enter the directory `st` (below one on `parent_dev`); an error stops.
    fn enter(&mut self, shown: &Path, st: &FileStat, parent_dev: u64) -> Result<(), StorageError>;
    /// A non-directory `name` of `dir`.
    fn leaf(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        shown: &Path,
    ) -> Result<Leaf, StorageError>;
    /// The directory `name` of `parent` (`st`), after all its entries.
    fn leave(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &OsStr,
        st: &FileStat,
        parent_dev: u64,
        shown: &Path,
    ) -> Result<Leave, StorageError>;
    /// A mount point: never entered.
    fn mount(&mut self, shown: &Path) -> Result<(), StorageError>;
}

struct Frame {
    fd: OwnedFd,
    st: FileStat,
    names: Vec<OsString>,
    next: usize,
    /// The name in the parent frame (none for the root).
    name: OsString,
    shown: PathBuf,
    again: u32,
}

/// How often a directory is listed again when entries keep appearing in it, and how
/// often a name that keeps changing kind is looked at again, before giving up.
const RETRIES: u32 = 16;

fn frame(fd: OwnedFd, name: OsString, shown: PathBuf) -> Result<Frame, StorageError> {
    let st =
        nix::sys::stat::fstat(&fd).map_err(|e| StorageError::io("inspect", &shown, e.into()))?;
    let names =
        read_names(fd.as_fd()).map_err(|e| StorageError::io("read directory", &shown, e))?;
    Ok(Frame {
        fd,
        st,
        names,
        next: 0,
        name,
        shown,
        again: 0,
    })
}

/// Visits everything below the open directory `root` (shown as `shown`), children
/// before their parent; the root itself is the caller's.
pub(crate) fn walk_below(
    root: OwnedFd,
    shown: &Path,
    v: &mut dyn Visit,
) -> Result<(), StorageError> {
    let mut stack = vec![frame(root, OsString::new(), shown.to_path_buf())?];
    let mut changes = 0u32;
    while let Some(top) = stack.last_mut() {
        if top.next == top.names.len() {
            if stack.len() == 1 {
                return Ok(());
            }
            let Some(done) = stack.pop() else { break };
            let Some(parent) = stack.last_mut() else {
                break;
            };
            let r = v.leave(
                parent.fd.as_fd(),
                &done.name,
                &done.st,
                parent.st.st_dev,
                &done.shown,
            )?;
            if let Leave::Again = r {
                if done.again >= RETRIES {
                    return Err(StorageError::Invalid(format!(
                        "{} keeps getting new entries while it is being removed\nhint: stop whatever writes there (the container) and try again",
                        done.shown.display()
                    )));
                }
                let mut f = frame(done.fd, done.name, done.shown)?;
                f.again = done.again + 1;
                stack.push(f);
            }
            continue;
        }
        let name = top.names[top.next].clone();
        top.next += 1;
        let shown = top.shown.join(&name);
        let dir = top.fd.as_fd();
        let Some(st) = stat_at(dir, &name).map_err(|e| StorageError::io("inspect", &shown, e))?
        else {
            continue;
        };
        let as_leaf = st.st_mode & libc::S_IFMT != libc::S_IFDIR;
        let child = if as_leaf {
            None
        } else {
            match open_dir(dir, &name).map_err(|e| StorageError::io("open directory", &shown, e))? {
                Opened::Fd(fd) => Some(fd),
                Opened::Mount => {
                    v.mount(&shown)?;
                    continue;
                }
                Opened::Changed => None,
            }
        };
        match child {
            Some(fd) => {
                let f = frame(fd, name, shown)?;
                v.enter(&f.shown, &f.st, top.st.st_dev)?;
                stack.push(f);
            }
            None => {
                if let Leaf::IsDir = v.leaf(dir, &name, &shown)? {
                    changes += 1;
                    if changes > RETRIES * 64 {
                        return Err(StorageError::Invalid(format!(
                            "{} keeps changing between a directory and something else\nhint: stop whatever writes there (the container) and try again",
                            shown.display()
                        )));
                    }
                    top.next -= 1;
                }
            }
        }
    }
    Ok(())
}
