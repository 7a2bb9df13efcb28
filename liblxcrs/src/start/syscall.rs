//! The kernel seam of the child's setup: every mount, mkdir, mknod, symlink, pivot_root
//! and /proc write goes through [`Syscall`], so the order of operations is unit-tested
//! against the recording fake in `fake.rs` (STYLE §1). [`Linux`] is the real thing.
//!
//! Calls return the bare [`Errno`]; callers add what and where (one error per step).

use std::ffi::CString;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::{Mode, SFlag};

/// `CLONE_NEWTIME` (not in nix; libc only has it for some targets).
pub const CLONE_NEWTIME: libc::c_int = 0x80;
/// `CLONE_PIDFD`.
pub const CLONE_PIDFD: u64 = 0x1000;
/// `CLONE_INTO_CGROUP` (clone3 only).
pub const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_NO_SYMLINKS: u64 = 0x04;
const RESOLVE_BENEATH: u64 = 0x08;

/// What to create at a mount target that does not exist (`create=dir|file`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    Dir,
    File,
}

/// A resolved mount target: `path` is what to hand to mount(2). For [`Linux`] it is
/// `/proc/self/fd/N` of an `O_PATH` fd held in `_fd`, so the kernel mounts on exactly the
/// inode that was checked (no race with a symlink swapped in later).
#[derive(Debug)]
pub struct Target {
    pub path: PathBuf,
    _fd: Option<OwnedFd>,
}

impl Target {
    /// A target that is just a path (used by the fake).
    #[cfg(test)]
    pub fn plain(path: PathBuf) -> Target {
        Target { path, _fd: None }
    }
}

/// Why a path could not be resolved beneath a root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    /// A component is a symlink.
    Symlink(PathBuf),
    /// `..` would leave the root, or the path is otherwise unacceptable.
    Escapes(PathBuf),
    /// A kernel call failed at this path.
    Os(PathBuf, Errno),
}

impl std::fmt::Display for ResolveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResolveError::Symlink(p) => write!(
                f,
                "{} is a symlink; mount targets may not cross symlinks",
                p.display()
            ),
            ResolveError::Escapes(p) => write!(f, "{} leaves the container's rootfs", p.display()),
            ResolveError::Os(p, e) => write!(f, "cannot resolve {}: {}", p.display(), e.desc()),
        }
    }
}

/// The kernel calls of the child's setup.
pub trait Syscall {
    fn mount(
        &self,
        src: Option<&str>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<(), Errno>;
    fn umount2(&self, target: &Path, flags: MntFlags) -> Result<(), Errno>;
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> Result<(), Errno>;
    fn chdir(&self, path: &Path) -> Result<(), Errno>;
    /// `mkdir -p` with `mode` for new directories.
    fn mkdir_all(&self, path: &Path, mode: u32) -> Result<(), Errno>;
    fn mknod(&self, path: &Path, kind: SFlag, mode: u32, dev: u64) -> Result<(), Errno>;
    /// Create an empty file if missing (a bind-mount target).
    fn touch(&self, path: &Path, mode: u32) -> Result<(), Errno>;
    fn symlink(&self, target: &Path, link: &Path) -> Result<(), Errno>;
    fn sethostname(&self, name: &str) -> Result<(), Errno>;
    /// Write `data` to an existing file (sysctl, /proc knobs).
    fn write_file(&self, path: &Path, data: &str) -> Result<(), Errno>;
    /// Resolve `rel` beneath `root` refusing symlinks and `..` escapes, creating the last
    /// component (and missing parents as directories) when `create` says so.
    fn resolve_beneath(
        &self,
        root: &Path,
        rel: &Path,
        create: Option<Create>,
    ) -> Result<Target, ResolveError>;
    /// Does `path` exist (without following a final symlink)?
    fn exists(&self, path: &Path) -> bool;
    /// Open a new pty from the ptmx at `ptmx`; returns the master and the `pts` index.
    fn open_pty(&self, ptmx: &Path) -> Result<(OwnedFd, u32), Errno>;
}

/// The real kernel.
#[derive(Debug, Default, Clone, Copy)]
pub struct Linux;

fn cpath(p: &Path) -> Result<CString, Errno> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)
}

