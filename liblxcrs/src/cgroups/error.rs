//! The cgroups module's error type: what failed (path, key, value, pid), the errno, and a
//! hint when the errno has a well-known cgroup meaning.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;

/// Result of the cgroups module.
pub type Result<T, E = CgroupError> = std::result::Result<T, E>;

/// Errors of the cgroups module. Each variant carries its context.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A line of /proc/self/mountinfo or /proc/PID/cgroup could not be parsed.
    #[error("malformed {what} line {line} ({reason}): {text:?}")]
    Malformed {
        what: &'static str,
        line: usize,
        text: String,
        reason: &'static str,
    },
    /// Neither a cgroup (v1) nor a cgroup2 filesystem is mounted.
    #[error("no cgroup hierarchy found: mountinfo lists no cgroup or cgroup2 mount matching /proc/self/cgroup\nhint: mount cgroup2 on /sys/fs/cgroup")]
    NoHierarchies,
    /// The caller's (or PID 1's) cgroup lies outside the part of the hierarchy that is mounted.
    #[error("cgroup {cgroup} is not visible under the {hierarchy} mount at {mount}, which shows only {mount_root} and below")]
    NotVisible {
        hierarchy: String,
        cgroup: PathBuf,
        mount: PathBuf,
        mount_root: PathBuf,
    },
    /// Reading a cgroup file failed.
    #[error("failed to read {path}: {}", .errno.desc())]
    Read { path: PathBuf, errno: Errno },
    /// Writing a cgroup file failed.
    #[error("failed to write {value:?} to {path}: {}{}", .errno.desc(), Hint(*.hint))]
    Write {
        path: PathBuf,
        value: String,
        errno: Errno,
        hint: Option<&'static str>,
    },
    /// Creating a cgroup directory failed.
    #[error("failed to create cgroup {path}: {}{}", .errno.desc(), Hint(*.hint))]
    Mkdir {
        path: PathBuf,
        errno: Errno,
        hint: Option<&'static str>,
    },
    /// Removing a cgroup directory failed (after retrying on EBUSY).
    #[error("failed to remove cgroup {path}: {}{}", .errno.desc(), Hint(*.hint))]
    Rmdir {
        path: PathBuf,
        errno: Errno,
        hint: Option<&'static str>,
    },
    /// Listing a cgroup directory failed.
    #[error("failed to list cgroup {path}: {}", .errno.desc())]
    ListDir { path: PathBuf, errno: Errno },
    /// A cgroup file holds something unexpected.
    #[error("cannot parse {path}: {reason}")]
    Parse { path: PathBuf, reason: String },
    /// The container name cannot be used in a cgroup name.
    #[error("invalid container name {name:?} for a cgroup: {reason}")]
    InvalidName { name: String, reason: &'static str },
    /// Every candidate name exists already and cannot be removed.
    #[error("no free cgroup name: {base} and {base}-1 to {base}-{max} exist under {parent} and cannot be removed\nhint: remove the stale cgroups of crashed runs (rmdir them once their processes are gone)")]
    NoFreeName {
        base: String,
        parent: PathBuf,
        max: u32,
    },
    /// A config key or `lxc-cgroup` file name is not a cgroup key.
    #[error("invalid cgroup key {key:?}: {reason}")]
    InvalidKey { key: String, reason: &'static str },
    /// A `lxc.cgroup.*` (v1) key on a host without that v1 controller.
    #[error("cannot apply {key} = {value:?}: this host has no cgroup v1 {controller} hierarchy{}", Hint(.hint.as_deref()))]
    NoV1Controller {
        key: String,
        value: String,
        controller: String,
        hint: Option<String>,
    },
    /// A `lxc.cgroup2.*` key on a host whose cgroup2 hierarchy lacks that controller.
    #[error("cannot apply {key} = {value:?}: this host has no cgroup2 {controller} controller ({reason}){}", Hint(.hint.as_deref()))]
    NoV2Controller {
        key: String,
        value: String,
        controller: String,
        reason: String,
        hint: Option<String>,
    },
    /// The controller exists but is not enabled for the container's cgroup2 cgroup.
    #[error("cannot apply {key} = {value:?}: the cgroup2 {controller} controller is not enabled for {path} ({reason})\nhint: the parent cgroup must list it in cgroup.subtree_control; on systemd hosts run under a unit or scope with Delegate=yes")]
    NotDelegated {
        key: String,
        value: String,
        controller: String,
        path: PathBuf,
        reason: String,
    },
    /// `lxc.cgroup2.devices.*` is an eBPF program, not a file.
    #[error("{key} is a cgroup2 device rule: it is enforced by an eBPF device program, not by writing a cgroup file")]
    DeviceRule { key: String },
    /// A `devices.*` key that is not an allow or deny rule: no host can apply it.
    #[error("cannot apply {key} = {value:?}: only devices.allow and devices.deny rules can be applied (as v1 devices files or the cgroup2 device program)\nhint: write the policy as lxc.cgroup2.devices.allow / lxc.cgroup2.devices.deny rules")]
    UntranslatableDeviceKey { key: String, value: String },
    /// Device rules were given but the host has neither a v1 devices controller nor cgroup2.
    #[error("cannot apply {key}: this host has neither a cgroup v1 devices hierarchy nor a cgroup2 hierarchy for a device program, so the container would run without its device policy\nhint: mount the devices controller (or cgroup2), or remove the device rules knowingly")]
    NoDeviceController { key: String },
    /// A `devices.allow` / `.deny` value that is not a device rule.
    #[error("invalid device rule {key} = {value:?}: {reason}")]
    InvalidDeviceRule {
        key: String,
        value: String,
        reason: &'static str,
    },
    /// `BPF_PROG_LOAD` of the device program failed; `log` is the verifier's.
    #[error("failed to load the eBPF device program ({insns} instructions) for {path}: {}{}{}", .errno.desc(), Hint(*.hint), VerifierLog(.log))]
    BpfLoad {
        path: PathBuf,
        insns: usize,
        errno: Errno,
        hint: Option<&'static str>,
        log: String,
    },
    /// Opening the cgroup directory to attach the device program to failed.
    #[error("failed to open cgroup {path} to attach its device program: {}", .errno.desc())]
    BpfOpenCgroup { path: PathBuf, errno: Errno },
    /// `BPF_PROG_ATTACH` of the device program failed.
    #[error("failed to attach the eBPF device program to {path}: {}{}", .errno.desc(), Hint(*.hint))]
    BpfAttach {
        path: PathBuf,
        errno: Errno,
        hint: Option<&'static str>,
    },
    /// `lxc-cgroup` on `devices.*` of a cgroup2 container: there are no such files.
    #[error("cannot {op} {file} at runtime on cgroup2: not supported, cgroup2 has no devices files (the device rules are an eBPF program attached when the container starts)\nhint: change lxc.cgroup2.devices.allow / lxc.cgroup2.devices.deny in the container's config and restart it")]
    DevicesAtRuntime { op: &'static str, file: String },
    /// A file that `lxc-cgroup` asked for lives in no hierarchy of this host.
    #[error("no cgroup hierarchy of this host holds {file}: {reason}")]
    NoHierarchyFor { file: String, reason: String },
    /// Applying a limit failed; the source names the file and value.
    #[error("cannot apply {key}: {source}")]
    Limit {
        key: String,
        source: Box<CgroupError>,
    },
    /// An operation needs a cgroup that has not been created (or was removed).
    #[error("the {which} cgroup of {name} does not exist (not created yet, or already removed)")]
    NotCreated { which: &'static str, name: String },
    /// Paths handed over by a monitor do not fit this host's hierarchies.
    #[error("invalid cgroup paths: {reason}")]
    InvalidPaths { reason: String },
    /// No freezer: neither a v1 freezer hierarchy nor a cgroup2 hierarchy.
    #[error("cannot freeze: this host has neither a cgroup v1 freezer hierarchy nor a cgroup2 hierarchy")]
    NoFreezer,
    /// A cgroup file did not reach the expected state in time.
    #[error(
        "timed out after {after:?} waiting for {path} to show {expected:?} (last read {last:?})"
    )]
    Timeout {
        path: PathBuf,
        expected: String,
        last: String,
        after: Duration,
    },
    /// Sending SIGKILL failed.
    #[error("failed to send SIGKILL to pid {pid}: {}", .errno.desc())]
    Kill { pid: i32, errno: Errno },
    /// Processes are still in the cgroup after killing them.
    #[error("processes {pids:?} are still in {path} after {after:?} of SIGKILL")]
    Survivors {
        path: PathBuf,
        pids: Vec<i32>,
        after: Duration,
    },
    /// Teardown continued past failures; these are all of them.
    #[error("cgroup teardown incomplete: {}", Joined(.0))]
    Teardown(Vec<CgroupError>),
}

impl CgroupError {
    /// True when the error says the host lacks what a config key needs (a v1 key on a
    /// cgroup2-only host, a v2 key on a v1 host): start may choose to warn and go on.
    pub fn is_unsupported_on_host(&self) -> bool {
        matches!(
            self,
            Self::NoV1Controller { .. } | Self::NoV2Controller { .. }
        )
    }

    /// The errno behind this error, if one syscall failed.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Self::Read { errno, .. }
            | Self::Write { errno, .. }
            | Self::Mkdir { errno, .. }
            | Self::Rmdir { errno, .. }
            | Self::ListDir { errno, .. }
            | Self::Kill { errno, .. }
            | Self::BpfLoad { errno, .. }
            | Self::BpfOpenCgroup { errno, .. }
            | Self::BpfAttach { errno, .. } => Some(*errno),
            Self::Limit { source, .. } => source.errno(),
            _ => None,
        }
    }

    pub(crate) fn read(path: &Path, errno: Errno) -> Self {
        Self::Read {
            path: path.to_path_buf(),
            errno,
        }
    }

    pub(crate) fn write(path: &Path, value: &str, errno: Errno) -> Self {
        Self::Write {
            path: path.to_path_buf(),
            value: value.to_string(),
            errno,
            hint: write_hint(path, errno),
        }
    }

    /// Folds a list of teardown errors: none → Ok, one → itself, more → `Teardown`.
    pub(crate) fn collect(mut errors: Vec<CgroupError>) -> Result<()> {
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(Self::Teardown(errors)),
        }
    }
}

