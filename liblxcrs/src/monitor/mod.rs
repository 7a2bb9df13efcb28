//! The per-container monitor: the small process that starts a container, stays the
//! parent of its init, serves the command socket, drains the console, and tears
//! everything down when init exits (or restarts it in place after a reboot).
//!
//! It runs as its own binary (`lxcrs-monitor`, exec'd by `lxc-start`), single-threaded
//! around one `poll` loop, so that it carries neither the CLI's heap nor threads.
//! `lxc-start` passes [`StartOptions`] over the status socket (fd 3) and reads back a
//! [`StartStatus`] once the container is RUNNING or has failed.
//!
//! The files, each using only those below it: `run` (the [`Monitor`](run::Monitor) and
//! its lifecycle) and `server` (its answers to the command socket, on it); then
//! `payload` (the config and the container's cgroups and init), `conn` (a client's
//! queue), `console`, `memory` and `error`.
//!
//! [`StartOptions`]: crate::commands::options::StartOptions
//! [`StartStatus`]: crate::commands::options::StartStatus

mod conn;
mod console;
mod error;
mod memory;
mod payload;
mod run;
mod server;

use crate::commands::options::STATUS_FD;

use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;

/// The binary's entry point: `lxcrs-monitor <lxcpath> <name>` with the status socket on
/// fd 3. Returns the process exit code: 0, or init's status in the foreground, 1 when
/// the start failed.
pub fn main(args: Vec<std::ffi::OsString>) -> i32 {
    crate::paths::sanitize_env();
    let (Some(lxcpath), Some(name)) = (args.get(1), args.get(2)) else {
        eprintln!(
            "lxcrs-monitor: usage: lxcrs-monitor LXCPATH NAME (started by lxc-start, not by hand)"
        );
        return 1;
    };
    // SAFETY: fd 3 is the status socket lxc-start set up for us; we take sole ownership
    // (fcntl below proves it is open before anything uses it).
    if unsafe { libc::fcntl(STATUS_FD, libc::F_GETFD) } < 0 {
        eprintln!(
            "lxcrs-monitor: no status socket on fd {STATUS_FD} (start containers with lxc-start)"
        );
        return 1;
    }
    // SAFETY: see above: an open fd nobody else in this process owns.
    let status = unsafe { OwnedFd::from_raw_fd(STATUS_FD) };
    let _ = nix::fcntl::fcntl(
        &status,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    );
    run::Monitor::run(
        PathBuf::from(lxcpath),
        name.to_string_lossy().into_owned(),
        status,
    )
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    /// The monitor's files and the siblings each one names (`super::x`, `crate::monitor::x`).
    fn sibling_uses() -> BTreeMap<String, BTreeSet<String>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/monitor");
        let files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .filter_map(|e| {
                e.file_name()
                    .to_str()?
                    .strip_suffix(".rs")
                    .map(String::from)
            })
            .filter(|f| f != "mod")
            .collect();
        let mut uses = BTreeMap::new();
        for f in &files {
            let text = std::fs::read_to_string(dir.join(format!("{f}.rs"))).unwrap();
            let named: BTreeSet<String> = files
                .iter()
                .filter(|g| *g != f)
                .filter(|g| {
                    [format!("super::{g}"), format!("crate::monitor::{g}")]
                        .iter()
                        .any(|p| {
                            text.match_indices(p.as_str()).any(|(i, _)| {
                                !text[i + p.len()..]
                                    .starts_with(|c: char| c.is_alphanumeric() || c == '_')
                            })
                        })
                })
                .cloned()
                .collect();
            uses.insert(f.clone(), named);
        }
        uses
    }

    #[test]
    fn no_file_uses_a_sibling_that_uses_it_back() {
        let uses = sibling_uses();
        assert!(uses["server"].contains("run"), "{uses:?}");
        // Layered: no cycle of any length.
        let mut done: BTreeSet<String> = BTreeSet::new();
        while done.len() < uses.len() {
            let next = uses
                .iter()
                .find(|(f, deps)| !done.contains(*f) && deps.iter().all(|d| done.contains(d)))
                .map(|(f, _)| f.clone());
            match next {
                Some(f) => {
                    done.insert(f);
                }
                None => panic!("files of monitor/ use each other in a cycle: {uses:?}"),
            }
        }
    }
}
