//! What `lxc-copy -e` adds to the snapshot clone it starts: `-m` mounts (`bind=…`,
//! `overlay=…`) as `lxc.mount.entry` lines, and `-t`, a tmpfs for the clone's overlay
//! delta so that nothing it writes outlives it.
//!
//! `-t` works as in LXC: a generated `lxc.hook.pre-mount` script, run in the container's
//! mount namespace before the rootfs is mounted, mounts a tmpfs over `<c>/overlay` (the
//! delta and work directories, and the upper directories of `-m overlay` mounts) and
//! copies the clone's small on-disk delta (its `/etc/hostname`) into it. The tmpfs
//! exists only in that namespace: it goes away with the container, and the host's
//! mount table never sees it.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use lxcrs_config::Config;

use crate::container_dir::ContainerDir;
use crate::{Error, Result};

/// The generated pre-mount hook of `-t`, in the container directory.
pub const TMPFS_HOOK: &str = "tmpfs-premount";

/// One `-m` mount of an ephemeral container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtraMount {
    /// `bind=SRC[:DEST][:ro|rw]`: SRC bind-mounted at DEST (default: the same path).
    Bind {
        src: PathBuf,
        /// Relative to the rootfs.
        dest: String,
        read_only: bool,
    },
    /// `overlay=SRC[:DEST]`: an overlay with SRC as its lower directory and a new upper
    /// in the container's directory, so the container writes there and SRC never changes.
    Overlay {
        src: PathBuf,
        /// Relative to the rootfs.
        dest: String,
    },
}

/// What makes a clone ephemeral (`lxc-copy -e`).
#[derive(Debug, Clone, Default)]
pub struct EphemeralOptions {
    /// `-D`: keep the container after it stops (no `lxc.ephemeral = 1`).
    pub keep_data: bool,
    /// `-t`: the overlay delta lives on a tmpfs.
    pub tmpfs: bool,
    /// `-m`: extra mounts.
    pub mounts: Vec<ExtraMount>,
}

const FORM: &str = "the form is bind=SRC[:DEST][:ro|rw] or overlay=SRC[:DEST], comma-separated, with absolute host paths SRC";

fn bad(spec: &str, why: impl std::fmt::Display) -> Error {
    Error::hint(
        format!("invalid mount specification -m '{spec}': {why}"),
        FORM,
    )
}

/// Parses one `-m` argument: a comma-separated list of `bind=…` and `overlay=…`.
/// Every source must exist (it decides between `create=dir` and `create=file`).
pub fn parse_mounts(spec: &str) -> Result<Vec<ExtraMount>> {
    let mut out = Vec::new();
    for item in spec.split(',') {
        let Some((kind, value)) = item.split_once('=') else {
            return Err(bad(
                spec,
                format!("'{item}' names no mount type (bind= or overlay=)"),
            ));
        };
        let parts: Vec<&str> = value.split(':').collect();
        let src = host_path(spec, parts[0])?;
        let dest_of = |p: &str| rootfs_path(spec, p);
        let m = match (kind, parts.as_slice()) {
            ("bind", [_]) => ExtraMount::Bind {
                dest: dest_of(parts[0])?,
                src,
                read_only: false,
            },
            ("bind", [s, o]) if matches!(*o, "ro" | "rw") => ExtraMount::Bind {
                dest: dest_of(s)?,
                src,
                read_only: *o == "ro",
            },
            ("bind", [_, d]) => ExtraMount::Bind {
                dest: dest_of(d)?,
                src,
                read_only: false,
            },
            ("bind", [_, d, o]) => ExtraMount::Bind {
                dest: dest_of(d)?,
                src,
                read_only: match *o {
                    "ro" => true,
                    "rw" => false,
                    _ => return Err(bad(spec, format!("unknown option '{o}' (ro or rw)"))),
                },
            },
            ("overlay", [_]) => ExtraMount::Overlay {
                dest: dest_of(parts[0])?,
                src,
            },
            ("overlay", [_, d]) => ExtraMount::Overlay {
                dest: dest_of(d)?,
                src,
            },
            ("bind" | "overlay", _) => {
                return Err(bad(
                    spec,
                    format!("too many ':'-separated parts in '{item}'"),
                ))
            }
            (other, _) => {
                return Err(bad(
                    spec,
                    format!("unknown mount type '{other}' (bind or overlay)"),
                ))
            }
        };
        out.push(m);
    }
    Ok(out)
}

/// A host path: absolute, existing, normalized, usable in a mount entry.
fn host_path(spec: &str, p: &str) -> Result<PathBuf> {
    if !p.starts_with('/') {
        return Err(bad(
            spec,
            format!("the source '{p}' is not an absolute path"),
        ));
    }
    let norm = normalize(spec, p)?;
    let path = PathBuf::from(format!("/{norm}"));
    if fs::symlink_metadata(&path).is_err() {
        return Err(bad(
            spec,
            format!("the source {} does not exist", path.display()),
        ));
    }
    Ok(path)
}

