//! Which cgroup hierarchies this host has, where they are mounted, and where the caller is.
//!
//! Built from a mountinfo text, a `/proc/self/cgroup` text and a root directory that every
//! mount point is taken relative to (`/` on a host, a temp dir in tests).

use std::fmt;
use std::path::{Component, Path, PathBuf};

use super::error::{CgroupError, Result};
use super::mountinfo::{parse_mountinfo, parse_proc_cgroup, CgroupMount, ProcCgroup};

/// The three ways a host can mount cgroups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutKind {
    /// cgroup v1 hierarchies only.
    Legacy,
    /// cgroup v1 hierarchies plus a cgroup2 hierarchy (usually `/sys/fs/cgroup/unified`).
    Hybrid,
    /// cgroup2 only (usually at `/sys/fs/cgroup`).
    Unified,
}

impl fmt::Display for LayoutKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Legacy => "legacy (cgroup v1)",
            Self::Hybrid => "hybrid (cgroup v1 + cgroup2)",
            Self::Unified => "unified (cgroup2)",
        })
    }
}

/// What a hierarchy is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HierarchyKind {
    /// A v1 hierarchy with its controllers (`cpu`, `cpuacct`, or `name=systemd`).
    V1 { controllers: Vec<String> },
    /// The cgroup2 hierarchy.
    V2,
}

/// One mounted hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// v1 with its controllers, or v2.
    pub kind: HierarchyKind,
    /// Mount point as the kernel reports it, e.g. `/sys/fs/cgroup/memory`.
    pub mount_point: PathBuf,
    /// The cgroup shown at the mount point (`/` unless a subtree is mounted).
    pub mount_root: PathBuf,
    /// The mount point below the root directory: where this module does its I/O.
    pub dir: PathBuf,
    /// The caller's cgroup in this hierarchy (absolute within the hierarchy).
    pub current: PathBuf,
}

impl Hierarchy {
    /// True for the cgroup2 hierarchy.
    pub fn is_v2(&self) -> bool {
        self.kind == HierarchyKind::V2
    }

    /// True when this v1 hierarchy carries `controller` (`name=systemd` counts).
    pub fn has_v1_controller(&self, controller: &str) -> bool {
        matches!(&self.kind, HierarchyKind::V1 { controllers } if controllers.iter().any(|c| c == controller))
    }

    /// The controllers joined by `,` as in /proc/PID/cgroup (`cpu,cpuacct`); empty for v2.
    pub fn key(&self) -> String {
        match &self.kind {
            HierarchyKind::V1 { controllers } => controllers.join(","),
            HierarchyKind::V2 => String::new(),
        }
    }

    /// The directory of `cgroup` (absolute within the hierarchy) below the root directory.
    pub fn cgroup_dir(&self, cgroup: &Path) -> Result<PathBuf> {
        let rel = cgroup
            .strip_prefix(&self.mount_root)
            .map_err(|_| CgroupError::NotVisible {
                hierarchy: self.name(),
                cgroup: cgroup.to_path_buf(),
                mount: self.mount_point.clone(),
                mount_root: self.mount_root.clone(),
            })?;
        Ok(self.dir.join(rel))
    }

    /// A human name: `memory`, `cpu,cpuacct`, `name=systemd` or `cgroup2`.
    pub fn name(&self) -> String {
        match &self.kind {
            HierarchyKind::V1 { controllers } => controllers.join(","),
            HierarchyKind::V2 => "cgroup2".to_string(),
        }
    }
}

/// The host's cgroup hierarchies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupLayout {
    /// Legacy, hybrid or unified.
    pub kind: LayoutKind,
    /// The v1 hierarchies (empty on a unified host), in /proc/self/cgroup order.
    pub v1: Vec<Hierarchy>,
    /// The cgroup2 hierarchy, if mounted.
    pub unified: Option<Hierarchy>,
}

impl CgroupLayout {
    /// Reads `/proc/self/mountinfo` and `/proc/self/cgroup` of this process; root `/`.
    pub fn detect_host() -> Result<Self> {
        let read = |p: &str| {
            std::fs::read_to_string(p)
                .map_err(|e| CgroupError::read(Path::new(p), super::error::errno_of(&e)))
        };
        Self::detect(
            &read("/proc/self/mountinfo")?,
            &read("/proc/self/cgroup")?,
            Path::new("/"),
        )
    }

    /// Detects the layout from a mountinfo text and a /proc/self/cgroup text; mount points
    /// are taken below `root`.
    pub fn detect(mountinfo: &str, proc_self_cgroup: &str, root: &Path) -> Result<Self> {
        let mounts = parse_mountinfo(mountinfo)?;
        let mut v1 = Vec::new();
        let mut unified = None;
        for entry in parse_proc_cgroup(proc_self_cgroup)? {
            let candidates = mounts.iter().filter(|m| mount_matches(m, &entry));
            // The same hierarchy may be mounted more than once (bind mounts): prefer a mount
            // that shows the caller's cgroup.
            let visible = candidates.clone().find(|m| entry.path.starts_with(&m.root));
            let Some(mount) = visible.or_else(|| candidates.clone().next()) else {
                continue; // in /proc/self/cgroup but not mounted: unusable, skip it.
            };
            let hierarchy = Hierarchy {
                kind: if entry.is_v2() {
                    HierarchyKind::V2
                } else {
                    HierarchyKind::V1 {
                        controllers: entry.controllers.clone(),
                    }
                },
                mount_point: mount.mount_point.clone(),
                mount_root: mount.root.clone(),
                dir: below_root(root, &mount.mount_point),
                current: entry.path.clone(),
            };
            if entry.is_v2() {
                unified.get_or_insert(hierarchy);
            } else if !v1.iter().any(|h: &Hierarchy| h.kind == hierarchy.kind) {
                v1.push(hierarchy);
            }
        }
        let kind = match (v1.is_empty(), unified.is_some()) {
            (true, true) => LayoutKind::Unified,
            (false, true) => LayoutKind::Hybrid,
            (false, false) => LayoutKind::Legacy,
            (true, false) => return Err(CgroupError::NoHierarchies),
        };
        Ok(Self { kind, v1, unified })
    }

