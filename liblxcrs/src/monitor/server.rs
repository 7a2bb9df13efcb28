//! The command socket's server side: accept clients, answer requests.
//!
//! The monitor is single-threaded, so no client may ever block it:
//! - every accepted socket is non-blocking, and answers go through a per-client output
//!   queue ([`Conn`]: caps, stall limit). Requests of a client with a pending queue are
//!   left unread (in its socket buffer) until the queue drains.
//! - peers are checked at accept (`SO_PEERCRED`): only root, the lxcpath's owner and the
//!   monitor's own uid are served; others get one refusal message and are closed.
//! - at most [`MAX_CLIENTS`] connections; accepts are batched ([`ACCEPT_BATCH`]) so a
//!   flood cannot starve the other fds; a spare fd lets the monitor accept-and-close
//!   when it runs out of fds (EMFILE), instead of spinning on a readable listener.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::time::Instant;

use nix::errno::Errno;
use nix::poll::PollFlags;
use nix::sys::socket::{accept4, socketpair, AddressFamily, SockFlag, SockType};

use super::conn::{spare_fd, try_send, Conn};
use super::payload::Payload;
use super::run::Monitor;
use crate::commands::peer::peer_cred;
use crate::commands::socket as cmdsock;
use crate::commands::state::State;
use crate::commands::{Request, Response};

/// Requests are small; anything bigger is not ours.
const REQUEST_MAX: usize = 4096;
/// Most connections served at once.
pub(super) const MAX_CLIENTS: usize = 256;
/// Most connections accepted per wake-up of the poll loop.
const ACCEPT_BATCH: usize = 64;

impl Monitor {
    pub(super) fn accept(&mut self) {
        for _ in 0..ACCEPT_BATCH {
            let Some(l) = &self.listener else { return };
            let raw = l.as_raw_fd();
            match accept4(raw, SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK) {
                Ok(fd) => {
                    // SAFETY: accept4 returned a new fd that nothing else owns.
                    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
                    self.admit(fd);
                }
                Err(Errno::EINTR | Errno::ECONNABORTED) => continue,
                Err(Errno::EMFILE | Errno::ENFILE) => {
                    // Out of fds: free the spare, take the connection off the backlog and
                    // close it, so the listener stops being readable; then re-reserve.
                    self.spare = None;
                    if let Ok(fd) = accept4(raw, SockFlag::SOCK_CLOEXEC) {
                        // SAFETY: a fresh fd from accept4, closed at once.
                        drop(unsafe { OwnedFd::from_raw_fd(fd) });
                    }
                    self.spare = spare_fd();
                    if self.spare.is_none() {
                        return;
                    }
                }
                Err(_) => return,
            }
        }
    }

    /// Serves a new connection if its peer may use us and there is room.
    fn admit(&mut self, fd: OwnedFd) {
        let refuse = |fd: OwnedFd, errno: i32, msg: String| {
            let _ = try_send(&fd, &Response::error(errno, msg).encode(), &[]);
        };
        let cred = match peer_cred(fd.as_fd()) {
            Ok(c) => c,
            Err(_) => return,
        };
        if !(self.trust.allows(cred.uid) || cred.uid == self.own_uid) {
            refuse(
                fd,
                libc::EACCES,
                format!(
                    "permission denied: uid {} may not control {} (only root and the owner of {} may)",
                    cred.uid,
                    self.name,
                    self.lxcpath.display()
                ),
            );
            return;
        }
        if self.conns.len() >= MAX_CLIENTS {
            refuse(
                fd,
                libc::EBUSY,
                format!(
                    "the monitor of {} has {MAX_CLIENTS} clients already; retry later",
                    self.name
                ),
            );
            return;
        }
        self.next_conn += 1;
        self.conns.push(Conn::new(self.next_conn, fd));
    }

    /// A client sent something, can take more, or hung up.
    pub(super) fn on_conn(&mut self, id: u64, revents: PollFlags) {
        let Some(pos) = self.conns.iter().position(|c| c.id == id) else {
            return;
        };
        if !self.conns[pos].out.is_empty() {
            let hung_up = revents.intersects(PollFlags::POLLHUP | PollFlags::POLLERR);
            if !self.conns[pos].flush() || (hung_up && !self.conns[pos].out.is_empty()) {
                self.drop_conn(id);
            }
            return;
        }
        let mut buf = [0u8; REQUEST_MAX];
        let got = cmdsock::recv(self.conns[pos].fd.as_fd(), &mut buf);
        let req = match got {
            Ok(Some((n, _fds))) => Request::decode(&buf[..n]),
            Err(crate::commands::CommandError::Io { source, .. })
                if source.raw_os_error() == Some(libc::EAGAIN) =>
            {
                return
            }
            _ => {
                self.drop_conn(id);
                return;
            }
        };
        let (resp, fd) = match req {
            Ok(req) => self.handle(id, req),
            Err(e) => (
                Response::error(libc::EPROTO, format!("bad request: {e}")),
                None,
            ),
        };
        self.send_to(id, resp.encode(), fd);
    }

