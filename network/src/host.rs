//! Host side: create a NIC's devices, move the container's device into its namespace.
//!
//! Every step that creates something records it in the [`HostNic`] being built; if a
//! later step fails, [`undo`] removes what was recorded, so a failed start leaves no
//! device, port or proxy entry behind.

use std::net::IpAddr;

use netlink_packet_route::link::LinkAttribute;

use crate::error::{NetError, Result};
use crate::kinds;
use crate::netlink::{Nl, NlError};
use crate::netns::Netns;
use crate::nic::{HostNic, NetContext, NicKind};
use crate::spec::{NetDevSpec, NetKind};
use crate::{ovs, rtnl, script};

pub(crate) fn open() -> Result<Nl> {
    Nl::open().map_err(NetError::nl("open a netlink socket"))
}

/// Create the host side of `spec` in the calling thread's network namespace: the veth
/// pair (attached to its bridge), or the macvlan/ipvlan/vlan device on its parent, or
/// check the phys device; set up routes and proxies; run `script.up`.
///
/// On error nothing created here is left behind.
pub fn create_host_side(spec: &NetDevSpec, ctx: &NetContext) -> Result<HostNic> {
    create_host_side_in(spec, ctx, None)
}

/// [`create_host_side`] for a container whose network namespace exists already (init
/// `pid`'s): the container end of a veth is created right there, as LXC does. Moving a
/// device between namespaces waits for RCU grace periods (~15 ms a device here), the
/// bulk of a veth's cost otherwise. [`move_into_netns`] then has nothing to do for it.
pub fn create_host_side_in(
    spec: &NetDevSpec,
    ctx: &NetContext,
    pid: Option<i32>,
) -> Result<HostNic> {
    spec.validate()?;
    let mut nl = open()?;
    let kind = match spec.kind {
        NetKind::Veth(_) => NicKind::Veth,
        NetKind::Macvlan(_) => NicKind::Macvlan,
        NetKind::Ipvlan { .. } => NicKind::Ipvlan,
        NetKind::Vlan { .. } => NicKind::Vlan,
        NetKind::Phys => NicKind::Phys,
        NetKind::Empty => NicKind::Empty,
        NetKind::None => NicKind::None,
    };
    let mut nic = HostNic::new(spec.index, kind, &ctx.owner);
    nic.link = spec.link.clone();
    nic.script_down = spec.script_down.clone();
    let built = match &spec.kind {
        NetKind::Veth(v) => kinds::veth::create(&mut nl, spec, v, &mut nic, pid),
        NetKind::Macvlan(_) | NetKind::Ipvlan { .. } | NetKind::Vlan { .. } => {
            kinds::virt::create(&mut nl, spec, &mut nic)
        }
        NetKind::Phys => kinds::phys::create(&mut nl, spec, &mut nic),
        NetKind::Empty | NetKind::None => Ok(()),
    }
    .and_then(|()| l2proxy(&mut nl, spec, &mut nic))
    .and_then(|()| match (&spec.script_up, spec.kind == NetKind::None) {
        (Some(s), false) => script::run(spec.key("script.up"), s, ctx, "up", &nic.script_args()),
        _ => Ok(()),
    });
    match built {
        Ok(()) => Ok(nic),
        Err(e) => {
            let _ = undo(&mut nl, &nic);
            Err(e)
        }
    }
}

/// `l2proxy`: neighbour proxy entries for the container's addresses on `link`, so
/// hosts on that segment can reach them. The kernel only answers for proxied
/// addresses when forwarding (and for IPv6 proxy_ndp) is on: check, and say how.
fn l2proxy(nl: &mut Nl, spec: &NetDevSpec, nic: &mut HostNic) -> Result<()> {
    if !spec.l2proxy || matches!(spec.kind, NetKind::None | NetKind::Empty) {
        return Ok(());
    }
    let Some(link_name) = spec.link.as_deref() else {
        return Err(NetError::invalid(
            spec.key("l2proxy"),
            "l2proxy needs lxc.net.N.link (the uplink)",
            None,
        ));
    };
    let link = rtnl::link_by_name(nl, link_name)
        .map_err(NetError::nl(format!("look up {link_name}")))?
        .ok_or_else(|| {
            NetError::invalid(
                spec.key("link"),
                format!("device {link_name} does not exist"),
                None,
            )
        })?;
    let root = std::path::Path::new(crate::sysctl::PROC_SYS);
    let mut need = Vec::new();
    if !spec.ipv4.is_empty() {
        need.push(crate::sysctl::conf(false, link_name, "forwarding"));
    }
    if !spec.ipv6.is_empty() {
        need.push(crate::sysctl::conf(true, link_name, "proxy_ndp"));
        need.push(crate::sysctl::conf(true, link_name, "forwarding"));
    }
    for rel in need {
        if crate::sysctl::read(root, &rel).ok().as_deref() != Some("1") {
            let name = rel.replace('/', ".");
            return Err(NetError::invalid(
                spec.key("l2proxy"),
                format!("{name} is not 1"),
                Some(format!("enable it (sysctl -w {name}=1) or set l2proxy = 0")),
            ));
        }
    }
    let addrs = spec
        .ipv4
        .iter()
        .map(|a| IpAddr::V4(a.net.ip()))
        .chain(spec.ipv6.iter().map(|a| IpAddr::V6(a.ip())));
    for addr in addrs {
        rtnl::add_neigh_proxy(nl, link.index, addr).map_err(NetError::nl(format!(
            "add a proxy entry for {addr} on {link_name}"
        )))?;
        nic.proxies.push(crate::nic::ProxyEntry {
            ifname: link_name.to_string(),
            addr,
        });
    }
    Ok(())
}

