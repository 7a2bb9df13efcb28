//! The typed description of one container NIC (`lxc.net.N.*`), independent of the config
//! text. The config crate's model maps onto it one field to one field; names follow it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::str::FromStr;

use ipnetwork::{Ipv4Network, Ipv6Network};
use serde::{Deserialize, Serialize};

use crate::error::{NetError, Result};
use crate::names;

/// `lxc.net.N.veth.mode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum VethMode {
    #[default]
    Bridge,
    Router,
}

/// `lxc.net.N.veth.vlan.id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum VethVlan {
    /// `none`: remove the bridge's default untagged VLAN from the port.
    None,
    Id(u16),
}

/// veth settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VethSpec {
    /// Host-side name (`veth.pair`); default a random `vethXXXXXX`.
    pub pair: Option<String>,
    pub mode: VethMode,
    /// Host routes to the container through the host end (`veth.ipv4.route`).
    pub ipv4_routes: Vec<Ipv4Network>,
    pub ipv6_routes: Vec<Ipv6Network>,
    pub vlan_id: Option<VethVlan>,
    pub vlan_tagged_ids: Vec<u16>,
    /// Queues of the container end (`veth.n_rxqueues`, `veth.n_txqueues`).
    pub n_rxqueues: Option<u32>,
    pub n_txqueues: Option<u32>,
}

/// `lxc.net.N.macvlan.mode` (LXC's default is `private`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum MacvlanMode {
    #[default]
    Private,
    Vepa,
    Bridge,
    Passthru,
}

/// `lxc.net.N.ipvlan.mode` (LXC's default is `l3`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum IpvlanMode {
    #[default]
    L3,
    L3s,
    L2,
}

/// `lxc.net.N.ipvlan.isolation` (default `bridge`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum IpvlanIsolation {
    #[default]
    Bridge,
    Private,
    Vepa,
}

/// `lxc.net.N.type` with the settings that only that type has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NetKind {
    Veth(VethSpec),
    Macvlan(MacvlanMode),
    Ipvlan {
        mode: IpvlanMode,
        isolation: IpvlanIsolation,
    },
    /// `vlan.id` on the parent `link`.
    Vlan {
        id: u16,
    },
    Phys,
    /// Loopback only.
    Empty,
    /// Share the host's network namespace: no device work at all.
    None,
}

impl NetKind {
    /// The `lxc.net.N.type` value.
    pub fn name(&self) -> &'static str {
        match self {
            NetKind::Veth(_) => "veth",
            NetKind::Macvlan(_) => "macvlan",
            NetKind::Ipvlan { .. } => "ipvlan",
            NetKind::Vlan { .. } => "vlan",
            NetKind::Phys => "phys",
            NetKind::Empty => "empty",
            NetKind::None => "none",
        }
    }
}

/// `lxc.net.N.ipv4.address = a.b.c.d/prefix [broadcast]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ipv4Address {
    pub net: Ipv4Network,
    /// Explicit broadcast; default: the subnet's broadcast address.
    pub broadcast: Option<Ipv4Addr>,
}

impl Ipv4Address {
    pub fn new(net: Ipv4Network) -> Self {
        Ipv4Address {
            net,
            broadcast: None,
        }
    }

    /// The broadcast address the interface gets.
    pub fn effective_broadcast(&self) -> Option<Ipv4Addr> {
        self.broadcast
            .or_else(|| (self.net.prefix() < 31).then(|| self.net.broadcast()))
    }
}

/// `lxc.net.N.ipv4.gateway` / `ipv6.gateway`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Gateway<A> {
    /// The host-side bridge's address (in the container's subnet when it has one there).
    Auto,
    /// A default route on the device, without next hop.
    Dev,
    Addr(A),
}

