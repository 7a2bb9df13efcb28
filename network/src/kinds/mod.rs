//! One module per device type: the host-side creation, and the steps they share.

pub(crate) mod phys;
pub(crate) mod veth;
pub(crate) mod virt;

use netlink_packet_route::link::LinkAttribute;

use crate::error::{NetError, Result};
use crate::netlink::{Nl, NlError};
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
