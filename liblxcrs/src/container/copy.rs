//! `Container::clone` and `Container::rename` (`lxc-copy`).
//!
//! A clone is transactional like create: the new container directory is recorded in
//! its `partial` marker before anything goes in, the new backing store right after it
//! is made, and any failure (or a `kill -9`, undone by the next command) removes both.
//! The origin's `lxc_snapshots` is only appended to once everything else is in place.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use lxcrs_config::Config;
use lxcrs_storage::{self as storage, BackingStore, CreateSpec, Kind};

use super::create::begin_dir;
use super::dependents::{add_dependent, dependents, remove_dependent};
use crate::ephemeral::EphemeralOptions;
use crate::partial::{self, Made, Transaction};
use crate::{interrupt, lock, Container, Error, Result};

/// What `lxc-copy` asks for.
#[derive(Debug, Clone, Default)]
pub struct CloneOptions {
    /// `-N`: the new container's name.
    pub new_name: String,
    /// `-p`: the new container's lxcpath (default: the origin's).
    pub new_lxcpath: Option<PathBuf>,
    /// `-B`: the new backing store type (default: the origin's, see
    /// [`lxcrs_storage::clone_to`]).
    pub bdev: Option<String>,
    /// `-s`: a copy-on-write snapshot.
    pub snapshot: bool,
    /// `-K`: keep the hostname.
    pub keep_name: bool,
    /// `-M`: keep the MAC addresses.
    pub keep_mac: bool,
    /// `-L`: size of a new block store, bytes.
    pub fssize: Option<u64>,
    /// `-a`: allow cloning a running container.
    pub allow_running: bool,
    /// Arguments after `--`, for `lxc.hook.clone`.
    pub hook_args: Vec<String>,
    /// `-e`: what makes the clone ephemeral (`-D`, `-t`, `-m`), written into its config
    /// within the clone's transaction.
    pub ephemeral: Option<EphemeralOptions>,
}

impl Container {
    /// Clones this container into a new one; returns the new container. Nothing of the
    /// new container is left when it fails.
    pub fn clone(&mut self, opts: &CloneOptions) -> Result<Container> {
        crate::names::check_new_name(&opts.new_name)?;
        partial::recover(self.lxcpath(), self.name())?;
        // The origin is locked too, for the whole clone: a destroy of it cannot run
        // between its check for clones and ours adding one (origin first, then the new
        // container: the order every command takes two locks in).
        let _origin_lock =
            lock::lock_unless_running(self.lxcpath(), self.name(), || self.is_running())?;
        if !self.is_defined() {
            return Err(Error::NotDefined);
        }
        if !opts.allow_running && self.is_running() {
            return Err(Error::hint(
                format!("{} is running", self.name()),
                "stop it first, or use -a (--allowrunning) to clone it anyway",
            ));
        }
        let mut kind = match &opts.bdev {
            None => None,
            Some(b) => Some(Kind::parse(b).ok_or_else(|| {
                Error::msg(format!(
                    "invalid backing store type '{b}'\nhint: valid types are dir, btrfs, loop, overlay"
                ))
            })?),
        };
        let src_cfg_text = fs::read_to_string(self.config_path())
            .map_err(|e| Error::io("read config", self.config_path(), e))?;
        let src_cfg = self.load_config()?.clone();
        let src_rootfs = src_cfg.model().rootfs.path.as_ref().map(|p| p.to_string());
        if opts.ephemeral.as_ref().is_some_and(|e| e.tmpfs) {
            kind = Some(self.tmpfs_kind(opts, kind, src_rootfs.as_deref())?);
        }

        let new_lxcpath = opts
            .new_lxcpath
            .clone()
            .unwrap_or_else(|| self.lxcpath().to_path_buf());
        let mut new = Container::new(&opts.new_name, Some(&new_lxcpath))?;
        fs::create_dir_all(new.lxcpath())
            .map_err(|e| Error::io("create lxcpath", new.lxcpath(), e))?;
        let _guard = interrupt::Guard::install();
        // A copy onto itself exists already (and would wait for its own lock).
        if self.is_same(&new) {
            return Err(Error::Exists);
        }
        let _lock = lock::lock_idle(new.lxcpath(), new.name(), || new.is_running())?;
        let dir = new.dir();
        if partial::is_partial(&dir) {
            partial::recover_locked(&dir)?;
        }
        if new.is_defined() {
            return Err(Error::Exists);
        }
        let mut tx = begin_dir(&dir)?;
        crate::failpoint!("clone.dir");
        let r = self.clone_in(
            &mut tx,
            &new,
            opts,
            kind,
            &src_cfg_text,
            src_rootfs.as_deref(),
        );
        let r = r.and_then(|()| match interrupt::pending() {
            Some(signal) => Err(Error::Interrupted {
                signal,
                during: None,
            }),
            None => Ok(()),
        });
        match r {
            Ok(()) => {
                tx.commit()?;
                crate::failpoint!("clone.commit");
                let _ = new.load_config();
                Ok(new)
            }
            Err(e) => {
                // The origin must not list a clone that is gone.
                remove_dependent(&self.dir(), new.lxcpath(), new.name());
                if let Err(undo) = tx.rollback() {
                    return Err(Error::CleanupFailed {
                        source: Box::new(e),
                        undo: Box::new(undo),
                    });
                }
                Err(e)
            }
        }
    }

