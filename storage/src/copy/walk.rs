//! The first pass of a copy: list the source tree, parents before children, with what
//! the second pass needs (metadata, hard-link groups, mount points to stop at).

use std::collections::HashMap;
use std::ffi::CString;
use std::mem::MaybeUninit;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::StorageError;

/// What an entry is, as far as copying goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryKind {
    Dir,
    File,
    Symlink,
    /// Character or block device, fifo or socket: made with mknod.
    Node,
}

/// One entry of the source tree.
#[derive(Debug)]
pub(crate) struct Entry {
    /// Relative to the root; empty for the root itself.
    pub rel: PathBuf,
    pub kind: EntryKind,
    /// The whole `st_mode` (type and permission bits).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    /// 512-byte blocks allocated: fewer than the size needs means holes.
    pub blocks: u64,
    pub rdev: u64,
    pub atime: (i64, i64),
    pub mtime: (i64, i64),
    /// For the second and later names of a hard-linked inode: the index of the first.
    pub link_to: Option<usize>,
}

impl Entry {
    /// True when the file has holes worth keeping.
    pub fn sparse(&self) -> bool {
        self.blocks.saturating_mul(512) < self.size
    }
}

/// The source tree, and the directories that are mount points of other filesystems
/// (copied as empty directories, like `rsync -x`: a rootfs should not drag in whatever
/// is mounted inside it). Nested btrfs subvolumes are on the same mount and are copied.
pub(crate) struct Tree {
    pub entries: Vec<Entry>,
    pub mount_points: Vec<PathBuf>,
}

fn ts(sec: i64, nsec: i64) -> (i64, i64) {
    (sec, nsec)
}

fn entry(rel: PathBuf, md: &std::fs::Metadata) -> Entry {
    let ft = md.file_type();
    let kind = if ft.is_dir() {
        EntryKind::Dir
    } else if ft.is_file() {
        EntryKind::File
    } else if ft.is_symlink() {
        EntryKind::Symlink
    } else {
        EntryKind::Node
    };
    Entry {
        rel,
        kind,
        mode: md.mode(),
        uid: md.uid(),
        gid: md.gid(),
        size: md.size(),
        blocks: md.blocks(),
        rdev: if ft.is_block_device() || ft.is_char_device() {
            md.rdev()
        } else {
            0
        },
        atime: ts(md.atime(), md.atime_nsec()),
        mtime: ts(md.mtime(), md.mtime_nsec()),
        link_to: None,
    }
}

/// The id of the mount `path` is on (statx `STATX_MNT_ID`, Linux 5.8+).
fn mount_id(path: &Path) -> Option<u64> {
    let c = CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut sx = MaybeUninit::<libc::statx>::zeroed();
    // SAFETY: c is a NUL-terminated path, sx points to writable memory of the size of
    // struct statx, and the kernel fills it before we read it.
    let r = unsafe {
        libc::statx(
            libc::AT_FDCWD,
            c.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
            libc::STATX_MNT_ID,
            sx.as_mut_ptr(),
        )
    };
    if r != 0 {
        return None;
    }
    // SAFETY: statx succeeded and initialised the struct (it was zeroed before anyway).
    let sx = unsafe { sx.assume_init() };
    (sx.stx_mask & libc::STATX_MNT_ID != 0).then_some(sx.stx_mnt_id)
}

/// Lists `root` depth first, parents before their children.
pub(crate) fn walk(root: &Path) -> Result<Tree, StorageError> {
    let md = std::fs::symlink_metadata(root).map_err(|e| StorageError::io("inspect", root, e))?;
    if !md.is_dir() {
        return Err(StorageError::Invalid(format!(
            "copy source {} is not a directory",
            root.display()
        )));
    }
    let root_mnt = mount_id(root);
    let mut tree = Tree {
        entries: vec![entry(PathBuf::new(), &md)],
        mount_points: Vec::new(),
    };
    let mut links: HashMap<(u64, u64), usize> = HashMap::new();
    // (relative dir, its device): a directory on another device is either a nested
    // btrfs subvolume (same mount: copy it) or a mount point (stop there).
    let mut stack: Vec<(PathBuf, u64)> = vec![(PathBuf::new(), md.dev())];
    while let Some((rel, dev)) = stack.pop() {
        let dir = root.join(&rel);
        let rd =
            std::fs::read_dir(&dir).map_err(|e| StorageError::io("read directory", &dir, e))?;
        for de in rd {
            let de = de.map_err(|e| StorageError::io("read directory", &dir, e))?;
            let crel = rel.join(de.file_name());
            // DirEntry::metadata is fstatat on the open directory, without following.
            let md = de
                .metadata()
                .map_err(|e| StorageError::io("inspect", root.join(&crel), e))?;
            let mut e = entry(crel, &md);
            if e.kind != EntryKind::Dir && md.nlink() > 1 {
                let idx = tree.entries.len();
                if let Some(&first) = links.get(&(md.dev(), md.ino())) {
                    e.link_to = Some(first);
                } else {
                    links.insert((md.dev(), md.ino()), idx);
                }
            }
            if e.kind == EntryKind::Dir {
                let path = root.join(&e.rel);
                if md.dev() != dev && mount_id(&path) != root_mnt {
                    tree.mount_points.push(e.rel.clone());
                } else {
                    stack.push((e.rel.clone(), md.dev()));
                }
            }
            tree.entries.push(e);
        }
    }
    Ok(tree)
}
