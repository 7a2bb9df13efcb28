//! The monitor and its life: read the start options, daemonize, claim the command socket,
//! lock the container, start it, serve until init exits, tear down; restart in place on
//! reboot. [`Monitor`] is what it tracks; `server` answers the command socket's clients
//! on it.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{bind, listen, Backlog};
use nix::sys::wait::{waitpid, WaitStatus};

use super::conn::{spare_fd, Conn};
use super::console::{open_peer, Console, Peer, TtySlot};
use super::error::MonitorError;
use super::payload::{Loaded, Payload, Ptys};
use crate::commands::options::{StartOptions, StartStatus};
use crate::commands::socket as cmdsock;
use crate::commands::state::State;
use crate::console::RawMode;
use crate::container_dir::ContainerDir;

/// Everything the monitor tracks.
pub(super) struct Monitor {
    pub lxcpath: PathBuf,
    pub name: String,
    pub opts: StartOptions,
    pub loaded: Loaded,
    pub state: State,
    pub listener: Option<OwnedFd>,
    pub conns: Vec<Conn>,
    pub next_conn: u64,
    pub payload: Option<Payload>,
    pub console: Console,
    pub ttys: Vec<TtySlot>,
    /// Slave fds we hold on the console and ttys (see [`Monitor::hold_ptys`]).
    pub pty_peers: Vec<OwnedFd>,
    /// The start sequence ran (post-stop hooks are due), and it succeeded at least once
    /// (an ephemeral container may be destroyed).
    pub spawn_attempted: bool,
    pub ran: bool,
    /// Monitor cgroups of earlier runs are gone (see [`Monitor::sweep_stale_monitors`]).
    stale_swept: bool,
    /// The status socket to lxc-start, until the first RUNNING (or failure) is reported.
    pub status: Option<OwnedFd>,
    /// Who may use the command socket (root, the lxcpath's owner), and our own uid.
    pub trust: crate::commands::peer::Trust,
    pub own_uid: u32,
    /// A reserved fd, to accept-and-close when out of fds (see `server`).
    pub spare: Option<OwnedFd>,
    /// The container lock, held from the start until the container is torn down, so that
    /// destroy and restore, which take it, never act on a running container.
    pub lock: Option<crate::lock::ContainerLock>,
}

/// Signals the monitor handles through its signalfd (forwarded to init, except WINCH).
const HANDLED: [Signal; 9] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGPWR,
    Signal::SIGWINCH,
    Signal::SIGPIPE,
];

fn handled_set() -> SigSet {
    let mut s = SigSet::empty();
    for sig in HANDLED {
        s.add(sig);
    }
    s
}

fn report(status: &Option<OwnedFd>, st: &StartStatus) {
    if let Some(fd) = status {
        // The starter may have gone (foreground exec, ^C): nothing to do about it.
        let _ = cmdsock::send(fd.as_fd(), &st.encode(), &[]);
    }
}

/// Quiet time after the last request before the monitor sheds the pages it touched.
const SHED_AFTER: Duration = Duration::from_secs(1);

/// What ended a serve loop.
enum Ended {
    /// Init exited with this status.
    Init(WaitStatus),
}

