//! The child side of the start sequence (`docs/lxc-contract.md` §6.1 "Child side"): from the first
//! instruction after `clone3` to `exec` of init. Every failure is sent to the parent as
//! text over the start socket, then the child exits.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use lxcrs_config::model::HookType;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::stat::Mode;
use nix::unistd::{Gid, Uid};

use super::hooks::{self, HookContext};
use super::protocol::ChildEnd;
use super::seccomp::Program;
use super::setup::{self, ChildInfo};
use super::spec::Spec;
use super::syscall::Linux;
use super::{caps, env, init, limits, Namespace, StartError};
use crate::cgroups::SelfEntry;

/// Everything the child gets from the parent (by memory copy: clone3 without CLONE_VM).
pub(crate) struct Child<'a> {
    pub spec: &'a Spec,
    pub argv: &'a [String],
    pub execute: bool,
    pub chan: ChildEnd,
    /// The console pty slave (allocated from the host's /dev/ptmx) and its path there
    /// (`/dev/pts/N`). The path is what gets bind-mounted: the fd's mount belongs to the
    /// monitor's mount namespace, which a bind mount may not take from.
    pub console: Option<(RawFd, PathBuf)>,
    pub own_cgroups: Vec<(String, PathBuf)>,
    /// The payload's v1 `tasks` files: the child moves itself first thing (see
    /// `cgroups::SelfEntry`); the v2 hierarchy placed it at clone.
    pub cgroup_entry: SelfEntry,
    pub seccomp: Option<Program>,
    pub hook_ctx: HookContext,
}

/// Run the child and never return: exec init, or report the error and exit.
pub(crate) fn main(child: Child) -> ! {
    let Child {
        spec,
        argv,
        execute,
        chan,
        console,
        own_cgroups,
        cgroup_entry,
        seccomp,
        hook_ctx,
    } = child;
    // lxc-execute's PID 1 is the static lxcrs-init, exec'd from a sealed memfd.
    let init_exe = if execute {
        match init::sealed_init() {
            Ok(fd) => Some(fd),
            Err(e) => {
                chan.send_error(&e);
                // SAFETY: _exit ends this copy of the monitor without its atexit handlers.
                unsafe { libc::_exit(1) }
            }
        }
    } else {
        None
    };
    match run(
        spec,
        &chan,
        console,
        own_cgroups,
        cgroup_entry,
        seccomp.as_ref(),
        &hook_ctx,
    ) {
        Ok(env) => match &init_exe {
            Some(exe) => chan.send_error(&init::exec_init(&chan, exe, argv, &env)),
            None => chan.send_error(&exec(argv, &env)),
        },
        Err(e) => {
            super::debug(&format!("child failed: {e}"));
            chan.send_error(&e)
        }
    }
    // SAFETY: _exit ends this copy of the monitor without running its atexit handlers or
    // flushing buffers that belong to the monitor.
    unsafe { libc::_exit(1) }
}

fn sys(op: &str) -> impl Fn(Errno) -> StartError + '_ {
    move |e| StartError::sys(op, e)
}

