//! Mount helpers below the rootfs: every target is resolved symlink-safely with
//! [`Syscall::resolve_beneath`] and errors name the logical path
//! (`/run/lxcrs/rootfs/proc`), not the `/proc/self/fd/N` the kernel was given.

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::MsFlags;

use super::syscall::{Create, ResolveError, Syscall, Target};
use super::StartError;

/// The rootfs being set up: a seam and the staging root.
#[derive(Clone, Copy)]
pub struct Under<'a> {
    pub sys: &'a dyn Syscall,
    pub root: &'a Path,
}

impl<'a> Under<'a> {
    pub fn new(sys: &'a dyn Syscall, root: &'a Path) -> Under<'a> {
        Under { sys, root }
    }

    /// Does `root/rel` exist?
    pub fn exists(&self, rel: &str) -> bool {
        self.sys.exists(&self.path(rel))
    }

    /// `root/rel`, for messages.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel.trim_start_matches('/'))
    }

    /// Resolve `rel` (creating it when asked), refusing symlinks.
    pub fn resolve(&self, rel: &str, create: Option<Create>) -> Result<Target, StartError> {
        self.sys
            .resolve_beneath(self.root, Path::new(rel), create)
            .map_err(|e| match e {
                ResolveError::Os(path, errno) => {
                    StartError::sys(format!("open {}", path.display()), errno)
                }
                e => StartError::UnsafeTarget {
                    entry: self.path(rel).display().to_string(),
                    problem: e.to_string(),
                },
            })
    }

    /// Mount `src` of type `fstype` on `rel`.
    pub fn mount(
        &self,
        src: &str,
        rel: &str,
        fstype: &str,
        flags: MsFlags,
        data: Option<&str>,
        create: Option<Create>,
    ) -> Result<(), StartError> {
        let t = self.resolve(rel, create)?;
        self.sys
            .mount(Some(src), &t.path, Some(fstype), flags, data)
            .map_err(|errno| self.err(src, rel, fstype, errno))
    }

    /// Bind `src` (a host path, or another mount's `/proc/self/fd/N`) on `rel`.
    pub fn bind(&self, src: &Path, rel: &str, create: Option<Create>) -> Result<(), StartError> {
        let t = self.resolve(rel, create)?;
        let s = src.to_string_lossy();
        self.sys
            .mount(Some(&s), &t.path, None, MsFlags::MS_BIND, None)
            .map_err(|errno| self.err(&s, rel, "", errno))
    }

    /// Bind `rel` onto itself (to change its flags independently).
    pub fn bind_self(&self, rel: &str) -> Result<(), StartError> {
        let t = self.resolve(rel, None)?;
        let shown = self.path(rel).display().to_string();
        self.sys
            .mount(
                Some(&t.path.to_string_lossy()),
                &t.path,
                None,
                MsFlags::MS_BIND,
                None,
            )
            .map_err(|errno| self.err(&shown, rel, "", errno))
    }

    /// Remount the mount at `rel` (re-resolved, so the top mount is found) with `flags`.
    pub fn remount(&self, rel: &str, flags: MsFlags) -> Result<(), StartError> {
        let t = self.resolve(rel, None)?;
        self.sys
            .mount(None, &t.path, None, MsFlags::MS_REMOUNT | flags, None)
            .map_err(|errno| self.err("(remount)", rel, "", errno))
    }

    pub fn err(&self, src: &str, rel: &str, fstype: &str, errno: Errno) -> StartError {
        StartError::Mount {
            src: src.to_string(),
            target: self.path(rel),
            fstype: fstype.to_string(),
            errno,
        }
    }
}
