//! The v1 driver on temp-dir fixtures of this hybrid host and of a legacy host.

use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::unistd::Pid;

use crate::cgroups::testutil::Fixture;
use crate::cgroups::{CgroupError, CgroupManager, CgroupPaths, Cgroups, HierarchyKind, Placement};

const CG: &str = "sys/fs/cgroup";

fn created(fx: &Fixture, name: &str) -> Cgroups {
    let mut cg = Cgroups::new(&fx.layout, name, &Placement::Caller).unwrap();
    assert!(matches!(cg, Cgroups::V1(_)));
    cg.create_monitor().unwrap();
    cg.create_payload().unwrap();
    cg
}

#[test]
fn creates_payload_and_monitor_in_every_hierarchy_under_the_callers_cgroup() {
    let fx = Fixture::hybrid();
    let cg = created(&fx, "c1");
    for (h, leaf) in [
        ("memory/process_api/0e74", "lxcrs.payload.c1"),
        ("memory/process_api/0e74", "lxcrs.monitor.c1"),
        ("cpu", "lxcrs.payload.c1"),
        ("systemd", "lxcrs.payload.c1"),
        ("unified", "lxcrs.payload.c1"),
        ("unified", "lxcrs.monitor.c1"),
    ] {
        assert!(fx.path(&format!("{CG}/{h}/{leaf}")).is_dir(), "{h}/{leaf}");
    }
    assert_eq!(cg.payload_dirs().unwrap().len(), 10);
    let paths = cg.payload_paths().unwrap().to_string();
    assert!(
        paths.contains("memory:/process_api/0e74/lxcrs.payload.c1\n"),
        "{paths}"
    );
    assert!(
        paths.contains("name=systemd:/lxcrs.payload.c1\n"),
        "{paths}"
    );
    assert!(paths.ends_with(":/lxcrs.payload.c1\n"), "{paths}");
}

#[test]
fn initialises_cpuset_and_memory_hierarchy() {
    let fx = Fixture::hybrid();
    fx.write(&format!("{CG}/cpuset/cpuset.cpus"), "0-1\n");
    let _cg = created(&fx, "c1");
    assert_eq!(
        fx.read(&format!("{CG}/cpuset/lxcrs.payload.c1/cpuset.cpus")),
        "0-1"
    );
    assert_eq!(
        fx.read(&format!("{CG}/cpuset/lxcrs.payload.c1/cpuset.mems")),
        "0"
    );
    assert_eq!(
        fx.read(&format!(
            "{CG}/cpuset/lxcrs.payload.c1/cgroup.clone_children"
        )),
        "1"
    );
    assert_eq!(
        fx.read(&format!("{CG}/cpuset/lxcrs.monitor.c1/cpuset.cpus")),
        "0-1"
    );
    assert_eq!(
        fx.read(&format!(
            "{CG}/memory/process_api/0e74/lxcrs.payload.c1/memory.use_hierarchy"
        ))
        .trim(),
        "1"
    );
}

#[test]
fn enter_writes_the_pid_everywhere() {
    let fx = Fixture::hybrid();
    let cg = created(&fx, "c1");
    cg.enter_payload(Pid::from_raw(4242)).unwrap();
    cg.enter_monitor(Pid::from_raw(4243)).unwrap();
    for dir in cg.payload_dirs().unwrap() {
        assert_eq!(
            std::fs::read_to_string(dir.join("cgroup.procs")).unwrap(),
            "4242"
        );
    }
    assert_eq!(
        fx.read(&format!("{CG}/freezer/lxcrs.monitor.c1/cgroup.procs")),
        "4243"
    );
}

