//! `lxc.mount.fstab` and `lxc.mount.entry`: fstab lines mounted below the rootfs with
//! symlink-safe targets. A target is resolved one component at a time beneath the rootfs
//! (see [`super::syscall::resolve_beneath`]); a path that crosses a symlink is refused with
//! an error naming the entry, even for `optional` entries, because following it could mount
//! over the host.

use std::path::{Path, PathBuf};

use lxcrs_config::model::{CreateKind, MountEntry};
use nix::errno::Errno;
use nix::mount::MsFlags;

use super::syscall::{Create, ResolveError, Syscall};
use super::StartError;

/// Kernel mount options split into flags, propagation and filesystem data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOpts {
    pub flags: MsFlags,
    /// `private`, `rslave`, …: applied with a separate mount(2) call.
    pub propagation: MsFlags,
    /// Everything mount(2) does not know as a flag, comma-joined.
    pub data: String,
}

impl MountOpts {
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }

    pub fn data(&self) -> Option<&str> {
        (!self.data.is_empty()).then_some(self.data.as_str())
    }
}

/// Split fstab options the way mount(8) does.
pub fn parse_options<S: AsRef<str>>(opts: &[S]) -> MountOpts {
    let mut o = MountOpts {
        flags: MsFlags::empty(),
        propagation: MsFlags::empty(),
        data: String::new(),
    };
    let mut data = Vec::new();
    for opt in opts.iter().map(AsRef::as_ref) {
        let (set, clear) = match opt {
            "defaults" | "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
            "remount" => (MsFlags::MS_REMOUNT, MsFlags::empty()),
            "mand" => (MsFlags::MS_MANDLOCK, MsFlags::empty()),
            "nomand" => (MsFlags::empty(), MsFlags::MS_MANDLOCK),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "nostrictatime" => (MsFlags::empty(), MsFlags::MS_STRICTATIME),
            "lazytime" => (MsFlags::MS_LAZYTIME, MsFlags::empty()),
            "silent" => (MsFlags::MS_SILENT, MsFlags::empty()),
            "loud" => (MsFlags::empty(), MsFlags::MS_SILENT),
            "bind" => (MsFlags::MS_BIND, MsFlags::empty()),
            "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty()),
            "private" | "rprivate" | "slave" | "rslave" | "shared" | "rshared" | "unbindable"
            | "runbindable" => {
                o.propagation |= match opt.trim_start_matches('r') {
                    "private" => MsFlags::MS_PRIVATE,
                    "slave" => MsFlags::MS_SLAVE,
                    "shared" => MsFlags::MS_SHARED,
                    _ => MsFlags::MS_UNBINDABLE,
                };
                if opt.starts_with('r') {
                    o.propagation |= MsFlags::MS_REC;
                }
                continue;
            }
            other => {
                data.push(other.to_string());
                continue;
            }
        };
        o.flags = (o.flags | set) & !clear;
    }
    o.data = data.join(",");
    o
}

/// Read the fstab-style lines of `lxc.mount.fstab`.
pub fn read_fstab(path: &Path) -> Result<Vec<MountEntry>, StartError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| StartError::io("read lxc.mount.fstab", path, e))?;
    let mut entries = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let entry = MountEntry::parse(line).map_err(|e| {
            StartError::config(
                "lxc.mount.fstab",
                format!("{}:{}", path.display(), n + 1),
                e.to_string(),
            )
        })?;
        entries.push(entry);
    }
    Ok(entries)
}

/// The target of `entry` relative to the rootfs: relative targets as given; absolute
/// ones with the rootfs path (source or staging mount) stripped, else taken as relative.
pub fn relative_target(
    entry: &MountEntry,
    rootfs_source: Option<&Path>,
    rootfs_mount: &Path,
) -> PathBuf {
    let t = Path::new(&entry.target);
    for prefix in rootfs_source.into_iter().chain([rootfs_mount]) {
        if prefix != Path::new("/") {
            if let Ok(rel) = t.strip_prefix(prefix) {
                return rel.to_path_buf();
            }
        }
    }
    t.strip_prefix("/").unwrap_or(t).to_path_buf()
}

