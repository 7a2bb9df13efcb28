//! veth: a pair whose host end is attached to a bridge (bridge mode) or routed to
//! (router mode); the other end goes into the container.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnetwork::IpNetwork;
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkInfo, LinkMessage,
};

use super::{create_error, record, tag_and_get};
use crate::error::{NetError, Result};
use crate::netlink::Nl;
use crate::nic::{HostNic, ResolvedGateway};
use crate::rtnl::{self, Link, Route};
use crate::spec::{Gateway, NetDevSpec, VethMode, VethSpec, VethVlan};
use crate::{names, ovs, sysctl};

pub(crate) fn create(
    nl: &mut Nl,
    spec: &NetDevSpec,
    v: &VethSpec,
    nic: &mut HostNic,
    netns_pid: Option<i32>,
) -> Result<()> {
    let bridge = match (&spec.link, v.mode) {
        (Some(link), VethMode::Bridge) => Some(find_bridge(nl, spec, link)?),
        _ => None,
    };
    let host_name = match &v.pair {
        Some(p) => {
            if rtnl::link_by_name(nl, p)
                .map_err(NetError::nl(format!("look up {p}")))?
                .is_some()
            {
                return Err(duplicate_pair(spec, p));
            }
            p.clone()
        }
        None => names::random_name("veth", 10),
    };
    let peer_name = names::random_name("veth", 10);
    // The container side inherits the link's MTU unless one is configured.
    let link_mtu = match &spec.link {
        Some(l) => rtnl::link_by_name(nl, l).ok().flatten().map(|l| l.mtu),
        None => None,
    };
    let mtu = spec.mtu.or(link_mtu);
    nic.mtu = mtu;

    let mut peer = LinkMessage::default();
    peer.attributes
        .push(LinkAttribute::IfName(peer_name.clone()));
    if let Some(pid) = netns_pid {
        peer.attributes.push(LinkAttribute::NetNsPid(pid as u32));
    }
    let mut m = LinkMessage::default();
    if let Some(n) = v.n_rxqueues {
        peer.attributes.push(LinkAttribute::NumRxQueues(n));
    }
    if let Some(n) = v.n_txqueues {
        peer.attributes.push(LinkAttribute::NumTxQueues(n));
    }
    m.attributes.push(LinkAttribute::IfName(host_name.clone()));
    m.attributes
        .push(LinkAttribute::Address(names::host_side_mac().to_vec()));
    if let Some(mtu) = mtu {
        m.attributes.push(LinkAttribute::Mtu(mtu));
        peer.attributes.push(LinkAttribute::Mtu(mtu));
    }
    m.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(InfoKind::Veth),
        LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
    ]));
    record(nic, &host_name, 0, "veth")?;
    rtnl::create_link(nl, m).map_err(|e| {
        if e.errno() == Some(libc::EEXIST) {
            duplicate_pair(spec, &host_name)
        } else {
            create_error(
                spec.key("type"),
                "veth",
                format!("create veth pair {host_name}/{peer_name}"),
            )(e)
        }
    })?;
    // From here on `undo` deletes both ends (deleting one end deletes the pair).
    nic.host_ifname = Some(host_name.clone());
    nic.peer_ifname = Some(peer_name.clone());
    nic.peer_in_netns = netns_pid.is_some();
    // Only the host end is tagged: deleting it removes the pair, and the container
    // should not see our bookkeeping.
    let host = tag_and_get(nl, &host_name, &nic.tag())?;
    record(nic, &host_name, host.index, "veth")?;

    if let Some(br) = &bridge {
        attach(nl, spec, v, nic, br, &host)?;
    }
    rtnl::set_up(nl, host.index, true).map_err(NetError::nl(format!("bring {host_name} up")))?;
    for r in v
        .ipv4_routes
        .iter()
        .map(|r| IpNetwork::V4(*r))
        .chain(v.ipv6_routes.iter().map(|r| IpNetwork::V6(*r)))
    {
        host_route(nl, &host, r, nic)?;
    }
    if v.mode == VethMode::Router {
        router_mode(nl, spec, &host, nic)?;
    }
    resolve_gateways(nl, spec, bridge.as_ref(), nic)
}

fn duplicate_pair(spec: &NetDevSpec, name: &str) -> NetError {
    NetError::invalid(
        spec.key("veth.pair"),
        format!("an interface named {name} already exists"),
        Some(format!("another container or a stale device uses it; choose another name or delete it (ip link del {name})")),
    )
}

