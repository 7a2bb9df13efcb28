//! The monitor's side of the console: drain the pty master so init never blocks on a
//! full console, copy it to the log file, the ring buffer, the foreground terminal (or a
//! `-c` device) and an attached `lxc-console` client.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{send, MsgFlags};

use crate::console::proxy::{read, write_all};
use crate::console::{ConsoleLog, Ring};

/// Where typed input comes from and output goes in the foreground / `-c DEV`.
#[derive(Debug)]
pub(super) struct Peer {
    pub input: Option<OwnedFd>,
    pub output: OwnedFd,
}

impl Peer {
    /// The foreground terminal: stdin/stdout of the monitor.
    pub fn foreground() -> Option<Peer> {
        let input = std::io::stdin().as_fd().try_clone_to_owned().ok();
        let output = std::io::stdout().as_fd().try_clone_to_owned().ok()?;
        Some(Peer { input, output })
    }
}

/// A container tty (`lxc.tty.max`) and the connection holding it, if any.
#[derive(Debug)]
pub(super) struct TtySlot {
    pub master: OwnedFd,
    pub holder: Option<u64>,
}

/// A new fd on the slave side of pty `master` (TIOCGPTPEER), not our controlling tty.
pub(super) fn open_peer(master: &OwnedFd) -> Option<OwnedFd> {
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: TIOCGPTPEER on a pty master fd we own; it returns a new fd or -1.
    let fd = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, flags) };
    // SAFETY: a fresh fd from the kernel, owned by nobody else.
    (fd >= 0).then(|| unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

/// Console state of one container run.
#[derive(Debug, Default)]
pub(super) struct Console {
    pub master: Option<OwnedFd>,
    pub log: Option<ConsoleLog>,
    pub ring: Ring,
    /// An `lxc-console -t 0` client: our end of its socketpair, and its connection id.
    pub client: Option<(OwnedFd, u64)>,
    pub peer: Option<Peer>,
}

impl Console {
    /// Reads what init wrote to the console and fans it out. False when the master is
    /// gone (init and everything holding the console exited).
    pub fn on_master_readable(&mut self) -> bool {
        let Some(master) = self.master.as_ref() else {
            return false;
        };
        let mut buf = [0u8; 4096];
        let n = match read(master.as_fd(), &mut buf) {
            Ok(0) => return false,
            Ok(n) => n,
            Err(Errno::EAGAIN) => return true,
            // EIO: no slave open right now (between init's exit and teardown).
            Err(_) => return false,
        };
        let data = &buf[..n];
        if let Some(log) = self.log.as_mut() {
            let _ = log.write(data);
        }
        self.ring.write(data);
        if let Some(peer) = self.peer.as_ref() {
            let _ = write_all(peer.output.as_fd(), data);
        }
        if let Some((sock, _)) = self.client.as_ref() {
            // Never block on a slow client: what it cannot take now is dropped.
            match send(
                sock.as_raw_fd(),
                data,
                MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL,
            ) {
                Ok(_) | Err(Errno::EAGAIN) => {}
                Err(_) => self.client = None,
            }
        }
        true
    }

    /// Copies input from `from` (the client socket or the peer terminal) to the console.
    /// False at end of input.
    pub fn forward_input(master: Option<&OwnedFd>, from: BorrowedFd<'_>) -> bool {
        let mut buf = [0u8; 4096];
        match read(from, &mut buf) {
            Ok(0) => false,
            Ok(n) => {
                if let Some(m) = master {
                    let _ = write_all(m.as_fd(), &buf[..n]);
                }
                true
            }
            Err(Errno::EAGAIN) => true,
            Err(_) => false,
        }
    }

    /// Drops the pty and any client; keeps the log, ring and peer for a reboot.
    pub fn close_pty(&mut self) {
        self.master = None;
        self.client = None;
    }
}
