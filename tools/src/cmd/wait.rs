//! `lxc-wait -n NAME -s 'STATE[|STATE…]' [-t SECS]`: exit 0 once the container is in one
//! of the states, 1 on timeout or error. A container that is not running is STOPPED.

use std::time::Duration;

use clap::{Arg, ArgMatches, Command};
use liblxcrs::StateSet;

use crate::common::{self, say, Common};

/// The command line.
fn command() -> Command {
    common::command("lxc-wait", "Wait for a container to reach a state")
        .arg(Arg::new("state").short('s').long("state").value_name("STATE").help("ORed states to wait for: STOPPED, STARTING, RUNNING, STOPPING, ABORTING, FREEZING, FROZEN, THAWED"))
        .arg(
            Arg::new("timeout")
                .short('t')
                .long("timeout")
                .value_name("TMO")
                .allow_negative_numbers(true)
                .value_parser(clap::value_parser!(i64))
                .help("Seconds to wait for state changes (-1 = forever)"),
        )
        .arg(common::name_arg())
}

struct Options {
    /// `-s` as given, for the timeout message.
    given: String,
    states: StateSet,
    /// `None`: forever.
    timeout: Option<Duration>,
}

fn options(m: &ArgMatches, c: &Common) -> Result<Options, i32> {
    c.require_name()?;
    let Some(given) = m.get_one::<String>("state").cloned() else {
        say!(c, "Missing state option");
        eprintln!("hint: give the states to wait for with -s, e.g. -s 'RUNNING|FROZEN'");
        return Err(1);
    };
    let states = StateSet::parse(&given).map_err(|e| {
        say!(c, "{e}");
        1
    })?;
    let timeout = match m.get_one::<i64>("timeout").copied().unwrap_or(-1) {
        t if t < 0 => None,
        t => Some(Duration::from_secs(t.unsigned_abs())),
    };
    Ok(Options {
        given,
        states,
        timeout,
    })
}

/// Entry point.
pub fn main(args: Vec<String>) -> i32 {
    let (m, c) = common::parse_or_exit!(common::parse(command(), args, Some("pos")));
    let o = common::parse_or_exit!(options(&m, &c));
    let ct = common::parse_or_exit!(c.open_container());
    match ct.wait(o.states, o.timeout) {
        Ok(true) => 0,
        Ok(false) => {
            let secs = o.timeout.map(|t| t.as_secs()).unwrap_or_default();
            say!(
                c,
                "{}: timed out after {secs} s waiting for {}",
                ct.name(),
                o.given
            );
            1
        }
        Err(e) => {
            c.error(&e);
            1
        }
    }
}
