//! Storage security against the container's own rootfs (audit findings H3 and M1),
//! through the real tools:
//! - `lxc-snapshot` and `lxc-copy -a` of a running dir container copy only what is in
//!   the container, while a process inside it swaps directories for symlinks to host
//!   directories (a marker directory, and `/etc`) in a tight busybox loop, and while a
//!   `renameat2(RENAME_EXCHANGE)` loop swaps one. On the code before the fix the copies
//!   fail or, most runs, hold the host marker file;
//! - an image shipping `data -> /` with `lxc.mount.entry = data … bind,relative` does not
//!   start: the error names the entry, nothing of the host is bound.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use lxcrs_tests::runtime_support::{self, append_config, busybox, eventually, serial, state, text};
use lxcrs_tests::Env;

/// A busybox loop inside the container: `/NAME` is an (empty) directory, then a symlink
/// to `target`, then a directory again, until `/stop` exists. Each state is held for a
/// few milliseconds of shell arithmetic so the name is rarely absent.
fn swap_script(name: &str, target: &str) -> String {
    format!(
        "cd / || exit 1; rm -rf /{name}
busy() {{ i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done; }}
while [ ! -e /stop ]; do
  mkdir /{name}; busy; rmdir /{name}
  ln -s {target} /{name}; busy; rm /{name}
done"
    )
}

/// Starts the swap loop through `lxc-attach` in the background and waits until the
/// host sees the name change kind.
fn start_swapper(env: &Env, n: &str, rootfs: &Path, name: &str, target: &str) -> Child {
    let _ = fs::remove_file(rootfs.join("stop"));
    let child = env
        .cmd("lxc-attach")
        .args(["-n", n, "--", "sh", "-c", &swap_script(name, target)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn lxc-attach");
    let p = rootfs.join(name);
    let (mut saw_dir, mut saw_link) = (false, false);
    let ok = eventually(20, || {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => saw_dir = true,
            Ok(m) if m.file_type().is_symlink() => saw_link = true,
            _ => {}
        }
        saw_dir && saw_link
    });
    assert!(
        ok,
        "the swap loop in {n} never ran (dir {saw_dir}, link {saw_link})"
    );
    child
}

/// Stops the swap loop (`/stop` in the rootfs) and reaps its `lxc-attach`.
fn stop_swapper(rootfs: &Path, mut child: Child) {
    fs::write(rootfs.join("stop"), "").expect("write stop");
    let end = Instant::now() + Duration::from_secs(20);
    while Instant::now() < end {
        if child.try_wait().expect("try_wait").is_some() {
            let _ = fs::remove_file(rootfs.join("stop"));
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the swap loop did not stop within 20 s");
}

/// Every regular file below `dir` (symlinks not followed), with its path.
fn regular_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in fs::read_dir(&d).unwrap().flatten() {
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                todo.push(e.path());
            } else if ft.is_file() {
                out.push(e.path());
            }
        }
    }
    out
}

/// What a copy may hold at the swapped name: nothing, the container's symlink, or the
/// container's (empty) directory. Anything else came from the host.
fn check_swapped_entry(copy: &Path, name: &str, target: &str, what: &str) -> Result<(), String> {
    let p = copy.join(name);
    match fs::symlink_metadata(&p) {
        Err(_) => Ok(()),
        Ok(m) if m.file_type().is_symlink() => {
            let t = fs::read_link(&p).unwrap();
            if t == Path::new(target) {
                Ok(())
            } else {
                Err(format!(
                    "{what}: {} is a symlink to {}",
                    p.display(),
                    t.display()
                ))
            }
        }
        Ok(m) if m.is_dir() => {
            let names: Vec<String> = fs::read_dir(&p)
                .unwrap()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            if names.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "{what}: host files copied into {}: {names:?}",
                    p.display()
                ))
            }
        }
        Ok(m) => Err(format!(
            "{what}: {} is neither a directory nor a symlink (mode {:o})",
            p.display(),
            m.mode()
        )),
    }
}

