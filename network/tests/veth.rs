//! veth on a bridge: addresses, pings both ways, gateways, teardown, failures, cycles.

mod common;

use std::net::{Ipv4Addr, Ipv6Addr};

use common::{ctx, host_with_bridge, Ns};
use lxcrs_network::{
    configure_in_netns, create_host_side, create_host_side_in, move_into_netns, parse_ipv4_address,
    parse_ipv6_address, teardown, Gateway, HostNic, NetDevSpec, NetKind, Netns, VethSpec,
};

fn veth(index: usize, ip4: &str, ip6: Option<&str>) -> NetDevSpec {
    let mut s = NetDevSpec::new(index, NetKind::Veth(VethSpec::default()));
    s.link = Some("br0".into());
    s.up = true;
    s.ipv4 = vec![parse_ipv4_address("k", ip4).unwrap_or_else(|e| panic!("{e}"))];
    if let Some(ip6) = ip6 {
        s.ipv6 = vec![parse_ipv6_address("k", ip6).unwrap_or_else(|e| panic!("{e}"))];
    }
    s
}

/// create on the host, move into `c`, configure there.
fn start(h: &Ns, c: &Ns, spec: &NetDevSpec, name: &str) -> HostNic {
    let cx = ctx(name);
    let cpath = c.path();
    let nic = h
        .run(|| {
            let nic = create_host_side(spec, &cx)?;
            move_into_netns(&nic, Netns::Path(&cpath))?;
            Ok(nic)
        })
        .unwrap_or_else(|e| panic!("host side: {e}"));
    c.run(|| configure_in_netns(spec, &nic))
        .unwrap_or_else(|e| panic!("container side: {e}"));
    nic
}

fn stop(h: &Ns, c: &Ns, nic: &HostNic, name: &str) {
    let cx = ctx(name);
    let cpath = c.path();
    h.run(|| teardown(nic, &cx, Some(Netns::Path(&cpath))).map_err(|mut v| v.remove(0)))
        .unwrap_or_else(|e| panic!("teardown: {e}"));
}

#[test]
fn veth_bridge_static_ipv4_ipv6_ping_both_ways() {
    require_root!();
    let h = host_with_bridge();
    let c = Ns::new("c1");
    let mut spec = veth(0, "10.0.3.2/24", Some("fd00:3::2/64"));
    spec.hwaddr = Some("10:66:6a:xx:xx:xx".into());
    spec.mtu = Some(1400);
    let nic = start(&h, &c, &spec, "c1");
    let host_if = nic.host_ifname.clone().unwrap_or_default();
    assert!(host_if.starts_with("veth"), "{host_if}");
    let info = h.sh(&format!("ip -d link show {host_if}"));
    assert!(info.contains("master br0"), "{info}");

    let link = c.sh("ip -o link show eth0");
    assert!(link.contains("mtu 1400"), "{link}");
    assert!(link.contains("link/ether 10:66:6a:"), "{link}");
    assert!(link.contains("state UP") || link.contains(",UP"), "{link}");
    assert!(c
        .sh("ip -o -4 addr show eth0")
        .contains("10.0.3.2/24 brd 10.0.3.255"));
    assert!(c.sh("ip -o link show lo").contains("UP"));

    assert!(h.ping("10.0.3.2"), "host cannot ping the container");
    assert!(c.ping("10.0.3.1"), "container cannot ping the host");
    assert!(
        h.ping("fd00:3::2"),
        "host cannot ping the container over IPv6"
    );
    assert!(
        c.ping("fd00:3::1"),
        "container cannot ping the host over IPv6"
    );

    // What lxc-info shows: the container's addresses and the host end's counters.
    let cpath = c.path();
    let ips = lxcrs_network::ips_of(Netns::Path(&cpath)).unwrap_or_else(|e| panic!("{e}"));
    let ips: Vec<String> = ips
        .iter()
        .map(|a| format!("{} {}/{}", a.ifname, a.addr, a.prefix))
        .collect();
    assert_eq!(ips, vec!["eth0 10.0.3.2/24", "eth0 fd00:3::2/64"]);
    let st = h
        .run(|| lxcrs_network::link_stats(None, &host_if))
        .unwrap_or_else(|e| panic!("{e}"));
    let st = st.unwrap_or_default();
    assert!(
        st.rx_packets >= 2 && st.tx_packets >= 2 && st.rx_bytes > 0 && st.tx_bytes > 0,
        "{st:?}"
    );

    stop(&h, &c, &nic, "c1");
    assert_eq!(h.links(), vec!["lo", "br0"], "host devices left behind");
    assert_eq!(c.links(), vec!["lo"], "container devices left behind");
}

