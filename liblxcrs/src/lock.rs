//! Per-container lock, so that concurrent create/start/destroy/clone are safe.
//!
//! An exclusive `flock` on `<rundir>/lock/<lxcpath>/.<name>`. The kernel drops the lock
//! when the holder dies, so a `kill -9` never leaves a stale lock. The holder writes its
//! pid and command into the file, which makes the "busy" error say who holds it.
//!
//! The lock is named after the canonical lxcpath ([`crate::paths::canonical_lxcpath`]),
//! so every spelling of one lxcpath takes the same lock. A container's monitor holds it
//! for the container's whole run; destroy and restore take it with [`lock_idle`], which
//! refuses a running container instead of waiting for its end.
//!
//! The lock directory is `0700` and owned by us (the runtime dir above it `0711`), and
//! lock files are opened `O_NOFOLLOW` and checked to be ours before they are written,
//! so a planted symlink never makes us truncate another file.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use crate::paths::rundir;
use crate::{Error, Result};

/// A held container lock; the lock file is removed and the lock released on drop.
#[derive(Debug)]
pub struct ContainerLock {
    _lock: Flock<File>,
    path: PathBuf,
}

impl Drop for ContainerLock {
    fn drop(&mut self) {
        // Unlink while still holding the lock: a waiter that opened the old inode
        // notices on wake-up that the path is gone and retries on a fresh file.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The lock file path of container `name` in `lxcpath`: one flat directory, the
/// lxcpath escaped into the file name so that nothing but the file itself is left.
pub fn lock_path(lxcpath: &Path, name: &str) -> PathBuf {
    let lxcpath = crate::paths::canonical_lxcpath(lxcpath);
    let escaped = lxcpath
        .to_string_lossy()
        .replace('%', "%25")
        .replace('/', "%2F");
    let mut file = format!("{escaped}%2F{name}.lock");
    if file.len() > 200 {
        file = format!("{:016x}.lock", fnv1a64(file.as_bytes()));
    }
    rundir().join("lock").join(file)
}

/// FNV-1a, for a short stable name from a long path.
pub(crate) fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Takes the lock, waiting if `wait`; else fails with [`Error::Busy`] when held.
pub fn lock(lxcpath: &Path, name: &str, wait: bool) -> Result<ContainerLock> {
    let path = lock_path(lxcpath, name);
    if let Some(dir) = path.parent() {
        if let Some(run) = dir.parent() {
            crate::paths::ensure_private_dir(run, 0o711)?;
        }
        crate::paths::ensure_private_dir(dir, 0o700)?;
    }
    loop {
        let lock = try_lock(&path, name, wait)?;
        // The previous holder may have unlinked the file between our open and flock.
        let same = match (std::fs::metadata(&path), lock.metadata()) {
            (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
            _ => false,
        };
        if same {
            return Ok(ContainerLock { _lock: lock, path });
        }
    }
}

/// Takes the lock of a container that must not be running (destroy, restore): waits
/// while another command holds it, but fails with [`Error::Running`] when `running()`
/// says the holder is the container's monitor. The caller re-checks `running()` once it
/// holds the lock (a monitor claims its socket before it takes the lock).
pub fn lock_idle(lxcpath: &Path, name: &str, running: impl Fn() -> bool) -> Result<ContainerLock> {
    loop {
        match lock(lxcpath, name, false) {
            Err(Error::Busy { .. }) if running() => {
                return Err(Error::Running {
                    name: name.to_string(),
                })
            }
            Err(Error::Busy { .. }) => std::thread::sleep(std::time::Duration::from_millis(50)),
            other => return other,
        }
    }
}

/// Takes the lock of a container that may be running (the origin of a clone or a
/// snapshot): waits while another command holds it, but returns `None` when the holder
/// is the container's own monitor, which keeps it for the whole run. A running origin
/// cannot be destroyed or restored (both refuse a running container), so the clone goes
/// on without it.
pub fn lock_unless_running(
    lxcpath: &Path,
    name: &str,
    running: impl Fn() -> bool,
) -> Result<Option<ContainerLock>> {
    match lock_idle(lxcpath, name, running) {
        Ok(l) => Ok(Some(l)),
        Err(Error::Running { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

fn try_lock(path: &Path, name: &str, wait: bool) -> Result<Flock<File>> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| Error::io("open lock file", path, e))?;
    let md = file
        .metadata()
        .map_err(|e| Error::io("stat lock file", path, e))?;
    let me = nix::unistd::geteuid().as_raw();
    if !md.is_file() || md.uid() != me {
        return Err(Error::hint(
            format!(
                "lock file {} is not ours (owner uid {}, expected {me})",
                path.display(),
                md.uid()
            ),
            "someone planted it: remove it and retry",
        ));
    }
    let arg = if wait {
        FlockArg::LockExclusive
    } else {
        FlockArg::LockExclusiveNonblock
    };
    let mut lock = match Flock::lock(file, arg) {
        Ok(l) => l,
        Err((mut file, errno)) => {
            if errno == nix::errno::Errno::EWOULDBLOCK {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim().to_string();
                return Err(Error::Busy {
                    name: name.to_string(),
                    holder: if holder.is_empty() {
                        "unknown".into()
                    } else {
                        holder
                    },
                });
            }
            return Err(Error::io("lock", path, errno.into()));
        }
    };
    let me = format!(
        "pid {} {}",
        std::process::id(),
        std::env::args().collect::<Vec<_>>().join(" ")
    );
    let _ = lock.set_len(0);
    let _ = lock.rewind();
    let _ = lock.write_all(me.as_bytes());
    Ok(lock)
}
