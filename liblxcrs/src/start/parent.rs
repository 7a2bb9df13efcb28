//! The parent (monitor) side of the start sequence (`docs/lxc-contract.md` §6.1 "Caller / monitor
//! side", steps 5–9): pre-start hook, console pty, `clone3` into namespaces and the
//! payload cgroup, id maps, cgroup limits, prlimits, start-host hook, and the barriers
//! that let the child proceed. A [`ChildGuard`] kills and reaps the child on any error.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;

use lxcrs_config::model::HookType;
use nix::errno::Errno;
use nix::fcntl::{FcntlArg, FdFlag, OFlag};
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::sys::stat::Mode;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use crate::cgroups::{clone_into_refused, CgroupManager, Cgroups, HierarchyKind};
use crate::sys::pidfd;

use super::child::{self, Child};
use super::clone::{clone3, Cloned};
use super::hooks::{self, HookContext};
use super::spec::{CgroupHost, Spec};
use super::{
    idmap, limits, lsm, net, protocol, seccomp, Namespace, Spawned, StartError, StartRequest,
};

/// Kills and reaps the child unless disarmed.
struct ChildGuard<'a> {
    pid: Pid,
    pidfd: &'a OwnedFd,
    armed: bool,
}

impl ChildGuard<'_> {
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for ChildGuard<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if pidfd::send_signal(self.pidfd, Signal::SIGKILL as i32).is_err() {
            let _ = nix::sys::signal::kill(self.pid, Signal::SIGKILL);
        }
        let _ = waitpid(self.pid, None);
    }
}

fn cloexec(fd: &OwnedFd) -> Result<(), StartError> {
    nix::fcntl::fcntl(fd.as_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))
        .map(drop)
        .map_err(|e| StartError::sys("set close-on-exec on the console pty", e))
}

/// The spawn must not race other threads: clone3 copies only the calling thread, and a
/// lock held by another thread (malloc's, a runtime's) would stay locked in the child.
fn check_single_threaded() -> Result<(), StartError> {
    single_threaded(std::fs::read_to_string("/proc/self/status"))
}

/// The check on `/proc/self/status`'s text. Fails closed: when the file cannot be read or
/// has no parsable `Threads:` line, the caller is not known to be single-threaded.
fn single_threaded(status: std::io::Result<String>) -> Result<(), StartError> {
    let refuse = |value: String, problem: &str| StartError::Config {
        key: "(caller)".into(),
        value,
        problem: problem.into(),
    };
    let status = status.map_err(|e| {
        refuse(
            format!("/proc/self/status: {e}"),
            "cannot tell whether the caller is single-threaded (is /proc mounted?); containers must be started from a single-threaded process",
        )
    })?;
    let threads = status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse::<u32>().ok());
    match threads {
        Some(1) => Ok(()),
        Some(n) => Err(refuse(
            format!("{n} threads"),
            "containers must be started from a single-threaded process (no threads or async runtime alive)",
        )),
        None => Err(refuse(
            "/proc/self/status has no Threads: line".into(),
            "cannot tell whether the caller is single-threaded; containers must be started from a single-threaded process",
        )),
    }
}

fn own_cgroups(cgroups: &Cgroups) -> Result<(CgroupHost, Vec<(String, PathBuf)>), StartError> {
    let mounts = cgroups.mounts().map_err(|e| StartError::Cgroup {
        op: "read the payload cgroup layout".into(),
        message: e.to_string(),
    })?;
    let mut host = CgroupHost {
        unified_only: !mounts.is_empty(),
        ..Default::default()
    };
    let mut own = Vec::new();
    for m in &mounts {
        match &m.kind {
            HierarchyKind::V1 { controllers } => {
                host.unified_only = false;
                host.v1.push(controllers.join(","));
                own.push((controllers.join(","), m.cgroup.clone()));
            }
            HierarchyKind::V2 => {
                host.has_unified = true;
                own.push((String::new(), m.cgroup.clone()));
            }
        }
    }
    Ok((host, own))
}

