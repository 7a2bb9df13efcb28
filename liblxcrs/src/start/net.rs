//! The container's network devices during start: the config's `lxc.net.N` mapped onto
//! the network crate's specs, host sides created, moved into init's netns and configured
//! there; and the record the monitor keeps to tear them down at stop.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use ipnetwork::{Ipv4Network, Ipv6Network};
use lxcrs_config::model::net as cfg;
use lxcrs_config::model::{Gateway as CfgGateway, Ipv4Cidr, Ipv6Cidr};
use lxcrs_config::ContainerConfig;
use lxcrs_network as net;
use nix::unistd::Pid;

use super::StartError;

/// What start made on the host for a container's NICs; the monitor tears it down.
#[derive(Debug, Default)]
pub struct NetSetup {
    /// Each NIC's spec and what was created for it, in `lxc.net.N` order.
    pub nics: Vec<(net::NetDevSpec, net::HostNic)>,
    /// Facts passed to `script.up`/`script.down`.
    pub ctx: net::NetContext,
}

impl NetSetup {
    /// Removes every host-side device, route and proxy entry; runs `script.down`.
    /// `container_netns` (init's netns, still open) lets phys devices go back to the host.
    pub fn teardown(
        &self,
        container_netns: Option<std::os::fd::BorrowedFd<'_>>,
    ) -> Result<(), String> {
        let mut errors = Vec::new();
        for (_, nic) in self.nics.iter().rev() {
            if let Err(errs) = net::teardown(nic, &self.ctx, container_netns.map(net::Netns::Fd)) {
                errors.extend(errs.into_iter().map(|e| e.to_string()));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("\n"))
        }
    }
}

/// The string every host device of this container is tagged with, so that the devices
/// of a monitor that was killed can be found and removed by the next start or stop.
pub fn owner(lxcpath: &Path, name: &str) -> String {
    format!("{}/{name}", lxcpath.display())
}

