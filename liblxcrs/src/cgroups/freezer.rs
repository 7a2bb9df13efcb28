//! Freezing and thawing: cgroup v1 `freezer.state`, cgroup2 `cgroup.freeze` +
//! `cgroup.events`, and waiting for a keyed value of `cgroup.events`.

use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::error::{errno_of, CgroupError, Result};
use super::fs;

/// Longest single sleep while waiting: a missed notification costs at most this much.
const SLICE: Duration = Duration::from_millis(50);

/// How long `FREEZING` may last before `FROZEN` is written again.
const REFREEZE: Duration = Duration::from_millis(100);

/// Freezes (`FROZEN`) or thaws (`THAWED`) a v1 freezer cgroup and waits until
/// `freezer.state` reads it back; it reads `FREEZING` while tasks are still being stopped.
///
/// The v1 freezer asks each task once, at the write. A task it asked while running that
/// then went to sleep (busybox init in `vfork()`, waiting for a child the freezer stopped
/// first) is never asked again and the cgroup stays `FREEZING` for good; writing `FROZEN`
/// again asks it again, now asleep, and it freezes. (Seen on 6.18, about one freeze in
/// ten right after busybox init respawned a getty.)
pub(crate) fn v1_set(dir: &Path, frozen: bool, timeout: Duration) -> Result<()> {
    let want = if frozen { "FROZEN" } else { "THAWED" };
    let path = dir.join("freezer.state");
    fs::write(&path, want)?;
    let mut written = Instant::now();
    let deadline = written + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        let state = fs::read(&path)?;
        if state.trim() == want {
            return Ok(());
        }
        if frozen && written.elapsed() >= REFREEZE {
            fs::write(&path, want)?;
            written = Instant::now();
        }
        if Instant::now() >= deadline {
            return Err(CgroupError::Timeout {
                path,
                expected: want.into(),
                last: state.trim().into(),
                after: timeout,
            });
        }
        sleep(pause);
        pause = (pause * 2).min(SLICE);
    }
}

/// True when a v1 freezer cgroup reads `FROZEN` (`FREEZING` is not frozen yet).
pub(crate) fn v1_is_frozen(dir: &Path) -> Result<bool> {
    Ok(fs::read(&dir.join("freezer.state"))?.trim() == "FROZEN")
}

/// Freezes or thaws a cgroup2 cgroup (and its descendants) through `cgroup.freeze`, then
/// waits until `cgroup.events` reports `frozen 1` / `frozen 0`.
pub(crate) fn v2_set(dir: &Path, frozen: bool, timeout: Duration) -> Result<()> {
    let value = if frozen { "1" } else { "0" };
    fs::write(&dir.join("cgroup.freeze"), value)?;
    wait_event(&dir.join("cgroup.events"), "frozen", value, timeout)
}

/// True when cgroup2 `cgroup.events` says `frozen 1`.
pub(crate) fn v2_is_frozen(dir: &Path) -> Result<bool> {
    Ok(fs::keyed_value(&fs::read(&dir.join("cgroup.events"))?, "frozen") == Some("1"))
}

/// Waits until the flat-keyed file `path` (cgroup.events) shows `key want`.
///
/// The kernel signals a change of `cgroup.events` as POLLPRI on an open descriptor; the
/// descriptor is re-read from offset 0 after each wake-up (which also re-arms it). Sleeps
/// are capped at [`SLICE`] so that a file that cannot notify (a test fixture) is still
/// re-read.
pub(crate) fn wait_event(path: &Path, key: &str, want: &str, timeout: Duration) -> Result<()> {
    let file = File::open(path).map_err(|e| CgroupError::read(path, errno_of(&e)))?;
    let deadline = Instant::now() + timeout;
    loop {
        let text = pread_all(&file).map_err(|errno| CgroupError::read(path, errno))?;
        if fs::keyed_value(&text, key) == Some(want) {
            return Ok(());
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(CgroupError::Timeout {
                path: path.to_path_buf(),
                expected: format!("{key} {want}"),
                last: text.trim().replace('\n', ", "),
                after: timeout,
            });
        }
        let slice = (deadline - now).min(SLICE);
        let mut fds = [PollFd::new(file.as_fd(), PollFlags::POLLPRI)];
        match poll(
            &mut fds,
            PollTimeout::try_from(slice).unwrap_or(PollTimeout::MAX),
        ) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(errno) => return Err(CgroupError::read(path, errno)),
        }
    }
}

/// The whole file, read from offset 0 (cgroupfs files are regenerated on each read).
fn pread_all(file: &File) -> std::result::Result<String, Errno> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let offset = u64::try_from(out.len()).unwrap_or(u64::MAX);
        let n = file.read_at(&mut buf, offset).map_err(|e| errno_of(&e))?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(d.path().join(name), text).unwrap();
        }
        d
    }

    #[test]
    fn v1_freeze_waits_through_freezing() {
        let d = dir_with(&[("freezer.state", "THAWED\n")]);
        let path = d.path().join("freezer.state");
        // The fixture "kernel": FREEZING first, FROZEN a little later.
        let writer = {
            let path = path.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(5));
                std::fs::write(&path, "FREEZING\n").unwrap();
                std::thread::sleep(Duration::from_millis(30));
                std::fs::write(&path, "FROZEN\n").unwrap();
            })
        };
        v1_set(d.path(), true, Duration::from_secs(5)).unwrap();
        writer.join().unwrap();
        assert!(v1_is_frozen(d.path()).unwrap());
        v1_set(d.path(), false, Duration::from_secs(1)).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "THAWED");
    }

    #[test]
    fn v2_freeze_writes_cgroup_freeze_and_waits_for_events() {
        let d = dir_with(&[
            ("cgroup.freeze", "0\n"),
            ("cgroup.events", "populated 1\nfrozen 0\n"),
        ]);
        let events = d.path().join("cgroup.events");
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            std::fs::write(&events, "populated 1\nfrozen 1\n").unwrap();
        });
        v2_set(d.path(), true, Duration::from_secs(5)).unwrap();
        writer.join().unwrap();
        assert_eq!(
            std::fs::read_to_string(d.path().join("cgroup.freeze")).unwrap(),
            "1"
        );
        assert!(v2_is_frozen(d.path()).unwrap());
    }

    #[test]
    fn v2_freeze_times_out_with_the_last_state() {
        let d = dir_with(&[
            ("cgroup.freeze", "0\n"),
            ("cgroup.events", "populated 1\nfrozen 0\n"),
        ]);
        let err = v2_set(d.path(), true, Duration::from_millis(80)).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("waiting for") && msg.contains("cgroup.events to show \"frozen 1\""),
            "{msg}"
        );
        assert!(
            msg.ends_with("(last read \"populated 1, frozen 0\")"),
            "{msg}"
        );
    }

    #[test]
    fn v2_thaw_waits_for_frozen_0() {
        let d = dir_with(&[
            ("cgroup.freeze", "1\n"),
            ("cgroup.events", "populated 1\nfrozen 0\n"),
        ]);
        v2_set(d.path(), false, Duration::from_secs(1)).unwrap();
        assert!(!v2_is_frozen(d.path()).unwrap());
    }
}
