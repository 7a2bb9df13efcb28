//! Open vSwitch bridges, through `ovs-vsctl` (LXC does the same; there is no stable
//! netlink interface for OVS ports).

use std::process::{Command, Stdio};

use crate::error::{NetError, Result};

/// Whether `ovs-vsctl` can be run.
pub fn available() -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("ovs-vsctl").is_file()))
        .unwrap_or(false)
}

fn run(args: &[&str]) -> Result<()> {
    let what = format!("run ovs-vsctl {}", args.join(" "));
    let out = Command::new("ovs-vsctl")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| NetError::Command {
            what: what.clone(),
            detail: e.to_string(),
        })?;
    if out.status.success() {
        return Ok(());
    }
    Err(NetError::Command {
        what,
        detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    })
}

pub fn add_port(bridge: &str, port: &str) -> Result<()> {
    run(&["add-port", bridge, port])
}

pub fn del_port(bridge: &str, port: &str) -> Result<()> {
    run(&["--if-exists", "del-port", bridge, port])
}

/// Access/trunk VLAN settings of a port (`veth.vlan.id`, `veth.vlan.tagged.id`).
pub fn set_port_vlan(port: &str, untagged: Option<u16>, tagged: &[u16]) -> Result<()> {
    let mode = match (untagged, tagged.is_empty()) {
        (Some(_), true) => "access",
        (Some(_), false) => "native-untagged",
        (None, false) => "trunk",
        (None, true) => return Ok(()),
    };
    let mut args = vec![
        "set".to_string(),
        "port".to_string(),
        port.to_string(),
        format!("vlan_mode={mode}"),
    ];
    if let Some(id) = untagged {
        args.push(format!("tag={id}"));
    }
    if !tagged.is_empty() {
        let t: Vec<String> = tagged.iter().map(u16::to_string).collect();
        args.push(format!("trunks={}", t.join(",")));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&refs)
}
