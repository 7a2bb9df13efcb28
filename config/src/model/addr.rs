//! Network address values: IPv4/IPv6 addresses with prefix, gateways, MAC addresses.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::error::{ConfigError, Result};

/// `lxc.net.N.ipv4.address = a.b.c.d/prefix [broadcast]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Cidr {
    pub addr: Ipv4Addr,
    pub prefix: u8,
    /// Explicit broadcast address, if given after the address.
    pub broadcast: Option<Ipv4Addr>,
}

const V4_EXPECTED: &str = "invalid IPv4 address (expected a.b.c.d/prefix [broadcast])";
const V6_EXPECTED: &str = "invalid IPv6 address (expected addr/prefix)";

impl Ipv4Cidr {
    /// Parse an address line. Without a prefix the classful default is used, as LXC does.
    pub fn parse(s: &str) -> Result<Ipv4Cidr> {
        let mut it = s.split_ascii_whitespace();
        let first = it.next().ok_or_else(|| ConfigError::value(V4_EXPECTED))?;
        let broadcast = match it.next() {
            Some(b) => Some(b.parse::<Ipv4Addr>().map_err(|_| {
                ConfigError::value(
                    "invalid IPv4 broadcast address (expected a.b.c.d/prefix [broadcast])",
                )
            })?),
            None => None,
        };
        if it.next().is_some() {
            return Err(ConfigError::value(V4_EXPECTED));
        }
        let (addr, prefix) = split_prefix(first, 32, V4_EXPECTED)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| ConfigError::value(V4_EXPECTED))?;
        let prefix = prefix.unwrap_or_else(|| classful_prefix(addr));
        Ok(Ipv4Cidr {
            addr,
            prefix,
            broadcast,
        })
    }

    /// Parse a route (`a.b.c.d/prefix`, prefix required, no broadcast).
    pub fn parse_route(s: &str) -> Result<Ipv4Cidr> {
        const EXP: &str = "invalid IPv4 route (expected a.b.c.d/prefix)";
        let (addr, prefix) = split_prefix(s.trim(), 32, EXP)?;
        let prefix = prefix.ok_or_else(|| ConfigError::value(EXP))?;
        let addr = addr.parse().map_err(|_| ConfigError::value(EXP))?;
        Ok(Ipv4Cidr {
            addr,
            prefix,
            broadcast: None,
        })
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)?;
        if let Some(b) = self.broadcast {
            write!(f, " {b}")?;
        }
        Ok(())
    }
}

fn classful_prefix(addr: Ipv4Addr) -> u8 {
    match addr.octets()[0] {
        0..=127 => 8,
        128..=191 => 16,
        192..=223 => 24,
        _ => 0,
    }
}

fn split_prefix<'a>(s: &'a str, max: u8, expected: &str) -> Result<(&'a str, Option<u8>)> {
    match s.split_once('/') {
        None => Ok((s, None)),
        Some((a, p)) => {
            if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ConfigError::value(expected));
            }
            let p: u8 = p.parse().map_err(|_| ConfigError::value(expected))?;
            if p > max {
                return Err(ConfigError::value(format!(
                    "prefix length {p} exceeds {max}"
                )));
            }
            Ok((a, Some(p)))
        }
    }
}

/// `lxc.net.N.ipv6.address = addr/prefix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6Cidr {
    pub addr: Ipv6Addr,
    pub prefix: u8,
}

impl Ipv6Cidr {
    /// Parse an address; without a prefix LXC uses /64.
    pub fn parse(s: &str) -> Result<Ipv6Cidr> {
        let s = s.trim();
        if s.split_ascii_whitespace().count() != 1 {
            return Err(ConfigError::value(V6_EXPECTED));
        }
        let (addr, prefix) = split_prefix(s, 128, V6_EXPECTED)?;
        let addr = addr.parse().map_err(|_| ConfigError::value(V6_EXPECTED))?;
        Ok(Ipv6Cidr {
            addr,
            prefix: prefix.unwrap_or(64),
        })
    }

    /// Parse a route (prefix required).
    pub fn parse_route(s: &str) -> Result<Ipv6Cidr> {
        const EXP: &str = "invalid IPv6 route (expected addr/prefix)";
        let (addr, prefix) = split_prefix(s.trim(), 128, EXP)?;
        let prefix = prefix.ok_or_else(|| ConfigError::value(EXP))?;
        let addr = addr.parse().map_err(|_| ConfigError::value(EXP))?;
        Ok(Ipv6Cidr { addr, prefix })
    }
}

impl fmt::Display for Ipv6Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// `lxc.net.N.ipv4.gateway` / `ipv6.gateway`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Gateway<A> {
    /// Use the first address of the host-side link (`auto`).
    Auto,
    /// A device route without a next hop (`dev`).
    Dev,
    Addr(A),
}

impl<A: std::str::FromStr + fmt::Display> Gateway<A> {
    /// Parse `auto`, `dev` or an address; `family` ("IPv4"/"IPv6") is for the message.
    pub fn parse(s: &str, family: &str) -> Result<Gateway<A>> {
        match s.trim() {
            "auto" => Ok(Gateway::Auto),
            "dev" => Ok(Gateway::Dev),
            a => a.parse().map(Gateway::Addr).map_err(|_| {
                ConfigError::value(format!(
                    "invalid {family} gateway (expected auto, dev or an address)"
                ))
            }),
        }
    }
}

