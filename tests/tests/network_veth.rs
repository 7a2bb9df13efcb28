//! veth containers on a test bridge: static IPv4 and IPv6 both ways, `gateway = auto`,
//! two containers talking, what `lxc-info` and `lxc-ls -f` show, and the start
//! failures (missing bridge, bad address, duplicate veth.pair) that must name the key
//! and leave no device behind.

mod network_util;

use lxcrs_tests::runtime_support::{self, append_config, config_path, pid, serial, text};
use network_util::{
    attach_ok, create, finish, host_has, ping_from, ping_from_host, tagged_netdevs, Bridge,
};

#[test]
fn static_ipv4_ipv6_both_ways_gateway_auto_and_info() {
    let _g = serial();
    let Some((env, _)) = runtime_support::env() else {
        return;
    };
    let br = Bridge::new(221);
    let n = env.unique_name("veth");
    create(&env, &n, &br.static_nic(10));
    env.ok("lxc-start", &["-n", &n]);

    // gateway = auto: the default routes go through the bridge's addresses.
    let r4 = attach_ok(&env, &n, &["ip", "route"]);
    assert!(
        r4.contains(&format!("default via {} dev net0", br.host_ip4())),
        "{r4}"
    );
    let r6 = attach_ok(&env, &n, &["ip", "-6", "route"]);
    assert!(
        r6.contains(&format!("default via {} dev net0", br.host6())),
        "{r6}"
    );

    // Both directions, both families.
    assert!(ping_from_host(&br.ip4(10), 5), "host → container IPv4");
    assert!(
        ping_from(&env, &n, &br.host_ip4(), 5),
        "container → host IPv4"
    );
    assert!(ping_from_host(&br.ip6(10), 10), "host → container IPv6");
    assert!(
        ping_from(&env, &n, &br.host6(), 10),
        "container → host IPv6"
    );

    // lxc-info -i: one IP line per global address, all families.
    let ips = env.ok("lxc-info", &["-n", &n, "-i"]);
    assert_eq!(
        ips,
        format!(
            "IP:             {}\nIP:             {}\n",
            br.ip4(10),
            br.ip6(10)
        )
    );
    let ls = env.ok("lxc-ls", &["-f", "-F", "NAME,IPV4,IPV6"]);
    assert!(
        ls.lines()
            .any(|l| l.starts_with(&n) && l.contains(&br.ip4(10)) && l.contains(&br.ip6(10))),
        "{ls}"
    );

    // Default output: IP lines, then per link the host-side veth with counters from the
    // container's perspective (it sent the pings' replies and requests: TX > 0).
    let pair = env
        .ok("lxc-info", &["-n", &n, "-c", "lxc.net.0.veth.pair", "-H"])
        .trim()
        .to_string();
    assert!(host_has(&pair) && br.ports().contains(&pair), "{pair}");
    let all = env.ok("lxc-info", &["-n", &n]);
    let p = pid(&env, &n);
    assert!(
        all.contains(&format!(
            "PID:            {p}\nIP:             {}\nIP:             {}\n",
            br.ip4(10),
            br.ip6(10)
        )),
        "{all}"
    );
    let link = all
        .split_once(&format!("Link:           {pair}\n"))
        .map(|(_, rest)| rest.lines().take(3).collect::<Vec<_>>())
        .unwrap_or_else(|| panic!("no Link: line for {pair}:\n{all}"));
    for (line, label) in link
        .iter()
        .zip([" TX bytes:", " RX bytes:", " Total bytes:"])
    {
        let v = line
            .strip_prefix(&format!("{label:<15} "))
            .unwrap_or_else(|| panic!("{line:?} is not {label}"));
        assert!(
            v.ends_with(" bytes") || v.ends_with(" KiB") || v.ends_with(" MiB"),
            "humanized: {v:?}"
        );
    }
    // -H: raw numbers; TX of the container = RX of the host end.
    let raw = env.ok("lxc-info", &["-n", &n, "-S", "-H"]);
    let num = |label: &str| -> u64 {
        raw.lines()
            .find_map(|l| l.strip_prefix(&format!("{label:<15} ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no raw {label} in:\n{raw}"))
    };
    let (tx, rx, total) = (num(" TX bytes:"), num(" RX bytes:"), num(" Total bytes:"));
    assert!(tx > 0 && rx > 0 && total == tx + rx, "{raw}");
    let host_rx: u64 =
        std::fs::read_to_string(format!("/sys/class/net/{pair}/statistics/rx_bytes"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
    assert!(
        host_rx >= tx,
        "container TX {tx} is the host end's RX {host_rx}"
    );

    env.ok("lxc-stop", &["-n", &n, "-k"]);
    assert!(!host_has(&pair), "{pair} is gone after the stop");
    assert!(br.ports().is_empty(), "{:?}", br.ports());
    finish(env, br);
}

#[test]
fn two_containers_on_one_bridge_ping_each_other() {
    let _g = serial();
    let Some((env, _)) = runtime_support::env() else {
        return;
    };
    let br = Bridge::new(222);
    let (a, b) = (env.unique_name("va"), env.unique_name("vb"));
    create(&env, &a, &br.static_nic(11));
    create(&env, &b, &br.static_nic(12));
    env.ok("lxc-start", &["-n", &a]);
    env.ok("lxc-start", &["-n", &b]);
    assert_eq!(br.ports().len(), 2, "{:?}", br.ports());
    assert!(ping_from(&env, &a, &br.ip4(12), 5), "a → b IPv4");
    assert!(ping_from(&env, &b, &br.ip4(11), 5), "b → a IPv4");
    assert!(ping_from(&env, &a, &br.ip6(12), 10), "a → b IPv6");
    assert!(ping_from(&env, &b, &br.ip6(11), 10), "b → a IPv6");
    finish(env, br);
}

/// A start that must fail: exit non-zero, the message names `key` (and `also`), the
/// container is STOPPED and no device of it is left on the host.
fn assert_start_fails(env: &lxcrs_tests::Env, name: &str, key: &str, also: &str) -> String {
    let out = env.lxc("lxc-start", &["-n", name]);
    let err = text(&out).1;
    assert!(!out.status.success(), "start of {name} must fail");
    assert!(err.contains(key), "the message names {key}: {err}");
    assert!(err.contains(also), "the message says {also:?}: {err}");
    assert_eq!(runtime_support::state(env, name), "STOPPED");
    assert!(
        tagged_netdevs(env).is_empty(),
        "left behind: {:?}",
        tagged_netdevs(env)
    );
    err
}

#[test]
fn start_failures_name_the_key_and_leave_nothing() {
    let _g = serial();
    let Some((env, _)) = runtime_support::env() else {
        return;
    };
    let br = Bridge::new(223);
    let ports = || br.ports();

    // A bridge that does not exist.
    let missing = env.unique_name("nobr");
    let nobr = network_util::dev_name("lxnobr", 223);
    create(
        &env,
        &missing,
        &format!("lxc.net.0.type = veth\nlxc.net.0.link = {nobr}\nlxc.net.0.flags = up\n"),
    );
    assert_start_fails(
        &env,
        &missing,
        "lxc.net.0.link",
        &format!("bridge {nobr} does not exist"),
    );

    // The installed default config: lxcbr0, with the hint to bring it up.
    if !host_has("lxcbr0") {
        let dflt = env.unique_name("dflt");
        let conf = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates/default.conf"),
        )
        .unwrap();
        create(&env, &dflt, &conf);
        assert_start_fails(&env, &dflt, "lxc.net.0.link", "lxcrs-net up");
    }

    // A malformed address (appended after the create, which would refuse it too) and
    // a gateway outside every address's subnet.
    let bad = env.unique_name("badip");
    create(&env, &bad, &br.static_nic(20));
    let good = std::fs::read_to_string(config_path(&env, &bad)).unwrap();
    append_config(&env, &bad, &["lxc.net.0.ipv4.address = 10.0.223.300/24"]);
    assert_start_fails(&env, &bad, "lxc.net.0.ipv4.address", "10.0.223.300");
    std::fs::write(config_path(&env, &bad), &good).unwrap();
    append_config(&env, &bad, &["lxc.net.0.ipv4.gateway = 192.0.2.1"]);
    assert_start_fails(&env, &bad, "lxc.net.0.ipv4.gateway", "192.0.2.1");
    std::fs::write(config_path(&env, &bad), &good).unwrap();
    assert!(ports().is_empty(), "{:?}", ports());

    // The child fails in its mounts while the monitor creates its veth (the two run at
    // the same time): the child's error is the one reported, and the veth goes.
    let mnt = env.unique_name("badmnt");
    create(&env, &mnt, &br.static_nic(21));
    append_config(
        &env,
        &mnt,
        &["lxc.mount.entry = /nonexistent/lxcrs-src mnt none bind 0 0"],
    );
    assert_start_fails(
        &env,
        &mnt,
        "mount entry",
        "bind source /nonexistent/lxcrs-src does not exist",
    );
    assert!(ports().is_empty(), "{:?}", ports());

    // Two containers asking for the same veth.pair name: the second fails, the first
    // keeps its device.
    let pair = network_util::dev_name("lxdup", 223);
    let (first, second) = (env.unique_name("dup"), env.unique_name("dup"));
    let conf = format!(
        "lxc.net.0.type = veth\nlxc.net.0.link = {}\nlxc.net.0.flags = up\nlxc.net.0.veth.pair = {pair}\n",
        br.name
    );
    create(&env, &first, &conf);
    create(&env, &second, &conf);
    env.ok("lxc-start", &["-n", &first]);
    let out = env.lxc("lxc-start", &["-n", &second]);
    let err = text(&out).1;
    assert!(!out.status.success());
    assert!(
        err.contains("lxc.net.0.veth.pair") && err.contains(&pair),
        "{err}"
    );
    assert_eq!(runtime_support::state(&env, &second), "STOPPED");
    assert_eq!(ports(), vec![pair.clone()], "only the first's port");
    assert_eq!(tagged_netdevs(&env), vec![pair.clone()]);
    env.ok("lxc-stop", &["-n", &first, "-k"]);
    assert!(tagged_netdevs(&env).is_empty() && !host_has(&pair));
    finish(env, br);
}
