//! `lxc.autodev`: a small tmpfs on `/dev` with the standard nodes, created with mknod or,
//! where that is not allowed (a user namespace), bind-mounted from the host; plus the
//! `/dev/fd`, `stdin`, `stdout`, `stderr` symlinks. `/dev/shm` is left for init (or a
//! mount entry) to provide.

use std::path::Path;

use nix::errno::Errno;
use nix::mount::MsFlags;
use nix::sys::stat::SFlag;

use super::at::Under;
use super::spec::Spec;
use super::syscall::Create;
use super::StartError;

/// The nodes LXC creates: name, major, minor.
pub const NODES: [(&str, u64, u64); 6] = [
    ("full", 1, 7),
    ("null", 1, 3),
    ("random", 1, 8),
    ("tty", 5, 0),
    ("urandom", 1, 9),
    ("zero", 1, 5),
];

const LINKS: [(&str, &str); 4] = [
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
];

/// Mount the `/dev` tmpfs and create `/dev/pts` in it.
pub fn mount_tmpfs(u: &Under, spec: &Spec) -> Result<(), StartError> {
    if !spec.autodev || spec.rootfs.is_none() {
        return Ok(());
    }
    let data = format!("size={},mode=755", spec.autodev_tmpfs_size);
    u.mount(
        "none",
        "dev",
        "tmpfs",
        MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
        Some(&data),
        Some(Create::Dir),
    )?;
    u.resolve("dev/pts", Some(Create::Dir)).map(drop)
}

/// Create the device nodes and symlinks in the autodev tmpfs.
pub fn populate(u: &Under, spec: &Spec) -> Result<(), StartError> {
    if !spec.autodev || spec.rootfs.is_none() {
        return Ok(());
    }
    for (name, major, minor) in NODES {
        let rel = format!("dev/{name}");
        let path = u.path(&rel);
        match u.sys.mknod(
            &path,
            SFlag::S_IFCHR,
            0o666,
            nix::sys::stat::makedev(major, minor),
        ) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(Errno::EPERM) | Err(Errno::EACCES) => {
                // Not allowed (user namespace): bind the host's node instead.
                u.sys
                    .touch(&path, 0o000)
                    .map_err(|e| StartError::sys(format!("create {}", path.display()), e))?;
                u.bind(&Path::new("/dev").join(name), &rel, None)?;
            }
            Err(e) => {
                return Err(StartError::sys(
                    format!("create device node {}", path.display()),
                    e,
                ))
            }
        }
    }
    for (name, target) in LINKS {
        let link = u.path(&format!("dev/{name}"));
        match u.sys.symlink(Path::new(target), &link) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => {
                return Err(StartError::sys(
                    format!("create symlink {}", link.display()),
                    e,
                ))
            }
        }
    }
    Ok(())
}
