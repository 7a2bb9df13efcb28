//! Root tests of `liblxcrs::cgroups` against this host's real cgroup hierarchies.
//!
//! Without root each test prints why it is skipped; with `LXCRS_REQUIRE_ROOT=1` a skip
//! fails. Every test cleans up through a Drop guard (children killed and reaped, cgroups
//! thawed, emptied and removed, delegation restored), also when an assertion fails.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::thread::sleep;
use std::time::{Duration, Instant};

use liblxcrs::internal::{
    CgroupLayout, CgroupManager, Cgroups, HierarchyKind, LayoutKind, Placement,
};
use nix::errno::Errno;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

const T: Duration = Duration::from_secs(10);

/// The host layout, or `None` (after printing why) when the test cannot run here.
fn host_or_skip(test: &str) -> Option<CgroupLayout> {
    let reason = if !nix::unistd::geteuid().is_root() {
        "needs root to create cgroups".to_string()
    } else {
        match CgroupLayout::detect_host() {
            Ok(layout) => return Some(layout),
            Err(e) => format!("no usable cgroup hierarchy: {e}"),
        }
    };
    if std::env::var("LXCRS_REQUIRE_ROOT").as_deref() == Ok("1") {
        panic!("{test}: skipped with LXCRS_REQUIRE_ROOT=1: {reason}");
    }
    eprintln!("SKIP {test}: {reason}");
    None
}

/// A container name no other test or run uses.
fn unique(tag: &str) -> String {
    format!("t{}-{tag}", std::process::id())
}

/// Cleans up whatever a test made, in the order a stop would.
struct Guard {
    cgroups: Vec<Cgroups>,
    children: Vec<Child>,
    /// (cgroup.subtree_control, controllers enabled before the test).
    restore: Option<(PathBuf, Vec<String>)>,
}

impl Guard {
    fn new() -> Self {
        Self {
            cgroups: Vec::new(),
            children: Vec::new(),
            restore: None,
        }
    }

    fn spawn(&mut self, shell: &str) -> Pid {
        let child = Command::new("sh")
            .args(["-c", shell])
            .spawn()
            .expect("spawn sh");
        let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid fits i32"));
        self.children.push(child);
        pid
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        for cg in &mut self.cgroups {
            let _ = cg.thaw(T);
        }
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for cg in &mut self.cgroups {
            let _ = cg.kill_all(T);
            if let Err(e) = cg.remove() {
                eprintln!("cleanup: {e}");
            }
        }
        if let Some((file, before)) = &self.restore {
            let now = std::fs::read_to_string(file).unwrap_or_default();
            for c in now
                .split_whitespace()
                .filter(|c| !before.iter().any(|b| b == c))
            {
                let _ = std::fs::write(file, format!("-{c}"));
            }
        }
    }
}

/// The state letter of /proc/PID/stat (R running, S sleeping, D, T, Z …).
fn proc_state(pid: Pid) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read stat");
    let after = &stat[stat.rfind(')').expect("comm end") + 2..];
    after.chars().next().expect("state")
}

fn cpu_ns(cg: &Cgroups) -> u64 {
    cg.stats().expect("stats").cpu_ns.expect("cpu accounted")
}

/// Waits (bounded) for the busy child to have used some CPU.
fn wait_cpu_above(cg: &Cgroups, floor: u64) -> u64 {
    let deadline = Instant::now() + T;
    loop {
        let now = cpu_ns(cg);
        if now > floor || Instant::now() > deadline {
            return now;
        }
        sleep(Duration::from_millis(20));
    }
}