/// Fails when any regular file of `copy` holds `needle`, or equals one of `host_files`.
fn check_no_host_content(
    copy: &Path,
    needle: &[u8],
    host_files: &[Vec<u8>],
    what: &str,
) -> Result<(), String> {
    for f in regular_files(copy) {
        let Ok(data) = fs::read(&f) else { continue };
        if data.windows(needle.len()).any(|w| w == needle) {
            return Err(format!("{what}: {} holds the host marker", f.display()));
        }
        if host_files.iter().any(|h| !h.is_empty() && *h == data) {
            return Err(format!(
                "{what}: {} is a copy of a host /etc file",
                f.display()
            ));
        }
    }
    Ok(())
}

/// What the rounds of one race found.
#[derive(Default)]
struct Findings {
    rounds: u32,
    /// Host content in a snapshot or copy.
    leaks: Vec<String>,
    /// Snapshots or copies that failed.
    failures: Vec<String>,
}

impl Findings {
    fn check(
        &mut self,
        copy: &Path,
        name: &str,
        target: &str,
        needle: &[u8],
        host: &[Vec<u8>],
        what: &str,
    ) {
        if !copy.join("bin/busybox").is_file() {
            self.failures
                .push(format!("{what}: the copy has no bin/busybox"));
        }
        for r in [
            check_swapped_entry(copy, name, target, what),
            check_no_host_content(copy, needle, host, what),
        ] {
            self.leaks.extend(r.err());
        }
    }

    fn merge(&mut self, o: Findings) {
        self.rounds += o.rounds;
        self.leaks.extend(o.leaks);
        self.failures.extend(o.failures);
    }
}

/// Races `lxc-snapshot` and `lxc-copy -a` of the running `n` for `time` against
/// whatever swaps `name` (a directory, then a symlink to `target`) in its rootfs.
fn race(
    env: &Env,
    n: &str,
    (name, target): (&str, &str),
    needle: &[u8],
    host: &[Vec<u8>],
    time: Duration,
) -> Findings {
    let dir = env.lxcpath().join(n);
    let mut f = Findings::default();
    let end = Instant::now() + time;
    while Instant::now() < end {
        f.rounds += 1;
        let round = f.rounds;
        // lxc-snapshot of the running container (allowed for dir: a full copy).
        let o = env.lxc("lxc-snapshot", &["-n", n]);
        if o.status.success() {
            let snaps: Vec<PathBuf> = fs::read_dir(dir.join("snaps"))
                .unwrap()
                .flatten()
                .map(|e| e.path())
                .collect();
            assert_eq!(snaps.len(), 1, "{snaps:?}");
            let what = format!("lxc-snapshot round {round} ({name} -> {target})");
            f.check(&snaps[0].join("rootfs"), name, target, needle, host, &what);
            let snap = snaps[0].file_name().unwrap().to_string_lossy().into_owned();
            env.ok("lxc-snapshot", &["-n", n, "-d", &snap]);
        } else {
            f.failures.push(format!(
                "lxc-snapshot round {round} failed: {}",
                text(&o).1.trim()
            ));
        }
        // lxc-copy -a: a full clone of the running container.
        let clone = format!("{n}-cp");
        let o = env.lxc("lxc-copy", &["-n", n, "-N", &clone, "-a"]);
        if o.status.success() {
            let what = format!("lxc-copy round {round} ({name} -> {target})");
            let copy = env.lxcpath().join(&clone).join("rootfs");
            f.check(&copy, name, target, needle, host, &what);
            env.ok("lxc-destroy", &["-n", &clone]);
        } else {
            f.failures.push(format!(
                "lxc-copy round {round} failed: {}",
                text(&o).1.trim()
            ));
            let _ = env.lxc("lxc-destroy", &["-n", &clone]);
        }
    }
    f
}

/// Races with the busybox swap loop running inside the container.
fn race_in_container(
    env: &Env,
    n: &str,
    swap: (&str, &str),
    needle: &[u8],
    host: &[Vec<u8>],
    time: Duration,
) -> Findings {
    let rootfs = env.lxcpath().join(n).join("rootfs");
    let child = start_swapper(env, n, &rootfs, swap.0, swap.1);
    let f = race(env, n, swap, needle, host, time);
    stop_swapper(&rootfs, child);
    f
}

