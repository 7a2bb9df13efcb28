//! The parent/child handshake of the start sequence: one message enum over a
//! `SOCK_SEQPACKET` socketpair, with role-specific ends whose methods are the steps
//! (numbered barriers as in LXC's `sync.c`, `docs/lxc-contract.md` §6.1):
//!
//! | # | parent                         | child                                  |
//! |---|--------------------------------|----------------------------------------|
//! | 1 | maps, cgroup, limits → Startup | wait Startup                           |
//! | 2 | wait Configured                | set ids, unshare cgroup/time → Configured |
//! | 3 | prlimit, /proc → PostConfigure | wait PostConfigure                     |
//! | 4 | wait Mounted                   | mounts, /dev, pivot → Mounted          |
//! | 5 | device rules → DevicesApplied  | wait DevicesApplied                    |
//! | 6 | wait Ttys…, SetupDone          | caps, seccomp, start hook, tty masters → SetupDone |
//! | 7 | start-host hook → ReadyStart   | wait ReadyStart, exec                  |
//! | 8 | wait: EOF = exec'd             | (CLOEXEC closes the socket)            |
//!
//! Barriers 4-5 put the device cgroup rules in place after the child made its /dev (autodev
//! nodes, a loop device for the rootfs) and before any code of the container's rootfs runs
//! (`lxc.hook.start`, init): a hostile image must meet the device policy from its first
//! instruction.
//!
//! Any step of the child may instead send `Error { message }` with its own error text.

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::socket::{self, MsgFlags, SockFlag, SockType};

use super::StartError;
use crate::sys::seqpacket;

/// Largest fd batch per message (kernel `SCM_MAX_FD` is 253).
const FD_BATCH: usize = 64;
const MAX_MSG: usize = 64 * 1024;

/// Every message of the start protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Parent → child: id maps written, cgroup entered, limits applied.
    Startup,
    /// Child → parent: ids set, cgroup/time namespaces unshared.
    Configured,
    /// Parent → child: prlimits and `lxc.proc.*` applied (and, later, network moved in).
    PostConfigure,
    /// Child → parent: rootfs mounted, /dev populated, pivoted; no container code ran yet.
    Mounted,
    /// Parent → child: the device cgroup rules are in place.
    DevicesApplied,
    /// Child → parent: a batch of tty pty masters (fds travel with it).
    Ttys { count: u32 },
    /// Child → parent: setup done up to exec.
    SetupDone,
    /// Parent → child: start-host hook ran; exec init.
    ReadyStart,
    /// Either way: a step failed; the text says what and why.
    Error { message: String },
}

impl Message {
    fn name(&self) -> String {
        match self {
            Message::Startup => "Startup".into(),
            Message::Configured => "Configured".into(),
            Message::PostConfigure => "PostConfigure".into(),
            Message::Mounted => "Mounted".into(),
            Message::DevicesApplied => "DevicesApplied".into(),
            Message::Ttys { count } => format!("Ttys({count})"),
            Message::SetupDone => "SetupDone".into(),
            Message::ReadyStart => "ReadyStart".into(),
            Message::Error { message } => format!("Error({message})"),
        }
    }

    /// Wire format: one tag byte, then the payload.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Message::Startup => vec![1],
            Message::Configured => vec![2],
            Message::PostConfigure => vec![3],
            Message::Ttys { count } => {
                let mut v = vec![4];
                v.extend_from_slice(&count.to_le_bytes());
                v
            }
            Message::SetupDone => vec![5],
            Message::ReadyStart => vec![6],
            Message::Mounted => vec![8],
            Message::DevicesApplied => vec![9],
            Message::Error { message } => {
                let mut v = vec![7];
                v.extend_from_slice(message.as_bytes());
                v
            }
        }
    }

    /// Parse [`Message::encode`]'s output.
    pub fn decode(buf: &[u8]) -> Result<Message, StartError> {
        let bad = || StartError::Protocol {
            expected: "a start protocol message".into(),
            received: format!("{buf:?}"),
        };
        let (&tag, rest) = buf.split_first().ok_or_else(bad)?;
        Ok(match (tag, rest.len()) {
            (1, 0) => Message::Startup,
            (2, 0) => Message::Configured,
            (3, 0) => Message::PostConfigure,
            (4, 4) => Message::Ttys {
                count: u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]),
            },
            (5, 0) => Message::SetupDone,
            (6, 0) => Message::ReadyStart,
            (8, 0) => Message::Mounted,
            (9, 0) => Message::DevicesApplied,
            (7, _) => Message::Error {
                message: String::from_utf8_lossy(rest).into_owned(),
            },
            _ => return Err(bad()),
        })
    }
}

