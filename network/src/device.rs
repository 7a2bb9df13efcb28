//! `lxc-device add/del` for network interfaces: move an existing interface into a
//! running container's network namespace (optionally renamed) and back to the host.
//! As LXC does, the interface is brought down before the move; the kernel renames it
//! on arrival, so a name taken on the other side is reported before anything moves.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use netlink_packet_route::link::LinkAttribute;

use crate::error::{NetError, Result};
use crate::host::open;
use crate::netns::{current_netns, in_netns, Netns};
use crate::rtnl;

/// Whether the calling thread's namespace (`None`) or `ns` has an interface `name`.
pub fn has_interface(ns: Option<Netns<'_>>, name: &str) -> Result<bool> {
    let look = || -> Result<bool> {
        let mut nl = open()?;
        let l =
            rtnl::link_by_name(&mut nl, name).map_err(NetError::nl(format!("look up {name}")))?;
        Ok(l.is_some())
    };
    match ns {
        Some(ns) => in_netns(ns, look),
        None => look(),
    }
}

/// Move host interface `name` into `container`, named `newname` there (default: `name`).
pub fn attach_interface(name: &str, newname: Option<&str>, container: Netns<'_>) -> Result<()> {
    let target = newname.unwrap_or(name);
    check_free(Some(container), target, "the container")?;
    let fd = container.open()?;
    move_out(name, target, fd.as_fd(), "the container")
}

/// Move interface `name` out of `container` into the calling thread's namespace, named
/// `newname` on the host (default: `name`).
pub fn detach_interface(name: &str, newname: Option<&str>, container: Netns<'_>) -> Result<()> {
    let target = newname.unwrap_or(name);
    check_free(None, target, "the host")?;
    let host = current_netns()?;
    let hfd = host.as_fd();
    in_netns(container, move || move_out(name, target, hfd, "the host"))
}

fn check_free(ns: Option<Netns<'_>>, name: &str, side: &str) -> Result<()> {
    crate::names::check_ifname(name)
        .map_err(|p| NetError::Interface(format!("bad interface name {name:?}: {p}")))?;
    if has_interface(ns, name)? {
        return Err(NetError::Interface(format!(
            "{side} already has an interface named {name}; give another name as the last argument"
        )));
    }
    Ok(())
}

/// In the calling thread's namespace: bring `name` down and move it into `to` as `target`.
fn move_out(name: &str, target: &str, to: BorrowedFd<'_>, side: &str) -> Result<()> {
    let mut nl = open()?;
    let Some(l) =
        rtnl::link_by_name(&mut nl, name).map_err(NetError::nl(format!("look up {name}")))?
    else {
        return Err(NetError::Interface(format!(
            "no network interface named {name}"
        )));
    };
    if l.up {
        rtnl::set_up(&mut nl, l.index, false)
            .map_err(NetError::nl(format!("bring {name} down")))?;
    }
    rtnl::set_link(
        &mut nl,
        l.index,
        vec![
            LinkAttribute::NetNsFd(to.as_raw_fd()),
            LinkAttribute::IfName(target.to_string()),
        ],
    )
    .map_err(NetError::nl(format!("move {name} into {side} as {target}")))
}
