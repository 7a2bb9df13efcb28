//! Hooks (`lxc.hook.<type>`, `lxc.hook.version`).

use std::collections::BTreeMap;

use crate::error::{ConfigError, Result};

/// When a hook runs (see the start/stop sequence).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HookType {
    /// Host namespaces, before anything is set up.
    PreStart,
    /// In the container's mount namespace, before the rootfs is mounted.
    PreMount,
    /// After mounts, before pivot_root.
    Mount,
    /// After mounts and the mount hook, to populate /dev.
    Autodev,
    /// Inside the container right before init is executed.
    Start,
    /// On the host after the container is set up, before init runs.
    StartHost,
    /// On the host after the container stopped, with its namespaces still referenced.
    Stop,
    /// On the host after everything is torn down.
    PostStop,
    /// When the container is cloned.
    Clone,
    /// When the container is destroyed.
    Destroy,
}

/// All hook types with their key names, in LXC's order.
pub const HOOK_TYPES: &[(&str, HookType)] = &[
    ("pre-start", HookType::PreStart),
    ("pre-mount", HookType::PreMount),
    ("mount", HookType::Mount),
    ("autodev", HookType::Autodev),
    ("start", HookType::Start),
    ("start-host", HookType::StartHost),
    ("stop", HookType::Stop),
    ("post-stop", HookType::PostStop),
    ("clone", HookType::Clone),
    ("destroy", HookType::Destroy),
];

impl HookType {
    /// Parse the key suffix (`pre-start`, …).
    pub fn parse(s: &str) -> Result<HookType> {
        crate::value::parse_choice(s, "hook type", HOOK_TYPES)
    }

    /// The key suffix, also the hook's third argument / `LXC_HOOK_TYPE`.
    pub fn name(self) -> &'static str {
        crate::value::choice_name(self, HOOK_TYPES)
    }
}

/// `lxc.hook.version`: how hooks get their arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HookVersion {
    /// Arguments on the command line (`name lxc type …`).
    #[default]
    V0,
    /// Information passed in environment variables.
    V1,
}

/// Hook settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hooks {
    pub version: HookVersion,
    /// Commands per type, in config order. Absent type = no hooks.
    pub commands: BTreeMap<HookType, Vec<String>>,
}

impl Hooks {
    /// The commands for one hook type.
    pub fn get(&self, t: HookType) -> &[String] {
        self.commands.get(&t).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Apply `lxc.hook.<type> = cmd` (empty clears that type).
    pub(crate) fn apply(&mut self, t: HookType, value: &str) {
        if value.is_empty() {
            self.commands.remove(&t);
        } else {
            self.commands.entry(t).or_default().push(value.to_string());
        }
    }

    /// Apply `lxc.hook.version`.
    pub(crate) fn set_version(&mut self, value: &str) -> Result<()> {
        self.version = match value {
            "" | "0" => HookVersion::V0,
            "1" => HookVersion::V1,
            _ => return Err(ConfigError::value("invalid hook version (expected 0 or 1)")),
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types() {
        for (n, t) in HOOK_TYPES {
            assert_eq!(HookType::parse(n).ok(), Some(*t));
            assert_eq!(t.name(), *n);
        }
        assert!(HookType::parse("prestart").is_err());
    }

    #[test]
    fn apply() {
        let mut h = Hooks::default();
        h.apply(HookType::Mount, "/a");
        h.apply(HookType::Mount, "/b");
        assert_eq!(h.get(HookType::Mount), ["/a".to_string(), "/b".to_string()]);
        h.apply(HookType::Mount, "");
        assert!(h.get(HookType::Mount).is_empty());
        assert!(h.set_version("1").is_ok());
        assert_eq!(h.version, HookVersion::V1);
        assert!(h.set_version("2").is_err());
    }
}
