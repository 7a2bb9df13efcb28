//! Pre-2.1 configuration keys and the `lxc-update-config` rewrite.
//!
//! [`update_legacy_config`] is a pure text transformation: only the key part of a
//! legacy line changes (plus the value for `lxc.rootfs` with a backend), so comments,
//! spacing and unrelated lines stay as they were.

use std::collections::BTreeSet;

/// Simple one-to-one renames (exact key).
const RENAMES: &[(&str, &str)] = &[
    ("lxc.id_map", "lxc.idmap"),
    ("lxc.pts", "lxc.pty.max"),
    ("lxc.tty", "lxc.tty.max"),
    ("lxc.devttydir", "lxc.tty.dir"),
    ("lxc.aa_profile", "lxc.apparmor.profile"),
    ("lxc.aa_allow_incomplete", "lxc.apparmor.allow_incomplete"),
    ("lxc.se_context", "lxc.selinux.context"),
    ("lxc.mount", "lxc.mount.fstab"),
    ("lxc.utsname", "lxc.uts.name"),
    ("lxc.seccomp", "lxc.seccomp.profile"),
    ("lxc.console", "lxc.console.path"),
    ("lxc.haltsignal", "lxc.signal.halt"),
    ("lxc.rebootsignal", "lxc.signal.reboot"),
    ("lxc.stopsignal", "lxc.signal.stop"),
    ("lxc.syslog", "lxc.log.syslog"),
    ("lxc.loglevel", "lxc.log.level"),
    ("lxc.logfile", "lxc.log.file"),
    ("lxc.init_cmd", "lxc.init.cmd"),
    ("lxc.init_uid", "lxc.init.uid"),
    ("lxc.init_gid", "lxc.init.gid"),
];

/// Keys that no longer exist at all; the update removes their lines.
const DELETED: &[&str] = &["lxc.rootfs.backend", "lxc.pivotdir", "lxc.kmsg"];

/// Whether `key` is a pre-2.1 key that modern LXC rejects.
pub fn is_legacy_key(key: &str) -> bool {
    RENAMES.iter().any(|(old, _)| *old == key)
        || DELETED.contains(&key)
        || key == "lxc.rootfs"
        || key == "lxc.network"
        || key.starts_with("lxc.network.")
        || key == "lxc.limit"
        || key.starts_with("lxc.limit.")
}

/// A config line split into (leading blanks, key, rest starting at the key's end).
struct Item<'a> {
    indent: &'a str,
    key: &'a str,
    rest: &'a str,
}

fn item(line: &str) -> Option<Item<'_>> {
    let trimmed = line.trim_start_matches([' ', '\t']);
    if !trimmed.starts_with("lxc.") {
        return None;
    }
    let eq = trimmed.find('=')?;
    let key = trimmed[..eq].trim_end();
    let indent = &line[..line.len() - trimmed.len()];
    Some(Item {
        indent,
        key,
        rest: &trimmed[key.len()..],
    })
}

fn value_of(rest: &str) -> &str {
    rest.split_once('=').map(|(_, v)| v.trim()).unwrap_or("")
}

/// Rewrite legacy keys to their LXC 2.1+ names (`lxc-update-config -c FILE`).
pub fn update_legacy_config(text: &str) -> String {
    let lines: Vec<&str> = text.split('\n').collect();
    let backend = lines
        .iter()
        .filter_map(|l| item(l))
        .filter(|i| i.key == "lxc.rootfs.backend")
        .map(|i| value_of(i.rest).to_string())
        .next_back()
        .filter(|b| !b.is_empty());
    // Indices already spelled out, so automatic numbering does not collide with them.
    let explicit: BTreeSet<u32> = lines
        .iter()
        .filter_map(|l| item(l))
        .filter_map(|i| i.key.strip_prefix("lxc.network."))
        .filter_map(|r| r.split('.').next()?.parse().ok())
        .collect();
    let mut counter = NetCounter::default();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    for line in &lines {
        let Some(it) = item(line) else {
            out.push((*line).to_string());
            continue;
        };
        if DELETED.contains(&it.key) {
            continue;
        }
        let new_key: Option<String> =
            if let Some((_, new)) = RENAMES.iter().find(|(old, _)| *old == it.key) {
                Some((*new).to_string())
            } else if it.key == "lxc.rootfs" {
                let value = value_of(it.rest);
                let typed = crate::model::rootfs::ROOTFS_TYPES
                    .iter()
                    .any(|t| value.starts_with(&format!("{t}:")));
                match (&backend, typed || value.is_empty()) {
                    (Some(b), false) => {
                        out.push(format!(
                            "{}lxc.rootfs.path{}",
                            it.indent,
                            insert_prefix(it.rest, b)
                        ));
                        continue;
                    }
                    _ => Some("lxc.rootfs.path".to_string()),
                }
            } else if it.key == "lxc.limit" || it.key.starts_with("lxc.limit.") {
                Some(format!("lxc.prlimit{}", &it.key["lxc.limit".len()..]))
            } else if it.key == "lxc.network" {
                Some("lxc.net".to_string())
            } else {
                it.key
                    .strip_prefix("lxc.network.")
                    .map(|sub| net_key(sub, &explicit, &mut counter))
            };
        match new_key {
            Some(k) => out.push(format!("{}{}{}", it.indent, k, it.rest)),
            None => out.push((*line).to_string()),
        }
    }
    out.join("\n")
}

