//! The monitor's error type: why a start, or a request the monitor serves, failed.
//!
//! It stays typed inside the monitor and becomes text only where it leaves the process:
//! on the status socket (`StartStatus::Failed`) and in a command's `Failed` answer.

use std::path::PathBuf;

use nix::errno::Errno;

use crate::cgroups::CgroupError;
use crate::start::StartError;

/// What went wrong in the monitor.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MonitorError {
    /// The `--rcfile` given to lxc-start does not exist.
    #[error("config file {} does not exist", .0.display())]
    NoRcfile(PathBuf),
    /// The container has no config in its lxcpath.
    #[error("{name} is not defined in {} (no {})", .lxcpath.display(), .config.display())]
    NotDefined {
        name: String,
        lxcpath: PathBuf,
        config: PathBuf,
    },
    /// The config file is unreadable or invalid.
    #[error(transparent)]
    Config(#[from] lxcrs_config::ConfigError),
    /// A `-s KEY=VALUE` define was refused.
    #[error("failed to set {key} = {value}: {source}")]
    Define {
        key: String,
        value: String,
        #[source]
        source: Box<lxcrs_config::ConfigError>,
    },
    /// Another command holds the container's lock.
    #[error("{name} is busy: another command ({holder}) is working on it; retry when it is done")]
    Busy { name: String, holder: String },
    /// The container's create never finished.
    #[error("the creation of {name} did not finish (found {}): it may be incomplete\nhint: remove it with lxc-destroy -n {name} and create it again", .marker.display())]
    Partial { name: String, marker: PathBuf },
    /// An error of the container API (the lock, LXC's own monitor running it).
    #[error(transparent)]
    Api(#[from] crate::Error),
    /// A cgroup operation failed (boxed, as the other large errors here).
    #[error(transparent)]
    Cgroup(Box<CgroupError>),
    /// Freezing or thawing the payload failed (`op` is `freeze` or `unfreeze`).
    #[error("failed to {op}: {source}")]
    Freezer {
        op: &'static str,
        #[source]
        source: Box<CgroupError>,
    },
    /// The start sequence failed.
    #[error(transparent)]
    Start(#[from] StartError),
    /// A system call of the monitor itself failed; `what` names it and its object.
    #[error("{what}: {errno}")]
    Sys { what: String, errno: Errno },
    /// A file the monitor writes could not be written.
    #[error("failed to write {what} {}: {source}", .path.display())]
    Write {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A step failed: `context` says which, `source` why.
    #[error("{context}: {source}")]
    Context {
        context: &'static str,
        #[source]
        source: Box<MonitorError>,
    },
    /// A complete message from a layer that only has text (network teardown) or a
    /// precondition the monitor checks itself.
    #[error("{0}")]
    Message(String),
}

impl From<CgroupError> for MonitorError {
    fn from(e: CgroupError) -> MonitorError {
        MonitorError::Cgroup(Box::new(e))
    }
}

impl MonitorError {
    /// A [`MonitorError::Sys`].
    pub(crate) fn sys(what: impl Into<String>, errno: Errno) -> MonitorError {
        MonitorError::Sys {
            what: what.into(),
            errno,
        }
    }

    /// `self` as the cause of a failed step named `context`.
    pub(crate) fn context(self, context: &'static str) -> MonitorError {
        MonitorError::Context {
            context,
            source: Box::new(self),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_as_before() {
        let e = MonitorError::sys("fork", Errno::EAGAIN).context("failed to daemonize the monitor");
        assert_eq!(
            e.to_string(),
            format!("failed to daemonize the monitor: fork: {}", Errno::EAGAIN)
        );
        let e = MonitorError::Busy {
            name: "c1".into(),
            holder: "lxc-create".into(),
        };
        assert_eq!(
            e.to_string(),
            "c1 is busy: another command (lxc-create) is working on it; retry when it is done"
        );
        let e = MonitorError::NotDefined {
            name: "c1".into(),
            lxcpath: "/var/lib/lxc".into(),
            config: "/var/lib/lxc/c1/config".into(),
        };
        assert_eq!(
            e.to_string(),
            "c1 is not defined in /var/lib/lxc (no /var/lib/lxc/c1/config)"
        );
    }
}
