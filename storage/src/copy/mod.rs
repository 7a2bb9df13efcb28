//! Copying a rootfs tree between any two backends: what `rsync -aHAXS` keeps (owners,
//! modes, hard links, symlinks, device nodes, fifos, sockets, xattrs including
//! `security.capability` and `trusted.*`, POSIX ACLs, holes, nanosecond timestamps), with
//! reflinks where the filesystem shares extents and the file data copied by several
//! threads.
//!
//! The source may be a running container's rootfs, changed while we copy it by a
//! process we do not trust. So the walk is on directory descriptors ([`crate::fdwalk`]):
//! each name is opened in the directory it was listed in, never followed if it is a
//! symlink, never entered if it is a mount point, and the destination is made the same
//! way (`mkdirat`, `openat`, `symlinkat`, `mknodat`, `linkat`). An entry that vanished
//! or changed kind meanwhile is left out and counted in [`CopyStats::changed`].
//!
//! One walker thread lists directories (parents before children) and makes the
//! directories; workers copy files, symlinks and nodes; the other names of hard-linked
//! files are linked at the end. A directory gets its metadata once every entry in it was
//! made (see `node.rs`).

mod data;
mod leaf;
mod meta;
mod node;
mod progress;

use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{mkdirat, FileStat, Mode};
use nix::unistd::linkat;

use crate::fdwalk::{self, Opened};
use crate::{remove, StorageError};
use leaf::Job;
use node::{DirNode, Shared};

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
    /// Entries left out because they vanished or changed kind while the copy ran (a
    /// running container's rootfs).
    pub changed: u64,
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

/// Batches queued for the workers at most: each holds its directory (two descriptors)
/// open.
const QUEUE: usize = 256;

/// Entries of one directory handed to a worker at once (one wake-up per batch).
const BATCH: usize = 64;

/// A second (or later) name of a hard-linked inode, made once the workers are done.
struct Link<'a> {
    from_dir: Arc<DirNode<'a>>,
    from: OsString,
    dir: Arc<DirNode<'a>>,
    name: OsString,
}

fn open_side(path: &Path, what: &'static str) -> Result<File, StorageError> {
    match fdwalk::open_root(path) {
        Ok(fd) => Ok(File::from(fd)),
        Err(e)
            if what == "source"
                && matches!(e.raw_os_error(), Some(libc::ENOTDIR | libc::ELOOP)) =>
        {
            Err(StorageError::Invalid(format!(
                "copy source {} is not a directory",
                path.display()
            )))
        }
        Err(e) => Err(StorageError::io(
            if what == "source" {
                "open copy source"
            } else {
                "open copy destination"
            },
            path,
            e,
        )),
    }
}

