//! An ordinary user against root's running container (audit C1, M7): every command is
//! refused and the container keeps running; a squatted socket name makes `lxc-start`
//! fail loudly; floods and a client that never reads do not stall the monitor; init
//! with a non-root `lxc.init.uid` dies with its monitor.
//!
//! The user is made with `useradd` and removed at the end (the suite's leak check
//! watches users). Its commands run through `setpriv --reuid/--regid --clear-groups`;
//! the raw-socket clients are small python3 scripts, so that the server's own check is
//! tested, not only the tools' client-side one.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use lxcrs_tests::runtime_support::{
    self, append_config, busybox, eventually, pid, serial, state, text,
};
use lxcrs_tests::Env;

/// A throw-away ordinary user, removed on drop.
struct TestUser {
    name: String,
    uid: u32,
    gid: u32,
}

impl TestUser {
    fn new() -> TestUser {
        let name = format!("lxsock{}", std::process::id() % 100_000);
        let _ = Command::new("userdel").arg(&name).output();
        let out = Command::new("useradd")
            .args(["-M", "-U", "-s", "/usr/sbin/nologin", "-d", "/nonexistent"])
            .arg(&name)
            .output()
            .expect("run useradd");
        assert!(out.status.success(), "useradd: {}", text(&out).1);
        let id = |flag: &str| -> u32 {
            let o = Command::new("id").arg(flag).arg(&name).output().unwrap();
            text(&o).0.trim().parse().unwrap()
        };
        TestUser {
            uid: id("-u"),
            gid: id("-g"),
            name,
        }
    }

    /// `setpriv` prefix running a program as this user.
    fn command(&self, program: &Path) -> Command {
        let mut c = Command::new("setpriv");
        c.arg(format!("--reuid={}", self.uid))
            .arg(format!("--regid={}", self.gid))
            .arg("--clear-groups")
            .arg("--")
            .arg(program);
        c.env("HOME", "/").stdin(Stdio::null());
        c
    }

    /// A tool of ours, as this user, on the env's lxcpath.
    fn tool(&self, env: &Env, tool: &str, args: &[&str]) -> Output {
        let mut c = self.command(&env.bin_dir().join(tool));
        c.arg("-P").arg(env.lxcpath()).args(args);
        c.env("LXC_GLOBAL_CONF", env.global_conf());
        let mut c = timeout(c, 20);
        c.output().expect("run tool as user")
    }

    /// A python3 script as this user.
    fn python(&self, script: &str, args: &[&str]) -> Command {
        let mut c = self.command(Path::new("/usr/bin/python3"));
        c.arg("-c").arg(script).args(args);
        c
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.name).output();
    }
}

/// Wraps a command in `timeout -s KILL secs`.
fn timeout(c: Command, secs: u64) -> Command {
    let mut t = Command::new("timeout");
    t.arg("-s").arg("KILL").arg(secs.to_string());
    t.arg(c.get_program()).args(c.get_args());
    for (k, v) in c.get_envs() {
        match v {
            Some(v) => t.env(k, v),
            None => t.env_remove(k),
        };
    }
    t.stdin(Stdio::null());
    t
}

