//! Teardown under repetition and after a crash: 100 start/stop cycles of a veth
//! container leave no host device, and the veth of a monitor killed with SIGKILL is
//! removed by the next lxc-start of the container.

mod network_util;

use std::time::Instant;

use lxcrs_tests::runtime_support::{self, eventually, pid, serial, state};
use network_util::{create, finish, host_has, tagged_netdevs, Bridge};

#[test]
fn hundred_start_stop_cycles_leave_no_netdev() {
    let _g = serial();
    let Some((env, _)) = runtime_support::env() else {
        return;
    };
    let br = Bridge::new(230);
    let n = env.unique_name("cyc");
    create(
        &env,
        &n,
        &format!(
            "lxc.net.0.type = veth\nlxc.net.0.link = {}\nlxc.net.0.flags = up\nlxc.net.0.name = net0\nlxc.net.0.ipv4.address = 10.0.230.2/24\n",
            br.name
        ),
    );
    let host_devs = || {
        let mut v: Vec<String> = std::fs::read_dir("/sys/class/net")
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let before = host_devs();
    let t = Instant::now();
    for i in 0..100 {
        env.ok("lxc-start", &["-n", &n]);
        assert_eq!(br.ports().len(), 1, "cycle {i}: {:?}", br.ports());
        // The first stop is a clean shutdown, the others a kill (busybox's init takes
        // seconds to halt; the teardown is the same).
        let stop: &[&str] = if i == 0 {
            &["-n", &n]
        } else {
            &["-n", &n, "-k"]
        };
        env.ok("lxc-stop", stop);
        assert!(br.ports().is_empty(), "cycle {i}: {:?}", br.ports());
        assert!(tagged_netdevs(&env).is_empty(), "cycle {i}");
    }
    eprintln!("100 cycles in {:.1}s", t.elapsed().as_secs_f64());
    let lx = env.lxcpath().to_string_lossy().into_owned();
    let pid = std::process::id().to_string();
    let after = host_devs();
    let new: Vec<&String> = after
        .iter()
        .filter(|d| !before.contains(d))
        .filter(|d| {
            // On a shared host only what is provably ours counts.
            std::env::var_os("LXCRS_TEST_SHARED_HOST").is_none()
                || std::fs::read_to_string(format!("/sys/class/net/{d}/ifalias"))
                    .is_ok_and(|a| a.contains(&lx))
                || d.contains(&pid)
        })
        .collect();
    assert!(new.is_empty(), "leftover host netdevs: {new:?}");
    finish(env, br);
}

/// The monitor of a running container: init's parent.
fn monitor_of(init: i32) -> i32 {
    let stat = std::fs::read_to_string(format!("/proc/{init}/stat")).unwrap();
    let (_, rest) = stat.rsplit_once(") ").unwrap();
    rest.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn veth_of_a_killed_monitor_is_cleaned_by_the_next_start() {
    let _g = serial();
    let Some((env, _)) = runtime_support::env() else {
        return;
    };
    let br = Bridge::new(231);
    let pair = network_util::dev_name("lxkill", 231);
    let n = env.unique_name("kill");
    create(
        &env,
        &n,
        &format!(
            "lxc.net.0.type = veth\nlxc.net.0.link = {}\nlxc.net.0.flags = up\nlxc.net.0.veth.pair = {pair}\n",
            br.name
        ),
    );

    // 1. Kill the monitor while something else keeps the container's netns alive (an
    //    open nsfs fd, as an lxc-attach'ed process or a bind mount would): the kernel
    //    then keeps the veth, and it is a real leftover.
    env.ok("lxc-start", &["-n", &n]);
    let init = pid(&env, &n);
    let netns = std::fs::File::open(format!("/proc/{init}/ns/net")).unwrap();
    let monitor = monitor_of(init);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(monitor),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(eventually(10, || state(&env, &n) == "STOPPED"));
    assert!(
        eventually(5, || !std::path::Path::new(&format!("/proc/{init}/ns"))
            .exists()),
        "init died with its monitor"
    );
    assert!(host_has(&pair), "the veth outlives the killed monitor");
    assert_eq!(tagged_netdevs(&env), vec![pair.clone()]);

    // The next start removes it and takes the same name again.
    env.ok("lxc-start", &["-n", &n]);
    drop(netns);
    assert_eq!(br.ports(), vec![pair.clone()]);
    assert_eq!(tagged_netdevs(&env), vec![pair.clone()]);

    // 2. Kill it again, nothing holding the netns, and start again at once (the
    //    kernel may not have destroyed the old netns yet).
    let init = pid(&env, &n);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(monitor_of(init)),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(eventually(10, || state(&env, &n) == "STOPPED"));
    env.ok("lxc-start", &["-n", &n]);
    assert_eq!(br.ports(), vec![pair.clone()]);

    env.ok("lxc-stop", &["-n", &n, "-k"]);
    assert!(eventually(3, || !host_has(&pair)));
    assert!(tagged_netdevs(&env).is_empty());
    finish(env, br);
}
