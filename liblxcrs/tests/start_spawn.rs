//! Root integration tests of the start sequence: a busybox rootfs in a temp dir, a config
//! like the busybox template's, a real payload cgroup, and `spawn` for real.
//!
//! Each test runs its scenario in a forked child process: `spawn` refuses to run in a
//! multi-threaded process (the test harness has threads), and the fork leaves only the
//! calling thread. Without root a test prints SKIP and why; with `LXCRS_REQUIRE_ROOT=1`
//! a skip is a failure.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use liblxcrs::internal::{spawn, StartRequest};
use liblxcrs::internal::{CgroupLayout, CgroupManager, Cgroups, Placement};
use lxcrs_config::Config;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

fn skip_reason() -> Option<String> {
    if !nix::unistd::Uid::effective().is_root() {
        return Some("needs root (namespaces, mounts, cgroups)".into());
    }
    if !Path::new("/bin/busybox").exists() {
        return Some("needs /bin/busybox (Debian's busybox-static)".into());
    }
    None
}

macro_rules! require_root {
    () => {
        if let Some(why) = skip_reason() {
            if std::env::var("LXCRS_REQUIRE_ROOT").as_deref() == Ok("1") {
                panic!("LXCRS_REQUIRE_ROOT=1 but the test would be skipped: {why}");
            }
            eprintln!("SKIP: {why}");
            return;
        }
    };
}

/// A container's temp dir, rootfs and payload cgroup; all removed on drop.
struct Fixture {
    dir: tempfile::TempDir,
    name: String,
    cgroups: Cgroups,
}

impl Fixture {
    fn new(tag: &str) -> Fixture {
        let dir = tempfile::Builder::new()
            .prefix("lxcrs-start-")
            .tempdir()
            .expect("temp dir");
        let root = dir.path().join("rootfs");
        for d in [
            "bin", "sbin", "etc", "proc", "sys", "dev", "tmp", "mnt", "root", "lib", "usr/bin",
        ] {
            std::fs::create_dir_all(root.join(d)).expect("rootfs dir");
        }
        std::fs::copy("/bin/busybox", root.join("bin/busybox")).expect("copy busybox");
        let list = std::process::Command::new("/bin/busybox")
            .arg("--list")
            .output()
            .expect("busybox --list");
        for applet in String::from_utf8_lossy(&list.stdout).lines() {
            if applet != "busybox" {
                let _ = std::os::unix::fs::symlink("busybox", root.join("bin").join(applet));
            }
        }
        std::os::unix::fs::symlink("/etc", root.join("evil")).expect("symlink");
        std::fs::create_dir(dir.path().join("out")).expect("out dir");
        let name = format!("start-{tag}-{}", std::process::id());
        let layout = CgroupLayout::detect_host().expect("cgroup layout");
        let mut cgroups = Cgroups::new(&layout, &name, &Placement::Caller).expect("cgroups");
        cgroups.create_payload().expect("create payload cgroup");
        Fixture { dir, name, cgroups }
    }

    fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    fn fact(&self, f: &str) -> String {
        std::fs::read_to_string(self.out().join(f)).unwrap_or_else(|e| {
            let log = std::fs::read_to_string(self.out().join("log")).unwrap_or_default();
            panic!("fact {f} missing ({e}); container log:\n{log}")
        })
    }

