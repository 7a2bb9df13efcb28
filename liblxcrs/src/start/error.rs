//! Errors of the start sequence. One message style throughout:
//! `failed to <what> <object>: <why>`, e.g.
//! `failed to mount proc on /usr/lib/x86_64-linux-gnu/lxc/rootfs/proc: Permission denied`.

use std::io;
use std::path::PathBuf;

use nix::errno::Errno;

/// What went wrong while starting a container.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A complete message from a lower layer that already names what, why and the fix.
    #[error("{0}")]
    Message(String),
    /// A kernel call failed (`op` names the call and its object).
    #[error("failed to {op}: {}", .errno.desc())]
    Sys { op: String, errno: Errno },
    /// A file operation failed.
    #[error("failed to {op} {}: {}", .path.display(), io_desc(.source))]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A mount failed.
    #[error("failed to mount {src} on {}{}: {}", .target.display(), fstype_note(.fstype), .errno.desc())]
    Mount {
        src: String,
        target: PathBuf,
        fstype: String,
        errno: Errno,
    },
    /// A mount entry's target crosses a symlink (or leaves the rootfs): refused.
    #[error("refusing mount entry \"{entry}\": {problem}")]
    UnsafeTarget { entry: String, problem: String },
    /// A mount entry's target could not be resolved (missing, permission, …).
    #[error("failed to set up mount entry \"{entry}\": {problem}")]
    MountTarget { entry: String, problem: String },
    /// A config value that the start sequence cannot use.
    #[error("invalid {key} = {value}: {problem}")]
    Config {
        key: String,
        value: String,
        problem: String,
    },
    /// The seccomp profile could not be parsed or loaded.
    #[error("seccomp profile {}:{line}: {problem}", .path.display())]
    Seccomp {
        path: PathBuf,
        line: usize,
        problem: String,
    },
    /// A hook exited non-zero or could not be run.
    #[error("{kind} hook \"{hook}\" failed: {status}{}", stderr_note(.stderr))]
    Hook {
        kind: String,
        hook: String,
        status: String,
        stderr: String,
    },
    /// A cgroup step failed (placement, limits, delegation).
    #[error("failed to {op}: {message}")]
    Cgroup { op: String, message: String },
    /// The parent/child protocol got a message it did not expect.
    #[error("start protocol error: expected {expected}, received {received}")]
    Protocol { expected: String, received: String },
    /// The child reported an error: its own text.
    #[error("{0}")]
    Child(String),
    /// The child died (or closed the sync socket) before reporting.
    #[error("container init died during setup ({status})")]
    ChildDied { status: String },
}

impl StartError {
    /// A [`StartError::Sys`] for `op`.
    pub fn sys(op: impl Into<String>, errno: Errno) -> StartError {
        StartError::Sys {
            op: op.into(),
            errno,
        }
    }

    /// A [`StartError::Io`] for `op` on `path`.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> StartError {
        StartError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// A [`StartError::Config`].
    pub fn config(
        key: impl Into<String>,
        value: impl Into<String>,
        problem: impl Into<String>,
    ) -> StartError {
        StartError::Config {
            key: key.into(),
            value: value.into(),
            problem: problem.into(),
        }
    }
}

/// An io error's text without the `(os error N)` suffix.
pub(crate) fn io_desc(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => Errno::from_raw(n).desc().to_string(),
        None => e.to_string(),
    }
}

fn fstype_note(fstype: &str) -> String {
    if fstype.is_empty() || fstype == "none" || fstype == "bind" {
        String::new()
    } else {
        format!(" (type {fstype})")
    }
}

fn stderr_note(stderr: &str) -> String {
    let tail = stderr.trim();
    if tail.is_empty() {
        String::new()
    } else {
        format!("\n{tail}")
    }
}
