//! Applying `key = value` to the model. An empty value clears a list or resets a
//! scalar to its default. `lxc.include` is handled by the loader, not here.

use super::Key;
use crate::error::{ConfigError, Result};
use crate::model::caps;
use crate::model::cgroup::{self, check_cgroup_dir};
use crate::model::console::ConsoleSize;
use crate::model::idmap::IdMap;
use crate::model::init::{Command, EnvVar};
use crate::model::limits::{set_knob, set_prlimit};
use crate::model::misc::{check_syslog, Arch, LogLevel, DEFAULT_AUTODEV_TMPFS_SIZE};
use crate::model::mount::{MountAuto, MountEntry};
use crate::model::namespace::{self, TimeOffset};
use crate::model::rootfs::{check_rootfs_options, RootfsPath};
use crate::model::signal::Signal;
use crate::model::ContainerConfig;
use crate::value::{opt_string, parse_bool, parse_int, parse_uint};

fn bool_or(v: &str, default: bool) -> Result<bool> {
    if v.is_empty() {
        Ok(default)
    } else {
        parse_bool(v)
    }
}

fn opt<T>(v: &str, parse: impl FnOnce(&str) -> Result<T>) -> Result<Option<T>> {
    if v.is_empty() {
        Ok(None)
    } else {
        parse(v).map(Some)
    }
}

fn uint_or<T: std::str::FromStr>(v: &str, default: T) -> Result<T> {
    if v.is_empty() {
        Ok(default)
    } else {
        parse_uint(v)
    }
}

fn push_or_clear<T>(
    list: &mut Vec<T>,
    v: &str,
    parse: impl FnOnce(&str) -> Result<T>,
) -> Result<()> {
    if v.is_empty() {
        list.clear();
    } else {
        list.push(parse(v)?);
    }
    Ok(())
}

/// Apply one item to the model.
pub(crate) fn apply(c: &mut ContainerConfig, key: &Key, v: &str) -> Result<()> {
    match key {
        Key::Strict(k) => apply_strict(c, k, v),
        Key::HookAll => {
            if !v.is_empty() {
                return Err(ConfigError::value(
                    "lxc.hook takes no value (use lxc.hook.<type>)",
                ));
            }
            c.hooks.commands.clear();
            Ok(())
        }
        Key::Hook(t) => {
            c.hooks.apply(*t, v);
            Ok(())
        }
        Key::NetAll => {
            if !v.is_empty() {
                return Err(ConfigError::value(
                    "lxc.net only accepts an empty value (clear all NICs)",
                ));
            }
            c.net.clear();
            Ok(())
        }
        Key::Net(i) => {
            if !v.is_empty() {
                return Err(ConfigError::value_hint(
                    "lxc.net.N only accepts an empty value (clear this NIC)",
                    format!("set a sub-key, e.g. lxc.net.{i}.type"),
                ));
            }
            c.net.remove(i);
            Ok(())
        }
        Key::NetSub(i, sub) => {
            if v.is_empty() && !c.net.contains_key(i) {
                return Ok(());
            }
            c.net.entry(*i).or_default().set(sub, v)
        }
        Key::Cgroup2(sub) => cgroup::apply(&mut c.cgroup2, sub, v),
        Key::CgroupV1(sub) => cgroup::apply(&mut c.cgroup_v1, sub, v),
        Key::Prlimit(name) => set_prlimit(&mut c.prlimits, name, v),
        Key::Sysctl(name) => set_knob(&mut c.sysctls, name, v),
        Key::Proc(name) => set_knob(&mut c.procs, name, v),
        Key::NsShare(ns) => {
            if v.is_empty() {
                c.namespaces.share.remove(ns);
            } else {
                c.namespaces.share.insert(*ns, v.to_string());
            }
            Ok(())
        }
    }
}

