//! `lxc-create -n NAME -t TEMPLATE [-f CONFIG] [-B BDEV] [--dir DIR] [-- template args]`.
//!
//! Exit 0 on success, 1 on any failure; a failure leaves no trace of the container.

use clap::{Arg, ArgAction};
use liblxcrs::{interrupt, Container, CreateOptions, Error};

use crate::common;

/// Entry point.
pub fn main(args: Vec<String>) -> i32 {
    let cmd = common::command("lxc-create", "Create a container from a template")
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
        .arg(
            Arg::new("pos")
                .num_args(0..)
                .value_name("NAME")
                .action(ArgAction::Append),
        )
        .arg(
            Arg::new("targs")
                .num_args(0..)
                .last(true)
                .allow_hyphen_values(true)
                .value_name("TEMPLATE-ARGS"),
        );
    let help_template = template_for_help(&args);
    let (m, c) = match common::parse(cmd, args, Some("pos")) {
        Ok(v) => v,
        Err(0) if help_template.is_some() => {
            return template_help(help_template.as_deref().unwrap_or_default())
        }
        Err(code) => return code,
    };
    let template = m.get_one::<String>("template").cloned();
    let name = match c.require_name() {
        Ok(n) => n.to_string(),
        Err(code) => return code,
    };
    let template_args: Vec<String> = m
        .get_many::<String>("targs")
        .map(|v| v.cloned().collect())
        .unwrap_or_default();
    let Some(template) = template else {
        eprintln!("lxc-create: {name}: A template must be specified");
        eprintln!("Use \"none\" if you really want a container without a rootfs");
        return 1;
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
        eprintln!(
            "lxc-create: {name}: --lvname, --vgname and --thinpool are only valid with -B lvm"
        );
        return 1;
    }
    if ["fstype", "fssize"].iter().any(|k| m.contains_id(k))
        && !["lvm", "loop", "rbd", "best"].iter().any(|k| is(k))
    {
        eprintln!("lxc-create: {name}: Filesystem type and size are only valid with block devices");
        return 1;
    }
    if m.contains_id("zfsroot") && !is("zfs") && !is("best") {
        eprintln!("lxc-create: {name}: zfsroot is only valid with -B zfs");
        return 1;
    }
    if m.contains_id("dir") && bdev.as_deref().is_some_and(|b| b != "dir" && b != "none") {
        eprintln!("lxc-create: {name}: --dir is only valid with -B dir");
        return 1;
    }
    let fssize = match m.get_one::<String>("fssize").map(|s| parse_size(s)) {
        Some(Some(v)) => Some(v),
        Some(None) => {
            eprintln!(
                "lxc-create: {name}: invalid --fssize {:?}",
                m.get_one::<String>("fssize")
            );
            eprintln!("hint: use a number with an optional unit: 512M, 2G, 1073741824b");
            return 1;
        }
        None => None,
    };
    let opts = CreateOptions {
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
    };
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
            eprintln!("lxc-create: {name}: Container already exists");
            1
        }
        Err(e) => {
            c.error(&e);
            eprintln!("lxc-create: {name}: Failed to create container {name}");
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
            eprintln!("lxc-create: {e}");
            1
        }
    }
}

/// `SIZE[bBkKmMgGtT]`, default unit M (LXC's).
pub fn parse_size(s: &str) -> Option<u64> {
    let (num, unit) = match s.char_indices().find(|(_, ch)| !ch.is_ascii_digit()) {
        Some((i, _)) => (&s[..i], &s[i..]),
        None => (s, "M"),
    };
    let n: u64 = num.parse().ok()?;
    let mul: u64 = match unit {
        "b" | "B" => 1,
        "k" | "K" => 1 << 10,
        "m" | "M" => 1 << 20,
        "g" | "G" => 1 << 30,
        "t" | "T" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(mul)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1"), Some(1 << 20));
        assert_eq!(parse_size("2G"), Some(2 << 30));
        assert_eq!(parse_size("512b"), Some(512));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size("1Q"), None);
    }
}
