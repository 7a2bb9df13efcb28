//! The typed, expanded container configuration.
//!
//! [`ContainerConfig`] is what the runtime reads: every LXC 6.0 key family from
//! `lxc.container.conf(5)`, validated, with includes already applied and LXC's
//! defaults filled in. It is produced by [`crate::Config`]; the verbatim text lives
//! there. One module per family.

pub mod addr;
pub mod caps;
pub mod cgroup;
pub mod console;
pub mod hooks;
pub mod idmap;
pub mod init;
pub mod limits;
pub mod misc;
pub mod mount;
pub mod namespace;
pub mod net;
pub mod rootfs;
pub mod security;
pub mod signal;

use std::collections::BTreeMap;

pub use addr::{Gateway, Ipv4Cidr, Ipv6Cidr};
pub use caps::{CapKeep, Capability};
pub use cgroup::CgroupDirs;
pub use console::{Console, ConsoleSize, Tty};
pub use hooks::{HookType, HookVersion, Hooks};
pub use idmap::{IdKind, IdMap};
pub use init::{Command, EnvVar, Environment, Init};
pub use limits::{Prlimit, RlimitValue};
pub use misc::{Arch, Autostart, Log, LogLevel, Monitor, Personality};
pub use mount::{
    CgroupAuto, CgroupAutoKind, CgroupAutoMode, CreateKind, LxcMountOptions, MountAuto, MountEntry,
    Mounts, ProcMode, ShMounts, SysMode,
};
pub use namespace::{Namespaces, NsKind, TimeOffset, TimeOffsets};
pub use net::{
    IpvlanIsolation, IpvlanMode, MacvlanMode, NetDev, NetType, VethMode, VethOptions, VethVlan,
};
pub use rootfs::{Rootfs, RootfsPath};
pub use security::{Apparmor, Seccomp, Security, Selinux};
pub use signal::{Signal, Signals};

/// The expanded configuration of one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerConfig {
    /// `lxc.arch`.
    pub arch: Option<Arch>,
    /// `lxc.uts.name`: hostname.
    pub uts_name: Option<String>,
    /// `lxc.rootfs.*`.
    pub rootfs: Rootfs,
    /// `lxc.net.N.*` by index.
    pub net: BTreeMap<u32, NetDev>,
    /// `lxc.idmap`, in order.
    pub idmaps: Vec<IdMap>,
    /// `lxc.mount.*`.
    pub mount: Mounts,
    /// Legacy cgroup v1 `lxc.cgroup.<controller>.<file>` items (file, value), in order.
    pub cgroup_v1: Vec<(String, String)>,
    /// `lxc.cgroup2.<controller>.<file>` items (file, value), in order.
    pub cgroup2: Vec<(String, String)>,
    /// `lxc.cgroup.dir*`, `lxc.cgroup.relative`.
    pub cgroup_dir: CgroupDirs,
    /// `lxc.cap.drop`, in order.
    pub cap_drop: Vec<Capability>,
    /// `lxc.cap.keep`.
    pub cap_keep: CapKeep,
    /// `lxc.signal.*`.
    pub signals: Signals,
    /// `lxc.init.*`, `lxc.execute.cmd`.
    pub init: Init,
    /// `lxc.environment*`.
    pub environment: Environment,
    /// `lxc.tty.*`, `lxc.pty.max`.
    pub tty: Tty,
    /// `lxc.console.*`.
    pub console: Console,
    /// `lxc.autodev` (default true).
    pub autodev: bool,
    /// `lxc.autodev.tmpfs.size` in bytes (default 500000).
    pub autodev_tmpfs_size: u32,
    /// `lxc.hook.*`.
    pub hooks: Hooks,
    /// `lxc.start.*`.
    pub start: Autostart,
    /// `lxc.group`, in order.
    pub groups: Vec<String>,
    /// `lxc.monitor.*`.
    pub monitor: Monitor,
    /// `lxc.prlimit.*`, in order of first appearance.
    pub prlimits: Vec<Prlimit>,
    /// `lxc.sysctl.*` (name without prefix, value).
    pub sysctls: Vec<(String, String)>,
    /// `lxc.proc.*` (file below /proc/PID, value).
    pub procs: Vec<(String, String)>,
    /// `lxc.namespace.*`.
    pub namespaces: Namespaces,
    /// `lxc.time.offset.*`.
    pub time_offsets: TimeOffsets,
    /// AppArmor, SELinux, seccomp, keyring, no_new_privs, sched.core.
    pub security: Security,
    /// `lxc.log.*`.
    pub log: Log,
    /// `lxc.ephemeral`: destroy on shutdown.
    pub ephemeral: bool,
    /// Files pulled in by `lxc.include`, in the order they were read.
    pub includes: Vec<std::path::PathBuf>,
}

