//! Container side: configure a NIC from inside the container's network namespace (run
//! by the container's child process, or on a thread that entered the namespace).

use std::net::IpAddr;

use ipnetwork::{IpNetwork, Ipv4Network, Ipv6Network};
use netlink_packet_route::link::LinkAttribute;

use crate::error::{NetError, Result};
use crate::host::open;
use crate::netlink::{Nl, NlError};
use crate::nic::{HostNic, NicKind, ResolvedGateway};
use crate::rtnl::{self, Route};
use crate::spec::{NetDevSpec, NetKind};
use crate::{names, rtnl::Link};

/// What the container's NIC ended up as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfiguredNic {
    pub name: String,
    pub ifindex: u32,
}

/// Bring loopback up (every new network namespace needs it; `empty` gets only this).
pub fn loopback_up() -> Result<()> {
    let mut nl = open()?;
    let lo = rtnl::link_by_name(&mut nl, "lo").map_err(NetError::nl("look up lo"))?;
    if let Some(lo) = lo {
        rtnl::set_up(&mut nl, lo.index, true).map_err(NetError::nl("bring lo up"))?;
    }
    Ok(())
}

/// Configure the device of `nic` in the calling thread's network namespace: rename it
/// (default `eth%d`), set MAC (templates resolved here), MTU, addresses, bring it up,
/// add the gateways; loopback up. Returns `None` for empty/none.
pub fn configure_in_netns(spec: &NetDevSpec, nic: &HostNic) -> Result<Option<ConfiguredNic>> {
    if nic.kind == NicKind::None || spec.kind == NetKind::None {
        return Ok(None);
    }
    loopback_up()?;
    let Some(transient) = nic.peer_ifname.as_deref() else {
        return Ok(None);
    };
    let mut nl = open()?;
    let dev = rtnl::link_by_name(&mut nl, transient)
        .map_err(NetError::nl(format!("look up {transient}")))?
        .ok_or_else(|| NetError::Netlink {
            what: format!("find {transient} in the container (was it moved in?)"),
            source: NlError::Kernel {
                errno: libc::ENODEV,
                msg: None,
            },
        })?;
    let index = dev.index;
    if dev.up {
        rtnl::set_up(&mut nl, index, false)
            .map_err(NetError::nl(format!("bring {transient} down")))?;
    }
    let want = spec.name.clone().unwrap_or_else(|| "eth%d".to_string());
    let mut attrs = vec![LinkAttribute::IfName(want.clone())];
    if let Some(hw) = &spec.hwaddr {
        let mac = names::resolve_hwaddr_random(hw)
            .map_err(|p| NetError::invalid(spec.key("hwaddr"), p, None))?;
        attrs.push(LinkAttribute::Address(mac.to_vec()));
    }
    if let Some(mtu) = nic.mtu {
        attrs.push(LinkAttribute::Mtu(mtu));
    }
    if nic.kind != NicKind::Phys {
        // Our bookkeeping tag is not the container's business.
        attrs.push(LinkAttribute::IfAlias(String::new()));
    }
    rtnl::set_link(&mut nl, index, attrs).map_err(|e| match e.errno() {
        Some(libc::EEXIST) => NetError::invalid(
            spec.key("name"),
            format!("two NICs are named {want} in the container"),
            Some("give each lxc.net.N.name a distinct value".into()),
        ),
        _ => NetError::nl(format!("rename {transient} to {want} and set its MAC/MTU"))(e),
    })?;
    let dev = rtnl::link_by_index(&mut nl, index)
        .map_err(NetError::nl(format!("look up {want}")))?
        .unwrap_or(Link {
            index,
            name: want,
            ..Link::default()
        });
    let name = dev.name.clone();

    for a in &spec.ipv4 {
        rtnl::add_addr(&mut nl, index, IpNetwork::V4(a.net), a.broadcast).map_err(NetError::nl(
            format!("add {}/{} to {name}", a.net.ip(), a.net.prefix()),
        ))?;
    }
    for a in &spec.ipv6 {
        rtnl::add_addr(&mut nl, index, IpNetwork::V6(*a), None).map_err(NetError::nl(format!(
            "add {}/{} to {name}",
            a.ip(),
            a.prefix()
        )))?;
    }
    if spec.up {
        rtnl::set_up(&mut nl, index, true).map_err(NetError::nl(format!("bring {name} up")))?;
    }
    if let Some(gw) = nic.ipv4_gateway {
        let on_link: Vec<IpNetwork> = spec.ipv4.iter().map(|a| IpNetwork::V4(a.net)).collect();
        let gw = match gw {
            ResolvedGateway::Dev => None,
            ResolvedGateway::Addr(a) => Some(IpAddr::V4(a)),
        };
        default_route(&mut nl, spec, index, &name, gw, &on_link, false)?;
    }
    if let Some(gw) = nic.ipv6_gateway {
        let on_link: Vec<IpNetwork> = spec.ipv6.iter().map(|a| IpNetwork::V6(*a)).collect();
        let gw = match gw {
            ResolvedGateway::Dev => None,
            ResolvedGateway::Addr(a) => Some(IpAddr::V6(a)),
        };
        default_route(&mut nl, spec, index, &name, gw, &on_link, true)?;
    }
    Ok(Some(ConfiguredNic {
        name,
        ifindex: index,
    }))
}

/// Default route through `gw` (or straight out of the device for `dev`). A gateway no
/// prefix covers gets a link-scope host route first, as LXC does.
fn default_route(
    nl: &mut Nl,
    spec: &NetDevSpec,
    oif: u32,
    name: &str,
    gw: Option<IpAddr>,
    on_link: &[IpNetwork],
    v6: bool,
) -> Result<()> {
    let field = if v6 { "ipv6.gateway" } else { "ipv4.gateway" };
    let covered = gw.is_none_or(|g| {
        on_link.iter().any(|n| n.contains(g))
            || matches!(g, IpAddr::V6(a) if (a.segments()[0] & 0xffc0) == 0xfe80)
    });
    if let (Some(g), false) = (gw, covered) {
        let host: IpNetwork = match g {
            IpAddr::V4(a) => IpNetwork::V4(Ipv4Network::from(a)),
            IpAddr::V6(a) => IpNetwork::V6(Ipv6Network::from(a)),
        };
        let r = Route {
            dst: Some(host),
            gateway: None,
            oif,
            v6,
            onlink: false,
        };
        match rtnl::add_route(nl, &r) {
            Ok(()) => {}
            Err(e) if e.errno() == Some(libc::EEXIST) => {}
            Err(e) => {
                return Err(NetError::nl(format!(
                    "add a route to gateway {g} on {name}"
                ))(e))
            }
        }
    }
    let r = Route {
        dst: None,
        gateway: gw,
        oif,
        v6,
        onlink: false,
    };
    rtnl::add_route(nl, &r).map_err(|e| {
        let what = match gw {
            Some(g) => format!("add the default route via {g} on {name}"),
            None => format!("add the default route on {name}"),
        };
        match e.errno() {
            Some(libc::EEXIST) => NetError::invalid(
                spec.key(field),
                "another NIC of this container already has a default route",
                Some("set a gateway on one NIC only".into()),
            ),
            _ => NetError::nl(what)(e),
        }
    })
}