impl Monitor {
    /// The whole monitor; returns the process exit code.
    pub(super) fn run(lxcpath: PathBuf, name: String, status: OwnedFd) -> i32 {
        let mut buf = vec![0u8; 64 * 1024];
        let opts = match cmdsock::recv(status.as_fd(), &mut buf) {
            Ok(Some((n, _))) => match StartOptions::decode(&buf[..n]) {
                Ok(o) => o,
                Err(e) => {
                    report(
                        &Some(status),
                        &StartStatus::Failed {
                            msg: format!("bad start options: {e}"),
                        },
                    );
                    return 1;
                }
            },
            _ => return 1,
        };
        drop(buf);
        let status = Some(status);
        crate::failpoint!("monitor.options");

        // A session of our own now; the fork that leaves lxc-start comes once the monitor
        // cgroup exists, so that the monitor is born in it (see `Monitor::lifetime`).
        if !opts.foreground {
            if let Err(e) = nix::unistd::setsid() {
                report(
                    &status,
                    &StartStatus::Failed {
                        msg: format!("failed to daemonize the monitor: setsid: {e}"),
                    },
                );
                return 1;
            }
        }

        // Binding the abstract address is the "is it running" mutex: a second monitor for the
        // same container gets EADDRINUSE and reports "already running".
        let listener = match bind_command_socket(&lxcpath, &name) {
            Ok(l) => l,
            Err(Errno::EADDRINUSE) => {
                // Only a monitor run by root or the lxcpath's owner means "already running";
                // anybody else holding the name is a squatter, and the start fails loudly.
                return match crate::commands::Client::connect(&lxcpath, &name) {
                    Ok(Some(_)) | Ok(None) => {
                        report(&status, &StartStatus::AlreadyRunning);
                        0
                    }
                    Err(e) => {
                        let msg = format!("cannot claim the command socket of {name}: {e}");
                        if opts.foreground {
                            // In the foreground the monitor is lxc-start (exec'd by it).
                            eprintln!("lxc-start: {name}: {msg}");
                        }
                        report(&status, &StartStatus::Failed { msg });
                        1
                    }
                };
            }
            Err(e) => {
                report(
                    &status,
                    &StartStatus::Failed {
                        msg: format!("failed to create the command socket: {e}"),
                    },
                );
                return 1;
            }
        };

        crate::failpoint!("monitor.bound");
        let loaded = match Loaded::load(&lxcpath, &name, &opts) {
            Ok(l) => l,
            Err(e) => {
                report(&status, &StartStatus::Failed { msg: e.to_string() });
                return 1;
            }
        };
        let trust = crate::commands::peer::Trust::for_lxcpath(&lxcpath);
        let mut m = Monitor {
            trust,
            own_uid: nix::unistd::geteuid().as_raw(),
            spare: spare_fd(),
            lock: None,
            lxcpath,
            name,
            opts,
            loaded,
            state: State::Stopped,
            listener: Some(listener),
            conns: Vec::new(),
            next_conn: 0,
            payload: None,
            console: Console::default(),
            ttys: Vec::new(),
            pty_peers: Vec::new(),
            spawn_attempted: false,
            ran: false,
            stale_swept: false,
            status,
        };
        m.lifetime()
    }

    /// Start, serve, tear down, maybe reboot; returns the exit code.
    fn lifetime(&mut self) -> i32 {
        // Foreground: the user's terminal becomes the console peer, in raw mode.
        let stdin = std::io::stdin();
        let _raw: Option<RawMode<'_>> = if self.opts.foreground {
            self.console.peer = Peer::foreground();
            RawMode::enter(stdin.as_fd())
        } else {
            self.console.peer = self.loaded.console_device_peer();
            None
        };
        self.console.log = self.loaded.console_log();
        self.console.ring = crate::console::Ring::new(self.loaded.console_buffer_size());

        if let Err(msg) = self.enter_own_cgroup() {
            self.fail_start(msg);
            return 1;
        }
        crate::failpoint!("monitor.cgroups");
        if let Err(msg) = self.lock_for_start() {
            self.fail_start(msg);
            return 1;
        }

        crate::failpoint!("monitor.locked");
        let sigs = handled_set();
        let _ = sigs.thread_block();
        let sigfd =
            match SignalFd::with_flags(&sigs, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK) {
                Ok(s) => s,
                Err(e) => {
                    self.fail_start(MonitorError::sys("failed to create signalfd", e));
                    return 1;
                }
            };

