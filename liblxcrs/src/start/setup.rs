//! The child's filesystem setup, in LXC's order (`docs/lxc-contract.md` §6.1 child step 5), from the
//! rootfs mount to `pivot_root`. Everything goes through the [`Syscall`] seam, so
//! `tests` below check the whole mount plan of a config against the recording fake.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use lxcrs_config::model::HookType;

use super::at::Under;
use super::spec::Spec;
use super::syscall::Syscall;
use super::{dev, mount_auto, mounts, pivot, pty, rootfs, Namespace, StartError};

/// Runs a hook type (all its commands) at the right point; the child passes the real
/// runner, tests a recorder.
pub type HookRunner<'a> = &'a mut dyn FnMut(HookType) -> Result<(), StartError>;

/// What the setup produced for the rest of the child.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Tty masters for the monitor.
    pub tty_masters: Vec<OwnedFd>,
    /// `container_ttys` names.
    pub tty_names: Vec<String>,
}

/// Inputs known only in the child.
#[derive(Debug, Default)]
pub struct ChildInfo {
    /// The console slave's path (`/dev/pts/N` of the host), when there is a console.
    pub console: Option<PathBuf>,
    /// The container's cgroup per hierarchy key (`""` = cgroup2), from /proc/self/cgroup.
    pub own_cgroups: Vec<(String, PathBuf)>,
}

