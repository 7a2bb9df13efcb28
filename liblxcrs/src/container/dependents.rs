//! A container's dependents: the clones listed in its `lxc_snapshots` (pairs of lines:
//! lxcpath, name), which `lxc-copy -s` adds, and destroy and rename read and remove.

use std::fs;
use std::path::{Path, PathBuf};

use crate::container_dir::{ContainerDir, SNAPSHOTS_FILE};
use crate::{Error, Result};

/// The clones listed in `<dir>/lxc_snapshots` (pairs of lines: lxcpath, name).
pub fn dependents(dir: &Path) -> Vec<(PathBuf, String)> {
    let text = fs::read_to_string(ContainerDir::at(dir).snapshots_file()).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines
        .chunks(2)
        .filter(|c| c.len() == 2 && !c[1].is_empty())
        .map(|c| (PathBuf::from(c[0]), c[1].to_string()))
        .collect()
}

/// An exclusive `flock` on the origin's directory while its `lxc_snapshots` is read and
/// rewritten: clones of it and destroys of its clones (which hold other containers'
/// locks) edit that list concurrently. Taken last, with nothing else taken while held.
pub(crate) fn lock_dependents(origin: &Path) -> Option<nix::fcntl::Flock<fs::File>> {
    let f = fs::File::open(origin).ok()?;
    nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive).ok()
}

/// Appends `(lxcpath, name)` to `<origin>/lxc_snapshots`.
pub(crate) fn add_dependent(origin: &Path, lxcpath: &Path, name: &str) -> Result<()> {
    let _deps = lock_dependents(origin);
    let mut list = dependents(origin);
    if !list.iter().any(|(p, n)| p == lxcpath && n == name) {
        list.push((lxcpath.to_path_buf(), name.to_string()));
    }
    write_dependents(origin, &list)
}

/// Removes `(lxcpath, name)` from `<origin>/lxc_snapshots` (the file goes when empty).
pub(crate) fn remove_dependent(origin: &Path, lxcpath: &Path, name: &str) {
    let _deps = lock_dependents(origin);
    let mut list = dependents(origin);
    let before = list.len();
    list.retain(|(p, n)| !(p == lxcpath && n == name));
    if list.len() != before {
        let _ = write_dependents(origin, &list);
    }
}

fn write_dependents(origin: &Path, list: &[(PathBuf, String)]) -> Result<()> {
    let file = ContainerDir::at(origin).snapshots_file();
    if list.is_empty() {
        let _ = fs::remove_file(&file);
        return Ok(());
    }
    let text: String = list
        .iter()
        .map(|(p, n)| format!("{}\n{n}\n", p.display()))
        .collect();
    let tmp = origin.join(format!(".{SNAPSHOTS_FILE}.tmp"));
    fs::write(&tmp, text).map_err(|e| Error::io("write", &tmp, e))?;
    fs::rename(&tmp, &file).map_err(|e| Error::io("write", &file, e))
}
