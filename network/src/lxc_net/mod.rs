//! The default NAT network, as LXC users know it from `lxc-net`: a bridge with the
//! host's address, dnsmasq giving DHCP and DNS on that bridge only, masquerade through
//! an nftables table of our own. Several bridges can run side by side (a bridge holds
//! at most 1024 ports). Everything happens in the calling thread's network namespace.
//!
//! `up` is all-or-nothing: a failure takes down what it had set up.

mod dnsmasq;
mod nft;
pub mod settings;

use std::path::PathBuf;

use netlink_packet_route::link::{InfoKind, LinkAttribute, LinkInfo, LinkMessage};

pub use settings::{BridgeSettings, Resolved, Settings, DEFAULT_PATH};

use crate::error::NetError;
use crate::host::open;
use crate::rtnl;
use crate::sysctl;

/// `ifalias` of bridges we created.
const BRIDGE_TAG: &str = "lxcrs-net";

#[derive(Debug, thiserror::Error)]
pub enum LxcNetError {
    #[error("{}: {msg}", path.display())]
    Settings { path: PathBuf, msg: String },
    #[error("bridge {bridge}: {msg}")]
    Bridge { bridge: String, msg: String },
    #[error("bridge {0} already exists and was not set up by lxcrs-net; delete it (ip link del {0}) or name another bridge in the settings")]
    Foreign(String),
    #[error("bridge {bridge}: {source}")]
    Net { bridge: String, source: NetError },
}

/// State of one bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub bridge: String,
    pub exists: bool,
    pub dnsmasq_pid: Option<i32>,
    pub nat_table: bool,
}

fn net_err(bridge: &str) -> impl Fn(NetError) -> LxcNetError + '_ {
    move |source| LxcNetError::Net {
        bridge: bridge.to_string(),
        source,
    }
}

/// Bring up every bridge of `settings` (or just those named in `only`).
pub fn up(settings: &Settings, only: &[String]) -> Result<(), LxcNetError> {
    let bridges = settings.select(only).map_err(|msg| LxcNetError::Settings {
        path: DEFAULT_PATH.into(),
        msg,
    })?;
    for b in bridges {
        up_one(settings, b)?;
    }
    Ok(())
}

/// Take down every bridge of `settings` (or those in `only`); carries on past errors.
pub fn down(settings: &Settings, only: &[String]) -> Result<(), Vec<LxcNetError>> {
    let bridges = settings.select(only).map_err(|msg| {
        vec![LxcNetError::Settings {
            path: DEFAULT_PATH.into(),
            msg,
        }]
    })?;
    let mut errs = Vec::new();
    for b in bridges {
        errs.extend(down_one(settings, &b.name));
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs)
    }
}

/// What is running for each bridge.
pub fn status(settings: &Settings) -> Vec<Status> {
    settings
        .bridge
        .iter()
        .map(|b| {
            let exists = open()
                .ok()
                .and_then(|mut nl| rtnl::link_by_name(&mut nl, &b.name).ok().flatten())
                .is_some();
            Status {
                bridge: b.name.clone(),
                exists,
                dnsmasq_pid: dnsmasq::running(settings, &b.name),
                nat_table: nft::table_exists(&b.name),
            }
        })
        .collect()
}

/// Bring up one bridge.
pub fn up_one(settings: &Settings, b: &BridgeSettings) -> Result<(), LxcNetError> {
    let r = b.resolve().map_err(|msg| LxcNetError::Bridge {
        bridge: b.name.clone(),
        msg,
    })?;
    let name = r.name.clone();
    let mut nl = open().map_err(net_err(&name))?;
    if let Some(l) = rtnl::link_by_name(&mut nl, &name)
        .map_err(|e| net_err(&name)(NetError::nl("look up")(e)))?
    {
        if l.alias.as_deref() != Some(BRIDGE_TAG) {
            return Err(LxcNetError::Foreign(name));
        }
        if dnsmasq::running(settings, &name).is_some() {
            return Err(LxcNetError::Bridge {
                bridge: name.clone(),
                msg: format!("is already up; run `lxcrs-net down {name}` first"),
            });
        }
        // Left over from an earlier run that did not finish: start clean.
        let _ = down_one(settings, &name);
    }
    let result = bring_up(settings, b, &r);
    if result.is_err() {
        let _ = down_one(settings, &name);
    }
    result
}

