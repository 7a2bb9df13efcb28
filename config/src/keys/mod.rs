//! The key table: which `lxc.*` keys exist, how they group into families, and
//! whether a key accumulates (list) or holds one value (scalar).

mod get;
mod set;

pub(crate) use get::get;
pub(crate) use set::apply;

use crate::error::{ConfigError, Result};
use crate::model::hooks::{HookType, HOOK_TYPES};
use crate::model::namespace::NsKind;
use crate::model::net::{is_net_list_subkey, is_net_subkey};

/// Keys matched exactly, with `true` for keys that accumulate one entry per line.
pub(crate) const STRICT_KEYS: &[(&str, bool)] = &[
    ("lxc.apparmor.allow_incomplete", false),
    ("lxc.apparmor.allow_nesting", false),
    ("lxc.apparmor.profile", false),
    ("lxc.apparmor.raw", true),
    ("lxc.arch", false),
    ("lxc.autodev", false),
    ("lxc.autodev.tmpfs.size", false),
    ("lxc.cap.drop", true),
    ("lxc.cap.keep", true),
    ("lxc.cgroup.dir", false),
    ("lxc.cgroup.dir.container", false),
    ("lxc.cgroup.dir.container.inner", false),
    ("lxc.cgroup.dir.monitor", false),
    ("lxc.cgroup.dir.monitor.pivot", false),
    ("lxc.cgroup.relative", false),
    ("lxc.console.buffer.size", false),
    ("lxc.console.logfile", false),
    ("lxc.console.path", false),
    ("lxc.console.rotate", false),
    ("lxc.console.size", false),
    ("lxc.environment", true),
    ("lxc.environment.hooks", true),
    ("lxc.environment.runtime", true),
    ("lxc.ephemeral", false),
    ("lxc.execute.cmd", false),
    ("lxc.group", true),
    ("lxc.hook.version", false),
    ("lxc.idmap", true),
    ("lxc.include", true),
    ("lxc.init.cmd", false),
    ("lxc.init.cwd", false),
    ("lxc.init.gid", false),
    ("lxc.init.groups", true),
    ("lxc.init.uid", false),
    ("lxc.keyring.session", false),
    ("lxc.log.file", false),
    ("lxc.log.level", false),
    ("lxc.log.syslog", false),
    ("lxc.monitor.signal.pdeath", false),
    ("lxc.monitor.unshare", false),
    ("lxc.mount.auto", true),
    ("lxc.mount.entry", true),
    ("lxc.mount.fstab", false),
    ("lxc.namespace.clone", true),
    ("lxc.namespace.keep", true),
    ("lxc.no_new_privs", false),
    ("lxc.pty.max", false),
    ("lxc.rootfs.managed", false),
    ("lxc.rootfs.mount", false),
    ("lxc.rootfs.options", false),
    ("lxc.rootfs.path", false),
    ("lxc.sched.core", false),
    ("lxc.seccomp.allow_nesting", false),
    ("lxc.seccomp.notify.cookie", false),
    ("lxc.seccomp.notify.proxy", false),
    ("lxc.seccomp.profile", false),
    ("lxc.selinux.context", false),
    ("lxc.selinux.context.keyring", false),
    ("lxc.signal.halt", false),
    ("lxc.signal.reboot", false),
    ("lxc.signal.stop", false),
    ("lxc.start.auto", false),
    ("lxc.start.delay", false),
    ("lxc.start.order", false),
    ("lxc.time.offset.boot", false),
    ("lxc.time.offset.monotonic", false),
    ("lxc.tty.dir", false),
    ("lxc.tty.max", false),
    ("lxc.uts.name", false),
];

/// A resolved key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Key {
    Strict(&'static str),
    /// `lxc.hook`: all hook commands (clear only).
    HookAll,
    Hook(HookType),
    /// `lxc.net`: all NICs.
    NetAll,
    /// `lxc.net.N`: one NIC.
    Net(u32),
    NetSub(u32, String),
    /// `lxc.cgroup2[.file]` (empty = bare).
    Cgroup2(String),
    /// Legacy v1 `lxc.cgroup[.controller.file]` (empty = bare).
    CgroupV1(String),
    Prlimit(String),
    Sysctl(String),
    Proc(String),
    NsShare(NsKind),
}

impl Key {
    /// Whether `set_item` appends a line rather than replacing the last one.
    pub(crate) fn is_list(&self) -> bool {
        match self {
            Key::Strict(k) => STRICT_KEYS.iter().any(|(n, list)| n == k && *list),
            Key::Hook(_) | Key::Cgroup2(_) | Key::CgroupV1(_) => true,
            Key::NetSub(_, sub) => is_net_list_subkey(sub),
            _ => false,
        }
    }

