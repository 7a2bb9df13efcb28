//! Teardown at stop, and clean-up of devices a killed monitor left behind. Both carry on
//! past failures and return every error.

use std::os::fd::{AsFd, AsRawFd};

use netlink_packet_route::link::LinkAttribute;

use crate::error::{NetError, Result};
use crate::host::{open, undo};
use crate::names::{self, Tag};
use crate::netlink::Nl;
use crate::netns::{current_netns, in_netns, Netns};
use crate::nic::{HostNic, NetContext, NicKind, PhysState};
use crate::phys_record;
use crate::rtnl;
use crate::script;

/// Tear down one NIC from the host's network namespace (the calling thread's): run
/// `script.down`, give a `phys` device back (from `container`, the container's network
/// namespace, which must still be alive for that), delete the host end of a veth and
/// any device still on the host, remove OVS ports and proxy entries.
pub fn teardown(
    nic: &HostNic,
    ctx: &NetContext,
    container: Option<Netns<'_>>,
) -> Result<(), Vec<NetError>> {
    let mut errs = Vec::new();
    if nic.kind == NicKind::None {
        return Ok(());
    }
    if let Some(s) = &nic.script_down {
        if let Err(e) = script::run(nic.key("script.down"), s, ctx, "down", &nic.script_args()) {
            errs.push(e);
        }
    }
    if let Some(p) = &nic.phys {
        if let Err(e) = return_phys(nic, p, container) {
            errs.push(e);
        }
    }
    match open() {
        Ok(mut nl) => errs.extend(undo(&mut nl, nic)),
        Err(e) => errs.push(e),
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs)
    }
}

/// Move a phys device from the container's namespace back to ours, under its original
/// name, and restore its MTU and MAC.
fn return_phys(nic: &HostNic, p: &PhysState, container: Option<Netns<'_>>) -> Result<()> {
    let tag = nic.tag();
    if let Some(ns) = container {
        let host_ns = current_netns()?;
        let host_fd = host_ns.as_fd();
        let name = p.name.clone();
        let tag2 = tag.clone();
        let p2 = p.clone();
        in_netns(ns, move || {
            let mut nl = open()?;
            let found = rtnl::links(&mut nl)
                .map_err(NetError::nl("list the container's interfaces"))?
                .into_iter()
                .find(|l| is_lent_device(l, &p2, &tag2));
            let Some(dev) = found else { return Ok(()) };
            rtnl::set_up(&mut nl, dev.index, false)
                .map_err(NetError::nl(format!("bring {} down", dev.name)))?;
            // Move and rename in one request: the kernel renames on arrival, so a name
            // the container gave it (eth0) cannot clash with a host device.
            rtnl::set_link(
                &mut nl,
                dev.index,
                vec![
                    LinkAttribute::NetNsFd(host_fd.as_raw_fd()),
                    LinkAttribute::IfName(name.clone()),
                ],
            )
            .map_err(NetError::nl(format!(
                "move {} back to the host as {name}",
                dev.name
            )))
        })?;
    }
    let mut nl = open()?;
    restore_phys(&mut nl, &tag, p)?;
    phys_record::remove_in(&phys_record::dir(), &nic.owner, nic.index)
}

/// Whether `l` is the phys device `p`: by its ifindex and kind, which the container cannot
/// change; by our tag only for a state recorded before the ifindex was.
fn is_lent_device(l: &rtnl::Link, p: &PhysState, tag: &str) -> bool {
    if p.ifindex != 0 {
        l.index == p.ifindex && l.kind == p.link_kind
    } else {
        l.alias.as_deref() == Some(tag)
    }
}

/// Give a phys device that is on the host (returned by us or by the kernel when the
/// container's namespace died) its name, MTU and MAC back, and drop our tag.
fn restore_phys(nl: &mut Nl, tag: &str, p: &PhysState) -> Result<()> {
    let links = rtnl::links(nl).map_err(NetError::nl("list interfaces"))?;
    let Some(dev) = links.into_iter().find(|l| is_lent_device(l, p, tag)) else {
        return if rtnl::link_by_name(nl, &p.name).ok().flatten().is_some() {
            Ok(())
        } else {
            Err(NetError::invalid(
                "lxc.net",
                format!("phys device {} did not come back to the host", p.name),
                Some("check `ip link` in the container's namespace; it may have been renamed or deleted".into()),
            ))
        };
    };
    if dev.name != p.name {
        if dev.up {
            let _ = rtnl::set_up(nl, dev.index, false);
        }
        rtnl::set_link(nl, dev.index, vec![LinkAttribute::IfName(p.name.clone())]).map_err(
            NetError::nl(format!("rename {} back to {}", dev.name, p.name)),
        )?;
    }
    let mut attrs = vec![LinkAttribute::IfAlias(String::new())];
    if dev.mtu != p.mtu && p.mtu != 0 {
        attrs.push(LinkAttribute::Mtu(p.mtu));
    }
    if !p.mac.is_empty() && dev.mac != p.mac {
        attrs.push(LinkAttribute::Address(p.mac.clone()));
    }
    rtnl::set_link(nl, dev.index, attrs).map_err(NetError::nl(format!("restore {}", p.name)))
}

