//! The command protocol between the tools and a container's monitor.
//!
//! Each running container's monitor listens on an abstract SOCK_SEQPACKET unix socket
//! named by [`socket::command_socket_name`]; a refused connection means the container is
//! STOPPED. Requests and responses are the typed enums of [`message`], encoded by
//! [`wire`]; fds (init's pidfd, terminal masters) travel as SCM_RIGHTS.
//!
//! Both ends check the other's credentials ([`peer`]): only root and the lxcpath's owner
//! are served, and a client trusts only a monitor run by one of them.

pub mod lxc;
pub mod message;
pub mod options;
pub mod peer;
pub mod socket;
pub mod state;
pub mod wire;

mod client;

pub use client::Client;
pub use message::{Request, Response};

/// A malformed message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("truncated message ({len} bytes): expected {expected}")]
    Truncated { expected: &'static str, len: usize },
    #[error("unknown {kind} tag {tag}")]
    UnknownTag { kind: &'static str, tag: u8 },
    #[error("{extra} unexpected bytes at the end of the message")]
    Trailing { extra: usize },
    #[error("{field} is not valid UTF-8")]
    BadUtf8 { field: &'static str },
}

/// Errors talking to a monitor.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// No monitor listens: the container is not running.
    #[error("container is not running")]
    NotRunning,
    #[error("failed to {op}: {source}")]
    Io {
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("bad message from the monitor: {0}")]
    Protocol(#[from] ProtocolError),
    /// The monitor refused or failed the request.
    #[error("{msg}")]
    Failed {
        request: &'static str,
        errno: i32,
        msg: String,
    },
    /// The monitor answered something else than the request calls for.
    #[error("monitor answered {request} with {got}, expected {expected}")]
    Unexpected {
        request: &'static str,
        expected: &'static str,
        got: &'static str,
    },
    /// The monitor closed the connection before answering (it is exiting).
    #[error("the monitor closed the connection while answering {request}")]
    Closed { request: &'static str },
    #[error("timed out waiting for the monitor")]
    Timeout,
    /// We may not talk to this lxcpath's monitors.
    #[error("permission denied: uid {uid} may not control containers in {lxcpath} (only root and the lxcpath's owner{owner} may)\nhint: run the command as root (or as the owner of {lxcpath})")]
    Denied {
        uid: u32,
        lxcpath: String,
        owner: String,
    },
    /// The socket name is held by a process we do not trust (a squatter).
    #[error("the command socket @{socket} is held by pid {pid} (uid {uid}), which is neither root nor the owner of the lxcpath: refusing to trust it\nhint: another user may be squatting the name; find it with `ss -xlp | grep '{socket}'`, stop that process, then retry")]
    Impostor { socket: String, pid: i32, uid: u32 },
}

impl CommandError {
    pub(crate) fn io(op: &'static str, source: std::io::Error) -> CommandError {
        CommandError::Io { op, source }
    }

    /// The errno the monitor reported, if this is a refusal.
    pub fn errno(&self) -> Option<i32> {
        match self {
            CommandError::Failed { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}
