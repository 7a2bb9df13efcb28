//! 200 start/stop cycles of one container: nothing may accumulate (mounts, cgroups,
//! ptys, processes). Runs in the normal suite; takes well under a minute.

use lxcrs_tests::runtime_support;
use lxcrs_tests::runtime_support::{busybox, serial, state};

fn pty_count() -> usize {
    std::fs::read_dir("/dev/pts")
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn soak_200_start_stop_cycles() {
    let _g = serial();
    let Some((env, before)) = runtime_support::env() else {
        return;
    };
    let n = env.unique_name("soak");
    busybox(&env, &n);
    let ptys = pty_count();
    let cycles: usize = std::env::var("LXCRS_SOAK_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let t0 = std::time::Instant::now();
    for i in 0..cycles {
        env.ok("lxc-start", &["-n", &n]);
        if i % 50 == 49 {
            // Now and then the clean path (halt signal, wait) instead of SIGKILL.
            env.ok("lxc-stop", &["-n", &n, "-t", "30"]);
        } else {
            env.ok("lxc-stop", &["-n", &n, "-k"]);
        }
        assert_eq!(state(&env, &n), "STOPPED", "cycle {i}");
    }
    eprintln!("{cycles} start/stop cycles in {:?}", t0.elapsed());
    assert!(
        pty_count() <= ptys,
        "ptys leaked: {} before, {} after",
        ptys,
        pty_count()
    );
    runtime_support::finish(env, before);
}
