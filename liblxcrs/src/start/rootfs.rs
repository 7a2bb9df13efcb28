//! The rootfs: make the inherited mount tree a slave of the host's (so nothing the
//! container mounts propagates out, while host mounts still propagate in), bind-mount the
//! rootfs directory at the staging point, and at the end remount it read-only when
//! `lxc.rootfs.options` says `ro`.
//!
//! `dir` is a plain recursive bind; overlay, loop and btrfs rootfs are mounted by the
//! storage crate (overlayfs, an autoclear loop device, a bind of the subvolume) inside
//! the container's mount namespace, so they vanish — loop device included — with it.

use std::path::Path;

use nix::mount::MsFlags;

use super::mounts::parse_options;
use super::spec::Spec;
use super::syscall::Syscall;
use super::StartError;

/// Step 1: `mount --make-rslave /`.
pub fn make_rslave(sys: &dyn Syscall) -> Result<(), StartError> {
    sys.mount(
        None,
        Path::new("/"),
        None,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None,
    )
    .map_err(|e| StartError::sys("make / rslave", e))
}

/// The host directory of a `dir`-backed rootfs. Kept separate so the storage backends can
/// replace it.
pub fn dir_source(spec: &Spec) -> Option<&Path> {
    spec.rootfs.as_ref().map(|r| r.source.as_path())
}

/// Step 2: bind the rootfs (recursively) at its staging point, with its options except
/// `ro`, which [`finish`] applies after every other mount.
pub fn mount_rootfs(sys: &dyn Syscall, spec: &Spec) -> Result<(), StartError> {
    let Some(r) = &spec.rootfs else { return Ok(()) };
    if r.options.iter().any(|o| o.starts_with("idmap=")) {
        return Err(StartError::config(
            "lxc.rootfs.options",
            r.options.join(","),
            "idmapped rootfs mounts are not supported yet",
        ));
    }
    let opts = parse_options(&r.options);
    let src = r.source.to_string_lossy();
    let fail = |errno| StartError::Mount {
        src: src.to_string(),
        target: r.mount.clone(),
        fstype: String::new(),
        errno,
    };
    match &r.store {
        None => sys
            .mount(
                Some(&src),
                &r.mount,
                None,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None,
            )
            .map_err(fail)?,
        Some(value) => mount_store(sys, value, &r.mount)?,
    }
    let extra = opts.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_RDONLY);
    if !extra.is_empty() {
        sys.mount(
            None,
            &r.mount,
            None,
            MsFlags::MS_REMOUNT | MsFlags::MS_BIND | extra,
            None,
        )
        .map_err(fail)?;
    }
    Ok(())
}

/// Mounts a non-dir store on the staging point through the storage crate.
fn mount_store(sys: &dyn Syscall, value: &str, target: &Path) -> Result<(), StartError> {
    let store = lxcrs_storage::open(value)
        .map_err(|e| StartError::config("lxc.rootfs.path", value, e.to_string()))?;
    if !sys.exists(target) {
        sys.mkdir_all(target, 0o755)
            .map_err(|e| StartError::sys(format!("create {}", target.display()), e))?;
    }
    store
        .mount(target)
        .map_err(|e| StartError::Message(format!("failed to mount the rootfs {value}: {e}")))
}

/// Last step before `pivot_root`: `ro` from `lxc.rootfs.options`.
pub fn finish(sys: &dyn Syscall, spec: &Spec) -> Result<(), StartError> {
    let Some(r) = &spec.rootfs else { return Ok(()) };
    let opts = parse_options(&r.options);
    if !opts.flags.contains(MsFlags::MS_RDONLY) {
        return Ok(());
    }
    let flags = MsFlags::MS_REMOUNT
        | MsFlags::MS_BIND
        | (opts.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC));
    sys.mount(None, &r.mount, None, flags, None)
        .map_err(|errno| StartError::Mount {
            src: "rootfs (remount read-only)".into(),
            target: r.mount.clone(),
            fstype: String::new(),
            errno,
        })
}