/// Let the container's root own its cgroup directories (as LXC's `chown_cgroup`).
fn chown_cgroups(cgroups: &Cgroups, uid: u32, gid: u32) -> Result<(), StartError> {
    let dirs = cgroups.payload_dirs().map_err(|e| StartError::Cgroup {
        op: "list payload cgroups".into(),
        message: e.to_string(),
    })?;
    let (uid, gid) = (
        Some(nix::unistd::Uid::from_raw(uid)),
        Some(nix::unistd::Gid::from_raw(gid)),
    );
    for dir in dirs {
        for p in [
            dir.clone(),
            dir.join("cgroup.procs"),
            dir.join("tasks"),
            dir.join("cgroup.subtree_control"),
            dir.join("cgroup.threads"),
        ] {
            match nix::unistd::chown(&p, uid, gid) {
                Ok(()) | Err(Errno::ENOENT) => {}
                Err(e) => {
                    return Err(StartError::sys(
                        format!("chown {} to the container's root", p.display()),
                        e,
                    ))
                }
            }
        }
    }
    Ok(())
}

/// `lxc.cgroup.*` / `lxc.cgroup2.*` limits; keys this host cannot honour are skipped.
/// Applies the `lxc.cgroup.*`/`lxc.cgroup2.*` limits: all but the device rules
/// (`devices == false`), or only the device rules (`devices == true`). Device rules come
/// last, once the child has mounted its rootfs and made its /dev, as LXC does: a rootfs on
/// a loop device opens /dev/loop-control, and autodev makes device nodes, both of which a
/// typical `devices.deny = a` would refuse. They go to the cgroups in one call, in config
/// order: on cgroup2 they become one eBPF program.
fn apply_limits(req: &StartRequest, devices: bool) -> Result<(), StartError> {
    let keys: Vec<(String, String)> = req
        .config
        .cgroup_v1
        .iter()
        .map(|(f, v)| (format!("lxc.cgroup.{f}"), v.clone()))
        .chain(
            req.config
                .cgroup2
                .iter()
                .map(|(f, v)| (format!("lxc.cgroup2.{f}"), v.clone())),
        )
        .filter(|(key, _)| is_device_rule(key) == devices)
        .collect();
    if devices {
        let skipped = req
            .cgroups
            .apply_device_rules(&keys)
            .map_err(|e| StartError::Cgroup {
                op: "apply the cgroup device rules".into(),
                message: e.to_string(),
            })?;
        // A device policy that does not apply fails closed: the start stops here.
        if let Some(e) = skipped.into_iter().next() {
            return Err(StartError::Cgroup {
                op: "apply the cgroup device rules".into(),
                message: e.to_string(),
            });
        }
        return Ok(());
    }
    for (key, value) in &keys {
        match req.cgroups.apply_limit(key, value) {
            Ok(()) => {}
            Err(e) if e.is_unsupported_on_host() => {
                super::debug(&format!("skipping {key} = {value}: {e}"))
            }
            Err(e) => {
                return Err(StartError::Cgroup {
                    op: format!("apply {key} = {value}"),
                    message: e.to_string(),
                })
            }
        }
    }
    Ok(())
}

fn is_device_rule(key: &str) -> bool {
    key.starts_with("lxc.cgroup.devices.") || key.starts_with("lxc.cgroup2.devices.")
}

/// Join a shared pid namespace for our next child only; returns our own to go back to.
fn enter_shared_pidns(spec: &Spec) -> Result<Option<OwnedFd>, StartError> {
    let Some((_, src)) = spec.ns.share.iter().find(|(n, _)| *n == Namespace::Pid) else {
        return Ok(None);
    };
    let open = |p: &std::path::Path| {
        nix::fcntl::open(p, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|e| StartError::sys(format!("open {}", p.display()), e))
    };
    let own = open(std::path::Path::new("/proc/self/ns/pid"))?;
    let path = src.ns_path(Namespace::Pid, &spec.lxcpath)?;
    let target = open(&path)?;
    nix::sched::setns(&target, CloneFlags::CLONE_NEWPID)
        .map_err(|e| StartError::sys(format!("join pid namespace {}", path.display()), e))?;
    Ok(Some(own))
}

