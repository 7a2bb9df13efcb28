//! The console log file (`lxc.console.logfile`), bounded by `lxc.console.size`:
//! when a write would pass the limit, the file is rotated to `<file>.1` when
//! `lxc.console.rotate = 1`, else truncated and restarted, so it never grows without end.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

/// An open console log.
#[derive(Debug)]
pub struct ConsoleLog {
    path: PathBuf,
    file: File,
    written: u64,
    limit: u64,
    rotate: bool,
}

impl ConsoleLog {
    /// Opens (appends to) `path`; `limit` 0 means unbounded.
    pub fn open(path: PathBuf, limit: u64, rotate: bool) -> std::io::Result<ConsoleLog> {
        let file = Self::open_file(&path)?;
        let written = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(ConsoleLog {
            path,
            file,
            written,
            limit,
            rotate,
        })
    }

    fn open_file(path: &PathBuf) -> std::io::Result<File> {
        OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
    }

    /// Appends console output; errors are returned but the log stays usable.
    pub fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        if self.limit > 0 && self.written + data.len() as u64 > self.limit {
            self.roll()?;
        }
        // Data larger than the whole limit keeps only its tail.
        let data = if self.limit > 0 && data.len() as u64 > self.limit {
            &data[data.len() - usize::try_from(self.limit).unwrap_or(data.len())..]
        } else {
            data
        };
        self.file.write_all(data)?;
        self.written += data.len() as u64;
        Ok(())
    }

    /// Starts a fresh file: rename to `.1` when rotating, else truncate in place.
    pub fn roll(&mut self) -> std::io::Result<()> {
        if self.rotate {
            let mut old = self.path.clone().into_os_string();
            old.push(".1");
            std::fs::rename(&self.path, &old)?;
            self.file = Self::open_file(&self.path)?;
        } else {
            self.file.set_len(0)?;
        }
        self.written = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_or_rotates_at_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("console.log");
        let mut log = ConsoleLog::open(p.clone(), 8, false).unwrap();
        log.write(b"12345").unwrap();
        log.write(b"6789").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"6789");

        let mut log = ConsoleLog::open(p.clone(), 8, true).unwrap();
        log.write(b"abcdefgh").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"abcdefgh");
        assert_eq!(
            std::fs::read(dir.path().join("console.log.1")).unwrap(),
            b"6789"
        );
        log.write(b"0123456789ab").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"456789ab");

        let mut unbounded = ConsoleLog::open(dir.path().join("u"), 0, false).unwrap();
        unbounded.write(&[b'x'; 100]).unwrap();
        assert_eq!(std::fs::read(dir.path().join("u")).unwrap().len(), 100);
    }
}