/// Freeze must stop the busy loop: its state leaves R and its CPU time stands still.
fn check_freeze(cg: &Cgroups, busy: Pid) {
    let before = wait_cpu_above(cg, 0);
    assert!(before > 0, "the busy child never ran");
    cg.freeze(T).expect("freeze");
    assert!(cg.is_frozen().expect("is_frozen"));
    let frozen_at = cpu_ns(cg);
    sleep(Duration::from_millis(300));
    assert_eq!(cpu_ns(cg), frozen_at, "CPU time grew while frozen");
    let state = proc_state(busy);
    assert_ne!(state, 'R', "a frozen task must not be running");
    eprintln!("frozen busy child {busy} shows state {state}");
    cg.thaw(T).expect("thaw");
    assert!(!cg.is_frozen().expect("is_frozen"));
    assert!(
        wait_cpu_above(cg, frozen_at) > frozen_at,
        "no CPU time after thaw"
    );
}

/// Kill everything, reap our children, remove, and prove nothing is left anywhere.
fn kill_and_remove(guard: &mut Guard, index: usize) {
    let cg = &mut guard.cgroups[index];
    let dirs: Vec<PathBuf> = cg
        .payload_dirs()
        .expect("payload")
        .iter()
        .chain(cg.monitor_dirs().expect("monitor"))
        .cloned()
        .collect();
    cg.kill_all(T).expect("kill_all");
    assert!(cg.pids().expect("pids").is_empty());
    let deadline = Instant::now() + T;
    for child in &mut guard.children {
        let status = loop {
            match child.try_wait().expect("reap") {
                Some(status) => break status,
                None if Instant::now() < deadline => sleep(Duration::from_millis(10)),
                None => panic!("pid {} outlived kill_all", child.id()),
            }
        };
        assert!(!status.success(), "killed children do not exit 0");
    }
    guard.children.clear();
    let cg = &mut guard.cgroups[index];
    cg.remove().expect("remove");
    for dir in &dirs {
        assert!(!dir.exists(), "left behind: {}", dir.display());
        let parent = dir.parent().expect("parent");
        let name = cg.name().to_string();
        let stray: Vec<_> = std::fs::read_dir(parent)
            .expect("list parent")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains(&name))
            .map(|e| e.path())
            .collect();
        assert!(stray.is_empty(), "left behind: {stray:?}");
    }
}

/// Root goes next to PID 1 on a cgroup2 host (its own cgroup holds this test process, so it
/// could not delegate); on v1/hybrid it stays under its own cgroups.
fn placement(layout: &CgroupLayout) -> Placement {
    match layout.kind {
        LayoutKind::Unified => Placement::ProcCgroup(
            std::fs::read_to_string("/proc/1/cgroup").expect("/proc/1/cgroup"),
        ),
        LayoutKind::Legacy | LayoutKind::Hybrid => Placement::Caller,
    }
}

