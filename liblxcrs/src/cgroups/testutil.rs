//! Test fixtures: a temp dir that mimics the cgroupfs of the three layouts (their texts are
//! in `fixtures`), with a fake kernel that fills new cgroup directories.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use nix::errno::Errno;
use tempfile::TempDir;

use super::fixtures::{
    HYBRID_MOUNTINFO, HYBRID_PROC_CGROUP, LEGACY_MOUNTINFO, LEGACY_PROC_CGROUP, UNIFIED_MOUNTINFO,
    UNIFIED_PROC_CGROUP,
};
use super::fs::fake::{self, FakeKernel};
use super::layout::{CgroupLayout, HierarchyKind};

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
