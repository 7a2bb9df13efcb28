//! `lxc-snapshot`: snapshots are ordinary containers `<lxcpath>/<name>/snaps/snapN`
//! with `ts` and `comment` files beside their config.

use std::fs;
use std::path::{Path, PathBuf};

use lxcrs_config::Config;
use lxcrs_storage::{self as storage, CreateSpec, Kind};

use super::copy::{rewrite_config, CloneOptions};
use crate::{interrupt, lock, Container, Error, Result};

/// Where an in-place restore builds the restored rootfs, beside the current one.
const RESTORE_SCRATCH: &str = ".lxcrs-restore";

/// One snapshot, as `lxc-snapshot -L` shows it.
#[derive(Debug, Clone)]
pub struct SnapshotInfo {
    /// `snapN`.
    pub name: String,
    /// The directory holding it (`<lxcpath>/<c>/snaps`).
    pub lxcpath: PathBuf,
    /// `ts`: `%Y:%m:%d %H:%M:%S`.
    pub timestamp: String,
    /// The comment file's path, when there is one.
    pub comment_path: Option<PathBuf>,
}

impl Container {
    fn snaps_dir(&self) -> PathBuf {
        self.dir().snaps()
    }

    /// Takes a snapshot `snapN` (first free N); returns its name. A `comment_file` is
    /// copied as its `comment`.
    pub fn snapshot(&mut self, comment_file: Option<&Path>) -> Result<String> {
        if !self.is_defined() {
            return Err(Error::NotDefined);
        }
        let cfg = self.load_config()?.clone();
        let rootfs = cfg
            .model()
            .rootfs
            .path
            .as_ref()
            .map(|p| p.to_string())
            .ok_or_else(|| Error::msg(format!("{} has no rootfs to snapshot", self.name())))?;
        let store = storage::open(&rootfs).map_err(Error::from)?;
        let caps = store.capabilities();
        if !caps.can_backup {
            return Err(Error::msg(format!(
                "the {} backing store cannot be snapshotted with lxc-snapshot",
                store.kind().name()
            )));
        }
        let comment = match comment_file {
            Some(p) => Some(fs::read(p).map_err(|e| Error::io("read comment file", p, e))?),
            None => None,
        };
        let snaps = self.snaps_dir();
        fs::create_dir_all(&snaps).map_err(|e| Error::io("create", &snaps, e))?;
        let name = (0..)
            .map(|n| format!("snap{n}"))
            .find(|n| !snaps.join(n).exists())
            .unwrap_or_default();
        if !caps.can_snapshot {
            eprintln!(
                "Snapshot of {}-backed container requested; making a copy-clone",
                store.kind().name()
            );
        }
        let r = self.clone(&CloneOptions {
            new_name: name.clone(),
            new_lxcpath: Some(snaps.clone()),
            bdev: None,
            snapshot: caps.can_snapshot,
            keep_name: true,
            keep_mac: true,
            fssize: None,
            allow_running: true,
            hook_args: Vec::new(),
            ephemeral: None,
        });
        if let Err(e) = r {
            let _ = fs::remove_dir(&snaps);
            return Err(e);
        }
        crate::failpoint!("snapshot.cloned");
        let d = snaps.join(&name);
        let ts = chrono_now();
        fs::write(d.join("ts"), format!("{ts}\n"))
            .map_err(|e| Error::io("write", d.join("ts"), e))?;
        crate::failpoint!("snapshot.ts");
        if let Some(c) = comment {
            fs::write(d.join("comment"), c)
                .map_err(|e| Error::io("write", d.join("comment"), e))?;
        }
        Ok(name)
    }

    /// The snapshots, oldest name first.
    pub fn snapshot_list(&self) -> Result<Vec<SnapshotInfo>> {
        if !self.is_defined() {
            return Err(Error::NotDefined);
        }
        let snaps = self.snaps_dir();
        let mut names = super::destroy::snapshots(&self.dir());
        names.sort_by_key(|n| {
            n.trim_start_matches("snap")
                .parse::<u64>()
                .unwrap_or(u64::MAX)
        });
        Ok(names
            .into_iter()
            .map(|n| {
                let d = snaps.join(&n);
                let ts = fs::read_to_string(d.join("ts"))
                    .map(|t| t.trim().to_string())
                    .unwrap_or_default();
                let c = d.join("comment");
                SnapshotInfo {
                    name: n,
                    lxcpath: snaps.clone(),
                    timestamp: ts,
                    comment_path: c.is_file().then_some(c),
                }
            })
            .collect())
    }

    /// Restores snapshot `snap` as `new_name` (a new container), or in place of this
    /// container when `new_name` is `None` or its own name.
    pub fn snapshot_restore(&mut self, snap: &str, new_name: Option<&str>) -> Result<()> {
        if let Some(n) = new_name.filter(|n| *n != self.name()) {
            crate::names::check_new_name(n)?;
        }
        if !self.is_defined() {
            return Err(Error::NotDefined);
        }
        let snaps = self.snaps_dir();
        let mut sc = Container::new(snap, Some(&snaps))?;
        if !sc.is_defined() {
            return Err(Error::NoSuchSnapshot {
                name: self.name().to_string(),
                snap: snap.to_string(),
            });
        }
        let target = new_name.unwrap_or(self.name()).to_string();
        if target != self.name() {
            let src_kind = storage::open(&rootfs_of(&mut sc)?)
                .map(|s| s.kind())
                .map_err(Error::from)?;
            sc.clone(&CloneOptions {
                new_name: target,
                new_lxcpath: Some(self.lxcpath().to_path_buf()),
                snapshot: matches!(src_kind, Kind::Overlay | Kind::Btrfs),
                keep_mac: true,
                ..Default::default()
            })?;
            return Ok(());
        }
        if self.is_running() {
            return Err(Error::Running {
                name: self.name().to_string(),
            });
        }
        let _guard = interrupt::Guard::install();
        // Re-checked under the lock, which a running container's monitor holds.
        let _lock = lock::lock_idle(self.lxcpath(), self.name(), || self.is_running())?;
        if self.is_running() {
            return Err(Error::Running {
                name: self.name().to_string(),
            });
        }
        self.restore_in_place(&mut sc)
    }