#[test]
fn container_cgroups_on_this_host() {
    let Some(layout) = host_or_skip("container_cgroups_on_this_host") else {
        return;
    };
    let mut g = Guard::new();
    let mut cg = Cgroups::new(&layout, &unique("flow"), &placement(&layout)).expect("new");
    cg.create_monitor().expect("create monitor");
    g.cgroups.push(cg.clone());
    cg.create_payload().expect("create payload");
    g.cgroups[0] = cg;
    let cg = &g.cgroups[0];
    assert!(cg.mounts().expect("mounts").iter().all(|m| m.dir.is_dir()));

    let monitor_stand_in = g.spawn("exec sleep 600");
    let sleeper = g.spawn("exec sleep 600");
    let busy = g.spawn("while :; do :; done");
    // Memory is charged where it is allocated: this one allocates after it has been moved.
    let allocator = g
        .spawn("sleep 0.3; x=$(head -c 4000000 /dev/zero | tr '\\0' a); while :; do sleep 1; done");
    let cg = &g.cgroups[0];
    cg.enter_monitor(monitor_stand_in).expect("enter monitor");
    cg.enter_payload(sleeper).expect("enter sleeper");
    cg.enter_payload(busy).expect("enter busy");
    cg.enter_payload(allocator).expect("enter allocator");
    let pids = cg.pids().expect("pids");
    assert!(
        pids.contains(&sleeper) && pids.contains(&busy) && !pids.contains(&monitor_stand_in),
        "{pids:?}"
    );
    let own = std::fs::read_to_string(format!("/proc/{sleeper}/cgroup")).expect("read cgroup");
    assert!(
        own.contains(&format!("lxcrs.payload.{}", cg.name())),
        "{own}"
    );

    let limit = "268435456";
    match layout.kind {
        LayoutKind::Unified => {
            cg.apply_limit("lxc.cgroup2.memory.max", limit)
                .expect("memory.max");
            assert_eq!(cg.get("memory.max").expect("get"), limit);
            cg.apply_limit("lxc.cgroup2.pids.max", "64")
                .expect("pids.max");
        }
        LayoutKind::Legacy | LayoutKind::Hybrid => {
            cg.apply_limit("lxc.cgroup.memory.limit_in_bytes", limit)
                .expect("limit_in_bytes");
            assert_eq!(cg.get("memory.limit_in_bytes").expect("get"), limit);
            cg.apply_limit("lxc.cgroup.pids.max", "64")
                .expect("pids.max");
            assert_eq!(cg.get("pids.max").expect("get"), "64");
            cg.set("cpuset.cpus", "0").expect("set cpuset");
            assert_eq!(cg.get("cpuset.cpus").expect("get"), "0");
            let err = cg.apply_limit("lxc.cgroup2.memory.max", limit).unwrap_err();
            assert!(err.is_unsupported_on_host(), "{err}");
            eprintln!("expected error: {err}");
            let err = cg
                .apply_limit("lxc.cgroup.memory.limit_in_bytes", "lots")
                .unwrap_err();
            assert!(
                err.to_string()
                    .contains("memory.limit_in_bytes: Invalid argument"),
                "{err}"
            );
        }
    }

    check_freeze(cg, busy);
    let deadline = Instant::now() + T;
    let mut stats = cg.stats().expect("stats");
    while stats.memory_bytes.unwrap_or(0) < 4_000_000 && Instant::now() < deadline {
        sleep(Duration::from_millis(50));
        stats = cg.stats().expect("stats");
    }
    eprintln!("stats: {stats:?}");
    assert!(stats.cpu_ns.unwrap_or(0) > 0, "{stats:?}");
    assert!(stats.memory_bytes.unwrap_or(0) > 0, "{stats:?}");

    // The monitor is not the payload's to kill: stop the stand-in by hand.
    let stand_in = g
        .children
        .iter_mut()
        .find(|c| c.id().to_string() == monitor_stand_in.to_string());
    stand_in.expect("stand-in").kill().expect("kill stand-in");
    kill_and_remove(&mut g, 0);
}

/// The cgroup2 hierarchy alone (on a hybrid host: the one at /sys/fs/cgroup/unified) as a
/// unified layout, and a placement under PID 1's cgroup there; `None` (after printing why)
/// when the test cannot run here.
fn unified_only(test: &str) -> Option<(CgroupLayout, Placement)> {
    let host = host_or_skip(test)?;
    let Some(unified) = host.unified.clone() else {
        eprintln!("SKIP {test}: this host mounts no cgroup2");
        return None;
    };
    let mountinfo = format!(
        "1 1 0:1 {} {} rw - cgroup2 cgroup2 rw\n",
        unified.mount_root.display(),
        unified.mount_point.display()
    );
    let layout = CgroupLayout::detect(
        &mountinfo,
        &format!("0::{}\n", unified.current.display()),
        Path::new("/"),
    )
    .expect("layout");
    assert_eq!(layout.kind, LayoutKind::Unified);
    let pid1 = std::fs::read_to_string("/proc/1/cgroup").expect("/proc/1/cgroup");
    let v2_line = pid1
        .lines()
        .find(|l| l.starts_with("0::"))
        .unwrap_or("0::/")
        .to_string();
    Some((layout, Placement::ProcCgroup(format!("{v2_line}\n"))))
}

