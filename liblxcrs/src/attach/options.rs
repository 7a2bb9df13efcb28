//! What `lxc-attach` asks for: namespaces, privileges, environment, ids.

use std::path::PathBuf;

/// Which of init's namespaces to enter (`-s`); default all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NsSelect {
    pub mount: bool,
    pub pid: bool,
    pub uts: bool,
    pub ipc: bool,
    pub user: bool,
    pub net: bool,
    pub cgroup: bool,
    /// The time namespace (`lxc.time.offset.*`).
    pub time: bool,
}

impl Default for NsSelect {
    fn default() -> Self {
        NsSelect {
            mount: true,
            pid: true,
            uts: true,
            ipc: true,
            user: true,
            net: true,
            cgroup: true,
            time: true,
        }
    }
}

impl NsSelect {
    /// Parses `-s MOUNT|PID|UTSNAME|IPC|USER|NETWORK` (also `mnt net uts …`).
    pub fn parse(s: &str) -> Result<NsSelect, String> {
        let mut n = NsSelect {
            mount: false,
            pid: false,
            uts: false,
            ipc: false,
            user: false,
            net: false,
            cgroup: false,
            time: false,
        };
        for part in s.split('|').map(str::trim) {
            match part.to_ascii_uppercase().as_str() {
                "MOUNT" | "MNT" => n.mount = true,
                "PID" => n.pid = true,
                "UTSNAME" | "UTS" => n.uts = true,
                "IPC" => n.ipc = true,
                "USER" => n.user = true,
                "NETWORK" | "NET" => n.net = true,
                "CGROUP" => n.cgroup = true,
                "TIME" => n.time = true,
                _ => return Err(format!("invalid namespace {part:?}: expected MOUNT, PID, UTSNAME, IPC, USER, NETWORK, CGROUP or TIME")),
            }
        }
        Ok(n)
    }
}

/// `-e`: what not to drop.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Elevated {
    /// Keep all capabilities.
    pub caps: bool,
    /// Stay out of the container's cgroup.
    pub cgroup: bool,
    /// Skip the LSM label.
    pub lsm: bool,
}

impl Elevated {
    /// Parses `-e` with an optional `CAP|CGROUP|LSM` list; no list = all.
    pub fn parse(s: Option<&str>) -> Result<Elevated, String> {
        let Some(s) = s.filter(|s| !s.is_empty()) else {
            return Ok(Elevated {
                caps: true,
                cgroup: true,
                lsm: true,
            });
        };
        let mut e = Elevated::default();
        for part in s.split('|').map(str::trim) {
            match part.to_ascii_uppercase().as_str() {
                "CAP" => e.caps = true,
                "CGROUP" => e.cgroup = true,
                "LSM" => e.lsm = true,
                _ => {
                    return Err(format!(
                        "invalid privilege {part:?}: expected CAP, CGROUP or LSM"
                    ))
                }
            }
        }
        Ok(e)
    }
}

/// The environment of the attached process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvPolicy {
    /// `--keep-env` (default) keeps ours; `--clear-env` starts empty.
    pub keep: bool,
    /// `--keep-var NAME`: kept even with `--clear-env`.
    pub keep_vars: Vec<String>,
    /// `-v NAME=VALUE`.
    pub extra: Vec<(String, String)>,
}

impl Default for EnvPolicy {
    fn default() -> Self {
        EnvPolicy {
            keep: true,
            keep_vars: Vec::new(),
            extra: Vec::new(),
        }
    }
}

/// The PATH set when the environment has none (LXC's default).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl EnvPolicy {
    /// The environment the command gets, from `current` (ours).
    pub fn build(&self, current: &[(String, String)]) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = if self.keep {
            current.to_vec()
        } else {
            current
                .iter()
                .filter(|(k, _)| self.keep_vars.contains(k))
                .cloned()
                .collect()
        };
        let mut set = |k: &str, v: &str| {
            env.retain(|(n, _)| n != k);
            env.push((k.to_string(), v.to_string()));
        };
        set("container", "lxc");
        for (k, v) in &self.extra {
            set(k, v);
        }
        if !env.iter().any(|(k, _)| k == "PATH") {
            env.push(("PATH".into(), DEFAULT_PATH.into()));
        }
        env
    }
}

/// Everything `lxc-attach` can ask for.
#[derive(Debug, Clone, Default)]
pub struct AttachOptions {
    pub namespaces: NsSelect,
    pub elevated: Elevated,
    pub env: EnvPolicy,
    /// `-u`.
    pub uid: Option<u32>,
    /// `-g`.
    pub gid: Option<u32>,
    /// `-R`: remount /proc and /sys in a private mount namespace (when MOUNT is not entered).
    pub remount_sys_proc: bool,
    /// `-a`: run with a 32-bit personality.
    pub linux32: bool,
    /// `-L`: copy the pty output here.
    pub log_file: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces() {
        let n = NsSelect::parse("MOUNT|PID").unwrap();
        assert!(n.mount && n.pid && !n.net && !n.user);
        assert!(NsSelect::parse("NETWORK|bogus").is_err());
        assert!(NsSelect::parse("net|uts").unwrap().uts);
    }

    #[test]
    fn elevated() {
        assert_eq!(
            Elevated::parse(None).unwrap(),
            Elevated {
                caps: true,
                cgroup: true,
                lsm: true
            }
        );
        assert_eq!(
            Elevated::parse(Some("CAP")).unwrap(),
            Elevated {
                caps: true,
                cgroup: false,
                lsm: false
            }
        );
        assert!(Elevated::parse(Some("CAP|X")).is_err());
    }

    #[test]
    fn environment() {
        let cur = vec![
            ("HOME".to_string(), "/root".to_string()),
            ("FOO".to_string(), "1".to_string()),
        ];
        let keep = EnvPolicy::default().build(&cur);
        assert!(keep.contains(&("HOME".into(), "/root".into())));
        assert!(keep.contains(&("container".into(), "lxc".into())));
        assert!(keep.iter().any(|(k, v)| k == "PATH" && v == DEFAULT_PATH));
        let clear = EnvPolicy {
            keep: false,
            keep_vars: vec!["FOO".into()],
            extra: vec![("A".into(), "b".into())],
        }
        .build(&cur);
        assert!(!clear.iter().any(|(k, _)| k == "HOME"));
        assert!(clear.contains(&("FOO".into(), "1".into())));
        assert!(clear.contains(&("A".into(), "b".into())));
    }
}