/// Insert `backend:` in front of the value in `rest` (which starts at the key's end).
fn insert_prefix(rest: &str, backend: &str) -> String {
    let Some(eq) = rest.find('=') else {
        return rest.to_string();
    };
    let after = &rest[eq + 1..];
    let lead = after.len() - after.trim_start().len();
    let body = &after[lead..];
    let (quote, body) = match body.chars().next() {
        Some(q @ ('"' | '\'')) => (q.to_string(), &body[1..]),
        _ => (String::new(), body),
    };
    format!("{}{}{quote}{backend}:{body}", &rest[..=eq], &after[..lead])
}

/// Automatic numbering of unindexed `lxc.network.*` lines: each `type` line starts a
/// new NIC, except that lines before a block's `type` belong to that block.
#[derive(Default)]
struct NetCounter {
    next: u32,
    current: Option<u32>,
    current_typed: bool,
}

impl NetCounter {
    fn allocate(&mut self, explicit: &BTreeSet<u32>) -> u32 {
        while explicit.contains(&self.next) {
            self.next += 1;
        }
        let i = self.next;
        self.next = self.next.saturating_add(1);
        self.current = Some(i);
        i
    }

    fn index_for(&mut self, field: &str, explicit: &BTreeSet<u32>) -> u32 {
        match (self.current, field == "type") {
            (Some(i), true) if !self.current_typed => {
                self.current_typed = true;
                i
            }
            (_, true) => {
                self.current_typed = true;
                self.allocate(explicit)
            }
            (Some(i), false) => i,
            (None, false) => {
                self.current_typed = false;
                self.allocate(explicit)
            }
        }
    }
}

