//! Host-side records of the `phys` devices given to containers: the original name, MTU,
//! MAC and host ifindex, in root-only files under `/run/lxcrs/phys`.
//!
//! While a container owns a phys device it can rewrite everything on it, its `ifalias`
//! included, so after a crash the tag on a returned device says nothing trustworthy. The
//! record says which device it was (its ifindex, which the device keeps when the kernel
//! hands it back) and what to give it back; the cleanup acts on records only.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{NetError, Result};

/// Where records live.
pub const RECORD_DIR: &str = "/run/lxcrs/phys";

/// One phys device lent to a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhysRecord {
    /// The container ([`crate::NetContext::owner`]).
    pub owner: String,
    /// `N` of `lxc.net.N`.
    pub index: usize,
    /// The device's ifindex on the host when it was lent.
    pub ifindex: u32,
    /// `IFLA_INFO_KIND` of the device (`None` for plain hardware), checked with the
    /// ifindex so a reused index does not pick another device.
    pub link_kind: Option<String>,
    pub name: String,
    pub mtu: u32,
    pub mac: Vec<u8>,
}

/// FNV-1a: a stable, dependency-free hash for file names (not for security: the owner is
/// checked against the file's content).
pub(crate) fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn file_name(owner: &str, index: usize) -> String {
    format!("{:016x}.{index}", fnv1a(owner))
}

/// Creates `dir` (0700) if needed and refuses one that is not a root-owned directory
/// closed to others, or a symlink.
pub(crate) fn check_dir(dir: &Path) -> Result<()> {
    match fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
    {
        Ok(()) => {}
        Err(e) => return Err(NetError::io(format!("create {}", dir.display()))(e)),
    }
    let m = fs::symlink_metadata(dir).map_err(NetError::io(format!("stat {}", dir.display())))?;
    if !m.is_dir() || m.uid() != nix::unistd::geteuid().as_raw() || m.mode() & 0o077 != 0 {
        return Err(NetError::Io {
            what: format!("use {} for device records", dir.display()),
            source: io::Error::new(
                io::ErrorKind::PermissionDenied,
                "not a directory of ours closed to others (mode 0700)",
            ),
        });
    }
    Ok(())
}

/// Writes `rec` into `dir` (replacing a previous record of the same NIC).
pub fn save_in(dir: &Path, rec: &PhysRecord) -> Result<()> {
    save_record(dir, &file_name(&rec.owner, rec.index), rec)
}

/// Writes `rec` as file `name` of `dir` (created 0700 if needed, checked): a new file
/// (mode 0600, not through a symlink) renamed over the old one.
pub(crate) fn save_record<T: Serialize>(dir: &Path, name: &str, rec: &T) -> Result<()> {
    check_dir(dir)?;
    let path = dir.join(name);
    let tmp = path.with_extension("tmp");
    let text = toml::to_string(rec).map_err(|e| NetError::Io {
        what: format!("encode {}", path.display()),
        source: io::Error::other(e.to_string()),
    })?;
    let _ = fs::remove_file(&tmp);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&tmp)
        .map_err(NetError::io(format!("create {}", tmp.display())))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(NetError::io(format!("write {}", tmp.display())))?;
    fs::rename(&tmp, &path).map_err(NetError::io(format!("rename {}", tmp.display())))
}

/// The records of `owner` in `dir`, by NIC index. Unreadable or foreign files are skipped.
pub fn load_in(dir: &Path, owner: &str) -> Vec<PhysRecord> {
    let prefix = format!("{:016x}.", fnv1a(owner));
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PhysRecord> = entries
        .filter_map(|e| e.ok())
        .filter(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            n.starts_with(&prefix) && !n.ends_with(".tmp")
        })
        .filter_map(|e| read_record::<PhysRecord>(&e.path()))
        .filter(|rec| rec.owner == owner)
        .collect();
    out.sort_by_key(|r| r.index);
    out
}

/// The record in file `path`, if it is a regular file of ours nobody else can write
/// (not followed if a symlink) and parses.
pub(crate) fn read_record<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    let m = fs::symlink_metadata(path).ok()?;
    if !m.is_file() || m.uid() != nix::unistd::geteuid().as_raw() {
        return None;
    }
    if m.permissions().mode() & 0o022 != 0 {
        return None;
    }
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .ok()?;
    toml::from_str(&io::read_to_string(f).ok()?).ok()
}

/// (ifindex, kind) of every device recorded in `dir`, whoever it was lent to: a device
/// that came back carrying a forged tag of another kind is not deleted as that kind.
pub fn all_lent_in(dir: &Path) -> Vec<(u32, Option<String>)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| fs::read_to_string(e.path()).ok())
        .filter_map(|t| toml::from_str::<PhysRecord>(&t).ok())
        .map(|r| (r.ifindex, r.link_kind))
        .collect()
}

/// Removes the record of NIC `index` of `owner` from `dir`; a missing one is fine.
pub fn remove_in(dir: &Path, owner: &str, index: usize) -> Result<()> {
    let path = dir.join(file_name(owner, index));
    match fs::remove_file(&path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            Err(NetError::io(format!("remove {}", path.display()))(e))
        }
        _ => Ok(()),
    }
}

/// [`RECORD_DIR`] as a path.
pub fn dir() -> PathBuf {
    PathBuf::from(RECORD_DIR)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(owner: &str, index: usize) -> PhysRecord {
        PhysRecord {
            owner: owner.into(),
            index,
            ifindex: 7,
            link_kind: None,
            name: "enp3s0".into(),
            mtu: 1500,
            mac: vec![0, 0x16, 0x3e, 1, 2, 3],
        }
    }

    #[test]
    fn records_round_trip_per_owner() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("phys");
        save_in(&dir, &rec("/var/lib/lxc/a", 1)).unwrap();
        save_in(&dir, &rec("/var/lib/lxc/a", 0)).unwrap();
        save_in(&dir, &rec("/var/lib/lxc/b", 0)).unwrap();
        let mode = fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let a = load_in(&dir, "/var/lib/lxc/a");
        assert_eq!(a, [rec("/var/lib/lxc/a", 0), rec("/var/lib/lxc/a", 1)]);
        remove_in(&dir, "/var/lib/lxc/a", 0).unwrap();
        remove_in(&dir, "/var/lib/lxc/a", 0).unwrap();
        assert_eq!(load_in(&dir, "/var/lib/lxc/a"), [rec("/var/lib/lxc/a", 1)]);
        assert_eq!(all_lent_in(&dir), [(7, None), (7, None)]);
    }

    #[test]
    fn an_open_directory_is_refused() {
        let d = tempfile::tempdir().unwrap();
        fs::set_permissions(d.path(), fs::Permissions::from_mode(0o777)).unwrap();
        let e = save_in(d.path(), &rec("o", 0)).unwrap_err();
        assert!(e.to_string().contains("closed to others"), "{e}");
    }
}
