//! Where things live: lxcpath, runtime dir, share dir (templates and config includes).
//!
//! The lxcpath and default config follow LXC (`/var/lib/lxc` for root,
//! `~/.local/share/lxc` for a user, overridable in `lxc.conf` and with `-P`).
//! Runtime state (locks, sockets) is our own, under `lxcrs` names, so that it never
//! collides with a real LXC running on the same host.

use std::path::{Path, PathBuf};

use lxcrs_config::system::SystemConfig;

use crate::{Error, Result};

/// True when the effective uid is root.
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The caller's home directory (`$HOME`, else `/`).
pub fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// Loads the system config (`/etc/lxc/lxc.conf` or `~/.config/lxc/lxc.conf`).
pub fn system_config() -> Result<SystemConfig> {
    Ok(SystemConfig::load()?)
}

/// The lxcpath to use: `-P` if given (trailing slashes stripped), else `lxc.lxcpath`.
pub fn lxcpath(explicit: Option<&Path>) -> Result<PathBuf> {
    match explicit {
        Some(p) => Ok(strip_trailing_slashes(p)),
        None => Ok(system_config()?.lxcpath),
    }
}

/// Removes trailing slashes, keeping a lone `/`.
pub fn strip_trailing_slashes(p: &Path) -> PathBuf {
    let s = p.to_string_lossy();
    let t = s.trim_end_matches('/');
    PathBuf::from(if t.is_empty() { "/" } else { t })
}

/// Our runtime directory: `/run/lxcrs` for root, else `$XDG_RUNTIME_DIR/lxcrs`,
/// else `~/.cache/lxcrs/run`.
pub fn rundir() -> PathBuf {
    if is_root() {
        return PathBuf::from("/run/lxcrs");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("lxcrs"),
        _ => home().join(".cache/lxcrs/run"),
    }
}

/// The directories searched for templates and config includes, first match wins:
/// `$LXCRS_SHARE_DIR` (a source checkout), `/usr/local/share/lxc`, `/usr/share/lxc`.
pub fn share_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = std::env::var_os("LXCRS_SHARE_DIR") {
        dirs.push(PathBuf::from(d));
    }
    dirs.push(PathBuf::from("/usr/local/share/lxc"));
    dirs.push(PathBuf::from("/usr/share/lxc"));
    dirs
}

/// Validates a container name: non-empty, no `/`, not `.` or `..`, no NUL or newline.
pub fn check_name(name: &str) -> Result<()> {
    let bad = name.is_empty()
        || name == "."
        || name == ".."
        || name.contains(['/', '\0', '\n'])
        || name.len() > 255;
    if bad {
        return Err(Error::hint(
            format!("invalid container name {name:?}"),
            "use a non-empty name without '/' or newlines, other than '.' and '..'",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_slashes() {
        assert_eq!(
            strip_trailing_slashes(Path::new("/var/lib/lxc///")),
            Path::new("/var/lib/lxc")
        );
        assert_eq!(strip_trailing_slashes(Path::new("/")), Path::new("/"));
    }

    #[test]
    fn names() {
        assert!(check_name("c1").is_ok());
        for bad in ["", ".", "..", "a/b", "a\nb"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
