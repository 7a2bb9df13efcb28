//! Temporary mounts that cannot leak.
//!
//! A clone mounts its source and destination stores only for the copy. Those mounts are
//! made on a thread that first moves into a private mount namespace of its own
//! (`unshare(CLONE_NEWNS)` affects the calling thread only): the host never sees them,
//! and when the thread ends — or the process is killed — the kernel drops the namespace
//! with every mount in it, which also frees autoclear loop devices. Threads spawned from
//! that thread (the copy's workers) share its namespace.

use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};

use crate::{BackingStore, StorageError};

/// Runs `f` on a thread of its own in a new private mount namespace and returns its
/// result. Mounts made by `f` are invisible outside and vanish when it returns.
pub fn with_private_mounts<T, F>(f: F) -> Result<T, StorageError>
where
    T: Send,
    F: FnOnce() -> Result<T, StorageError> + Send,
{
    std::thread::scope(|s| {
        let h = s.spawn(|| {
            unshare(CloneFlags::CLONE_NEWNS)
                .map_err(|e| StorageError::io("unshare the mount namespace for", "/", e.into()))?;
            // Otherwise mounts made here would propagate back to a shared host `/`.
            mount(
                None::<&str>,
                "/",
                None::<&str>,
                MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                None::<&str>,
            )
            .map_err(|e| StorageError::io("make private the mounts of", "/", e.into()))?;
            f()
        });
        match h.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Makes `store`'s tree available to `f`: in place when it has one
/// ([`BackingStore::direct_tree`]), else mounted on a temporary directory in a private
/// mount namespace (see [`with_private_mounts`]). Processes `f` starts (a template, a
/// hook) see the mount too. Unmounted before returning.
pub fn with_mounted<T, F>(store: &dyn BackingStore, f: F) -> Result<T, StorageError>
where
    T: Send,
    F: FnOnce(&Path) -> T + Send,
{
    if let Some(tree) = store.direct_tree() {
        return Ok(f(tree));
    }
    with_private_mounts(|| {
        let dir = MountDir::new(&std::env::temp_dir())?;
        let m = Mounted::new(store, dir.path())?;
        let out = f(m.root());
        m.finish()?;
        Ok(out)
    })
}

/// An empty directory to mount on, removed with `rmdir` when dropped: never recursively,
/// so a mount that failed to go away keeps its contents.
pub(crate) struct MountDir(PathBuf);

impl MountDir {
    pub(crate) fn new(parent: &Path) -> Result<MountDir, StorageError> {
        tempfile::Builder::new()
            .prefix(".lxcrs-mnt-")
            .tempdir_in(parent)
            .map(|d| MountDir(d.keep()))
            .map_err(|e| StorageError::io("create a temporary mount point in", parent, e))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for MountDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// A store mounted on a directory until dropped or [`Mounted::finish`]ed.
pub(crate) struct Mounted<'a> {
    store: &'a dyn BackingStore,
    target: PathBuf,
    mounted: bool,
}

impl<'a> Mounted<'a> {
    pub(crate) fn new(
        store: &'a dyn BackingStore,
        target: &Path,
    ) -> Result<Mounted<'a>, StorageError> {
        store.mount(target)?;
        Ok(Mounted {
            store,
            target: target.to_path_buf(),
            mounted: true,
        })
    }

    pub(crate) fn root(&self) -> &Path {
        &self.target
    }

    /// Unmounts, reporting a failure (dropping unmounts too, silently).
    pub(crate) fn finish(mut self) -> Result<(), StorageError> {
        self.mounted = false;
        self.store.umount(&self.target)
    }
}

impl Drop for Mounted<'_> {
    fn drop(&mut self) {
        if self.mounted {
            let _ = self.store.umount(&self.target);
        }
    }
}

/// Unmounts `target`: synchronously when nothing holds it (so a loop device is freed at
/// once), lazily when something does.
pub(crate) fn unmount(target: &Path) -> Result<(), StorageError> {
    match umount2(target, MntFlags::empty()) {
        Ok(()) => Ok(()),
        Err(nix::Error::EBUSY) => umount2(target, MntFlags::MNT_DETACH)
            .map_err(|e| StorageError::io("unmount", target, e.into())),
        Err(e) => Err(StorageError::io("unmount", target, e.into())),
    }
}
