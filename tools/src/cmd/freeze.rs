//! `lxc-freeze -n NAME`: freeze all the container's processes. Exit 0/1.

use clap::Command;

use crate::common::{self, say};

/// The command line of `lxc-freeze` (`freeze`) or `lxc-unfreeze`.
fn command(freeze: bool) -> Command {
    let (prog, about) = if freeze {
        ("lxc-freeze", "Freeze a container")
    } else {
        ("lxc-unfreeze", "Thaw a frozen container")
    };
    common::command(prog, about).arg(common::name_arg())
}

/// Entry point (also `lxc-unfreeze`, see [`run`]).
pub fn main(args: Vec<String>) -> i32 {
    run(args, true)
}

/// `lxc-freeze` (`freeze`) or `lxc-unfreeze`: no options beyond the common ones.
pub(crate) fn run(args: Vec<String>, freeze: bool) -> i32 {
    let (_m, c) = common::parse_or_exit!(common::parse(command(freeze), args, Some("pos")));
    let ct = common::parse_or_exit!(c.open_container());
    let lxcpath = ct.lxcpath().display().to_string();
    if !ct.is_running() {
        say!(c, "{}: {} is not running", ct.name(), ct.name());
        return 1;
    }
    let res = if freeze { ct.freeze() } else { ct.unfreeze() };
    match res {
        Ok(()) => 0,
        Err(e) => {
            let verb = if freeze { "freeze" } else { "unfreeze" };
            say!(
                c,
                "{}: Failed to {verb} {lxcpath}:{}: {e}",
                ct.name(),
                ct.name()
            );
            1
        }
    }
}
