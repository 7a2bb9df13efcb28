//! The built-in minimal init of `lxc-execute` (LXC's `lxc-init`): PID 1 forks the
//! command, forwards the usual termination and user signals to it, reaps every process
//! that gets reparented to it, and exits with the command's status (128+signal when it
//! was killed).

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

use super::protocol::ChildEnd;
use super::StartError;

/// Signals forwarded to the command.
const FORWARD: [Signal; 9] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGPWR,
    Signal::SIGCONT,
    Signal::SIGWINCH,
];

/// The exit code for a finished command.
pub fn exit_code(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}

/// Become the init: fork `exec` (which execs the command and only returns an error),
/// then supervise. The command keeps the start socket until its exec closes it (CLOEXEC),
/// so exec failures still reach the monitor; PID 1 closes its copy.
pub fn run(sync: ChildEnd, exec: impl FnOnce() -> StartError) -> ! {
    let mut watched = SigSet::empty();
    for s in FORWARD {
        watched.add(s);
    }
    watched.add(Signal::SIGCHLD);
    // Block first so no signal is lost between fork and the wait loop.
    let mut old = SigSet::empty();
    if let Err(e) =
        nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&watched), Some(&mut old))
    {
        fail(
            &sync,
            StartError::sys("block signals in the execute init", e),
        );
    }
    // SAFETY: the child is single-threaded (it was created by clone3 from the monitor,
    // which keeps no threads across the start), so it may run arbitrary code after fork.
    let forked = match unsafe { fork() } {
        Ok(f) => f,
        Err(e) => fail(
            &sync,
            StartError::sys("fork the command in the execute init", e),
        ),
    };
    match forked {
        ForkResult::Child => {
            let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
            fail(&sync, exec())
        }
        ForkResult::Parent { child } => {
            drop(sync);
            supervise(child, &watched)
        }
    }
}

/// Report `err` to the monitor and exit.
fn fail(sync: &ChildEnd, err: StartError) -> ! {
    sync.send_error(&err);
    // SAFETY: _exit ends this process without running the monitor's atexit handlers or
    // flushing buffers that belong to the monitor.
    unsafe { libc::_exit(127) }
}

fn supervise(child: Pid, watched: &SigSet) -> ! {
    let mut status = None;
    loop {
        let sig = match watched.wait() {
            Ok(s) => s,
            Err(_) => continue,
        };
        if sig != Signal::SIGCHLD {
            let _ = nix::sys::signal::kill(child, sig);
            continue;
        }
        // Reap everything that exited: the command and any orphan.
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(ws) => {
                    if ws.pid() == Some(child) {
                        status = exit_code(ws);
                    }
                }
            }
        }
        if let Some(code) = status {
            // Exiting as PID 1 takes down the rest of the pid namespace.
            // SAFETY: plain process exit of PID 1 of the container.
            unsafe { libc::_exit(code) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        let p = Pid::from_raw(5);
        assert_eq!(exit_code(WaitStatus::Exited(p, 3)), Some(3));
        assert_eq!(
            exit_code(WaitStatus::Signaled(p, Signal::SIGTERM, false)),
            Some(143)
        );
        assert_eq!(exit_code(WaitStatus::StillAlive), None);
    }
}
