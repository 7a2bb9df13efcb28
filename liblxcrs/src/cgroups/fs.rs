//! cgroupfs file and directory primitives, each failure mapped to a [`CgroupError`] that
//! names the path.
//!
//! Files are opened without `O_CREAT`: in cgroupfs a missing file means a missing controller,
//! and the error must say so. Unit tests run on a temp dir where the "kernel" is a
//! [`FakeKernel`] that fills new cgroup directories with their files and refuses to remove
//! populated ones.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::unistd::Pid;

use super::error::{errno_of, CgroupError, Result};

/// How long removal retries a cgroup that is still busy (exiting tasks).
pub(crate) const RMDIR_RETRY: Duration = Duration::from_secs(1);

/// Reads a cgroup file.
pub(crate) fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|e| CgroupError::read(path, errno_of(&e)))
}

/// Reads a cgroup file, `None` when it does not exist.
pub(crate) fn read_opt(path: &Path) -> Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if errno_of(&e) == Errno::ENOENT => Ok(None),
        Err(e) => Err(CgroupError::read(path, errno_of(&e))),
    }
}

/// Writes `value` to an existing cgroup file in one write(2), as the kernel expects.
pub(crate) fn write(path: &Path, value: &str) -> Result<()> {
    let fail = |e: std::io::Error| CgroupError::write(path, value, errno_of(&e));
    let mut file = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .map_err(fail)?;
    file.write_all(value.as_bytes()).map_err(fail)
}

/// Moves `pid` into the cgroup at `dir`.
pub(crate) fn enter(dir: &Path, pid: Pid) -> Result<()> {
    write(&dir.join("cgroup.procs"), &pid.to_string())
}

/// Creates one cgroup directory; `Err(EEXIST)` is returned raw so callers can pick another name.
pub(crate) fn mkdir(path: &Path) -> std::result::Result<(), Errno> {
    fs::create_dir(path).map_err(|e| errno_of(&e))?;
    #[cfg(test)]
    fake::on_mkdir(path);
    Ok(())
}

/// The error for a failed [`mkdir`], with a hint.
pub(crate) fn mkdir_error(path: &Path, errno: Errno) -> CgroupError {
    CgroupError::Mkdir {
        path: path.to_path_buf(),
        errno,
        hint: match errno {
            Errno::EACCES | Errno::EPERM => {
                Some("this cgroup is not delegated to the current user")
            }
            Errno::ENOENT => Some("the parent cgroup does not exist"),
            _ => None,
        },
    }
}

fn rmdir_once(path: &Path) -> std::result::Result<(), Errno> {
    #[cfg(test)]
    fake::on_rmdir(path)?;
    fs::remove_dir(path).map_err(|e| errno_of(&e))
}

