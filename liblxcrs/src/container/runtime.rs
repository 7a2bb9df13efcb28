//! The runtime half of the [`Container`] API: start, stop, state, wait, freeze,
//! attach, console — each a few requests to the container's monitor.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};

use crate::cgroups::{CgroupLayout, CgroupManager, CgroupPaths, CgroupStats, Cgroups};
use crate::commands::options::{StartOptions, StartStatus, STATUS_FD};
use crate::commands::state::{State, StateSet};
use crate::commands::{socket as cmdsock, Client, CommandError};
use crate::{Container, Error, Result};

/// How a start ended, for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// The container is RUNNING under the monitor with this pid.
    Running { monitor_pid: i32 },
    /// It was already running: nothing done (LXC: exit 0).
    AlreadyRunning,
}

/// The refusal to start (or destroy) a container that LXC's own monitor runs.
pub(crate) fn running_under_lxc(name: &str, lxc: &crate::commands::peer::PeerCred) -> Error {
    Error::hint(
        format!(
            "{name} is already running under LXC (its monitor is pid {}, uid {}): lxcrs will not start it a second time",
            lxc.pid, lxc.uid
        ),
        "stop it with LXC's own tools (/usr/bin/lxc-stop) first",
    )
}

/// The lines `lxc-start` prints after the error of a failed start of `name`, as LXC's
/// does. Printed by `lxc-start` when the start fails in it or behind it (daemonized), and
/// by the monitor when the start fails in the foreground, where `lxc-start` exec'd it.
pub fn print_start_failed(name: &str, foreground: bool) {
    // Only lxc-start reaches this (it and the monitor it execs): LXC's own text, program
    // name included.
    eprintln!("lxc-start: {name}: The container failed to start");
    if !foreground {
        eprintln!("lxc-start: {name}: To get more details, run the container in foreground mode");
    }
    eprintln!(
        "lxc-start: {name}: Additional information can be obtained by setting the --logfile and --logpriority options"
    );
}

/// Where the monitor binary is: next to the running binary (`/proc/self/exe`), else
/// `$LXCRS_MONITOR`, else the first `lxcrs-monitor` in `$PATH`. As root the last two are
/// honoured only for root-owned paths nobody else can write ([`crate::paths::trusted_env_path`]),
/// and the result is always absolute.
pub fn monitor_binary() -> PathBuf {
    // A sealed re-exec (`rexec`) runs from a memfd: look next to the original binary.
    let exe = crate::rexec::original_exe().or_else(|| std::fs::read_link("/proc/self/exe").ok());
    if let Some(exe) = exe {
        if let Some(dir) = exe.parent() {
            let p = dir.join("lxcrs-monitor");
            if p.is_file() {
                return p;
            }
        }
    }
    if let Some(p) = crate::paths::trusted_env_path("LXCRS_MONITOR") {
        return p;
    }
    let root = crate::paths::is_root();
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let p = dir.join("lxcrs-monitor");
        if !p.is_absolute() || !p.is_file() {
            continue;
        }
        if !root {
            return p;
        }
        if let Ok(real) = crate::paths::root_owned_chain(&p) {
            return real;
        }
    }
    PathBuf::from("/usr/local/bin/lxcrs-monitor")
}

/// The signal `shutdown` sends: `lxc.signal.halt` if set, else SIGRTMIN+3 when init
/// blocks it (systemd asks for that), else SIGPWR.
pub fn halt_signal(configured: Option<i32>, init_status: &str) -> i32 {
    if let Some(s) = configured {
        return s;
    }
    let rt3 = libc::SIGRTMIN() + 3;
    if blocks_signal(init_status, rt3) {
        rt3
    } else {
        libc::SIGPWR
    }
}

/// True when the `SigBlk:` mask of a `/proc/PID/status` text has `sig` set.
pub fn blocks_signal(status: &str, sig: i32) -> bool {
    let mask = status
        .lines()
        .find_map(|l| l.strip_prefix("SigBlk:"))
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        .unwrap_or(0);
    (1..=64).contains(&sig) && mask & (1u64 << (sig - 1)) != 0
}

impl Container {
    fn client(&self) -> Result<Client> {
        Client::connect_running(self.lxcpath(), self.name())
            .map_err(|e| Error::command(self.name(), e))
    }

    /// The state; a container whose monitor does not answer is STOPPED, one that LXC's
    /// own monitor runs is RUNNING.
    pub fn state(&self) -> State {
        match Client::connect(self.lxcpath(), self.name()) {
            Ok(Some(c)) => c.state().unwrap_or(State::Stopped),
            Ok(None) if crate::commands::lxc::probe(self.lxcpath(), self.name()).is_some() => {
                State::Running
            }
            _ => State::Stopped,
        }
    }

