//! Every key family through the public API: parse, validate, render, clear.

use std::path::Path;

use super::*;
use crate::model::*;

fn ok(text: &str) -> Config {
    Config::parse(text, Path::new("f")).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn get(c: &Config, key: &str) -> String {
    c.get_item(key).unwrap_or_else(|e| panic!("get {key}: {e}"))
}

/// (config text, key, rendered value)
const RENDER: &[(&str, &str, &str)] = &[
    ("lxc.arch = x86_64", "lxc.arch", "x86_64"),
    ("lxc.uts.name = c1", "lxc.uts.name", "c1"),
    ("lxc.signal.halt = SIGPWR", "lxc.signal.halt", "30"),
    ("lxc.signal.reboot = SIGTERM", "lxc.signal.reboot", "15"),
    ("lxc.signal.stop = 9", "lxc.signal.stop", "9"),
    ("lxc.monitor.signal.pdeath = SIGTERM", "lxc.monitor.signal.pdeath", "15"),
    ("lxc.monitor.unshare = 1", "lxc.monitor.unshare", "1"),
    ("lxc.init.cmd = /bin/sh -c 'sleep 1'", "lxc.init.cmd", "/bin/sh -c 'sleep 1'"),
    ("lxc.execute.cmd = /bin/true", "lxc.execute.cmd", "/bin/true"),
    ("lxc.init.uid = 1000", "lxc.init.uid", "1000"),
    ("lxc.init.gid = 100", "lxc.init.gid", "100"),
    ("lxc.init.groups = 4,24\nlxc.init.groups = 27", "lxc.init.groups", "4,24,27"),
    ("lxc.init.cwd = /root", "lxc.init.cwd", "/root"),
    ("lxc.rootfs.path = dir:/var/lib/lxc/c1/rootfs", "lxc.rootfs.path", "dir:/var/lib/lxc/c1/rootfs"),
    ("lxc.rootfs.mount = /mnt", "lxc.rootfs.mount", "/mnt"),
    ("lxc.rootfs.options = idmap=container", "lxc.rootfs.options", "idmap=container"),
    ("lxc.rootfs.managed = 0", "lxc.rootfs.managed", "0"),
    ("lxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 100000 65536", "lxc.idmap", "u 0 100000 65536\ng 0 100000 65536"),
    ("lxc.mount.fstab = /var/lib/lxc/c1/fstab", "lxc.mount.fstab", "/var/lib/lxc/c1/fstab"),
    ("lxc.mount.entry = proc proc proc nodev 0 0", "lxc.mount.entry", "proc proc proc nodev 0 0"),
    ("lxc.mount.auto = proc:rw sys cgroup:rw:force", "lxc.mount.auto", "proc:rw sys:mixed cgroup:rw:force"),
    ("lxc.mount.auto = proc:mixed\nlxc.mount.auto = proc:rw", "lxc.mount.auto", "proc:rw"),
    ("lxc.cgroup2.memory.max = 1G\nlxc.cgroup2.memory.max = 2G", "lxc.cgroup2.memory.max", "1G\n2G"),
    ("lxc.cgroup.devices.allow = c 1:3 rwm", "lxc.cgroup.devices.allow", "c 1:3 rwm"),
    ("lxc.cgroup.devices.allow = c 1:3 rwm", "lxc.cgroup", "lxc.cgroup.devices.allow = c 1:3 rwm"),
    ("lxc.cgroup.dir = lxc/c1", "lxc.cgroup.dir", "lxc/c1"),
    ("lxc.cgroup.dir.container = payload", "lxc.cgroup.dir.container", "payload"),
    ("lxc.cgroup.dir.container.inner = inner", "lxc.cgroup.dir.container.inner", "inner"),
    ("lxc.cgroup.dir.monitor = mon", "lxc.cgroup.dir.monitor", "mon"),
    ("lxc.cgroup.dir.monitor.pivot = piv", "lxc.cgroup.dir.monitor.pivot", "piv"),
    ("lxc.cgroup.relative = 1", "lxc.cgroup.relative", "1"),
    ("lxc.cap.drop = sys_time sys_module\nlxc.cap.drop = mknod", "lxc.cap.drop", "sys_time\nsys_module\nmknod"),
    ("lxc.cap.keep = sys_admin\nlxc.cap.keep = net_admin", "lxc.cap.keep", "sys_admin\nnet_admin"),
    ("lxc.cap.keep = sys_admin\nlxc.cap.keep = none", "lxc.cap.keep", "none"),
    ("lxc.namespace.clone = net uts\nlxc.namespace.clone = pid", "lxc.namespace.clone", "net\nuts\npid"),
    ("lxc.namespace.keep = user net", "lxc.namespace.keep", "user\nnet"),
    ("lxc.namespace.share.net = c2", "lxc.namespace.share.net", "c2"),
    ("lxc.namespace.share.uts = /proc/1/ns/uts", "lxc.namespace.share.uts", "/proc/1/ns/uts"),
    ("lxc.time.offset.boot = 2h", "lxc.time.offset.boot", "2h"),
    ("lxc.time.offset.monotonic = -10s", "lxc.time.offset.monotonic", "-10s"),
    ("lxc.apparmor.profile = generated", "lxc.apparmor.profile", "generated"),
    ("lxc.apparmor.allow_incomplete = 1", "lxc.apparmor.allow_incomplete", "1"),
    ("lxc.apparmor.allow_nesting = 1", "lxc.apparmor.allow_nesting", "1"),
    ("lxc.apparmor.raw = mount,\nlxc.apparmor.raw = deny /x rw,", "lxc.apparmor.raw", "mount,\ndeny /x rw,"),
    ("lxc.selinux.context = system_u:system_r:lxc_t:s0", "lxc.selinux.context", "system_u:system_r:lxc_t:s0"),
    ("lxc.selinux.context.keyring = k", "lxc.selinux.context.keyring", "k"),
    ("lxc.keyring.session = 0", "lxc.keyring.session", "0"),
    ("lxc.seccomp.profile = /usr/share/lxc/config/common.seccomp", "lxc.seccomp.profile", "/usr/share/lxc/config/common.seccomp"),
    ("lxc.seccomp.allow_nesting = 1", "lxc.seccomp.allow_nesting", "1"),
    ("lxc.seccomp.notify.proxy = unix:/run/p.sock", "lxc.seccomp.notify.proxy", "unix:/run/p.sock"),
    ("lxc.seccomp.notify.cookie = c00kie", "lxc.seccomp.notify.cookie", "c00kie"),
    ("lxc.no_new_privs = 1", "lxc.no_new_privs", "1"),
    ("lxc.sched.core = 1", "lxc.sched.core", "1"),
    ("lxc.tty.max = 4", "lxc.tty.max", "4"),
    ("lxc.tty.dir = lxc", "lxc.tty.dir", "lxc"),
    ("lxc.pty.max = 1024", "lxc.pty.max", "1024"),
    ("lxc.console.path = none", "lxc.console.path", "none"),
    ("lxc.console.logfile = /var/log/c1.log", "lxc.console.logfile", "/var/log/c1.log"),
    ("lxc.console.rotate = 1", "lxc.console.rotate", "1"),
    ("lxc.console.buffer.size = auto", "lxc.console.buffer.size", "auto"),
    ("lxc.console.buffer.size = 1MB", "lxc.console.buffer.size", "1048576"),
    ("lxc.console.size = 64KB", "lxc.console.size", "65536"),
    ("lxc.autodev = 0", "lxc.autodev", "0"),
    ("lxc.autodev.tmpfs.size = 1000000", "lxc.autodev.tmpfs.size", "1000000"),
    ("lxc.hook.version = 1", "lxc.hook.version", "1"),
    ("lxc.hook.pre-start = /a\nlxc.hook.pre-start = /b", "lxc.hook.pre-start", "/a\n/b"),
    ("lxc.hook.start-host = /h", "lxc.hook.start-host", "/h"),
    ("lxc.hook.post-stop = /p\nlxc.hook.mount = /m", "lxc.hook", "lxc.hook.mount = /m\nlxc.hook.post-stop = /p"),
    ("lxc.start.auto = 1", "lxc.start.auto", "1"),
    ("lxc.start.delay = 5", "lxc.start.delay", "5"),
    ("lxc.start.order = -3", "lxc.start.order", "-3"),
    ("lxc.group = web db\nlxc.group = onboot", "lxc.group", "web\ndb\nonboot"),
    ("lxc.environment = A=1\nlxc.environment = HOME", "lxc.environment", "A=1\nHOME"),
    ("lxc.environment.runtime = R=1", "lxc.environment.runtime", "R=1"),
    ("lxc.environment.hooks = H=1", "lxc.environment.hooks", "H=1"),
    ("lxc.prlimit.nofile = 1024:2048", "lxc.prlimit.nofile", "1024:2048"),
    ("lxc.prlimit.core = unlimited\nlxc.prlimit.nproc = 10", "lxc.prlimit", "lxc.prlimit.core = unlimited\nlxc.prlimit.nproc = 10"),
    ("lxc.sysctl.net.ipv4.ip_forward = 1", "lxc.sysctl.net.ipv4.ip_forward", "1"),
    ("lxc.sysctl.kernel.msgmax = 1\nlxc.sysctl.kernel.msgmax = 2", "lxc.sysctl", "lxc.sysctl.kernel.msgmax = 2"),
    ("lxc.proc.oom_score_adj = 10", "lxc.proc.oom_score_adj", "10"),
    ("lxc.log.level = DEBUG", "lxc.log.level", "DEBUG"),
    ("lxc.log.level = 0", "lxc.log.level", "TRACE"),
    ("lxc.log.file = /tmp/l", "lxc.log.file", "/tmp/l"),
    ("lxc.log.syslog = daemon", "lxc.log.syslog", "daemon"),
    ("lxc.ephemeral = 1", "lxc.ephemeral", "1"),
    ("lxc.net.0.type = veth\nlxc.net.2.type = empty", "lxc.net", "0\n2"),
    ("lxc.net.0.type = macvlan\nlxc.net.0.macvlan.mode = bridge", "lxc.net.0.macvlan.mode", "bridge"),
    ("lxc.net.0.type = vlan\nlxc.net.0.vlan.id = 10", "lxc.net.0", "type\nflags\nlink\nname\nhwaddr\nmtu\nipv6.address\nipv6.gateway\nipv4.address\nipv4.gateway\nscript.up\nscript.down\nl2proxy\nvlan.id"),
    ("lxc.net.1.type = veth\nlxc.net.1.ipv6.address = fd00::2/64\nlxc.net.1.ipv6.gateway = fd00::1", "lxc.net.1.ipv6.gateway", "fd00::1"),
    ("lxc.net.0.type = veth\nlxc.net.0.script.up = /bin/up", "lxc.net.0.script.up", "/bin/up"),
];

#[test]
fn every_family_renders() {
    for (text, key, want) in RENDER {
        let c = ok(text);
        assert_eq!(get(&c, key), *want, "{text:?} -> {key}");
        assert!(crate::is_valid_key(key), "{key}");
    }
}

/// (line, problem fragment) — each must fail with `f:1: <key> = <value>: ...`.
const BAD: &[(&str, &str)] = &[
    ("lxc.arch = vax", "invalid architecture"),
    ("lxc.signal.halt = SIGBOGUS", "unknown signal name"),
    ("lxc.signal.stop = PWR", "SIG prefix"),
    ("lxc.idmap = u 0 100000", "invalid id mapping"),
    ("lxc.idmap = b 0 1 1", "type 'b'"),
    ("lxc.start.auto = 2", "invalid boolean"),
    ("lxc.console.buffer.size = 1TB", "invalid size"),
    ("lxc.net.x.type = veth", "network keys need an index"),
    ("lxc.net.0.type = bridge", "invalid network type"),
    (
        "lxc.net.0.ipv4.address = 10.0.0.1/40",
        "prefix length 40 exceeds 32",
    ),
    ("lxc.net.0.ipv6.address = fd00::zz", "invalid IPv6 address"),
    ("lxc.net.0.ipv4.gateway = gw", "invalid IPv4 gateway"),
    ("lxc.net.0.hwaddr = 00:16:3e", "invalid MAC address"),
    (
        "lxc.net.0.veth.mode = router",
        "only valid for network type veth",
    ),
    ("lxc.mount.entry = proc proc", "invalid mount entry"),
    ("lxc.mount.auto = proc:ro", "invalid mount.auto token"),
    ("lxc.cap.drop = CAP_SYS_ADMIN", "unknown capability"),
    ("lxc.cap.keep = sys_bogus", "unknown capability"),
    ("lxc.rootfs.path = ext4:/dev/sda1", "unknown storage type"),
    (
        "lxc.rootfs.options = create=dir",
        "not allowed for the rootfs",
    ),
    ("lxc.hook.prestart = /x", "unknown key"),
    ("lxc.hook.version = 2", "invalid hook version"),
    ("lxc.log.level = LOUD", "invalid log level"),
    ("lxc.log.syslog = kern", "invalid syslog facility"),
    (
        "lxc.init.cmd = /bin/sh 'unterminated",
        "unterminated single quote",
    ),
    ("lxc.init.uid = root", "invalid number"),
    ("lxc.prlimit.nofile = many", "invalid limit"),
    ("lxc.prlimit.files = 1", "unknown resource limit"),
    ("lxc.sysctl.../x = 1", "invalid name"),
    ("lxc.proc = 1", "missing name"),
    ("lxc.environment = =x", "invalid environment variable"),
    ("lxc.cgroup2.memory = 1G", "invalid cgroup file"),
    (
        "lxc.cgroup2.devices.allow = x 1:3 rwm",
        "invalid device rule",
    ),
    ("lxc.cgroup.dir = /abs", "relative path"),
    ("lxc.namespace.clone = mount", "invalid namespace"),
    ("lxc.namespace.share.bogus = x", "unknown key"),
    ("lxc.time.offset.boot = 1d", "invalid time offset"),
    ("lxc.tty.dir = a/b", "single path component"),
    (
        "lxc.uts.name = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "longer than 64",
    ),
    ("lxc.net = x", "only accepts an empty value"),
    ("lxc.net.0 = x", "only accepts an empty value"),
    ("lxc.hook = x", "takes no value"),
    ("lxc.net.0.ipv4 = 10.0.0.1/24", "use lxc.net.0.ipv4.address"),
];

#[test]
fn every_family_rejects_bad_values() {
    for (line, fragment) in BAD {
        let e = match Config::parse(&format!("{line}\n"), Path::new("f")) {
            Ok(_) => panic!("accepted: {line}"),
            Err(e) => e.to_string(),
        };
        let (key, value) = line.split_once(" = ").unwrap_or((line, ""));
        assert!(
            e.starts_with(&format!("f:1: {key} = {value}: ")),
            "{line}: {e}"
        );
        assert!(e.contains(fragment), "{line}: {e}");
    }
}

#[test]
fn empty_values_clear_lists_and_reset_scalars() {
    let c = ok("\
lxc.autodev = 0
lxc.autodev =
lxc.rootfs.managed = 0
lxc.rootfs.managed =
lxc.tty.max = 4
lxc.tty.max =
lxc.keyring.session = 0
lxc.keyring.session =
lxc.signal.halt = SIGPWR
lxc.signal.halt =
lxc.idmap = u 0 1 1
lxc.idmap =
lxc.mount.entry = a b c d
lxc.mount.entry =
lxc.mount.auto = proc sys
lxc.mount.auto =
lxc.hook.mount = /x
lxc.hook.mount =
lxc.group = a
lxc.group =
lxc.environment = A=1
lxc.environment =
lxc.cgroup2.devices.deny = a
lxc.cgroup2.devices.allow = c 1:3 rwm
lxc.cgroup2.devices.deny =
lxc.cgroup2.memory.max = 1G
lxc.cgroup2 =
lxc.cgroup.devices.allow = a
lxc.cgroup.devices.allow =
lxc.prlimit.nofile = 1
lxc.prlimit.nofile =
lxc.sysctl.a.b = 1
lxc.sysctl =
lxc.proc.oom_score_adj = 1
lxc.proc.oom_score_adj =
lxc.net.0.type = veth
lxc.net.0.ipv4.address = 10.0.0.2/24
lxc.net.0.ipv4.address =
lxc.net.0.ipv6.address = fd00::2
lxc.net.0.ipv6.address =
lxc.net.1.type = veth
lxc.net.1 =
lxc.include =
lxc.namespace.clone = net
lxc.namespace.clone =
lxc.init.cmd = /x
lxc.init.cmd =
lxc.apparmor.raw = x
lxc.apparmor.raw =
");
    let m = c.model();
    let d = ContainerConfig::default();
    assert!(m.autodev && m.rootfs.managed && m.security.keyring_session);
    assert_eq!(m.tty, d.tty);
    assert_eq!(m.signals, d.signals);
    assert!(m.idmaps.is_empty() && m.mount.entries.is_empty() && m.groups.is_empty());
    assert_eq!(m.mount.auto, MountAuto::default());
    assert!(m.hooks.commands.is_empty());
    assert!(m.environment.all.is_empty());
    assert!(m.cgroup2.is_empty() && m.cgroup_v1.is_empty());
    assert!(m.prlimits.is_empty() && m.sysctls.is_empty() && m.procs.is_empty());
    assert_eq!(m.net.len(), 1);
    assert!(m.net[&0].ipv4.is_empty() && m.net[&0].ipv6.is_empty());
    assert!(m.namespaces.clone.is_empty());
    assert_eq!(m.init.cmd, None);
    assert!(m.security.apparmor.raw.is_empty());
    // `lxc.cgroup2.devices.deny =` only clears that file (userns.conf relies on it).
    let c = ok("lxc.cgroup2.devices.deny = a\nlxc.cgroup2.devices.allow = c 1:3 rwm\nlxc.cgroup2.devices.deny =\n");
    assert_eq!(
        get(&c, "lxc.cgroup2"),
        "lxc.cgroup2.devices.allow = c 1:3 rwm"
    );
    // `lxc.net =` clears every NIC.
    let c = ok("lxc.net.0.type = veth\nlxc.net.5.type = phys\nlxc.net =\n");
    assert!(c.model().net.is_empty());
}

#[test]
fn typed_model_values() {
    let c = ok("\
lxc.rootfs.path = overlayfs:/lower:/upper
lxc.signal.halt = SIGRTMIN+3
lxc.signal.reboot = SIGRTMAX-10
lxc.init.cmd = /sbin/my-init --opt \"a b\"
lxc.prlimit.nofile = 1024
lxc.environment = PATH=/bin:/usr/bin
lxc.mount.entry = /srv srv none bind,create=dir,optional 0 0
lxc.mount.auto = cgroup2:ro:force shmounts:/h:/c
lxc.net.0.type = veth
lxc.net.0.link = lxcbr0
lxc.net.0.flags = up
lxc.net.0.mtu = 1400
lxc.net.0.ipv4.address = 10.0.3.5/24 10.0.3.255
lxc.net.0.ipv4.gateway = 10.0.3.1
lxc.net.0.ipv6.gateway = auto
lxc.net.0.veth.pair = vethc1
lxc.net.0.veth.ipv6.route = fd00::/8
lxc.net.0.veth.n_rxqueues = 2
lxc.net.1.type = ipvlan
lxc.net.1.ipvlan.mode = l2
lxc.net.1.ipvlan.isolation = private
lxc.cap.drop = sys_admin 7
lxc.log.level = warn
lxc.arch = i686
lxc.time.offset.boot = 1500ms
");
    let m = c.model();
    assert_eq!(
        m.rootfs.path,
        Some(RootfsPath {
            kind: Some("overlayfs".into()),
            path: "/lower:/upper".into()
        })
    );
    assert_eq!(m.signals.halt, Some(Signal::systemd_halt()));
    assert_eq!(m.signals.reboot, Some(Signal(Signal::rtmax() - 10)));
    assert_eq!(m.init.argv(), vec!["/sbin/my-init", "--opt", "a b"]);
    assert_eq!(
        m.prlimits,
        vec![Prlimit {
            resource: "nofile".into(),
            soft: RlimitValue::Value(1024),
            hard: RlimitValue::Value(1024)
        }]
    );
    assert_eq!(m.environment.all[0].value.as_deref(), Some("/bin:/usr/bin"));
    let e = &m.mount.entries[0];
    assert_eq!(
        (e.options.clone(), e.lxc.create, e.lxc.optional),
        (vec!["bind".to_string()], Some(CreateKind::Dir), true)
    );
    assert_eq!(
        m.mount.auto.cgroup.map(|c| (c.kind, c.mode, c.force)),
        Some((CgroupAutoKind::Cgroup2, CgroupAutoMode::Ro, true))
    );
    assert_eq!(
        m.mount.auto.shmounts.as_ref().map(|s| s.container.as_str()),
        Some("/c")
    );
    let n = &m.net[&0];
    assert_eq!(n.kind, Some(NetType::Veth));
    assert!(n.up);
    assert_eq!(n.mtu, Some(1400));
    assert_eq!(
        n.ipv4[0].broadcast,
        Some(std::net::Ipv4Addr::new(10, 0, 3, 255))
    );
    assert_eq!(
        n.ipv4_gateway,
        Some(Gateway::Addr(std::net::Ipv4Addr::new(10, 0, 3, 1)))
    );
    assert_eq!(n.ipv6_gateway, Some(Gateway::Auto));
    assert_eq!(n.veth.pair.as_deref(), Some("vethc1"));
    assert_eq!(n.veth.ipv6_routes.len(), 1);
    assert_eq!(n.veth.n_rxqueues, Some(2));
    assert_eq!(m.net[&1].ipvlan_mode, Some(IpvlanMode::L2));
    assert_eq!(m.net[&1].ipvlan_isolation, Some(IpvlanIsolation::Private));
    assert_eq!(m.cap_drop, vec![Capability(21), Capability(7)]);
    assert_eq!(m.log.level, Some(LogLevel::Warn));
    assert_eq!(
        m.arch.as_ref().map(|a| a.personality),
        Some(Personality::Linux32)
    );
    assert_eq!(
        m.time_offsets
            .boot
            .as_ref()
            .map(|(t, _)| (t.seconds, t.nanoseconds)),
        Some((1, 500_000_000))
    );
    assert!(m.time_offsets.any());
}

#[test]
fn no_network_vs_host_network() {
    assert!(ok("").model().net.is_empty());
    assert!(ok("lxc.net.0.type = none\n").model().shares_host_network());
    assert!(!ok("lxc.net.0.type = none\nlxc.net.1.type = veth\n")
        .model()
        .shares_host_network());
}
