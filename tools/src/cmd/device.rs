//! `lxc-device -n NAME add DEV [NEWNAME]` / `del DEV [NEWNAME]`: move a network
//! interface into a running container's network namespace (renamed to NEWNAME there)
//! or back to the host. Root only; the container must be running. Device nodes
//! (LXC's `add_device_node`) are not supported yet and say so. Exit 0/1.

use std::path::Path;

use clap::{ArgMatches, Command};
use liblxcrs::ips;

use crate::common::{self, say, Common};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Add,
    Del,
}

/// LXC compares with `strncmp(cmd, "add", strlen(cmd))`: any prefix selects.
fn action(word: &str) -> Option<Action> {
    if word.is_empty() {
        None
    } else if "add".starts_with(word) {
        Some(Action::Add)
    } else if "del".starts_with(word) {
        Some(Action::Del)
    } else {
        None
    }
}

/// Why DEV, which is not a network interface, cannot be handled.
fn not_an_interface(dev: &str, side: &str) -> String {
    let node = if dev.starts_with('/') {
        Path::new(dev).to_path_buf()
    } else {
        Path::new("/dev").join(dev)
    };
    if node.exists() {
        format!(
            "{} is a device node: lxcrs does not support adding or removing device nodes yet (only network interfaces); use lxc.mount.entry and lxc.cgroup*.devices.allow in the config",
            node.display()
        )
    } else {
        format!("{side} has no network interface or device named {dev}")
    }
}

fn run(action: Action, pid: i32, dev: &str, newname: Option<&str>) -> Result<(), String> {
    let e = |e: liblxcrs::Error| e.to_string();
    match action {
        Action::Add => {
            if !ips::host_has_interface(dev).map_err(e)? {
                return Err(not_an_interface(dev, "the host"));
            }
            ips::attach_interface(pid, dev, newname).map_err(e)
        }
        Action::Del => {
            if !ips::has_interface(pid, dev).map_err(e)? {
                return Err(not_an_interface(dev, "the container"));
            }
            ips::detach_interface(pid, dev, newname).map_err(e)
        }
    }
}

/// The command line.
fn command() -> Command {
    common::command(
        "lxc-device",
        "Add or remove a device of a running container",
    )
    .arg(common::name_arg().value_name("add|del DEV [NEWNAME]"))
}

struct Options {
    action: Action,
    dev: String,
    newname: Option<String>,
}

/// The arguments, checked before anything is asked of the container.
fn options(m: &ArgMatches, c: &Common) -> Result<Options, i32> {
    if !nix::unistd::geteuid().is_root() {
        say!(c, "{} must be run as root", c.prog);
        return Err(1);
    }
    let name = c.require_name()?;
    let mut rest = common::rest(m, "pos").into_iter();
    let (act, dev, newname) = match (rest.next(), rest.next(), rest.next(), rest.next()) {
        (Some(a), Some(d), n, None) => (a, d, n),
        (None, ..) | (Some(_), None, ..) => {
            say!(
                c,
                "{name}: Error: no command given (Please see --help output)"
            );
            return Err(1);
        }
        _ => {
            say!(
                c,
                "{name}: too many arguments: expected add|del DEV [NEWNAME]"
            );
            return Err(1);
        }
    };
    let Some(action) = action(&act) else {
        say!(
            c,
            "{name}: Error: Please use add or del (Please see --help output)"
        );
        eprintln!("hint: {act:?} is not a command: lxc-device -n {name} add|del DEV [NEWNAME]");
        return Err(1);
    };
    Ok(Options {
        action,
        dev,
        newname,
    })
}

/// Entry point.
pub fn main(args: Vec<String>) -> i32 {
    let (m, c) = common::parse_or_exit!(common::parse(command(), args, Some("pos")));
    let Options {
        action,
        dev,
        newname,
    } = common::parse_or_exit!(options(&m, &c));
    let ct = common::parse_or_exit!(c.open_container());
    let name = ct.name();
    let pid = match ct.init_pid() {
        Some(pid) if ct.is_running() => pid,
        _ => {
            say!(c, "{name}: Container {name} is not running");
            return 1;
        }
    };
    match run(action, pid, &dev, newname.as_deref()) {
        Ok(()) => 0,
        Err(why) => {
            let what = match action {
                Action::Add => format!("Failed to add {dev} to {name}"),
                Action::Del => format!("Failed to del {dev} from {name}"),
            };
            say!(c, "{name}: {what}: {why}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_by_prefix_like_lxc() {
        assert_eq!(action("add"), Some(Action::Add));
        assert_eq!(action("a"), Some(Action::Add));
        assert_eq!(action("de"), Some(Action::Del));
        assert_eq!(action("delete"), None);
        assert_eq!(action(""), None);
        assert_eq!(action("mv"), None);
    }

    #[test]
    fn device_nodes_are_not_supported_yet() {
        assert!(not_an_interface("null", "the host").contains("not support"));
        assert!(not_an_interface("/dev/null", "the host").contains("/dev/null"));
        assert_eq!(
            not_an_interface("nosuch0", "the host"),
            "the host has no network interface or device named nosuch0"
        );
    }
}
