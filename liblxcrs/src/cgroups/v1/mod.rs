//! The driver for legacy (v1 only) and hybrid (v1 + cgroup2) hosts.
//!
//! The container gets a cgroup in every v1 hierarchy (named ones like `name=systemd`
//! included, since systemd in the container needs its own) and, on a hybrid host, in the
//! cgroup2 hierarchy too. Limits, stats and the freezer use the v1 controllers; cgroup2 is
//! used for a `lxc.cgroup2.*` key whose controller is bound there, for cgroup.kill, and as a
//! freezer when no v1 freezer is mounted.

mod cpuset;
mod memory;

use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;
use nix::unistd::Pid;

use super::device_keys;
use super::error::{CgroupError, Result};
use super::keys::{self, LimitKey};
use super::layout::Hierarchy;
use super::manager::CgroupManager;
use super::stats::{self, CgroupStats};
use super::tree::{Tree, Which};
use super::v2::delegate;
use super::{freezer, fs, kill};

/// A container's cgroups on a legacy or hybrid host.
#[derive(Debug, Clone)]
pub struct V1Cgroups {
    pub(crate) tree: Tree,
}

/// Sets up a new v1 directory so that it can be entered and accounts hierarchically.
fn init_dir(h: &Hierarchy, dir: &Path) -> Result<()> {
    if h.has_v1_controller("cpuset") {
        cpuset::init(&h.dir, dir)?;
    }
    if h.has_v1_controller("memory") {
        memory::init(dir)?;
    }
    Ok(())
}

impl V1Cgroups {
    pub(crate) fn new(tree: Tree) -> Self {
        Self { tree }
    }

    fn v1_index(&self, controller: &str) -> Option<usize> {
        self.tree.index_where(|h| h.has_v1_controller(controller))
    }

    fn v2_index(&self) -> Option<usize> {
        self.tree.index_where(Hierarchy::is_v2)
    }

    fn payload(&self, index: usize) -> Result<&Path> {
        self.tree.dir(Which::Payload, index)
    }

    /// The payload dir holding the controller's files, if that v1 controller is mounted.
    fn payload_of(&self, controller: &str) -> Result<Option<&Path>> {
        self.v1_index(controller)
            .map(|i| self.payload(i))
            .transpose()
    }

    /// The hierarchy whose cgroup.procs stand for the container's processes: the freezer
    /// (what freeze acts on), else pids, else the first.
    fn procs_dir(&self) -> Result<&Path> {
        let index = self
            .v1_index("freezer")
            .or_else(|| self.v1_index("pids"))
            .unwrap_or(0);
        self.payload(index)
    }

    fn apply_v1(&self, key: &str, value: &str, controller: &str, file: &str) -> Result<()> {
        let Some(dir) = self.payload_of(controller)? else {
            return Err(CgroupError::NoV1Controller {
                key: key.into(),
                value: value.into(),
                controller: controller.into(),
                hint: self
                    .v2_index()
                    .map(|_| keys::hint_for_v1_key(file, controller)),
            });
        };
        fs::write(&dir.join(file), value).map_err(|e| CgroupError::Limit {
            key: key.into(),
            source: Box::new(e),
        })
    }