    /// `-t`: the clone must be an overlay snapshot (its delta goes on the tmpfs), so the
    /// origin must be something an overlay can sit on.
    fn tmpfs_kind(
        &self,
        opts: &CloneOptions,
        kind: Option<Kind>,
        src_rootfs: Option<&str>,
    ) -> Result<Kind> {
        let eph = opts.ephemeral.as_ref();
        if eph.is_some_and(|e| e.keep_data) {
            return Err(Error::hint(
                "-t (--tmpfs) cannot be combined with -D (--keepdata): what is on the tmpfs is lost when the container stops",
                "drop -D for a throwaway container, or drop -t to keep its data",
            ));
        }
        if kind.is_some_and(|k| k != Kind::Overlay) {
            return Err(Error::hint(
                format!(
                    "-t (--tmpfs) needs an overlay clone, not -B {}: only an overlay delta can be placed on a tmpfs",
                    opts.bdev.as_deref().unwrap_or_default()
                ),
                "drop -B (or use -B overlay) with -t",
            ));
        }
        let Some(r) = src_rootfs else {
            return Err(Error::msg(format!(
                "-t (--tmpfs): {} has no rootfs to make an overlay clone of",
                self.name()
            )));
        };
        let src = storage::open(r).map_err(Error::from)?;
        if src.kind() != Kind::Overlay && src.direct_tree().is_none() {
            return Err(Error::hint(
                format!(
                    "-t (--tmpfs) needs an overlay clone, and a {} container cannot be the lower directory of an overlay",
                    src.kind().name()
                ),
                "use -e without -t, or make a dir copy first (lxc-copy -B dir) and start the ephemeral container from that",
            ));
        }
        Ok(Kind::Overlay)
    }