/// Removes host devices a crashed monitor of this container left behind.
pub fn cleanup_leftovers(lxcpath: &Path, name: &str) -> Result<(), String> {
    net::cleanup_leftovers(&owner(lxcpath, name)).map_err(|errs| {
        errs.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// Whether the config gives init its own network namespace with devices to set up.
pub fn wants_devices(config: &ContainerConfig) -> bool {
    !config.shares_host_network()
        && config
            .net
            .values()
            .any(|d| !matches!(d.kind, Some(cfg::NetType::None)))
}

/// Creates, moves and configures every NIC of `config` for init `pid`. On failure, what
/// was made is torn down before the error returns.
pub fn setup(
    config: &ContainerConfig,
    ctx: net::NetContext,
    pid: Pid,
) -> Result<NetSetup, StartError> {
    let mut done = NetSetup {
        nics: Vec::new(),
        ctx,
    };
    let result = (|| {
        let specs = config
            .net
            .iter()
            .map(|(i, d)| spec_of(*i, d))
            .collect::<Result<Vec<_>, _>>()?;
        for spec in specs {
            if matches!(spec.kind, net::NetKind::None) {
                continue;
            }
            let nic =
                net::create_host_side_in(&spec, &done.ctx, Some(pid.as_raw())).map_err(net_err)?;
            done.nics.push((spec, nic));
            let (_, nic) = done
                .nics
                .last()
                .ok_or_else(|| StartError::config("lxc.net", "", "internal"))?;
            net::move_into_netns(nic, net::Netns::Pid(pid.as_raw())).map_err(net_err)?;
        }
        let nics = &done.nics;
        // Only a device moved in needs work inside (init brought lo up itself): entering
        // the namespace costs a thread and a setns, ~3 ms, for `empty` for nothing.
        if nics.iter().all(|(_, nic)| nic.peer_ifname.is_none()) {
            return Ok(());
        }
        net::in_netns(net::Netns::Pid(pid.as_raw()), || {
            net::loopback_up()?;
            for (spec, nic) in nics {
                net::configure_in_netns(spec, nic)?;
            }
            Ok(())
        })
        .map_err(net_err)
    })();
    match result {
        Ok(()) => Ok(done),
        Err(e) => {
            let _ = done.teardown(None);
            Err(e)
        }
    }
}

/// Loopback up in a netns that has no configured devices (LXC's `empty` or no `lxc.net`).
pub fn loopback_only(pid: Pid) -> Result<(), StartError> {
    net::in_netns(net::Netns::Pid(pid.as_raw()), net::loopback_up).map_err(net_err)
}

fn net_err(e: net::NetError) -> StartError {
    // The network crate's messages already name the key and the fix.
    StartError::Message(e.to_string())
}

fn v4(c: &Ipv4Cidr, key: &str) -> Result<Ipv4Network, StartError> {
    Ipv4Network::new(c.addr, c.prefix)
        .map_err(|e| StartError::config(key, c.addr.to_string(), e.to_string()))
}

fn v6(c: &Ipv6Cidr, key: &str) -> Result<Ipv6Network, StartError> {
    Ipv6Network::new(c.addr, c.prefix)
        .map_err(|e| StartError::config(key, c.addr.to_string(), e.to_string()))
}

fn gw<A: Copy>(g: &Option<CfgGateway<A>>) -> Option<net::Gateway<A>> {
    g.as_ref().map(|g| match g {
        CfgGateway::Auto => net::Gateway::Auto,
        CfgGateway::Dev => net::Gateway::Dev,
        CfgGateway::Addr(a) => net::Gateway::Addr(*a),
    })
}

/// `lxc.net.N` (config model) → the network crate's spec.
pub fn spec_of(index: u32, d: &cfg::NetDev) -> Result<net::NetDevSpec, StartError> {
    let key = |k: &str| format!("lxc.net.{index}.{k}");
    let kind = match d.kind {
        None => return Err(StartError::config(
            key("type"),
            "",
            "missing: set lxc.net.N.type first (veth, macvlan, ipvlan, vlan, phys, empty or none)",
        )),
        Some(cfg::NetType::Empty) => net::NetKind::Empty,
        Some(cfg::NetType::None) => net::NetKind::None,
        Some(cfg::NetType::Phys) => net::NetKind::Phys,
        Some(cfg::NetType::Vlan) => net::NetKind::Vlan {
            id: d.vlan_id.ok_or_else(|| {
                StartError::config(key("vlan.id"), "", "missing: a vlan device needs its id")
            })?,
        },
        Some(cfg::NetType::Macvlan) => net::NetKind::Macvlan(match d.macvlan_mode {
            None | Some(cfg::MacvlanMode::Private) => net::MacvlanMode::Private,
            Some(cfg::MacvlanMode::Vepa) => net::MacvlanMode::Vepa,
            Some(cfg::MacvlanMode::Bridge) => net::MacvlanMode::Bridge,
            Some(cfg::MacvlanMode::Passthru) => net::MacvlanMode::Passthru,
        }),
        Some(cfg::NetType::Ipvlan) => net::NetKind::Ipvlan {
            mode: match d.ipvlan_mode {
                None | Some(cfg::IpvlanMode::L3) => net::IpvlanMode::L3,
                Some(cfg::IpvlanMode::L3s) => net::IpvlanMode::L3s,
                Some(cfg::IpvlanMode::L2) => net::IpvlanMode::L2,
            },
            isolation: match d.ipvlan_isolation {
                None | Some(cfg::IpvlanIsolation::Bridge) => net::IpvlanIsolation::Bridge,
                Some(cfg::IpvlanIsolation::Private) => net::IpvlanIsolation::Private,
                Some(cfg::IpvlanIsolation::Vepa) => net::IpvlanIsolation::Vepa,
            },
        },
        Some(cfg::NetType::Veth) => {
            let v = &d.veth;
            net::NetKind::Veth(net::VethSpec {
                pair: v.pair.clone(),
                mode: match v.mode {
                    cfg::VethMode::Bridge => net::VethMode::Bridge,
                    cfg::VethMode::Router => net::VethMode::Router,
                },
                ipv4_routes: v
                    .ipv4_routes
                    .iter()
                    .map(|c| v4(c, &key("veth.ipv4.route")))
                    .collect::<Result<_, _>>()?,
                ipv6_routes: v
                    .ipv6_routes
                    .iter()
                    .map(|c| v6(c, &key("veth.ipv6.route")))
                    .collect::<Result<_, _>>()?,
                vlan_id: v.vlan_id.map(|x| match x {
                    cfg::VethVlan::None => net::VethVlan::None,
                    cfg::VethVlan::Id(i) => net::VethVlan::Id(i),
                }),
                vlan_tagged_ids: v.vlan_tagged_ids.clone(),
                n_rxqueues: v.n_rxqueues,
                n_txqueues: v.n_txqueues,
            })
        }
    };
    let mut s = net::NetDevSpec::new(index as usize, kind);
    s.up = d.up;
    s.link = d.link.clone();
    s.name = d.name.clone();
    s.hwaddr = d.hwaddr.clone();
    s.mtu = d.mtu;
    s.ipv4 = d
        .ipv4
        .iter()
        .map(|c| {
            Ok(net::Ipv4Address {
                net: v4(c, &key("ipv4.address"))?,
                broadcast: c.broadcast,
            })
        })
        .collect::<Result<_, StartError>>()?;
    s.ipv4_gateway = gw::<Ipv4Addr>(&d.ipv4_gateway);
    s.ipv6 = d
        .ipv6
        .iter()
        .map(|c| v6(c, &key("ipv6.address")))
        .collect::<Result<_, _>>()?;
    s.ipv6_gateway = gw::<Ipv6Addr>(&d.ipv6_gateway);
    s.l2proxy = d.l2proxy;
    s.script_up = d.script_up.as_ref().map(PathBuf::from);
    s.script_down = d.script_down.as_ref().map(PathBuf::from);
    s.validate().map_err(net_err)?;
    Ok(s)
}
