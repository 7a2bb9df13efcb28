//! `Container::destroy`: storage (when managed), then the container directory.
//!
//! Refuses while the container runs, has snapshots or has clones depending on it
//! (unless asked to destroy those too). Never crosses into another filesystem, never
//! follows symlinks, never deletes a rootfs marked `lxc.rootfs.managed = 0`.

use std::fs;
use std::path::{Path, PathBuf};

use lxcrs_config::Config;

use super::dependents::dependents;
use super::ContainerDir;
use crate::partial::{Made, Transaction};
use crate::{lock, partial, Container, Error, Result};

impl Container {
    /// Destroys the container. With `with_snapshots`, its snapshots and dependent
    /// clones go first (`lxc-destroy -s`).
    pub fn destroy(&mut self, with_snapshots: bool) -> Result<()> {
        let (lxcpath, name) = (self.lxcpath().to_path_buf(), self.name().to_string());
        Self::destroy_at(&lxcpath, &name, with_snapshots, || {
            Ok(self.load_config()?.clone())
        })
    }

    /// [`Container::destroy`] of container `name` in `lxcpath`, with the config file of
    /// its directory, for a caller that holds no `Container` (the monitor of an
    /// ephemeral one).
    pub(crate) fn destroy_defined(lxcpath: &Path, name: &str, with_snapshots: bool) -> Result<()> {
        crate::paths::check_name(name)?;
        let config = ContainerDir::new(lxcpath, name).config();
        Self::destroy_at(lxcpath, name, with_snapshots, || Ok(Config::load(&config)?))
    }

