//! `/etc/lxcrs/lxc-net.toml`: the default NAT network(s). Every field has LXC's
//! `lxc-net` default, so a missing file means one `lxcbr0` on 10.0.3.1/24.
//!
//! ```toml
//! run_dir = "/run/lxcrs"        # dnsmasq pid files
//! state_dir = "/var/lib/lxcrs"  # dnsmasq lease files
//!
//! [[bridge]]
//! name = "lxcbr0"
//! ipv4 = "10.0.3.1/24"
//! dhcp_range = "10.0.3.2,10.0.3.254"
//! ipv6 = "auto"                 # a ULA /64 derived from /etc/machine-id; "none" disables
//!
//! [[bridge]]                    # a second network beside it
//! name = "lxcbr1"
//! ipv4 = "10.0.4.1/24"
//! ```

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use ipnetwork::{Ipv4Network, Ipv6Network};
use serde::Deserialize;

use super::LxcNetError;

/// Default settings file.
pub const DEFAULT_PATH: &str = "/etc/lxcrs/lxc-net.toml";

/// The whole settings file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default = "default_run_dir")]
    pub run_dir: PathBuf,
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// dnsmasq binary.
    #[serde(default = "default_dnsmasq")]
    pub dnsmasq: PathBuf,
    #[serde(default = "default_bridges")]
    pub bridge: Vec<BridgeSettings>,
}

/// One NAT bridge.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeSettings {
    #[serde(default = "default_name")]
    pub name: String,
    /// Bridge MAC (LXC: 10:66:6a:00:00:00); "" lets the kernel choose.
    #[serde(default = "default_mac")]
    pub mac: String,
    /// The host's address on the bridge, with the subnet's prefix.
    #[serde(default = "default_ipv4")]
    pub ipv4: String,
    /// `start,end` of the DHCP pool; default: .2 to the last host address.
    #[serde(default)]
    pub dhcp_range: Option<String>,
    /// Maximum number of leases; default: the size of the pool.
    #[serde(default)]
    pub dhcp_max: Option<u32>,
    /// Ping an address before offering it (LXC_DHCP_PING).
    #[serde(default = "yes")]
    pub dhcp_ping: bool,
    /// Extra dnsmasq configuration file (LXC_DHCP_CONFILE).
    #[serde(default)]
    pub dhcp_confile: Option<PathBuf>,
    /// DNS domain of the containers (LXC_DOMAIN).
    #[serde(default)]
    pub domain: Option<String>,
    /// `auto` (ULA from /etc/machine-id), `none`, or `addr/prefix`.
    #[serde(default = "default_ipv6")]
    pub ipv6: String,
    /// Masquerade IPv4 leaving the subnet.
    #[serde(default = "yes")]
    pub nat: bool,
    /// Masquerade IPv6 leaving the prefix (useful with a ULA prefix).
    #[serde(default = "yes")]
    pub ipv6_nat: bool,
    /// User dnsmasq drops to; default `lxc-dnsmasq` if it exists, else `nobody`.
    #[serde(default)]
    pub dnsmasq_user: Option<String>,
}

fn yes() -> bool {
    true
}
fn default_run_dir() -> PathBuf {
    PathBuf::from("/run/lxcrs")
}
fn default_state_dir() -> PathBuf {
    PathBuf::from("/var/lib/lxcrs")
}
fn default_dnsmasq() -> PathBuf {
    PathBuf::from("dnsmasq")
}
fn default_name() -> String {
    "lxcbr0".into()
}
fn default_mac() -> String {
    "10:66:6a:00:00:00".into()
}
fn default_ipv4() -> String {
    "10.0.3.1/24".into()
}
fn default_ipv6() -> String {
    "auto".into()
}
fn default_bridges() -> Vec<BridgeSettings> {
    vec![BridgeSettings::default()]
}

impl Default for BridgeSettings {
    fn default() -> Self {
        BridgeSettings {
            name: default_name(),
            mac: default_mac(),
            ipv4: default_ipv4(),
            dhcp_range: None,
            dhcp_max: None,
            dhcp_ping: true,
            dhcp_confile: None,
            domain: None,
            ipv6: default_ipv6(),
            nat: true,
            ipv6_nat: true,
            dnsmasq_user: None,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            run_dir: default_run_dir(),
            state_dir: default_state_dir(),
            dnsmasq: default_dnsmasq(),
            bridge: default_bridges(),
        }
    }
}

