//! Rendering a key's value the way LXC's `get_config_item` does: lists joined by
//! newlines, booleans as `0`/`1`, signals as numbers, unset scalars as "".

use super::Key;
use crate::error::{ConfigError, Result};
use crate::model::cgroup;
use crate::model::console::ConsoleSize;
use crate::model::ContainerConfig;

fn b(v: bool) -> String {
    if v { "1" } else { "0" }.to_string()
}

fn o<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(ToString::to_string).unwrap_or_default()
}

fn lines<T, F: Fn(&T) -> String>(v: &[T], f: F) -> String {
    v.iter().map(f).collect::<Vec<_>>().join("\n")
}

fn size(v: &Option<ConsoleSize>) -> String {
    o(v)
}

/// Render the value of `key`.
pub(crate) fn get(c: &ContainerConfig, key: &Key) -> Result<String> {
    Ok(match key {
        Key::Strict(k) => get_strict(c, k)?,
        Key::HookAll => c
            .hooks
            .commands
            .iter()
            .flat_map(|(t, cmds)| {
                cmds.iter()
                    .map(move |cmd| format!("lxc.hook.{} = {cmd}", t.name()))
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Key::Hook(t) => c.hooks.get(*t).join("\n"),
        Key::NetAll => lines(&c.net.keys().collect::<Vec<_>>(), |i| i.to_string()),
        Key::Net(i) => match c.net.get(i) {
            Some(dev) => dev.subkeys().join("\n"),
            None => String::new(),
        },
        Key::NetSub(i, sub) => c.net.get(i).and_then(|d| d.get(sub)).unwrap_or_default(),
        Key::Cgroup2(sub) => cgroup::render(&c.cgroup2, "lxc.cgroup2", sub),
        Key::CgroupV1(sub) => cgroup::render(&c.cgroup_v1, "lxc.cgroup", sub),
        Key::Prlimit(name) if name.is_empty() => lines(&c.prlimits, |p| {
            format!("lxc.prlimit.{} = {}", p.resource, p.render())
        }),
        Key::Prlimit(name) => c
            .prlimits
            .iter()
            .find(|p| &p.resource == name)
            .map(|p| p.render())
            .unwrap_or_default(),
        Key::Sysctl(name) => knob(&c.sysctls, "lxc.sysctl", name),
        Key::Proc(name) => knob(&c.procs, "lxc.proc", name),
        Key::NsShare(ns) => c.namespaces.share.get(ns).cloned().unwrap_or_default(),
    })
}

fn knob(list: &[(String, String)], prefix: &str, name: &str) -> String {
    if name.is_empty() {
        return lines(list, |(k, v)| format!("{prefix}.{k} = {v}"));
    }
    list.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

fn get_strict(c: &ContainerConfig, key: &str) -> Result<String> {
    let s = &c.security;
    Ok(match key {
        "lxc.arch" => c.arch.as_ref().map(|a| a.name.clone()).unwrap_or_default(),
        "lxc.uts.name" => o(&c.uts_name),
        "lxc.apparmor.profile" => o(&s.apparmor.profile),
        "lxc.apparmor.allow_incomplete" => b(s.apparmor.allow_incomplete),
        "lxc.apparmor.allow_nesting" => b(s.apparmor.allow_nesting),
        "lxc.apparmor.raw" => s.apparmor.raw.join("\n"),
        "lxc.autodev" => b(c.autodev),
        "lxc.autodev.tmpfs.size" => c.autodev_tmpfs_size.to_string(),
        "lxc.cap.drop" => lines(&c.cap_drop, |cap| cap.name().to_string()),
        "lxc.cap.keep" => c.cap_keep.render(),
        "lxc.cgroup.dir" => o(&c.cgroup_dir.dir),
        "lxc.cgroup.dir.container" => o(&c.cgroup_dir.container),
        "lxc.cgroup.dir.container.inner" => o(&c.cgroup_dir.container_inner),
        "lxc.cgroup.dir.monitor" => o(&c.cgroup_dir.monitor),
        "lxc.cgroup.dir.monitor.pivot" => o(&c.cgroup_dir.monitor_pivot),
        "lxc.cgroup.relative" => b(c.cgroup_dir.relative),
        "lxc.console.buffer.size" => size(&c.console.buffer_size),
        "lxc.console.size" => size(&c.console.size),
        "lxc.console.logfile" => o(&c.console.logfile),
        "lxc.console.path" => o(&c.console.path),
        "lxc.console.rotate" => b(c.console.rotate),
        "lxc.environment" => lines(&c.environment.all, |e| e.render()),
        "lxc.environment.runtime" => lines(&c.environment.runtime, |e| e.render()),
        "lxc.environment.hooks" => lines(&c.environment.hooks, |e| e.render()),
        "lxc.ephemeral" => b(c.ephemeral),
        "lxc.execute.cmd" => c
            .init
            .execute_cmd
            .as_ref()
            .map(|x| x.raw.clone())
            .unwrap_or_default(),
        "lxc.group" => c.groups.join("\n"),
        "lxc.hook.version" => match c.hooks.version {
            crate::model::HookVersion::V0 => "0".into(),
            crate::model::HookVersion::V1 => "1".into(),
        },
        "lxc.idmap" => lines(&c.idmaps, |m| m.to_string()),
        "lxc.include" => lines(&c.includes, |p| p.display().to_string()),
        "lxc.init.cmd" => c
            .init
            .cmd
            .as_ref()
            .map(|x| x.raw.clone())
            .unwrap_or_default(),
        "lxc.init.cwd" => o(&c.init.cwd),
        "lxc.init.uid" => o(&c.init.uid),
        "lxc.init.gid" => o(&c.init.gid),
        "lxc.init.groups" => c
            .init
            .groups
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(","),
        "lxc.keyring.session" => b(s.keyring_session),
        "lxc.log.file" => o(&c.log.file),
        "lxc.log.level" => c
            .log
            .level
            .map(|l| l.name().to_string())
            .unwrap_or_default(),
        "lxc.log.syslog" => o(&c.log.syslog),
        "lxc.monitor.unshare" => b(c.monitor.unshare),
        "lxc.monitor.signal.pdeath" => o(&c.monitor.signal_pdeath.map(|x| x.0)),
        "lxc.mount.auto" => c.mount.auto.render(),
        "lxc.mount.entry" => lines(&c.mount.entries, |e| e.to_string()),
        "lxc.mount.fstab" => o(&c.mount.fstab),
        "lxc.namespace.clone" => lines(&c.namespaces.clone, |n| n.name().to_string()),
        "lxc.namespace.keep" => lines(&c.namespaces.keep, |n| n.name().to_string()),
        "lxc.no_new_privs" => b(s.no_new_privs),
        "lxc.pty.max" => c.tty.pty_max.to_string(),
        "lxc.rootfs.managed" => b(c.rootfs.managed),
        "lxc.rootfs.mount" => o(&c.rootfs.mount),
        "lxc.rootfs.options" => o(&c.rootfs.options),
        "lxc.rootfs.path" => o(&c.rootfs.path),
        "lxc.sched.core" => b(s.sched_core),
        "lxc.seccomp.allow_nesting" => b(s.seccomp.allow_nesting),
        "lxc.seccomp.notify.cookie" => o(&s.seccomp.notify_cookie),
        "lxc.seccomp.notify.proxy" => o(&s.seccomp.notify_proxy),
        "lxc.seccomp.profile" => o(&s.seccomp.profile),
        "lxc.selinux.context" => o(&s.selinux.context),
        "lxc.selinux.context.keyring" => o(&s.selinux.context_keyring),
        "lxc.signal.halt" => o(&c.signals.halt.map(|x| x.0)),
        "lxc.signal.reboot" => o(&c.signals.reboot.map(|x| x.0)),
        "lxc.signal.stop" => o(&c.signals.stop.map(|x| x.0)),
        "lxc.start.auto" => b(c.start.auto),
        "lxc.start.delay" => c.start.delay.to_string(),
        "lxc.start.order" => c.start.order.to_string(),
        "lxc.time.offset.boot" => c
            .time_offsets
            .boot
            .as_ref()
            .map(|(_, r)| r.clone())
            .unwrap_or_default(),
        "lxc.time.offset.monotonic" => c
            .time_offsets
            .monotonic
            .as_ref()
            .map(|(_, r)| r.clone())
            .unwrap_or_default(),
        "lxc.tty.dir" => o(&c.tty.dir),
        "lxc.tty.max" => c.tty.max.to_string(),
        other => return Err(ConfigError::value(format!("no getter for {other}"))),
    })
}
