//! What the monitor runs: the config as loaded ([`Loaded`]: file, `-s` defines, its
//! hooks), and the container's cgroups and init ([`Payload`]: created, spawned, signalled,
//! torn down). Errors become the plain text lxc-start prints.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use lxcrs_config::{Config, ContainerConfig};
use nix::unistd::Pid;

use super::console::Peer;
use super::error::MonitorError;
use crate::cgroups::{CgroupLayout, CgroupManager, Cgroups, Placement, DEFAULT_TIMEOUT};
use crate::commands::options::StartOptions;
use crate::console::ConsoleLog;
use crate::container_dir::ContainerDir;
use crate::start::{self, HookContext, HookKind, Namespace, StartRequest};

/// The config as the monitor runs it: file + `-s` defines.
pub(super) struct Loaded {
    pub config: Config,
    pub config_path: PathBuf,
}

impl Loaded {
    /// The config file (`-f`, else the container's), with the `-s` defines applied.
    pub fn load(lxcpath: &Path, name: &str, opts: &StartOptions) -> Result<Loaded, MonitorError> {
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

    /// What init runs: the command line's, else `lxc.execute.cmd` (lxc-execute) or
    /// `lxc.init.cmd`.
    pub fn argv(&self, opts: &StartOptions) -> Result<Vec<String>, MonitorError> {
        let model = self.model();
        let argv = if !opts.argv.is_empty() {
            opts.argv.clone()
        } else if opts.execute {
            model
                .init
                .execute_cmd
                .as_ref()
                .map(|c| c.argv.clone())
                .unwrap_or_default()
        } else {
            model.init.argv()
        };
        if opts.execute && argv.is_empty() {
            return Err(MonitorError::Message(
                "no command to execute: give one after -- or set lxc.execute.cmd".into(),
            ));
        }
        Ok(argv)
    }

    /// `lxc.hook.stop`, with the namespaces of `payload`'s init still referenced.
    /// Failures are reported in the monitor's stderr (the console log in the foreground)
    /// and do not stop teardown.
    pub fn stop_hook(&self, name: &str, payload: Option<&Payload>, reboot: bool) {
        let mut ctx = HookContext::new(name, &self.config_path, self.model());
        if let Some(init) = payload.and_then(|p| p.init.as_ref()) {
            ctx = ctx
                .with_pid(init.pid.as_raw())
                .with_namespaces(&init.ns_fds);
        }
        let ctx = ctx.with_target(if reboot { "reboot" } else { "stop" });
        if ctx.has(HookKind::Stop) {
            if let Err(e) = start::hooks::run(HookKind::Stop, &ctx, &[]) {
                eprintln!("lxcrs-monitor: {name}: {e}");
            }
        }
    }

    /// `lxc.hook.post-stop`; failures are reported as for [`Loaded::stop_hook`].
    pub fn post_stop(&self, name: &str) {
        let ctx = HookContext::new(name, &self.config_path, self.model());
        if ctx.has(HookKind::PostStop) {
            if let Err(e) = start::hooks::run(HookKind::PostStop, &ctx, &[]) {
                eprintln!("lxcrs-monitor: {name}: {e}");
            }
        }
    }
}

/// A container's cgroups and, while it runs, its init.
pub(super) struct Payload {
    pub cgroups: Cgroups,
    pub payload_created: bool,
    pub init: Option<Init>,
}

/// The pty masters of a new init, for the monitor to serve: the console's (none with
/// `lxc.console.path = none`) and one per `lxc.tty.max`.
pub(super) struct Ptys {
    pub console: Option<OwnedFd>,
    pub ttys: Vec<OwnedFd>,
}

pub(super) struct Init {
    pub pid: Pid,
    pub pidfd: OwnedFd,
    pub ns_fds: Vec<(Namespace, OwnedFd)>,
    /// Host-side network devices, torn down at stop.
    pub network: Option<start::net::NetSetup>,
    pub alive: bool,
}

impl Payload {
    /// The monitor cgroup (entered by the monitor itself, never frozen or limited) of
    /// container `name`; the payload cgroup comes with [`Payload::spawn`].
    pub fn prepare(name: &str) -> Result<Payload, MonitorError> {
        let layout = CgroupLayout::detect_host()?;
        let placement = if crate::paths::is_root() {
            match std::fs::read_to_string("/proc/1/cgroup") {
                Ok(t) => Placement::ProcCgroup(t),
                Err(_) => Placement::Caller,
            }
        } else {
            Placement::Caller
        };
        let mut cg = Cgroups::new(&layout, name, &placement)?;
        cg.create_monitor()?;
        Ok(Payload {
            cgroups: cg,
            payload_created: false,
            init: None,
        })
    }

    /// Creates the payload cgroup (again, after a reboot) and runs the start sequence;
    /// init is then ours, and its pty masters the caller's.
    pub fn spawn(
        &mut self,
        name: &str,
        lxcpath: &Path,
        loaded: &Loaded,
        opts: &StartOptions,
    ) -> Result<Ptys, MonitorError> {
        if !self.payload_created {
            self.cgroups.create_payload()?;
            self.payload_created = true;
        }
        let req = StartRequest {
            name,
            lxcpath,
            config_path: &loaded.config_path,
            config: loaded.model(),
            argv: loaded.argv(opts)?,
            execute: opts.execute,
            cgroups: &self.cgroups,
            daemonized: !opts.foreground,
        };
        // Devices a killed monitor of this container left behind would clash by name.
        if let Err(e) = start::net::cleanup_leftovers(lxcpath, name) {
            eprintln!("lxcrs-monitor: {name}: {e}");
        }
        let spawned = start::spawn(&req)?;
        self.init = Some(Init {
            pid: spawned.pid,
            pidfd: spawned.pidfd,
            ns_fds: spawned.ns_fds,
            network: Some(spawned.network),
            alive: true,
        });
        Ok(Ptys {
            console: spawned.console,
            ttys: spawned.ttys,
        })
    }

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
        crate::sys::pidfd::send_signal(fd, sig)
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

    /// Removes the payload cgroup, if made (the monitor cgroup goes last, see
    /// [`Payload::remove_monitor_cgroup`]).
    pub fn remove_payload_cgroup(&mut self) -> crate::cgroups::Result<()> {
        if self.payload_created {
            self.cgroups.remove_payload()?;
            self.payload_created = false;
        }
        Ok(())
    }

    /// The monitor's own cgroup, last of all, after STOPPED went out: leaving it costs the
    /// kernel's threadgroup lock on cgroup2 (a grace period, see `cgroups::SelfEntry`) that
    /// no client needs to wait for. A new monitor for this container meanwhile takes
    /// another name and removes this one if it is still there.
    pub fn remove_monitor_cgroup(mut self) -> crate::cgroups::Result<()> {
        self.cgroups.remove_monitor(Some(nix::unistd::getpid()))
    }

    /// The payload and monitor cgroup paths as `KEY:/path` lines (see [`crate::cgroups::CgroupPaths`]).
    pub fn cgroup_paths(&self) -> (Vec<String>, Vec<String>) {
        let lines = |r: crate::cgroups::Result<crate::cgroups::CgroupPaths>| -> Vec<String> {
            r.map(|p| p.to_string().lines().map(str::to_string).collect())
                .unwrap_or_default()
        };
        (
            lines(self.cgroups.payload_paths()),
            lines(self.cgroups.monitor_paths()),
        )
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
