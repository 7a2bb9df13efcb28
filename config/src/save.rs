//! Atomic file replacement: a temporary file in the same directory, fsync, rename,
//! then fsync of the directory, so a crash leaves either the old or the new config.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{ConfigError, Result};

/// Mode of a newly created config (LXC writes configs readable by owner and group).
const NEW_FILE_MODE: u32 = 0o640;

fn io_err<'a>(
    path: &'a Path,
    action: &'static str,
) -> impl FnOnce(std::io::Error) -> ConfigError + 'a {
    move |source| ConfigError::io(path, action, source)
}

/// Write `data` to `path` atomically, keeping the mode (and, when permitted, the
/// owner) of an existing file.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| {
            ConfigError::io(
                path,
                "write",
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"),
            )
        })?
        .to_string_lossy()
        .into_owned();
    let existing = fs::metadata(path).ok();
    let mode = existing.as_ref().map(|m| m.permissions().mode() & 0o7777);

    let (tmp, mut file) = create_temp(dir, &name, mode.unwrap_or(NEW_FILE_MODE))?;
    let result = (|| {
        file.write_all(data).map_err(io_err(&tmp, "write"))?;
        if let Some(mode) = mode {
            // The open mode was filtered by the umask; restore the original exactly.
            file.set_permissions(fs::Permissions::from_mode(mode))
                .map_err(io_err(&tmp, "chmod"))?;
        }
        if let Some(m) = &existing {
            // Only root can give a file away; for others this is a no-op or EPERM.
            let _ = std::os::unix::fs::fchown(&file, Some(m.uid()), Some(m.gid()));
        }
        file.sync_all().map_err(io_err(&tmp, "sync"))?;
        fs::rename(&tmp, path).map_err(io_err(path, "rename temporary file over"))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
        return result;
    }
    // Persist the rename itself. Failure here does not undo the write.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn create_temp(dir: &Path, name: &str, mode: u32) -> Result<(PathBuf, File)> {
    let mut last_err = None;
    for _ in 0..32 {
        let suffix: String = (0..4)
            .map(|_| format!("{:02x}", crate::parse::random_byte()))
            .collect();
        let tmp = dir.join(format!(".{name}.tmp{suffix}"));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
        {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last_err = Some(e),
            Err(e) => return Err(ConfigError::io(&tmp, "create temporary file", e)),
        }
    }
    Err(ConfigError::io(
        dir,
        "create temporary file",
        last_err.unwrap_or_else(|| std::io::Error::other("no unique name")),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_keeps_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("config");
        assert!(write_atomic(&p, b"a\n").is_ok());
        assert_eq!(fs::read_to_string(&p).ok().as_deref(), Some("a\n"));
        assert!(fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).is_ok());
        assert!(write_atomic(&p, b"b\n").is_ok());
        assert_eq!(fs::read_to_string(&p).ok().as_deref(), Some("b\n"));
        assert_eq!(
            fs::metadata(&p)
                .map(|m| m.permissions().mode() & 0o777)
                .ok(),
            Some(0o600)
        );
        // No temporary files left behind.
        let leftovers = fs::read_dir(dir.path()).map(|d| d.count()).unwrap_or(0);
        assert_eq!(leftovers, 1);
    }

    #[test]
    fn fails_cleanly_in_missing_dir() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("nope/config");
        let e = write_atomic(&p, b"x")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("create temporary file"), "{e}");
    }
}
