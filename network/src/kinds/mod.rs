//! One module per device type: the host-side creation, and the steps they share.

pub(crate) mod phys;
pub(crate) mod veth;
pub(crate) mod virt;

use netlink_packet_route::link::LinkAttribute;

use crate::error::{NetError, Result};
use crate::netlink::{Nl, NlError};
use crate::nic::HostNic;
use crate::nic_record::{self, NicRecord};
use crate::rtnl::{self, Link};

/// Map a kernel "unknown device type" answer to a clear message.
pub(crate) fn create_error(
    key: String,
    kind: &'static str,
    what: String,
) -> impl FnOnce(NlError) -> NetError {
    move |e| match e.errno() {
        Some(libc::EOPNOTSUPP) | Some(libc::EAFNOSUPPORT) | Some(libc::EPROTONOSUPPORT) => {
            NetError::Unsupported {
                key,
                kind,
                source: e,
            }
        }
        _ => NetError::Netlink { what, source: e },
    }
}

/// Looks up the device `name` just created and marks it ours with `tag` (its alias).
pub(crate) fn tag_and_get(nl: &mut Nl, name: &str, tag: &str) -> Result<Link> {
    let l = rtnl::link_by_name(nl, name)
        .map_err(NetError::nl(format!("look up {name}")))?
        .ok_or_else(|| {
            NetError::invalid(
                "lxc.net",
                format!("{name} vanished right after its creation"),
                None,
            )
        })?;
    rtnl::set_link(nl, l.index, vec![LinkAttribute::IfAlias(tag.to_string())])
        .map_err(NetError::nl(format!("tag {name}")))?;
    Ok(l)
}

/// Records that device `ifname` (`IFLA_INFO_KIND` `link_kind`) is, or is about to be,
/// created for `nic`: before the creation with `ifindex` 0, after it with the real one,
/// so a killed monitor's device is found without listing the host's interfaces.
pub(crate) fn record(nic: &HostNic, ifname: &str, ifindex: u32, link_kind: &str) -> Result<()> {
    nic_record::save_in(
        &nic_record::dir(),
        &NicRecord {
            owner: nic.owner.clone(),
            index: nic.index,
            kind: nic.kind.name().to_string(),
            ifname: ifname.to_string(),
            ifindex,
            link_kind: link_kind.to_string(),
        },
    )
}
