//! One message with its fds over a `SOCK_SEQPACKET` unix socket, for the command socket
//! and the start protocol's socketpair.
//!
//! SEQPACKET keeps message boundaries: one `sendmsg` is one message and needs no framing;
//! fds ride along as SCM_RIGHTS and arrive close-on-exec.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};

/// Sends `msg` with `fds` (none: no control message), retrying on EINTR. `MSG_NOSIGNAL`: a
/// gone peer is `EPIPE`, not a signal.
pub(crate) fn send(fd: BorrowedFd<'_>, msg: &[u8], fds: &[RawFd]) -> nix::Result<()> {
    let iov = [IoSlice::new(msg)];
    let cmsg = [ControlMessage::ScmRights(fds)];
    let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &cmsg };
    loop {
        match sendmsg::<()>(fd.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None) {
            Err(Errno::EINTR) => continue,
            r => return r.map(drop),
        }
    }
}

/// Receives one message into `buf` and the fds sent with it (room for them in `cmsg`, from
/// `nix::cmsg_space!`); `Ok(None)` at end of stream. Retries on EINTR. `flags` adds to
/// `MSG_CMSG_CLOEXEC` (e.g. `MSG_DONTWAIT`).
///
/// When the peer closed with messages of ours unread in its queue, the kernel reports
/// `ECONNRESET` once, before the messages the peer queued for us: those are still read
/// (a child's last error report), then end of stream. A second `ECONNRESET` is the error.
/// A message longer than `buf` is `EMSGSIZE`; more fds than `cmsg` holds is `ENOBUFS`.
pub(crate) fn recv(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    cmsg: &mut Vec<u8>,
    flags: MsgFlags,
) -> nix::Result<Option<(usize, Vec<OwnedFd>)>> {
    let mut reset_seen = false;
    loop {
        let mut iov = [IoSliceMut::new(buf)];
        let msg = match recvmsg::<()>(
            fd.as_raw_fd(),
            &mut iov,
            Some(&mut *cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC | flags,
        ) {
            Err(Errno::EINTR) => continue,
            Err(Errno::ECONNRESET) if !reset_seen => {
                reset_seen = true;
                continue;
            }
            Err(e) => return Err(e),
            Ok(msg) => msg,
        };
        let mut fds = Vec::new();
        for c in msg.cmsgs()? {
            if let ControlMessageOwned::ScmRights(raw) = c {
                // SAFETY: SCM_RIGHTS just installed these fds in our table; nothing else
                // owns them.
                fds.extend(raw.into_iter().map(|r| unsafe { OwnedFd::from_raw_fd(r) }));
            }
        }
        if msg.flags.contains(MsgFlags::MSG_TRUNC) {
            return Err(Errno::EMSGSIZE);
        }
        if msg.bytes == 0 {
            return Ok(None);
        }
        return Ok(Some((msg.bytes, fds)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    use std::os::fd::AsFd;

    fn pair() -> (OwnedFd, OwnedFd) {
        socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap()
    }

    #[test]
    fn message_and_fds_then_eof() {
        let (a, b) = pair();
        let null = std::fs::File::open("/dev/null").unwrap();
        send(a.as_fd(), b"hello", &[null.as_raw_fd(), null.as_raw_fd()]).unwrap();
        let mut buf = [0u8; 16];
        let mut cmsg = nix::cmsg_space!([RawFd; 4]);
        let (n, fds) = recv(b.as_fd(), &mut buf, &mut cmsg, MsgFlags::empty())
            .unwrap()
            .unwrap();
        assert_eq!((&buf[..n], fds.len()), (&b"hello"[..], 2));
        drop(a);
        assert!(recv(b.as_fd(), &mut buf, &mut cmsg, MsgFlags::empty())
            .unwrap()
            .is_none());
    }

    #[test]
    fn too_long_and_would_block() {
        let (a, b) = pair();
        let mut cmsg = nix::cmsg_space!([RawFd; 1]);
        let mut small = [0u8; 2];
        assert_eq!(
            recv(b.as_fd(), &mut small, &mut cmsg, MsgFlags::MSG_DONTWAIT).unwrap_err(),
            Errno::EAGAIN
        );
        send(a.as_fd(), b"hello", &[]).unwrap();
        assert_eq!(
            recv(b.as_fd(), &mut small, &mut cmsg, MsgFlags::empty()).unwrap_err(),
            Errno::EMSGSIZE
        );
    }

    #[test]
    fn queued_message_survives_a_reset() {
        // `b` closes with `a`'s message unread: `a` sees ECONNRESET once, then what `b`
        // sent, then end of stream.
        let (a, b) = pair();
        send(a.as_fd(), b"unread", &[]).unwrap();
        send(b.as_fd(), b"last words", &[]).unwrap();
        drop(b);
        let mut buf = [0u8; 16];
        let mut cmsg = nix::cmsg_space!([RawFd; 1]);
        let (n, _) = recv(a.as_fd(), &mut buf, &mut cmsg, MsgFlags::empty())
            .unwrap()
            .unwrap();
        assert_eq!(&buf[..n], b"last words");
        assert!(recv(a.as_fd(), &mut buf, &mut cmsg, MsgFlags::empty())
            .unwrap()
            .is_none());
    }
}
