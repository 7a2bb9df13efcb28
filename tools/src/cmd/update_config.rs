//! `lxc-update-config -c FILE`: rewrite pre-2.1 keys in place, keeping `FILE.backup`.

use std::path::PathBuf;

use clap::{Arg, ArgMatches, Command};
use liblxcrs::config::legacy::update_legacy_config;

use crate::common::{self, say, Common};

/// The command line.
fn command() -> Command {
    common::command(
        "lxc-update-config",
        "Update a legacy LXC configuration file to the current keys",
    )
    .arg(
        Arg::new("config")
            .short('c')
            .long("config")
            .value_name("FILE")
            .help("The configuration file to update"),
    )
}

/// The file to update (`-c`, required).
fn options(m: &ArgMatches, c: &Common) -> Result<PathBuf, i32> {
    m.get_one::<String>("config")
        .map(PathBuf::from)
        .ok_or_else(|| {
            say!(c, "no configuration file given");
            eprintln!("hint: lxc-update-config -c /var/lib/lxc/NAME/config");
            1
        })
}

/// Entry point.
pub fn main(args: Vec<String>) -> i32 {
    let (m, c) = common::parse_or_exit!(common::parse(command(), args, None));
    let file = common::parse_or_exit!(options(&m, &c));
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) => {
            c.error(&format!("failed to read {}: {e}", file.display()));
            return 1;
        }
    };
    let backup = PathBuf::from(format!("{}.backup", file.display()));
    if let Err(e) = std::fs::copy(&file, &backup) {
        c.error(&format!(
            "failed to back up {} to {}: {e}",
            file.display(),
            backup.display()
        ));
        return 1;
    }
    let new = update_legacy_config(&text);
    let tmp = PathBuf::from(format!("{}.lxcrs-tmp", file.display()));
    let res = std::fs::write(&tmp, new.as_bytes()).and_then(|()| {
        let perm = std::fs::metadata(&file)?.permissions();
        std::fs::set_permissions(&tmp, perm)?;
        std::fs::rename(&tmp, &file)
    });
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        c.error(&format!("failed to write {}: {e}", file.display()));
        return 1;
    }
    if !c.quiet {
        println!(
            "Updated {} (the original is in {})",
            file.display(),
            backup.display()
        );
    }
    0
}
