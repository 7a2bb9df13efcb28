//! The minimal init of `lxc-execute` (LXC's `lxc-init`): PID 1 forks the command,
//! forwards the usual termination and user signals to it, reaps every process that gets
//! reparented to it, and exits with the command's status (128+signal when it was killed).
//!
//! PID 1 must not stay a fork of the monitor: that copy would hold the monitor's fds
//! (command socket, cgroup directories, console log), its full permitted capabilities,
//! and `/proc/1/exe` would lead to the host's `lxcrs-monitor`. So the start child, once
//! set up, execs `lxcrs-init` (`init/lxcrs-init.rs`, a std-only Rust program that
//! `build.rs` builds static with rustc and that is embedded here: inside the container
//! the host's dynamic loader is out of reach) from a sealed memfd ([`crate::rexec`]),
//! with every fd closed but stdio and the start socket, and no ambient or inheritable
//! capability.

use std::ffi::CString;
use std::os::fd::{BorrowedFd, OwnedFd};

use super::protocol::ChildEnd;
use super::StartError;

/// The static `lxcrs-init` binary (`init/lxcrs-init.rs`).
static INIT_BINARY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/lxcrs-init"));

/// A sealed memfd holding `lxcrs-init`, to [`exec_init`] later (made before the rootfs
/// is pivoted to, while `memfd_create` and the host are certainly usable).
pub(crate) fn sealed_init() -> Result<OwnedFd, StartError> {
    crate::rexec::sealed_memfd("lxcrs-init", INIT_BINARY).map_err(StartError::Message)
}

/// The start child's last step in execute mode: exec `exe` ([`sealed_init`]) as the
/// init of `argv` (`lxcrs-init START_FD -- CMD...`, environment `env`). Returns only
/// the error.
pub(crate) fn exec_init(
    chan: &ChildEnd,
    exe: &OwnedFd,
    argv: &[String],
    env: &[(String, String)],
) -> StartError {
    let cstr = |s: &str| {
        CString::new(s).map_err(|_| StartError::config("init command", s, "contains a NUL byte"))
    };
    let fd = chan.as_raw_fd();
    let mut args = vec!["lxcrs-init".to_string(), fd.to_string(), "--".into()];
    args.extend(argv.iter().cloned());
    let args: Result<Vec<CString>, StartError> = args.iter().map(|a| cstr(a)).collect();
    let envs: Result<Vec<CString>, StartError> =
        env.iter().map(|(k, v)| cstr(&format!("{k}={v}"))).collect();
    let (args, envs) = match (args, envs) {
        (Ok(a), Ok(e)) => (a, e),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    if argv.is_empty() {
        return StartError::config("init command", "", "empty command");
    }
    // Exec as root recomputes permitted = inheritable | bounding: with no inheritable or
    // ambient capability, init keeps exactly the bounding set (lxc.cap.drop/keep).
    if let Err(e) = caps::clear(None, caps::CapSet::Ambient)
        .and_then(|()| caps::clear(None, caps::CapSet::Inheritable))
    {
        return StartError::Message(format!(
            "failed to clear the ambient and inheritable capabilities of init: {e}"
        ));
    }
    // The start socket survives the exec (the command's exec failure reaches the monitor
    // through it); every other fd is close-on-exec already (`child::prepare_exec`), and
    // lxcrs-init closes all but stdio and this one again.
    // SAFETY: the start socket stays open for the duration of this borrow.
    let sock = unsafe { BorrowedFd::borrow_raw(fd) };
    if let Err(e) = nix::fcntl::fcntl(
        sock,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
    ) {
        return StartError::sys("keep the start socket open for lxcrs-init", e);
    }
    let err = crate::rexec::exec_fd(exe, &args, &envs);
    StartError::Message(format!(
        "failed to exec lxcrs-init (the execute init, from a sealed memfd): {err}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_init_is_a_static_elf() {
        assert_eq!(&INIT_BINARY[..4], b"\x7fELF");
        // No PT_INTERP (3) program header: static, runs without the host's loader.
        let phoff = u64::from_le_bytes(INIT_BINARY[0x20..0x28].try_into().unwrap()) as usize;
        let phentsize = u16::from_le_bytes([INIT_BINARY[0x36], INIT_BINARY[0x37]]) as usize;
        let phnum = u16::from_le_bytes([INIT_BINARY[0x38], INIT_BINARY[0x39]]) as usize;
        for i in 0..phnum {
            let off = phoff + i * phentsize;
            let kind = u32::from_le_bytes(INIT_BINARY[off..off + 4].try_into().unwrap());
            assert_ne!(kind, 3, "lxcrs-init has an ELF interpreter");
        }
        let fd = sealed_init().unwrap();
        let copy = std::fs::read(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&fd)
        ))
        .unwrap();
        assert!(copy == INIT_BINARY);
    }
}
