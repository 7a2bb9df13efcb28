//! The v2 driver on a temp-dir fixture of a pure cgroup2 systemd host.

use std::time::Duration;

use nix::unistd::Pid;

use super::bpf::fake as bpf;
use crate::cgroups::testutil::Fixture;
use crate::cgroups::{CgroupError, CgroupManager, Cgroups, Placement};

const SCOPE: &str = "sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope";

fn created(fx: &Fixture) -> Cgroups {
    let mut cg = Cgroups::new(&fx.layout, "c1", &Placement::Caller).unwrap();
    assert!(matches!(cg, Cgroups::V2(_)));
    cg.create_monitor().unwrap();
    cg.enter_monitor(Pid::from_raw(500)).unwrap();
    cg.create_payload().unwrap();
    cg
}

#[test]
fn creates_under_the_callers_cgroup_and_delegates_controllers() {
    let fx = Fixture::unified();
    let cg = created(&fx);
    assert!(fx.path(&format!("{SCOPE}/lxcrs.monitor.c1")).is_dir());
    assert!(fx.path(&format!("{SCOPE}/lxcrs.payload.c1")).is_dir());
    assert_eq!(
        fx.read(&format!("{SCOPE}/lxcrs.monitor.c1/cgroup.procs")),
        "500"
    );
    // One "+controller" write per offered controller; the fixture file keeps the last.
    assert_eq!(fx.read(&format!("{SCOPE}/cgroup.subtree_control")), "+misc");
    assert!(fx
        .read(&format!("{SCOPE}/lxcrs.payload.c1/cgroup.controllers"))
        .contains("memory"));
    assert_eq!(
        cg.v2_payload_dir(),
        Some(fx.path(&format!("{SCOPE}/lxcrs.payload.c1")).as_path())
    );
    assert_eq!(
        cg.payload_paths().unwrap().to_string(),
        ":/user.slice/user-1000.slice/session-2.scope/lxcrs.payload.c1\n"
    );
}

#[test]
fn v2_limits_are_written_to_the_payload() {
    let fx = Fixture::unified();
    let cg = created(&fx);
    for (key, value) in [
        ("lxc.cgroup2.memory.max", "1073741824"),
        ("lxc.cgroup2.pids.max", "200"),
        ("lxc.cgroup2.cpu.max", "50000 100000"),
        ("lxc.cgroup2.cpuset.cpus", "0-1"),
    ] {
        cg.apply_limit(key, value).unwrap();
    }
    let p = format!("{SCOPE}/lxcrs.payload.c1");
    assert_eq!(fx.read(&format!("{p}/memory.max")), "1073741824");
    assert_eq!(fx.read(&format!("{p}/pids.max")), "200");
    assert_eq!(fx.read(&format!("{p}/cpu.max")), "50000 100000");
    assert_eq!(fx.read(&format!("{p}/cpuset.cpus")), "0-1");
}

#[test]
fn v1_keys_and_device_rules_are_refused_with_hints() {
    let fx = Fixture::unified();
    let cg = created(&fx);
    let err = cg
        .apply_limit("lxc.cgroup.memory.limit_in_bytes", "1G")
        .unwrap_err();
    assert!(err.is_unsupported_on_host());
    assert_eq!(
        err.to_string(),
        "cannot apply lxc.cgroup.memory.limit_in_bytes = \"1G\": this host has no cgroup v1 memory hierarchy\n\
         hint: this is a cgroup2-only host; its memory controller is on cgroup2: use lxc.cgroup2.memory.max instead"
    );
    let err = cg
        .apply_limit("lxc.cgroup2.devices.allow", "c 1:3 rwm")
        .unwrap_err();
    assert!(matches!(err, CgroupError::DeviceRule { .. }), "{err}");
}

