//! A running container's addresses, interfaces and link counters, as the tools show
//! them: read by the network crate (`lxcrs_network`'s `info`, their one home), here
//! only named for the tools. Moving an interface in or out (`lxc-device`) goes through
//! the network crate too.

/// Global IPv4 addresses of the netns of `pid` (loopback excluded), in kernel order.
pub fn ipv4(pid: i32) -> Vec<String> {
    lxcrs_network::ipv4_of_pid(pid)
}

/// Global IPv6 addresses of the netns of `pid` (loopback and link-local excluded).
pub fn ipv6(pid: i32) -> Vec<String> {
    lxcrs_network::ipv6_of_pid(pid)
}

/// Interface names in the netns of `pid`, loopback excluded.
pub fn interfaces(pid: i32) -> Vec<String> {
    lxcrs_network::ifnames_of_pid(pid)
}

/// The `(rx, tx)` byte counters of the host's interface `ifname` (the host end of a
/// container's NIC); `None` when the host has no such interface.
pub fn host_link_bytes(ifname: &str) -> Option<(u64, u64)> {
    let st = lxcrs_network::link_stats(None, ifname).ok()??;
    Some((st.rx_bytes, st.tx_bytes))
}

/// Whether the host (the caller's network namespace) has an interface `name`.
pub fn host_has_interface(name: &str) -> crate::Result<bool> {
    lxcrs_network::has_interface(None, name).map_err(crate::Error::from)
}

/// Whether the netns of `pid` has an interface `name`.
pub fn has_interface(pid: i32, name: &str) -> crate::Result<bool> {
    lxcrs_network::has_interface(Some(lxcrs_network::Netns::Pid(pid)), name)
        .map_err(crate::Error::from)
}

/// LXC's `attach_interface`: move host interface `name` into the netns of `pid`, as
/// `newname` there (default: the same name). It arrives down, as with LXC.
pub fn attach_interface(pid: i32, name: &str, newname: Option<&str>) -> crate::Result<()> {
    lxcrs_network::attach_interface(name, newname, lxcrs_network::Netns::Pid(pid))
        .map_err(crate::Error::from)
}

/// LXC's `detach_interface`: move interface `name` from the netns of `pid` back to the
/// host, as `newname` (default: the same name).
pub fn detach_interface(pid: i32, name: &str, newname: Option<&str>) -> crate::Result<()> {
    lxcrs_network::detach_interface(name, newname, lxcrs_network::Netns::Pid(pid))
        .map_err(crate::Error::from)
}
