//! A container owns its `phys` device and may rewrite its `ifalias` (our tag). Giving the
//! device back, at stop or after a crash, must follow the host-side record (ifindex, name,
//! MTU, MAC), not the tag. One end of a veth pair stands in for the physical NIC.

mod common;

use common::{ctx, Ns};
use lxcrs_network::{
    cleanup_leftovers, configure_in_netns, create_host_side, move_into_netns, parse_ipv4_address,
    phys_record, teardown, HostNic, NetDevSpec, NetKind, Netns,
};

/// A host with `ph0` (MTU 1450, peer `ph1`) and a container that was given `ph0` as eth0.
fn lent(name: &str) -> (Ns, Ns, HostNic, String) {
    let h = Ns::new("host");
    h.sh(
        "ip link add ph0 type veth peer name ph1 && ip link set ph0 mtu 1450 && ip link set ph1 up",
    );
    let ifindex = h.sh("cat /sys/class/net/ph0/ifindex").trim().to_string();
    let c = Ns::new("c");
    let mut spec = NetDevSpec::new(0, NetKind::Phys);
    spec.link = Some("ph0".into());
    spec.name = Some("eth0".into());
    spec.mtu = Some(1300);
    spec.up = true;
    spec.ipv4 = vec![parse_ipv4_address("k", "10.0.7.2/24").unwrap_or_else(|e| panic!("{e}"))];
    let cx = ctx(name);
    let cpath = c.path();
    let nic = h
        .run(|| {
            let nic = create_host_side(&spec, &cx)?;
            move_into_netns(&nic, Netns::Path(&cpath))?;
            Ok(nic)
        })
        .unwrap_or_else(|e| panic!("host side: {e}"));
    c.run(|| configure_in_netns(&spec, &nic))
        .unwrap_or_else(|e| panic!("container side: {e}"));
    let recs = phys_record::load_in(&phys_record::dir(), &cx.owner);
    assert_eq!(recs.len(), 1, "no host-side record: {recs:?}");
    assert_eq!(recs[0].name, "ph0");
    assert_eq!(recs[0].ifindex.to_string(), ifindex);
    (h, c, nic, ifindex)
}

fn alias_of(ns: &Ns, dev: &str) -> String {
    ns.sh(&format!("cat /sys/class/net/{dev}/ifalias"))
        .trim()
        .to_string()
}

#[test]
fn stop_returns_the_lent_device_not_one_wearing_its_tag() {
    require_root!();
    let (h, c, nic, ifindex) = lent("pa-stop");
    // The container moves our tag onto a device of its own and wipes it from eth0.
    let tag = alias_of(&c, "eth0");
    assert!(tag.starts_with("lxcrs|0|phys|ph0|"), "{tag}");
    c.sh(&format!(
        "ip link add decoy type veth peer name decoy2 && ip link set decoy alias '{tag}' && \
         ip link set eth0 alias ''"
    ));
    let cx = ctx("pa-stop");
    let cpath = c.path();
    h.run(|| teardown(&nic, &cx, Some(Netns::Path(&cpath))).map_err(|mut v| v.remove(0)))
        .unwrap_or_else(|e| panic!("teardown: {e}"));
    assert_eq!(
        h.sh("cat /sys/class/net/ph0/ifindex").trim(),
        ifindex,
        "another device came back as ph0; host: {:?}",
        h.links()
    );
    assert!(h.sh("ip -o link show ph0").contains("mtu 1450"));
    assert!(c.links().contains(&"decoy".to_string()), "{:?}", c.links());
    assert!(!c.links().contains(&"eth0".to_string()), "{:?}", c.links());
    assert!(phys_record::load_in(&phys_record::dir(), &cx.owner).is_empty());
}

/// After a crash the kernel hands the device back with whatever the container wrote on it.
fn crash_and_return(c: &Ns, h: &Ns, alias: &str) {
    c.sh(&format!(
        "ip link set eth0 down && ip link set eth0 name hacked && ip link set hacked alias '{alias}' && \
         ip link set hacked netns {}",
        h.name
    ));
}

#[test]
fn crash_cleanup_renames_from_the_record_not_the_tag() {
    require_root!();
    let (h, c, _nic, ifindex) = lent("pa-crash");
    let cx = ctx("pa-crash");
    crash_and_return(
        &c,
        &h,
        &format!("lxcrs|0|phys|lo2|{}", cx.owner), // "call it lo2"
    );
    h.run(|| cleanup_leftovers(&cx.owner).map_err(|mut v| v.remove(0)))
        .unwrap_or_else(|e| panic!("cleanup: {e}"));
    let links = h.links();
    assert!(links.contains(&"ph0".to_string()), "{links:?}");
    assert!(!links.contains(&"lo2".to_string()), "{links:?}");
    assert_eq!(h.sh("cat /sys/class/net/ph0/ifindex").trim(), ifindex);
    let l = h.sh("ip -o link show ph0");
    assert!(l.contains("mtu 1450"), "MTU not restored: {l}");
    assert_eq!(alias_of(&h, "ph0"), "", "tag left on ph0");
    assert!(phys_record::load_in(&phys_record::dir(), &cx.owner).is_empty());
}

#[test]
fn crash_cleanup_does_not_delete_a_lent_device_tagged_as_a_veth() {
    require_root!();
    let (h, c, _nic, ifindex) = lent("pa-forge");
    let cx = ctx("pa-forge");
    // A veth host end of ours would be deleted: the container dresses the device as one.
    crash_and_return(&c, &h, &format!("lxcrs|0|veth||{}", cx.owner));
    h.run(|| cleanup_leftovers(&cx.owner).map_err(|mut v| v.remove(0)))
        .unwrap_or_else(|e| panic!("cleanup: {e}"));
    let links = h.links();
    assert!(links.contains(&"ph0".to_string()), "{links:?}");
    assert!(links.contains(&"ph1".to_string()), "{links:?}");
    assert_eq!(h.sh("cat /sys/class/net/ph0/ifindex").trim(), ifindex);
}
