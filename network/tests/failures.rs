//! Bad values fail with a message naming the key and the fix, and leave no device;
//! teardown is complete; many cycles leak nothing; leftovers of a crash are found.

mod common;

use std::net::Ipv4Addr;

use common::{ctx, host_with_bridge, Ns};
use lxcrs_network::{
    cleanup_leftovers, configure_in_netns, create_host_side, find_leftovers,
    link_dumps_on_this_thread, move_into_netns, parse_ipv4_address, teardown, Gateway, MacvlanMode,
    NetDevSpec, NetKind, Netns, VethSpec,
};

fn veth(ip4: &str) -> NetDevSpec {
    let mut s = NetDevSpec::new(0, NetKind::Veth(VethSpec::default()));
    s.link = Some("br0".into());
    s.up = true;
    s.ipv4 = vec![parse_ipv4_address("k", ip4).unwrap_or_else(|e| panic!("{e}"))];
    s
}

fn create_err(h: &Ns, spec: &NetDevSpec) -> String {
    let cx = ctx("bad");
    match h.run(|| create_host_side(spec, &cx)) {
        Ok(nic) => panic!("accepted: {nic:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn missing_bridge_fails_clearly_and_leaves_nothing() {
    require_root!();
    let h = host_with_bridge();
    let mut spec = veth("10.0.3.2/24");
    spec.link = Some("lxcbr9".into());
    assert_eq!(
        create_err(&h, &spec),
        "lxc.net.0.link: bridge lxcbr9 does not exist; create it (ip link add lxcbr9 type bridge), or add it to /etc/lxcrs/lxc-net.toml and run `lxcrs-net up`"
    );
    assert_eq!(h.links(), vec!["lo", "br0"]);
    // A link that is not a bridge.
    h.sh("ip link add x0 type veth peer name x1");
    spec.link = Some("x0".into());
    let e = create_err(&h, &spec);
    assert!(
        e.starts_with("lxc.net.0.link: x0 is not a bridge but a veth device"),
        "{e}"
    );
    assert_eq!(h.links(), vec!["lo", "br0", "x1", "x0"]);
}

#[test]
fn bad_addresses_and_gateways_fail_before_any_device() {
    require_root!();
    let h = host_with_bridge();
    let e = parse_ipv4_address("lxc.net.0.ipv4.address", "10.0.3.300/24")
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        e.as_deref(),
        Some("lxc.net.0.ipv4.address: malformed address '10.0.3.300/24'; expected a.b.c.d/prefix [broadcast], e.g. 10.0.3.5/24")
    );
    let spec = veth("10.0.3.0/24");
    let e = create_err(&h, &spec);
    assert!(
        e.starts_with("lxc.net.0.ipv4.address: 10.0.3.0/24 is the network address"),
        "{e}"
    );
    let mut spec = veth("10.0.3.2/24");
    spec.ipv4_gateway = Some(Gateway::Addr(Ipv4Addr::new(10, 9, 9, 1)));
    let e = create_err(&h, &spec);
    assert!(e.starts_with("lxc.net.0.ipv4.gateway: gateway 10.9.9.1 is outside every address's subnet (10.0.3.0/24)"), "{e}");
    // auto on a bridge without IPv4: detected on the host, after the pair exists → rolled back.
    h.sh("ip addr flush dev br0");
    let mut spec = veth("10.0.3.2/24");
    spec.ipv4_gateway = Some(Gateway::Auto);
    let e = create_err(&h, &spec);
    assert!(
        e.starts_with("lxc.net.0.ipv4.gateway: auto needs an IPv4 address on bridge br0"),
        "{e}"
    );
    assert_eq!(h.links(), vec!["lo", "br0"]);
    // macvlan on a missing parent.
    let mut m = NetDevSpec::new(1, NetKind::Macvlan(MacvlanMode::Bridge));
    m.link = Some("nope0".into());
    let e = create_err(&h, &m);
    assert!(
        e.starts_with("lxc.net.1.link: parent device nope0 does not exist"),
        "{e}"
    );
    assert_eq!(h.links(), vec!["lo", "br0"]);
}

#[test]
fn duplicate_veth_pair_name_fails_and_keeps_the_first() {
    require_root!();
    let h = host_with_bridge();
    let c = Ns::new("c");
    let mut spec = veth("10.0.3.2/24");
    spec.kind = NetKind::Veth(VethSpec {
        pair: Some("vethdup".into()),
        ..VethSpec::default()
    });
    let cx = ctx("first");
    let first = h
        .run(|| create_host_side(&spec, &cx))
        .unwrap_or_else(|e| panic!("{e}"));
    let before = h.links();
    let e = create_err(&h, &spec);
    assert_eq!(
        e,
        "lxc.net.0.veth.pair: an interface named vethdup already exists; another container or a stale device uses it; \
         choose another name or delete it (ip link del vethdup)"
    );
    assert_eq!(h.links(), before, "the failed start touched devices");
    let cpath = c.path();
    h.run(|| teardown(&first, &cx, Some(Netns::Path(&cpath))).map_err(|mut v| v.remove(0)))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(h.links(), vec!["lo", "br0"]);
}

#[test]
fn failing_up_script_rolls_back() {
    require_root!();
    let h = host_with_bridge();
    let mut spec = veth("10.0.3.2/24");
    spec.script_up = Some("/bin/false".into());
    let e = create_err(&h, &spec);
    assert_eq!(
        e,
        "lxc.net.0.script.up: script /bin/false failed: exit status 1"
    );
    assert_eq!(h.links(), vec!["lo", "br0"]);
}

#[test]
fn teardown_collects_every_error() {
    require_root!();
    let h = host_with_bridge();
    let mut spec = veth("10.0.3.2/24");
    spec.script_down = Some("/bin/false".into());
    let cx = ctx("t");
    let nic = h
        .run(|| create_host_side(&spec, &cx))
        .unwrap_or_else(|e| panic!("{e}"));
    // The down script fails, yet the device is still removed and the error reported.
    let errs = h
        .run(|| Ok(teardown(&nic, &cx, None)))
        .unwrap_or_else(|e| panic!("{e}"));
    let errs = errs.err().unwrap_or_default();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0]
        .to_string()
        .starts_with("lxc.net.0.script.down: script /bin/false failed"));
    assert_eq!(h.links(), vec!["lo", "br0"]);
}

