//! `lxc-attach`: run a command inside a running container.
//!
//! Recipe (`docs/lxc-contract.md` §1.1): ask the monitor for init's pid, pidfd and the payload cgroup
//! (the pidfd must be that pid's and alive, every config item must come back, or the
//! attach stops); fork; the child enters the payload cgroup (from the host's view of
//! cgroupfs), then `setns` into init's namespaces through the pidfd in one call (time
//! namespace included) and checks it is in each of them; as the pid namespace only
//! applies to children it forks again; the grandchild drops capabilities, sets the
//! environment, no_new_privs, ids and stdio, keeps no fd but stdio and no inheritable or
//! ambient capability, and execs. Any failure on the way aborts: the command never runs
//! outside the container. The first child reports the grandchild's exit status back
//! over a pipe, so the caller returns it (128+signal when killed). When any of our stdio
//! is a terminal, a pty is allocated on the host and its slave replaces exactly those
//! stdio fds that are terminals; the rest pass through.
//!
//! Against the container's processes (CVE-2019-5736, CVE-2016-9962): the tool runs from
//! a sealed memfd copy of lxcrs ([`crate::rexec`], done by the tool's `main`), and is
//! made non-dumpable before anything joins a namespace, so neither its binary nor its
//! memory can be reached through `/proc` or ptrace until the command's exec.

mod child;
mod options;

pub use options::{AttachOptions, Elevated, EnvPolicy, NsSelect};

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use nix::sys::wait::{waitpid, WaitStatus};

use crate::cgroups::{clone_into_refused, CgroupLayout, CgroupPaths, Cgroups, SelfEntry};
use crate::commands::{Client, CommandError};
use crate::console::{proxy, term, RawMode};
use crate::sys::pidfd;
use crate::Container;

/// Why an attach failed (the command's own failure is its exit status, not an error).
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error("{0} is not running")]
    NotRunning(String),
    #[error("failed to ask the monitor for {what}: {source}")]
    Monitor {
        what: &'static str,
        #[source]
        source: CommandError,
    },
    #[error("failed to {op}: {source}")]
    Sys {
        op: &'static str,
        #[source]
        source: nix::Error,
    },
    /// The child's own error text (setns, cgroup, exec…).
    #[error("{0}")]
    Child(String),
}

fn sys(op: &'static str) -> impl FnOnce(nix::Error) -> AttachError {
    move |source| AttachError::Sys { op, source }
}

/// What the attaching side learned from the monitor, handed to the child.
pub(crate) struct Target {
    pub pid: i32,
    pub pidfd: OwnedFd,
    pub cgroups: Option<Cgroups>,
    pub cap_drop: Vec<u32>,
    pub cap_keep: Option<Vec<u32>>,
    pub no_new_privs: bool,
    /// The container's seccomp policy (`lxc.seccomp.profile`), unless `-e LSM`.
    pub seccomp: Option<crate::start::seccomp::Program>,
}

fn caps_of(value: &str) -> Vec<u32> {
    value
        .split_whitespace()
        .filter_map(|c| lxcrs_config::model::Capability::parse(c).ok())
        .map(|c| c.0)
        .collect()
}

fn target(c: &Container, opts: &AttachOptions) -> Result<Target, AttachError> {
    let name = c.name().to_string();
    let client = match Client::connect(c.lxcpath(), c.name()) {
        Ok(Some(cl)) => cl,
        Ok(None) => return Err(AttachError::NotRunning(name)),
        Err(e) => {
            return Err(AttachError::Monitor {
                what: "the container",
                source: e,
            })
        }
    };
    let mon = |what| move |source| AttachError::Monitor { what, source };
    let pid = client.init_pid().map_err(mon("init's pid"))?;
    let pidfd = client.init_pidfd().map_err(mon("init's pidfd"))?;
    check_pidfd(&name, pid, &pidfd)?;
    let cgroups = if opts.elevated.cgroup {
        None
    } else {
        let (payload, _) = client.cgroup_paths().map_err(mon("the cgroup paths"))?;
        let paths: Option<CgroupPaths> = payload.join("\n").parse().ok();
        match (paths, CgroupLayout::detect_host()) {
            (Some(p), Ok(layout)) if !p.0.is_empty() => {
                Cgroups::open(&layout, c.name(), &p, None).ok()
            }
            _ => None,
        }
    };
    // Any error fails the attach: only a successful empty answer means "unset", or a
    // monitor in trouble would hand us no cap drop, no seccomp and no no_new_privs.
    let item = |k: &'static str| client.config_item(k).map_err(mon(k));
    let keep = item("lxc.cap.keep")?;
    let cap_keep = if keep.trim().is_empty() {
        None
    } else if keep.trim() == "none" {
        Some(Vec::new())
    } else {
        Some(caps_of(&keep))
    };
    let profile = item("lxc.seccomp.profile")?;
    let seccomp = if opts.elevated.lsm || profile.trim().is_empty() {
        None
    } else {
        let path = std::path::Path::new(profile.trim());
        let program = crate::start::seccomp::read(path)
            .and_then(|p| crate::start::seccomp::program(&p))
            .map_err(|e| AttachError::Child(e.to_string()))?;
        Some(program)
    };
    Ok(Target {
        seccomp,
        pid,
        pidfd,
        cgroups,
        cap_drop: caps_of(&item("lxc.cap.drop")?),
        cap_keep,
        no_new_privs: item("lxc.no_new_privs")?.trim() == "1",
    })
}

