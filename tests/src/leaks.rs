//! Leak check: what a test may leave behind on the host, before vs after.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The host resources a container's life touches.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    mounts: BTreeSet<String>,
    netdevs: BTreeSet<String>,
    cgroups: BTreeSet<String>,
    loops: BTreeSet<String>,
    pids: BTreeSet<u32>,
}

impl Snapshot {
    /// Reads the host's current state.
    pub fn take() -> Snapshot {
        Snapshot {
            mounts: mounts(),
            netdevs: netdevs(),
            cgroups: cgroups(),
            loops: loops(),
            pids: pids(),
        }
    }

    /// What `after` has that `self` had not, as readable lines. Processes count when they
    /// live in another pid or mount namespace than ours (a container's) or mention `lxcpath`.
    pub fn leaked(&self, after: &Snapshot, lxcpath: &Path) -> Vec<String> {
        let mut out = Vec::new();
        for m in after.mounts.difference(&self.mounts) {
            out.push(format!("mount: {m}"));
        }
        for n in after.netdevs.difference(&self.netdevs) {
            out.push(format!("netdev: {n}"));
        }
        for c in after.cgroups.difference(&self.cgroups) {
            out.push(format!("cgroup: {c}"));
        }
        for l in after.loops.difference(&self.loops) {
            out.push(format!("loop device: {l}"));
        }
        let lx = lxcpath.to_string_lossy().into_owned();
        for pid in after.pids.difference(&self.pids) {
            if let Some(desc) = foreign_process(*pid, &lx) {
                out.push(format!("process: {desc}"));
            }
        }
        out
    }
}

fn mounts() -> BTreeSet<String> {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(str::to_string)
        .collect()
}

fn netdevs() -> BTreeSet<String> {
    read_names("/sys/class/net")
}

fn read_names(dir: &str) -> BTreeSet<String> {
    fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn cgroups() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for h in read_names("/sys/fs/cgroup") {
        walk(&Path::new("/sys/fs/cgroup").join(&h), 0, &mut out);
    }
    out
}

fn walk(dir: &Path, depth: u32, out: &mut BTreeSet<String>) {
    if depth > 4 {
        return;
    }
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            let p = e.path();
            out.insert(p.to_string_lossy().into_owned());
            walk(&p, depth + 1, out);
        }
    }
}

fn loops() -> BTreeSet<String> {
    read_names("/sys/block")
        .into_iter()
        .filter(|n| n.starts_with("loop"))
        .filter_map(|n| {
            let f = fs::read_to_string(format!("/sys/block/{n}/loop/backing_file")).ok()?;
            Some(format!("{n} -> {}", f.trim()))
        })
        .collect()
}

fn pids() -> BTreeSet<u32> {
    read_names("/proc")
        .iter()
        .filter_map(|n| n.parse().ok())
        .collect()
}

fn ns_of(pid: &str, ns: &str) -> Option<u64> {
    fs::metadata(format!("/proc/{pid}/ns/{ns}"))
        .ok()
        .map(|m| m.ino())
}

fn foreign_process(pid: u32, lxcpath: &str) -> Option<String> {
    let p = pid.to_string();
    // A zombie is an exited process whose parent (here: a PID 1 that never reaps, as in
    // some sandboxes) has not collected it: nothing of it is left to leak.
    let stat = fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
    if stat
        .rsplit_once(") ")
        .is_some_and(|(_, r)| r.starts_with('Z'))
    {
        return None;
    }
    let cmdline = fs::read(format!("/proc/{p}/cmdline")).ok()?;
    let cmd = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    // A process that is exiting has no readable namespaces: not a leak.
    let other_ns = ["pid", "mnt"].iter().any(|ns| match ns_of(&p, ns) {
        Some(n) => Some(n) != ns_of("self", ns),
        None => false,
    });
    if other_ns || cmd.contains(lxcpath) {
        Some(format!("{pid} {}", cmd.trim()))
    } else {
        None
    }
}

/// On a host shared with other test suites (`LXCRS_TEST_SHARED_HOST=1`, e.g. several
/// developers' runs at once), only what is provably this test's counts: things named
/// after the lxcpath or after this process's container names (which embed our pid),
/// and netdevs whose ifalias tag names the lxcpath.
pub(crate) fn provably_ours(line: &str, lxcpath: &str) -> bool {
    let ours = format!("{}-", std::process::id());
    if let Some(rest) = line.strip_prefix("process: ") {
        let pid = rest.split_whitespace().next().unwrap_or("");
        let cgroup = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        (cgroup.contains("lxcrs.") && cgroup.contains(&ours)) || rest.contains(lxcpath)
    } else if let Some(dev) = line.strip_prefix("netdev: ") {
        let alias = fs::read_to_string(format!("/sys/class/net/{dev}/ifalias"));
        alias.is_ok_and(|a| a.contains(lxcpath) || a.contains(&ours))
    } else {
        line.contains(lxcpath) || line.contains(&ours)
    }
}
