//! Namespaces: `lxc.namespace.clone/keep/share.*`, `lxc.time.offset.*`.

use std::collections::BTreeMap;

use crate::error::{ConfigError, Result};
use crate::value::{choice_name, parse_choice};

/// A namespace kind, named as in /proc/PID/ns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NsKind {
    Cgroup,
    Ipc,
    Mnt,
    Net,
    Pid,
    Time,
    User,
    Uts,
}

/// Names accepted in the config.
pub const NS_NAMES: &[(&str, NsKind)] = &[
    ("cgroup", NsKind::Cgroup),
    ("ipc", NsKind::Ipc),
    ("mnt", NsKind::Mnt),
    ("net", NsKind::Net),
    ("pid", NsKind::Pid),
    ("time", NsKind::Time),
    ("user", NsKind::User),
    ("uts", NsKind::Uts),
];

impl NsKind {
    pub fn parse(s: &str) -> Result<NsKind> {
        parse_choice(s, "namespace", NS_NAMES)
    }

    pub fn name(self) -> &'static str {
        choice_name(self, NS_NAMES)
    }
}

/// Namespace settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Namespaces {
    /// `lxc.namespace.clone`: create exactly these (empty = LXC's default choice).
    pub clone: Vec<NsKind>,
    /// `lxc.namespace.keep`: stay in the caller's namespace for these.
    pub keep: Vec<NsKind>,
    /// `lxc.namespace.share.<ns>`: join another container's (name), a path, or a PID's.
    pub share: BTreeMap<NsKind, String>,
}

/// Apply a space-separated namespace list line (empty clears).
pub(crate) fn apply_list(list: &mut Vec<NsKind>, value: &str) -> Result<()> {
    if value.is_empty() {
        list.clear();
        return Ok(());
    }
    for tok in value.split_ascii_whitespace() {
        let ns = NsKind::parse(tok)?;
        if !list.contains(&ns) {
            list.push(ns);
        }
    }
    Ok(())
}

/// A time-namespace clock offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeOffset {
    pub seconds: i64,
    pub nanoseconds: i64,
}

impl TimeOffset {
    /// Parse `<integer>[h|m|s|ms|us|ns]` (seconds if no unit).
    pub fn parse(s: &str) -> Result<TimeOffset> {
        let bad = || {
            ConfigError::value(
                "invalid time offset (expected an integer with unit h, m, s, ms, us or ns)",
            )
        };
        let digits_end = s
            .char_indices()
            .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && c == '-')))
            .map(|(i, _)| i)
            .unwrap_or(s.len());
        let (num, unit) = s.split_at(digits_end);
        let n: i64 = num.parse().map_err(|_| bad())?;
        let (secs, nanos) = match unit.trim() {
            "h" => (n.checked_mul(3600).ok_or_else(bad)?, 0),
            "m" => (n.checked_mul(60).ok_or_else(bad)?, 0),
            "" | "s" => (n, 0),
            "ms" => (n / 1000, (n % 1000) * 1_000_000),
            "us" => (n / 1_000_000, (n % 1_000_000) * 1000),
            "ns" => (n / 1_000_000_000, n % 1_000_000_000),
            _ => return Err(bad()),
        };
        Ok(TimeOffset {
            seconds: secs,
            nanoseconds: nanos,
        })
    }
}

/// `lxc.time.offset.boot` / `lxc.time.offset.monotonic` (raw text kept for rendering).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimeOffsets {
    pub boot: Option<(TimeOffset, String)>,
    pub monotonic: Option<(TimeOffset, String)>,
}

impl TimeOffsets {
    /// Whether a time namespace is needed.
    pub fn any(&self) -> bool {
        self.boot.is_some() || self.monotonic.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        let mut l = Vec::new();
        assert!(apply_list(&mut l, "net uts  ipc").is_ok());
        assert!(apply_list(&mut l, "net pid").is_ok());
        assert_eq!(l, vec![NsKind::Net, NsKind::Uts, NsKind::Ipc, NsKind::Pid]);
        assert!(apply_list(&mut l, "mount").is_err());
        assert!(apply_list(&mut l, "").is_ok());
        assert!(l.is_empty());
    }

    #[test]
    fn offsets() {
        let t = |s: &str| {
            TimeOffset::parse(s)
                .ok()
                .map(|t| (t.seconds, t.nanoseconds))
        };
        assert_eq!(t("10"), Some((10, 0)));
        assert_eq!(t("2h"), Some((7200, 0)));
        assert_eq!(t("-3m"), Some((-180, 0)));
        assert_eq!(t("1500ms"), Some((1, 500_000_000)));
        assert_eq!(t("7us"), Some((0, 7000)));
        assert_eq!(t("5ns"), Some((0, 5)));
        for bad in [
            "",
            "h",
            "1d",
            "--1",
            "99999999999999999999",
            "9223372036854775807h",
        ] {
            assert!(TimeOffset::parse(bad).is_err(), "{bad:?}");
        }
    }
}
