//! `lxc-create -n NAME -t TEMPLATE [-f CONFIG] [-B BDEV] [--dir DIR] [-- template args]`.
//!
//! Exit 0 on success, 1 on any failure; a failure leaves no trace of the container.

use clap::{Arg, ArgAction, ArgMatches, Command};
use liblxcrs::{interrupt, Container, CreateOptions, Error};

use crate::common::{self, say, Common};

/// The command line.
fn command() -> Command {
    common::command("lxc-create", "Create a container from a template")
        .arg(
            Arg::new("template")
                .short('t')
                .long("template")
                .value_name("TEMPLATE")
                .help("Template to use (a name, a path, or none)"),
        )
        .arg(
            Arg::new("config")
                .short('f')
                .long("config")
                .value_name("FILE")
                .help("Initial configuration file instead of lxc.default_config"),
        )
        .arg(
            Arg::new("bdev")
                .short('B')
                .long("bdev")
                .value_name("BDEV")
                .help("Backing store: dir, btrfs, loop, lvm, overlay, zfs, best, or a comma list"),
        )
        .arg(
            Arg::new("dir")
                .long("dir")
                .value_name("DIR")
                .help("Place the rootfs in DIR (dir backend)"),
        )
        .arg(Arg::new("lvname").long("lvname").value_name("LVNAME"))
        .arg(Arg::new("vgname").long("vgname").value_name("VG"))
        .arg(Arg::new("thinpool").long("thinpool").value_name("TP"))
        .arg(
            Arg::new("fstype")
                .long("fstype")
                .value_name("TYPE")
                .help("Filesystem of block backends (default ext4)"),
        )
        .arg(
            Arg::new("fssize")
                .long("fssize")
                .value_name("SIZE")
                .help("Size of block backends, SIZE[bBkKmMgGtT] (default 1G)"),
        )
        .arg(Arg::new("zfsroot").long("zfsroot").value_name("PATH"))
        .arg(Arg::new("rbdname").long("rbdname").value_name("NAME"))
        .arg(Arg::new("rbdpool").long("rbdpool").value_name("POOL"))
        .arg(Arg::new("rbduser").long("rbduser").value_name("USER"))
        .arg(common::name_arg().action(ArgAction::Append))
        .arg(
            Arg::new("targs")
                .num_args(0..)
                .last(true)
                .allow_hyphen_values(true)
                .value_name("TEMPLATE-ARGS"),
        )
}

/// The create request, with LXC's refusals of backend options that do not go with `-B`.
fn options(m: &ArgMatches, c: &Common) -> Result<CreateOptions, i32> {
    let template = m.get_one::<String>("template").cloned();
    let name = c.require_name()?;
    let template_args = common::values(m, "targs");
    let Some(template) = template else {
        say!(c, "{name}: A template must be specified");
        eprintln!("Use \"none\" if you really want a container without a rootfs");
        return Err(1);
    };
    let bdev = m.get_one::<String>("bdev").cloned();
    let is = |k: &str| {
        bdev.as_deref()
            .is_some_and(|b| b.split(',').any(|x| x == k))
    };
    if ["lvname", "vgname", "thinpool"]
        .iter()
        .any(|k| m.contains_id(k))
        && !is("lvm")
    {
        say!(
            c,
            "{name}: --lvname, --vgname and --thinpool are only valid with -B lvm"
        );
        return Err(1);
    }
    if ["fstype", "fssize"].iter().any(|k| m.contains_id(k))
        && !["lvm", "loop", "rbd", "best"].iter().any(|k| is(k))
    {
        say!(
            c,
            "{name}: Filesystem type and size are only valid with block devices"
        );
        return Err(1);
    }
    if m.contains_id("zfsroot") && !is("zfs") && !is("best") {
        say!(c, "{name}: zfsroot is only valid with -B zfs");
        return Err(1);
    }
    if m.contains_id("dir") && bdev.as_deref().is_some_and(|b| b != "dir" && b != "none") {
        say!(c, "{name}: --dir is only valid with -B dir");
        return Err(1);
    }
    let fssize = match m.get_one::<String>("fssize").map(|s| common::parse_size(s)) {
        Some(Some(v)) => Some(v),
        Some(None) => {
            say!(
                c,
                "{name}: invalid --fssize {:?}",
                m.get_one::<String>("fssize")
            );
            eprintln!("hint: use a number with an optional unit: 512M, 2G, 1073741824b");
            return Err(1);
        }
        None => None,
    };
    Ok(CreateOptions {
        template: if template == "none" {
            None
        } else {
            Some(template)
        },
        template_args,
        config_file: m.get_one::<String>("config").map(Into::into),
        bdev,
        dir: m.get_one::<String>("dir").map(Into::into),
        fstype: m.get_one::<String>("fstype").cloned(),
        fssize,
        quiet: c.quiet,
    })
}

/// Entry point.
pub fn main(args: Vec<String>) -> i32 {
    let help_template = template_for_help(&args);
    let (m, c) = match common::parse(command(), args, Some("pos")) {
        Ok(v) => v,
        Err(0) if help_template.is_some() => {
            return template_help(help_template.as_deref().unwrap_or_default())
        }
        Err(code) => return code,
    };
    let opts = common::parse_or_exit!(options(&m, &c));
    let name = common::parse_or_exit!(c.require_name()).to_string();
    let mut ct = match Container::new(&name, c.lxcpath.as_deref()) {
        Ok(ct) => ct,
        Err(e) => {
            c.error(&e);
            return 1;
        }
    };
    match ct.create(&opts) {
        Ok(()) => 0,
        Err(Error::Exists) => {
            say!(c, "{name}: Container already exists");
            1
        }
        Err(e) => {
            c.error(&e);
            say!(c, "{name}: Failed to create container {name}");
            interrupt::exit_code().unwrap_or(1)
        }
    }
}

/// With `-h`, the `-t` value given (if any), whose own help follows ours.
fn template_for_help(args: &[String]) -> Option<String> {
    if !args.iter().any(|a| a == "-h" || a == "--help") {
        return None;
    }
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--" {
            break;
        }
        if a == "-t" || a == "--template" {
            return it.next().cloned();
        }
        if let Some(v) = a
            .strip_prefix("--template=")
            .or_else(|| a.strip_prefix("-t").filter(|v| !v.is_empty()))
        {
            return Some(v.to_string());
        }
    }
    None
}

/// Runs `TEMPLATE -h` after our own help (`lxc-create -t T -h`).
fn template_help(template: &str) -> i32 {
    if template == "none" {
        return 0;
    }
    match liblxcrs::template::find(template) {
        Ok(path) => {
            println!();
            match std::process::Command::new(&path).arg("-h").status() {
                Ok(s) if s.success() => 0,
                _ => 1,
            }
        }
        Err(e) => {
            // Runs where `-h` ended the parse, before there is a `Common`: the program
            // name is this tool's own, as in `command()`.
            eprintln!("{}: {e}", command().get_name());
            1
        }
    }
}