/// One container NIC, the input of every operation of this crate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetDevSpec {
    /// `N` of `lxc.net.N`: used in messages, tags and the default name.
    pub index: usize,
    pub kind: NetKind,
    /// `flags = up`.
    pub up: bool,
    /// Bridge (veth) or parent/physical device (macvlan, ipvlan, vlan, phys).
    pub link: Option<String>,
    /// Name inside the container; default `eth%d` (the kernel picks the first free).
    pub name: Option<String>,
    /// MAC, possibly a template with `x` for random hex digits.
    pub hwaddr: Option<String>,
    /// Default: the link's MTU (veth), the parent's (macvlan, ipvlan, vlan).
    pub mtu: Option<u32>,
    pub ipv4: Vec<Ipv4Address>,
    pub ipv4_gateway: Option<Gateway<Ipv4Addr>>,
    pub ipv6: Vec<Ipv6Network>,
    pub ipv6_gateway: Option<Gateway<Ipv6Addr>>,
    pub l2proxy: bool,
    pub script_up: Option<PathBuf>,
    pub script_down: Option<PathBuf>,
}

impl NetDevSpec {
    /// A spec of `kind` with every other setting at its default.
    pub fn new(index: usize, kind: NetKind) -> Self {
        NetDevSpec {
            index,
            kind,
            up: false,
            link: None,
            name: None,
            hwaddr: None,
            mtu: None,
            ipv4: Vec::new(),
            ipv4_gateway: None,
            ipv6: Vec::new(),
            ipv6_gateway: None,
            l2proxy: false,
            script_up: None,
            script_down: None,
        }
    }

    /// `lxc.net.N.<field>`, for messages.
    pub fn key(&self, field: &str) -> String {
        format!("lxc.net.{}.{field}", self.index)
    }

    pub(crate) fn veth(&self) -> Option<&VethSpec> {
        match &self.kind {
            NetKind::Veth(v) => Some(v),
            _ => None,
        }
    }

    pub(crate) fn router_mode(&self) -> bool {
        self.veth().is_some_and(|v| v.mode == VethMode::Router)
    }

    /// Check everything that can be checked without looking at the host. The host-side
    /// checks (link exists, is a bridge, name free) happen in `create_host_side`.
    pub fn validate(&self) -> Result<()> {
        let kind = self.kind.name();
        if matches!(self.kind, NetKind::None) {
            return Ok(());
        }
        if let Some(name) = &self.name {
            names::check_ifname(name).map_err(|p| self.bad("name", p, None))?;
        }
        if let Some(link) = &self.link {
            names::check_ifname(link).map_err(|p| self.bad("link", p, None))?;
        }
        if matches!(
            self.kind,
            NetKind::Macvlan(_) | NetKind::Ipvlan { .. } | NetKind::Vlan { .. } | NetKind::Phys
        ) && self.link.is_none()
        {
            return Err(self.bad(
                "link",
                format!("type {kind} needs a parent device"),
                Some(format!("set {} = <host interface>", self.key("link"))),
            ));
        }
        if let Some(hw) = &self.hwaddr {
            names::parse_hwaddr_template(hw).map_err(|p| self.bad("hwaddr", p, None))?;
        }
        if let Some(mtu) = self.mtu {
            if !(68..=65535).contains(&mtu) {
                return Err(self.bad(
                    "mtu",
                    format!("MTU {mtu} is out of range"),
                    Some("use 68..65535".into()),
                ));
            }
        }
        if let NetKind::Vlan { id } = self.kind {
            if id > 4094 {
                return Err(self.bad(
                    "vlan.id",
                    format!("VLAN id {id} is out of range"),
                    Some("use 0..4094".into()),
                ));
            }
        }
        if let Some(v) = self.veth() {
            if let Some(pair) = &v.pair {
                names::check_ifname(pair).map_err(|p| self.bad("veth.pair", p, None))?;
            }
            for id in v.vlan_tagged_ids.iter().chain(match v.vlan_id {
                Some(VethVlan::Id(ref id)) => Some(id),
                _ => None,
            }) {
                if *id == 0 || *id > 4094 {
                    return Err(self.bad(
                        "veth.vlan.id",
                        format!("VLAN id {id} is out of range"),
                        Some("use 1..4094".into()),
                    ));
                }
            }
        }
        self.validate_addresses()?;
        self.validate_gateways()
    }