    /// Fails when a monitor runs this container but we may not use it (we are neither
    /// root nor the lxcpath's owner), or when a stranger holds its socket name: what a
    /// tool reports instead of a made-up state.
    pub fn check_monitor_access(&self) -> Result<()> {
        match Client::connect(self.lxcpath(), self.name()) {
            Err(e @ (CommandError::Denied { .. } | CommandError::Impostor { .. })) => {
                Err(Error::command(self.name(), e))
            }
            _ => Ok(()),
        }
    }

    /// Init's pid, when running.
    pub fn init_pid(&self) -> Option<i32> {
        running_init_pid(self.lxcpath(), self.name())
    }

    /// A pidfd for init, when running.
    pub fn init_pidfd(&self) -> Result<OwnedFd> {
        self.client()?
            .init_pidfd()
            .map_err(|e| Error::command(self.name(), e))
    }

    /// LXC's `start(daemonize, argv)`: see [`Container::start_with`].
    pub fn start(&mut self, daemonize: bool, argv: &[String]) -> Result<Started> {
        let opts = StartOptions {
            rcfile: None,
            defines: Vec::new(),
            argv: argv.to_vec(),
            execute: false,
            foreground: !daemonize,
            pidfile: None,
        };
        self.start_with(opts)
    }

    /// Starts the container under a new monitor. Daemonized: returns once the container
    /// is RUNNING (or with the start error). Foreground (`opts.foreground`): this process
    /// *becomes* the monitor (exec) and only returns on failure to exec.
    pub fn start_with(&mut self, mut opts: StartOptions) -> Result<Started> {
        if opts.rcfile.is_none() {
            opts.rcfile = self.rcfile().map(Path::to_path_buf);
        }
        if opts.rcfile.is_none() && !self.is_defined() {
            return Err(Error::NotDefined);
        }
        match Client::connect(self.lxcpath(), self.name()) {
            Ok(Some(_)) => return Ok(Started::AlreadyRunning),
            // A squatter on the socket name, or a monitor we may not use: fail loudly.
            Err(e) => return Err(Error::command(self.name(), e)),
            Ok(None) => {}
        }
        if let Some(lxc) = crate::commands::lxc::probe(self.lxcpath(), self.name()) {
            return Err(running_under_lxc(self.name(), &lxc));
        }
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| Error::msg(format!("failed to create the monitor's status socket: {e}")))?;
        cmdsock::send(ours.as_fd(), &opts.encode(), &[]).map_err(Error::from)?;

