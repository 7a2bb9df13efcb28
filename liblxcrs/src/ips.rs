//! A running container's addresses and interfaces. Addresses are read through
//! `/proc/<init pid>/net` (which shows init's network namespace: no setns, no fork);
//! moving an interface in or out (`lxc-device`) goes through the network crate.

use std::fs;

/// Global IPv4 addresses of the netns of `pid` (loopback excluded), in kernel order.
pub fn ipv4(pid: i32) -> Vec<String> {
    let text = fs::read_to_string(format!("/proc/{pid}/net/fib_trie")).unwrap_or_default();
    parse_fib_trie(&text)
}

/// Global IPv6 addresses of the netns of `pid` (loopback and link-local excluded).
pub fn ipv6(pid: i32) -> Vec<String> {
    let text = fs::read_to_string(format!("/proc/{pid}/net/if_inet6")).unwrap_or_default();
    parse_if_inet6(&text)
}

/// Interface names in the netns of `pid`, loopback excluded.
pub fn interfaces(pid: i32) -> Vec<String> {
    let text = fs::read_to_string(format!("/proc/{pid}/net/dev")).unwrap_or_default();
    text.lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(|s| s.trim().to_string())
        .filter(|n| n != "lo" && !n.is_empty())
        .collect()
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
            let a = std::net::Ipv6Addr::new(
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
}