/// Remembers the parent's `cgroup.subtree_control` so the guard can undo the delegation.
fn restore_delegation(g: &mut Guard, any_dir: &Path) {
    let subtree = any_dir
        .parent()
        .expect("parent")
        .join("cgroup.subtree_control");
    let before = std::fs::read_to_string(&subtree).expect("subtree_control");
    g.restore = Some((
        subtree,
        before.split_whitespace().map(str::to_string).collect(),
    ));
}

#[test]
fn cgroup2_semantics_on_the_unified_hierarchy() {
    // Drive the v2 driver on the cgroup2 hierarchy alone, under PID 1's cgroup there.
    let Some((layout, placement)) = unified_only("cgroup2_semantics_on_the_unified_hierarchy")
    else {
        return;
    };
    let mut g = Guard::new();
    let mut cg = Cgroups::new(&layout, &unique("v2"), &placement).expect("new");
    assert!(matches!(cg, Cgroups::V2(_)));
    cg.create_monitor().expect("create monitor");
    g.cgroups.push(cg.clone());
    restore_delegation(&mut g, &cg.monitor_dirs().expect("monitor")[0]);
    cg.create_payload().expect("create payload");
    g.cgroups[0] = cg;
    let dir = g.cgroups[0].v2_payload_dir().expect("v2 dir").to_path_buf();
    assert!(dir.join("cgroup.freeze").exists());
    let m = &g.cgroups[0].mounts().expect("mounts")[0];
    assert_eq!(m.kind, HierarchyKind::V2);

    let sleeper = g.spawn("exec sleep 600");
    let busy = g.spawn("while :; do :; done");
    let cg = &g.cgroups[0];
    cg.enter_payload(sleeper).expect("enter");
    cg.enter_payload(busy).expect("enter");
    assert_eq!(
        cg.get("cgroup.events").expect("events").lines().next(),
        Some("populated 1")
    );

    check_freeze(cg, busy); // cgroup.freeze, confirmed through cgroup.events
    kill_and_remove(&mut g, 0); // cgroup.kill, confirmed through populated 0
}

#[test]
fn a_busy_stale_cgroup_makes_the_next_start_take_a_suffix() {
    let Some(layout) = host_or_skip("a_busy_stale_cgroup_makes_the_next_start_take_a_suffix")
    else {
        return;
    };
    let name = unique("stale");
    let mut g = Guard::new();
    let mut first = Cgroups::new(&layout, &name, &placement(&layout)).expect("new");
    first.create_payload().expect("create");
    g.cgroups.push(first);
    let pid = g.spawn("exec sleep 600");
    g.cgroups[0].enter_payload(pid).expect("enter");

    let mut second = Cgroups::new(&layout, &name, &placement(&layout)).expect("new");
    second.create_payload().expect("create with suffix");
    g.cgroups.push(second);
    let suffixed = format!("lxcrs.payload.{name}-1");
    assert!(g.cgroups[1]
        .payload_dirs()
        .expect("dirs")
        .iter()
        .all(|d| d.ends_with(&suffixed)));
    // The first keeps its processes: removal reports the busy directory by name.
    let err = g.cgroups[0].remove_payload().unwrap_err();
    assert!(
        err.to_string().contains(&format!("lxcrs.payload.{name}")),
        "{err}"
    );
}

/// What the forked child of [`open_both_in`] reports through its exit code.
const MOVED_NOT: i32 = 10;
const NULL_OPENED: i32 = 11;
const NULL_OTHER_ERRNO: i32 = 12;
const ZERO_REFUSED: i32 = 13;

