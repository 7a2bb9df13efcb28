//! The system configuration (`lxc.system.conf(5)`): `/etc/lxc/lxc.conf` for root,
//! `~/.config/lxc/lxc.conf` for other users, overridable with `LXC_GLOBAL_CONF`.

use std::io;
use std::path::{Path, PathBuf};

use crate::error::{ConfigError, Result};

/// Keys in `lxc-config -l` order.
pub const SYSTEM_KEYS: &[&str] = &[
    "lxc.default_config",
    "lxc.lxcpath",
    "lxc.bdev.lvm.vg",
    "lxc.bdev.lvm.thin_pool",
    "lxc.bdev.zfs.root",
    "lxc.cgroup.use",
    "lxc.cgroup.pattern",
];

/// Global settings with LXC's defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemConfig {
    /// `lxc.lxcpath`: where containers live.
    pub lxcpath: PathBuf,
    /// `lxc.default_config`: config loaded into new containers.
    pub default_config: PathBuf,
    /// `lxc.bdev.lvm.vg`.
    pub lvm_vg: String,
    /// `lxc.bdev.lvm.thin_pool`.
    pub lvm_thin_pool: String,
    /// `lxc.bdev.zfs.root`.
    pub zfs_root: String,
    /// `lxc.bdev.rbd.rbdpool`.
    pub rbd_pool: String,
    /// `lxc.cgroup.use`: unset by default.
    pub cgroup_use: Option<String>,
    /// `lxc.cgroup.pattern`: `lxc/%n` for root, empty for users.
    pub cgroup_pattern: String,
    /// The file that was read, if any.
    pub source: Option<PathBuf>,
}

/// Whether the process runs with effective uid 0.
fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

impl SystemConfig {
    /// Defaults only (no file).
    pub fn defaults(is_root: bool, home: &Path) -> SystemConfig {
        Self::defaults_in(is_root, home, &home.join(".config"))
    }

    fn defaults_in(is_root: bool, home: &Path, config_home: &Path) -> SystemConfig {
        let (lxcpath, default_config, pattern) = if is_root {
            (
                PathBuf::from("/var/lib/lxc"),
                PathBuf::from("/etc/lxc/default.conf"),
                "lxc/%n".to_string(),
            )
        } else {
            (
                home.join(".local/share/lxc"),
                config_home.join("lxc/default.conf"),
                String::new(),
            )
        };
        SystemConfig {
            lxcpath,
            default_config,
            lvm_vg: "lxc".into(),
            lvm_thin_pool: "lxc".into(),
            zfs_root: "lxc".into(),
            rbd_pool: "lxc".into(),
            cgroup_use: None,
            cgroup_pattern: pattern,
            source: None,
        }
    }

    /// Load for the current process: root reads `/etc/lxc/lxc.conf`, others
    /// `$XDG_CONFIG_HOME/lxc/lxc.conf` (default `~/.config`); `LXC_GLOBAL_CONF` overrides.
    pub fn load() -> Result<SystemConfig> {
        let root = is_root();
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/"));
        let config_home = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .unwrap_or_else(|| home.join(".config"));
        let file = match std::env::var_os("LXC_GLOBAL_CONF") {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ if root => PathBuf::from("/etc/lxc/lxc.conf"),
            _ => config_home.join("lxc/lxc.conf"),
        };
        Self::load_file(Some(&file), root, &home, &config_home)
    }

    /// Load from an explicit file (`None` = defaults only); a missing file means defaults.
    pub fn load_from(path: Option<&Path>, is_root: bool, home: &Path) -> Result<SystemConfig> {
        Self::load_file(path, is_root, home, &home.join(".config"))
    }

