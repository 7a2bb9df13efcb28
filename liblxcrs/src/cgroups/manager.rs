//! The container-cgroup interface: one small trait, implemented by the v1 (legacy and hybrid)
//! and v2 (unified) drivers, and [`Cgroups`], the enum that dispatches to the right one.

use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::unistd::Pid;

use super::error::{CgroupError, Result};
use super::fs;
use super::kill;
use super::layout::{CgroupLayout, HierarchyKind, LayoutKind};
use super::paths::CgroupPaths;
use super::self_move::SelfEntry;
use super::stats::CgroupStats;
use super::tree::{Placement, Tree, Which};
use super::v1::V1Cgroups;
use super::v2::V2Cgroups;

/// The payload's leaf for attached processes where the payload itself may hold none.
pub const ATTACH_LEAF: &str = ".lxc";

/// Moves `pid` into the cgroup at `dir` (a directory [`Cgroups`] handed out, e.g.
/// [`Cgroups::v2_attach_dir`]).
pub fn enter_dir(dir: &Path, pid: Pid) -> Result<()> {
    fs::enter(dir, pid)
}

/// How long freeze, thaw and kill wait by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// What the start sequence, the monitor and the tools do with a container's cgroups.
///
/// Order at start: `create_monitor`, `enter_monitor(monitor pid)`, `create_payload`
/// (on cgroup2 this delegates controllers from the parent, which must by then hold no
/// processes), clone the child (into [`Cgroups::v2_payload_dir`] where the kernel allows),
/// `enter_payload(child)`, `apply_limit` for each config key but the device rules, and,
/// once the child has set up its /dev, `apply_device_rules` with all of them. At stop:
/// `kill_all` if needed, `remove_payload`, `remove_monitor(Some(own pid))`.
pub trait CgroupManager {
    /// Creates the monitor cgroup (`lxcrs.monitor.<name>[-N]`) in every hierarchy.
    fn create_monitor(&mut self) -> Result<()>;
    /// Creates the payload cgroup (`lxcrs.payload.<name>[-N]`) in every hierarchy.
    fn create_payload(&mut self) -> Result<()>;
    /// Moves `pid` into the monitor cgroup in every hierarchy.
    fn enter_monitor(&self, pid: Pid) -> Result<()>;
    /// Moves `pid` into the payload cgroup in every hierarchy (attach uses this too).
    fn enter_payload(&self, pid: Pid) -> Result<()>;
    /// Applies one config key: `lxc.cgroup.<controller>.<file>` (v1) or
    /// `lxc.cgroup2.<file>`. [`CgroupError::is_unsupported_on_host`] tells a key this host
    /// cannot honour (start may warn and go on) from a real failure.
    fn apply_limit(&self, key: &str, value: &str) -> Result<()>;
    /// Applies every device rule of a start at once: `(key, value)` pairs of
    /// `lxc.cgroup.devices.*` and `lxc.cgroup2.devices.*`, in config order, since on
    /// cgroup2 they make one eBPF program together. Both families apply on every host
    /// (translated to the host's mechanism); a rule that cannot be applied is the `Err`,
    /// never skipped. The returned list (rules skipped) is empty for both drivers; a
    /// caller must treat anything in it as a failure. The default writes each rule with
    /// `apply_limit`.
    fn apply_device_rules(&self, rules: &[(String, String)]) -> Result<Vec<CgroupError>> {
        apply_each(self, rules)
    }
    /// Reads a payload cgroup file for `lxc-cgroup` (`memory.limit_in_bytes`, `memory.max`),
    /// without the trailing newline.
    fn get(&self, file: &str) -> Result<String>;
    /// Writes a payload cgroup file for `lxc-cgroup`.
    fn set(&self, file: &str, value: &str) -> Result<()>;
    /// Freezes the payload and waits until the kernel reports it frozen.
    fn freeze(&self, timeout: Duration) -> Result<()>;
    /// Thaws the payload and waits until the kernel reports it thawed.
    fn thaw(&self, timeout: Duration) -> Result<()>;
    /// True when the payload is frozen (not while still freezing).
    fn is_frozen(&self) -> Result<bool>;
    /// Kills every process in the payload (and below) through `kill`, until it is empty.
    fn kill_all_with(
        &self,
        kill: &mut dyn FnMut(Pid) -> nix::Result<()>,
        timeout: Duration,
    ) -> Result<()>;
    /// Kills every process in the payload with SIGKILL, until it is empty.
    fn kill_all(&self, timeout: Duration) -> Result<()> {
        self.kill_all_with(&mut kill::sigkill, timeout)
    }
    /// CPU, memory, kernel memory, swap and block I/O use of the payload.
    fn stats(&self) -> Result<CgroupStats>;
    /// Every pid in the payload and its sub-cgroups.
    fn pids(&self) -> Result<Vec<Pid>>;
    /// Removes the payload cgroup (children first) in every hierarchy.
    fn remove_payload(&mut self) -> Result<()>;
    /// Removes the monitor cgroup; with `Some(pid)` first moves that process (the monitor
    /// itself) out of it.
    fn remove_monitor(&mut self, pivot: Option<Pid>) -> Result<()>;
    /// Removes both cgroups, going on past failures and reporting all of them.
    fn remove(&mut self) -> Result<()> {
        let errors = [self.remove_payload(), self.remove_monitor(None)];
        CgroupError::collect(errors.into_iter().filter_map(Result::err).collect())
    }
}

