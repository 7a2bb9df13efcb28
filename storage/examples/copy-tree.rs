//! Copies a tree with the storage crate's copier, for timing it against rsync and cp:
//! `copy-tree SRC DST [THREADS]` (DST must exist).

use std::path::PathBuf;
use std::time::Instant;

use lxcrs_storage::copy::{copy_tree, CopyOptions};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: copy-tree SRC DST [THREADS]");
        std::process::exit(2);
    }
    let opts = CopyOptions {
        threads: args.get(3).and_then(|t| t.parse().ok()).unwrap_or(0),
        ..CopyOptions::default()
    };
    let t = Instant::now();
    match copy_tree(&PathBuf::from(&args[1]), &PathBuf::from(&args[2]), &opts) {
        Ok(s) => eprintln!(
            "{} entries, {} MiB, {} reflinked, {} hard links in {:.2}s",
            s.entries,
            s.bytes >> 20,
            s.reflinked,
            s.hard_links,
            t.elapsed().as_secs_f64()
        ),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
