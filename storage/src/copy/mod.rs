//! Copying a rootfs tree between any two backends: what `rsync -aHAXS` keeps (owners,
//! modes, hard links, symlinks, device nodes, fifos, sockets, xattrs including
//! `security.capability` and `trusted.*`, POSIX ACLs, holes, nanosecond timestamps), with
//! reflinks where the filesystem shares extents and the file data copied by several
//! threads.
//!
//! Two passes: a walk lists the tree (parents first, hard-link groups found); then
//! directories are made, files, symlinks and nodes are copied in parallel, the other
//! names of hard-linked files are linked, and directories get their metadata last (their
//! times would otherwise change as their contents are written).

mod data;
mod meta;
mod progress;
mod walk;

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::{DirBuilder, File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use nix::sys::stat::{mknod, Mode, SFlag};

use crate::{remove, StorageError};
use walk::{Entry, EntryKind};

/// Whether to show a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Progress {
    /// When stderr is a terminal.
    #[default]
    Auto,
    Always,
    Never,
}

/// How to copy.
#[derive(Debug, Clone)]
pub struct CopyOptions {
    pub progress: Progress,
    /// Worker threads for file data; 0 picks one per core, at most [`MAX_AUTO_THREADS`].
    pub threads: usize,
    /// Try `FICLONE` reflinks first.
    pub reflink: bool,
}

impl Default for CopyOptions {
    fn default() -> CopyOptions {
        CopyOptions {
            progress: Progress::Auto,
            threads: 0,
            reflink: true,
        }
    }
}

/// The most worker threads picked automatically: past that, a copy is bound by the disk.
pub const MAX_AUTO_THREADS: usize = 4;

impl CopyOptions {
    fn threads(&self) -> usize {
        if self.threads > 0 {
            return self.threads;
        }
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(MAX_AUTO_THREADS)
    }
}

/// What a copy did.
#[derive(Debug, Clone, Default)]
pub struct CopyStats {
    /// Entries made, the root included.
    pub entries: u64,
    /// File bytes copied or reflinked.
    pub bytes: u64,
    /// Files that were reflinked rather than copied.
    pub reflinked: u64,
    /// Extra names of hard-linked files.
    pub hard_links: u64,
    /// Directories that were mount points in the source: made empty, not entered.
    pub mount_points: Vec<PathBuf>,
}

/// Copies the tree below `src` into the directory `dst` (`rsync -aHAXS src/ dst/`); the
/// root's owner, mode, xattrs and times are given to `dst` too. Entries that were in
/// `dst` before (a fresh filesystem's `lost+found`) are kept; directories may meet
/// existing ones, other entries may not. On failure everything the copy made in `dst`
/// is removed again, and the error names the path it failed on.
pub fn copy_tree(src: &Path, dst: &Path, opts: &CopyOptions) -> Result<CopyStats, StorageError> {
    let before = names(dst)?;
    let r = run(src, dst, opts);
    if r.is_err() {
        undo(dst, &before);
    }
    r
}

/// Gives the directory `dst` the owner, mode and times of the directory `src`.
pub fn copy_root_metadata(src: &Path, dst: &Path) -> Result<(), StorageError> {
    meta::copy_root(src, dst)
}

fn names(dir: &Path) -> Result<HashSet<OsString>, StorageError> {
    let rd =
        std::fs::read_dir(dir).map_err(|e| StorageError::io("read copy destination", dir, e))?;
    rd.map(|e| {
        e.map(|e| e.file_name())
            .map_err(|e| StorageError::io("read copy destination", dir, e))
    })
    .collect()
}

/// Removes what the copy added to `dst`.
fn undo(dst: &Path, before: &HashSet<OsString>) {
    let Ok(rd) = std::fs::read_dir(dst) else {
        return;
    };
    for e in rd.flatten() {
        if !before.contains(&e.file_name()) {
            let _ = remove::remove_tree_onedev(&e.path());
        }
    }
}

/// What the workers share.
struct Ctx<'a> {
    src: &'a Path,
    dst: &'a Path,
    entries: &'a [Entry],
    leaves: Vec<usize>,
    next: AtomicUsize,
    failed: AtomicBool,
    reflinked: AtomicU64,
    paths: data::Paths,
}

