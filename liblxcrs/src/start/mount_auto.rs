//! `lxc.mount.auto`: proc, sys and cgroup mounts (`docs/lxc-contract.md` §2.2, §6.1).
//!
//! - `proc:mixed`: proc rw, `/proc/sys` read-only with `/proc/sys/net` writable,
//!   `/proc/sysrq-trigger` read-only. `lxc.sysctl.*` are written right after proc is
//!   mounted, before `/proc/sys` goes read-only.
//! - `sys:ro|mixed|rw`: sysfs; `mixed` is read-only with `/sys/devices/virtual/net` writable.
//! - `cgroup[:mode]`: with a cgroup namespace, fresh cgroup mounts (their root is the
//!   container's own cgroup): cgroup2 at `/sys/fs/cgroup` on a cgroup2 host; on a v1/hybrid
//!   host a tmpfs with every v1 hierarchy (`name=systemd` at `systemd`) and cgroup2 at
//!   `unified`, which is what systemd expects. Without a cgroup namespace (kept, shared,
//!   or an old kernel) the host's cgroupfs is never shown writable, and its root (with v1's
//!   `release_agent`) only to `cgroup-full`, as in LXC:
//!   - `cgroup[:mixed|:ro|:rw]`: a tmpfs with, per hierarchy, directories down to the
//!     container's own cgroup and only that cgroup bound there (rw for `mixed`/`rw`, ro for
//!     `ro`); the directories above it are plain tmpfs, read-only unless `rw`.
//!   - `cgroup-full[:mixed|:ro|:rw]`: each whole host hierarchy, read-only except the
//!     container's own cgroup for `mixed`, all read-only for `ro`; `cgroup-full:rw` is the
//!     admin's explicit request for the writable host tree (LXC: "may escape its cgroup").

use std::path::{Path, PathBuf};

use lxcrs_config::model::{CgroupAutoKind, CgroupAutoMode, ProcMode, SysMode};
use nix::mount::MsFlags;

use super::at::Under;
use super::spec::Spec;
use super::syscall::Create;
use super::StartError;

const NOSUIDEXECDEV: MsFlags = MsFlags::MS_NOSUID
    .union(MsFlags::MS_NOEXEC)
    .union(MsFlags::MS_NODEV);

/// Write `lxc.sysctl.*` below `proc` (`/proc` after pivot, `<rootfs>/proc` before).
pub fn write_sysctls(
    u: &Under,
    proc_rel: &str,
    sysctls: &[(String, String)],
) -> Result<(), StartError> {
    for (key, value) in sysctls {
        let rel = format!("{proc_rel}/sys/{}", key.replace('.', "/"));
        let path = u.path(&rel);
        u.sys.write_file(&path, value).map_err(|e| {
            StartError::sys(
                format!("set sysctl {key} = {value} ({})", path.display()),
                e,
            )
        })?;
    }
    Ok(())
}

/// proc and its mixed-mode overlays, then the sysctls.
pub fn mount_proc(u: &Under, spec: &Spec) -> Result<bool, StartError> {
    let Some(mode) = spec.mount_auto.proc else {
        return Ok(false);
    };
    u.mount(
        "proc",
        "proc",
        "proc",
        NOSUIDEXECDEV,
        None,
        Some(Create::Dir),
    )?;
    write_sysctls(u, "proc", &spec.sysctls)?;
    if mode == ProcMode::Mixed {
        u.bind_self("proc/sys")?;
        u.remount(
            "proc/sys",
            MsFlags::MS_BIND | MsFlags::MS_RDONLY | NOSUIDEXECDEV,
        )?;
        u.bind_self("proc/sys/net")?;
        u.remount("proc/sys/net", MsFlags::MS_BIND | NOSUIDEXECDEV)?;
        // Kernels without CONFIG_MAGIC_SYSRQ have no sysrq-trigger.
        if u.exists("proc/sysrq-trigger") {
            u.bind_self("proc/sysrq-trigger")?;
            u.remount(
                "proc/sysrq-trigger",
                MsFlags::MS_BIND | MsFlags::MS_RDONLY | NOSUIDEXECDEV,
            )?;
        }
    }
    Ok(true)
}

