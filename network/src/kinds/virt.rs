//! macvlan, ipvlan and vlan: one device on a parent (`link`), created on the host and
//! moved into the container whole. Nothing stays on the host.

use netlink_packet_route::link::{
    InfoData, InfoIpVlan, InfoKind, InfoMacVlan, InfoVlan, IpVlanFlags, IpVlanMode, LinkAttribute,
    LinkInfo, LinkMessage, MacVlanMode,
};

use super::{create_error, record, tag_and_get};
use crate::error::{NetError, Result};
use crate::netlink::Nl;
use crate::nic::{HostNic, ResolvedGateway};
use crate::spec::{
    Gateway, IpvlanIsolation, IpvlanMode as Mode, MacvlanMode as MMode, NetDevSpec, NetKind,
};
use crate::{names, rtnl};

pub(crate) fn create(nl: &mut Nl, spec: &NetDevSpec, nic: &mut HostNic) -> Result<()> {
    let parent_name = spec.link.as_deref().unwrap_or_default();
    let parent = rtnl::link_by_name(nl, parent_name)
        .map_err(NetError::nl(format!("look up {parent_name}")))?
        .ok_or_else(|| {
            NetError::invalid(
                spec.key("link"),
                format!("parent device {parent_name} does not exist"),
                Some("name an existing host interface (ip link show)".into()),
            )
        })?;
    let (kind_name, name, info) = match spec.kind {
        NetKind::Macvlan(mode) => {
            let mode = match mode {
                MMode::Private => MacVlanMode::Private,
                MMode::Vepa => MacVlanMode::Vepa,
                MMode::Bridge => MacVlanMode::Bridge,
                MMode::Passthru => MacVlanMode::Passthrough,
            };
            (
                "macvlan",
                names::random_name("mc", 8),
                vec![
                    LinkInfo::Kind(InfoKind::MacVlan),
                    LinkInfo::Data(InfoData::MacVlan(vec![InfoMacVlan::Mode(mode)])),
                ],
            )
        }
        NetKind::Ipvlan { mode, isolation } => {
            let mode = match mode {
                Mode::L2 => IpVlanMode::L2,
                Mode::L3 => IpVlanMode::L3,
                Mode::L3s => IpVlanMode::L3S,
            };
            let flags = match isolation {
                IpvlanIsolation::Bridge => IpVlanFlags::empty(),
                IpvlanIsolation::Private => IpVlanFlags::Private,
                IpvlanIsolation::Vepa => IpVlanFlags::Vepa,
            };
            (
                "ipvlan",
                names::random_name("ip", 8),
                vec![
                    LinkInfo::Kind(InfoKind::IpVlan),
                    LinkInfo::Data(InfoData::IpVlan(vec![
                        InfoIpVlan::Mode(mode),
                        InfoIpVlan::Flags(flags),
                    ])),
                ],
            )
        }
        NetKind::Vlan { id } => (
            "vlan",
            format!("vlan{id}-{}", names::random_name("", 4)),
            vec![
                LinkInfo::Kind(InfoKind::Vlan),
                LinkInfo::Data(InfoData::Vlan(vec![InfoVlan::Id(id)])),
            ],
        ),
        _ => return Ok(()),
    };
    let mut m = LinkMessage::default();
    m.attributes.push(LinkAttribute::IfName(name.clone()));
    m.attributes.push(LinkAttribute::Link(parent.index));
    if let Some(mtu) = spec.mtu {
        m.attributes.push(LinkAttribute::Mtu(mtu));
    }
    m.attributes.push(LinkAttribute::LinkInfo(info));
    let kind_static: &'static str = kind_name;
    record(nic, &name, 0, kind_name)?;
    rtnl::create_link(nl, m).map_err(create_error(
        spec.key("type"),
        kind_static,
        format!("create {kind_name} device {name} on {parent_name}"),
    ))?;
    nic.peer_ifname = Some(name.clone());
    let dev = tag_and_get(nl, &name, &nic.tag())?;
    record(nic, &name, dev.index, kind_name)?;
    nic.mtu = spec.mtu;
    nic.ipv4_gateway = spec.ipv4_gateway.map(|g| match g {
        Gateway::Addr(a) => ResolvedGateway::Addr(a),
        _ => ResolvedGateway::Dev,
    });
    nic.ipv6_gateway = spec.ipv6_gateway.map(|g| match g {
        Gateway::Addr(a) => ResolvedGateway::Addr(a),
        _ => ResolvedGateway::Dev,
    });
    Ok(())
}