/// `apply_limit` of each `(key, value)` in order, collecting the keys this host cannot
/// honour instead of failing on them.
pub(crate) fn apply_each<M: CgroupManager + ?Sized>(
    manager: &M,
    rules: &[(String, String)],
) -> Result<Vec<CgroupError>> {
    let mut skipped = Vec::new();
    for (key, value) in rules {
        match manager.apply_limit(key, value) {
            Ok(()) => {}
            Err(e) if e.is_unsupported_on_host() => skipped.push(e),
            Err(e) => return Err(e),
        }
    }
    Ok(skipped)
}

/// A container's cgroups on this host: v1 driver for legacy and hybrid hosts, v2 driver for
/// unified ones.
#[derive(Debug, Clone)]
pub enum Cgroups {
    /// Legacy or hybrid host.
    V1(V1Cgroups),
    /// Unified (cgroup2-only) host.
    V2(V2Cgroups),
}

/// One hierarchy as the container's cgroup namespace and `lxc.mount.auto = cgroup:…` need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HierarchyMount {
    /// v1 with its controllers (incl. `name=systemd`), or v2.
    pub kind: HierarchyKind,
    /// Mount point on the host, e.g. `/sys/fs/cgroup/memory`.
    pub mount_point: PathBuf,
    /// The payload cgroup within the hierarchy, e.g. `/lxcrs.payload.c1`.
    pub cgroup: PathBuf,
    /// The payload directory below the root directory.
    pub dir: PathBuf,
}

impl Cgroups {
    /// The cgroups of container `name` on a host with `layout`, under `placement`. Nothing
    /// is created yet.
    pub fn new(layout: &CgroupLayout, name: &str, placement: &Placement) -> Result<Self> {
        let tree = Tree::new(layout, name, placement)?;
        Ok(Self::from_tree(layout.kind, tree))
    }

    /// The cgroups of a running container, from the paths its monitor reported
    /// ([`Cgroups::payload_paths`], [`Cgroups::monitor_paths`]).
    pub fn open(
        layout: &CgroupLayout,
        name: &str,
        payload: &CgroupPaths,
        monitor: Option<&CgroupPaths>,
    ) -> Result<Self> {
        let tree = Tree::adopt(layout, name, payload, monitor)?;
        Ok(Self::from_tree(layout.kind, tree))
    }

