//! Typed rtnetlink operations (links, addresses, routes, neighbour proxies, bridge VLANs)
//! over [`crate::netlink::Nl`]. Each function is one kernel request.

use std::net::{IpAddr, Ipv4Addr};

use ipnetwork::IpNetwork;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE};
use netlink_packet_route::{
    address::{AddressAttribute, AddressMessage, AddressScope},
    link::{
        AfSpecBridge, BridgeVlanInfo, BridgeVlanInfoFlags, InfoBridge, InfoData, InfoKind,
        LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
    },
    neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage},
    route::{
        RouteAddress, RouteAttribute, RouteFlags, RouteHeader, RouteMessage, RouteProtocol,
        RouteScope, RouteType,
    },
    AddressFamily, RouteNetlinkMessage as M,
};

use crate::netlink::{Nl, NlError, NlResult};

/// What we need to know about a network interface.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// `IFLA_INFO_KIND` ("veth", "bridge", "openvswitch", ...); `None` for plain hardware.
    pub kind: Option<String>,
    pub mtu: u32,
    pub up: bool,
    /// Index of the bridge (or bond) this link is a port of.
    pub master: Option<u32>,
    pub alias: Option<String>,
    pub mac: Vec<u8>,
    /// Bridge only: whether VLAN filtering is on.
    pub vlan_filtering: bool,
    pub stats: Option<LinkStats>,
}

/// Per-link traffic counters (as `lxc-info` prints them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_packets: u64,
    pub tx_packets: u64,
}

fn kind_name(k: &InfoKind) -> String {
    k.to_string()
}