/// The pid in a pidfd's `/proc/self/fdinfo` entry (`Pid:`; -1 once the process is gone,
/// Linux ≥ 5.14 also 0 when it lives in no pid namespace of ours).
fn fdinfo_pid(text: &str) -> Option<i32> {
    text.lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .and_then(|v| v.trim().parse().ok())
}

/// The pidfd the monitor handed us must be init's, alive, and have the pid it told us:
/// the two come from separate requests, and a reboot or an exit in between would make us
/// join the wrong process's namespaces (or none).
pub(crate) fn check_pidfd(name: &str, pid: i32, pidfd: &OwnedFd) -> Result<(), AttachError> {
    let bad = |why: String| {
        AttachError::Child(format!(
            "refusing to attach to {name}: {why} (the container may be stopping or rebooting; retry)"
        ))
    };
    let path = format!("/proc/self/fdinfo/{}", pidfd.as_fd().as_raw_fd());
    let text =
        std::fs::read_to_string(&path).map_err(|e| bad(format!("cannot read {path}: {e}")))?;
    match fdinfo_pid(&text) {
        Some(p) if p == pid && p > 0 => {}
        Some(p) => {
            return Err(bad(format!(
                "the monitor's pidfd is for pid {p}, not init's pid {pid}"
            )))
        }
        None => return Err(bad(format!("{path} names no pid: not a pidfd"))),
    }
    pidfd::send_signal(pidfd, 0).map_err(|e| bad(format!("init (pid {pid}) is gone: {e}")))
}

/// Runs `argv` in the container; returns its exit status (128+signal when killed).
pub fn attach(c: &Container, opts: &AttachOptions, argv: &[String]) -> Result<i32, AttachError> {
    // Not dumpable from here to the command's exec (inherited by both children): no
    // container process may ptrace us or open our /proc files while we hold host
    // credentials and fds inside its namespaces (CVE-2016-9962 class).
    // SAFETY: prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
        return Err(sys("make lxc-attach non-dumpable")(
            nix::errno::Errno::last(),
        ));
    }
    let t = target(c, opts)?;
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let ttys = [
        term::is_tty(stdin.as_fd()),
        term::is_tty(stdout.as_fd()),
        term::is_tty(stderr.as_fd()),
    ];
    let pty = if ttys.iter().any(|t| *t) {
        let src = if ttys[0] {
            stdin.as_fd()
        } else if ttys[1] {
            stdout.as_fd()
        } else {
            stderr.as_fd()
        };
        let ws = term::winsize(src);
        let pty = nix::pty::openpty(
            ws.as_ref()
                .map(|w| nix::pty::Winsize {
                    ws_row: w.ws_row,
                    ws_col: w.ws_col,
                    ws_xpixel: 0,
                    ws_ypixel: 0,
                })
                .as_ref(),
            None,
        )
        .map_err(sys("allocate a pty"))?;
        // glibc's openpty sets no CLOEXEC: neither end may reach the command by accident
        // (the child dup2s the slave onto its stdio, which clears the flag there).
        for fd in [&pty.master, &pty.slave] {
            nix::fcntl::fcntl(
                fd,
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
            )
            .map_err(sys("mark the pty close-on-exec"))?;
        }
        Some(pty)
    } else {
        None
    };
    let (report_r, report_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(sys("create a pipe"))?;

    let entry = match &t.cgroups {
        Some(cg) => Some(CgroupEntry::open(cg)?),
        None => None,
    };
    let (forked, in_v2) = fork_into(
        entry
            .as_ref()
            .and_then(|e| e.v2_dir.as_ref().map(|(_, fd)| fd)),
    )?;
    match forked {
        crate::start::Cloned::Child => {
            drop(report_r);
            let slave = pty.as_ref().map(|p| p.slave.as_fd());
            let entry = entry.as_ref().map(|e| (e, in_v2));
            let code = child::first(&t, entry, opts, argv, slave, ttys, &report_w);
            // SAFETY: leave without running the parent's destructors or atexit handlers.
            unsafe { libc::_exit(code) }
        }
        crate::start::Cloned::Parent { pid: child, .. } => {
            drop(entry);
            drop(report_w);
            let master = pty.map(|p| {
                drop(p.slave);
                p.master
            });
            if let Some(m) = &master {
                let log = opts.log_file.as_ref().and_then(|p| {
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(p)
                        .ok()
                });
                let raw = if ttys[0] {
                    RawMode::enter(stdin.as_fd())
                } else {
                    None
                };
                let out = if ttys[1] {
                    stdout.as_fd()
                } else if ttys[2] {
                    stderr.as_fd()
                } else {
                    stdin.as_fd()
                };
                let input = ttys[0].then(|| stdin.as_fd());
                let mut log = log;
                let _ = proxy::proxy(
                    input,
                    out,
                    m.as_fd(),
                    None,
                    Some(report_r.as_fd()),
                    log.as_mut(),
                    Some(m.as_fd()),
                );
                drop(raw);
            }
            let mut report = String::new();
            let _ = std::fs::File::from(report_r).read_to_string(&mut report);
            let ws = loop {
                match waitpid(child, None) {
                    Err(nix::errno::Errno::EINTR) => continue,
                    r => break r,
                }
            };
            drop(master);
            interpret(&report, ws.ok())
        }
    }
}

