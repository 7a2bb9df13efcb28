//! The monitor's use of the other modules: the config, the cgroups, the start sequence
//! and the hooks. Errors become the plain text lxc-start prints.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use lxcrs_config::{Config, ContainerConfig};
use nix::unistd::Pid;

use super::console::Peer;
use super::error::MonitorError;
use super::run::{Monitor, TtySlot};
use crate::cgroups::{CgroupLayout, CgroupManager, Cgroups, Placement, DEFAULT_TIMEOUT};
use crate::commands::options::StartOptions;
use crate::console::ConsoleLog;
use crate::container::ContainerDir;
use crate::start::{self, HookContext, HookKind, Namespace, StartRequest};

/// The config as the monitor runs it: file + `-s` defines.
pub(super) struct Loaded {
    pub config: Config,
    pub config_path: PathBuf,
}

pub(super) fn load(
    lxcpath: &Path,
    name: &str,
    opts: &StartOptions,
) -> Result<Loaded, MonitorError> {
    let config_path = ContainerDir::new(lxcpath, name).config_in_use(opts.rcfile.as_deref());
    if !config_path.exists() {
        return Err(if opts.rcfile.is_some() {
            MonitorError::NoRcfile(config_path)
        } else {
            MonitorError::NotDefined {
                name: name.to_string(),
                lxcpath: lxcpath.to_path_buf(),
                config: config_path,
            }
        });
    }
    let mut config = Config::load(&config_path)?;
    for (k, v) in &opts.defines {
        config
            .set_item(k, v)
            .map_err(|source| MonitorError::Define {
                key: k.clone(),
                value: v.clone(),
                source: Box::new(source),
            })?;
    }
    Ok(Loaded {
        config,
        config_path,
    })
}

impl Loaded {
    pub fn model(&self) -> &ContainerConfig {
        self.config.model()
    }

    pub fn get_item(&self, key: &str) -> Result<String, MonitorError> {
        Ok(self.config.get_item(key)?)
    }

    pub fn stop_signal(&self) -> i32 {
        self.model().signals.stop.map_or(libc::SIGKILL, |s| s.0)
    }

    pub fn ephemeral(&self) -> bool {
        self.model().ephemeral
    }

    pub fn console_log(&self) -> Option<ConsoleLog> {
        let c = &self.model().console;
        let path = c.logfile.as_ref().filter(|p| !p.is_empty())?;
        let limit = c.size.map_or(0, |s| s.bytes());
        ConsoleLog::open(PathBuf::from(path), limit, c.rotate).ok()
    }

    pub fn console_buffer_size(&self) -> usize {
        let c = &self.model().console;
        c.buffer_size
            .map_or(0, |s| usize::try_from(s.bytes()).unwrap_or(0))
    }

    /// `lxc.console.path = /dev/X` (`lxc-start -c`): a host device proxied to the console.
    pub fn console_device_peer(&self) -> Option<Peer> {
        let path = self
            .model()
            .console
            .path
            .as_ref()
            .filter(|p| p.starts_with('/'))?;
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .ok()?;
        let fd: OwnedFd = f.into();
        let input = fd.try_clone().ok();
        Some(Peer { input, output: fd })
    }
}

/// The foreground terminal: stdin/stdout of the monitor.
pub(super) fn foreground_peer() -> Option<Peer> {
    let input = std::io::stdin().as_fd().try_clone_to_owned().ok();
    let output = std::io::stdout().as_fd().try_clone_to_owned().ok()?;
    Some(Peer { input, output })
}