/// The flags a bind remount must keep: the mount's `nosuid`, `nodev` and `noexec`,
/// and its atime mode. Dropping them is refused (EPERM) where the kernel locked them,
/// i.e. whenever the mount came from a more privileged mount namespace (a CI runner
/// or a host that is itself a container); LXC keeps them the same way.
fn locked_flags(target: &Path) -> Result<MsFlags, Errno> {
    use nix::sys::statvfs::{statvfs, FsFlags};
    let f = statvfs(target)?.flags();
    let mut out = MsFlags::empty();
    for (has, ms) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(has) {
            out |= ms;
        }
    }
    Ok(out)
}

fn io_errno(e: std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

impl Syscall for Linux {
    fn mount(
        &self,
        src: Option<&str>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<(), Errno> {
        let flags = if flags.contains(MsFlags::MS_REMOUNT | MsFlags::MS_BIND) {
            flags | locked_flags(target)?
        } else {
            flags
        };
        nix::mount::mount(src, target, fstype, flags, data)
    }

    fn umount2(&self, target: &Path, flags: MntFlags) -> Result<(), Errno> {
        nix::mount::umount2(target, flags)
    }

    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> Result<(), Errno> {
        nix::unistd::pivot_root(new_root, put_old)
    }

    fn chdir(&self, path: &Path) -> Result<(), Errno> {
        nix::unistd::chdir(path)
    }

    fn mkdir_all(&self, path: &Path, mode: u32) -> Result<(), Errno> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(mode)
            .create(path)
            .map_err(io_errno)
    }

    fn mknod(&self, path: &Path, kind: SFlag, mode: u32, dev: u64) -> Result<(), Errno> {
        nix::sys::stat::mknod(path, kind, Mode::from_bits_truncate(mode), dev)
    }

    fn touch(&self, path: &Path, mode: u32) -> Result<(), Errno> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(mode)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
            .map(drop)
            .map_err(io_errno)
    }

    fn symlink(&self, target: &Path, link: &Path) -> Result<(), Errno> {
        std::os::unix::fs::symlink(target, link).map_err(io_errno)
    }

    fn sethostname(&self, name: &str) -> Result<(), Errno> {
        nix::unistd::sethostname(name)
    }

    fn write_file(&self, path: &Path, data: &str) -> Result<(), Errno> {
        let mut f = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
            .map_err(io_errno)?;
        f.write_all(data.as_bytes()).map_err(io_errno)
    }

    fn resolve_beneath(
        &self,
        root: &Path,
        rel: &Path,
        create: Option<Create>,
    ) -> Result<Target, ResolveError> {
        resolve_beneath(root, rel, create)
    }

    fn exists(&self, path: &Path) -> bool {
        std::fs::symlink_metadata(path).is_ok()
    }

    fn open_pty(&self, ptmx: &Path) -> Result<(OwnedFd, u32), Errno> {
        let flags = OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC;
        let master = nix::fcntl::open(ptmx, flags, Mode::empty())?;
        // Unlock the slave and learn its index, both on the master.
        let mut unlock: libc::c_int = 0;
        // SAFETY: TIOCSPTLCK takes a pointer to an int that lives across the call.
        Errno::result(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &mut unlock) })?;
        let mut index: libc::c_uint = 0;
        // SAFETY: TIOCGPTN writes the pty index into the pointed-to unsigned int.
        Errno::result(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut index) })?;
        Ok((master, index))
    }
}

