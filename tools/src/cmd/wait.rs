//! `lxc-wait -n NAME -s 'STATE[|STATE…]' [-t SECS]`: exit 0 once the container is in one
//! of the states, 1 on timeout or error. A container that is not running is STOPPED.

use std::time::Duration;

use clap::Arg;
use liblxcrs::StateSet;

use crate::common;

/// Entry point.
pub fn main(args: Vec<String>) -> i32 {
    let cmd = common::command("lxc-wait", "Wait for a container to reach a state")
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
        .arg(Arg::new("pos").num_args(0..).value_name("NAME"));
    let (m, c) = common::parse_or_exit!(common::parse(cmd, args, Some("pos")));
    if c.require_name().is_err() {
        return 1;
    }
    let Some(states) = m.get_one::<String>("state") else {
        eprintln!("lxc-wait: Missing state option");
        eprintln!("hint: give the states to wait for with -s, e.g. -s 'RUNNING|FROZEN'");
        return 1;
    };
    let states = match StateSet::parse(states) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("lxc-wait: {e}");
            return 1;
        }
    };
    let ct = common::parse_or_exit!(c.open_container());
    let timeout = match m.get_one::<i64>("timeout").copied().unwrap_or(-1) {
        t if t < 0 => None,
        t => Some(Duration::from_secs(t.unsigned_abs())),
    };
    match ct.wait(states, timeout) {
        Ok(true) => 0,
        Ok(false) => {
            let secs = timeout.map(|t| t.as_secs()).unwrap_or_default();
            eprintln!(
                "lxc-wait: {}: timed out after {secs} s waiting for {}",
                ct.name(),
                m.get_one::<String>("state")
                    .map(String::as_str)
                    .unwrap_or_default()
            );
            1
        }
        Err(e) => {
            c.error(&e);
            1
        }
    }
}
