//! A client of the command socket, as the monitor's single thread serves it: every
//! socket is non-blocking and answers go through a per-client output queue, flushed when
//! the socket is writable. A client whose queue passes [`OUT_MAX_BYTES`] or
//! [`OUT_MAX_MSGS`], or that has not taken anything for [`STALL_LIMIT`], is dropped (see
//! `server`, which accepts the connections and answers their requests).

use std::collections::VecDeque;
use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::PollFlags;
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};

/// A client connection to the command socket.
#[derive(Debug)]
pub(super) struct Conn {
    pub id: u64,
    pub fd: OwnedFd,
    /// Set once the client sent `add_state_client`.
    pub subscribed: Option<crate::commands::state::StateSet>,
    /// Answers and state changes the client has not taken yet, and their size.
    pub out: VecDeque<(Vec<u8>, Option<OwnedFd>)>,
    pub out_bytes: usize,
    /// Since when the client's socket has been full (see [`STALL_LIMIT`]).
    pub stalled_since: Option<Instant>,
}

/// Output queue caps per client.
pub(super) const OUT_MAX_BYTES: usize = 1 << 20;
pub(super) const OUT_MAX_MSGS: usize = 256;
/// A client that takes nothing from its queue for this long is dropped.
pub(super) const STALL_LIMIT: Duration = Duration::from_secs(5);

/// A reserved fd, given up for a moment to accept-and-close when we are out of fds.
pub(super) fn spare_fd() -> Option<OwnedFd> {
    std::fs::File::open("/dev/null").ok().map(OwnedFd::from)
}

/// One non-blocking send; `Err(EAGAIN)` when the peer's queue is full.
pub(super) fn try_send(fd: &OwnedFd, msg: &[u8], fds: &[RawFd]) -> Result<(), Errno> {
    let iov = [IoSlice::new(msg)];
    let cmsg = [ControlMessage::ScmRights(fds)];
    let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &cmsg };
    loop {
        match sendmsg::<()>(
            fd.as_raw_fd(),
            &iov,
            cmsgs,
            MsgFlags::MSG_NOSIGNAL | MsgFlags::MSG_DONTWAIT,
            None,
        ) {
            Ok(_) => return Ok(()),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

impl Conn {
    pub fn new(id: u64, fd: OwnedFd) -> Conn {
        Conn {
            id,
            fd,
            subscribed: None,
            out: VecDeque::new(),
            out_bytes: 0,
            stalled_since: None,
        }
    }

    /// What to poll this connection for: requests only while nothing waits to go out.
    pub fn poll_flags(&self) -> PollFlags {
        if self.out.is_empty() {
            PollFlags::POLLIN
        } else {
            PollFlags::POLLOUT
        }
    }

    /// Sends what the socket takes; false when the client must be dropped.
    pub fn flush(&mut self) -> bool {
        while let Some((msg, fd)) = self.out.front() {
            let raw: Vec<RawFd> = fd.iter().map(|f| f.as_raw_fd()).collect();
            match try_send(&self.fd, msg, &raw) {
                Ok(()) => {
                    self.out_bytes -= msg.len();
                    self.out.pop_front();
                    self.stalled_since = None;
                }
                Err(Errno::EAGAIN) => {
                    self.stalled_since.get_or_insert_with(Instant::now);
                    break;
                }
                Err(_) => return false,
            }
        }
        self.out_bytes <= OUT_MAX_BYTES && self.out.len() <= OUT_MAX_MSGS
    }

    /// Queues a message and sends what it can; false when the client must be dropped.
    pub fn push(&mut self, msg: Vec<u8>, fd: Option<OwnedFd>) -> bool {
        self.out_bytes += msg.len();
        self.out.push_back((msg, fd));
        self.flush()
    }

    /// True when the client has not taken anything for [`STALL_LIMIT`].
    pub fn stalled(&self, now: Instant) -> bool {
        self.stalled_since
            .is_some_and(|t| now.saturating_duration_since(t) >= STALL_LIMIT)
    }
}
