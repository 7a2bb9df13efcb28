//! cgroup v1 memory: hierarchical accounting and the usage figures.

use std::path::Path;

use crate::cgroups::error::Result;
use crate::cgroups::fs;
use crate::cgroups::stats::{self, CgroupStats};

/// Turns on `memory.use_hierarchy` so that the container's own sub-cgroups count against
/// its limit (old kernels default to 0; new ones always use 1 and may lack the file).
pub(crate) fn init(dir: &Path) -> Result<()> {
    let path = dir.join("memory.use_hierarchy");
    match fs::read_opt(&path)? {
        Some(v) if v.trim() == "0" => fs::write(&path, "1"),
        _ => Ok(()),
    }
}

/// Fills the memory, kernel memory and swap figures.
pub(crate) fn stats(dir: &Path, out: &mut CgroupStats) -> Result<()> {
    out.memory_bytes = stats::read_number(&dir.join("memory.usage_in_bytes"))?;
    out.kmem_bytes = stats::read_number(&dir.join("memory.kmem.usage_in_bytes"))?;
    out.swap_bytes = stats::v1_swap(dir)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enables_use_hierarchy_only_when_off() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("memory.use_hierarchy");
        std::fs::write(&f, "0\n").unwrap();
        init(d.path()).unwrap();
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "1");
        std::fs::remove_file(&f).unwrap();
        init(d.path()).unwrap();
    }

    #[test]
    fn reads_usage_kmem_and_swap() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("memory.usage_in_bytes"), "1048576\n").unwrap();
        std::fs::write(d.path().join("memory.kmem.usage_in_bytes"), "4096\n").unwrap();
        std::fs::write(d.path().join("memory.stat"), "cache 0\nswap 0\n").unwrap();
        let mut s = CgroupStats::default();
        stats(d.path(), &mut s).unwrap();
        assert_eq!(
            (s.memory_bytes, s.kmem_bytes, s.swap_bytes),
            (Some(1_048_576), Some(4096), Some(0))
        );
    }
}
