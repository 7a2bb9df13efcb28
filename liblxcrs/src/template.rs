//! Finding and running templates with LXC's calling convention.
//!
//! A template is any executable; it is called as
//! `lxc-<t> --path=<lxcpath>/<name> --name=<name> --rootfs=<rootfs> [user args]`,
//! fills the rootfs and appends its keys to `<path>/config`.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::paths::share_dirs;
use crate::{interrupt, Error, Result};

/// Resolves `-t`: an absolute or relative path (anything with a `/`), else a short
/// name looked up as `templates/lxc-<name>` in each share dir.
pub fn find(template: &str) -> Result<PathBuf> {
    if template.contains('/') {
        let p = PathBuf::from(template);
        let p = if p.is_absolute() {
            p
        } else {
            std::env::current_dir().map(|d| d.join(&p)).unwrap_or(p)
        };
        return if is_executable(&p) {
            Ok(p)
        } else {
            Err(Error::hint(
                format!("template {} is not an executable file", p.display()),
                "check the path, and chmod +x it if it is a script",
            ))
        };
    }
    let searched: Vec<PathBuf> = share_dirs()
        .iter()
        .map(|d| d.join("templates").join(format!("lxc-{template}")))
        .collect();
    for p in &searched {
        if is_executable(p) {
            return Ok(p.clone());
        }
    }
    Err(Error::hint(
        format!("template \"{template}\" not found (looked for {})", join_paths(&searched)),
        "give a template name that exists there, an absolute path to a template, or -t none for a container without rootfs",
    ))
}

fn join_paths(v: &[PathBuf]) -> String {
    v.iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// The SHA-1 of the template file, for the config header (as LXC writes it).
pub fn checksum(p: &Path) -> Option<String> {
    let data = std::fs::read(p).ok()?;
    Some(sha1_smol::Sha1::from(&data).digest().to_string())
}

/// The comment block LXC puts at the top of a created container's config.
pub fn header(template: &Path, args: &[String], share_config: &Path) -> String {
    let mut h = format!(
        "# Template used to create this container: {}\n",
        template.display()
    );
    h.push_str(&format!(
        "# Parameters passed to the template: {}\n",
        args.join(" ")
    ));
    if let Some(sum) = checksum(template) {
        h.push_str(&format!("# Template script checksum (SHA-1): {sum}\n"));
    }
    h.push_str("# For additional config options, please look at lxc.container.conf(5)\n\n");
    h.push_str("# Uncomment the following line to support nesting containers:\n");
    h.push_str(&format!(
        "#lxc.include = {}\n",
        share_config.join("nesting.conf").display()
    ));
    h.push_str("# (Be aware this has security implications)\n\n");
    h
}

/// Runs in the forked child before exec: the template goes into its own pid namespace
/// as its init, so that when it dies — killed by us on Ctrl-C, or because we died
/// (PR_SET_PDEATHSIG) — the kernel kills every process it started too (debootstrap,
/// dpkg, …) and nothing keeps writing into a container being rolled back.
///
/// unshare(CLONE_NEWPID) only applies to children, so this process forks once more: the
/// new child (pid 1 of the namespace) returns to exec the template; this one waits for
/// it and exits with its status. It closes every other fd first so that the exec-status
/// pipe of `Command::spawn` sees EOF as soon as the template has exec'd.
fn contain_template() -> std::io::Result<()> {
    use nix::sys::signal::Signal;
    use nix::sys::wait::{waitpid, WaitStatus};
    use nix::unistd::{fork, ForkResult};

    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
    if nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWPID).is_err() {
        // No pid namespaces (e.g. a restricted sandbox): run the template directly.
        return Ok(());
    }
    // SAFETY: this process is a freshly forked single-threaded child.
    match unsafe { fork() }? {
        ForkResult::Child => {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
            Ok(())
        }
        ForkResult::Parent { child } => {
            // SAFETY: close_range on fds we don't need; stdio (0-2) stays.
            unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
            let code = loop {
                match waitpid(child, None) {
                    Ok(WaitStatus::Exited(_, c)) => break c,
                    Ok(WaitStatus::Signaled(_, sig, _)) => break 128 + sig as i32,
                    Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
                    Err(_) => break 1,
                }
            };
            // SAFETY: _exit skips atexit handlers and buffers of the parent's copy.
            unsafe { libc::_exit(code) }
        }
    }
}

/// Runs `template` for container `name` in `dir` with its rootfs at `rootfs`.
/// Stdio is inherited (or /dev/null when `quiet`). The template dies with us
/// (PR_SET_PDEATHSIG), and an interrupt (Ctrl-C, SIGTERM) of ours ends it.
pub fn run(
    template: &Path,
    name: &str,
    dir: &Path,
    rootfs: &Path,
    args: &[String],
    quiet: bool,
) -> Result<()> {
    let mut cmd = Command::new(template);
    cmd.arg(format!("--path={}", dir.display()))
        .arg(format!("--name={name}"))
        .arg(format!("--rootfs={}", rootfs.display()))
        .args(args);
    if quiet {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
    }
    // SAFETY: between fork and exec we only make async-signal-safe calls (prctl,
    // unshare, fork, close_range, waitpid, _exit) and touch no locks or allocations.
    unsafe {
        cmd.pre_exec(contain_template);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::io("run template", template, e))?;
    let status = loop {
        if let Some(sig) = interrupt::pending() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = child.wait();
            return Err(Error::Interrupted {
                signal: sig,
                during: Some("the template was running"),
            });
        }
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(Error::io("wait for template", template, e)),
        }
    };
    if status.success() {
        return Ok(());
    }
    let why = match (status.code(), status.signal()) {
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(s)) => format!("was killed by signal {s}"),
        _ => "failed".to_string(),
    };
    Err(Error::hint(
        format!(
            "Failed to create container from template: {} {why}",
            template.display()
        ),
        "the template's own messages above say why; nothing of the container was kept",
    ))
}