    fn clone_in(
        &self,
        tx: &mut Transaction,
        new: &Container,
        opts: &CloneOptions,
        kind: Option<Kind>,
        src_cfg_text: &str,
        src_rootfs: Option<&str>,
    ) -> Result<()> {
        let dir = new.dir();
        let old_dir = self.dir();
        // 1. The rootfs.
        let new_store: Option<Box<dyn BackingStore>> = match src_rootfs {
            None => None,
            Some(v) => {
                let src = storage::open(v).map_err(Error::from)?;
                let spec = CreateSpec {
                    container_dir: dir.to_path_buf(),
                    name: new.name().to_string(),
                    dir: None,
                    fstype: None,
                    fssize: opts.fssize,
                };
                let s = src
                    .clone_to(kind, &spec, opts.snapshot)
                    .map_err(Error::from)?;
                tx.record(Made::Store(s.rootfs_path()))?;
                crate::failpoint!("clone.store");
                Some(s)
            }
        };
        // 2. The config, paths under the old container dir rewritten.
        let text = rewrite_config(
            src_cfg_text,
            &old_dir,
            &dir,
            new_store.as_ref().map(|s| s.rootfs_path()).as_deref(),
            opts.keep_mac,
        );
        let cfg_path = dir.config();
        let mut cfg = Config::parse(&text, &cfg_path)?;
        if !opts.keep_name {
            cfg.set_item("lxc.uts.name", new.name())?;
        }
        if let Some(e) = &opts.ephemeral {
            e.apply(&mut cfg, &dir)?;
        }
        cfg.save(&cfg_path)?;
        crate::failpoint!("clone.config");
        // Hook scripts that live in the old container dir go with it (LXC's copy_hooks).
        copy_hooks(src_cfg_text, &old_dir, &dir)?;
        // The fstab file, when it lives in the container dir.
        let fstab = old_dir.fstab();
        if fstab.is_file() {
            fs::copy(&fstab, dir.fstab()).map_err(|e| Error::io("copy fstab", &fstab, e))?;
        }
        crate::failpoint!("clone.files");
        // 3. Hostname in the rootfs and the clone hooks, with the rootfs mounted.
        let hooks = cfg.get_item("lxc.hook.clone").unwrap_or_default();
        let hooks: Vec<String> = hooks
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        if let Some(store) = &new_store {
            if !opts.keep_name || !hooks.is_empty() {
                let ctx = HookCtx {
                    name: new.name(),
                    src_name: self.name(),
                    config: &cfg_path,
                    rootfs_path: store.rootfs_path(),
                    args: &opts.hook_args,
                };
                let keep_name = opts.keep_name;
                storage::with_mounted(store.as_ref(), |root| -> Result<()> {
                    if !keep_name {
                        set_hostname_file(root, ctx.name)?;
                    }
                    for h in &hooks {
                        run_clone_hook(h, root, &ctx)?;
                    }
                    Ok(())
                })
                .map_err(Error::from)??;
            }
            crate::failpoint!("clone.hooks");
            // 4. Dependencies: the clone records its origin, the origin its clone.
            if store.needs_rdep() {
                let rdep = format!("{}\n{}\n", self.lxcpath().display(), self.name());
                let p = dir.rdepends_file();
                fs::write(&p, rdep).map_err(|e| Error::io("write", &p, e))?;
                crate::failpoint!("clone.rdepends");
                add_dependent(&old_dir, new.lxcpath(), new.name())?;
                crate::failpoint!("clone.dependent");
            }
        }
        Ok(())
    }

