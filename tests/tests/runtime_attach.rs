//! lxc-attach against a running busybox container: exit codes, environment, ids,
//! namespaces, and every stdio combination, with and without a terminal.

use lxcrs_tests::runtime_support;
use lxcrs_tests::runtime_support::{busybox, have_script, in_pty, serial, sh, shell_cmd, text};
use lxcrs_tests::Env;

fn attach_line(env: &Env, n: &str, rest: &str) -> String {
    shell_cmd(env, "lxc-attach", &format!("-n {n} {rest}"))
}

#[test]
fn attach_exit_codes_env_ids_namespaces() {
    let _g = serial();
    let Some((env, before)) = runtime_support::env() else {
        return;
    };
    let n = env.unique_name("att");
    busybox(&env, &n);
    env.ok("lxc-start", &["-n", &n]);

    assert_eq!(
        env.ok("lxc-attach", &["-n", &n, "--", "hostname"]).trim(),
        n
    );
    let code = |args: &[&str]| {
        env.lxc("lxc-attach", &[&["-n", &n, "--"], args].concat())
            .status
            .code()
    };
    assert_eq!(code(&["sh", "-c", "exit 7"]), Some(7));
    assert_eq!(code(&["sh", "-c", "exit 0"]), Some(0));
    assert_eq!(code(&["sh", "-c", "kill -9 $$"]), Some(128 + 9));
    assert_eq!(code(&["sh", "-c", "kill -TERM $$"]), Some(128 + 15));
    let missing = env.lxc("lxc-attach", &["-n", &n, "--", "/no/such/binary"]);
    assert_ne!(missing.status.code(), Some(0));
    assert!(
        text(&missing).1.contains("/no/such/binary"),
        "{}",
        text(&missing).1
    );

    // Environment: kept by default, cleared on request, plus -v and --keep-var.
    let out = env
        .cmd("lxc-attach")
        .args(["-n", &n, "--", "sh", "-c", "echo $FOO:$container"])
        .env("FOO", "bar")
        .output()
        .unwrap();
    assert_eq!(text(&out).0.trim(), "bar:lxc");
    let out = env
        .cmd("lxc-attach")
        .args([
            "-n",
            &n,
            "--clear-env",
            "--",
            "sh",
            "-c",
            "echo $FOO:$container:$PATH",
        ])
        .env("FOO", "bar")
        .output()
        .unwrap();
    assert_eq!(
        text(&out).0.trim(),
        ":lxc:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    );
    let out = env
        .cmd("lxc-attach")
        .args([
            "-n",
            &n,
            "--clear-env",
            "--keep-var",
            "FOO",
            "-v",
            "A=b",
            "--",
            "sh",
            "-c",
            "echo $FOO:$A",
        ])
        .env("FOO", "bar")
        .output()
        .unwrap();
    assert_eq!(text(&out).0.trim(), "bar:b");

    // Ids.
    assert_eq!(
        env.ok(
            "lxc-attach",
            &[
                "-n",
                &n,
                "-u",
                "1000",
                "-g",
                "1001",
                "--",
                "sh",
                "-c",
                "echo $(id -u):$(id -g)"
            ]
        )
        .trim(),
        "1000:1001"
    );

    // Capabilities: lxc.cap.drop applies unless -e.
    let bnd = |extra: &[&str]| {
        let out = env.ok(
            "lxc-attach",
            &[
                &["-n", &n],
                extra,
                &["--", "grep", "CapBnd", "/proc/self/status"],
            ]
            .concat(),
        );
        u64::from_str_radix(out.split_whitespace().last().unwrap(), 16).unwrap()
    };
    let dropped = bnd(&[]);
    assert_eq!(dropped & (1 << 16), 0, "sys_module dropped: {dropped:x}");
    assert_ne!(bnd(&["-e"]) & (1 << 16), 0, "-e keeps sys_module");

    // The payload cgroup: inside the container's cgroup namespace it is the root, in
    // every hierarchy (outside it would show as `/..`-relative).
    let cg = env.ok("lxc-attach", &["-n", &n, "--", "cat", "/proc/self/cgroup"]);
    assert!(cg.lines().any(|l| l.contains(":memory:")), "{cg}");
    for line in cg.lines() {
        assert!(line.ends_with(":/"), "{cg}");
    }
    // From the host: the attached process sits in the payload cgroup of every hierarchy.
    let mut sleeper = env
        .cmd("lxc-attach")
        .args(["-n", &n, "--", "sleep", "31.4159"])
        .spawn()
        .unwrap();
    let pid = eventually_pid_of("sleep\u{0}31.4159\u{0}");
    let host_cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let _ = sleeper.kill();
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
    let _ = sleeper.wait();
    assert!(host_cg.lines().count() > 1, "{host_cg}");
    for line in host_cg.lines() {
        assert!(line.ends_with(&format!("/lxcrs.payload.{n}")), "{host_cg}");
    }

    // Only the UTS namespace: container hostname, host filesystem.
    assert_eq!(
        env.ok("lxc-attach", &["-n", &n, "-s", "UTSNAME", "--", "hostname"])
            .trim(),
        n
    );
    let host_root = std::fs::metadata("/")
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
        .unwrap();
    let seen = env.ok(
        "lxc-attach",
        &["-n", &n, "-s", "UTSNAME", "--", "stat", "-c", "%i", "/"],
    );
    assert_eq!(seen.trim(), host_root.to_string());

    // No command: the login shell from the container's /etc/passwd, reading stdin.
    let out = sh(
        &env,
        &format!("echo 'echo shell-ok' | {}", attach_line(&env, &n, "")),
    );
    assert_eq!(text(&out).0.trim(), "shell-ok", "{:?}", text(&out));

    env.ok("lxc-stop", &["-n", &n, "-k"]);
    let out = env.lxc("lxc-attach", &["-n", &n, "--", "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("is not running"), "{}", text(&out).1);
    runtime_support::finish(env, before);
}

#[test]
fn attach_stdio_without_terminal() {
    let _g = serial();
    let Some((env, before)) = runtime_support::env() else {
        return;
    };
    let n = env.unique_name("stdio");
    busybox(&env, &n);
    env.ok("lxc-start", &["-n", &n]);
    let both = "-- sh -c 'echo out; echo err >&2'";
    let run = |redir: &str| {
        let out = sh(&env, &format!("{} {redir}", attach_line(&env, &n, both)));
        assert!(out.status.success(), "{redir}: {:?}", text(&out));
        text(&out)
    };
    assert_eq!(run(""), ("out\n".into(), "err\n".into()));
    assert_eq!(run(">/dev/null"), ("".into(), "err\n".into()));
    assert_eq!(run("2>/dev/null"), ("out\n".into(), "".into()));
    assert_eq!(run("2>&1"), ("out\nerr\n".into(), "".into()));
    assert_eq!(run("</dev/null"), ("out\n".into(), "err\n".into()));
    assert_eq!(run("2>&1 | cat"), ("out\nerr\n".into(), "".into()));
    // Pipes into and out of the container.
    let out = sh(
        &env,
        &format!(
            "printf 'a\\nb\\n' | {} | wc -l",
            attach_line(&env, &n, "-- cat")
        ),
    );
    assert_eq!(text(&out).0.trim(), "2");
    let out = sh(
        &env,
        &format!("{} </dev/null", attach_line(&env, &n, "-- cat")),
    );
    assert!(out.status.success() && out.stdout.is_empty());
    // No stdio is a terminal: the command sees none.
    let out = sh(
        &env,
        &format!(
            "{} </dev/null",
            attach_line(&env, &n, "-- sh -c 'test -t 0 || test -t 1 || echo no-tty'")
        ),
    );
    assert_eq!(text(&out).0.trim(), "no-tty");
    env.ok("lxc-stop", &["-n", &n, "-k"]);
    runtime_support::finish(env, before);
}

#[test]
fn attach_stdio_with_terminal() {
    let _g = serial();
    if !have_script() {
        lxcrs_tests::skip("`script` (util-linux) is needed for pty tests");
        return;
    }
    let Some((env, before)) = runtime_support::env() else {
        return;
    };
    let n = env.unique_name("pty");
    busybox(&env, &n);
    env.ok("lxc-start", &["-n", &n]);
    let a = |rest: &str| attach_line(&env, &n, rest);

    // All three are terminals: the command gets the pty on each.
    let out = in_pty(
        &env,
        &a("-- sh -c 'test -t 0 && test -t 1 && test -t 2 && echo all-tty'"),
    );
    assert!(text(&out).0.contains("all-tty"), "{:?}", text(&out));
    // Exit status passes through the pty proxy.
    let out = sh(
        &env,
        &format!(
            "script -qec {} /dev/null; echo rc=$?",
            lxcrs_tests::runtime_support::shell_quote(&a("-- sh -c 'exit 3'"))
        ),
    );
    assert!(text(&out).0.contains("rc=3"), "{:?}", text(&out));
    // stdout redirected to a file: only that one is not a terminal, and the file gets
    // the output unmangled (no \r).
    let file = env.lxcpath().join("out.txt");
    let f = file.display();
    in_pty(
        &env,
        &format!(
            "{} > {f}",
            a("-- sh -c 'test -t 0 && echo in-tty; test -t 1 || echo out-plain'")
        ),
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "in-tty\nout-plain\n"
    );
    // stderr redirected into stdout's file.
    in_pty(
        &env,
        &format!("{} > {f} 2>&1", a("-- sh -c 'echo o; echo e >&2'")),
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "o\ne\n");
    // stdin from /dev/null with a terminal on stdout: ends at once.
    let out = in_pty(
        &env,
        &format!("{} < /dev/null", a("-- sh -c 'cat; echo done'")),
    );
    assert!(text(&out).0.contains("done"), "{:?}", text(&out));
    // Input typed on the terminal reaches the command.
    let out = sh(
        &env,
        &format!(
            "printf 'hello\\n' | script -qec {} /dev/null",
            lxcrs_tests::runtime_support::shell_quote(&a("-- head -n1"))
        ),
    );
    assert!(text(&out).0.contains("hello"), "{:?}", text(&out));
    env.ok("lxc-stop", &["-n", &n, "-k"]);
    runtime_support::finish(env, before);
}

/// The pid of the process whose `/proc/PID/cmdline` is `cmdline`, waiting up to 5 s.
fn eventually_pid_of(cmdline: &str) -> i32 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let found = std::fs::read_dir("/proc").unwrap().flatten().find_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
            (cmd == cmdline.as_bytes()).then_some(pid)
        });
        if let Some(pid) = found {
            return pid;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no process {cmdline:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// `lxc.seccomp.profile` holds for init and for attached processes (both load the filter
/// compiled once by their parent), and `-e` (elevated: no LSM) leaves it out.
#[test]
fn seccomp_profile_applies_to_init_and_attach() {
    let _g = serial();
    let Some((env, before)) = runtime_support::env() else {
        return;
    };
    let n = env.unique_name("sec");
    busybox(&env, &n);
    let profile = env.lxcpath().join("test.seccomp");
    std::fs::write(&profile, "2\ndenylist\n[all]\nsethostname errno 38\n").unwrap();
    runtime_support::append_config(
        &env,
        &n,
        &[&format!("lxc.seccomp.profile = {}", profile.display())],
    );
    env.ok("lxc-start", &["-n", &n]);
    let filters = |pid: &str| -> String {
        env.ok(
            "lxc-attach",
            &[
                "-n",
                &n,
                "--",
                "grep",
                "Seccomp:",
                &format!("/proc/{pid}/status"),
            ],
        )
    };
    assert!(
        filters("1").contains('2'),
        "init runs filtered: {}",
        filters("1")
    );
    let out = env.lxc("lxc-attach", &["-n", &n, "--", "hostname", "other"]);
    assert_ne!(out.status.code(), Some(0), "sethostname is denied");
    assert!(
        text(&out).1.contains("not implemented"),
        "ENOSYS from the profile: {}",
        text(&out).1
    );
    assert_eq!(
        env.ok("lxc-attach", &["-n", &n, "--", "hostname"]).trim(),
        n
    );
    // Elevated without LSM: no filter, the call goes through.
    env.ok("lxc-attach", &["-n", &n, "-e", "--", "hostname", "other"]);
    assert_eq!(
        env.ok("lxc-attach", &["-n", &n, "--", "hostname"]).trim(),
        "other"
    );
    env.ok("lxc-stop", &["-n", &n, "-k"]);
    runtime_support::finish(env, before);
}
