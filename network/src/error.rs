//! The error type of the host- and container-side NIC operations.

use std::io;
use std::path::PathBuf;

use crate::netlink::NlError;

/// Why a network operation failed. Variants that come from a configured value carry
/// the config key (`lxc.net.N.<field>`) so the message points at the line to fix.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// A configured value is wrong or does not match the host.
    #[error("{key}: {problem}{}", hint.as_ref().map(|h| format!("; {h}")).unwrap_or_default())]
    Invalid {
        key: String,
        problem: String,
        hint: Option<String>,
    },
    /// The running kernel cannot create this kind of device.
    #[error("{key}: this kernel cannot create {kind} devices ({source}); load the {kind} module or use another lxc.net type")]
    Unsupported {
        key: String,
        kind: &'static str,
        source: NlError,
    },
    /// A netlink request failed.
    #[error("failed to {what}: {source}")]
    Netlink { what: String, source: NlError },
    /// A file or process operation failed.
    #[error("failed to {what}: {source}")]
    Io { what: String, source: io::Error },
    /// `script.up` / `script.down` failed.
    #[error("{key}: script {} failed: {detail}", script.display())]
    Script {
        key: String,
        script: PathBuf,
        detail: String,
    },
    /// An interface to move (`lxc-device`) is missing, or its name is taken.
    #[error("{0}")]
    Interface(String),
    /// An external helper (ovs-vsctl) failed.
    #[error("failed to {what}: {detail}")]
    Command { what: String, detail: String },
}

impl NetError {
    pub(crate) fn invalid(
        key: impl Into<String>,
        problem: impl Into<String>,
        hint: Option<String>,
    ) -> NetError {
        NetError::Invalid {
            key: key.into(),
            problem: problem.into(),
            hint,
        }
    }

    pub(crate) fn nl(what: impl Into<String>) -> impl FnOnce(NlError) -> NetError {
        let what = what.into();
        move |source| NetError::Netlink { what, source }
    }

    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(io::Error) -> NetError {
        let what = what.into();
        move |source| NetError::Io { what, source }
    }

    /// The config key this error is about, when it is about one.
    pub fn key(&self) -> Option<&str> {
        match self {
            NetError::Invalid { key, .. }
            | NetError::Unsupported { key, .. }
            | NetError::Script { key, .. } => Some(key),
            _ => None,
        }
    }
}

pub type Result<T, E = NetError> = std::result::Result<T, E>;
