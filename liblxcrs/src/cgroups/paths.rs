//! The hand-over format of a container's cgroup paths, from its monitor to other processes.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use super::error::{CgroupError, Result};

/// A container cgroup's path in every hierarchy, keyed like `/proc/PID/cgroup`
/// (`memory:/lxcrs.payload.c1`, `:/lxcrs.payload.c1` for cgroup2): what a monitor hands to
/// `lxc-cgroup`, `lxc-info` or `lxc-attach` so they can open the same cgroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupPaths(pub Vec<(String, PathBuf)>);

impl fmt::Display for CgroupPaths {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (key, path) in &self.0 {
            writeln!(f, "{key}:{}", path.display())?;
        }
        Ok(())
    }
}

impl FromStr for CgroupPaths {
    type Err = CgroupError;

    fn from_str(s: &str) -> Result<Self> {
        let entries = s
            .lines()
            .filter(|l| !l.is_empty())
            .map(|line| {
                // Controller names hold no ':'; the path may.
                match line.split_once(':') {
                    Some((key, path)) if path.starts_with('/') => {
                        Ok((key.to_string(), PathBuf::from(path)))
                    }
                    _ => Err(CgroupError::InvalidPaths {
                        reason: format!("{line:?} is not KEY:/PATH"),
                    }),
                }
            })
            .collect::<Result<_>>()?;
        Ok(Self(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip() {
        let p = CgroupPaths(vec![
            (
                "memory".into(),
                PathBuf::from("/process_api/x/lxcrs.payload.c1"),
            ),
            ("name=systemd".into(), PathBuf::from("/lxcrs.payload.c1")),
            (String::new(), PathBuf::from("/lxcrs.payload.c1")),
            ("pids".into(), PathBuf::from("/odd:/name")),
        ]);
        let text = p.to_string();
        assert_eq!(text, "memory:/process_api/x/lxcrs.payload.c1\nname=systemd:/lxcrs.payload.c1\n:/lxcrs.payload.c1\npids:/odd:/name\n");
        assert_eq!(text.parse::<CgroupPaths>().unwrap(), p);
        assert!("garbage".parse::<CgroupPaths>().is_err());
    }
}
