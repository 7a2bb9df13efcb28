//! Per-interface sysctls (`/proc/sys/net/...`) of the calling thread's network namespace.

use std::path::Path;

use crate::error::{NetError, Result};

/// Where the sysctl tree is; tests of callers may point elsewhere.
pub const PROC_SYS: &str = "/proc/sys";

pub(crate) fn write(root: &Path, rel: &str, value: &str) -> Result<()> {
    let p = root.join(rel);
    std::fs::write(&p, value).map_err(NetError::io(format!("write {value} to {}", p.display())))
}

pub(crate) fn read(root: &Path, rel: &str) -> Result<String> {
    let p = root.join(rel);
    std::fs::read_to_string(&p)
        .map(|s| s.trim().to_string())
        .map_err(NetError::io(format!("read {}", p.display())))
}

/// `net.ipv4.conf.IF.KEY` or `net.ipv6.conf.IF.KEY` as a relative path.
pub(crate) fn conf(v6: bool, ifname: &str, key: &str) -> String {
    format!(
        "net/{}/conf/{ifname}/{key}",
        if v6 { "ipv6" } else { "ipv4" }
    )
}
