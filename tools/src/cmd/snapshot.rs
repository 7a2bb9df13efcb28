//! `lxc-snapshot -n C [-c COMMENTFILE] | -L [-C] | -r SNAP [-N NEW] | -d SNAP|ALL`.

use std::path::Path;

use clap::{Arg, ArgAction};

use crate::common;

/// Entry point.
pub fn main(args: Vec<String>) -> i32 {
    let cmd = common::command("lxc-snapshot", "Snapshot a container")
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
        .arg(Arg::new("pos").num_args(0..).value_name("NAME"));
    let (m, c) = match common::parse(cmd, args, Some("pos")) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let mut ct = common::parse_or_exit!(c.open_defined());
    let rest = common::rest(&m, "pos");
    if m.contains_id("newname") && !m.contains_id("restore") {
        c.error(&"-N/--newname names the container a snapshot is restored as; it needs -r SNAPSHOT\nhint: restore with lxc-snapshot -n NAME -r SNAPSHOT -N NEWNAME");
        return 1;
    }
    let r = if m.get_flag("list") {
        match ct.snapshot_list() {
            Ok(list) if list.is_empty() => {
                println!("No snapshots");
                Ok(())
            }
            Ok(list) => {
                for s in list {
                    println!("{} ({}) {}", s.name, s.lxcpath.display(), s.timestamp);
                    if m.get_flag("showcomments") {
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
        }
    } else if let Some(snap) = m.get_one::<String>("restore") {
        let newname = m
            .get_one::<String>("newname")
            .cloned()
            .or_else(|| rest.first().cloned());
        ct.snapshot_restore(snap, newname.as_deref())
    } else if let Some(snap) = m.get_one::<String>("destroy") {
        ct.snapshot_destroy(snap)
    } else {
        ct.snapshot(m.get_one::<String>("comment").map(Path::new))
            .map(|_| ())
    };
    match r {
        Ok(()) => 0,
        Err(e) => {
            c.error(&e);
            1
        }
    }
}