    /// The canonical spelling.
    pub(crate) fn canonical(&self) -> String {
        let join = |p: &str, s: &str| {
            if s.is_empty() {
                p.to_string()
            } else {
                format!("{p}.{s}")
            }
        };
        match self {
            Key::Strict(k) => (*k).to_string(),
            Key::HookAll => "lxc.hook".into(),
            Key::Hook(t) => format!("lxc.hook.{}", t.name()),
            Key::NetAll => "lxc.net".into(),
            Key::Net(i) => format!("lxc.net.{i}"),
            Key::NetSub(i, s) => format!("lxc.net.{i}.{s}"),
            Key::Cgroup2(s) => join("lxc.cgroup2", s),
            Key::CgroupV1(s) => join("lxc.cgroup", s),
            Key::Prlimit(s) => join("lxc.prlimit", s),
            Key::Sysctl(s) => join("lxc.sysctl", s),
            Key::Proc(s) => join("lxc.proc", s),
            Key::NsShare(ns) => format!("lxc.namespace.share.{}", ns.name()),
        }
    }

    /// Whether clearing `self` also clears `other` (the family rule: `lxc.net.0`
    /// covers `lxc.net.0.*`, `lxc.cgroup2` covers every `lxc.cgroup2.*`, …).
    pub(crate) fn covers(&self, other: &Key) -> bool {
        match (self, other) {
            (a, b) if a == b => true,
            (Key::HookAll, Key::Hook(_)) => true,
            (Key::NetAll, Key::Net(_) | Key::NetSub(..)) => true,
            (Key::Net(i), Key::NetSub(j, _)) => i == j,
            (Key::Cgroup2(a), Key::Cgroup2(_))
            | (Key::CgroupV1(a), Key::CgroupV1(_))
            | (Key::Prlimit(a), Key::Prlimit(_))
            | (Key::Sysctl(a), Key::Sysctl(_))
            | (Key::Proc(a), Key::Proc(_)) => a.is_empty(),
            _ => false,
        }
    }
}

fn sub_of<'a>(key: &'a str, prefix: &str) -> Option<&'a str> {
    if key == prefix {
        return Some("");
    }
    key.strip_prefix(prefix)?.strip_prefix('.')
}

/// Resolve a key name. Errors carry the problem and a hint (no location yet).
pub(crate) fn resolve(key: &str) -> Result<Key> {
    if let Some((name, _)) = STRICT_KEYS.iter().find(|(n, _)| *n == key) {
        return Ok(Key::Strict(name));
    }
    if let Some(sub) = sub_of(key, "lxc.hook") {
        if sub.is_empty() {
            return Ok(Key::HookAll);
        }
        return HookType::parse(sub)
            .map(Key::Hook)
            .map_err(|_| unknown(key));
    }
    if let Some(rest) = sub_of(key, "lxc.net") {
        return resolve_net(key, rest);
    }
    if let Some(sub) = sub_of(key, "lxc.cgroup2") {
        return Ok(Key::Cgroup2(sub.to_string()));
    }
    if let Some(sub) = sub_of(key, "lxc.cgroup") {
        // lxc.cgroup.dir* and lxc.cgroup.relative are strict keys, matched above.
        if sub.starts_with("dir.") || sub == "dir" || sub == "relative" {
            return Err(unknown(key));
        }
        if !sub.is_empty() {
            crate::model::cgroup::check_cgroup_file(sub).map_err(|_| unknown(key))?;
        }
        return Ok(Key::CgroupV1(sub.to_string()));
    }
    if let Some(sub) = sub_of(key, "lxc.prlimit") {
        return Ok(Key::Prlimit(sub.to_string()));
    }
    if let Some(sub) = sub_of(key, "lxc.sysctl") {
        return Ok(Key::Sysctl(sub.to_string()));
    }
    if let Some(sub) = sub_of(key, "lxc.proc") {
        return Ok(Key::Proc(sub.to_string()));
    }
    if let Some(ns) = key.strip_prefix("lxc.namespace.share.") {
        return NsKind::parse(ns)
            .map(Key::NsShare)
            .map_err(|_| unknown(key));
    }
    Err(unknown(key))
}

fn resolve_net(key: &str, rest: &str) -> Result<Key> {
    if rest.is_empty() {
        return Ok(Key::NetAll);
    }
    let (idx, sub) = match rest.split_once('.') {
        Some((i, s)) => (i, Some(s)),
        None => (rest, None),
    };
    if idx.is_empty() || !idx.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConfigError::value_hint(
            "unknown key: network keys need an index",
            "write lxc.net.<N>.<key>, e.g. lxc.net.0.type",
        ));
    }
    let idx: u32 = idx
        .parse()
        .map_err(|_| ConfigError::value("network index out of range"))?;
    match sub {
        None => Ok(Key::Net(idx)),
        Some(s) if is_net_subkey(s) => Ok(Key::NetSub(idx, s.to_string())),
        Some(s @ ("ipv4" | "ipv6")) => Err(ConfigError::value_hint(
            "unknown key",
            format!("this key was renamed; use lxc.net.{idx}.{s}.address"),
        )),
        Some(_) => Err(unknown(key)),
    }
}

