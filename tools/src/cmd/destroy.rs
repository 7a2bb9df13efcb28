//! `lxc-destroy -n NAME [-f] [-s]`: exit 0 destroyed, 1 otherwise.

use clap::{Arg, ArgAction};
use liblxcrs::Error;

use crate::common;

/// Entry point.
pub fn main(args: Vec<String>) -> i32 {
    let cmd = common::command("lxc-destroy", "Destroy a container")
        .arg(
            Arg::new("force")
                .short('f')
                .long("force")
                .action(ArgAction::SetTrue)
                .help("Stop the container first if it is running (hard kill)"),
        )
        .arg(
            Arg::new("snapshots")
                .short('s')
                .long("snapshots")
                .action(ArgAction::SetTrue)
                .help("Destroy its snapshots and dependent clones too"),
        )
        .arg(Arg::new("pos").num_args(0..).value_name("NAME"));
    let (m, c) = match common::parse(cmd, args, Some("pos")) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let mut ct = common::parse_or_exit!(c.open_defined());
    let name = ct.name().to_string();
    if ct.is_running() {
        if !m.get_flag("force") {
            eprintln!("lxc-destroy: {name}: {name} is running");
            eprintln!("hint: stop it first (lxc-stop -n {name}), or use lxc-destroy -f to kill it");
            return 1;
        }
        if let Err(e) = ct.stop() {
            c.error(&format!("failed to stop the container: {e}"));
            return 1;
        }
    }
    match ct.destroy(m.get_flag("snapshots")) {
        Ok(()) => {
            if !c.quiet {
                println!("Destroyed container {name}");
            }
            0
        }
        Err(Error::NotDefined) => {
            eprintln!("lxc-destroy: {name}: Container is not defined");
            1
        }
        Err(e) => {
            c.error(&e);
            1
        }
    }
}
