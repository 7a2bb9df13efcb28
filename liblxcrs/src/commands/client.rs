//! The client side: connect to a monitor and ask it things.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::message::{Request, Response};
use super::peer::{peer_cred, Trust};
use super::socket::{self, MAX_MESSAGE};
use super::state::{State, StateSet};
use super::CommandError;

/// A connection to a container's monitor.
#[derive(Debug)]
pub struct Client {
    fd: OwnedFd,
}

impl Client {
    /// Connects; `Ok(None)` when nothing listens (the container is STOPPED).
    ///
    /// Nothing is sent before the listener's credentials are checked: a listener that is
    /// neither root nor the lxcpath's owner is a squatter ([`CommandError::Impostor`]).
    /// A caller that is neither gets [`CommandError::Denied`] (the monitor would refuse it).
    pub fn connect(lxcpath: &Path, name: &str) -> Result<Option<Client>, CommandError> {
        let addr = socket::command_addr(lxcpath, name)?;
        let fd = socket::seqpacket()?;
        let trust = Trust::for_lxcpath(lxcpath);
        loop {
            match nix::sys::socket::connect(fd.as_raw_fd(), &addr) {
                Ok(()) => {
                    let socket = socket::command_socket_name(lxcpath, name);
                    let peer = peer_cred(fd.as_fd())
                        .map_err(|e| CommandError::io("get the monitor's credentials", e))?;
                    if !trust.allows(peer.uid) {
                        return Err(CommandError::Impostor {
                            socket,
                            pid: peer.pid,
                            uid: peer.uid,
                        });
                    }
                    let me = nix::unistd::geteuid().as_raw();
                    if !trust.allows(me) {
                        return Err(CommandError::Denied {
                            uid: me,
                            lxcpath: lxcpath.display().to_string(),
                            owner: trust
                                .owner()
                                .filter(|o| *o != 0)
                                .map(|o| format!(", uid {o}"))
                                .unwrap_or_default(),
                        });
                    }
                    return Ok(Some(Client { fd }));
                }
                Err(nix::errno::Errno::EINTR) => continue,
                // A socket of another type holds our name: not a monitor of ours.
                Err(nix::errno::Errno::EPROTOTYPE) => {
                    return Err(CommandError::Impostor {
                        socket: socket::command_socket_name(lxcpath, name),
                        pid: 0,
                        uid: u32::MAX,
                    })
                }
                Err(nix::errno::Errno::ECONNREFUSED | nix::errno::Errno::ENOENT) => {
                    return Ok(None)
                }
                Err(e) => {
                    return Err(CommandError::io(
                        "connect to the container's monitor",
                        e.into(),
                    ))
                }
            }
        }
    }

    /// Connects, failing with [`CommandError::NotRunning`] when nothing listens.
    pub fn connect_running(lxcpath: &Path, name: &str) -> Result<Client, CommandError> {
        Client::connect(lxcpath, name)?.ok_or(CommandError::NotRunning)
    }

    /// The socket, for callers that poll it (state clients, terminals).
    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// Sends `req` and returns the answer and any fds; a refusal becomes [`CommandError::Failed`].
    pub fn call(&self, req: &Request) -> Result<(Response, Vec<OwnedFd>), CommandError> {
        socket::send(self.fd.as_fd(), &req.encode(), &[])?;
        let (resp, fds) = self.receive(req.name(), None)?;
        if let Response::Error { errno, msg } = resp {
            return Err(CommandError::Failed {
                request: req.name(),
                errno,
                msg,
            });
        }
        Ok((resp, fds))
    }

    fn receive(
        &self,
        request: &'static str,
        timeout: Option<Duration>,
    ) -> Result<(Response, Vec<OwnedFd>), CommandError> {
        if let Some(t) = timeout {
            if !wait_readable(&self.fd, t)? {
                return Err(CommandError::Timeout);
            }
        }
        let mut buf = vec![0u8; MAX_MESSAGE];
        match socket::recv(self.fd.as_fd(), &mut buf)? {
            Some((n, fds)) => Ok((Response::decode(&buf[..n])?, fds)),
            None => Err(CommandError::Closed { request }),
        }
    }

    fn unexpected(req: &Request, expected: &'static str, got: &Response) -> CommandError {
        CommandError::Unexpected {
            request: req.name(),
            expected,
            got: got.kind(),
        }
    }

    pub fn state(&self) -> Result<State, CommandError> {
        let req = Request::GetState;
        match self.call(&req)?.0 {
            Response::State(s) => Ok(s),
            other => Err(Self::unexpected(&req, "state", &other)),
        }
    }

