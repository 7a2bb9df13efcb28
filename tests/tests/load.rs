//! Load: many start/stop cycles of one container, and many containers driven at once by
//! random commands. Nothing may deadlock (every command has a time bound), no container
//! may ever have two monitors, every config must still parse at the end, and nothing
//! may leak.
//!
//! CI size by default (200 cycles; 20 containers × 1000 operations in all); `make soak`
//! runs the full size through `LXCRS_LOAD_CYCLES`, `LXCRS_LOAD_CONTAINERS`,
//! `LXCRS_LOAD_OPS` (and `LXCRS_LOAD_SEED`, `LXCRS_LOAD_THREADS`).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lxcrs_tests::runtime_support::{busybox, serial, state, text};
use lxcrs_tests::Env;

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Longest any one command may take before the run counts as deadlocked.
const BOUND: Duration = Duration::from_secs(60);

/// Runs `c` to its end within [`BOUND`]; panics (after killing it) past that.
fn bounded(mut c: Command, what: &str) -> Output {
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap_or_else(|e| panic!("{what}: {e}"));
    let t0 = Instant::now();
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if t0.elapsed() > BOUND {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "{what} did not end within {BOUND:?} (deadlock?): {:?}",
                text(&out)
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn pty_count() -> usize {
    std::fs::read_dir("/dev/pts")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// The monitors of container `name` in `lxcpath` (by their process title) that run a
/// payload (have a child: init). A monitor that already announced STOPPED may still be
/// leaving while the next start's monitor runs: that one has no child any more.
fn monitors(lxcpath: &Path, name: &str) -> usize {
    let title = format!("[lxcrs monitor] {} {name}", lxcpath.display());
    std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    let pid = e.file_name().to_string_lossy().into_owned();
                    std::fs::read(e.path().join("cmdline"))
                        .map(|c| String::from_utf8_lossy(&c).replace('\0', " ").trim() == title)
                        .unwrap_or(false)
                        && std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                            .is_ok_and(|c| !c.trim().is_empty())
                })
                .count()
        })
        .unwrap_or(0)
}

