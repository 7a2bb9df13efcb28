//! Fault injection: every failpoint of create, start, stop, clone (`lxc-copy`), snapshot,
//! restore and destroy in turn, the process that reached it SIGKILLed there (the tool, or
//! the monitor for the points of the monitor). The next commands must then see either no
//! container or a whole, working one (listed, its config read, it starts and stops), and
//! nothing may leak: mount, netdev, cgroup, loop device, process, lock.
//!
//! Also a full disk at each write of create and clone: an lxcpath on a small loop-mounted
//! ext4, filled so that the operation runs out of space at a different step each time;
//! it must fail saying "No space left" and leave nothing half-made.
//!
//! Needs the tools built with the `failpoints` feature (`make e2e` does:
//! `cargo build --bins --features lxcrs-tools/failpoints`); see `lxcrs_storage::failpoints`.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use lxcrs_tests::runtime_support::{busybox, serial, state, text};
use lxcrs_tests::Env;

/// One operation under test: how to set it up, the command, the containers it touches.
struct Op {
    label: &'static str,
    /// Makes the containers; a monitor it starts gets `fp` (the failpoint settings), so
    /// that the points of its stop can be reached.
    setup: fn(&Env, &Names, &[(String, String)]),
    tool: &'static str,
    args: fn(&Names) -> Vec<String>,
}

/// The container names of one run: `base` exists before the operation, `new` may be
/// made by it.
struct Names {
    base: String,
    new: String,
}

fn none(_: &Env, _: &Names, _: &[(String, String)]) {}

fn base(env: &Env, n: &Names, _: &[(String, String)]) {
    busybox(env, &n.base);
}

fn base_running(env: &Env, n: &Names, fp: &[(String, String)]) {
    busybox(env, &n.base);
    let out = env
        .cmd("lxc-start")
        .args(["-n", &n.base])
        .envs(fp.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    assert!(out.status.success(), "lxc-start: {:?}", text(&out));
}

fn base_with_snapshot(env: &Env, n: &Names, _: &[(String, String)]) {
    busybox(env, &n.base);
    env.ok("lxc-snapshot", &["-n", &n.base]);
    // Something for the restore to undo.
    fs::write(
        env.lxcpath().join(&n.base).join("rootfs/after-snapshot"),
        "x",
    )
    .unwrap();
}

fn base_with_overlay_clone(env: &Env, n: &Names, _: &[(String, String)]) {
    busybox(env, &n.base);
    env.ok(
        "lxc-copy",
        &["-n", &n.base, "-N", &n.new, "-s", "-B", "overlay"],
    );
}

fn v(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

const OPS: &[Op] = &[
    Op {
        label: "create",
        setup: none,
        tool: "lxc-create",
        args: |n| v(&["-n", &n.new, "-t", "busybox"]),
    },
    Op {
        label: "start",
        setup: base,
        tool: "lxc-start",
        args: |n| v(&["-n", &n.base]),
    },
    Op {
        label: "stop",
        setup: base_running,
        tool: "lxc-stop",
        args: |n| v(&["-n", &n.base, "-k"]),
    },
    Op {
        label: "copy",
        setup: base,
        tool: "lxc-copy",
        args: |n| v(&["-n", &n.base, "-N", &n.new]),
    },
    Op {
        label: "copy-overlay",
        setup: base,
        tool: "lxc-copy",
        args: |n| v(&["-n", &n.base, "-N", &n.new, "-s", "-B", "overlay"]),
    },
    Op {
        label: "snapshot",
        setup: base,
        tool: "lxc-snapshot",
        args: |n| v(&["-n", &n.base]),
    },
    Op {
        label: "restore",
        setup: base_with_snapshot,
        tool: "lxc-snapshot",
        args: |n| v(&["-n", &n.base, "-r", "snap0"]),
    },
    Op {
        label: "destroy",
        setup: base,
        tool: "lxc-destroy",
        args: |n| v(&["-n", &n.base]),
    },
    Op {
        label: "destroy-with-clone",
        setup: base_with_overlay_clone,
        tool: "lxc-destroy",
        args: |n| v(&["-n", &n.base, "-s"]),
    },
];

/// The environment that sets failpoint `point` to `pause` (or none) with the log in `log`.
fn fp_env(point: Option<&str>, log: &Path) -> Vec<(String, String)> {
    let mut v = vec![(
        "LXCRS_FAILPOINTS_LOG".to_string(),
        log.to_string_lossy().into_owned(),
    )];
    if let Some(p) = point {
        v.push(("LXCRS_FAILPOINTS".into(), format!("{p}=pause")));
    }
    v
}

/// Runs `op` with the failpoint environment `fp`.
fn spawn(env: &Env, op: &Op, n: &Names, fp: &[(String, String)]) -> Child {
    let args = (op.args)(n);
    let mut c = env.cmd(op.tool);
    c.args(&args)
        .envs(fp.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c.spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", op.tool))
}

/// `(point, pid)` lines of a failpoint log.
fn read_log(log: &Path) -> Vec<(String, i32)> {
    fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (name, pid) = l.split_once(' ')?;
            Some((name.to_string(), pid.trim().parse().ok()?))
        })
        .collect()
}

fn fresh_names(env: &Env) -> Names {
    Names {
        base: env.unique_name("faultsb"),
        new: env.unique_name("faultsn"),
    }
}

/// The points `op` passes, in order of first appearance.
fn enumerate(op: &Op) -> Vec<String> {
    let env = Env::new().expect("root");
    let n = fresh_names(&env);
    let log = env.lxcpath().join("..").join(format!(
        "lxcrs-failpoints.{}.log",
        env.lxcpath().file_name().unwrap().to_string_lossy()
    ));
    let fp = fp_env(None, &log);
    (op.setup)(&env, &n, &fp);
    // Only what the operation passes, not its set-up.
    let skip = read_log(&log).len();
    let out = spawn(&env, op, &n, &fp).wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{} without faults failed: {}",
        op.label,
        String::from_utf8_lossy(&out.stderr)
    );
    // The monitor may pass a last point after the tool returned (RUNNING, EOF).
    std::thread::sleep(Duration::from_millis(500));
    let mut points: Vec<String> = Vec::new();
    for (p, _) in read_log(&log).into_iter().skip(skip) {
        if !points.contains(&p) {
            points.push(p);
        }
    }
    let _ = fs::remove_file(&log);
    env.finish();
    points
}

