//! `clone3(2)` without `CLONE_VM`: a fork into new namespaces that also returns a pidfd
//! and can place the child straight into a cgroup2 directory. libc has no wrapper; the
//! raw syscall is used. The caller must be single-threaded: the child is a copy of the
//! calling thread only, and runs the child side of the start sequence in that copy.
//!
//! The raw syscall skips glibc's fork bookkeeping: the child's thread block still holds
//! the parent's TID, so `raise`/`abort` (a panic with `panic = "abort"`) would signal a
//! stale TID. The child therefore never aborts: it `_exit`s on every error path, and
//! [`exit_on_panic`] turns a panic into an error report and `_exit`.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};

use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::unistd::Pid;

use super::syscall::{CLONE_INTO_CGROUP, CLONE_PIDFD};

/// `struct clone_args` (CLONE_ARGS_SIZE_VER2, 88 bytes).
#[repr(C)]
#[derive(Debug, Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Which side of the clone we are on.
#[derive(Debug)]
pub enum Cloned {
    /// In the new child.
    Child,
    /// In the caller: the child's pid and pidfd.
    Parent { pid: Pid, pidfd: OwnedFd },
}

/// clone3 with `ns` flags, `CLONE_PIDFD`, `SIGCHLD` as exit signal, and
/// `CLONE_INTO_CGROUP` when `cgroup` is given.
pub fn clone3(ns: CloneFlags, cgroup: Option<&OwnedFd>) -> Result<Cloned, Errno> {
    let mut pidfd: libc::c_int = -1;
    let ns_bits = u64::try_from(ns.bits()).map_err(|_| Errno::EINVAL)?;
    let mut args = CloneArgs {
        flags: ns_bits | CLONE_PIDFD,
        pidfd: &mut pidfd as *mut libc::c_int as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..CloneArgs::default()
    };
    if let Some(fd) = cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = u64::try_from(fd.as_raw_fd()).map_err(|_| Errno::EBADF)?;
    }
    // SAFETY: `args` is a valid clone_args of the size passed; without CLONE_VM the child
    // gets a copy of this address space (like fork), so returning into Rust code in it is
    // sound for a single-threaded caller. `pidfd` outlives the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    let ret = Errno::result(ret)?;
    if ret == 0 {
        return Ok(Cloned::Child);
    }
    let pid = Pid::from_raw(i32::try_from(ret).map_err(|_| Errno::EOVERFLOW)?);
    // SAFETY: CLONE_PIDFD stored a new fd we now own.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    Ok(Cloned::Parent { pid, pidfd })
}

/// The start socket of the clone3 child, for [`exit_on_panic`]'s report.
static REPORT_FD: AtomicI32 = AtomicI32::new(-1);

/// In the clone3 child: a panic sends its text as the start protocol's error message on
/// `report_fd` (best effort) and `_exit`s with status 1, instead of unwinding into the
/// monitor's code or aborting through a stale TID.
pub(crate) fn exit_on_panic(report_fd: RawFd) {
    REPORT_FD.store(report_fd, Ordering::SeqCst);
    std::panic::set_hook(Box::new(|info| {
        let msg = super::protocol::Message::Error {
            message: format!("internal error while setting up the container: {info}"),
        }
        .encode();
        let fd = REPORT_FD.load(Ordering::SeqCst);
        if fd >= 0 {
            // SAFETY: a send of our own buffer on the start socket; MSG_NOSIGNAL so a gone
            // peer gives EPIPE instead of a signal. A failure is ignored: we exit anyway.
            unsafe { libc::send(fd, msg.as_ptr().cast(), msg.len(), libc::MSG_NOSIGNAL) };
        }
        // SAFETY: _exit ends this copy of the monitor without atexit handlers or unwinding.
        unsafe { libc::_exit(1) }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    const HELPER_ENV: &str = "LXCRS_TEST_PANIC_HELPER_FD";

    /// Runs only in the re-executed test binary below: panics with the hook installed.
    #[test]
    fn panic_helper() {
        let Some(fd) = std::env::var(HELPER_ENV).ok().and_then(|v| v.parse().ok()) else {
            return;
        };
        exit_on_panic(fd);
        panic!("boom in the child");
    }

    #[test]
    fn a_panicking_child_reports_and_exits_without_aborting() {
        // In a fresh process (a fork of the multi-threaded harness could inherit a held
        // lock): this test binary, running only `panic_helper`.
        let (parent, child) = super::super::protocol::pair().unwrap();
        let fd = child.as_raw_fd();
        let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
        cmd.args([
            "--exact",
            "start::clone::tests::panic_helper",
            "--test-threads=1",
        ])
        .env(HELPER_ENV, fd.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
        // SAFETY: only fcntl on an fd we own, between fork and exec.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
                let r = libc::fcntl(fd, libc::F_SETFD, 0);
                if r < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let status = cmd.status().unwrap();
        drop(child);
        assert_eq!(status.signal(), None, "no SIGABRT: {status:?}");
        assert_eq!(status.code(), Some(1), "{status:?}");
        let e = parent.wait_configured().unwrap_err().to_string();
        assert!(
            e.contains("internal error") && e.contains("boom in the child"),
            "{e}"
        );
    }
}
