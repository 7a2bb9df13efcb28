//! Test fixtures: mountinfo and /proc/self/cgroup texts of the three layouts, and a temp dir
//! that mimics their cgroupfs, with a fake kernel that fills new cgroup directories.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use nix::errno::Errno;
use tempfile::TempDir;

use super::fs::fake::{self, FakeKernel};
use super::layout::{CgroupLayout, HierarchyKind};

/// This machine: v1 controllers each on its own hierarchy, name=systemd, empty cgroup2.
pub(crate) const HYBRID_MOUNTINFO: &str = "\
23 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

pub(crate) const HYBRID_PROC_CGROUP: &str = "\
9:name=systemd:/
8:pids:/
7:blkio:/
6:freezer:/
5:devices:/
4:memory:/process_api/0e74
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/
";

/// A systemd host on pure cgroup2, caller in a login session.
pub(crate) const UNIFIED_MOUNTINFO: &str = "\
23 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

pub(crate) const UNIFIED_PROC_CGROUP: &str = "0::/user.slice/user-1000.slice/session-2.scope\n";

/// An older v1-only host with co-mounted controllers and no cgroup2 mount.
pub(crate) const LEGACY_MOUNTINFO: &str = "\
25 18 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,xattr,name=systemd
29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,cpu,cpuacct
30 25 0:27 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,cpuset
31 25 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,memory
32 25 0:29 / /sys/fs/cgroup/devices rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,devices
33 25 0:30 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,freezer
34 25 0:31 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,net_cls,net_prio
35 25 0:32 / /sys/fs/cgroup/blkio rw,nosuid,nodev,noexec,relatime shared:18 - cgroup cgroup rw,blkio
";

pub(crate) const LEGACY_PROC_CGROUP: &str = "\
9:blkio:/
8:net_cls,net_prio:/
7:freezer:/
6:devices:/
5:memory:/
4:cpuset:/
3:cpu,cpuacct:/
1:name=systemd:/user.slice/user-0.slice/session-1.scope
0::/user.slice/user-0.slice/session-1.scope
";

/// The fake kernel: knows each hierarchy's mount directory and kind.
struct Kernel {
    mounts: Vec<(PathBuf, HierarchyKind)>,
}