/// SIGKILLs `pid` (ignoring a process already gone).
fn kill9(pid: i32) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL);
}

/// Runs `op` paused at `point`, SIGKILLs whoever reached it (and the tool), then checks
/// what the next commands see. Returns whether the point was reached.
fn kill_at(op: &Op, point: &str) -> bool {
    let env = Env::new().expect("root");
    let n = fresh_names(&env);
    let log = env.lxcpath().join("..").join(format!(
        "lxcrs-failpoints.{}.log",
        env.lxcpath().file_name().unwrap().to_string_lossy()
    ));
    let fp = fp_env(Some(point), &log);
    (op.setup)(&env, &n, &fp);
    let skip = read_log(&log).len();
    let mut child = spawn(&env, op, &n, &fp);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut exited: Option<Instant> = None;
    let reached = loop {
        if let Some((_, pid)) = read_log(&log)
            .into_iter()
            .skip(skip)
            .find(|(p, _)| p == point)
        {
            // Paused there (or about to be): kill it now, mid-operation.
            std::thread::sleep(Duration::from_millis(20));
            kill9(pid);
            break true;
        }
        // A point of the monitor may come after the tool is gone (lxc-start returns at
        // RUNNING): give the log a moment before calling the point missed.
        if child.try_wait().expect("try_wait").is_some()
            && exited.get_or_insert_with(Instant::now).elapsed() > Duration::from_secs(2)
        {
            break false;
        }
        assert!(
            Instant::now() < deadline,
            "{}: {point} not reached within 30 s",
            op.label
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    kill9(child.id() as i32);
    let _ = child.wait();
    let _ = fs::remove_file(&log);
    let what = format!("{} killed at {point}", op.label);
    check_after(&env, &n, &what);
    no_held_locks(&env, &what);
    env.finish();
    reached
}

/// The next commands see nothing or a whole container, for each name the run touched.
fn check_after(env: &Env, n: &Names, what: &str) {
    let ls = env.lxc("lxc-ls", &["-1"]);
    assert!(
        ls.status.success(),
        "{what}: lxc-ls failed: {:?}",
        text(&ls)
    );
    let listed: Vec<String> = text(&ls).0.lines().map(str::to_string).collect();
    for name in [&n.base, &n.new] {
        let dir = env.lxcpath().join(name);
        if !listed.contains(name) {
            assert!(
                !dir.exists(),
                "{what}: {name} is not listed, but {} is left: {:?}",
                dir.display(),
                fs::read_dir(&dir).map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
            );
            let info = env.lxc("lxc-info", &["-n", name]);
            assert_eq!(info.status.code(), Some(1), "{what}: lxc-info {name}");
            continue;
        }
        whole(env, name, what);
    }
    // The snapshots the base lists are whole too (and a killed one is not listed).
    if listed.contains(&n.base) {
        let l = env.lxc("lxc-snapshot", &["-n", &n.base, "-L"]);
        assert!(
            l.status.success(),
            "{what}: lxc-snapshot -L: {:?}",
            text(&l)
        );
        let snaps = env.lxcpath().join(&n.base).join("snaps");
        for line in text(&l).0.lines() {
            let Some(snap) = line
                .split_whitespace()
                .next()
                .filter(|s| s.starts_with("snap"))
            else {
                continue;
            };
            assert!(
                snaps.join(snap).join("config").is_file()
                    && !snaps.join(snap).join("partial").exists(),
                "{what}: snapshot {snap} is listed but not whole"
            );
        }
        if let Ok(rd) = fs::read_dir(&snaps) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                assert!(
                    text(&l).0.contains(&name),
                    "{what}: {} is left in snaps/ but not listed",
                    e.path().display()
                );
            }
        }
    }
}