    /// `lxc-copy -R`: renames the container (its directory and every path under it in
    /// its config). Refused while it runs or while clones depend on it.
    pub fn rename(&mut self, new_name: &str) -> Result<Container> {
        crate::names::check_new_name(new_name)?;
        partial::recover(self.lxcpath(), self.name())?;
        if !self.is_defined() {
            return Err(Error::NotDefined);
        }
        if self.is_running() {
            return Err(Error::Running {
                name: self.name().to_string(),
            });
        }
        let mut new = Container::new(new_name, Some(self.lxcpath()))?;
        let old_dir = self.dir();
        if !dependents(&old_dir).is_empty() || !super::destroy::snapshots(&old_dir).is_empty() {
            return Err(Error::hint(
                format!("{} has snapshots or clones depending on it", self.name()),
                "destroy them first (lxc-destroy -s destroys them with it), or clone it with lxc-copy instead",
            ));
        }
        if self.is_same(&new) {
            return Err(Error::Exists);
        }
        let _l1 = lock::lock_idle(self.lxcpath(), self.name(), || self.is_running())?;
        let _l2 = lock::lock_idle(new.lxcpath(), new.name(), || new.is_running())?;
        let dir = new.dir();
        if new.is_defined() || dir.exists() {
            return Err(Error::Exists);
        }
        let text = fs::read_to_string(self.config_path())
            .map_err(|e| Error::io("read config", self.config_path(), e))?;
        let cfg_path = old_dir.config();
        let new_text = rewrite_config(&text, &old_dir, &dir, None, true);
        let mut cfg = Config::parse(&new_text, &dir.config())?;
        cfg.set_item("lxc.uts.name", new_name)?;
        let rootfs = cfg.model().rootfs.path.as_ref().map(|p| p.to_string());
        if let Some(r) = &rootfs {
            let s = r.replace(&old_dir.display().to_string(), &dir.display().to_string());
            cfg.set_item("lxc.rootfs.path", &s)?;
        }
        fs::rename(&old_dir, &dir).map_err(|e| Error::io("rename", old_dir.path(), e))?;
        if let Err(e) = cfg.save(&dir.config()) {
            let _ = fs::rename(&dir, &old_dir);
            return Err(e.into());
        }
        let _ = cfg_path;
        // A clone moves in its origin's list.
        if let Ok(t) = fs::read_to_string(dir.rdepends_file()) {
            let mut it = t.lines();
            if let (Some(p), Some(n)) = (it.next(), it.next()) {
                let origin = Path::new(p).join(n);
                remove_dependent(&origin, self.lxcpath(), self.name());
                let _ = add_dependent(&origin, new.lxcpath(), new.name());
            }
        }
        if rootfs
            .as_deref()
            .is_some_and(|r| !r.starts_with("loop:") && !r.starts_with("overlay"))
        {
            let _ = set_hostname_file(&dir.rootfs(), new_name);
        }
        let _ = new.load_config();
        Ok(new)
    }
}

/// Rewrites a config for a clone: `lxc.rootfs.path` (when `rootfs` is given), paths
/// under `old_dir` in hooks and mount lines, and (unless `keep_mac`) every
/// `lxc.net.N.hwaddr` to a new random address.
pub(crate) fn rewrite_config(
    text: &str,
    old_dir: &Path,
    new_dir: &Path,
    rootfs: Option<&str>,
    keep_mac: bool,
) -> String {
    let old = old_dir.display().to_string();
    let new = new_dir.display().to_string();
    let mut out = String::new();
    let mut had_rootfs = false;
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let key = k.trim();
        let val = v.trim();
        let replaced = if key == "lxc.rootfs.path" && rootfs.is_some() {
            had_rootfs = true;
            Some(rootfs.unwrap_or_default().to_string())
        } else if key.starts_with("lxc.net.") && key.ends_with(".hwaddr") && !keep_mac {
            Some(random_hwaddr())
        } else if key.starts_with("lxc.hook.")
            || key.starts_with("lxc.mount.entry")
            || key == "lxc.mount.fstab"
            || key == "lxc.rootfs.path"
            || key == "lxc.console.logfile"
            || key == "lxc.console.path"
            || key == "lxc.log.file"
        {
            Some(replace_dir(val, &old, &new))
        } else {
            None
        };
        match replaced {
            Some(nv) => out.push_str(&format!("{key} = {nv}\n")),
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    if !had_rootfs {
        if let Some(r) = rootfs {
            out.push_str(&format!("lxc.rootfs.path = {r}\n"));
        }
    }
    out
}

/// Replaces `old` (a directory) by `new` where it appears as a whole path component.
fn replace_dir(v: &str, old: &str, new: &str) -> String {
    let mut out = String::new();
    let mut rest = v;
    while let Some(i) = rest.find(old) {
        let after = &rest[i + old.len()..];
        let boundary = after.is_empty() || after.starts_with(['/', ' ', ':', ',', '\t']);
        out.push_str(&rest[..i]);
        out.push_str(if boundary { new } else { old });
        rest = after;
    }
    out.push_str(rest);
    out
}

/// `00:16:3e:xx:xx:xx`, LXC's prefix.
fn random_hwaddr() -> String {
    let b = random_bytes::<3>();
    format!("00:16:3e:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2])
}

pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    if let Ok(mut f) = fs::File::open("/dev/urandom") {
        let _ = f.read_exact(&mut b);
    }
    b
}

/// A random `SRC_XXXXXX` name for an ephemeral clone.
pub fn random_name(src: &str) -> String {
    const CH: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let b = random_bytes::<6>();
    let s: String = b
        .iter()
        .map(|x| CH[*x as usize % CH.len()] as char)
        .collect();
    format!("{src}_{s}")
}

/// Copies each `lxc.hook.*` program under `old_dir` to the same place under `new_dir`.
fn copy_hooks(text: &str, old_dir: &Path, new_dir: &Path) -> Result<()> {
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        if !k.trim().starts_with("lxc.hook.") {
            continue;
        }
        let Some(prog) = v.split_whitespace().next() else {
            continue;
        };
        let Ok(rel) = Path::new(prog).strip_prefix(old_dir) else {
            continue;
        };
        let (from, to) = (old_dir.join(rel), new_dir.join(rel));
        if from.is_file() && !to.exists() {
            if let Some(parent) = to.parent() {
                fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
            }
            fs::copy(&from, &to).map_err(|e| Error::io("copy hook", &from, e))?;
        }
    }
    Ok(())
}