/// The bridge named by `link`, checked to exist and to be a bridge.
fn find_bridge(nl: &mut Nl, spec: &NetDevSpec, name: &str) -> Result<Link> {
    let Some(l) = rtnl::link_by_name(nl, name).map_err(NetError::nl(format!("look up {name}")))?
    else {
        return Err(NetError::invalid(
            spec.key("link"),
            format!("bridge {name} does not exist"),
            Some(if name == "lxcbr0" {
                "bring up the default NAT network with `lxcrs-net up` (or enable lxcrs-net.service)"
                    .to_string()
            } else {
                format!(
                    "create it (ip link add {name} type bridge), or add it to /etc/lxcrs/lxc-net.toml and run `lxcrs-net up`"
                )
            }),
        ));
    };
    if l.is_bridge() {
        return Ok(l);
    }
    if l.is_ovs() {
        if !ovs::available() {
            return Err(NetError::invalid(
                spec.key("link"),
                format!("{name} is an Open vSwitch bridge but ovs-vsctl is not installed"),
                Some("install openvswitch-switch".into()),
            ));
        }
        return Ok(l);
    }
    let what = l
        .kind
        .clone()
        .map(|k| format!("a {k} device"))
        .unwrap_or_else(|| "a physical device".into());
    Err(NetError::invalid(
        spec.key("link"),
        format!("{name} is not a bridge but {what}"),
        Some("name a bridge, or use type macvlan or phys to use this device directly".into()),
    ))
}

fn attach(
    nl: &mut Nl,
    spec: &NetDevSpec,
    v: &VethSpec,
    nic: &mut HostNic,
    br: &Link,
    host: &Link,
) -> Result<()> {
    let port = &host.name;
    if br.is_ovs() {
        ovs::add_port(&br.name, port)?;
        nic.ovs = true;
        let untagged = match v.vlan_id {
            Some(VethVlan::Id(id)) => Some(id),
            _ => None,
        };
        if v.vlan_id == Some(VethVlan::None) && v.vlan_tagged_ids.is_empty() {
            return Err(NetError::invalid(
                spec.key("veth.vlan.id"),
                "none is not possible on Open vSwitch bridges without veth.vlan.tagged.id",
                None,
            ));
        }
        return ovs::set_port_vlan(port, untagged, &v.vlan_tagged_ids);
    }
    rtnl::set_link(nl, host.index, vec![LinkAttribute::Controller(br.index)])
        .map_err(NetError::nl(format!("attach {port} to bridge {}", br.name)))?;
    if v.vlan_id.is_none() && v.vlan_tagged_ids.is_empty() {
        return Ok(());
    }
    if !br.vlan_filtering {
        return Err(NetError::invalid(
            spec.key("veth.vlan.id"),
            format!("bridge {} has VLAN filtering off", br.name),
            Some(format!(
                "enable it (ip link set {} type bridge vlan_filtering 1)",
                br.name
            )),
        ));
    }
    if v.vlan_id.is_some() {
        // Replace the bridge's default untagged VLAN (1) on this port.
        let _ = rtnl::bridge_vlan_del(nl, host.index, 1);
    }
    if let Some(VethVlan::Id(id)) = v.vlan_id {
        rtnl::bridge_vlan_add(nl, host.index, id, true)
            .map_err(NetError::nl(format!("set untagged VLAN {id} on {port}")))?;
    }
    for id in &v.vlan_tagged_ids {
        rtnl::bridge_vlan_add(nl, host.index, *id, false)
            .map_err(NetError::nl(format!("add tagged VLAN {id} on {port}")))?;
    }
    Ok(())
}

fn host_route(nl: &mut Nl, host: &Link, dst: IpNetwork, nic: &mut HostNic) -> Result<()> {
    let r = Route {
        dst: Some(dst),
        gateway: None,
        oif: host.index,
        v6: dst.is_ipv6(),
        onlink: false,
    };
    match rtnl::add_route(nl, &r) {
        Ok(()) => {}
        Err(e) if e.errno() == Some(libc::EEXIST) => {}
        Err(e) => {
            return Err(NetError::nl(format!("add route {dst} dev {}", host.name))(
                e,
            ))
        }
    }
    nic.routes.push(dst);
    Ok(())
}