/// A bridge's settings, checked and with defaults computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub name: String,
    pub mac: Option<[u8; 6]>,
    pub ipv4: Ipv4Network,
    pub dhcp_start: Ipv4Addr,
    pub dhcp_end: Ipv4Addr,
    pub dhcp_max: u32,
    pub ipv6: Option<Ipv6Network>,
}

impl Settings {
    /// Read `path`; a missing file gives the defaults.
    pub fn load(path: &Path) -> Result<Settings, LxcNetError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Settings::default()),
            Err(e) => {
                return Err(LxcNetError::Settings {
                    path: path.into(),
                    msg: e.to_string(),
                })
            }
        };
        let s = Settings::parse(&text).map_err(|msg| LxcNetError::Settings {
            path: path.into(),
            msg,
        })?;
        Ok(s)
    }

    /// Parse settings text and check every bridge.
    pub fn parse(text: &str) -> Result<Settings, String> {
        let s: Settings = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut names = Vec::new();
        let mut nets: Vec<Ipv4Network> = Vec::new();
        for b in &s.bridge {
            let r = b.resolve()?;
            if names.contains(&r.name) {
                return Err(format!("bridge {} is listed twice", r.name));
            }
            if let Some(n) = nets.iter().find(|n| n.overlaps(r.ipv4)) {
                return Err(format!(
                    "bridge {}: {} overlaps {} of another bridge",
                    r.name, r.ipv4, n
                ));
            }
            names.push(r.name);
            nets.push(r.ipv4);
        }
        Ok(s)
    }

    /// The bridges named in `only` (all when empty).
    pub fn select(&self, only: &[String]) -> Result<Vec<&BridgeSettings>, String> {
        if only.is_empty() {
            return Ok(self.bridge.iter().collect());
        }
        only.iter()
            .map(|n| {
                self.bridge
                    .iter()
                    .find(|b| &b.name == n)
                    .ok_or_else(|| format!("no bridge {n} in the settings"))
            })
            .collect()
    }
}

impl BridgeSettings {
    pub fn resolve(&self) -> Result<Resolved, String> {
        let name = &self.name;
        crate::names::check_bridge_name(name).map_err(|e| format!("name: {e}"))?;
        let ipv4: Ipv4Network = self
            .ipv4
            .parse()
            .map_err(|_| format!("bridge {name}: ipv4 '{}' is not addr/prefix", self.ipv4))?;
        if ipv4.prefix() > 30 || ipv4.ip() == ipv4.network() || ipv4.ip() == ipv4.broadcast() {
            return Err(format!(
                "bridge {name}: ipv4 {} must be a host address in a subnet of /30 or larger",
                self.ipv4
            ));
        }
        let mac = match self.mac.as_str() {
            "" => None,
            m => Some(
                crate::names::resolve_hwaddr_random(m)
                    .map_err(|e| format!("bridge {name}: mac: {e}"))?,
            ),
        };
        let (dhcp_start, dhcp_end) = match &self.dhcp_range {
            Some(r) => {
                let (a, b) = r
                    .split_once(',')
                    .ok_or_else(|| format!("bridge {name}: dhcp_range must be start,end"))?;
                let a: Ipv4Addr = a
                    .trim()
                    .parse()
                    .map_err(|_| format!("bridge {name}: bad dhcp_range start '{a}'"))?;
                let b: Ipv4Addr = b
                    .trim()
                    .parse()
                    .map_err(|_| format!("bridge {name}: bad dhcp_range end '{b}'"))?;
                if !ipv4.contains(a) || !ipv4.contains(b) || u32::from(a) > u32::from(b) {
                    return Err(format!(
                        "bridge {name}: dhcp_range {r} is not an ascending range inside {ipv4}"
                    ));
                }
                (a, b)
            }
            None => {
                let first = Ipv4Addr::from(u32::from(ipv4.network()) + 1);
                let last = Ipv4Addr::from(u32::from(ipv4.broadcast()) - 1);
                // Skip the bridge's own address when it is the first.
                let start = if first == ipv4.ip() {
                    Ipv4Addr::from(u32::from(first) + 1)
                } else {
                    first
                };
                (start, last)
            }
        };
        let dhcp_max = self
            .dhcp_max
            .unwrap_or(u32::from(dhcp_end) - u32::from(dhcp_start) + 1);
        let ipv6 = match self.ipv6.as_str() {
            "none" | "" => None,
            "auto" => Some(default_ula()),
            s => Some(
                s.parse::<Ipv6Network>()
                    .map_err(|_| format!("bridge {name}: ipv6 '{s}' is not addr/prefix"))?,
            ),
        };
        Ok(Resolved {
            name: name.clone(),
            mac,
            ipv4,
            dhcp_start,
            dhcp_end,
            dhcp_max,
            ipv6,
        })
    }
}

