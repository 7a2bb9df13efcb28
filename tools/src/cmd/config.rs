//! `lxc-config -l` / `lxc-config KEY`: the system configuration (lxc.conf).

use clap::{Arg, ArgMatches, Command};
use liblxcrs::config::system::SYSTEM_KEYS;

use crate::common;

/// The command line.
fn command() -> Command {
    common::command("lxc-config", "Query the LXC system configuration")
        .arg(common::flag("list", 'l', "list", "List all supported keys"))
        .arg(Arg::new("key").value_name("KEY"))
        // lxc-config's -l is --list, not the common --logpriority.
        .mut_arg("logpriority", |a| a.short(None))
}

/// The key to show; `None` (with `-l`, or no key) lists the keys.
fn options(m: &ArgMatches) -> Option<String> {
    if m.get_flag("list") {
        return None;
    }
    m.get_one::<String>("key").cloned()
}

/// Entry point.
pub fn main(args: Vec<String>) -> i32 {
    let (m, c) = common::parse_or_exit!(common::parse(command(), args, None));
    let Some(key) = options(&m) else {
        for k in SYSTEM_KEYS {
            println!("{k}");
        }
        return 0;
    };
    let sys = match liblxcrs::paths::system_config() {
        Ok(s) => s,
        Err(e) => {
            c.error(&e);
            return 1;
        }
    };
    match sys.lookup(&key) {
        Ok((_, Some(v))) => {
            println!("{v}");
            0
        }
        Ok((k, None)) => {
            println!("{k} is not set.");
            0
        }
        Err(_) => {
            // LXC prints this one without the program name.
            eprintln!("Unknown configuration item: {key}");
            1
        }
    }
}
