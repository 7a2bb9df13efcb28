//! The two attach children: the first enters the cgroup and namespaces and waits; the
//! second (inside the pid namespace) prepares credentials and stdio and execs.

use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};

use super::CgroupEntry;
use super::{AttachOptions, Target};

fn report(fd: &OwnedFd, line: &str) {
    let mut f = std::fs::File::from(fd.try_clone().unwrap_or_else(|_| fd_placeholder()));
    let _ = f.write_all(line.as_bytes());
    let _ = f.write_all(b"\n");
}

fn fd_placeholder() -> OwnedFd {
    // A writable sink if duplicating the report pipe failed (fd table full).
    std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .map_or_else(|_| std::process::abort(), OwnedFd::from)
}

fn fail(fd: &OwnedFd, msg: String) -> i32 {
    report(fd, &format!("E{msg}"));
    1
}

/// The namespaces of `pid` that differ from ours among those selected.
fn ns_flags(pid: i32, sel: &super::NsSelect) -> CloneFlags {
    let table = [
        ("user", CloneFlags::CLONE_NEWUSER, sel.user),
        ("mnt", CloneFlags::CLONE_NEWNS, sel.mount),
        ("pid", CloneFlags::CLONE_NEWPID, sel.pid),
        ("uts", CloneFlags::CLONE_NEWUTS, sel.uts),
        ("ipc", CloneFlags::CLONE_NEWIPC, sel.ipc),
        ("net", CloneFlags::CLONE_NEWNET, sel.net),
        ("cgroup", CloneFlags::CLONE_NEWCGROUP, sel.cgroup),
    ];
    let mut flags = CloneFlags::empty();
    for (name, flag, wanted) in table {
        if !wanted {
            continue;
        }
        let ours = std::fs::metadata(format!("/proc/self/ns/{name}")).map(|m| m.ino());
        let theirs = std::fs::metadata(format!("/proc/{pid}/ns/{name}")).map(|m| m.ino());
        if let (Ok(a), Ok(b)) = (ours, theirs) {
            if a != b {
                flags |= flag;
            }
        }
    }
    flags
}

/// Enter all of `flags` at once through init's pidfd (Linux ≥ 5.8), else one by one
/// through `/proc/PID/ns/*` (user first, so the others are permitted).
fn enter_namespaces(t: &Target, flags: CloneFlags) -> Result<(), String> {
    if flags.is_empty() {
        return Ok(());
    }
    // SAFETY: setns on a pidfd we own with a valid flag set.
    if unsafe { libc::setns(t.pidfd.as_raw_fd(), flags.bits()) } == 0 {
        return Ok(());
    }
    let pidfd_err = std::io::Error::last_os_error();
    if pidfd_err.raw_os_error() != Some(libc::EINVAL) {
        return Err(format!(
            "failed to enter the namespaces of init (pid {}): {pidfd_err}",
            t.pid
        ));
    }
    let order = [
        ("user", CloneFlags::CLONE_NEWUSER),
        ("mnt", CloneFlags::CLONE_NEWNS),
        ("pid", CloneFlags::CLONE_NEWPID),
        ("uts", CloneFlags::CLONE_NEWUTS),
        ("ipc", CloneFlags::CLONE_NEWIPC),
        ("net", CloneFlags::CLONE_NEWNET),
        ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ];
    // Open every fd before the first setns: after entering mnt, /proc is the container's.
    let mut fds = Vec::new();
    for (name, flag) in order {
        if flags.contains(flag) {
            let p = format!("/proc/{}/ns/{name}", t.pid);
            let f = std::fs::File::open(&p).map_err(|e| format!("failed to open {p}: {e}"))?;
            fds.push((name, flag, OwnedFd::from(f)));
        }
    }
    for (name, flag, fd) in fds {
        nix::sched::setns(&fd, flag)
            .map_err(|e| format!("failed to enter the {name} namespace of init: {e}"))?;
    }
    Ok(())
}

