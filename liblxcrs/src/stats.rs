//! Resource figures of a running container, from the cgroups its monitor reports.

use crate::cgroups::{CgroupLayout, CgroupManager, CgroupPaths, CgroupStats, Cgroups};
use crate::commands::Client;

/// The payload cgroup's usage figures, or `None` when they can't be read.
pub fn of(client: &Client, name: &str) -> Option<CgroupStats> {
    let (payload, _) = client.cgroup_paths().ok()?;
    let paths: CgroupPaths = payload.join("\n").parse().ok()?;
    let layout = CgroupLayout::detect_host().ok()?;
    let cg = Cgroups::open(&layout, name, &paths, None).ok()?;
    cg.stats().ok()
}

/// Memory and swap in MB (`lxc-ls -F RAM,SWAP`), as LXC prints them.
pub fn memory_mb(client: &Client, name: &str) -> (Option<f64>, Option<f64>) {
    let mb = |b: u64| b as f64 / (1024.0 * 1024.0);
    match of(client, name) {
        Some(s) => (s.memory_bytes.map(mb), Some(s.swap_bytes.map_or(0.0, mb))),
        None => (None, None),
    }
}
