//! Small families: architecture, logging, autostart, monitor, /dev.

use crate::error::{ConfigError, Result};
use crate::value::{choice_name, parse_choice};

use super::signal::Signal;

/// The execution domain `lxc.arch` selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Personality {
    /// PER_LINUX (native 64-bit).
    Linux,
    /// PER_LINUX32 (32-bit userspace on a 64-bit kernel).
    Linux32,
}

/// `lxc.arch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arch {
    /// The name as written (`amd64`, `i686`, …).
    pub name: String,
    pub personality: Personality,
}

const ARCHES: &[(&str, Personality)] = &[
    ("x86", Personality::Linux32),
    ("i386", Personality::Linux32),
    ("i486", Personality::Linux32),
    ("i586", Personality::Linux32),
    ("i686", Personality::Linux32),
    ("athlon", Personality::Linux32),
    ("arm", Personality::Linux32),
    ("armel", Personality::Linux32),
    ("armhf", Personality::Linux32),
    ("armv7l", Personality::Linux32),
    ("armv7a", Personality::Linux32),
    ("ppc", Personality::Linux32),
    ("powerpc", Personality::Linux32),
    ("mips", Personality::Linux32),
    ("mipsel", Personality::Linux32),
    ("linux32", Personality::Linux32),
    ("x86_64", Personality::Linux),
    ("amd64", Personality::Linux),
    ("aarch64", Personality::Linux),
    ("arm64", Personality::Linux),
    ("ppc64", Personality::Linux),
    ("ppc64el", Personality::Linux),
    ("ppc64le", Personality::Linux),
    ("powerpc64", Personality::Linux),
    ("mips64", Personality::Linux),
    ("mips64el", Personality::Linux),
    ("s390x", Personality::Linux),
    ("riscv64", Personality::Linux),
    ("loongarch64", Personality::Linux),
    ("linux64", Personality::Linux),
];

impl Arch {
    pub fn parse(s: &str) -> Result<Arch> {
        let personality = parse_choice(s, "architecture", ARCHES)?;
        Ok(Arch {
            name: s.to_string(),
            personality,
        })
    }
}

/// Log priorities, numbered as in `lxc.log.level` (0 = TRACE … 8 = FATAL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Notice,
    Warn,
    Error,
    Crit,
    Alert,
    Fatal,
}

const LEVELS: &[(&str, LogLevel)] = &[
    ("TRACE", LogLevel::Trace),
    ("DEBUG", LogLevel::Debug),
    ("INFO", LogLevel::Info),
    ("NOTICE", LogLevel::Notice),
    ("WARN", LogLevel::Warn),
    ("ERROR", LogLevel::Error),
    ("CRIT", LogLevel::Crit),
    ("ALERT", LogLevel::Alert),
    ("FATAL", LogLevel::Fatal),
];

impl LogLevel {
    /// A name (case-insensitive, `WARNING` accepted) or a number 0..8.
    pub fn parse(s: &str) -> Result<LogLevel> {
        if let Ok(n) = s.parse::<usize>() {
            return LEVELS
                .get(n)
                .map(|(_, l)| *l)
                .ok_or_else(|| ConfigError::value("invalid log level (expected 0..8 or a name)"));
        }
        let up = s.to_ascii_uppercase();
        let up = if up == "WARNING" {
            "WARN".to_string()
        } else {
            up
        };
        parse_choice(&up, "log level", LEVELS)
    }

    pub fn name(self) -> &'static str {
        choice_name(self, LEVELS)
    }
}

/// syslog facilities accepted by `lxc.log.syslog`.
pub const SYSLOG_FACILITIES: &[&str] = &[
    "daemon", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
];

/// Logging (`lxc.log.*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Log {
    pub level: Option<LogLevel>,
    pub file: Option<String>,
    pub syslog: Option<String>,
}

/// Check a syslog facility.
pub fn check_syslog(s: &str) -> Result<()> {
    if SYSLOG_FACILITIES.contains(&s) {
        Ok(())
    } else {
        Err(ConfigError::value(format!(
            "invalid syslog facility (expected one of: {})",
            SYSLOG_FACILITIES.join(", ")
        )))
    }
}

/// Autostart (`lxc.start.*`; groups are in `ContainerConfig::groups`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Autostart {
    pub auto: bool,
    /// Seconds to wait after starting this container.
    pub delay: u32,
    /// Higher starts first.
    pub order: i32,
}

/// Monitor process settings (`lxc.monitor.*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Monitor {
    /// `lxc.monitor.unshare`: unshare the monitor's mount namespace.
    pub unshare: bool,
    /// `lxc.monitor.signal.pdeath`; `None` = SIGKILL.
    pub signal_pdeath: Option<Signal>,
}

/// `lxc.autodev.tmpfs.size` default, in bytes.
pub const DEFAULT_AUTODEV_TMPFS_SIZE: u32 = 500_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arch() {
        assert_eq!(
            Arch::parse("amd64").ok().map(|a| a.personality),
            Some(Personality::Linux)
        );
        assert_eq!(
            Arch::parse("i686").ok().map(|a| a.personality),
            Some(Personality::Linux32)
        );
        assert!(Arch::parse("vax").is_err());
    }

    #[test]
    fn levels() {
        assert_eq!(LogLevel::parse("debug").ok(), Some(LogLevel::Debug));
        assert_eq!(LogLevel::parse("5").ok(), Some(LogLevel::Error));
        assert_eq!(LogLevel::parse("8").ok(), Some(LogLevel::Fatal));
        assert_eq!(LogLevel::parse("WARNING").ok(), Some(LogLevel::Warn));
        assert!(LogLevel::parse("9").is_err());
        assert!(LogLevel::parse("LOUD").is_err());
        assert_eq!(LogLevel::Crit.name(), "CRIT");
    }

    #[test]
    fn syslog() {
        assert!(check_syslog("daemon").is_ok());
        assert!(check_syslog("local7").is_ok());
        assert!(check_syslog("kern").is_err());
    }
}
