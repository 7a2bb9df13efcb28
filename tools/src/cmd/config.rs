//! `lxc-config -l` / `lxc-config KEY`: the system configuration (lxc.conf).

use clap::{Arg, ArgAction};
use liblxcrs::config::system::SYSTEM_KEYS;

use crate::common;

/// Entry point.
pub fn main(args: Vec<String>) -> i32 {
    let cmd = common::command("lxc-config", "Query the LXC system configuration")
        .arg(
            Arg::new("list")
                .short('l')
                .long("list")
                .action(ArgAction::SetTrue)
                .help("List all supported keys"),
        )
        .arg(Arg::new("key").value_name("KEY"));
    // lxc-config's -l is --list, not the common --logpriority.
    let cmd = cmd.mut_arg("logpriority", |a| a.short(None));
    let (m, c) = match common::parse(cmd, args, None) {
        Ok(v) => v,
        Err(code) => return code,
    };
    if m.get_flag("list") {
        for k in SYSTEM_KEYS {
            println!("{k}");
        }
        return 0;
    }
    let Some(key) = m.get_one::<String>("key") else {
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
    match sys.lookup(key) {
        Ok((_, Some(v))) => {
            println!("{v}");
            0
        }
        Ok((k, None)) => {
            println!("{k} is not set.");
            0
        }
        Err(_) => {
            eprintln!("Unknown configuration item: {key}");
            1
        }
    }
}