    fn bad(&self, field: &str, problem: impl Into<String>, hint: Option<String>) -> NetError {
        NetError::invalid(self.key(field), problem, hint)
    }

    fn validate_addresses(&self) -> Result<()> {
        let mut seen: Vec<IpAddr> = Vec::new();
        for a in &self.ipv4 {
            let ip = a.net.ip();
            let p = a.net.prefix();
            if ip.is_unspecified() || ip.is_multicast() || ip.is_broadcast() || ip.is_loopback() {
                return Err(self.bad(
                    "ipv4.address",
                    format!("{ip} cannot be an interface address"),
                    None,
                ));
            }
            if p < 31 && (ip == a.net.network() || ip == a.net.broadcast()) {
                let what = if ip == a.net.network() {
                    "network"
                } else {
                    "broadcast"
                };
                return Err(self.bad(
                    "ipv4.address",
                    format!("{ip}/{p} is the {what} address of its subnet"),
                    Some(format!(
                        "use a host address such as {}/{p}",
                        a.net.nth(1).unwrap_or(ip)
                    )),
                ));
            }
            if let Some(b) = a.broadcast {
                if !a.net.contains(b) {
                    return Err(self.bad(
                        "ipv4.address",
                        format!("broadcast {b} is outside {}/{}", a.net.network(), p),
                        Some(format!("omit it to use {}", a.net.broadcast())),
                    ));
                }
            }
            if seen.contains(&IpAddr::V4(ip)) {
                return Err(self.bad("ipv4.address", format!("{ip} is listed twice"), None));
            }
            seen.push(IpAddr::V4(ip));
        }
        for a in &self.ipv6 {
            let ip = a.ip();
            if ip.is_unspecified() || ip.is_multicast() || ip.is_loopback() {
                return Err(self.bad(
                    "ipv6.address",
                    format!("{ip} cannot be an interface address"),
                    None,
                ));
            }
            if seen.contains(&IpAddr::V6(ip)) {
                return Err(self.bad("ipv6.address", format!("{ip} is listed twice"), None));
            }
            seen.push(IpAddr::V6(ip));
        }
        Ok(())
    }

    fn validate_gateways(&self) -> Result<()> {
        let any_gw = self.ipv4_gateway.is_some() || self.ipv6_gateway.is_some();
        if any_gw && !self.up && !matches!(self.kind, NetKind::Empty) {
            return Err(self.bad(
                "flags",
                "a gateway is configured but the interface is not brought up",
                Some(format!("set {} = up", self.key("flags"))),
            ));
        }
        if matches!(self.kind, NetKind::Empty) && any_gw {
            return Err(self.bad(
                "ipv4.gateway",
                "type empty has no interface to route through",
                None,
            ));
        }
        let auto_ok = matches!(&self.kind, NetKind::Veth(v) if v.mode == VethMode::Bridge)
            && self.link.is_some();
        if let Some(gw) = self.ipv4_gateway {
            match gw {
                Gateway::Auto if !auto_ok => {
                    return Err(self.bad(
                        "ipv4.gateway",
                        "auto needs a veth attached to a bridge (lxc.net.N.link)",
                        Some("give the gateway address, or set link to the bridge".into()),
                    ))
                }
                Gateway::Addr(gw) => self.check_v4_gateway(gw)?,
                _ => {}
            }
        }
        if let Some(gw) = self.ipv6_gateway {
            match gw {
                Gateway::Auto if !auto_ok => {
                    return Err(self.bad(
                        "ipv6.gateway",
                        "auto needs a veth attached to a bridge (lxc.net.N.link)",
                        Some("give the gateway address, or set link to the bridge".into()),
                    ))
                }
                Gateway::Addr(gw) => self.check_v6_gateway(gw)?,
                _ => {}
            }
        }
        Ok(())
    }

