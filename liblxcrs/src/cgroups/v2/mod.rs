//! The driver for unified (cgroup2-only) hosts.
//!
//! cgroup2 rules this follows: processes live only in leaf cgroups (except the root), a
//! controller works in a cgroup only if the parent enabled it in `cgroup.subtree_control`,
//! freezing is `cgroup.freeze` confirmed by `frozen 1` in `cgroup.events`, and
//! `cgroup.kill` kills a whole subtree. The monitor cgroup is entered before the payload is
//! created so that, when the parent is the caller's own cgroup, the parent is empty by the
//! time controllers are delegated from it. Device rules have no files on cgroup2: they are
//! compiled into one eBPF program (`devices`) attached to the payload (`bpf`).

mod bpf;
pub(crate) mod delegate;
mod devices;

use std::path::Path;
use std::time::Duration;

use nix::unistd::Pid;

use super::device_keys::{self, DeviceRule};
use super::error::{CgroupError, Result};
use super::keys::{self, LimitKey};
use super::manager::CgroupManager;
use super::stats::{self, CgroupStats};
use super::tree::{Tree, Which};
use super::{freezer, fs, kill};

/// Compiles `rules` (in order) into the eBPF device program and attaches it to the cgroup2
/// directory `dir`. Also the hybrid driver's way when no v1 devices controller is mounted.
pub(crate) fn attach_device_rules(dir: &Path, rules: &[DeviceRule]) -> Result<()> {
    bpf::attach_device_program(dir, &device_policy(rules)?.program())
}

/// The device policy of `rules` (in order), which `attach_device_rules` compiles.
pub(crate) fn device_policy(rules: &[DeviceRule]) -> Result<devices::Policy> {
    let mut policy = devices::Policy::default();
    for r in rules {
        policy.push(r.key, r.allow, r.value)?;
    }
    Ok(policy)
}

/// A container's cgroups on a unified host.
#[derive(Debug, Clone)]
pub struct V2Cgroups {
    pub(crate) tree: Tree,
    delegation: delegate::Delegation,
}

impl V2Cgroups {
    pub(crate) fn new(tree: Tree) -> Self {
        Self {
            tree,
            delegation: delegate::Delegation::default(),
        }
    }

    fn payload(&self) -> Result<&Path> {
        self.tree.dir(Which::Payload, 0)
    }

    fn parent(&self) -> Result<std::path::PathBuf> {
        self.tree.hierarchies[0].cgroup_dir(&self.tree.parents[0])
    }

    /// Why `controller` is not usable in the payload, as the right error.
    fn not_enabled(&self, key: &str, value: &str, controller: &str) -> Result<CgroupError> {
        let offered_by_parent = delegate::list(&self.parent()?.join("cgroup.controllers"))?;
        let root = &self.tree.hierarchies[0].dir;
        let offered_by_kernel = delegate::list(&root.join("cgroup.controllers"))?;
        let (key, value, controller) = (key.to_string(), value.to_string(), controller.to_string());
        if !offered_by_kernel.contains(&controller) && !offered_by_parent.contains(&controller) {
            return Ok(CgroupError::NoV2Controller {
                key,
                value,
                reason: format!(
                    "{} does not list it",
                    root.join("cgroup.controllers").display()
                ),
                hint: None,
                controller,
            });
        }
        let reason = match self.delegation.failure(&controller) {
            Some(why) => format!("enabling it in the parent failed: {why}"),
            None if !offered_by_parent.contains(&controller) => {
                format!(
                    "the parent {} does not offer it: an ancestor has not delegated it",
                    self.tree.parents[0].display()
                )
            }
            None => "it was not enabled in the parent".into(),
        };
        Ok(CgroupError::NotDelegated {
            key,
            value,
            controller,
            path: self.payload()?.to_path_buf(),
            reason,
        })
    }

    /// `lxc-cgroup` names a file of the devices controller, which cgroup2 does not have.
    fn refuse_devices_file(file: &str, op: &'static str) -> Result<()> {
        match file.strip_prefix("devices.") {
            Some(_) => Err(CgroupError::DevicesAtRuntime {
                op,
                file: file.into(),
            }),
            None => Ok(()),
        }
    }
}

impl CgroupManager for V2Cgroups {
    fn tree(&self) -> &Tree {
        &self.tree
    }

