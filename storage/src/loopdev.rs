//! Loop devices through `/dev/loop-control`, always with `LO_FLAGS_AUTOCLEAR`: the kernel
//! detaches the device as soon as nothing uses it any more (the filesystem on it is
//! unmounted and our file descriptor is closed), so neither a crash nor a forgotten
//! detach leaves a device behind.
//!
//! Hand-written rather than the `loopdev` crates: those generate their bindings with
//! bindgen at build time (a libclang build dependency) and do not use `LOOP_CONFIGURE`;
//! what we need is five ioctls and two plain structs from `<linux/loop.h>`.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::StorageError;

const LO_NAME_SIZE: usize = 64;
const LO_KEY_SIZE: usize = 32;
const LO_FLAGS_READ_ONLY: u32 = 1;
const LO_FLAGS_AUTOCLEAR: u32 = 4;

/// `struct loop_info64` of `<linux/loop.h>`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct LoopInfo64 {
    lo_device: u64,
    lo_inode: u64,
    lo_rdevice: u64,
    lo_offset: u64,
    lo_sizelimit: u64,
    lo_number: u32,
    lo_encrypt_type: u32,
    lo_encrypt_key_size: u32,
    lo_flags: u32,
    lo_file_name: [u8; LO_NAME_SIZE],
    lo_crypt_name: [u8; LO_NAME_SIZE],
    lo_encrypt_key: [u8; LO_KEY_SIZE],
    lo_init: [u64; 2],
}

/// `struct loop_config` of `<linux/loop.h>` (Linux 5.8+).
#[repr(C)]
pub(crate) struct LoopConfig {
    fd: u32,
    block_size: u32,
    info: LoopInfo64,
    reserved: [u64; 8],
}

// The loop ioctls predate the _IO() encoding: their numbers are plain constants.
nix::ioctl_none_bad!(loop_ctl_get_free, 0x4C82);
nix::ioctl_write_ptr_bad!(loop_configure, 0x4C0A, LoopConfig);
nix::ioctl_write_int_bad!(loop_set_fd, 0x4C00);
nix::ioctl_write_ptr_bad!(loop_set_status64, 0x4C04, LoopInfo64);
nix::ioctl_none_bad!(loop_clr_fd, 0x4C01);

/// An attached loop device. Dropping it closes our descriptor; the kernel then detaches
/// the device once no mount uses it (autoclear).
#[derive(Debug)]
pub struct LoopDevice {
    dev: File,
    path: PathBuf,
}

impl LoopDevice {
    /// `/dev/loopN`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open device.
    pub fn file(&self) -> &File {
        &self.dev
    }
}

/// How many times a free device may be taken by someone else between our
/// `LOOP_CTL_GET_FREE` and our `LOOP_CONFIGURE` before we give up.
const ATTACH_TRIES: usize = 16;

