//! `lxc-stop -n NAME [-r] [-W] [-t SECS] [-k] [--nokill] [--nolock]`
//!
//! Exit 0 stopped (or rebooted, or signalled with `-W`/`-t 0`), 1 error, 2 "NAME is not
//! running".

use std::time::Duration;

use clap::{Arg, ArgMatches, Command};

use crate::common::{self, say, Common};

/// The command line.
fn command() -> Command {
    common::command("lxc-stop", "Stop a container")
        .arg(common::flag(
            "reboot",
            'r',
            "reboot",
            "Reboot the container",
        ))
        .arg(common::flag(
            "nowait",
            'W',
            "nowait",
            "Don't wait for shutdown or reboot to complete",
        ))
        .arg(
            Arg::new("timeout")
                .short('t')
                .long("timeout")
                .value_name("T")
                .allow_negative_numbers(true)
                .value_parser(clap::value_parser!(i64))
                .help("Wait T seconds before hard-stopping (-1 = forever, 0 = don't wait)"),
        )
        .arg(common::flag(
            "kill",
            'k',
            "kill",
            "Kill the container rather than request a clean shutdown",
        ))
        .arg(
            Arg::new("nokill")
                .long("nokill")
                .action(clap::ArgAction::SetTrue)
                .help("Only request a clean shutdown, don't kill the container after timeout"),
        )
        .arg(
            Arg::new("nolock")
                .long("nolock")
                .action(clap::ArgAction::SetTrue)
                .help("Avoid using API locks"),
        )
        .arg(common::name_arg())
}

struct Options {
    /// `-k`: SIGKILL at once.
    hard: bool,
    /// `-r`.
    reboot: bool,
    /// `--nokill`: never kill after the timeout.
    nokill: bool,
    /// Seconds: -1 forever, 0 do not wait.
    timeout: i64,
}

/// The options, with LXC's refusals of combinations that make no sense.
fn options(m: &ArgMatches, c: &Common) -> Result<Options, i32> {
    let hard = m.get_flag("kill");
    let explicit = m.get_one::<i64>("timeout").copied();
    let mut o = Options {
        hard,
        reboot: m.get_flag("reboot"),
        nokill: m.get_flag("nokill"),
        timeout: explicit.unwrap_or(if hard { 0 } else { 60 }),
    };
    if m.get_flag("nowait") {
        o.timeout = 0;
    }
    let bad = |msg: &str| {
        say!(c, "{msg}");
        Err(1)
    };
    if !o.hard && o.timeout < -1 {
        return bad("Invalid timeout");
    }
    if o.hard && o.nokill {
        return bad("-k can't be used with --nokill");
    }
    if o.hard && o.reboot {
        return bad("-k can't be used with -r");
    }
    if o.hard && explicit.is_some_and(|t| t != 0) {
        return bad("-k doesn't allow timeouts");
    }
    if m.get_flag("nolock") && !o.hard {
        return bad("--nolock may only be used with -k");
    }
    Ok(o)
}

/// LXC's exit code for an error: 2 when the container turned out not to be running.
fn fail(c: &Common, e: &liblxcrs::Error) -> i32 {
    c.error(e);
    if e.is_not_running() {
        2
    } else {
        1
    }
}

/// Entry point.
pub fn main(args: Vec<String>) -> i32 {
    let (m, c) = common::parse_or_exit!(common::parse(command(), args, Some("pos")));
    let o = common::parse_or_exit!(options(&m, &c));
    let ct = common::parse_or_exit!(c.open_container());
    let name = ct.name().to_string();
    if !ct.is_running() {
        say!(c, "{name}: {name} is not running");
        return 2;
    }
    let timeout = o.timeout;
    let wait = match timeout {
        -1 => None,
        t => Some(Duration::from_secs(t.unsigned_abs())),
    };
    if o.hard {
        return match ct.stop() {
            Ok(()) => 0,
            Err(e) => fail(&c, &e),
        };
    }
    if o.reboot {
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
            Err(e) => fail(&c, &e),
        };
    }
    match ct.shutdown(wait) {
        Ok(true) => 0,
        Ok(false) if timeout == 0 => 0,
        Ok(false) if o.nokill => {
            c.error(&format!(
                "the container did not shut down within {timeout} seconds (--nokill: left running)"
            ));
            1
        }
        Ok(false) => match ct.stop() {
            Ok(()) => 0,
            Err(e) => fail(&c, &e),
        },
        Err(e) => fail(&c, &e),
    }
}