/// Everything up to exec; returns init's environment.
fn run(
    spec: &Spec,
    chan: &ChildEnd,
    console: Option<(RawFd, PathBuf)>,
    own_cgroups: Vec<(String, PathBuf)>,
    cgroup_entry: SelfEntry,
    seccomp: Option<&Program>,
    hook_ctx: &HookContext,
) -> Result<Vec<(String, String)>, StartError> {
    // Into the payload cgroup before anything is allocated or charged.
    cgroup_entry.enter().map_err(|e| StartError::Cgroup {
        op: "move init into the payload cgroup".into(),
        message: e.to_string(),
    })?;
    drop(cgroup_entry);
    // Die with the monitor. (If it died already, its end of the socket is closed and the
    // first barrier fails; getppid() cannot tell, it is 0 in a new pid namespace.)
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(sys("set the parent death signal"))?;
    chan.wait_startup()?;

    // In a new user namespace we start as the overflow uid: become its root.
    if spec.userns() {
        let root = Gid::from_raw(0);
        let _ = nix::unistd::setgroups(&[]);
        nix::unistd::setresgid(root, root, root)
            .map_err(sys("setresgid(0) in the user namespace"))?;
        nix::unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0))
            .map_err(sys("setresuid(0) in the user namespace"))?;
        // setresuid clears the death signal; set it again.
        nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
            .map_err(sys("set the parent death signal"))?;
    }
    join_shared(spec)?;
    // Loopback up in our own new netns, here rather than from a thread of the parent that
    // would have to enter it.
    if spec.ns.creates(Namespace::Net) {
        lxcrs_network::loopback_up().map_err(|e| {
            StartError::Message(format!(
                "bring lo up in the container's network namespace: {e}"
            ))
        })?;
    }
    // Now that we are in the payload cgroup, a new cgroup namespace shows it as `/`.
    if spec.ns.unshare.contains(&Namespace::Cgroup) {
        nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP)
            .map_err(sys("unshare the cgroup namespace"))?;
    }
    if spec.ns.unshare.contains(&Namespace::Time) {
        enter_time_namespace(spec)?;
    }
    chan.send_configured()?;
    // The monitor now creates the network devices while we mount. We wait for them where
    // LXC's order has them in place: before any hook runs and before the sysctls (which
    // may name a device), at the latest when the mounts are done.
    let net_waited = std::cell::Cell::new(false);
    let wait_net = || -> Result<(), StartError> {
        if !net_waited.replace(true) {
            chan.wait_post_configure()?;
        }
        Ok(())
    };
    if !spec.sysctls.is_empty() {
        wait_net()?;
    }

    let info = ChildInfo {
        console: console.as_ref().map(|(_, path)| path.clone()),
        own_cgroups,
    };
    let mut run_hook = |kind: HookType| {
        if hook_ctx.has(kind) {
            wait_net()?;
        }
        hooks::run(kind, hook_ctx, &[])
    };
    let outcome = setup::run(&Linux, spec, &info, &mut run_hook)?;
    wait_net()?;
    // The device rules go in now, before the start hook or init (rootfs code) can run.
    chan.send_mounted()?;
    chan.wait_devices_applied()?;

    limits::set_personality(spec.personality)?;
    caps::apply(&spec.cap_drop, &spec.cap_keep)?;
    if spec.no_new_privs {
        nix::sys::prctl::set_no_new_privs().map_err(sys("set no_new_privs"))?;
    }
    if let Some(program) = seccomp {
        program.load()?;
    }
    hooks::run(HookType::Start, hook_ctx, &[])?;

    nix::unistd::setsid().map_err(sys("create a new session"))?;
    set_stdio(spec, console.map(|(fd, _)| fd))?;
    nix::unistd::chdir(&spec.init_cwd).map_err(|e| {
        StartError::sys(
            format!("chdir to lxc.init.cwd {}", spec.init_cwd.display()),
            e,
        )
    })?;

    chan.send_setup_done(&outcome.tty_masters)?;
    drop(outcome.tty_masters);
    chan.wait_ready_start()?;

    let env = env::init_env(&outcome.tty_names, &spec.environment);
    set_init_ids(spec)?;
    // A non-root lxc.init.uid/gid changed our credentials, which clears the parent-death
    // signal: arm it again, then make sure the monitor did not die before that (its end
    // of the start socket hung up), or init would run on unsupervised.
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(sys("set the parent death signal"))?;
    if chan.monitor_gone() {
        return Err(StartError::ChildDied {
            status: "the monitor went away".into(),
        });
    }
    prepare_exec()?;
    Ok(env)
}

/// Join `lxc.namespace.share.*` namespaces (except pid, joined by the parent before clone).
fn join_shared(spec: &Spec) -> Result<(), StartError> {
    for (ns, src) in &spec.ns.share {
        if *ns == Namespace::Pid {
            continue;
        }
        let path = src.ns_path(*ns, &spec.lxcpath)?;
        let fd = nix::fcntl::open(&path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|e| StartError::sys(format!("open {} namespace {}", ns, path.display()), e))?;
        nix::sched::setns(&fd, ns.flag())
            .map_err(|e| StartError::sys(format!("join {} namespace {}", ns, path.display()), e))?;
    }
    Ok(())
}

