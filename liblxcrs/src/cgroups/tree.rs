//! Where a container's cgroups go and how they are named, created, entered and removed —
//! the part that is the same for v1 and v2.
//!
//! A container has two cgroups, kept apart: the payload (`lxcrs.payload.<name>`, the
//! container's processes, frozen and limited) and the monitor (`lxcrs.monitor.<name>`, the
//! monitor process, never frozen or limited). Both sit under the same parent in every
//! hierarchy and carry the same leaf name in all of them.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;
use nix::unistd::Pid;

use super::error::{CgroupError, Result};
use super::fs;
use super::layout::{CgroupLayout, Hierarchy};
use super::mountinfo::parse_proc_cgroup;
use super::paths::CgroupPaths;
use super::self_move::{single_threaded, SelfEntry};

/// Leaf-name prefix of payload cgroups (LXC uses `lxc.payload.`; ours never collides).
pub const PAYLOAD_PREFIX: &str = "lxcrs.payload.";
/// Leaf-name prefix of monitor cgroups.
pub const MONITOR_PREFIX: &str = "lxcrs.monitor.";
/// Leaf the monitor moves to before removing its own cgroup where cgroup2 forbids the parent.
pub const PIVOT_LEAF: &str = "lxcrs.pivot";
/// Highest suffix tried when `<prefix><name>` exists from a crashed run and cannot be removed.
pub const MAX_SUFFIX: u32 = 999;

/// Under which cgroup the container's cgroups are created, per hierarchy.
///
/// `Caller` suits unprivileged use (cgroup2 delegation allows only the caller's subtree) and
/// a v1/hybrid host, where it keeps the container inside whatever cgroup the caller was
/// given. `ProcCgroup` with PID 1's `/proc/1/cgroup` is LXC's choice for root: the
/// container goes next to init (usually the root cgroup), not into the admin's login
/// session, which on a cgroup2 host also holds the admin's shell and so could never
/// delegate controllers. A trailing `/init.scope` (systemd's cgroup for PID 1) is dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Under the caller's own cgroups (from the layout's /proc/self/cgroup).
    Caller,
    /// Under the cgroups listed in this `/proc/PID/cgroup` text (typically PID 1's).
    ProcCgroup(String),
}

/// One cgroup of the container: per hierarchy (in the tree's order) its path within the
/// hierarchy and its directory below the root directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Placed {
    pub(crate) paths: Vec<PathBuf>,
    pub(crate) dirs: Vec<PathBuf>,
}

/// The hierarchies a container uses, its parents there, and its two cgroups. `pub` only
/// for [`CgroupManager::tree`](super::CgroupManager::tree): this module is private.
#[derive(Debug, Clone)]
pub struct Tree {
    pub(crate) name: String,
    pub(crate) hierarchies: Vec<Hierarchy>,
    pub(crate) parents: Vec<PathBuf>,
    pub(crate) payload: Option<Placed>,
    pub(crate) monitor: Option<Placed>,
}

/// Which of the two cgroups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Which {
    Payload,
    Monitor,
}

impl Which {
    fn prefix(self) -> &'static str {
        match self {
            Self::Payload => PAYLOAD_PREFIX,
            Self::Monitor => MONITOR_PREFIX,
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Payload => "payload",
            Self::Monitor => "monitor",
        }
    }
}

impl Tree {
    /// Resolves the parent cgroup in every hierarchy of `layout`.
    pub(crate) fn new(layout: &CgroupLayout, name: &str, placement: &Placement) -> Result<Self> {
        validate_name(name)?;
        let hierarchies: Vec<Hierarchy> = layout.hierarchies().cloned().collect();
        let other = match placement {
            Placement::Caller => None,
            Placement::ProcCgroup(text) => Some(parse_proc_cgroup(text)?),
        };
        let parents = hierarchies
            .iter()
            .map(|h| {
                let path = match &other {
                    None => h.current.clone(),
                    Some(entries) => entries
                        .iter()
                        .find(|e| {
                            if h.is_v2() {
                                e.is_v2()
                            } else {
                                e.controllers.join(",") == h.key()
                            }
                        })
                        .map_or_else(|| PathBuf::from("/"), |e| e.path.clone()),
                };
                let path = prune_init_scope(&path);
                h.cgroup_dir(&path)?; // fail early when the parent is outside the mount
                Ok(path)
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            name: name.to_string(),
            hierarchies,
            parents,
            payload: None,
            monitor: None,
        })
    }