/// What the root lxcpath of a real host looks like: others may traverse and read.
fn open_up(env: &Env) {
    for d in [
        env.lxcpath().to_path_buf(),
        env.global_conf().parent().unwrap().to_path_buf(),
    ] {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// Our command socket name (abstract, without the NUL) for a container of `env`.
fn socket_name(env: &Env, name: &str) -> String {
    let lp = std::fs::canonicalize(env.lxcpath()).unwrap();
    format!("lxcrs/{}/{name}/command", lp.display())
}

/// Sends raw requests (get_state, console_log clear, freeze, stop) and prints how many
/// were served; exit 1 when any was.
const RAW_CLIENT: &str = r#"
import socket, sys
name = sys.argv[1].encode()
served = 0
for req in (bytes([1]), bytes([11, 1]), bytes([5]), bytes([4]), bytes([7, 15, 0, 0, 0]) + b"lxc.environment"):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(5)
    try:
        s.connect(b"\0" + name)
        s.send(req)
        r = s.recv(65536)
    except OSError:
        r = b""
    if r and r[0] != 108:
        served += 1
        print("served", req, r[:8])
    s.close()
sys.exit(1 if served else 0)
"#;

/// Opens `count` connections, holding up to 900 at a time; prints the failures.
const FLOOD: &str = r#"
import socket, sys
name = sys.argv[1].encode()
count = int(sys.argv[2])
held, failed = [], 0
for i in range(count):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(2)
    try:
        s.connect(b"\0" + name)
    except OSError:
        failed += 1
    held.append(s)
    if len(held) >= 900:
        for h in held:
            h.close()
        held = []
print("failed", failed)
"#;

/// Binds the name, says "ready", and holds it until stdin closes.
const SQUAT: &str = r#"
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(b"\0" + sys.argv[1].encode())
s.listen(8)
print("ready", flush=True)
sys.stdin.read()
"#;

fn assert_refused(out: &Output, what: &str) {
    assert_ne!(
        out.status.code(),
        Some(0),
        "{what} as an ordinary user must be refused; stdout {:?} stderr {:?}",
        text(out).0,
        text(out).1
    );
}

#[test]
fn ordinary_user_cannot_reach_roots_monitor() {
    let _g = serial();
    let Some((env, before)) = runtime_support::env() else {
        return;
    };
    open_up(&env);
    let user = TestUser::new();
    let n = env.unique_name("sock");
    busybox(&env, &n);
    env.ok("lxc-start", &["-n", &n]);
    assert_eq!(state(&env, &n), "RUNNING");

    // 1. The tools, as the user: all refused, nothing changes.
    let attempts: &[(&str, &[&str])] = &[
        ("lxc-freeze", &["-n", &n]),
        ("lxc-stop", &["-n", &n, "-k"]),
        ("lxc-info", &["-n", &n]),
        ("lxc-info", &["-n", &n, "-s"]),
        ("lxc-info", &["-n", &n, "-c", "lxc.environment"]),
        ("lxc-console", &["-n", &n, "-t", "0"]),
        ("lxc-attach", &["-n", &n, "--", "true"]),
        ("lxc-cgroup", &["-n", &n, "memory.limit_in_bytes"]),
    ];
    for (tool, args) in attempts {
        let out = user.tool(&env, tool, args);
        assert_refused(&out, &format!("{tool} {args:?}"));
        assert_eq!(state(&env, &n), "RUNNING", "after {tool} {args:?} as user");
    }

    // 2. The raw protocol, as the user: the monitor itself serves nothing.
    let sock = socket_name(&env, &n);
    let out = timeout(user.python(RAW_CLIENT, &[&sock]), 60)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the monitor served an ordinary user: {} {}",
        text(&out).0,
        text(&out).1
    );
    assert_eq!(state(&env, &n), "RUNNING");

    // 3. 10,000 connections from the user, and a root client that sends and never reads:
    //    root's lxc-info still answers at once.
    let stuck = never_reader(&sock);
    let flood = timeout(user.python(FLOOD, &[&sock, "10000"]), 120)
        .output()
        .unwrap();
    assert!(flood.status.success(), "flood: {}", text(&flood).1);
    let t = Instant::now();
    let out = timeout(env.cmd("lxc-info"), 10)
        .args(["-n", &n, "-s", "-H"])
        .output()
        .unwrap();
    let took = t.elapsed();
    assert_eq!(
        text(&out).0.trim(),
        "RUNNING",
        "lxc-info after the flood: {}",
        text(&out).1
    );
    assert!(took < Duration::from_secs(3), "lxc-info took {took:?}");
    // The client that never reads is dropped after a while: once the monitor gave up
    // (5 s without progress), what it had sent drains and then comes EOF.
    std::thread::sleep(Duration::from_secs(8));
    assert!(
        dropped_within(&stuck, Duration::from_secs(3)),
        "the monitor kept a client that never reads"
    );
    drop(stuck);
    assert_eq!(state(&env, &n), "RUNNING");

    // 4. A squatter on another container's socket name: lxc-start fails loudly.
    let n2 = env.unique_name("squat");
    busybox(&env, &n2);
    let mut squatter = user
        .python(SQUAT, &[&socket_name(&env, &n2)])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(squatter.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    let out = timeout(env.cmd("lxc-start"), 30)
        .args(["-n", &n2])
        .output()
        .unwrap();
    let (_, err) = text(&out);
    let squatter_pid = squatter.id();
    let _ = squatter.stdin.take().unwrap().write_all(b"");
    let _ = squatter.kill();
    let _ = squatter.wait();
    assert_eq!(
        out.status.code(),
        Some(1),
        "lxc-start on a squatted name: {err}"
    );
    assert!(
        err.contains(&format!("pid {squatter_pid}")) && err.contains(&format!("uid {}", user.uid)),
        "the error names the squatter (pid {squatter_pid}, uid {}): {err}",
        user.uid
    );
    assert_eq!(state(&env, &n2), "STOPPED");

    env.ok("lxc-stop", &["-n", &n, "-k"]);
    drop(user);
    runtime_support::finish(env, before);
}

/// A root client that fills its socket with requests and never reads an answer.
fn never_reader(sock: &str) -> std::os::fd::OwnedFd {
    use nix::sys::socket::{
        connect, send, socket, AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr,
    };
    let fd = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )
    .unwrap();
    connect(
        fd.as_raw_fd(),
        &UnixAddr::new_abstract(sock.as_bytes()).unwrap(),
    )
    .unwrap();
    // get_state, and a console_log (the biggest answer), over and over.
    let mut sent = 0;
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline && sent < 5000 {
        let req: &[u8] = if sent % 2 == 0 { &[1] } else { &[11, 0] };
        match send(
            fd.as_raw_fd(),
            req,
            MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL,
        ) {
            Ok(_) => sent += 1,
            Err(nix::errno::Errno::EAGAIN) => std::thread::sleep(Duration::from_millis(10)),
            Err(_) => break,
        }
    }
    assert!(sent > 20, "only {sent} requests went out");
    fd
}

/// True when the monitor closes `fd` (we drain what it queued, then see EOF) in time.
fn dropped_within(fd: &std::os::fd::OwnedFd, limit: Duration) -> bool {
    let end = Instant::now() + limit;
    let mut buf = vec![0u8; 300 * 1024];
    while Instant::now() < end {
        match nix::sys::socket::recv(
            fd.as_raw_fd(),
            &mut buf,
            nix::sys::socket::MsgFlags::MSG_DONTWAIT,
        ) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(nix::errno::Errno::EAGAIN) => std::thread::sleep(Duration::from_millis(100)),
            Err(_) => return true,
        }
    }
    false
}