/// The container's lock while it starts (LXC does not hold it once running), and the
/// `partial` check: a container whose create never finished must not start.
pub(super) fn lock_for_start(
    lxcpath: &Path,
    name: &str,
) -> Result<Option<crate::lock::ContainerLock>, MonitorError> {
    let lock = match crate::lock::lock(lxcpath, name, false) {
        Ok(l) => l,
        Err(crate::Error::Busy { name, holder }) => {
            return Err(MonitorError::Busy { name, holder })
        }
        Err(e) => return Err(e.into()),
    };
    // Under the lock: a container LXC's own monitor runs is not started a second time.
    if let Some(lxc) = crate::commands::lxc::probe(lxcpath, name) {
        return Err(crate::container::runtime::running_under_lxc(name, &lxc).into());
    }
    let marker = ContainerDir::new(lxcpath, name).partial();
    if marker.exists() {
        return Err(MonitorError::Partial {
            name: name.to_string(),
            marker,
        });
    }
    Ok(Some(lock))
}

/// A container's cgroups and, while it runs, its init.
pub(super) struct Payload {
    pub cgroups: Cgroups,
    pub payload_created: bool,
    pub init: Option<Init>,
}

pub(super) struct Init {
    pub pid: Pid,
    pub pidfd: OwnedFd,
    pub ns_fds: Vec<(Namespace, OwnedFd)>,
    /// Host-side network devices, torn down at stop.
    pub network: Option<start::net::NetSetup>,
    pub alive: bool,
}

/// Monitor cgroup (entered by the monitor itself, never frozen or limited) and payload.
pub(super) fn prepare_cgroups(m: &mut Monitor) -> Result<(), MonitorError> {
    let layout = CgroupLayout::detect_host()?;
    let placement = if crate::paths::is_root() {
        match std::fs::read_to_string("/proc/1/cgroup") {
            Ok(t) => Placement::ProcCgroup(t),
            Err(_) => Placement::Caller,
        }
    } else {
        Placement::Caller
    };
    let mut cg = Cgroups::new(&layout, &m.name, &placement)?;
    cg.create_monitor()?;
    m.payload = Some(Payload {
        cgroups: cg,
        payload_created: false,
        init: None,
    });
    Ok(())
}

/// Creates the payload cgroup (again, after a reboot) and runs the start sequence.
pub(super) fn spawn(m: &mut Monitor) -> Result<(), MonitorError> {
    let Some(p) = m.payload.as_mut() else {
        return Err(MonitorError::Message("cgroups were not prepared".into()));
    };
    if !p.payload_created {
        p.cgroups.create_payload()?;
        p.payload_created = true;
    }
    let model = m.loaded.config.model();
    let argv = if !m.opts.argv.is_empty() {
        m.opts.argv.clone()
    } else if m.opts.execute {
        model
            .init
            .execute_cmd
            .as_ref()
            .map(|c| c.argv.clone())
            .unwrap_or_default()
    } else {
        model.init.argv()
    };
    if m.opts.execute && argv.is_empty() {
        return Err(MonitorError::Message(
            "no command to execute: give one after -- or set lxc.execute.cmd".into(),
        ));
    }
    let req = StartRequest {
        name: &m.name,
        lxcpath: &m.lxcpath,
        config_path: &m.loaded.config_path,
        config: model,
        argv,
        execute: m.opts.execute,
        cgroups: &p.cgroups,
        daemonized: !m.opts.foreground,
    };
    // Devices a killed monitor of this container left behind would clash by name.
    if let Err(e) = start::net::cleanup_leftovers(&m.lxcpath, &m.name) {
        eprintln!("lxcrs-monitor: {}: {e}", m.name);
    }
    let spawned = start::spawn(&req)?;
    for fd in [spawned.console.as_ref()]
        .into_iter()
        .flatten()
        .chain(spawned.ttys.iter())
    {
        let _ = nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        );
    }
    // Hold a slave fd of every pty: a master whose slaves are all closed reads EIO and
    // polls HUP, so a getty restart or a console reopen would look like an end.
    m.pty_peers = [spawned.console.as_ref()]
        .into_iter()
        .flatten()
        .chain(spawned.ttys.iter())
        .filter_map(open_peer)
        .collect();
    m.console.master = spawned.console;
    m.ttys = spawned
        .ttys
        .into_iter()
        .map(|master| TtySlot {
            master,
            holder: None,
        })
        .collect();
    if m.opts.foreground {
        if let (Some(master), Some(ws)) = (
            &m.console.master,
            crate::console::term::winsize(std::io::stdin().as_fd()),
        ) {
            crate::console::term::set_winsize(master.as_fd(), &ws);
        }
    }
    p.init = Some(Init {
        pid: spawned.pid,
        pidfd: spawned.pidfd,
        ns_fds: spawned.ns_fds,
        network: Some(spawned.network),
        alive: true,
    });
    Ok(())
}

