//! `lxc-copy`: clone (`-N`), rename (`-R`), ephemeral (`-e`) containers.
//!
//! Exit 0 on success, 1 on failure (a failed copy leaves no new container). With `-e`
//! and a command, the command's exit code.

use std::path::PathBuf;

use clap::{Arg, ArgAction, ArgMatches, Command};
use liblxcrs::{parse_mounts, random_name, CloneOptions, EphemeralOptions, Error};

use crate::common::{self, say, Common};

/// The command line.
fn command() -> Command {
    common::command(
        "lxc-copy",
        "Copy, rename or make an ephemeral copy of a container",
    )
    .arg(
        Arg::new("newname")
            .short('N')
            .long("newname")
            .value_name("NEWNAME")
            .help("New name for the container"),
    )
    .arg(
        Arg::new("newpath")
            .short('p')
            .long("newpath")
            .value_name("NEWPATH")
            .help("lxcpath of the new container"),
    )
    .arg(
        Arg::new("backingstorage")
            .short('B')
            .long("backingstorage")
            .value_name("TYPE")
            .help("Backing store of the new container (dir, btrfs, loop, overlay)"),
    )
    .arg(
        Arg::new("fssize")
            .short('L')
            .long("fssize")
            .value_name("SIZE")
            .help("Size of a new block store, SIZE[bBkKmMgGtT]"),
    )
    .arg(common::flag(
        "snapshot",
        's',
        "snapshot",
        "Copy-on-write snapshot clone",
    ))
    .arg(common::flag(
        "allowrunning",
        'a',
        "allowrunning",
        "Allow cloning a running container",
    ))
    .arg(common::flag(
        "keepname",
        'K',
        "keepname",
        "Keep the hostname",
    ))
    .arg(common::flag(
        "keepmac",
        'M',
        "keepmac",
        "Keep the MAC addresses",
    ))
    .arg(common::flag(
        "rename",
        'R',
        "rename",
        "Rename the container",
    ))
    .arg(common::flag(
        "ephemeral",
        'e',
        "ephemeral",
        "Start an ephemeral snapshot clone",
    ))
    .arg(common::flag(
        "keepdata",
        'D',
        "keepdata",
        "Keep the ephemeral container after it stops",
    ))
    .arg(common::flag(
        "daemon",
        'd',
        "daemon",
        "Start the ephemeral container in the background (default)",
    ))
    .arg(common::flag(
        "foreground",
        'F',
        "foreground",
        "Start the ephemeral container in the foreground",
    ))
    .arg(common::flag(
        "tmpfs",
        't',
        "tmpfs",
        "Place the ephemeral container's delta on a tmpfs",
    ))
    .arg(
        Arg::new("mount")
            .short('m')
            .long("mount")
            .value_name("SPEC")
            .action(ArgAction::Append)
            .help("Mount into the ephemeral container: bind=SRC[:DEST][:ro|rw] or overlay=SRC[:DEST], comma-separated"),
    )
    .arg(common::name_arg())
    .arg(
        Arg::new("rest")
            .num_args(0..)
            .last(true)
            .allow_hyphen_values(true)
            .value_name("ARGS"),
    )
}

/// What to do: rename, or clone (ephemeral or not).
enum Options {
    /// `-R -N NEWNAME`.
    Rename(String),
    /// `-N NEWNAME` (or a random name with `-e`).
    Clone {
        opts: CloneOptions,
        /// `-F` (without a command).
        foreground: bool,
        /// `-D`.
        keep_data: bool,
        /// The command after `--`, run in an ephemeral clone (hook args otherwise).
        rest: Vec<String>,
    },
}