/// sysfs.
pub fn mount_sys(u: &Under, spec: &Spec) -> Result<(), StartError> {
    let Some(mode) = spec.mount_auto.sys else {
        return Ok(());
    };
    let ro = if mode == SysMode::Rw {
        MsFlags::empty()
    } else {
        MsFlags::MS_RDONLY
    };
    u.mount(
        "sysfs",
        "sys",
        "sysfs",
        NOSUIDEXECDEV | ro,
        None,
        Some(Create::Dir),
    )?;
    if mode == SysMode::Mixed {
        u.bind_self("sys/devices/virtual/net")?;
        u.remount("sys/devices/virtual/net", MsFlags::MS_BIND | NOSUIDEXECDEV)?;
    }
    Ok(())
}

/// The directory name of a v1 hierarchy below `/sys/fs/cgroup`.
fn v1_dir(key: &str) -> &str {
    key.strip_prefix("name=").unwrap_or(key)
}

/// mount(2) data of a v1 hierarchy.
fn v1_data(key: &str) -> String {
    if key.starts_with("name=") {
        format!("none,{key}")
    } else {
        key.to_string()
    }
}

/// The cgroup automount. `own` maps each hierarchy key (`""` for cgroup2) to the
/// container's cgroup path in it; only needed without a cgroup namespace.
pub fn mount_cgroup(u: &Under, spec: &Spec, own: &[(String, PathBuf)]) -> Result<(), StartError> {
    let Some(cg) = spec.mount_auto.cgroup else {
        return Ok(());
    };
    let keeps_sys_admin = !spec.cap_drop.iter().any(|c| c.name() == "sys_admin")
        && match &spec.cap_keep {
            lxcrs_config::model::CapKeep::Unset => true,
            lxcrs_config::model::CapKeep::None => false,
            lxcrs_config::model::CapKeep::Only(l) => l.iter().any(|c| c.name() == "sys_admin"),
        };
    let mode = match cg.mode {
        CgroupAutoMode::NoSpec if keeps_sys_admin => CgroupAutoMode::Rw,
        CgroupAutoMode::NoSpec => CgroupAutoMode::Mixed,
        m => m,
    };
    let ro = if mode == CgroupAutoMode::Ro {
        MsFlags::MS_RDONLY
    } else {
        MsFlags::empty()
    };
    let host = &spec.cgroup_host;
    let base = "sys/fs/cgroup";
    let ns = spec.ns.creates(super::Namespace::Cgroup);
    // Without a cgroup namespace: the whole host hierarchy for cgroup-full, else only the
    // container's own cgroup.
    let show = |host_dir: &Path, rel: &str, own: Option<&(String, PathBuf)>| {
        if cg.kind == CgroupAutoKind::CgroupFull {
            bind_hierarchy(u, host_dir, rel, mode, own)
        } else {
            bind_own_cgroup(u, host_dir, rel, mode, own)
        }
    };
    let tmpfs = || {
        u.mount(
            "cgroup",
            base,
            "tmpfs",
            NOSUIDEXECDEV,
            Some("size=10240k,mode=755"),
            Some(Create::Dir),
        )
    };
    if cg.kind == CgroupAutoKind::Cgroup2 || host.unified_only {
        let own = own.iter().find(|(k, _)| k.is_empty());
        if ns {
            return u.mount(
                "cgroup2",
                base,
                "cgroup2",
                NOSUIDEXECDEV | ro,
                None,
                Some(Create::Dir),
            );
        }
        if cg.kind == CgroupAutoKind::CgroupFull {
            return bind_hierarchy(u, Path::new("/sys/fs/cgroup"), base, mode, own);
        }
        tmpfs()?;
        bind_own_cgroup(u, Path::new("/sys/fs/cgroup"), base, mode, own)?;
        if mode != CgroupAutoMode::Rw {
            u.remount(base, MsFlags::MS_RDONLY | NOSUIDEXECDEV)?;
        }
        return Ok(());
    }
    tmpfs()?;
    for key in &host.v1 {
        let dir = format!("{base}/{}", v1_dir(key));
        if ns {
            u.mount(
                "cgroup",
                &dir,
                "cgroup",
                NOSUIDEXECDEV | ro,
                Some(&v1_data(key)),
                Some(Create::Dir),
            )?;
        } else {
            let host_dir = Path::new("/sys/fs/cgroup").join(v1_dir(key));
            show(&host_dir, &dir, own.iter().find(|(k, _)| k == key))?;
        }
        // Co-mounted controllers (`cpu,cpuacct`) get a symlink per controller.
        if key.contains(',') {
            for c in key.split(',') {
                let link = u.path(&format!("{base}/{c}"));
                u.sys.symlink(Path::new(v1_dir(key)), &link).map_err(|e| {
                    StartError::sys(format!("create symlink {}", link.display()), e)
                })?;
            }
        }
    }
    if host.has_unified {
        let dir = format!("{base}/unified");
        if ns {
            u.mount(
                "cgroup2",
                &dir,
                "cgroup2",
                NOSUIDEXECDEV | ro,
                None,
                Some(Create::Dir),
            )?;
        } else {
            show(
                Path::new("/sys/fs/cgroup/unified"),
                &dir,
                own.iter().find(|(k, _)| k.is_empty()),
            )?;
        }
    }
    if mode != CgroupAutoMode::Rw {
        u.remount(base, MsFlags::MS_RDONLY | NOSUIDEXECDEV)?;
    }
    Ok(())
}

