//! Root filesystem (`lxc.rootfs.*`).

use std::fmt;

use crate::error::{ConfigError, Result};

/// Storage types LXC accepts as a `lxc.rootfs.path` prefix.
pub const ROOTFS_TYPES: &[&str] = &[
    "dir",
    "btrfs",
    "zfs",
    "lvm",
    "loop",
    "overlay",
    "overlayfs",
    "nbd",
    "rbd",
];

/// `lxc.rootfs.path = [type:]path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootfsPath {
    /// The backend type prefix as written (`dir`, `btrfs`, `zfs`, `lvm`, `loop`,
    /// `overlay`/`overlayfs`, `nbd`, `rbd`), or `None` for a bare path.
    pub kind: Option<String>,
    /// The rest: a directory, device, image file, dataset, `lower:upper` for overlay,
    /// `file[:part]` for nbd, `pool/name` for rbd.
    pub path: String,
}

impl RootfsPath {
    /// Split the type prefix off. Unknown word prefixes are an error; a colon inside
    /// a path (e.g. `/a:b`) is not a prefix.
    pub fn parse(s: &str) -> Result<RootfsPath> {
        if s.is_empty() {
            return Err(ConfigError::value("empty rootfs path"));
        }
        if let Some((prefix, rest)) = s.split_once(':') {
            if ROOTFS_TYPES.contains(&prefix) {
                if rest.is_empty() {
                    return Err(ConfigError::value(format!(
                        "missing path after '{prefix}:'"
                    )));
                }
                return Ok(RootfsPath {
                    kind: Some(prefix.to_string()),
                    path: rest.to_string(),
                });
            }
            let word = !prefix.is_empty() && prefix.bytes().all(|b| b.is_ascii_alphanumeric());
            if word && !s.starts_with('/') {
                return Err(ConfigError::value_hint(
                    format!("unknown storage type '{prefix}'"),
                    format!("known types: {}", ROOTFS_TYPES.join(", ")),
                ));
            }
        }
        Ok(RootfsPath {
            kind: None,
            path: s.to_string(),
        })
    }

    /// The backend type with `dir` as default and `overlayfs` normalised to `overlay`.
    pub fn backend(&self) -> &str {
        match self.kind.as_deref() {
            None => "dir",
            Some("overlayfs") => "overlay",
            Some(k) => k,
        }
    }
}

impl fmt::Display for RootfsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Some(k) => write!(f, "{k}:{}", self.path),
            None => f.write_str(&self.path),
        }
    }
}

/// Root filesystem settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rootfs {
    pub path: Option<RootfsPath>,
    /// `lxc.rootfs.mount`: staging mount point; default `<libdir>/lxc/rootfs`.
    pub mount: Option<String>,
    /// `lxc.rootfs.options`: mount options for the rootfs (may include `idmap=`).
    pub options: Option<String>,
    /// `lxc.rootfs.managed` (default true): LXC created the storage and may destroy it.
    pub managed: bool,
}

impl Default for Rootfs {
    fn default() -> Self {
        Rootfs {
            path: None,
            mount: None,
            options: None,
            managed: true,
        }
    }
}

/// Validate `lxc.rootfs.options`: LXC's own mount-entry options make no sense here.
pub fn check_rootfs_options(s: &str) -> Result<()> {
    for opt in s.split(',') {
        if opt.starts_with("create=") || opt == "optional" || opt == "relative" {
            return Err(ConfigError::value(format!(
                "mount option '{opt}' is not allowed for the rootfs"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let p = |s: &str| RootfsPath::parse(s).ok().map(|p| (p.kind, p.path));
        assert_eq!(
            p("/var/lib/lxc/c1/rootfs"),
            Some((None, "/var/lib/lxc/c1/rootfs".into()))
        );
        assert_eq!(
            p("dir:/var/lib/lxc/c1/rootfs"),
            Some((Some("dir".into()), "/var/lib/lxc/c1/rootfs".into()))
        );
        assert_eq!(
            p("zfs:tank/lxc/c1"),
            Some((Some("zfs".into()), "tank/lxc/c1".into()))
        );
        assert_eq!(
            p("overlayfs:/a:/b"),
            Some((Some("overlayfs".into()), "/a:/b".into()))
        );
        assert_eq!(
            p("nbd:/img.qcow2:1"),
            Some((Some("nbd".into()), "/img.qcow2:1".into()))
        );
        assert_eq!(p("/odd:path"), Some((None, "/odd:path".into())));
        assert!(RootfsPath::parse("ext4:/dev/sda").is_err());
        assert!(RootfsPath::parse("dir:").is_err());
        let r = RootfsPath::parse("overlayfs:/a:/b").ok();
        assert_eq!(r.as_ref().map(RootfsPath::backend), Some("overlay"));
        assert_eq!(r.map(|r| r.to_string()).as_deref(), Some("overlayfs:/a:/b"));
        assert!(Rootfs::default().managed);
    }

    #[test]
    fn options() {
        assert!(check_rootfs_options("ro,idmap=container").is_ok());
        assert!(check_rootfs_options("create=dir").is_err());
        assert!(check_rootfs_options("rw,optional").is_err());
    }
}