/// Router mode: the host routes the container's addresses to the host end, forwards for
/// it, and answers ARP/NDP for the container's gateways on the host end.
fn router_mode(nl: &mut Nl, spec: &NetDevSpec, host: &Link, nic: &mut HostNic) -> Result<()> {
    let root = std::path::Path::new(sysctl::PROC_SYS);
    if let Some(Gateway::Addr(gw)) = spec.ipv4_gateway {
        sysctl::write(root, &sysctl::conf(false, &host.name, "forwarding"), "1")?;
        rtnl::add_neigh_proxy(nl, host.index, IpAddr::V4(gw)).map_err(NetError::nl(format!(
            "add a proxy entry for {gw} on {}",
            host.name
        )))?;
    }
    if let Some(Gateway::Addr(gw)) = spec.ipv6_gateway {
        if sysctl::read(root, "net/ipv6/conf/all/forwarding")
            .ok()
            .as_deref()
            != Some("1")
        {
            return Err(NetError::invalid(
                spec.key("veth.mode"),
                "router mode with an IPv6 gateway needs net.ipv6.conf.all.forwarding = 1",
                Some("enable it (sysctl -w net.ipv6.conf.all.forwarding=1)".into()),
            ));
        }
        sysctl::write(root, &sysctl::conf(true, &host.name, "forwarding"), "1")?;
        sysctl::write(root, &sysctl::conf(true, &host.name, "proxy_ndp"), "1")?;
        rtnl::add_neigh_proxy(nl, host.index, IpAddr::V6(gw)).map_err(NetError::nl(format!(
            "add a proxy entry for {gw} on {}",
            host.name
        )))?;
    }
    for a in &spec.ipv4 {
        host_route(
            nl,
            host,
            IpNetwork::V4(ipnetwork::Ipv4Network::from(a.net.ip())),
            nic,
        )?;
    }
    for a in &spec.ipv6 {
        host_route(
            nl,
            host,
            IpNetwork::V6(ipnetwork::Ipv6Network::from(a.ip())),
            nic,
        )?;
    }
    Ok(())
}

/// `auto`: the bridge's address in one of the container's subnets, else its first one.
fn resolve_gateways(
    nl: &mut Nl,
    spec: &NetDevSpec,
    bridge: Option<&Link>,
    nic: &mut HostNic,
) -> Result<()> {
    nic.ipv4_gateway = spec.ipv4_gateway.map(|g| match g {
        Gateway::Addr(a) => ResolvedGateway::Addr(a),
        _ => ResolvedGateway::Dev,
    });
    nic.ipv6_gateway = spec.ipv6_gateway.map(|g| match g {
        Gateway::Addr(a) => ResolvedGateway::Addr(a),
        _ => ResolvedGateway::Dev,
    });
    let want4 = spec.ipv4_gateway == Some(Gateway::Auto);
    let want6 = spec.ipv6_gateway == Some(Gateway::Auto);
    if !want4 && !want6 {
        return Ok(());
    }
    // `validate` made sure auto only comes with a bridge-mode veth on a link.
    let Some(br) = bridge else { return Ok(()) };
    let addrs = rtnl::addrs(nl, Some(br.index))
        .map_err(NetError::nl(format!("read the addresses of {}", br.name)))?;
    if want4 {
        let cands: Vec<(Ipv4Addr, u8)> = addrs
            .iter()
            .filter_map(|a| match a.net {
                IpNetwork::V4(n) => Some((n.ip(), n.prefix())),
                _ => None,
            })
            .collect();
        let inside = cands.iter().find(|(ip, p)| {
            spec.ipv4
                .iter()
                .any(|c| ipnetwork::Ipv4Network::new(*ip, *p).is_ok_and(|n| n.contains(c.net.ip())))
        });
        let Some((gw, _)) = inside.or(cands.first()) else {
            return Err(NetError::invalid(
                spec.key("ipv4.gateway"),
                format!(
                    "auto needs an IPv4 address on bridge {}, which has none",
                    br.name
                ),
                Some(format!(
                    "add one (ip addr add 10.0.3.1/24 dev {}) or give the gateway address",
                    br.name
                )),
            ));
        };
        nic.ipv4_gateway = Some(ResolvedGateway::Addr(*gw));
    }
    if want6 {
        let cands: Vec<(Ipv6Addr, u8)> = addrs
            .iter()
            .filter_map(|a| match a.net {
                IpNetwork::V6(n) if a.scope == 0 => Some((n.ip(), n.prefix())),
                _ => None,
            })
            .collect();
        let inside = cands.iter().find(|(ip, p)| {
            spec.ipv6
                .iter()
                .any(|c| ipnetwork::Ipv6Network::new(*ip, *p).is_ok_and(|n| n.contains(c.ip())))
        });
        let Some((gw, _)) = inside.or(cands.first()) else {
            return Err(NetError::invalid(
                spec.key("ipv6.gateway"),
                format!(
                    "auto needs a global IPv6 address on bridge {}, which has none",
                    br.name
                ),
                Some("add one, or give the gateway address".into()),
            ));
        };
        nic.ipv6_gateway = Some(ResolvedGateway::Addr(*gw));
    }
    Ok(())
}
