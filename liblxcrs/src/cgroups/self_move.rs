//! A process moving itself into a cgroup without the kernel's slow path.
//!
//! Writing a pid to `cgroup.procs` (v1 or v2) takes the kernel's global
//! `cgroup_threadgroup_rwsem` for writing; the first writer after a quiet spell waits a
//! full RCU grace period for it (`rcu_sync_enter`), 7–8 ms on this project's CI host, and
//! every start and every attach would pay it. Two ways in skip that lock, and these are
//! what the start sequence, the monitor and attach use:
//!
//! - **v1**: writing `0` ("the calling thread") to a hierarchy's `tasks` file moves just
//!   that thread without the threadgroup lock. For a single-threaded process the thread is
//!   the whole process. [`SelfEntry`] holds those `tasks` files open, so a freshly cloned
//!   child can write them before it changes its mount namespace or credentials (the file's
//!   opener, not the writer, is what cgroup v1 checks).
//! - **v2**: `clone3(CLONE_INTO_CGROUP)` places the new process at fork, with no migration
//!   at all; the caller opens [`super::Cgroups::v2_payload_dir`] /
//!   [`super::Cgroups::v2_monitor_dir`] for it. Where the kernel refuses that, the v2 move
//!   falls back to `cgroup.procs` ([`super::Cgroups::enter_payload_v2`]).
//!
//! The probe in `bench/bench.py` (`kernel` scenario) measures the wait these avoid.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use super::error::{CgroupError, Result};

/// What a thread writes to `tasks` to move itself.
const SELF: &str = "0";

/// The `tasks` files of one cgroup in every v1 hierarchy, open for writing.
#[derive(Debug, Default)]
pub struct SelfEntry {
    files: Vec<(PathBuf, OwnedFd)>,
}

impl SelfEntry {
    /// Opens `<dir>/tasks` for each of `dirs` (the v1 hierarchies' directories of one cgroup).
    pub(crate) fn open<'a>(dirs: impl IntoIterator<Item = &'a Path>) -> Result<Self> {
        let mut files = Vec::new();
        for dir in dirs {
            let path = dir.join("tasks");
            let fd = nix::fcntl::open(&path, OFlag::O_WRONLY | OFlag::O_CLOEXEC, Mode::empty())
                .map_err(|errno| CgroupError::write(&path, SELF, errno))?;
            files.push((path, fd));
        }
        Ok(Self { files })
    }

    /// True when there is no v1 hierarchy to enter.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Moves the calling thread into the cgroup in every v1 hierarchy.
    ///
    /// The caller must be single-threaded (a child right after fork or clone, a monitor
    /// without threads): only the calling thread moves. Allocates nothing, so a child of
    /// `clone3` may call it.
    pub fn enter(&self) -> Result<()> {
        for (path, fd) in &self.files {
            match nix::unistd::write(fd.as_fd(), SELF.as_bytes()) {
                Ok(_) => {}
                Err(errno) => return Err(CgroupError::write(path, SELF, errno)),
            }
        }
        Ok(())
    }
}

/// True when the calling process has exactly one thread (so moving that thread moves it).
pub fn single_threaded() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse::<u32>().ok())
        == Some(1)
}

/// `Err(EINVAL)`-style errors that mean "cannot clone straight into this cgroup here": the
/// caller then clones plainly and enters through `cgroup.procs`.
pub fn clone_into_refused(errno: Errno) -> bool {
    matches!(
        errno,
        Errno::EINVAL
            | Errno::EBUSY
            | Errno::EOPNOTSUPP
            | Errno::EPERM
            | Errno::EACCES
            | Errno::ENOSYS
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_zero_to_every_tasks_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dirs: Vec<PathBuf> = ["cpu/x", "memory/x"]
            .iter()
            .map(|d| tmp.path().join(d))
            .collect();
        for d in &dirs {
            std::fs::create_dir_all(d).unwrap();
            std::fs::write(d.join("tasks"), "").unwrap();
        }
        let entry = SelfEntry::open(dirs.iter().map(PathBuf::as_path)).unwrap();
        assert!(!entry.is_empty());
        entry.enter().unwrap();
        for d in &dirs {
            assert_eq!(std::fs::read_to_string(d.join("tasks")).unwrap(), "0");
        }
    }

    #[test]
    fn a_missing_tasks_file_names_its_path() {
        let tmp = tempfile::tempdir().unwrap();
        let err = SelfEntry::open([tmp.path()]).unwrap_err().to_string();
        assert!(
            err.contains(&tmp.path().join("tasks").display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn this_test_thread_is_not_alone() {
        // The test harness runs tests on worker threads: the check must see them.
        let t = std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_millis(200)));
        assert!(!single_threaded());
        t.join().unwrap();
    }
}