/// The first child. Returns its exit code (the report pipe carries the real result).
pub(super) fn first(
    t: &Target,
    cgroup: Option<(&CgroupEntry, bool)>,
    opts: &AttachOptions,
    argv: &[String],
    slave: Option<BorrowedFd<'_>>,
    ttys: [bool; 3],
    report_fd: &OwnedFd,
) -> i32 {
    if let Some((entry, in_v2)) = cgroup {
        if let Err(e) = entry.enter(in_v2) {
            return fail(
                report_fd,
                format!("failed to move into the container's cgroup: {e}"),
            );
        }
    }
    let cwd = std::env::current_dir().ok();
    let cap_last = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(40);
    let env: Vec<(String, String)> = std::env::vars().collect();
    let flags = ns_flags(t.pid, &opts.namespaces);
    if let Err(msg) = enter_namespaces(t, flags) {
        return fail(report_fd, msg);
    }
    // SAFETY: single-threaded child of a single-threaded process.
    match unsafe { fork() } {
        Err(e) => fail(
            report_fd,
            format!("failed to fork inside the container: {e}"),
        ),
        Ok(ForkResult::Child) => {
            let msg = second(t, opts, argv, slave, ttys, cwd.as_deref(), cap_last, &env);
            fail(report_fd, msg);
            // SAFETY: exit without unwinding into the parent's state.
            unsafe { libc::_exit(1) }
        }
        Ok(ForkResult::Parent { child }) => {
            if let Some(s) = slave {
                // SAFETY: our copy of the pty slave; the grandchild has its own.
                unsafe { libc::close(s.as_raw_fd()) };
            }
            let ws = loop {
                match waitpid(child, None) {
                    Err(nix::errno::Errno::EINTR) => continue,
                    r => break r,
                }
            };
            match ws {
                Ok(WaitStatus::Exited(_, c)) => report(report_fd, &format!("X{c}")),
                Ok(WaitStatus::Signaled(_, s, _)) => report(report_fd, &format!("K{}", s as i32)),
                _ => report(report_fd, "Efailed to wait for the attached process"),
            }
            0
        }
    }
}

/// Grandchild: returns only with an error message (on success it has exec'd).
#[allow(clippy::too_many_arguments)]
fn second(
    t: &Target,
    opts: &AttachOptions,
    argv: &[String],
    slave: Option<BorrowedFd<'_>>,
    ttys: [bool; 3],
    cwd: Option<&Path>,
    cap_last: u32,
    env: &[(String, String)],
) -> String {
    if let Some(s) = slave {
        // The pty becomes our controlling terminal and replaces the stdio that were ttys.
        let _ = nix::unistd::setsid();
        // SAFETY: TIOCSCTTY on the slave fd we hold, argument 0 (don't steal).
        unsafe { libc::ioctl(s.as_raw_fd(), libc::TIOCSCTTY, 0) };
        for (i, is_tty) in ttys.iter().enumerate() {
            if *is_tty {
                // SAFETY: dup2 of a valid fd onto a standard fd number.
                unsafe { libc::dup2(s.as_raw_fd(), i as i32) };
            }
        }
        if s.as_raw_fd() > 2 {
            // SAFETY: closing our extra copy of the slave.
            unsafe { libc::close(s.as_raw_fd()) };
        }
    }
    if opts.remount_sys_proc && !opts.namespaces.mount {
        if let Err(e) = remount_proc_sys() {
            return e;
        }
    }
    let dir = cwd.filter(|d| d.is_dir()).unwrap_or(Path::new("/"));
    if nix::unistd::chdir(dir).is_err() {
        let _ = nix::unistd::chdir("/");
    }
    if opts.linux32 {
        let _ =
            nix::sys::personality::set(nix::sys::personality::Persona::from_bits_retain(0x0008));
    }
    if !opts.elevated.caps {
        for cap in 0..=cap_last {
            let drop = match &t.cap_keep {
                Some(keep) => !keep.contains(&cap),
                None => t.cap_drop.contains(&cap),
            };
            if drop {
                // SAFETY: prctl(PR_CAPBSET_DROP, cap) with plain integer arguments.
                if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap), 0, 0, 0) }
                    != 0
                {
                    return format!(
                        "failed to drop capability {cap}: {}",
                        std::io::Error::last_os_error()
                    );
                }
            }
        }
    }
    if t.no_new_privs {
        // SAFETY: prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return format!(
                "failed to set no_new_privs: {}",
                std::io::Error::last_os_error()
            );
        }
    }
    if let Some(program) = &t.seccomp {
        if let Err(e) = program.load() {
            return format!("failed to load the container's seccomp policy: {e}");
        }
    }
    let uid = opts.uid.unwrap_or(0);
    let gid = opts.gid.unwrap_or(0);
    let _ = nix::unistd::setgroups(&[]);
    if let Err(e) = nix::unistd::setresgid(gid.into(), gid.into(), gid.into()) {
        return format!("failed to switch to gid {gid}: {e}");
    }
    if let Err(e) = nix::unistd::setresuid(uid.into(), uid.into(), uid.into()) {
        return format!("failed to switch to uid {uid}: {e}");
    }
    let argv: Vec<String> = if argv.is_empty() {
        vec![login_shell(uid)]
    } else {
        argv.to_vec()
    };
    let mut env = opts.env.build(env);
    // A cleared environment still needs a HOME (the user's, from the container's
    // passwd) and a TERM when there is a terminal, or shells and tools misbehave.
    if !env.iter().any(|(k, _)| k == "HOME") {
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        env.push((
            "HOME".into(),
            home_of(&passwd, uid).unwrap_or_else(|| "/".into()),
        ));
    }
    if !env.iter().any(|(k, _)| k == "TERM")
        && nix::unistd::isatty(std::io::stdin()).unwrap_or(false)
    {
        env.push(("TERM".into(), "linux".into()));
    }
    exec(&argv, &env)
}