#[test]
fn non_root_init_dies_with_a_killed_monitor() {
    let _g = serial();
    let Some((env, before)) = runtime_support::env() else {
        return;
    };
    let n = env.unique_name("pdeath");
    busybox(&env, &n);
    append_config(
        &env,
        &n,
        &[
            "lxc.init.uid = 1000",
            "lxc.init.gid = 1000",
            "lxc.init.cmd = /bin/sleep 1000",
        ],
    );
    env.ok("lxc-start", &["-n", &n]);
    let init = pid(&env, &n);
    let status = std::fs::read_to_string(format!("/proc/{init}/status")).unwrap();
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("Uid:") && l.contains("1000")),
        "init runs as uid 1000: {status}"
    );
    let monitor: i32 = status
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(monitor),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let died = eventually(5, || !Path::new(&format!("/proc/{init}")).exists());
    if !died {
        // Do not leave it behind for the rest of the suite.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(init),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    // The next start sweeps what the killed monitor left (cgroups); then stop.
    assert!(eventually(10, || state(&env, &n) == "STOPPED"));
    env.ok("lxc-start", &["-n", &n]);
    env.ok("lxc-stop", &["-n", &n, "-k"]);
    assert!(
        died,
        "init (uid 1000) outlived its monitor killed with SIGKILL"
    );
    runtime_support::finish(env, before);
}
