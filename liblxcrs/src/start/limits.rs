//! Per-process settings the parent applies to the child from outside — `lxc.prlimit.*`
//! (prlimit on the child's pid) and `lxc.proc.*` (writes to `/proc/PID/<file>`) — and the
//! child's personality (`lxc.arch`).

use std::path::Path;

use lxcrs_config::model::{Personality, Prlimit, RlimitValue};
use nix::errno::Errno;
use nix::unistd::Pid;

use super::StartError;

/// The `RLIMIT_*` resource of an `lxc.prlimit.<name>`.
pub fn resource(name: &str) -> Option<libc::__rlimit_resource_t> {
    Some(match name {
        "as" => libc::RLIMIT_AS,
        "core" => libc::RLIMIT_CORE,
        "cpu" => libc::RLIMIT_CPU,
        "data" => libc::RLIMIT_DATA,
        "fsize" => libc::RLIMIT_FSIZE,
        "locks" => libc::RLIMIT_LOCKS,
        "memlock" => libc::RLIMIT_MEMLOCK,
        "msgqueue" => libc::RLIMIT_MSGQUEUE,
        "nice" => libc::RLIMIT_NICE,
        "nofile" => libc::RLIMIT_NOFILE,
        "nproc" => libc::RLIMIT_NPROC,
        "rss" => libc::RLIMIT_RSS,
        "rtprio" => libc::RLIMIT_RTPRIO,
        "rttime" => libc::RLIMIT_RTTIME,
        "sigpending" => libc::RLIMIT_SIGPENDING,
        "stack" => libc::RLIMIT_STACK,
        _ => return None,
    })
}

fn value(v: RlimitValue) -> libc::rlim64_t {
    match v {
        RlimitValue::Unlimited => libc::RLIM64_INFINITY,
        RlimitValue::Value(n) => n,
    }
}

/// prlimit(2) every `lxc.prlimit.*` on `pid`.
pub fn apply_prlimits(pid: Pid, limits: &[Prlimit]) -> Result<(), StartError> {
    for l in limits {
        let res = resource(&l.resource).ok_or_else(|| {
            StartError::config(
                format!("lxc.prlimit.{}", l.resource),
                l.render(),
                "unknown resource",
            )
        })?;
        let new = libc::rlimit64 {
            rlim_cur: value(l.soft),
            rlim_max: value(l.hard),
        };
        // SAFETY: `new` is a valid rlimit64 for the duration of the call; the old-limit
        // pointer is null, which prlimit64 allows.
        let r = unsafe { libc::prlimit64(pid.as_raw(), res, &new, std::ptr::null_mut()) };
        Errno::result(r).map_err(|e| {
            StartError::sys(
                format!("set lxc.prlimit.{} = {}", l.resource, l.render()),
                e,
            )
        })?;
    }
    Ok(())
}

/// Write every `lxc.proc.<file>` to `/proc/PID/<file>`.
pub fn apply_procs(
    proc_root: &Path,
    pid: Pid,
    procs: &[(String, String)],
) -> Result<(), StartError> {
    for (file, val) in procs {
        if file.contains('/') || file.starts_with('.') {
            return Err(StartError::config(
                format!("lxc.proc.{file}"),
                val.clone(),
                "not a file of /proc/PID",
            ));
        }
        let path = proc_root.join(pid.to_string()).join(file);
        std::fs::write(&path, val).map_err(|e| StartError::io("write", path, e))?;
    }
    Ok(())
}

/// Set the execution domain for `lxc.arch` (linux32 for 32-bit userspaces).
pub fn set_personality(p: Option<Personality>) -> Result<(), StartError> {
    const PER_LINUX32: libc::c_ulong = 0x0008;
    if p != Some(Personality::Linux32) {
        return Ok(());
    }
    // SAFETY: personality(2) takes a plain integer and changes only this process.
    let r = unsafe { libc::personality(PER_LINUX32) };
    Errno::result(r)
        .map(drop)
        .map_err(|e| StartError::sys("set personality linux32 (lxc.arch)", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_and_proc_files() {
        assert_eq!(resource("nofile"), Some(libc::RLIMIT_NOFILE));
        assert_eq!(resource("bogus"), None);
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("42")).unwrap();
        apply_procs(
            dir.path(),
            Pid::from_raw(42),
            &[("oom_score_adj".into(), "-500".into())],
        )
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("42/oom_score_adj")).unwrap(),
            "-500"
        );
        assert!(apply_procs(
            dir.path(),
            Pid::from_raw(42),
            &[("../x".into(), "1".into())]
        )
        .is_err());
    }

    #[test]
    fn prlimit_on_self() {
        use nix::sys::resource::{getrlimit, Resource};
        let (soft, hard) = getrlimit(Resource::RLIMIT_CORE).unwrap();
        let l = Prlimit::parse("core", &format!("{soft}:{hard}"))
            .or_else(|_| Prlimit::parse("core", "unlimited"))
            .unwrap();
        apply_prlimits(Pid::this(), &[l]).unwrap();
        assert_eq!(getrlimit(Resource::RLIMIT_CORE).unwrap(), (soft, hard));
        let bad = Prlimit {
            resource: "bogus".into(),
            soft: RlimitValue::Value(1),
            hard: RlimitValue::Value(1),
        };
        assert!(apply_prlimits(Pid::this(), &[bad])
            .unwrap_err()
            .to_string()
            .contains("unknown resource"));
    }
}
