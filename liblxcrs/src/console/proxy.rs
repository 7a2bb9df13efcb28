//! The copy loop between the user's terminal and a container terminal (a pty master or
//! the monitor's console socket), with LXC's escape sequence for `lxc-console`.

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use super::term;

/// The escape prefix of `lxc-console`: `<prefix> q` detaches, `<prefix> <prefix>`
/// sends the prefix itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Escape(pub u8);

impl Escape {
    /// Ctrl-a, LXC's default.
    pub const DEFAULT: Escape = Escape(1);

    /// Parses `-e`: a letter `a` or `^a` means Ctrl-a; any other single char is itself.
    pub fn parse(s: &str) -> Option<Escape> {
        let s = s.strip_prefix('^').unwrap_or(s);
        let b = *s.as_bytes().first()?;
        if s.len() != 1 {
            return None;
        }
        Some(if b.is_ascii_alphabetic() {
            Escape(b.to_ascii_lowercase() - b'a' + 1)
        } else {
            Escape(b)
        })
    }

    /// The prefix as a user types it, e.g. `Ctrl+a`.
    pub fn display(self) -> String {
        if (1..=26).contains(&self.0) {
            format!("Ctrl+{}", char::from(b'a' + self.0 - 1))
        } else {
            char::from(self.0).to_string()
        }
    }
}

/// Why the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyEnd {
    /// The container side closed (the process exited, the monitor went away).
    TargetClosed,
    /// The user typed the escape sequence.
    Detached,
    /// The `stop` fd became readable (e.g. the attached process exited).
    Stopped,
}

