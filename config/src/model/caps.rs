//! Capabilities (`lxc.cap.drop`, `lxc.cap.keep`).
//!
//! Names are the kernel's, lowercase, without the `cap_` prefix. LXC also accepts the
//! capability number.

use std::fmt;

use crate::error::{ConfigError, Result};

/// Kernel capability names indexed by number (linux/capability.h, up to CAP_LAST_CAP 40).
pub const CAPABILITY_NAMES: &[&str] = &[
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "linux_immutable",
    "net_bind_service",
    "net_broadcast",
    "net_admin",
    "net_raw",
    "ipc_lock",
    "ipc_owner",
    "sys_module",
    "sys_rawio",
    "sys_chroot",
    "sys_ptrace",
    "sys_pacct",
    "sys_admin",
    "sys_boot",
    "sys_nice",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "mknod",
    "lease",
    "audit_write",
    "audit_control",
    "setfcap",
    "mac_override",
    "mac_admin",
    "syslog",
    "wake_alarm",
    "block_suspend",
    "audit_read",
    "perfmon",
    "bpf",
    "checkpoint_restore",
];

/// A validated capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Capability(pub u32);

impl Capability {
    /// Parse a lowercase name (`sys_admin`) or a number (`21`).
    pub fn parse(s: &str) -> Result<Capability> {
        if let Some(i) = CAPABILITY_NAMES.iter().position(|n| *n == s) {
            return Ok(Capability(u32::try_from(i).unwrap_or(u32::MAX)));
        }
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(n) = s.parse::<u32>() {
                if (n as usize) < CAPABILITY_NAMES.len() {
                    return Ok(Capability(n));
                }
            }
            return Err(ConfigError::value(format!(
                "capability number out of range (expected 0..{})",
                CAPABILITY_NAMES.len() - 1
            )));
        }
        let lower = s.to_ascii_lowercase();
        let stripped = lower.strip_prefix("cap_").unwrap_or(&lower);
        if CAPABILITY_NAMES.contains(&stripped) {
            return Err(ConfigError::value_hint(
                "unknown capability",
                format!("use lowercase names without the cap_ prefix, e.g. {stripped}"),
            ));
        }
        Err(ConfigError::value_hint(
            "unknown capability",
            "see capabilities(7); names are lowercase without cap_, e.g. sys_admin",
        ))
    }

    /// Lowercase name without `cap_`.
    pub fn name(self) -> &'static str {
        CAPABILITY_NAMES
            .get(self.0 as usize)
            .copied()
            .unwrap_or("unknown")
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `lxc.cap.keep`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CapKeep {
    /// Not configured: `lxc.cap.drop` (if any) applies.
    #[default]
    Unset,
    /// `none`: keep no capability (drop all).
    None,
    /// Keep exactly these, drop the rest.
    Only(Vec<Capability>),
}

impl CapKeep {
    /// Whether `lxc.cap.keep` has been configured at all.
    pub fn is_set(&self) -> bool {
        !matches!(self, CapKeep::Unset)
    }

    /// Apply one `lxc.cap.keep` line (space-separated; `none` resets to keep-nothing).
    pub(crate) fn apply(&mut self, value: &str) -> Result<()> {
        if value.is_empty() {
            *self = CapKeep::Unset;
            return Ok(());
        }
        for tok in value.split_ascii_whitespace() {
            if tok == "none" {
                *self = CapKeep::None;
                continue;
            }
            let cap = Capability::parse(tok)?;
            match self {
                CapKeep::Only(list) => list.push(cap),
                _ => *self = CapKeep::Only(vec![cap]),
            }
        }
        Ok(())
    }

    /// LXC's rendering: one name per line, `none` for keep-nothing.
    pub(crate) fn render(&self) -> String {
        match self {
            CapKeep::Unset => String::new(),
            CapKeep::None => "none".to_string(),
            CapKeep::Only(l) => l.iter().map(|c| c.name()).collect::<Vec<_>>().join("\n"),
        }
    }
}

/// Apply one `lxc.cap.drop` line (space-separated names; empty clears).
pub(crate) fn apply_drop(list: &mut Vec<Capability>, value: &str) -> Result<()> {
    if value.is_empty() {
        list.clear();
        return Ok(());
    }
    for tok in value.split_ascii_whitespace() {
        list.push(Capability::parse(tok)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_caps() {
        assert_eq!(Capability::parse("sys_admin").ok(), Some(Capability(21)));
        assert_eq!(
            Capability::parse("21").ok().map(Capability::name),
            Some("sys_admin")
        );
        assert_eq!(
            Capability::parse("checkpoint_restore").ok(),
            Some(Capability(40))
        );
        assert!(Capability::parse("41").is_err());
        let e = Capability::parse("CAP_SYS_ADMIN").err();
        assert_eq!(
            e.as_ref().and_then(|e| e.hint()),
            Some("use lowercase names without the cap_ prefix, e.g. sys_admin")
        );
        assert!(Capability::parse("sys_admins").is_err());
    }

    #[test]
    fn drop_and_keep() {
        let mut d = Vec::new();
        assert!(apply_drop(&mut d, "mac_admin mac_override  sys_time").is_ok());
        assert_eq!(d.len(), 3);
        assert!(apply_drop(&mut d, "").is_ok());
        assert!(d.is_empty());
        let mut k = CapKeep::default();
        assert!(!k.is_set());
        assert!(k.apply("sys_admin net_admin").is_ok());
        assert_eq!(k.render(), "sys_admin\nnet_admin");
        assert!(k.apply("none").is_ok());
        assert_eq!(k, CapKeep::None);
        assert!(k.apply("none chown").is_ok());
        assert_eq!(k, CapKeep::Only(vec![Capability(0)]));
        assert!(k.apply("").is_ok());
        assert_eq!(k, CapKeep::Unset);
        assert!(k.apply("bogus").is_err());
    }
}