/// [`monitors`], given a moment to settle (a start racing a stop).
fn settled_monitors(lxcpath: &Path, name: &str) -> usize {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let m = monitors(lxcpath, name);
        if m <= 1 || Instant::now() > deadline {
            return m;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn start_stop_cycles() {
    let _g = serial();
    let Some(env) = Env::new() else {
        return;
    };
    let n = env.unique_name("load");
    busybox(&env, &n);
    let ptys = pty_count();
    let cycles = knob("LXCRS_LOAD_CYCLES", 200);
    let t0 = Instant::now();
    for i in 0..cycles {
        let out = bounded(
            {
                let mut c = env.cmd("lxc-start");
                c.args(["-n", &n]);
                c
            },
            "lxc-start",
        );
        assert!(out.status.success(), "cycle {i}: start: {:?}", text(&out));
        assert_eq!(monitors(env.lxcpath(), &n), 1, "cycle {i}: monitors");
        // Now and then the clean path (halt signal, wait) instead of SIGKILL.
        let args: &[&str] = if i % 50 == 49 {
            &["-n", &n, "-t", "30"]
        } else {
            &["-n", &n, "-k"]
        };
        let out = bounded(
            {
                let mut c = env.cmd("lxc-stop");
                c.args(args);
                c
            },
            "lxc-stop",
        );
        assert!(out.status.success(), "cycle {i}: stop: {:?}", text(&out));
        assert_eq!(state(&env, &n), "STOPPED", "cycle {i}");
    }
    let took = t0.elapsed();
    eprintln!(
        "{cycles} start/stop cycles in {took:.1?} ({:.1} ms a cycle)",
        took.as_secs_f64() * 1000.0 / cycles.max(1) as f64
    );
    // Other suites on a shared host open ptys of their own meanwhile.
    let shared = std::env::var_os("LXCRS_TEST_SHARED_HOST").is_some();
    assert!(
        shared || pty_count() <= ptys,
        "ptys leaked: {} before, {} after",
        ptys,
        pty_count()
    );
    env.finish();
}

/// A small fixed-seed generator (xorshift64*): the same sequence of commands every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const OPS: &[&str] = &[
    "start", "start", "stop", "attach", "info", "freeze", "copy", "recreate",
];

/// One random command on container `name` (its overlay clone is `name` + "c").
fn one_op(env: &Env, op: &str, name: &str) -> Vec<Output> {
    let run = |tool: &str, args: &[&str]| {
        let mut c = env.cmd(tool);
        c.args(args);
        bounded(c, &format!("{tool} {args:?}"))
    };
    let clone = format!("{name}c");
    match op {
        "start" => {
            let out = run("lxc-start", &["-n", name]);
            let m = settled_monitors(env.lxcpath(), name);
            assert!(m <= 1, "{name} has {m} monitors after a start");
            vec![out]
        }
        "stop" => vec![run("lxc-stop", &["-n", name, "-k"])],
        "attach" => vec![run("lxc-attach", &["-n", name, "--", "/bin/true"])],
        "info" => vec![run("lxc-info", &["-n", name])],
        "freeze" => vec![
            run("lxc-freeze", &["-n", name]),
            run("lxc-unfreeze", &["-n", name]),
        ],
        "copy" => vec![
            run("lxc-destroy", &["-n", &clone]),
            run(
                "lxc-copy",
                &["-n", name, "-N", &clone, "-s", "-B", "overlay"],
            ),
        ],
        "recreate" => vec![
            run("lxc-stop", &["-n", name, "-k"]),
            run("lxc-destroy", &["-n", name, "-s"]),
            run("lxc-create", &["-n", name, "-t", "busybox"]),
        ],
        other => unreachable!("{other}"),
    }
}

#[test]
fn many_containers_random_commands() {
    let _g = serial();
    let Some(env) = Env::new() else {
        return;
    };
    let containers = knob("LXCRS_LOAD_CONTAINERS", 20) as usize;
    let ops = knob("LXCRS_LOAD_OPS", 1000) as usize;
    let seed = knob("LXCRS_LOAD_SEED", 0x5eed_1a7c);
    let threads = knob("LXCRS_LOAD_THREADS", 4).max(1) as usize;
    let names: Vec<String> = (0..containers).map(|_| env.unique_name("load")).collect();
    for n in &names {
        busybox(&env, n);
    }
    let done = AtomicUsize::new(0);
    let stats: Mutex<BTreeMap<&str, (u32, u32, Duration)>> = Mutex::new(BTreeMap::new());
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let (env, names, done, stats) = (&env, &names, &done, &stats);
            s.spawn(move || {
                let mut rng = Rng(seed ^ (t as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                while done.fetch_add(1, Ordering::SeqCst) < ops {
                    let op = OPS[rng.below(OPS.len() as u64) as usize];
                    let name = &names[rng.below(names.len() as u64) as usize];
                    let t1 = Instant::now();
                    let outs = one_op(env, op, name);
                    let took = t1.elapsed();
                    for out in &outs {
                        // A command may fail by the rules (stop of a stopped container,
                        // destroy of a running one…), never die of a signal.
                        assert!(
                            out.status.code().is_some(),
                            "{op} {name}: killed by a signal: {:?}",
                            text(out)
                        );
                        let err = text(out).1;
                        assert!(
                            !err.contains("panicked"),
                            "{op} {name}: a tool panicked: {err}"
                        );
                    }
                    // The op's own command is the last (before it: its preparation).
                    let ok = outs.last().is_some_and(|o| o.status.success());
                    let mut st = stats.lock().unwrap();
                    let e = st.entry(op).or_default();
                    if ok {
                        e.0 += 1;
                    } else {
                        e.1 += 1;
                    }
                    e.2 = e.2.max(took);
                }
            });
        }
    });
    let took = t0.elapsed();
    eprintln!(
        "{ops} random commands on {containers} containers ({threads} at once, seed {seed:#x}) in {took:.1?}"
    );
    for (op, (ok, failed, max)) in stats.lock().unwrap().iter() {
        eprintln!("  {op:9} {ok:5} ok {failed:5} refused   slowest {max:.2?}");
    }

    // Every container left is whole: its config parses, it starts under one monitor,
    // and stops.
    let listed = env.ok("lxc-ls", &["-1"]);
    for n in listed.lines() {
        env.ok("lxc-info", &["-n", n, "-c", "lxc.uts.name"]);
        let st = state(&env, n);
        if st != "RUNNING" {
            if st == "FROZEN" {
                env.ok("lxc-unfreeze", &["-n", n]);
            } else {
                env.ok("lxc-start", &["-n", n]);
            }
        }
        assert_eq!(monitors(env.lxcpath(), n), 1, "{n}: monitors");
        env.ok("lxc-attach", &["-n", n, "--", "/bin/true"]);
        env.ok("lxc-stop", &["-n", n, "-k"]);
    }
    // Nothing half-made is left beside them.
    for d in env.containers() {
        assert!(
            listed.lines().any(|l| l == d),
            "{d} is in the lxcpath but not a container"
        );
    }
    env.finish();
}