/// One end of the socketpair.
#[derive(Debug)]
struct Channel {
    sock: OwnedFd,
}

impl Channel {
    fn send(&self, msg: &Message, fds: &[RawFd]) -> Result<(), Errno> {
        seqpacket::send(self.sock.as_fd(), &msg.encode(), fds)
    }

    /// Next message and its fds; `None` on EOF (peer closed or exec'd).
    fn recv(&self) -> Result<Option<(Message, Vec<OwnedFd>)>, StartError> {
        self.recv_flags(MsgFlags::empty())
    }

    /// The peer closed with our messages unread in its queue (the child failed while we had
    /// sent it the next barrier): [`seqpacket::recv`] still reads its error report, then EOF.
    fn recv_flags(&self, flags: MsgFlags) -> Result<Option<(Message, Vec<OwnedFd>)>, StartError> {
        let mut buf = vec![0u8; MAX_MSG];
        let mut cmsg = nix::cmsg_space!([RawFd; FD_BATCH]);
        match seqpacket::recv(self.sock.as_fd(), &mut buf, &mut cmsg, flags) {
            Ok(Some((len, fds))) => Ok(Some((Message::decode(&buf[..len])?, fds))),
            Ok(None) => Ok(None),
            Err(Errno::ENOBUFS) => Err(StartError::sys("read control messages", Errno::ENOBUFS)),
            Err(e) => Err(StartError::sys("receive from the start socket", e)),
        }
    }

    /// Wait for `want`; a child `Error` becomes [`StartError::Child`].
    fn expect(
        &self,
        want: Message,
        eof: impl Fn() -> StartError,
    ) -> Result<Vec<OwnedFd>, StartError> {
        match self.recv()? {
            Some((m, fds)) if m == want => Ok(fds),
            Some((Message::Error { message }, _)) => Err(StartError::Child(message)),
            Some((m, _)) => Err(StartError::Protocol {
                expected: want.name(),
                received: m.name(),
            }),
            None => Err(eof()),
        }
    }
}

/// Create the socketpair: (parent end, child end). Both CLOEXEC, so the child's end
/// closes at exec — the parent's "init exec'd" signal.
pub fn pair() -> Result<(ParentEnd, ChildEnd), StartError> {
    let (a, b) = socket::socketpair(
        socket::AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| StartError::sys("create the start socketpair", e))?;
    Ok((
        ParentEnd {
            ch: Channel { sock: a },
        },
        ChildEnd {
            ch: Channel { sock: b },
        },
    ))
}

fn died() -> StartError {
    StartError::ChildDied {
        status: "closed the start socket without reporting".into(),
    }
}

/// The parent's (monitor's) end.
#[derive(Debug)]
pub struct ParentEnd {
    ch: Channel,
}

impl ParentEnd {
    fn send(&self, m: Message) -> Result<(), StartError> {
        self.ch.send(&m, &[]).map_err(|e| match e {
            Errno::EPIPE | Errno::ECONNRESET => self.child_error().unwrap_or_else(died),
            e => StartError::sys(format!("send {} to the container", m.name()), e),
        })
    }

    /// The error the child reported and we have not read yet, if any (without waiting).
    /// The child sets up its mounts while we configure the network: when our side fails,
    /// the cause may be that the child failed first and exited.
    pub fn child_error(&self) -> Option<StartError> {
        match self.ch.recv_flags(MsgFlags::MSG_DONTWAIT) {
            Ok(Some((Message::Error { message }, _))) => Some(StartError::Child(message)),
            _ => None,
        }
    }

    /// Barrier 1: the child may set its ids.
    pub fn send_startup(&self) -> Result<(), StartError> {
        self.send(Message::Startup)
    }

