//! What `lxc-info` and `lxc-ls -f` show: a container's addresses and per-link counters,
//! the one place that reads them.
//!
//! A running container's addresses are read through `/proc/<init pid>/net` (which shows
//! init's network namespace: no setns, no thread, no privilege beyond reading /proc):
//! [`ipv4_of_pid`], [`ipv6_of_pid`], [`ifnames_of_pid`]. [`ips_of`] asks netlink inside
//! a namespace handle (one no process may live in yet); [`link_stats`] gives a link's
//! counters.

use std::fs;
use std::net::{IpAddr, Ipv6Addr};

use crate::error::{NetError, Result};
use crate::host::open;
use crate::netns::{in_netns, Netns};
use crate::rtnl;
pub use crate::rtnl::LinkStats;

/// One address of a container interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NicAddr {
    pub ifname: String,
    pub addr: IpAddr,
    pub prefix: u8,
}

/// Global-scope addresses of every interface but loopback in `ns` (static ones and
/// those the container got by DHCP/SLAAC), in interface order.
pub fn ips_of(ns: Netns<'_>) -> Result<Vec<NicAddr>> {
    in_netns(ns, || {
        let mut nl = open()?;
        let links = rtnl::links(&mut nl).map_err(NetError::nl("list interfaces"))?;
        let addrs = rtnl::addrs(&mut nl, None).map_err(NetError::nl("list addresses"))?;
        let mut out = Vec::new();
        for l in &links {
            if l.name == "lo" || l.kind.as_deref() == Some("loopback") {
                continue;
            }
            for a in addrs.iter().filter(|a| a.index == l.index && a.scope == 0) {
                out.push(NicAddr {
                    ifname: l.name.clone(),
                    addr: a.net.ip(),
                    prefix: a.net.prefix(),
                });
            }
        }
        Ok(out)
    })
}

/// Counters of interface `ifname`, in `ns` or (for `None`) in the calling thread's
/// namespace, where the host ends of veth pairs are. `None` if there is no such link.
pub fn link_stats(ns: Option<Netns<'_>>, ifname: &str) -> Result<Option<LinkStats>> {
    let get = || -> Result<Option<LinkStats>> {
        let mut nl = open()?;
        let l = rtnl::link_by_name(&mut nl, ifname)
            .map_err(NetError::nl(format!("look up {ifname}")))?;
        Ok(l.map(|l| l.stats.unwrap_or_default()))
    };
    match ns {
        Some(ns) => in_netns(ns, get),
        None => get(),
    }
}

/// Global IPv4 addresses of the netns of process `pid` (loopback excluded), in the
/// kernel's (numeric) order; none when it cannot be read (the process is gone).
pub fn ipv4_of_pid(pid: i32) -> Vec<String> {
    let text = fs::read_to_string(format!("/proc/{pid}/net/fib_trie")).unwrap_or_default();
    parse_fib_trie(&text)
}

/// Global IPv6 addresses of the netns of process `pid` (loopback and link-local excluded).
pub fn ipv6_of_pid(pid: i32) -> Vec<String> {
    let text = fs::read_to_string(format!("/proc/{pid}/net/if_inet6")).unwrap_or_default();
    parse_if_inet6(&text)
}

/// Interface names in the netns of process `pid`, loopback excluded.
pub fn ifnames_of_pid(pid: i32) -> Vec<String> {
    let text = fs::read_to_string(format!("/proc/{pid}/net/dev")).unwrap_or_default();
    text.lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(|s| s.trim().to_string())
        .filter(|n| n != "lo" && !n.is_empty())
        .collect()
}

/// Local host addresses in `/proc/net/fib_trie`: a `|-- a.b.c.d` line followed by
/// `/32 host LOCAL`.
fn parse_fib_trie(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut last: Option<&str> = None;
    for line in text.lines() {
        let t = line.trim();
        if let Some(addr) = t.strip_prefix("|-- ") {
            last = Some(addr);
        } else if t.contains("/32 host LOCAL") {
            if let Some(a) = last {
                if !a.starts_with("127.") && !out.iter().any(|x| x == a) {
                    out.push(a.to_string());
                }
            }
        }
    }
    out
}

/// `/proc/net/if_inet6`: `addr ifindex prefixlen scope flags name`; scope 00 is global.
fn parse_if_inet6(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 6 || f[3] != "00" || f[0].len() != 32 {
            continue;
        }
        let groups: Vec<u16> = (0..8)
            .filter_map(|i| u16::from_str_radix(&f[0][i * 4..i * 4 + 4], 16).ok())
            .collect();
        if groups.len() == 8 {
            let a = Ipv6Addr::new(
                groups[0], groups[1], groups[2], groups[3], groups[4], groups[5], groups[6],
                groups[7],
            );
            if !a.is_loopback() {
                out.push(a.to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fib_trie_local_addresses() {
        let t = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 10.0.3.0\n        /24 link UNICAST\n     |-- 10.0.3.5\n        /32 host LOCAL\n  |-- 127.0.0.1\n     /32 host LOCAL\nLocal:\n     |-- 10.0.3.5\n        /32 host LOCAL\n";
        assert_eq!(parse_fib_trie(t), vec!["10.0.3.5"]);
    }

    #[test]
    fn inet6_global_only() {
        let t = "fd420000000000000000000000000005 02 40 00 80 eth0\nfe800000000000000000000000000001 02 40 20 80 eth0\n00000000000000000000000000000001 01 80 10 80 lo\n";
        assert_eq!(parse_if_inet6(t), vec!["fd42::5"]);
    }

    #[test]
    fn own_interfaces_without_loopback() {
        // This test's own netns has at least lo, which is left out.
        let me = std::process::id() as i32;
        assert!(!ifnames_of_pid(me).iter().any(|n| n == "lo"));
        assert!(ipv4_of_pid(me).iter().all(|a| !a.starts_with("127.")));
    }
}
