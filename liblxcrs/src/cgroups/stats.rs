//! Usage figures for `lxc-info` (CPU, memory, kernel memory, block I/O) and `lxc-ls -F SWAP`,
//! and the parsers of the cgroup files they come from.

use std::path::Path;

use super::error::{CgroupError, Result};
use super::fs;

/// A container's resource use. `None` when this host does not account it (controller not
/// mounted or not enabled, swap accounting off).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CgroupStats {
    /// CPU time in nanoseconds (v1 `cpuacct.usage`, v2 `cpu.stat` `usage_usec` × 1000).
    pub cpu_ns: Option<u64>,
    /// Memory in bytes (v1 `memory.usage_in_bytes`, v2 `memory.current`).
    pub memory_bytes: Option<u64>,
    /// Kernel memory in bytes (v1 `memory.kmem.usage_in_bytes`, v2 `memory.stat`
    /// kernel_stack + pagetables + sock + slab).
    pub kmem_bytes: Option<u64>,
    /// Swap in bytes (v1 `memory.stat` `swap`, v2 `memory.swap.current`).
    pub swap_bytes: Option<u64>,
    /// Block I/O bytes read + written (v1 `blkio.throttle.io_service_bytes` `Total`, v2
    /// `io.stat` rbytes + wbytes over all devices).
    pub blkio_bytes: Option<u64>,
}

fn parse_error(path: &Path, reason: String) -> CgroupError {
    CgroupError::Parse {
        path: path.to_path_buf(),
        reason,
    }
}

fn number(path: &Path, text: &str) -> Result<u64> {
    text.trim()
        .parse()
        .map_err(|_| parse_error(path, format!("{:?} is not a number", text.trim())))
}

/// A file holding one number; `None` if the file does not exist.
pub(crate) fn read_number(path: &Path) -> Result<Option<u64>> {
    fs::read_opt(path)?.map(|t| number(path, &t)).transpose()
}

/// The number under `key` in a flat-keyed file (memory.stat, cpu.stat); `None` if the file
/// or the key does not exist.
pub(crate) fn read_keyed(path: &Path, key: &str) -> Result<Option<u64>> {
    let Some(text) = fs::read_opt(path)? else {
        return Ok(None);
    };
    fs::keyed_value(&text, key)
        .map(|v| number(path, v))
        .transpose()
}

/// cgroup2 `cpu.stat`: `usage_usec` in nanoseconds.
pub(crate) fn v2_cpu_ns(path: &Path) -> Result<Option<u64>> {
    Ok(read_keyed(path, "usage_usec")?.map(|us| us.saturating_mul(1000)))
}

/// cgroup2 `memory.stat`: kernel_stack + pagetables + sock + slab, as lxc-info counts it.
pub(crate) fn v2_kmem(path: &Path) -> Result<Option<u64>> {
    let Some(text) = fs::read_opt(path)? else {
        return Ok(None);
    };
    let mut total = None;
    for key in ["kernel_stack", "pagetables", "sock", "slab"] {
        if let Some(v) = fs::keyed_value(&text, key) {
            total = Some(total.unwrap_or(0u64).saturating_add(number(path, v)?));
        }
    }
    Ok(total)
}

/// cgroup v1 `blkio.throttle.io_service_bytes`: the `Total` line. Lines are
/// `MAJ:MIN Op BYTES` per device and a last `Total BYTES`.
pub(crate) fn v1_blkio_total(path: &Path) -> Result<Option<u64>> {
    let Some(text) = fs::read_opt(path)? else {
        return Ok(None);
    };
    let total = text
        .lines()
        .find_map(|l| l.strip_prefix("Total "))
        .map(|v| number(path, v))
        .transpose()?;
    // An empty file (no I/O yet on some kernels) means zero.
    Ok(Some(total.unwrap_or(0)))
}

