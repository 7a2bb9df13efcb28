//! Start, query, freeze and stop a real busybox container with the runtime tools.

use lxcrs_tests::runtime_support;
use lxcrs_tests::runtime_support::{busybox, eventually, pid, serial, state, text};

#[test]
fn start_info_freeze_stop() {
    let _g = serial();
    let Some((env, before)) = runtime_support::env() else {
        return;
    };
    let n = env.unique_name("life");
    busybox(&env, &n);

    // Not running yet.
    assert_eq!(state(&env, &n), "STOPPED");
    let out = env.lxc("lxc-stop", &["-n", &n]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "stop of a stopped container exits 2"
    );
    assert!(
        text(&out).1.contains(&format!("{n} is not running")),
        "{}",
        text(&out).1
    );

    env.ok("lxc-start", &["-n", &n]);
    assert_eq!(state(&env, &n), "RUNNING");
    let again = env.lxc("lxc-start", &["-n", &n]);
    assert_eq!(again.status.code(), Some(0), "already running exits 0");
    assert!(
        text(&again).1.contains("Container is already running"),
        "{}",
        text(&again).1
    );

    // The template's inittab names programs that exist: a getty on tty1 comes up and
    // stays (a missing one is retried every second, and delays every halt by that).
    let getty = |env: &lxcrs_tests::Env| {
        env.ok("lxc-attach", &["-n", &n, "--", "ps"])
            .lines()
            .find(|l| l.contains("getty -L tty1"))
            .and_then(|l| l.split_whitespace().next().map(str::to_string))
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let first = loop {
        if let Some(p) = getty(&env) {
            break p;
        }
        assert!(std::time::Instant::now() < deadline, "no getty on tty1");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    std::thread::sleep(std::time::Duration::from_millis(1200));
    assert_eq!(getty(&env), Some(first), "the tty1 getty was respawned");

    // lxc-info: every selector, humanized and raw.
    let p = pid(&env, &n);
    assert!(p > 1);
    let all = env.ok("lxc-info", &["-n", &n]);
    assert!(
        all.starts_with(&format!(
            "Name:           {n}\nState:          RUNNING\nPID:            {p}\n"
        )),
        "{all}"
    );
    assert!(
        all.contains("CPU use:        ") && all.contains(" seconds\n"),
        "{all}"
    );
    assert!(all.contains("Memory use:     "), "{all}");
    assert_eq!(
        env.ok("lxc-info", &["-n", &n, "-s"]),
        "State:          RUNNING\n"
    );
    assert_eq!(
        env.ok("lxc-info", &["-n", &n, "-p"]),
        format!("PID:            {p}\n")
    );
    assert_eq!(env.ok("lxc-info", &["-n", &n, "-s", "-H"]), "RUNNING\n");
    assert_eq!(
        env.ok("lxc-info", &["-n", &n, "-p", "-H"]),
        format!("{p}\n")
    );
    assert_eq!(
        env.ok("lxc-info", &["-n", &n, "-s", "-p", "-H"]),
        format!("State:          RUNNING\nPID:            {p}\n")
    );
    assert_eq!(
        env.ok("lxc-info", &["-n", &n, "-i"]),
        "",
        "no addresses with an empty network"
    );
    let stats = env.ok("lxc-info", &["-n", &n, "-S", "-H"]);
    let mem_line = stats
        .lines()
        .find(|l| l.starts_with("Memory use:"))
        .expect("memory line");
    assert!(
        mem_line
            .split_whitespace()
            .last()
            .unwrap()
            .parse::<u64>()
            .is_ok(),
        "raw number: {stats}"
    );
    assert_eq!(
        env.ok("lxc-info", &["-n", &n, "-c", "lxc.uts.name"]),
        format!("lxc.uts.name = {n}\n")
    );
    assert_eq!(
        env.ok("lxc-info", &["-n", &n, "-c", "lxc.uts.name", "-H"]),
        format!("{n}\n")
    );
    let two = env.ok(
        "lxc-info",
        &["-n", &n, "-c", "lxc.uts.name", "-c", "lxc.tty.max"],
    );
    assert_eq!(two, format!("lxc.uts.name = {n}\nlxc.tty.max = 4\n"));
    let bad = env.lxc("lxc-info", &["-n", &n, "-c", "lxc.bogus.key"]);
    assert!(
        text(&bad).1.contains("lxc.bogus.key invalid"),
        "{:?}",
        text(&bad)
    );

    // The monitor: its own process title and cgroup, never the payload's.
    let status = std::fs::read_to_string(format!("/proc/{p}/status")).unwrap();
    let ppid: i32 = status
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let cmdline = std::fs::read(format!("/proc/{ppid}/cmdline")).unwrap();
    let title = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    assert!(
        title.starts_with(&format!("[lxcrs monitor] {} {n}", env.lxcpath().display())),
        "{title}"
    );
    let mon_cg = std::fs::read_to_string(format!("/proc/{ppid}/cgroup")).unwrap();
    let init_cg = std::fs::read_to_string(format!("/proc/{p}/cgroup")).unwrap();
    // In every hierarchy, v1 and v2 alike (the monitor and init move themselves into
    // the v1 ones and are cloned into the v2 one).
    for line in mon_cg.lines() {
        assert!(line.ends_with(&format!("/lxcrs.monitor.{n}")), "{mon_cg}");
    }
    for line in init_cg.lines() {
        assert!(line.ends_with(&format!("/lxcrs.payload.{n}")), "{init_cg}");
    }
    assert_eq!(mon_cg.lines().count(), init_cg.lines().count());

    // Freeze / unfreeze.
    env.ok("lxc-freeze", &["-n", &n]);
    assert_eq!(state(&env, &n), "FROZEN");
    env.ok("lxc-unfreeze", &["-n", &n]);
    assert_eq!(state(&env, &n), "RUNNING");

    // lxc-cgroup get / set.
    let shares = env.ok("lxc-cgroup", &["-n", &n, "cpu.shares"]);
    assert_eq!(shares.trim(), "1024");
    env.ok("lxc-cgroup", &["-n", &n, "cpu.shares", "512"]);
    assert_eq!(
        env.ok("lxc-cgroup", &["-n", &n, "cpu.shares"]).trim(),
        "512"
    );

    // Clean stop (busybox halts on lxc.signal.halt = SIGUSR1).
    env.ok("lxc-stop", &["-n", &n, "-t", "30"]);
    assert_eq!(state(&env, &n), "STOPPED");
    let gone = env.lxc("lxc-cgroup", &["-n", &n, "cpu.shares"]);
    assert_eq!(gone.status.code(), Some(1));
    assert!(
        text(&gone).1.contains("is not running"),
        "{}",
        text(&gone).1
    );

    // Hard stop, a frozen container included.
    env.ok("lxc-start", &["-n", &n]);
    env.ok("lxc-freeze", &["-n", &n]);
    let bad = env.lxc("lxc-stop", &["-n", &n, "-k", "-t", "5"]);
    assert_eq!(bad.status.code(), Some(1), "-k doesn't take a timeout");
    env.ok("lxc-stop", &["-n", &n, "-k"]);
    assert_eq!(state(&env, &n), "STOPPED");

    // Frozen behind the monitor's back (another tool wrote the freezer): the monitor
    // says RUNNING, yet -k still stops it instead of waiting forever on frozen init.
    env.ok("lxc-start", &["-n", &n]);
    freeze_from_outside(pid(&env, &n));
    env.ok("lxc-stop", &["-n", &n, "-k"]);
    assert_eq!(state(&env, &n), "STOPPED");
    runtime_support::finish(env, before);
}

/// Freezes the cgroup of `pid` directly: the v1 freezer where there is one, else cgroup2.
fn freeze_from_outside(pid: i32) {
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let v1 = cg.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, ctl, path) = (f.next()?, f.next()?, f.next()?);
        ctl.split(',')
            .any(|c| c == "freezer")
            .then(|| path.to_string())
    });
    let (file, value) = match v1 {
        Some(path) => (
            format!("/sys/fs/cgroup/freezer{path}/freezer.state"),
            "FROZEN",
        ),
        None => {
            let path = cg.lines().find_map(|l| l.strip_prefix("0::")).unwrap();
            let root = if std::path::Path::new("/sys/fs/cgroup/unified/cgroup.procs").exists() {
                "/sys/fs/cgroup/unified"
            } else {
                "/sys/fs/cgroup"
            };
            (format!("{root}{path}/cgroup.freeze"), "1")
        }
    };
    let write = || std::fs::write(&file, value).unwrap_or_else(|e| panic!("write {file}: {e}"));
    write();
    if value == "FROZEN" {
        // Written again while FREEZING: the v1 freezer asks each task only at the write
        // (see liblxcrs cgroups::freezer).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::fs::read_to_string(&file).unwrap_or_default().trim() != "FROZEN" {
            assert!(
                std::time::Instant::now() < deadline,
                "{file} did not freeze"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
            write();
        }
    }
}