/// `unshare(CLONE_NEWTIME)` only affects children; write the offsets, then enter it.
fn enter_time_namespace(spec: &Spec) -> Result<(), StartError> {
    nix::sched::unshare(CloneFlags::from_bits_retain(super::syscall::CLONE_NEWTIME))
        .map_err(sys("unshare the time namespace"))?;
    let text: String = spec
        .time_offsets
        .iter()
        .map(|(clock, s, ns)| format!("{clock} {s} {ns}\n"))
        .collect();
    std::fs::write("/proc/self/timens_offsets", &text)
        .map_err(|e| StartError::io("write", "/proc/self/timens_offsets", e))?;
    let fd = nix::fcntl::open(
        "/proc/self/ns/time_for_children",
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(sys("open /proc/self/ns/time_for_children"))?;
    nix::sched::setns(
        &fd,
        CloneFlags::from_bits_retain(super::syscall::CLONE_NEWTIME),
    )
    .map_err(sys("enter the time namespace"))
}

/// init's stdio: the console (as controlling terminal) when there is one; `/dev/null`
/// when daemonized without one; else inherited from the monitor (foreground).
fn set_stdio(spec: &Spec, console: Option<RawFd>) -> Result<(), StartError> {
    let fd: OwnedFd = match console {
        Some(slave) => {
            // SAFETY: TIOCSCTTY with arg 0 on a tty fd we hold; no pointers involved.
            let r = unsafe { libc::ioctl(slave, libc::TIOCSCTTY, 0) };
            Errno::result(r).map_err(sys("make the console the controlling terminal"))?;
            nix::unistd::dup(unsafe_borrow(slave)).map_err(sys("duplicate the console"))?
        }
        None if spec.daemonized => {
            nix::fcntl::open("/dev/null", OFlag::O_RDWR | OFlag::O_CLOEXEC, Mode::empty())
                .map_err(sys("open /dev/null for init's stdio"))?
        }
        None => return Ok(()),
    };
    for target in 0..3 {
        // SAFETY: dup2 onto the standard descriptors, which this process owns.
        let r = unsafe { libc::dup2(fd.as_raw_fd(), target) };
        Errno::result(r).map_err(sys("set init's stdio"))?;
    }
    Ok(())
}

fn unsafe_borrow(fd: RawFd) -> std::os::fd::BorrowedFd<'static> {
    // SAFETY: the console slave fd stays open for the rest of the child's life.
    unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
}

/// `lxc.init.groups`, `lxc.init.gid`, `lxc.init.uid`.
fn set_init_ids(spec: &Spec) -> Result<(), StartError> {
    let groups: Vec<Gid> = spec.init_groups.iter().map(|g| Gid::from_raw(*g)).collect();
    match nix::unistd::setgroups(&groups) {
        Ok(()) => {}
        // setgroups is denied in a user namespace whose setgroups file says so.
        Err(Errno::EPERM) if groups.is_empty() && spec.userns() => {}
        Err(e) => return Err(StartError::sys("set lxc.init.groups", e)),
    }
    let gid = Gid::from_raw(spec.init_gid);
    nix::unistd::setresgid(gid, gid, gid)
        .map_err(|e| StartError::sys(format!("set lxc.init.gid {gid}"), e))?;
    let uid = Uid::from_raw(spec.init_uid);
    nix::unistd::setresuid(uid, uid, uid)
        .map_err(|e| StartError::sys(format!("set lxc.init.uid {uid}"), e))
}

/// Restore default signal handling (Rust ignores SIGPIPE, the monitor blocks signals),
/// and make every inherited fd above stderr close-on-exec so nothing of the monitor leaks
/// into the container.
fn prepare_exec() -> Result<(), StartError> {
    for sig in Signal::iterator() {
        if matches!(sig, Signal::SIGKILL | Signal::SIGSTOP) {
            continue;
        }
        // SAFETY: resetting to the default disposition installs no handler code.
        let _ = unsafe { nix::sys::signal::signal(sig, SigHandler::SigDfl) };
    }
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
        .map_err(sys("reset the signal mask"))?;
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range only changes flags of this process's fds.
    let r = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    Errno::result(r)
        .map(drop)
        .map_err(sys("mark inherited fds close-on-exec"))
}

/// exec init with `env`, looking the command up in that env's PATH. Returns only on error.
pub(crate) fn exec(argv: &[String], env: &[(String, String)]) -> StartError {
    let cstr = |s: &str| {
        CString::new(s).map_err(|_| StartError::config("init command", s, "contains a NUL byte"))
    };
    let args: Result<Vec<CString>, StartError> = argv.iter().map(|a| cstr(a)).collect();
    let envs: Result<Vec<CString>, StartError> =
        env.iter().map(|(k, v)| cstr(&format!("{k}={v}"))).collect();
    let (args, envs) = match (args, envs) {
        (Ok(a), Ok(e)) => (a, e),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let Some(prog) = argv.first() else {
        return StartError::config("init command", "", "empty command");
    };
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_str())
        .unwrap_or(env::DEFAULT_PATH);
    let candidates: Vec<PathBuf> = if prog.contains('/') {
        vec![PathBuf::from(prog)]
    } else {
        path.split(':')
            .filter(|d| !d.is_empty())
            .map(|d| Path::new(d).join(prog))
            .collect()
    };
    let mut last = Errno::ENOENT;
    for c in &candidates {
        let Ok(c_path) = CString::new(c.as_os_str().as_encoded_bytes()) else {
            continue;
        };
        match nix::unistd::execve(&c_path, &args, &envs) {
            Err(Errno::ENOENT) | Err(Errno::ENOTDIR) => continue,
            Err(e) => last = e,
            Ok(never) => match never {},
        }
    }
    StartError::sys(format!("exec {prog}"), last)
}
