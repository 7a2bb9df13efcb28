//! Socket plumbing: our abstract address, and one-message send/receive with fds.
//!
//! SOCK_SEQPACKET keeps message boundaries, so one `sendmsg` is one request and no
//! framing is needed; fds ride along as SCM_RIGHTS (see [`crate::sys::seqpacket`]).

use std::os::fd::{BorrowedFd, OwnedFd, RawFd};
use std::path::Path;

use nix::errno::Errno;
use nix::sys::socket::{socket, AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr};

use super::CommandError;
use crate::sys::seqpacket;

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

/// Sends one message with optional fds ([`crate::sys::seqpacket::send`]).
pub fn send(fd: BorrowedFd<'_>, msg: &[u8], fds: &[RawFd]) -> Result<(), CommandError> {
    seqpacket::send(fd, msg, fds).map_err(|e| CommandError::io("send command message", e.into()))
}

/// Receives one message and the fds sent with it (up to 4). `Ok(None)` at end of stream,
/// also when the peer reset the connection ([`crate::sys::seqpacket::recv`]).
pub fn recv(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
) -> Result<Option<(usize, Vec<OwnedFd>)>, CommandError> {
    let mut cmsg = nix::cmsg_space!([RawFd; 4]);
    match seqpacket::recv(fd, buf, &mut cmsg, MsgFlags::empty()) {
        Ok(got) => Ok(got),
        Err(Errno::ECONNRESET) => Ok(None),
        Err(Errno::EMSGSIZE) => Err(CommandError::io(
            "receive command message",
            std::io::Error::other("message too long"),
        )),
        Err(e) => Err(CommandError::io("receive command message", e.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::{Request, Response};
    use nix::sys::socket::socketpair;
    use std::io::{Read, Seek, Write};
    use std::os::fd::AsFd;
    use std::os::fd::AsRawFd;

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