fn apply_strict(c: &mut ContainerConfig, key: &str, v: &str) -> Result<()> {
    match key {
        "lxc.arch" => c.arch = opt(v, Arch::parse)?,
        "lxc.uts.name" => {
            if v.len() > 64 {
                return Err(ConfigError::value("hostname longer than 64 bytes"));
            }
            c.uts_name = opt_string(v);
        }
        "lxc.apparmor.profile" => c.security.apparmor.profile = opt_string(v),
        "lxc.apparmor.allow_incomplete" => {
            c.security.apparmor.allow_incomplete = bool_or(v, false)?
        }
        "lxc.apparmor.allow_nesting" => c.security.apparmor.allow_nesting = bool_or(v, false)?,
        "lxc.apparmor.raw" => {
            push_or_clear(&mut c.security.apparmor.raw, v, |s| Ok(s.to_string()))?
        }
        "lxc.autodev" => c.autodev = bool_or(v, true)?,
        "lxc.autodev.tmpfs.size" => c.autodev_tmpfs_size = uint_or(v, DEFAULT_AUTODEV_TMPFS_SIZE)?,
        "lxc.cap.drop" => caps::apply_drop(&mut c.cap_drop, v)?,
        "lxc.cap.keep" => c.cap_keep.apply(v)?,
        "lxc.cgroup.dir"
        | "lxc.cgroup.dir.container"
        | "lxc.cgroup.dir.container.inner"
        | "lxc.cgroup.dir.monitor"
        | "lxc.cgroup.dir.monitor.pivot" => {
            if !v.is_empty() {
                check_cgroup_dir(v)?;
            }
            let d = &mut c.cgroup_dir;
            let slot = match key {
                "lxc.cgroup.dir" => &mut d.dir,
                "lxc.cgroup.dir.container" => &mut d.container,
                "lxc.cgroup.dir.container.inner" => &mut d.container_inner,
                "lxc.cgroup.dir.monitor" => &mut d.monitor,
                _ => &mut d.monitor_pivot,
            };
            *slot = opt_string(v);
        }
        "lxc.cgroup.relative" => c.cgroup_dir.relative = bool_or(v, false)?,
        "lxc.console.buffer.size" => c.console.buffer_size = opt(v, ConsoleSize::parse)?,
        "lxc.console.size" => c.console.size = opt(v, ConsoleSize::parse)?,
        "lxc.console.logfile" => c.console.logfile = opt_string(v),
        "lxc.console.path" => c.console.path = opt_string(v),
        "lxc.console.rotate" => c.console.rotate = bool_or(v, false)?,
        "lxc.environment" => push_or_clear(&mut c.environment.all, v, EnvVar::parse)?,
        "lxc.environment.runtime" => push_or_clear(&mut c.environment.runtime, v, EnvVar::parse)?,
        "lxc.environment.hooks" => push_or_clear(&mut c.environment.hooks, v, EnvVar::parse)?,
        "lxc.ephemeral" => c.ephemeral = bool_or(v, false)?,
        "lxc.execute.cmd" => c.init.execute_cmd = opt(v, Command::parse)?,
        "lxc.group" => {
            if v.is_empty() {
                c.groups.clear();
            }
            for g in v.split_ascii_whitespace() {
                if !c.groups.iter().any(|x| x == g) {
                    c.groups.push(g.to_string());
                }
            }
        }
        "lxc.hook.version" => c.hooks.set_version(v)?,
        "lxc.idmap" => push_or_clear(&mut c.idmaps, v, IdMap::parse)?,
        "lxc.include" => {}
        "lxc.init.cmd" => c.init.cmd = opt(v, Command::parse)?,
        "lxc.init.cwd" => c.init.cwd = opt_string(v),
        "lxc.init.uid" => c.init.uid = opt(v, parse_uint)?,
        "lxc.init.gid" => c.init.gid = opt(v, parse_uint)?,
        "lxc.init.groups" => c.init.apply_groups(v)?,
        "lxc.keyring.session" => c.security.keyring_session = bool_or(v, true)?,
        "lxc.log.file" => c.log.file = opt_string(v),
        "lxc.log.level" => c.log.level = opt(v, LogLevel::parse)?,
        "lxc.log.syslog" => {
            if !v.is_empty() {
                check_syslog(v)?;
            }
            c.log.syslog = opt_string(v);
        }
        "lxc.monitor.unshare" => c.monitor.unshare = bool_or(v, false)?,
        "lxc.monitor.signal.pdeath" => c.monitor.signal_pdeath = opt(v, Signal::parse)?,
        "lxc.mount.auto" => {
            if v.is_empty() {
                c.mount.auto = MountAuto::default();
            } else {
                c.mount.auto.apply(v)?;
            }
        }
        "lxc.mount.entry" => push_or_clear(&mut c.mount.entries, v, MountEntry::parse)?,
        "lxc.mount.fstab" => c.mount.fstab = opt_string(v),
        "lxc.namespace.clone" => namespace::apply_list(&mut c.namespaces.clone, v)?,
        "lxc.namespace.keep" => namespace::apply_list(&mut c.namespaces.keep, v)?,
        "lxc.no_new_privs" => c.security.no_new_privs = bool_or(v, false)?,
        "lxc.pty.max" => c.tty.pty_max = uint_or(v, 0)?,
        "lxc.rootfs.managed" => c.rootfs.managed = bool_or(v, true)?,
        "lxc.rootfs.mount" => c.rootfs.mount = opt_string(v),
        "lxc.rootfs.options" => {
            check_rootfs_options(v)?;
            c.rootfs.options = opt_string(v);
        }
        "lxc.rootfs.path" => c.rootfs.path = opt(v, RootfsPath::parse)?,
        "lxc.sched.core" => c.security.sched_core = bool_or(v, false)?,
        "lxc.seccomp.allow_nesting" => c.security.seccomp.allow_nesting = bool_or(v, false)?,
        "lxc.seccomp.notify.cookie" => c.security.seccomp.notify_cookie = opt_string(v),
        "lxc.seccomp.notify.proxy" => c.security.seccomp.notify_proxy = opt_string(v),
        "lxc.seccomp.profile" => c.security.seccomp.profile = opt_string(v),
        "lxc.selinux.context" => c.security.selinux.context = opt_string(v),
        "lxc.selinux.context.keyring" => c.security.selinux.context_keyring = opt_string(v),
        "lxc.signal.halt" => c.signals.halt = opt(v, Signal::parse)?,
        "lxc.signal.reboot" => c.signals.reboot = opt(v, Signal::parse)?,
        "lxc.signal.stop" => c.signals.stop = opt(v, Signal::parse)?,
        "lxc.start.auto" => c.start.auto = bool_or(v, false)?,
        "lxc.start.delay" => c.start.delay = uint_or(v, 0)?,
        "lxc.start.order" => c.start.order = if v.is_empty() { 0 } else { parse_int(v)? },
        "lxc.time.offset.boot" => {
            c.time_offsets.boot = opt(v, |s| TimeOffset::parse(s).map(|t| (t, s.to_string())))?
        }
        "lxc.time.offset.monotonic" => {
            c.time_offsets.monotonic = opt(v, |s| TimeOffset::parse(s).map(|t| (t, s.to_string())))?
        }
        "lxc.tty.dir" => {
            if v.contains('/') || v == "." || v == ".." {
                return Err(ConfigError::value(
                    "tty directory must be a single path component, e.g. lxc",
                ));
            }
            c.tty.dir = opt_string(v);
        }
        "lxc.tty.max" => c.tty.max = uint_or(v, 0)?,
        other => return Err(ConfigError::value(format!("no setter for {other}"))),
    }
    Ok(())
}
