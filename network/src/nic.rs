//! What the host side of a NIC looks like once created: everything the container side
//! and the teardown need, serializable so the monitor can hand it to the child and keep
//! it in its state file (to clean up after a crash).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use ipnetwork::IpNetwork;
use serde::{Deserialize, Serialize};

/// Facts about the container the NIC belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetContext {
    /// Container name (script argument and `LXC_NAME`).
    pub container_name: String,
    /// A string unique to this container on this host, e.g. `<lxcpath>/<name>`. It goes
    /// into the `ifalias` of every host-side device we create, and names the records
    /// ([`crate::nic_record`]) by which devices left behind by a killed monitor are
    /// found and checked ([`crate::cleanup_leftovers`]).
    pub owner: String,
    /// `lxc.hook.version` (0: facts as arguments, 1: as environment).
    pub hook_version: u8,
    /// Environment for scripts (`LXC_NAME`, `LXC_CONFIG_FILE`, `LXC_ROOTFS_PATH`, ...).
    pub hook_env: Vec<(String, String)>,
}

/// A gateway after `auto` was resolved on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResolvedGateway<A> {
    Dev,
    Addr(A),
}

/// The type of a created NIC (without its settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NicKind {
    Veth,
    Macvlan,
    Ipvlan,
    Vlan,
    Phys,
    Empty,
    None,
}

impl NicKind {
    pub fn name(self) -> &'static str {
        match self {
            NicKind::Veth => "veth",
            NicKind::Macvlan => "macvlan",
            NicKind::Ipvlan => "ipvlan",
            NicKind::Vlan => "vlan",
            NicKind::Phys => "phys",
            NicKind::Empty => "empty",
            NicKind::None => "none",
        }
    }
}

/// A neighbour proxy entry we added (`ip neigh add proxy ADDR dev IF`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyEntry {
    pub ifname: String,
    pub addr: IpAddr,
}

/// Saved state of a `phys` device, restored when it comes back to the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhysState {
    pub name: String,
    pub mtu: u32,
    pub mac: Vec<u8>,
    /// Its ifindex on the host when lent (0: unknown, from an older state file). The
    /// device keeps it in the container and back, and the container cannot change it.
    #[serde(default)]
    pub ifindex: u32,
    /// Its `IFLA_INFO_KIND` (`None` for hardware), checked along with the ifindex.
    #[serde(default)]
    pub link_kind: Option<String>,
}

impl PhysState {
    /// The host-side record of this device lent as NIC `index` of `owner`.
    pub(crate) fn record(&self, owner: &str, index: usize) -> crate::phys_record::PhysRecord {
        crate::phys_record::PhysRecord {
            owner: owner.to_string(),
            index,
            ifindex: self.ifindex,
            link_kind: self.link_kind.clone(),
            name: self.name.clone(),
            mtu: self.mtu,
            mac: self.mac.clone(),
        }
    }
}

/// The host side of one NIC, as returned by [`crate::create_host_side`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostNic {
    /// `N` of `lxc.net.N`.
    pub index: usize,
    pub kind: NicKind,
    /// The owner string the devices are tagged with.
    pub owner: String,
    /// Device that stays on the host (the host end of a veth).
    pub host_ifname: Option<String>,
    /// Device that goes into the container, by its (transient) name before the move.
    pub peer_ifname: Option<String>,
    /// The container's end was created right in the container's namespace (see
    /// [`crate::create_host_side_in`]): there is nothing to move.
    #[serde(default)]
    pub peer_in_netns: bool,
    /// The bridge or parent device.
    pub link: Option<String>,
    /// The bridge is an Open vSwitch bridge (port added with ovs-vsctl).
    pub ovs: bool,
    /// MTU for the container side (configured, or inherited from the link).
    pub mtu: Option<u32>,
    pub ipv4_gateway: Option<ResolvedGateway<Ipv4Addr>>,
    pub ipv6_gateway: Option<ResolvedGateway<Ipv6Addr>>,
    /// Host routes through the host end (veth.ipvX.route, router mode addresses).
    pub routes: Vec<IpNetwork>,
    /// Proxy entries on devices that outlive the NIC (l2proxy on `link`).
    pub proxies: Vec<ProxyEntry>,
    pub phys: Option<PhysState>,
    pub script_down: Option<PathBuf>,
}

impl HostNic {
    pub(crate) fn new(index: usize, kind: NicKind, owner: &str) -> Self {
        HostNic {
            index,
            kind,
            owner: owner.to_string(),
            host_ifname: None,
            peer_ifname: None,
            peer_in_netns: false,
            link: None,
            ovs: false,
            mtu: None,
            ipv4_gateway: None,
            ipv6_gateway: None,
            routes: Vec::new(),
            proxies: Vec::new(),
            phys: None,
            script_down: None,
        }
    }

    pub(crate) fn key(&self, field: &str) -> String {
        format!("lxc.net.{}.{field}", self.index)
    }

    /// The `ifalias` tag of this NIC's devices.
    pub fn tag(&self) -> String {
        crate::names::tag(
            &self.owner,
            self.index,
            self.kind.name(),
            self.phys.as_ref().map(|p| p.name.as_str()),
        )
    }

    /// Arguments LXC passes to this NIC's scripts: type, parent, host peer.
    pub(crate) fn script_args(&self) -> Vec<&str> {
        let link = self.link.as_deref().unwrap_or("");
        match self.kind {
            NicKind::Veth => vec!["veth", link, self.host_ifname.as_deref().unwrap_or("")],
            NicKind::Empty => vec!["empty"],
            k => vec![k.name(), link],
        }
    }
}
