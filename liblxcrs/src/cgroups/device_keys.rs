//! Device rule keys of either cgroup family, for every host.
//!
//! `lxc.cgroup.devices.allow|deny` (v1) and `lxc.cgroup2.devices.allow|deny` say the same
//! thing in the same syntax, so both apply on every host instead of one family being
//! skipped (which left a v1 config on a cgroup2 host with no device policy at all): on a
//! host with the v1 devices controller they are written to `devices.allow` / `.deny`, on
//! cgroup2 they are compiled into the eBPF device program, all in config order. A `a`
//! rule resets the policy, so a config carrying both families (LXC's `common.conf`)
//! ends with the policy of its last block. Any other `devices.*` key cannot be translated
//! and fails the start with its name.

use super::error::{CgroupError, Result};

/// One device rule: the key it came from, allow or deny, and its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DeviceRule<'a> {
    pub key: &'a str,
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
            Ok(DeviceRule { key, allow, value })
        })
        .collect()
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
                    allow: false,
                    value: "a"
                },
                DeviceRule {
                    key: "lxc.cgroup2.devices.allow",
                    allow: true,
                    value: "c 1:3 rwm"
                },
            ]
        );
    }

    #[test]
    fn other_device_keys_fail_with_their_name() {
        let p = pairs(&[("lxc.cgroup.devices.list", "a *:* rwm")]);
        let e = classify(&p).unwrap_err().to_string();
        assert!(e.contains("lxc.cgroup.devices.list"), "{e}");
    }
}
