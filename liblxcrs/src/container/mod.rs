//! The `Container` handle: a name in an lxcpath, and its config once loaded.

use std::path::{Path, PathBuf};

use lxcrs_config::Config;

use crate::paths;
use crate::{Error, Result};

mod console;
mod copy;
mod create;
mod dependents;
mod destroy;
pub(crate) mod runtime;
mod snapshot;

pub use crate::container_dir::{ContainerDir, RDEPENDS_FILE, SNAPSHOTS_FILE};
pub use copy::{random_name, CloneOptions};
pub use create::CreateOptions;
pub use dependents::dependents;
pub use destroy::snapshots;
pub use runtime::{blocks_signal, halt_signal, monitor_binary, print_start_failed, Started};
pub use snapshot::SnapshotInfo;

/// A container, named in an lxcpath. Cheap to make; nothing is read until asked.
#[derive(Debug)]
pub struct Container {
    name: String,
    lxcpath: PathBuf,
    rcfile: Option<PathBuf>,
    config: Option<Config>,
}

impl Container {
    /// True when `other` names this same container (lxcpaths compared canonically).
    pub(crate) fn is_same(&self, other: &Container) -> bool {
        self.name() == other.name()
            && crate::paths::canonical_lxcpath(self.lxcpath())
                == crate::paths::canonical_lxcpath(other.lxcpath())
    }

    /// A handle on container `name` in `lxcpath` (the default lxcpath when `None`).
    pub fn new(name: &str, lxcpath: Option<&Path>) -> Result<Container> {
        paths::check_name(name)?;
        Ok(Container {
            name: name.to_string(),
            lxcpath: paths::lxcpath(lxcpath)?,
            rcfile: None,
            config: None,
        })
    }

    /// The container's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The lxcpath the container lives in.
    pub fn lxcpath(&self) -> &Path {
        &self.lxcpath
    }

    /// `<lxcpath>/<name>` and the files in it.
    pub fn dir(&self) -> ContainerDir {
        ContainerDir::new(&self.lxcpath, &self.name)
    }

    /// The config file in use: the rcfile if one was set, else `<lxcpath>/<name>/config`.
    pub fn config_path(&self) -> PathBuf {
        self.dir().config_in_use(self.rcfile.as_deref())
    }

    /// The rcfile set with [`Container::set_rcfile`], unless it is the container's own
    /// `<lxcpath>/<name>/config`: what a command run on our behalf must be told to read.
    pub fn rcfile(&self) -> Option<&Path> {
        self.rcfile
            .as_deref()
            .filter(|p| *p != self.dir().config().as_path())
    }

    /// Use this file instead of `<lxcpath>/<name>/config` (`--rcfile`); drops a loaded config.
    pub fn set_rcfile(&mut self, path: &Path) {
        self.rcfile = Some(path.to_path_buf());
        self.config = None;
    }

    /// True when the container's config file exists (LXC's `is_defined`).
    pub fn is_defined(&self) -> bool {
        self.dir().config().is_file()
    }

    /// Loads (once) and returns the config.
    pub fn load_config(&mut self) -> Result<&mut Config> {
        if self.config.is_none() {
            let path = self.config_path();
            if !path.exists() {
                return Err(if self.rcfile.is_some() {
                    Error::hint(
                        format!("config file {} does not exist", path.display()),
                        "check the path given with --rcfile",
                    )
                } else {
                    Error::NotDefined
                });
            }
            self.config = Some(Config::load(&path)?);
        }
        // The branch above filled it.
        self.config.as_mut().ok_or(Error::NotDefined)
    }

    /// The loaded config, if any.
    pub fn config(&self) -> Option<&Config> {
        self.config.as_ref()
    }

    /// Replaces the in-memory config (used by create and by `lxc-start -f`).
    pub fn set_config(&mut self, config: Config) {
        self.config = Some(config);
    }

    /// Saves the in-memory config to `<lxcpath>/<name>/config`.
    pub fn save_config(&self) -> Result<()> {
        match &self.config {
            Some(c) => Ok(c.save(&self.dir().config())?),
            None => Err(Error::msg("no config loaded to save")),
        }
    }

    /// LXC's `get_config_item` on the file config.
    pub fn get_config_item(&mut self, key: &str) -> Result<String> {
        Ok(self.load_config()?.get_item(key)?)
    }

    /// LXC's `set_config_item` on the in-memory config (call [`Container::save_config`] to keep it).
    pub fn set_config_item(&mut self, key: &str, value: &str) -> Result<()> {
        Ok(self.load_config()?.set_item(key, value)?)
    }
}