        let mut cmd = Command::new(monitor_binary());
        cmd.arg0(crate::commands::options::PROCESS_TITLE)
            .arg(self.lxcpath())
            .arg(self.name());
        let theirs_raw = theirs.as_raw_fd();
        // SAFETY: only async-signal-safe calls (dup2, fcntl, close_range) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if theirs_raw == STATUS_FD {
                    if libc::fcntl(STATUS_FD, libc::F_SETFD, 0) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                } else if libc::dup2(theirs_raw, STATUS_FD) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // Nothing else of ours leaks into the monitor (and from it into init).
                libc::syscall(libc::SYS_close_range, STATUS_FD as u32 + 1, u32::MAX, 0);
                Ok(())
            });
        }
        if opts.foreground {
            let err = cmd.exec();
            return Err(Error::io("run the monitor", monitor_binary(), err));
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = cmd
            .spawn()
            .map_err(|e| Error::io("run the monitor", monitor_binary(), e))?;
        drop(theirs);
        crate::failpoint!("start.spawned");
        // The monitor forks once more and its first process exits at once.
        let _ = child.wait();
        let mut buf = vec![0u8; 64 * 1024];
        match cmdsock::recv(ours.as_fd(), &mut buf) {
            Ok(Some((n, _))) => match StartStatus::decode(&buf[..n]) {
                Ok(StartStatus::Running { monitor_pid }) => Ok(Started::Running { monitor_pid }),
                Ok(StartStatus::AlreadyRunning) => Ok(Started::AlreadyRunning),
                Ok(StartStatus::Failed { msg }) => Err(Error::StartFailed(msg)),
                Err(e) => Err(Error::msg(format!("bad status from the monitor: {e}"))),
            },
            Ok(None) => Err(Error::msg("the monitor exited without reporting a status")),
            Err(e) => Err(Error::from(e)),
        }
    }

    /// Subscribes to `states` on a fresh connection; `None` when not running.
    fn subscribe(&self, states: StateSet) -> Result<Option<(Client, State)>> {
        let Some(c) = Client::connect(self.lxcpath(), self.name())
            .map_err(|e| Error::command(self.name(), e))?
        else {
            return Ok(None);
        };
        match c.add_state_client(states) {
            Ok(s) => Ok(Some((c, s))),
            Err(CommandError::Closed { .. }) => Ok(None),
            Err(e) => Err(Error::command(self.name(), e)),
        }
    }

    /// Waits until the monitor of a subscription exits (EOF), within `deadline`.
    fn wait_gone(sub: &Client, deadline: Option<Instant>) -> Result<bool> {
        loop {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left == Some(Duration::ZERO) {
                return Ok(false);
            }
            match sub.next_event(left) {
                Ok(None) => return Ok(true),
                Ok(Some(_)) => continue,
                Err(CommandError::Timeout) => return Ok(false),
                Err(e) => return Err(Error::from(e)),
            }
        }
    }

    /// Hard stop (LXC's `stop`): the monitor sends `lxc.signal.stop` (SIGKILL) and
    /// thaws; returns once the monitor has torn down and exited.
    pub fn stop(&self) -> Result<()> {
        let Some((sub, _)) = self.subscribe(StateSet(0))? else {
            return Err(Error::not_running(self.name()));
        };
        let c = self.client()?;
        c.stop().map_err(|e| Error::command(self.name(), e))?;
        crate::failpoint!("stop.requested");
        if !Self::wait_gone(&sub, Some(Instant::now() + Duration::from_secs(60)))? {
            return Err(Error::msg(format!(
                "{} did not stop within 60 seconds of SIGKILL",
                self.name()
            )));
        }
        Ok(())
    }

    /// Clean shutdown (LXC's `shutdown(timeout)`): the halt signal to init, then wait up
    /// to `timeout` (`None` = forever, zero = do not wait). True when it stopped.
    pub fn shutdown(&self, timeout: Option<Duration>) -> Result<bool> {
        let Some((sub, _)) = self.subscribe(StateSet(0))? else {
            return Ok(true);
        };
        let c = self.client()?;
        let pid = c.init_pid().map_err(|e| Error::command(self.name(), e))?;
        let pidfd = c.init_pidfd().map_err(|e| Error::command(self.name(), e))?;
        let configured = c
            .config_item("lxc.signal.halt")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .and_then(|v| lxcrs_config::model::Signal::parse(&v).ok())
            .map(|s| s.0);
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let sig = halt_signal(configured, &status);
        drop(c);
        crate::sys::pidfd::send_signal(&pidfd, sig).map_err(|e| {
            Error::msg(format!(
                "failed to send signal {sig} to init (pid {pid}): {e}"
            ))
        })?;
        if timeout == Some(Duration::ZERO) {
            return Ok(false);
        }
        Self::wait_gone(&sub, timeout.map(|t| Instant::now() + t))
    }

    /// Reboot (LXC's `reboot2`): `lxc.signal.reboot` (SIGINT) to init, then wait until
    /// the monitor reports RUNNING again (`None` = forever).
    pub fn reboot(&self, timeout: Option<Duration>) -> Result<bool> {
        let mut set = StateSet(0);
        set.insert(State::Starting);
        set.insert(State::Running);
        let Some((sub, _)) = self.subscribe(set)? else {
            return Err(Error::not_running(self.name()));
        };
        let c = self.client()?;
        let pidfd = c.init_pidfd().map_err(|e| Error::command(self.name(), e))?;
        let sig = c
            .config_item("lxc.signal.reboot")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .and_then(|v| lxcrs_config::model::Signal::parse(&v).ok())
            .map_or(libc::SIGINT, |s| s.0);
        drop(c);
        crate::sys::pidfd::send_signal(&pidfd, sig).map_err(|e| {
            Error::msg(format!(
                "failed to send the reboot signal {sig} to init: {e}"
            ))
        })?;
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut restarting = false;
        loop {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            match sub.next_event(left) {
                Ok(Some(State::Starting)) => restarting = true,
                Ok(Some(State::Running)) if restarting => return Ok(true),
                Ok(Some(_)) => {}
                Ok(None) => {
                    return Err(Error::msg(format!(
                        "{} stopped instead of rebooting",
                        self.name()
                    )));
                }
                Err(CommandError::Timeout) => return Ok(false),
                Err(e) => return Err(Error::from(e)),
            }
        }
    }

    /// Waits until the state is one of `states` (`None` = forever); a container that is
    /// not running counts as STOPPED. True when reached.
    pub fn wait(&self, states: StateSet, timeout: Option<Duration>) -> Result<bool> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let expired = || deadline.is_some_and(|d| Instant::now() >= d);
        loop {
            match self.subscribe(states)? {
                None => {
                    if states.contains(State::Stopped) {
                        return Ok(true);
                    }
                }
                Some((sub, cur)) => {
                    if states.contains(cur) {
                        return Ok(true);
                    }
                    loop {
                        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                        match sub.next_event(left) {
                            Ok(Some(s)) if states.contains(s) => return Ok(true),
                            Ok(Some(_)) => {}
                            Ok(None) if states.contains(State::Stopped) => return Ok(true),
                            Ok(None) => break,
                            Err(CommandError::Timeout) => return Ok(false),
                            Err(e) => return Err(Error::from(e)),
                        }
                    }
                }
            }
            if expired() {
                return Ok(false);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn freeze(&self) -> Result<()> {
        self.client()?
            .freeze()
            .map_err(|e| Error::command(self.name(), e))
    }

    pub fn unfreeze(&self) -> Result<()> {
        self.client()?
            .unfreeze()
            .map_err(|e| Error::command(self.name(), e))
    }

    /// A key of the running config (`lxc-info -c` on a running container).
    pub fn get_running_config_item(&self, key: &str) -> Result<String> {
        self.client()?
            .config_item(key)
            .map_err(|e| Error::command(self.name(), e))
    }

    /// The running container's cgroups, as its monitor reports them.
    pub fn running_cgroups(&self) -> Result<Cgroups> {
        let (payload, monitor) = self
            .client()?
            .cgroup_paths()
            .map_err(|e| Error::command(self.name(), e))?;
        let payload: CgroupPaths = payload.join("\n").parse().map_err(Error::from)?;
        let monitor: Option<CgroupPaths> = monitor.join("\n").parse().ok();
        let layout = CgroupLayout::detect_host().map_err(Error::from)?;
        Cgroups::open(&layout, self.name(), &payload, monitor.as_ref()).map_err(Error::from)
    }

    /// `lxc-cgroup KEY`: a payload cgroup file.
    pub fn cgroup_get(&self, file: &str) -> Result<String> {
        self.running_cgroups()?.get(file).map_err(Error::from)
    }

    /// `lxc-cgroup KEY VALUE`.
    pub fn cgroup_set(&self, file: &str, value: &str) -> Result<()> {
        self.running_cgroups()?
            .set(file, value)
            .map_err(Error::from)
    }

    /// CPU, memory and I/O use, when running.
    pub fn stats(&self) -> Option<CgroupStats> {
        let c = Client::connect(self.lxcpath(), self.name()).ok()??;
        crate::stats::of(&c, self.name())
    }

    /// LXC's `attach`: runs `argv` (the login shell when empty) inside the container and
    /// returns its exit status (128+signal when killed).
    pub fn attach(&self, options: &crate::attach::AttachOptions, argv: &[String]) -> Result<i32> {
        Ok(crate::attach::attach(self, options, argv)?)
    }

    /// LXC's `console`: connects the caller's terminal to tty `tty` (0 = console, -1 =
    /// first free) until the escape sequence or the container's end.
    pub fn console(&self, tty: i32, escape: crate::console::Escape, quiet: bool) -> Result<()> {
        super::console::run(self, tty, escape, quiet)
    }
}

/// The init pid of container `name` in `lxcpath`, when it runs: asked of its monitor,
/// the one that knows it (no pidfile, no /proc scan). `None` when no monitor answers.
pub(crate) fn running_init_pid(lxcpath: &Path, name: &str) -> Option<i32> {
    init_pid_from(&Client::connect(lxcpath, name).ok()??)
}

/// The init pid the monitor behind `client` reports, when it has a live init.
pub(crate) fn init_pid_from(client: &Client) -> Option<i32> {
    client.init_pid().ok().filter(|p| *p > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYSTEMD: &str = "Name:\tsystemd\nSigQ:\t0/1\nSigPnd:\t0000000000000000\nSigBlk:\t7be3c0fe28014a03\nSigIgn:\t0000000000001000\n";
    const BUSYBOX: &str = "Name:\tinit\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n";

    #[test]
    fn sigblk_parsing() {
        assert!(blocks_signal(SYSTEMD, libc::SIGRTMIN() + 3));
        assert!(blocks_signal(SYSTEMD, libc::SIGHUP));
        assert!(!blocks_signal(SYSTEMD, libc::SIGKILL));
        assert!(!blocks_signal(BUSYBOX, libc::SIGRTMIN() + 3));
        assert!(!blocks_signal("garbage", libc::SIGPWR));
        assert!(!blocks_signal(SYSTEMD, 0));
        assert!(!blocks_signal(SYSTEMD, 65));
    }

    #[test]
    fn halt_signal_selection() {
        assert_eq!(
            halt_signal(Some(libc::SIGUSR1), SYSTEMD),
            libc::SIGUSR1,
            "lxc.signal.halt wins"
        );
        assert_eq!(
            halt_signal(None, SYSTEMD),
            libc::SIGRTMIN() + 3,
            "systemd blocks SIGRTMIN+3"
        );
        assert_eq!(halt_signal(None, BUSYBOX), libc::SIGPWR);
        assert_eq!(halt_signal(None, ""), libc::SIGPWR);
    }
}
