//! Config that the runtime must honour: memory limits, a read-only rootfs, mount entries
//! through symlinks, failing hooks, reboot, console and lxc-execute.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use lxcrs_tests::runtime_support;
use lxcrs_tests::runtime_support::{append_config, busybox, eventually, pid, serial, state, text};

/// Device rules hold for the running container, and come after its /dev is made: autodev
/// makes /dev/zero even though the rules then refuse opening it.
#[test]
fn device_rules_are_enforced_after_setup() {
    let _g = serial();
    let Some((env, before)) = runtime_support::env() else {
        return;
    };
    let n = env.unique_name("dev");
    busybox(&env, &n);
    append_config(
        &env,
        &n,
        &[
            "lxc.autodev = 1",
            "lxc.cgroup.devices.deny = a",
            "lxc.cgroup.devices.allow = c 1:3 rwm",
            "lxc.cgroup.devices.allow = c 136:* rwm",
            "lxc.cgroup.devices.allow = c 5:2 rwm",
            "lxc.cgroup.devices.allow = c 5:1 rwm",
            "lxc.cgroup.devices.allow = c 5:0 rwm",
        ],
    );
    env.ok("lxc-start", &["-n", &n]);
    let list = env.ok("lxc-cgroup", &["-n", &n, "devices.list"]);
    assert!(list.contains("c 1:3 rwm"), "devices.list: {list}");
    assert!(!list.contains("a *:* rwm"), "devices.list: {list}");
    let ls = env.ok("lxc-attach", &["-n", &n, "--", "ls", "-l", "/dev/zero"]);
    assert!(ls.contains("1,"), "autodev made /dev/zero: {ls}");
    let out = env.lxc(
        "lxc-attach",
        &["-n", &n, "--", "head", "-c", "1", "/dev/zero"],
    );
    assert!(!out.status.success(), "/dev/zero was readable");
    assert!(
        text(&out).1.contains("not permitted"),
        "refused by the device rules: {:?}",
        text(&out)
    );
    env.ok(
        "lxc-attach",
        &["-n", &n, "--", "sh", "-c", "echo x > /dev/null"],
    );
    env.ok("lxc-stop", &["-n", &n, "-k"]);
    env.ok("lxc-destroy", &["-n", &n]);
    runtime_support::finish(env, before);
}

