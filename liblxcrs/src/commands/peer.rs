//! Who is at the other end of a command socket, and whom we trust.
//!
//! The command socket lives in the abstract namespace, which any process of the host's
//! network namespace can reach, and whose names anybody can bind first. So both ends
//! check the other's kernel-supplied credentials (`SO_PEERCRED`): the monitor serves only
//! root and the owner of the lxcpath, and a client talks only to a monitor run by root or
//! by that owner. Everybody else is a stranger: refused, or reported as a squatter.

use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};

/// The credentials the kernel recorded for a socket's peer (at `connect`/`listen`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerCred {
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
}

/// `SO_PEERCRED` of a connected unix socket.
pub fn peer_cred(fd: BorrowedFd<'_>) -> std::io::Result<PeerCred> {
    let c = getsockopt(&fd.as_fd(), PeerCredentials)
        .map_err(|e| std::io::Error::from_raw_os_error(e as i32))?;
    Ok(PeerCred {
        pid: c.pid(),
        uid: c.uid(),
        gid: c.gid(),
    })
}

/// The uid owning the (canonical) lxcpath, if it exists.
pub fn lxcpath_owner(lxcpath: &Path) -> Option<u32> {
    std::fs::metadata(crate::paths::canonical_lxcpath(lxcpath))
        .ok()
        .map(|m| m.uid())
}

/// Who may use, or run, the monitors of containers in an lxcpath: root and its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trust {
    owner: Option<u32>,
}

impl Trust {
    /// The policy for `lxcpath`.
    pub fn for_lxcpath(lxcpath: &Path) -> Trust {
        Trust {
            owner: lxcpath_owner(lxcpath),
        }
    }

    /// With an explicit owner (tests).
    #[cfg(test)]
    pub fn with_owner(owner: Option<u32>) -> Trust {
        Trust { owner }
    }

    /// Root, or the lxcpath's owner.
    pub fn allows(&self, uid: u32) -> bool {
        uid == 0 || Some(uid) == self.owner
    }

    /// The owner, for messages.
    pub fn owner(&self) -> Option<u32> {
        self.owner
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};

    #[test]
    fn policy() {
        let t = Trust::with_owner(Some(1000));
        assert!(t.allows(0) && t.allows(1000));
        assert!(!t.allows(1001) && !t.allows(65534));
        let t = Trust::with_owner(None);
        assert!(t.allows(0) && !t.allows(1000));
    }

    #[test]
    fn credentials_of_a_pair_are_ours() {
        let (a, _b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        let c = peer_cred(a.as_fd()).unwrap();
        assert_eq!(c.pid, std::process::id() as i32);
        assert_eq!(c.uid, nix::unistd::geteuid().as_raw());
    }
}
