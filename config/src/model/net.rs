//! Network devices (`lxc.net.N.*`).
//!
//! No `lxc.net.*` at all means a new network namespace with only loopback; a config
//! whose only NICs are of type `none` shares the host's network namespace
//! (see [`crate::model::ContainerConfig::shares_host_network`]).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::addr::{check_hwaddr, Gateway, Ipv4Cidr, Ipv6Cidr};
use crate::error::{ConfigError, Result};
use crate::value::{check_ifname, choice_name, opt_string, parse_bool, parse_choice, parse_uint};

/// `lxc.net.N.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NetType {
    /// Only loopback inside a new network namespace.
    Empty,
    Veth,
    Vlan,
    Macvlan,
    Ipvlan,
    Phys,
    /// Share the host's network namespace.
    None,
}

const NET_TYPES: &[(&str, NetType)] = &[
    ("empty", NetType::Empty),
    ("veth", NetType::Veth),
    ("vlan", NetType::Vlan),
    ("macvlan", NetType::Macvlan),
    ("ipvlan", NetType::Ipvlan),
    ("phys", NetType::Phys),
    ("none", NetType::None),
];

impl NetType {
    pub fn name(self) -> &'static str {
        choice_name(self, NET_TYPES)
    }
}

/// `lxc.net.N.veth.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum VethMode {
    #[default]
    Bridge,
    Router,
}
const VETH_MODES: &[(&str, VethMode)] =
    &[("bridge", VethMode::Bridge), ("router", VethMode::Router)];

/// `lxc.net.N.macvlan.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MacvlanMode {
    Private,
    Vepa,
    Bridge,
    Passthru,
}
const MACVLAN_MODES: &[(&str, MacvlanMode)] = &[
    ("private", MacvlanMode::Private),
    ("vepa", MacvlanMode::Vepa),
    ("bridge", MacvlanMode::Bridge),
    ("passthru", MacvlanMode::Passthru),
];

/// `lxc.net.N.ipvlan.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpvlanMode {
    L3,
    L3s,
    L2,
}
const IPVLAN_MODES: &[(&str, IpvlanMode)] = &[
    ("l3", IpvlanMode::L3),
    ("l3s", IpvlanMode::L3s),
    ("l2", IpvlanMode::L2),
];

/// `lxc.net.N.ipvlan.isolation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpvlanIsolation {
    Bridge,
    Private,
    Vepa,
}
const IPVLAN_ISOLATIONS: &[(&str, IpvlanIsolation)] = &[
    ("bridge", IpvlanIsolation::Bridge),
    ("private", IpvlanIsolation::Private),
    ("vepa", IpvlanIsolation::Vepa),
];

/// `lxc.net.N.veth.vlan.id`: `none` (untagged) or a VLAN id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VethVlan {
    None,
    Id(u16),
}

/// veth-specific settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VethOptions {
    /// Host-side interface name (`veth.pair`); default is a random `vethXXXXXX`.
    pub pair: Option<String>,
    pub mode: VethMode,
    pub ipv4_routes: Vec<Ipv4Cidr>,
    pub ipv6_routes: Vec<Ipv6Cidr>,
    pub vlan_id: Option<VethVlan>,
    pub vlan_tagged_ids: Vec<u16>,
    pub n_rxqueues: Option<u32>,
    pub n_txqueues: Option<u32>,
}