/// A ULA /64 (RFC 4193 style) whose 40-bit global ID comes from /etc/machine-id, so
/// it is stable on one host and differs between hosts; `::1` is the bridge.
pub fn default_ula() -> Ipv6Network {
    let id = std::fs::read_to_string("/etc/machine-id").unwrap_or_default();
    ula_from_machine_id(id.trim())
}

pub fn ula_from_machine_id(id: &str) -> Ipv6Network {
    let hex: Vec<u8> = id.bytes().filter(u8::is_ascii_hexdigit).take(10).collect();
    let gid = if hex.len() == 10 {
        u64::from_str_radix(std::str::from_utf8(&hex).unwrap_or("10666a0000"), 16)
            .unwrap_or(0x10_666a_0000)
    } else {
        0x10_666a_0000
    };
    let seg = |shift: u32| ((gid >> shift) & 0xffff) as u16;
    let addr = Ipv6Addr::new(
        0xfd00 | ((gid >> 32) as u16 & 0xff),
        seg(16),
        seg(0),
        0,
        0,
        0,
        0,
        1,
    );
    Ipv6Network::new(addr, 64).unwrap_or_else(|_| Ipv6Network::from(addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_lxc_net_defaults() {
        let s = Settings::parse("").unwrap_or_default();
        assert_eq!(s.bridge.len(), 1);
        let r = s.bridge[0].resolve().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.name, "lxcbr0");
        assert_eq!(r.ipv4.to_string(), "10.0.3.1/24");
        assert_eq!(
            (r.dhcp_start, r.dhcp_end, r.dhcp_max),
            (
                Ipv4Addr::new(10, 0, 3, 2),
                Ipv4Addr::new(10, 0, 3, 254),
                253
            )
        );
        assert_eq!(r.mac, Some([0x10, 0x66, 0x6a, 0, 0, 0]));
        assert_eq!(s.run_dir, PathBuf::from("/run/lxcrs"));
        let ula = r.ipv6.unwrap_or_else(default_ula);
        assert_eq!(ula.prefix(), 64);
        assert_eq!(ula.ip().segments()[0] & 0xff00, 0xfd00);
    }

    #[test]
    fn ula_is_derived_from_machine_id() {
        let u = ula_from_machine_id("0123456789abcdef0123456789abcdef");
        assert_eq!(u.to_string(), "fd01:2345:6789::1/64");
        assert_eq!(ula_from_machine_id("").ip().segments()[0], 0xfd10);
    }

    #[test]
    fn several_bridges_and_errors() {
        let s = Settings::parse(
            "run_dir = \"/tmp/r\"\n[[bridge]]\nname = \"lxcbr0\"\n[[bridge]]\nname = \"lxcbr1\"\nipv4 = \"10.0.4.1/24\"\nipv6 = \"none\"\ndhcp_range = \"10.0.4.100,10.0.4.199\"\n",
        );
        let s = s.unwrap_or_else(|e| panic!("{e}"));
        let r = s.bridge[1].resolve().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((r.dhcp_max, r.ipv6), (100, None));
        assert_eq!(s.select(&["lxcbr1".into()]).map(|v| v.len()), Ok(1));
        assert!(s.select(&["nope".into()]).is_err());
        let dup = Settings::parse("[[bridge]]\nname = \"a\"\n[[bridge]]\nname = \"b\"\n");
        assert!(dup.err().unwrap_or_default().contains("overlaps"));
        assert!(Settings::parse("[[bridge]]\nipv4 = \"10.0.3.0/24\"\n").is_err());
        assert!(Settings::parse("[[bridge]]\ndhcp_range = \"10.0.4.2,10.0.4.9\"\n").is_err());
        assert!(Settings::parse("bogus = 1\n").is_err());
        // The name goes into nft script text inside "…": nothing that could leave it.
        for bad in ["br\\\"0", "br;0", "br{0}", "br0+", "br@0", "br#0"] {
            let toml = format!("[[bridge]]\nname = '{bad}'\n");
            let e = Settings::parse(&toml).err().unwrap_or_default();
            assert!(
                e.contains("letters, digits") || e.contains("may not hold"),
                "{bad}: {e}"
            );
        }
        assert!(Settings::parse("[[bridge]]\nname = 'br-0.lan_x'\n").is_ok());
    }
}
