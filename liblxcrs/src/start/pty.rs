//! devpts, `/dev/ptmx`, `/dev/console` and the ttys.
//!
//! - devpts: a new instance (`newinstance,ptmxmode=0666,mode=0620,gid=5,max=N`) where N is
//!   `lxc.pty.max` plus the ttys allocated from it; `gid=5` is dropped when the container
//!   has no gid 5 (user namespace), as LXC does.
//! - `/dev/ptmx`: bind of `/dev/pts/ptmx` (symlink if binding fails).
//! - console: the slave of a pty the monitor allocated from the HOST's `/dev/ptmx` before
//!   clone, bind-mounted on `/dev/console` (or `/dev/<tty.dir>/console` + symlink).
//! - ttys: ptys of the container's own devpts, slaves bound on `/dev/ttyN` (or
//!   `/dev/<tty.dir>/ttyN` + symlink); masters go to the monitor; names (`pts/N`) end up
//!   in `container_ttys`, which systemd's getty generator reads.

use std::os::fd::OwnedFd;
use std::path::Path;

use nix::errno::Errno;
use nix::mount::MsFlags;

use super::at::Under;
use super::spec::Spec;
use super::syscall::Create;
use super::StartError;

/// Mount the container's devpts instance and point `/dev/ptmx` at it.
pub fn mount_devpts(u: &Under, spec: &Spec) -> Result<(), StartError> {
    if spec.rootfs.is_none() {
        return Ok(());
    }
    let max = spec.pty_max.max(1) + spec.tty_max;
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC;
    let with_gid = format!("newinstance,ptmxmode=0666,mode=0620,gid=5,max={max}");
    let t = u.resolve("dev/pts", Some(Create::Dir))?;
    match u.sys.mount(
        Some("devpts"),
        &t.path,
        Some("devpts"),
        flags,
        Some(&with_gid),
    ) {
        Ok(()) => {}
        Err(Errno::EINVAL) => {
            let without = format!("newinstance,ptmxmode=0666,mode=0620,max={max}");
            u.sys
                .mount(
                    Some("devpts"),
                    &t.path,
                    Some("devpts"),
                    flags,
                    Some(&without),
                )
                .map_err(|e| u.err("devpts", "dev/pts", "devpts", e))?;
        }
        Err(e) => return Err(u.err("devpts", "dev/pts", "devpts", e)),
    }
    let ptmx = u.path("dev/ptmx");
    if u.sys.exists(&ptmx) && !spec.autodev {
        // A rootfs-provided node or symlink: bind over a node, leave a symlink alone.
        return match u.resolve("dev/ptmx", None) {
            Ok(_) => u.bind(&u.path("dev/pts/ptmx"), "dev/ptmx", None),
            Err(_) => Ok(()),
        };
    }
    let bound = u
        .resolve("dev/ptmx", Some(Create::File))
        .and_then(|_| u.bind(&u.path("dev/pts/ptmx"), "dev/ptmx", None));
    if bound.is_err() {
        u.sys
            .symlink(Path::new("pts/ptmx"), &ptmx)
            .map_err(|e| StartError::sys(format!("create symlink {}", ptmx.display()), e))?;
    }
    Ok(())
}

/// Where a device goes: `dev/<name>` or `dev/<tty.dir>/<name>` with a symlink
/// `dev/<name>` → `<tty.dir>/<name>`.
fn place(u: &Under, spec: &Spec, src: &Path, name: &str) -> Result<(), StartError> {
    match &spec.tty_dir {
        None => u.bind(src, &format!("dev/{name}"), Some(Create::File)),
        Some(dir) => {
            u.bind(src, &format!("dev/{dir}/{name}"), Some(Create::File))?;
            let link = u.path(&format!("dev/{name}"));
            match u.sys.symlink(&Path::new(dir).join(name), &link) {
                Ok(()) | Err(Errno::EEXIST) => Ok(()),
                Err(e) => Err(StartError::sys(
                    format!("create symlink {}", link.display()),
                    e,
                )),
            }
        }
    }
}

/// Bind the console pty slave (`slave`: a path that opens it, e.g. `/proc/self/fd/N`).
pub fn setup_console(u: &Under, spec: &Spec, slave: Option<&Path>) -> Result<(), StartError> {
    match slave {
        Some(s) if spec.rootfs.is_some() => place(u, spec, s, "console"),
        _ => Ok(()),
    }
}

/// Allocate `lxc.tty.max` ptys from the container's devpts and bind their slaves on the
/// tty devices. Returns the masters and the `container_ttys` names.
pub fn setup_ttys(u: &Under, spec: &Spec) -> Result<(Vec<OwnedFd>, Vec<String>), StartError> {
    let mut masters = Vec::new();
    let mut names = Vec::new();
    if spec.rootfs.is_none() {
        return Ok((masters, names));
    }
    let ptmx = u.path("dev/pts/ptmx");
    for i in 1..=spec.tty_max {
        let (master, index) = u
            .sys
            .open_pty(&ptmx)
            .map_err(|e| StartError::sys(format!("allocate tty{i} from {}", ptmx.display()), e))?;
        place(
            u,
            spec,
            &u.path(&format!("dev/pts/{index}")),
            &format!("tty{i}"),
        )?;
        masters.push(master);
        names.push(format!("pts/{index}"));
    }
    Ok((masters, names))
}