#[test]
fn wait_and_missing_containers() {
    let _g = serial();
    let Some((env, before)) = runtime_support::env() else {
        return;
    };
    let n = env.unique_name("wait");
    busybox(&env, &n);
    // A stopped container counts as STOPPED at once; RUNNING times out.
    env.ok("lxc-wait", &["-n", &n, "-s", "STOPPED", "-t", "1"]);
    assert_eq!(
        env.lxc("lxc-wait", &["-n", &n, "-s", "RUNNING", "-t", "1"])
            .status
            .code(),
        Some(1)
    );
    let mut waiter = env
        .cmd("lxc-wait")
        .args(["-n", &n, "-s", "RUNNING|FROZEN", "-t", "30"])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    env.ok("lxc-start", &["-n", &n]);
    assert!(waiter.wait().unwrap().success(), "lxc-wait saw RUNNING");
    let mut stopped = env
        .cmd("lxc-wait")
        .args(["-n", &n, "-s", "STOPPED", "-t", "30"])
        .spawn()
        .unwrap();
    env.ok("lxc-stop", &["-n", &n, "-k"]);
    assert!(stopped.wait().unwrap().success(), "lxc-wait saw STOPPED");
    let bad = env.lxc("lxc-wait", &["-n", &n, "-s", "RUNNING|BOGUS"]);
    assert_eq!(bad.status.code(), Some(1));

    let missing = env.lxc("lxc-info", &["-n", "no-such-container"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        text(&missing).1.contains("no-such-container doesn't exist"),
        "{}",
        text(&missing).1
    );
    assert_eq!(
        env.lxc("lxc-stop", &["-n", "no-such-container"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(env.lxc("lxc-freeze", &["-n", &n]).status.code(), Some(1));
    assert!(eventually(5, || state(&env, &n) == "STOPPED"));
    runtime_support::finish(env, before);
}

#[test]
fn start_from_rcfile_with_defines_and_pidfile() {
    let _g = serial();
    let Some((env, before)) = runtime_support::env() else {
        return;
    };
    let n = env.unique_name("rc");
    busybox(&env, &n);
    // Start a *different* name from the first container's config file, with -s overrides.
    let rc = env.lxcpath().join(&n).join("config");
    let other = env.unique_name("vol");
    // `other` has no directory in the lxcpath, so the env's cleanup would not see it.
    struct Kill<'a>(&'a lxcrs_tests::Env, &'a str);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.lxc("lxc-stop", &["-n", self.1, "-k"]);
        }
    }
    let kill = Kill(&env, &other);
    let pidfile = env.lxcpath().join("monitor.pid");
    env.ok(
        "lxc-start",
        &[
            "-n",
            &other,
            "-f",
            rc.to_str().unwrap(),
            "-s",
            "lxc.uts.name=volatile",
            "-p",
            pidfile.to_str().unwrap(),
        ],
    );
    assert_eq!(state(&env, &other), "RUNNING");
    let mpid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let init = pid(&env, &other);
    let ppid = std::fs::read_to_string(format!("/proc/{init}/status"))
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix("PPid:")
                .map(|v| v.trim().parse::<i32>().unwrap())
        })
        .unwrap();
    assert_eq!(mpid, ppid, "-p writes the monitor's pid");
    assert_eq!(
        env.ok("lxc-info", &["-n", &other, "-c", "lxc.uts.name", "-H"])
            .trim(),
        "volatile"
    );
    env.ok("lxc-stop", &["-n", &other, "-k"]);
    assert!(!pidfile.exists(), "the pid file is removed at exit");
    // A container whose create never finished refuses to start.
    std::fs::write(env.lxcpath().join(&n).join("partial"), "").unwrap();
    let out = env.lxc("lxc-start", &["-n", &n]);
    assert_ne!(out.status.code(), Some(0));
    assert!(text(&out).1.contains("did not finish"), "{}", text(&out).1);
    std::fs::remove_file(env.lxcpath().join(&n).join("partial")).unwrap();
    drop(kill);
    runtime_support::finish(env, before);
}