impl Default for ContainerConfig {
    fn default() -> Self {
        ContainerConfig {
            arch: None,
            uts_name: None,
            rootfs: Rootfs::default(),
            net: BTreeMap::new(),
            idmaps: Vec::new(),
            mount: Mounts::default(),
            cgroup_v1: Vec::new(),
            cgroup2: Vec::new(),
            cgroup_dir: CgroupDirs::default(),
            cap_drop: Vec::new(),
            cap_keep: CapKeep::Unset,
            signals: Signals::default(),
            init: Init::default(),
            environment: Environment::default(),
            tty: Tty::default(),
            console: Console::default(),
            autodev: true,
            autodev_tmpfs_size: misc::DEFAULT_AUTODEV_TMPFS_SIZE,
            hooks: Hooks::default(),
            start: Autostart::default(),
            groups: Vec::new(),
            monitor: Monitor::default(),
            prlimits: Vec::new(),
            sysctls: Vec::new(),
            procs: Vec::new(),
            namespaces: Namespaces::default(),
            time_offsets: TimeOffsets::default(),
            security: Security::default(),
            log: Log::default(),
            ephemeral: false,
            includes: Vec::new(),
        }
    }
}

impl ContainerConfig {
    /// Whether the container is unprivileged (has id mappings).
    pub fn is_unprivileged(&self) -> bool {
        !self.idmaps.is_empty()
    }

    /// Whether a new network namespace is skipped: every NIC is of type `none`.
    pub fn shares_host_network(&self) -> bool {
        !self.net.is_empty() && self.net.values().all(|n| n.kind == Some(NetType::None))
    }

    /// The uid mappings only.
    pub fn uid_maps(&self) -> impl Iterator<Item = &IdMap> {
        self.idmaps.iter().filter(|m| m.kind == IdKind::Uid)
    }

    /// The gid mappings only.
    pub fn gid_maps(&self) -> impl Iterator<Item = &IdMap> {
        self.idmaps.iter().filter(|m| m.kind == IdKind::Gid)
    }

    /// Host uid of container root, if mapped.
    pub fn root_host_uid(&self) -> Option<u32> {
        self.uid_maps().find_map(|m| m.to_host(0))
    }

    /// Host gid of container root, if mapped.
    pub fn root_host_gid(&self) -> Option<u32> {
        self.gid_maps().find_map(|m| m.to_host(0))
    }

    /// Cross-key checks LXC performs before starting. Returns the problem, if any.
    pub fn conflict(&self) -> Option<&'static str> {
        if !self.cap_drop.is_empty() && self.cap_keep.is_set() {
            return Some("lxc.cap.drop and lxc.cap.keep are mutually exclusive");
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_lxc() {
        let c = ContainerConfig::default();
        assert!(c.autodev);
        assert!(c.rootfs.managed);
        assert_eq!(c.tty.max, 0);
        assert_eq!(c.tty.pty_max, 0);
        assert_eq!(c.signals.halt, None);
        assert_eq!(c.init.argv(), vec!["/sbin/init".to_string()]);
        assert_eq!(c.autodev_tmpfs_size, 500_000);
        assert!(c.security.keyring_session);
        assert!(!c.is_unprivileged());
        assert!(!c.shares_host_network());
        assert_eq!(c.conflict(), None);
    }

    #[test]
    fn helpers() {
        let mut c = ContainerConfig::default();
        c.idmaps.push(IdMap {
            kind: IdKind::Uid,
            ns_id: 0,
            host_id: 100000,
            range: 65536,
        });
        c.idmaps.push(IdMap {
            kind: IdKind::Gid,
            ns_id: 0,
            host_id: 200000,
            range: 65536,
        });
        assert_eq!(c.root_host_uid(), Some(100000));
        assert_eq!(c.root_host_gid(), Some(200000));
        c.net.insert(
            0,
            NetDev {
                kind: Some(NetType::None),
                ..NetDev::default()
            },
        );
        assert!(c.shares_host_network());
        c.cap_drop.push(Capability(0));
        c.cap_keep = CapKeep::None;
        assert!(c.conflict().is_some());
    }
}