/// The errno of an `io::Error` (EIO when it carries none).
pub(crate) fn errno_of(err: &std::io::Error) -> Errno {
    Errno::from_raw(err.raw_os_error().unwrap_or(libc::EIO))
}

/// What a failed write usually means, by file and errno.
fn write_hint(path: &Path, errno: Errno) -> Option<&'static str> {
    let file = path.file_name().and_then(|f| f.to_str()).unwrap_or("");
    match (file, errno) {
        ("cgroup.procs", Errno::ENOSPC) => {
            Some("cpuset.cpus or cpuset.mems of this cgroup is empty (cgroup v1 cpuset)")
        }
        ("cgroup.procs", Errno::EBUSY) => Some(
            "cgroup2 allows processes only in leaf cgroups: this one has controllers enabled in its cgroup.subtree_control",
        ),
        ("cgroup.procs", Errno::EOPNOTSUPP) => {
            Some("the cgroup2 cgroup is in an invalid domain state (threaded subtree)")
        }
        ("cgroup.procs", Errno::ESRCH) => Some("the process no longer exists"),
        ("cgroup.subtree_control", Errno::EBUSY) => Some(
            "the cgroup still holds processes, and cgroup2 lets only a cgroup without processes enable controllers for its children; move them into a leaf cgroup or run under a delegated unit (systemd-run --scope -p Delegate=yes …)",
        ),
        ("cgroup.subtree_control", Errno::ENOENT) => {
            Some("the controller is not available: the parent cgroup has not delegated it")
        }
        (_, Errno::EACCES | Errno::EPERM) => {
            Some("permission denied: this cgroup is not delegated to the current user")
        }
        (_, Errno::ENOENT) => Some("no such cgroup file: the controller is not enabled here or the kernel lacks it"),
        _ => None,
    }
}