fn rules(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn device_rules_become_one_program_on_the_payload() {
    let fx = Fixture::unified();
    let cg = created(&fx);
    bpf::install();
    let skipped = cg
        .apply_device_rules(&rules(&[
            ("lxc.cgroup.devices.deny", "a"),
            ("lxc.cgroup.devices.allow", "c 1:3 rwm"),
            ("lxc.cgroup2.devices.deny", "a"),
            ("lxc.cgroup2.devices.allow", "c 1:3 rwm"),
            ("lxc.cgroup2.devices.allow", "c 136:* rwm"),
        ]))
        .unwrap();
    // The cgroup2 keys are this host's; the v1 ones would be translated only alone.
    assert!(skipped.is_empty(), "{skipped:?}");
    let attached = bpf::attached();
    assert_eq!(attached.len(), 1, "one program for all rules");
    let (dir, program) = &attached[0];
    assert_eq!(dir, &fx.path(&format!("{SCOPE}/lxcrs.payload.c1")));
    let mut policy = super::devices::Policy::default();
    for (allow, value) in [(false, "a"), (true, "c 1:3 rwm"), (true, "c 136:* rwm")] {
        policy.push("k", allow, value).unwrap();
    }
    assert_eq!(program, &policy.program(), "the rules in config order");
}

#[test]
fn v1_device_keys_become_the_program_on_a_cgroup2_host() {
    let fx = Fixture::unified();
    let cg = created(&fx);
    bpf::install();
    assert!(cg.apply_device_rules(&[]).unwrap().is_empty());
    assert!(bpf::attached().is_empty(), "no rules, no program");
    let skipped = cg
        .apply_device_rules(&rules(&[
            ("lxc.cgroup.devices.deny", "a"),
            ("lxc.cgroup.devices.allow", "c 1:3 rwm"),
        ]))
        .unwrap();
    assert!(skipped.is_empty(), "{skipped:?}");
    let attached = bpf::attached();
    assert_eq!(attached.len(), 1, "a v1-only config gets its device policy");
    let mut policy = super::devices::Policy::default();
    policy.push("k", false, "a").unwrap();
    policy.push("k", true, "c 1:3 rwm").unwrap();
    assert_eq!(attached[0].1, policy.program());
}

#[test]
fn an_untranslatable_device_key_fails_by_name() {
    let fx = Fixture::unified();
    let cg = created(&fx);
    bpf::install();
    let err = cg
        .apply_device_rules(&rules(&[
            ("lxc.cgroup.devices.deny", "a"),
            ("lxc.cgroup.devices.list", "a *:* rwm"),
        ]))
        .unwrap_err();
    assert!(err.to_string().contains("lxc.cgroup.devices.list"), "{err}");
    assert!(bpf::attached().is_empty());
}

#[test]
fn a_bad_device_rule_attaches_nothing() {
    let fx = Fixture::unified();
    let cg = created(&fx);
    bpf::install();
    let err = cg
        .apply_device_rules(&rules(&[
            ("lxc.cgroup2.devices.deny", "a"),
            ("lxc.cgroup2.devices.allow", "c 1:3 rwx"),
        ]))
        .unwrap_err();
    assert!(
        matches!(err, CgroupError::InvalidDeviceRule { .. }),
        "{err}"
    );
    assert!(bpf::attached().is_empty());
}

#[test]
fn lxc_cgroup_on_devices_files_says_it_is_not_supported_at_runtime() {
    let fx = Fixture::unified();
    let cg = created(&fx);
    let err = cg.set("devices.allow", "c 1:3 rwm").unwrap_err();
    assert!(
        err.to_string().starts_with(
            "cannot write devices.allow at runtime on cgroup2: not supported, cgroup2 has no devices files"
        ),
        "{err}"
    );
    assert!(matches!(
        cg.get("devices.list"),
        Err(CgroupError::DevicesAtRuntime { op: "read", .. })
    ));
}

#[test]
fn undelegated_controllers_are_explained() {
    let fx = Fixture::unified();
    let cg = created(&fx);
    let p = format!("{SCOPE}/lxcrs.payload.c1");
    fx.write(&format!("{p}/cgroup.controllers"), "cpu pids\n");
    let err = cg.apply_limit("lxc.cgroup2.memory.max", "1G").unwrap_err();
    assert!(matches!(err, CgroupError::NotDelegated { .. }), "{err}");
    assert!(
        err.to_string().contains("it was not enabled in the parent"),
        "{err}"
    );
    fx.write(&format!("{SCOPE}/cgroup.controllers"), "cpu pids\n");
    let err = cg.apply_limit("lxc.cgroup2.memory.max", "1G").unwrap_err();
    assert!(
        err.to_string()
            .contains("does not offer it: an ancestor has not delegated it"),
        "{err}"
    );
    let err = cg.apply_limit("lxc.cgroup2.nosuch.max", "1").unwrap_err();
    assert!(
        err.to_string().contains("no cgroup2 nosuch controller"),
        "{err}"
    );
    // Core files need no controller.
    fx.write(&format!("{p}/cgroup.max.depth"), "max\n");
    cg.apply_limit("lxc.cgroup2.cgroup.max.depth", "3").unwrap();
}

#[test]
fn freeze_waits_for_cgroup_events() {
    let fx = Fixture::unified();
    let cg = created(&fx);
    let p = format!("{SCOPE}/lxcrs.payload.c1");
    // The "kernel" reports frozen.
    fx.write(&format!("{p}/cgroup.events"), "populated 1\nfrozen 1\n");
    cg.freeze(Duration::from_secs(1)).unwrap();
    assert_eq!(fx.read(&format!("{p}/cgroup.freeze")), "1");
    assert!(cg.is_frozen().unwrap());
    let err = cg.thaw(Duration::from_millis(60)).unwrap_err();
    assert!(matches!(err, CgroupError::Timeout { .. }), "{err}");
    fx.write(&format!("{p}/cgroup.events"), "populated 1\nfrozen 0\n");
    cg.thaw(Duration::from_secs(1)).unwrap();
    assert_eq!(fx.read(&format!("{p}/cgroup.freeze")), "0");
}

#[test]
fn stats_come_from_the_v2_files() {
    let fx = Fixture::unified();
    let cg = created(&fx);
    let p = format!("{SCOPE}/lxcrs.payload.c1");
    fx.write(
        &format!("{p}/cpu.stat"),
        "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n",
    );
    fx.write(&format!("{p}/memory.current"), "20971520\n");
    fx.write(
        &format!("{p}/memory.stat"),
        "anon 1\nfile 2\nkernel_stack 100\npagetables 200\nsock 300\nslab 400\n",
    );
    fx.write(&format!("{p}/memory.swap.current"), "4096\n");
    fx.write(
        &format!("{p}/io.stat"),
        "8:0 rbytes=1 wbytes=2 rios=1 wios=1 dbytes=0 dios=0\n",
    );
    let s = cg.stats().unwrap();
    assert_eq!(s.cpu_ns, Some(2_500_000_000));
    assert_eq!(s.memory_bytes, Some(20_971_520));
    assert_eq!(s.kmem_bytes, Some(1000));
    assert_eq!(s.swap_bytes, Some(4096));
    assert_eq!(s.blkio_bytes, Some(3));
}

#[test]
fn kill_uses_cgroup_kill() {
    let fx = Fixture::unified();
    let cg = created(&fx);
    cg.kill_all_with(
        &mut |_| panic!("no signals with cgroup.kill"),
        Duration::from_secs(1),
    )
    .unwrap();
    assert_eq!(
        fx.read(&format!("{SCOPE}/lxcrs.payload.c1/cgroup.kill")),
        "1"
    );
}

#[test]
fn lxc_cgroup_reads_and_writes_the_payload() {
    let fx = Fixture::unified();
    let cg = created(&fx);
    assert_eq!(cg.get("memory.max").unwrap(), "max");
    cg.set("memory.max", "512M").unwrap();
    assert_eq!(
        fx.read(&format!("{SCOPE}/lxcrs.payload.c1/memory.max")),
        "512M"
    );
    assert!(matches!(
        cg.set("memory.max/../x", "1"),
        Err(CgroupError::InvalidKey { .. })
    ));
}

#[test]
fn the_monitor_pivots_to_a_leaf_before_removal() {
    let fx = Fixture::unified();
    let mut cg = created(&fx);
    fx.write(&format!("{SCOPE}/lxcrs.monitor.c1/cgroup.procs"), ""); // as if it moved away
    cg.remove_payload().unwrap();
    cg.remove_monitor(Some(Pid::from_raw(500))).unwrap();
    assert_eq!(fx.read(&format!("{SCOPE}/lxcrs.pivot/cgroup.procs")), "500");
    assert!(!fx.path(&format!("{SCOPE}/lxcrs.monitor.c1")).exists());
    assert!(!fx.path(&format!("{SCOPE}/lxcrs.payload.c1")).exists());
    assert!(matches!(
        cg.freeze(Duration::ZERO),
        Err(CgroupError::NotCreated { .. })
    ));
}

#[test]
fn attached_processes_go_to_a_leaf_once_the_payload_delegates() {
    let fx = Fixture::unified();
    let cg = created(&fx);
    let payload = fx.path(&format!("{SCOPE}/lxcrs.payload.c1"));
    // Nothing handed down yet (busybox): the payload itself.
    assert_eq!(cg.v2_attach_dir().unwrap(), Some(payload.clone()));
    assert!(!payload.join(crate::cgroups::manager::ATTACH_LEAF).exists());
    // systemd in the container enabled controllers for its children: the `.lxc` leaf,
    // made once and reused.
    fx.write(
        &format!("{SCOPE}/lxcrs.payload.c1/cgroup.subtree_control"),
        "memory pids\n",
    );
    let leaf = payload.join(crate::cgroups::manager::ATTACH_LEAF);
    assert_eq!(cg.v2_attach_dir().unwrap(), Some(leaf.clone()));
    assert!(leaf.is_dir());
    assert_eq!(cg.v2_attach_dir().unwrap(), Some(leaf));
}
