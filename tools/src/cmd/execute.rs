//! `lxc-execute -n NAME [-f RCFILE] [-s KEY=VAL]... [-d] [-u UID] [-g GID]
//! [--share-*] -- CMD...`: run CMD as the container's only program, under a minimal
//! init. Foreground by default: exit status = CMD's (128+signal when killed); `-d`
//! exits 0 once started.

use clap::{Arg, ArgAction};
use liblxcrs::StartOptions;
use liblxcrs::Started;

use crate::common;

/// Entry point.
pub fn main(args: Vec<String>) -> i32 {
    let cmd = common::command("lxc-execute", "Run a command in a container")
        .mut_arg("rcfile", |a| a.short('f'))
        .arg(
            Arg::new("define")
                .short('s')
                .long("define")
                .value_name("KEY=VAL")
                .action(ArgAction::Append)
                .help("Assign VAL to configuration variable KEY"),
        )
        .arg(
            Arg::new("daemon")
                .short('d')
                .long("daemon")
                .action(ArgAction::SetTrue)
                .help("Daemonize the container"),
        )
        .arg(
            Arg::new("uid")
                .short('u')
                .long("uid")
                .value_name("UID")
                .value_parser(clap::value_parser!(u32))
                .help("Execute COMMAND with UID inside the container"),
        )
        .arg(
            Arg::new("gid")
                .short('g')
                .long("gid")
                .value_name("GID")
                .value_parser(clap::value_parser!(u32))
                .help("Execute COMMAND with GID inside the container"),
        )
        .arg(
            Arg::new("pos")
                .num_args(0..)
                .trailing_var_arg(true)
                .allow_hyphen_values(true)
                .value_name("COMMAND"),
        );
    let cmd = super::start::share_args(cmd);
    let (m, c) = common::parse_or_exit!(common::parse(cmd, args, Some("pos")));
    let mut ct = common::parse_or_exit!(c.open_container());
    let name = ct.name().to_string();
    let mut defines = common::parse_or_exit!(super::start::defines(&c, &m));
    if let Some(u) = m.get_one::<u32>("uid") {
        defines.push(("lxc.init.uid".into(), u.to_string()));
    }
    if let Some(g) = m.get_one::<u32>("gid") {
        defines.push(("lxc.init.gid".into(), g.to_string()));
    }
    if c.rcfile.is_none() && !ct.is_defined() {
        eprintln!("lxc-execute: {name}: Executing a container with no configuration file may crash the host");
        return 1;
    }
    let daemon = m.get_flag("daemon");
    let opts = StartOptions {
        rcfile: c
            .rcfile
            .as_ref()
            .map(|p| super::start::absolute(&p.to_string_lossy())),
        defines,
        argv: common::rest(&m, "pos"),
        execute: true,
        foreground: !daemon,
        pidfile: None,
    };
    match ct.start_with(opts) {
        Ok(Started::Running { .. }) => 0,
        Ok(Started::AlreadyRunning) => {
            eprintln!("lxc-execute: {name}: Container is already running");
            1
        }
        Err(e) => {
            c.error(&e);
            eprintln!("lxc-execute: {name}: Failed run an application inside container");
            1
        }
    }
}