    fn tree_mut(&mut self) -> &mut Tree {
        &mut self.tree
    }

    fn create_monitor(&mut self) -> Result<()> {
        self.tree.create(Which::Monitor, &|_, _| Ok(()))
    }

    fn create_payload(&mut self) -> Result<()> {
        // Delegate first: once the payload exists, systemd in the container expects its
        // controllers to be available.
        self.delegation = delegate::enable_all(&self.parent()?)?;
        self.tree.create(Which::Payload, &|_, _| Ok(()))
    }

    fn apply_limit(&self, key: &str, value: &str) -> Result<()> {
        let (controller, file) = match keys::parse_limit_key(key)? {
            LimitKey::V1 { controller, file } => {
                return Err(CgroupError::NoV1Controller {
                    key: key.into(),
                    value: value.into(),
                    controller: controller.into(),
                    hint: Some(format!(
                        "this is a cgroup2-only host; {}",
                        keys::hint_for_v1_key(file, controller)
                    )),
                })
            }
            LimitKey::V2Devices { .. } => return Err(CgroupError::DeviceRule { key: key.into() }),
            LimitKey::V2 { controller, file } => (controller, file),
        };
        let dir = self.payload()?;
        if controller != "cgroup"
            && !delegate::list(&dir.join("cgroup.controllers"))?
                .iter()
                .any(|c| c == controller)
        {
            return Err(self.not_enabled(key, value, controller)?);
        }
        fs::write(&dir.join(file), value).map_err(|e| CgroupError::Limit {
            key: key.into(),
            source: Box::new(e),
        })
    }

    /// Compiles the `lxc.cgroup2.devices.*` rules (or, in a config without them, the v1
    /// `lxc.cgroup.devices.*` ones, see `device_keys`) into one program and attaches it to
    /// the payload; the payload is new at every start (a reboot too), so it never holds an
    /// older one. Nothing is skipped: a key no host can apply is an error.
    fn apply_device_rules(&self, rules: &[(String, String)]) -> Result<Vec<CgroupError>> {
        let rules = device_keys::select(rules, true)?;
        if !rules.is_empty() {
            attach_device_rules(self.payload()?, &rules)?;
        }
        Ok(Vec::new())
    }

    fn get(&self, file: &str) -> Result<String> {
        keys::check_file_name(file).map_err(|reason| CgroupError::InvalidKey {
            key: file.into(),
            reason,
        })?;
        Self::refuse_devices_file(file, "read")?;
        let text = fs::read(&self.payload()?.join(file))?;
        Ok(text.strip_suffix('\n').unwrap_or(&text).to_string())
    }

    fn set(&self, file: &str, value: &str) -> Result<()> {
        keys::check_file_name(file).map_err(|reason| CgroupError::InvalidKey {
            key: file.into(),
            reason,
        })?;
        Self::refuse_devices_file(file, "write")?;
        fs::write(&self.payload()?.join(file), value)
    }

    fn freeze(&self, timeout: Duration) -> Result<()> {
        freezer::v2_set(self.payload()?, true, timeout)
    }

    fn thaw(&self, timeout: Duration) -> Result<()> {
        freezer::v2_set(self.payload()?, false, timeout)
    }

    fn is_frozen(&self) -> Result<bool> {
        freezer::v2_is_frozen(self.payload()?)
    }

    fn kill_all_with(
        &self,
        kill: &mut dyn FnMut(Pid) -> nix::Result<()>,
        timeout: Duration,
    ) -> Result<()> {
        kill::v2_kill(self.payload()?, kill, timeout)
    }

    fn stats(&self) -> Result<CgroupStats> {
        let dir = self.payload()?;
        Ok(CgroupStats {
            cpu_ns: stats::v2_cpu_ns(&dir.join("cpu.stat"))?,
            memory_bytes: stats::read_number(&dir.join("memory.current"))?,
            kmem_bytes: stats::v2_kmem(&dir.join("memory.stat"))?,
            swap_bytes: stats::read_number(&dir.join("memory.swap.current"))?,
            blkio_bytes: stats::v2_io_bytes(&dir.join("io.stat"))?,
        })
    }

    fn pids(&self) -> Result<Vec<Pid>> {
        fs::procs_recursive(self.payload()?)
    }
}

#[cfg(test)]
mod tests;
