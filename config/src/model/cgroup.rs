//! Cgroups: `lxc.cgroup2.<controller>.<file>`, legacy `lxc.cgroup.<controller>.<file>`,
//! `lxc.cgroup.dir*`, `lxc.cgroup.relative`.

use crate::error::{ConfigError, Result};

/// Where the container's cgroups go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CgroupDirs {
    /// `lxc.cgroup.dir`: one cgroup (relative path) for monitor and payload.
    pub dir: Option<String>,
    /// `lxc.cgroup.dir.container`.
    pub container: Option<String>,
    /// `lxc.cgroup.dir.container.inner`: nested cgroup the payload is put into.
    pub container_inner: Option<String>,
    /// `lxc.cgroup.dir.monitor`.
    pub monitor: Option<String>,
    /// `lxc.cgroup.dir.monitor.pivot`: where the monitor moves before cleanup.
    pub monitor_pivot: Option<String>,
    /// `lxc.cgroup.relative`: place cgroups relative to LXC's own cgroup.
    pub relative: bool,
}

/// Validate a `lxc.cgroup.dir*` value: a relative path without `..`.
pub fn check_cgroup_dir(s: &str) -> Result<()> {
    if s.starts_with('/') {
        return Err(ConfigError::value(
            "cgroup directory must be a relative path",
        ));
    }
    if s.split('/').any(|c| c == "..") {
        return Err(ConfigError::value("cgroup directory must not contain '..'"));
    }
    Ok(())
}

/// Validate the `<controller>.<file>` part of a cgroup key. It becomes a file name
/// under the container's cgroup, so no path separators are allowed.
pub fn check_cgroup_file(sub: &str) -> Result<()> {
    let ok_chars = sub
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    let parts_ok = match sub.split_once('.') {
        Some((c, f)) => !c.is_empty() && !f.is_empty() && !f.starts_with('.') && !f.ends_with('.'),
        None => false,
    };
    if !ok_chars || !parts_ok {
        return Err(ConfigError::value(format!(
            "invalid cgroup file '{sub}' (expected <controller>.<file>, e.g. memory.max)"
        )));
    }
    Ok(())
}

/// Validate a `devices.allow`/`devices.deny` rule: `a` or `TYPE MAJ:MIN ACCESS`.
pub fn check_device_rule(v: &str) -> Result<()> {
    let bad = || {
        ConfigError::value(
            "invalid device rule (expected a, or TYPE MAJOR:MINOR ACCESS, e.g. c 1:3 rwm)",
        )
    };
    let fields: Vec<&str> = v.split_ascii_whitespace().collect();
    match fields[..] {
        ["a"] => Ok(()),
        [ty, nums] | [ty, nums, _] if !matches!(ty, "a" | "b" | "c") || !nums.contains(':') => {
            Err(bad())
        }
        [_, nums] | [_, nums, _] => {
            let num_ok =
                |s: &str| s == "*" || (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
            let access_ok = fields.get(2).is_none_or(|a| {
                !a.is_empty() && a.bytes().all(|b| matches!(b, b'r' | b'w' | b'm'))
            });
            match nums.split_once(':') {
                Some((maj, min)) if num_ok(maj) && num_ok(min) && access_ok => Ok(()),
                _ => Err(bad()),
            }
        }
        _ => Err(bad()),
    }
}

/// Apply `lxc.cgroup2.<sub> = v` (or v1) to a list: empty value clears entries of that
/// file, an empty `sub` (the bare `lxc.cgroup2` key) clears all.
pub(crate) fn apply(list: &mut Vec<(String, String)>, sub: &str, v: &str) -> Result<()> {
    if v.is_empty() {
        if sub.is_empty() {
            list.clear();
        } else {
            list.retain(|(k, _)| k != sub);
        }
        return Ok(());
    }
    if sub.is_empty() {
        return Err(ConfigError::value(
            "a value needs a cgroup file, e.g. lxc.cgroup2.memory.max",
        ));
    }
    check_cgroup_file(sub)?;
    if sub == "devices.allow" || sub == "devices.deny" {
        check_device_rule(v)?;
    }
    list.push((sub.to_string(), v.to_string()));
    Ok(())
}

/// Render like LXC: the bare prefix lists `prefix.file = value` lines, a file lists its values.
pub(crate) fn render(list: &[(String, String)], prefix: &str, sub: &str) -> String {
    let lines: Vec<String> = if sub.is_empty() {
        list.iter()
            .map(|(k, v)| format!("{prefix}.{k} = {v}"))
            .collect()
    } else {
        list.iter()
            .filter(|(k, _)| k == sub)
            .map(|(_, v)| v.clone())
            .collect()
    };
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files() {
        assert!(check_cgroup_file("memory.max").is_ok());
        assert!(check_cgroup_file("devices.allow").is_ok());
        assert!(check_cgroup_file("cpu.weight.nice").is_ok());
        for bad in [
            "memory",
            ".max",
            "memory.",
            "../x.y",
            "a/b.c",
            "mem ory.max",
            "",
        ] {
            assert!(check_cgroup_file(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn device_rules() {
        for ok in [
            "a",
            "c *:* m",
            "b *:* m",
            "c 1:3 rwm",
            "c 136:* rwm",
            "c 254:0 rm",
            "c 1:3",
        ] {
            assert!(check_device_rule(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "",
            "x 1:3 rwm",
            "c 1 rwm",
            "c 1:3 rwx",
            "c a:b r",
            "c 1:3 rwm extra",
        ] {
            assert!(check_device_rule(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn list_semantics() {
        let mut l = Vec::new();
        assert!(apply(&mut l, "devices.deny", "a").is_ok());
        assert!(apply(&mut l, "devices.allow", "c 1:3 rwm").is_ok());
        assert!(apply(&mut l, "devices.allow", "c 1:5 rwm").is_ok());
        assert!(apply(&mut l, "memory.max", "1G").is_ok());
        assert_eq!(
            render(&l, "lxc.cgroup2", "devices.allow"),
            "c 1:3 rwm\nc 1:5 rwm"
        );
        assert!(apply(&mut l, "devices.allow", "").is_ok());
        assert_eq!(l.len(), 2);
        assert_eq!(
            render(&l, "lxc.cgroup2", ""),
            "lxc.cgroup2.devices.deny = a\nlxc.cgroup2.memory.max = 1G"
        );
        assert!(apply(&mut l, "", "").is_ok());
        assert!(l.is_empty());
        assert!(apply(&mut l, "", "x").is_err());
        assert!(apply(&mut l, "devices.allow", "q").is_err());
    }

    #[test]
    fn dirs() {
        assert!(check_cgroup_dir("lxc/c1").is_ok());
        assert!(check_cgroup_dir("/abs").is_err());
        assert!(check_cgroup_dir("a/../b").is_err());
    }
}