    /// Barrier 2.
    pub fn wait_configured(&self) -> Result<(), StartError> {
        self.ch.expect(Message::Configured, died).map(drop)
    }

    /// Barrier 3: the network is in place (the child mounts meanwhile, see
    /// [`ChildEnd::wait_post_configure`]).
    pub fn send_post_configure(&self) -> Result<(), StartError> {
        self.send(Message::PostConfigure)
    }

    /// Barrier 4: the child mounted everything; no container code has run yet.
    pub fn wait_mounted(&self) -> Result<(), StartError> {
        self.ch.expect(Message::Mounted, died).map(drop)
    }

    /// Barrier 5: the device rules are in place; the child may run container code.
    pub fn send_devices_applied(&self) -> Result<(), StartError> {
        self.send(Message::DevicesApplied)
    }

    /// Barrier 6: the child's setup is done; returns the tty masters.
    pub fn wait_setup_done(&self) -> Result<Vec<OwnedFd>, StartError> {
        let mut ttys = Vec::new();
        loop {
            match self.ch.recv()? {
                Some((Message::Ttys { count }, fds)) => {
                    if usize::try_from(count).ok() != Some(fds.len()) {
                        return Err(StartError::Protocol {
                            expected: format!("{count} tty fds"),
                            received: format!("{} fds", fds.len()),
                        });
                    }
                    ttys.extend(fds);
                }
                Some((Message::SetupDone, _)) => return Ok(ttys),
                Some((Message::Error { message }, _)) => return Err(StartError::Child(message)),
                Some((m, _)) => {
                    return Err(StartError::Protocol {
                        expected: "Ttys or SetupDone".into(),
                        received: m.name(),
                    })
                }
                None => return Err(died()),
            }
        }
    }

    /// Barrier 7: exec init.
    pub fn send_ready_start(&self) -> Result<(), StartError> {
        self.send(Message::ReadyStart)
    }

    /// Barrier 8: `Ok` when the child's end closed (exec succeeded), the child's error
    /// otherwise.
    pub fn wait_exec(&self) -> Result<(), StartError> {
        match self.ch.recv()? {
            None => Ok(()),
            Some((Message::Error { message }, _)) => Err(StartError::Child(message)),
            Some((m, _)) => Err(StartError::Protocol {
                expected: "exec (socket closed)".into(),
                received: m.name(),
            }),
        }
    }
}

/// The child's (container init's) end.
#[derive(Debug)]
pub struct ChildEnd {
    ch: Channel,
}

fn parent_gone() -> StartError {
    StartError::ChildDied {
        status: "the monitor went away".into(),
    }
}

