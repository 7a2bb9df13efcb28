//! Security of lxc-attach and lxc-execute against the container they enter (audit
//! findings C2, H1, M3, M4, L6, L15): the attaching process runs from a sealed memfd and
//! is not dumpable, nothing of the caller leaks into the attached command, a dying
//! container never gets the command run on the host, and lxc-execute's PID 1 holds no
//! host fd and no host binary.

use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lxcrs_tests::runtime_support::{self, append_config, busybox, pid, serial, state, text};
use lxcrs_tests::Env;

/// `lxc-attach -n NAME` plus `args`, as a Command with `-P` and the test's config.
fn attach_cmd(env: &Env, n: &str, args: &[&str]) -> Command {
    let mut c = env.cmd("lxc-attach");
    c.args(["-n", n]).args(args);
    c
}

/// The children of `pid` (from /proc/PID/task/PID/children).
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Waits for `child` up to `secs`; kills it and returns None on timeout.
fn wait_for(child: &mut Child, secs: u64) -> Option<std::process::ExitStatus> {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if let Some(s) = child.try_wait().expect("try_wait") {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// The attaching processes (lxc-attach and its first child) run from a sealed memfd,
/// which cannot be opened for writing; the attached command sees only stdio, and no
/// inheritable or ambient capability even when the caller had some.
#[test]
fn attach_runs_sealed_and_hands_over_nothing_of_the_caller() {
    let _g = serial();
    let Some((env, before)) = runtime_support::env() else {
        return;
    };
    let n = env.unique_name("attsec");
    busybox(&env, &n);
    env.ok("lxc-start", &["-n", &n]);

    // A caller with fd 7 open and CAP_NET_RAW inheritable and ambient.
    let script = "ls /proc/$$/fd; grep -E '^Cap(Inh|Amb)' /proc/$$/status; sleep 2";
    let mut c = Command::new("setpriv");
    c.args([
        "--inh-caps",
        "+net_raw",
        "--ambient-caps",
        "+net_raw",
        "sh",
        "-c",
    ])
    .arg(r#"exec 7</etc/hostname; exec "$@""#)
    .arg("sh");
    let tool = attach_cmd(&env, &n, &["--", "sh", "-c", script]);
    c.arg(tool.get_program());
    c.args(tool.get_args());
    c.envs(tool.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))));
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = c.spawn().expect("run setpriv");
    let attach = child.id();

    // While the command runs: lxc-attach and its first child are memfd-backed.
    let mut seen = Vec::new();
    runtime_support::eventually(10, || {
        seen = std::iter::once(attach).chain(children(attach)).collect();
        seen.len() >= 2
    });
    assert!(seen.len() >= 2, "lxc-attach has no first child: {seen:?}");
    for p in &seen {
        let exe = std::fs::read_link(format!("/proc/{p}/exe")).expect("readlink exe");
        let exe = exe.to_string_lossy();
        assert!(
            exe.starts_with("/memfd:"),
            "/proc/{p}/exe of the attaching process is {exe}, a host file"
        );
        let w = std::fs::OpenOptions::new()
            .write(true)
            .open(format!("/proc/{p}/exe"));
        if let Ok(mut w) = w {
            use std::io::Write;
            assert!(
                w.write_all(b"\x7fELF").is_err(),
                "the memfd of {p} took a write"
            );
        }
    }
    let out = child.wait_with_output().expect("wait for lxc-attach");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let mut fds: Vec<&str> = stdout
        .lines()
        .filter(|l| !l.starts_with("Cap"))
        .flat_map(str::split_whitespace)
        .collect();
    fds.sort_unstable();
    assert_eq!(
        fds,
        ["0", "1", "2"],
        "fds of the attached command:\n{stdout}"
    );
    for l in stdout.lines().filter(|l| l.starts_with("Cap")) {
        let v = l.split_whitespace().nth(1).unwrap_or("");
        assert!(
            v.chars().all(|c| c == '0'),
            "the attached command has {l} (from the caller)"
        );
    }
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("Cap")).count(),
        2,
        "{stdout}"
    );
    runtime_support::finish(env, before);
}

