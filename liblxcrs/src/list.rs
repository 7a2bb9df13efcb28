//! Listing containers in an lxcpath (defined ones and running ones), as `lxc-ls` needs.

use std::fs;
use std::path::Path;

use crate::partial;

/// Names of the containers defined in `lxcpath` (a directory with a `config`), sorted.
/// Leftovers of a crashed create are cleaned up on the way, and containers still
/// being created are not listed.
pub fn defined(lxcpath: &Path) -> Vec<String> {
    let Ok(rd) = fs::read_dir(lxcpath) else {
        return Vec::new();
    };
    let mut names: Vec<String> = Vec::new();
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let dir = e.path();
        if !dir.is_dir() {
            continue;
        }
        if partial::is_partial(&dir) {
            // Recovered (gone) or busy (still being created): not listed either way.
            let _ = partial::recover(lxcpath, &name);
            continue;
        }
        if dir.join("config").is_file() {
            names.push(name);
        }
    }
    names.sort();
    names
}

/// Names of the containers of `lxcpath` whose monitor answers (running, frozen, …).
pub fn active(lxcpath: &Path) -> Vec<String> {
    defined(lxcpath)
        .into_iter()
        .filter(|n| {
            matches!(crate::commands::Client::connect(lxcpath, n), Ok(Some(_)))
                || crate::commands::lxc::probe(lxcpath, n).is_some()
        })
        .collect()
}
