//! cgroup v1 cpuset: a new cpuset cgroup starts with empty `cpuset.cpus` and `cpuset.mems`,
//! and writing a pid to it then fails with ENOSPC. Fill them from the parent, walking down
//! from the hierarchy root so that an empty intermediate cgroup is fixed too, and set
//! `cgroup.clone_children` so that cgroups created inside the container inherit them.

use std::path::Path;

use crate::cgroups::error::Result;
use crate::cgroups::fs;

const FILES: [&str; 2] = ["cpuset.cpus", "cpuset.mems"];

/// Makes the new cpuset cgroup `dir` (below the hierarchy's mount directory `mount_dir`)
/// enterable.
pub(crate) fn init(mount_dir: &Path, dir: &Path) -> Result<()> {
    let Ok(rel) = dir.strip_prefix(mount_dir) else {
        return Ok(());
    };
    let mut parent = mount_dir.to_path_buf();
    for component in rel.components() {
        let child = parent.join(component);
        for file in FILES {
            if fs::read(&child.join(file))?.trim().is_empty() {
                let value = fs::read(&parent.join(file))?;
                fs::write(&child.join(file), value.trim())?;
            }
        }
        parent = child;
    }
    fs::write(&dir.join("cgroup.clone_children"), "1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_cpus_and_mems_down_through_empty_parents() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        let mid = root.join("mid");
        let leaf = mid.join("leaf");
        std::fs::create_dir_all(&leaf).unwrap();
        for (dir, cpus, mems) in [
            (root, "0-3\n", "0\n"),
            (mid.as_path(), "\n", "\n"),
            (leaf.as_path(), "\n", "\n"),
        ] {
            std::fs::write(dir.join("cpuset.cpus"), cpus).unwrap();
            std::fs::write(dir.join("cpuset.mems"), mems).unwrap();
            std::fs::write(dir.join("cgroup.clone_children"), "0\n").unwrap();
        }
        std::fs::write(mid.join("cpuset.cpus"), "1-2\n").unwrap();
        init(root, &leaf).unwrap();
        assert_eq!(
            std::fs::read_to_string(leaf.join("cpuset.cpus")).unwrap(),
            "1-2"
        );
        assert_eq!(
            std::fs::read_to_string(leaf.join("cpuset.mems")).unwrap(),
            "0"
        );
        assert_eq!(
            std::fs::read_to_string(mid.join("cpuset.mems")).unwrap(),
            "0"
        );
        assert_eq!(
            std::fs::read_to_string(leaf.join("cgroup.clone_children")).unwrap(),
            "1"
        );
    }
}