#[test]
fn memory_limit_is_enforced() {
    let _g = serial();
    let Some((env, before)) = runtime_support::env() else {
        return;
    };
    let n = env.unique_name("mem");
    busybox(&env, &n);
    append_config(&env, &n, &["lxc.cgroup.memory.limit_in_bytes = 32M"]);
    env.ok("lxc-start", &["-n", &n]);
    assert_eq!(
        env.ok("lxc-cgroup", &["-n", &n, "memory.limit_in_bytes"])
            .trim(),
        (32u64 << 20).to_string()
    );
    // A 128 MiB buffer cannot fit: the kernel kills the process.
    let out = env.lxc(
        "lxc-attach",
        &[
            "-n",
            &n,
            "--",
            "dd",
            "if=/dev/zero",
            "of=/dev/null",
            "bs=128M",
            "count=1",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(128 + 9),
        "killed by the OOM killer: {:?}",
        text(&out)
    );
    // Small allocations still work, and the container survived.
    env.ok(
        "lxc-attach",
        &[
            "-n",
            &n,
            "--",
            "dd",
            "if=/dev/zero",
            "of=/dev/null",
            "bs=4M",
            "count=1",
        ],
    );
    assert_eq!(state(&env, &n), "RUNNING");
    env.ok("lxc-stop", &["-n", &n, "-k"]);
    runtime_support::finish(env, before);
}

#[test]
fn read_only_rootfs() {
    let _g = serial();
    let Some((env, before)) = runtime_support::env() else {
        return;
    };
    let n = env.unique_name("ro");
    busybox(&env, &n);
    append_config(&env, &n, &["lxc.rootfs.options = ro"]);
    env.ok("lxc-start", &["-n", &n]);
    let out = env.lxc("lxc-attach", &["-n", &n, "--", "touch", "/should-fail"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out).1.contains("Read-only file system"),
        "{}",
        text(&out).1
    );
    assert!(!env.lxcpath().join(&n).join("rootfs/should-fail").exists());
    env.ok("lxc-stop", &["-n", &n, "-k"]);
    runtime_support::finish(env, before);
}

#[test]
fn mount_entry_through_symlink_is_refused() {
    let _g = serial();
    let Some((env, before)) = runtime_support::env() else {
        return;
    };
    let n = env.unique_name("sym");
    busybox(&env, &n);
    let rootfs = env.lxcpath().join(&n).join("rootfs");
    // mnt/escape -> /etc: followed on the host, a tmpfs would land on the host's /etc.
    std::fs::create_dir_all(rootfs.join("mnt")).unwrap();
    std::os::unix::fs::symlink("/etc", rootfs.join("mnt/escape")).unwrap();
    append_config(
        &env,
        &n,
        &["lxc.mount.entry = tmpfs mnt/escape tmpfs defaults 0 0"],
    );
    let out = env.lxc("lxc-start", &["-n", &n]);
    assert_ne!(out.status.code(), Some(0), "start must fail");
    let err = text(&out).1;
    assert!(
        err.contains("mnt/escape"),
        "the error names the entry: {err}"
    );
    assert!(err.contains("The container failed to start"), "{err}");
    assert_eq!(state(&env, &n), "STOPPED");
    assert!(
        std::path::Path::new("/etc/hostname").exists()
            || std::path::Path::new("/etc/passwd").exists()
    );
    runtime_support::finish(env, before);
}

#[test]
fn failing_hook_aborts_the_start() {
    let _g = serial();
    let Some((env, before)) = runtime_support::env() else {
        return;
    };
    let n = env.unique_name("hook");
    busybox(&env, &n);
    let hook = env.lxcpath().join("failing-hook");
    std::fs::write(&hook, "#!/bin/sh\necho hook-says-no >&2\nexit 3\n").unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    append_config(
        &env,
        &n,
        &[&format!("lxc.hook.pre-start = {}", hook.display())],
    );
    let out = env.lxc("lxc-start", &["-n", &n]);
    assert_ne!(out.status.code(), Some(0));
    let err = text(&out).1;
    assert!(
        err.contains("hook-says-no") || err.contains("failing-hook"),
        "{err}"
    );
    assert_eq!(state(&env, &n), "STOPPED");
    runtime_support::finish(env, before);
}

#[test]
fn reboot_from_inside_and_from_lxc_stop() {
    let _g = serial();
    let Some((env, before)) = runtime_support::env() else {
        return;
    };
    let n = env.unique_name("reboot");
    busybox(&env, &n);
    env.ok("lxc-start", &["-n", &n]);
    let first = pid(&env, &n);
    // busybox `reboot` makes init call reboot(2): the kernel kills init with SIGHUP and
    // the monitor restarts the container in place.
    let _ = env.lxc("lxc-attach", &["-n", &n, "--", "reboot"]);
    assert!(
        eventually(30, || state(&env, &n) == "RUNNING"
            && env.lxc("lxc-info", &["-n", &n, "-p", "-H"]).stdout
                != format!("{first}\n").into_bytes()),
        "the container came back with a new init"
    );
    let second = pid(&env, &n);
    assert_ne!(first, second);
    // lxc-stop -r waits until it is RUNNING again.
    env.ok("lxc-stop", &["-n", &n, "-r", "-t", "30"]);
    assert_eq!(state(&env, &n), "RUNNING");
    assert_ne!(pid(&env, &n), second);
    env.ok("lxc-stop", &["-n", &n, "-k"]);
    runtime_support::finish(env, before);
}

/// Runs `lxc-console` with pipes; returns the child, its stdin, and a channel of output.
fn console(
    env: &lxcrs_tests::Env,
    args: &[&str],
) -> (
    std::process::Child,
    std::process::ChildStdin,
    std::sync::mpsc::Receiver<Vec<u8>>,
) {
    let mut child = env
        .cmd("lxc-console")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        while let Ok(k) = stdout.read(&mut buf) {
            if k == 0 || tx.send(buf[..k].to_vec()).is_err() {
                break;
            }
        }
    });
    (child, stdin, rx)
}

/// Collects output until it contains `want` (or 15 s pass); returns all of it.
fn expect(rx: &std::sync::mpsc::Receiver<Vec<u8>>, seen: &mut Vec<u8>, want: &str) -> bool {
    let end = Instant::now() + Duration::from_secs(15);
    while !String::from_utf8_lossy(seen).contains(want) {
        let left = end.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(d) => seen.extend_from_slice(&d),
            Err(_) => return false,
        }
    }
    true
}

