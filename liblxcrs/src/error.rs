//! The library's error type: what failed, why, and a hint when there is one.

use std::path::PathBuf;

/// Errors of the container API. Each variant carries its context.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A config file could not be read or is invalid.
    #[error(transparent)]
    Config(#[from] lxcrs_config::ConfigError),
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
    /// Another command holds the container's lock.
    #[error("{name} is busy: another command ({holder}) is working on it")]
    Busy { name: String, holder: String },
    /// Anything else, with a message and an optional hint.
    #[error("{msg}{}", hint.as_ref().map(|h| format!("\nhint: {h}")).unwrap_or_default())]
    Other { msg: String, hint: Option<String> },
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
}

/// Result with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
