//! A recording fake of the [`Syscall`] seam: every call is appended to a log so tests can
//! assert the exact order of the child's setup without root.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::SFlag;

use super::syscall::{Create, ResolveError, Syscall, Target};

/// One recorded call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Mount {
        src: Option<String>,
        target: PathBuf,
        fstype: Option<String>,
        flags: MsFlags,
        data: Option<String>,
    },
    Umount(PathBuf),
    PivotRoot(PathBuf),
    Chdir(PathBuf),
    Mkdir(PathBuf),
    Mknod(PathBuf),
    Touch(PathBuf),
    Symlink {
        target: PathBuf,
        link: PathBuf,
    },
    Hostname(String),
    Write {
        path: PathBuf,
        data: String,
    },
    OpenPty(PathBuf),
    /// Recorded by tests' hook runners.
    Hook(String),
}

/// The fake. Paths listed in `symlinks` make `resolve_beneath` refuse, `missing` ones do
/// not exist; `mknod_errno` makes every mknod fail (e.g. EPERM in a user namespace).
#[derive(Debug, Default)]
pub struct Recorder {
    pub ops: RefCell<Vec<Op>>,
    pub symlinks: HashSet<PathBuf>,
    pub missing: HashSet<PathBuf>,
    pub mknod_errno: Option<Errno>,
    pub next_pty: Cell<u32>,
}

impl Recorder {
    pub fn record(&self, op: Op) {
        self.ops.borrow_mut().push(op);
    }
}

impl Syscall for Recorder {
    fn mount(
        &self,
        src: Option<&str>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<(), Errno> {
        self.record(Op::Mount {
            src: src.map(str::to_string),
            target: target.to_path_buf(),
            fstype: fstype.map(str::to_string),
            flags,
            data: data.map(str::to_string),
        });
        Ok(())
    }

    fn umount2(&self, target: &Path, _flags: MntFlags) -> Result<(), Errno> {
        self.record(Op::Umount(target.to_path_buf()));
        Ok(())
    }

    fn pivot_root(&self, new_root: &Path, _put_old: &Path) -> Result<(), Errno> {
        self.record(Op::PivotRoot(new_root.to_path_buf()));
        Ok(())
    }

    fn chdir(&self, path: &Path) -> Result<(), Errno> {
        self.record(Op::Chdir(path.to_path_buf()));
        Ok(())
    }

    fn mkdir_all(&self, path: &Path, _mode: u32) -> Result<(), Errno> {
        self.record(Op::Mkdir(path.to_path_buf()));
        Ok(())
    }

    fn mknod(&self, path: &Path, _kind: SFlag, _mode: u32, _dev: u64) -> Result<(), Errno> {
        if let Some(e) = self.mknod_errno {
            return Err(e);
        }
        self.record(Op::Mknod(path.to_path_buf()));
        Ok(())
    }

    fn touch(&self, path: &Path, _mode: u32) -> Result<(), Errno> {
        self.record(Op::Touch(path.to_path_buf()));
        Ok(())
    }

    fn symlink(&self, target: &Path, link: &Path) -> Result<(), Errno> {
        self.record(Op::Symlink {
            target: target.to_path_buf(),
            link: link.to_path_buf(),
        });
        Ok(())
    }

    fn sethostname(&self, name: &str) -> Result<(), Errno> {
        self.record(Op::Hostname(name.to_string()));
        Ok(())
    }

    fn write_file(&self, path: &Path, data: &str) -> Result<(), Errno> {
        self.record(Op::Write {
            path: path.to_path_buf(),
            data: data.to_string(),
        });
        Ok(())
    }

    fn resolve_beneath(
        &self,
        root: &Path,
        rel: &Path,
        _create: Option<Create>,
    ) -> Result<Target, ResolveError> {
        let full = root.join(rel.strip_prefix("/").unwrap_or(rel));
        let mut p = root.to_path_buf();
        for c in rel
            .components()
            .filter(|c| matches!(c, std::path::Component::Normal(_)))
        {
            p.push(c);
            if self.symlinks.contains(&p) {
                return Err(ResolveError::Symlink(p));
            }
        }
        if self.missing.contains(&full) {
            return Err(ResolveError::Os(full, Errno::ENOENT));
        }
        Ok(Target::plain(full))
    }

    fn exists(&self, path: &Path) -> bool {
        !self.missing.contains(path)
    }

    fn open_pty(&self, ptmx: &Path) -> Result<(OwnedFd, u32), Errno> {
        self.record(Op::OpenPty(ptmx.to_path_buf()));
        let n = self.next_pty.get();
        self.next_pty.set(n + 1);
        let f = std::fs::File::open("/dev/null").map_err(|_| Errno::EIO)?;
        Ok((f.into(), n))
    }
}