/// A listed container is whole: it reads, and it starts and stops (or is running and
/// stops), under exactly one monitor.
fn whole(env: &Env, name: &str, what: &str) {
    let dir = env.lxcpath().join(name);
    assert!(
        !dir.join("partial").exists(),
        "{what}: {name} is listed with a creation marker"
    );
    // A stop the kill did not prevent may still be under way: wait for it to settle.
    let mut st = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let out = env.lxc("lxc-info", &["-n", name, "-s", "-H"]);
        assert!(
            out.status.success(),
            "{what}: lxc-info {name}: {:?}",
            text(&out)
        );
        st = text(&out).0.trim().to_string();
        if st == "STOPPED" || st == "RUNNING" {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if st == "STOPPED" {
        let out = env.lxc("lxc-start", &["-n", name]);
        assert!(
            out.status.success(),
            "{what}: {name} is listed but does not start: {:?}",
            text(&out)
        );
    } else {
        assert_eq!(st, "RUNNING", "{what}: {name}");
    }
    assert_eq!(state(env, name), "RUNNING", "{what}: {name}");
    assert_eq!(monitors(env, name), 1, "{what}: monitors of {name}");
    let attach = env.lxc("lxc-attach", &["-n", name, "--", "/bin/true"]);
    assert!(
        attach.status.success(),
        "{what}: attach {name}: {:?}",
        text(&attach)
    );
    env.ok("lxc-stop", &["-n", name, "-k"]);
    assert_eq!(state(env, name), "STOPPED", "{what}: {name}");
}

/// The monitor processes of container `name` of this lxcpath.
fn monitors(env: &Env, name: &str) -> usize {
    let title = format!("[lxcrs monitor] {} {name}", env.lxcpath().display());
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            fs::read(e.path().join("cmdline"))
                .map(|c| String::from_utf8_lossy(&c).replace('\0', " ").trim() == title)
                .unwrap_or(false)
        })
        .count()
}

/// After the env's own cleanup, no lock file of this lxcpath is held.
fn no_held_locks(env: &Env, what: &str) {
    for name in env.containers() {
        let _ = env.lxc("lxc-stop", &["-n", &name, "-k"]);
        let _ = env.lxc("lxc-destroy", &["-n", &name, "-f", "-s"]);
    }
    let escaped = env
        .lxcpath()
        .to_string_lossy()
        .replace('%', "%25")
        .replace('/', "%2F");
    let Ok(rd) = fs::read_dir("/run/lxcrs/lock") else {
        return;
    };
    for e in rd.flatten() {
        if !e.file_name().to_string_lossy().starts_with(&escaped) {
            continue;
        }
        if let Ok(f) = fs::File::open(e.path()) {
            let held =
                nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusiveNonblock).is_err();
            assert!(!held, "{what}: lock {} is still held", e.path().display());
        }
    }
}

#[test]
fn kill_at_every_failpoint() {
    let _g = serial();
    let Some(probe) = Env::new() else {
        return;
    };
    probe.finish();
    let t0 = Instant::now();
    let mut total = 0;
    // LXCRS_FAULTS_ONLY=destroy,copy: only those operations.
    let only = std::env::var("LXCRS_FAULTS_ONLY").unwrap_or_default();
    for op in OPS {
        if !only.is_empty() && !only.split(',').any(|o| o == op.label) {
            continue;
        }
        let points = enumerate(op);
        if points.is_empty() {
            lxcrs_tests::skip(
                "the tools have no failpoints: build them with `cargo build --bins --features lxcrs-tools/failpoints` (make e2e does)",
            );
            return;
        }
        for p in &points {
            let reached = kill_at(op, p);
            assert!(
                reached,
                "{}: {p} was passed once, not the second time",
                op.label
            );
            total += 1;
        }
        eprintln!(
            "{}: killed at {} points: {}",
            op.label,
            points.len(),
            points.join(" ")
        );
    }
    eprintln!("{total} kills in {:?}", t0.elapsed());
}