/// Copies `input` → `target` and `target` → `output` (and to `log`) until one of the
/// [`ProxyEnd`] conditions. `resize`: a pty master whose window size follows
/// `input`'s terminal (SIGWINCH).
pub fn proxy(
    input: Option<BorrowedFd<'_>>,
    output: BorrowedFd<'_>,
    target: BorrowedFd<'_>,
    escape: Option<Escape>,
    stop: Option<BorrowedFd<'_>>,
    mut log: Option<&mut std::fs::File>,
    resize: Option<BorrowedFd<'_>>,
) -> std::io::Result<ProxyEnd> {
    let winch = match (input, resize) {
        (Some(i), Some(r)) if term::is_tty(i) => {
            if let Some(ws) = term::winsize(i) {
                term::set_winsize(r, &ws);
            }
            let mut set = SigSet::empty();
            set.add(Signal::SIGWINCH);
            set.thread_block().map_err(std::io::Error::from)?;
            Some(SignalFd::with_flags(
                &set,
                SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK,
            )?)
        }
        _ => None,
    };
    let mut input = input;
    let mut saw_escape = false;
    let mut buf = [0u8; 4096];
    loop {
        let mut fds = vec![PollFd::new(target, PollFlags::POLLIN)];
        let input_at = input.map(|i| {
            fds.push(PollFd::new(i, PollFlags::POLLIN));
            fds.len() - 1
        });
        let stop_at = stop.map(|s| {
            fds.push(PollFd::new(s, PollFlags::POLLIN));
            fds.len() - 1
        });
        let winch_at = winch.as_ref().map(|w| {
            fds.push(PollFd::new(w.as_fd(), PollFlags::POLLIN));
            fds.len() - 1
        });
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
        let ready = |i: usize| fds[i].revents().is_some_and(|r| !r.is_empty());
        let target_ready = ready(0);
        let input_ready = input_at.is_some_and(ready);
        let stop_ready = stop_at.is_some_and(ready);
        let winch_ready = winch_at.is_some_and(ready);
        drop(fds);

        if target_ready {
            match read(target, &mut buf) {
                // A pty master reads EIO while no slave is open (a getty between two
                // runs): wait for one unless something else ends the session.
                Err(Errno::EIO) if stop.is_some() => {
                    if stop_ready {
                        return Ok(ProxyEnd::Stopped);
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Ok(0) | Err(_) => return Ok(ProxyEnd::TargetClosed),
                Ok(n) => {
                    write_all(output, &buf[..n])?;
                    if let Some(l) = log.as_deref_mut() {
                        let _ = l.write_all(&buf[..n]);
                    }
                }
            }
        }
        if input_ready {
            if let Some(i) = input {
                match read(i, &mut buf) {
                    Ok(0) | Err(_) => input = None,
                    Ok(n) => {
                        let (out, detach) = filter_escape(&buf[..n], escape, &mut saw_escape);
                        write_all(target, &out)?;
                        if detach {
                            return Ok(ProxyEnd::Detached);
                        }
                    }
                }
            }
        }
        if winch_ready {
            if let (Some(w), Some(i), Some(r)) = (winch.as_ref(), input, resize) {
                while let Ok(Some(_)) = w.read_signal() {}
                if let Some(ws) = term::winsize(i) {
                    term::set_winsize(r, &ws);
                }
            }
        }
        if stop_ready && !target_ready {
            drain(target, output, log.as_deref_mut());
            return Ok(ProxyEnd::Stopped);
        }
    }
}

/// Applies the escape sequence to typed input: returns what to send and whether the
/// user asked to detach. `pending` carries a prefix seen at the end of the last chunk.
pub fn filter_escape(input: &[u8], escape: Option<Escape>, pending: &mut bool) -> (Vec<u8>, bool) {
    let Some(Escape(esc)) = escape else {
        return (input.to_vec(), false);
    };
    let mut out = Vec::with_capacity(input.len());
    for &b in input {
        if *pending {
            *pending = false;
            if b == b'q' {
                return (out, true);
            }
            // Prefix twice sends it once; prefix + anything else sends both.
            if b != esc {
                out.push(esc);
            }
            out.push(b);
        } else if b == esc {
            *pending = true;
        } else {
            out.push(b);
        }
    }
    (out, false)
}

/// Reads what the target still has without blocking (output written just before exit).
fn drain(target: BorrowedFd<'_>, output: BorrowedFd<'_>, mut log: Option<&mut std::fs::File>) {
    let mut buf = [0u8; 4096];
    loop {
        let mut fds = [PollFd::new(target, PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::ZERO) {
            Ok(n) if n > 0 => {}
            _ => return,
        }
        match read(target, &mut buf) {
            Ok(n) if n > 0 => {
                let _ = write_all(output, &buf[..n]);
                if let Some(l) = log.as_deref_mut() {
                    let _ = l.write_all(&buf[..n]);
                }
            }
            _ => return,
        }
    }
}

pub(crate) fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> nix::Result<usize> {
    loop {
        match nix::unistd::read(fd, buf) {
            Err(Errno::EINTR) => continue,
            r => return r,
        }
    }
}

pub(crate) fn write_all(fd: BorrowedFd<'_>, mut data: &[u8]) -> std::io::Result<()> {
    while !data.is_empty() {
        match nix::unistd::write(fd, data) {
            Ok(n) => data = &data[n..],
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => {
                let mut fds = [PollFd::new(fd, PollFlags::POLLOUT)];
                let _ = poll(&mut fds, PollTimeout::from(100u16));
            }
            Err(e) => return Err(std::io::Error::from_raw_os_error(e as i32)),
        }
    }
    let _ = fd.as_raw_fd();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_parsing() {
        assert_eq!(Escape::parse("a"), Some(Escape(1)));
        assert_eq!(Escape::parse("^b"), Some(Escape(2)));
        assert_eq!(Escape::parse("B"), Some(Escape(2)));
        assert_eq!(Escape::parse("ab"), None);
        assert_eq!(Escape::DEFAULT.display(), "Ctrl+a");
    }

    #[test]
    fn escape_filter() {
        let esc = Some(Escape::DEFAULT);
        let mut p = false;
        assert_eq!(
            filter_escape(b"ls\r", esc, &mut p),
            (b"ls\r".to_vec(), false)
        );
        assert_eq!(
            filter_escape(b"x\x01\x01y", esc, &mut p),
            (b"x\x01y".to_vec(), false)
        );
        assert_eq!(
            filter_escape(b"ab\x01", esc, &mut p),
            (b"ab".to_vec(), false)
        );
        assert!(p, "prefix at chunk end is remembered");
        assert_eq!(filter_escape(b"q", esc, &mut p), (Vec::new(), true));
        let mut p = false;
        assert_eq!(
            filter_escape(b"\x01z", esc, &mut p),
            (b"\x01z".to_vec(), false)
        );
        assert_eq!(
            filter_escape(b"\x01q", None, &mut p),
            (b"\x01q".to_vec(), false)
        );
    }
}