    fn from_tree(kind: LayoutKind, tree: Tree) -> Self {
        match kind {
            LayoutKind::Unified => Self::V2(V2Cgroups::new(tree)),
            LayoutKind::Legacy | LayoutKind::Hybrid => Self::V1(V1Cgroups::new(tree)),
        }
    }

    fn driver(&self) -> &dyn CgroupManager {
        match self {
            Self::V1(c) => c,
            Self::V2(c) => c,
        }
    }

    fn driver_mut(&mut self) -> &mut dyn CgroupManager {
        match self {
            Self::V1(c) => c,
            Self::V2(c) => c,
        }
    }

    fn tree(&self) -> &Tree {
        match self {
            Self::V1(c) => &c.tree,
            Self::V2(c) => &c.tree,
        }
    }

    /// The container name.
    pub fn name(&self) -> &str {
        &self.tree().name
    }

    /// The payload's paths per hierarchy, to hand to another process.
    pub fn payload_paths(&self) -> Result<CgroupPaths> {
        self.tree().paths(Which::Payload)
    }

    /// The monitor's paths per hierarchy.
    pub fn monitor_paths(&self) -> Result<CgroupPaths> {
        self.tree().paths(Which::Monitor)
    }

    /// The payload directory in every hierarchy (below the root directory).
    pub fn payload_dirs(&self) -> Result<&[PathBuf]> {
        Ok(&self.tree().placed(Which::Payload)?.dirs)
    }

    /// The monitor directory in every hierarchy.
    pub fn monitor_dirs(&self) -> Result<&[PathBuf]> {
        Ok(&self.tree().placed(Which::Monitor)?.dirs)
    }

    /// The payload's cgroup2 directory, to open for `clone3(CLONE_INTO_CGROUP)`. On a hybrid
    /// host this places the child in the cgroup2 hierarchy only: the v1 hierarchies still
    /// need [`CgroupManager::enter_payload`].
    pub fn v2_payload_dir(&self) -> Option<&Path> {
        let tree = self.tree();
        let index = tree.index_where(|h| h.is_v2())?;
        tree.dir(Which::Payload, index).ok()
    }

    /// Where an attached process goes in the cgroup2 hierarchy: the payload itself, or,
    /// once the payload hands controllers down to children of its own (systemd in the
    /// container does), which cgroup2 then forbids to hold processes, its `.lxc` leaf
    /// (LXC's name), created on first use. `None` without a cgroup2 hierarchy.
    pub fn v2_attach_dir(&self) -> Result<Option<PathBuf>> {
        let Some(payload) = self.v2_payload_dir() else {
            return Ok(None);
        };
        let delegated = fs::read_opt(&payload.join("cgroup.subtree_control"))?
            .is_some_and(|s| !s.trim().is_empty());
        if !delegated {
            return Ok(Some(payload.to_path_buf()));
        }
        let leaf = payload.join(ATTACH_LEAF);
        match fs::mkdir(&leaf) {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => Ok(Some(leaf)),
            Err(errno) => Err(fs::mkdir_error(&leaf, errno)),
        }
    }

    /// The monitor's cgroup2 directory, to open for `clone3(CLONE_INTO_CGROUP)` when the
    /// monitor daemonizes.
    pub fn v2_monitor_dir(&self) -> Option<&Path> {
        let tree = self.tree();
        let index = tree.index_where(|h| h.is_v2())?;
        tree.dir(Which::Monitor, index).ok()
    }

    /// The payload's `tasks` files in every v1 hierarchy, open: a single-threaded process
    /// (init right after clone, attach's first child) moves itself with
    /// [`SelfEntry::enter`], which skips the kernel's threadgroup lock (see `self_move`).
    pub fn payload_self_entry(&self) -> Result<SelfEntry> {
        self.tree().self_entry(Which::Payload)
    }

