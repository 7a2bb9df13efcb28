//! `lxc-attach -n NAME [-e [CAP|CGROUP|LSM]] [-s NS|NS] [-R] [--clear-env|--keep-env]
//! [--keep-var V]... [-v VAR=VAL]... [-u UID] [-g GID] [-a ARCH] [-L FILE] [-c CTX]
//! [-f RCFILE] [-- CMD...]`
//!
//! Exit: the command's status, 128+signal when it was killed, 1 when attaching failed.

use clap::{Arg, ArgAction, ArgMatches, Command};
use liblxcrs::attach::{AttachOptions, Elevated, EnvPolicy, NsSelect};

use crate::common::{self, say, Common};

/// The command line.
fn command() -> Command {
    common::command("lxc-attach", "Execute a command inside a running container")
        .mut_arg("rcfile", |a| a.short('f'))
        .arg(
            Arg::new("elevated")
                .short('e')
                .long("elevated-privileges")
                .value_name("PRIVILEGES")
                .num_args(0..=1)
                .require_equals(true)
                .help("Don't drop privileges: CAP|CGROUP|LSM (all when no list)"),
        )
        .arg(
            Arg::new("arch")
                .short('a')
                .long("arch")
                .value_name("ARCH")
                .help("Use ARCH for the program's personality"),
        )
        .arg(
            Arg::new("namespaces")
                .short('s')
                .long("namespaces")
                .value_name("FLAGS")
                .help("Namespaces to enter: MOUNT|PID|UTSNAME|IPC|USER|NETWORK (implies -e)"),
        )
        .arg(
            Arg::new("remount")
                .short('R')
                .long("remount-sys-proc")
                .action(ArgAction::SetTrue)
                .help("Remount /sys and /proc when not attaching to the mount namespace"),
        )
        .arg(
            Arg::new("keep-env")
                .long("keep-env")
                .action(ArgAction::SetTrue)
                .help("Keep the current environment (default)"),
        )
        .arg(
            Arg::new("clear-env")
                .long("clear-env")
                .action(ArgAction::SetTrue)
                .conflicts_with("keep-env")
                .help("Clear the environment"),
        )
        .arg(
            Arg::new("keep-var")
                .long("keep-var")
                .value_name("NAME")
                .action(ArgAction::Append)
                .help("Keep this variable with --clear-env"),
        )
        .arg(
            Arg::new("set-var")
                .short('v')
                .long("set-var")
                .value_name("NAME=VALUE")
                .action(ArgAction::Append)
                .help("Set a variable"),
        )
        .arg(
            Arg::new("uid")
                .short('u')
                .long("uid")
                .value_name("UID")
                .value_parser(clap::value_parser!(u32))
                .help("Execute as this uid"),
        )
        .arg(
            Arg::new("gid")
                .short('g')
                .long("gid")
                .value_name("GID")
                .value_parser(clap::value_parser!(u32))
                .help("Execute with this gid"),
        )
        .arg(
            Arg::new("pty-log")
                .short('L')
                .long("pty-log")
                .value_name("FILE")
                .help("Log pty output to FILE"),
        )
        .arg(
            Arg::new("context")
                .short('c')
                .long("context")
                .value_name("CONTEXT")
                .help("SELinux context to transition to (ignored: no SELinux here)"),
        )
        .arg(common::command_arg("COMMAND"))
}

/// The attach options, each refused value with its own message.
fn options(m: &ArgMatches, c: &Common) -> Result<AttachOptions, i32> {
    let mut opts = AttachOptions::default();
    if let Some(ns) = m.get_one::<String>("namespaces") {
        match NsSelect::parse(ns) {
            Ok(n) => {
                opts.namespaces = n;
                // LXC: choosing namespaces implies elevated privileges.
                opts.elevated = Elevated {
                    caps: true,
                    cgroup: true,
                    lsm: true,
                };
            }
            Err(e) => {
                say!(c, "{e}");
                return Err(1);
            }
        }
    }
    if m.contains_id("elevated")
        && m.value_source("elevated") == Some(clap::parser::ValueSource::CommandLine)
    {
        match Elevated::parse(m.get_one::<String>("elevated").map(String::as_str)) {
            Ok(e) => opts.elevated = e,
            Err(e) => {
                say!(c, "{e}");
                return Err(1);
            }
        }
    }
    let mut extra = Vec::new();
    for v in m.get_many::<String>("set-var").into_iter().flatten() {
        match v.split_once('=') {
            Some((k, val)) => extra.push((k.to_string(), val.to_string())),
            None => extra.push((v.clone(), std::env::var(v).unwrap_or_default())),
        }
    }
    opts.env = EnvPolicy {
        keep: !m.get_flag("clear-env"),
        keep_vars: common::values(m, "keep-var"),
        extra,
    };
    opts.uid = m.get_one::<u32>("uid").copied();
    opts.gid = m.get_one::<u32>("gid").copied();
    opts.remount_sys_proc = m.get_flag("remount");
    opts.log_file = m.get_one::<String>("pty-log").map(std::path::PathBuf::from);
    if let Some(a) = m.get_one::<String>("arch") {
        match a.as_str() {
            "x86" | "i386" | "i486" | "i586" | "i686" | "linux32" => opts.linux32 = true,
            "x86_64" | "amd64" | "linux64" => {}
            other => {
                say!(c, "invalid architecture {other:?}");
                return Err(1);
            }
        }
    }
    Ok(opts)
}

/// Entry point.
pub fn main(args: Vec<String>) -> i32 {
    let (m, c) = common::parse_or_exit!(common::parse(command(), args, Some("pos")));
    let opts = common::parse_or_exit!(options(&m, &c));
    let argv = common::rest(&m, "pos");
    let ct = common::parse_or_exit!(c.open_container());
    match ct.attach(&opts, &argv) {
        Ok(code) => code,
        Err(e) => {
            c.error(&e);
            1
        }
    }
}
