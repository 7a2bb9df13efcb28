//! dnsmasq for a NAT bridge: DHCP (and router advertisements) plus DNS, bound to that
//! bridge only so several instances (and a host resolver) coexist.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::settings::{BridgeSettings, Resolved, Settings};
use crate::error::{NetError, Result};

pub(crate) fn pid_file(s: &Settings, bridge: &str) -> PathBuf {
    s.run_dir.join(format!("dnsmasq-{bridge}.pid"))
}

pub(crate) fn lease_file(s: &Settings, bridge: &str) -> PathBuf {
    s.state_dir.join(format!("dnsmasq-{bridge}.leases"))
}

fn user_exists(name: &str) -> bool {
    std::fs::read_to_string("/etc/passwd")
        .map(|p| p.lines().any(|l| l.split(':').next() == Some(name)))
        .unwrap_or(false)
}

/// The dnsmasq command line (LXC's lxc-net arguments, our paths).
pub(crate) fn args(s: &Settings, b: &BridgeSettings, r: &Resolved) -> Vec<String> {
    let user = b.dnsmasq_user.clone().unwrap_or_else(|| {
        if user_exists("lxc-dnsmasq") {
            "lxc-dnsmasq"
        } else {
            "nobody"
        }
        .to_string()
    });
    let mut a = vec![
        format!(
            "--conf-file={}",
            b.dhcp_confile
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        ),
        format!("--user={user}"),
        "--strict-order".into(),
        "--bind-interfaces".into(),
        format!("--pid-file={}", pid_file(s, &r.name).display()),
        format!("--listen-address={}", r.ipv4.ip()),
        format!("--dhcp-range={},{}", r.dhcp_start, r.dhcp_end),
        format!("--dhcp-lease-max={}", r.dhcp_max),
        "--dhcp-no-override".into(),
        "--except-interface=lo".into(),
        format!("--interface={}", r.name),
        format!("--dhcp-leasefile={}", lease_file(s, &r.name).display()),
        "--dhcp-authoritative".into(),
    ];
    if !b.dhcp_ping {
        a.push("--no-ping".into());
    }
    if let Some(d) = b.domain.as_deref().filter(|d| !d.is_empty()) {
        a.push(format!("--domain={d}"));
        a.push(format!("--local=/{d}/"));
    }
    if let Some(v6) = r.ipv6 {
        a.push(format!("--listen-address={}", v6.ip()));
        a.push(format!("--dhcp-range={},ra-only", v6.network()));
        a.push("--enable-ra".into());
    }
    a
}

/// Start dnsmasq; it daemonizes and reports start-up errors through its exit status.
pub(crate) fn start(s: &Settings, b: &BridgeSettings, r: &Resolved) -> Result<()> {
    for d in [&s.run_dir, &s.state_dir] {
        std::fs::create_dir_all(d).map_err(NetError::io(format!("create {}", d.display())))?;
    }
    let args = args(s, b, r);
    let what = format!("start dnsmasq for {}", r.name);
    let out = Command::new(&s.dnsmasq)
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| NetError::Command {
            what: what.clone(),
            detail: format!("{e} (is dnsmasq-base installed?)"),
        })?;
    if !out.status.success() {
        return Err(NetError::Command {
            what,
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    // The pid file appears when the daemon is ready.
    let deadline = Instant::now() + Duration::from_secs(5);
    while running(s, &r.name).is_none() {
        if Instant::now() > deadline {
            return Err(NetError::Command {
                what,
                detail: "no pid file after 5 s".into(),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// The pid of our dnsmasq for `bridge`, if it runs (checked against /proc, so a stale
/// pid file or a recycled pid is not mistaken for it).
pub(crate) fn running(s: &Settings, bridge: &str) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(pid_file(s, bridge))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let want = format!("--interface={bridge}");
    let ours = cmdline.split(|b| *b == 0).any(|a| a == want.as_bytes());
    ours.then_some(pid)
}

pub(crate) fn stop(s: &Settings, bridge: &str) -> Result<()> {
    let pf = pid_file(s, bridge);
    if let Some(pid) = running(s, bridge) {
        let p = nix::unistd::Pid::from_raw(pid);
        let _ = nix::sys::signal::kill(p, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(3);
        while std::path::Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = nix::sys::signal::kill(p, nix::sys::signal::Signal::SIGKILL);
        }
    }
    match std::fs::remove_file(&pf) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(NetError::io(format!("remove {}", pf.display()))(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_bind_to_the_bridge_only() {
        let s = Settings {
            run_dir: "/run/x".into(),
            state_dir: "/var/lib/x".into(),
            ..Settings::default()
        };
        let b = BridgeSettings {
            ipv6: "fd00:3::1/64".into(),
            dnsmasq_user: Some("nobody".into()),
            ..BridgeSettings::default()
        };
        let r = b.resolve().unwrap_or_else(|e| panic!("{e}"));
        let a = args(&s, &b, &r).join(" ");
        for want in [
            "--conf-file= ",
            "--bind-interfaces",
            "--interface=lxcbr0",
            "--except-interface=lo",
            "--listen-address=10.0.3.1",
            "--dhcp-range=10.0.3.2,10.0.3.254",
            "--dhcp-lease-max=253",
            "--pid-file=/run/x/dnsmasq-lxcbr0.pid",
            "--dhcp-leasefile=/var/lib/x/dnsmasq-lxcbr0.leases",
            "--listen-address=fd00:3::1",
            "--dhcp-range=fd00:3::,ra-only",
            "--enable-ra",
        ] {
            assert!(a.contains(want), "missing {want} in {a}");
        }
    }
}
