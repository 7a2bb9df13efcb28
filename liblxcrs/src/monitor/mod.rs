//! The per-container monitor: the small process that starts a container, stays the
//! parent of its init, serves the command socket, drains the console, and tears
//! everything down when init exits (or restarts it in place after a reboot).
//!
//! It runs as its own binary (`lxcrs-monitor`, exec'd by `lxc-start`), single-threaded
//! around one `poll` loop, so that it carries neither the CLI's heap nor threads.
//! `lxc-start` passes [`StartOptions`] over the status socket (fd 3) and reads back a
//! [`StartStatus`] once the container is RUNNING or has failed.
//!
//! [`StartOptions`]: crate::commands::options::StartOptions
//! [`StartStatus`]: crate::commands::options::StartStatus

mod conn;
mod console;
mod memory;
mod payload;
mod run;
mod server;

use crate::commands::options::STATUS_FD;

use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;

/// The argv[0] the monitor runs under (its process title is `[lxcrs monitor] <lxcpath> <name>`).
pub const PROCESS_TITLE: &str = "[lxcrs monitor]";

/// The binary's entry point: `lxcrs-monitor <lxcpath> <name>` with the status socket on
/// fd 3. Returns the process exit code: 0, or init's status in the foreground, 1 when
/// the start failed.
pub fn main(args: Vec<std::ffi::OsString>) -> i32 {
    crate::paths::sanitize_env();
    let (Some(lxcpath), Some(name)) = (args.get(1), args.get(2)) else {
        eprintln!(
            "lxcrs-monitor: usage: lxcrs-monitor LXCPATH NAME (started by lxc-start, not by hand)"
        );
        return 1;
    };
    // SAFETY: fd 3 is the status socket lxc-start set up for us; we take sole ownership
    // (fcntl below proves it is open before anything uses it).
    if unsafe { libc::fcntl(STATUS_FD, libc::F_GETFD) } < 0 {
        eprintln!(
            "lxcrs-monitor: no status socket on fd {STATUS_FD} (start containers with lxc-start)"
        );
        return 1;
    }
    // SAFETY: see above: an open fd nobody else in this process owns.
    let status = unsafe { OwnedFd::from_raw_fd(STATUS_FD) };
    let _ = nix::fcntl::fcntl(
        &status,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    );
    run::Monitor::run(
        PathBuf::from(lxcpath),
        name.to_string_lossy().into_owned(),
        status,
    )
}

/// Sends `sig` to the process of `pidfd` (no pid-reuse race).
pub fn send_signal(pidfd: &OwnedFd, sig: i32) -> nix::Result<()> {
    payload::pidfd_send_signal(pidfd, sig)
}