/// From inside a privileged container (root with CAP_SYS_PTRACE), every process of its
/// pid namespace shows no host binary behind /proc/PID/exe while an lxc-attach is being
/// set up. A FIFO at /etc/passwd kept the old attach waiting before exec (inside the pid
/// namespace); it must neither hang the attach nor expose it (L6).
#[test]
fn container_sees_no_host_binary_and_a_passwd_fifo_hangs_nothing() {
    let _g = serial();
    let Some((env, before)) = runtime_support::env() else {
        return;
    };
    let n = env.unique_name("attfifo");
    busybox(&env, &n);
    env.ok("lxc-start", &["-n", &n]);
    env.ok(
        "lxc-attach",
        &[
            "-n",
            &n,
            "--",
            "sh",
            "-c",
            "rm /etc/passwd; mkfifo /etc/passwd",
        ],
    );
    // --clear-env: HOME comes from the container's passwd.
    let mut slow = attach_cmd(&env, &n, &["--clear-env", "--", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run lxc-attach");
    std::thread::sleep(Duration::from_millis(1500));
    let scan = env.ok(
        "lxc-attach",
        &[
            "-n",
            &n,
            "--",
            "sh",
            "-c",
            "for p in /proc/[0-9]*; do echo \"$p $(readlink $p/exe)\"; done",
        ],
    );
    let status = wait_for(&mut slow, 15);
    for line in scan.lines() {
        let exe = line.split_once(' ').map_or("", |(_, e)| e);
        assert!(
            exe.starts_with("/memfd:") || !exe.contains("lxcrs"),
            "a container process sees a host lxcrs binary: {line}\n{scan}"
        );
    }
    assert!(
        status.is_some_and(|s| s.success()),
        "lxc-attach --clear-env hung on a FIFO /etc/passwd (or failed): {status:?}"
    );
    runtime_support::finish(env, before);
}

/// Root of an unprivileged container (CAP_SYS_PTRACE in its user namespace) can neither
/// ptrace nor read the memory-derived /proc files of the attaching process, which holds
/// host root's kuid inside that namespace before exec.
#[test]
fn userns_root_cannot_ptrace_the_attaching_process() {
    let _g = serial();
    let Some((env, before)) = runtime_support::env() else {
        return;
    };
    let n = env.unique_name("attuns");
    busybox(&env, &n);
    append_config(
        &env,
        &n,
        &[
            "lxc.idmap = u 0 100000 65536",
            "lxc.idmap = g 0 100000 65536",
        ],
    );
    let dir = env.lxcpath().join(&n);
    for d in [env.lxcpath(), dir.as_path()] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let chown = Command::new("chown")
        .args(["-R", "100000:100000"])
        .arg(dir.join("rootfs"))
        .status()
        .expect("chown");
    assert!(chown.success());
    env.ok("lxc-start", &["-n", &n]);
    let init = pid(&env, &n);

    let mut child = attach_cmd(&env, &n, &["--", "sleep", "3"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run lxc-attach");
    let attach = child.id();
    let mut first = None;
    runtime_support::eventually(10, || {
        first = children(attach).first().copied();
        // The first child has joined the container's user namespace.
        first.is_some_and(|f| {
            std::fs::read_link(format!("/proc/{f}/ns/user")).ok()
                == std::fs::read_link(format!("/proc/{init}/ns/user")).ok()
        })
    });
    let first = first.expect("lxc-attach has no first child");
    // Container root's credentials: nsenter -U makes us uid 0 of the container.
    let probe = format!(
        "head -c 1 /proc/{first}/environ >/dev/null 2>&1 && echo ENVIRON-READ; \
         timeout 2 strace -qq -o /dev/null -p {first} -e trace=none; echo strace=$?"
    );
    let out = Command::new("nsenter")
        .args(["-U", "-t", &init.to_string(), "--", "sh", "-c", &probe])
        .output()
        .expect("nsenter");
    let (stdout, stderr) = text(&out);
    let _ = wait_for(&mut child, 10);
    assert!(
        !stdout.contains("ENVIRON-READ"),
        "container root read /proc/{first}/environ of the attaching process"
    );
    assert!(
        stdout.contains("strace=1") && stderr.contains("Operation not permitted"),
        "container root could ptrace the attaching process {first}:\n{stdout}\n{stderr}"
    );
    runtime_support::finish(env, before);
}

/// The first child, delayed (strace) until the container's init is dead and reaped,
/// must fail instead of running the command in the host's namespaces (H1). `-e CGROUP`
/// keeps it out of the payload cgroup, so the teardown does not kill it.
#[test]
fn attach_to_a_dying_container_never_runs_on_the_host() {
    let _g = serial();
    let Some((env, before)) = runtime_support::env() else {
        return;
    };
    let n = env.unique_name("attdie");
    busybox(&env, &n);
    env.ok("lxc-start", &["-n", &n]);
    let init = pid(&env, &n);
    let marker = tempfile::tempdir().expect("tempdir");
    let marker = marker.path().join("ran-on-the-host");
    let tool = attach_cmd(
        &env,
        &n,
        &[
            "--elevated-privileges=CGROUP",
            "--",
            "touch",
            &marker.to_string_lossy(),
        ],
    );
    // The first child calls getcwd after the monitor's answers and before it looks at
    // init's namespaces: hold it there for 3 s.
    let mut c = Command::new("strace");
    c.args(["-f", "-qq", "-o", "/dev/null", "-e", "trace=getcwd"])
        .args(["-e", "inject=getcwd:delay_enter=3000000"])
        .arg(tool.get_program())
        .args(tool.get_args())
        .envs(tool.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = c.spawn().expect("run strace");
    std::thread::sleep(Duration::from_millis(1500));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(init),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill init");
    let out = child.wait_with_output().expect("wait");
    assert!(
        !marker.exists(),
        "the attach ran its command on the host after init died: {:?}",
        text(&out)
    );
    assert!(!out.status.success(), "{:?}", text(&out));
    assert!(
        runtime_support::eventually(20, || state(&env, &n) == "STOPPED"),
        "the container did not stop"
    );
    runtime_support::finish(env, before);
}

/// lxc-attach joins the container's time namespace (`lxc.time.offset.*`, L15).
#[test]
fn attach_joins_the_time_namespace() {
    let _g = serial();
    let Some((env, before)) = runtime_support::env() else {
        return;
    };
    let n = env.unique_name("atttime");
    busybox(&env, &n);
    append_config(&env, &n, &["lxc.time.offset.boot = 1000000s"]);
    env.ok("lxc-start", &["-n", &n]);
    let out = env.ok(
        "lxc-attach",
        &["-n", &n, "--", "sh", "-c", "cut -d. -f1 /proc/uptime"],
    );
    let up: u64 = out.trim().parse().expect("uptime");
    assert!(up >= 1_000_000, "the attached command's uptime is {up}");
    let host: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(host < 1_000_000.0, "the host's uptime is already {host}");
    runtime_support::finish(env, before);
}

/// lxc-execute's PID 1 is a sealed memfd (no host binary) and holds only stdio (M3).
#[test]
fn execute_pid1_holds_no_host_fd_and_no_host_binary() {
    let _g = serial();
    let Some((env, before)) = runtime_support::env() else {
        return;
    };
    let n = env.unique_name("attexe");
    busybox(&env, &n);
    let out = env.lxc(
        "lxc-execute",
        &[
            "-n",
            &n,
            "--",
            "sh",
            "-c",
            "ls /proc/1/fd; readlink /proc/1/exe; grep -E '^Cap(Inh|Amb)' /proc/1/status; exit 3",
        ],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");
    let mut lines = stdout.lines();
    let mut fds: Vec<&str> = lines
        .by_ref()
        .take_while(|l| !l.starts_with('/'))
        .flat_map(str::split_whitespace)
        .collect();
    fds.sort_unstable();
    assert_eq!(fds, ["0", "1", "2"], "PID 1's fds:\n{stdout}");
    let exe = stdout.lines().find(|l| l.starts_with('/')).unwrap_or("");
    assert!(
        exe.starts_with("/memfd:"),
        "PID 1 of lxc-execute runs {exe:?}, not a sealed memfd:\n{stdout}"
    );
    for l in stdout.lines().filter(|l| l.starts_with("Cap")) {
        let v = l.split_whitespace().nth(1).unwrap_or("");
        assert!(v.chars().all(|c| c == '0'), "PID 1 has {l}");
    }
    runtime_support::finish(env, before);
}