/// Forks a child that moves itself into the cgroup whose `cgroup.procs` is `procs`, then
/// opens /dev/null (must fail with EPERM) and /dev/zero (must open). The child makes only
/// raw syscalls on what was prepared before the fork (this test process has threads).
fn open_both_in(procs: &Path) -> WaitStatus {
    let procs = CString::new(procs.as_os_str().as_bytes()).expect("path");
    let (null, zero) = (c"/dev/null", c"/dev/zero");
    // SAFETY: the child only calls open/write/close/_exit, which are async-signal-safe, on
    // strings allocated before the fork.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            // SAFETY: open, write, close and _exit on valid NUL-terminated strings and a
            // two-byte buffer; "0" moves the writing process itself.
            let code = unsafe {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 || libc::write(fd, c"0".as_ptr().cast(), 1) != 1 {
                    MOVED_NOT
                } else {
                    libc::close(fd);
                    let n = libc::open(null.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
                    let null_errno = Errno::last();
                    let z = libc::open(zero.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
                    if n >= 0 {
                        NULL_OPENED
                    } else if null_errno != Errno::EPERM {
                        NULL_OTHER_ERRNO
                    } else if z < 0 {
                        ZERO_REFUSED
                    } else {
                        0
                    }
                }
            };
            // SAFETY: leave the forked test process without running the harness's exit path.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => waitpid(child, None).expect("wait for the child"),
    }
}

#[test]
fn a_cgroup2_device_program_denies_and_allows_devices() {
    let test = "a_cgroup2_device_program_denies_and_allows_devices";
    // cgroup2 device programs work on any cgroup2 hierarchy, the hybrid host's empty one too.
    let Some((layout, placement)) = unified_only(test) else {
        return;
    };
    let mut g = Guard::new();
    let mut cg = Cgroups::new(&layout, &unique("dev"), &placement).expect("new");
    let rules_of = |family: &str| -> Vec<(String, String)> {
        [("deny", "a"), ("allow", "c 1:5 rwm")]
            .iter()
            .map(|(f, v)| (format!("{family}.devices.{f}"), v.to_string()))
            .collect()
    };
    // Twice, as a reboot does: the payload is removed, made again and gets the program anew.
    // The second time with the v1 keys, which a cgroup2 host translates into the program.
    for (round, family) in [("start", "lxc.cgroup2"), ("reboot, v1 keys", "lxc.cgroup")] {
        let rules = rules_of(family);
        cg.create_payload().expect("create payload");
        let dir = cg.v2_payload_dir().expect("v2 dir").to_path_buf();
        if g.restore.is_none() {
            restore_delegation(&mut g, &dir);
        }
        g.cgroups = vec![cg.clone()];
        let skipped = cg
            .apply_device_rules(&rules)
            .expect("attach the device program");
        assert!(skipped.is_empty(), "{skipped:?}");
        let status = open_both_in(&dir.join("cgroup.procs"));
        let why = match status {
            WaitStatus::Exited(_, 0) => None,
            WaitStatus::Exited(_, MOVED_NOT) => Some("the child could not enter the cgroup"),
            WaitStatus::Exited(_, NULL_OPENED) => Some("/dev/null (c 1:3) opened despite deny a"),
            WaitStatus::Exited(_, NULL_OTHER_ERRNO) => Some("/dev/null failed, but not with EPERM"),
            WaitStatus::Exited(_, ZERO_REFUSED) => Some("/dev/zero (c 1:5) was refused"),
            _ => Some("the child ended abnormally"),
        };
        assert!(why.is_none(), "{round}: {} ({status:?})", why.unwrap_or(""));
        cg.remove_payload().expect("remove payload");
        assert!(!dir.exists(), "left behind: {}", dir.display());
    }
    // The kernel's verifier takes the program of every Debian container too (wildcards,
    // mknod-only rules, a dozen rules).
    let common = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../templates/config/common.conf"
    ));
    let rules: Vec<(String, String)> = common
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, _)| k.starts_with("lxc.cgroup2.devices."))
        .collect();
    assert!(rules.len() > 5, "{rules:?}");
    cg.create_payload().expect("create payload");
    g.cgroups = vec![cg.clone()];
    cg.apply_device_rules(&rules)
        .expect("attach common.conf's device program");
    cg.remove_payload().expect("remove payload");
    g.cgroups.clear();
}