    /// An IPv4 gateway must be reachable on the link: inside one of the subnets.
    /// Exceptions kept for LXC compatibility: link-local gateways (169.254/16), router
    /// mode (the host proxies the gateway), /31 and /32 addresses (point-to-point
    /// setups with an on-link gateway route), and no static IPv4 address at all.
    fn check_v4_gateway(&self, gw: Ipv4Addr) -> Result<()> {
        if self.ipv4.iter().any(|a| a.net.ip() == gw) {
            return Err(self.bad(
                "ipv4.gateway",
                format!("{gw} is the container's own address"),
                None,
            ));
        }
        if gw.is_unspecified() || gw.is_multicast() || gw.is_broadcast() {
            return Err(self.bad("ipv4.gateway", format!("{gw} cannot be a gateway"), None));
        }
        if self.ipv4.is_empty()
            || gw.is_link_local()
            || self.router_mode()
            || self
                .ipv4
                .iter()
                .any(|a| a.net.prefix() >= 31 || a.net.contains(gw))
        {
            return Ok(());
        }
        let nets: Vec<String> = self
            .ipv4
            .iter()
            .map(|a| format!("{}/{}", a.net.network(), a.net.prefix()))
            .collect();
        Err(self.bad(
            "ipv4.gateway",
            format!(
                "gateway {gw} is outside every address's subnet ({})",
                nets.join(", ")
            ),
            Some("use an address inside the subnet, auto (the bridge's address) or dev".into()),
        ))
    }

    fn check_v6_gateway(&self, gw: Ipv6Addr) -> Result<()> {
        if self.ipv6.iter().any(|a| a.ip() == gw) {
            return Err(self.bad(
                "ipv6.gateway",
                format!("{gw} is the container's own address"),
                None,
            ));
        }
        if gw.is_unspecified() || gw.is_multicast() {
            return Err(self.bad("ipv6.gateway", format!("{gw} cannot be a gateway"), None));
        }
        let link_local = (gw.segments()[0] & 0xffc0) == 0xfe80;
        if self.ipv6.is_empty()
            || link_local
            || self.router_mode()
            || self
                .ipv6
                .iter()
                .any(|a| a.prefix() >= 127 || a.contains(gw))
        {
            return Ok(());
        }
        let nets: Vec<String> = self
            .ipv6
            .iter()
            .map(|a| format!("{}/{}", a.network(), a.prefix()))
            .collect();
        Err(self.bad(
            "ipv6.gateway",
            format!(
                "gateway {gw} is outside every address's subnet ({})",
                nets.join(", ")
            ),
            Some(
                "use an address inside the prefix, a link-local (fe80::) address, auto or dev"
                    .into(),
            ),
        ))
    }
}

/// Parse `a.b.c.d/prefix [broadcast]` as LXC does (no prefix: the classful default).
/// For callers that hold text; `field` names the key in the error.
pub fn parse_ipv4_address(key: &str, s: &str) -> Result<Ipv4Address> {
    let bad = |p: String| {
        NetError::invalid(
            key,
            p,
            Some("expected a.b.c.d/prefix [broadcast], e.g. 10.0.3.5/24".into()),
        )
    };
    let mut it = s.split_ascii_whitespace();
    let first = it.next().ok_or_else(|| bad("empty address".into()))?;
    let broadcast = match it.next() {
        Some(b) => Some(
            Ipv4Addr::from_str(b).map_err(|_| bad(format!("malformed broadcast address '{b}'")))?,
        ),
        None => None,
    };
    if it.next().is_some() {
        return Err(bad(format!("malformed address '{s}'")));
    }
    let (ip, prefix) = match first.split_once('/') {
        Some((ip, p)) => (ip, Some(p)),
        None => (first, None),
    };
    let ip = Ipv4Addr::from_str(ip).map_err(|_| bad(format!("malformed address '{first}'")))?;
    let prefix = match prefix {
        Some(p) => p
            .parse::<u8>()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(|| bad(format!("malformed prefix in '{first}'")))?,
        None => match ip.octets()[0] {
            0..=127 => 8,
            128..=191 => 16,
            _ => 24,
        },
    };
    let net = Ipv4Network::new(ip, prefix).map_err(|e| bad(e.to_string()))?;
    Ok(Ipv4Address { net, broadcast })
}

