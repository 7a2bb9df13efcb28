//! Masquerade for a NAT bridge, in an nftables table of our own per bridge
//! (`inet lxcrs-<bridge>`), loaded atomically with `nft -f -`. Nobody else's rules are
//! touched, and `down` deletes just that table.

use std::io::Write;
use std::process::{Command, Stdio};

use super::settings::{BridgeSettings, Resolved};
use crate::error::{NetError, Result};

pub(crate) fn table_name(bridge: &str) -> String {
    let safe: String = bridge
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("lxcrs-{safe}")
}

/// The ruleset text (declare + delete first, so a stale table is replaced in the same
/// transaction).
pub(crate) fn ruleset(b: &BridgeSettings, r: &Resolved) -> String {
    let t = table_name(&r.name);
    let br = &r.name;
    let mut post = String::new();
    if b.nat {
        let net = format!("{}/{}", r.ipv4.network(), r.ipv4.prefix());
        post.push_str(&format!(
            "    ip saddr {net} ip daddr != {net} masquerade\n"
        ));
    }
    if let (Some(v6), true) = (r.ipv6, b.ipv6_nat) {
        let net = format!("{}/{}", v6.network(), v6.prefix());
        post.push_str(&format!(
            "    ip6 saddr {net} ip6 daddr != {net} masquerade\n"
        ));
    }
    format!(
        "table inet {t} {{}}\n\
         delete table inet {t}\n\
         table inet {t} {{\n\
         \x20 chain input {{\n\
         \x20   type filter hook input priority filter; policy accept;\n\
         \x20   iifname \"{br}\" udp dport {{ 53, 67, 547 }} accept\n\
         \x20   iifname \"{br}\" tcp dport 53 accept\n\
         \x20 }}\n\
         \x20 chain forward {{\n\
         \x20   type filter hook forward priority filter; policy accept;\n\
         \x20   iifname \"{br}\" accept\n\
         \x20   oifname \"{br}\" accept\n\
         \x20 }}\n\
         \x20 chain postrouting {{\n\
         \x20   type nat hook postrouting priority srcnat; policy accept;\n\
         {post}\
         \x20 }}\n\
         }}\n"
    )
}

fn nft(args: &[&str], stdin: Option<&str>) -> Result<String> {
    let what = format!("run nft {}", args.join(" "));
    let mut child = Command::new("nft")
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| NetError::Command {
            what: what.clone(),
            detail: format!("{e} (is the nftables package installed?)"),
        })?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())
            .map_err(NetError::io("write the ruleset to nft"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(NetError::io("wait for nft"))?;
    if !out.status.success() {
        return Err(NetError::Command {
            what,
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub(crate) fn apply(b: &BridgeSettings, r: &Resolved) -> Result<()> {
    nft(&["-f", "-"], Some(&ruleset(b, r))).map(|_| ())
}

pub(crate) fn table_exists(bridge: &str) -> bool {
    nft(&["list", "table", "inet", &table_name(bridge)], None).is_ok()
}

pub(crate) fn remove(bridge: &str) -> Result<()> {
    let t = table_name(bridge);
    // Declaring first makes the delete succeed when the table is already gone.
    nft(
        &["-f", "-"],
        Some(&format!("table inet {t} {{}}\ndelete table inet {t}\n")),
    )
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ruleset_masquerades_the_subnet_only() {
        let b = BridgeSettings {
            ipv6: "fd00:3::1/64".into(),
            ..BridgeSettings::default()
        };
        let r = b.resolve().unwrap_or_else(|e| panic!("{e}"));
        let t = ruleset(&b, &r);
        assert!(
            t.starts_with("table inet lxcrs-lxcbr0 {}\ndelete table inet lxcrs-lxcbr0\n"),
            "{t}"
        );
        assert!(
            t.contains("ip saddr 10.0.3.0/24 ip daddr != 10.0.3.0/24 masquerade"),
            "{t}"
        );
        assert!(
            t.contains("ip6 saddr fd00:3::/64 ip6 daddr != fd00:3::/64 masquerade"),
            "{t}"
        );
        assert!(
            t.contains("iifname \"lxcbr0\" udp dport { 53, 67, 547 } accept"),
            "{t}"
        );
        let b = BridgeSettings {
            nat: false,
            ipv6: "none".into(),
            ..BridgeSettings::default()
        };
        let r = b.resolve().unwrap_or_else(|e| panic!("{e}"));
        assert!(!ruleset(&b, &r).contains("masquerade"));
        assert_eq!(table_name("br.0"), "lxcrs-br_0");
    }
}
