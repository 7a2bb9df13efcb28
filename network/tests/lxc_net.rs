//! The default NAT network in a test namespace: two bridges side by side, DHCP leases
//! from dnsmasq to busybox udhcpc in container namespaces, masquerade to an "outside"
//! namespace that has no route back, and a clean `down`.

mod common;

use common::{ctx, Ns};
use lxcrs_network::lxc_net::{self, Settings};
use lxcrs_network::{
    configure_in_netns, create_host_side, ips_of, move_into_netns, Gateway, NetDevSpec, NetKind,
    Netns, VethSpec,
};

fn have(cmd: &str) -> bool {
    std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {cmd}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn lxc_net_up_dhcp_nat_down() {
    require_root!();
    for tool in ["dnsmasq", "nft", "busybox"] {
        if !have(tool) {
            if std::env::var("LXCRS_REQUIRE_ROOT").as_deref() == Ok("1") {
                panic!("{tool} is not installed (apt-get install dnsmasq-base nftables busybox-static)");
            }
            eprintln!("SKIP: {tool} is not installed");
            return;
        }
    }
    let dir = std::env::temp_dir().join(format!("lxcrs-lxcnet-{}", std::process::id()));
    let settings = Settings::parse(&format!(
        "run_dir = \"{d}/run\"\nstate_dir = \"{d}/lib\"\n\
         [[bridge]]\nname = \"lxcbr0\"\nipv6 = \"fd00:3::1/64\"\ndhcp_ping = false\ndnsmasq_user = \"root\"\n\
         [[bridge]]\nname = \"lxcbr1\"\nipv4 = \"10.0.4.1/24\"\nipv6 = \"none\"\ndhcp_ping = false\ndnsmasq_user = \"root\"\n",
        d = dir.display()
    ))
    .unwrap_or_else(|e| panic!("{e}"));

    let h = Ns::new("host");
    // The "outside": reachable through an uplink, with no route back to 10.0.3.0/24.
    let world = Ns::new("world");
    h.sh(&format!(
        "ip link add up0 type veth peer name up1 && ip link set up1 netns {} && ip link set up0 up && \
         ip addr add 203.0.113.1/24 dev up0",
        world.name
    ));
    world.sh("ip link set up1 up && ip addr add 203.0.113.2/24 dev up1");

    h.run(|| {
        lxc_net::up(&settings, &[]).map_err(|e| lxcrs_network::NetError::Command {
            what: "up".into(),
            detail: e.to_string(),
        })
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let st = h.run(|| Ok(lxc_net::status(&settings))).unwrap_or_default();
    assert_eq!(st.len(), 2);
    assert!(
        st.iter()
            .all(|s| s.exists && s.dnsmasq_pid.is_some() && s.nat_table),
        "{st:?}"
    );
    assert!(h.sh("ip -o addr show lxcbr0").contains("10.0.3.1/24"));
    assert!(h.sh("ip -o addr show lxcbr0").contains("fd00:3::1/64"));
    assert!(h.sh("ip -o link show lxcbr0").contains("10:66:6a:00:00:00"));
    assert!(h.sh("ip -o addr show lxcbr1").contains("10.0.4.1/24"));
    let tables = h.sh("nft list tables");
    assert!(
        tables.contains("inet lxcrs-lxcbr0") && tables.contains("inet lxcrs-lxcbr1"),
        "{tables}"
    );
    // Bringing it up twice is refused with a hint.
    let again = h.run(|| {
        Ok(lxc_net::up(&settings, &["lxcbr0".into()])
            .err()
            .map(|e| e.to_string()))
    });
    assert!(again
        .ok()
        .flatten()
        .unwrap_or_default()
        .contains("already up"));

    // Containers without static addresses, on each bridge; they ask for a lease.
    let script = dir.join("udhcpc.sh");
    std::fs::write(&script, "#!/bin/sh\n[ \"$1\" = bound ] && ip addr add \"$ip/$mask\" dev \"$interface\" && ip route add default via \"$router\"\nexit 0\n")
        .unwrap_or_else(|e| panic!("{e}"));
    common::run_ok("chmod", &["+x", &script.to_string_lossy()]);
    let mut leases = Vec::new();
    let mut containers = Vec::new();
    for (i, br) in ["lxcbr0", "lxcbr1"].iter().enumerate() {
        let c = Ns::new(&format!("c{i}"));
        let mut spec = NetDevSpec::new(0, NetKind::Veth(VethSpec::default()));
        spec.link = Some(br.to_string());
        spec.up = true;
        spec.hwaddr = Some("10:66:6a:xx:xx:xx".into());
        let cx = ctx(&format!("dhcp{i}"));
        let cpath = c.path();
        let nic = h
            .run(|| {
                let nic = create_host_side(&spec, &cx)?;
                move_into_netns(&nic, Netns::Path(&cpath))?;
                Ok(nic)
            })
            .unwrap_or_else(|e| panic!("{e}"));
        c.run(|| configure_in_netns(&spec, &nic))
            .unwrap_or_else(|e| panic!("{e}"));
        let out = c.sh(&format!(
            "busybox udhcpc -i eth0 -n -q -t 5 -T 1 -s {}",
            script.display()
        ));
        let subnet = if i == 0 { "10.0.3." } else { "10.0.4." };
        assert!(
            out.contains(&format!("lease of {subnet}")),
            "no lease on {br}: {out}"
        );
        let ips = ips_of(Netns::Path(&cpath)).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            ips.iter()
                .any(|a| a.ifname == "eth0" && a.addr.to_string().starts_with(subnet)),
            "{ips:?}"
        );
        leases.push(
            std::fs::read_to_string(dir.join(format!("lib/dnsmasq-{br}.leases")))
                .unwrap_or_default(),
        );
        containers.push((c, nic, cx));
    }
    assert!(
        leases[0].contains("10.0.3.") && leases[1].contains("10.0.4."),
        "{leases:?}"
    );
    // Masquerade: the outside has no route to 10.0.3.0/24, so a reply means NAT works.
    assert!(
        containers[0].0.ping("203.0.113.2"),
        "container cannot reach the outside through NAT"
    );
    // Static gateway auto also works on the NAT bridge.
    let _ = Gateway::<std::net::Ipv4Addr>::Auto;

    for (c, nic, cx) in &containers {
        let p = c.path();
        h.run(|| {
            lxcrs_network::teardown(nic, cx, Some(Netns::Path(&p))).map_err(|mut v| v.remove(0))
        })
        .unwrap_or_else(|e| panic!("{e}"));
    }
    let pids: Vec<i32> = st.iter().filter_map(|s| s.dnsmasq_pid).collect();
    h.run(|| {
        lxc_net::down(&settings, &[]).map_err(|v| lxcrs_network::NetError::Command {
            what: "down".into(),
            detail: format!("{v:?}"),
        })
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(h.links(), vec!["lo", "up0"]);
    assert!(!h.sh("nft list tables").contains("lxcrs"));
    for p in pids {
        assert!(
            !std::path::Path::new(&format!("/proc/{p}")).exists(),
            "dnsmasq {p} still runs"
        );
    }
    assert!(!dir.join("run/dnsmasq-lxcbr0.pid").exists());
    let st = h.run(|| Ok(lxc_net::status(&settings))).unwrap_or_default();
    assert!(
        st.iter()
            .all(|s| !s.exists && s.dnsmasq_pid.is_none() && !s.nat_table),
        "{st:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn lxcrs_net_binary_up_status_down() {
    require_root!();
    if !have("dnsmasq") || !have("nft") {
        eprintln!("SKIP: dnsmasq or nft is not installed");
        return;
    }
    let dir = std::env::temp_dir().join(format!("lxcrs-lxcnet-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let conf = dir.join("lxc-net.toml");
    std::fs::write(
        &conf,
        format!("run_dir = \"{d}/run\"\nstate_dir = \"{d}/lib\"\n[[bridge]]\nname = \"lxcbr7\"\nipv4 = \"10.0.7.1/24\"\n", d = dir.display()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let h = Ns::new("host");
    let bin = env!("CARGO_BIN_EXE_lxcrs-net");
    let c = conf.display();
    h.sh(&format!("{bin} -c {c} up"));
    let st = h.sh(&format!("{bin} -c {c} status"));
    assert!(
        st.starts_with("lxcbr7: up (bridge present, dnsmasq pid "),
        "{st}"
    );
    h.sh(&format!("{bin} -c {c} down"));
    let (ok, st) = h.sh_status(&format!("{bin} -c {c} status"));
    assert!(!ok && st.starts_with("lxcbr7: down"), "{st}");
    let (ok, err) = h.sh_status(&format!("{bin} -c {c} sideways"));
    assert!(!ok && err.contains("usage: lxcrs-net"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
