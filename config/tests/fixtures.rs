//! Configs as the busybox, debian and download templates generate them, and a
//! pre-2.1 config run through the legacy update.

use std::path::{Path, PathBuf};

use lxcrs_config::legacy::update_legacy_config;
use lxcrs_config::model::{CgroupAutoKind, CgroupAutoMode, NetType, ProcMode, Signal, SysMode};
use lxcrs_config::Config;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Fixtures that include LXC's shipped configs need them installed.
fn corpus_available() -> bool {
    if Path::new("/usr/share/lxc/config/common.conf").exists() {
        return true;
    }
    let msg = "/usr/share/lxc/config is missing: install Debian's lxc and lxc-templates packages";
    if std::env::var("LXCRS_REQUIRE_CORPUS").as_deref() == Ok("1") {
        panic!("{msg}");
    }
    eprintln!("SKIP: {msg}");
    false
}

fn load(name: &str) -> (Config, String) {
    let p = fixture(name);
    let text = std::fs::read_to_string(&p).expect("fixture");
    let c = Config::load(&p).unwrap_or_else(|e| panic!("{e}"));
    (c, text)
}

#[test]
fn busybox_template_config() {
    let (c, text) = load("busybox.conf");
    assert_eq!(c.to_text(), text);
    let m = c.model();
    assert_eq!(m.uts_name.as_deref(), Some("bb1"));
    assert_eq!(m.signals.halt, Some(Signal(libc_sigusr1())));
    assert_eq!(m.tty.max, 5);
    assert_eq!(m.tty.pty_max, 1);
    assert_eq!(m.cap_drop.len(), 4);
    assert_eq!(m.mount.auto.proc, Some(ProcMode::Mixed));
    assert_eq!(m.mount.auto.sys, Some(SysMode::Ro));
    assert_eq!(
        m.mount.auto.cgroup.map(|c| (c.kind, c.mode)),
        Some((CgroupAutoKind::Cgroup, CgroupAutoMode::Mixed))
    );
    assert_eq!(m.mount.entries.len(), 6);
    assert!(m.mount.entries[1].lxc.optional);
    assert_eq!(m.rootfs.path.as_ref().map(|p| p.backend()), Some("dir"));
    assert_eq!(m.net[&0].hwaddr.as_deref(), Some("10:66:6a:4f:1c:d2"));
}

fn libc_sigusr1() -> i32 {
    Signal::parse("SIGUSR1").map(|s| s.0).unwrap_or(-1)
}

#[test]
fn debian_template_config() {
    if !corpus_available() {
        return;
    }
    let (c, text) = load("debian.conf");
    assert_eq!(c.to_text(), text);
    let m = c.model();
    assert_eq!(m.uts_name.as_deref(), Some("deb1"));
    assert_eq!(m.tty.max, 4);
    assert_eq!(m.tty.dir, None, "debian.common.conf clears lxc.tty.dir");
    assert_eq!(m.tty.pty_max, 1024);
    // debian.common.conf includes common.conf and adds v1 device rules.
    assert!(m
        .cgroup_v1
        .iter()
        .any(|(k, v)| k == "devices.allow" && v == "c 10:200 rwm"));
    assert!(m
        .cgroup2
        .iter()
        .any(|(k, v)| k == "devices.deny" && v == "a"));
    assert!(m.cap_drop.iter().any(|c| c.name() == "sys_module"));
    assert!(m.includes.len() >= 2);
    assert_eq!(m.net[&0].kind, Some(NetType::Veth));
}

#[test]
fn download_unprivileged_config() {
    if !corpus_available() {
        return;
    }
    let (c, text) = load("download-unprivileged.conf");
    // The hwaddr template is resolved in the text; everything else is verbatim.
    let mac = c.model().net[&0].hwaddr.clone().expect("mac");
    assert!(mac.starts_with("00:16:3e:") && !mac.contains('x'));
    assert_eq!(c.to_text(), text.replace("00:16:3e:xx:xx:xx", &mac));
    let m = c.model();
    assert!(m.is_unprivileged());
    assert_eq!(m.root_host_uid(), Some(100000));
    // userns.conf clears caps, devices and tty.dir, and asks for sys:rw.
    assert!(m.cap_drop.is_empty());
    assert!(!m.cap_keep.is_set());
    assert!(m.cgroup2.iter().all(|(k, _)| !k.starts_with("devices.")));
    assert_eq!(m.tty.dir, None);
    assert_eq!(m.mount.auto.sys, Some(SysMode::Rw));
    assert_eq!(m.mount.auto.proc, Some(ProcMode::Mixed));
}

#[test]
fn legacy_config_is_rejected_then_updated() {
    let p = fixture("legacy-2.0.conf");
    let e = Config::load(&p)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("legacy-2.0.conf:2: lxc.utsname = old1"), "{e}");
    assert!(
        e.ends_with("hint: this key was renamed in LXC 2.1; run lxc-update-config -c <file>"),
        "{e}"
    );
    let text = std::fs::read_to_string(&p).expect("fixture");
    let updated = update_legacy_config(&text);
    let c = Config::parse(&updated, &p).unwrap_or_else(|e| panic!("{e}\n{updated}"));
    let m = c.model();
    assert_eq!(
        c.get_item("lxc.rootfs.path").ok().as_deref(),
        Some("dir:/var/lib/lxc/old1/rootfs")
    );
    assert_eq!(m.uts_name.as_deref(), Some("old1"));
    assert_eq!(m.tty.max, 4);
    assert_eq!(m.idmaps.len(), 2);
    assert_eq!(m.net[&0].ipv4.len(), 1);
    assert_eq!(m.net[&1].kind, Some(NetType::Empty));
    assert_eq!(
        c.get_item("lxc.prlimit.nofile").ok().as_deref(),
        Some("4096:8192")
    );
    assert!(!updated.contains("lxc.rootfs.backend"));
}
