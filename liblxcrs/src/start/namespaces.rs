//! Which namespaces a container gets, and how: cloned, kept (inherited from the host), or
//! shared with another process (`lxc.namespace.clone/keep/share.<ns>`, `docs/lxc-contract.md` §2.2).
//!
//! Resolution is pure so it is unit-tested; joining (`setns`) happens in `parent.rs` (pid)
//! and `child.rs` (the rest).

use std::fmt;
use std::path::PathBuf;

use nix::sched::CloneFlags;

use super::StartError;

/// A kernel namespace type, named as in `/proc/PID/ns/` and `lxc.namespace.*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Namespace {
    Mount,
    Pid,
    Uts,
    Ipc,
    Net,
    User,
    Cgroup,
    Time,
}

impl Namespace {
    /// All namespace types, in the order LXC preserves them (`ns_info` in LXC).
    pub const ALL: [Namespace; 8] = [
        Namespace::User,
        Namespace::Mount,
        Namespace::Pid,
        Namespace::Uts,
        Namespace::Ipc,
        Namespace::Net,
        Namespace::Cgroup,
        Namespace::Time,
    ];

    /// The name used in `/proc/PID/ns/<name>` and in `lxc.namespace.*` values.
    pub fn proc_name(self) -> &'static str {
        match self {
            Namespace::Mount => "mnt",
            Namespace::Pid => "pid",
            Namespace::Uts => "uts",
            Namespace::Ipc => "ipc",
            Namespace::Net => "net",
            Namespace::User => "user",
            Namespace::Cgroup => "cgroup",
            Namespace::Time => "time",
        }
    }

    /// The `LXC_<NS>_NS` variable name of version-1 stop hooks.
    pub fn env_name(self) -> String {
        format!("LXC_{}_NS", self.proc_name().to_uppercase())
    }

    /// Parse `mnt`, `pid`, ... (also `mount`, as LXC accepts).
    pub fn parse(s: &str) -> Option<Namespace> {
        Some(match s {
            "mnt" | "mount" => Namespace::Mount,
            "pid" => Namespace::Pid,
            "uts" => Namespace::Uts,
            "ipc" => Namespace::Ipc,
            "net" => Namespace::Net,
            "user" => Namespace::User,
            "cgroup" => Namespace::Cgroup,
            "time" => Namespace::Time,
            _ => return None,
        })
    }

    /// The `CLONE_NEW*` flag.
    pub fn flag(self) -> CloneFlags {
        match self {
            Namespace::Mount => CloneFlags::CLONE_NEWNS,
            Namespace::Pid => CloneFlags::CLONE_NEWPID,
            Namespace::Uts => CloneFlags::CLONE_NEWUTS,
            Namespace::Ipc => CloneFlags::CLONE_NEWIPC,
            Namespace::Net => CloneFlags::CLONE_NEWNET,
            Namespace::User => CloneFlags::CLONE_NEWUSER,
            Namespace::Cgroup => CloneFlags::CLONE_NEWCGROUP,
            // nix has no CLONE_NEWTIME (0x80, which clone(2) shares with CSIGNAL; fine for clone3).
            Namespace::Time => CloneFlags::from_bits_retain(super::syscall::CLONE_NEWTIME),
        }
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.proc_name())
    }
}

/// Where a shared namespace comes from (`lxc.namespace.share.<ns>` value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShareSource {
    /// A pid: join `/proc/PID/ns/<ns>`.
    Pid(i32),
    /// A namespace file (e.g. a bind-mounted `/run/netns/foo`).
    Path(PathBuf),
    /// Another container's init, by name (resolved by the caller to a pid).
    Container(String),
}

impl ShareSource {
    /// Classify a `share` value the way LXC does: absolute path, number, else a name.
    pub fn parse(value: &str) -> ShareSource {
        if value.starts_with('/') {
            ShareSource::Path(PathBuf::from(value))
        } else if let Ok(pid) = value.parse::<i32>() {
            ShareSource::Pid(pid)
        } else {
            ShareSource::Container(value.to_string())
        }
    }