/// The home directory of `uid` in a passwd text.
pub(super) fn home_of(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 7 && f[2].parse() == Ok(uid) && !f[5].is_empty()).then(|| f[5].to_string())
    })
}

/// The user's shell from the container's /etc/passwd, else /bin/sh.
fn login_shell(uid: u32) -> String {
    let text = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    shell_of(&text, uid).unwrap_or_else(|| "/bin/sh".to_string())
}

pub(super) fn shell_of(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 7 && f[2].parse() == Ok(uid) && !f[6].is_empty()).then(|| f[6].to_string())
    })
}

fn remount_proc_sys() -> Result<(), String> {
    use nix::mount::{mount, umount2, MntFlags, MsFlags};
    nix::sched::unshare(CloneFlags::CLONE_NEWNS)
        .map_err(|e| format!("failed to unshare the mount namespace: {e}"))?;
    let _ = mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    );
    for (target, fstype) in [("/proc", "proc"), ("/sys", "sysfs")] {
        let _ = umount2(target, MntFlags::MNT_DETACH);
        mount(
            Some(fstype),
            target,
            Some(fstype),
            MsFlags::empty(),
            None::<&str>,
        )
        .map_err(|e| format!("failed to remount {target}: {e}"))?;
    }
    Ok(())
}

/// execve with a PATH search done against the *new* environment's PATH.
fn exec(argv: &[String], env: &[(String, String)]) -> String {
    let cargs: Vec<CString> = argv
        .iter()
        .filter_map(|a| CString::new(a.as_bytes()).ok())
        .collect();
    let cenv: Vec<CString> = env
        .iter()
        .filter_map(|(k, v)| CString::new(format!("{k}={v}")).ok())
        .collect();
    let prog = &argv[0];
    let candidates: Vec<PathBuf> = if prog.contains('/') {
        vec![PathBuf::from(prog)]
    } else {
        let path = env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map_or(super::options::DEFAULT_PATH, |(_, v)| v.as_str());
        path.split(':')
            .filter(|d| !d.is_empty())
            .map(|d| Path::new(d).join(prog))
            .collect()
    };
    let mut last = nix::errno::Errno::ENOENT;
    for c in candidates {
        let Ok(cpath) = CString::new(c.as_os_str().as_encoded_bytes()) else {
            continue;
        };
        match nix::unistd::execve(&cpath, &cargs, &cenv) {
            Err(nix::errno::Errno::ENOENT) => {}
            Err(e) => last = e,
            Ok(_) => {}
        }
    }
    format!(
        "failed to exec {prog:?} in the container: {}",
        std::io::Error::from_raw_os_error(last as i32)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_shell() {
        let p = "root:x:0:0:root:/root:/bin/ash\nbob:x:1000:1000::/home/bob:\n";
        assert_eq!(shell_of(p, 0).as_deref(), Some("/bin/ash"));
        assert_eq!(shell_of(p, 1000), None);
        assert_eq!(shell_of(p, 5), None);
        assert_eq!(home_of(p, 0).as_deref(), Some("/root"));
        assert_eq!(home_of(p, 1000).as_deref(), Some("/home/bob"));
        assert_eq!(home_of(p, 5), None);
    }
}