    /// The destroy itself; `config` gives the container's config once it is known to be
    /// defined.
    fn destroy_at(
        lxcpath: &Path,
        name: &str,
        with_snapshots: bool,
        config: impl FnOnce() -> Result<Config>,
    ) -> Result<()> {
        // Locked from the checks on: a start or a clone of this container cannot slip in
        // between "not running, no clones" and the removal.
        // A running container's monitor holds the lock for the whole run: that is an
        // answer (running), not something to wait for.
        let _lock = lock::lock_idle(lxcpath, name, || Self::running_at(lxcpath, name))?;
        crate::failpoint!("destroy.locked");
        let dir = ContainerDir::new(lxcpath, name);
        if partial::recover_locked(&dir)? {
            return Err(Error::NotDefined);
        }
        if !dir.config().is_file() {
            return Err(Error::NotDefined);
        }
        if Self::running_at(lxcpath, name) {
            return Err(Error::Running {
                name: name.to_string(),
            });
        }
        remove_cgroup_leftovers(name);
        // Devices a killed monitor recorded and left on the host (nothing to do, and no
        // netlink, without a record).
        if let Err(e) = crate::start::net::cleanup_leftovers(lxcpath, name) {
            eprintln!("lxc-destroy: {name}: {e}");
        }
        // A clone that no longer exists (a copy killed before it was undone) holds
        // nothing back.
        let clones: Vec<(PathBuf, String)> = dependents(&dir)
            .into_iter()
            .filter(|(p, n)| {
                let d = ContainerDir::new(p, n);
                d.config().exists() || partial::is_partial(&d)
            })
            .collect();
        let snaps = snapshots(&dir);
        if !with_snapshots {
            // An overlay snapshot (`snaps/snapN`) is listed as a dependent too: it is one
            // of the snapshots, not a clone.
            let own_snaps = dir.snaps();
            if clones.iter().any(|(p, _)| *p != own_snaps) {
                return Err(Error::hint(
                    format!(
                        "{} has clones depending on it: {}",
                        name,
                        clones
                            .iter()
                            .filter(|(p, _)| *p != own_snaps)
                            .map(|(_, n)| n.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    "destroy them first, or use lxc-destroy -s to destroy them with it",
                ));
            }
            if !snaps.is_empty() || !clones.is_empty() {
                return Err(Error::hint(
                    format!("{name} has snapshots"),
                    "destroy them with lxc-snapshot -d ALL, or use lxc-destroy -s",
                ));
            }
        }
        for (lxcpath, name) in &clones {
            let mut c = Container::new(name, Some(lxcpath))?;
            if c.is_defined() {
                c.destroy(true)
                    .map_err(|e| e.context(format!("failed to destroy clone {name}")))?;
            }
        }
        for name in &snaps {
            let mut c = Container::new(name, Some(&dir.snaps()))?;
            if !c.is_defined() {
                // Already gone as one of the dependent clones above.
                continue;
            }
            c.destroy(true)
                .map_err(|e| e.context(format!("failed to destroy snapshot {name}")))?;
        }

        crate::failpoint!("destroy.dependents");
        let config = config()?;
        let model = config.model();
        let mut made = vec![Made::Dir];
        if model.rootfs.managed {
            if let Some(rp) = &model.rootfs.path {
                let value = match &rp.kind {
                    Some(k) => format!("{k}:{}", rp.path),
                    None => rp.path.clone(),
                };
                // A missing rootfs is no reason to keep a container around (LXC #877).
                if Path::new(&rp.path).exists() || rp.kind.as_deref().is_some_and(|k| k != "dir") {
                    // Checked now: a store that cannot be opened fails the destroy before
                    // anything is removed.
                    lxcrs_storage::open(&value).map_err(Error::from)?;
                    made.push(Made::Store(value));
                }
            }
        }
        // From here the container is on its way out: the marker says what to remove, so
        // that a destroy killed midway is finished by the next command (lxc-ls, lxc-start,
        // lxc-destroy…) instead of leaving a container with half a rootfs.
        let tx = Transaction::begin_with(&dir, made)?;
        crate::failpoint!("destroy.marked");
        drop_rdepend(&dir, lxcpath, name);
        crate::failpoint!("destroy.rdepend");
        tx.rollback()
    }

    /// True when the container's monitor answers (RUNNING, FROZEN, STARTING, …), when
    /// something we may not talk to holds its socket (a monitor we are not allowed to use,
    /// or a squatter), or when LXC's own monitor runs it.
    pub fn is_running(&self) -> bool {
        Self::running_at(self.lxcpath(), self.name())
    }

    /// [`Container::is_running`] of container `name` in `lxcpath`.
    fn running_at(lxcpath: &Path, name: &str) -> bool {
        use crate::commands::{Client, CommandError};
        match Client::connect(lxcpath, name) {
            Ok(Some(_)) => true,
            Err(CommandError::Denied { .. } | CommandError::Impostor { .. }) => true,
            Ok(None) | Err(_) => crate::commands::lxc::probe(lxcpath, name).is_some(),
        }
    }
}

/// The snapshots under `<dir>/snaps/`. One whose making or removal never finished
/// (killed) is finished now and not listed, nor one still being made.
pub fn snapshots(dir: &Path) -> Vec<String> {
    let snaps = ContainerDir::at(dir).snaps();
    let mut v: Vec<String> = fs::read_dir(&snaps)
        .map(|rd| {
            rd.flatten()
                .filter(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    if partial::is_partial(&e.path()) {
                        let _ = partial::recover(&snaps, &name);
                        return false;
                    }
                    ContainerDir::at(&e.path()).config().exists()
                })
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// If this container is a clone, removes it from its origin's `lxc_snapshots`.
fn drop_rdepend(dir: &Path, lxcpath: &Path, name: &str) {
    let Ok(text) = fs::read_to_string(ContainerDir::at(dir).rdepends_file()) else {
        return;
    };
    let mut it = text.lines();
    let (Some(olxcpath), Some(oname)) = (it.next(), it.next()) else {
        return;
    };
    let origin = Path::new(olxcpath).join(oname);
    super::dependents::remove_dependent(&origin, lxcpath, name);
}

/// The cgroups a killed monitor of this (stopped) container left, where its monitor
/// makes them (under init's cgroup as root, else under ours). Only empty ones go: a
/// same-named container of another lxcpath that runs keeps its own.
fn remove_cgroup_leftovers(name: &str) {
    use crate::cgroups::{CgroupLayout, Cgroups, Placement};
    let Ok(layout) = CgroupLayout::detect_host() else {
        return;
    };
    let placement = match std::fs::read_to_string("/proc/1/cgroup") {
        Ok(t) if crate::paths::is_root() => Placement::ProcCgroup(t),
        _ => Placement::Caller,
    };
    if let Ok(cg) = Cgroups::new(&layout, name, &placement) {
        cg.remove_leftovers();
    }
}