    /// `lxc-snapshot -r SNAP` in place, transactional: the restored rootfs and config are
    /// made beside the current ones, then put in their place by renames (undone if one
    /// fails); only then is the old rootfs destroyed. Until that point a failure, or an
    /// interrupt, leaves the container as it was.
    fn restore_in_place(&mut self, sc: &mut Container) -> Result<()> {
        let cur = rootfs_of(self)?;
        let cur_store = storage::open(&cur).map_err(Error::from)?;
        let snap_store = storage::open(&rootfs_of(sc)?).map_err(Error::from)?;
        let kind = cur_store.kind();
        // Beside the current store, so that renames can swap them.
        let base = cur_store.path().parent().unwrap_or(Path::new("/"));
        let scratch = base.join(format!("{RESTORE_SCRATCH}.{}", self.name()));
        storage::discard(cur_store.as_ref(), &scratch).map_err(|e| {
            Error::hint(
                format!("cannot remove what an earlier restore left: {e}"),
                format!("remove {} by hand, then try again", scratch.display()),
            )
        })?;
        let failed = |e: Error| {
            let _ = storage::discard(cur_store.as_ref(), &scratch);
            e.context(format!(
                "restoring {} from snapshot {} failed; the container is unchanged",
                self.name(),
                sc.name()
            ))
        };
        // 1. The restored rootfs, complete, in the scratch directory.
        let spec = CreateSpec::new(&scratch, self.name());
        let snapshot = kind == Kind::Overlay;
        let new = snap_store
            .clone_to(Some(kind), &spec, snapshot)
            .map_err(|e| failed(Error::from(e)))?;
        crate::failpoint!("restore.scratch");
        let restored = new
            .relocated(cur_store.path())
            .map(|s| s.rootfs_path())
            .unwrap_or_else(|| cur.clone());
        // 2. The config: the snapshot's, with our paths; checked before anything moves.
        let dir = self.dir();
        let text = fs::read_to_string(sc.config_path())
            .map_err(|e| failed(Error::io("read config", sc.config_path(), e)))?;
        let text = rewrite_config(&text, &sc.dir(), &dir, Some(&restored), true);
        let cfg = Config::parse(&text, &self.config_path()).map_err(|e| failed(e.into()))?;
        if let Some(sig) = interrupt::pending() {
            return Err(failed(Error::Interrupted {
                signal: sig,
                during: None,
            }));
        }
        // 3. Swap the stores, then the config (one rename); undo the swap if that fails.
        crate::failpoint!("restore.checked");
        let trash = scratch.join("old");
        let swapped = storage::replace(cur_store.as_ref(), new.as_ref(), &trash)
            .map_err(|e| failed(Error::from(e)))?;
        crate::failpoint!("restore.swapped");
        if let Err(e) = cfg.save(&self.config_path()) {
            let undo = swapped.undo();
            let e: Error = e.into();
            return Err(match undo {
                Ok(()) => failed(e),
                Err(u) => Error::msg(format!(
                    "restoring {} failed: {e}\nand putting its rootfs back failed too: {u}\nhint: its previous rootfs is in {}",
                    self.name(),
                    trash.display()
                )),
            });
        }
        self.set_config(cfg);
        crate::failpoint!("restore.config");
        // 4. Committed: the old rootfs goes.
        let cleanup = swapped
            .old()
            .destroy()
            .and_then(|()| storage::discard(cur_store.as_ref(), &scratch));
        crate::failpoint!("restore.cleanup");
        if let Err(e) = cleanup {
            // Only lxc-snapshot -r restores; the restore stands, so this is a warning,
            // not an error to return.
            eprintln!(
                "lxc-snapshot: {}: restored, but removing the previous rootfs failed: {e}\nhint: remove {} by hand",
                self.name(),
                scratch.display()
            );
        }
        Ok(())
    }

    /// Destroys snapshot `snap`, or every snapshot with `"ALL"`.
    pub fn snapshot_destroy(&mut self, snap: &str) -> Result<()> {
        if !self.is_defined() {
            return Err(Error::NotDefined);
        }
        let snaps = self.snaps_dir();
        let names = if snap == "ALL" {
            super::destroy::snapshots(&self.dir())
        } else {
            vec![snap.to_string()]
        };
        for n in names {
            let mut c = Container::new(&n, Some(&snaps))?;
            if !c.is_defined() {
                return Err(Error::NoSuchSnapshot {
                    name: self.name().to_string(),
                    snap: n.to_string(),
                });
            }
            c.destroy(true)?;
        }
        if fs::read_dir(&snaps).is_ok_and(|mut r| r.next().is_none()) {
            let _ = fs::remove_dir(&snaps);
        }
        Ok(())
    }
}

fn rootfs_of(c: &mut Container) -> Result<String> {
    c.load_config()?
        .model()
        .rootfs
        .path
        .as_ref()
        .map(|p| p.to_string())
        .ok_or_else(|| Error::msg(format!("{} has no rootfs", c.name())))
}

/// Local time as `%Y:%m:%d %H:%M:%S`.
fn chrono_now() -> String {
    let out = std::process::Command::new("date")
        .arg("+%Y:%m:%d %H:%M:%S")
        .output();
    match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        _ => String::new(),
    }
}