    /// The namespace file to open for `ns`.
    pub fn ns_path(&self, ns: Namespace, lxcpath: &std::path::Path) -> Result<PathBuf, StartError> {
        match self {
            ShareSource::Pid(pid) => {
                Ok(PathBuf::from(format!("/proc/{pid}/ns/{}", ns.proc_name())))
            }
            ShareSource::Path(p) => Ok(p.clone()),
            ShareSource::Container(name) => {
                let pid = crate::container::runtime::running_init_pid(lxcpath, name).ok_or_else(|| {
                    StartError::config(
                        format!("lxc.namespace.share.{ns}"),
                        name.clone(),
                        "that container is not running (or its init pid is unknown); give a pid or a namespace path",
                    )
                })?;
                Ok(PathBuf::from(format!("/proc/{pid}/ns/{}", ns.proc_name())))
            }
        }
    }
}

/// The namespace-related inputs of a config.
#[derive(Debug, Clone, Default)]
pub struct NsConfig {
    /// `lxc.namespace.clone` (empty: default set).
    pub clone: Vec<Namespace>,
    /// `lxc.namespace.keep`.
    pub keep: Vec<Namespace>,
    /// `lxc.namespace.share.<ns>`.
    pub share: Vec<(Namespace, ShareSource)>,
    /// `lxc.idmap` is non-empty.
    pub has_idmap: bool,
    /// Any `lxc.time.offset.*` is set.
    pub has_time_offsets: bool,
    /// The network config is only `none` entries: share the host's netns.
    pub host_network: bool,
    /// The kernel has cgroup namespaces.
    pub cgroupns_supported: bool,
    /// The kernel has time namespaces.
    pub timens_supported: bool,
}

/// The resolved plan: what `clone3` creates, what the child unshares, what is joined.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NsPlan {
    /// Flags passed to `clone3`.
    pub clone: Vec<Namespace>,
    /// Namespaces the child unshares later: cgroup (after cgroup placement so its root is
    /// the payload cgroup) and time (offsets must be written before anyone enters it).
    pub unshare: Vec<Namespace>,
    /// Namespaces joined with `setns`.
    pub share: Vec<(Namespace, ShareSource)>,
}

impl NsPlan {
    /// The `CLONE_NEW*` flags for `clone3`.
    pub fn clone_flags(&self) -> CloneFlags {
        self.clone
            .iter()
            .fold(CloneFlags::empty(), |acc, ns| acc | ns.flag())
    }

    /// Does the container get namespace `ns` of its own (cloned or unshared)?
    pub fn creates(&self, ns: Namespace) -> bool {
        self.clone.contains(&ns) || self.unshare.contains(&ns)
    }

    /// Does the container have its own or a shared namespace `ns` (not the host's)?
    pub fn isolates(&self, ns: Namespace) -> bool {
        self.creates(ns) || self.share.iter().any(|(n, _)| *n == ns)
    }
}

/// Resolve `lxc.namespace.*` the way LXC's `resolve_clone_flags` does.
pub fn resolve(cfg: &NsConfig) -> Result<NsPlan, StartError> {
    if !cfg.clone.is_empty() && !cfg.keep.is_empty() {
        return Err(StartError::config(
            "lxc.namespace.keep",
            names(&cfg.keep),
            "lxc.namespace.clone and lxc.namespace.keep are mutually exclusive",
        ));
    }
    let wanted: Vec<Namespace> = if !cfg.clone.is_empty() {
        cfg.clone.clone()
    } else {
        let mut v = vec![
            Namespace::Mount,
            Namespace::Pid,
            Namespace::Uts,
            Namespace::Ipc,
        ];
        if !cfg.host_network {
            v.push(Namespace::Net);
        }
        if cfg.has_idmap {
            v.push(Namespace::User);
        }
        if cfg.cgroupns_supported {
            v.push(Namespace::Cgroup);
        }
        if cfg.has_time_offsets && cfg.timens_supported {
            v.push(Namespace::Time);
        }
        v.retain(|ns| !cfg.keep.contains(ns));
        v
    };
    if !wanted.contains(&Namespace::Mount) {
        return Err(StartError::config(
            "lxc.namespace.keep",
            "mnt",
            "a container needs its own mount namespace",
        ));
    }
    if cfg.has_idmap
        && !wanted.contains(&Namespace::User)
        && !cfg.share.iter().any(|(n, _)| *n == Namespace::User)
    {
        return Err(StartError::config(
            "lxc.namespace.keep",
            "user",
            "lxc.idmap needs a user namespace; do not keep the host's",
        ));
    }
    let mut plan = NsPlan::default();
    for ns in Namespace::ALL {
        if let Some((_, src)) = cfg.share.iter().find(|(n, _)| *n == ns) {
            plan.share.push((ns, src.clone()));
        } else if wanted.contains(&ns) {
            match ns {
                Namespace::Cgroup | Namespace::Time => plan.unshare.push(ns),
                _ => plan.clone.push(ns),
            }
        }
    }
    Ok(plan)
}