#[test]
fn two_containers_on_one_bridge_ping_each_other() {
    require_root!();
    let h = host_with_bridge();
    let c1 = Ns::new("c1");
    let c2 = Ns::new("c2");
    let n1 = start(&h, &c1, &veth(0, "10.0.3.11/24", None), "c1");
    let n2 = start(&h, &c2, &veth(0, "10.0.3.12/24", None), "c2");
    assert!(c1.ping("10.0.3.12"));
    assert!(c2.ping("10.0.3.11"));
    stop(&h, &c1, &n1, "c1");
    stop(&h, &c2, &n2, "c2");
    assert_eq!(h.links(), vec!["lo", "br0"]);
}

#[test]
fn gateway_auto_sets_default_route() {
    require_root!();
    let h = host_with_bridge();
    // A second address outside the container's subnet comes first: auto must still pick
    // the one in the container's subnet.
    h.sh("ip addr del 10.0.3.1/24 dev br0; ip addr add 192.168.77.1/24 dev br0; ip addr add 10.0.3.1/24 dev br0");
    let c = Ns::new("c");
    let mut spec = veth(0, "10.0.3.20/24", Some("fd00:3::20/64"));
    spec.name = Some("net0".into());
    spec.ipv4_gateway = Some(Gateway::Auto);
    spec.ipv6_gateway = Some(Gateway::Auto);
    let nic = start(&h, &c, &spec, "c");
    let r4 = c.sh("ip -4 route show default");
    assert!(r4.contains("default via 10.0.3.1 dev net0"), "{r4}");
    let r6 = c.sh("ip -6 route show default");
    assert!(r6.contains("default via fd00:3::1 dev net0"), "{r6}");
    stop(&h, &c, &nic, "c");
}

#[test]
fn gateway_address_and_dev() {
    require_root!();
    let h = host_with_bridge();
    let c = Ns::new("c");
    let mut spec = veth(0, "10.0.3.21/24", None);
    spec.ipv4_gateway = Some(Gateway::Addr(Ipv4Addr::new(10, 0, 3, 1)));
    spec.ipv6_gateway = Some(Gateway::Dev);
    let nic = start(&h, &c, &spec, "c");
    assert!(c
        .sh("ip -4 route show default")
        .contains("default via 10.0.3.1 dev eth0"));
    assert!(c
        .sh("ip -6 route show default")
        .contains("default dev eth0"));
    assert!(c.ping("10.0.3.1"));
    stop(&h, &c, &nic, "c");
    // Off-subnet gateway with a /32 address (point-to-point style): host route first.
    let c2 = Ns::new("c2");
    let mut spec = veth(0, "10.0.3.22/32", None);
    spec.ipv4_gateway = Some(Gateway::Addr(Ipv4Addr::new(10, 0, 3, 1)));
    let nic = start(&h, &c2, &spec, "c2");
    let routes = c2.sh("ip -4 route");
    assert!(routes.contains("10.0.3.1 dev eth0"), "{routes}");
    assert!(routes.contains("default via 10.0.3.1 dev eth0"), "{routes}");
    assert!(c2.ping("10.0.3.1"));
    stop(&h, &c2, &nic, "c2");
    let _ = Ipv6Addr::LOCALHOST;
}

