//! Replacing a store's files by those of a new store of the same kind, made beside it on
//! the same filesystem: how `lxc-snapshot -r` restores in place. Only renames happen
//! here, so the old files are whole until the new ones are in their place, and a failed
//! rename puts back everything already moved.

use std::path::{Path, PathBuf};

use crate::{remove, BackingStore, StorageError};

/// The outcome of [`replace`]: the old store, moved aside, and how to move it back.
#[derive(Debug)]
pub struct Replaced {
    /// (from, to) renames done, in order.
    moves: Vec<(PathBuf, PathBuf)>,
    old: Box<dyn BackingStore>,
}

impl Replaced {
    /// The old store, at its place in the trash directory; destroy it once the
    /// replacement is committed.
    pub fn old(&self) -> &dyn BackingStore {
        self.old.as_ref()
    }

    /// Moves everything back: the new store's files to where they were made, the old
    /// ones to their place.
    pub fn undo(self) -> Result<(), StorageError> {
        undo(&self.moves)
    }
}

fn undo(moves: &[(PathBuf, PathBuf)]) -> Result<(), StorageError> {
    let mut first = None;
    for (from, to) in moves.iter().rev() {
        if let Err(e) = std::fs::rename(to, from) {
            first.get_or_insert(StorageError::io("move back", to, e));
        }
    }
    first.map_or(Ok(()), Err)
}

/// Puts the files of `new` in the place of those of `cur` (same kind, same filesystem):
/// each of `cur`'s own paths is renamed into `trash` (made if needed) under its own file
/// name, then the matching path of `new` into its place. On any failure every rename
/// done is undone and `cur` is as it was.
pub fn replace(
    cur: &dyn BackingStore,
    new: &dyn BackingStore,
    trash: &Path,
) -> Result<Replaced, StorageError> {
    let (cur_paths, new_paths) = (cur.own_paths(), new.own_paths());
    let unsupported = || StorageError::NotSupported {
        kind: cur.kind().name(),
        op: "be replaced in place",
        hint: "restore the snapshot as a new container instead (lxc-snapshot -r SNAP -N NEWNAME)"
            .into(),
    };
    if cur.kind() != new.kind() || cur_paths.len() != new_paths.len() {
        return Err(unsupported());
    }
    let name = |p: &Path| {
        p.file_name()
            .map(|n| trash.join(n))
            .ok_or_else(|| StorageError::Invalid(format!("cannot move {} aside", p.display())))
    };
    let aside: Vec<PathBuf> = cur_paths
        .iter()
        .map(|p| name(p))
        .collect::<Result<_, _>>()?;
    let old = cur.relocated(&name(cur.path())?).ok_or_else(unsupported)?;
    std::fs::create_dir_all(trash).map_err(|e| StorageError::io("create", trash, e))?;
    let mut moves = Vec::new();
    let steps = cur_paths
        .iter()
        .zip(&aside)
        .map(|(c, a)| (c.clone(), a.clone()))
        .chain(new_paths.iter().cloned().zip(cur_paths.iter().cloned()));
    for (from, to) in steps {
        // A part the current store lacks (an overlay work dir not made yet) is fine.
        if from.symlink_metadata().is_err() && !new_paths.contains(&from) {
            continue;
        }
        if let Err(e) = std::fs::rename(&from, &to) {
            let e = StorageError::io("move", &from, e);
            return Err(match undo(&moves) {
                Ok(()) => e,
                Err(u) => StorageError::Invalid(format!(
                    "{e}\nand moving back what was already moved failed too: {u}"
                )),
            });
        }
        moves.push((from, to));
    }
    Ok(Replaced { moves, old })
}

/// Removes a scratch directory that may hold stores of `like`'s kind (a btrfs subvolume,
/// an overlay delta) left by an interrupted [`replace`]: each entry is destroyed as such
/// a store, then whatever remains as a plain tree.
pub fn discard(like: &dyn BackingStore, scratch: &Path) -> Result<(), StorageError> {
    if !scratch.exists() {
        return Ok(());
    }
    let mut dirs = vec![scratch.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if let Some(s) = like.relocated(&p) {
                if s.destroy().is_ok() && !p.exists() {
                    continue;
                }
            }
            if p.is_dir() && !p.is_symlink() {
                dirs.push(p);
            }
        }
    }
    remove::remove_tree_onedev(scratch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DirStore, OverlayStore};
    use std::fs;

    #[test]
    fn dir_is_replaced_and_can_be_put_back() {
        let t = tempfile::tempdir().unwrap();
        let (cur, new) = (t.path().join("c/rootfs"), t.path().join("c/.r/rootfs"));
        fs::create_dir_all(&cur).unwrap();
        fs::create_dir_all(&new).unwrap();
        fs::write(cur.join("f"), "old").unwrap();
        fs::write(new.join("f"), "new").unwrap();
        let trash = t.path().join("c/.r/old");
        let r = replace(&DirStore::open(&cur), &DirStore::open(&new), &trash).unwrap();
        assert_eq!(fs::read_to_string(cur.join("f")).unwrap(), "new");
        assert_eq!(r.old().path(), trash.join("rootfs"));
        assert_eq!(fs::read_to_string(trash.join("rootfs/f")).unwrap(), "old");
        r.undo().unwrap();
        assert_eq!(fs::read_to_string(cur.join("f")).unwrap(), "old");
        assert_eq!(fs::read_to_string(new.join("f")).unwrap(), "new");
    }

    #[test]
    fn failed_move_leaves_the_current_store_whole() {
        let t = tempfile::tempdir().unwrap();
        let c = t.path().join("c");
        let cur = OverlayStore::parse(&format!("/l:{}/overlay/delta", c.display())).unwrap();
        for p in cur.own_paths() {
            fs::create_dir_all(&p).unwrap();
            fs::write(p.join("f"), "old").unwrap();
        }
        // The new store's work directory is missing: its move fails after three others.
        let s = c.join("overlay/.r");
        let new = OverlayStore::parse(&format!("/l:{}/overlay/delta", s.display())).unwrap();
        fs::create_dir_all(new.upper()).unwrap();
        fs::write(new.upper().join("f"), "new").unwrap();
        let e = replace(&cur, &new, &s.join("old")).unwrap_err().to_string();
        assert!(e.contains("work"), "{e}");
        for p in cur.own_paths() {
            assert_eq!(fs::read_to_string(p.join("f")).unwrap(), "old");
        }
        assert_eq!(fs::read_to_string(new.upper().join("f")).unwrap(), "new");
        discard(&cur, &s).unwrap();
        assert!(!s.exists());
        assert!(cur.upper().join("f").exists());
    }
}