/// Displays " \nhint: …" when there is a hint, nothing otherwise.
struct Hint<T>(Option<T>);

impl<T: fmt::Display> fmt::Display for Hint<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(h) => write!(f, "\nhint: {h}"),
            None => Ok(()),
        }
    }
}

/// Displays "\nverifier log:\n…" when the verifier left one, nothing otherwise.
struct VerifierLog<'a>(&'a str);

impl fmt::Display for VerifierLog<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            "" => Ok(()),
            log => write!(f, "\nverifier log:\n{log}"),
        }
    }
}

/// Displays a list of errors separated by "; ".
struct Joined<'a>(&'a [CgroupError]);

impl fmt::Display for Joined<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_error_reads_like_the_project_style() {
        let e = CgroupError::write(
            Path::new("/sys/fs/cgroup/memory/lxcrs.payload.c1/memory.limit_in_bytes"),
            "max",
            Errno::EINVAL,
        );
        assert_eq!(
            e.to_string(),
            "failed to write \"max\" to /sys/fs/cgroup/memory/lxcrs.payload.c1/memory.limit_in_bytes: Invalid argument"
        );
        assert_eq!(e.errno(), Some(Errno::EINVAL));
    }

    #[test]
    fn write_error_adds_a_hint_for_known_errnos() {
        let e = CgroupError::write(Path::new("/x/cgroup.procs"), "42", Errno::ENOSPC);
        assert!(e.to_string().ends_with(
            "\nhint: cpuset.cpus or cpuset.mems of this cgroup is empty (cgroup v1 cpuset)"
        ));
    }

    #[test]
    fn teardown_joins_every_error() {
        let a = CgroupError::read(Path::new("/a"), Errno::EIO);
        let b = CgroupError::read(Path::new("/b"), Errno::EBUSY);
        let e = CgroupError::collect(vec![a, b]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cgroup teardown incomplete: failed to read /a: I/O error; failed to read /b: Device or resource busy"
        );
        assert!(CgroupError::collect(Vec::new()).is_ok());
    }
}
