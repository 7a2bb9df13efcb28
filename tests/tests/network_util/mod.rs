//! Helpers of the network end-to-end tests (`tests/network_*.rs`): test bridges and
//! veth pairs on the host (each test its own 10.0.2xx.0/24 and fd00:2xx::/64, deleted
//! on drop), busybox containers with a network config, pings from both sides.
//!
//! Static addresses go on an interface named `net0`, not `eth0`: the busybox
//! template's rcS runs udhcpc on `eth0`, whose `deconfig` flushes its addresses (as
//! with LXC's own busybox template).

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use lxcrs_tests::runtime_support::{eventually, text};
use lxcrs_tests::Env;

/// Runs `ip ARGS`, panicking on failure.
pub fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A host device name unique to this test process: `<prefix><subnet>p<pid>`.
pub fn dev_name(prefix: &str, subnet: u8) -> String {
    format!("{prefix}{subnet}p{}", std::process::id() % 100_000)
}

/// Whether the host has a network interface `name`.
pub fn host_has(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// A Linux bridge on the host with 10.0.S.1/24 and fd00:S::1/64, deleted on drop.
pub struct Bridge {
    pub name: String,
    pub subnet: u8,
}

impl Bridge {
    pub fn new(subnet: u8) -> Bridge {
        let name = dev_name("lxb", subnet);
        ip(&["link", "add", &name, "type", "bridge"]);
        let br = Bridge { name, subnet };
        let _ = std::fs::write(
            format!("/proc/sys/net/ipv6/conf/{}/accept_dad", br.name),
            "0",
        );
        ip(&["addr", "add", &br.host4(), "dev", &br.name]);
        ip(&[
            "addr",
            "add",
            &format!("{}/64", br.host6()),
            "dev",
            &br.name,
            "nodad",
        ]);
        ip(&["link", "set", &br.name, "up"]);
        br
    }

    /// The host's address with prefix (`10.0.S.1/24`).
    pub fn host4(&self) -> String {
        format!("10.0.{}.1/24", self.subnet)
    }

    pub fn host_ip4(&self) -> String {
        format!("10.0.{}.1", self.subnet)
    }

    pub fn host6(&self) -> String {
        format!("fd00:{}::1", self.subnet)
    }

    pub fn ip4(&self, host: u8) -> String {
        format!("10.0.{}.{host}", self.subnet)
    }

    pub fn ip6(&self, host: u8) -> String {
        format!("fd00:{}::{host}", self.subnet)
    }

    /// A veth NIC on this bridge with static addresses `.host` (v4 and v6), named `net0`
    /// in the container, both gateways `auto`.
    pub fn static_nic(&self, host: u8) -> String {
        format!(
            "lxc.net.0.type = veth\nlxc.net.0.link = {}\nlxc.net.0.flags = up\nlxc.net.0.name = net0\n\
             lxc.net.0.hwaddr = 00:16:3e:xx:xx:xx\n\
             lxc.net.0.ipv4.address = {}/24\nlxc.net.0.ipv4.gateway = auto\n\
             lxc.net.0.ipv6.address = {}/64\nlxc.net.0.ipv6.gateway = auto\n",
            self.name,
            self.ip4(host),
            self.ip6(host)
        )
    }

    /// The bridge's ports (host ends of the containers' veths).
    pub fn ports(&self) -> Vec<String> {
        std::fs::read_dir(format!("/sys/class/net/{}/brif", self.name))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.name])
            .output();
    }
}

/// A veth pair on the host (`a` and `b`), both up, deleted on drop.
pub struct VethPair {
    pub a: String,
    pub b: String,
}

impl VethPair {
    pub fn new(prefix: &str, subnet: u8) -> VethPair {
        let base = dev_name(prefix, subnet);
        let (a, b) = (format!("{base}a"), format!("{base}b"));
        ip(&["link", "add", &a, "type", "veth", "peer", "name", &b]);
        ip(&["link", "set", &a, "up"]);
        ip(&["link", "set", &b, "up"]);
        VethPair { a, b }
    }
}

impl Drop for VethPair {
    fn drop(&mut self) {
        for n in [&self.a, &self.b] {
            if host_has(n) {
                let _ = Command::new("ip").args(["link", "del", n]).output();
            }
        }
    }
}

/// Creates busybox container `name` with `net` as its network config (`lxc-create -f`).
pub fn create(env: &Env, name: &str, net: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("net.conf");
    std::fs::write(&conf, net).expect("write net.conf");
    env.ok(
        "lxc-create",
        &[
            "-n",
            name,
            "-t",
            "busybox",
            "-f",
            conf.to_str().expect("utf-8 path"),
        ],
    );
}

/// `lxc-attach -n NAME -- ARGS…`.
pub fn attach(env: &Env, name: &str, args: &[&str]) -> Output {
    let mut a = vec!["-n", name, "--"];
    a.extend_from_slice(args);
    env.lxc("lxc-attach", &a)
}

/// Stdout of `lxc-attach -n NAME -- ARGS…`, asserting success.
pub fn attach_ok(env: &Env, name: &str, args: &[&str]) -> String {
    let out = attach(env, name, args);
    let (o, e) = text(&out);
    assert!(out.status.success(), "in {name}: {args:?}: {o}{e}");
    o
}

/// One ping from inside container `name` (busybox ping) succeeds within `secs`
/// (IPv6 addresses are usable once duplicate address detection is done).
pub fn ping_from(env: &Env, name: &str, addr: &str, secs: u64) -> bool {
    eventually(secs, || {
        attach(env, name, &["ping", "-c", "1", "-W", "1", addr])
            .status
            .success()
    })
}

/// One ping from the host (busybox ping) succeeds within `secs`.
pub fn ping_from_host(addr: &str, secs: u64) -> bool {
    eventually(secs, || {
        Command::new("busybox")
            .args(["ping", "-c", "1", "-W", "1", addr])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// Host netdevs whose ifalias tag names this test's lxcpath (what a container of the
/// test created and a teardown must remove).
pub fn tagged_netdevs(env: &Env) -> Vec<String> {
    let lx = env.lxcpath().to_string_lossy().into_owned();
    std::fs::read_dir("/sys/class/net")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| {
                    std::fs::read_to_string(format!("/sys/class/net/{n}/ifalias"))
                        .is_ok_and(|a| a.contains(&lx))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Kills every container of `env` (so their devices go), then drops `nets` (bridges,
/// veth pairs) before the leak check of [`Env::finish`].
pub fn finish<T>(env: Env, nets: T) {
    for n in env.containers() {
        let _ = env.lxc("lxc-stop", &["-k", "-n", &n]);
    }
    drop(nets);
    std::thread::sleep(Duration::from_millis(50));
    env.finish();
}