fn run(src: &Path, dst: &Path, opts: &CopyOptions) -> Result<CopyStats, StorageError> {
    let tree = walk::walk(src)?;
    let entries = &tree.entries;

    // Directories first, parents before children, writable by us until the end.
    let mut db = DirBuilder::new();
    db.mode(0o700);
    for e in entries.iter().skip(1).filter(|e| e.kind == EntryKind::Dir) {
        let dp = dst.join(&e.rel);
        match db.create(&dp) {
            Ok(()) => {}
            Err(err)
                if err.kind() == std::io::ErrorKind::AlreadyExists
                    && dp.symlink_metadata().is_ok_and(|m| m.is_dir()) => {}
            Err(err) => return Err(StorageError::write("create directory", dp, err)),
        }
    }

    // Files, symlinks and nodes: one per inode, in parallel.
    let leaves: Vec<usize> = (0..entries.len())
        .filter(|&i| entries[i].kind != EntryKind::Dir && entries[i].link_to.is_none())
        .collect();
    let total: u64 = leaves
        .iter()
        .map(|&i| &entries[i])
        .filter(|e| e.kind == EntryKind::File)
        .map(|e| e.size)
        .sum();
    let ctx = Ctx {
        src,
        dst,
        entries,
        leaves,
        next: AtomicUsize::new(0),
        failed: AtomicBool::new(false),
        reflinked: AtomicU64::new(0),
        paths: data::Paths::new(opts.reflink),
    };
    let display = progress::Display::new(opts.progress, total, "copying rootfs");
    let nthreads = opts.threads().min(ctx.leaves.len()).max(1);
    let result = std::thread::scope(|s| {
        let handles: Vec<_> = (0..nthreads).map(|_| s.spawn(|| worker(&ctx))).collect();
        if display.active() {
            while !handles.iter().all(|h| h.is_finished()) {
                display.set(ctx.paths.bytes.load(Ordering::Relaxed));
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let mut first = Ok(());
        for h in handles {
            let r = h.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
            if first.is_ok() {
                first = r;
            }
        }
        first
    });
    display.finish();
    result?;

    // The other names of hard-linked inodes.
    let mut hard_links = 0;
    for e in entries {
        if let Some(first) = e.link_to {
            let (from, to) = (dst.join(&entries[first].rel), dst.join(&e.rel));
            std::fs::hard_link(&from, &to)
                .map_err(|err| StorageError::write("create hard link", &to, err))?;
            hard_links += 1;
        }
    }

    // Directory metadata last, deepest first.
    for e in entries.iter().rev().filter(|e| e.kind == EntryKind::Dir) {
        meta::apply_path(e, &src.join(&e.rel), &dst.join(&e.rel), false)?;
    }

    Ok(CopyStats {
        entries: entries.len() as u64,
        bytes: ctx.paths.bytes.load(Ordering::Relaxed),
        reflinked: ctx.reflinked.load(Ordering::Relaxed),
        hard_links,
        mount_points: tree.mount_points,
    })
}

fn worker(ctx: &Ctx<'_>) -> Result<(), StorageError> {
    let mut buf = Vec::new();
    loop {
        if ctx.failed.load(Ordering::Relaxed) {
            return Ok(());
        }
        let i = ctx.next.fetch_add(1, Ordering::Relaxed);
        let Some(&idx) = ctx.leaves.get(i) else {
            return Ok(());
        };
        if let Err(e) = copy_leaf(ctx, &ctx.entries[idx], &mut buf) {
            ctx.failed.store(true, Ordering::Relaxed);
            return Err(e);
        }
    }
}

/// Opens a source file for reading without following a symlink and, where allowed,
/// without touching its access time.
fn open_source(p: &Path) -> Result<File, StorageError> {
    let open = |flags| {
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | flags)
            .open(p)
    };
    open(libc::O_NOATIME)
        .or_else(|e| {
            if e.raw_os_error() == Some(libc::EPERM) {
                open(0)
            } else {
                Err(e)
            }
        })
        .map_err(|e| StorageError::io("open", p, e))
}

fn copy_leaf(ctx: &Ctx<'_>, e: &Entry, buf: &mut Vec<u8>) -> Result<(), StorageError> {
    let sp = ctx.src.join(&e.rel);
    let dp = ctx.dst.join(&e.rel);
    match e.kind {
        EntryKind::File => {
            let sf = open_source(&sp)?;
            let df = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&dp)
                .map_err(|err| StorageError::write("create", &dp, err))?;
            match data::copy_contents(&sf, &df, e.size, e.sparse(), &ctx.paths, buf) {
                Ok(data::How::Reflink) => {
                    ctx.reflinked.fetch_add(1, Ordering::Relaxed);
                }
                Ok(data::How::Copied) => {}
                Err(data::Side::Read(err)) => return Err(StorageError::io("read", &sp, err)),
                Err(data::Side::Write(err)) => return Err(StorageError::write("write", &dp, err)),
            }
            meta::apply_fd(e, &sf, &sp, &df, &dp)
        }
        EntryKind::Symlink => {
            let target = std::fs::read_link(&sp)
                .map_err(|err| StorageError::io("read symlink", &sp, err))?;
            std::os::unix::fs::symlink(&target, &dp)
                .map_err(|err| StorageError::write("create symlink", &dp, err))?;
            meta::apply_path(e, &sp, &dp, true)
        }
        EntryKind::Node => {
            let kind = SFlag::from_bits_truncate(e.mode & libc::S_IFMT);
            mknod(&dp, kind, Mode::from_bits_truncate(0o600), e.rdev)
                .map_err(|err| StorageError::write("create device node", &dp, err.into()))?;
            meta::apply_path(e, &sp, &dp, false)
        }
        EntryKind::Dir => Ok(()),
    }
}