/// Mount everything and pivot into the rootfs.
pub fn run(
    sys: &dyn Syscall,
    spec: &Spec,
    info: &ChildInfo,
    hooks: HookRunner,
) -> Result<Outcome, StartError> {
    let root = spec.rootfs_mount().to_path_buf();
    let u = Under::new(sys, &root);

    rootfs::make_rslave(sys)?;
    hooks(HookType::PreMount)?;
    rootfs::mount_rootfs(sys, spec)?;
    if spec.ns.creates(Namespace::Uts) {
        sys.sethostname(&spec.hostname)
            .map_err(|e| StartError::sys(format!("set hostname to {}", spec.hostname), e))?;
    }
    dev::mount_tmpfs(&u, spec)?;
    let proc_mounted = mount_auto::mount_proc(&u, spec)?;
    mount_auto::mount_sys(&u, spec)?;
    let mut entries = Vec::new();
    if let Some(fstab) = &spec.fstab {
        entries.extend(mounts::read_fstab(fstab)?);
    }
    entries.extend(spec.entries.iter().cloned());
    for entry in &entries {
        mounts::mount_entry(sys, &root, rootfs::dir_source(spec), entry)?;
    }
    mount_auto::mount_cgroup(&u, spec, &info.own_cgroups)?;
    hooks(HookType::Mount)?;
    if spec.autodev {
        hooks(HookType::Autodev)?;
    }
    dev::populate(&u, spec)?;
    pty::mount_devpts(&u, spec)?;
    pty::setup_console(&u, spec, info.console.as_deref())?;
    let (tty_masters, tty_names) = pty::setup_ttys(&u, spec)?;
    rootfs::finish(sys, spec)?;
    if spec.rootfs.is_some() {
        pivot::pivot(sys, &root)?;
    }
    if !proc_mounted {
        mount_auto::write_sysctls(&Under::new(sys, Path::new("/")), "proc", &spec.sysctls)?;
    }
    Ok(Outcome {
        tty_masters,
        tty_names,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::start::fake::{Op, Recorder};
    use crate::start::spec::CgroupHost;
    use nix::mount::MsFlags;
    use std::cell::RefCell;

    const BUSYBOX: &str = "\
lxc.rootfs.path = dir:/var/lib/lxc/bb/rootfs
lxc.rootfs.mount = /r
lxc.signal.halt = SIGUSR1
lxc.uts.name = bb
lxc.autodev = 1
lxc.tty.max = 2
lxc.pty.max = 1
lxc.cap.drop = sys_module mac_admin mac_override sys_time
lxc.mount.auto = cgroup:mixed proc:mixed sys:ro
lxc.mount.entry = shm dev/shm tmpfs defaults,create=dir 0 0
lxc.mount.entry = mqueue dev/mqueue mqueue defaults,optional,create=dir 0 0
lxc.mount.entry = /lib lib none ro,bind 0 0
lxc.sysctl.net.ipv4.ip_forward = 1
";

    fn spec(text: &str, host: CgroupHost) -> Spec {
        let cfg = lxcrs_config::Config::parse(text, Path::new("/var/lib/lxc/bb/config"))
            .expect("config parses");
        Spec::new(
            "bb",
            Path::new("/var/lib/lxc"),
            Path::new("/var/lib/lxc/bb/config"),
            cfg.model(),
            host,
            true,
        )
        .expect("spec")
    }

    fn hybrid() -> CgroupHost {
        CgroupHost {
            unified_only: false,
            v1: vec!["memory".into(), "cpu,cpuacct".into(), "name=systemd".into()],
            has_unified: true,
        }
    }

    fn plan(sys: &Recorder, spec: &Spec) -> Vec<String> {
        let hooks = RefCell::new(Vec::new());
        let info = ChildInfo {
            console: Some("/dev/pts/5".into()),
            own_cgroups: vec![],
        };
        let out = run(sys, spec, &info, &mut |h| {
            hooks.borrow_mut().push(h);
            sys.record(Op::Hook(h.name().to_string()));
            Ok(())
        })
        .unwrap();
        assert_eq!(out.tty_names, ["pts/0", "pts/1"]);
        sys.ops
            .borrow()
            .iter()
            .filter_map(|op| match op {
                Op::Mount {
                    src,
                    target,
                    fstype,
                    ..
                } => Some(format!(
                    "{} {} {}",
                    src.as_deref().unwrap_or("-"),
                    target.display(),
                    fstype.as_deref().unwrap_or("-")
                )),
                Op::Hook(h) => Some(format!("hook {h}")),
                Op::PivotRoot(p) => Some(format!("pivot {}", p.display())),
                Op::Write { path, data } => Some(format!("write {} {data}", path.display())),
                Op::Hostname(h) => Some(format!("hostname {h}")),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn busybox_mount_plan_in_lxc_order() {
        let sys = Recorder::default();
        let spec = spec(BUSYBOX, hybrid());
        let got = plan(&sys, &spec);
        let want = [
            "- / -",
            "hook pre-mount",
            "/var/lib/lxc/bb/rootfs /r -",
            "hostname bb",
            "none /r/dev tmpfs",
            "proc /r/proc proc",
            "write /r/proc/sys/net/ipv4/ip_forward 1",
            "/r/proc/sys /r/proc/sys -",
            "- /r/proc/sys -",
            "/r/proc/sys/net /r/proc/sys/net -",
            "- /r/proc/sys/net -",
            "/r/proc/sysrq-trigger /r/proc/sysrq-trigger -",
            "- /r/proc/sysrq-trigger -",
            "sysfs /r/sys sysfs",
            "shm /r/dev/shm tmpfs",
            "mqueue /r/dev/mqueue mqueue",
            "/lib /r/lib -",
            "- /r/lib -",
            "cgroup /r/sys/fs/cgroup tmpfs",
            "cgroup /r/sys/fs/cgroup/memory cgroup",
            "cgroup /r/sys/fs/cgroup/cpu,cpuacct cgroup",
            "cgroup /r/sys/fs/cgroup/systemd cgroup",
            "cgroup2 /r/sys/fs/cgroup/unified cgroup2",
            "- /r/sys/fs/cgroup -",
            "hook mount",
            "hook autodev",
            "devpts /r/dev/pts devpts",
            "/r/dev/pts/ptmx /r/dev/ptmx -",
            "/dev/pts/5 /r/dev/console -",
            "/r/dev/pts/0 /r/dev/tty1 -",
            "/r/dev/pts/1 /r/dev/tty2 -",
            "pivot .",
            "- . -",
            "- / -",
        ];
        assert_eq!(got, want, "\n{got:#?}");
        let ops = sys.ops.borrow();
        let data_of = |t: &str| {
            ops.iter().find_map(|op| match op {
                Op::Mount { target, data, .. } if target == Path::new(t) => data.clone(),
                _ => None,
            })
        };
        assert_eq!(data_of("/r/dev").as_deref(), Some("size=500000,mode=755"));
        assert_eq!(
            data_of("/r/dev/pts").as_deref(),
            Some("newinstance,ptmxmode=0666,mode=0620,gid=5,max=3")
        );
        assert_eq!(
            data_of("/r/sys/fs/cgroup/systemd").as_deref(),
            Some("none,name=systemd")
        );
        assert!(ops.contains(&Op::Mknod(PathBuf::from("/r/dev/null"))));
        assert!(ops.contains(&Op::Symlink {
            target: "/proc/self/fd".into(),
            link: "/r/dev/fd".into()
        }));
        assert!(ops.contains(&Op::Symlink {
            target: "cpu,cpuacct".into(),
            link: "/r/sys/fs/cgroup/cpuacct".into()
        }));
        let n = ops.len();
        assert!(matches!(&ops[n - 2], Op::Chdir(p) if p == Path::new("/")));
        assert!(
            matches!(&ops[n - 1], Op::Mount { target, flags, .. }
            if target == Path::new("/") && *flags == MsFlags::MS_SHARED | MsFlags::MS_REC),
            "rshared last"
        );
    }

    #[test]
    fn unified_host_ro_rootfs_and_tty_dir() {
        let sys = Recorder::default();
        let text = format!("{BUSYBOX}lxc.rootfs.options = ro\nlxc.tty.dir = lxc\n");
        let spec = spec(
            &text,
            CgroupHost {
                unified_only: true,
                v1: vec![],
                has_unified: true,
            },
        );
        let got = plan(&sys, &spec);
        let cg: Vec<&String> = got.iter().filter(|l| l.contains("cgroup")).collect();
        assert_eq!(cg, ["cgroup2 /r/sys/fs/cgroup cgroup2"]);
        let i = got
            .iter()
            .position(|l| l == "/r/dev/pts/1 /r/dev/lxc/tty2 -")
            .expect("tty2 in tty.dir");
        assert_eq!(
            got[i + 1],
            "- /r -",
            "rootfs remounted ro after the last mount"
        );
        assert_eq!(got[i + 2], "pivot .");
        assert!(sys.ops.borrow().contains(&Op::Symlink {
            target: "lxc/console".into(),
            link: "/r/dev/console".into()
        }));
        let ro = sys.ops.borrow().iter().any(|op| matches!(op, Op::Mount { target, flags, .. }
            if target == Path::new("/r") && flags.contains(MsFlags::MS_RDONLY | MsFlags::MS_REMOUNT)));
        assert!(ro);
    }

    /// The cgroup mounts of `auto` without a cgroup namespace, on a host with the memory
    /// v1 hierarchy and the empty cgroup2 one.
    fn cgroup_plan_without_cgroupns(auto: &str) -> Vec<String> {
        let sys = Recorder::default();
        let text = format!("{BUSYBOX}lxc.namespace.keep = cgroup\nlxc.mount.auto = {auto}\n");
        let host = CgroupHost {
            unified_only: false,
            v1: vec!["memory".into()],
            has_unified: true,
        };
        let spec = spec(&text, host);
        let info = ChildInfo {
            console: None,
            own_cgroups: vec![
                ("memory".into(), "/lxcrs.payload.bb".into()),
                (String::new(), "/lxcrs.payload.bb".into()),
            ],
        };
        run(&sys, &spec, &info, &mut |_| Ok(())).unwrap();
        let ops = sys.ops.borrow();
        ops.iter()
            .filter_map(|op| match op {
                Op::Mount {
                    src, target, flags, ..
                } if target.starts_with("/r/sys/fs/cgroup") => Some(format!(
                    "{} {} ro={}",
                    src.as_deref().unwrap_or("-"),
                    target.display(),
                    flags.contains(MsFlags::MS_RDONLY)
                )),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn cgroup_without_cgroupns_shows_only_the_own_cgroup() {
        // No host cgroupfs root (v1 release_agent) is ever bound: a tmpfs with directories
        // down to the container's cgroup, and that cgroup on top.
        let own = |ro: bool| {
            vec![
                "cgroup /r/sys/fs/cgroup ro=false".to_string(),
                "/sys/fs/cgroup/memory/lxcrs.payload.bb /r/sys/fs/cgroup/memory/lxcrs.payload.bb ro=false".into(),
                format!("- /r/sys/fs/cgroup/memory/lxcrs.payload.bb ro={ro}"),
                "/sys/fs/cgroup/unified/lxcrs.payload.bb /r/sys/fs/cgroup/unified/lxcrs.payload.bb ro=false".into(),
                format!("- /r/sys/fs/cgroup/unified/lxcrs.payload.bb ro={ro}"),
            ]
        };
        let mut mixed = own(false);
        mixed.push("- /r/sys/fs/cgroup ro=true".into());
        assert_eq!(cgroup_plan_without_cgroupns("cgroup:mixed"), mixed);
        let mut ro = own(true);
        ro.push("- /r/sys/fs/cgroup ro=true".into());
        assert_eq!(cgroup_plan_without_cgroupns("cgroup:ro"), ro);
        // rw: the tmpfs stays writable, but it is no cgroupfs.
        assert_eq!(cgroup_plan_without_cgroupns("cgroup:rw"), own(false));
        // Bare `cgroup` with CAP_SYS_ADMIN kept means rw: still only the own cgroup.
        assert_eq!(cgroup_plan_without_cgroupns("cgroup"), own(false));
    }

    #[test]
    fn cgroup_full_without_cgroupns_binds_host_tree_ro_and_own_cgroup() {
        assert_eq!(
            cgroup_plan_without_cgroupns("cgroup-full:mixed"),
            [
                "cgroup /r/sys/fs/cgroup ro=false",
                "/sys/fs/cgroup/memory /r/sys/fs/cgroup/memory ro=false",
                "- /r/sys/fs/cgroup/memory ro=true",
                "/sys/fs/cgroup/memory/lxcrs.payload.bb /r/sys/fs/cgroup/memory/lxcrs.payload.bb ro=false",
                "- /r/sys/fs/cgroup/memory/lxcrs.payload.bb ro=false",
                "/sys/fs/cgroup/unified /r/sys/fs/cgroup/unified ro=false",
                "- /r/sys/fs/cgroup/unified ro=true",
                "/sys/fs/cgroup/unified/lxcrs.payload.bb /r/sys/fs/cgroup/unified/lxcrs.payload.bb ro=false",
                "- /r/sys/fs/cgroup/unified/lxcrs.payload.bb ro=false",
                "- /r/sys/fs/cgroup ro=true",
            ]
        );
        let ro = cgroup_plan_without_cgroupns("cgroup-full:ro");
        assert!(!ro.iter().any(|l| l.contains("payload")), "{ro:#?}");
    }

    #[test]
    fn unified_host_without_cgroupns_shows_only_the_own_cgroup() {
        let sys = Recorder::default();
        let text = format!("{BUSYBOX}lxc.namespace.keep = cgroup\n");
        let host = CgroupHost {
            unified_only: true,
            v1: vec![],
            has_unified: true,
        };
        let spec = spec(&text, host);
        let info = ChildInfo {
            console: None,
            own_cgroups: vec![(String::new(), "/a/lxcrs.payload.bb".into())],
        };
        run(&sys, &spec, &info, &mut |_| Ok(())).unwrap();
        let binds: Vec<String> = sys
            .ops
            .borrow()
            .iter()
            .filter_map(|op| match op {
                Op::Mount {
                    src: Some(src),
                    target,
                    ..
                } if target.starts_with("/r/sys/fs/cgroup") => {
                    Some(format!("{src} {}", target.display()))
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            binds,
            [
                "cgroup /r/sys/fs/cgroup",
                "/sys/fs/cgroup/a/lxcrs.payload.bb /r/sys/fs/cgroup/a/lxcrs.payload.bb",
            ]
        );
    }

    #[test]
    fn userns_binds_device_nodes() {
        let sys = Recorder {
            mknod_errno: Some(nix::errno::Errno::EPERM),
            ..Default::default()
        };
        let spec = spec(BUSYBOX, hybrid());
        let got = plan(&sys, &spec);
        assert!(
            got.contains(&"/dev/null /r/dev/null -".to_string()),
            "{got:#?}"
        );
        assert!(sys.ops.borrow().contains(&Op::Touch("/r/dev/zero".into())));
    }

    #[test]
    fn symlinked_entry_aborts_before_later_mounts() {
        let mut sys = Recorder::default();
        sys.symlinks.insert(PathBuf::from("/r/lib"));
        let spec = spec(BUSYBOX, hybrid());
        let e = run(&sys, &spec, &ChildInfo::default(), &mut |_| Ok(())).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "refusing mount entry \"/lib lib none ro,bind 0 0\": /r/lib is a symlink"
            ),
            "{e}"
        );
        assert!(!sys
            .ops
            .borrow()
            .iter()
            .any(|op| matches!(op, Op::PivotRoot(_))));
    }
}
