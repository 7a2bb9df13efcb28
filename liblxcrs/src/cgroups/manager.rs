//! The container-cgroup interface: one small trait, implemented by the v1 (legacy and hybrid)
//! and v2 (unified) drivers, with the steps they share as its default methods.
//! [`Cgroups`](super::Cgroups) (`driver.rs`) dispatches to the right driver.

use std::path::Path;
use std::time::Duration;

use nix::unistd::Pid;

use super::error::{CgroupError, Result};
use super::fs;
use super::kill;
use super::stats::CgroupStats;
use super::tree::{Tree, Which};

/// The payload's leaf for attached processes where the payload itself may hold none.
pub const ATTACH_LEAF: &str = ".lxc";

/// Moves `pid` into the cgroup at `dir` (a directory [`Cgroups`](super::Cgroups) handed out,
/// e.g. [`Cgroups::v2_attach_dir`](super::Cgroups::v2_attach_dir)).
pub fn enter_dir(dir: &Path, pid: Pid) -> Result<()> {
    fs::enter(dir, pid)
}

/// How long freeze, thaw and kill wait by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// What the start sequence, the monitor and the tools do with a container's cgroups.
///
/// Order at start: `create_monitor`, `enter_monitor(monitor pid)`, `create_payload`
/// (on cgroup2 this delegates controllers from the parent, which must by then hold no
/// processes), clone the child (into [`Cgroups::v2_payload_dir`](super::Cgroups::v2_payload_dir)
/// where the kernel allows),
/// `enter_payload(child)`, `apply_limit` for each config key but the device rules, and,
/// once the child has set up its /dev, `apply_device_rules` with all of them. At stop:
/// `kill_all` if needed, `remove_payload`, `remove_monitor(Some(own pid))`.
pub trait CgroupManager {
    /// The driver's two cgroups in every hierarchy, what the shared steps below act on.
    #[doc(hidden)]
    fn tree(&self) -> &Tree;
    /// [`CgroupManager::tree`], to change.
    #[doc(hidden)]
    fn tree_mut(&mut self) -> &mut Tree;
    /// Creates the monitor cgroup (`lxcrs.monitor.<name>[-N]`) in every hierarchy.
    fn create_monitor(&mut self) -> Result<()>;
    /// Creates the payload cgroup (`lxcrs.payload.<name>[-N]`) in every hierarchy.
    fn create_payload(&mut self) -> Result<()>;
    /// Moves `pid` into the monitor cgroup in every hierarchy.
    fn enter_monitor(&self, pid: Pid) -> Result<()> {
        self.tree().enter(Which::Monitor, pid)
    }
    /// Moves `pid` into the payload cgroup in every hierarchy (attach uses this too).
    fn enter_payload(&self, pid: Pid) -> Result<()> {
        self.tree().enter(Which::Payload, pid)
    }
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
    fn remove_payload(&mut self) -> Result<()> {
        self.tree_mut().remove(Which::Payload)
    }
    /// Removes the monitor cgroup; with `Some(pid)` first moves that process (the monitor
    /// itself) out of it.
    fn remove_monitor(&mut self, pivot: Option<Pid>) -> Result<()> {
        if let Some(pid) = pivot {
            if self.tree().monitor.is_some() {
                self.tree().pivot(pid)?;
            }
        }
        self.tree_mut().remove(Which::Monitor)
    }
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
