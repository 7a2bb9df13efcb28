//! Resource limits and kernel knobs: `lxc.prlimit.*`, `lxc.sysctl.*`, `lxc.proc.*`.
//!
//! Setting the same name twice replaces the earlier value (LXC updates the entry in
//! place); an empty value removes that name; the bare family key clears all.

use std::fmt;

use crate::error::{ConfigError, Result};

/// Resource names accepted after `lxc.prlimit.` (setrlimit(2) without `RLIMIT_`).
pub const PRLIMIT_NAMES: &[&str] = &[
    "as",
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// One limit value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RlimitValue {
    Unlimited,
    Value(u64),
}

impl RlimitValue {
    fn parse(s: &str) -> Result<RlimitValue> {
        if s == "unlimited" {
            return Ok(RlimitValue::Unlimited);
        }
        crate::value::parse_uint(s)
            .map(RlimitValue::Value)
            .map_err(|_| {
                ConfigError::value("invalid limit (expected soft[:hard] numbers or unlimited)")
            })
    }
}

impl fmt::Display for RlimitValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RlimitValue::Unlimited => f.write_str("unlimited"),
            RlimitValue::Value(v) => write!(f, "{v}"),
        }
    }
}

/// `lxc.prlimit.<resource> = soft[:hard]`; a single value sets both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prlimit {
    pub resource: String,
    pub soft: RlimitValue,
    pub hard: RlimitValue,
}

impl Prlimit {
    /// Parse the value for `resource`.
    pub fn parse(resource: &str, s: &str) -> Result<Prlimit> {
        if !PRLIMIT_NAMES.contains(&resource) {
            return Err(ConfigError::value_hint(
                format!("unknown resource limit '{resource}'"),
                format!("known limits: {}", PRLIMIT_NAMES.join(", ")),
            ));
        }
        let (soft, hard) = match s.split_once(':') {
            Some((a, b)) => (RlimitValue::parse(a)?, RlimitValue::parse(b)?),
            None => {
                let v = RlimitValue::parse(s)?;
                (v, v)
            }
        };
        Ok(Prlimit {
            resource: resource.to_string(),
            soft,
            hard,
        })
    }

    /// `soft` or `soft:hard` as LXC renders it.
    pub fn render(&self) -> String {
        if self.soft == self.hard {
            self.soft.to_string()
        } else {
            format!("{}:{}", self.soft, self.hard)
        }
    }
}

/// Validate a `lxc.sysctl.` / `lxc.proc.` name: it becomes a path below /proc, so no
/// `/`, no `..` components and no blanks.
pub fn check_knob_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && !name.contains('/')
        && !name.split('.').any(|c| c.is_empty() || c == "..")
        && !name.bytes().any(|b| b.is_ascii_whitespace() || b == 0);
    if !ok {
        return Err(ConfigError::value(format!("invalid name '{name}'")));
    }
    Ok(())
}

/// Set or replace `name` in an ordered key/value list; empty value removes it, empty
/// name with empty value clears all.
pub(crate) fn set_knob(list: &mut Vec<(String, String)>, name: &str, v: &str) -> Result<()> {
    if name.is_empty() {
        if v.is_empty() {
            list.clear();
            return Ok(());
        }
        return Err(ConfigError::value("missing name after the key prefix"));
    }
    check_knob_name(name)?;
    if v.is_empty() {
        list.retain(|(k, _)| k != name);
    } else if let Some(slot) = list.iter_mut().find(|(k, _)| k == name) {
        slot.1 = v.to_string();
    } else {
        list.push((name.to_string(), v.to_string()));
    }
    Ok(())
}

/// Apply `lxc.prlimit.<name> = v` (same replace/clear semantics).
pub(crate) fn set_prlimit(list: &mut Vec<Prlimit>, name: &str, v: &str) -> Result<()> {
    if name.is_empty() {
        if v.is_empty() {
            list.clear();
            return Ok(());
        }
        return Err(ConfigError::value(
            "missing resource name, e.g. lxc.prlimit.nofile",
        ));
    }
    if v.is_empty() {
        list.retain(|p| p.resource != name);
        return Ok(());
    }
    let p = Prlimit::parse(name, v)?;
    match list.iter_mut().find(|q| q.resource == name) {
        Some(slot) => *slot = p,
        None => list.push(p),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prlimits() {
        let p = Prlimit::parse("nofile", "1024:4096").ok();
        assert_eq!(
            p.as_ref().map(|p| (p.soft, p.hard)),
            Some((RlimitValue::Value(1024), RlimitValue::Value(4096)))
        );
        assert_eq!(p.map(|p| p.render()).as_deref(), Some("1024:4096"));
        let p = Prlimit::parse("core", "unlimited").ok();
        assert_eq!(p.map(|p| p.render()).as_deref(), Some("unlimited"));
        assert!(Prlimit::parse("nofile", "lots").is_err());
        assert!(Prlimit::parse("nofile", "1:").is_err());
        assert!(Prlimit::parse("files", "1").is_err());
        let mut l = Vec::new();
        assert!(set_prlimit(&mut l, "nofile", "10").is_ok());
        assert!(set_prlimit(&mut l, "nproc", "5").is_ok());
        assert!(set_prlimit(&mut l, "nofile", "20:30").is_ok());
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].render(), "20:30");
        assert!(set_prlimit(&mut l, "nofile", "").is_ok());
        assert_eq!(l.len(), 1);
        assert!(set_prlimit(&mut l, "", "").is_ok());
        assert!(l.is_empty());
    }

    #[test]
    fn knobs() {
        let mut l = Vec::new();
        assert!(set_knob(&mut l, "net.ipv4.ip_forward", "1").is_ok());
        assert!(set_knob(&mut l, "net.ipv4.ip_forward", "0").is_ok());
        assert_eq!(
            l,
            vec![("net.ipv4.ip_forward".to_string(), "0".to_string())]
        );
        assert!(set_knob(&mut l, "../x", "1").is_err());
        assert!(set_knob(&mut l, "a/b", "1").is_err());
        assert!(set_knob(&mut l, "a..b", "1").is_err());
        assert!(set_knob(&mut l, "", "1").is_err());
        assert!(set_knob(&mut l, "net.ipv4.ip_forward", "").is_ok());
        assert!(l.is_empty());
    }
}