    /// A `lxc.cgroup2.*` key on a v1/hybrid host works only for a controller that is bound
    /// to the cgroup2 hierarchy here (it is enabled in the parent on first use).
    fn apply_v2(&self, key: &str, value: &str, controller: &str, file: &str) -> Result<()> {
        let missing = |reason: String| CgroupError::NoV2Controller {
            key: key.into(),
            value: value.into(),
            controller: controller.into(),
            reason,
            hint: Some(keys::hint_for_v2_key(file, controller)),
        };
        if let Some(h) = self.v1_index(controller).map(|i| &self.tree.hierarchies[i]) {
            return Err(missing(format!(
                "{controller} is bound to the cgroup v1 hierarchy at {}",
                h.mount_point.display()
            )));
        }
        let Some(index) = self.v2_index() else {
            return Err(missing("no cgroup2 hierarchy is mounted".into()));
        };
        let dir = self.payload(index)?;
        if controller != "cgroup" && controller != "devices" {
            let enabled = delegate::list(&dir.join("cgroup.controllers"))?;
            if !enabled.iter().any(|c| c == controller) {
                let h = &self.tree.hierarchies[index];
                let parent = h.cgroup_dir(&self.tree.parents[index])?;
                if !delegate::list(&parent.join("cgroup.controllers"))?
                    .iter()
                    .any(|c| c == controller)
                {
                    return Err(missing("the kernel does not offer it on cgroup2".into()));
                }
                delegate::enable(&parent, controller).map_err(|e| CgroupError::Limit {
                    key: key.into(),
                    source: Box::new(e),
                })?;
            }
        }
        if controller == "devices" {
            return Err(CgroupError::DeviceRule { key: key.into() });
        }
        fs::write(&dir.join(file), value).map_err(|e| CgroupError::Limit {
            key: key.into(),
            source: Box::new(e),
        })
    }

    /// The payload directory that holds `file` for `lxc-cgroup`: the v1 hierarchy named by
    /// the file's prefix, else the cgroup2 directory if the file is there.
    fn file_dir(&self, file: &str) -> Result<PathBuf> {
        keys::check_file_name(file).map_err(|reason| CgroupError::InvalidKey {
            key: file.into(),
            reason,
        })?;
        let controller = file.split('.').next().unwrap_or(file);
        if let Some(dir) = self.payload_of(controller)? {
            return Ok(dir.to_path_buf());
        }
        if let Some(index) = self.v2_index() {
            let dir = self.payload(index)?;
            if dir.join(file).exists() {
                return Ok(dir.to_path_buf());
            }
        }
        let v2 = if self.v2_index().is_some() {
            " and the cgroup2 cgroup has no such file"
        } else {
            ""
        };
        Err(CgroupError::NoHierarchyFor {
            file: file.into(),
            reason: format!("no cgroup v1 hierarchy carries the {controller} controller{v2}"),
        })
    }
}

impl CgroupManager for V1Cgroups {
    fn tree(&self) -> &Tree {
        &self.tree
    }

    fn tree_mut(&mut self) -> &mut Tree {
        &mut self.tree
    }

    fn create_monitor(&mut self) -> Result<()> {
        self.tree.create(Which::Monitor, &init_dir)
    }

    fn create_payload(&mut self) -> Result<()> {
        self.tree.create(Which::Payload, &init_dir)
    }

    fn apply_limit(&self, key: &str, value: &str) -> Result<()> {
        match keys::parse_limit_key(key)? {
            LimitKey::V1 { controller, file } => self.apply_v1(key, value, controller, file),
            LimitKey::V2 { controller, file } => self.apply_v2(key, value, controller, file),
            LimitKey::V2Devices { file } => self.apply_v2(key, value, "devices", file),
        }
    }

    /// Device rules (see `device_keys`: the host's family, else the other one translated),
    /// in config order: to the v1 devices files, or, without a v1 devices controller, as
    /// the eBPF program on the cgroup2 payload. Nothing is skipped: with neither, the start
    /// fails.
    fn apply_device_rules(&self, rules: &[(String, String)]) -> Result<Vec<CgroupError>> {
        let devices_dir = self.payload_of("devices")?;
        let rules = device_keys::select(rules, devices_dir.is_none())?;
        let Some(first) = rules.first() else {
            return Ok(Vec::new());
        };
        if let Some(dir) = devices_dir {
            for r in &rules {
                let file = if r.allow {
                    "devices.allow"
                } else {
                    "devices.deny"
                };
                fs::write(&dir.join(file), r.value).map_err(|e| CgroupError::Limit {
                    key: r.key.into(),
                    source: Box::new(e),
                })?;
            }
        } else if let Some(index) = self.v2_index() {
            super::v2::attach_device_rules(self.payload(index)?, &rules)?;
        } else {
            return Err(CgroupError::NoDeviceController {
                key: first.key.into(),
            });
        }
        Ok(Vec::new())
    }