/// One `lxc.net.N` network device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetDev {
    /// `type`; `None` until set (LXC wants it set first).
    pub kind: Option<NetType>,
    /// `flags = up`.
    pub up: bool,
    /// Host bridge (veth) or parent device (macvlan/ipvlan/vlan/phys).
    pub link: Option<String>,
    /// Interface name inside the container.
    pub name: Option<String>,
    /// Concrete MAC; templates are already resolved when loading.
    pub hwaddr: Option<String>,
    pub mtu: Option<u32>,
    pub ipv4: Vec<Ipv4Cidr>,
    pub ipv4_gateway: Option<Gateway<Ipv4Addr>>,
    pub ipv6: Vec<Ipv6Cidr>,
    pub ipv6_gateway: Option<Gateway<Ipv6Addr>>,
    pub script_up: Option<String>,
    pub script_down: Option<String>,
    pub l2proxy: bool,
    pub veth: VethOptions,
    pub macvlan_mode: Option<MacvlanMode>,
    pub ipvlan_mode: Option<IpvlanMode>,
    pub ipvlan_isolation: Option<IpvlanIsolation>,
    /// `vlan.id` for type `vlan`.
    pub vlan_id: Option<u16>,
}

/// Sub-keys valid for every type, as listed by LXC's `lxc_list_net`.
const COMMON_SUBKEYS: &[&str] = &[
    "type",
    "flags",
    "link",
    "name",
    "hwaddr",
    "mtu",
    "ipv6.address",
    "ipv6.gateway",
    "ipv4.address",
    "ipv4.gateway",
    "script.up",
    "script.down",
    "l2proxy",
];
const VETH_SUBKEYS: &[&str] = &[
    "veth.pair",
    "veth.mode",
    "veth.ipv4.route",
    "veth.ipv6.route",
    "veth.vlan.id",
    "veth.vlan.tagged.id",
    "veth.n_rxqueues",
    "veth.n_txqueues",
];

/// Whether `sub` is a known `lxc.net.N.<sub>` key.
pub fn is_net_subkey(sub: &str) -> bool {
    COMMON_SUBKEYS.contains(&sub)
        || VETH_SUBKEYS.contains(&sub)
        || matches!(
            sub,
            "macvlan.mode" | "ipvlan.mode" | "ipvlan.isolation" | "vlan.id"
        )
}

/// Sub-keys that accumulate (one value per line).
pub fn is_net_list_subkey(sub: &str) -> bool {
    matches!(
        sub,
        "ipv4.address"
            | "ipv6.address"
            | "veth.ipv4.route"
            | "veth.ipv6.route"
            | "veth.vlan.tagged.id"
    )
}

fn vlan_id(s: &str) -> Result<u16> {
    let id: u16 = parse_uint(s)?;
    if id == 0 || id > 4094 {
        return Err(ConfigError::value(
            "VLAN id out of range (expected 1..4094)",
        ));
    }
    Ok(id)
}

impl NetDev {
    fn require(&self, sub: &str, want: NetType) -> Result<()> {
        if self.kind == Some(want) {
            return Ok(());
        }
        Err(ConfigError::value_hint(
            format!("{sub} is only valid for network type {}", want.name()),
            format!("set type = {} before this key", want.name()),
        ))
    }

    /// Apply `lxc.net.N.<sub> = value`. An empty value clears that setting.
    pub(crate) fn set(&mut self, sub: &str, v: &str) -> Result<()> {
        let empty = v.is_empty();
        match sub {
            "type" => {
                self.kind = if empty {
                    None
                } else {
                    Some(parse_choice(v, "network type", NET_TYPES)?)
                }
            }
            "flags" => {
                self.up = match v {
                    "" => false,
                    "up" => true,
                    _ => return Err(ConfigError::value("invalid flags (expected up)")),
                }
            }
            "link" | "name" | "veth.pair" => {
                if !empty {
                    check_ifname(v)?;
                }
                if sub == "veth.pair" && !empty {
                    self.require(sub, NetType::Veth)?;
                }
                let slot = match sub {
                    "link" => &mut self.link,
                    "name" => &mut self.name,
                    _ => &mut self.veth.pair,
                };
                *slot = opt_string(v);
            }
            "hwaddr" => {
                if !empty {
                    check_hwaddr(v)?;
                }
                self.hwaddr = opt_string(v);
            }
            "mtu" => self.mtu = if empty { None } else { Some(parse_uint(v)?) },
            "ipv4.address" if empty => self.ipv4.clear(),
            "ipv4.address" => self.ipv4.push(Ipv4Cidr::parse(v)?),
            "ipv6.address" if empty => self.ipv6.clear(),
            "ipv6.address" => self.ipv6.push(Ipv6Cidr::parse(v)?),
            "ipv4.gateway" => {
                self.ipv4_gateway = if empty {
                    None
                } else {
                    Some(Gateway::parse(v, "IPv4")?)
                }
            }
            "ipv6.gateway" => {
                self.ipv6_gateway = if empty {
                    None
                } else {
                    Some(Gateway::parse(v, "IPv6")?)
                }
            }
            "script.up" => self.script_up = opt_string(v),
            "script.down" => self.script_down = opt_string(v),
            "l2proxy" => self.l2proxy = !empty && parse_bool(v)?,
            _ if empty => self.clear_typed(sub),
            _ => self.set_typed(sub, v)?,
        }
        Ok(())
    }