#[test]
fn veth_pair_name_and_scripts() {
    require_root!();
    let h = host_with_bridge();
    let c = Ns::new("c");
    let dir = std::env::temp_dir().join(format!("lxcrs-net-scripts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let script = dir.join("net.sh");
    let log = dir.join("log");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$LXC_HOOK_TYPE $LXC_NET_TYPE $LXC_NET_PARENT $LXC_NET_PEER $LXC_NAME | $*\" >> {}\n",
            log.display()
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    common::run_ok("chmod", &["+x", &script.to_string_lossy()]);
    let mut spec = veth(0, "10.0.3.30/24", None);
    spec.kind = NetKind::Veth(VethSpec {
        pair: Some("vethmine0".into()),
        ..VethSpec::default()
    });
    spec.script_up = Some(script.clone());
    spec.script_down = Some(script.clone());
    let nic = start(&h, &c, &spec, "c30");
    assert_eq!(nic.host_ifname.as_deref(), Some("vethmine0"));
    assert!(h.links().contains(&"vethmine0".to_string()));
    stop(&h, &c, &nic, "c30");
    let got = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(
        got,
        "up veth br0 vethmine0 c30 | veth br0 vethmine0\ndown veth br0 vethmine0 c30 | veth br0 vethmine0\n"
    );
    assert_eq!(h.links(), vec!["lo", "br0"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn router_mode_routes_and_proxies() {
    require_root!();
    let h = Ns::new("host");
    // An uplink with a default route, as a real host has: the kernel only proxies ARP for
    // an address it would route elsewhere than back out of the asking interface.
    h.sh(
        "sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 && \
          ip link add up0 type veth peer name up1 && ip link set up0 up && ip link set up1 up && \
          ip addr add 203.0.113.1/24 dev up0 && ip route add default via 203.0.113.2 dev up0",
    );
    let c = Ns::new("c");
    let mut spec = NetDevSpec::new(
        0,
        NetKind::Veth(VethSpec {
            mode: lxcrs_network::VethMode::Router,
            ..VethSpec::default()
        }),
    );
    spec.up = true;
    spec.ipv4 = vec![parse_ipv4_address("k", "192.0.2.10/32").unwrap_or_else(|e| panic!("{e}"))];
    spec.ipv4_gateway = Some(Gateway::Addr(Ipv4Addr::new(169, 254, 0, 1)));
    spec.ipv6 = vec![parse_ipv6_address("k", "2001:db8::10/128").unwrap_or_else(|e| panic!("{e}"))];
    spec.ipv6_gateway = Some(Gateway::Addr(
        "fe80::1".parse().unwrap_or(Ipv6Addr::LOCALHOST),
    ));
    let nic = start(&h, &c, &spec, "r");
    let host_if = nic.host_ifname.clone().unwrap_or_default();
    let r4 = h.sh("ip -4 route");
    assert!(r4.contains(&format!("192.0.2.10 dev {host_if}")), "{r4}");
    let r6 = h.sh("ip -6 route");
    assert!(r6.contains(&format!("2001:db8::10 dev {host_if}")), "{r6}");
    let proxies = h.sh("ip neigh show proxy");
    assert!(
        proxies.contains("169.254.0.1") && proxies.contains("fe80::1"),
        "{proxies}"
    );
    // Host → container over the host route (source: the host end's link-local/none →
    // give the host an address to answer from).
    assert!(
        h.ping("192.0.2.10"),
        "host cannot reach the routed container"
    );
    assert!(
        c.ping("203.0.113.1"),
        "the routed container cannot reach the host"
    );
    stop(&h, &c, &nic, "r");
    assert_eq!(h.links(), vec!["lo", "up1", "up0"]);
    assert!(!h.sh("ip -4 route").contains("192.0.2.10"));
}

#[test]
fn move_by_pid_and_queue_counts() {
    require_root!();
    let h = host_with_bridge();
    let c = Ns::new("c");
    let mut sleeper = std::process::Command::new("ip")
        .args(["netns", "exec", &c.name, "sleep", "30"])
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    // Wait until the process runs inside the namespace.
    let pid = sleeper.id() as i32;
    let mut inside = false;
    for _ in 0..250 {
        let ns = std::fs::read_link(format!("/proc/{pid}/ns/net")).ok();
        let want = std::fs::metadata(c.path())
            .ok()
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m));
        if ns
            .zip(want)
            .is_some_and(|(n, w)| n.to_string_lossy().contains(&w.to_string()))
        {
            inside = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(inside, "the sleeper did not enter {} in 5 s", c.name);
    let mut spec = veth(0, "10.0.3.40/24", None);
    spec.kind = NetKind::Veth(VethSpec {
        n_rxqueues: Some(4),
        n_txqueues: Some(2),
        ..VethSpec::default()
    });
    let cx = ctx("pid");
    // The container end is created right in the namespace of `pid`: nothing to move.
    let nic = h
        .run(|| {
            let nic = create_host_side_in(&spec, &cx, Some(pid))?;
            move_into_netns(&nic, Netns::Pid(pid))?;
            Ok(nic)
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(nic.peer_in_netns);
    let links = h.links();
    assert_eq!(links.len(), 3, "lo, br0 and the host end: {links:?}");
    c.run(|| configure_in_netns(&spec, &nic))
        .unwrap_or_else(|e| panic!("{e}"));
    let d = c.sh("ip -d link show eth0");
    assert!(d.contains("numtxqueues 2 numrxqueues 4"), "{d}");
    assert!(c.ping("10.0.3.1"));
    stop(&h, &c, &nic, "pid");
    let _ = sleeper.kill();
    let _ = sleeper.wait();
}