    pub(crate) fn placed(&self, which: Which) -> Result<&Placed> {
        let placed = match which {
            Which::Payload => self.payload.as_ref(),
            Which::Monitor => self.monitor.as_ref(),
        };
        placed.ok_or(CgroupError::NotCreated {
            which: which.label(),
            name: self.name.clone(),
        })
    }

    /// The directory of `which` in hierarchy `index`.
    pub(crate) fn dir(&self, which: Which, index: usize) -> Result<&Path> {
        Ok(&self.placed(which)?.dirs[index])
    }

    /// Index of the first hierarchy matching `pred`.
    pub(crate) fn index_where(&self, pred: impl Fn(&Hierarchy) -> bool) -> Option<usize> {
        self.hierarchies.iter().position(pred)
    }

    /// Creates `which` in every hierarchy. `init` runs on each new directory (v1 cpuset and
    /// memory set-up). A payload name that exists is removed if possible (a crashed run's
    /// cgroup, waiting briefly for its dying processes); otherwise `-1`, `-2`… are tried,
    /// the same leaf in every hierarchy. A monitor name that exists is never taken over:
    /// its monitor may still be leaving it after announcing STOPPED (see
    /// [`Tree::remove_stale_siblings`] for the cleanup).
    ///
    pub(crate) fn create(
        &mut self,
        which: Which,
        init: &dyn Fn(&Hierarchy, &Path) -> Result<()>,
    ) -> Result<()> {
        let base = format!("{}{}", which.prefix(), self.name);
        for attempt in 0..=MAX_SUFFIX {
            let leaf = if attempt == 0 {
                base.clone()
            } else {
                format!("{base}-{attempt}")
            };
            if let Some(placed) = self.try_create(&leaf, which, init)? {
                match which {
                    Which::Payload => self.payload = Some(placed),
                    Which::Monitor => self.monitor = Some(placed),
                }
                return Ok(());
            }
        }
        Err(CgroupError::NoFreeName {
            base,
            parent: self.parents.first().cloned().unwrap_or_default(),
            max: MAX_SUFFIX,
        })
    }

    /// `Ok(None)` when `leaf` is taken in some hierarchy; what was made is undone then.
    fn try_create(
        &self,
        leaf: &str,
        which: Which,
        init: &dyn Fn(&Hierarchy, &Path) -> Result<()>,
    ) -> Result<Option<Placed>> {
        let mut made: Vec<PathBuf> = Vec::new();
        let undo = |made: &[PathBuf]| {
            for dir in made.iter().rev() {
                let _ = fs::rmdir_tree(dir, fs::RMDIR_RETRY);
            }
        };
        let mut paths = Vec::new();
        let mut dirs = Vec::new();
        for (h, parent) in self.hierarchies.iter().zip(&self.parents) {
            let path = parent.join(leaf);
            let dir = h.cgroup_dir(&path)?;
            let created = match fs::mkdir(&dir) {
                Ok(()) => true,
                // A stale cgroup from a crashed run: reuse the name if it can be removed.
                Err(Errno::EEXIST) if which == Which::Payload => {
                    fs::remove_stale(&dir) && fs::mkdir(&dir).is_ok()
                }
                Err(Errno::EEXIST) => false,
                Err(errno) => {
                    undo(&made);
                    return Err(fs::mkdir_error(&dir, errno));
                }
            };
            if !created {
                undo(&made);
                return Ok(None);
            }
            made.push(dir.clone());
            if let Err(e) = init(h, &dir) {
                undo(&made);
                return Err(e);
            }
            paths.push(path);
            dirs.push(dir);
        }
        Ok(Some(Placed { paths, dirs }))
    }

    /// Removes what earlier runs of this container left of `which` under any other of its
    /// names (`<prefix><name>`, `<prefix><name>-N`): empty cgroups of crashed or
    /// still-exiting runs. Busy ones (a live monitor of a same-named container of another
    /// lxcpath) stay; failures are not errors.
    pub(crate) fn remove_stale_siblings(&self, which: Which) {
        let Ok(placed) = self.placed(which) else {
            return;
        };
        let Some(own) = placed.paths.first().and_then(|p| p.file_name()) else {
            return;
        };
        let base = format!("{}{}", which.prefix(), self.name);
        for dir in &placed.dirs {
            let Some(parent) = dir.parent() else { continue };
            let Ok(entries) = std::fs::read_dir(parent) else {
                continue;
            };
            for entry in entries.flatten() {
                let leaf = entry.file_name();
                if leaf != own && leaf.to_str().is_some_and(|t| is_name_of(t, &base)) {
                    let _ = fs::rmdir_tree(&entry.path(), Duration::ZERO);
                }
            }
        }
    }