    /// The monitor's `tasks` files in every v1 hierarchy, open (see
    /// [`Cgroups::payload_self_entry`]).
    pub fn monitor_self_entry(&self) -> Result<SelfEntry> {
        self.tree().self_entry(Which::Monitor)
    }

    /// Removes empty monitor cgroups that earlier runs of this container left under its
    /// other names (a new monitor never takes over an existing one, see `Tree::create`);
    /// call once the monitor is in its own.
    pub fn remove_stale_monitors(&self) {
        self.tree().remove_stale_siblings(Which::Monitor);
    }

    /// Removes the empty monitor and payload cgroups a killed monitor left (for a
    /// container that is not running, e.g. at its destroy).
    pub fn remove_leftovers(&self) {
        self.tree().remove_leftovers();
    }

    /// Moves `pid` into the payload cgroup of the v2 hierarchy only: what
    /// `CLONE_INTO_CGROUP` would have done where the kernel refused it.
    pub fn enter_payload_v2(&self, pid: Pid) -> Result<()> {
        self.tree().enter_v2(Which::Payload, pid)
    }

    /// Moves `pid` into the monitor cgroup of the v2 hierarchy only.
    pub fn enter_monitor_v2(&self, pid: Pid) -> Result<()> {
        self.tree().enter_v2(Which::Monitor, pid)
    }

    /// For each hierarchy: kind, host mount point and the payload's path in it.
    pub fn mounts(&self) -> Result<Vec<HierarchyMount>> {
        let tree = self.tree();
        let placed = tree.placed(Which::Payload)?;
        Ok(tree
            .hierarchies
            .iter()
            .zip(placed.paths.iter().zip(&placed.dirs))
            .map(|(h, (cgroup, dir))| HierarchyMount {
                kind: h.kind.clone(),
                mount_point: h.mount_point.clone(),
                cgroup: cgroup.clone(),
                dir: dir.clone(),
            })
            .collect())
    }
}

impl CgroupManager for Cgroups {
    fn create_monitor(&mut self) -> Result<()> {
        self.driver_mut().create_monitor()
    }
    fn create_payload(&mut self) -> Result<()> {
        self.driver_mut().create_payload()
    }
    fn enter_monitor(&self, pid: Pid) -> Result<()> {
        self.driver().enter_monitor(pid)
    }
    fn enter_payload(&self, pid: Pid) -> Result<()> {
        self.driver().enter_payload(pid)
    }
    fn apply_limit(&self, key: &str, value: &str) -> Result<()> {
        self.driver().apply_limit(key, value)
    }
    fn apply_device_rules(&self, rules: &[(String, String)]) -> Result<Vec<CgroupError>> {
        self.driver().apply_device_rules(rules)
    }
    fn get(&self, file: &str) -> Result<String> {
        self.driver().get(file)
    }
    fn set(&self, file: &str, value: &str) -> Result<()> {
        self.driver().set(file, value)
    }
    fn freeze(&self, timeout: Duration) -> Result<()> {
        self.driver().freeze(timeout)
    }
    fn thaw(&self, timeout: Duration) -> Result<()> {
        self.driver().thaw(timeout)
    }
    fn is_frozen(&self) -> Result<bool> {
        self.driver().is_frozen()
    }
    fn kill_all_with(
        &self,
        kill: &mut dyn FnMut(Pid) -> nix::Result<()>,
        timeout: Duration,
    ) -> Result<()> {
        self.driver().kill_all_with(kill, timeout)
    }
    fn stats(&self) -> Result<CgroupStats> {
        self.driver().stats()
    }
    fn pids(&self) -> Result<Vec<Pid>> {
        self.driver().pids()
    }
    fn remove_payload(&mut self) -> Result<()> {
        self.driver_mut().remove_payload()
    }
    fn remove_monitor(&mut self, pivot: Option<Pid>) -> Result<()> {
        self.driver_mut().remove_monitor(pivot)
    }
}