    /// Every hierarchy: the v1 ones first, then cgroup2.
    pub fn hierarchies(&self) -> impl Iterator<Item = &Hierarchy> {
        self.v1.iter().chain(self.unified.iter())
    }

    /// The v1 hierarchy that carries `controller`.
    pub fn v1_with(&self, controller: &str) -> Option<&Hierarchy> {
        self.v1.iter().find(|h| h.has_v1_controller(controller))
    }
}

/// A v1 mount matches when its super options name every controller of the line; the
/// cgroup2 mount matches the `0::` line.
fn mount_matches(mount: &CgroupMount, entry: &ProcCgroup) -> bool {
    if entry.is_v2() {
        return mount.v2;
    }
    !mount.v2
        && entry
            .controllers
            .iter()
            .all(|c| mount.super_options.iter().any(|o| o == c))
}

/// `root` joined with an absolute mount point (`/` + `/sys/fs/cgroup` → `/sys/fs/cgroup`).
fn below_root(root: &Path, mount_point: &Path) -> PathBuf {
    let rel: PathBuf = mount_point
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect();
    root.join(rel)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::fixtures::{
        HYBRID_MOUNTINFO, HYBRID_PROC_CGROUP, LEGACY_MOUNTINFO, LEGACY_PROC_CGROUP,
        UNIFIED_MOUNTINFO, UNIFIED_PROC_CGROUP,
    };

    #[test]
    fn detects_this_hybrid_host() {
        let l = CgroupLayout::detect(HYBRID_MOUNTINFO, HYBRID_PROC_CGROUP, Path::new("/tmp/r"))
            .unwrap();
        assert_eq!(l.kind, LayoutKind::Hybrid);
        assert_eq!(l.v1.len(), 9);
        let memory = l.v1_with("memory").unwrap();
        assert_eq!(memory.dir, PathBuf::from("/tmp/r/sys/fs/cgroup/memory"));
        assert_eq!(memory.mount_point, PathBuf::from("/sys/fs/cgroup/memory"));
        assert_eq!(memory.current, PathBuf::from("/process_api/0e74"));
        let systemd = l.v1_with("name=systemd").unwrap();
        assert_eq!(systemd.key(), "name=systemd");
        let unified = l.unified.as_ref().unwrap();
        assert_eq!(unified.dir, PathBuf::from("/tmp/r/sys/fs/cgroup/unified"));
        assert_eq!(unified.current, PathBuf::from("/"));
        assert_eq!(l.hierarchies().count(), 10);
    }

    #[test]
    fn detects_a_pure_v2_host() {
        let l =
            CgroupLayout::detect(UNIFIED_MOUNTINFO, UNIFIED_PROC_CGROUP, Path::new("/")).unwrap();
        assert_eq!(l.kind, LayoutKind::Unified);
        assert!(l.v1.is_empty());
        let u = l.unified.unwrap();
        assert_eq!(u.dir, PathBuf::from("/sys/fs/cgroup"));
        assert_eq!(
            u.current,
            PathBuf::from("/user.slice/user-1000.slice/session-2.scope")
        );
        assert_eq!(u.name(), "cgroup2");
    }

    #[test]
    fn detects_a_pure_v1_host_with_comounted_controllers() {
        let l = CgroupLayout::detect(LEGACY_MOUNTINFO, LEGACY_PROC_CGROUP, Path::new("/")).unwrap();
        assert_eq!(l.kind, LayoutKind::Legacy);
        assert!(
            l.unified.is_none(),
            "a 0:: line without a cgroup2 mount is no hierarchy"
        );
        let cpu = l.v1_with("cpu").unwrap();
        assert_eq!(cpu.key(), "cpu,cpuacct");
        assert_eq!(
            l.v1_with("cpuacct").unwrap().mount_point,
            PathBuf::from("/sys/fs/cgroup/cpu,cpuacct")
        );
        assert!(l.v1_with("freezer").is_some());
        assert!(l.v1_with("name=systemd").is_some());
        assert!(
            l.v1_with("pids").is_none(),
            "pids is not mounted in this fixture"
        );
    }

    #[test]
    fn no_cgroup_mount_is_an_error() {
        let err = CgroupLayout::detect(
            "23 1 0:21 / /sys rw - sysfs sysfs rw\n",
            "0::/\n",
            Path::new("/"),
        )
        .unwrap_err();
        assert!(matches!(err, CgroupError::NoHierarchies));
    }

    #[test]
    fn maps_cgroups_through_a_subtree_mount() {
        let mi = "41 31 0:38 /lxc/c1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let l = CgroupLayout::detect(mi, "0::/lxc/c1/init\n", Path::new("/")).unwrap();
        let u = l.unified.unwrap();
        assert_eq!(
            u.cgroup_dir(Path::new("/lxc/c1/x")).unwrap(),
            PathBuf::from("/sys/fs/cgroup/x")
        );
        let err = u.cgroup_dir(Path::new("/other")).unwrap_err();
        assert!(
            err.to_string()
                .contains("not visible under the cgroup2 mount at /sys/fs/cgroup"),
            "{err}"
        );
    }
}