    /// The busybox-template-like config, plus `extra` lines.
    fn config(&self, extra: &str) -> PathBuf {
        let text = format!(
            "lxc.rootfs.path = dir:{rootfs}
lxc.rootfs.options = ro
lxc.uts.name = lxcrs-test
lxc.autodev = 1
lxc.tty.max = 2
lxc.pty.max = 8
lxc.cap.drop = sys_module mac_admin mac_override sys_time
lxc.mount.auto = cgroup:mixed proc:mixed sys:ro
lxc.mount.entry = {out} mnt/out none bind,create=dir 0 0
lxc.mount.entry = shm dev/shm tmpfs defaults,create=dir 0 0
lxc.mount.entry = /nonexistent-lxcrs mnt/opt none bind,optional,create=dir 0 0
lxc.seccomp.profile = {seccomp}
lxc.sysctl.net.ipv4.ip_forward = 1
lxc.environment = FOO=bar
lxc.hook.pre-start = /bin/sh -c 'echo \"$LXC_NAME $LXC_HOOK_VERSION\" > {out}/prestart'
lxc.hook.start-host = /bin/sh -c 'echo \"$LXC_PID\" > {out}/starthost'
lxc.hook.mount = /bin/sh -c 'echo \"$2\" > $LXC_ROOTFS_MOUNT/mnt/out/mounthook'
lxc.hook.start = /bin/sh -c 'echo \"$LXC_NAME\" > /mnt/out/starthook'
{extra}
",
            rootfs = self.rootfs().display(),
            out = self.out().display(),
            seccomp = self.seccomp().display(),
        );
        let path = self.dir.path().join("config");
        std::fs::write(&path, text).expect("write config");
        path
    }

    fn seccomp(&self) -> PathBuf {
        let p = self.dir.path().join("test.seccomp");
        std::fs::write(&p, "2\ndenylist\nreject_force_umount\n[all]\nkexec_load errno 1\nsethostname errno 38\nno_such_call errno 1\n").expect("seccomp");
        p
    }

    fn spawn(
        &self,
        config_path: &Path,
        argv: &[&str],
        execute: bool,
    ) -> Result<liblxcrs::internal::Spawned, String> {
        let config = Config::load(config_path).map_err(|e| format!("config: {e}"))?;
        let req = StartRequest {
            name: &self.name,
            lxcpath: self.dir.path(),
            config_path,
            config: config.model(),
            argv: argv.iter().map(|s| s.to_string()).collect(),
            execute,
            cgroups: &self.cgroups,
            daemonized: true,
        };
        spawn(&req).map_err(|e| e.to_string())
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.cgroups.kill_all(std::time::Duration::from_secs(5));
        if let Err(e) = self.cgroups.remove_payload() {
            eprintln!("cleanup: {e}");
        }
    }
}

/// Run `f` in a forked, single-threaded child; its `Err` (or panic) fails the test.
fn in_child(f: impl FnOnce() -> Result<(), String>) {
    let (r, w) = nix::unistd::pipe().expect("pipe");
    // SAFETY: the child only runs the scenario and exits; glibc's fork keeps malloc usable.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            drop(r);
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let msg = match outcome {
                Ok(Ok(())) => String::new(),
                Ok(Err(e)) => e,
                Err(p) => p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "panic".into()),
            };
            let mut w = std::fs::File::from(w);
            let _ = w.write_all(msg.as_bytes());
            drop(w);
            // SAFETY: leave the forked test process without running the harness's exit path.
            unsafe { libc::_exit(if msg.is_empty() { 0 } else { 1 }) }
        }
        ForkResult::Parent { child } => {
            drop(w);
            let mut msg = String::new();
            let _ = std::fs::File::from(r).read_to_string(&mut msg);
            let status = waitpid(child, None).expect("wait for the test child");
            assert!(
                msg.is_empty() && status == WaitStatus::Exited(child, 0),
                "{msg} ({status:?})"
            );
        }
    }
}

fn wait_exit(pid: Pid) -> Result<i32, String> {
    match waitpid(pid, None).map_err(|e| e.to_string())? {
        WaitStatus::Exited(_, c) => Ok(c),
        s => Err(format!("init ended with {s:?}")),
    }
}

