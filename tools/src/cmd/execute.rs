//! `lxc-execute -n NAME [-f RCFILE] [-s KEY=VAL]... [-d] [-u UID] [-g GID]
//! [--share-*] -- CMD...`: run CMD as the container's only program, under a minimal
//! init. Foreground by default: exit status = CMD's (128+signal when killed); `-d`
//! exits 0 once started.

use clap::{Arg, ArgMatches, Command};
use liblxcrs::StartOptions;
use liblxcrs::Started;

use crate::common::{self, say, Common};

/// The command line.
fn command() -> Command {
    let cmd = common::command("lxc-execute", "Run a command in a container")
        .mut_arg("rcfile", |a| a.short('f'))
        .arg(common::define_arg())
        .arg(common::flag(
            "daemon",
            'd',
            "daemon",
            "Daemonize the container",
        ))
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
        .arg(common::command_arg("COMMAND"));
    common::share_args(cmd)
}

/// The start request of an execute: `-s`, `--share-*`, `-u`, `-g` as defines.
fn options(m: &ArgMatches, c: &Common) -> Result<StartOptions, i32> {
    let mut defines = common::defines(c, m)?;
    if let Some(u) = m.get_one::<u32>("uid") {
        defines.push(("lxc.init.uid".into(), u.to_string()));
    }
    if let Some(g) = m.get_one::<u32>("gid") {
        defines.push(("lxc.init.gid".into(), g.to_string()));
    }
    Ok(StartOptions {
        rcfile: c
            .rcfile
            .as_ref()
            .map(|p| common::absolute(&p.to_string_lossy())),
        defines,
        argv: common::rest(m, "pos"),
        execute: true,
        foreground: !m.get_flag("daemon"),
        pidfile: None,
    })
}

/// Entry point.
pub fn main(args: Vec<String>) -> i32 {
    let (m, c) = common::parse_or_exit!(common::parse(command(), args, Some("pos")));
    let mut ct = common::parse_or_exit!(c.open_container());
    let name = ct.name().to_string();
    let opts = common::parse_or_exit!(options(&m, &c));
    if c.rcfile.is_none() && !ct.is_defined() {
        say!(
            c,
            "{name}: Executing a container with no configuration file may crash the host"
        );
        return 1;
    }
    match ct.start_with(opts) {
        Ok(Started::Running { .. }) => 0,
        Ok(Started::AlreadyRunning) => {
            say!(c, "{name}: Container is already running");
            1
        }
        Err(e) => {
            c.error(&e);
            say!(c, "{name}: Failed run an application inside container");
            1
        }
    }
}
