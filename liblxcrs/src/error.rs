//! The library's error type: what failed, why, and a hint when there is one.
//!
//! The layers below the API keep their own typed errors (storage, cgroups, start,
//! network, attach, the command protocol); [`Error`] carries them unchanged (`#[from]`,
//! same text), so a caller can match on the kind and the user still reads the layer's
//! own message (the layer types are named in [`crate::internal`] and [`crate::attach`]).
//! The kinds the tools turn into LXC's exit codes (not defined, already
//! exists, running, not running, busy, interrupted) are variants of their own.

use std::path::PathBuf;

use crate::attach::AttachError;
use crate::cgroups::CgroupError;
use crate::commands::CommandError;
use crate::start::StartError;

/// Errors of the container API. Each variant carries its context.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A config file could not be read or is invalid.
    #[error(transparent)]
    Config(#[from] lxcrs_config::ConfigError),
    /// A backing store operation failed.
    #[error(transparent)]
    Storage(#[from] lxcrs_storage::StorageError),
    /// A cgroup operation failed (boxed: the cgroup error is large).
    #[error(transparent)]
    Cgroup(Box<CgroupError>),
    /// The start sequence failed before the monitor took over.
    #[error(transparent)]
    Start(#[from] StartError),
    /// A network interface operation failed.
    #[error(transparent)]
    Network(#[from] lxcrs_network::NetError),
    /// Attaching to a running container failed.
    #[error(transparent)]
    Attach(#[from] AttachError),
    /// Talking to the container's monitor failed.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// A filesystem operation on a path failed.
    #[error("failed to {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The container exists when it must not.
    #[error("container already exists")]
    Exists,
    /// The container is not defined in this lxcpath.
    #[error("container is not defined")]
    NotDefined,
    /// The container is running when it must not be.
    #[error("{name} is running")]
    Running { name: String },
    /// The container is not running when it must be.
    #[error("{name} is not running")]
    NotRunning { name: String },
    /// Another command holds the container's lock.
    #[error("{name} is busy: another command ({holder}) is working on it")]
    Busy { name: String, holder: String },
    /// A signal (SIGINT, SIGTERM…) interrupted the command; `during` says in what, if
    /// anything more than the command itself.
    #[error("interrupted by {signal}{}", during.as_ref().map(|d| format!(" while {d}")).unwrap_or_default())]
    Interrupted {
        signal: nix::sys::signal::Signal,
        during: Option<&'static str>,
    },
    /// The container has no snapshot of that name.
    #[error("{name}: no such snapshot {snap}")]
    NoSuchSnapshot { name: String, snap: String },
    /// The monitor reported that the start failed; its text, as it came over the status
    /// socket.
    #[error("{0}")]
    StartFailed(String),
    /// A step failed: `context` names it (`failed to destroy clone c2`), `source` says why.
    #[error("{context}: {source}")]
    Context {
        context: String,
        #[source]
        source: Box<Error>,
    },
    /// An operation failed, and undoing what it had done failed too.
    #[error("{source}\nand cleaning up after it failed too: {undo}")]
    CleanupFailed {
        #[source]
        source: Box<Error>,
        undo: Box<Error>,
    },
    /// Anything else, with a message and an optional hint.
    #[error("{msg}{}", hint.as_ref().map(|h| format!("\nhint: {h}")).unwrap_or_default())]
    Other { msg: String, hint: Option<String> },
}

impl From<CgroupError> for Error {
    fn from(e: CgroupError) -> Error {
        Error::Cgroup(Box::new(e))
    }
}

impl Error {
    /// An [`Error::Io`] for `op` on `path`.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// An [`Error::Other`] with a message and a hint.
    pub fn hint(msg: impl Into<String>, hint: impl Into<String>) -> Error {
        Error::Other {
            msg: msg.into(),
            hint: Some(hint.into()),
        }
    }

    /// An [`Error::Other`] with just a message.
    pub fn msg(msg: impl Into<String>) -> Error {
        Error::Other {
            msg: msg.into(),
            hint: None,
        }
    }

    /// `self` as the cause of the failed step `context`.
    pub fn context(self, context: impl Into<String>) -> Error {
        Error::Context {
            context: context.into(),
            source: Box::new(self),
        }
    }

    /// The error as the API's callers branch on it: through [`Error::Context`] to the
    /// cause, and to the first error of an [`Error::CleanupFailed`].
    pub fn kind(&self) -> &Error {
        match self {
            Error::Context { source, .. } | Error::CleanupFailed { source, .. } => source.kind(),
            other => other,
        }
    }

    /// An [`Error::NotRunning`] for container `name`.
    pub fn not_running(name: impl Into<String>) -> Error {
        Error::NotRunning { name: name.into() }
    }

    /// A monitor error about container `name`: "not running" becomes
    /// [`Error::NotRunning`] (naming the container), the rest [`Error::Command`].
    pub(crate) fn command(name: &str, e: CommandError) -> Error {
        match e {
            CommandError::NotRunning => Error::not_running(name),
            other => Error::Command(other),
        }
    }

    /// Whether the container was found not running (LXC's exit code 2 for `lxc-stop`).
    pub fn is_not_running(&self) -> bool {
        matches!(
            self.kind(),
            Error::NotRunning { .. }
                | Error::Command(CommandError::NotRunning)
                | Error::Attach(AttachError::NotRunning(_))
        )
    }
}

/// Result with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_keep_their_text() {
        let e = Error::command("c1", CommandError::NotRunning);
        assert!(matches!(&e, Error::NotRunning { name } if name == "c1"));
        assert!(e.is_not_running());
        assert_eq!(e.to_string(), "c1 is not running");
        let e = Error::command("c1", CommandError::Timeout);
        assert!(matches!(e, Error::Command(CommandError::Timeout)));
        assert_eq!(e.to_string(), "timed out waiting for the monitor");
        let sig = nix::sys::signal::Signal::SIGINT;
        let e = Error::Interrupted {
            signal: sig,
            during: None,
        };
        assert_eq!(e.to_string(), "interrupted by SIGINT");
        let e = Error::Interrupted {
            signal: sig,
            during: Some("the template was running"),
        };
        assert_eq!(
            e.to_string(),
            "interrupted by SIGINT while the template was running"
        );
    }

    #[test]
    fn layer_errors_pass_through_unchanged() {
        let s = lxcrs_storage::StorageError::InvalidKind { kind: "x".into() };
        let text = s.to_string();
        let e: Error = s.into();
        assert!(matches!(e, Error::Storage(_)));
        assert_eq!(e.to_string(), text);
        let e = Error::io(
            "run the monitor",
            "/usr/bin/lxcrs-monitor",
            std::io::Error::from_raw_os_error(libc::ENOENT),
        );
        assert!(e
            .to_string()
            .starts_with("failed to run the monitor /usr/bin/lxcrs-monitor: "));
    }

    #[test]
    fn wrapped_errors_keep_their_kind() {
        let e = Error::not_running("c2").context("failed to destroy clone c2");
        assert_eq!(
            e.to_string(),
            "failed to destroy clone c2: c2 is not running"
        );
        assert!(e.is_not_running());
        let e = Error::CleanupFailed {
            source: Box::new(Error::Exists),
            undo: Box::new(Error::msg("rmdir failed")),
        };
        assert!(matches!(e.kind(), Error::Exists));
        assert_eq!(
            e.to_string(),
            "container already exists\nand cleaning up after it failed too: rmdir failed"
        );
        let e = Error::NoSuchSnapshot {
            name: "c1".into(),
            snap: "snap9".into(),
        };
        assert_eq!(e.to_string(), "c1: no such snapshot snap9");
    }
}
