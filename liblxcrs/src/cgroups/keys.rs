//! Config keys (`lxc.cgroup.<file>`, `lxc.cgroup2.<file>`) and `lxc-cgroup` file names:
//! which controller and file they mean, and the other version's equivalent for hints.

use super::error::{CgroupError, Result};

/// What a `lxc.cgroup.*` / `lxc.cgroup2.*` config key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKey<'a> {
    /// `lxc.cgroup.<controller>.<rest>`: the v1 file `<controller>.<rest>`.
    V1 { controller: &'a str, file: &'a str },
    /// `lxc.cgroup2.<controller>.<rest>`: the cgroup2 file; `controller` is `cgroup` for core
    /// files (cgroup.max.depth …) that need no controller.
    V2 { controller: &'a str, file: &'a str },
    /// `lxc.cgroup2.devices.allow` / `.deny`: rules for the eBPF device program.
    V2Devices { file: &'a str },
}

/// Keys under `lxc.cgroup.` that configure placement, not limits.
const NOT_LIMITS: &[&str] = &["dir", "relative", "pattern", "use", "keep"];

/// Parses a config key into the controller and file it targets.
pub fn parse_limit_key(key: &str) -> Result<LimitKey<'_>> {
    let invalid = |reason| CgroupError::InvalidKey {
        key: key.to_string(),
        reason,
    };
    if let Some(file) = key.strip_prefix("lxc.cgroup2.") {
        let controller = controller_of(file).map_err(invalid)?;
        return Ok(match file {
            "devices.allow" | "devices.deny" => LimitKey::V2Devices { file },
            _ => LimitKey::V2 { controller, file },
        });
    }
    if let Some(file) = key.strip_prefix("lxc.cgroup.") {
        let first = file.split('.').next().unwrap_or(file);
        if NOT_LIMITS.contains(&first) {
            return Err(invalid("a placement key, not a cgroup limit"));
        }
        let controller = controller_of(file).map_err(invalid)?;
        if controller == "cgroup" {
            return Err(invalid(
                "cgroup core files cannot be set through lxc.cgroup",
            ));
        }
        return Ok(LimitKey::V1 { controller, file });
    }
    Err(invalid(
        "expected lxc.cgroup.<controller>.<file> or lxc.cgroup2.<controller>.<file>",
    ))
}

/// The controller a file belongs to: its name up to the first dot. Rejects anything that is
/// not a plain cgroupfs file name (no `/`, no `..`, no leading dot), so keys cannot escape
/// the cgroup directory.
pub fn controller_of(file: &str) -> std::result::Result<&str, &'static str> {
    check_file_name(file)?;
    match file.split_once('.') {
        Some((controller, rest)) if !controller.is_empty() && !rest.is_empty() => Ok(controller),
        _ => Err("a cgroup file is named <controller>.<file>"),
    }
}

/// A plain cgroupfs file name: letters, digits, `_ . -`, not starting with a dot.
pub fn check_file_name(file: &str) -> std::result::Result<(), &'static str> {
    if file.is_empty() || file.starts_with('.') || file.contains("..") {
        return Err("not a cgroup file name");
    }
    if !file
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        return Err("a cgroup file name has only letters, digits, '_', '.' and '-'");
    }
    Ok(())
}

/// cgroup v1 file → the nearest cgroup2 key, for hints (semantics differ: say "nearest").
pub fn v2_equivalent(v1_file: &str) -> Option<&'static str> {
    Some(match v1_file {
        "memory.limit_in_bytes" => "lxc.cgroup2.memory.max",
        "memory.soft_limit_in_bytes" => "lxc.cgroup2.memory.high",
        "memory.memsw.limit_in_bytes" => "lxc.cgroup2.memory.swap.max (swap only, without memory)",
        "cpu.shares" => "lxc.cgroup2.cpu.weight (1-10000, default 100)",
        "cpu.cfs_quota_us" | "cpu.cfs_period_us" => "lxc.cgroup2.cpu.max (\"QUOTA PERIOD\")",
        "cpuset.cpus" => "lxc.cgroup2.cpuset.cpus",
        "cpuset.mems" => "lxc.cgroup2.cpuset.mems",
        "blkio.weight" => "lxc.cgroup2.io.weight",
        "blkio.throttle.read_bps_device"
        | "blkio.throttle.write_bps_device"
        | "blkio.throttle.read_iops_device"
        | "blkio.throttle.write_iops_device" => "lxc.cgroup2.io.max",
        "pids.max" => "lxc.cgroup2.pids.max",
        "devices.allow" => "lxc.cgroup2.devices.allow",
        "devices.deny" => "lxc.cgroup2.devices.deny",
        "freezer.state" => "lxc-freeze / lxc-unfreeze",
        "hugetlb.2MB.limit_in_bytes" => "lxc.cgroup2.hugetlb.2MB.max",
        _ => return None,
    })
}