/// A new fd on the slave side of pty `master` (TIOCGPTPEER), not our controlling tty.
fn open_peer(master: &OwnedFd) -> Option<OwnedFd> {
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: TIOCGPTPEER on a pty master fd we own; it returns a new fd or -1.
    let fd = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, flags) };
    // SAFETY: a fresh fd from the kernel, owned by nobody else.
    (fd >= 0).then(|| unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

impl Payload {
    pub fn pid(&self) -> Option<Pid> {
        self.init.as_ref().filter(|i| i.alive).map(|i| i.pid)
    }

    pub fn pidfd(&self) -> Option<&OwnedFd> {
        self.init.as_ref().filter(|i| i.alive).map(|i| &i.pidfd)
    }

    pub fn init_exited(&mut self) {
        if let Some(i) = self.init.as_mut() {
            i.alive = false;
        }
    }

    /// Sends `sig` to init through its pidfd (no pid-reuse race).
    pub fn signal(&self, sig: i32) -> nix::Result<()> {
        let fd = self.pidfd().ok_or(nix::errno::Errno::ESRCH)?;
        pidfd_send_signal(fd, sig)
    }

    pub fn freeze(&self) -> Result<(), MonitorError> {
        self.cgroups
            .freeze(DEFAULT_TIMEOUT)
            .map_err(|source| MonitorError::Freezer {
                op: "freeze",
                source: Box::new(source),
            })
    }

    pub fn thaw(&self) -> Result<(), MonitorError> {
        self.cgroups
            .thaw(DEFAULT_TIMEOUT)
            .map_err(|source| MonitorError::Freezer {
                op: "unfreeze",
                source: Box::new(source),
            })
    }

    /// Processes left in the payload (init shared the host pid namespace, or escaped).
    pub fn kill_all(&mut self) {
        if self.payload_created {
            let _ = self.cgroups.thaw(DEFAULT_TIMEOUT);
            let _ = self.cgroups.kill_all(DEFAULT_TIMEOUT);
        }
    }

    /// Removes the host side of the network (phys devices go back through init's
    /// still-open netns fd).
    pub fn teardown_network(&mut self) -> Result<(), MonitorError> {
        let Some(init) = self.init.as_mut() else {
            return Ok(());
        };
        let Some(net) = init.network.take() else {
            return Ok(());
        };
        let netns = init
            .ns_fds
            .iter()
            .find(|(ns, _)| *ns == Namespace::Net)
            .map(|(_, fd)| fd.as_fd());
        net.teardown(netns).map_err(MonitorError::Message)
    }

    /// Drops init's fds (pidfd, namespaces): the namespaces can now go away.
    pub fn release(&mut self) {
        self.init = None;
    }

    /// Runtime facts that override the config file in `get_running_config_item`: the
    /// host name of a veth pair (`lxc.net.N.veth.pair`) that the start generated.
    pub fn runtime_item(&self, key: &str) -> Option<String> {
        let rest = key.strip_prefix("lxc.net.")?;
        let (index, item) = rest.split_once('.')?;
        let index: usize = index.parse().ok()?;
        let net = self.init.as_ref()?.network.as_ref()?;
        let (_, nic) = net.nics.iter().find(|(_, nic)| nic.index == index)?;
        match item {
            "veth.pair" => nic.host_ifname.clone(),
            _ => None,
        }
    }
}

pub(super) fn pidfd_send_signal(fd: &OwnedFd, sig: i32) -> nix::Result<()> {
    // SAFETY: pidfd_send_signal with a valid pidfd, a signal number, no siginfo and no flags.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if r < 0 {
        Err(nix::errno::Errno::last())
    } else {
        Ok(())
    }
}

