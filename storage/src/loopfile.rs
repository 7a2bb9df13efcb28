//! The `loop` backend: the rootfs is a filesystem in a sparse image file
//! (`<container>/rootdev`), mounted through an autoclear loop device.

use std::fs::File;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use nix::mount::MsFlags;

use crate::kind::Kind;
use crate::{
    block, loopdev, mountns, BackingStore, Capabilities, CreateSpec, StorageError, DEFAULT_FSSIZE,
    DEFAULT_FSTYPE,
};

/// A filesystem image file.
#[derive(Debug, Clone)]
pub struct LoopStore {
    image: PathBuf,
}

impl LoopStore {
    /// Makes `<container_dir>/rootdev`: a sparse file of `--fssize` (1 GiB) holding a new
    /// `--fstype` (ext4) filesystem. Nothing is left behind when mkfs fails.
    pub fn create(spec: &CreateSpec) -> Result<LoopStore, StorageError> {
        let fstype = spec.fstype.as_deref().unwrap_or(DEFAULT_FSTYPE);
        block::check_fstype(fstype)?;
        let size = spec.fssize.unwrap_or(DEFAULT_FSSIZE);
        if size == 0 {
            return Err(StorageError::Invalid(
                "--fssize must be larger than 0".into(),
            ));
        }
        std::fs::create_dir_all(&spec.container_dir)
            .map_err(|e| StorageError::io("create container directory", &spec.container_dir, e))?;
        let image = spec.container_dir.join("rootdev");
        let f = File::create_new(&image)
            .map_err(|e| StorageError::write("create loop image", &image, e))?;
        // A length without writes: the image takes no space until the filesystem uses it.
        let made = f
            .set_len(size)
            .map_err(|e| StorageError::write("size loop image", &image, e))
            .and_then(|()| block::mkfs(fstype, &image));
        if let Err(e) = made {
            let _ = std::fs::remove_file(&image);
            return Err(e);
        }
        crate::failpoint!("storage.loop.made");
        Ok(LoopStore { image })
    }

    /// An existing image.
    pub fn open(image: &Path) -> LoopStore {
        LoopStore {
            image: image.to_path_buf(),
        }
    }
}

impl BackingStore for LoopStore {
    fn kind(&self) -> Kind {
        Kind::Loop
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            can_snapshot: false,
            can_backup: true,
            instant_clone: false,
            block_based: true,
        }
    }

    fn rootfs_path(&self) -> String {
        format!("loop:{}", self.image.display())
    }

    fn path(&self) -> &Path {
        &self.image
    }

    fn relocated(&self, to: &Path) -> Option<Box<dyn BackingStore>> {
        Some(Box::new(LoopStore::open(to)))
    }

    fn mount(&self, target: &Path) -> Result<(), StorageError> {
        let dev = loopdev::attach(&self.image, false)?;
        // `dev` is closed on return either way: after a mount the device lives as long as
        // the mount, after a failed mount autoclear detaches it at once.
        block::mount_block(dev.path(), target, None, MsFlags::empty())
    }

    fn umount(&self, target: &Path) -> Result<(), StorageError> {
        mountns::unmount(target)
    }

    fn destroy(&self) -> Result<(), StorageError> {
        match std::fs::remove_file(&self.image) {
            Err(e) if e.kind() != ErrorKind::NotFound => {
                Err(StorageError::io("remove loop image", &self.image, e))
            }
            _ => Ok(()),
        }
    }

    fn snapshot(&self, _spec: &CreateSpec) -> Result<Box<dyn BackingStore>, StorageError> {
        Err(StorageError::NotSupported {
            kind: "loop",
            op: "take snapshots",
            hint: "make a full copy instead (lxc-copy without -s), or use a btrfs or overlay container".into(),
        })
    }

    fn fs_size(&self) -> Option<u64> {
        std::fs::metadata(&self.image).ok().map(|m| m.len())
    }

    fn fs_type(&self) -> Option<String> {
        block::probe_fstype(&self.image).map(str::to_string)
    }
}
