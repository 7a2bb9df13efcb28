//! `lxc-start -n NAME [-d|-F] [-f FILE] [-s KEY=VAL]... [-c DEV] [-L FILE] [-p PIDFILE]
//! [-C] [--share-{net,ipc,uts,pid}=NAME|PID] [-- CMD...]`
//!
//! Exit 0 when the container is RUNNING (also when it already was: "Container is already
//! running"), 1 when the start failed (the monitor's own error text is printed).

use clap::{Arg, ArgAction, ArgMatches};
use liblxcrs::StartOptions;
use liblxcrs::Started;

use crate::common::{self, Common};

/// The `--share-*` options (also used by lxc-execute).
pub(crate) fn share_args(cmd: clap::Command) -> clap::Command {
    ["net", "ipc", "uts", "pid"].iter().fold(cmd, |cmd, ns| {
        let id: &'static str = match *ns {
            "net" => "share-net",
            "ipc" => "share-ipc",
            "uts" => "share-uts",
            _ => "share-pid",
        };
        cmd.arg(
            Arg::new(id)
                .long(id)
                .value_name("NAME|PID")
                .help(format!("Share the {ns} namespace of a container or pid")),
        )
    })
}

/// `-s KEY=VAL` and `--share-*` as config defines, in order.
pub(crate) fn defines(c: &Common, m: &ArgMatches) -> Result<Vec<(String, String)>, i32> {
    let mut out = Vec::new();
    for d in m.get_many::<String>("define").into_iter().flatten() {
        match d.split_once('=') {
            Some((k, v)) => out.push((k.trim().to_string(), v.trim().to_string())),
            None => {
                eprintln!("{}: invalid --define {d:?}: expected KEY=VALUE", c.prog);
                return Err(1);
            }
        }
    }
    for ns in ["net", "ipc", "uts", "pid"] {
        if let Some(v) = m.get_one::<String>(&format!("share-{ns}")) {
            out.push((format!("lxc.namespace.share.{ns}"), v.clone()));
        }
    }
    Ok(out)
}

/// Entry point.
pub fn main(args: Vec<String>) -> i32 {
    let cmd = common::command("lxc-start", "Start a container")
        .mut_arg("rcfile", |a| a.short('f'))
        .arg(
            Arg::new("daemon")
                .short('d')
                .long("daemon")
                .action(ArgAction::SetTrue)
                .help("Daemonize the container (default)"),
        )
        .arg(
            Arg::new("foreground")
                .short('F')
                .long("foreground")
                .action(ArgAction::SetTrue)
                .conflicts_with("daemon")
                .help("Start with the current tty attached to /dev/console"),
        )
        .arg(
            Arg::new("define")
                .short('s')
                .long("define")
                .value_name("KEY=VAL")
                .action(ArgAction::Append)
                .help("Assign VAL to configuration variable KEY"),
        )
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
        .arg(
            Arg::new("close-all-fds")
                .short('C')
                .long("close-all-fds")
                .action(ArgAction::SetTrue)
                .help("Close all inherited file descriptors"),
        )
        .arg(
            Arg::new("pos")
                .num_args(0..)
                .trailing_var_arg(true)
                .allow_hyphen_values(true)
                .value_name("CMD"),
        );
    let cmd = share_args(cmd);
    let (m, c) = common::parse_or_exit!(common::parse(cmd, args, Some("pos")));
    let mut ct = common::parse_or_exit!(c.open_container());
    let name = ct.name().to_string();
    let mut defines = common::parse_or_exit!(defines(&c, &m));
    if let Some(dev) = m.get_one::<String>("console") {
        defines.push(("lxc.console.path".into(), dev.clone()));
    }
    if let Some(log) = m.get_one::<String>("console-log") {
        defines.push((
            "lxc.console.logfile".into(),
            absolute(log).to_string_lossy().into_owned(),
        ));
    }
    if c.rcfile.is_none() && !ct.is_defined() {
        if ct.is_running() {
            eprintln!("lxc-start: {name}: Container is already running");
            return 0;
        }
        eprintln!(
            "lxc-start: {name}: No such container: {}/{name}/config does not exist",
            ct.lxcpath().display()
        );
        eprintln!("lxc-start: {name}: Executing '/sbin/init' with no configuration file may crash the host");
        return 1;
    }
    let foreground = m.get_flag("foreground");
    let opts = StartOptions {
        rcfile: c.rcfile.as_ref().map(|p| absolute(&p.to_string_lossy())),
        defines,
        argv: common::rest(&m, "pos"),
        execute: false,
        foreground,
        pidfile: m.get_one::<String>("pidfile").map(|p| absolute(p)),
    };
    match ct.start_with(opts) {
        Ok(Started::Running { .. }) => 0,
        Ok(Started::AlreadyRunning) => {
            eprintln!("lxc-start: {name}: Container is already running");
            0
        }
        Err(e) => {
            c.error(&e);
            liblxcrs::print_start_failed(&name, foreground);
            1
        }
    }
}

/// The monitor runs with cwd `/`: relative paths are made absolute here.
pub(crate) fn absolute(p: &str) -> std::path::PathBuf {
    let p = std::path::Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}
