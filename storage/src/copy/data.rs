//! A regular file's contents: a reflink (`FICLONE`) when the filesystem shares extents,
//! else `copy_file_range` over the data segments only (`SEEK_DATA`/`SEEK_HOLE`, so holes
//! stay holes), else plain reads and writes (across filesystems the kernel will not
//! copy between).

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use nix::fcntl::copy_file_range;
use nix::unistd::{lseek, Whence};

/// What the copy of one file did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum How {
    Reflink,
    Copied,
}

/// Per-copy state shared by the workers: which fast paths still look worth trying.
pub(crate) struct Paths {
    pub reflink: AtomicBool,
    pub copy_range: AtomicBool,
    /// Bytes done, for the progress display.
    pub bytes: AtomicU64,
}

impl Paths {
    pub fn new(reflink: bool) -> Paths {
        Paths {
            reflink: AtomicBool::new(reflink),
            copy_range: AtomicBool::new(true),
            bytes: AtomicU64::new(0),
        }
    }
}

nix::ioctl_write_int!(ficlone, 0x94, 9);

/// Errors that mean "this way of copying does not work between these two files", as
/// opposed to a real failure (EIO, ENOSPC).
fn unsupported(e: nix::Error) -> bool {
    matches!(
        e,
        nix::Error::EXDEV
            | nix::Error::EINVAL
            | nix::Error::EOPNOTSUPP
            | nix::Error::ENOTTY
            | nix::Error::ENOSYS
            | nix::Error::EBADF
    )
}

/// Which side an I/O error came from, so the caller can name the right path.
#[derive(Debug)]
pub(crate) enum Side {
    Read(std::io::Error),
    Write(std::io::Error),
}

/// Copies `size` bytes of `src` into the new, empty `dst`.
pub(crate) fn copy_contents(
    src: &File,
    dst: &File,
    size: u64,
    sparse: bool,
    paths: &Paths,
    buf: &mut Vec<u8>,
) -> Result<How, Side> {
    if size == 0 {
        return Ok(How::Copied);
    }
    if paths.reflink.load(Ordering::Relaxed) {
        // SAFETY: FICLONE takes the source descriptor as its integer argument; both
        // descriptors are open for the duration of the call.
        match unsafe { ficlone(dst.as_raw_fd(), src.as_raw_fd() as libc::c_ulong) } {
            Ok(_) => {
                paths.bytes.fetch_add(size, Ordering::Relaxed);
                return Ok(How::Reflink);
            }
            // Not on this filesystem pair: stop trying for the rest of the copy.
            Err(e) if unsupported(e) || e == nix::Error::EPERM => {
                paths.reflink.store(false, Ordering::Relaxed)
            }
            Err(e) => return Err(Side::Write(e.into())),
        }
    }
    if sparse {
        let mut pos: u64 = 0;
        while pos < size {
            let start = match lseek(src, off(pos), Whence::SeekData) {
                Ok(s) => s as u64,
                // No data after pos: the rest is a hole.
                Err(nix::Error::ENXIO) => break,
                Err(e) => return Err(Side::Read(e.into())),
            };
            let end = match lseek(src, off(start), Whence::SeekHole) {
                Ok(h) => (h as u64).min(size),
                Err(e) => return Err(Side::Read(e.into())),
            };
            copy_range(src, dst, start, end.saturating_sub(start), paths, buf)?;
            pos = end;
        }
        // A trailing hole has no data to write: the length makes it.
        dst.set_len(size).map_err(Side::Write)?;
    } else {
        copy_range(src, dst, 0, size, paths, buf)?;
    }
    Ok(How::Copied)
}

fn off(v: u64) -> libc::off_t {
    libc::off_t::try_from(v).unwrap_or(libc::off_t::MAX)
}

/// Copies `len` bytes at offset `start` of `src` to the same offset of `dst`.
fn copy_range(
    src: &File,
    dst: &File,
    start: u64,
    len: u64,
    paths: &Paths,
    buf: &mut Vec<u8>,
) -> Result<(), Side> {
    let mut done: u64 = 0;
    if paths.copy_range.load(Ordering::Relaxed) {
        while done < len {
            let mut soff = off(start + done);
            let mut doff = soff;
            let want = usize::try_from(len - done)
                .unwrap_or(usize::MAX)
                .min(1 << 30);
            match copy_file_range(src, Some(&mut soff), dst, Some(&mut doff), want) {
                // The file shrank under us: copy what there is.
                Ok(0) => return Ok(()),
                Ok(n) => {
                    done += n as u64;
                    paths.bytes.fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(e) if done == 0 && unsupported(e) => {
                    paths.copy_range.store(false, Ordering::Relaxed);
                    break;
                }
                // EIO, ENOSPC…: the destination side is where those come from.
                Err(e) => return Err(Side::Write(e.into())),
            }
        }
        if done == len {
            return Ok(());
        }
    }
    if buf.is_empty() {
        buf.resize(1 << 20, 0);
    }
    while done < len {
        let want = usize::try_from(len - done)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = src
            .read_at(&mut buf[..want], start + done)
            .map_err(Side::Read)?;
        if n == 0 {
            return Ok(());
        }
        dst.write_all_at(&buf[..n], start + done)
            .map_err(Side::Write)?;
        done += n as u64;
        paths.bytes.fetch_add(n as u64, Ordering::Relaxed);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn keeps_holes_and_data() {
        let t = tempfile::tempdir().unwrap();
        let (sp, dp) = (t.path().join("s"), t.path().join("d"));
        let s = File::create(&sp).unwrap();
        s.write_all_at(b"head", 0).unwrap();
        s.write_all_at(b"middle", 4 << 20).unwrap();
        s.set_len(16 << 20).unwrap();
        drop(s);
        let s = File::open(&sp).unwrap();
        let d = File::create(&dp).unwrap();
        let paths = Paths::new(false);
        let md = s.metadata().unwrap();
        let sparse = md.blocks() * 512 < md.size();
        assert!(sparse);
        copy_contents(&s, &d, md.size(), sparse, &paths, &mut Vec::new()).unwrap();
        let dm = std::fs::metadata(&dp).unwrap();
        assert_eq!(dm.size(), 16 << 20);
        assert!(
            dm.blocks() * 512 < 1 << 20,
            "holes were filled: {} blocks",
            dm.blocks()
        );
        assert_eq!(std::fs::read(&sp).unwrap(), std::fs::read(&dp).unwrap());
    }
}