/// Subdirectories of a cgroup (child cgroups).
pub(crate) fn subdirs(path: &Path) -> Result<Vec<PathBuf>> {
    let fail = |e: std::io::Error| CgroupError::ListDir {
        path: path.to_path_buf(),
        errno: errno_of(&e),
    };
    let mut out = Vec::new();
    for entry in fs::read_dir(path).map_err(fail)? {
        let entry = entry.map_err(fail)?;
        if entry.file_type().map_err(fail)?.is_dir() {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

/// How long [`remove_stale`] waits for the processes of a cgroup left by a killed monitor.
pub(crate) const STALE_WAIT: Duration = Duration::from_secs(1);

/// Removes a cgroup a crashed or killed run left, waiting up to [`STALE_WAIT`] while it
/// still holds processes: a killed monitor's init (SIGKILLed by its parent-death signal)
/// and the rest of its pid namespace can take a moment to go. True when it is gone.
pub(crate) fn remove_stale(path: &Path) -> bool {
    let deadline = Instant::now() + STALE_WAIT;
    let mut pause = Duration::from_millis(2);
    loop {
        match rmdir_tree(path, Duration::ZERO) {
            Ok(()) => return true,
            Err(CgroupError::Rmdir {
                errno: Errno::EBUSY,
                ..
            }) if Instant::now() < deadline => {
                sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(_) => return false,
        }
    }
}

/// Removes a cgroup and every child cgroup, deepest first. A missing directory is success.
/// EBUSY (tasks still exiting) is retried until `retry` has passed; the error names the
/// directory that could not be removed.
pub(crate) fn rmdir_tree(path: &Path, retry: Duration) -> Result<()> {
    let children = match subdirs(path) {
        Ok(c) => c,
        Err(CgroupError::ListDir {
            errno: Errno::ENOENT,
            ..
        }) => return Ok(()),
        Err(e) => return Err(e),
    };
    for child in children {
        rmdir_tree(&child, retry)?;
    }
    let deadline = Instant::now() + retry;
    let mut pause = Duration::from_millis(5);
    loop {
        match rmdir_once(path) {
            Ok(()) | Err(Errno::ENOENT) => return Ok(()),
            // Retry only for tasks that are exiting (no longer listed): live ones stay.
            Err(Errno::EBUSY)
                if Instant::now() < deadline && procs(path).is_ok_and(|p| p.is_empty()) =>
            {
                sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            Err(errno) => {
                return Err(CgroupError::Rmdir {
                    path: path.to_path_buf(),
                    errno,
                    hint: match errno {
                        Errno::EBUSY => {
                            Some("processes are still in it: kill them first (lxc-stop -k)")
                        }
                        Errno::ENOTEMPTY => Some("it still has child cgroups"),
                        _ => None,
                    },
                })
            }
        }
    }
}

/// The pids in `cgroup.procs` of `dir`.
pub(crate) fn procs(dir: &Path) -> Result<Vec<Pid>> {
    let path = dir.join("cgroup.procs");
    let text = read(&path)?;
    text.split_whitespace()
        .map(|t| {
            t.parse::<i32>()
                .map(Pid::from_raw)
                .map_err(|_| CgroupError::Parse {
                    path: path.clone(),
                    reason: format!("{t:?} is not a pid"),
                })
        })
        .collect()
}

/// The pids of `dir` and of every cgroup below it.
pub(crate) fn procs_recursive(dir: &Path) -> Result<Vec<Pid>> {
    let mut pids = procs(dir)?;
    for child in subdirs(dir)? {
        pids.extend(procs_recursive(&child)?);
    }
    Ok(pids)
}

/// The value of `key` in a flat-keyed file (`key value` per line: memory.stat, cpu.stat,
/// cgroup.events).
pub(crate) fn keyed_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|line| {
        let mut it = line.split_whitespace();
        (it.next() == Some(key)).then(|| it.next()).flatten()
    })
}

/// A test stand-in for the kernel side of cgroupfs on a temp dir.
#[cfg(test)]
pub(crate) mod fake {
    use std::cell::RefCell;
    use std::path::Path;
    use std::rc::Rc;

    use nix::errno::Errno;

    /// What the kernel does on mkdir/rmdir of a cgroup directory.
    pub(crate) trait FakeKernel {
        /// Fill a new cgroup directory with its interface files.
        fn mkdir(&self, dir: &Path);
        /// Refuse (EBUSY) or clear the interface files so that rmdir(2) can succeed.
        fn rmdir(&self, dir: &Path) -> Result<(), Errno>;
    }

    thread_local! {
        static KERNEL: RefCell<Option<Rc<dyn FakeKernel>>> = const { RefCell::new(None) };
    }

    /// Installs `kernel` for the current thread (each test runs on its own thread).
    pub(crate) fn install(kernel: Option<Rc<dyn FakeKernel>>) {
        KERNEL.with(|k| *k.borrow_mut() = kernel);
    }

    pub(super) fn on_mkdir(dir: &Path) {
        let kernel = KERNEL.with(|k| k.borrow().clone());
        if let Some(k) = kernel {
            k.mkdir(dir);
        }
    }

    pub(super) fn on_rmdir(dir: &Path) -> Result<(), Errno> {
        let kernel = KERNEL.with(|k| k.borrow().clone());
        kernel.map_or(Ok(()), |k| k.rmdir(dir))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_needs_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = write(&dir.path().join("memory.max"), "1G").unwrap_err();
        assert_eq!(err.errno(), Some(Errno::ENOENT));
        assert!(err.to_string().contains("no such cgroup file"), "{err}");
        std::fs::write(dir.path().join("memory.max"), "max\n").unwrap();
        write(&dir.path().join("memory.max"), "1G").unwrap();
        assert_eq!(read(&dir.path().join("memory.max")).unwrap(), "1G");
    }

    #[test]
    fn rmdir_tree_removes_deepest_first_and_tolerates_missing() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().join("a");
        std::fs::create_dir_all(top.join("b/c")).unwrap();
        std::fs::create_dir_all(top.join("d")).unwrap();
        rmdir_tree(&top, Duration::ZERO).unwrap();
        assert!(!top.exists());
        rmdir_tree(&top, Duration::ZERO).unwrap();
    }

    #[test]
    fn rmdir_tree_names_the_directory_it_could_not_remove() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().join("a");
        std::fs::create_dir_all(top.join("b")).unwrap();
        std::fs::write(top.join("b/stray"), "").unwrap();
        let err = rmdir_tree(&top, Duration::ZERO).unwrap_err();
        assert!(
            matches!(&err, CgroupError::Rmdir { path, errno: Errno::ENOTEMPTY, .. } if path == &top.join("b")),
            "{err}"
        );
    }

    #[test]
    fn reads_procs_recursively() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("cgroup.procs"), "1\n2\n").unwrap();
        std::fs::write(dir.path().join("sub/cgroup.procs"), "3\n").unwrap();
        let pids: Vec<i32> = procs_recursive(dir.path())
            .unwrap()
            .iter()
            .map(|p| p.as_raw())
            .collect();
        assert_eq!(pids, [1, 2, 3]);
        std::fs::write(dir.path().join("cgroup.procs"), "x\n").unwrap();
        assert!(matches!(procs(dir.path()), Err(CgroupError::Parse { .. })));
    }

    #[test]
    fn finds_keyed_values() {
        let text = "populated 1\nfrozen 0\n";
        assert_eq!(keyed_value(text, "frozen"), Some("0"));
        assert_eq!(keyed_value(text, "froze"), None);
    }
}