impl ChildEnd {
    /// True when the monitor's end of the socket hung up (it died): checked once the
    /// parent-death signal is armed again after an id change, which clears it.
    pub fn monitor_gone(&self) -> bool {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let mut fds = [PollFd::new(self.ch.sock.as_fd(), PollFlags::POLLIN)];
        matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0)
            && fds[0]
                .revents()
                .is_some_and(|r| r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR))
    }

    fn send(&self, m: Message, fds: &[RawFd]) -> Result<(), StartError> {
        self.ch
            .send(&m, fds)
            .map_err(|e| StartError::sys(format!("send {} to the monitor", m.name()), e))
    }

    /// Barrier 1.
    pub fn wait_startup(&self) -> Result<(), StartError> {
        self.ch.expect(Message::Startup, parent_gone).map(drop)
    }

    /// Barrier 2.
    pub fn send_configured(&self) -> Result<(), StartError> {
        self.send(Message::Configured, &[])
    }

    /// Barrier 3: the monitor's network devices and outside limits are in place. The
    /// child does not wait for it right after barrier 2 but when it first needs it (see
    /// `child::run`).
    pub fn wait_post_configure(&self) -> Result<(), StartError> {
        self.ch
            .expect(Message::PostConfigure, parent_gone)
            .map(drop)
    }

    /// Barrier 4: mounts and /dev done, before any container code runs.
    pub fn send_mounted(&self) -> Result<(), StartError> {
        self.send(Message::Mounted, &[])
    }

    /// Barrier 5: wait until the monitor has put the device rules in place.
    pub fn wait_devices_applied(&self) -> Result<(), StartError> {
        self.ch
            .expect(Message::DevicesApplied, parent_gone)
            .map(drop)
    }

    /// Barrier 6: hand over the tty masters, then report setup done.
    pub fn send_setup_done(&self, ttys: &[OwnedFd]) -> Result<(), StartError> {
        for chunk in ttys.chunks(FD_BATCH) {
            let raw: Vec<RawFd> = chunk.iter().map(|f| f.as_raw_fd()).collect();
            let count = u32::try_from(raw.len()).unwrap_or(u32::MAX);
            self.send(Message::Ttys { count }, &raw)?;
        }
        self.send(Message::SetupDone, &[])
    }

    /// Barrier 7.
    pub fn wait_ready_start(&self) -> Result<(), StartError> {
        self.ch.expect(Message::ReadyStart, parent_gone).map(drop)
    }

    /// Report a failure (best effort: the parent may already be gone).
    pub fn send_error(&self, err: &StartError) {
        let _ = self.send(
            Message::Error {
                message: err.to_string(),
            },
            &[],
        );
    }

    /// The raw socket (kept open across the execute-mode fork, closed by exec).
    pub fn as_raw_fd(&self) -> RawFd {
        self.ch.sock.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        for m in [
            Message::Startup,
            Message::Configured,
            Message::PostConfigure,
            Message::Mounted,
            Message::DevicesApplied,
            Message::Ttys { count: 7 },
            Message::SetupDone,
            Message::ReadyStart,
            Message::Error {
                message: "failed to mount proc on /r/proc: Permission denied".into(),
            },
        ] {
            assert_eq!(Message::decode(&m.encode()).unwrap(), m);
        }
        assert!(Message::decode(&[]).is_err());
        assert!(Message::decode(&[99]).is_err());
        assert!(Message::decode(&[1, 0]).is_err());
    }

    #[test]
    fn barriers_in_order_with_fds() {
        let (parent, child) = pair().unwrap();
        parent.send_startup().unwrap();
        child.wait_startup().unwrap();
        child.send_configured().unwrap();
        parent.wait_configured().unwrap();
        parent.send_post_configure().unwrap();
        child.wait_post_configure().unwrap();
        child.send_mounted().unwrap();
        parent.wait_mounted().unwrap();
        parent.send_devices_applied().unwrap();
        child.wait_devices_applied().unwrap();
        let ttys: Vec<OwnedFd> = (0..3)
            .map(|_| std::fs::File::open("/dev/null").unwrap().into())
            .collect();
        child.send_setup_done(&ttys).unwrap();
        assert_eq!(parent.wait_setup_done().unwrap().len(), 3);
        parent.send_ready_start().unwrap();
        child.wait_ready_start().unwrap();
        drop(child);
        parent.wait_exec().unwrap();
    }

    #[test]
    fn unexpected_message_shows_expected_and_received() {
        let (parent, child) = pair().unwrap();
        child.send_setup_done(&[]).unwrap();
        let e = parent.wait_configured().unwrap_err();
        assert_eq!(
            e.to_string(),
            "start protocol error: expected Configured, received SetupDone"
        );
    }

    #[test]
    fn child_error_text_reaches_parent() {
        let (parent, child) = pair().unwrap();
        child.send_error(&StartError::sys("set hostname to c1", Errno::EPERM));
        let e = parent.wait_configured().unwrap_err();
        assert_eq!(
            e.to_string(),
            "failed to set hostname to c1: Operation not permitted"
        );
        drop(child);
        assert!(matches!(
            parent.wait_configured().unwrap_err(),
            StartError::ChildDied { .. }
        ));
    }

    #[test]
    fn child_error_survives_a_reset_from_an_unread_barrier() {
        // The child fails while the parent's next barrier sits unread in its queue, then
        // exits: the kernel reports ECONNRESET first; the error must still come through.
        let (parent, child) = pair().unwrap();
        parent.send_post_configure().unwrap();
        child.send_error(&StartError::sys("mount the rootfs", Errno::EACCES));
        drop(child);
        assert_eq!(
            parent.wait_setup_done().unwrap_err().to_string(),
            "failed to mount the rootfs: Permission denied"
        );
        assert!(matches!(parent.wait_exec(), Ok(())));
    }
}
