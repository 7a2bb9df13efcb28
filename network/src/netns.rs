//! Network namespace references and running work inside another namespace.
//!
//! `setns(CLONE_NEWNET)` only changes the calling thread, and a netlink socket stays in
//! the namespace it was opened in, so work in another namespace runs on a short-lived
//! scoped thread that enters it. The thread is joined before returning: no thread
//! outlives the call (the caller may fork/clone right after).

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::sched::{setns, CloneFlags};

use crate::error::{NetError, Result};

/// A network namespace: the one of a process, an open nsfs file, or a path to one
/// (`/run/netns/NAME`, `/proc/PID/ns/net`).
#[derive(Debug, Clone, Copy)]
pub enum Netns<'a> {
    Pid(i32),
    Fd(BorrowedFd<'a>),
    Path(&'a Path),
}

impl Netns<'_> {
    fn path(&self) -> Option<PathBuf> {
        match self {
            Netns::Pid(pid) => Some(PathBuf::from(format!("/proc/{pid}/ns/net"))),
            Netns::Path(p) => Some(p.to_path_buf()),
            Netns::Fd(_) => None,
        }
    }

    /// An fd for the namespace (opened if needed).
    pub(crate) fn open(&self) -> Result<NsFd<'_>> {
        match self {
            Netns::Fd(fd) => Ok(NsFd::Borrowed(*fd)),
            _ => {
                let p = self.path().unwrap_or_default();
                let f = File::open(&p).map_err(NetError::io(format!(
                    "open network namespace {}",
                    p.display()
                )))?;
                Ok(NsFd::Owned(OwnedFd::from(f)))
            }
        }
    }

    pub(crate) fn describe(&self) -> String {
        match self {
            Netns::Pid(p) => format!("the network namespace of pid {p}"),
            Netns::Path(p) => format!("network namespace {}", p.display()),
            Netns::Fd(_) => "the given network namespace".into(),
        }
    }
}

/// An owned or borrowed namespace fd.
pub(crate) enum NsFd<'a> {
    Owned(OwnedFd),
    Borrowed(BorrowedFd<'a>),
}

impl AsFd for NsFd<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            NsFd::Owned(o) => o.as_fd(),
            NsFd::Borrowed(b) => *b,
        }
    }
}

/// The calling thread's own network namespace, as an fd (to come back to it, or to
/// move a device into it from another namespace).
pub fn current_netns() -> Result<OwnedFd> {
    let f = File::open("/proc/thread-self/ns/net")
        .map_err(NetError::io("open /proc/thread-self/ns/net"))?;
    Ok(OwnedFd::from(f))
}

/// Run `f` on a scoped thread inside `ns` and return its result.
pub fn in_netns<T: Send>(ns: Netns<'_>, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    let fd = ns.open()?;
    let what = ns.describe();
    std::thread::scope(|s| {
        let fd = fd.as_fd();
        let handle = s.spawn(move || {
            setns(fd, CloneFlags::CLONE_NEWNET)
                .map_err(|e| NetError::io(format!("enter {what}"))(std::io::Error::from(e)))?;
            f()
        });
        handle.join().unwrap_or_else(|_| {
            Err(NetError::Io {
                what: "run work in a network namespace".into(),
                source: std::io::Error::other("thread panicked"),
            })
        })
    })
}
