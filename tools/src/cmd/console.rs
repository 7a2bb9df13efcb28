//! `lxc-console -n NAME [-t N] [-e X]`: the user's terminal on a container tty
//! (`-t 0` = /dev/console; default: the first free tty). `<Ctrl+a q>` detaches.

use clap::{Arg, ArgMatches, Command};
use liblxcrs::Escape;

use crate::common::{self, say, Common};

/// The command line.
fn command() -> Command {
    common::command("lxc-console", "Connect to a container's tty or console")
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
        .arg(common::name_arg())
}

struct Options {
    /// -1: the first free tty.
    tty: i32,
    escape: Escape,
}

fn options(m: &ArgMatches, c: &Common) -> Result<Options, i32> {
    let escape = match m.get_one::<String>("escape") {
        None => Escape::DEFAULT,
        Some(e) => Escape::parse(e).ok_or_else(|| {
            say!(
                c,
                "invalid escape character {e:?}: expected one letter, e.g. a or ^a"
            );
            1
        })?,
    };
    Ok(Options {
        tty: m.get_one::<i32>("tty").copied().unwrap_or(-1),
        escape,
    })
}

/// Entry point.
pub fn main(args: Vec<String>) -> i32 {
    let (m, c) = common::parse_or_exit!(common::parse(command(), args, Some("pos")));
    let o = common::parse_or_exit!(options(&m, &c));
    let ct = common::parse_or_exit!(c.open_container());
    if !ct.is_running() {
        say!(c, "{}: {} is not running", ct.name(), ct.name());
        return 1;
    }
    match ct.console(o.tty, o.escape, c.quiet) {
        Ok(()) => 0,
        Err(e) => {
            c.error(&e);
            1
        }
    }
}
