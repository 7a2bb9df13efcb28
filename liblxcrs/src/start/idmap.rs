//! Writing the child's uid/gid maps (`docs/lxc-contract.md` §5). Root writes `/proc/PID/{uid,gid}_map`
//! directly (it holds CAP_SETUID/CAP_SETGID over the new user namespace). Anyone else
//! needs the setuid helpers `newuidmap`/`newgidmap`, which check `/etc/subuid` and
//! `/etc/subgid` — except when the map is just the caller's own uid/gid, which the kernel
//! allows directly once `setgroups` is `deny`.

use std::path::Path;
use std::process::Command;

use lxcrs_config::model::{IdKind, IdMap};
use nix::unistd::{Gid, Pid, Uid};

use super::StartError;

/// How the maps get written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Write `/proc/PID/*_map` ourselves.
    Direct { deny_setgroups: bool },
    /// Run `newuidmap` / `newgidmap`.
    Helpers,
}

/// The `/proc/PID/uid_map` text of `kind`: one `ns host range` line per mapping.
pub fn map_text(maps: &[IdMap], kind: IdKind) -> String {
    maps.iter()
        .filter(|m| m.kind == kind)
        .map(|m| format!("{} {} {}\n", m.ns_id, m.host_id, m.range))
        .collect()
}

/// Choose how to write `maps` as a caller with `euid`/`egid`.
pub fn method(maps: &[IdMap], euid: Uid, egid: Gid) -> Method {
    if euid.is_root() {
        return Method::Direct {
            deny_setgroups: false,
        };
    }
    let own = |m: &IdMap| {
        m.range == 1
            && match m.kind {
                IdKind::Uid => m.host_id == euid.as_raw(),
                IdKind::Gid => m.host_id == egid.as_raw(),
            }
    };
    let uid_maps = maps.iter().filter(|m| m.kind == IdKind::Uid).count();
    let gid_maps = maps.iter().filter(|m| m.kind == IdKind::Gid).count();
    if uid_maps <= 1 && gid_maps <= 1 && maps.iter().all(own) {
        Method::Direct {
            deny_setgroups: gid_maps == 1,
        }
    } else {
        Method::Helpers
    }
}

/// The argv of `newuidmap`/`newgidmap` for `pid`.
pub fn helper_argv(maps: &[IdMap], kind: IdKind, pid: Pid) -> Vec<String> {
    let tool = match kind {
        IdKind::Uid => "newuidmap",
        IdKind::Gid => "newgidmap",
    };
    let mut argv = vec![tool.to_string(), pid.to_string()];
    for m in maps.iter().filter(|m| m.kind == kind) {
        argv.extend([
            m.ns_id.to_string(),
            m.host_id.to_string(),
            m.range.to_string(),
        ]);
    }
    argv
}

fn write(path: &Path, text: &str) -> Result<(), StartError> {
    std::fs::write(path, text).map_err(|e| StartError::io("write", path, e))
}

/// Write the maps of `pid`.
pub fn write_maps(maps: &[IdMap], pid: Pid) -> Result<(), StartError> {
    let proc = Path::new("/proc").join(pid.to_string());
    match method(maps, Uid::effective(), Gid::effective()) {
        Method::Direct { deny_setgroups } => {
            if deny_setgroups {
                write(&proc.join("setgroups"), "deny")?;
            }
            write(&proc.join("uid_map"), &map_text(maps, IdKind::Uid))?;
            write(&proc.join("gid_map"), &map_text(maps, IdKind::Gid))
        }
        Method::Helpers => {
            for kind in [IdKind::Uid, IdKind::Gid] {
                let argv = helper_argv(maps, kind, pid);
                let out = Command::new(&argv[0])
                    .args(&argv[1..])
                    .output()
                    .map_err(|e| StartError::io("run", &argv[0], e))?;
                if !out.status.success() {
                    return Err(StartError::Config {
                        key: "lxc.idmap".into(),
                        value: argv[2..].join(" "),
                        problem: format!(
                            "{} failed ({}): {}; check /etc/subuid and /etc/subgid",
                            argv[0],
                            out.status,
                            String::from_utf8_lossy(&out.stderr).trim()
                        ),
                    });
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maps() -> Vec<IdMap> {
        vec![
            IdMap::parse("u 0 100000 65536").unwrap(),
            IdMap::parse("g 0 100000 65536").unwrap(),
        ]
    }

    #[test]
    fn text_and_helper_argv() {
        assert_eq!(map_text(&maps(), IdKind::Uid), "0 100000 65536\n");
        assert_eq!(
            helper_argv(&maps(), IdKind::Gid, Pid::from_raw(7)),
            ["newgidmap", "7", "0", "100000", "65536"]
        );
    }

    #[test]
    fn method_choice() {
        assert_eq!(
            method(&maps(), Uid::from_raw(0), Gid::from_raw(0)),
            Method::Direct {
                deny_setgroups: false
            }
        );
        assert_eq!(
            method(&maps(), Uid::from_raw(1000), Gid::from_raw(1000)),
            Method::Helpers
        );
        let own = vec![
            IdMap::parse("u 0 1000 1").unwrap(),
            IdMap::parse("g 0 1000 1").unwrap(),
        ];
        assert_eq!(
            method(&own, Uid::from_raw(1000), Gid::from_raw(1000)),
            Method::Direct {
                deny_setgroups: true
            }
        );
    }
}