/// Without a cgroup namespace, `cgroup[:mode]`: directories `rel/<own cgroup path>` in the
/// tmpfs and the container's own cgroup (`host_dir/<own cgroup path>`) bound on the last
/// one, read-only for `ro`. Nothing of the host hierarchy above it is visible. A hierarchy
/// the container has no cgroup in (or whose own cgroup is its root) stays an empty
/// directory: the root is never bound.
fn bind_own_cgroup(
    u: &Under,
    host_dir: &Path,
    rel: &str,
    mode: CgroupAutoMode,
    own: Option<&(String, PathBuf)>,
) -> Result<(), StartError> {
    let sub = own.map(|(_, path)| path.strip_prefix("/").unwrap_or(path));
    let Some(sub) = sub.filter(|s| !s.as_os_str().is_empty()) else {
        if rel != "sys/fs/cgroup" {
            u.resolve(rel, Some(Create::Dir))?;
        }
        return Ok(());
    };
    let inner = format!("{rel}/{}", sub.display());
    u.bind(&host_dir.join(sub), &inner, Some(Create::Dir))?;
    let ro = if mode == CgroupAutoMode::Ro {
        MsFlags::MS_RDONLY
    } else {
        MsFlags::empty()
    };
    u.remount(&inner, MsFlags::MS_BIND | ro | NOSUIDEXECDEV)
}

/// Without a cgroup namespace, `cgroup-full[:mode]`: bind the host hierarchy (read-only unless `rw`), and in
/// `mixed` mode the container's own cgroup read-write on top.
fn bind_hierarchy(
    u: &Under,
    host_dir: &Path,
    rel: &str,
    mode: CgroupAutoMode,
    own: Option<&(String, PathBuf)>,
) -> Result<(), StartError> {
    u.bind(host_dir, rel, Some(Create::Dir))?;
    if mode == CgroupAutoMode::Rw {
        return Ok(());
    }
    u.remount(rel, MsFlags::MS_BIND | MsFlags::MS_RDONLY | NOSUIDEXECDEV)?;
    if mode == CgroupAutoMode::Mixed {
        if let Some((_, path)) = own {
            let sub = path.strip_prefix("/").unwrap_or(path);
            let inner = format!("{rel}/{}", sub.display());
            u.bind(&host_dir.join(sub), &inner, None)?;
            u.remount(&inner, MsFlags::MS_BIND | NOSUIDEXECDEV)?;
        }
    }
    Ok(())
}
