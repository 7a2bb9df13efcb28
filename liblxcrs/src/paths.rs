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

/// The one spelling of an lxcpath that names runtime objects (command sockets, locks):
/// symlinks resolved (`realpath`), `.`/`..`/repeated and trailing slashes folded, so
/// `-P /var/lib/lxc/`, `-P /var/lib//lxc` and a symlink to it all name the same
/// container. A path that does not exist (yet) is folded lexically, made absolute.
pub fn canonical_lxcpath(p: &Path) -> PathBuf {
    if let Ok(real) = std::fs::canonicalize(p) {
        return real;
    }
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .unwrap_or_else(|_| PathBuf::from("/"))
            .join(p)
    };
    lexical_normalize(&abs)
}

/// Folds `.`, `..` and repeated slashes of an absolute path without touching the disk.
fn lexical_normalize(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
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
/// `$LXCRS_SHARE_DIR` (a source checkout; as root only when [`trusted_env_path`] accepts
/// it), `/usr/local/share/lxc`, `/usr/share/lxc`.
pub fn share_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = trusted_env_path("LXCRS_SHARE_DIR") {
        dirs.push(d);
    }
    dirs.push(PathBuf::from("/usr/local/share/lxc"));
    dirs.push(PathBuf::from("/usr/share/lxc"));
    dirs
}

/// The path in environment variable `var`, unless it may not be trusted: as root (a
/// `sudo` that keeps the environment), only a path whose every component, resolved, is
/// owned by root and not writable by group or others (a sticky directory such as `/tmp`
/// is fine: others cannot replace root's entries in it). Ignored values are reported on
/// stderr.
pub fn trusted_env_path(var: &str) -> Option<PathBuf> {
    let raw = std::env::var_os(var).filter(|v| !v.is_empty())?;
    let path = PathBuf::from(raw);
    if !is_root() {
        return Some(path);
    }
    match root_owned_chain(&path) {
        Ok(real) => Some(real),
        Err(why) => {
            eprintln!(
                "lxcrs: ignoring {var}={}: {why}\nhint: as root only root-owned paths that nobody else can write are honoured",
                path.display()
            );
            None
        }
    }
}

/// Resolves `path` and checks that it and every directory above it are owned by root and
/// not group/other-writable (sticky directories excepted). Returns the resolved path.
pub fn root_owned_chain(path: &Path) -> std::result::Result<PathBuf, String> {
    use std::os::unix::fs::MetadataExt;
    let real = std::fs::canonicalize(path).map_err(|e| format!("cannot resolve it: {e}"))?;
    let mut cur = Some(real.as_path());
    while let Some(p) = cur {
        let md = std::fs::symlink_metadata(p).map_err(|e| format!("{}: {e}", p.display()))?;
        if md.uid() != 0 {
            return Err(format!("{} is owned by uid {}", p.display(), md.uid()));
        }
        let sticky_dir = md.is_dir() && md.mode() & 0o1000 != 0;
        if md.mode() & 0o022 != 0 && !sticky_dir {
            return Err(format!(
                "{} is writable by group or others (mode {:o})",
                p.display(),
                md.mode() & 0o7777
            ));
        }
        cur = p.parent();
    }
    Ok(real)
}

/// As root, drops environment overrides that must not steer a privileged process
/// (`TMPDIR`, `LXCRS_SHARE_DIR`, `LXCRS_MONITOR`) unless [`trusted_env_path`] accepts
/// them. Call it first thing in `main`, before any thread exists.
pub fn sanitize_env() {
    if !is_root() {
        return;
    }
    for var in ["TMPDIR", "LXCRS_SHARE_DIR", "LXCRS_MONITOR"] {
        if std::env::var_os(var).is_some() && trusted_env_path(var).is_none() {
            std::env::remove_var(var);
        }
    }
}

/// Creates (if missing) a runtime directory with exactly `mode`, and checks that it is a
/// real directory (not a symlink) owned by us and not writable by anybody else, so no
/// other user can plant files in it.
pub fn ensure_private_dir(dir: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    if let Some(parent) = dir.parent() {
        if !parent.exists() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::io("create runtime directory", parent, e))?;
        }
    }
    match std::fs::DirBuilder::new().mode(mode).create(dir) {
        Ok(()) => {
            // The umask may have taken bits away: set exactly `mode`.
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
                .map_err(|e| Error::io("set mode of runtime directory", dir, e))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(Error::io("create runtime directory", dir, e)),
    }
    let md = std::fs::symlink_metadata(dir).map_err(|e| Error::io("stat", dir, e))?;
    let me = nix::unistd::geteuid().as_raw();
    if !md.is_dir() || md.uid() != me || md.mode() & 0o022 != 0 {
        return Err(Error::hint(
            format!(
                "runtime directory {} is not safe: {} owned by uid {}, mode {:o}",
                dir.display(),
                if md.is_dir() { "a directory" } else { "not a directory" },
                md.uid(),
                md.mode() & 0o7777
            ),
            format!(
                "it must be a directory owned by uid {me} that only it can write; remove it and retry"
            ),
        ));
    }
    Ok(())
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
    fn canonical_spellings_agree() {
        let d = tempfile::tempdir().unwrap();
        let real = d.path().join("lxc");
        std::fs::create_dir(&real).unwrap();
        let link = d.path().join("alias");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let want = canonical_lxcpath(&real);
        let base = d.path().display().to_string();
        for spelling in [
            format!("{base}/lxc/"),
            format!("{base}//lxc"),
            format!("{base}/lxc/."),
            format!("{base}/alias"),
            format!("{base}/x/../lxc"),
        ] {
            assert_eq!(canonical_lxcpath(Path::new(&spelling)), want, "{spelling}");
        }
        assert_eq!(
            canonical_lxcpath(Path::new("/nonexistent-lxcrs//a/./b/../c/")),
            Path::new("/nonexistent-lxcrs/a/c")
        );
    }

    #[test]
    fn names() {
        assert!(check_name("c1").is_ok());
        for bad in ["", ".", "..", "a/b", "a\nb"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