/// Races with a tight `renameat2(RENAME_EXCHANGE)` loop swapping `name` (an empty
/// directory) with a symlink to `target`: what a compiled program in the container
/// does, without the instants where the name is missing that the shell loop has. It
/// runs in a host thread: the same rename on the same inodes as from inside. The
/// symlink's parking place is next to the rootfs (not copied, so the copy meets the
/// swap at one name only), and the name is a symlink about two thirds of the time:
/// seen as a directory when listed, then followed when entered and copied.
fn race_exchange(
    env: &Env,
    n: &str,
    swap: (&str, &str),
    needle: &[u8],
    host: &[Vec<u8>],
    time: Duration,
) -> Findings {
    use std::ffi::CString;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let (name, target) = swap;
    let cdir = env.lxcpath().join(n);
    let (a, b) = (
        cdir.join("rootfs").join(name),
        cdir.join(format!("{name}.park")),
    );
    fs::create_dir(&a).unwrap();
    std::os::unix::fs::symlink(target, &b).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let stop = stop.clone();
        let ca = CString::new(a.clone().into_os_string().into_encoded_bytes()).unwrap();
        let cb = CString::new(b.clone().into_os_string().into_encoded_bytes()).unwrap();
        std::thread::spawn(move || {
            let mut swaps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // SAFETY: two valid NUL-terminated paths; renameat2 reads them only.
                let r = unsafe {
                    libc::renameat2(
                        libc::AT_FDCWD,
                        ca.as_ptr(),
                        libc::AT_FDCWD,
                        cb.as_ptr(),
                        libc::RENAME_EXCHANGE,
                    )
                };
                assert_eq!(r, 0, "renameat2: {}", std::io::Error::last_os_error());
                swaps += 1;
                // Odd counts: the name is the symlink; hold that state twice as long.
                let hold = Duration::from_micros(if swaps % 2 == 1 { 8 } else { 4 });
                let t = Instant::now();
                while t.elapsed() < hold {
                    std::hint::spin_loop();
                }
            }
            swaps
        })
    };
    let f = race(env, n, swap, needle, host, time);
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().expect("the swapper thread panicked");
    assert!(swaps > 1000, "only {swaps} swaps");
    for p in [&a, &b] {
        let _ = fs::remove_file(p).or_else(|_| fs::remove_dir(p));
    }
    f
}

/// Host /etc files a leak would copy (the ones root can read), by content.
fn host_etc_contents() -> Vec<Vec<u8>> {
    ["shadow", "passwd", "group", "hostname", "machine-id"]
        .iter()
        .filter_map(|f| fs::read(Path::new("/etc").join(f)).ok())
        .filter(|d| d.len() > 8)
        .collect()
}