/// A small ext4 filesystem (loop-mounted) over the env's lxcpath, unmounted on drop.
struct SmallFs<'a> {
    env: &'a Env,
    _image: tempfile::NamedTempFile,
}

impl<'a> SmallFs<'a> {
    fn new(env: &'a Env, mib: u64) -> SmallFs<'a> {
        let image = tempfile::NamedTempFile::new().unwrap();
        image.as_file().set_len(mib << 20).unwrap();
        let mkfs = std::process::Command::new("mkfs.ext4")
            .args(["-q", "-F", "-m", "0"])
            .arg(image.path())
            .output()
            .expect("mkfs.ext4");
        assert!(mkfs.status.success(), "mkfs.ext4: {:?}", mkfs);
        let mount = std::process::Command::new("mount")
            .args(["-o", "loop"])
            .arg(image.path())
            .arg(env.lxcpath())
            .output()
            .expect("mount");
        assert!(mount.status.success(), "mount: {:?}", mount);
        SmallFs { env, _image: image }
    }

    fn free(&self) -> u64 {
        let s = nix::sys::statvfs::statvfs(self.env.lxcpath()).unwrap();
        s.blocks_available() as u64 * s.fragment_size() as u64
    }

    /// Fills the filesystem but `left` bytes (the filler file is `fill`).
    fn fill_leaving(&self, left: u64) {
        let fill = self.env.lxcpath().join("fill");
        let _ = fs::remove_file(&fill);
        let now = self.free();
        let n = now.saturating_sub(left);
        let f = fs::File::create(&fill).unwrap();
        // Written, not sparse: the blocks must really be taken.
        let chunk = vec![0xa5u8; 1 << 16];
        let mut w = std::io::BufWriter::new(f);
        let mut done = 0u64;
        use std::io::Write;
        while done < n {
            let k = chunk.len().min((n - done) as usize);
            if w.write_all(&chunk[..k]).is_err() {
                break;
            }
            done += k as u64;
        }
        let _ = w.flush();
        let _ = w.get_ref().sync_all();
    }
}

impl Drop for SmallFs<'_> {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.env.lxcpath())
            .status();
    }
}

/// Nothing of `name` is left in the lxcpath, and lxc-ls shows nothing of it.
fn nothing_left(env: &Env, name: &str, what: &str) {
    let ls = env.ok("lxc-ls", &["-1"]);
    assert!(!ls.lines().any(|l| l == name), "{what}: {name} is listed");
    let dir = env.lxcpath().join(name);
    assert!(
        !dir.exists(),
        "{what}: {} is left: {:?}",
        dir.display(),
        fs::read_dir(&dir).map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
    );
}

#[test]
fn disk_full_at_each_write_of_create_and_clone() {
    let _g = serial();
    let Some(env) = Env::new() else {
        return;
    };
    let small = SmallFs::new(&env, 16);
    let ino = fs::metadata(env.lxcpath()).unwrap().ino();
    assert_eq!(ino, 2, "the lxcpath is the root of the small filesystem");
    // What one create takes.
    let free0 = small.free();
    let probe = env.unique_name("faultsd");
    env.create_busybox(&probe);
    let need = free0 - small.free();
    eprintln!("one busybox create takes {need} bytes");
    let steps = 12u64;
    let mut failed = 0;
    for i in 0..steps {
        let left = need * i / steps;
        small.fill_leaving(left);
        let n = env.unique_name("faultsd");
        let out = env.lxc("lxc-create", &["-n", &n, "-t", "busybox"]);
        let what = format!("create with {left} bytes free");
        if out.status.success() {
            whole(&env, &n, &what);
            env.ok("lxc-destroy", &["-n", &n]);
        } else {
            failed += 1;
            let err = text(&out).1;
            assert!(
                err.to_lowercase().contains("no space left"),
                "{what}: {err}"
            );
            nothing_left(&env, &n, &what);
        }
        // A copy of the probe (dir: a full copy), and an overlay snapshot of it.
        for (label, extra) in [("copy", &[][..]), ("copy -s", &["-s", "-B", "overlay"][..])] {
            small.fill_leaving(left);
            let c = env.unique_name("faultsd");
            let mut args = vec!["-n", probe.as_str(), "-N", c.as_str()];
            args.extend_from_slice(extra);
            let out = env.lxc("lxc-copy", &args);
            let what = format!("{label} with {left} bytes free");
            if out.status.success() {
                whole(&env, &c, &what);
                env.ok("lxc-destroy", &["-n", &c]);
            } else {
                failed += 1;
                let err = text(&out).1;
                assert!(
                    err.to_lowercase().contains("no space left"),
                    "{what}: {err}"
                );
                nothing_left(&env, &c, &what);
                assert!(
                    !fs::read_to_string(env.lxcpath().join(&probe).join("lxc_snapshots"))
                        .unwrap_or_default()
                        .contains(&c),
                    "{what}: the origin still lists {c}"
                );
            }
        }
    }
    assert!(
        failed >= steps as usize,
        "only {failed} runs hit the full disk"
    );
    let _ = fs::remove_file(env.lxcpath().join("fill"));
    whole(&env, &probe, "the origin after the full-disk copies");
    env.ok("lxc-destroy", &["-n", &probe]);
    drop(small);
    env.finish();
}

