//! `lxc-start -n NAME [-d|-F] [-f FILE] [-s KEY=VAL]... [-c DEV] [-L FILE] [-p PIDFILE]
//! [-C] [--share-{net,ipc,uts,pid}=NAME|PID] [-- CMD...]`
//!
//! Exit 0 when the container is RUNNING (also when it already was: "Container is already
//! running"), 1 when the start failed (the monitor's own error text is printed).

use clap::{Arg, ArgMatches, Command};
use liblxcrs::StartOptions;
use liblxcrs::Started;

use crate::common::{self, absolute, say, Common};

/// The command line.
fn command() -> Command {
    let cmd = common::command("lxc-start", "Start a container")
        .mut_arg("rcfile", |a| a.short('f'))
        .arg(common::flag(
            "daemon",
            'd',
            "daemon",
            "Daemonize the container (default)",
        ))
        .arg(
            common::flag(
                "foreground",
                'F',
                "foreground",
                "Start with the current tty attached to /dev/console",
            )
            .conflicts_with("daemon"),
        )
        .arg(common::define_arg())
        .arg(
            Arg::new("console")
                .short('c')
                .long("console")
                .value_name("FILE")
                .help("Use specified FILE for the container console"),
        )
        .arg(
            Arg::new("console-log")
                .short('L')
                .long("console-log")
                .value_name("FILE")
                .help("Log container console output to FILE"),
        )
        .arg(
            Arg::new("pidfile")
                .short('p')
                .long("pidfile")
                .value_name("FILE")
                .help("Create a file with the process id"),
        )
        .arg(common::flag(
            "close-all-fds",
            'C',
            "close-all-fds",
            "Close all inherited file descriptors",
        ))
        .arg(common::command_arg("CMD"));
    common::share_args(cmd)
}

/// The start request: `-s`, `--share-*`, `-c`, `-L` as defines, paths made absolute.
fn options(m: &ArgMatches, c: &Common) -> Result<StartOptions, i32> {
    let mut defines = common::defines(c, m)?;
    if let Some(dev) = m.get_one::<String>("console") {
        defines.push(("lxc.console.path".into(), dev.clone()));
    }
    if let Some(log) = m.get_one::<String>("console-log") {
        defines.push((
            "lxc.console.logfile".into(),
            absolute(log).to_string_lossy().into_owned(),
        ));
    }
    Ok(StartOptions {
        rcfile: c.rcfile.as_ref().map(|p| absolute(&p.to_string_lossy())),
        defines,
        argv: common::rest(m, "pos"),
        execute: false,
        foreground: m.get_flag("foreground"),
        pidfile: m.get_one::<String>("pidfile").map(|p| absolute(p)),
    })
}

/// Entry point.
pub fn main(args: Vec<String>) -> i32 {
    let (m, c) = common::parse_or_exit!(common::parse(command(), args, Some("pos")));
    let mut ct = common::parse_or_exit!(c.open_container());
    let name = ct.name().to_string();
    let opts = common::parse_or_exit!(options(&m, &c));
    if c.rcfile.is_none() && !ct.is_defined() {
        if ct.is_running() {
            say!(c, "{name}: Container is already running");
            return 0;
        }
        say!(
            c,
            "{name}: No such container: {}/{name}/config does not exist",
            ct.lxcpath().display()
        );
        say!(
            c,
            "{name}: Executing '/sbin/init' with no configuration file may crash the host"
        );
        return 1;
    }
    let foreground = opts.foreground;
    match ct.start_with(opts) {
        Ok(Started::Running { .. }) => 0,
        Ok(Started::AlreadyRunning) => {
            say!(c, "{name}: Container is already running");
            0
        }
        Err(e) => {
            c.error(&e);
            liblxcrs::print_start_failed(&name, foreground);
            1
        }
    }
}