/// A mount target below the rootfs, without its leading `/`.
fn rootfs_path(spec: &str, p: &str) -> Result<String> {
    let norm = normalize(spec, p)?;
    if norm.is_empty() {
        return Err(bad(
            spec,
            format!("'{p}' is the container's root, which cannot be a mount target"),
        ));
    }
    Ok(norm)
}

fn normalize(spec: &str, p: &str) -> Result<String> {
    if p.is_empty() {
        return Err(bad(spec, "an empty path"));
    }
    if p.chars().any(char::is_whitespace) {
        return Err(bad(
            spec,
            format!("'{p}' contains whitespace, which a mount entry cannot hold"),
        ));
    }
    let mut parts = Vec::new();
    for c in Path::new(p).components() {
        match c {
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            Component::ParentDir => {
                return Err(bad(spec, format!("'{p}' contains '..'")));
            }
            _ => {}
        }
    }
    Ok(parts.join("/"))
}

impl EphemeralOptions {
    /// Adds what these options ask for to the new container `dir`'s config `cfg` (not yet
    /// saved): `lxc.ephemeral`, the mount entries (making the upper and work directories of
    /// overlay mounts under `dir/overlay`), and the `-t` hook. Everything it makes is
    /// inside `dir`, which the clone's transaction removes on failure.
    pub(crate) fn apply(&self, cfg: &mut Config, dir: &Path) -> Result<()> {
        if !self.keep_data {
            cfg.set_item("lxc.ephemeral", "1")?;
        }
        for (i, m) in self.mounts.iter().enumerate() {
            let entry = match m {
                ExtraMount::Bind {
                    src,
                    dest,
                    read_only,
                } => format!(
                    "{} {dest} none bind,optional,{},create={} 0 0",
                    src.display(),
                    if *read_only { "ro" } else { "rw" },
                    if src.is_dir() { "dir" } else { "file" }
                ),
                ExtraMount::Overlay { src, dest } => {
                    let base = ContainerDir::at(dir).overlay().join(format!("mount{i}"));
                    let (upper, work) = (base.join("delta"), base.join("work"));
                    for d in [&upper, &work] {
                        fs::create_dir_all(d).map_err(|e| Error::io("create", d, e))?;
                    }
                    // overlayfs shows the upper root's owner and mode: take SRC's.
                    lxcrs_storage::copy::copy_root_metadata(src, &upper).map_err(Error::from)?;
                    for p in [src.as_path(), &upper, &work] {
                        if p.to_string_lossy().contains([',', ':']) {
                            return Err(Error::msg(format!(
                                "-m overlay: the path {} contains ',' or ':', which overlayfs options cannot hold",
                                p.display()
                            )));
                        }
                    }
                    format!(
                        "{src} {dest} overlay lowerdir={src},upperdir={},workdir={},create=dir 0 0",
                        upper.display(),
                        work.display(),
                        src = src.display()
                    )
                }
            };
            cfg.set_item("lxc.mount.entry", &entry)?;
        }
        if self.tmpfs {
            let hook = dir.join(TMPFS_HOOK);
            fs::write(&hook, tmpfs_hook(&ContainerDir::at(dir).overlay()))
                .map_err(|e| Error::io("write", &hook, e))?;
            fs::set_permissions(&hook, fs::Permissions::from_mode(0o755))
                .map_err(|e| Error::io("chmod", &hook, e))?;
            cfg.set_item("lxc.hook.pre-mount", &hook.display().to_string())?;
        }
        Ok(())
    }
}