/// A destroy held up after its checks (by a `sleep` failpoint) while a clone and a start of
/// the same container come in: they must wait for it or be refused, never act on a
/// container that is being removed (a clone left on a deleted origin, a container
/// running on a deleted rootfs).
#[test]
fn clone_and_start_during_destroy() {
    let _g = serial();
    let Some(env) = Env::new() else {
        return;
    };
    let n = fresh_names(&env);
    busybox(&env, &n.base);
    let log = env.lxcpath().join("..").join(format!(
        "lxcrs-failpoints.{}.log",
        env.lxcpath().file_name().unwrap().to_string_lossy()
    ));
    let mut fp = fp_env(None, &log);
    fp.push((
        "LXCRS_FAILPOINTS".into(),
        "destroy.dependents=sleep(1500)".into(),
    ));
    let destroy = Op {
        label: "destroy",
        setup: none,
        tool: "lxc-destroy",
        args: |n| v(&["-n", &n.base]),
    };
    let mut child = spawn(&env, &destroy, &n, &fp);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !read_log(&log)
        .iter()
        .any(|(p, _)| p == "destroy.dependents")
    {
        if child.try_wait().unwrap().is_some() {
            let _ = fs::remove_file(&log);
            lxcrs_tests::skip(
                "the tools have no failpoints (build them with --features lxcrs-tools/failpoints)",
            );
            return;
        }
        assert!(Instant::now() < deadline, "destroy.dependents not reached");
        std::thread::sleep(Duration::from_millis(5));
    }
    let copy = env.lxc(
        "lxc-copy",
        &["-n", &n.base, "-N", &n.new, "-s", "-B", "overlay"],
    );
    let start = env.lxc("lxc-start", &["-n", &n.base]);
    let out = child.wait_with_output().unwrap();
    let _ = fs::remove_file(&log);
    let what = "clone and start during a destroy";
    eprintln!(
        "destroy: {:?}; copy: {:?}; start: {:?}",
        out.status,
        text(&copy).1.trim(),
        text(&start).1.trim()
    );
    check_after(&env, &n, what);
    if !env.lxcpath().join(&n.base).exists() {
        assert!(
            !env.lxcpath().join(&n.new).exists(),
            "{what}: a clone of the destroyed origin is left"
        );
    }
    no_held_locks(&env, what);
    env.finish();
}

/// A monitor SIGKILLed while its container runs (init dies with it, by its parent-death
/// signal), then the container destroyed without another start: its monitor and payload
/// cgroups must not stay behind.
#[test]
fn killed_monitor_then_destroy() {
    let _g = serial();
    let Some(env) = Env::new() else {
        return;
    };
    let n = fresh_names(&env);
    busybox(&env, &n.base);
    env.ok("lxc-start", &["-n", &n.base]);
    let init = lxcrs_tests::runtime_support::pid(&env, &n.base);
    let monitor: i32 = fs::read_to_string(format!("/proc/{init}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    kill9(monitor);
    let gone = Instant::now() + Duration::from_secs(10);
    while Path::new(&format!("/proc/{init}")).exists() && Instant::now() < gone {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(state(&env, &n.base), "STOPPED");
    env.ok("lxc-destroy", &["-n", &n.base]);
    env.finish();
}
