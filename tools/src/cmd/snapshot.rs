//! `lxc-snapshot -n C [-c COMMENTFILE] | -L [-C] | -r SNAP [-N NEW] | -d SNAP|ALL`.

use std::path::Path;

use clap::{Arg, ArgAction, ArgMatches, Command};

use crate::common::{self, Common};

/// The command line.
fn command() -> Command {
    common::command("lxc-snapshot", "Snapshot a container")
        .arg(
            Arg::new("comment")
                .short('c')
                .long("comment")
                .value_name("FILE")
                .help("Add the comment in FILE to the snapshot"),
        )
        .arg(
            Arg::new("list")
                .short('L')
                .long("list")
                .action(ArgAction::SetTrue)
                .help("List the snapshots"),
        )
        .arg(
            Arg::new("showcomments")
                .short('C')
                .long("showcomments")
                .action(ArgAction::SetTrue)
                .help("Show comments in the list"),
        )
        .arg(
            Arg::new("restore")
                .short('r')
                .long("restore")
                .value_name("SNAP")
                .help("Restore snapshot SNAP"),
        )
        .arg(
            Arg::new("newname")
                .short('N')
                .long("newname")
                .value_name("NEWNAME")
                .help("Name of the restored container"),
        )
        .arg(
            Arg::new("destroy")
                .short('d')
                .long("destroy")
                .value_name("SNAP")
                .help("Destroy snapshot SNAP, or ALL"),
        )
        .arg(common::name_arg())
}

/// One action of lxc-snapshot.
enum Options {
    /// `-L [-C]`.
    List { comments: bool },
    /// `-r SNAP [-N NEWNAME]` (or NEWNAME as the positional after the name).
    Restore {
        snap: String,
        newname: Option<String>,
    },
    /// `-d SNAP|ALL`.
    Destroy(String),
    /// Take one, with the comment in `-c FILE`.
    Take { comment: Option<String> },
}

/// The action; `-N` without `-r` is refused.
fn options(m: &ArgMatches, c: &Common) -> Result<Options, i32> {
    if m.contains_id("newname") && !m.contains_id("restore") {
        c.error(&"-N/--newname names the container a snapshot is restored as; it needs -r SNAPSHOT\nhint: restore with lxc-snapshot -n NAME -r SNAPSHOT -N NEWNAME");
        return Err(1);
    }
    let one = |id: &str| m.get_one::<String>(id).cloned();
    Ok(if m.get_flag("list") {
        Options::List {
            comments: m.get_flag("showcomments"),
        }
    } else if let Some(snap) = one("restore") {
        let newname = one("newname").or_else(|| common::rest(m, "pos").first().cloned());
        Options::Restore { snap, newname }
    } else if let Some(snap) = one("destroy") {
        Options::Destroy(snap)
    } else {
        Options::Take {
            comment: one("comment"),
        }
    })
}

/// Entry point.
pub fn main(args: Vec<String>) -> i32 {
    let (m, c) = common::parse_or_exit!(common::parse(command(), args, Some("pos")));
    let mut ct = common::parse_or_exit!(c.open_defined());
    let o = common::parse_or_exit!(options(&m, &c));
    let r = match o {
        Options::List { comments } => match ct.snapshot_list() {
            Ok(list) if list.is_empty() => {
                println!("No snapshots");
                Ok(())
            }
            Ok(list) => {
                for s in list {
                    println!("{} ({}) {}", s.name, s.lxcpath.display(), s.timestamp);
                    if comments {
                        if let Some(p) = &s.comment_path {
                            if let Ok(t) = std::fs::read_to_string(p) {
                                print!("{t}");
                                if !t.ends_with('\n') {
                                    println!();
                                }
                            }
                        }
                    }
                }
                Ok(())
            }
            Err(e) => Err(e),
        },
        Options::Restore { snap, newname } => ct.snapshot_restore(&snap, newname.as_deref()),
        Options::Destroy(snap) => ct.snapshot_destroy(&snap),
        Options::Take { comment } => ct.snapshot(comment.as_deref().map(Path::new)).map(|_| ()),
    };
    match r {
        Ok(()) => 0,
        Err(e) => {
            c.error(&e);
            1
        }
    }
}