fn put(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

impl Kernel {
    fn v1_files(dir: &Path, controllers: &[String]) {
        put(
            dir,
            &[
                ("cgroup.procs", ""),
                ("tasks", ""),
                ("cgroup.clone_children", "0\n"),
                ("notify_on_release", "0\n"),
            ],
        );
        let parent = dir.parent().unwrap();
        for c in controllers {
            match c.as_str() {
                "cpuset" => {
                    let inherit = read(&parent.join("cgroup.clone_children")).trim() == "1";
                    let (cpus, mems) = if inherit {
                        (
                            read(&parent.join("cpuset.cpus")),
                            read(&parent.join("cpuset.mems")),
                        )
                    } else {
                        ("\n".into(), "\n".into())
                    };
                    put(dir, &[("cpuset.cpus", &cpus), ("cpuset.mems", &mems)]);
                }
                "memory" => put(
                    dir,
                    &[
                        (
                            "memory.use_hierarchy",
                            &read(&parent.join("memory.use_hierarchy")),
                        ),
                        ("memory.limit_in_bytes", "9223372036854771712\n"),
                        ("memory.usage_in_bytes", "0\n"),
                        ("memory.kmem.usage_in_bytes", "0\n"),
                        ("memory.stat", "cache 0\nrss 0\nswap 0\n"),
                    ],
                ),
                "freezer" => put(dir, &[("freezer.state", "THAWED\n")]),
                "cpuacct" => put(dir, &[("cpuacct.usage", "0\n")]),
                "cpu" => put(
                    dir,
                    &[("cpu.shares", "1024\n"), ("cpu.cfs_quota_us", "-1\n")],
                ),
                "pids" => put(dir, &[("pids.max", "max\n"), ("pids.current", "0\n")]),
                "devices" => put(
                    dir,
                    &[
                        ("devices.allow", ""),
                        ("devices.deny", ""),
                        ("devices.list", "a *:* rwm\n"),
                    ],
                ),
                "blkio" => put(
                    dir,
                    &[
                        ("blkio.throttle.io_service_bytes", "Total 0\n"),
                        ("blkio.weight", "100\n"),
                    ],
                ),
                _ => {}
            }
        }
    }

    /// A child gets the controllers its parent enabled; the plain-file subtree_control only
    /// keeps the last "+x" written, so any write counts as "all of the parent's".
    fn v2_files(dir: &Path) {
        let parent = dir.parent().unwrap();
        let controllers = if read(&parent.join("cgroup.subtree_control"))
            .trim()
            .is_empty()
        {
            String::new()
        } else {
            read(&parent.join("cgroup.controllers"))
        };
        put(
            dir,
            &[
                ("cgroup.procs", ""),
                ("cgroup.controllers", &controllers),
                ("cgroup.subtree_control", ""),
                ("cgroup.freeze", "0\n"),
                ("cgroup.events", "populated 0\nfrozen 0\n"),
                ("cgroup.kill", ""),
                ("cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\n"),
            ],
        );
        for c in controllers.split_whitespace() {
            match c {
                "memory" => put(
                    dir,
                    &[
                        ("memory.max", "max\n"),
                        ("memory.current", "0\n"),
                        (
                            "memory.stat",
                            "anon 0\nfile 0\nkernel_stack 0\npagetables 0\nsock 0\nslab 0\n",
                        ),
                        ("memory.swap.current", "0\n"),
                        ("memory.swap.max", "max\n"),
                    ],
                ),
                "pids" => put(dir, &[("pids.max", "max\n"), ("pids.current", "0\n")]),
                "cpu" => put(dir, &[("cpu.max", "max 100000\n"), ("cpu.weight", "100\n")]),
                "cpuset" => put(dir, &[("cpuset.cpus", "\n"), ("cpuset.mems", "\n")]),
                "io" => put(
                    dir,
                    &[
                        ("io.stat", ""),
                        ("io.max", ""),
                        ("io.weight", "default 100\n"),
                    ],
                ),
                "hugetlb" => put(dir, &[("hugetlb.2MB.max", "max\n")]),
                _ => {}
            }
        }
    }
}

impl FakeKernel for Kernel {
    fn mkdir(&self, dir: &Path) {
        let Some((_, kind)) = self
            .mounts
            .iter()
            .filter(|(m, _)| dir.starts_with(m))
            .max_by_key(|(m, _)| m.as_os_str().len())
        else {
            return;
        };
        match kind {
            HierarchyKind::V1 { controllers } => Self::v1_files(dir, controllers),
            HierarchyKind::V2 => Self::v2_files(dir),
        }
    }

    fn rmdir(&self, dir: &Path) -> Result<(), Errno> {
        if !read(&dir.join("cgroup.procs")).trim().is_empty() {
            return Err(Errno::EBUSY);
        }
        for entry in std::fs::read_dir(dir).map_err(|_| Errno::ENOENT)?.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(())
    }
}

/// A temp dir laid out like one of the fixture hosts, with the fake kernel installed for
/// the current thread until dropped.
pub(crate) struct Fixture {
    pub(crate) tmp: TempDir,
    pub(crate) layout: CgroupLayout,
}

impl Fixture {
    fn build(mountinfo: &str, proc_cgroup: &str) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let layout = CgroupLayout::detect(mountinfo, proc_cgroup, tmp.path()).unwrap();
        let mounts = layout
            .hierarchies()
            .map(|h| (h.dir.clone(), h.kind.clone()))
            .collect();
        fake::install(Some(Rc::new(Kernel { mounts })));
        for h in layout.hierarchies() {
            std::fs::create_dir_all(&h.dir).unwrap();
            match &h.kind {
                HierarchyKind::V1 { controllers } => {
                    Kernel::v1_files(&h.dir, controllers);
                    // Root files the kernel does not make below the root.
                    put(
                        &h.dir,
                        &[
                            ("cpuset.cpus", "0-1\n"),
                            ("cpuset.mems", "0\n"),
                            ("memory.use_hierarchy", "1\n"),
                        ],
                    );
                }
                HierarchyKind::V2 => {
                    let offered = if layout.v1.is_empty() {
                        "cpuset cpu io memory hugetlb pids rdma misc\n"
                    } else {
                        "hugetlb\n"
                    };
                    put(
                        &h.dir,
                        &[
                            ("cgroup.controllers", offered),
                            ("cgroup.subtree_control", ""),
                            ("cgroup.procs", ""),
                        ],
                    );
                }
            }
        }
        let fixture = Self { tmp, layout };
        // The caller's own cgroups, made like any other.
        for h in fixture.layout.hierarchies() {
            let mut dir = h.dir.clone();
            for component in h.current.components().skip(1) {
                dir.push(component);
                if !dir.exists() {
                    if h.is_v2() {
                        // systemd delegates every controller down to the session.
                        put(dir.parent().unwrap(), &[("cgroup.subtree_control", "+all")]);
                    }
                    super::fs::mkdir(&dir).unwrap();
                }
            }
        }
        fixture
    }

    pub(crate) fn hybrid() -> Self {
        Self::build(HYBRID_MOUNTINFO, HYBRID_PROC_CGROUP)
    }

    pub(crate) fn unified() -> Self {
        Self::build(UNIFIED_MOUNTINFO, UNIFIED_PROC_CGROUP)
    }

    pub(crate) fn legacy() -> Self {
        Self::build(LEGACY_MOUNTINFO, LEGACY_PROC_CGROUP)
    }

    /// A path below the fixture root, e.g. `sys/fs/cgroup/memory`.
    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    pub(crate) fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    pub(crate) fn write(&self, rel: &str, text: &str) {
        std::fs::write(self.path(rel), text).unwrap_or_else(|e| panic!("{rel}: {e}"));
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        fake::install(None);
    }
}
