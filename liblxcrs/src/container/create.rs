//! `Container::create`: transactional, like nothing LXC does.
//!
//! Everything is checked before anything is made (template found, config parsed,
//! backing store type valid). Then, under the container's lock, every step is recorded
//! in the `partial` marker before it happens; any failure — template error, bad config
//! line, full disk, Ctrl-C — undoes it all, and a crash is undone by the next command.
//! A rootfs directory the user supplied (`--dir`, or `lxc.rootfs.path` in `-f`) is
//! never deleted: when it already held files it is used as is and marked
//! `lxc.rootfs.managed = 0`, so that `lxc-destroy` leaves it too.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use lxcrs_config::Config;
use lxcrs_storage::{self as storage, CreateSpec, Kind};

use crate::partial::{self, Made, Transaction};
use crate::{interrupt, lock, paths, template, Container, Error, Result};

/// What `lxc-create` asks for.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// `-t`: a template name or path; `None` for `-t none`.
    pub template: Option<String>,
    /// Arguments after `--`, passed to the template.
    pub template_args: Vec<String>,
    /// `-f`: the initial config instead of `lxc.default_config`.
    pub config_file: Option<PathBuf>,
    /// `-B`: backing store type list (default `dir`).
    pub bdev: Option<String>,
    /// `--dir`: rootfs directory for the dir backend.
    pub dir: Option<PathBuf>,
    /// `--fstype` for block backends.
    pub fstype: Option<String>,
    /// `--fssize` in bytes for block backends.
    pub fssize: Option<u64>,
    /// `-q`: template output to /dev/null.
    pub quiet: bool,
}