/// Open init's namespaces for the stop hooks.
fn ns_fds(spec: &Spec, pid: Pid) -> Vec<(Namespace, OwnedFd)> {
    Namespace::ALL
        .into_iter()
        .filter(|ns| spec.ns.isolates(*ns))
        .filter_map(|ns| {
            let p = format!("/proc/{pid}/ns/{}", ns.proc_name());
            nix::fcntl::open(
                p.as_str(),
                OFlag::O_RDONLY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .ok()
            .map(|fd| (ns, fd))
        })
        .collect()
}

/// Tears the network down unless the start got through.
struct NetGuard(Option<net::NetSetup>);

impl NetGuard {
    fn disarm(mut self) -> net::NetSetup {
        self.0.take().unwrap_or_default()
    }
}

impl Drop for NetGuard {
    fn drop(&mut self) {
        if let Some(n) = self.0.take() {
            let _ = n.teardown(None);
        }
    }
}

/// Devices of `lxc.net.*` for init `pid` (the monitor removed what a crashed earlier run
/// of this container left on the host before the start). The child brought loopback up
/// in its own new netns; a shared one gets it here.
fn setup_network(req: &StartRequest, spec: &Spec, pid: Pid) -> Result<net::NetSetup, StartError> {
    if !spec.ns.isolates(Namespace::Net) {
        return Ok(net::NetSetup::default());
    }
    if !net::wants_devices(req.config) {
        if !spec.ns.creates(Namespace::Net) {
            net::loopback_only(pid)?;
        }
        return Ok(net::NetSetup::default());
    }
    let mut env = vec![
        ("LXC_NAME".to_string(), req.name.to_string()),
        (
            "LXC_CONFIG_FILE".to_string(),
            req.config_path.display().to_string(),
        ),
    ];
    if let Some(r) = &req.config.rootfs.path {
        env.push(("LXC_ROOTFS_PATH".to_string(), r.path.clone()));
    }
    let ctx = lxcrs_network::NetContext {
        container_name: req.name.to_string(),
        owner: net::owner(req.lxcpath, req.name),
        hook_version: u8::from(req.config.hooks.version == lxcrs_config::model::HookVersion::V1),
        hook_env: env,
    };
    net::setup(req.config, ctx, pid)
}

/// See [`super::spawn`].
pub fn spawn(req: &StartRequest) -> Result<Spawned, StartError> {
    check_single_threaded()?;
    lsm::check(
        lsm::HostLsm::detect(std::path::Path::new("/sys")),
        &req.config.security,
    )?;
    if req.argv.is_empty() {
        return Err(StartError::config("lxc.init.cmd", "", "empty init command"));
    }
    let (cgroup_host, own) = own_cgroups(req.cgroups)?;
    let spec = Spec::new(
        req.name,
        req.lxcpath,
        req.config_path,
        req.config,
        cgroup_host,
        req.daemonized,
    )?;
    // Compiled here, once: errors name the file, and the child only loads the result.
    let seccomp = spec
        .seccomp_profile
        .as_deref()
        .map(|p| seccomp::read(p).and_then(|prof| seccomp::program(&prof)))
        .transpose()?;
    let hook_ctx = HookContext::from_spec(&spec, req.config);

    // Host side, before the child exists.
    hooks::run(HookType::PreStart, &hook_ctx, &[])?;
    if let Some(r) = &spec.rootfs {
        std::fs::create_dir_all(&r.mount)
            .map_err(|e| StartError::io("create the rootfs mount point", &r.mount, e))?;
    }
    let console = if spec.console {
        let pty = nix::pty::openpty(None, None)
            .map_err(|e| StartError::sys("allocate the console pty from /dev/ptmx", e))?;
        cloexec(&pty.master)?;
        cloexec(&pty.slave)?;
        if let (true, Some(uid), Some(gid)) = (
            spec.userns(),
            req.config.root_host_uid(),
            req.config.root_host_gid(),
        ) {
            nix::unistd::fchown(&pty.slave, Some(uid.into()), Some(gid.into()))
                .map_err(|e| StartError::sys("chown the console pty to the container's root", e))?;
        }
        let path = nix::unistd::ttyname(&pty.slave)
            .map_err(|e| StartError::sys("find the console pty's name", e))?;
        Some((pty, path))
    } else {
        None
    };
    let (parent_end, child_end) = protocol::pair()?;
    let cgroup_fd = match req.cgroups.v2_payload_dir() {
        Some(dir) => Some(
            nix::fcntl::open(
                dir,
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| StartError::sys(format!("open payload cgroup {}", dir.display()), e))?,
        ),
        None => None,
    };
    let cgroup_entry = req
        .cgroups
        .payload_self_entry()
        .map_err(|e| StartError::Cgroup {
            op: "open the payload cgroup's tasks files".into(),
            message: e.to_string(),
        })?;
    let own_pidns = enter_shared_pidns(&spec)?;
    let flags = spec.ns.clone_flags();
    let mut cloned = clone3(flags, cgroup_fd.as_ref());
    let mut in_v2 = cgroup_fd.is_some() && cloned.is_ok();
    if cgroup_fd.is_some() && matches!(cloned, Err(e) if clone_into_refused(e)) {
        // Kernel or cgroup state refuses CLONE_INTO_CGROUP: clone, then enter cgroup.procs.
        cloned = clone3(flags, None);
        in_v2 = false;
    }
    if let Some(own) = &own_pidns {
        nix::sched::setns(own, CloneFlags::CLONE_NEWPID)
            .map_err(|e| StartError::sys("return to our own pid namespace", e))?;
    }
    let (pid, pidfd) = match cloned {
        Ok(Cloned::Child) => {
            super::clone::exit_on_panic(child_end.as_raw_fd());
            drop(parent_end);
            child::main(Child {
                spec: &spec,
                argv: &req.argv,
                execute: req.execute,
                chan: child_end,
                console: console
                    .as_ref()
                    .map(|(p, path)| (p.slave.as_raw_fd(), path.clone())),
                own_cgroups: own,
                cgroup_entry,
                seccomp,
                hook_ctx: hook_ctx.clone(),
            })
        }
        Ok(Cloned::Parent { pid, pidfd }) => (pid, pidfd),
        Err(e) => {
            return Err(StartError::sys(
                format!("clone the container's init ({flags:?})"),
                e,
            ))
        }
    };
    let guard = ChildGuard {
        pid,
        pidfd: &pidfd,
        armed: true,
    };
    drop(child_end);
    let console_master = console.map(|(p, _)| p.master);

    // Step 1: ids, cgroups, limits.
    if spec.userns() {
        idmap::write_maps(&spec.idmaps, pid)?;
    }
    // The child moves itself into the v1 hierarchies; v2 is ours unless clone3 placed it.
    drop(cgroup_entry);
    if !in_v2 {
        req.cgroups
            .enter_payload_v2(pid)
            .map_err(|e| StartError::Cgroup {
                op: format!("move pid {pid} into the payload cgroup"),
                message: e.to_string(),
            })?;
    }
    apply_limits(req, false)?;
    if let (true, Some(uid), Some(gid)) = (
        spec.userns(),
        req.config.root_host_uid(),
        req.config.root_host_gid(),
    ) {
        chown_cgroups(req.cgroups, uid, gid)?;
    }
    parent_end.send_startup()?;
    parent_end.wait_configured()?;

    // Step 2: network devices, created on the host and configured inside init's netns,
    // and limits applied from outside, while the child mounts its rootfs. When one of ours
    // fails, the child's own failure (which may be why) is the one to report.
    let network = (|| {
        let network = NetGuard(Some(setup_network(req, &spec, pid)?));
        limits::apply_prlimits(pid, &spec.prlimits)?;
        limits::apply_procs(std::path::Path::new("/proc"), pid, &spec.procs)?;
        parent_end.send_post_configure()?;
        Ok(network)
    })()
    .map_err(|e| parent_end.child_error().unwrap_or(e))?;
    let ns_fds = ns_fds(&spec, pid);

    // Step 4-5: the child mounted and made its /dev; the device rules go in before any
    // code of the container's rootfs runs (start hook, init).
    parent_end.wait_mounted()?;
    apply_limits(req, true)?;
    parent_end.send_devices_applied()?;
    // Step 6-8: the rest of the child's setup, start-host hook, exec.
    let ttys = parent_end.wait_setup_done()?;
    hooks::run(
        HookType::StartHost,
        &hook_ctx.clone().with_pid(pid.as_raw()),
        &[],
    )?;
    parent_end.send_ready_start()?;
    parent_end.wait_exec()?;
    guard.disarm();
    Ok(Spawned {
        pid,
        pidfd,
        console: console_master,
        ttys,
        ns_fds,
        network: network.disarm(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thread_check_fails_closed() {
        assert!(single_threaded(Ok("Name:\tx\nThreads:\t1\n".into())).is_ok());
        let e = single_threaded(Ok("Threads:\t3\n".into())).unwrap_err();
        assert!(e.to_string().contains("3 threads"), "{e}");
        let unreadable = std::io::Error::from(std::io::ErrorKind::NotFound);
        let e = single_threaded(Err(unreadable)).unwrap_err();
        assert!(e.to_string().contains("/proc/self/status"), "{e}");
        assert!(single_threaded(Ok("Name:\tx\n".into())).is_err());
    }
}
