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

/// The selectable namespaces: `/proc/PID/ns` name, flag, whether `sel` wants it, and the
/// link that shows our own namespace of that kind once joined (`setns` of a pid namespace
/// applies to children only).
fn ns_table(sel: &super::NsSelect) -> [(&'static str, CloneFlags, bool, &'static str); 8] {
    let time = CloneFlags::from_bits_retain(crate::start::syscall::CLONE_NEWTIME);
    [
        ("user", CloneFlags::CLONE_NEWUSER, sel.user, "user"),
        ("mnt", CloneFlags::CLONE_NEWNS, sel.mount, "mnt"),
        ("pid", CloneFlags::CLONE_NEWPID, sel.pid, "pid_for_children"),
        ("uts", CloneFlags::CLONE_NEWUTS, sel.uts, "uts"),
        ("ipc", CloneFlags::CLONE_NEWIPC, sel.ipc, "ipc"),
        ("net", CloneFlags::CLONE_NEWNET, sel.net, "net"),
        ("cgroup", CloneFlags::CLONE_NEWCGROUP, sel.cgroup, "cgroup"),
        ("time", time, sel.time, "time"),
    ]
}

/// A namespace as (device, inode) of its nsfs link.
type NsId = (u64, u64);

/// The flags to pass to `setns`, and for each selected namespace the link of ours to
/// check afterwards with the namespace it must then show.
type NsPlan = (CloneFlags, Vec<(&'static str, NsId)>);

/// What joining init's namespaces has to do: the flags of the selected namespaces that
/// differ from ours, and for every selected one the link to check afterwards and the
/// namespace it must then show. Fails on any unreadable link: init exiting (a zombie has
/// no links), rebooting or gone must abort the attach, never leave us in a host namespace.
fn plan_namespaces(pid: i32, sel: &super::NsSelect) -> Result<NsPlan, String> {
    let id = |p: String| -> Result<NsId, String> {
        std::fs::metadata(&p)
            .map(|m| (m.dev(), m.ino()))
            .map_err(|e| format!("failed to read the namespace {p}: {e}"))
    };
    let mut flags = CloneFlags::empty();
    let mut expect = Vec::new();
    for (name, flag, wanted, after) in ns_table(sel) {
        if !wanted {
            continue;
        }
        let theirs = id(format!("/proc/{pid}/ns/{name}"))
            .map_err(|e| format!("{e} (is the container's init exiting?)"))?;
        let ours = id(format!("/proc/self/ns/{name}"))?;
        // Entering our own user namespace is refused (EINVAL); the others would be no-ops.
        if ours != theirs {
            flags |= flag;
        }
        expect.push((after, theirs));
    }
    Ok((flags, expect))
}

/// Enter init's namespaces with one `setns` on its pidfd (Linux ≥ 5.8), then check that
/// we are in each of them. Every failure is fatal.
fn enter_namespaces(t: &Target, sel: &super::NsSelect) -> Result<(), String> {
    // Our own ns links, through a directory fd opened now: after the mount namespace
    // changes, /proc is the container's, where this process has no entry.
    let own = std::fs::File::open("/proc/self/ns")
        .map_err(|e| format!("failed to open /proc/self/ns: {e}"))?;
    let (flags, expect) = plan_namespaces(t.pid, sel)?;
    // The links read above were init's only if init still lives: the pidfd pins it, so a
    // live pidfd now means the pid was not reused in between.
    crate::sys::pidfd::send_signal(&t.pidfd, 0).map_err(|e| {
        format!(
            "the container's init (pid {}) exited while attaching: {e}",
            t.pid
        )
    })?;
    if !flags.is_empty() {
        // SAFETY: setns on a pidfd we own with a valid flag set.
        if unsafe { libc::setns(t.pidfd.as_raw_fd(), flags.bits()) } != 0 {
            return Err(format!(
                "failed to enter the namespaces of init (pid {}): {} (lxc-attach needs Linux 5.8 or later)",
                t.pid,
                std::io::Error::last_os_error()
            ));
        }
    }
    for (link, want) in expect {
        let got = nix::sys::stat::fstatat(&own, link, nix::fcntl::AtFlags::empty())
            .map(|st| (st.st_dev, st.st_ino))
            .map_err(|e| format!("failed to check our {link} namespace after joining: {e}"))?;
        if got != want {
            return Err(format!(
                "after joining init (pid {}), our {link} namespace is not the container's",
                t.pid
            ));
        }
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
    if let Err(msg) = enter_namespaces(t, &opts.namespaces) {
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
    if let Err(e) = check_ids(uid, gid) {
        return e;
    }
    if let Err(e) = limit_caps() {
        return e;
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
        let passwd = read_passwd();
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
    // Only stdio reaches the command: not the caller's other fds, nor ours.
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range only changes the flags of this process's fds.
    if unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC) } != 0 {
        return format!(
            "failed to mark inherited fds close-on-exec: {}",
            std::io::Error::last_os_error()
        );
    }
    exec(&argv, &env)
}

/// The ids really are the ones asked for, in the container's user namespace (a uid that
/// the container does not map would show as the overflow id).
fn check_ids(uid: u32, gid: u32) -> Result<(), String> {
    let u = nix::unistd::getresuid().map_err(|e| format!("failed to read our uids: {e}"))?;
    let g = nix::unistd::getresgid().map_err(|e| format!("failed to read our gids: {e}"))?;
    let uids = [u.real, u.effective, u.saved].map(|x| x.as_raw());
    let gids = [g.real, g.effective, g.saved].map(|x| x.as_raw());
    if uids != [uid; 3] || gids != [gid; 3] {
        return Err(format!(
            "after switching to uid {uid}/gid {gid} in the container we are uids {uids:?}, gids {gids:?}: is the id mapped in the container?"
        ));
    }
    Ok(())
}

/// Capabilities before exec: none ambient or inheritable (so exec cannot bring back a
/// dropped one), and a permitted = effective set within the bounding set (the container's
/// `lxc.cap.drop`/`keep`, applied above).
fn limit_caps() -> Result<(), String> {
    use caps::CapSet;
    let err = |what: &str, e: caps::errors::CapsError| format!("failed to {what}: {e}");
    caps::clear(None, CapSet::Ambient).map_err(|e| err("clear the ambient capabilities", e))?;
    let bounding =
        caps::read(None, CapSet::Bounding).map_err(|e| err("read the bounding capabilities", e))?;
    let permitted = caps::read(None, CapSet::Permitted)
        .map_err(|e| err("read the permitted capabilities", e))?;
    let keep: caps::CapsHashSet = permitted.intersection(&bounding).copied().collect();
    caps::clear(None, CapSet::Inheritable)
        .map_err(|e| err("clear the inheritable capabilities", e))?;
    caps::set(None, CapSet::Effective, &keep)
        .map_err(|e| err("set the effective capabilities", e))?;
    caps::set(None, CapSet::Permitted, &keep).map_err(|e| err("set the permitted capabilities", e))
}

/// Most of a passwd file we read: a bigger one is not a passwd file.
const PASSWD_MAX: u64 = 4 << 20;

/// The container's `/etc/passwd`, or "" when it is not a plain file of sane size. The
/// container controls it: a FIFO must not hang us, `-> /dev/zero` not eat our memory.
fn read_passwd() -> String {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let Ok(f) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_NOCTTY)
        .open("/etc/passwd")
    else {
        return String::new();
    };
    if !f.metadata().is_ok_and(|m| m.file_type().is_file()) {
        return String::new();
    }
    let mut buf = Vec::new();
    if f.take(PASSWD_MAX).read_to_end(&mut buf).is_err() {
        return String::new();
    }
    String::from_utf8_lossy(&buf).into_owned()
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
    shell_of(&read_passwd(), uid).unwrap_or_else(|| "/bin/sh".to_string())
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
    fn a_dead_or_zombie_init_has_no_namespace_plan() {
        // SAFETY: the test child only calls _exit (async-signal-safe), though the test
        // harness is multi-threaded.
        let child = match unsafe { fork() }.unwrap() {
            // SAFETY: leave at once, running nothing of the parent's state.
            ForkResult::Child => unsafe { libc::_exit(0) },
            ForkResult::Parent { child } => child,
        };
        // A zombie until reaped: its ns links are gone.
        std::thread::sleep(std::time::Duration::from_millis(200));
        let sel = super::super::NsSelect::default();
        let err = plan_namespaces(child.as_raw(), &sel).unwrap_err();
        assert!(err.contains("/ns/"), "{err}");
        let _ = waitpid(child, None);
        assert!(plan_namespaces(child.as_raw(), &sel).is_err());
        // Ourselves: every namespace is the same, nothing to enter, all to check.
        let (flags, expect) = plan_namespaces(std::process::id() as i32, &sel).unwrap();
        assert!(flags.is_empty());
        assert_eq!(expect.len(), 8);
    }

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
