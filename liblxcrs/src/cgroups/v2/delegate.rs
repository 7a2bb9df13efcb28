//! cgroup2 delegation: a controller works in a cgroup only when its parent lists it in
//! `cgroup.subtree_control`, and the parent may list it only if it offers it itself
//! (`cgroup.controllers`) and holds no processes (the no-internal-process rule; the root
//! cgroup is exempt). Controllers are enabled one at a time so that one refusal (e.g. `cpu`
//! while a realtime task is in the subtree) does not cost the others.

use std::path::Path;

use crate::cgroups::error::Result;
use crate::cgroups::fs;

/// Controllers a cgroup offers to its children's parents, from `cgroup.controllers` (or any
/// space-separated controller list file).
pub(crate) fn list(path: &Path) -> Result<Vec<String>> {
    Ok(fs::read(path)?
        .split_whitespace()
        .map(str::to_string)
        .collect())
}

/// What [`enable_all`] could not enable, with the reason, for later error messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Delegation {
    pub(crate) failed: Vec<(String, String)>,
}

impl Delegation {
    /// Why `controller` could not be enabled, if it was tried and refused.
    pub(crate) fn failure(&self, controller: &str) -> Option<&str> {
        self.failed
            .iter()
            .find(|(c, _)| c == controller)
            .map(|(_, why)| why.as_str())
    }
}

/// Enables in `parent`'s `cgroup.subtree_control` every controller it offers.
pub(crate) fn enable_all(parent: &Path) -> Result<Delegation> {
    let offered = list(&parent.join("cgroup.controllers"))?;
    let enabled = list(&parent.join("cgroup.subtree_control"))?;
    let mut delegation = Delegation::default();
    for controller in offered.iter().filter(|c| !enabled.contains(c)) {
        if let Err(e) = enable(parent, controller) {
            delegation.failed.push((controller.clone(), e.to_string()));
        }
    }
    Ok(delegation)
}

/// Enables one controller in `parent`'s `cgroup.subtree_control`.
pub(crate) fn enable(parent: &Path, controller: &str) -> Result<()> {
    fs::write(
        &parent.join("cgroup.subtree_control"),
        &format!("+{controller}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enables_each_offered_controller_once() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("cgroup.controllers"),
            "cpuset cpu io memory pids\n",
        )
        .unwrap();
        std::fs::write(d.path().join("cgroup.subtree_control"), "memory\n").unwrap();
        let delegation = enable_all(d.path()).unwrap();
        assert!(delegation.failed.is_empty());
        // A plain file keeps only the last write: "+pids" proves one write per controller.
        assert_eq!(
            std::fs::read_to_string(d.path().join("cgroup.subtree_control")).unwrap(),
            "+pids"
        );
    }

    #[test]
    fn remembers_why_a_controller_was_refused() {
        let d = Delegation {
            failed: vec![("cpu".into(), "busy".into())],
        };
        assert_eq!(d.failure("cpu"), Some("busy"));
        assert_eq!(d.failure("memory"), None);
        let missing = tempfile::tempdir().unwrap();
        assert!(enable_all(&missing.path().join("gone")).is_err());
    }
}
