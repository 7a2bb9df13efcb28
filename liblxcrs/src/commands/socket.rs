//! Socket plumbing: our abstract address, and one-message send/receive with fds.
//!
//! SOCK_SEQPACKET keeps message boundaries, so one `sendmsg` is one request and no
//! framing is needed; fds ride along as SCM_RIGHTS.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use nix::sys::socket::{
    recvmsg, sendmsg, socket, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType, UnixAddr,
};

use super::CommandError;

/// The longest abstract name that fits `sun_path` (108 bytes, one for the leading NUL).
const MAX_ABSTRACT: usize = 107;

/// Largest message we accept (the console ring buffer is the only big one).
pub const MAX_MESSAGE: usize = 256 * 1024;

/// The abstract socket name (without the leading NUL) of a container's command socket:
/// `lxcrs/<lxcpath>/<name>/command`, or `lxcrs/h/<fnv64>/command` when that is too long.
/// The `lxcrs/` prefix keeps us clear of LXC's `<lxcpath>/<name>/command`. The lxcpath
/// is the canonical one, so every spelling of it names the same socket.
pub fn command_socket_name(lxcpath: &Path, name: &str) -> String {
    let lxcpath = crate::paths::canonical_lxcpath(lxcpath);
    let full = format!("lxcrs/{}/{}/command", lxcpath.display(), name);
    if full.len() <= MAX_ABSTRACT {
        return full;
    }
    let key = format!("{}/{}", lxcpath.display(), name);
    format!(
        "lxcrs/h/{:016x}/command",
        crate::lock::fnv1a64(key.as_bytes())
    )
}

/// The address for [`command_socket_name`].
pub fn command_addr(lxcpath: &Path, name: &str) -> Result<UnixAddr, CommandError> {
    UnixAddr::new_abstract(command_socket_name(lxcpath, name).as_bytes())
        .map_err(|e| CommandError::io("make socket address", e.into()))
}

/// A new close-on-exec SEQPACKET unix socket.
pub fn seqpacket() -> Result<OwnedFd, CommandError> {
    socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| CommandError::io("create socket", e.into()))
}

/// Sends one message with optional fds.
pub fn send(fd: BorrowedFd<'_>, msg: &[u8], fds: &[RawFd]) -> Result<(), CommandError> {
    let iov = [IoSlice::new(msg)];
    let cmsg = [ControlMessage::ScmRights(fds)];
    let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &cmsg };
    loop {
        match sendmsg::<()>(fd.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None) {
            Ok(_) => return Ok(()),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(CommandError::io("send command message", e.into())),
        }
    }
}

/// Receives one message and the fds sent with it. `Ok(None)` at end of stream.
pub fn recv(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
) -> Result<Option<(usize, Vec<OwnedFd>)>, CommandError> {
    let mut cmsg_buf = nix::cmsg_space!([RawFd; 4]);
    loop {
        let mut iov = [IoSliceMut::new(buf)];
        let res = recvmsg::<()>(
            fd.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg_buf),
            MsgFlags::MSG_CMSG_CLOEXEC,
        );
        let msg = match res {
            Ok(m) => m,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(nix::errno::Errno::ECONNRESET) => return Ok(None),
            Err(e) => return Err(CommandError::io("receive command message", e.into())),
        };
        let mut fds = Vec::new();
        if let Ok(cmsgs) = msg.cmsgs() {
            for c in cmsgs {
                if let ControlMessageOwned::ScmRights(raw) = c {
                    for r in raw {
                        // SAFETY: the kernel just installed this fd in our table for us; nothing else owns it.
                        fds.push(unsafe { OwnedFd::from_raw_fd(r) });
                    }
                }
            }
        }
        if msg.flags.contains(MsgFlags::MSG_TRUNC) {
            return Err(CommandError::io(
                "receive command message",
                std::io::Error::other("message too long"),
            ));
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
    use crate::commands::{Request, Response};
    use nix::sys::socket::socketpair;
    use std::io::{Read, Seek, Write};
    use std::os::fd::AsFd;

    #[test]
    fn names_are_ours_and_bounded() {
        let short = command_socket_name(Path::new("/var/lib/lxc"), "c1");
        assert_eq!(short, "lxcrs//var/lib/lxc/c1/command");
        let long = command_socket_name(Path::new(&"/x".repeat(80)), "c1");
        assert!(
            long.starts_with("lxcrs/h/")
                && long.ends_with("/command")
                && long.len() <= MAX_ABSTRACT,
            "{long}"
        );
        assert_ne!(long, command_socket_name(Path::new(&"/y".repeat(80)), "c1"));
    }

    #[test]
    fn messages_and_fds_travel() {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"passed").unwrap();
        send(a.as_fd(), &Response::Fd.encode(), &[file.as_raw_fd()]).unwrap();
        send(a.as_fd(), &Request::GetState.encode(), &[]).unwrap();
        let mut buf = vec![0u8; 64];
        let (n, fds) = recv(b.as_fd(), &mut buf).unwrap().unwrap();
        assert_eq!(Response::decode(&buf[..n]).unwrap(), Response::Fd);
        assert_eq!(fds.len(), 1);
        let mut got = std::fs::File::from(fds.into_iter().next().unwrap());
        got.rewind().unwrap();
        let mut s = String::new();
        got.read_to_string(&mut s).unwrap();
        assert_eq!(s, "passed");
        let (n, fds) = recv(b.as_fd(), &mut buf).unwrap().unwrap();
        assert_eq!(Request::decode(&buf[..n]).unwrap(), Request::GetState);
        assert!(fds.is_empty());
        drop(a);
        assert!(
            recv(b.as_fd(), &mut buf).unwrap().is_none(),
            "EOF once the peer is gone"
        );
    }

    #[test]
    fn connect_refused_means_stopped() {
        let lxcpath = Path::new("/nonexistent/lxcrs-test-path");
        let c = crate::commands::Client::connect(lxcpath, &format!("none-{}", std::process::id()))
            .unwrap();
        assert!(c.is_none());
    }
}
