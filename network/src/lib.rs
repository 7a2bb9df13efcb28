//! Network devices of containers: veth (Linux bridge or Open vSwitch, bridge or router
//! mode), macvlan, ipvlan, vlan, phys, empty and none; addresses, gateways, MTU, MAC
//! templates, up/down scripts; and the default NAT network ([`lxc_net`]).
//!
//! The flow at start, as the monitor and the container's child run it:
//! 1. monitor, host namespace: [`create_host_side`] for each NIC → [`HostNic`] (keep it
//!    in the state file), then [`move_into_netns`] with the child's pid;
//! 2. child, inside its new namespace: [`configure_in_netns`] (or [`loopback_up`] for
//!    a config without NICs);
//! 3. at stop, monitor: [`teardown`] (needs the container's namespace still open for
//!    phys devices); after a crash: [`teardown`] from the state file, or
//!    [`cleanup_leftovers`] by owner.
//!
//! All netlink work is synchronous (see `netlink.rs` for why); nothing here leaves a
//! thread or runtime behind, so callers may fork/clone at any time.

mod configure;
mod device;
mod error;
mod host;
mod info;
mod kinds;
pub mod lxc_net;
pub mod names;
mod netlink;
mod netns;
mod nic;
pub mod nic_record;
mod ovs;
pub mod phys_record;
mod rtnl;
mod script;
mod spec;
mod sysctl;
mod teardown;

pub use configure::{configure_in_netns, loopback_up, ConfiguredNic};
pub use device::{attach_interface, detach_interface, has_interface};
pub use error::{NetError, Result};
pub use host::{create_host_side, create_host_side_in, move_into_netns};
pub use info::{ifnames_of_pid, ips_of, ipv4_of_pid, ipv6_of_pid, link_stats, LinkStats, NicAddr};
pub use netlink::NlError;
pub use netns::{current_netns, in_netns, Netns};
pub use nic::{HostNic, NetContext, NicKind, PhysState, ProxyEntry, ResolvedGateway};
#[doc(hidden)]
pub use rtnl::link_dumps_on_this_thread;
pub use spec::{
    parse_ipv4_address, parse_ipv6_address, Gateway, Ipv4Address, IpvlanIsolation, IpvlanMode,
    MacvlanMode, NetDevSpec, NetKind, VethMode, VethSpec, VethVlan,
};
pub use teardown::{cleanup_leftovers, find_leftovers, teardown, Leftover};
