//! Device rule keys of either cgroup family, for every host.
//!
//! `lxc.cgroup.devices.allow|deny` (v1) and `lxc.cgroup2.devices.allow|deny` say the same
//! thing in the same syntax. A host applies the rules of its own family (the v1 devices
//! files, or the cgroup2 eBPF device program) and, when the config has none of those,
//! the other family's translated, instead of skipping them: a config carried over from a
//! v1 host used to start on a cgroup2 host with no device policy at all. A config with
//! both (LXC's `common.conf`) keeps the host's own family, as LXC does: the two families
//! are stored apart, so their relative order is not known. Any other `devices.*` key
//! cannot be translated and fails the start with its name.

use super::error::{CgroupError, Result};

/// One device rule: the key it came from, allow or deny, and its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DeviceRule<'a> {
    pub key: &'a str,
    /// From `lxc.cgroup2.devices.*`.
    pub v2: bool,
    pub allow: bool,
    pub value: &'a str,
}

/// Sorts `(key, value)` pairs into device rules, in order; refuses a `devices.*` key that
/// is neither `allow` nor `deny`, and any key that is no device rule.
pub(crate) fn classify(rules: &[(String, String)]) -> Result<Vec<DeviceRule<'_>>> {
    rules
        .iter()
        .map(|(key, value)| {
            let file = key
                .strip_prefix("lxc.cgroup.")
                .or_else(|| key.strip_prefix("lxc.cgroup2."))
                .filter(|f| f.starts_with("devices."));
            let allow = match file {
                Some("devices.allow") => true,
                Some("devices.deny") => false,
                _ => {
                    return Err(CgroupError::UntranslatableDeviceKey {
                        key: key.clone(),
                        value: value.clone(),
                    })
                }
            };
            Ok(DeviceRule {
                key,
                v2: key.starts_with("lxc.cgroup2."),
                allow,
                value,
            })
        })
        .collect()
}

/// The rules a host applies: those of its own family (`native_v2`: the host enforces
/// devices with the cgroup2 program), or, when the config has none, the other family's.
/// In config order within the family.
pub(crate) fn select(rules: &[(String, String)], native_v2: bool) -> Result<Vec<DeviceRule<'_>>> {
    let all = classify(rules)?;
    if all.iter().any(|r| r.v2 == native_v2) {
        Ok(all.into_iter().filter(|r| r.v2 == native_v2).collect())
    } else {
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn both_families_are_device_rules_in_order() {
        let p = pairs(&[
            ("lxc.cgroup.devices.deny", "a"),
            ("lxc.cgroup2.devices.allow", "c 1:3 rwm"),
        ]);
        let r = classify(&p).unwrap();
        assert_eq!(
            r,
            [
                DeviceRule {
                    key: "lxc.cgroup.devices.deny",
                    v2: false,
                    allow: false,
                    value: "a"
                },
                DeviceRule {
                    key: "lxc.cgroup2.devices.allow",
                    v2: true,
                    allow: true,
                    value: "c 1:3 rwm"
                },
            ]
        );
    }

    #[test]
    fn the_host_family_wins_and_the_other_is_translated_when_alone() {
        let both = pairs(&[
            ("lxc.cgroup.devices.deny", "a"),
            ("lxc.cgroup.devices.allow", "c 1:3 rwm"),
            ("lxc.cgroup2.devices.deny", "a"),
            ("lxc.cgroup2.devices.allow", "c 1:5 rwm"),
        ]);
        let keys = |native_v2| -> Vec<(&str, &str)> {
            select(&both, native_v2)
                .unwrap()
                .iter()
                .map(|r| (r.key, r.value))
                .collect()
        };
        assert_eq!(
            keys(false),
            [
                ("lxc.cgroup.devices.deny", "a"),
                ("lxc.cgroup.devices.allow", "c 1:3 rwm")
            ]
        );
        assert_eq!(
            keys(true),
            [
                ("lxc.cgroup2.devices.deny", "a"),
                ("lxc.cgroup2.devices.allow", "c 1:5 rwm")
            ]
        );
        let v1_only = pairs(&[("lxc.cgroup.devices.deny", "a")]);
        assert_eq!(
            select(&v1_only, true).unwrap().len(),
            1,
            "translated, not skipped"
        );
        let v2_only = pairs(&[("lxc.cgroup2.devices.deny", "a")]);
        assert_eq!(
            select(&v2_only, false).unwrap().len(),
            1,
            "translated, not skipped"
        );
    }

    #[test]
    fn other_device_keys_fail_with_their_name() {
        let p = pairs(&[("lxc.cgroup.devices.list", "a *:* rwm")]);
        let e = classify(&p).unwrap_err().to_string();
        assert!(e.contains("lxc.cgroup.devices.list"), "{e}");
    }
}