#[test]
fn device_rules_are_written_one_by_one_and_cgroup2_ones_translated_when_alone() {
    let fx = Fixture::hybrid();
    let cg = created(&fx, "c1");
    let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let dir = format!("{CG}/devices/lxcrs.payload.c1");
    // A cgroup2-only policy goes to the v1 files instead of being skipped.
    let v2_only = pairs(&[
        ("lxc.cgroup2.devices.deny", "a"),
        ("lxc.cgroup2.devices.allow", "c 1:5 rwm"),
    ]);
    assert!(cg.apply_device_rules(&v2_only).unwrap().is_empty());
    assert_eq!(fx.read(&format!("{dir}/devices.deny")), "a");
    assert_eq!(fx.read(&format!("{dir}/devices.allow")), "c 1:5 rwm");
    // With both families, the v1 rules are this host's.
    let rules = pairs(&[
        ("lxc.cgroup.devices.deny", "a"),
        ("lxc.cgroup.devices.allow", "c 1:3 rwm"),
        ("lxc.cgroup2.devices.deny", "a"),
        ("lxc.cgroup2.devices.allow", "c 1:5 rwm"),
    ]);
    assert!(cg.apply_device_rules(&rules).unwrap().is_empty());
    assert_eq!(fx.read(&format!("{dir}/devices.allow")), "c 1:3 rwm");
    // A real failure stops there and names the key.
    std::fs::remove_file(fx.path(&format!("{dir}/devices.allow"))).unwrap();
    let err = cg.apply_device_rules(&rules).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot apply lxc.cgroup.devices.allow: failed to write"),
        "{err}"
    );
    let bad = pairs(&[("lxc.cgroup2.devices.list", "a")]);
    let err = cg.apply_device_rules(&bad).unwrap_err();
    assert!(
        err.to_string().contains("lxc.cgroup2.devices.list"),
        "{err}"
    );
}

#[test]
fn v1_limits_go_to_their_controller() {
    let fx = Fixture::hybrid();
    let cg = created(&fx, "c1");
    for (key, value) in [
        ("lxc.cgroup.memory.limit_in_bytes", "536870912"),
        ("lxc.cgroup.cpuset.cpus", "0"),
        ("lxc.cgroup.devices.deny", "a"),
        ("lxc.cgroup.devices.allow", "c 1:3 rwm"),
        ("lxc.cgroup.pids.max", "100"),
        ("lxc.cgroup.cpu.shares", "512"),
    ] {
        cg.apply_limit(key, value).unwrap();
    }
    assert_eq!(
        fx.read(&format!(
            "{CG}/memory/process_api/0e74/lxcrs.payload.c1/memory.limit_in_bytes"
        )),
        "536870912"
    );
    assert_eq!(
        fx.read(&format!("{CG}/cpuset/lxcrs.payload.c1/cpuset.cpus")),
        "0"
    );
    assert_eq!(
        fx.read(&format!("{CG}/devices/lxcrs.payload.c1/devices.deny")),
        "a"
    );
    assert_eq!(
        fx.read(&format!("{CG}/devices/lxcrs.payload.c1/devices.allow")),
        "c 1:3 rwm"
    );
    assert_eq!(
        fx.read(&format!("{CG}/pids/lxcrs.payload.c1/pids.max")),
        "100"
    );
    assert_eq!(
        fx.read(&format!("{CG}/cpu/lxcrs.payload.c1/cpu.shares")),
        "512"
    );
    // The monitor is never limited.
    assert_eq!(
        fx.read(&format!("{CG}/pids/lxcrs.monitor.c1/pids.max")),
        "max\n"
    );
}

#[test]
fn limit_write_errors_name_key_value_and_file() {
    let fx = Fixture::hybrid();
    let cg = created(&fx, "c1");
    let file = fx.path(&format!("{CG}/pids/lxcrs.payload.c1/pids.max"));
    std::fs::remove_file(&file).unwrap();
    std::fs::create_dir(&file).unwrap(); // write(2) to it fails like a rejected value
    let err = cg.apply_limit("lxc.cgroup.pids.max", "lots").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "cannot apply lxc.cgroup.pids.max: failed to write \"lots\" to {}: Is a directory",
            file.display()
        )
    );
    let err = cg
        .apply_limit("lxc.cgroup.net_cls.classid", "1")
        .unwrap_err();
    assert!(err.is_unsupported_on_host());
    assert!(
        err.to_string()
            .contains("this host has no cgroup v1 net_cls hierarchy"),
        "{err}"
    );
}