    fn set_typed(&mut self, sub: &str, v: &str) -> Result<()> {
        match sub {
            "veth.mode" => {
                self.require(sub, NetType::Veth)?;
                self.veth.mode = parse_choice(v, "veth mode", VETH_MODES)?;
            }
            "veth.ipv4.route" => {
                self.require(sub, NetType::Veth)?;
                self.veth.ipv4_routes.push(Ipv4Cidr::parse_route(v)?);
            }
            "veth.ipv6.route" => {
                self.require(sub, NetType::Veth)?;
                self.veth.ipv6_routes.push(Ipv6Cidr::parse_route(v)?);
            }
            "veth.vlan.id" => {
                self.require(sub, NetType::Veth)?;
                self.veth.vlan_id = Some(if v == "none" {
                    VethVlan::None
                } else {
                    VethVlan::Id(vlan_id(v)?)
                });
            }
            "veth.vlan.tagged.id" => {
                self.require(sub, NetType::Veth)?;
                self.veth.vlan_tagged_ids.push(vlan_id(v)?);
            }
            "veth.n_rxqueues" | "veth.n_txqueues" => {
                self.require(sub, NetType::Veth)?;
                let n = Some(parse_uint(v)?);
                if sub == "veth.n_rxqueues" {
                    self.veth.n_rxqueues = n;
                } else {
                    self.veth.n_txqueues = n;
                }
            }
            "macvlan.mode" => {
                self.require(sub, NetType::Macvlan)?;
                self.macvlan_mode = Some(parse_choice(v, "macvlan mode", MACVLAN_MODES)?);
            }
            "ipvlan.mode" => {
                self.require(sub, NetType::Ipvlan)?;
                self.ipvlan_mode = Some(parse_choice(v, "ipvlan mode", IPVLAN_MODES)?);
            }
            "ipvlan.isolation" => {
                self.require(sub, NetType::Ipvlan)?;
                self.ipvlan_isolation =
                    Some(parse_choice(v, "ipvlan isolation", IPVLAN_ISOLATIONS)?);
            }
            "vlan.id" => {
                self.require(sub, NetType::Vlan)?;
                let id: u16 = parse_uint(v)?;
                if id > 4094 {
                    return Err(ConfigError::value(
                        "VLAN id out of range (expected 0..4094)",
                    ));
                }
                self.vlan_id = Some(id);
            }
            _ => return Err(ConfigError::value(format!("unknown network key '{sub}'"))),
        }
        Ok(())
    }

    fn clear_typed(&mut self, sub: &str) {
        match sub {
            "veth.mode" => self.veth.mode = VethMode::Bridge,
            "veth.ipv4.route" => self.veth.ipv4_routes.clear(),
            "veth.ipv6.route" => self.veth.ipv6_routes.clear(),
            "veth.vlan.id" => self.veth.vlan_id = None,
            "veth.vlan.tagged.id" => self.veth.vlan_tagged_ids.clear(),
            "veth.n_rxqueues" => self.veth.n_rxqueues = None,
            "veth.n_txqueues" => self.veth.n_txqueues = None,
            "macvlan.mode" => self.macvlan_mode = None,
            "ipvlan.mode" => self.ipvlan_mode = None,
            "ipvlan.isolation" => self.ipvlan_isolation = None,
            "vlan.id" => self.vlan_id = None,
            _ => {}
        }
    }

