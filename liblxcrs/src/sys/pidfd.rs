//! Signals through a pidfd: no race with pid reuse.

use std::os::fd::{AsFd, AsRawFd};

use nix::errno::Errno;

/// `pidfd_send_signal(2)` of the raw signal number `sig` (0 checks that the process still
/// exists), without siginfo or flags.
pub(crate) fn send_signal(pidfd: impl AsFd, sig: i32) -> nix::Result<()> {
    // SAFETY: pidfd_send_signal with a pidfd borrowed for the call, a signal number, no
    // siginfo pointer and no flags.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_fd().as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    Errno::result(r).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::{FromRawFd, OwnedFd};

    fn pidfd_open(pid: u32) -> OwnedFd {
        // SAFETY: pidfd_open with a pid and no flags; it returns a new fd or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        assert!(fd >= 0, "pidfd_open: {}", Errno::last());
        // SAFETY: pidfd_open just returned this fd; we own it.
        unsafe { OwnedFd::from_raw_fd(fd as i32) }
    }

    #[test]
    fn signal_zero_then_kill() {
        let mut child = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        let fd = pidfd_open(child.id());
        send_signal(&fd, 0).unwrap();
        send_signal(&fd, libc::SIGKILL).unwrap();
        child.wait().unwrap();
        assert_eq!(send_signal(&fd, 0), Err(Errno::ESRCH));
    }
}