fn bring_up(settings: &Settings, b: &BridgeSettings, r: &Resolved) -> Result<(), LxcNetError> {
    let name = &r.name;
    let ne = net_err(name);
    let mut nl = open().map_err(&ne)?;
    let mut m = LinkMessage::default();
    m.attributes.push(LinkAttribute::IfName(name.clone()));
    if let Some(mac) = r.mac {
        m.attributes.push(LinkAttribute::Address(mac.to_vec()));
    }
    m.attributes
        .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
            InfoKind::Bridge,
        )]));
    rtnl::create_link(&mut nl, m)
        .map_err(|e| ne(NetError::nl(format!("create bridge {name}"))(e)))?;
    let br = rtnl::link_by_name(&mut nl, name)
        .map_err(|e| ne(NetError::nl("look up")(e)))?
        .ok_or_else(|| LxcNetError::Bridge {
            bridge: name.clone(),
            msg: "vanished after creation".into(),
        })?;
    rtnl::set_link(
        &mut nl,
        br.index,
        vec![LinkAttribute::IfAlias(BRIDGE_TAG.into())],
    )
    .map_err(|e| ne(NetError::nl("tag the bridge")(e)))?;
    let root = std::path::Path::new(sysctl::PROC_SYS);
    rtnl::add_addr(&mut nl, br.index, ipnetwork::IpNetwork::V4(r.ipv4), None)
        .map_err(|e| ne(NetError::nl(format!("add {}", r.ipv4))(e)))?;
    if let Some(v6) = r.ipv6 {
        // No duplicate address detection on our own bridge, so dnsmasq can bind at once.
        sysctl::write(root, &sysctl::conf(true, name, "accept_dad"), "0").map_err(&ne)?;
        rtnl::add_addr(&mut nl, br.index, ipnetwork::IpNetwork::V6(v6), None)
            .map_err(|e| ne(NetError::nl(format!("add {v6}"))(e)))?;
    }
    rtnl::set_up(&mut nl, br.index, true)
        .map_err(|e| ne(NetError::nl("bring the bridge up")(e)))?;
    sysctl::write(root, "net/ipv4/ip_forward", "1").map_err(&ne)?;
    if r.ipv6.is_some() {
        sysctl::write(root, "net/ipv6/conf/all/forwarding", "1").map_err(&ne)?;
    }
    nft::apply(b, r).map_err(&ne)?;
    dnsmasq::start(settings, b, r).map_err(&ne)?;
    Ok(())
}

/// Take down one bridge: dnsmasq, the nftables table, the bridge (only if ours).
pub fn down_one(settings: &Settings, name: &str) -> Vec<LxcNetError> {
    let ne = net_err(name);
    let mut errs = Vec::new();
    if let Err(e) = dnsmasq::stop(settings, name) {
        errs.push(ne(e));
    }
    if let Err(e) = nft::remove(name) {
        errs.push(ne(e));
    }
    match open() {
        Ok(mut nl) => match rtnl::link_by_name(&mut nl, name) {
            Ok(Some(l)) if l.alias.as_deref() == Some(BRIDGE_TAG) => {
                if let Err(e) = rtnl::ignore_gone(rtnl::del_link(&mut nl, l.index)) {
                    errs.push(ne(NetError::nl(format!("delete bridge {name}"))(e)));
                }
            }
            Ok(_) => {}
            Err(e) => errs.push(ne(NetError::nl("look up")(e))),
        },
        Err(e) => errs.push(ne(e)),
    }
    errs
}