/// Why a `relative` source was refused.
fn relative_source_problem(e: &ResolveError) -> String {
    match e {
        ResolveError::Symlink(p) => format!(
            "relative source {} is a symlink; a relative mount source must stay inside the rootfs without crossing symlinks\nhint: point the entry at the real directory inside the rootfs",
            p.display()
        ),
        ResolveError::Escapes(p) => format!("relative source {} leaves the container's rootfs", p.display()),
        ResolveError::Os(p, e) => format!("cannot resolve relative source {}: {}", p.display(), e.desc()),
    }
}

/// Mount one entry below `root` (the staging rootfs mount, or `/` without a rootfs).
pub fn mount_entry(
    sys: &dyn Syscall,
    root: &Path,
    rootfs_source: Option<&Path>,
    entry: &MountEntry,
) -> Result<(), StartError> {
    let shown = entry.to_string();
    let rel = relative_target(entry, rootfs_source, root);
    let opts = parse_options(&entry.options);
    let create = entry.lxc.create.map(|c| match c {
        CreateKind::Dir => Create::Dir,
        CreateKind::File => Create::File,
    });
    let optional = entry.lxc.optional;
    // The source: a host path, or below the rootfs with `relative`. A relative source
    // is in the untrusted rootfs: resolved beneath it without crossing a symlink, and
    // mounted from the resolved descriptor (`_src_fd` keeps it open).
    let (src, _src_fd) = if entry.lxc.relative {
        let rel_src = Path::new(&entry.source);
        let rel_src = rel_src.strip_prefix("/").unwrap_or(rel_src);
        match sys.resolve_beneath(root, rel_src, None) {
            Ok(t) => (t.path.clone(), Some(t)),
            Err(e @ (ResolveError::Symlink(_) | ResolveError::Escapes(_))) => {
                return Err(StartError::UnsafeTarget {
                    entry: shown,
                    problem: relative_source_problem(&e),
                })
            }
            Err(e) if optional => {
                super::debug(&format!("skipping optional mount entry \"{shown}\": {e}"));
                return Ok(());
            }
            Err(ResolveError::Os(p, Errno::ENOENT)) => {
                return Err(StartError::MountTarget {
                    entry: shown,
                    problem: format!("relative bind source {} does not exist", p.display()),
                })
            }
            Err(e) => {
                return Err(StartError::MountTarget {
                    entry: shown,
                    problem: format!("relative source: {e}"),
                })
            }
        }
    } else {
        let src = PathBuf::from(&entry.source);
        if opts.is_bind() && !sys.exists(&src) {
            if optional {
                super::debug(&format!(
                    "skipping optional mount entry \"{shown}\": {} does not exist",
                    src.display()
                ));
                return Ok(());
            }
            return Err(StartError::MountTarget {
                entry: shown,
                problem: format!("bind source {} does not exist", src.display()),
            });
        }
        (src, None)
    };
    let target = match sys.resolve_beneath(root, &rel, create) {
        Ok(t) => t,
        Err(e @ (ResolveError::Symlink(_) | ResolveError::Escapes(_))) => {
            return Err(StartError::UnsafeTarget {
                entry: shown,
                problem: e.to_string(),
            })
        }
        Err(e) if optional => {
            super::debug(&format!("skipping optional mount entry \"{shown}\": {e}"));
            return Ok(());
        }
        Err(e) => {
            return Err(StartError::MountTarget {
                entry: shown,
                problem: e.to_string(),
            })
        }
    };
    let logical = root.join(&rel);
    let src_str = src.to_string_lossy().into_owned();
    let fail = |errno: Errno| StartError::Mount {
        src: entry.source.clone(),
        target: logical.clone(),
        fstype: entry.fstype.clone(),
        errno,
    };
    let result = (|| {
        if opts.is_bind() {
            // A bind mount ignores most flags: bind first, then remount with them.
            sys.mount(
                Some(&src_str),
                &target.path,
                None,
                opts.flags & (MsFlags::MS_BIND | MsFlags::MS_REC),
                None,
            )
            .map_err(fail)?;
            let extra = opts.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC);
            if !extra.is_empty() {
                let top =
                    sys.resolve_beneath(root, &rel, None)
                        .map_err(|e| StartError::MountTarget {
                            entry: shown.clone(),
                            problem: e.to_string(),
                        })?;
                sys.mount(
                    None,
                    &top.path,
                    None,
                    MsFlags::MS_REMOUNT | MsFlags::MS_BIND | extra,
                    None,
                )
                .map_err(fail)?;
            }
        } else {
            sys.mount(
                Some(&src_str),
                &target.path,
                Some(&entry.fstype),
                opts.flags,
                opts.data(),
            )
            .map_err(fail)?;
        }
        if !opts.propagation.is_empty() {
            let top =
                sys.resolve_beneath(root, &rel, None)
                    .map_err(|e| StartError::MountTarget {
                        entry: shown.clone(),
                        problem: e.to_string(),
                    })?;
            sys.mount(None, &top.path, None, opts.propagation, None)
                .map_err(fail)?;
        }
        Ok(())
    })();
    match result {
        Err(e) if optional => {
            super::debug(&format!("skipping optional mount entry \"{shown}\": {e}"));
            Ok(())
        }
        r => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::start::fake::{Op, Recorder};

    fn entry(s: &str) -> MountEntry {
        MountEntry::parse(s).unwrap()
    }

    #[test]
    fn options_split_into_flags_propagation_and_data() {
        let o = parse_options(&["rbind", "ro", "nosuid", "rslave", "size=10m", "mode=755"]);
        assert_eq!(
            o.flags,
            MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID
        );
        assert_eq!(o.propagation, MsFlags::MS_SLAVE | MsFlags::MS_REC);
        assert_eq!(o.data, "size=10m,mode=755");
        assert_eq!(parse_options(&["defaults"]).flags, MsFlags::empty());
        assert_eq!(parse_options(&["ro", "rw"]).flags, MsFlags::empty());
    }

    #[test]
    fn relative_and_absolute_targets() {
        let r = Path::new("/run/r");
        let src = Path::new("/var/lib/lxc/c1/rootfs");
        assert_eq!(
            relative_target(&entry("a dev/shm tmpfs defaults"), Some(src), r),
            PathBuf::from("dev/shm")
        );
        assert_eq!(
            relative_target(
                &entry("a /var/lib/lxc/c1/rootfs/mnt none bind"),
                Some(src),
                r
            ),
            PathBuf::from("mnt")
        );
        assert_eq!(
            relative_target(&entry("a /run/r/x none bind"), Some(src), r),
            PathBuf::from("x")
        );
        assert_eq!(
            relative_target(&entry("a /opt none bind"), Some(src), r),
            PathBuf::from("opt")
        );
    }

    #[test]
    fn bind_ro_is_bind_then_remount() {
        let sys = Recorder::default();
        mount_entry(
            &sys,
            Path::new("/r"),
            None,
            &entry("/lib lib none ro,bind 0 0"),
        )
        .unwrap();
        let ops = sys.ops.borrow();
        assert_eq!(ops.len(), 2);
        assert!(
            matches!(&ops[0], Op::Mount { src: Some(s), flags, .. } if s == "/lib" && *flags == MsFlags::MS_BIND)
        );
        assert!(matches!(&ops[1], Op::Mount { src: None, flags, .. }
            if *flags == MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY));
    }

    #[test]
    fn symlinked_target_is_refused_even_when_optional() {
        let mut sys = Recorder::default();
        sys.symlinks.insert(PathBuf::from("/r/mnt"));
        let e = mount_entry(
            &sys,
            Path::new("/r"),
            None,
            &entry("/tmp mnt/x none bind,optional,create=dir 0 0"),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "refusing mount entry \"/tmp mnt/x none bind,create=dir,optional 0 0\": /r/mnt is a symlink; mount targets may not cross symlinks"
        );
        assert!(sys.ops.borrow().is_empty());
    }

    #[test]
    fn optional_entries_with_missing_parts_are_skipped() {
        let mut sys = Recorder::default();
        sys.missing.insert(PathBuf::from("/nope"));
        mount_entry(
            &sys,
            Path::new("/r"),
            None,
            &entry("/nope x none bind,optional 0 0"),
        )
        .unwrap();
        let e =
            mount_entry(&sys, Path::new("/r"), None, &entry("/nope x none bind 0 0")).unwrap_err();
        assert!(
            e.to_string().contains("bind source /nope does not exist"),
            "{e}"
        );
        sys.missing.insert(PathBuf::from("/r/sys/kernel/security"));
        mount_entry(
            &sys,
            Path::new("/r"),
            None,
            &entry("/sys/kernel/security sys/kernel/security none ro,bind,optional 0 0"),
        )
        .unwrap();
        assert!(sys.ops.borrow().is_empty());
    }

    #[test]
    fn real_resolution_refuses_symlink_in_a_temp_rootfs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::os::unix::fs::symlink("/etc", dir.path().join("hostetc")).unwrap();
        let e = mount_entry(
            &super::super::syscall::Linux,
            dir.path(),
            None,
            &entry("tmpfs hostetc/x tmpfs defaults,create=dir 0 0"),
        )
        .unwrap_err();
        assert!(matches!(e, StartError::UnsafeTarget { .. }), "{e}");
        assert!(e.to_string().contains("hostetc is a symlink"), "{e}");
        assert!(!Path::new("/etc/x").exists());
    }

    #[test]
    fn relative_source_crossing_a_symlink_is_refused_even_when_optional() {
        let mut sys = Recorder::default();
        sys.symlinks.insert(PathBuf::from("/r/data"));
        let e = mount_entry(
            &sys,
            Path::new("/r"),
            None,
            &entry("data/sub srv none bind,relative,optional,create=dir 0 0"),
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, StartError::UnsafeTarget { .. }), "{msg}");
        assert!(
            msg.contains("data/sub srv none"),
            "the entry is not named: {msg}"
        );
        assert!(
            msg.contains("relative source /r/data is a symlink"),
            "{msg}"
        );
        assert!(sys.ops.borrow().is_empty());
    }

    #[test]
    fn relative_source_is_bound_from_the_resolved_path() {
        let sys = Recorder::default();
        mount_entry(
            &sys,
            Path::new("/r"),
            None,
            &entry("/data srv none bind,relative 0 0"),
        )
        .unwrap();
        let ops = sys.ops.borrow();
        assert!(
            matches!(&ops[0], Op::Mount { src: Some(s), .. } if s == "/r/data"),
            "{ops:?}"
        );
    }

    #[test]
    fn real_relative_source_symlink_to_host_root_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("srv")).unwrap();
        std::os::unix::fs::symlink("/", dir.path().join("data")).unwrap();
        for src in ["data", "data/etc", "/data"] {
            let e = mount_entry(
                &super::super::syscall::Linux,
                dir.path(),
                None,
                &entry(&format!("{src} srv none bind,relative 0 0")),
            )
            .unwrap_err();
            assert!(matches!(e, StartError::UnsafeTarget { .. }), "{e}");
            assert!(e.to_string().contains("is a symlink"), "{e}");
        }
        let e = mount_entry(
            &super::super::syscall::Linux,
            dir.path(),
            None,
            &entry("srv/../../etc srv none bind,relative 0 0"),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("leaves the container's rootfs"),
            "{e}"
        );
    }
}