/// cgroup2 `io.stat`: rbytes + wbytes summed over every device line
/// (`MAJ:MIN rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N`).
pub(crate) fn v2_io_bytes(path: &Path) -> Result<Option<u64>> {
    let Some(text) = fs::read_opt(path)? else {
        return Ok(None);
    };
    let mut total = 0u64;
    for field in text.lines().flat_map(|l| l.split_whitespace().skip(1)) {
        if let Some(v) = field
            .strip_prefix("rbytes=")
            .or_else(|| field.strip_prefix("wbytes="))
        {
            total = total.saturating_add(number(path, v)?);
        }
    }
    Ok(Some(total))
}

/// cgroup v1 swap: `memory.stat` `swap`, else memsw usage minus memory usage.
pub(crate) fn v1_swap(memory_dir: &Path) -> Result<Option<u64>> {
    if let Some(swap) = read_keyed(&memory_dir.join("memory.stat"), "swap")? {
        return Ok(Some(swap));
    }
    let memsw = read_number(&memory_dir.join("memory.memsw.usage_in_bytes"))?;
    let mem = read_number(&memory_dir.join("memory.usage_in_bytes"))?;
    Ok(memsw.zip(mem).map(|(sw, m)| sw.saturating_sub(m)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn v2_cpu_is_usec_times_thousand() {
        let d = tempfile::tempdir().unwrap();
        let p = file(
            &d,
            "cpu.stat",
            "usage_usec 1234\nuser_usec 1000\nsystem_usec 234\n",
        );
        assert_eq!(v2_cpu_ns(&p).unwrap(), Some(1_234_000));
        assert_eq!(v2_cpu_ns(&d.path().join("missing")).unwrap(), None);
    }

    #[test]
    fn v2_kmem_sums_the_kernel_parts() {
        let d = tempfile::tempdir().unwrap();
        let p = file(&d, "memory.stat", "anon 100\nfile 200\nkernel_stack 16384\npagetables 4096\nsock 0\nslab 8192\nslab_reclaimable 4096\n");
        assert_eq!(v2_kmem(&p).unwrap(), Some(16384 + 4096 + 8192));
        let p = file(&d, "other.stat", "anon 1\n");
        assert_eq!(v2_kmem(&p).unwrap(), None);
    }

    #[test]
    fn v1_blkio_reads_the_total_line() {
        let d = tempfile::tempdir().unwrap();
        let p = file(&d, "b", "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Async 12288\n8:0 Total 12288\nTotal 12288\n");
        assert_eq!(v1_blkio_total(&p).unwrap(), Some(12288));
        let p = file(&d, "empty", "");
        assert_eq!(v1_blkio_total(&p).unwrap(), Some(0));
    }

    #[test]
    fn v2_io_sums_reads_and_writes_over_devices() {
        let d = tempfile::tempdir().unwrap();
        let p = file(
            &d,
            "io.stat",
            "8:0 rbytes=1000 wbytes=2000 rios=1 wios=2 dbytes=0 dios=0\n253:1 rbytes=10 wbytes=20 rios=1 wios=1 dbytes=5 dios=1\n",
        );
        assert_eq!(v2_io_bytes(&p).unwrap(), Some(3030));
    }

    #[test]
    fn v1_swap_prefers_memory_stat() {
        let d = tempfile::tempdir().unwrap();
        file(&d, "memory.stat", "cache 1\nswap 4096\n");
        assert_eq!(v1_swap(d.path()).unwrap(), Some(4096));
        file(&d, "memory.stat", "cache 1\n");
        file(&d, "memory.memsw.usage_in_bytes", "10000\n");
        file(&d, "memory.usage_in_bytes", "8000\n");
        assert_eq!(v1_swap(d.path()).unwrap(), Some(2000));
    }

    #[test]
    fn garbage_is_a_parse_error_naming_the_file() {
        let d = tempfile::tempdir().unwrap();
        let p = file(&d, "memory.current", "lots\n");
        let err = read_number(&p).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("cannot parse {}: \"lots\" is not a number", p.display())
        );
    }
}