    fn load_file(
        path: Option<&Path>,
        is_root: bool,
        home: &Path,
        config_home: &Path,
    ) -> Result<SystemConfig> {
        let mut cfg = Self::defaults_in(is_root, home, config_home);
        let Some(path) = path else {
            return Ok(cfg);
        };
        let text = match std::fs::read(path) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(cfg),
            Err(source) => return Err(ConfigError::io(path, "read", source)),
        };
        cfg.source = Some(path.to_path_buf());
        for line in text.lines() {
            let line = line.trim_start();
            if line.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let value = crate::parse::unquote(value.trim()).to_string();
            match key.trim() {
                "lxc.lxcpath" => cfg.lxcpath = PathBuf::from(value),
                "lxc.default_config" => cfg.default_config = PathBuf::from(value),
                "lxc.bdev.lvm.vg" => cfg.lvm_vg = value,
                "lxc.bdev.lvm.thin_pool" => cfg.lvm_thin_pool = value,
                "lxc.bdev.zfs.root" => cfg.zfs_root = value,
                "lxc.bdev.rbd.rbdpool" => cfg.rbd_pool = value,
                "lxc.cgroup.use" => cfg.cgroup_use = Some(value),
                "lxc.cgroup.pattern" => cfg.cgroup_pattern = value,
                // Unknown keys are ignored, as LXC does.
                _ => {}
            }
        }
        Ok(cfg)
    }

    /// The value of an exact key; `None` for an unset or unknown key.
    pub fn get(&self, key: &str) -> Option<String> {
        let path = |p: &Path| p.to_string_lossy().into_owned();
        match key {
            "lxc.default_config" => Some(path(&self.default_config)),
            "lxc.lxcpath" => Some(path(&self.lxcpath)),
            "lxc.bdev.lvm.vg" => Some(self.lvm_vg.clone()),
            "lxc.bdev.lvm.thin_pool" => Some(self.lvm_thin_pool.clone()),
            "lxc.bdev.zfs.root" => Some(self.zfs_root.clone()),
            "lxc.bdev.rbd.rbdpool" => Some(self.rbd_pool.clone()),
            "lxc.cgroup.use" => self.cgroup_use.clone(),
            "lxc.cgroup.pattern" => Some(self.cgroup_pattern.clone()),
            _ => None,
        }
    }

    /// `lxc-config KEY`: the first of [`SYSTEM_KEYS`] that starts with `key` (so `lxc.l` finds
    /// `lxc.lxcpath`), with its value (`None` = "is not set").
    pub fn lookup(&self, key: &str) -> Result<(&'static str, Option<String>)> {
        SYSTEM_KEYS
            .iter()
            .find(|k| !key.is_empty() && k.starts_with(key))
            .map(|k| (*k, self.get(k)))
            .ok_or_else(|| ConfigError::invalid(key, None, "unknown configuration item"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_defaults() {
        let c = SystemConfig::load_from(None, true, Path::new("/root")).expect("defaults");
        assert_eq!(c.lxcpath, Path::new("/var/lib/lxc"));
        assert_eq!(c.default_config, Path::new("/etc/lxc/default.conf"));
        assert_eq!(c.get("lxc.cgroup.pattern").as_deref(), Some("lxc/%n"));
        assert_eq!(c.get("lxc.cgroup.use"), None);
        assert_eq!(c.get("lxc.bdev.zfs.root").as_deref(), Some("lxc"));
        assert_eq!(c.get("lxc.bdev.lvm.vg").as_deref(), Some("lxc"));
        assert_eq!(c.get("lxc.bdev.lvm.thin_pool").as_deref(), Some("lxc"));
        assert_eq!(c.rbd_pool, "lxc");
    }

    #[test]
    fn user_defaults() {
        let c = SystemConfig::load_from(None, false, Path::new("/home/u")).expect("defaults");
        assert_eq!(c.lxcpath, Path::new("/home/u/.local/share/lxc"));
        assert_eq!(
            c.default_config,
            Path::new("/home/u/.config/lxc/default.conf")
        );
        assert_eq!(c.get("lxc.cgroup.pattern").as_deref(), Some(""));
    }

    #[test]
    fn file_overrides() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("lxc.conf");
        std::fs::write(
            &f,
            "# comment\n  lxc.lxcpath = /srv/lxc\nlxc.bdev.zfs.root=tank/lxc\nlxc.cgroup.use = @all\nbogus = 1\nlxc.bdev.rbd.rbdpool = rbd\n",
        )
        .expect("write");
        let c = SystemConfig::load_from(Some(&f), true, Path::new("/root")).expect("load");
        assert_eq!(c.lxcpath, Path::new("/srv/lxc"));
        assert_eq!(c.zfs_root, "tank/lxc");
        assert_eq!(c.cgroup_use.as_deref(), Some("@all"));
        assert_eq!(c.rbd_pool, "rbd");
        assert_eq!(c.source.as_deref(), Some(f.as_path()));
        let missing =
            SystemConfig::load_from(Some(&dir.path().join("nope")), true, Path::new("/root"));
        assert_eq!(
            missing.ok().map(|c| c.lxcpath),
            Some(PathBuf::from("/var/lib/lxc"))
        );
    }

    #[test]
    fn prefix_lookup() {
        let c = SystemConfig::defaults(true, Path::new("/root"));
        assert_eq!(
            c.lookup("lxc.l").ok(),
            Some(("lxc.lxcpath", Some("/var/lib/lxc".to_string())))
        );
        assert_eq!(
            c.lookup("lxc.cgroup.use").ok(),
            Some(("lxc.cgroup.use", None))
        );
        assert_eq!(
            c.lookup("lxc.").ok().map(|(k, _)| k),
            Some("lxc.default_config")
        );
        let e = c.lookup("lxc.bogus").err().map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("lxc.bogus: unknown configuration item"));
        assert!(c.lookup("").is_err());
        assert_eq!(SYSTEM_KEYS.len(), 7);
    }
}
