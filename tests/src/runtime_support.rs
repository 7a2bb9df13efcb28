//! Helpers for the runtime tests (`tests/runtime_*.rs`): busybox containers without a
//! network (the runtime tests are not about networking), config tweaks, state polling,
//! and a lock that runs a file's tests one at a time (the leak check compares host-wide
//! snapshots, so two containers of one binary must not overlap).

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::{Env, Snapshot};

static SERIAL: Mutex<()> = Mutex::new(());

/// Holds the per-binary test lock (poisoning from a failed test is ignored).
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The container's config file.
pub fn config_path(env: &Env, name: &str) -> PathBuf {
    env.lxcpath().join(name).join("config")
}

/// Creates a busybox container whose network is `empty` (loopback only).
pub fn busybox(env: &Env, name: &str) {
    env.create_busybox(name);
    let p = config_path(env, name);
    let text = std::fs::read_to_string(&p).expect("read config");
    let mut out: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("lxc.net."))
        .map(|l| format!("{l}\n"))
        .collect();
    out.push_str("lxc.net.0.type = empty\n");
    std::fs::write(&p, out).expect("write config");
}

/// Appends config lines to the container's config.
pub fn append_config(env: &Env, name: &str, lines: &[&str]) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(config_path(env, name))
        .expect("open config");
    for l in lines {
        writeln!(f, "{l}").expect("append config");
    }
}

/// `lxc-info -s -H`.
pub fn state(env: &Env, name: &str) -> String {
    env.ok("lxc-info", &["-n", name, "-s", "-H"])
        .trim()
        .to_string()
}

/// `lxc-info -p -H` as a number.
pub fn pid(env: &Env, name: &str) -> i32 {
    let out = env.ok("lxc-info", &["-n", name, "-p", "-H"]);
    out.trim()
        .parse()
        .unwrap_or_else(|_| panic!("lxc-info -p -H printed {out:?}"))
}

/// Polls until `cond` holds or `secs` pass; returns whether it held.
pub fn eventually(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cond()
}

/// Stdout and stderr of an output as text.
pub fn text(out: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A shell command line running `tool` with `-P <lxcpath>`, for `sh -c` / `script -c`.
pub fn shell_cmd(env: &Env, tool: &str, args: &str) -> String {
    format!(
        "{} -P {} {args}",
        env.bin_dir().join(tool).display(),
        env.lxcpath().display()
    )
}

/// Runs `line` under `sh -c` with the tools' environment; returns the output.
pub fn sh(_env: &Env, line: &str) -> std::process::Output {
    let mut c = std::process::Command::new("sh");
    c.arg("-c").arg(line);
    if let Some(share) = crate::own_share_dir() {
        c.env("LXCRS_SHARE_DIR", share);
    }
    c.stdin(std::process::Stdio::null());
    c.output().expect("run sh")
}

/// Runs `line` under `script`, i.e. with a pty on stdin, stdout and stderr.
pub fn in_pty(env: &Env, line: &str) -> std::process::Output {
    sh(env, &format!("script -qec {} /dev/null", shell_quote(line)))
}

/// Single-quotes `s` for sh.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// True when `script` (util-linux) is available for pty tests.
pub fn have_script() -> bool {
    std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A test's env plus the host snapshot [`finish`] compares against; `None` when the
/// test is skipped (not root).
pub fn env() -> Option<(Env, Snapshot)> {
    let env = Env::new()?;
    Some((env, Snapshot::take()))
}

/// Stops and destroys what the test left, then fails on leaks ([`Env::finish`]).
pub fn finish(env: Env, _before: Snapshot) {
    env.finish();
}