    fn get(&self, file: &str) -> Result<String> {
        let text = fs::read(&self.file_dir(file)?.join(file))?;
        Ok(text.strip_suffix('\n').unwrap_or(&text).to_string())
    }

    fn set(&self, file: &str, value: &str) -> Result<()> {
        fs::write(&self.file_dir(file)?.join(file), value)
    }

    fn freeze(&self, timeout: Duration) -> Result<()> {
        match (self.payload_of("freezer")?, self.v2_index()) {
            (Some(dir), _) => freezer::v1_set(dir, true, timeout),
            (None, Some(i)) => freezer::v2_set(self.payload(i)?, true, timeout),
            (None, None) => Err(CgroupError::NoFreezer),
        }
    }

    fn thaw(&self, timeout: Duration) -> Result<()> {
        match (self.payload_of("freezer")?, self.v2_index()) {
            (Some(dir), _) => freezer::v1_set(dir, false, timeout),
            (None, Some(i)) => freezer::v2_set(self.payload(i)?, false, timeout),
            (None, None) => Err(CgroupError::NoFreezer),
        }
    }

    fn is_frozen(&self) -> Result<bool> {
        match (self.payload_of("freezer")?, self.v2_index()) {
            (Some(dir), _) => freezer::v1_is_frozen(dir),
            (None, Some(i)) => freezer::v2_is_frozen(self.payload(i)?),
            (None, None) => Err(CgroupError::NoFreezer),
        }
    }

    fn kill_all_with(
        &self,
        kill: &mut dyn FnMut(Pid) -> nix::Result<()>,
        timeout: Duration,
    ) -> Result<()> {
        // On a hybrid host the processes are in the cgroup2 payload too: cgroup.kill there
        // kills them all at once, forks included. The loop then only confirms, or catches
        // what an older kernel (no cgroup.kill) leaves.
        let v2_dir = self.v2_index().map(|i| self.payload(i)).transpose()?;
        if let Some(dir) = v2_dir {
            match fs::write(&dir.join("cgroup.kill"), "1") {
                Err(e) if e.errno() != Some(Errno::ENOENT) => return Err(e),
                _ => {}
            }
        }
        let freezer = match (self.payload_of("freezer")?, v2_dir) {
            (Some(dir), _) => kill::Freezer::V1(dir),
            (None, Some(dir)) => kill::Freezer::V2(dir),
            (None, None) => kill::Freezer::None,
        };
        kill::kill_loop(self.procs_dir()?, freezer, kill, timeout)
    }

    fn stats(&self) -> Result<CgroupStats> {
        let mut out = CgroupStats::default();
        if let Some(dir) = self.payload_of("cpuacct")? {
            out.cpu_ns = stats::read_number(&dir.join("cpuacct.usage"))?;
        } else if let Some(i) = self.v2_index() {
            out.cpu_ns = stats::v2_cpu_ns(&self.payload(i)?.join("cpu.stat"))?;
        }
        if let Some(dir) = self.payload_of("memory")? {
            memory::stats(dir, &mut out)?;
        }
        if let Some(dir) = self.payload_of("blkio")? {
            out.blkio_bytes =
                match stats::v1_blkio_total(&dir.join("blkio.throttle.io_service_bytes"))? {
                    Some(total) => Some(total),
                    None => stats::v1_blkio_total(&dir.join("blkio.io_service_bytes"))?,
                };
        }
        Ok(out)
    }

    fn pids(&self) -> Result<Vec<Pid>> {
        fs::procs_recursive(self.procs_dir()?)
    }
}

#[cfg(test)]
mod tests;
