//! `lxc-cgroup -n NAME KEY [VALUE]`: print or set a payload cgroup file. Exit 0/1.

use clap::Arg;

use crate::common;

/// Entry point.
pub fn main(args: Vec<String>) -> i32 {
    let cmd = common::command("lxc-cgroup", "Manage the control groups of a container")
        .arg(Arg::new("pos").num_args(0..).value_name("KEY [VALUE]"));
    let (m, c) = common::parse_or_exit!(common::parse(cmd, args, Some("pos")));
    if c.require_name().is_err() {
        return 1;
    }
    let rest = common::rest(&m, "pos");
    let (key, value) = match rest.as_slice() {
        [k] => (k.clone(), None),
        [k, v] => (k.clone(), Some(v.clone())),
        [] => {
            eprintln!("lxc-cgroup: Missing state object");
            eprintln!("hint: name the cgroup file to read (KEY) or set (KEY VALUE), e.g. memory.limit_in_bytes");
            return 1;
        }
        _ => {
            eprintln!("lxc-cgroup: too many arguments: expected KEY [VALUE]");
            return 1;
        }
    };
    let ct = common::parse_or_exit!(c.open_container());
    let (name, lxcpath) = (ct.name().to_string(), ct.lxcpath().display().to_string());
    if !ct.is_running() {
        eprintln!("lxc-cgroup: {name}: '{lxcpath}:{name}' is not running");
        return 1;
    }
    match value {
        Some(v) => {
            match ct.cgroup_set(&key, &v) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("lxc-cgroup: {name}: Failed to assign '{v}' value to '{key}' for '{name}': {e}");
                    1
                }
            }
        }
        None => match ct.cgroup_get(&key) {
            Ok(v) => {
                println!("{v}");
                0
            }
            Err(e) => {
                eprintln!("lxc-cgroup: {name}: Failed to retrieve value of '{key}' for '{lxcpath}:{name}': {e}");
                1
            }
        },
    }
}
