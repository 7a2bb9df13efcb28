//! Making a new container's rootfs from an existing store: a snapshot where the
//! backends allow it, a same-backend fast path (btrfs), else a new store of the wanted
//! type filled by the generic copy with both stores mounted in a private mount
//! namespace. A failed clone removes what it made.

use std::path::Path;

use crate::copy::{self, CopyOptions};
use crate::kind::Kind;
use crate::mountns::{self, MountDir, Mounted};
use crate::{overlay, BackingStore, BtrfsStore, CreateSpec, StorageError};

/// Makes the rootfs of the new container `spec` from `src`, as LXC's `lxc-copy` does:
///
/// * `kind`: the new store's type (`-B`); `None` keeps the source's, except that a
///   snapshot of a store that cannot snapshot but has a plain tree (dir) becomes an
///   overlay over it, and a full copy of an overlay becomes a dir (an independent copy
///   of what the container sees; LXC refuses this case).
/// * `snapshot` (`-s`): copy-on-write, O(1); the result may depend on `src`
///   ([`BackingStore::needs_rdep`]). An overlay `kind` is only possible as a snapshot.
///
/// `spec.fssize`/`spec.fstype` default to the source's for block stores.
pub fn clone_to(
    src: &dyn BackingStore,
    kind: Option<Kind>,
    spec: &CreateSpec,
    snapshot: bool,
) -> Result<Box<dyn BackingStore>, StorageError> {
    let target = target_kind(src, kind, snapshot)?;
    if snapshot {
        return snapshot_clone(src, target, spec);
    }
    if target == Kind::Btrfs && src.kind() == Kind::Btrfs {
        // A writable btrfs snapshot is an independent copy that costs nothing.
        let b = BtrfsStore::open(src.path());
        if b.same_filesystem(existing_ancestor(&spec.container_dir)) {
            return Ok(Box::new(b.snapshot_to(spec)?));
        }
    }
    copy_clone(src, target, spec, &CopyOptions::default())
}

/// The backend of the clone.
fn target_kind(
    src: &dyn BackingStore,
    kind: Option<Kind>,
    snapshot: bool,
) -> Result<Kind, StorageError> {
    match kind {
        Some(Kind::Overlay) if !snapshot => Err(StorageError::NotSupported {
            kind: "overlay",
            op: "hold a full copy",
            hint: "add -s (--snapshot) for an overlay snapshot, or choose another -B (dir, btrfs, loop)".into(),
        }),
        Some(k) => Ok(k),
        None if snapshot => {
            if src.capabilities().can_snapshot {
                Ok(src.kind())
            } else if src.direct_tree().is_some() {
                Ok(Kind::Overlay)
            } else {
                Err(StorageError::NotSupported {
                    kind: src.kind().name(),
                    op: "take snapshots",
                    hint: "make a full copy instead (lxc-copy without -s), or use a btrfs or overlay container".into(),
                })
            }
        }
        None if src.kind() == Kind::Overlay => Ok(Kind::Dir),
        None => Ok(src.kind()),
    }
}

fn snapshot_clone(
    src: &dyn BackingStore,
    target: Kind,
    spec: &CreateSpec,
) -> Result<Box<dyn BackingStore>, StorageError> {
    if target == Kind::Overlay {
        return Ok(Box::new(overlay::snapshot_of(src, spec)?));
    }
    if target == src.kind() {
        return src.snapshot(spec);
    }
    Err(StorageError::NotSupported {
        kind: target.name(),
        op: "snapshot another backend's rootfs",
        hint: format!(
            "a {} container can be snapshotted as {} or overlay, or copied in full to {} (without -s)",
            src.kind().name(),
            src.kind().name(),
            target.name()
        ),
    })
}

/// The closest existing directory at or above `p`.
fn existing_ancestor(p: &Path) -> &Path {
    p.ancestors().find(|a| a.is_dir()).unwrap_or(Path::new("/"))
}

