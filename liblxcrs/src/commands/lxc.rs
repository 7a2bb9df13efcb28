//! Containers run by LXC itself (`lxc-start` of the `lxc` package) on the same lxcpath.
//!
//! LXC's monitor listens on the abstract stream socket `<lxcpath>/<name>/command`, or
//! `lxc/<fnv1a64 of "<lxcpath>/<name>">/command` when that does not fit `sun_path`. It is
//! named after the lxcpath *as LXC was given it*, so we probe the spelling we were given
//! and the canonical one. A monitor that answers and is run by root or the lxcpath's
//! owner means the container is running under LXC: lxcrs must not start it a second time
//! nor destroy its rootfs.

use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;

use nix::sys::socket::{connect, socket, AddressFamily, SockFlag, SockType, UnixAddr};

use super::peer::{peer_cred, PeerCred, Trust};

/// LXC's socket name length limit: `sizeof(sun_path) - 2` (leading and trailing NUL).
const LXC_NAME_MAX: usize = 106;

/// LXC's abstract command socket name for `lxcpath` spelled exactly so.
pub fn socket_name(lxcpath: &str, name: &str) -> String {
    let full = format!("{lxcpath}/{name}/command");
    if full.len() < LXC_NAME_MAX {
        return full;
    }
    let key = format!("{lxcpath}/{name}");
    format!("lxc/{:016x}/command", crate::lock::fnv1a64(key.as_bytes()))
}

/// The names to probe: as given, then canonical (when different).
fn candidates(lxcpath: &Path, name: &str) -> Vec<String> {
    let given = lxcpath.to_string_lossy().into_owned();
    let canon = crate::paths::canonical_lxcpath(lxcpath)
        .to_string_lossy()
        .into_owned();
    let mut v = vec![socket_name(&given, name)];
    let c = socket_name(&canon, name);
    if !v.contains(&c) {
        v.push(c);
    }
    v
}

/// LXC's monitor of container `name`, when one answers and is trusted.
pub fn probe(lxcpath: &Path, name: &str) -> Option<PeerCred> {
    let trust = Trust::for_lxcpath(lxcpath);
    candidates(lxcpath, name)
        .into_iter()
        .find_map(|n| probe_name(&n).filter(|c| trust.allows(c.uid)))
}

/// Connects to abstract stream socket `name`; the listener's credentials if it answers.
fn probe_name(name: &str) -> Option<PeerCred> {
    let addr = UnixAddr::new_abstract(name.as_bytes()).ok()?;
    let fd = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .ok()?;
    loop {
        match connect(fd.as_raw_fd(), &addr) {
            Ok(()) => return peer_cred(fd.as_fd()).ok(),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_lxc() {
        assert_eq!(socket_name("/var/lib/lxc", "c1"), "/var/lib/lxc/c1/command");
        let long = "/x".repeat(60);
        let n = socket_name(&long, "c1");
        assert!(n.starts_with("lxc/") && n.ends_with("/command") && n.len() == 4 + 16 + 8);
        // FNV-1a 64 of "a/b" as LXC computes it.
        assert_eq!(crate::lock::fnv1a64(b"a/b"), 0xe620_c319_0468_cf61);
    }
}