    /// Removes the empty cgroups (monitor and payload, under every name of this
    /// container) that runs whose monitor was killed left behind. Busy ones stay.
    pub(crate) fn remove_leftovers(&self) {
        for which in [Which::Monitor, Which::Payload] {
            let base = format!("{}{}", which.prefix(), self.name);
            for (h, parent) in self.hierarchies.iter().zip(&self.parents) {
                let Ok(dir) = h.cgroup_dir(parent) else {
                    continue;
                };
                let Ok(entries) = std::fs::read_dir(&dir) else {
                    continue;
                };
                for entry in entries.flatten() {
                    let leaf = entry.file_name();
                    // Only a tree with no process anywhere: a same-named container of
                    // another lxcpath may run in it, with empty cgroups of its own below.
                    if leaf.to_str().is_some_and(|t| is_name_of(t, &base))
                        && !populated(&entry.path(), 0)
                    {
                        let _ = fs::rmdir_tree(&entry.path(), Duration::ZERO);
                    }
                }
            }
        }
    }

    /// Moves `pid` into `which` in every hierarchy.
    pub(crate) fn enter(&self, which: Which, pid: Pid) -> Result<()> {
        for index in 0..self.hierarchies.len() {
            fs::enter(self.dir(which, index)?, pid)?;
        }
        Ok(())
    }

    /// Moves `pid` into `which` in the v2 hierarchy only (none on a legacy host).
    pub(crate) fn enter_v2(&self, which: Which, pid: Pid) -> Result<()> {
        match self.index_where(Hierarchy::is_v2) {
            Some(index) => fs::enter(self.dir(which, index)?, pid),
            None => Ok(()),
        }
    }

    /// The `tasks` files of `which` in every v1 hierarchy, open for a self-move.
    pub(crate) fn self_entry(&self, which: Which) -> Result<SelfEntry> {
        let placed = self.placed(which)?;
        SelfEntry::open(
            self.hierarchies
                .iter()
                .zip(&placed.dirs)
                .filter(|(h, _)| !h.is_v2())
                .map(|(_, d)| d.as_path()),
        )
    }

    /// Removes `which` in every hierarchy (children first), collecting every failure.
    pub(crate) fn remove(&mut self, which: Which) -> Result<()> {
        let Ok(placed) = self.placed(which) else {
            return Ok(());
        };
        let errors: Vec<_> = placed
            .dirs
            .iter()
            .filter_map(|dir| fs::rmdir_tree(dir, fs::RMDIR_RETRY).err())
            .collect();
        CgroupError::collect(errors)?;
        match which {
            Which::Payload => self.payload = None,
            Which::Monitor => self.monitor = None,
        }
        Ok(())
    }