#[test]
fn console_tty_and_escape() {
    let _g = serial();
    let Some((env, before)) = runtime_support::env() else {
        return;
    };
    let n = env.unique_name("cons");
    busybox(&env, &n);
    let log = env.lxcpath().join("console.log");
    env.ok("lxc-start", &["-n", &n, "-L", log.to_str().unwrap()]);

    // tty2 (the template's getty reads tty1): what the container writes there reaches
    // us, what we type reaches it.
    let (mut child, mut stdin, rx) = console(&env, &["-n", &n, "-t", "2"]);
    let mut seen = Vec::new();
    std::thread::sleep(Duration::from_millis(300));
    env.ok(
        "lxc-attach",
        &[
            "-n",
            &n,
            "--",
            "sh",
            "-c",
            "echo marker-on-tty2 > /dev/tty2",
        ],
    );
    assert!(
        expect(&rx, &mut seen, "marker-on-tty2"),
        "{}",
        String::from_utf8_lossy(&seen)
    );
    env.ok(
        "lxc-attach",
        &[
            "-n",
            &n,
            "--",
            "sh",
            "-c",
            "(read l < /dev/tty2; echo \"$l\" > /typed) >/dev/null 2>&1 &",
        ],
    );
    std::thread::sleep(Duration::from_millis(300));
    stdin.write_all(b"typed-text\n").unwrap();
    let typed = env.lxcpath().join(&n).join("rootfs/typed");
    assert!(eventually(10, || std::fs::read_to_string(&typed)
        .is_ok_and(|t| t.trim() == "typed-text")));
    // The tty is ours while connected.
    let busy = env.lxc("lxc-console", &["-n", &n, "-t", "2"]);
    assert_eq!(busy.status.code(), Some(1), "tty2 is busy");
    stdin.write_all(b"\x01q").unwrap();
    assert!(child.wait().unwrap().success());
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(err.contains("Connected to tty 2"), "{err}");
    assert!(
        err.contains("Type <Ctrl+a q> to exit the console, <Ctrl+a Ctrl+a> to enter Ctrl+a itself"),
        "{err}"
    );

    // The console (tty 0): busybox runs a shell there once Enter is pressed.
    let (mut child, mut stdin, rx) = console(&env, &["-n", &n, "-t", "0"]);
    let mut seen = Vec::new();
    stdin.write_all(b"\n").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    stdin.write_all(b"echo con-$((40+2))\n").unwrap();
    assert!(
        expect(&rx, &mut seen, "con-42"),
        "{}",
        String::from_utf8_lossy(&seen)
    );
    stdin.write_all(b"\x01q").unwrap();
    assert!(child.wait().unwrap().success());
    // A tty that does not exist.
    let out = env.lxc("lxc-console", &["-n", &n, "-t", "9"]);
    assert_eq!(out.status.code(), Some(1));
    env.ok("lxc-stop", &["-n", &n, "-k"]);
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        logged.contains("con-42"),
        "the console log has the session: {logged:?}"
    );
    runtime_support::finish(env, before);
}

#[test]
fn execute_passes_the_exit_status_through() {
    let _g = serial();
    let Some((env, before)) = runtime_support::env() else {
        return;
    };
    let n = env.unique_name("exec");
    busybox(&env, &n);
    let out = env.lxc(
        "lxc-execute",
        &["-n", &n, "--", "sh", "-c", "echo from-inside; exit 5"],
    );
    assert_eq!(out.status.code(), Some(5), "{:?}", text(&out));
    assert!(text(&out).0.contains("from-inside"), "{:?}", text(&out));
    let out = env.lxc("lxc-execute", &["-n", &n, "--", "sh", "-c", "exit 0"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let out = env.lxc("lxc-execute", &["-n", &n, "--", "sh", "-c", "kill -9 $$"]);
    assert_eq!(out.status.code(), Some(128 + 9), "{:?}", text(&out));
    assert_eq!(state(&env, &n), "STOPPED");
    runtime_support::finish(env, before);
}

#[test]
fn foreground_start_proxies_the_console() {
    let _g = serial();
    let Some((env, before)) = runtime_support::env() else {
        return;
    };
    let n = env.unique_name("fg");
    busybox(&env, &n);
    let mut child = env
        .cmd("lxc-start")
        .args(["-n", &n, "-F"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert!(eventually(10, || state(&env, &n) == "RUNNING"));
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        while let Ok(k) = stdout.read(&mut buf) {
            if k == 0 || tx.send(buf[..k].to_vec()).is_err() {
                break;
            }
        }
    });
    stdin.write_all(b"\n").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    stdin.write_all(b"echo fg-$((20+3))\n").unwrap();
    let mut seen = Vec::new();
    assert!(
        expect(&rx, &mut seen, "fg-23"),
        "{}",
        String::from_utf8_lossy(&seen)
    );
    env.ok("lxc-stop", &["-n", &n, "-k"]);
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "lxc-start -F exits 0 once the container stopped: {status}"
    );
    runtime_support::finish(env, before);
}

#[test]
fn ephemeral_container_goes_away_and_execute_daemonizes() {
    let _g = serial();
    let Some((env, before)) = runtime_support::env() else {
        return;
    };
    let n = env.unique_name("eph");
    busybox(&env, &n);
    append_config(&env, &n, &["lxc.ephemeral = 1"]);
    env.ok("lxc-start", &["-n", &n]);
    // A reboot keeps it.
    env.ok("lxc-stop", &["-n", &n, "-r", "-t", "30"]);
    assert!(env.lxcpath().join(&n).exists());
    env.ok("lxc-stop", &["-n", &n, "-k"]);
    assert!(
        !env.lxcpath().join(&n).exists(),
        "lxc.ephemeral = 1 destroys the container at stop"
    );

    let m = env.unique_name("exd");
    busybox(&env, &m);
    env.ok("lxc-execute", &["-n", &m, "-d", "--", "sleep", "1000"]);
    assert_eq!(state(&env, &m), "RUNNING");
    let ps = env.ok("lxc-attach", &["-n", &m, "--", "ps"]);
    assert!(ps.contains("sleep 1000"), "{ps}");
    env.ok("lxc-stop", &["-n", &m, "-k"]);
    runtime_support::finish(env, before);
}
