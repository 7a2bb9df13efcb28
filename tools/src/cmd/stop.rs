//! `lxc-stop -n NAME [-r] [-W] [-t SECS] [-k] [--nokill] [--nolock]`
//!
//! Exit 0 stopped (or rebooted, or signalled with `-W`/`-t 0`), 1 error, 2 "NAME is not
//! running".

use std::time::Duration;

use clap::{Arg, ArgAction};

use crate::common;

/// Entry point.
pub fn main(args: Vec<String>) -> i32 {
    let cmd = common::command("lxc-stop", "Stop a container")
        .arg(
            Arg::new("reboot")
                .short('r')
                .long("reboot")
                .action(ArgAction::SetTrue)
                .help("Reboot the container"),
        )
        .arg(
            Arg::new("nowait")
                .short('W')
                .long("nowait")
                .action(ArgAction::SetTrue)
                .help("Don't wait for shutdown or reboot to complete"),
        )
        .arg(
            Arg::new("timeout")
                .short('t')
                .long("timeout")
                .value_name("T")
                .allow_negative_numbers(true)
                .value_parser(clap::value_parser!(i64))
                .help("Wait T seconds before hard-stopping (-1 = forever, 0 = don't wait)"),
        )
        .arg(
            Arg::new("kill")
                .short('k')
                .long("kill")
                .action(ArgAction::SetTrue)
                .help("Kill the container rather than request a clean shutdown"),
        )
        .arg(
            Arg::new("nokill")
                .long("nokill")
                .action(ArgAction::SetTrue)
                .help("Only request a clean shutdown, don't kill the container after timeout"),
        )
        .arg(
            Arg::new("nolock")
                .long("nolock")
                .action(ArgAction::SetTrue)
                .help("Avoid using API locks"),
        )
        .arg(Arg::new("pos").num_args(0..).value_name("NAME"));
    let (m, c) = common::parse_or_exit!(common::parse(cmd, args, Some("pos")));
    let hard = m.get_flag("kill");
    let reboot = m.get_flag("reboot");
    let nokill = m.get_flag("nokill");
    let explicit = m.get_one::<i64>("timeout").copied();
    let mut timeout = explicit.unwrap_or(if hard { 0 } else { 60 });
    if m.get_flag("nowait") {
        timeout = 0;
    }
    let bad = |msg: &str| {
        eprintln!("lxc-stop: {msg}");
        1
    };
    if !hard && timeout < -1 {
        return bad("Invalid timeout");
    }
    if hard && nokill {
        return bad("-k can't be used with --nokill");
    }
    if hard && reboot {
        return bad("-k can't be used with -r");
    }
    if hard && explicit.is_some_and(|t| t != 0) {
        return bad("-k doesn't allow timeouts");
    }
    if m.get_flag("nolock") && !hard {
        return bad("--nolock may only be used with -k");
    }
    let ct = common::parse_or_exit!(c.open_container());
    let name = ct.name().to_string();
    if !ct.is_running() {
        eprintln!("lxc-stop: {name}: {name} is not running");
        return 2;
    }
    let wait = match timeout {
        -1 => None,
        t => Some(Duration::from_secs(t.unsigned_abs())),
    };
    if hard {
        return match ct.stop() {
            Ok(()) => 0,
            Err(e) => {
                c.error(&e);
                1
            }
        };
    }
    if reboot {
        return match ct.reboot(if timeout == 0 {
            Some(Duration::ZERO)
        } else {
            wait
        }) {
            Ok(true) => 0,
            Ok(false) if timeout == 0 => 0,
            Ok(false) => {
                c.error(&format!(
                    "the container did not come back RUNNING within {timeout} seconds"
                ));
                1
            }
            Err(e) => {
                c.error(&e);
                1
            }
        };
    }
    match ct.shutdown(wait) {
        Ok(true) => 0,
        Ok(false) if timeout == 0 => 0,
        Ok(false) if nokill => {
            c.error(&format!(
                "the container did not shut down within {timeout} seconds (--nokill: left running)"
            ));
            1
        }
        Ok(false) => match ct.stop() {
            Ok(()) => 0,
            Err(e) => {
                c.error(&e);
                1
            }
        },
        Err(e) => {
            c.error(&e);
            1
        }
    }
}