        loop {
            self.set_state(State::Starting);
            // init must not inherit our blocked signals.
            let _ = sigs.thread_unblock();
            self.spawn_attempted = true;
            let spawned = self.spawn();
            let _ = sigs.thread_block();
            if let Err(msg) = spawned {
                self.fail_start(msg);
                return 1;
            }
            crate::failpoint!("monitor.spawned");
            self.set_state(State::Running);
            self.ran = true;
            // Before the status reaches lxc-start: once lxc-start has returned, the point
            // is behind us (a failpoint test's next command must not meet it).
            crate::failpoint!("monitor.running");
            if self.status.is_some() {
                report(
                    &self.status,
                    &StartStatus::Running {
                        monitor_pid: std::process::id() as i32,
                    },
                );
                self.status = None;
            }
            // The lock stays held while the container runs (see `Monitor::lock`).

            let Ended::Init(ws) = self.serve(&sigfd);
            let reboot =
                !self.opts.execute && matches!(ws, WaitStatus::Signaled(_, Signal::SIGHUP, _));
            crate::failpoint!("monitor.stopping");
            self.set_state(State::Stopping);
            self.teardown(reboot);
            crate::failpoint!("monitor.torndown");
            if !reboot {
                self.finish();
                return if self.opts.execute { exit_code(ws) } else { 0 };
            }
        }
    }

    /// The monitor cgroup, and the monitor in it: created here, then (in the background)
    /// the fork that leaves lxc-start places the monitor in its cgroup2 directory, and the
    /// monitor moves itself into the v1 hierarchies, both without the kernel's slow
    /// migration path (`cgroups::SelfEntry`). Then the pid file, with the final pid.
    fn enter_own_cgroup(&mut self) -> Result<(), MonitorError> {
        let cgroups = &self.payload.insert(Payload::prepare(&self.name)?).cgroups;
        let placed = if self.opts.foreground {
            false
        } else {
            daemonize(cgroups.v2_monitor_dir())
                .map_err(|e| e.context("failed to daemonize the monitor"))?
        };
        let me = nix::unistd::getpid();
        cgroups
            .monitor_self_entry()
            .and_then(|e| e.enter())
            .and_then(|()| {
                if placed {
                    Ok(())
                } else {
                    cgroups.enter_monitor_v2(me)
                }
            })
            .map_err(|e| {
                MonitorError::from(e).context("failed to move the monitor into its cgroup")
            })?;
        if let Some(p) = &self.opts.pidfile {
            std::fs::write(p, format!("{me}\n")).map_err(|source| MonitorError::Write {
                what: "pid file",
                path: p.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// Takes the container's lock, held until the container is torn down (see
    /// [`Monitor::lock`]), and checks under it that the container may start: LXC's own
    /// monitor does not run it, and its create finished (no `partial` marker).
    fn lock_for_start(&mut self) -> Result<(), MonitorError> {
        let (lxcpath, name) = (&self.lxcpath, &self.name);
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
        if ContainerDir::new(lxcpath, name).partial().exists() {
            return Err(MonitorError::Partial {
                name: name.to_string(),
                marker: ContainerDir::new(lxcpath, name).partial(),
            });
        }
        self.lock = Some(lock);
        Ok(())
    }

    /// Starts init in the payload cgroup, and serves its console and ttys.
    fn spawn(&mut self) -> Result<(), MonitorError> {
        let Some(p) = self.payload.as_mut() else {
            return Err(MonitorError::Message("cgroups were not prepared".into()));
        };
        let ptys = p.spawn(&self.name, &self.lxcpath, &self.loaded, &self.opts)?;
        self.hold_ptys(ptys);
        Ok(())
    }

    /// Takes the pty masters of a new init: non-blocking, each with a slave fd of ours.
    fn hold_ptys(&mut self, ptys: Ptys) {
        for fd in ptys.console.iter().chain(ptys.ttys.iter()) {
            let _ = nix::fcntl::fcntl(
                fd,
                nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
            );
        }
        // Hold a slave fd of every pty: a master whose slaves are all closed reads EIO and
        // polls HUP, so a getty restart or a console reopen would look like an end.
        self.pty_peers = ptys
            .console
            .iter()
            .chain(ptys.ttys.iter())
            .filter_map(open_peer)
            .collect();
        self.console.master = ptys.console;
        self.ttys = ptys
            .ttys
            .into_iter()
            .map(|master| TtySlot {
                master,
                holder: None,
            })
            .collect();
        if self.opts.foreground {
            if let (Some(master), Some(ws)) = (
                &self.console.master,
                crate::console::term::winsize(std::io::stdin().as_fd()),
            ) {
                crate::console::term::set_winsize(master.as_fd(), &ws);
            }
        }
    }

    /// A failed start: tear down what exists, report the error, end STOPPED.
    fn fail_start(&mut self, err: MonitorError) {
        if self.state == State::Starting {
            self.set_state(State::Aborting);
        }
        if self.state == State::Aborting {
            self.set_state(State::Stopping);
        }
        self.teardown(false);
        let status = self.status.take();
        // Text from here: it goes over the status socket (or to stderr).
        let msg = err.to_string();
        let msg = if msg.is_empty() {
            "unknown error".to_string()
        } else {
            msg
        };
        self.finish();
        // In the foreground the starter exec'd us and its end of the socket is gone:
        // say it ourselves.
        if self.opts.foreground {
            let tool = if self.opts.execute {
                "lxc-execute"
            } else {
                "lxc-start"
            };
            eprintln!("{tool}: {}: {msg}", self.name);
            if !self.opts.execute {
                crate::container::print_start_failed(&self.name, true);
            }
        } else {
            report(&status, &StartStatus::Failed { msg });
        }
    }

    /// STOPPED: clients see the socket refuse, post-stop runs, ephemeral goes away.
    fn finish(&mut self) {
        // While the socket still answers, no new monitor of this container can exist.
        self.sweep_stale_monitors();
        if self.state == State::Stopping {
            self.set_state(State::Stopped);
        }
        self.listener = None;
        if self.spawn_attempted {
            self.loaded.post_stop(&self.name);
        }
        // The container is down: destroy (and the ephemeral destroy below) may go on.
        self.lock = None;
        // Never for a start that failed: that could be a lock held by another command.
        if self.ran && self.loaded.ephemeral() {
            self.destroy_ephemeral();
        }
        if let Some(p) = &self.opts.pidfile {
            let _ = std::fs::remove_file(p);
        }
        // Everything a client can see is done: open connections (lxc-stop, lxc-wait) see
        // EOF now, before the monitor leaves its own cgroup, which no client waits for.
        self.conns.clear();
        // The monitor's own cgroup, last of all (see `Payload::remove_monitor_cgroup`).
        if let Some(p) = self.payload.take() {
            if let Err(e) = p.remove_monitor_cgroup() {
                eprintln!("lxcrs-monitor: {}: {e}", self.name);
            }
        }
        crate::failpoint!("monitor.clients_closed");
    }

    /// `lxc.ephemeral = 1`: the container goes away with its stop (not a `-f` rcfile run:
    /// there is no container directory of ours to remove).
    fn destroy_ephemeral(&self) {
        if self.opts.rcfile.is_some() {
            return;
        }
        if let Err(e) = crate::Container::destroy_defined(&self.lxcpath, &self.name, false) {
            eprintln!(
                "lxcrs-monitor: {}: failed to destroy the ephemeral container: {e}",
                self.name
            );
        }
    }

    /// Removes the monitor cgroups earlier runs of this container left behind (a killed
    /// monitor's), once: a second into the run, off the start's critical path, or at the
    /// stop of a run shorter than that.
    fn sweep_stale_monitors(&mut self) {
        if std::mem::replace(&mut self.stale_swept, true) {
            return;
        }
        if let Some(p) = &self.payload {
            p.cgroups.remove_stale_monitors();
        }
    }

    /// Moves to `next` when the lifecycle allows it, and tells subscribers.
    pub(super) fn set_state(&mut self, next: State) {
        if !self.state.can_become(next) {
            // A guard violation is a monitor bug: keep the old state rather than lie.
            return;
        }
        self.state = next;
        let msg = crate::commands::Response::State(next).encode();
        let to: Vec<u64> = self
            .conns
            .iter()
            .filter(|c| c.subscribed.is_some_and(|set| set.contains(next)))
            .map(|c| c.id)
            .collect();
        for id in to {
            self.send_to(id, msg.clone(), None);
        }
    }

    /// The poll loop while init runs.
    fn serve(&mut self, sigfd: &SignalFd) -> Ended {
        // Requests run code the poll loop does not need: a second after the last one, the
        // monitor sheds those pages (see `memory`), whatever else (console output) goes on.
        // The start's own pages go the same way, a second after it: right after RUNNING,
        // lxc-start and the container's init want the CPUs, not the monitor's housekeeping.
        let mut shed_at: Option<Instant> = Some(Instant::now() + SHED_AFTER);
        loop {
            self.drop_stalled();
            let mut tokens: Vec<Token> = Vec::with_capacity(8 + self.conns.len());
            let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(8 + self.conns.len());
            // Collect raw fds first, then borrow them for the one poll call.
            let mut raw: Vec<(i32, Token, PollFlags)> = Vec::with_capacity(8 + self.conns.len());
            let pin = PollFlags::POLLIN;
            raw.push((sigfd.as_fd().as_raw_fd(), Token::Signal, pin));
            if let Some(l) = &self.listener {
                raw.push((l.as_raw_fd(), Token::Listener, pin));
            }
            if let Some(p) = &self.payload {
                if let Some(fd) = p.pidfd() {
                    raw.push((fd.as_raw_fd(), Token::Init, pin));
                }
            }
            if let Some(m) = &self.console.master {
                raw.push((m.as_raw_fd(), Token::Console, pin));
            }
            if let Some((s, _)) = &self.console.client {
                raw.push((s.as_raw_fd(), Token::ConsoleClient, pin));
            }
            if let Some(Peer { input: Some(i), .. }) = &self.console.peer {
                raw.push((i.as_raw_fd(), Token::PeerInput, pin));
            }
            let mut backlogged = false;
            for c in &self.conns {
                backlogged |= !c.out.is_empty();
                raw.push((c.fd.as_raw_fd(), Token::Conn(c.id), c.poll_flags()));
            }
            for (fd, t, flags) in &raw {
                // SAFETY: every fd in `raw` is owned by `self`/`sigfd` and stays open until
                // the poll below returns (nothing is closed in between).
                fds.push(PollFd::new(unsafe { BorrowedFd::borrow_raw(*fd) }, *flags));
                tokens.push(*t);
            }
            // Clients with a backlog are checked for stalling at least every second.
            let wake = match (shed_at, backlogged) {
                (Some(t), true) => Some(t.min(Instant::now() + Duration::from_secs(1))),
                (Some(t), false) => Some(t),
                (None, true) => Some(Instant::now() + Duration::from_secs(1)),
                (None, false) => None,
            };
            let timeout = match wake {
                Some(t) => {
                    let ms = t.saturating_duration_since(Instant::now()).as_millis();
                    PollTimeout::from(u16::try_from(ms).unwrap_or(u16::MAX))
                }
                None => PollTimeout::NONE,
            };
            let polled = poll(&mut fds, timeout);
            if shed_at.is_some_and(|t| Instant::now() >= t) {
                self.sweep_stale_monitors();
                super::memory::shed_startup_pages();
                shed_at = None;
            }
            match polled {
                Ok(0) | Err(_) => continue,
                Ok(_) => {}
            }
            let ready: Vec<(Token, PollFlags)> = fds
                .iter()
                .zip(tokens.iter())
                .filter_map(|(p, t)| p.revents().filter(|r| !r.is_empty()).map(|r| (*t, r)))
                .collect();
            drop(fds);
            if ready
                .iter()
                .any(|(t, _)| matches!(t, Token::Listener | Token::Conn(_)))
            {
                shed_at = Some(Instant::now() + SHED_AFTER);
            }
            for (tok, revents) in ready {
                match tok {
                    Token::Signal => self.on_signal(sigfd),
                    Token::Listener => self.accept(),
                    Token::Console => {
                        if !self.console.on_master_readable() {
                            // Keep the fd (ttys may reopen it) but stop polling a hung-up master
                            // until init is gone: poll would spin on POLLHUP.
                            if revents.contains(PollFlags::POLLHUP) {
                                self.console.master = None;
                            }
                        }
                    }
                    Token::ConsoleClient => {
                        let keep = match &self.console.client {
                            Some((s, _)) => {
                                Console::forward_input(self.console.master.as_ref(), s.as_fd())
                            }
                            None => true,
                        };
                        if !keep {
                            self.console.client = None;
                        }
                    }
                    Token::PeerInput => {
                        let keep = match &self.console.peer {
                            Some(Peer { input: Some(i), .. }) => {
                                Console::forward_input(self.console.master.as_ref(), i.as_fd())
                            }
                            _ => true,
                        };
                        if !keep {
                            if let Some(p) = self.console.peer.as_mut() {
                                p.input = None;
                            }
                        }
                    }
                    Token::Conn(id) => self.on_conn(id, revents),
                    Token::Init => {
                        if let Some(ws) = self.reap_init() {
                            // Flush what init printed last.
                            while self.console.master.is_some() && self.console_has_data() {
                                if !self.console.on_master_readable() {
                                    break;
                                }
                            }
                            return Ended::Init(ws);
                        }
                    }
                }
            }
        }
    }

    fn console_has_data(&self) -> bool {
        let Some(m) = &self.console.master else {
            return false;
        };
        let mut fds = [PollFd::new(m.as_fd(), PollFlags::POLLIN)];
        matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0)
            && fds[0]
                .revents()
                .is_some_and(|r| r.contains(PollFlags::POLLIN))
    }

    fn reap_init(&mut self) -> Option<WaitStatus> {
        let pid = self.payload.as_ref()?.pid()?;
        match waitpid(pid, Some(nix::sys::wait::WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => None,
            Ok(ws @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) => {
                if let Some(p) = self.payload.as_mut() {
                    p.init_exited();
                }
                Some(ws)
            }
            Ok(_) => None,
            Err(_) => {
                // Not our child any more (should not happen): treat as gone.
                if let Some(p) = self.payload.as_mut() {
                    p.init_exited();
                }
                Some(WaitStatus::Exited(pid, 1))
            }
        }
    }

    fn on_signal(&mut self, sigfd: &SignalFd) {
        while let Ok(Some(info)) = sigfd.read_signal() {
            let Ok(sig) = Signal::try_from(info.ssi_signo as i32) else {
                continue;
            };
            match sig {
                Signal::SIGWINCH => {
                    if let (Some(m), true) = (&self.console.master, self.opts.foreground) {
                        if let Some(ws) = crate::console::term::winsize(std::io::stdin().as_fd()) {
                            crate::console::term::set_winsize(m.as_fd(), &ws);
                        }
                    }
                }
                Signal::SIGPIPE => {}
                // A hangup of our terminal asks the container to stop, as LXC does.
                Signal::SIGHUP => self.signal_init(libc::SIGTERM),
                other => self.signal_init(other as i32),
            }
        }
    }

    pub(super) fn signal_init(&self, sig: i32) {
        if let Some(p) = &self.payload {
            let _ = p.signal(sig);
        }
    }

    /// Stop hook, kill leftovers, cgroups, ptys, (post-stop runs in [`Monitor::finish`]
    /// or before a reboot's restart).
    fn teardown(&mut self, reboot: bool) {
        if self.spawn_attempted {
            self.loaded
                .stop_hook(&self.name, self.payload.as_ref(), reboot);
        }
        if let Some(mut p) = self.payload.take() {
            if let Err(e) = p.teardown_network() {
                eprintln!("lxcrs-monitor: {}: network teardown: {e}", self.name);
            }
            p.kill_all();
            crate::failpoint!("monitor.killed");
            p.release();
            self.payload = Some(p);
        }
        self.console.close_pty();
        self.ttys.clear();
        self.pty_peers.clear();
        if let Some(p) = self.payload.as_mut() {
            if let Err(e) = p.remove_payload_cgroup() {
                eprintln!("lxcrs-monitor: {}: {e}", self.name);
            }
        }
        crate::failpoint!("monitor.payload_removed");
        if reboot {
            self.loaded.post_stop(&self.name);
        }
    }
}

/// The second fork away from lxc-start (`run` made the session): reparented to init (or
/// a subreaper), cwd `/`, and, with `cgroup` (the monitor's cgroup2 directory), born in
/// that cgroup. Returns whether it was. lxc-start already gave us /dev/null stdio.
fn daemonize(cgroup: Option<&std::path::Path>) -> Result<bool, MonitorError> {
    let dir = match cgroup {
        Some(d) => Some(
            nix::fcntl::open(
                d,
                nix::fcntl::OFlag::O_RDONLY
                    | nix::fcntl::OFlag::O_DIRECTORY
                    | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .map_err(|e| {
                MonitorError::sys(format!("open the monitor cgroup {}", d.display()), e)
            })?,
        ),
        None => None,
    };
    let none = nix::sched::CloneFlags::empty();
    let mut cloned = crate::start::clone3(none, dir.as_ref());
    let mut placed = dir.is_some();
    if dir.is_some() && matches!(cloned, Err(e) if crate::cgroups::clone_into_refused(e)) {
        cloned = crate::start::clone3(none, None);
        placed = false;
    }
    match cloned.map_err(|e| MonitorError::sys("fork", e))? {
        // SAFETY: _exit skips destructors the child still needs (fds shared with it, the
        // cgroups it now owns).
        crate::start::Cloned::Parent { .. } => unsafe { libc::_exit(0) },
        crate::start::Cloned::Child => {}
    }
    nix::unistd::chdir("/").map_err(|e| MonitorError::sys("chdir /", e))?;
    Ok(placed)
}

fn bind_command_socket(lxcpath: &std::path::Path, name: &str) -> Result<OwnedFd, Errno> {
    let addr = cmdsock::command_addr(lxcpath, name).map_err(|_| Errno::ENAMETOOLONG)?;
    let fd = cmdsock::seqpacket().map_err(|_| Errno::EMFILE)?;
    bind(fd.as_raw_fd(), &addr)?;
    listen(&fd, Backlog::new(64).unwrap_or(Backlog::MAXCONN))?;
    nix::fcntl::fcntl(
        &fd,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )?;
    Ok(fd)
}

fn exit_code(ws: WaitStatus) -> i32 {
    match ws {
        WaitStatus::Exited(_, c) => c,
        WaitStatus::Signaled(_, s, _) => 128 + s as i32,
        _ => 1,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Signal,
    Listener,
    Init,
    Console,
    ConsoleClient,
    PeerInput,
    Conn(u64),
}
