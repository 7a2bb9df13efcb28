//! Full OS containers: a Debian container with systemd as PID 1 boots to `running`
//! with zero failed units, takes attach and console logins, reboots, and shuts down
//! cleanly — from our debian template and from Debian's lxc-templates `lxc-debian`.
//! Each container gets a veth on a bridge of the test's own with DHCP (lxcrs-net), so
//! the distribution's network units have something to configure.

use std::fs;
use std::io::{Read, Write};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use lxcrs_tests::testnet::TestNet;
use lxcrs_tests::{require_root, Env};

/// LXC's `lxc-debian` fetches two Release files from the mirror on every create, even
/// with a warm cache. When its cache is warm, this local stand-in answers them, so the
/// test does not depend on the archive being reachable; a cold cache needs the real one.
struct StubMirror {
    url: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StubMirror {
    fn start() -> StubMirror {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}/debian", listener.local_addr().unwrap());
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                let Ok((mut conn, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                let _ = conn.set_nonblocking(false);
                let mut buf = [0u8; 4096];
                let n = conn.read(&mut buf).unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]);
                let path = req.split_whitespace().nth(1).unwrap_or("");
                let body = if path.ends_with("/dists/bookworm/Release") {
                    Some("Suite: oldstable\nCodename: bookworm\n")
                } else if path.ends_with("/binary-amd64/Release") {
                    Some("Archive: testing\nComponent: main\nArchitecture: amd64\n")
                } else {
                    None
                };
                let reply = match body {
                    Some(b) => format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{b}", b.len()),
                    None => "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_string(),
                };
                let _ = conn.write_all(reply.as_bytes());
            }
        });
        StubMirror {
            url,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for StubMirror {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn init_pid(env: &Env, name: &str) -> Option<i32> {
    let out = env.lxc("lxc-info", &["-n", name, "-p", "-H"]);
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// Waits for `systemctl is-system-running` to settle; asserts `running` and shows
/// `systemctl --failed` when it is not.
fn assert_boots_clean(env: &Env, name: &str) {
    let t0 = Instant::now();
    let state = loop {
        let o = env.lxc(
            "lxc-attach",
            &["-n", name, "--", "systemctl", "is-system-running", "--wait"],
        );
        let s = String::from_utf8_lossy(&o.stdout).trim().to_string();
        if s == "running" || s == "degraded" || t0.elapsed() > Duration::from_secs(180) {
            break s;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    if state != "running" {
        let failed = env.lxc(
            "lxc-attach",
            &["-n", name, "--", "systemctl", "--failed", "--no-pager"],
        );
        let journal = env.lxc(
            "lxc-attach",
            &[
                "-n",
                name,
                "--",
                "journalctl",
                "-p",
                "err",
                "-b",
                "--no-pager",
            ],
        );
        panic!(
            "{name}: system state {state:?}, expected running\n{}\n{}",
            text(&failed),
            text(&journal)
        );
    }
}

/// The DHCP lease shows in `lxc-ls -f` (IPV4 column) and in `lxc-info -i`.
fn assert_dhcp_lease(env: &Env, name: &str, subnet: u8) {
    let prefix = format!("10.0.{subnet}.");
    let t0 = Instant::now();
    loop {
        let ls = env.ok("lxc-ls", &["-f", "-F", "NAME,IPV4"]);
        if ls
            .lines()
            .any(|l| l.starts_with(name) && l.contains(&prefix))
        {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "no DHCP lease in lxc-ls -f:\n{ls}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let info = env.ok("lxc-info", &["-n", name, "-i"]);
    assert!(
        info.lines()
            .any(|l| l.starts_with("IP:") && l.contains(&prefix)),
        "{info}"
    );
}

/// Reads the console through `lxc-console -t 0` on a pty until a login prompt shows.
fn assert_console_login_prompt(env: &Env, name: &str) {
    let pty = nix::pty::openpty(None, None).unwrap();
    let slave = || Stdio::from(pty.slave.try_clone().unwrap());
    let mut child = env
        .cmd("lxc-console")
        .args(["-n", name, "-t", "0"])
        .stdin(slave())
        .stdout(slave())
        .stderr(slave())
        .spawn()
        .unwrap();
    let mut master = fs::File::from(pty.master.try_clone().unwrap());
    let flags = nix::fcntl::fcntl(&master, nix::fcntl::FcntlArg::F_GETFL).unwrap();
    let flags = nix::fcntl::OFlag::from_bits_retain(flags) | nix::fcntl::OFlag::O_NONBLOCK;
    nix::fcntl::fcntl(&master, nix::fcntl::FcntlArg::F_SETFL(flags)).unwrap();
    let mut seen = String::new();
    let t0 = Instant::now();
    let mut poked = Instant::now() - Duration::from_secs(10);
    while !seen.contains("login:") {
        if poked.elapsed() > Duration::from_secs(2) {
            let _ = master.write_all(b"\r");
            poked = Instant::now();
        }
        let mut buf = [0u8; 4096];
        match master.read(&mut buf) {
            Ok(n) if n > 0 => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
        if t0.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no login prompt on the console within 60 s; saw:\n{seen}");
        }
    }
    assert!(
        seen.contains("Connected to tty 0") || seen.contains("Connected to tty"),
        "banner: {seen}"
    );
    // Ctrl-a q detaches.
    master.write_all(b"\x01q").unwrap();
    let t0 = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            assert!(st.success(), "lxc-console exit {st}");
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "lxc-console did not detach on Ctrl-a q"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_state(env: &Env, name: &str, state: &str, secs: &str) {
    env.ok("lxc-wait", &["-n", name, "-s", state, "-t", secs]);
}

#[test]
fn debian_systemd_boots_clean_and_cycles() {
    let env = require_root!();
    let net = TestNet::up("lxcrst213", 213);
    let t = tempfile::tempdir().unwrap();
    let name = env.unique_name("deb");
    env.ok(
        "lxc-create",
        &[
            "-n",
            &name,
            "-t",
            "debian",
            "-f",
            net.config(t.path()).to_str().unwrap(),
        ],
    );
    env.ok("lxc-start", &["-n", &name]);
    wait_state(&env, &name, "RUNNING", "30");
    assert_boots_clean(&env, &name);
    assert_dhcp_lease(&env, &name, 213);

    // lxc-attach: a sane environment, and systemctl works.
    let out = env.ok(
        "lxc-attach",
        &[
            "-n",
            &name,
            "--clear-env",
            "--",
            "/bin/sh",
            "-c",
            "echo PATH=$PATH; echo HOME=$HOME; id -u",
        ],
    );
    assert!(
        out.contains("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
        "{out}"
    );
    assert!(out.contains("HOME=/root"), "{out}");
    assert!(out.trim_end().ends_with('0'), "{out}");
    let status = env.lxc(
        "lxc-attach",
        &["-n", &name, "--", "systemctl", "status", "--no-pager"],
    );
    assert!(
        String::from_utf8_lossy(&status.stdout).contains("State: running"),
        "{}",
        text(&status)
    );

    assert_console_login_prompt(&env, &name);

    // reboot inside: init exits by SIGHUP, the monitor restarts it in place.
    let before = init_pid(&env, &name).expect("init pid");
    let _ = env.lxc("lxc-attach", &["-n", &name, "--", "systemctl", "reboot"]);
    let t0 = Instant::now();
    while init_pid(&env, &name).is_none_or(|p| p == before) {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "no new init after reboot"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    wait_state(&env, &name, "RUNNING", "60");
    assert_boots_clean(&env, &name);

    // lxc-stop -r too.
    env.ok("lxc-stop", &["-n", &name, "-r", "-t", "120"]);
    wait_state(&env, &name, "RUNNING", "60");
    assert_boots_clean(&env, &name);

    // Clean shutdown: SIGRTMIN+3, systemd exits by itself; --nokill proves no SIGKILL.
    let t0 = Instant::now();
    env.ok("lxc-stop", &["-n", &name, "-t", "120", "--nokill"]);
    eprintln!("clean stop took {:?}", t0.elapsed());
    assert_eq!(
        env.ok("lxc-info", &["-n", &name, "-s", "-H"]).trim(),
        "STOPPED"
    );

    // poweroff inside stops it.
    env.ok("lxc-start", &["-n", &name]);
    wait_state(&env, &name, "RUNNING", "30");
    assert_boots_clean(&env, &name);
    let _ = env.lxc("lxc-attach", &["-n", &name, "--", "systemctl", "poweroff"]);
    wait_state(&env, &name, "STOPPED", "120");
    drop(net);
    env.finish();
}

#[test]
fn lxc_templates_debian_script_creates_and_boots() {
    let env = require_root!();
    let script = Path::new("/usr/share/lxc/templates/lxc-debian");
    assert!(
        script.exists(),
        "Debian's lxc-templates package is needed (scripts/deps.sh installs it)"
    );
    let net = TestNet::up("lxcrst214", 214);
    let t = tempfile::tempdir().unwrap();
    let name = env.unique_name("ltd");
    let warm = Path::new("/var/cache/lxc/debian/rootfs-bookworm-amd64").is_dir();
    let stub = warm.then(StubMirror::start);
    let mut create = env.cmd("lxc-create");
    if let Some(m) = &stub {
        create.env("MIRROR", &m.url);
    }
    let out = create
        .args([
            "-n",
            &name,
            "-t",
            script.to_str().unwrap(),
            "-f",
            net.config(t.path()).to_str().unwrap(),
            "--",
            "-r",
            "bookworm",
        ])
        .output()
        .unwrap();
    drop(stub);
    assert!(out.status.success(), "{}", text(&out));
    env.ok("lxc-start", &["-n", &name]);
    wait_state(&env, &name, "RUNNING", "30");
    assert_boots_clean(&env, &name);
    assert_dhcp_lease(&env, &name, 214);
    env.ok("lxc-stop", &["-n", &name, "-t", "120", "--nokill"]);
    drop(net);
    env.finish();
}