fn run(src: &Path, dst: &Path, opts: &CopyOptions) -> Result<CopyStats, StorageError> {
    let sroot = open_side(src, "source")?;
    let droot = open_side(dst, "destination")?;
    let st =
        nix::sys::stat::fstat(&sroot).map_err(|e| StorageError::io("inspect", src, e.into()))?;
    let shared = Shared::new(src, dst, opts.reflink);
    shared.entries.fetch_add(1, Ordering::Relaxed);
    let root = Arc::new(DirNode {
        src: sroot,
        dst: droot,
        st,
        rel: PathBuf::new(),
        shared: &shared,
    });
    let (tx, rx) = mpsc::sync_channel::<Vec<Job<'_>>>(QUEUE);
    let rx = Mutex::new(rx);
    let display = progress::Display::new(opts.progress, None, "copying rootfs");
    let done = AtomicBool::new(false);
    let mut links = Vec::new();
    std::thread::scope(|s| {
        for _ in 0..opts.threads().max(1) {
            s.spawn(|| worker(&rx, &shared));
        }
        if display.active() {
            s.spawn(|| {
                while !done.load(Ordering::Relaxed) {
                    display.set(shared.paths.bytes.load(Ordering::Relaxed));
                    std::thread::sleep(Duration::from_millis(100));
                }
            });
        }
        let tx = tx;
        if let Err(e) = walk(root, &tx, &shared, &mut links) {
            shared.fail(e);
        }
        drop(tx);
        // The workers end once the queue is drained; the scope joins them.
    });
    done.store(true, Ordering::Relaxed);
    display.finish();

    // The other names of hard-linked inodes.
    let mut hard_links = 0;
    for l in links.drain(..) {
        if shared.failed() {
            break;
        }
        match linkat(
            l.from_dir.dst.as_fd(),
            l.from.as_os_str(),
            l.dir.dst.as_fd(),
            l.name.as_os_str(),
            AtFlags::empty(),
        ) {
            Ok(()) => hard_links += 1,
            // The first name was left out (it changed while we copied it).
            Err(nix::Error::ENOENT) => {
                shared.changed.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => shared.fail(StorageError::write(
                "create hard link",
                l.dir.dst_path(&l.name),
                e.into(),
            )),
        }
    }
    drop(links);
    if let Some(e) = shared.take_error() {
        return Err(e);
    }
    let mut mount_points = shared
        .mount_points
        .lock()
        .map(|m| m.clone())
        .unwrap_or_default();
    mount_points.sort();
    Ok(CopyStats {
        entries: shared.entries.load(Ordering::Relaxed) + hard_links,
        bytes: shared.paths.bytes.load(Ordering::Relaxed),
        reflinked: shared.reflinked.load(Ordering::Relaxed),
        hard_links,
        mount_points,
        changed: shared.changed.load(Ordering::Relaxed),
    })
}

fn worker(rx: &Mutex<mpsc::Receiver<Vec<Job<'_>>>>, shared: &Shared<'_>) {
    let mut buf = Vec::new();
    loop {
        let job = match rx.lock() {
            Ok(g) => g.recv(),
            Err(_) => return,
        };
        let Ok(jobs) = job else { return };
        for job in jobs {
            // After a failure the queue is only drained.
            if shared.failed() {
                break;
            }
            if let Err(e) = leaf::copy(&job, &mut buf) {
                shared.fail(e);
            }
        }
    }
}

/// A directory being listed.
struct Frame<'a> {
    node: Arc<DirNode<'a>>,
    names: Vec<OsString>,
    next: usize,
}

fn frame<'a>(node: Arc<DirNode<'a>>) -> Result<Frame<'a>, StorageError> {
    let names = fdwalk::read_names(node.src.as_fd())
        .map_err(|e| StorageError::io("read directory", node.src_path(OsStr::new("")), e))?;
    Ok(Frame {
        node,
        names,
        next: 0,
    })
}

fn is_dir(st: &FileStat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFDIR
}