    /// Queues a message for connection `id`, dropping the client if it cannot keep up.
    pub(super) fn send_to(&mut self, id: u64, msg: Vec<u8>, fd: Option<OwnedFd>) {
        let Some(conn) = self.conns.iter_mut().find(|c| c.id == id) else {
            return;
        };
        if !conn.push(msg, fd) {
            self.drop_conn(id);
        }
    }

    /// Drops clients that stopped reading.
    pub(super) fn drop_stalled(&mut self) {
        let now = Instant::now();
        let stalled: Vec<u64> = self
            .conns
            .iter()
            .filter(|c| c.stalled(now))
            .map(|c| c.id)
            .collect();
        for id in stalled {
            self.drop_conn(id);
        }
    }

    /// Forgets a connection and frees what it held (ttys, the console).
    pub(super) fn drop_conn(&mut self, id: u64) {
        self.conns.retain(|c| c.id != id);
        for t in &mut self.ttys {
            if t.holder == Some(id) {
                t.holder = None;
            }
        }
        if matches!(&self.console.client, Some((_, holder)) if *holder == id) {
            self.console.client = None;
        }
    }

    fn handle(&mut self, conn: u64, req: Request) -> (Response, Option<OwnedFd>) {
        match self.dispatch(conn, req) {
            Ok(r) => r,
            Err((errno, msg)) => (Response::error(errno, msg), None),
        }
    }

    fn dispatch(
        &mut self,
        conn: u64,
        req: Request,
    ) -> Result<(Response, Option<OwnedFd>), (i32, String)> {
        let plain = |r: Response| Ok((r, None));
        match req {
            Request::GetState => plain(Response::State(self.state)),
            Request::GetInitPid => {
                let pid = self
                    .live_init()?
                    .pid()
                    .ok_or((libc::ESRCH, "init has exited".to_string()))?;
                plain(Response::Pid(pid.as_raw()))
            }
            Request::GetInitPidfd => {
                let p = self.live_init()?;
                let fd = p
                    .pidfd()
                    .ok_or((libc::ESRCH, "init has exited".to_string()))?;
                let dup = fd
                    .try_clone()
                    .map_err(|e| (e.raw_os_error().unwrap_or(libc::EIO), e.to_string()))?;
                Ok((Response::Fd, Some(dup)))
            }
            Request::Stop => {
                self.hard_stop()?;
                plain(Response::Ok)
            }
            Request::Freeze => {
                self.freeze()?;
                plain(Response::Ok)
            }
            Request::Unfreeze => {
                self.unfreeze()?;
                plain(Response::Ok)
            }
            Request::GetConfigItem(key) => {
                let v = self
                    .running_config_item(&key)
                    .map_err(|m| (libc::EINVAL, m))?;
                plain(Response::Value(v))
            }
            Request::GetTty { tty, rows, cols } => self.give_tty(conn, tty, rows, cols),
            Request::AddStateClient(set) => {
                if let Some(c) = self.conns.iter_mut().find(|c| c.id == conn) {
                    c.subscribed = Some(set);
                }
                plain(Response::State(self.state))
            }
            Request::GetCgroupPaths => {
                let (payload, monitor) = self
                    .payload
                    .as_ref()
                    .map(Payload::cgroup_paths)
                    .unwrap_or_default();
                plain(Response::CgroupPaths { payload, monitor })
            }
            Request::ConsoleLog { clear } => {
                let mut data = self.console.ring.contents();
                let max = cmdsock::MAX_MESSAGE - 64;
                if data.len() > max {
                    data.drain(..data.len() - max);
                }
                if clear {
                    self.console.ring.clear();
                }
                plain(Response::Data(data))
            }
        }
    }

    fn live_init(&self) -> Result<&Payload, (i32, String)> {
        match &self.payload {
            Some(p) if p.pid().is_some() && self.state.is_active() => Ok(p),
            _ => Err((
                libc::ESRCH,
                format!("container has no running init (state {})", self.state),
            )),
        }
    }

    /// `lxc.signal.stop` (SIGKILL) to init; a frozen container is thawed so it can die.
    fn hard_stop(&mut self) -> Result<(), (i32, String)> {
        let sig = self.loaded.stop_signal();
        let p = self
            .payload
            .as_ref()
            .ok_or((libc::ESRCH, "container is not running".to_string()))?;
        p.signal(sig).map_err(|e| {
            (
                e as i32,
                format!("failed to send signal {sig} to init: {e}"),
            )
        })?;
        // Whatever our state says: the cgroup may have been frozen from outside (another
        // tool writing freezer.state), and frozen processes cannot die.
        let _ = p.thaw();
        Ok(())
    }