fn net_key(sub: &str, explicit: &BTreeSet<u32>, counter: &mut NetCounter) -> String {
    let first = sub.split('.').next().unwrap_or_default();
    let (index, field) = if !first.is_empty() && first.bytes().all(|b| b.is_ascii_digit()) {
        let field = sub[first.len()..].trim_start_matches('.');
        (first.to_string(), field.to_string())
    } else {
        (
            counter.index_for(sub, explicit).to_string(),
            sub.to_string(),
        )
    };
    let field = match field.as_str() {
        "ipv4" => "ipv4.address".to_string(),
        "ipv6" => "ipv6.address".to_string(),
        _ => field,
    };
    if field.is_empty() {
        format!("lxc.net.{index}")
    } else {
        format!("lxc.net.{index}.{field}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_legacy() {
        for k in [
            "lxc.utsname",
            "lxc.network.type",
            "lxc.network",
            "lxc.rootfs",
            "lxc.tty",
            "lxc.pts",
            "lxc.limit.nofile",
            "lxc.kmsg",
        ] {
            assert!(is_legacy_key(k), "{k}");
        }
        for k in [
            "lxc.uts.name",
            "lxc.net.0.type",
            "lxc.rootfs.path",
            "lxc.tty.max",
        ] {
            assert!(!is_legacy_key(k), "{k}");
        }
    }

    #[test]
    fn full_rewrite() {
        let old = "\
# legacy container
lxc.utsname = c1
lxc.rootfs = /var/lib/lxc/c1/rootfs
lxc.rootfs.backend = dir
lxc.pivotdir = lxc_putold
lxc.kmsg = 0
lxc.id_map = u 0 100000 65536
lxc.id_map = g 0 100000 65536
lxc.tty = 4
lxc.pts = 1024
lxc.devttydir = lxc
lxc.aa_profile = unconfined
lxc.aa_allow_incomplete = 1
lxc.se_context = system_u:system_r:lxc_t:s0:c22
lxc.mount = /var/lib/lxc/c1/fstab
lxc.seccomp = /usr/share/lxc/config/common.seccomp
lxc.console = none
lxc.haltsignal = SIGRTMIN+3
lxc.rebootsignal = SIGTERM
lxc.stopsignal = SIGKILL
lxc.syslog = daemon
lxc.loglevel = 1
lxc.logfile = /tmp/c1.log
lxc.init_cmd = /sbin/init
lxc.init_uid = 0
lxc.init_gid = 0
lxc.limit.nofile = 1024
  lxc.network.type = veth
lxc.network.link = lxcbr0
lxc.network.ipv4 = 10.0.3.5/24
lxc.network.ipv4.gateway = auto
lxc.network.ipv6 = fd00::5/64
lxc.network.type=macvlan
lxc.network.macvlan.mode = bridge
lxc.mount.entry = proc proc proc defaults 0 0
other = untouched
";
        let new = "\
# legacy container
lxc.uts.name = c1
lxc.rootfs.path = dir:/var/lib/lxc/c1/rootfs
lxc.idmap = u 0 100000 65536
lxc.idmap = g 0 100000 65536
lxc.tty.max = 4
lxc.pty.max = 1024
lxc.tty.dir = lxc
lxc.apparmor.profile = unconfined
lxc.apparmor.allow_incomplete = 1
lxc.selinux.context = system_u:system_r:lxc_t:s0:c22
lxc.mount.fstab = /var/lib/lxc/c1/fstab
lxc.seccomp.profile = /usr/share/lxc/config/common.seccomp
lxc.console.path = none
lxc.signal.halt = SIGRTMIN+3
lxc.signal.reboot = SIGTERM
lxc.signal.stop = SIGKILL
lxc.log.syslog = daemon
lxc.log.level = 1
lxc.log.file = /tmp/c1.log
lxc.init.cmd = /sbin/init
lxc.init.uid = 0
lxc.init.gid = 0
lxc.prlimit.nofile = 1024
  lxc.net.0.type = veth
lxc.net.0.link = lxcbr0
lxc.net.0.ipv4.address = 10.0.3.5/24
lxc.net.0.ipv4.gateway = auto
lxc.net.0.ipv6.address = fd00::5/64
lxc.net.1.type=macvlan
lxc.net.1.macvlan.mode = bridge
lxc.mount.entry = proc proc proc defaults 0 0
other = untouched
";
        assert_eq!(update_legacy_config(old), new);
        // Idempotent.
        assert_eq!(update_legacy_config(new), new);
    }

    #[test]
    fn indexed_and_mixed_networks() {
        let old = "lxc.network.0.type = veth\nlxc.network.0.ipv4 = 10.0.0.2/24\nlxc.network.type = phys\nlxc.network.link = eth1\nlxc.network =\n";
        let new = "lxc.net.0.type = veth\nlxc.net.0.ipv4.address = 10.0.0.2/24\nlxc.net.1.type = phys\nlxc.net.1.link = eth1\nlxc.net =\n";
        assert_eq!(update_legacy_config(old), new);
    }

    #[test]
    fn rootfs_variants() {
        assert_eq!(
            update_legacy_config("lxc.rootfs = /r\n"),
            "lxc.rootfs.path = /r\n"
        );
        assert_eq!(
            update_legacy_config("lxc.rootfs.backend = lvm\nlxc.rootfs=\"/dev/vg/c1\""),
            "lxc.rootfs.path=\"lvm:/dev/vg/c1\""
        );
        assert_eq!(
            update_legacy_config("lxc.rootfs = dir:/r\nlxc.rootfs.backend = dir\n"),
            "lxc.rootfs.path = dir:/r\n"
        );
        assert_eq!(
            update_legacy_config("# lxc.utsname = x\n"),
            "# lxc.utsname = x\n"
        );
        assert_eq!(
            update_legacy_config("lxc.network.link = br0\nlxc.network.type = veth\n"),
            "lxc.net.0.link = br0\nlxc.net.0.type = veth\n"
        );
    }
}