    /// Render `lxc.net.N.<sub>` like LXC's getter (lists joined by newlines).
    pub(crate) fn get(&self, sub: &str) -> Option<String> {
        fn join<T: ToString>(v: &[T]) -> String {
            v.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        }
        fn opt<T: ToString>(v: &Option<T>) -> String {
            v.as_ref().map(ToString::to_string).unwrap_or_default()
        }
        Some(match sub {
            "type" => self.kind.map(NetType::name).unwrap_or_default().to_string(),
            "flags" => if self.up { "up" } else { "" }.to_string(),
            "link" => opt(&self.link),
            "name" => opt(&self.name),
            "hwaddr" => opt(&self.hwaddr),
            "mtu" => opt(&self.mtu),
            "ipv4.address" => self
                .ipv4
                .iter()
                .map(|a| format!("{}/{}", a.addr, a.prefix))
                .collect::<Vec<_>>()
                .join("\n"),
            "ipv6.address" => join(&self.ipv6),
            "ipv4.gateway" => opt(&self.ipv4_gateway),
            "ipv6.gateway" => opt(&self.ipv6_gateway),
            "script.up" => opt(&self.script_up),
            "script.down" => opt(&self.script_down),
            "l2proxy" => if self.l2proxy { "1" } else { "0" }.to_string(),
            "veth.pair" => opt(&self.veth.pair),
            "veth.mode" => choice_name(self.veth.mode, VETH_MODES).to_string(),
            "veth.ipv4.route" => join(&self.veth.ipv4_routes),
            "veth.ipv6.route" => join(&self.veth.ipv6_routes),
            "veth.vlan.id" => match self.veth.vlan_id {
                None => String::new(),
                Some(VethVlan::None) => "none".to_string(),
                Some(VethVlan::Id(id)) => id.to_string(),
            },
            "veth.vlan.tagged.id" => join(&self.veth.vlan_tagged_ids),
            "veth.n_rxqueues" => opt(&self.veth.n_rxqueues),
            "veth.n_txqueues" => opt(&self.veth.n_txqueues),
            "macvlan.mode" => self
                .macvlan_mode
                .map(|m| choice_name(m, MACVLAN_MODES))
                .unwrap_or("")
                .to_string(),
            "ipvlan.mode" => self
                .ipvlan_mode
                .map(|m| choice_name(m, IPVLAN_MODES))
                .unwrap_or("")
                .to_string(),
            "ipvlan.isolation" => self
                .ipvlan_isolation
                .map(|m| choice_name(m, IPVLAN_ISOLATIONS))
                .unwrap_or("")
                .to_string(),
            "vlan.id" => opt(&self.vlan_id),
            _ => return None,
        })
    }