/// The error for an unknown key, with a legacy or spelling hint where there is one.
fn unknown(key: &str) -> ConfigError {
    if crate::legacy::is_legacy_key(key) {
        return ConfigError::value_hint(
            "unsupported legacy key",
            "this key was renamed in LXC 2.1; run lxc-update-config -c <file>",
        );
    }
    match closest_key(key) {
        Some(k) => ConfigError::value_hint("unknown key", format!("did you mean {k}?")),
        None => ConfigError::value("unknown key"),
    }
}

fn closest_key(key: &str) -> Option<&'static str> {
    let candidates = STRICT_KEYS.iter().map(|(k, _)| *k).chain([
        "lxc.cgroup2",
        "lxc.prlimit",
        "lxc.sysctl",
        "lxc.proc",
        "lxc.net",
    ]);
    candidates
        .map(|c| (edit_distance(key, c), c))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a = a.as_bytes();
    let b = b.as_bytes();
    if a.len().abs_diff(b.len()) > 2 {
        return usize::MAX;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Whether `key` is a valid LXC container config key.
pub fn is_valid_key(key: &str) -> bool {
    resolve(key).is_ok()
}

/// All hook key names (for listings).
pub fn hook_keys() -> impl Iterator<Item = String> {
    HOOK_TYPES.iter().map(|(n, _)| format!("lxc.hook.{n}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves() {
        assert_eq!(
            resolve("lxc.uts.name").ok(),
            Some(Key::Strict("lxc.uts.name"))
        );
        assert_eq!(
            resolve("lxc.net.0.type").ok(),
            Some(Key::NetSub(0, "type".into()))
        );
        assert_eq!(resolve("lxc.net.12").ok(), Some(Key::Net(12)));
        assert_eq!(resolve("lxc.net").ok(), Some(Key::NetAll));
        assert_eq!(
            resolve("lxc.cgroup2.memory.max").ok(),
            Some(Key::Cgroup2("memory.max".into()))
        );
        assert_eq!(
            resolve("lxc.cgroup.devices.allow").ok(),
            Some(Key::CgroupV1("devices.allow".into()))
        );
        assert_eq!(
            resolve("lxc.cgroup.dir").ok(),
            Some(Key::Strict("lxc.cgroup.dir"))
        );
        assert_eq!(
            resolve("lxc.cgroup.relative").ok(),
            Some(Key::Strict("lxc.cgroup.relative"))
        );
        assert_eq!(
            resolve("lxc.hook.pre-start").ok(),
            Some(Key::Hook(HookType::PreStart))
        );
        assert_eq!(
            resolve("lxc.namespace.share.net").ok(),
            Some(Key::NsShare(NsKind::Net))
        );
        assert_eq!(
            resolve("lxc.prlimit.nofile").ok(),
            Some(Key::Prlimit("nofile".into()))
        );
        for bad in [
            "lxc.foo",
            "lxc.net.x.type",
            "lxc.net.0.bogus",
            "lxc.hook.bogus",
            "lxc.cgroup.dir.x",
            "lxc.cgroup.memory",
            "lxc.namespace.share.foo",
            "lxc.cgroup2x",
            "lxc.utsname",
            "lxc.net.99999999999.type",
        ] {
            assert!(resolve(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn hints() {
        let h = |k: &str| resolve(k).err().and_then(|e| e.hint().map(str::to_string));
        assert_eq!(
            h("lxc.utsname").as_deref(),
            Some("this key was renamed in LXC 2.1; run lxc-update-config -c <file>")
        );
        assert_eq!(
            h("lxc.network.0.type").as_deref(),
            Some("this key was renamed in LXC 2.1; run lxc-update-config -c <file>")
        );
        assert_eq!(
            h("lxc.uts.nmae").as_deref(),
            Some("did you mean lxc.uts.name?")
        );
        assert_eq!(
            h("lxc.net.0.ipv4").as_deref(),
            Some("this key was renamed; use lxc.net.0.ipv4.address")
        );
    }

    #[test]
    fn families() {
        let k = |s: &str| resolve(s).ok().unwrap_or(Key::NetAll);
        assert!(k("lxc.net.0").covers(&k("lxc.net.0.type")));
        assert!(!k("lxc.net.0").covers(&k("lxc.net.1.type")));
        assert!(k("lxc.net").covers(&k("lxc.net.1.type")));
        assert!(k("lxc.cgroup2").covers(&k("lxc.cgroup2.memory.max")));
        assert!(!k("lxc.cgroup2.memory.max").covers(&k("lxc.cgroup2.pids.max")));
        assert!(!k("lxc.cgroup").covers(&k("lxc.cgroup.dir")));
        assert!(k("lxc.hook").covers(&k("lxc.hook.mount")));
        assert!(!k("lxc.hook").covers(&k("lxc.hook.version")));
        assert!(k("lxc.cap.drop").is_list());
        assert!(!k("lxc.uts.name").is_list());
        assert!(k("lxc.net.0.ipv4.address").is_list());
        assert_eq!(k("lxc.net.007.type").canonical(), "lxc.net.7.type");
        assert!(is_valid_key("lxc.rootfs.path"));
        assert!(!is_valid_key("lxc.rootfs"));
        assert_eq!(hook_keys().count(), 10);
    }
}
