//! What the walker and the workers of a copy share: the directories being copied (both
//! sides open) and the first error. A directory gets its metadata when the last holder
//! lets go of it, that is after every entry in it was made (its times would otherwise
//! change as its contents are written), without keeping every directory open.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use nix::sys::stat::FileStat;

use super::{data, meta};
use crate::StorageError;

/// State shared by the walker and the workers.
pub(crate) struct Shared<'a> {
    pub src: &'a Path,
    pub dst: &'a Path,
    pub failed: AtomicBool,
    first_error: Mutex<Option<StorageError>>,
    pub paths: data::Paths,
    pub reflinked: AtomicU64,
    pub entries: AtomicU64,
    pub changed: AtomicU64,
    pub mount_points: Mutex<Vec<PathBuf>>,
}

impl<'a> Shared<'a> {
    pub fn new(src: &'a Path, dst: &'a Path, reflink: bool) -> Shared<'a> {
        Shared {
            src,
            dst,
            failed: AtomicBool::new(false),
            first_error: Mutex::new(None),
            paths: data::Paths::new(reflink),
            reflinked: AtomicU64::new(0),
            entries: AtomicU64::new(0),
            changed: AtomicU64::new(0),
            mount_points: Mutex::new(Vec::new()),
        }
    }

    /// Records `e` unless an earlier error was recorded; stops the copy.
    pub fn fail(&self, e: StorageError) {
        self.failed.store(true, Ordering::SeqCst);
        if let Ok(mut g) = self.first_error.lock() {
            g.get_or_insert(e);
        }
    }

    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    pub fn take_error(&self) -> Option<StorageError> {
        self.first_error.lock().ok().and_then(|mut g| g.take())
    }
}

/// A source directory and its copy, both open.
pub(crate) struct DirNode<'a> {
    pub src: File,
    pub dst: File,
    /// The source directory's metadata, as opened.
    pub st: FileStat,
    /// Relative to the roots; empty for the roots.
    pub rel: PathBuf,
    pub shared: &'a Shared<'a>,
}

impl DirNode<'_> {
    pub fn src_path(&self, name: &std::ffi::OsStr) -> PathBuf {
        self.shared.src.join(&self.rel).join(name)
    }

    pub fn dst_path(&self, name: &std::ffi::OsStr) -> PathBuf {
        self.shared.dst.join(&self.rel).join(name)
    }
}

impl Drop for DirNode<'_> {
    fn drop(&mut self) {
        if self.shared.failed() {
            return;
        }
        let (sp, dp) = (
            self.shared.src.join(&self.rel),
            self.shared.dst.join(&self.rel),
        );
        if let Err(e) = meta::apply_fd(&self.st, &self.src, &sp, &self.dst, &dp) {
            self.shared.fail(e);
        }
    }
}