/// The options for source `name`, with LXC's refusals (ephemeral-only options without
/// `-e`, no NEWNAME, a bad size).
fn options(m: &ArgMatches, c: &Common, name: &str) -> Result<Options, i32> {
    let rest = common::values(m, "rest");
    let newname = m.get_one::<String>("newname").cloned();
    let ephemeral = m.get_flag("ephemeral");
    let tmpfs = m.get_flag("tmpfs");
    let specs = common::values(m, "mount");
    for (set, opt) in [(tmpfs, "-t (--tmpfs)"), (!specs.is_empty(), "-m (--mount)")] {
        if set && !ephemeral {
            say!(
                c,
                "{opt} only applies to ephemeral containers\nhint: add -e (--ephemeral)"
            );
            return Err(1);
        }
    }
    let mut mounts = Vec::new();
    for s in &specs {
        match parse_mounts(s) {
            Ok(v) => mounts.extend(v),
            Err(e) => {
                say!(c, "{e}");
                return Err(1);
            }
        }
    }
    let no_newname = || {
        say!(c, "You must provide a NEWNAME for the clone");
        eprintln!("hint: give the new name with -N NEWNAME");
        1
    };
    if m.get_flag("rename") {
        return newname.map(Options::Rename).ok_or_else(no_newname);
    }
    let newname = match (newname, ephemeral) {
        (Some(n), _) => n,
        (None, true) => random_name(name),
        (None, false) => return Err(no_newname()),
    };
    let fssize = match m.get_one::<String>("fssize") {
        None => None,
        Some(s) => match common::parse_size(s) {
            Some(n) => Some(n),
            None => {
                say!(c, "invalid size {s:?} for -L");
                return Err(1);
            }
        },
    };
    let keep_data = m.get_flag("keepdata");
    let opts = CloneOptions {
        new_name: newname,
        new_lxcpath: m.get_one::<String>("newpath").map(PathBuf::from),
        bdev: m.get_one::<String>("backingstorage").cloned(),
        snapshot: m.get_flag("snapshot") || ephemeral,
        keep_name: m.get_flag("keepname"),
        keep_mac: m.get_flag("keepmac"),
        fssize,
        allow_running: m.get_flag("allowrunning"),
        hook_args: if ephemeral { Vec::new() } else { rest.clone() },
        ephemeral: ephemeral.then_some(EphemeralOptions {
            keep_data,
            tmpfs,
            mounts,
        }),
    };
    Ok(Options::Clone {
        opts,
        foreground: m.get_flag("foreground"),
        keep_data,
        rest,
    })
}

/// Entry point.
pub fn main(args: Vec<String>) -> i32 {
    let (m, c) = common::parse_or_exit!(common::parse(command(), args, Some("pos")));
    let mut src = common::parse_or_exit!(c.open_defined());
    let name = src.name().to_string();
    let (opts, foreground, keep_data, rest) = match common::parse_or_exit!(options(&m, &c, &name)) {
        Options::Rename(nn) => {
            return match src.rename(&nn) {
                Ok(_) => 0,
                Err(e) => {
                    report(&c, &e);
                    1
                }
            }
        }
        Options::Clone {
            opts,
            foreground,
            keep_data,
            rest,
        } => (opts, foreground, keep_data, rest),
    };
    let ephemeral = opts.ephemeral.is_some();
    let tmpfs = opts.ephemeral.as_ref().is_some_and(|e| e.tmpfs);
    let newname = opts.new_name.clone();
    let mut new = match src.clone(&opts) {
        Ok(n) => n,
        Err(e) => {
            report(&c, &e);
            return 1;
        }
    };
    if !ephemeral {
        return 0;
    }
    println!("Created {newname} as clone of {name}");
    if tmpfs {
        println!("Container is placed on tmpfs.\nRebooting will cause all changes made to it to be lost!");
    }
    let lxcpath = new.lxcpath().display().to_string();
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("lxcrs"));
    let tool = |t: &str| {
        let mut cmd = std::process::Command::new(&exe);
        cmd.arg(t).args(["-n", &newname, "-P", &lxcpath]);
        cmd
    };
    let foreground = foreground && rest.is_empty();
    let mut start = tool("start");
    if !foreground {
        start.arg("-d");
    }
    match start.status() {
        Ok(s) if s.success() => {}
        _ => {
            say!(c, "{newname}: failed to start the ephemeral container");
            if !keep_data {
                let _ = new.destroy(true);
            }
            return 1;
        }
    }
    if rest.is_empty() {
        return 0;
    }
    let code = match tool("attach")
        .arg("--clear-env")
        .arg("--")
        .args(rest)
        .status()
    {
        Ok(s) => s.code().unwrap_or(1),
        Err(e) => {
            say!(c, "failed to run lxc-attach: {e}");
            1
        }
    };
    let _ = tool("stop").status();
    code
}

fn report(c: &common::Common, e: &Error) {
    match e {
        // LXC's wording, without the container name.
        Error::Exists => say!(c, "Container already exists"),
        Error::NotDefined => say!(c, "Container is not defined"),
        e => c.error(e),
    }
}