/// cgroup2 file → the nearest v1 key, for hints.
pub fn v1_equivalent(v2_file: &str) -> Option<&'static str> {
    Some(match v2_file {
        "memory.max" => "lxc.cgroup.memory.limit_in_bytes",
        "memory.high" | "memory.low" => "lxc.cgroup.memory.soft_limit_in_bytes",
        "memory.swap.max" => "lxc.cgroup.memory.memsw.limit_in_bytes (memory plus swap)",
        "cpu.weight" => "lxc.cgroup.cpu.shares (2-262144, default 1024)",
        "cpu.max" => "lxc.cgroup.cpu.cfs_quota_us and lxc.cgroup.cpu.cfs_period_us",
        "cpuset.cpus" => "lxc.cgroup.cpuset.cpus",
        "cpuset.mems" => "lxc.cgroup.cpuset.mems",
        "io.weight" => "lxc.cgroup.blkio.weight",
        "io.max" => {
            "lxc.cgroup.blkio.throttle.read_bps_device (and the other blkio.throttle files)"
        }
        "pids.max" => "lxc.cgroup.pids.max",
        "devices.allow" => "lxc.cgroup.devices.allow",
        "devices.deny" => "lxc.cgroup.devices.deny",
        _ => return None,
    })
}

/// The "use … instead" hint for a v1 key on a host that has the controller only on cgroup2.
pub(crate) fn hint_for_v1_key(file: &str, controller: &str) -> String {
    match v2_equivalent(file) {
        Some(v2) => format!("its {controller} controller is on cgroup2: use {v2} instead"),
        None => format!("its {controller} controller, if any, is on cgroup2: use the matching lxc.cgroup2.{controller}.* key"),
    }
}

/// The "use … instead" hint for a v2 key on a host that has the controller only on v1.
pub(crate) fn hint_for_v2_key(file: &str, controller: &str) -> String {
    match v1_equivalent(file) {
        Some(v1) => format!("use {v1} instead"),
        None => format!("use the matching lxc.cgroup.{controller}.* key (cgroup v1) instead"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_v1_and_v2_keys() {
        assert_eq!(
            parse_limit_key("lxc.cgroup.memory.limit_in_bytes").unwrap(),
            LimitKey::V1 {
                controller: "memory",
                file: "memory.limit_in_bytes"
            }
        );
        assert_eq!(
            parse_limit_key("lxc.cgroup.devices.allow").unwrap(),
            LimitKey::V1 {
                controller: "devices",
                file: "devices.allow"
            }
        );
        assert_eq!(
            parse_limit_key("lxc.cgroup2.memory.max").unwrap(),
            LimitKey::V2 {
                controller: "memory",
                file: "memory.max"
            }
        );
        assert_eq!(
            parse_limit_key("lxc.cgroup2.cgroup.max.depth").unwrap(),
            LimitKey::V2 {
                controller: "cgroup",
                file: "cgroup.max.depth"
            }
        );
        assert_eq!(
            parse_limit_key("lxc.cgroup2.devices.deny").unwrap(),
            LimitKey::V2Devices {
                file: "devices.deny"
            }
        );
        assert_eq!(
            parse_limit_key("lxc.cgroup.cpuacct.usage").unwrap(),
            LimitKey::V1 {
                controller: "cpuacct",
                file: "cpuacct.usage"
            }
        );
    }

    #[test]
    fn rejects_placement_keys_and_escapes() {
        for key in [
            "lxc.cgroup.dir",
            "lxc.cgroup.dir.container",
            "lxc.cgroup.relative",
            "lxc.cgroup2.memory",
            "lxc.cgroup2.../../etc",
            "lxc.cgroup2.memory.max/x",
            "lxc.cgroup.cgroup.procs",
            "lxc.net.0.type",
            "lxc.cgroup2..max",
        ] {
            assert!(parse_limit_key(key).is_err(), "{key}");
        }
        let err = parse_limit_key("lxc.cgroup.dir").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid cgroup key \"lxc.cgroup.dir\": a placement key, not a cgroup limit"
        );
    }

    #[test]
    fn hints_name_the_other_version() {
        assert_eq!(
            hint_for_v2_key("memory.max", "memory"),
            "use lxc.cgroup.memory.limit_in_bytes instead"
        );
        assert!(
            hint_for_v1_key("memory.limit_in_bytes", "memory").contains("lxc.cgroup2.memory.max")
        );
        assert!(hint_for_v1_key("net_cls.classid", "net_cls").contains("lxc.cgroup2.net_cls.*"));
    }
}