/// A device of ours found on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    pub ifname: String,
    pub tag: Tag,
}

/// Devices in the calling thread's namespace tagged as created for container `owner`
/// (see [`NetContext::owner`]). After a crashed monitor these are host veth ends, devices
/// never moved in, and phys devices the kernel handed back under another name.
///
/// This lists every interface of the namespace with all its attributes: a diagnostic
/// (and the tests' check). [`cleanup_leftovers`] does not use it.
pub fn find_leftovers(owner: &str) -> Result<Vec<Leftover>> {
    let mut nl = open()?;
    let links = rtnl::links(&mut nl).map_err(NetError::nl("list interfaces"))?;
    Ok(links
        .into_iter()
        .filter_map(|l| {
            let tag = names::parse_tag(l.alias.as_deref()?)?;
            (tag.owner == owner).then_some(Leftover {
                ifname: l.name,
                tag,
            })
        })
        .collect())
}

/// Remove what a killed monitor of container `owner` left behind, from the host-side
/// records only ([`crate::nic_record`], [`phys_record`]): delete created devices, rename
/// phys devices back. Each recorded device is looked up by name and deleted only if its
/// ifindex, kind and tag all match the record; no record, no netlink at all. Use
/// [`teardown`] with the recorded [`HostNic`] when there is one (it also knows OVS ports,
/// proxy entries and the down script).
pub fn cleanup_leftovers(owner: &str) -> Result<(), Vec<NetError>> {
    let ndir = crate::nic_record::dir();
    let created = crate::nic_record::load_in(&ndir, owner);
    let dir = phys_record::dir();
    let lent_here = phys_record::load_in(&dir, owner);
    if created.is_empty() && lent_here.is_empty() {
        return Ok(());
    }
    let mut nl = open().map_err(|e| vec![e])?;
    let mut errs = Vec::new();
    // Phys devices: from the host-side records only. A tag on a returned device was
    // written (or rewritten) by the container and is not believed.
    for rec in lent_here {
        let p = PhysState {
            name: rec.name.clone(),
            mtu: rec.mtu,
            mac: rec.mac.clone(),
            ifindex: rec.ifindex,
            link_kind: rec.link_kind.clone(),
        };
        let present = rtnl::link_by_index(&mut nl, rec.ifindex)
            .ok()
            .flatten()
            .is_some_and(|l| is_lent_device(&l, &p, ""));
        if !present {
            // Still in a live container namespace, or gone: nothing to do on the host yet.
            continue;
        }
        match restore_phys(&mut nl, "", &p) {
            Ok(()) => {
                if let Err(e) = phys_record::remove_in(&dir, owner, rec.index) {
                    errs.push(e);
                }
            }
            Err(e) => errs.push(e),
        }
    }
    let lent = phys_record::all_lent_in(&dir);
    for rec in created {
        match leftover_of(&mut nl, &rec, &lent) {
            Ok(Some(index)) => {
                if let Err(e) = rtnl::ignore_gone(rtnl::del_link(&mut nl, index)) {
                    errs.push(NetError::nl(format!("delete {}", rec.ifname))(e));
                    continue;
                }
            }
            Ok(None) => {}
            Err(e) => {
                errs.push(e);
                continue;
            }
        }
        if let Err(e) = crate::nic_record::remove_in(&ndir, owner, rec.index) {
            errs.push(e);
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs)
    }
}

/// The ifindex of the device `rec` names if it is still there and still the one we made:
/// same name, `IFLA_INFO_KIND` and tag, same ifindex when the record has it, and not a
/// lent phys device (which comes back with whatever the container wrote on it).
fn leftover_of(
    nl: &mut Nl,
    rec: &crate::nic_record::NicRecord,
    lent: &[(u32, Option<String>)],
) -> Result<Option<u32>> {
    let Some(l) = rtnl::link_by_name(nl, &rec.ifname)
        .map_err(NetError::nl(format!("look up {}", rec.ifname)))?
    else {
        return Ok(None);
    };
    let tag = names::tag(&rec.owner, rec.index, &rec.kind, None);
    let ours = l.alias.as_deref() == Some(tag.as_str())
        && l.kind.as_deref() == Some(rec.link_kind.as_str())
        && (rec.ifindex == 0 || l.index == rec.ifindex)
        && !lent.contains(&(l.index, l.kind.clone()));
    Ok(ours.then_some(l.index))
}
