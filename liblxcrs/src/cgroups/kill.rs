//! Killing every process of a cgroup: cgroup2 `cgroup.kill` when the kernel has it (5.14+),
//! otherwise freeze → list → SIGKILL every listed pid → thaw, repeated until the cgroup is
//! empty. The freeze keeps a forking process from outrunning the loop, and listing only once
//! frozen means no listed task can exit (and its pid be reused by a host process) before the
//! signal: a frozen task stays in the cgroup until thawed.
//!
//! The signal itself goes through a `kill` callback so the policy is unit-tested without
//! killing anything.

use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::error::{CgroupError, Result};
use super::freezer;
use super::fs;

/// The signal sender used outside tests.
pub(crate) fn sigkill(pid: Pid) -> nix::Result<()> {
    kill(pid, Signal::SIGKILL)
}

/// How a fallback loop freezes and thaws the cgroup, if it can.
#[derive(Clone, Copy)]
pub(crate) enum Freezer<'a> {
    V1(&'a Path),
    V2(&'a Path),
    None,
    /// A test double told each freeze (`true`) and thaw (`false`).
    #[cfg(test)]
    Hook(&'a dyn Fn(bool)),
}

impl Freezer<'_> {
    fn set(self, frozen: bool) -> Result<()> {
        let wait = Duration::from_secs(1);
        match self {
            Self::V1(dir) => freezer::v1_set(dir, frozen, wait),
            Self::V2(dir) => freezer::v2_set(dir, frozen, wait),
            Self::None => Ok(()),
            #[cfg(test)]
            Self::Hook(hook) => {
                hook(frozen);
                Ok(())
            }
        }
    }
}

/// Kills everything in `procs_dir` and below until it is empty or `timeout` passes.
pub(crate) fn kill_loop(
    procs_dir: &Path,
    freezer: Freezer<'_>,
    kill: &mut dyn FnMut(Pid) -> nix::Result<()>,
    timeout: Duration,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(2);
    loop {
        // A task stuck in D state may keep the cgroup FREEZING: kill anyway.
        let _ = freezer.set(true);
        // Listed only now: a frozen task cannot exit, so its pid cannot be reused on the
        // host between this read and the signal.
        let pids = match fs::procs_recursive(procs_dir) {
            Ok(pids) => pids,
            Err(e) => {
                let _ = freezer.set(false);
                return Err(e);
            }
        };
        if pids.is_empty() {
            return freezer.set(false);
        }
        if Instant::now() >= deadline {
            let _ = freezer.set(false);
            return Err(CgroupError::Survivors {
                path: procs_dir.to_path_buf(),
                pids: pids.iter().map(|p| p.as_raw()).collect(),
                after: timeout,
            });
        }
        let sent = pids.iter().try_for_each(|&pid| match kill(pid) {
            Ok(()) | Err(Errno::ESRCH) => Ok(()),
            Err(errno) => Err(CgroupError::Kill {
                pid: pid.as_raw(),
                errno,
            }),
        });
        // Thaw even when a kill failed: killed tasks die only once thawed.
        let thawed = freezer.set(false);
        sent?;
        thawed?;
        sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// cgroup2: writes `cgroup.kill` and waits for `cgroup.events` to say `populated 0`; falls
/// back to [`kill_loop`] when the kernel has no `cgroup.kill`.
pub(crate) fn v2_kill(
    dir: &Path,
    kill: &mut dyn FnMut(Pid) -> nix::Result<()>,
    timeout: Duration,
) -> Result<()> {
    match fs::write(&dir.join("cgroup.kill"), "1") {
        Ok(()) => {}
        Err(e) if e.errno() == Some(Errno::ENOENT) => {
            return kill_loop(dir, Freezer::V2(dir), kill, timeout)
        }
        Err(e) => return Err(e),
    }
    match freezer::wait_event(&dir.join("cgroup.events"), "populated", "0", timeout) {
        Ok(()) => Ok(()),
        Err(CgroupError::Timeout { .. }) => Err(CgroupError::Survivors {
            path: dir.to_path_buf(),
            pids: fs::procs_recursive(dir)?
                .iter()
                .map(|p| p.as_raw())
                .collect(),
            after: timeout,
        }),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loop_kills_every_pid_of_the_subtree_until_empty() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::write(d.path().join("cgroup.procs"), "10\n11\n").unwrap();
        std::fs::write(d.path().join("sub/cgroup.procs"), "12\n").unwrap();
        std::fs::write(d.path().join("freezer.state"), "THAWED\n").unwrap();
        let mut killed = Vec::new();
        let root = d.path().to_path_buf();
        // The fake kernel: a killed pid leaves its cgroup.procs.
        let mut fake_kill = |pid: Pid| {
            killed.push(pid.as_raw());
            for file in [root.join("cgroup.procs"), root.join("sub/cgroup.procs")] {
                let left: String = std::fs::read_to_string(&file)
                    .unwrap()
                    .lines()
                    .filter(|l| *l != pid.to_string())
                    .map(|l| format!("{l}\n"))
                    .collect();
                std::fs::write(&file, left).unwrap();
            }
            Ok(())
        };
        kill_loop(
            d.path(),
            Freezer::V1(d.path()),
            &mut fake_kill,
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(killed, [10, 11, 12]);
        assert_eq!(
            std::fs::read_to_string(d.path().join("freezer.state")).unwrap(),
            "THAWED"
        );
    }

    #[test]
    fn loop_lists_pids_only_once_frozen() {
        // Pid 10 exits after a list taken while thawed; its number now belongs to a host
        // process. Only what the frozen cgroup holds (11) may be signalled.
        let d = tempfile::tempdir().unwrap();
        let procs = d.path().join("cgroup.procs");
        std::fs::write(&procs, "10\n").unwrap();
        let states = std::cell::RefCell::new(Vec::new());
        let hook = |frozen: bool| {
            states.borrow_mut().push(frozen);
            if frozen {
                let now = std::fs::read_to_string(&procs).unwrap();
                std::fs::write(&procs, if now == "10\n" { "11\n" } else { "" }).unwrap();
            }
        };
        let mut killed = Vec::new();
        kill_loop(
            d.path(),
            Freezer::Hook(&hook),
            &mut |pid| {
                killed.push(pid.as_raw());
                Ok(())
            },
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(killed, [11]);
        // Every freeze is paired with a thaw, and the cgroup is left thawed.
        assert_eq!(*states.borrow(), [true, false, true, false]);
    }

    #[test]
    fn loop_reports_survivors() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("cgroup.procs"), "10\n").unwrap();
        let err = kill_loop(
            d.path(),
            Freezer::None,
            &mut |_| Ok(()),
            Duration::from_millis(30),
        )
        .unwrap_err();
        assert!(
            matches!(&err, CgroupError::Survivors { pids, .. } if pids == &[10]),
            "{err}"
        );
    }

    #[test]
    fn loop_ignores_vanished_pids_but_not_other_errors() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("cgroup.procs"), "10\n").unwrap();
        let err = kill_loop(
            d.path(),
            Freezer::None,
            &mut |_| Err(Errno::EPERM),
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "failed to send SIGKILL to pid 10: Operation not permitted"
        );
    }

    #[test]
    fn v2_uses_cgroup_kill_and_waits_for_unpopulated() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("cgroup.kill"), "").unwrap();
        std::fs::write(d.path().join("cgroup.procs"), "").unwrap();
        std::fs::write(d.path().join("cgroup.events"), "populated 0\nfrozen 0\n").unwrap();
        v2_kill(
            d.path(),
            &mut |_| panic!("cgroup.kill must be used"),
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(d.path().join("cgroup.kill")).unwrap(),
            "1"
        );
    }

    #[test]
    fn v2_without_cgroup_kill_falls_back_to_the_loop() {
        let d = tempfile::tempdir().unwrap();
        let procs = d.path().join("cgroup.procs");
        std::fs::write(&procs, "7\n").unwrap();
        std::fs::write(d.path().join("cgroup.freeze"), "0\n").unwrap();
        std::fs::write(d.path().join("cgroup.events"), "populated 1\nfrozen 1\n").unwrap();
        let mut seen = Vec::new();
        // cgroup.events is static here: freeze and thaw both "succeed" on what it shows,
        // so make it agree with each request by rewriting it in the kill.
        let events = d.path().join("cgroup.events");
        let mut fake_kill = |pid: Pid| {
            seen.push(pid.as_raw());
            std::fs::write(&procs, "").unwrap();
            std::fs::write(&events, "populated 0\nfrozen 0\n").unwrap();
            Ok(())
        };
        v2_kill(d.path(), &mut fake_kill, Duration::from_secs(5)).unwrap();
        assert_eq!(seen, [7]);
    }
}