/// `struct open_how` of openat2(2).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// openat2(2) on `dirfd`: returns `ENOSYS` on kernels without it.
fn openat2(dirfd: &OwnedFd, path: &Path, flags: i32, resolve: u64) -> Result<OwnedFd, Errno> {
    let c = cpath(path)?;
    let how = OpenHow {
        flags: u64::try_from(flags).unwrap_or(0),
        mode: 0,
        resolve,
    };
    // SAFETY: the path is a valid NUL-terminated string and `how` a valid open_how whose
    // size we pass; both outlive the call.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dirfd.as_raw_fd(),
            c.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    let fd = Errno::result(fd)?;
    let fd = i32::try_from(fd).map_err(|_| Errno::EBADF)?;
    // SAFETY: openat2 just returned this new fd; we are its only owner.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Walk `rel` beneath `root` one component at a time with `openat2(RESOLVE_BENEATH |
/// RESOLVE_NO_SYMLINKS)`, so no component can be a symlink and `..` cannot climb out.
/// Missing components are created when `create` is set (parents as directories, the
/// last one as `create` says). Returns an `O_PATH` fd of the final component.
pub fn resolve_beneath(
    root: &Path,
    rel: &Path,
    create: Option<Create>,
) -> Result<Target, ResolveError> {
    let flags = libc::O_PATH | libc::O_CLOEXEC | libc::O_NOFOLLOW;
    let resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    let root_fd = nix::fcntl::open(
        root,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| ResolveError::Os(root.to_path_buf(), e))?;
    let comps: Vec<&std::ffi::OsStr> = rel
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(Ok(n)),
            Component::RootDir | Component::CurDir => None,
            Component::ParentDir | Component::Prefix(_) => Some(Err(())),
        })
        .collect::<Result<_, _>>()
        .map_err(|_| ResolveError::Escapes(rel.to_path_buf()))?;
    let mut cur = root_fd;
    let mut shown = root.to_path_buf();
    for (i, name) in comps.iter().enumerate() {
        shown.push(name);
        let last = i + 1 == comps.len();
        let next = match openat2(&cur, Path::new(name), flags, resolve) {
            Ok(fd) => fd,
            Err(Errno::ELOOP) | Err(Errno::EXDEV) => return Err(ResolveError::Symlink(shown)),
            Err(Errno::ENOENT) if create.is_some() => {
                let kind = if last {
                    create.unwrap_or(Create::Dir)
                } else {
                    Create::Dir
                };
                create_at(&cur, name, kind).map_err(|e| ResolveError::Os(shown.clone(), e))?;
                openat2(&cur, Path::new(name), flags, resolve).map_err(|e| match e {
                    Errno::ELOOP | Errno::EXDEV => ResolveError::Symlink(shown.clone()),
                    e => ResolveError::Os(shown.clone(), e),
                })?
            }
            Err(e) => return Err(ResolveError::Os(shown, e)),
        };
        // RESOLVE_NO_SYMLINKS refuses symlinks in the middle; a final symlink is opened
        // as itself because of O_NOFOLLOW|O_PATH, so check its type explicitly.
        let st = nix::sys::stat::fstat(&next).map_err(|e| ResolveError::Os(shown.clone(), e))?;
        if SFlag::from_bits_truncate(st.st_mode & libc::S_IFMT) == SFlag::S_IFLNK {
            return Err(ResolveError::Symlink(shown));
        }
        cur = next;
    }
    let path = PathBuf::from(format!("/proc/self/fd/{}", cur.as_raw_fd()));
    Ok(Target {
        path,
        _fd: Some(cur),
    })
}

fn create_at(dir: &OwnedFd, name: &std::ffi::OsStr, kind: Create) -> Result<(), Errno> {
    match kind {
        Create::Dir => match nix::sys::stat::mkdirat(dir, name, Mode::from_bits_truncate(0o755)) {
            Ok(()) | Err(Errno::EEXIST) => Ok(()),
            Err(e) => Err(e),
        },
        Create::File => {
            let flags = OFlag::O_CREAT | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
            nix::fcntl::openat(dir, name, flags, Mode::from_bits_truncate(0o644)).map(drop)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_and_creates_beneath_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        let t = resolve_beneath(root, Path::new("a/b"), None).unwrap();
        assert!(t.path.starts_with("/proc/self/fd/"));
        resolve_beneath(root, Path::new("/x/y/z"), Some(Create::File)).unwrap();
        assert!(root.join("x/y").is_dir() && root.join("x/y/z").is_file());
        let e = resolve_beneath(root, Path::new("missing/dir"), None).unwrap_err();
        assert!(matches!(e, ResolveError::Os(_, Errno::ENOENT)), "{e:?}");
    }

    #[test]
    fn refuses_symlinks_and_dotdot() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("real")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("evil")).unwrap();
        std::os::unix::fs::symlink("real", root.join("rel")).unwrap();
        for target in ["evil/shadow", "evil", "rel/x", "rel"] {
            let e = resolve_beneath(root, Path::new(target), Some(Create::Dir)).unwrap_err();
            assert!(matches!(e, ResolveError::Symlink(_)), "{target}: {e:?}");
            assert!(e.to_string().contains("is a symlink"), "{e}");
        }
        assert!(!Path::new("/etc/shadow/x").exists());
        let e = resolve_beneath(root, Path::new("real/../../etc"), None).unwrap_err();
        assert!(matches!(e, ResolveError::Escapes(_)), "{e:?}");
    }
}
