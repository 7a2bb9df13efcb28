//! The start sequence: turn a container config into a running init process.
//!
//! [`spawn`] runs the whole of LXC's `lxc_spawn` + `do_start` (`docs/lxc-contract.md` §6.1): pre-start
//! hook, pty allocation, `clone3` into fresh namespaces (and straight into the payload
//! cgroup where the kernel allows), id maps, cgroup limits, then the child's setup —
//! rootfs, `lxc.mount.*`, `/dev`, devpts, console and ttys, `pivot_root`, sysctls,
//! capabilities, seccomp, hooks, environment — and finally `exec` of init.
//!
//! The two processes talk over a socketpair with typed messages ([`protocol`]); the child
//! sends its own error text back, so a failure reads like
//! `failed to mount proc on /usr/lib/x86_64-linux-gnu/lxc/rootfs/proc: Permission denied`.
//! On any error everything created so far is undone and the child is killed and reaped.
//!
//! Kernel calls of the child's setup go through the [`syscall::Syscall`] seam, so the
//! order of operations (the "mount plan") is unit-tested against a recording fake.

mod at;
mod caps;
mod child;
mod clone;
pub(crate) use clone::{clone3, Cloned};
mod dev;
pub mod env;
mod error;
#[cfg(test)]
mod fake;
pub mod hooks;
pub mod idmap;
mod init;
pub mod limits;
pub mod lsm;
mod mount_auto;
pub mod mounts;
pub mod namespaces;
pub mod net;
mod parent;
mod pivot;
pub mod protocol;
mod pty;
mod rootfs;
pub mod seccomp;
mod setup;
pub mod spec;
pub mod syscall;

pub use error::StartError;
pub use hooks::{HookContext, HookKind};
pub use namespaces::Namespace;

use std::os::fd::OwnedFd;
use std::path::Path;

use nix::unistd::Pid;

/// Everything [`spawn`] needs to start one container.
pub struct StartRequest<'a> {
    /// Container name (`LXC_NAME`, default hostname when `lxc.uts.name` is unset).
    pub name: &'a str,
    /// The lxcpath the container lives in.
    pub lxcpath: &'a Path,
    /// The config file the config was loaded from (`LXC_CONFIG_FILE`).
    pub config_path: &'a Path,
    /// The loaded, typed config.
    pub config: &'a lxcrs_config::ContainerConfig,
    /// The init command: `lxc.init.cmd`, `/sbin/init`, or `lxc-start -- cmd`.
    pub argv: Vec<String>,
    /// lxc-execute mode: a built-in minimal init runs as PID 1, forks `argv`, forwards
    /// signals to it, reaps orphans and exits with `argv`'s status (128+sig if killed).
    pub execute: bool,
    /// The payload cgroup, already created by the monitor. `spawn` clones into it (or
    /// enters it) and applies the limits before the child continues.
    pub cgroups: &'a crate::cgroups::Cgroups,
    /// Daemonized: init's stdio goes to `/dev/null` when there is no console. In the
    /// foreground the monitor proxies the console.
    pub daemonized: bool,
}

/// A running container init, as handed to the monitor.
#[derive(Debug)]
pub struct Spawned {
    /// Init's pid in the monitor's pid namespace.
    pub pid: Pid,
    /// A pidfd for init (from `CLONE_PIDFD`).
    pub pidfd: OwnedFd,
    /// Pty master of `/dev/console`; `None` when `lxc.console.path = none`.
    pub console: Option<OwnedFd>,
    /// Pty masters of `tty1..ttyN` (`lxc.tty.max`), in order.
    pub ttys: Vec<OwnedFd>,
    /// Namespace fds of init (`/proc/PID/ns/*`), kept for the stop hooks.
    pub ns_fds: Vec<(Namespace, OwnedFd)>,
    /// The network devices made for the container; the monitor tears them down at stop
    /// ([`net::NetSetup::teardown`], with init's netns fd from `ns_fds` for phys devices).
    pub network: net::NetSetup,
}

/// Start the container described by `req`: see the module docs.
///
/// On success init has exec'd (or, with `execute`, the built-in init is running). On
/// error nothing is left behind: the child is killed and reaped, ptys are closed, and
/// the error carries the child's own text (what failed, why).
///
/// The caller must be single-threaded (no threads, no async runtime alive): `clone3`
/// copies only the calling thread, and a lock held by another thread would stay held in
/// the child forever. `spawn` checks `/proc/self/status` and refuses otherwise. The child
/// exits with SIGCHLD, so the caller reaps init with `waitpid(pid)` (or via `pidfd`).
pub fn spawn(req: &StartRequest) -> Result<Spawned, StartError> {
    parent::spawn(req)
}

/// Warnings of the start sequence (a rule or setting that could not be honoured as
/// written), always printed to stderr.
pub(crate) fn warn(msg: &str) {
    use std::io::Write;
    let _ = std::io::stderr().write_all(format!("lxcrs: warning: {msg}\n").as_bytes());
}

/// Debug messages of the start sequence (skipped optional mounts, unknown syscalls),
/// printed to stderr when `LXCRS_DEBUG` is set.
pub(crate) fn debug(msg: &str) {
    if std::env::var_os("LXCRS_DEBUG").is_some() {
        use std::io::Write;
        // Straight to fd 2: the test harness's output capture does not reach forked children.
        let _ = std::io::stderr().write_all(format!("lxcrs: start: {msg}\n").as_bytes());
    }
}