#[test]
fn v2_keys_on_hybrid_need_a_controller_bound_to_cgroup2() {
    let fx = Fixture::hybrid();
    let cg = created(&fx, "c1");
    let err = cg.apply_limit("lxc.cgroup2.memory.max", "1G").unwrap_err();
    assert!(err.is_unsupported_on_host());
    assert_eq!(
        err.to_string(),
        "cannot apply lxc.cgroup2.memory.max = \"1G\": this host has no cgroup2 memory controller \
         (memory is bound to the cgroup v1 hierarchy at /sys/fs/cgroup/memory)\nhint: use lxc.cgroup.memory.limit_in_bytes instead"
    );
    let err = cg
        .apply_limit("lxc.cgroup2.devices.allow", "c 1:3 rwm")
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("hint: use lxc.cgroup.devices.allow instead"),
        "{err}"
    );
    // hugetlb is on cgroup2 here: enabled in the parent on first use, then written.
    fx.write(
        &format!("{CG}/unified/lxcrs.payload.c1/hugetlb.2MB.max"),
        "max\n",
    );
    cg.apply_limit("lxc.cgroup2.hugetlb.2MB.max", "0").unwrap();
    assert_eq!(
        fx.read(&format!("{CG}/unified/cgroup.subtree_control")),
        "+hugetlb"
    );
    assert_eq!(
        fx.read(&format!("{CG}/unified/lxcrs.payload.c1/hugetlb.2MB.max")),
        "0"
    );
}

#[test]
fn v2_keys_on_legacy_say_there_is_no_cgroup2() {
    let fx = Fixture::legacy();
    let cg = created(&fx, "c1");
    assert!(cg.v2_payload_dir().is_none());
    let err = cg.apply_limit("lxc.cgroup2.misc.max", "1").unwrap_err();
    assert!(
        err.to_string()
            .contains("no cgroup2 misc controller (no cgroup2 hierarchy is mounted)"),
        "{err}"
    );
    cg.apply_limit("lxc.cgroup.cpu.shares", "256").unwrap();
    assert_eq!(
        fx.read(&format!("{CG}/cpu,cpuacct/lxcrs.payload.c1/cpu.shares")),
        "256"
    );
}

#[test]
fn lxc_cgroup_files_map_to_their_hierarchy() {
    let fx = Fixture::hybrid();
    let cg = created(&fx, "c1");
    assert_eq!(
        cg.get("memory.limit_in_bytes").unwrap(),
        "9223372036854771712"
    );
    cg.set("cpuset.cpus", "1").unwrap();
    assert_eq!(
        fx.read(&format!("{CG}/cpuset/lxcrs.payload.c1/cpuset.cpus")),
        "1"
    );
    assert_eq!(cg.get("cpuacct.usage").unwrap(), "0");
    // No v1 hierarchy for the prefix: the cgroup2 directory, if the file is there.
    assert_eq!(cg.get("cgroup.events").unwrap(), "populated 0\nfrozen 0");
    let err = cg.get("net_cls.classid").unwrap_err();
    assert!(matches!(err, CgroupError::NoHierarchyFor { .. }), "{err}");
    assert!(matches!(
        cg.get("../../etc/passwd"),
        Err(CgroupError::InvalidKey { .. })
    ));
}

#[test]
fn freeze_and_thaw_use_the_v1_freezer() {
    let fx = Fixture::hybrid();
    let cg = created(&fx, "c1");
    cg.freeze(Duration::from_secs(1)).unwrap();
    assert_eq!(
        fx.read(&format!("{CG}/freezer/lxcrs.payload.c1/freezer.state")),
        "FROZEN"
    );
    assert!(cg.is_frozen().unwrap());
    assert_eq!(
        fx.read(&format!("{CG}/freezer/lxcrs.monitor.c1/freezer.state")),
        "THAWED\n"
    );
    cg.thaw(Duration::from_secs(1)).unwrap();
    assert!(!cg.is_frozen().unwrap());
}

