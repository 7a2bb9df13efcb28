//! Host-side records of the devices created for containers (the host end of a veth, a
//! macvlan/ipvlan/vlan device before it moves in), in root-only files under
//! `/run/lxcrs/nics`: one per NIC, written before the device is created and removed once
//! it is deleted.
//!
//! A monitor killed in between leaves its record behind, and the record says exactly what
//! to look at: [`crate::cleanup_leftovers`] looks the recorded names up one by one
//! instead of listing every interface of the host (with hundreds of containers that dump
//! was most of a start's CPU), and does nothing at all when there is no record.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{NetError, Result};
use crate::phys_record::{fnv1a, read_record, save_record};

/// Where records live.
pub const RECORD_DIR: &str = "/run/lxcrs/nics";

/// One device created on the host for NIC `index` of `owner`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NicRecord {
    /// The container ([`crate::NetContext::owner`]).
    pub owner: String,
    /// `N` of `lxc.net.N`.
    pub index: usize,
    /// The NIC's type ([`crate::NicKind::name`]), part of the device's tag.
    pub kind: String,
    /// The device's name on the host.
    pub ifname: String,
    /// Its ifindex once created (0: the monitor died between creating and recording it).
    pub ifindex: u32,
    /// Its `IFLA_INFO_KIND` ("veth", "macvlan", ...).
    pub link_kind: String,
}

fn file_name(owner: &str, index: usize) -> String {
    format!("{:016x}.{index}", fnv1a(owner))
}

/// Writes `rec` into `dir`, replacing the record of the same NIC.
pub fn save_in(dir: &Path, rec: &NicRecord) -> Result<()> {
    save_record(dir, &file_name(&rec.owner, rec.index), rec)
}

/// The records of `owner` in `dir`, by NIC index; unreadable or foreign files skipped.
/// One `readdir` of a small directory: no netlink.
pub fn load_in(dir: &Path, owner: &str) -> Vec<NicRecord> {
    let prefix = format!("{:016x}.", fnv1a(owner));
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<NicRecord> = entries
        .filter_map(|e| e.ok())
        .filter(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            n.starts_with(&prefix) && !n.ends_with(".tmp")
        })
        .filter_map(|e| read_record::<NicRecord>(&e.path()))
        .filter(|r| r.owner == owner)
        .collect();
    out.sort_by_key(|r| r.index);
    out
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
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn rec(owner: &str, index: usize) -> NicRecord {
        NicRecord {
            owner: owner.into(),
            index,
            kind: "veth".into(),
            ifname: "vethAbCdEf1234".into(),
            ifindex: 42,
            link_kind: "veth".into(),
        }
    }

    #[test]
    fn records_round_trip_per_owner() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("nics");
        assert!(load_in(&dir, "/var/lib/lxc/a").is_empty());
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
        assert_eq!(load_in(&dir, "/var/lib/lxc/b"), [rec("/var/lib/lxc/b", 0)]);
    }

    #[test]
    fn symlinked_or_open_records_are_ignored() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("nics");
        save_in(&dir, &rec("o", 0)).unwrap();
        let real = dir.join(file_name("o", 0));
        let elsewhere = d.path().join("planted");
        fs::rename(&real, &elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &real).unwrap();
        assert!(load_in(&dir, "o").is_empty(), "a symlink was followed");
        fs::remove_file(&real).unwrap();
        fs::rename(&elsewhere, &real).unwrap();
        fs::set_permissions(&real, fs::Permissions::from_mode(0o666)).unwrap();
        assert!(
            load_in(&dir, "o").is_empty(),
            "a world-writable record was read"
        );
    }
}