    /// Moves `pid` (the monitor itself) out of the monitor cgroup so that it can be removed:
    /// to the parent on v1 and at a cgroup2 root; to `<parent>/lxcrs.pivot` elsewhere on
    /// cgroup2, whose no-internal-process rule forbids a parent with delegated controllers.
    /// The pivot stays (shared by every container, like LXC's `lxc.pivot`).
    pub(crate) fn pivot(&self, pid: Pid) -> Result<()> {
        for (h, parent) in self.hierarchies.iter().zip(&self.parents) {
            let mut target = h.cgroup_dir(parent)?;
            if h.is_v2() && parent != Path::new("/") {
                target.push(PIVOT_LEAF);
                match fs::mkdir(&target) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(errno) => return Err(fs::mkdir_error(&target, errno)),
                }
            }
            // The monitor leaving by itself skips the kernel's slow path (see `self_move`).
            if !h.is_v2() && pid == nix::unistd::getpid() && single_threaded() {
                SelfEntry::open([target.as_path()])?.enter()?;
            } else {
                fs::enter(&target, pid)?;
            }
        }
        Ok(())
    }

    /// The paths of `which` keyed by hierarchy, to hand to another process.
    pub(crate) fn paths(&self, which: Which) -> Result<CgroupPaths> {
        let placed = self.placed(which)?;
        Ok(CgroupPaths(
            self.hierarchies
                .iter()
                .zip(&placed.paths)
                .map(|(h, p)| (h.key(), p.clone()))
                .collect(),
        ))
    }

    /// Rebuilds the tree of a running container from the paths its monitor handed over.
    pub(crate) fn adopt(
        layout: &CgroupLayout,
        name: &str,
        payload: &CgroupPaths,
        monitor: Option<&CgroupPaths>,
    ) -> Result<Self> {
        validate_name(name)?;
        let hierarchies: Vec<Hierarchy> = layout.hierarchies().cloned().collect();
        let place = |given: &CgroupPaths| -> Result<Placed> {
            let mut placed = Placed {
                paths: Vec::new(),
                dirs: Vec::new(),
            };
            for h in &hierarchies {
                let path = given
                    .0
                    .iter()
                    .find(|(k, _)| *k == h.key())
                    .map(|(_, p)| p.clone());
                let path = path.ok_or_else(|| CgroupError::InvalidPaths {
                    reason: format!("no path for the {} hierarchy", h.name()),
                })?;
                if path.parent().is_none() || path.components().any(|c| c == Component::ParentDir) {
                    return Err(CgroupError::InvalidPaths {
                        reason: format!("{} is not a container cgroup", path.display()),
                    });
                }
                placed.dirs.push(h.cgroup_dir(&path)?);
                placed.paths.push(path);
            }
            Ok(placed)
        };
        let payload = place(payload)?;
        let parents = payload
            .paths
            .iter()
            .map(|p| {
                p.parent()
                    .map_or_else(|| PathBuf::from("/"), Path::to_path_buf)
            })
            .collect();
        let monitor = monitor.map(place).transpose()?;
        Ok(Self {
            name: name.to_string(),
            hierarchies,
            parents,
            payload: Some(payload),
            monitor,
        })
    }
}

/// True when `leaf` is `base` or `base-N` (what [`Tree::create`] names a cgroup).
/// True when `dir` or a cgroup below it holds a process (or cannot be read).
fn populated(dir: &Path, depth: u32) -> bool {
    match std::fs::read_to_string(dir.join("cgroup.procs")) {
        Ok(t) if t.trim().is_empty() => {}
        _ => return true,
    }
    if depth > 32 {
        return true;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return true;
    };
    entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .any(|e| populated(&e.path(), depth + 1))
}

fn is_name_of(leaf: &str, base: &str) -> bool {
    match leaf.strip_prefix(base) {
        Some("") => true,
        Some(rest) => rest
            .strip_prefix('-')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())),
        None => false,
    }
}

/// A container name must make a single, sane path component.
fn validate_name(name: &str) -> Result<()> {
    let bad = |reason| {
        Err(CgroupError::InvalidName {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.contains('/') || name.contains('\0') || name.contains('\n') {
        return bad("it contains '/', a NUL or a newline");
    }
    // NAME_MAX minus the longest prefix and a "-999" suffix.
    if name.len() > 255 - PAYLOAD_PREFIX.len() - 4 {
        return bad("it is too long for a cgroup directory name");
    }
    Ok(())
}

fn prune_init_scope(path: &Path) -> PathBuf {
    if path.file_name().is_some_and(|f| f == "init.scope") {
        path.parent()
            .map_or_else(|| PathBuf::from("/"), Path::to_path_buf)
    } else {
        path.to_path_buf()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(validate_name("c1").is_ok());
        assert!(validate_name("").is_err());
        assert!(validate_name("../x").is_err());
        assert!(validate_name(&"x".repeat(250)).is_err());
    }

    #[test]
    fn suffixed_names_are_recognised() {
        let base = "lxcrs.monitor.c1";
        assert!(is_name_of("lxcrs.monitor.c1", base));
        assert!(is_name_of("lxcrs.monitor.c1-12", base));
        assert!(!is_name_of("lxcrs.monitor.c1-", base));
        assert!(!is_name_of("lxcrs.monitor.c10", base));
        assert!(!is_name_of("lxcrs.monitor.c1-x", base));
        assert!(!is_name_of("lxcrs.monitor.c1-1-1", base));
    }

    #[test]
    fn init_scope_is_pruned() {
        assert_eq!(
            prune_init_scope(Path::new("/init.scope")),
            PathBuf::from("/")
        );
        assert_eq!(prune_init_scope(Path::new("/a/b")), PathBuf::from("/a/b"));
    }
}