impl Link {
    fn from_msg(m: LinkMessage) -> Link {
        let mut l = Link {
            index: m.header.index,
            up: m.header.flags.contains(LinkFlags::Up),
            ..Link::default()
        };
        for a in m.attributes {
            match a {
                LinkAttribute::IfName(n) => l.name = n,
                LinkAttribute::Mtu(v) => l.mtu = v,
                LinkAttribute::Controller(i) if i != 0 => l.master = Some(i),
                LinkAttribute::IfAlias(s) => l.alias = Some(s),
                LinkAttribute::Address(a) => l.mac = a,
                LinkAttribute::Stats64(s) => {
                    l.stats = Some(LinkStats {
                        rx_bytes: s.rx_bytes,
                        tx_bytes: s.tx_bytes,
                        rx_packets: s.rx_packets,
                        tx_packets: s.tx_packets,
                    })
                }
                LinkAttribute::LinkInfo(infos) => {
                    for i in infos {
                        match i {
                            LinkInfo::Kind(k) => l.kind = Some(kind_name(&k)),
                            LinkInfo::Data(InfoData::Bridge(b)) => {
                                l.vlan_filtering = b
                                    .iter()
                                    .any(|x| matches!(x, InfoBridge::VlanFiltering(true)))
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        l
    }

    pub fn is_bridge(&self) -> bool {
        self.kind.as_deref() == Some("bridge")
    }

    pub fn is_ovs(&self) -> bool {
        self.kind.as_deref() == Some("openvswitch")
    }
}

fn link_msg(index: u32) -> LinkMessage {
    let mut m = LinkMessage::default();
    m.header.index = index;
    m
}

/// Look an interface up by name; `None` when it does not exist.
pub fn link_by_name(nl: &mut Nl, name: &str) -> NlResult<Option<Link>> {
    let mut m = link_msg(0);
    m.attributes.push(LinkAttribute::IfName(name.to_string()));
    match nl.get(M::GetLink(m)) {
        Ok(Some(M::NewLink(l))) => Ok(Some(Link::from_msg(l))),
        Ok(_) => Ok(None),
        Err(e) if matches!(e.errno(), Some(libc::ENODEV)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Look an interface up by index.
pub fn link_by_index(nl: &mut Nl, index: u32) -> NlResult<Option<Link>> {
    match nl.get(M::GetLink(link_msg(index))) {
        Ok(Some(M::NewLink(l))) => Ok(Some(Link::from_msg(l))),
        Ok(_) => Ok(None),
        Err(e) if matches!(e.errno(), Some(libc::ENODEV)) => Ok(None),
        Err(e) => Err(e),
    }
}

thread_local! {
    static LINK_DUMPS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// How many times this thread listed every interface ([`links`]): the tests check that
/// a path does not (with hundreds of containers that dump dominated a start).
pub fn link_dumps_on_this_thread() -> usize {
    LINK_DUMPS.with(|c| c.get())
}

/// Every interface of this network namespace.
pub fn links(nl: &mut Nl) -> NlResult<Vec<Link>> {
    LINK_DUMPS.with(|c| c.set(c.get() + 1));
    Ok(nl
        .dump(M::GetLink(link_msg(0)))?
        .into_iter()
        .filter_map(|m| match m {
            M::NewLink(l) => Some(Link::from_msg(l)),
            _ => None,
        })
        .collect())
}

/// Create a link from a prepared message (fails if the name is taken).
pub fn create_link(nl: &mut Nl, m: LinkMessage) -> NlResult<()> {
    nl.request(M::NewLink(m), NLM_F_CREATE | NLM_F_EXCL)
}

/// Change attributes of an existing link.
pub fn set_link(nl: &mut Nl, index: u32, attrs: Vec<LinkAttribute>) -> NlResult<()> {
    let mut m = link_msg(index);
    m.attributes = attrs;
    nl.request(M::SetLink(m), 0)
}

/// Bring a link up or down.
pub fn set_up(nl: &mut Nl, index: u32, up: bool) -> NlResult<()> {
    let mut m = link_msg(index);
    if up {
        m.header.flags |= LinkFlags::Up;
    }
    m.header.change_mask |= LinkFlags::Up;
    nl.request(M::SetLink(m), 0)
}

pub fn del_link(nl: &mut Nl, index: u32) -> NlResult<()> {
    nl.request(M::DelLink(link_msg(index)), 0)
}

/// An address on an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Addr {
    pub index: u32,
    pub net: IpNetwork,
    pub scope: u8,
}

/// Addresses of this namespace, optionally of one interface only.
pub fn addrs(nl: &mut Nl, index: Option<u32>) -> NlResult<Vec<Addr>> {
    let mut out = Vec::new();
    for m in nl.dump(M::GetAddress(AddressMessage::default()))? {
        let M::NewAddress(a) = m else { continue };
        if index.is_some_and(|i| i != a.header.index) {
            continue;
        }
        // IFA_LOCAL is the interface's own address on point-to-point links; prefer it.
        let mut ip = None;
        for attr in &a.attributes {
            match attr {
                AddressAttribute::Local(x) => ip = Some(*x),
                AddressAttribute::Address(x) if ip.is_none() => ip = Some(*x),
                _ => {}
            }
        }
        let Some(ip) = ip else { continue };
        let Ok(net) = IpNetwork::new(ip, a.header.prefix_len) else {
            continue;
        };
        out.push(Addr {
            index: a.header.index,
            net,
            scope: u8::from(a.header.scope),
        });
    }
    Ok(out)
}

/// Add an address; IPv4 gets a broadcast address (explicit or computed).
pub fn add_addr(
    nl: &mut Nl,
    index: u32,
    net: IpNetwork,
    broadcast: Option<Ipv4Addr>,
) -> NlResult<()> {
    let mut m = AddressMessage::default();
    m.header.index = index;
    m.header.prefix_len = net.prefix();
    m.header.scope = AddressScope::Universe;
    match net {
        IpNetwork::V4(v4) => {
            m.header.family = AddressFamily::Inet;
            m.attributes
                .push(AddressAttribute::Local(IpAddr::V4(v4.ip())));
            m.attributes
                .push(AddressAttribute::Address(IpAddr::V4(v4.ip())));
            let bcast = broadcast.or_else(|| (v4.prefix() < 31).then(|| v4.broadcast()));
            if let Some(b) = bcast {
                m.attributes.push(AddressAttribute::Broadcast(b));
            }
        }
        IpNetwork::V6(v6) => {
            m.header.family = AddressFamily::Inet6;
            m.attributes
                .push(AddressAttribute::Local(IpAddr::V6(v6.ip())));
            m.attributes
                .push(AddressAttribute::Address(IpAddr::V6(v6.ip())));
        }
    }
    nl.request(M::NewAddress(m), NLM_F_CREATE | NLM_F_EXCL)
}

/// A route to add or delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// Destination; `None` = default route of `family_v6`'s family.
    pub dst: Option<IpNetwork>,
    pub gateway: Option<IpAddr>,
    pub oif: u32,
    pub v6: bool,
    /// Gateway reachable on the link although no prefix covers it.
    pub onlink: bool,
}

fn route_msg(r: &Route) -> RouteMessage {
    let mut m = RouteMessage::default();
    let h: &mut RouteHeader = &mut m.header;
    h.address_family = if r.v6 {
        AddressFamily::Inet6
    } else {
        AddressFamily::Inet
    };
    h.table = RouteHeader::RT_TABLE_MAIN;
    h.protocol = RouteProtocol::Boot;
    h.kind = RouteType::Unicast;
    h.scope = if r.gateway.is_some() {
        RouteScope::Universe
    } else {
        RouteScope::Link
    };
    if r.onlink {
        h.flags |= RouteFlags::Onlink;
    }
    if let Some(dst) = r.dst {
        h.destination_prefix_length = dst.prefix();
        m.attributes
            .push(RouteAttribute::Destination(RouteAddress::from(
                dst.network(),
            )));
    }
    if let Some(gw) = r.gateway {
        m.attributes
            .push(RouteAttribute::Gateway(RouteAddress::from(gw)));
    }
    m.attributes.push(RouteAttribute::Oif(r.oif));
    m
}

pub fn add_route(nl: &mut Nl, r: &Route) -> NlResult<()> {
    nl.request(M::NewRoute(route_msg(r)), NLM_F_CREATE | NLM_F_EXCL)
}

fn neigh_proxy_msg(index: u32, addr: IpAddr) -> NeighbourMessage {
    let mut m = NeighbourMessage::default();
    m.header.ifindex = index;
    m.header.flags = NeighbourFlags::Proxy;
    m.header.family = if addr.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    m.attributes
        .push(NeighbourAttribute::Destination(match addr {
            IpAddr::V4(a) => NeighbourAddress::Inet(a),
            IpAddr::V6(a) => NeighbourAddress::Inet6(a),
        }));
    m
}

/// `ip neigh add proxy ADDR dev IF`.
pub fn add_neigh_proxy(nl: &mut Nl, index: u32, addr: IpAddr) -> NlResult<()> {
    nl.request(
        M::NewNeighbour(neigh_proxy_msg(index, addr)),
        NLM_F_CREATE | NLM_F_REPLACE,
    )
}

pub fn del_neigh_proxy(nl: &mut Nl, index: u32, addr: IpAddr) -> NlResult<()> {
    nl.request(M::DelNeighbour(neigh_proxy_msg(index, addr)), 0)
}

fn bridge_vlan_msg(port: u32, vid: u16, flags: BridgeVlanInfoFlags) -> LinkMessage {
    let mut m = link_msg(port);
    m.header.interface_family = AddressFamily::Bridge;
    m.attributes
        .push(LinkAttribute::AfSpecBridge(vec![AfSpecBridge::VlanInfo(
            BridgeVlanInfo { flags, vid },
        )]));
    m
}

/// `bridge vlan add vid VID dev PORT [pvid untagged]`.
pub fn bridge_vlan_add(nl: &mut Nl, port: u32, vid: u16, untagged_pvid: bool) -> NlResult<()> {
    let flags = if untagged_pvid {
        BridgeVlanInfoFlags::Pvid | BridgeVlanInfoFlags::Untagged
    } else {
        BridgeVlanInfoFlags::empty()
    };
    nl.request(M::SetLink(bridge_vlan_msg(port, vid, flags)), 0)
}

/// `bridge vlan del vid VID dev PORT`.
pub fn bridge_vlan_del(nl: &mut Nl, port: u32, vid: u16) -> NlResult<()> {
    nl.request(
        M::DelLink(bridge_vlan_msg(port, vid, BridgeVlanInfoFlags::empty())),
        0,
    )
}

/// Map "no such device" answers to `Ok(())`: teardown of something already gone.
pub fn ignore_gone(r: NlResult<()>) -> NlResult<()> {
    match r {
        Err(NlError::Kernel { errno, .. })
            if errno == libc::ENODEV || errno == libc::ENOENT || errno == libc::ESRCH =>
        {
            Ok(())
        }
        other => other,
    }
}
