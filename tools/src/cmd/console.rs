//! `lxc-console -n NAME [-t N] [-e X]`: the user's terminal on a container tty
//! (`-t 0` = /dev/console; default: the first free tty). `<Ctrl+a q>` detaches.

use clap::Arg;
use liblxcrs::Escape;

use crate::common;

/// Entry point.
pub fn main(args: Vec<String>) -> i32 {
    let cmd = common::command("lxc-console", "Connect to a container's tty or console")
        .arg(
            Arg::new("tty")
                .short('t')
                .long("tty")
                .value_name("NUMBER")
                .allow_negative_numbers(true)
                .value_parser(clap::value_parser!(i32))
                .help("Console tty number (0 = /dev/console)"),
        )
        .arg(
            Arg::new("escape")
                .short('e')
                .long("escape")
                .value_name("PREFIX")
                .help("Prefix for escape command (default a, i.e. Ctrl+a)"),
        )
        .arg(Arg::new("pos").num_args(0..).value_name("NAME"));
    let (m, c) = common::parse_or_exit!(common::parse(cmd, args, Some("pos")));
    let escape = match m.get_one::<String>("escape") {
        None => Escape::DEFAULT,
        Some(e) => match Escape::parse(e) {
            Some(e) => e,
            None => {
                eprintln!("lxc-console: invalid escape character {e:?}: expected one letter, e.g. a or ^a");
                return 1;
            }
        },
    };
    let tty = m.get_one::<i32>("tty").copied().unwrap_or(-1);
    let ct = common::parse_or_exit!(c.open_container());
    if !ct.is_running() {
        eprintln!("lxc-console: {}: {} is not running", ct.name(), ct.name());
        return 1;
    }
    match ct.console(tty, escape, c.quiet) {
        Ok(()) => 0,
        Err(e) => {
            c.error(&e);
            1
        }
    }
}
