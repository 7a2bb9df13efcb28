//! Signals (`lxc.signal.*`, `lxc.monitor.signal.pdeath`).
//!
//! LXC accepts a number or a name with the `SIG` prefix (case-insensitive), including the
//! real-time forms `SIGRTMIN+N` and `SIGRTMAX-N`. Numbers follow the C library's view of
//! the real-time range (glibc reserves two, so `SIGRTMIN` is 34 there), which is what
//! systemd means by `SIGRTMIN+3`.

use crate::error::{ConfigError, Result};

/// A validated signal number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Signal(pub i32);

const NAMED: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("IOT", libc::SIGIOT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("POLL", libc::SIGPOLL),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

const EXPECTED: &str = "expected a signal number or name such as SIGPWR, SIGRTMIN+3, SIGRTMAX-10";

impl Signal {
    pub const KILL: Signal = Signal(libc::SIGKILL);
    pub const INT: Signal = Signal(libc::SIGINT);
    pub const PWR: Signal = Signal(libc::SIGPWR);

    /// The first real-time signal as the C library sees it.
    pub fn rtmin() -> i32 {
        libc::SIGRTMIN()
    }

    /// The last real-time signal.
    pub fn rtmax() -> i32 {
        libc::SIGRTMAX()
    }

    /// `SIGRTMIN+3`, systemd's shutdown request.
    pub fn systemd_halt() -> Signal {
        Signal(Self::rtmin() + 3)
    }

    /// Parse LXC's signal syntax.
    pub fn parse(s: &str) -> Result<Signal> {
        let s = s.trim();
        if s.is_empty() {
            return Err(ConfigError::value(format!("empty signal ({EXPECTED})")));
        }
        if s.bytes().all(|b| b.is_ascii_digit()) {
            let n: i32 = s.parse().map_err(|_| {
                ConfigError::value(format!("signal number out of range ({EXPECTED})"))
            })?;
            return Self::check(n);
        }
        let upper = s.to_ascii_uppercase();
        let Some(name) = upper.strip_prefix("SIG") else {
            let is_name = NAMED.iter().any(|(n, _)| *n == upper) || upper.starts_with("RT");
            return Err(if is_name {
                ConfigError::value_hint(
                    format!("invalid signal ({EXPECTED})"),
                    format!("signal names need the SIG prefix, e.g. SIG{upper}"),
                )
            } else {
                ConfigError::value(format!("invalid signal ({EXPECTED})"))
            });
        };
        if let Some((_, n)) = NAMED.iter().find(|(n, _)| *n == name) {
            return Ok(Signal(*n));
        }
        if let Some(rest) = name.strip_prefix("RTMIN") {
            return Self::rt(Self::rtmin(), rest, '+');
        }
        if let Some(rest) = name.strip_prefix("RTMAX") {
            return Self::rt(Self::rtmax(), rest, '-');
        }
        Err(ConfigError::value(format!(
            "unknown signal name ({EXPECTED})"
        )))
    }

    fn rt(base: i32, rest: &str, sign: char) -> Result<Signal> {
        if rest.is_empty() {
            return Ok(Signal(base));
        }
        let bad = || {
            ConfigError::value(format!(
                "invalid real-time signal (expected SIGRTMIN+N or SIGRTMAX-N within {}..{})",
                Self::rtmin(),
                Self::rtmax()
            ))
        };
        let digits = rest.strip_prefix(sign).ok_or_else(bad)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let off: i32 = digits.parse().map_err(|_| bad())?;
        let n = if sign == '+' {
            base.checked_add(off)
        } else {
            base.checked_sub(off)
        }
        .ok_or_else(bad)?;
        if n < Self::rtmin() || n > Self::rtmax() {
            return Err(bad());
        }
        Ok(Signal(n))
    }

    fn check(n: i32) -> Result<Signal> {
        if n < 1 || n > Self::rtmax() {
            return Err(ConfigError::value(format!(
                "signal number out of range (expected 1..{})",
                Self::rtmax()
            )));
        }
        Ok(Signal(n))
    }

    /// A readable name: `SIGPWR`, `SIGRTMIN+3`, or the bare number.
    pub fn name(self) -> String {
        if let Some((n, _)) = NAMED
            .iter()
            .filter(|(n, _)| !matches!(*n, "IOT" | "CLD" | "POLL"))
            .find(|(_, v)| *v == self.0)
        {
            return format!("SIG{n}");
        }
        let (min, max) = (Self::rtmin(), Self::rtmax());
        if self.0 == min {
            "SIGRTMIN".to_string()
        } else if self.0 > min && self.0 <= (min + max) / 2 {
            format!("SIGRTMIN+{}", self.0 - min)
        } else if self.0 == max {
            "SIGRTMAX".to_string()
        } else if self.0 > min && self.0 < max {
            format!("SIGRTMAX-{}", max - self.0)
        } else {
            self.0.to_string()
        }
    }
}

/// `lxc.signal.halt`, `lxc.signal.reboot`, `lxc.signal.stop`. `None` means LXC's
/// default: halt is chosen at shutdown time (SIGRTMIN+3 if init blocks it, i.e. systemd,
/// else SIGPWR), reboot is SIGINT, stop is SIGKILL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signals {
    pub halt: Option<Signal>,
    pub reboot: Option<Signal>,
    pub stop: Option<Signal>,
}

impl Signals {
    /// The reboot signal with the default applied.
    pub fn reboot_or_default(&self) -> Signal {
        self.reboot.unwrap_or(Signal::INT)
    }

    /// The stop signal with the default applied.
    pub fn stop_or_default(&self) -> Signal {
        self.stop.unwrap_or(Signal::KILL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(Signal::parse("SIGPWR").ok(), Some(Signal(libc::SIGPWR)));
        assert_eq!(Signal::parse("sigkill").ok(), Some(Signal(9)));
        assert_eq!(Signal::parse("9").ok(), Some(Signal(9)));
        assert_eq!(
            Signal::parse("SIGRTMIN+3").ok(),
            Some(Signal(Signal::rtmin() + 3))
        );
        assert_eq!(
            Signal::parse("SIGRTMAX-10").ok(),
            Some(Signal(Signal::rtmax() - 10))
        );
        assert_eq!(
            Signal::parse("SIGRTMIN").ok(),
            Some(Signal(Signal::rtmin()))
        );
        assert_eq!(Signal::parse("SIGCONT").ok(), Some(Signal(libc::SIGCONT)));
    }

    #[test]
    fn rejects() {
        for bad in [
            "",
            "0",
            "-1",
            "999",
            "PWR",
            "SIGFOO",
            "SIGRTMIN-1",
            "SIGRTMAX+1",
            "SIGRTMIN+",
            "SIGRTMIN+x",
            "SIGRTMIN+99",
            "99999999999999999999",
        ] {
            assert!(Signal::parse(bad).is_err(), "{bad:?} accepted");
        }
        let e = Signal::parse("PWR")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("SIG prefix"), "{e}");
    }

    #[test]
    fn names_round_trip() {
        for s in [
            "SIGPWR",
            "SIGKILL",
            "SIGRTMIN+3",
            "SIGRTMAX-10",
            "SIGRTMIN",
            "SIGRTMAX",
        ] {
            let sig = Signal::parse(s).ok();
            assert_eq!(sig.map(Signal::name).as_deref(), Some(s));
        }
    }

    #[test]
    fn defaults() {
        let s = Signals::default();
        assert_eq!(s.reboot_or_default(), Signal(libc::SIGINT));
        assert_eq!(s.stop_or_default(), Signal(libc::SIGKILL));
        assert_eq!(s.halt, None);
    }
}