impl<A: fmt::Display> fmt::Display for Gateway<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Gateway::Auto => f.write_str("auto"),
            Gateway::Dev => f.write_str("dev"),
            Gateway::Addr(a) => a.fmt(f),
        }
    }
}

/// Validate a MAC address or template (`00:16:3e:xx:xx:xx`): six colon-separated
/// octets of two hex digits, where `x`/`X` stands for a random hex digit.
pub fn check_hwaddr(s: &str) -> Result<()> {
    let bad = || {
        ConfigError::value(
            "invalid MAC address (expected xx:xx:xx:xx:xx:xx, hex digits or 'x' for random)",
        )
    };
    let octets: Vec<&str> = s.split(':').collect();
    if octets.len() != 6 {
        return Err(bad());
    }
    for o in octets {
        if o.len() != 2
            || !o
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b'x' || b == b'X')
        {
            return Err(bad());
        }
    }
    Ok(())
}

/// Whether a (valid) MAC still contains random placeholders.
pub fn is_hwaddr_template(s: &str) -> bool {
    s.bytes().any(|b| b == b'x' || b == b'X')
}

/// Replace the `x` placeholders of a MAC template with random hex digits. If the
/// first octet itself is random, the result is kept unicast and locally administered.
pub fn complete_hwaddr(template: &str, random: &mut dyn FnMut() -> u8) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(template.len());
    for (i, c) in template.chars().enumerate() {
        if c == 'x' || c == 'X' {
            let mut nibble = random() & 0x0f;
            if i == 1 {
                // Second hex digit of the first octet: clear multicast, set local bit.
                nibble = (nibble & 0x0e) | 0x02;
            }
            out.push(char::from(HEX[usize::from(nibble)]));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4() {
        let a = Ipv4Cidr::parse("10.0.3.5/24").ok();
        assert_eq!(a.map(|a| a.to_string()).as_deref(), Some("10.0.3.5/24"));
        let a = Ipv4Cidr::parse("10.0.3.5/24 10.0.3.255").ok();
        assert_eq!(
            a.and_then(|a| a.broadcast),
            Some(Ipv4Addr::new(10, 0, 3, 255))
        );
        assert_eq!(
            Ipv4Cidr::parse("192.168.1.1").ok().map(|a| a.prefix),
            Some(24)
        );
        assert_eq!(Ipv4Cidr::parse("10.1.1.1").ok().map(|a| a.prefix), Some(8));
        for bad in [
            "10.0.3.300/24",
            "10.0.3.5/33",
            "10.0.3.5/",
            "x",
            "",
            "10.0.3.5/24 b",
            "1.2.3.4/8 1.2.3.255 z",
        ] {
            let e = Ipv4Cidr::parse(bad);
            assert!(e.is_err(), "{bad:?} accepted");
        }
        let e = Ipv4Cidr::parse("10.0.3.300/24")
            .err()
            .map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some(V4_EXPECTED));
        assert!(Ipv4Cidr::parse_route("10.0.0.0/8").is_ok());
        assert!(Ipv4Cidr::parse_route("10.0.0.0").is_err());
    }

    #[test]
    fn ipv6() {
        assert_eq!(
            Ipv6Cidr::parse("fd00::1/48").ok().map(|a| a.prefix),
            Some(48)
        );
        assert_eq!(Ipv6Cidr::parse("fd00::1").ok().map(|a| a.prefix), Some(64));
        for bad in ["fd00::1/129", "fd00:::1", "1.2.3.4", "fd00::1/64 x"] {
            assert!(Ipv6Cidr::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Ipv6Cidr::parse_route("fd00::/8").is_ok());
    }

    #[test]
    fn gateways() {
        assert_eq!(
            Gateway::<Ipv4Addr>::parse("auto", "IPv4").ok(),
            Some(Gateway::Auto)
        );
        assert_eq!(
            Gateway::<Ipv4Addr>::parse("dev", "IPv4").ok(),
            Some(Gateway::Dev)
        );
        assert_eq!(
            Gateway::<Ipv4Addr>::parse("10.0.3.1", "IPv4").ok(),
            Some(Gateway::Addr(Ipv4Addr::new(10, 0, 3, 1)))
        );
        assert!(Gateway::<Ipv6Addr>::parse("10.0.3.1", "IPv6").is_err());
    }

    #[test]
    fn hwaddr() {
        assert!(check_hwaddr("00:16:3e:xx:xx:xx").is_ok());
        assert!(check_hwaddr("00:16:3E:aB:01:ff").is_ok());
        for bad in [
            "00:16:3e:xx:xx",
            "00:16:3e:xx:xx:xx:xx",
            "0:16:3e:11:22:33",
            "00:16:3g:11:22:33",
            "",
        ] {
            assert!(check_hwaddr(bad).is_err(), "{bad:?} accepted");
        }
        let mut n = 0u8;
        let mut rnd = || {
            n = n.wrapping_add(7);
            n
        };
        let mac = complete_hwaddr("00:16:3e:xx:xx:xx", &mut rnd);
        assert!(mac.starts_with("00:16:3e:"));
        assert!(!is_hwaddr_template(&mac));
        assert!(check_hwaddr(&mac).is_ok());
        let mut all_ones = || 0xffu8;
        let mac = complete_hwaddr("xx:xx:xx:xx:xx:xx", &mut all_ones);
        assert_eq!(&mac[..2], "fe");
    }
}