/// What a pty master has buffered (without blocking).
fn read_available(master: &std::os::fd::OwnedFd) -> String {
    let _ = nix::fcntl::fcntl(
        master,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    );
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = nix::unistd::read(master, &mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Is `fstype` (any when empty) mounted at `at`, per a mountinfo text?
fn mounted(mountinfo: &str, at: &str, fstype: &str) -> bool {
    mountinfo.lines().any(|l| {
        let point = l.split_whitespace().nth(4);
        let fs = l
            .split(" - ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next());
        point == Some(at) && (fstype.is_empty() || fs == Some(fstype))
    })
}

fn no_children_left() -> Result<(), String> {
    match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
        Err(nix::errno::Errno::ECHILD) => Ok(()),
        other => Err(format!("a child was left behind: {other:?}")),
    }
}

const FACTS: &str = r#"
exec >/mnt/out/log 2>&1
set -x
hostname > /mnt/out/hostname
cat /proc/self/cgroup > /mnt/out/cgroup
cat /proc/self/mountinfo > /mnt/out/mounts
ls -l /dev/ > /mnt/out/dev
ls /sys/fs/cgroup > /mnt/out/cgroupfs
env > /mnt/out/env
grep -E '^(CapBnd|Seccomp|NoNewPrivs)' /proc/self/status > /mnt/out/status
echo $$ > /mnt/out/pid
if touch /rootfs-write-test 2>/dev/null; then echo rw; else echo ro; fi > /mnt/out/rootfs
if echo x > /proc/sys/kernel/domainname 2>/dev/null; then echo rw; else echo ro; fi > /mnt/out/procsys
cat /proc/sys/net/ipv4/ip_forward > /mnt/out/ip_forward
if hostname other 2>/dev/null; then echo allowed; else echo denied; fi > /mnt/out/sethostname
test -c /dev/null && test -c /dev/zero && test -c /dev/tty1 && test -c /dev/console && echo ok > /mnt/out/devnodes
id -u > /mnt/out/uid
echo console-ok > /dev/console
read -t 5 line < /dev/tty1; echo "$line" > /mnt/out/tty1
echo done > /mnt/out/done
"#;

#[test]
fn spawn_busybox_shell_and_check_facts() {
    require_root!();
    in_child(|| {
        let fx = Fixture::new("facts");
        let cfg = fx.config("lxc.cgroup.pids.max = 100");
        let spawned = fx.spawn(&cfg, &["/bin/sh", "-c", FACTS], false)?;
        assert_eq!(spawned.ttys.len(), 2);
        assert!(spawned.console.is_some());
        assert!(!spawned.ns_fds.is_empty());
        let mut tty1 = std::fs::File::from(spawned.ttys[0].try_clone().map_err(|e| e.to_string())?);
        tty1.write_all(b"hello-tty\n").map_err(|e| e.to_string())?;
        let code = wait_exit(spawned.pid)?;
        assert_eq!(code, 0, "log:\n{}", fx.fact("log"));
        assert_eq!(fx.fact("done").trim(), "done");
        assert_eq!(
            fx.fact("tty1").trim(),
            "hello-tty",
            "tty1's master reaches the container's /dev/tty1"
        );
        let console = read_available(spawned.console.as_ref().ok_or("no console")?);
        assert!(
            console.contains("console-ok"),
            "console master got {console:?}"
        );
        assert_eq!(fx.fact("prestart").trim(), format!("{} 0", fx.name));
        assert_eq!(fx.fact("starthost").trim(), spawned.pid.to_string());
        assert_eq!(
            fx.fact("mounthook").trim(),
            "mount",
            "mount hook ran in the child before pivot"
        );
        assert_eq!(
            fx.fact("starthook").trim(),
            fx.name,
            "start hook ran inside the container"
        );
        assert_eq!(fx.fact("hostname").trim(), "lxcrs-test");
        assert_eq!(fx.fact("pid").trim(), "1");
        assert_eq!(fx.fact("rootfs").trim(), "ro", "lxc.rootfs.options = ro");
        assert_eq!(
            fx.fact("procsys").trim(),
            "ro",
            "proc:mixed makes /proc/sys read-only"
        );
        assert_eq!(fx.fact("ip_forward").trim(), "1", "lxc.sysctl");
        assert_eq!(fx.fact("sethostname").trim(), "denied", "seccomp profile");
        assert_eq!(fx.fact("devnodes").trim(), "ok");
        // The cgroup namespace shows the payload cgroup as the root.
        let cg = fx.fact("cgroup");
        assert!(cg.lines().all(|l| l.ends_with(":/")), "{cg}");
        let cgfs = fx.fact("cgroupfs");
        assert!(
            cgfs.contains("systemd") && cgfs.contains("memory"),
            "{cgfs}"
        );
        let mounts = fx.fact("mounts");
        for (at, fstype) in [
            ("/proc", "proc"),
            ("/sys", "sysfs"),
            ("/dev", "tmpfs"),
            ("/dev/pts", "devpts"),
            ("/dev/shm", "tmpfs"),
            ("/mnt/out", ""),
            ("/sys/fs/cgroup", "tmpfs"),
            ("/sys/fs/cgroup/systemd", "cgroup"),
            ("/sys/fs/cgroup/unified", "cgroup2"),
            ("/dev/console", "devpts"),
            ("/dev/tty2", "devpts"),
        ] {
            assert!(
                mounted(&mounts, at, fstype),
                "{at} ({fstype}) not mounted:\n{mounts}"
            );
        }
        let opts_of = |at: &str| {
            mounts
                .lines()
                .find(|l| l.split_whitespace().nth(4) == Some(at))
                .and_then(|l| l.split_whitespace().nth(5))
                .unwrap_or("")
                .to_string()
        };
        assert!(opts_of("/proc/sys").starts_with("ro"), "proc:mixed");
        assert!(opts_of("/proc/sys/net").starts_with("rw"), "proc:mixed");
        assert!(opts_of("/sys").starts_with("ro"), "sys:ro");
        assert!(opts_of("/").starts_with("ro"), "rootfs ro");
        let root_line = mounts
            .lines()
            .find(|l| l.split_whitespace().nth(4) == Some("/"))
            .unwrap_or("");
        assert!(
            root_line.contains(" shared:"),
            "systemd wants / rshared: {root_line}"
        );
        assert!(
            !mounts.contains("/mnt/opt"),
            "optional entry with a missing source is skipped"
        );
        let env = fx.fact("env");
        for want in [
            "container=lxc",
            "container_ttys=pts/0 pts/1",
            "FOO=bar",
            "TERM=linux",
        ] {
            assert!(env.lines().any(|l| l == want), "missing {want} in\n{env}");
        }
        let status = fx.fact("status");
        let bnd = status
            .lines()
            .find(|l| l.starts_with("CapBnd:"))
            .ok_or("no CapBnd")?;
        let mask = u64::from_str_radix(bnd.split_whitespace().nth(1).ok_or("CapBnd value")?, 16)
            .map_err(|e| e.to_string())?;
        for dropped in [16u32, 25, 32, 33] {
            assert_eq!(
                mask & (1 << dropped),
                0,
                "capability {dropped} still in {bnd}"
            );
        }
        assert!(mask & (1 << 21) != 0, "sys_admin kept");
        assert!(status.contains("Seccomp:\t2"), "{status}");
        let dev = fx.fact("dev");
        assert!(
            dev.contains("tty1") && dev.contains("ptmx") && dev.contains("fd -> /proc/self/fd"),
            "{dev}"
        );
        drop(spawned);
        no_children_left()
    });
}

/// Give the whole tree to the container's root (host uid/gid `id`), like a template run
/// through lxc-usernsexec would have.
fn chown_tree(path: &Path, id: u32) -> Result<(), String> {
    let out = std::process::Command::new("chown")
        .args(["-hR", &format!("{id}:{id}")])
        .arg(path)
        .status()
        .map_err(|e| e.to_string())?;
    if !out.success() {
        return Err(format!("chown -hR {} failed", path.display()));
    }
    Ok(())
}

#[test]
fn spawn_with_idmap_in_a_user_namespace() {
    require_root!();
    in_child(|| {
        let fx = Fixture::new("userns");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(fx.dir.path(), std::fs::Permissions::from_mode(0o755))
            .map_err(|e| e.to_string())?;
        chown_tree(&fx.rootfs(), 100_000)?;
        chown_tree(&fx.out(), 100_000)?;
        let cfg = fx.config("lxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 100000 65536");
        let spawned = fx.spawn(&cfg, &["/bin/sh", "-c", FACTS], false)?;
        let mut tty1 = std::fs::File::from(spawned.ttys[0].try_clone().map_err(|e| e.to_string())?);
        tty1.write_all(b"hello-userns\n")
            .map_err(|e| e.to_string())?;
        let code = wait_exit(spawned.pid)?;
        assert_eq!(code, 0, "log:\n{}", fx.fact("log"));
        assert_eq!(fx.fact("done").trim(), "done");
        assert_eq!(fx.fact("uid").trim(), "0", "root inside");
        assert_eq!(
            fx.fact("devnodes").trim(),
            "ok",
            "device nodes bound from the host"
        );
        assert_eq!(fx.fact("tty1").trim(), "hello-userns");
        assert_eq!(fx.fact("hostname").trim(), "lxcrs-test");
        let mounts = fx.fact("mounts");
        assert!(
            mounted(&mounts, "/dev/null", ""),
            "/dev/null is a bind mount in a user namespace:\n{mounts}"
        );
        assert!(
            mounted(&mounts, "/sys/fs/cgroup/memory", "cgroup"),
            "{mounts}"
        );
        let env = fx.fact("env");
        assert!(env.lines().any(|l| l == "container=lxc"), "{env}");
        no_children_left()
    });
}

#[test]
fn time_offsets_and_shared_network_namespace() {
    require_root!();
    in_child(|| {
        let fx = Fixture::new("timens");
        let me = std::process::id();
        let cfg = fx.config(&format!(
            "lxc.time.offset.boot = 1000000s\nlxc.namespace.share.net = {me}"
        ));
        let script = "cut -d' ' -f1 /proc/uptime > /mnt/out/uptime; readlink /proc/self/ns/net > /mnt/out/netns";
        let spawned = fx.spawn(&cfg, &["/bin/sh", "-c", script], false)?;
        assert_eq!(wait_exit(spawned.pid)?, 0);
        let uptime: f64 = fx
            .fact("uptime")
            .trim()
            .parse()
            .map_err(|e| format!("uptime: {e}"))?;
        assert!(uptime > 1_000_000.0, "boot offset applied: uptime {uptime}");
        let host = std::fs::read_link("/proc/self/ns/net").map_err(|e| e.to_string())?;
        assert_eq!(
            fx.fact("netns").trim(),
            host.display().to_string(),
            "lxc.namespace.share.net joined"
        );
        no_children_left()
    });
}

#[test]
fn cgroup_mixed_without_cgroup_namespace() {
    require_root!();
    in_child(|| {
        let fx = Fixture::new("nocgns");
        let cfg = fx.config("lxc.namespace.keep = cgroup");
        let script = r#"
own=$(grep ':memory:' /proc/self/cgroup | cut -d: -f3)
echo "$own" > /mnt/out/own
if mkdir /sys/fs/cgroup/memory/lxcrs-escape 2>/dev/null; then echo rw; else echo ro; fi > /mnt/out/hostcg
if mkdir /sys/fs/cgroup/memory$own/sub; then echo rw; else echo ro; fi > /mnt/out/owncg
rmdir /sys/fs/cgroup/memory$own/sub
"#;
        let spawned = fx.spawn(&cfg, &["/bin/sh", "-c", script], false)?;
        assert_eq!(wait_exit(spawned.pid)?, 0);
        assert!(
            fx.fact("own").trim().ends_with(&fx.name),
            "full host path visible: {}",
            fx.fact("own")
        );
        assert_eq!(
            fx.fact("hostcg").trim(),
            "ro",
            "host hierarchy read-only in cgroup:mixed"
        );
        assert_eq!(
            fx.fact("owncg").trim(),
            "rw",
            "own cgroup writable in cgroup:mixed"
        );
        no_children_left()
    });
}

#[test]
fn execute_mode_runs_command_under_builtin_init() {
    require_root!();
    in_child(|| {
        let fx = Fixture::new("exec");
        let cfg = fx.config("");
        let spawned = fx.spawn(
            &cfg,
            &["/bin/sh", "-c", "echo $$ > /mnt/out/pid; exit 7"],
            true,
        )?;
        let code = wait_exit(spawned.pid)?;
        assert_eq!(code, 7, "init exits with the command's status");
        assert_ne!(
            fx.fact("pid").trim(),
            "1",
            "the command is not PID 1 under lxc-execute"
        );
        no_children_left()
    });
}

/// lxc-execute: the command is looked up in PATH by lxcrs-init, whose exec failure
/// reaches the monitor over the start socket like the start child's own.
#[test]
fn execute_mode_exec_failure_is_reported_by_init() {
    require_root!();
    in_child(|| {
        let fx = Fixture::new("exec-noexec");
        let cfg = fx.config("");
        let err = fx
            .spawn(&cfg, &["no-such-command", "arg"], true)
            .err()
            .ok_or("spawn succeeded")?;
        assert_eq!(
            err,
            "failed to exec no-such-command: No such file or directory"
        );
        let err = fx
            .spawn(&cfg, &["/etc"], true)
            .err()
            .ok_or("spawn of a directory succeeded")?;
        assert_eq!(err, "failed to exec /etc: Permission denied");
        no_children_left()
    });
}

#[test]
fn symlinked_mount_target_aborts_spawn() {
    require_root!();
    in_child(|| {
        let fx = Fixture::new("symlink");
        let cfg =
            fx.config("lxc.mount.entry = tmpfs evil/lxcrs-test tmpfs defaults,create=dir 0 0");
        let err = fx
            .spawn(&cfg, &["/bin/true"], false)
            .err()
            .ok_or("spawn succeeded")?;
        assert!(
            err.contains("refusing mount entry \"tmpfs evil/lxcrs-test tmpfs"),
            "{err}"
        );
        assert!(err.contains("evil is a symlink"), "{err}");
        assert!(
            !Path::new("/etc/lxcrs-test").exists(),
            "nothing created through the symlink"
        );
        no_children_left()
    });
}

#[test]
fn failing_pre_start_hook_aborts_spawn() {
    require_root!();
    in_child(|| {
        let fx = Fixture::new("hook");
        let cfg = fx.config("lxc.hook.pre-start = /bin/sh -c 'echo broken hook >&2; exit 7'");
        let err = fx
            .spawn(&cfg, &["/bin/true"], false)
            .err()
            .ok_or("spawn succeeded")?;
        assert!(err.contains("pre-start hook \"/bin/sh -c 'echo broken hook >&2; exit 7'\" failed: exit status 7"), "{err}");
        assert!(err.ends_with("broken hook"), "{err}");
        no_children_left()
    });
}

#[test]
fn exec_failure_is_reported() {
    require_root!();
    in_child(|| {
        let fx = Fixture::new("noexec");
        let cfg = fx.config("");
        let err = fx
            .spawn(&cfg, &["/sbin/no-such-init"], false)
            .err()
            .ok_or("spawn succeeded")?;
        assert_eq!(
            err,
            "failed to exec /sbin/no-such-init: No such file or directory"
        );
        no_children_left()
    });
}