#[test]
fn stats_come_from_the_v1_files() {
    let fx = Fixture::hybrid();
    let cg = created(&fx, "c1");
    let mem = format!("{CG}/memory/process_api/0e74/lxcrs.payload.c1");
    fx.write(
        &format!("{CG}/cpuacct/lxcrs.payload.c1/cpuacct.usage"),
        "1500000000\n",
    );
    fx.write(&format!("{mem}/memory.usage_in_bytes"), "10485760\n");
    fx.write(&format!("{mem}/memory.kmem.usage_in_bytes"), "524288\n");
    fx.write(&format!("{mem}/memory.stat"), "cache 0\nswap 8192\n");
    fx.write(
        &format!("{CG}/blkio/lxcrs.payload.c1/blkio.throttle.io_service_bytes"),
        "8:0 Read 100\n8:0 Write 50\n8:0 Total 150\nTotal 150\n",
    );
    let s = cg.stats().unwrap();
    assert_eq!(s.cpu_ns, Some(1_500_000_000));
    assert_eq!(s.memory_bytes, Some(10_485_760));
    assert_eq!(s.kmem_bytes, Some(524_288));
    assert_eq!(s.swap_bytes, Some(8192));
    assert_eq!(s.blkio_bytes, Some(150));
}

#[test]
fn kill_all_uses_cgroup_kill_and_then_the_freezer_loop() {
    let fx = Fixture::hybrid();
    let cg = created(&fx, "c1");
    let freezer = fx.path(&format!("{CG}/freezer/lxcrs.payload.c1"));
    crate::cgroups::fs::mkdir(&freezer.join("inner")).unwrap();
    std::fs::write(freezer.join("cgroup.procs"), "100\n").unwrap();
    std::fs::write(freezer.join("inner/cgroup.procs"), "101\n").unwrap();
    assert_eq!(cg.pids().unwrap(), [Pid::from_raw(100), Pid::from_raw(101)]);
    let mut killed = Vec::new();
    cg.kill_all_with(
        &mut |pid| {
            killed.push(pid.as_raw());
            let file = if pid.as_raw() == 100 {
                freezer.join("cgroup.procs")
            } else {
                freezer.join("inner/cgroup.procs")
            };
            std::fs::write(file, "").unwrap();
            Ok(())
        },
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(killed, [100, 101]);
    assert_eq!(
        fx.read(&format!("{CG}/unified/lxcrs.payload.c1/cgroup.kill")),
        "1"
    );
    assert_eq!(
        fx.read(&format!("{CG}/freezer/lxcrs.payload.c1/freezer.state")),
        "THAWED"
    );
}

#[test]
fn removal_is_depth_first_everywhere_and_names_a_busy_dir() {
    let fx = Fixture::hybrid();
    let mut cg = created(&fx, "c1");
    let systemd = fx.path(&format!("{CG}/systemd/lxcrs.payload.c1"));
    crate::cgroups::fs::mkdir(&systemd.join("init.scope")).unwrap();
    crate::cgroups::fs::mkdir(&systemd.join("system.slice")).unwrap();
    crate::cgroups::fs::mkdir(&systemd.join("system.slice/cron.service")).unwrap();
    std::fs::write(
        systemd.join("system.slice/cron.service/cgroup.procs"),
        "77\n",
    )
    .unwrap();
    let err = cg.remove().unwrap_err();
    let busy = systemd.join("system.slice/cron.service");
    assert!(
        matches!(&err, CgroupError::Rmdir { path, errno: nix::errno::Errno::EBUSY, .. } if path == &busy),
        "{err}"
    );
    assert!(!fx
        .path(&format!("{CG}/memory/process_api/0e74/lxcrs.payload.c1"))
        .exists());
    assert!(
        !fx.path(&format!("{CG}/freezer/lxcrs.monitor.c1")).exists(),
        "teardown goes on past a failure"
    );
    std::fs::write(busy.join("cgroup.procs"), "").unwrap();
    cg.remove().unwrap();
    assert!(!systemd.exists());
    assert!(matches!(
        cg.get("memory.limit_in_bytes"),
        Err(CgroupError::NotCreated {
            which: "payload",
            ..
        })
    ));
}

#[test]
fn stale_cgroups_are_reused_or_skipped_with_a_suffix() {
    let fx = Fixture::hybrid();
    // A crashed run left an empty payload in freezer and a populated one in cpu (visited
    // after freezer: hierarchies go in /proc/self/cgroup order).
    crate::cgroups::fs::mkdir(&fx.path(&format!("{CG}/freezer/lxcrs.payload.c1"))).unwrap();
    crate::cgroups::fs::mkdir(&fx.path(&format!("{CG}/cpu/lxcrs.payload.c1"))).unwrap();
    fx.write(&format!("{CG}/cpu/lxcrs.payload.c1/cgroup.procs"), "99\n");
    let mut cg = Cgroups::new(&fx.layout, "c1", &Placement::Caller).unwrap();
    cg.create_payload().unwrap();
    let dirs: Vec<PathBuf> = cg.payload_dirs().unwrap().to_vec();
    assert!(
        dirs.iter()
            .all(|d| d.file_name().unwrap() == "lxcrs.payload.c1-1"),
        "{dirs:?}"
    );
    // Only the undeletable one is left of the first attempt.
    assert!(fx.path(&format!("{CG}/cpu/lxcrs.payload.c1")).exists());
    assert!(!fx.path(&format!("{CG}/freezer/lxcrs.payload.c1")).exists());
    assert!(!fx
        .path(&format!("{CG}/memory/process_api/0e74/lxcrs.payload.c1"))
        .exists());
    // Once that stale cgroup is empty, the plain name is used again.
    fx.write(&format!("{CG}/cpu/lxcrs.payload.c1/cgroup.procs"), "");
    let mut again = Cgroups::new(&fx.layout, "c1", &Placement::Caller).unwrap();
    again.create_payload().unwrap();
    assert!(again
        .payload_dirs()
        .unwrap()
        .iter()
        .all(|d| d.file_name().unwrap() == "lxcrs.payload.c1"));
}

#[test]
fn a_monitor_never_takes_over_an_existing_monitor_cgroup_and_cleans_up_after() {
    let fx = Fixture::hybrid();
    // An older monitor of c1 (exiting after STOPPED) still has its cgroup, empty by now.
    for h in ["freezer", "cpu"] {
        crate::cgroups::fs::mkdir(&fx.path(&format!("{CG}/{h}/lxcrs.monitor.c1"))).unwrap();
    }
    let mut cg = Cgroups::new(&fx.layout, "c1", &Placement::Caller).unwrap();
    cg.create_monitor().unwrap();
    assert!(cg
        .monitor_dirs()
        .unwrap()
        .iter()
        .all(|d| d.file_name().unwrap() == "lxcrs.monitor.c1-1"));
    // Creating did not remove the old one (its monitor may still be in it) ...
    assert!(fx.path(&format!("{CG}/cpu/lxcrs.monitor.c1")).is_dir());
    // ... the new monitor does, once in its own; a busy one stays.
    fx.write(
        &format!("{CG}/freezer/lxcrs.monitor.c1/cgroup.procs"),
        "99\n",
    );
    cg.remove_stale_monitors();
    assert!(!fx.path(&format!("{CG}/cpu/lxcrs.monitor.c1")).exists());
    assert!(fx.path(&format!("{CG}/freezer/lxcrs.monitor.c1")).is_dir());
    assert!(fx.path(&format!("{CG}/cpu/lxcrs.monitor.c1-1")).is_dir());

    // A later run that gets the plain name again cleans up the suffixed ones left by a
    // killed monitor, not those of other containers.
    fx.write(&format!("{CG}/freezer/lxcrs.monitor.c1/cgroup.procs"), "");
    drop(cg);
    for h in ["freezer", "cpu"] {
        let d = fx.path(&format!("{CG}/{h}/lxcrs.monitor.c1"));
        crate::cgroups::fs::rmdir_tree(&d, Duration::ZERO).unwrap();
    }
    crate::cgroups::fs::mkdir(&fx.path(&format!("{CG}/cpu/lxcrs.monitor.c10"))).unwrap();
    let mut later = Cgroups::new(&fx.layout, "c1", &Placement::Caller).unwrap();
    later.create_monitor().unwrap();
    later.remove_stale_monitors();
    assert!(fx.path(&format!("{CG}/cpu/lxcrs.monitor.c1")).is_dir());
    assert!(!fx.path(&format!("{CG}/cpu/lxcrs.monitor.c1-1")).exists());
    assert!(fx.path(&format!("{CG}/cpu/lxcrs.monitor.c10")).is_dir());
}

#[test]
fn mounts_describe_each_hierarchy_for_the_cgroup_namespace() {
    let fx = Fixture::hybrid();
    let cg = created(&fx, "c1");
    let mounts = cg.mounts().unwrap();
    let memory = mounts
        .iter()
        .find(|m| m.mount_point == Path::new("/sys/fs/cgroup/memory"))
        .unwrap();
    assert_eq!(
        memory.kind,
        HierarchyKind::V1 {
            controllers: vec!["memory".into()]
        }
    );
    assert_eq!(
        memory.cgroup,
        PathBuf::from("/process_api/0e74/lxcrs.payload.c1")
    );
    assert!(mounts.iter().any(|m| m.kind
        == HierarchyKind::V1 {
            controllers: vec!["name=systemd".into()]
        }));
    let unified = mounts.iter().find(|m| m.kind == HierarchyKind::V2).unwrap();
    assert_eq!(Some(unified.dir.as_path()), cg.v2_payload_dir());
}

#[test]
fn another_process_opens_the_same_cgroups_from_the_paths() {
    let fx = Fixture::hybrid();
    let cg = created(&fx, "c1");
    let text = cg.payload_paths().unwrap().to_string();
    let monitor = cg.monitor_paths().unwrap();
    let mut other = Cgroups::open(
        &fx.layout,
        "c1",
        &text.parse::<CgroupPaths>().unwrap(),
        Some(&monitor),
    )
    .unwrap();
    assert_eq!(other.payload_dirs().unwrap(), cg.payload_dirs().unwrap());
    other.set("pids.max", "5").unwrap();
    assert_eq!(
        fx.read(&format!("{CG}/pids/lxcrs.payload.c1/pids.max")),
        "5"
    );
    other.remove().unwrap();
    assert!(!fx.path(&format!("{CG}/pids/lxcrs.monitor.c1")).exists());
    let bad = CgroupPaths(vec![("memory".into(), PathBuf::from("/x"))]);
    assert!(matches!(
        Cgroups::open(&fx.layout, "c1", &bad, None),
        Err(CgroupError::InvalidPaths { .. })
    ));
}

#[test]
fn placement_under_pid1s_cgroup_drops_init_scope() {
    let fx = Fixture::legacy();
    let pid1 = "1:name=systemd:/init.scope\n0::/init.scope\n";
    let mut cg = Cgroups::new(&fx.layout, "c1", &Placement::ProcCgroup(pid1.into())).unwrap();
    cg.create_payload().unwrap();
    assert!(fx.path(&format!("{CG}/systemd/lxcrs.payload.c1")).is_dir());
    assert!(fx.path(&format!("{CG}/memory/lxcrs.payload.c1")).is_dir());
}
