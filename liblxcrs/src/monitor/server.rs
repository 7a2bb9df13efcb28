//! The command socket's server side: accept clients, answer requests.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::socket::{accept4, socketpair, AddressFamily, SockFlag, SockType};

use super::run::{Conn, Monitor};
use super::state::State;
use crate::commands::socket as cmdsock;
use crate::commands::{Request, Response};

/// Requests are small; anything bigger is not ours.
const REQUEST_MAX: usize = 4096;

impl Monitor {
    pub(super) fn accept(&mut self) {
        let Some(l) = &self.listener else { return };
        loop {
            match accept4(l.as_raw_fd(), SockFlag::SOCK_CLOEXEC) {
                Ok(fd) => {
                    // SAFETY: accept4 returned a new fd that nothing else owns.
                    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
                    self.next_conn += 1;
                    self.conns.push(Conn {
                        id: self.next_conn,
                        fd,
                        subscribed: None,
                    });
                }
                Err(Errno::EINTR) => continue,
                Err(_) => return,
            }
        }
    }

    /// A client sent something or hung up.
    pub(super) fn on_conn(&mut self, id: u64) {
        let Some(pos) = self.conns.iter().position(|c| c.id == id) else {
            return;
        };
        let mut buf = [0u8; REQUEST_MAX];
        let got = cmdsock::recv(self.conns[pos].fd.as_fd(), &mut buf);
        let req = match got {
            Ok(Some((n, _fds))) => Request::decode(&buf[..n]),
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
        let raw: Vec<RawFd> = fd.iter().map(|f| f.as_raw_fd()).collect();
        let Some(conn) = self.conns.iter().find(|c| c.id == id) else {
            return;
        };
        if cmdsock::send(conn.fd.as_fd(), &resp.encode(), &raw).is_err() {
            self.drop_conn(id);
        }
    }

    /// Forgets a connection and frees what it held (ttys, the console).
    fn drop_conn(&mut self, id: u64) {
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
                let (payload, monitor) = super::payload::cgroup_paths(self);
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

    fn live_init(&self) -> Result<&super::payload::Payload, (i32, String)> {
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
            Some(Err(msg)) => Err((libc::EIO, msg)),
            None => Err((libc::ESRCH, "container is not running".into())),
        }
    }

    /// A config key as the running container has it: the runtime facts the start
    /// produced (veth names) win over the file.
    fn running_config_item(&self, key: &str) -> Result<String, String> {
        if let Some(v) = self.payload.as_ref().and_then(|p| p.runtime_item(key)) {
            return Ok(v);
        }
        self.loaded.get_item(key)
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
