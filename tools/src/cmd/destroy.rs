//! `lxc-destroy -n NAME [-f] [-s]`: exit 0 destroyed, 1 otherwise.

use clap::{ArgMatches, Command};
use liblxcrs::Error;

use crate::common::{self, say};

/// The command line.
fn command() -> Command {
    common::command("lxc-destroy", "Destroy a container")
        .arg(common::flag(
            "force",
            'f',
            "force",
            "Stop the container first if it is running (hard kill)",
        ))
        .arg(common::flag(
            "snapshots",
            's',
            "snapshots",
            "Destroy its snapshots and dependent clones too",
        ))
        .arg(common::name_arg())
}

struct Options {
    /// `-f`: stop a running container first.
    force: bool,
    /// `-s`: its snapshots and clones too.
    snapshots: bool,
}

fn options(m: &ArgMatches) -> Options {
    Options {
        force: m.get_flag("force"),
        snapshots: m.get_flag("snapshots"),
    }
}

/// Entry point.
pub fn main(args: Vec<String>) -> i32 {
    let (m, c) = common::parse_or_exit!(common::parse(command(), args, Some("pos")));
    let o = options(&m);
    let mut ct = common::parse_or_exit!(c.open_defined());
    let name = ct.name().to_string();
    if ct.is_running() {
        if !o.force {
            say!(c, "{name}: {name} is running");
            eprintln!("hint: stop it first (lxc-stop -n {name}), or use lxc-destroy -f to kill it");
            return 1;
        }
        if let Err(e) = ct.stop() {
            c.error(&format!("failed to stop the container: {e}"));
            return 1;
        }
    }
    match ct.destroy(o.snapshots) {
        Ok(()) => {
            if !c.quiet {
                println!("Destroyed container {name}");
            }
            0
        }
        Err(Error::NotDefined) => {
            say!(c, "{name}: Container is not defined");
            1
        }
        Err(e) => {
            c.error(&e);
            1
        }
    }
}