#[test]
fn snapshot_and_copy_of_a_running_container_never_follow_swapped_symlinks() {
    let _g = serial();
    let Some((env, before)) = runtime_support::env() else {
        return;
    };
    let n = env.unique_name("sst-race");
    busybox(&env, &n);
    let rootfs = env.lxcpath().join(&n).join("rootfs");
    // The container's own /etc files are not the host's: leave them out of the
    // host-content comparison.
    let own: Vec<Vec<u8>> = regular_files(&rootfs.join("etc"))
        .iter()
        .filter_map(|f| fs::read(f).ok())
        .collect();
    let host: Vec<Vec<u8>> = host_etc_contents()
        .into_iter()
        .filter(|h| !own.contains(h))
        .collect();

    // A host directory holding a secret marker: what a container-planted symlink points at.
    let secret = tempfile::Builder::new()
        .prefix("sst-secret.")
        .tempdir()
        .unwrap();
    let marker = format!(
        "sst-host-secret-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    fs::write(secret.path().join("secret"), &marker).unwrap();

    env.ok("lxc-start", &["-n", &n, "-d"]);
    assert!(eventually(10, || state(&env, &n) == "RUNNING"));

    let target = secret.path().to_string_lossy().into_owned();
    let needle = marker.as_bytes();
    let secs = Duration::from_secs;
    let mut f = race_in_container(&env, &n, ("s", &target), needle, &host, secs(5));
    f.merge(race_in_container(
        &env,
        &n,
        ("e", "/etc"),
        needle,
        &host,
        secs(5),
    ));
    f.merge(race_exchange(
        &env,
        &n,
        ("x", &target),
        needle,
        &host,
        secs(14),
    ));
    eprintln!(
        "{} rounds: {} leaks, {} failed copies",
        f.rounds,
        f.leaks.len(),
        f.failures.len()
    );

    env.ok("lxc-stop", &["-n", &n, "-k"]);
    assert!(
        f.leaks.is_empty(),
        "host files leaked into snapshots or copies of a running container:\n{}\n(and {} copies failed)",
        f.leaks.join("\n"),
        f.failures.len()
    );
    assert!(
        f.failures.is_empty(),
        "snapshots or copies of a running container failed:\n{}",
        f.failures.join("\n")
    );
    assert!(f.rounds >= 8, "too few rounds ({})", f.rounds);
    runtime_support::finish(env, before);
}

/// `lxc-start -d` of `n`: must fail with exit 1, name `entry`, leave the container
/// stopped.
fn start_refused(env: &Env, n: &str, entry: &str) {
    let out = env.lxc("lxc-start", &["-n", n, "-d"]);
    let (o, err) = text(&out);
    if out.status.success() {
        // The old behaviour: show what the container got before failing.
        let seen = env.lxc(
            "lxc-attach",
            &["-n", n, "--", "sh", "-c", "ls /mnt/data | head -5"],
        );
        let _ = env.lxc("lxc-stop", &["-n", n, "-k"]);
        panic!(
            "lxc-start succeeded with the entry {entry:?}; the container's /mnt/data holds: {}",
            text(&seen).0
        );
    }
    assert_eq!(out.status.code(), Some(1), "stdout: {o}\nstderr: {err}");
    assert!(
        err.contains(entry),
        "the error names the entry {entry:?}: {err}"
    );
    assert!(err.contains("symlink"), "the error says why: {err}");
    assert_eq!(state(env, n), "STOPPED");
}

#[test]
fn relative_bind_source_through_a_symlink_to_the_host_is_refused() {
    let _g = serial();
    let Some((env, before)) = runtime_support::env() else {
        return;
    };
    let n = env.unique_name("sst-rel");
    busybox(&env, &n);
    let rootfs = env.lxcpath().join(&n).join("rootfs");
    // The image ships data -> / (and a real directory for the control case).
    std::os::unix::fs::symlink("/", rootfs.join("data")).unwrap();
    fs::create_dir_all(rootfs.join("real")).unwrap();
    fs::write(rootfs.join("real/hello"), "from the image\n").unwrap();
    let cfg = runtime_support::config_path(&env, &n);
    let base = fs::read_to_string(&cfg).unwrap();

    for (line, entry) in [
        (
            "lxc.mount.entry = data mnt/data none bind,relative,create=dir 0 0",
            "data mnt/data",
        ),
        (
            "lxc.mount.entry = /data/etc mnt/data none bind,relative,create=dir 0 0",
            "/data/etc mnt/data",
        ),
        (
            "lxc.mount.entry = data/etc mnt/data none bind,relative,optional,create=dir 0 0",
            "data/etc mnt/data",
        ),
    ] {
        fs::write(&cfg, &base).unwrap();
        append_config(&env, &n, &[line]);
        start_refused(&env, &n, entry);
        // Nothing of the host landed in the image's mount point.
        let md = rootfs.join("mnt/data");
        if md.is_dir() {
            assert_eq!(
                fs::read_dir(&md).unwrap().count(),
                0,
                "{} is not empty",
                md.display()
            );
        }
        let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
        let lx = env.lxcpath().to_string_lossy().into_owned();
        assert!(
            !mounts.contains(&lx),
            "a mount under {lx} is left:\n{mounts}"
        );
    }

    // Control: a relative source that stays inside the rootfs is bound.
    fs::write(&cfg, &base).unwrap();
    append_config(
        &env,
        &n,
        &["lxc.mount.entry = real mnt/real none bind,relative,create=dir 0 0"],
    );
    env.ok("lxc-start", &["-n", &n, "-d"]);
    let out = env.ok("lxc-attach", &["-n", &n, "--", "cat", "/mnt/real/hello"]);
    assert_eq!(out, "from the image\n");
    env.ok("lxc-stop", &["-n", &n, "-k"]);
    runtime_support::finish(env, before);
}
