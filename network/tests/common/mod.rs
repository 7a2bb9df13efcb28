//! Root test helpers: every test builds its own network namespaces ("host" with a
//! bridge, one or more "containers") and deletes them on drop, so nothing touches the
//! machine's real network. Without root a test prints SKIP (and fails when
//! LXCRS_REQUIRE_ROOT=1, as CI sets it).

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use lxcrs_network::{in_netns, Netns};

/// Return early (printing why) when not root; panic instead under LXCRS_REQUIRE_ROOT=1.
#[macro_export]
macro_rules! require_root {
    () => {
        if !$crate::common::is_root() {
            if std::env::var("LXCRS_REQUIRE_ROOT").as_deref() == Ok("1") {
                panic!("this test needs root (LXCRS_REQUIRE_ROOT=1 forbids skipping)");
            }
            eprintln!("SKIP: {} needs root", module_path!());
            return;
        }
    };
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A named network namespace (`ip netns add`), deleted on drop.
pub struct Ns {
    pub name: String,
}

impl Ns {
    pub fn new(role: &str) -> Ns {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("lxcrs-t{}-{n}-{role}", std::process::id());
        run_ok("ip", &["netns", "add", &name]);
        let ns = Ns { name };
        ns.sh("ip link set lo up; sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0");
        ns
    }

    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/run/netns/{}", self.name))
    }

    /// Run `f` on a thread inside this namespace.
    pub fn run<T: Send>(
        &self,
        f: impl FnOnce() -> lxcrs_network::Result<T> + Send,
    ) -> lxcrs_network::Result<T> {
        let p = self.path();
        in_netns(Netns::Path(&p), f)
    }

    /// `sh -c CMD` inside the namespace; (success, stdout+stderr).
    pub fn sh_status(&self, cmd: &str) -> (bool, String) {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.name, "sh", "-c", cmd])
            .output()
            .unwrap_or_else(|e| panic!("ip netns exec: {e}"));
        let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
        s.push_str(&String::from_utf8_lossy(&out.stderr));
        (out.status.success(), s)
    }

    /// `sh -c CMD` inside the namespace; panics on failure; returns stdout+stderr.
    pub fn sh(&self, cmd: &str) -> String {
        let (ok, s) = self.sh_status(cmd);
        assert!(ok, "in {}: `{cmd}` failed: {s}", self.name);
        s
    }

    /// Interface names in this namespace (stdout only: `ip netns exec` may warn on stderr
    /// while parallel tests remount /sys, and a warning is not a link).
    pub fn links(&self) -> Vec<String> {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.name, "ip", "-o", "link", "show"])
            .output()
            .unwrap_or_else(|e| panic!("ip netns exec: {e}"));
        assert!(
            out.status.success(),
            "in {}: ip link show failed",
            self.name
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split(": ").nth(1))
            .map(|n| n.split('@').next().unwrap_or(n).to_string())
            .collect()
    }

    /// Ping `addr` from here, retrying for a few seconds (IPv6 neighbour discovery,
    /// bridge forwarding delay).
    pub fn ping(&self, addr: &str) -> bool {
        let ping = if addr.contains(':') {
            "busybox ping6"
        } else {
            "busybox ping"
        };
        for _ in 0..20 {
            if self.sh_status(&format!("{ping} -c1 -W1 {addr}")).0 {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
        false
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        // Kill anything still running in it (dnsmasq in lxc-net tests).
        let _ = Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
            .map(|o| {
                for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                    let _ = Command::new("kill").arg("-9").arg(pid).status();
                }
            });
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

pub fn run_ok(cmd: &str, args: &[&str]) {
    let st = Command::new(cmd)
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(st.success(), "{cmd} {args:?} failed");
}

/// A host namespace with bridge `br0` carrying 10.0.3.1/24 and fd00:3::1/64.
pub fn host_with_bridge() -> Ns {
    let h = Ns::new("host");
    h.sh("ip link add br0 type bridge && ip link set br0 type bridge forward_delay 0 stp_state 0 && \
          ip addr add 10.0.3.1/24 dev br0 && ip addr add fd00:3::1/64 dev br0 && ip link set br0 up");
    h
}

pub fn ctx(name: &str) -> lxcrs_network::NetContext {
    lxcrs_network::NetContext {
        container_name: name.to_string(),
        owner: format!("/test/{}/{name}", std::process::id()),
        hook_version: 1,
        hook_env: vec![],
    }
}

/// Whether the kernel can create links of `kind` (probe in a throwaway namespace).
pub fn kernel_has(kind: &str) -> bool {
    let ns = Ns::new("probe");
    let cmd = match kind {
        "vlan" => {
            "ip link add p0 type veth peer name p1 && ip link add link p0 name p0.7 type vlan id 7"
        }
        "ipvlan" => {
            "ip link add p0 type veth peer name p1 && ip link add ipv0 link p0 type ipvlan mode l2"
        }
        other => return ns.sh_status(&format!("ip link add x0 type {other}")).0,
    };
    ns.sh_status(cmd).0
}