#[test]
fn hundred_cycles_leave_no_device() {
    require_root!();
    let h = host_with_bridge();
    let c = Ns::new("c");
    let spec = veth("10.0.3.2/24");
    let cx = ctx("cyc");
    let cpath = c.path();
    let t0 = std::time::Instant::now();
    for i in 0..100 {
        let nic = h
            .run(|| {
                let nic = create_host_side(&spec, &cx)?;
                move_into_netns(&nic, Netns::Path(&cpath))?;
                Ok(nic)
            })
            .unwrap_or_else(|e| panic!("cycle {i}: {e}"));
        c.run(|| configure_in_netns(&spec, &nic))
            .unwrap_or_else(|e| panic!("cycle {i}: {e}"));
        h.run(|| teardown(&nic, &cx, Some(Netns::Path(&cpath))).map_err(|mut v| v.remove(0)))
            .unwrap_or_else(|e| panic!("cycle {i}: {e}"));
    }
    eprintln!(
        "100 veth create/move/configure/teardown cycles: {:?}",
        t0.elapsed()
    );
    assert_eq!(h.links(), vec!["lo", "br0"]);
    assert_eq!(c.links(), vec!["lo"]);
    assert_eq!(h.sh("bridge link show"), "");
}

#[test]
fn leftovers_of_a_crashed_monitor_are_found_and_removed() {
    require_root!();
    let h = host_with_bridge();
    h.sh("ip link add lp0 type veth peer name lp1 && ip link set lp0 up");
    let cx = ctx("crashed");
    let other = ctx("other");
    let v = veth("10.0.3.2/24");
    let mut m = NetDevSpec::new(1, NetKind::Macvlan(MacvlanMode::Bridge));
    m.link = Some("lp0".into());
    // "Crash": created but never moved or torn down.
    let n1 = h
        .run(|| create_host_side(&v, &cx))
        .unwrap_or_else(|e| panic!("{e}"));
    let n2 = h
        .run(|| create_host_side(&m, &cx))
        .unwrap_or_else(|e| panic!("{e}"));
    let keep = h
        .run(|| create_host_side(&v, &other))
        .unwrap_or_else(|e| panic!("{e}"));
    let found = h
        .run(|| find_leftovers(&cx.owner))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut names: Vec<String> = found.iter().map(|l| l.ifname.clone()).collect();
    names.sort();
    let mut want = vec![
        n1.host_ifname.clone().unwrap_or_default(),
        n2.peer_ifname.clone().unwrap_or_default(),
    ];
    want.sort();
    assert_eq!(names, want);
    let dumps = h
        .run(|| {
            let before = link_dumps_on_this_thread();
            cleanup_leftovers(&cx.owner).map_err(|mut v| v.remove(0))?;
            Ok(link_dumps_on_this_thread() - before)
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(dumps, 0, "the clean-up listed every interface");
    let left = h.links();
    assert!(
        !left.contains(&want[0]) && !left.contains(&want[1]),
        "{left:?}"
    );
    assert!(
        left.contains(keep.host_ifname.as_ref().unwrap_or(&String::new())),
        "another container's device was removed"
    );
    assert_eq!(
        h.run(|| find_leftovers(&cx.owner)).map(|v| v.len()).ok(),
        Some(0)
    );
    h.run(|| teardown(&keep, &other, None).map_err(|mut v| v.remove(0)))
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn cleanup_without_a_record_lists_no_interfaces() {
    require_root!();
    let h = host_with_bridge();
    let cx = ctx("never-crashed");
    let v = veth("10.0.3.2/24");
    // A container stopped cleanly: its record went with its devices.
    let nic = h
        .run(|| create_host_side(&v, &cx))
        .unwrap_or_else(|e| panic!("{e}"));
    h.run(|| teardown(&nic, &cx, None).map_err(|mut v| v.remove(0)))
        .unwrap_or_else(|e| panic!("{e}"));
    let dumps = h
        .run(|| {
            let before = link_dumps_on_this_thread();
            cleanup_leftovers(&cx.owner).map_err(|mut v| v.remove(0))?;
            Ok(link_dumps_on_this_thread() - before)
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        dumps, 0,
        "a start with nothing to clean listed every interface"
    );
}

#[test]
fn a_device_recreated_under_a_leftover_name_survives_the_cleanup() {
    require_root!();
    let h = host_with_bridge();
    let cx = ctx("renamed-twin");
    let v = veth("10.0.3.2/24");
    let nic = h
        .run(|| create_host_side(&v, &cx))
        .unwrap_or_else(|e| panic!("{e}"));
    let name = nic.host_ifname.clone().unwrap_or_default();
    // The crashed monitor's device went away; another one now has its name, kind and
    // even its tag, but not its ifindex: not ours to delete.
    h.sh(&format!(
        "ip link del {name} && ip link add {name} type veth peer name twin0 && \
         ip link set {name} alias '{}'",
        nic.tag()
    ));
    h.run(|| cleanup_leftovers(&cx.owner).map_err(|mut v| v.remove(0)))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        h.links().contains(&name),
        "a device that is not ours was deleted"
    );
    h.sh(&format!("ip link del {name}"));
}
