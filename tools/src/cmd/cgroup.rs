//! `lxc-cgroup -n NAME KEY [VALUE]`: print or set a payload cgroup file. Exit 0/1.

use clap::{ArgMatches, Command};

use crate::common::{self, say, Common};

/// The command line.
fn command() -> Command {
    common::command("lxc-cgroup", "Manage the control groups of a container")
        .arg(common::name_arg().value_name("KEY [VALUE]"))
}

/// What to do: read `key`, or set it to `value`.
struct Options {
    key: String,
    value: Option<String>,
}

fn options(m: &ArgMatches, c: &Common) -> Result<Options, i32> {
    c.require_name()?;
    let mut rest = common::rest(m, "pos").into_iter();
    match (rest.next(), rest.next(), rest.next()) {
        (Some(key), value, None) => Ok(Options { key, value }),
        (None, ..) => {
            say!(c, "Missing state object");
            eprintln!("hint: name the cgroup file to read (KEY) or set (KEY VALUE), e.g. memory.limit_in_bytes");
            Err(1)
        }
        _ => {
            say!(c, "too many arguments: expected KEY [VALUE]");
            Err(1)
        }
    }
}

/// Entry point.
pub fn main(args: Vec<String>) -> i32 {
    let (m, c) = common::parse_or_exit!(common::parse(command(), args, Some("pos")));
    let Options { key, value } = common::parse_or_exit!(options(&m, &c));
    let ct = common::parse_or_exit!(c.open_container());
    let (name, lxcpath) = (ct.name().to_string(), ct.lxcpath().display().to_string());
    if !ct.is_running() {
        say!(c, "{name}: '{lxcpath}:{name}' is not running");
        return 1;
    }
    match value {
        Some(v) => match ct.cgroup_set(&key, &v) {
            Ok(()) => 0,
            Err(e) => {
                say!(
                    c,
                    "{name}: Failed to assign '{v}' value to '{key}' for '{name}': {e}"
                );
                1
            }
        },
        None => match ct.cgroup_get(&key) {
            Ok(v) => {
                println!("{v}");
                0
            }
            Err(e) => {
                say!(
                    c,
                    "{name}: Failed to retrieve value of '{key}' for '{lxcpath}:{name}': {e}"
                );
                1
            }
        },
    }
}
