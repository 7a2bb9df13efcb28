//! The `overlay` backend: read-only lower directories (another container's rootfs, or
//! this container's own `<c>/rootfs`), a writable upper `<c>/overlay/delta` and the work
//! directory overlayfs needs beside it, `<c>/overlay/work`; mounted with the kernel's
//! overlayfs. `lxc.rootfs.path` is `overlay:LOWER[:LOWER…]:UPPER`, the leftmost lower on
//! top, as overlayfs stacks them.

use std::path::{Path, PathBuf};

use nix::mount::{mount, MsFlags};

use crate::kind::{split_rootfs_path, Kind};
use crate::{copy, mountns, remove, BackingStore, Capabilities, CreateSpec, StorageError};

/// An overlay rootfs.
#[derive(Debug, Clone)]
pub struct OverlayStore {
    lowers: Vec<PathBuf>,
    upper: PathBuf,
}

impl OverlayStore {
    /// Parses the part of `lxc.rootfs.path` after `overlay:` (or `overlayfs:`).
    pub fn parse(value: &str) -> Result<OverlayStore, StorageError> {
        let parts: Vec<&str> = value.split(':').collect();
        let bad = |why: &str| {
            StorageError::Invalid(format!(
                "invalid overlay rootfs path 'overlay:{value}': {why}\nhint: the form is overlay:LOWER[:LOWER…]:UPPER with absolute paths"
            ))
        };
        if parts.len() < 2 {
            return Err(bad(
                "it needs at least one lower directory and an upper one",
            ));
        }
        if let Some(p) = parts.iter().find(|p| !p.starts_with('/')) {
            return Err(bad(&format!("'{p}' is not an absolute path")));
        }
        let (upper, lowers) = parts.split_last().ok_or_else(|| bad("empty"))?;
        if Path::new(upper).parent().is_none() {
            return Err(bad("the upper directory cannot be /"));
        }
        Ok(OverlayStore {
            lowers: lowers.iter().map(PathBuf::from).collect(),
            upper: PathBuf::from(upper),
        })
    }

    /// A new overlay container: an empty lower `<c>/rootfs` for the template to fill, and
    /// an empty `<c>/overlay/delta` and `<c>/overlay/work`.
    pub fn create(spec: &CreateSpec) -> Result<OverlayStore, StorageError> {
        let lower = spec.container_dir.join("rootfs");
        std::fs::create_dir_all(&lower)
            .map_err(|e| StorageError::io("create overlay lower directory", &lower, e))?;
        let s = OverlayStore {
            lowers: vec![lower],
            upper: upper_of(&spec.container_dir),
        };
        s.make_upper()?;
        Ok(s)
    }

    /// The lower directories, top first.
    pub fn lowers(&self) -> &[PathBuf] {
        &self.lowers
    }

    /// The upper (delta) directory.
    pub fn upper(&self) -> &Path {
        &self.upper
    }

    /// The work directory overlayfs needs, beside the upper: `<upper's parent>/work`.
    pub fn work(&self) -> PathBuf {
        self.upper.parent().unwrap_or(Path::new("/")).join("work")
    }

    /// Makes the (new, empty) upper and work directories.
    fn make_upper(&self) -> Result<(), StorageError> {
        if let Some(parent) = self.upper.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| StorageError::io("create overlay directory", parent, e))?;
        }
        std::fs::create_dir(&self.upper)
            .map_err(|e| StorageError::write("create overlay upper directory", &self.upper, e))?;
        let work = self.work();
        std::fs::create_dir_all(&work)
            .map_err(|e| StorageError::write("create overlay work directory", &work, e))
    }

    /// The mount options: the kernel parses `:` and `,` in them, so paths with those
    /// characters cannot be used.
    fn mount_options(&self) -> Result<String, StorageError> {
        let work = self.work();
        for p in self.lowers.iter().chain([&self.upper, &work]) {
            let s = p.to_str().ok_or_else(|| {
                StorageError::Invalid(format!("overlay path {} is not UTF-8", p.display()))
            })?;
            if s.contains([',', ':']) {
                return Err(StorageError::Invalid(format!(
                    "overlay path {s} contains ',' or ':', which overlayfs options cannot hold"
                )));
            }
        }
        let lowers: Vec<String> = self
            .lowers
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        Ok(format!(
            "lowerdir={},upperdir={},workdir={}",
            lowers.join(":"),
            self.upper.display(),
            work.display()
        ))
    }
}

/// `<container>/overlay/delta`.
fn upper_of(container_dir: &Path) -> PathBuf {
    container_dir.join("overlay").join("delta")
}

