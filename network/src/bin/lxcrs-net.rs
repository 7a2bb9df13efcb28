//! `lxcrs-net`: bring the default NAT network(s) up or down, like LXC's `lxc-net`.
//!
//!     lxcrs-net [-c FILE] up|down|status [BRIDGE...]
//!
//! Settings: /etc/lxcrs/lxc-net.toml (defaults: lxcbr0, 10.0.3.1/24, a ULA /64).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use lxcrs_network::lxc_net::{self, Settings, DEFAULT_PATH};

const USAGE: &str = "usage: lxcrs-net [-c FILE] up|down|status [BRIDGE...]";

fn run() -> Result<ExitCode> {
    let mut args = std::env::args().skip(1);
    let mut config = PathBuf::from(DEFAULT_PATH);
    let mut cmd = None;
    let mut bridges = Vec::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "-c" | "--config" => config = args.next().map(PathBuf::from).context(USAGE)?,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(ExitCode::SUCCESS);
            }
            s if s.starts_with('-') => bail!("unknown option {s}\n{USAGE}"),
            s if cmd.is_none() => cmd = Some(s.to_string()),
            s => bridges.push(s.to_string()),
        }
    }
    let settings = Settings::load(&config)?;
    match cmd.as_deref() {
        Some("up" | "start") => {
            lxc_net::up(&settings, &bridges)?;
            Ok(ExitCode::SUCCESS)
        }
        Some("down" | "stop") => match lxc_net::down(&settings, &bridges) {
            Ok(()) => Ok(ExitCode::SUCCESS),
            Err(errs) => {
                for e in errs {
                    eprintln!("lxcrs-net: {e}");
                }
                Ok(ExitCode::FAILURE)
            }
        },
        Some("status") => {
            let mut all_up = true;
            for s in lxc_net::status(&settings) {
                let up = s.exists && s.dnsmasq_pid.is_some() && s.nat_table;
                all_up &= up;
                println!(
                    "{}: {} (bridge {}, dnsmasq {}, nat {})",
                    s.bridge,
                    if up { "up" } else { "down" },
                    if s.exists { "present" } else { "absent" },
                    s.dnsmasq_pid
                        .map(|p| format!("pid {p}"))
                        .unwrap_or_else(|| "not running".into()),
                    if s.nat_table { "on" } else { "off" },
                );
            }
            Ok(if all_up {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(3)
            })
        }
        _ => bail!("{USAGE}"),
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("lxcrs-net: {e:#}");
            ExitCode::FAILURE
        }
    }
}