/// A new `target` store filled with a copy of `src`; removed again if the copy fails.
pub(crate) fn copy_clone(
    src: &dyn BackingStore,
    target: Kind,
    spec: &CreateSpec,
    opts: &CopyOptions,
) -> Result<Box<dyn BackingStore>, StorageError> {
    let mut spec = spec.clone();
    if spec.fssize.is_none() {
        spec.fssize = src.fs_size();
    }
    if spec.fstype.is_none() {
        spec.fstype = src.fs_type();
    }
    let new = crate::create(target, &spec)?;
    crate::failpoint!("storage.copy.made");
    if let Err(e) = copy_between(src, new.as_ref(), &spec.container_dir, opts) {
        let _ = new.destroy();
        return Err(e);
    }
    Ok(new)
}

/// Copies the tree of `src` into `dst`, mounting whichever needs it on temporary
/// directories below `scratch` in a private mount namespace.
pub fn copy_between(
    src: &dyn BackingStore,
    dst: &dyn BackingStore,
    scratch: &Path,
    opts: &CopyOptions,
) -> Result<copy::CopyStats, StorageError> {
    if let (Some(s), Some(d)) = (src.direct_tree(), dst.direct_tree()) {
        return copy::copy_tree(s, d, opts);
    }
    mountns::with_private_mounts(|| {
        let (sdir, ddir) = (MountDir::new(scratch)?, MountDir::new(scratch)?);
        let sm = match src.direct_tree() {
            Some(_) => None,
            None => Some(Mounted::new(src, sdir.path())?),
        };
        let dm = match dst.direct_tree() {
            Some(_) => None,
            None => Some(Mounted::new(dst, ddir.path())?),
        };
        crate::failpoint!("storage.copy.mounted");
        let sroot = src.direct_tree().unwrap_or(sdir.path());
        let droot = dst.direct_tree().unwrap_or(ddir.path());
        let stats = copy::copy_tree(sroot, droot, opts).map_err(|e| {
            e.rebase(ddir.path(), &dst.rootfs_path())
                .rebase(sdir.path(), &src.rootfs_path())
        })?;
        if let Some(m) = dm {
            m.finish()?;
        }
        if let Some(m) = sm {
            m.finish()?;
        }
        Ok(stats)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DirStore, LoopStore, OverlayStore};

    #[test]
    fn target_kinds_follow_lxc() {
        let dir = DirStore::open(Path::new("/lxc/a/rootfs"));
        let ovl = OverlayStore::parse("/lxc/a/rootfs:/lxc/b/overlay/delta").unwrap();
        let lp = LoopStore::open(Path::new("/lxc/a/rootdev"));
        let bt = BtrfsStore::open(Path::new("/lxc/a/rootfs"));
        assert_eq!(target_kind(&dir, None, false).unwrap(), Kind::Dir);
        assert_eq!(target_kind(&dir, None, true).unwrap(), Kind::Overlay);
        assert_eq!(target_kind(&ovl, None, true).unwrap(), Kind::Overlay);
        assert_eq!(target_kind(&ovl, None, false).unwrap(), Kind::Dir);
        assert_eq!(target_kind(&bt, None, true).unwrap(), Kind::Btrfs);
        assert_eq!(target_kind(&lp, None, false).unwrap(), Kind::Loop);
        assert_eq!(target_kind(&lp, Some(Kind::Dir), false).unwrap(), Kind::Dir);
        let e = target_kind(&lp, None, true).unwrap_err().to_string();
        assert!(
            e.starts_with("the loop backing store cannot take snapshots"),
            "{e}"
        );
        let e = target_kind(&dir, Some(Kind::Overlay), false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot hold a full copy"), "{e}");
        let e = snapshot_clone(&dir, Kind::Loop, &CreateSpec::new("/nonexistent/c", "c"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("loop backing store cannot snapshot another backend's rootfs"),
            "{e}"
        );
    }
}