/// Attaches `image` to a free loop device with autoclear (read-only if asked, or if the
/// image cannot be opened for writing).
pub fn attach(image: &Path, readonly: bool) -> Result<LoopDevice, StorageError> {
    let lerr = |why: String| StorageError::Loop {
        image: image.to_path_buf(),
        why,
    };
    let (backing, readonly) = match OpenOptions::new().read(true).write(!readonly).open(image) {
        Ok(f) => (f, readonly),
        Err(e)
            if !readonly && matches!(e.raw_os_error(), Some(libc::EACCES) | Some(libc::EROFS)) =>
        {
            (
                File::open(image).map_err(|e| StorageError::io("open loop image", image, e))?,
                true,
            )
        }
        Err(e) => return Err(StorageError::io("open loop image", image, e)),
    };
    let ctl = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/loop-control")
        .map_err(|e| {
            lerr(format!(
                "cannot open /dev/loop-control: {e}\nhint: load the loop module (modprobe loop)"
            ))
        })?;
    let mut info = LoopInfo64 {
        lo_device: 0,
        lo_inode: 0,
        lo_rdevice: 0,
        lo_offset: 0,
        lo_sizelimit: 0,
        lo_number: 0,
        lo_encrypt_type: 0,
        lo_encrypt_key_size: 0,
        lo_flags: LO_FLAGS_AUTOCLEAR | if readonly { LO_FLAGS_READ_ONLY } else { 0 },
        lo_file_name: [0; LO_NAME_SIZE],
        lo_crypt_name: [0; LO_NAME_SIZE],
        lo_encrypt_key: [0; LO_KEY_SIZE],
        lo_init: [0; 2],
    };
    let name = image.as_os_str().as_encoded_bytes();
    let n = name.len().min(LO_NAME_SIZE - 1);
    info.lo_file_name[..n].copy_from_slice(&name[..n]);
    let backing_fd =
        u32::try_from(backing.as_raw_fd()).map_err(|_| lerr("bad file descriptor".into()))?;

    for _ in 0..ATTACH_TRIES {
        // SAFETY: LOOP_CTL_GET_FREE takes no argument; ctl is an open loop-control fd.
        let nr = unsafe { loop_ctl_get_free(ctl.as_raw_fd()) }
            .map_err(|e| lerr(format!("no free loop device: {e}")))?;
        let path = PathBuf::from(format!("/dev/loop{nr}"));
        let dev = match OpenOptions::new().read(true).write(!readonly).open(&path) {
            Ok(d) => d,
            Err(e) => return Err(lerr(format!("cannot open {}: {e}", path.display()))),
        };
        let cfg = LoopConfig {
            fd: backing_fd,
            block_size: 0,
            info,
            reserved: [0; 8],
        };
        // SAFETY: cfg is a fully initialised struct loop_config that outlives the call;
        // the kernel only reads it.
        match unsafe { loop_configure(dev.as_raw_fd(), &cfg) } {
            Ok(_) => return Ok(LoopDevice { dev, path }),
            // Someone took this device since GET_FREE: ask for another.
            Err(nix::Error::EBUSY) => continue,
            // Before Linux 5.8: LOOP_SET_FD, then the flags with LOOP_SET_STATUS64.
            Err(nix::Error::EINVAL) | Err(nix::Error::ENOTTY) => {
                match attach_legacy(&dev, backing_fd, &info) {
                    Ok(()) => return Ok(LoopDevice { dev, path }),
                    Err(nix::Error::EBUSY) => continue,
                    Err(e) => return Err(lerr(format!("{}: {e}", path.display()))),
                }
            }
            Err(e) => return Err(lerr(format!("{}: {e}", path.display()))),
        }
    }
    Err(lerr(format!(
        "every free loop device was taken by others {ATTACH_TRIES} times in a row"
    )))
}

fn attach_legacy(dev: &File, backing_fd: u32, info: &LoopInfo64) -> nix::Result<()> {
    let fd = libc::c_int::try_from(backing_fd).map_err(|_| nix::Error::EBADF)?;
    // SAFETY: LOOP_SET_FD takes the backing file descriptor as its integer argument.
    unsafe { loop_set_fd(dev.as_raw_fd(), fd) }?;
    // SAFETY: info is a fully initialised struct loop_info64 the kernel only reads.
    if let Err(e) = unsafe { loop_set_status64(dev.as_raw_fd(), info) } {
        // Without autoclear the device would stay bound: undo it now.
        // SAFETY: LOOP_CLR_FD takes no argument.
        let _ = unsafe { loop_clr_fd(dev.as_raw_fd()) };
        return Err(e);
    }
    Ok(())
}

/// The loop devices whose backing file is `path` or below it, as (`loopN`, backing
/// file) pairs, from `/sys/block/loop*/loop/backing_file`.
pub fn devices_backed_by(path: &Path) -> Vec<(String, PathBuf)> {
    let Ok(rd) = std::fs::read_dir("/sys/block") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with("loop") {
            continue;
        }
        if let Ok(b) = std::fs::read_to_string(e.path().join("loop/backing_file")) {
            let b = PathBuf::from(b.trim_end_matches('\n').trim_end_matches(" (deleted)"));
            if b.starts_with(path) {
                out.push((name, b));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_layouts_match_the_kernel() {
        assert_eq!(std::mem::size_of::<LoopInfo64>(), 232);
        assert_eq!(std::mem::size_of::<LoopConfig>(), 304);
    }
}