impl Container {
    /// Creates the container: config, rootfs, template run. Nothing is left on failure.
    pub fn create(&mut self, opts: &CreateOptions) -> Result<()> {
        // 1. Check everything that can be checked before touching the disk.
        crate::names::check_new_name(self.name())?;
        let tpath = opts.template.as_deref().map(template::find).transpose()?;
        let kinds =
            storage::parse_bdev_list(opts.bdev.as_deref().unwrap_or("dir")).map_err(Error::from)?;
        let mut config = initial_config(opts.config_file.as_deref())?;
        if let Some(d) = &opts.dir {
            if !d.is_absolute() {
                return Err(Error::hint(
                    format!("--dir {}: not an absolute path", d.display()),
                    "give the rootfs directory as an absolute path",
                ));
            }
        }

        fs::create_dir_all(self.lxcpath())
            .map_err(|e| Error::io("create lxcpath", self.lxcpath(), e))?;
        let _guard = interrupt::Guard::install();
        let _lock = lock::lock_idle(self.lxcpath(), self.name(), || self.is_running())?;
        let dir = self.dir();
        if partial::is_partial(&dir) {
            partial::recover_locked(&dir)?;
        }
        if self.is_defined() {
            return Err(Error::Exists);
        }

        // 2. The container directory, recorded before anything goes in.
        let mut tx = begin_dir(&dir)?;
        crate::failpoint!("create.dir");
        let result = self.create_in(&mut tx, &mut config, tpath.as_deref(), &kinds, opts);
        let result = result.and_then(|()| match interrupt::pending() {
            Some(signal) => Err(Error::Interrupted {
                signal,
                during: None,
            }),
            None => Ok(()),
        });
        match result {
            Ok(()) => {
                tx.commit()?;
                crate::failpoint!("create.commit");
                self.set_config(config);
                Ok(())
            }
            Err(e) => {
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

    fn create_in(
        &mut self,
        tx: &mut Transaction,
        config: &mut Config,
        tpath: Option<&Path>,
        kinds: &[Kind],
        opts: &CreateOptions,
    ) -> Result<()> {
        let dir = self.dir();
        let cfg_path = dir.config();
        // 3. The rootfs: --dir, or lxc.rootfs.path from -f, or <dir>/rootfs.
        let user_rootfs = opts.dir.clone().or_else(|| {
            config
                .model()
                .rootfs
                .path
                .as_ref()
                .filter(|p| p.kind.as_deref().unwrap_or("dir") == "dir")
                .map(|p| PathBuf::from(&p.path))
        });
        let mut store_made: Option<Box<dyn storage::BackingStore>> = None;
        let rootfs: Option<PathBuf> = match (&user_rootfs, tpath) {
            (Some(p), _) => {
                self.take_user_rootfs(tx, config, p, tpath.is_some())?;
                config.set_item("lxc.rootfs.path", &format!("dir:{}", p.display()))?;
                Some(p.clone())
            }
            (None, None) => None,
            (None, Some(_)) => {
                let spec = CreateSpec {
                    container_dir: dir.to_path_buf(),
                    name: self.name().to_string(),
                    dir: None,
                    fstype: opts.fstype.clone(),
                    fssize: opts.fssize,
                };
                let store = create_store(tx, kinds, &spec)?;
                config.set_item("lxc.rootfs.path", &store.rootfs_path())?;
                store_made = Some(store);
                crate::failpoint!("create.store");
                None
            }
        };
        config.save(&cfg_path)?;

        crate::failpoint!("create.config");
        // 4. The template fills the rootfs and appends to the config. A store without a
        // tree of its own (loop) is mounted for it in a private mount namespace.
        let Some(tpath) = tpath else { return Ok(()) };
        let run = |root: &Path| {
            template::run(
                tpath,
                self.name(),
                &dir,
                root,
                &opts.template_args,
                opts.quiet,
            )
        };
        match (&rootfs, &store_made) {
            (Some(p), _) => run(p)?,
            (None, Some(store)) => match store.template_target() {
                Some(t) => run(t)?,
                None => storage::with_mounted(store.as_ref(), |root| run(root))
                    .map_err(Error::from)??,
            },
            (None, None) => run(&dir.rootfs())?,
        }

        crate::failpoint!("create.template");
        // 5. What the template wrote must parse; then the header goes on top.
        let mut done = Config::load(&cfg_path)?;
        let share_config = paths::share_dirs()
            .into_iter()
            .map(|d| d.join("config"))
            .find(|d| d.is_dir())
            .unwrap_or_else(|| PathBuf::from("/usr/share/lxc/config"));
        done.prepend_text(&template::header(tpath, &opts.template_args, &share_config));
        done.save(&cfg_path)?;
        crate::failpoint!("create.header");
        *config = done;
        Ok(())
    }

    /// A user-supplied rootfs directory: made (and owned) if missing; if it exists and a
    /// template will run it must be empty; in every case it is never deleted.
    fn take_user_rootfs(
        &self,
        tx: &mut Transaction,
        config: &mut Config,
        p: &Path,
        template: bool,
    ) -> Result<()> {
        match fs::read_dir(p) {
            Err(_) if !p.exists() => {
                tx.record(Made::Rootfs(p.to_path_buf()))?;
                fs::create_dir_all(p).map_err(|e| Error::io("create rootfs directory", p, e))?;
            }
            Err(e) => return Err(Error::io("read rootfs directory", p, e)),
            Ok(mut rd) => {
                let empty = rd.next().is_none();
                if template && !empty {
                    return Err(Error::hint(
                        format!("rootfs directory {} is not empty, and the template would write into your files", p.display()),
                        "give a new or empty directory, or use -t none to make a container of this tree as it is",
                    ));
                }
                if empty && template {
                    tx.record(Made::EmptyRootfs(p.to_path_buf()))?;
                }
                // Existing user data: lxc-destroy must leave it alone.
                config.set_item("lxc.rootfs.managed", "0")?;
            }
        }
        Ok(())
    }
}

/// Creates the first store of `kinds` that can be made and records it in the marker (a
/// failed attempt removes what it made itself; a loop image or plain directory left by a
/// crash in between is inside the container dir, which the marker removes anyway).
fn create_store(
    tx: &mut Transaction,
    kinds: &[Kind],
    spec: &CreateSpec,
) -> Result<Box<dyn storage::BackingStore>> {
    let store = storage::create_first(kinds, spec).map_err(Error::from)?;
    tx.record(Made::Store(store.rootfs_path()))?;
    Ok(store)
}

/// `-f FILE`, else `lxc.default_config` when it exists, else an empty config.
fn initial_config(explicit: Option<&Path>) -> Result<Config> {
    if let Some(p) = explicit {
        if !p.exists() {
            return Err(Error::hint(
                format!("config file {} does not exist", p.display()),
                "check the path given with -f",
            ));
        }
        return Ok(Config::load(p)?);
    }
    let sys = paths::system_config()?;
    if sys.default_config.exists() {
        Ok(Config::load(&sys.default_config)?)
    } else {
        Ok(Config::new())
    }
}

/// Makes `<lxcpath>/<name>` (0770) and starts the transaction in it. An existing empty
/// directory (left by a crash before the marker, or made by hand) is taken over.
pub(crate) fn begin_dir(dir: &Path) -> Result<Transaction> {
    match fs::DirBuilder::new().mode(0o770).create(dir) {
        Ok(()) => {
            // mode() is filtered by the umask; LXC's container dirs are 0770.
            let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o770));
            Transaction::begin_with(dir, vec![Made::Dir])
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            // A marker's temporary file alone is what a crash before its first write
            // leaves.
            let empty = fs::read_dir(dir)
                .map(|r| {
                    r.flatten()
                        .all(|e| e.file_name() == format!(".{}.tmp", partial::MARKER).as_str())
                })
                .unwrap_or(false);
            if !empty {
                return Err(Error::hint(
                    format!(
                        "{} exists and is not empty, but holds no container config",
                        dir.display()
                    ),
                    "move it away or remove it, then create the container again",
                ));
            }
            Transaction::begin_with(dir, vec![Made::EmptiedDir])
        }
        Err(e) => Err(Error::io("create container directory", dir, e)),
    }
}
