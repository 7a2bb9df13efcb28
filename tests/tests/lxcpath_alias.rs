//! One container, whatever the spelling of its lxcpath (audit M6): aliases see the same
//! running container and cannot start it twice; the container lock is held by the
//! monitor for the whole run, so destroy and restore refuse a running container; a
//! container started by LXC itself (Debian's /usr/bin/lxc-start) is RUNNING to lxcrs,
//! which refuses to start or destroy it.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use lxcrs_tests::runtime_support::{self, busybox, eventually, serial, state, text};
use lxcrs_tests::Env;

/// One of our tools on an explicit lxcpath spelling.
fn tool_at(env: &Env, lxcpath: &str, tool: &str, args: &[&str]) -> Output {
    let mut c = Command::new(env.bin_dir().join(tool));
    c.arg("-P").arg(lxcpath).args(args);
    c.env("LXC_GLOBAL_CONF", env.global_conf());
    if let Some(share) = lxcrs_tests::own_share_dir() {
        c.env("LXCRS_SHARE_DIR", share);
    }
    c.stdin(Stdio::null()).output().expect("run tool")
}

/// Our monitors of container `name` (process title `[lxcrs monitor] <lxcpath> <name>`).
fn monitors_of(name: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            let args: Vec<&[u8]> = cmd.split(|b| *b == 0).collect();
            args.first() == Some(&&b"[lxcrs monitor]"[..]) && args.get(2) == Some(&name.as_bytes())
        })
        .count()
}

/// The lock file of a container (`/run/lxcrs/lock/<escaped lxcpath>%2F<name>.lock`).
fn lock_file(lxcpath: &Path, name: &str) -> PathBuf {
    let escaped = lxcpath
        .to_string_lossy()
        .replace('%', "%25")
        .replace('/', "%2F");
    PathBuf::from("/run/lxcrs/lock").join(format!("{escaped}%2F{name}.lock"))
}

/// True when somebody holds an exclusive flock on `path` (which must exist).
fn lock_held(path: &Path) -> bool {
    let Ok(f) = std::fs::File::open(path) else {
        return false;
    };
    // SAFETY: flock on an fd we own, no memory involved.
    let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    r != 0
}

#[test]
fn spellings_of_one_lxcpath_name_one_container() {
    let _g = serial();
    let Some((env, before)) = runtime_support::env() else {
        return;
    };
    let n = env.unique_name("alias");
    busybox(&env, &n);
    env.ok("lxc-start", &["-n", &n]);
    let lp = std::fs::canonicalize(env.lxcpath()).unwrap();
    let lps = lp.display().to_string();
    let link_dir = tempfile::tempdir().unwrap();
    let link = link_dir.path().join("lxc-alias");
    std::os::unix::fs::symlink(&lp, &link).unwrap();
    let parent = lp.parent().unwrap().display().to_string();
    let base = lp.file_name().unwrap().to_string_lossy().into_owned();
    let spellings = [
        format!("{lps}/"),
        format!("{parent}//{base}"),
        format!("{lps}/."),
        format!("{lps}/../{base}"),
        link.display().to_string(),
    ];
    for p in &spellings {
        let out = tool_at(&env, p, "lxc-info", &["-n", &n, "-s", "-H"]);
        assert_eq!(
            text(&out).0.trim(),
            "RUNNING",
            "lxc-info -P {p}: {}",
            text(&out).1
        );
        let out = tool_at(&env, p, "lxc-start", &["-n", &n]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "lxc-start -P {p}: {}",
            text(&out).1
        );
        assert_eq!(
            monitors_of(&n),
            1,
            "a second monitor after lxc-start -P {p}"
        );
        let out = tool_at(&env, p, "lxc-destroy", &["-n", &n]);
        assert_ne!(
            out.status.code(),
            Some(0),
            "lxc-destroy -P {p} of a running container"
        );
        assert!(
            lp.join(&n).join("config").exists(),
            "destroyed through -P {p}"
        );
    }

    // The monitor keeps the container lock while the container runs.
    let lock = lock_file(&lp, &n);
    assert!(
        lock_held(&lock),
        "the container lock {} is not held while {n} runs",
        lock.display()
    );

    // Restore of a running container is refused (under the lock) and changes nothing.
    env.ok("lxc-stop", &["-n", &n, "-k"]);
    env.ok("lxc-snapshot", &["-n", &n]);
    env.ok("lxc-start", &["-n", &n]);
    let out = env.lxc("lxc-snapshot", &["-n", &n, "-r", "snap0"]);
    assert_ne!(out.status.code(), Some(0), "restore of a running container");
    assert_eq!(state(&env, &n), "RUNNING");
    env.ok("lxc-stop", &["-n", &n, "-k"]);
    assert!(
        eventually(5, || !lock_held(&lock)),
        "lock still held after the stop"
    );
    env.ok("lxc-snapshot", &["-n", &n, "-d", "snap0"]);
    runtime_support::finish(env, before);
}

#[test]
fn a_container_started_by_lxc_is_running_to_lxcrs() {
    let _g = serial();
    let Some((env, before)) = runtime_support::env() else {
        return;
    };
    let lxc_start = Path::new("/usr/bin/lxc-start");
    if !lxc_start.exists() {
        lxcrs_tests::skip("Debian's lxc package (/usr/bin/lxc-start) is not installed");
        return;
    }
    let n = env.unique_name("bylxc");
    busybox(&env, &n);
    let lp = env.lxcpath().display().to_string();
    let lxc = |tool: &str, args: &[&str]| -> Output {
        Command::new(format!("/usr/bin/{tool}"))
            .arg("-P")
            .arg(&lp)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run LXC's tool")
    };
    let out = lxc("lxc-start", &["-n", &n]);
    assert!(out.status.success(), "LXC's lxc-start: {}", text(&out).1);
    let running_by_lxc = text(&lxc("lxc-info", &["-n", &n, "-s", "-H"])).0;
    assert_eq!(running_by_lxc.trim(), "RUNNING");

    let ours = state(&env, &n);
    let listed = env.ok("lxc-ls", &["-f"]);
    let start = env.lxc("lxc-start", &["-n", &n]);
    let destroy = env.lxc("lxc-destroy", &["-n", &n]);
    let rootfs_kept = env.lxcpath().join(&n).join("rootfs").exists();
    // Stop it with LXC before asserting, so a failure leaves nothing running.
    let _ = lxc("lxc-stop", &["-n", &n, "-k"]);
    assert!(eventually(10, || text(&lxc(
        "lxc-info",
        &["-n", &n, "-s", "-H"]
    ))
    .0
    .trim()
        == "STOPPED"));

    assert_eq!(ours, "RUNNING", "lxc-info of a container LXC runs");
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with(&n) && l.contains("RUNNING")),
        "lxc-ls -f: {listed}"
    );
    assert_ne!(
        start.status.code(),
        Some(0),
        "lxcrs started it a second time"
    );
    assert!(
        text(&start).1.contains("running under LXC"),
        "lxc-start says why: {}",
        text(&start).1
    );
    assert_ne!(
        destroy.status.code(),
        Some(0),
        "lxcrs destroyed a container LXC runs"
    );
    assert!(
        rootfs_kept,
        "the rootfs of a running container was destroyed"
    );
    runtime_support::finish(env, before);
}
