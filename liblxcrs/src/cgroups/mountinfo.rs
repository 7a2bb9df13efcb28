//! Parsers for the two kernel texts that describe cgroups: `/proc/self/mountinfo` (where each
//! hierarchy is mounted) and `/proc/PID/cgroup` (which cgroup a process is in, per hierarchy).

use std::path::PathBuf;

use super::error::{CgroupError, Result};

/// One cgroup or cgroup2 mount from mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupMount {
    /// Path inside the cgroupfs that is mounted (field 4; `/` unless a subtree is bind-mounted).
    pub root: PathBuf,
    /// Where it is mounted (field 5).
    pub mount_point: PathBuf,
    /// True for cgroup2, false for a v1 hierarchy.
    pub v2: bool,
    /// Super options (after the source field), e.g. `rw`, `cpu`, `cpuacct`, `name=systemd`.
    pub super_options: Vec<String>,
}

/// Every cgroup/cgroup2 mount of a mountinfo text, in order.
pub fn parse_mountinfo(text: &str) -> Result<Vec<CgroupMount>> {
    let mut mounts = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |reason| CgroupError::Malformed {
            what: "mountinfo",
            line: index + 1,
            text: line.to_string(),
            reason,
        };
        let fields: Vec<&str> = line.split(' ').collect();
        // id parent major:minor root mount-point options [optional...] - fstype source super
        let sep = fields
            .iter()
            .position(|f| *f == "-")
            .ok_or_else(|| bad("no \" - \" separator"))?;
        if sep < 6 || fields.len() < sep + 4 {
            return Err(bad("too few fields"));
        }
        let fstype = fields[sep + 1];
        let v2 = match fstype {
            "cgroup" => false,
            "cgroup2" => true,
            _ => continue,
        };
        mounts.push(CgroupMount {
            root: PathBuf::from(unescape(fields[3])),
            mount_point: PathBuf::from(unescape(fields[4])),
            v2,
            super_options: fields[sep + 3].split(',').map(str::to_string).collect(),
        });
    }
    Ok(mounts)
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo` octal.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                let value = d.iter().fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
                out.push(u8::try_from(value).unwrap_or(b'?'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One line of `/proc/PID/cgroup`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcCgroup {
    /// Hierarchy id; 0 is the cgroup2 hierarchy.
    pub id: u32,
    /// Controllers bound to the hierarchy (`cpu`, `cpuacct`, `name=systemd`); empty for v2.
    pub controllers: Vec<String>,
    /// The process's cgroup, absolute within the hierarchy.
    pub path: PathBuf,
}

impl ProcCgroup {
    /// True for the cgroup2 line (`0::/path`).
    pub fn is_v2(&self) -> bool {
        self.id == 0 && self.controllers.is_empty()
    }
}

/// Parses the text of `/proc/PID/cgroup`.
pub fn parse_proc_cgroup(text: &str) -> Result<Vec<ProcCgroup>> {
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |reason| CgroupError::Malformed {
            what: "/proc/PID/cgroup",
            line: index + 1,
            text: line.to_string(),
            reason,
        };
        // The path may itself contain ':' — split only twice.
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("expected ID:CONTROLLERS:PATH"));
        };
        let id = id
            .parse()
            .map_err(|_| bad("hierarchy id is not a number"))?;
        if !path.starts_with('/') {
            return Err(bad("path is not absolute"));
        }
        let path = path.strip_suffix(" (deleted)").unwrap_or(path);
        let controllers = controllers
            .split(',')
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect();
        out.push(ProcCgroup {
            id,
            controllers,
            path: PathBuf::from(path),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_cgroup_mounts_with_their_options() {
        let text = "\
23 1 0:21 / /sys rw,nosuid - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 master:2 - cgroup cgroup rw,cpu,cpuacct
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 /lxc/c1 /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
";
        let m = parse_mountinfo(text).unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(
            m[0].mount_point,
            PathBuf::from("/sys/fs/cgroup/cpu,cpuacct")
        );
        assert_eq!(m[0].super_options, ["rw", "cpu", "cpuacct"]);
        assert!(!m[0].v2);
        assert_eq!(m[1].super_options, ["rw", "xattr", "name=systemd"]);
        assert!(m[2].v2);
        assert_eq!(m[2].root, PathBuf::from("/lxc/c1"));
    }

    #[test]
    fn unescapes_octal_in_paths() {
        let text = "41 31 0:38 / /mnt/my\\040cg rw - cgroup2 none rw\n";
        let m = parse_mountinfo(text).unwrap();
        assert_eq!(m[0].mount_point, PathBuf::from("/mnt/my cg"));
    }

    #[test]
    fn rejects_a_line_without_separator() {
        let err = parse_mountinfo("41 31 0:38 / /x rw cgroup2 none rw\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("malformed mountinfo line 1 (no \" - \" separator)"),
            "{err}"
        );
    }

    #[test]
    fn parses_proc_cgroup_v1_v2_and_named() {
        let text =
            "9:name=systemd:/\n4:memory:/process_api/0e74\n2:cpu,cpuacct:/a:b\n0::/user.slice\n";
        let c = parse_proc_cgroup(text).unwrap();
        assert_eq!(c[0].controllers, ["name=systemd"]);
        assert_eq!(c[1].path, PathBuf::from("/process_api/0e74"));
        assert_eq!(c[2].controllers, ["cpu", "cpuacct"]);
        assert_eq!(c[2].path, PathBuf::from("/a:b"));
        assert!(c[3].is_v2());
        assert!(!c[0].is_v2());
    }

    #[test]
    fn rejects_bad_proc_cgroup_lines() {
        assert!(parse_proc_cgroup("x::/\n").is_err());
        assert!(parse_proc_cgroup("0:/\n").is_err());
        assert!(parse_proc_cgroup("0::relative\n").is_err());
    }
}
