//! What `lxc-info` and `lxc-ls -f` show: a container's addresses and per-link counters.

use std::net::IpAddr;

use crate::error::{NetError, Result};
use crate::host::open;
use crate::netns::{in_netns, Netns};
use crate::rtnl;
pub use crate::rtnl::LinkStats;

/// One address of a container interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NicAddr {
    pub ifname: String,
    pub addr: IpAddr,
    pub prefix: u8,
}

/// Global-scope addresses of every interface but loopback in `ns` (static ones and
/// those the container got by DHCP/SLAAC), in interface order.
pub fn ips_of(ns: Netns<'_>) -> Result<Vec<NicAddr>> {
    in_netns(ns, || {
        let mut nl = open()?;
        let links = rtnl::links(&mut nl).map_err(NetError::nl("list interfaces"))?;
        let addrs = rtnl::addrs(&mut nl, None).map_err(NetError::nl("list addresses"))?;
        let mut out = Vec::new();
        for l in &links {
            if l.name == "lo" || l.kind.as_deref() == Some("loopback") {
                continue;
            }
            for a in addrs.iter().filter(|a| a.index == l.index && a.scope == 0) {
                out.push(NicAddr {
                    ifname: l.name.clone(),
                    addr: a.net.ip(),
                    prefix: a.net.prefix(),
                });
            }
        }
        Ok(out)
    })
}

/// Counters of interface `ifname`, in `ns` or (for `None`) in the calling thread's
/// namespace, where the host ends of veth pairs are. `None` if there is no such link.
pub fn link_stats(ns: Option<Netns<'_>>, ifname: &str) -> Result<Option<LinkStats>> {
    let get = || -> Result<Option<LinkStats>> {
        let mut nl = open()?;
        let l = rtnl::link_by_name(&mut nl, ifname)
            .map_err(NetError::nl(format!("look up {ifname}")))?;
        Ok(l.map(|l| l.stats.unwrap_or_default()))
    };
    match ns {
        Some(ns) => in_netns(ns, get),
        None => get(),
    }
}
