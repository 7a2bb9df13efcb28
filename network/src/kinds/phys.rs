//! phys: a host device moved into the container, and back (with its name, MTU and MAC)
//! at stop.

use super::tag_and_get;
use crate::error::{NetError, Result};
use crate::netlink::Nl;
use crate::nic::{HostNic, PhysState, ResolvedGateway};
use crate::rtnl;
use crate::spec::{Gateway, NetDevSpec};

pub(crate) fn create(nl: &mut Nl, spec: &NetDevSpec, nic: &mut HostNic) -> Result<()> {
    let name = spec.link.as_deref().unwrap_or_default();
    let l = rtnl::link_by_name(nl, name)
        .map_err(NetError::nl(format!("look up {name}")))?
        .ok_or_else(|| {
            NetError::invalid(
                spec.key("link"),
                format!("device {name} does not exist"),
                Some("name an existing host interface (ip link show)".into()),
            )
        })?;
    if l.is_bridge() {
        return Err(NetError::invalid(
            spec.key("link"),
            format!("{name} is a bridge; a bridge cannot be given to a container as phys"),
            Some("use type veth with this link".into()),
        ));
    }
    if let Some(t) = l.alias.as_deref().and_then(crate::names::parse_tag) {
        if t.owner != nic.owner {
            return Err(NetError::invalid(
                spec.key("link"),
                format!("{name} is in use by another container ({})", t.owner),
                None,
            ));
        }
    }
    nic.phys = Some(PhysState {
        name: name.to_string(),
        mtu: l.mtu,
        mac: l.mac.clone(),
        ifindex: l.index,
        link_kind: l.kind.clone(),
    });
    nic.peer_ifname = Some(name.to_string());
    nic.mtu = spec.mtu;
    // Kept host-side before the device leaves: the tag on it is the container's to rewrite.
    if let Some(p) = &nic.phys {
        crate::phys_record::save_in(&crate::phys_record::dir(), &p.record(&nic.owner, nic.index))?;
    }
    tag_and_get(nl, name, &nic.tag())?;
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