fn hook_context(m: &Monitor) -> HookContext {
    let mut ctx = HookContext::new(&m.name, &m.loaded.config_path, m.loaded.model());
    if let Some(init) = m.payload.as_ref().and_then(|p| p.init.as_ref()) {
        ctx = ctx
            .with_pid(init.pid.as_raw())
            .with_namespaces(&init.ns_fds);
    }
    ctx
}

/// `lxc.hook.stop`, with init's namespaces still referenced. Failures are reported in
/// the monitor's stderr (the console log in the foreground) and do not stop teardown.
pub(super) fn stop_hook(m: &Monitor, reboot: bool) {
    let ctx = hook_context(m).with_target(if reboot { "reboot" } else { "stop" });
    if ctx.has(HookKind::Stop) {
        if let Err(e) = start::hooks::run(HookKind::Stop, &ctx, &[]) {
            eprintln!("lxcrs-monitor: {}: {e}", m.name);
        }
    }
}

pub(super) fn post_stop(m: &Monitor) {
    let ctx = HookContext::new(&m.name, &m.loaded.config_path, m.loaded.model());
    if ctx.has(HookKind::PostStop) {
        if let Err(e) = start::hooks::run(HookKind::PostStop, &ctx, &[]) {
            eprintln!("lxcrs-monitor: {}: {e}", m.name);
        }
    }
}

/// Removes the payload cgroup (the monitor cgroup goes last, see [`remove_monitor_cgroup`]).
pub(super) fn remove_payload_cgroup(m: &mut Monitor) {
    let Some(p) = m.payload.as_mut() else { return };
    if p.payload_created {
        match p.cgroups.remove_payload() {
            Ok(()) => p.payload_created = false,
            Err(e) => eprintln!("lxcrs-monitor: {}: {e}", m.name),
        }
    }
}

/// The monitor's own cgroup, last of all, after STOPPED went out: leaving it costs the
/// kernel's threadgroup lock on cgroup2 (a grace period, see `cgroups::SelfEntry`) that
/// no client needs to wait for. A new monitor for this container meanwhile takes
/// another name and removes this one if it is still there.
pub(super) fn remove_monitor_cgroup(m: &mut Monitor) {
    let Some(mut p) = m.payload.take() else {
        return;
    };
    if let Err(e) = p.cgroups.remove_monitor(Some(nix::unistd::getpid())) {
        eprintln!("lxcrs-monitor: {}: {e}", m.name);
    }
}

/// The payload and monitor cgroup paths as `KEY:/path` lines (see [`crate::cgroups::CgroupPaths`]).
pub(super) fn cgroup_paths(m: &Monitor) -> (Vec<String>, Vec<String>) {
    let lines = |r: crate::cgroups::Result<crate::cgroups::CgroupPaths>| -> Vec<String> {
        r.map(|p| p.to_string().lines().map(str::to_string).collect())
            .unwrap_or_default()
    };
    match &m.payload {
        Some(p) => (
            lines(p.cgroups.payload_paths()),
            lines(p.cgroups.monitor_paths()),
        ),
        None => (Vec::new(), Vec::new()),
    }
}

/// `lxc.ephemeral = 1`: the container goes away with its stop (not a `-f` rcfile run:
/// there is no container directory of ours to remove).
pub(super) fn destroy_ephemeral(m: &Monitor) {
    if m.opts.rcfile.is_some() {
        return;
    }
    let res = crate::Container::new(&m.name, Some(&m.lxcpath)).and_then(|mut c| c.destroy(false));
    if let Err(e) = res {
        eprintln!(
            "lxcrs-monitor: {}: failed to destroy the ephemeral container: {e}",
            m.name
        );
    }
}
