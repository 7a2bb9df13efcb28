//! A container's directory, `<lxcpath>/<name>`, and the names of the files LXC keeps
//! there: the one place that spells them. [`ContainerDir`] derefs to its [`Path`], so it
//! goes wherever a directory path does.

use std::ops::Deref;
use std::path::{Path, PathBuf};

/// The file in `<lxcpath>/<origin>` listing the snapshots taken of origin by other
/// containers (`lxc-copy -s` overlay clones): `<lxcpath>\n<name>\n` pairs.
pub const SNAPSHOTS_FILE: &str = "lxc_snapshots";
/// The file in a snapshot clone's directory naming its origin (`<lxcpath>\n<name>\n`).
pub const RDEPENDS_FILE: &str = "lxc_rdepends";
/// The creation marker (`crate::partial`): an operation on the container not finished yet.
pub const MARKER: &str = "partial";

/// `<lxcpath>/<name>`, with a method for each file in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerDir(PathBuf);

impl ContainerDir {
    /// The directory of container `name` in `lxcpath`.
    pub fn new(lxcpath: &Path, name: &str) -> ContainerDir {
        ContainerDir(lxcpath.join(name))
    }

    /// The directory at `path` (already `<lxcpath>/<name>`).
    pub fn at(path: &Path) -> ContainerDir {
        ContainerDir(path.to_path_buf())
    }

    /// The directory itself.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// `config`: the container's config file; its existence defines the container.
    pub fn config(&self) -> PathBuf {
        self.0.join("config")
    }

    /// The config file a command reads: `rcfile` (`-f`/`--rcfile`) when given, else
    /// [`ContainerDir::config`].
    pub fn config_in_use(&self, rcfile: Option<&Path>) -> PathBuf {
        rcfile.map_or_else(|| self.config(), Path::to_path_buf)
    }

    /// `partial`: the marker of a create, copy or snapshot still under way (or crashed).
    pub fn partial(&self) -> PathBuf {
        self.0.join(MARKER)
    }

    /// `rootfs`: the default root filesystem directory.
    pub fn rootfs(&self) -> PathBuf {
        self.0.join("rootfs")
    }

    /// `snaps`: the lxcpath of the container's own snapshots (`lxc-snapshot`).
    pub fn snaps(&self) -> PathBuf {
        self.0.join("snaps")
    }

    /// `fstab`: the file `lxc.mount.fstab` usually names.
    pub fn fstab(&self) -> PathBuf {
        self.0.join("fstab")
    }

    /// `overlay`: the upper and work directories of an ephemeral copy's `-m overlay=…`
    /// mounts (and what its `-t` tmpfs covers).
    pub fn overlay(&self) -> PathBuf {
        self.0.join("overlay")
    }

    /// [`SNAPSHOTS_FILE`]: who took snapshots of this container.
    pub fn snapshots_file(&self) -> PathBuf {
        self.0.join(SNAPSHOTS_FILE)
    }

    /// [`RDEPENDS_FILE`]: the origin this snapshot clone depends on.
    pub fn rdepends_file(&self) -> PathBuf {
        self.0.join(RDEPENDS_FILE)
    }
}

impl Deref for ContainerDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for ContainerDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl From<ContainerDir> for PathBuf {
    fn from(d: ContainerDir) -> PathBuf {
        d.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_named_as_lxc_names_them() {
        let d = ContainerDir::new(Path::new("/var/lib/lxc"), "c1");
        assert_eq!(d.path(), Path::new("/var/lib/lxc/c1"));
        assert_eq!(d.config(), Path::new("/var/lib/lxc/c1/config"));
        assert_eq!(d.partial(), Path::new("/var/lib/lxc/c1/partial"));
        assert_eq!(d.rootfs(), Path::new("/var/lib/lxc/c1/rootfs"));
        assert_eq!(d.snaps(), Path::new("/var/lib/lxc/c1/snaps"));
        assert_eq!(d.fstab(), Path::new("/var/lib/lxc/c1/fstab"));
        assert_eq!(d.overlay(), Path::new("/var/lib/lxc/c1/overlay"));
        assert_eq!(
            d.snapshots_file(),
            Path::new("/var/lib/lxc/c1/lxc_snapshots")
        );
        assert_eq!(d.rdepends_file(), Path::new("/var/lib/lxc/c1/lxc_rdepends"));
    }

    #[test]
    fn rcfile_wins_over_the_config() {
        let d = ContainerDir::new(Path::new("/l"), "c");
        assert_eq!(d.config_in_use(None), Path::new("/l/c/config"));
        assert_eq!(
            d.config_in_use(Some(Path::new("/tmp/rc"))),
            Path::new("/tmp/rc")
        );
    }
}
