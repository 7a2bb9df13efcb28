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
    use std::io::{BufRead, Read};
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;
    use std::os::unix::process::CommandExt;
    use std::process::{Child, Command, Stdio};

    /// A sealed lxcrs-init memfd at fd 100 or above, out of the way of `start_init`'s dup2s.
    fn init_exe() -> OwnedFd {
        let fd = sealed_init().unwrap();
        let high = nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(100)).unwrap();
        // SAFETY: `high` is a fresh descriptor that nothing else owns.
        unsafe { std::os::fd::FromRawFd::from_raw_fd(high) }
    }

    /// Run the embedded lxcrs-init as `lxcrs-init 10 -- CMD...` with stdout piped, the
    /// start socket at fd 10, and /dev/null at fds 5 and 50 (not close-on-exec); returns
    /// the process and the monitor's end of the start socket.
    fn start_init(cmd: &[&str]) -> (Child, UnixStream) {
        let exe = init_exe();
        let (ours, theirs) = UnixStream::pair().unwrap();
        let null = std::fs::File::open("/dev/null").unwrap();
        let (sock, null) = (theirs.as_raw_fd(), null.as_raw_fd());
        let mut c = Command::new(format!("/proc/self/fd/{}", exe.as_raw_fd()));
        c.arg0("lxcrs-init").args(["10", "--"]).args(cmd);
        // SAFETY: fcntl and dup2 are async-signal-safe; `sock` and `null` stay open until
        // spawn returns. The copies above 100 keep the dup2s from clobbering a source.
        unsafe {
            c.pre_exec(move || {
                let (s, n) = (
                    libc::fcntl(sock, libc::F_DUPFD, 100),
                    libc::fcntl(null, libc::F_DUPFD, 100),
                );
                for (from, to) in [(s, 10), (n, 5), (n, 50)] {
                    if from < 0 || libc::dup2(from, to) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            })
        };
        let child = c.stdout(Stdio::piped()).spawn().unwrap();
        (child, ours)
    }

    fn status(child: &mut Child) -> i32 {
        let status = child.wait().unwrap();
        status
            .code()
            .unwrap_or_else(|| panic!("lxcrs-init died: {status:?}"))
    }

    #[test]
    fn init_exits_with_the_command_status() {
        let (mut child, _sock) = start_init(&["/bin/sh", "-c", "exit 7"]);
        assert_eq!(status(&mut child), 7);
        let (mut child, _sock) = start_init(&["sh", "-c", "kill -9 $$"]);
        assert_eq!(status(&mut child), 128 + 9);
    }

    #[test]
    fn init_reports_an_exec_failure_over_the_start_socket() {
        let (mut child, mut sock) = start_init(&["lxcrs-no-such-command", "x"]);
        let mut msg = Vec::new();
        sock.read_to_end(&mut msg).unwrap();
        assert_eq!(
            msg,
            b"\x07failed to exec lxcrs-no-such-command: No such file or directory"
        );
        assert_eq!(status(&mut child), 127);
    }

    #[test]
    fn init_forwards_signals_to_the_command() {
        let script = "trap 'exit 9' TERM; echo ready; while :; do sleep 0.05; done";
        let (mut child, _sock) = start_init(&["sh", "-c", script]);
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line, "ready\n");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        assert_eq!(status(&mut child), 9, "the command's TERM trap ran");
    }

    #[test]
    fn init_passes_on_only_stdio() {
        let (mut child, _sock) = start_init(&["sh", "-c", "ls /proc/$$/fd"]);
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(status(&mut child), 0);
        let fds: Vec<&str> = out.split_whitespace().collect();
        assert!(fds.starts_with(&["0", "1", "2"]), "{fds:?}");
        for fd in ["5", "10", "50"] {
            assert!(!fds.contains(&fd), "fd {fd} reached the command: {fds:?}");
        }
    }

    #[test]
    fn init_refuses_a_bad_command_line() {
        let exe = init_exe();
        let path = format!("/proc/self/fd/{}", exe.as_raw_fd());
        // No "--"; fd 10 closed (so no start socket); fd "x"; fd 2 (stdio).
        let cases = [
            ["10", "true", ""],
            ["10", "--", "true"],
            ["x", "--", "true"],
            ["2", "--", "true"],
        ];
        for args in cases {
            let args = args.iter().filter(|a| !a.is_empty());
            let st = Command::new(&path)
                .args(args)
                .stderr(Stdio::null())
                .status();
            assert_eq!(st.unwrap().code(), Some(127));
        }
    }

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