fn names(v: &[Namespace]) -> String {
    v.iter()
        .map(|n| n.proc_name())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Does this kernel have namespace `ns` (is `/proc/self/ns/<ns>` there)?
pub fn kernel_supports(ns: Namespace) -> bool {
    std::path::Path::new("/proc/self/ns")
        .join(ns.proc_name())
        .exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> NsConfig {
        NsConfig {
            cgroupns_supported: true,
            timens_supported: true,
            ..Default::default()
        }
    }

    #[test]
    fn default_set_without_idmap() {
        let p = resolve(&base()).unwrap();
        assert_eq!(
            p.clone,
            vec![
                Namespace::Mount,
                Namespace::Pid,
                Namespace::Uts,
                Namespace::Ipc,
                Namespace::Net
            ]
        );
        assert_eq!(p.unshare, vec![Namespace::Cgroup]);
        assert!(p.share.is_empty());
        assert!(!p.clone_flags().contains(CloneFlags::CLONE_NEWUSER));
    }

    #[test]
    fn idmap_adds_user_and_time_offsets_add_time() {
        let p = resolve(&NsConfig {
            has_idmap: true,
            has_time_offsets: true,
            ..base()
        })
        .unwrap();
        assert_eq!(p.clone[0], Namespace::User);
        assert!(p
            .clone_flags()
            .contains(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS));
        assert_eq!(p.unshare, vec![Namespace::Cgroup, Namespace::Time]);
    }

    #[test]
    fn keep_and_host_network() {
        let p = resolve(&NsConfig {
            keep: vec![Namespace::Ipc],
            host_network: true,
            ..base()
        })
        .unwrap();
        assert!(!p.creates(Namespace::Ipc));
        assert!(!p.creates(Namespace::Net));
        assert!(p.creates(Namespace::Uts));
    }

    #[test]
    fn explicit_clone_list() {
        let p = resolve(&NsConfig {
            clone: vec![Namespace::Mount, Namespace::Pid],
            ..base()
        })
        .unwrap();
        assert_eq!(p.clone, vec![Namespace::Mount, Namespace::Pid]);
        assert!(p.unshare.is_empty());
    }

    #[test]
    fn share_replaces_clone() {
        let cfg = NsConfig {
            share: vec![(Namespace::Net, ShareSource::parse("1234"))],
            ..base()
        };
        let p = resolve(&cfg).unwrap();
        assert!(!p.clone.contains(&Namespace::Net));
        assert_eq!(p.share, vec![(Namespace::Net, ShareSource::Pid(1234))]);
        assert!(p.isolates(Namespace::Net));
        assert_eq!(
            ShareSource::parse("/run/netns/x"),
            ShareSource::Path("/run/netns/x".into())
        );
        assert_eq!(
            ShareSource::parse("c2"),
            ShareSource::Container("c2".into())
        );
    }

    #[test]
    fn conflicts_are_errors() {
        let e = resolve(&NsConfig {
            clone: vec![Namespace::Mount],
            keep: vec![Namespace::Net],
            ..base()
        })
        .unwrap_err();
        assert!(e.to_string().contains("mutually exclusive"), "{e}");
        let e = resolve(&NsConfig {
            keep: vec![Namespace::Mount],
            ..base()
        })
        .unwrap_err();
        assert!(e.to_string().contains("mount namespace"), "{e}");
        let e = resolve(&NsConfig {
            has_idmap: true,
            keep: vec![Namespace::User],
            ..base()
        })
        .unwrap_err();
        assert!(e.to_string().contains("user namespace"), "{e}");
    }
}