/// How the first child gets into the payload cgroup without the kernel's slow migration
/// path (see `cgroups::SelfEntry`): it writes the v1 hierarchies' `tasks` itself, and the
/// fork places it in the v2 directory.
pub(crate) struct CgroupEntry {
    pub v1: SelfEntry,
    /// The cgroup2 directory the process goes to ([`Cgroups::v2_attach_dir`]), open.
    v2_dir: Option<(PathBuf, OwnedFd)>,
}

impl CgroupEntry {
    fn open(cg: &Cgroups) -> Result<Self, AttachError> {
        let cgroup = |e: crate::cgroups::CgroupError| {
            AttachError::Child(format!("failed to open the container's cgroup: {e}"))
        };
        let v1 = cg.payload_self_entry().map_err(cgroup)?;
        let v2_dir = match cg.v2_attach_dir().map_err(cgroup)? {
            Some(d) => {
                let fd = nix::fcntl::open(
                    &d,
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map_err(sys("open the container's cgroup2 directory"))?;
                Some((d, fd))
            }
            None => None,
        };
        Ok(Self { v1, v2_dir })
    }

    /// The child's own moves: the v1 hierarchies, and the cgroup2 one unless the fork
    /// placed it there.
    pub(crate) fn enter(&self, in_v2: bool) -> crate::cgroups::Result<()> {
        self.v1.enter()?;
        match &self.v2_dir {
            Some((dir, _)) if !in_v2 => crate::cgroups::enter_dir(dir, nix::unistd::getpid()),
            _ => Ok(()),
        }
    }
}

/// Forks the first child, straight into `cgroup` (a cgroup2 directory) where the kernel
/// allows; says whether it did.
fn fork_into(cgroup: Option<&OwnedFd>) -> Result<(crate::start::Cloned, bool), AttachError> {
    // lxc-attach is single-threaded; the child only makes syscalls and exits.
    let none = nix::sched::CloneFlags::empty();
    match crate::start::clone3(none, cgroup) {
        Ok(c) => Ok((c, cgroup.is_some())),
        Err(e) if cgroup.is_some() && clone_into_refused(e) => crate::start::clone3(none, None)
            .map(|c| (c, false))
            .map_err(sys("fork")),
        Err(e) => Err(sys("fork")(e)),
    }
}

/// The report the first child writes: `E<msg>\n` on failure, `X<code>` or `K<signal>`
/// for the command's end.
fn interpret(report: &str, first: Option<WaitStatus>) -> Result<i32, AttachError> {
    let mut code = None;
    let mut errors = Vec::new();
    for line in report.lines() {
        if let Some(m) = line.strip_prefix('E') {
            errors.push(m.to_string());
        } else if let Some(x) = line.strip_prefix('X') {
            code = x.trim().parse().ok();
        } else if let Some(k) = line.strip_prefix('K') {
            code = k.trim().parse::<i32>().ok().map(|s| 128 + s);
        }
    }
    if !errors.is_empty() {
        return Err(AttachError::Child(errors.join("\n")));
    }
    match (code, first) {
        (Some(c), _) => Ok(c),
        (None, Some(WaitStatus::Signaled(_, s, _))) => Ok(128 + s as i32),
        _ => Err(AttachError::Child(
            "the attached process vanished without a status".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports() {
        assert_eq!(interpret("X7\n", None).unwrap(), 7);
        assert_eq!(interpret("K9\n", None).unwrap(), 137);
        assert!(interpret("Efailed to setns: EPERM\n", None)
            .unwrap_err()
            .to_string()
            .contains("setns"));
        assert!(interpret("", None).is_err());
    }

    #[test]
    fn fdinfo() {
        let text =
            "pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1057\nPid:\t4242\nNSpid:\t4242\t1\n";
        assert_eq!(fdinfo_pid(text), Some(4242));
        assert_eq!(fdinfo_pid("Pid:\t-1\n"), Some(-1));
        assert_eq!(fdinfo_pid("pos:\t0\n"), None);
    }

    #[test]
    fn cap_names() {
        assert_eq!(caps_of("sys_module  mac_admin"), vec![16, 33]);
        assert!(caps_of("").is_empty());
    }
}
