//! Terminals: `lxc.tty.*`, `lxc.pty.max`, `lxc.console.*`.

use std::fmt;

use crate::error::Result;
use crate::value::parse_size;

/// Ttys and the devpts instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tty {
    /// `lxc.tty.max`: number of ttys (`/dev/tty1..N`), default 0.
    pub max: u32,
    /// `lxc.tty.dir`: put ttys and console under `/dev/<dir>/` with symlinks.
    pub dir: Option<String>,
    /// `lxc.pty.max`: devpts `max=` (0 = no limit / no new instance limit), default 0.
    pub pty_max: u32,
}

/// A console size setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleSize {
    /// `auto`: LXC picks a default (128 KiB) when a log is wanted.
    Auto,
    Bytes(u64),
}

impl ConsoleSize {
    /// Parse `auto`, a byte count, or a number with `KB`/`MB`/`GB` (1024-based).
    pub fn parse(s: &str) -> Result<ConsoleSize> {
        if s == "auto" {
            return Ok(ConsoleSize::Auto);
        }
        parse_size(s).map(ConsoleSize::Bytes)
    }

    /// The size in bytes, with `auto` meaning 128 KiB.
    pub fn bytes(self) -> u64 {
        match self {
            ConsoleSize::Auto => 128 * 1024,
            ConsoleSize::Bytes(b) => b,
        }
    }
}

impl fmt::Display for ConsoleSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConsoleSize::Auto => f.write_str("auto"),
            ConsoleSize::Bytes(b) => write!(f, "{b}"),
        }
    }
}

/// The container console.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Console {
    /// `lxc.console.path`: unset = allocate a pty; `none` = no console.
    pub path: Option<String>,
    /// `lxc.console.logfile`.
    pub logfile: Option<String>,
    /// `lxc.console.rotate`.
    pub rotate: bool,
    /// `lxc.console.buffer.size`: in-memory ring buffer.
    pub buffer_size: Option<ConsoleSize>,
    /// `lxc.console.size`: log file size limit.
    pub size: Option<ConsoleSize>,
}

impl Console {
    /// Whether `lxc.console.path = none`.
    pub fn disabled(&self) -> bool {
        self.path.as_deref() == Some("none")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(ConsoleSize::parse("auto").ok(), Some(ConsoleSize::Auto));
        assert_eq!(
            ConsoleSize::parse("4096").ok(),
            Some(ConsoleSize::Bytes(4096))
        );
        assert_eq!(
            ConsoleSize::parse("1MB").ok(),
            Some(ConsoleSize::Bytes(1 << 20))
        );
        assert_eq!(
            ConsoleSize::parse("2KB").ok().map(ConsoleSize::bytes),
            Some(2048)
        );
        assert!(ConsoleSize::parse("lots").is_err());
        assert_eq!(ConsoleSize::Auto.bytes(), 131072);
    }

    #[test]
    fn console_none() {
        let c = Console {
            path: Some("none".into()),
            ..Console::default()
        };
        assert!(c.disabled());
        assert!(!Console::default().disabled());
    }
}