/// Lists the tree depth first, makes its directories and queues everything else.
fn walk<'a>(
    root: Arc<DirNode<'a>>,
    tx: &mpsc::SyncSender<Vec<Job<'a>>>,
    shared: &'a Shared<'a>,
    links: &mut Vec<Link<'a>>,
) -> Result<(), StorageError> {
    let mut firsts: HashMap<(u64, u64), (Arc<DirNode<'a>>, OsString)> = HashMap::new();
    let mut stack = vec![frame(root)?];
    let mut batch: Vec<Job<'a>> = Vec::with_capacity(BATCH);
    let flush = |batch: &mut Vec<Job<'a>>| {
        if batch.is_empty() {
            return Ok(());
        }
        tx.send(std::mem::replace(batch, Vec::with_capacity(BATCH)))
            .map_err(|_| StorageError::Invalid("the copy workers stopped".into()))
    };
    while let Some(top) = stack.last_mut() {
        if shared.failed() {
            return Ok(());
        }
        let Some(name) = top.names.get(top.next).cloned() else {
            flush(&mut batch)?;
            stack.pop();
            continue;
        };
        top.next += 1;
        let node = Arc::clone(&top.node);
        let sdir = node.src.as_fd();
        let inspect = |e| StorageError::io("inspect", node.src_path(&name), e);
        let Some(mut st) = fdwalk::stat_at(sdir, &name).map_err(inspect)? else {
            shared.changed.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        if is_dir(&st) {
            let opened = fdwalk::open_dir(sdir, &name)
                .map_err(|e| StorageError::io("open directory", node.src_path(&name), e))?;
            match opened {
                Opened::Fd(fd) => {
                    flush(&mut batch)?;
                    let child = make_dir(&node, &name, fd)?;
                    stack.push(frame(child)?);
                    continue;
                }
                Opened::Mount => {
                    mount_point(&node, &name, &st)?;
                    continue;
                }
                // Swapped for something else: copy what it is now, if not a directory.
                Opened::Changed => match fdwalk::stat_at(sdir, &name).map_err(inspect)? {
                    Some(now) if !is_dir(&now) => st = now,
                    _ => {
                        shared.changed.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                },
            }
        }
        if st.st_nlink > 1 {
            let key = (st.st_dev, st.st_ino);
            if let Some((from_dir, from)) = firsts.get(&key) {
                links.push(Link {
                    from_dir: Arc::clone(from_dir),
                    from: from.clone(),
                    dir: node,
                    name,
                });
                continue;
            }
            firsts.insert(key, (Arc::clone(&node), name.clone()));
        }
        batch.push(Job {
            dir: node,
            name,
            st,
        });
        if batch.len() >= BATCH {
            flush(&mut batch)?;
        }
    }
    flush(&mut batch)
}

/// Makes the directory `name` in the destination of `parent` (meeting an existing one
/// is fine) and opens it; `src` is the source directory, open.
fn make_dir<'a>(
    parent: &DirNode<'a>,
    name: &OsStr,
    src: std::os::fd::OwnedFd,
) -> Result<Arc<DirNode<'a>>, StorageError> {
    let dp = parent.dst_path(name);
    mkdir_in(parent, name)?;
    let dst = nix::fcntl::openat(
        parent.dst.as_fd(),
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| StorageError::write("open directory", &dp, e.into()))?;
    let st = nix::sys::stat::fstat(&src)
        .map_err(|e| StorageError::io("inspect", parent.src_path(name), e.into()))?;
    parent.shared.entries.fetch_add(1, Ordering::Relaxed);
    Ok(Arc::new(DirNode {
        src: File::from(src),
        dst: File::from(dst),
        st,
        rel: parent.rel.join(name),
        shared: parent.shared,
    }))
}

/// `mkdirat` writable by us until the end; an existing directory is fine, anything
/// else in the way is an error.
fn mkdir_in(parent: &DirNode<'_>, name: &OsStr) -> Result<(), StorageError> {
    let dp = parent.dst_path(name);
    match mkdirat(parent.dst.as_fd(), name, Mode::from_bits_truncate(0o700)) {
        Ok(()) => Ok(()),
        Err(nix::Error::EEXIST)
            if fdwalk::stat_at(parent.dst.as_fd(), name)
                .ok()
                .flatten()
                .is_some_and(|st| is_dir(&st)) =>
        {
            Ok(())
        }
        Err(e) => Err(StorageError::write("create directory", dp, e.into())),
    }
}

/// A mount point in the source: an empty directory with the owner, mode and times the
/// mount point shows (like `rsync -x`).
fn mount_point(parent: &DirNode<'_>, name: &OsStr, st: &FileStat) -> Result<(), StorageError> {
    mkdir_in(parent, name)?;
    meta::apply_at(
        st,
        parent.src.as_fd(),
        parent.dst.as_fd(),
        name,
        &parent.src_path(name),
        &parent.dst_path(name),
    )?;
    parent.shared.entries.fetch_add(1, Ordering::Relaxed);
    if let Ok(mut m) = parent.shared.mount_points.lock() {
        m.push(parent.rel.join(name));
    }
    Ok(())
}