impl BackingStore for OverlayStore {
    fn kind(&self) -> Kind {
        Kind::Overlay
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            can_snapshot: true,
            can_backup: true,
            instant_clone: true,
            block_based: false,
        }
    }

    fn rootfs_path(&self) -> String {
        let mut s = String::from("overlay:");
        for l in &self.lowers {
            s.push_str(&l.display().to_string());
            s.push(':');
        }
        s.push_str(&self.upper.display().to_string());
        s
    }

    fn path(&self) -> &Path {
        &self.upper
    }

    fn own_paths(&self) -> Vec<PathBuf> {
        vec![self.upper.clone(), self.work()]
    }

    /// The lowers stay; the upper (and the work directory beside it) moved.
    fn relocated(&self, to: &Path) -> Option<Box<dyn BackingStore>> {
        Some(Box::new(OverlayStore {
            lowers: self.lowers.clone(),
            upper: to.to_path_buf(),
        }))
    }

    /// The container's own lower (`<c>/rootfs` beside `<c>/overlay`), never another
    /// container's.
    fn template_target(&self) -> Option<&Path> {
        let container = self.upper.parent()?.parent()?;
        match self.lowers.as_slice() {
            [own] if *own == container.join("rootfs") => Some(own),
            _ => None,
        }
    }

    fn mount(&self, target: &Path) -> Result<(), StorageError> {
        let opts = self.mount_options()?;
        let work = self.work();
        std::fs::create_dir_all(&work)
            .map_err(|e| StorageError::io("create overlay work directory", &work, e))?;
        mount(
            Some("overlay"),
            target,
            Some("overlay"),
            MsFlags::empty(),
            Some(opts.as_str()),
        )
        .map_err(|e| StorageError::mount(format!("overlay ({opts})"), target, e))
    }

    fn umount(&self, target: &Path) -> Result<(), StorageError> {
        mountns::unmount(target)
    }

    /// Removes the upper and work directories (and their parent when that is left
    /// empty); the lower directories belong to someone else and are never touched.
    fn destroy(&self) -> Result<(), StorageError> {
        remove::remove_tree_onedev(&self.upper)?;
        remove::remove_tree_onedev(&self.work())?;
        if let Some(parent) = self.upper.parent() {
            let _ = std::fs::remove_dir(parent);
        }
        Ok(())
    }

    fn snapshot(&self, spec: &CreateSpec) -> Result<Box<dyn BackingStore>, StorageError> {
        Ok(Box::new(snapshot_of(self, spec)?))
    }

    /// A store whose lower is not its own depends on the container that owns it.
    fn needs_rdep(&self) -> bool {
        self.template_target().is_none()
    }
}

/// An overlay snapshot of `src` for the new container `spec`: over a directory tree
/// (dir, btrfs) the tree becomes the lower; over an overlay the lowers are kept and the
/// old upper is copied into the new one. The new upper's root takes the owner and mode
/// of the tree's root, since overlayfs shows the upper root's.
pub(crate) fn snapshot_of(
    src: &dyn BackingStore,
    spec: &CreateSpec,
) -> Result<OverlayStore, StorageError> {
    let (lowers, old_upper) = if src.kind() == Kind::Overlay {
        let o = OverlayStore::parse(split_rootfs_path(&src.rootfs_path()).1)?;
        (o.lowers, Some(o.upper))
    } else if let Some(tree) = src.direct_tree() {
        (vec![tree.to_path_buf()], None)
    } else {
        return Err(StorageError::NotSupported {
            kind: src.kind().name(),
            op: "be the lower directory of an overlay snapshot",
            hint: "make a full copy instead (lxc-copy without -s)".into(),
        });
    };
    let new = OverlayStore {
        lowers,
        upper: upper_of(&spec.container_dir),
    };
    new.make_upper()?;
    crate::failpoint!("storage.overlay.upper");
    let filled = match &old_upper {
        Some(old) => copy::copy_tree(old, &new.upper, &copy::CopyOptions::default()).map(drop),
        None => copy::copy_root_metadata(&new.lowers[0], &new.upper),
    };
    if let Err(e) = filled {
        let _ = new.destroy();
        return Err(e);
    }
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_one_or_more_lowers() {
        let o = OverlayStore::parse("/a/rootfs:/b/overlay/delta").unwrap();
        assert_eq!(o.lowers(), [PathBuf::from("/a/rootfs")]);
        assert_eq!(o.upper(), Path::new("/b/overlay/delta"));
        assert_eq!(o.work(), Path::new("/b/overlay/work"));
        assert_eq!(
            o.mount_options().unwrap(),
            "lowerdir=/a/rootfs,upperdir=/b/overlay/delta,workdir=/b/overlay/work"
        );
        let o = OverlayStore::parse("/l1:/l2:/c/overlay/delta").unwrap();
        assert_eq!(o.lowers().len(), 2);
        assert_eq!(o.rootfs_path(), "overlay:/l1:/l2:/c/overlay/delta");
        assert!(o.mount_options().unwrap().starts_with("lowerdir=/l1:/l2,"));
        assert!(OverlayStore::parse("/only").is_err());
        assert!(OverlayStore::parse("rel:/u")
            .unwrap_err()
            .to_string()
            .contains("'rel' is not an absolute path"));
        assert!(OverlayStore::parse("/l:/").is_err());
    }

    #[test]
    fn own_lower_is_the_template_target() {
        let own = OverlayStore::parse("/lxc/c1/rootfs:/lxc/c1/overlay/delta").unwrap();
        assert_eq!(own.template_target(), Some(Path::new("/lxc/c1/rootfs")));
        assert!(!own.needs_rdep());
        let snap = OverlayStore::parse("/lxc/c1/rootfs:/lxc/c2/overlay/delta").unwrap();
        assert_eq!(snap.template_target(), None);
        assert!(snap.needs_rdep());
    }

    #[test]
    fn create_and_destroy_keep_the_lower() {
        let t = tempfile::tempdir().unwrap();
        let spec = CreateSpec::new(t.path().join("c1"), "c1");
        let s = OverlayStore::create(&spec).unwrap();
        assert!(
            t.path().join("c1/overlay/delta").is_dir() && t.path().join("c1/overlay/work").is_dir()
        );
        std::fs::write(t.path().join("c1/rootfs/f"), b"x").unwrap();
        s.destroy().unwrap();
        assert!(!t.path().join("c1/overlay").exists());
        assert!(t.path().join("c1/rootfs/f").exists());
    }
}