/// The `-t` hook: a tmpfs over `overlay_dir` in the container's mount namespace, with a
/// copy of what was there (the shell's working directory keeps the hidden one reachable).
fn tmpfs_hook(overlay_dir: &Path) -> String {
    let d = sh_quote(&overlay_dir.display().to_string());
    format!(
        "#!/bin/sh\n\
         # Made by lxc-copy -t. Runs in the container's mount namespace before the rootfs\n\
         # is mounted: the overlay delta lives on a tmpfs that goes away with the container.\n\
         set -e\n\
         cd {d}\n\
         mount -n -t tmpfs -o mode=0755 lxcrs-ephemeral {d}\n\
         cp -a . {d}/\n"
    )
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(spec: &str) -> String {
        parse_mounts(spec).unwrap_err().to_string()
    }

    #[test]
    fn parses_bind_and_overlay_forms() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().display().to_string();
        let rel = d.trim_start_matches('/').to_string();
        let m = parse_mounts(&format!(
            "bind={d},bind={d}:ro,bind={d}:/mnt/x,bind={d}/:mnt//y/:ro,overlay={d},overlay={d}:/srv"
        ))
        .unwrap();
        let p = PathBuf::from(&d);
        assert_eq!(
            m,
            vec![
                ExtraMount::Bind {
                    src: p.clone(),
                    dest: rel.clone(),
                    read_only: false
                },
                ExtraMount::Bind {
                    src: p.clone(),
                    dest: rel.clone(),
                    read_only: true
                },
                ExtraMount::Bind {
                    src: p.clone(),
                    dest: "mnt/x".into(),
                    read_only: false
                },
                ExtraMount::Bind {
                    src: p.clone(),
                    dest: "mnt/y".into(),
                    read_only: true
                },
                ExtraMount::Overlay {
                    src: p.clone(),
                    dest: rel
                },
                ExtraMount::Overlay {
                    src: p,
                    dest: "srv".into()
                },
            ]
        );
    }

    #[test]
    fn bad_specs_are_named() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().display().to_string();
        let e = err("foo=/tmp");
        assert!(
            e.starts_with("invalid mount specification -m 'foo=/tmp': unknown mount type 'foo'"),
            "{e}"
        );
        assert!(e.contains("\nhint: the form is bind=SRC"), "{e}");
        assert!(err("/tmp").contains("'/tmp' names no mount type"));
        assert!(err("bind=tmp").contains("'tmp' is not an absolute path"));
        assert!(err("bind=/nonexistent-lxcrs").contains("/nonexistent-lxcrs does not exist"));
        assert!(err(&format!("bind={d}:/x:rx")).contains("unknown option 'rx'"));
        assert!(err(&format!("bind={d}:/x:ro:y")).contains("too many"));
        assert!(err(&format!("overlay={d}:/x:ro")).contains("too many"));
        assert!(err(&format!("bind={d}:/")).contains("container's root"));
        assert!(err(&format!("bind={d}:/a/../b")).contains("'..'"));
        assert!(err(&format!("bind={d},")).contains("names no mount type"));
    }

    #[test]
    fn apply_writes_entries_dirs_and_hook() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        fs::create_dir(&src).unwrap();
        fs::set_permissions(&src, fs::Permissions::from_mode(0o750)).unwrap();
        let file = t.path().join("f");
        fs::write(&file, b"x").unwrap();
        let dir = t.path().join("c");
        fs::create_dir(&dir).unwrap();
        let mut cfg =
            Config::parse("lxc.uts.name = c\n", &ContainerDir::at(&dir).config()).unwrap();
        let opts = EphemeralOptions {
            keep_data: false,
            tmpfs: true,
            mounts: vec![
                ExtraMount::Bind {
                    src: file.clone(),
                    dest: "etc/f".into(),
                    read_only: true,
                },
                ExtraMount::Overlay {
                    src: src.clone(),
                    dest: "srv".into(),
                },
            ],
        };
        opts.apply(&mut cfg, &dir).unwrap();
        let text = cfg.to_text();
        let d = dir.display();
        assert!(text.contains("lxc.ephemeral = 1"), "{text}");
        assert!(
            text.contains(&format!(
                "lxc.mount.entry = {} etc/f none bind,optional,ro,create=file 0 0",
                file.display()
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "lxc.mount.entry = {s} srv overlay lowerdir={s},upperdir={d}/overlay/mount1/delta,workdir={d}/overlay/mount1/work,create=dir 0 0",
                s = src.display()
            )),
            "{text}"
        );
        assert!(text.contains(&format!("lxc.hook.pre-mount = {d}/{TMPFS_HOOK}")));
        let mode = fs::metadata(dir.join("overlay/mount1/delta"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o750);
        let hook = fs::read_to_string(dir.join(TMPFS_HOOK)).unwrap();
        assert!(
            hook.contains(&format!(
                "mount -n -t tmpfs -o mode=0755 lxcrs-ephemeral '{d}/overlay'"
            )),
            "{hook}"
        );
        assert_eq!(sh_quote("a'b"), r"'a'\''b'");
    }

    #[test]
    fn tmpfs_hook_under_an_odd_lxcpath_reaches_sh_quoted() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("lxc path;id $(id)").join("c");
        fs::create_dir_all(&dir).unwrap();
        let mut cfg =
            Config::parse("lxc.uts.name = c\n", &ContainerDir::at(&dir).config()).unwrap();
        let opts = EphemeralOptions {
            keep_data: false,
            tmpfs: true,
            mounts: vec![],
        };
        opts.apply(&mut cfg, &dir).unwrap();
        let hook = cfg.get_item("lxc.hook.pre-mount").unwrap();
        assert_eq!(hook, dir.join(TMPFS_HOOK).display().to_string());
        let ctx =
            crate::start::HookContext::new("c", &ContainerDir::at(&dir).config(), cfg.model());
        let cmd = crate::start::hooks::command(crate::start::HookKind::PreMount, &hook, &ctx, &[]);
        assert!(
            cmd.argv[2].starts_with(&format!("exec {} ", sh_quote(&hook))),
            "{}",
            cmd.argv[2]
        );
    }
}