/// Remove what `create_host_side` made (in this namespace), collecting errors.
pub(crate) fn undo(nl: &mut Nl, nic: &HostNic) -> Vec<NetError> {
    let mut errs = Vec::new();
    for p in &nic.proxies {
        match rtnl::link_by_name(nl, &p.ifname) {
            Ok(Some(l)) => {
                if let Err(e) = rtnl::ignore_gone(rtnl::del_neigh_proxy(nl, l.index, p.addr)) {
                    errs.push(NetError::nl(format!(
                        "remove the proxy entry for {} on {}",
                        p.addr, p.ifname
                    ))(e));
                }
            }
            Ok(None) => {}
            Err(e) => errs.push(NetError::nl(format!("look up {}", p.ifname))(e)),
        }
    }
    if nic.ovs {
        if let (Some(br), Some(port)) = (&nic.link, &nic.host_ifname) {
            if let Err(e) = ovs::del_port(br, port) {
                errs.push(e);
            }
        }
    }
    let tag = nic.tag();
    let ours = [
        nic.host_ifname.as_deref(),
        if nic.kind == NicKind::Phys {
            None
        } else {
            nic.peer_ifname.as_deref()
        },
    ];
    let before = errs.len();
    for name in ours.into_iter().flatten() {
        if let Err(e) = delete_if_tagged(nl, name, &tag) {
            errs.push(e);
        }
    }
    // Gone (or never made): nothing for a later start to look for. Phys devices have
    // their own record, removed once the device is back.
    if nic.kind != NicKind::Phys && errs.len() == before {
        if let Err(e) =
            crate::nic_record::remove_in(&crate::nic_record::dir(), &nic.owner, nic.index)
        {
            errs.push(e);
        }
    }
    if let Some(p) = &nic.phys {
        // A phys device that never left: drop our tag.
        if let Ok(Some(l)) = rtnl::link_by_name(nl, &p.name) {
            if p.ifindex == 0 || l.index == p.ifindex {
                let _ = rtnl::set_link(nl, l.index, vec![LinkAttribute::IfAlias(String::new())]);
                if let Err(e) =
                    crate::phys_record::remove_in(&crate::phys_record::dir(), &nic.owner, nic.index)
                {
                    errs.push(e);
                }
            }
        }
    }
    errs
}

/// Delete device `name` if it carries `tag` (so a same-named device that is not ours,
/// e.g. after a name was reused, survives).
pub(crate) fn delete_if_tagged(nl: &mut Nl, name: &str, tag: &str) -> Result<()> {
    let Some(l) = rtnl::link_by_name(nl, name).map_err(NetError::nl(format!("look up {name}")))?
    else {
        return Ok(());
    };
    if l.alias.as_deref() != Some(tag) {
        return Ok(());
    }
    rtnl::ignore_gone(rtnl::del_link(nl, l.index)).map_err(NetError::nl(format!("delete {name}")))
}

/// Move the container's device of `nic` (veth peer, macvlan, ipvlan, vlan, phys) from
/// the calling thread's namespace into `target`. No-op for empty/none.
pub fn move_into_netns(nic: &HostNic, target: Netns<'_>) -> Result<()> {
    let Some(peer) = nic.peer_ifname.as_deref().filter(|_| !nic.peer_in_netns) else {
        return Ok(());
    };
    let mut nl = open()?;
    let link = rtnl::link_by_name(&mut nl, peer)
        .map_err(NetError::nl(format!("look up {peer}")))?
        .ok_or_else(|| NetError::Netlink {
            what: format!("find {peer} to move it into the container"),
            source: NlError::Kernel {
                errno: libc::ENODEV,
                msg: None,
            },
        })?;
    let fd;
    let attr = match target {
        Netns::Pid(pid) => LinkAttribute::NetNsPid(pid as u32),
        other => {
            fd = other.open()?;
            use std::os::fd::{AsFd, AsRawFd};
            LinkAttribute::NetNsFd(fd.as_fd().as_raw_fd())
        }
    };
    rtnl::set_link(&mut nl, link.index, vec![attr]).map_err(NetError::nl(format!(
        "move {peer} into {}",
        target.describe()
    )))
}