    pub fn init_pid(&self) -> Result<i32, CommandError> {
        let req = Request::GetInitPid;
        match self.call(&req)?.0 {
            Response::Pid(p) => Ok(p),
            other => Err(Self::unexpected(&req, "pid", &other)),
        }
    }

    pub fn init_pidfd(&self) -> Result<OwnedFd, CommandError> {
        let req = Request::GetInitPidfd;
        self.call_fd(&req)
    }

    fn call_fd(&self, req: &Request) -> Result<OwnedFd, CommandError> {
        match self.call(req)? {
            (Response::Fd, mut fds) if !fds.is_empty() => Ok(fds.remove(0)),
            (other, _) => Err(Self::unexpected(req, "fd", &other)),
        }
    }

    fn call_ok(&self, req: Request) -> Result<(), CommandError> {
        match self.call(&req)?.0 {
            Response::Ok => Ok(()),
            other => Err(Self::unexpected(&req, "ok", &other)),
        }
    }

    pub fn stop(&self) -> Result<(), CommandError> {
        self.call_ok(Request::Stop)
    }

    pub fn freeze(&self) -> Result<(), CommandError> {
        self.call_ok(Request::Freeze)
    }

    pub fn unfreeze(&self) -> Result<(), CommandError> {
        self.call_ok(Request::Unfreeze)
    }

    pub fn config_item(&self, key: &str) -> Result<String, CommandError> {
        let req = Request::GetConfigItem(key.to_string());
        match self.call(&req)?.0 {
            Response::Value(v) => Ok(v),
            other => Err(Self::unexpected(&req, "value", &other)),
        }
    }

    /// A terminal master (`tty` 0 = console, -1 = first free) and which tty it is.
    /// The tty stays reserved for this client until the connection is closed.
    pub fn tty(&self, tty: i32, rows: u16, cols: u16) -> Result<(i32, OwnedFd), CommandError> {
        let req = Request::GetTty { tty, rows, cols };
        match self.call(&req)? {
            (Response::Tty { tty }, mut fds) if !fds.is_empty() => Ok((tty, fds.remove(0))),
            (other, _) => Err(Self::unexpected(&req, "tty", &other)),
        }
    }

    pub fn cgroup_paths(&self) -> Result<(Vec<String>, Vec<String>), CommandError> {
        let req = Request::GetCgroupPaths;
        match self.call(&req)?.0 {
            Response::CgroupPaths { payload, monitor } => Ok((payload, monitor)),
            other => Err(Self::unexpected(&req, "cgroup paths", &other)),
        }
    }

    pub fn console_log(&self, clear: bool) -> Result<Vec<u8>, CommandError> {
        let req = Request::ConsoleLog { clear };
        match self.call(&req)?.0 {
            Response::Data(d) => Ok(d),
            other => Err(Self::unexpected(&req, "data", &other)),
        }
    }

    /// Subscribes to changes into `states`; returns the current state. Afterwards use
    /// [`Client::next_state`] only.
    pub fn add_state_client(&self, states: StateSet) -> Result<State, CommandError> {
        let req = Request::AddStateClient(states);
        match self.call(&req)?.0 {
            Response::State(s) => Ok(s),
            other => Err(Self::unexpected(&req, "state", &other)),
        }
    }

    /// The next state change of a subscription. A closed connection means the monitor
    /// exited, i.e. STOPPED. `None` timeout waits forever.
    pub fn next_state(&self, timeout: Option<Duration>) -> Result<State, CommandError> {
        Ok(self.next_event(timeout)?.unwrap_or(State::Stopped))
    }

    /// Like [`Client::next_state`], but `None` when the monitor exited (closed the
    /// connection), which comes after its STOPPED and its post-stop work.
    pub fn next_event(&self, timeout: Option<Duration>) -> Result<Option<State>, CommandError> {
        match self.receive("add_state_client", timeout) {
            Ok((Response::State(s), _)) => Ok(Some(s)),
            Ok((other, _)) => Err(CommandError::Unexpected {
                request: "add_state_client",
                expected: "state",
                got: other.kind(),
            }),
            Err(CommandError::Closed { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Waits until `fd` is readable (or hung up); false on timeout.
pub(crate) fn wait_readable(fd: &OwnedFd, timeout: Duration) -> Result<bool, CommandError> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(0) if left.is_zero() => return Ok(false),
            Ok(0) => continue,
            Ok(_) => return Ok(true),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(CommandError::io("wait for the monitor", e.into())),
        }
    }
}