/// Parse `addr/prefix` (no prefix: /64, as LXC does).
pub fn parse_ipv6_address(key: &str, s: &str) -> Result<Ipv6Network> {
    let bad = |p: String| {
        NetError::invalid(
            key,
            p,
            Some("expected addr/prefix, e.g. fd00:10:0:3::5/64".into()),
        )
    };
    let s = s.trim();
    let (ip, prefix) = match s.split_once('/') {
        Some((ip, p)) => (ip, Some(p)),
        None => (s, None),
    };
    let ip = Ipv6Addr::from_str(ip).map_err(|_| bad(format!("malformed address '{s}'")))?;
    let prefix = match prefix {
        Some(p) => p
            .parse::<u8>()
            .ok()
            .filter(|p| *p <= 128)
            .ok_or_else(|| bad(format!("malformed prefix in '{s}'")))?,
        None => 64,
    };
    Ipv6Network::new(ip, prefix).map_err(|e| bad(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn veth_spec() -> NetDevSpec {
        let mut s = NetDevSpec::new(0, NetKind::Veth(VethSpec::default()));
        s.link = Some("br0".into());
        s.up = true;
        s
    }

    fn v4(s: &str) -> Ipv4Address {
        parse_ipv4_address("k", s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn parses_ipv4_with_broadcast_and_classful_default() {
        let a = v4("10.0.3.5/24 10.0.3.255");
        assert_eq!(a.net.prefix(), 24);
        assert_eq!(a.broadcast, Some(Ipv4Addr::new(10, 0, 3, 255)));
        assert_eq!(v4("10.1.2.3").net.prefix(), 8);
        assert_eq!(v4("192.168.1.9").net.prefix(), 24);
        assert_eq!(
            v4("10.0.3.5/24").effective_broadcast(),
            Some(Ipv4Addr::new(10, 0, 3, 255))
        );
        assert_eq!(v4("10.0.3.5/32").effective_broadcast(), None);
    }

    #[test]
    fn malformed_addresses_name_the_key() {
        for bad in [
            "10.0.3/24",
            "10.0.3.5/33",
            "10.0.3.5/24 x",
            "10.0.3.5/24 1.2.3.4 5",
            "",
            "a.b.c.d",
        ] {
            let e = parse_ipv4_address("lxc.net.0.ipv4.address", bad)
                .err()
                .map(|e| e.to_string());
            let e = e.unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert!(e.starts_with("lxc.net.0.ipv4.address: "), "{e}");
            assert!(e.contains("expected a.b.c.d/prefix"), "{e}");
        }
        assert!(parse_ipv6_address("k", "fd00::1/129").is_err());
        assert!(parse_ipv6_address("k", "fd00::zz").is_err());
        assert_eq!(
            parse_ipv6_address("k", "fd00::1").map(|n| n.prefix()).ok(),
            Some(64)
        );
    }

    #[test]
    fn rejects_network_and_broadcast_addresses() {
        let mut s = veth_spec();
        s.ipv4 = vec![v4("10.0.3.0/24")];
        let e = s
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("network address"), "{e}");
        s.ipv4 = vec![v4("10.0.3.255/24")];
        assert!(s.validate().is_err());
        s.ipv4 = vec![v4("10.0.3.0/31")];
        assert!(s.validate().is_ok());
        s.ipv4 = vec![v4("10.0.3.5/24 10.0.4.255")];
        assert!(s.validate().is_err());
    }

    #[test]
    fn gateway_must_be_in_a_subnet() {
        let mut s = veth_spec();
        s.ipv4 = vec![v4("10.0.3.5/24")];
        s.ipv4_gateway = Some(Gateway::Addr(Ipv4Addr::new(10, 0, 4, 1)));
        let e = s
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.starts_with("lxc.net.0.ipv4.gateway: gateway 10.0.4.1 is outside"),
            "{e}"
        );
        assert!(e.contains("10.0.3.0/24"), "{e}");
        s.ipv4_gateway = Some(Gateway::Addr(Ipv4Addr::new(10, 0, 3, 1)));
        assert!(s.validate().is_ok());
        // Exceptions LXC setups rely on.
        s.ipv4_gateway = Some(Gateway::Addr(Ipv4Addr::new(169, 254, 0, 1)));
        assert!(s.validate().is_ok());
        s.ipv4 = vec![v4("192.0.2.7/32")];
        s.ipv4_gateway = Some(Gateway::Addr(Ipv4Addr::new(198, 51, 100, 1)));
        assert!(s.validate().is_ok());
        // Own address.
        s.ipv4_gateway = Some(Gateway::Addr(Ipv4Addr::new(192, 0, 2, 7)));
        assert!(s.validate().is_err());
    }

    #[test]
    fn ipv6_gateway_rules() {
        let mut s = veth_spec();
        s.ipv6 = vec![parse_ipv6_address("k", "fd00:3::5/64").unwrap_or_else(|e| panic!("{e}"))];
        s.ipv6_gateway = Some(Gateway::Addr(
            "fd00:4::1".parse().unwrap_or(Ipv6Addr::LOCALHOST),
        ));
        assert!(s.validate().is_err());
        s.ipv6_gateway = Some(Gateway::Addr(
            "fe80::1".parse().unwrap_or(Ipv6Addr::LOCALHOST),
        ));
        assert!(s.validate().is_ok());
        s.ipv6_gateway = Some(Gateway::Addr(
            "fd00:3::1".parse().unwrap_or(Ipv6Addr::LOCALHOST),
        ));
        assert!(s.validate().is_ok());
    }

    #[test]
    fn gateway_needs_flags_up_and_auto_needs_a_bridge() {
        let mut s = veth_spec();
        s.ipv4_gateway = Some(Gateway::Auto);
        assert!(s.validate().is_ok());
        s.up = false;
        let e = s
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("lxc.net.0.flags = up"), "{e}");
        s.up = true;
        s.link = None;
        assert!(s.validate().is_err());
        let mut m = NetDevSpec::new(1, NetKind::Macvlan(MacvlanMode::Bridge));
        m.link = Some("eth1".into());
        m.up = true;
        m.ipv4_gateway = Some(Gateway::Auto);
        assert_eq!(
            m.validate()
                .err()
                .and_then(|e| e.key().map(String::from))
                .as_deref(),
            Some("lxc.net.1.ipv4.gateway")
        );
    }

    #[test]
    fn parent_link_required_and_names_checked() {
        let s = NetDevSpec::new(2, NetKind::Macvlan(MacvlanMode::Bridge));
        let e = s
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(e, "lxc.net.2.link: type macvlan needs a parent device; set lxc.net.2.link = <host interface>");
        let mut v = veth_spec();
        v.kind = NetKind::Veth(VethSpec {
            pair: Some("a-very-long-name-x".into()),
            ..VethSpec::default()
        });
        assert!(v.validate().is_err());
        v.kind = NetKind::Veth(VethSpec::default());
        v.name = Some("eth/0".into());
        assert!(v.validate().is_err());
        v.name = None;
        v.hwaddr = Some("00:16:3e:xx:xx".into());
        assert!(v.validate().is_err());
        v.hwaddr = Some("00:16:3e:xx:xx:xx".into());
        assert!(v.validate().is_ok());
        v.mtu = Some(10);
        assert!(v.validate().is_err());
    }
}