/// Rewrites `/etc/hostname` of a rootfs when it is a plain file.
fn set_hostname_file(root: &Path, name: &str) -> Result<()> {
    let p = root.join("etc/hostname");
    match fs::symlink_metadata(&p) {
        Ok(m) if m.is_file() => {
            fs::write(&p, format!("{name}\n")).map_err(|e| Error::io("write", &p, e))
        }
        _ => Ok(()),
    }
}

struct HookCtx<'a> {
    name: &'a str,
    src_name: &'a str,
    config: &'a Path,
    rootfs_path: String,
    args: &'a [String],
}

/// `lxc.hook.clone`: `HOOK name lxc clone ARGS…` with LXC's environment.
fn run_clone_hook(hook: &str, root: &Path, ctx: &HookCtx) -> Result<()> {
    let mut parts = hook.split_whitespace();
    let Some(prog) = parts.next() else {
        return Ok(());
    };
    let status = Command::new(prog)
        .args(parts)
        .arg(ctx.name)
        .arg("lxc")
        .arg("clone")
        .args(ctx.args)
        .env("LXC_ROOTFS_MOUNT", root)
        .env("LXC_CONFIG_FILE", ctx.config)
        .env("LXC_NAME", ctx.name)
        .env("LXC_SRC_NAME", ctx.src_name)
        .env("LXC_ROOTFS_PATH", &ctx.rootfs_path)
        .status()
        .map_err(|e| Error::io("run clone hook", hook, e))?;
    if !status.success() {
        return Err(Error::msg(format!("clone hook {hook} failed ({status})")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_rewrite() {
        let t = "lxc.rootfs.path = dir:/l/a/rootfs\nlxc.uts.name = a\nlxc.net.0.hwaddr = 00:16:3e:00:00:01\nlxc.hook.pre-start = /l/a/hook.sh\nlxc.mount.entry = /l/ab x none bind 0 0\n# c\n";
        let o = rewrite_config(
            t,
            Path::new("/l/a"),
            Path::new("/m/b"),
            Some("dir:/m/b/rootfs"),
            false,
        );
        assert!(o.contains("lxc.rootfs.path = dir:/m/b/rootfs\n"));
        assert!(o.contains("lxc.hook.pre-start = /m/b/hook.sh\n"));
        assert!(o.contains("lxc.mount.entry = /l/ab x"));
        assert!(!o.contains("00:16:3e:00:00:01"));
        assert!(o.contains("# c\n"));
        let o = rewrite_config(t, Path::new("/l/a"), Path::new("/m/b"), None, true);
        assert!(o.contains("00:16:3e:00:00:01"));
        assert!(random_name("c").starts_with("c_") && random_name("c").len() == 8);
    }
}