    fn freeze(&mut self) -> Result<(), (i32, String)> {
        match self.state {
            State::Frozen => return Ok(()),
            State::Running | State::Thawed => {}
            other => {
                return Err((
                    libc::EBUSY,
                    format!("cannot freeze a container that is {other}"),
                ))
            }
        }
        if self.state == State::Thawed {
            self.set_state(State::Running);
        }
        self.set_state(State::Freezing);
        let res = self.payload.as_ref().map(|p| p.freeze());
        match res {
            Some(Ok(())) => {
                self.set_state(State::Frozen);
                Ok(())
            }
            Some(Err(msg)) => {
                // Not half frozen: thaw what did stop, and say so.
                let thawed = self.payload.as_ref().map(|p| p.thaw());
                self.set_state(State::Running);
                let after = match thawed {
                    Some(Ok(())) => "the container was thawed again and keeps running",
                    _ => "thawing it again failed too: check the freezer cgroup",
                };
                Err((
                    libc::EIO,
                    format!(
                        "{msg}; a process of the container did not stop in time (it may be in an uninterruptible wait, see `ps -o pid,stat,wchan` on the host); {after}"
                    ),
                ))
            }
            None => Err((libc::ESRCH, "container is not running".into())),
        }
    }

    fn unfreeze(&mut self) -> Result<(), (i32, String)> {
        match self.state {
            State::Running => return Ok(()),
            State::Frozen | State::Freezing => {}
            other => {
                return Err((
                    libc::EBUSY,
                    format!("cannot unfreeze a container that is {other}"),
                ))
            }
        }
        let res = self.payload.as_ref().map(|p| p.thaw());
        match res {
            Some(Ok(())) => {
                if self.state == State::Freezing {
                    self.set_state(State::Running);
                } else {
                    self.set_state(State::Thawed);
                    self.set_state(State::Running);
                }
                Ok(())
            }
            Some(Err(e)) => Err((libc::EIO, e.to_string())),
            None => Err((libc::ESRCH, "container is not running".into())),
        }
    }

    /// A config key as the running container has it: the runtime facts the start
    /// produced (veth names) win over the file.
    fn running_config_item(&self, key: &str) -> Result<String, String> {
        if let Some(v) = self.payload.as_ref().and_then(|p| p.runtime_item(key)) {
            return Ok(v);
        }
        // Text from here: it is the answer on the command socket.
        self.loaded.get_item(key).map_err(|e| e.to_string())
    }

    fn give_tty(
        &mut self,
        conn: u64,
        tty: i32,
        rows: u16,
        cols: u16,
    ) -> Result<(Response, Option<OwnedFd>), (i32, String)> {
        if !self.state.is_active() {
            return Err((libc::ESRCH, format!("container is {}", self.state)));
        }
        if tty == 0 {
            let Some(master) = &self.console.master else {
                return Err((
                    libc::ENODEV,
                    "the container has no console (lxc.console.path = none)".into(),
                ));
            };
            if self.console.client.is_some() {
                return Err((
                    libc::EBUSY,
                    "the console is in use by another lxc-console".into(),
                ));
            }
            if rows > 0 && cols > 0 {
                let ws = libc::winsize {
                    ws_row: rows,
                    ws_col: cols,
                    ws_xpixel: 0,
                    ws_ypixel: 0,
                };
                crate::console::term::set_winsize(master.as_fd(), &ws);
            }
            let (ours, theirs) = socketpair(
                AddressFamily::Unix,
                SockType::Stream,
                None,
                SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
            )
            .map_err(|e| {
                (
                    e as i32,
                    format!("failed to create the console socket: {e}"),
                )
            })?;
            self.console.client = Some((ours, conn));
            return Ok((Response::Tty { tty: 0 }, Some(theirs)));
        }
        let max = self.ttys.len();
        let index = if tty < 0 {
            self.ttys
                .iter()
                .position(|t| t.holder.is_none())
                .ok_or_else(|| {
                    (
                        libc::EBUSY,
                        format!("tty service denied: no free tty (lxc.tty.max = {max})"),
                    )
                })?
        } else {
            let i = usize::try_from(tty - 1).unwrap_or(usize::MAX);
            if i >= max {
                return Err((
                    libc::ENOENT,
                    format!("tty {tty} does not exist (lxc.tty.max = {max})"),
                ));
            }
            if self.ttys[i].holder.is_some() {
                return Err((
                    libc::EBUSY,
                    format!("tty {tty} is in use by another lxc-console"),
                ));
            }
            i
        };
        let dup = self.ttys[index].master.try_clone().map_err(|e| {
            (
                e.raw_os_error().unwrap_or(libc::EIO),
                format!("failed to duplicate tty master: {e}"),
            )
        })?;
        self.ttys[index].holder = Some(conn);
        Ok((
            Response::Tty {
                tty: index as i32 + 1,
            },
            Some(dup),
        ))
    }
}