    /// The sub-keys that apply to this device's type (LXC's `lxc_list_net`).
    pub fn subkeys(&self) -> Vec<&'static str> {
        let mut keys = COMMON_SUBKEYS.to_vec();
        match self.kind {
            Some(NetType::Veth) => keys.extend_from_slice(VETH_SUBKEYS),
            Some(NetType::Macvlan) => keys.push("macvlan.mode"),
            Some(NetType::Ipvlan) => keys.extend_from_slice(&["ipvlan.mode", "ipvlan.isolation"]),
            Some(NetType::Vlan) => keys.push("vlan.id"),
            _ => {}
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(lines: &[(&str, &str)]) -> Result<NetDev> {
        let mut d = NetDev::default();
        for (k, v) in lines {
            d.set(k, v)?;
        }
        Ok(d)
    }

    #[test]
    fn veth_device() {
        let d = dev(&[
            ("type", "veth"),
            ("link", "lxcbr0"),
            ("flags", "up"),
            ("hwaddr", "00:16:3e:12:34:56"),
            ("mtu", "1500"),
            ("ipv4.address", "10.0.3.5/24"),
            ("ipv4.address", "10.0.3.6/24 10.0.3.255"),
            ("ipv4.gateway", "auto"),
            ("ipv6.address", "fd00::5/64"),
            ("ipv6.gateway", "dev"),
            ("veth.pair", "vethc1"),
            ("veth.mode", "router"),
            ("veth.ipv4.route", "192.168.0.0/16"),
            ("veth.vlan.id", "none"),
            ("veth.vlan.tagged.id", "10"),
            ("veth.vlan.tagged.id", "20"),
            ("l2proxy", "1"),
        ]);
        let d = d.ok().unwrap_or_default();
        assert_eq!(d.kind, Some(NetType::Veth));
        assert!(d.up && d.l2proxy);
        assert_eq!(d.ipv4.len(), 2);
        assert_eq!(
            d.get("ipv4.address").as_deref(),
            Some("10.0.3.5/24\n10.0.3.6/24")
        );
        assert_eq!(d.get("ipv4.gateway").as_deref(), Some("auto"));
        assert_eq!(d.get("veth.mode").as_deref(), Some("router"));
        assert_eq!(d.get("veth.vlan.id").as_deref(), Some("none"));
        assert_eq!(d.get("veth.vlan.tagged.id").as_deref(), Some("10\n20"));
        assert!(d.subkeys().contains(&"veth.pair"));
    }

    #[test]
    fn clears() {
        let mut d = dev(&[
            ("type", "veth"),
            ("ipv4.address", "10.0.0.1/8"),
            ("mtu", "9000"),
        ])
        .ok()
        .unwrap_or_default();
        assert!(d.set("ipv4.address", "").is_ok());
        assert!(d.ipv4.is_empty());
        assert!(d.set("mtu", "").is_ok());
        assert_eq!(d.mtu, None);
        assert!(d.set("type", "").is_ok());
        assert_eq!(d.get("type").as_deref(), Some(""));
    }

    #[test]
    fn type_specific_keys_need_the_type() {
        let e = dev(&[("type", "veth"), ("macvlan.mode", "bridge")])
            .err()
            .map(|e| e.to_string());
        assert!(e
            .unwrap_or_default()
            .contains("only valid for network type macvlan"));
        assert!(dev(&[("type", "macvlan"), ("macvlan.mode", "bridge")]).is_ok());
        assert!(dev(&[("type", "macvlan"), ("macvlan.mode", "bogus")]).is_err());
        assert!(dev(&[
            ("type", "ipvlan"),
            ("ipvlan.mode", "l3s"),
            ("ipvlan.isolation", "vepa")
        ])
        .is_ok());
        assert!(dev(&[("type", "vlan"), ("vlan.id", "100")]).is_ok());
        assert!(dev(&[("type", "vlan"), ("vlan.id", "5000")]).is_err());
    }

    #[test]
    fn bad_values() {
        for (k, v) in [
            ("type", "bridge"),
            ("flags", "down"),
            ("mtu", "big"),
            ("hwaddr", "00:11"),
            ("name", "averyveryverylongname"),
            ("name", "a/b"),
            ("name", "eth0;id"),
            ("link", "br\"0"),
            ("link", "br{0}"),
            ("veth.pair", "v$(id)"),
            ("veth.pair", "v'x"),
            ("ipv4.gateway", "fd00::1"),
            ("l2proxy", "yes"),
        ] {
            assert!(dev(&[(k, v)]).is_err(), "{k} = {v} accepted");
        }
        assert!(is_net_subkey("ipv4.address"));
        assert!(!is_net_subkey("ipv4"));
    }
}
