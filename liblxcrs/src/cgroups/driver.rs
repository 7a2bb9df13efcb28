//! [`Cgroups`]: a container's cgroups on this host, the enum that dispatches the
//! [`CgroupManager`] operations to the v1 or the v2 driver, and what the start sequence,
//! attach and the mounts read from the cgroup tree beyond them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::unistd::Pid;

use super::error::{CgroupError, Result};
use super::fs;
use super::layout::{CgroupLayout, HierarchyKind, LayoutKind};
use super::manager::{CgroupManager, ATTACH_LEAF};
use super::paths::CgroupPaths;
use super::self_move::SelfEntry;
use super::stats::CgroupStats;
use super::tree::{Placement, Tree, Which};
use super::v1::V1Cgroups;
use super::v2::V2Cgroups;

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
    fn tree(&self) -> &Tree {
        self.driver().tree()
    }
    fn tree_mut(&mut self) -> &mut Tree {
        self.driver_mut().tree_mut()
    }
    fn create_monitor(&mut self) -> Result<()> {
        self.driver_mut().create_monitor()
    }
    fn create_payload(&mut self) -> Result<()> {
        self.driver_mut().create_payload()
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
}
