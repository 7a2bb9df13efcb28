//! Mounts: `lxc.mount.fstab`, `lxc.mount.entry`, `lxc.mount.auto`.

use std::fmt;

use crate::error::{ConfigError, Result};

/// `create=` of a mount entry: make the target before mounting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CreateKind {
    Dir,
    File,
}

/// The options LXC itself interprets; they are removed before calling mount(2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LxcMountOptions {
    pub create: Option<CreateKind>,
    /// Ignore failure to mount.
    pub optional: bool,
    /// The source is relative to the container rootfs.
    pub relative: bool,
    /// `idmap=container` or `idmap=/path/to/userns`: make an idmapped mount.
    pub idmap: Option<String>,
}

/// One fstab-style line (`lxc.mount.entry` or a line of `lxc.mount.fstab`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    pub source: String,
    /// Absolute path, or relative to the container's rootfs (usual in LXC configs).
    pub target: String,
    pub fstype: String,
    /// Kernel mount options in order (flags such as `bind`, `ro`, `nodev`, and data
    /// such as `mode=755`); LXC's own options are in `lxc`.
    pub options: Vec<String>,
    pub lxc: LxcMountOptions,
    pub dump: i32,
    pub pass: i32,
}

/// Decode the octal escapes fstab uses for blanks (`\040`, `\011`, `\012`, `\134`).
fn unescape(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (u32::from(b[i + 1] - b'0') << 6)
                | (u32::from(b[i + 2] - b'0') << 3)
                | u32::from(b[i + 3] - b'0');
            if let Ok(byte) = u8::try_from(v) {
                out.push(byte);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

const EXPECTED: &str = "expected SOURCE TARGET FSTYPE OPTIONS [DUMP [PASS]]";

impl MountEntry {
    /// Parse an fstab line: four to six whitespace-separated fields.
    pub fn parse(line: &str) -> Result<MountEntry> {
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        if fields.len() < 4 || fields.len() > 6 {
            return Err(ConfigError::value(format!(
                "invalid mount entry: {} fields ({EXPECTED})",
                fields.len()
            )));
        }
        let num = |i: usize, what: &str| -> Result<i32> {
            match fields.get(i) {
                None => Ok(0),
                Some(v) => crate::value::parse_int(v).map_err(|_| {
                    ConfigError::value(format!("invalid mount entry {what} '{v}' ({EXPECTED})"))
                }),
            }
        };
        let mut entry = MountEntry {
            source: unescape(fields[0]),
            target: unescape(fields[1]),
            fstype: unescape(fields[2]),
            options: Vec::new(),
            lxc: LxcMountOptions::default(),
            dump: num(4, "dump")?,
            pass: num(5, "pass")?,
        };
        for opt in fields[3].split(',').filter(|o| !o.is_empty()) {
            match opt {
                "create=dir" => entry.lxc.create = Some(CreateKind::Dir),
                "create=file" => entry.lxc.create = Some(CreateKind::File),
                "optional" => entry.lxc.optional = true,
                "relative" => entry.lxc.relative = true,
                o if o.starts_with("create=") => {
                    return Err(ConfigError::value(
                        "invalid mount option create= (expected create=dir or create=file)",
                    ))
                }
                o if o.starts_with("idmap=") => {
                    let v = &o["idmap=".len()..];
                    if v.is_empty() {
                        return Err(ConfigError::value("empty idmap= mount option"));
                    }
                    entry.lxc.idmap = Some(v.to_string());
                }
                o => entry.options.push(unescape(o)),
            }
        }
        Ok(entry)
    }
}

/// `proc` automount mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProcMode {
    /// `proc` / `proc:mixed`: /proc rw, /proc/sys ro except /proc/sys/net, sysrq-trigger ro.
    Mixed,
    Rw,
}

/// `sys` automount mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SysMode {
    Ro,
    /// `sys` / `sys:mixed`: ro sysfs with /sys/devices/virtual/net writable.
    Mixed,
    Rw,
}

/// Which cgroup tree `lxc.mount.auto` mounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CgroupAutoKind {
    /// `cgroup[...]`: the container's own cgroups.
    Cgroup,
    /// `cgroup-full[...]`: the whole host hierarchy.
    CgroupFull,
    /// `cgroup2[...]`: the unified hierarchy.
    Cgroup2,
}

/// Access mode of the cgroup automount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CgroupAutoMode {
    /// No mode given: rw if the container keeps CAP_SYS_ADMIN, else mixed.
    NoSpec,
    Mixed,
    Ro,
    Rw,
}

/// The cgroup automount setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CgroupAuto {
    pub kind: CgroupAutoKind,
    pub mode: CgroupAutoMode,
    /// `:force`: mount even when a cgroup namespace is available.
    pub force: bool,
}

/// `shmounts:HOST[:CONTAINER]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ShMounts {
    pub host: String,
    /// Default `/dev/.lxc-mounts`.
    pub container: String,
}

/// Parsed `lxc.mount.auto`. Each family holds the last token given for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MountAuto {
    pub proc: Option<ProcMode>,
    pub sys: Option<SysMode>,
    pub cgroup: Option<CgroupAuto>,
    pub shmounts: Option<ShMounts>,
}

const AUTO_EXPECTED: &str = "expected proc[:mixed|:rw], sys[:ro|:mixed|:rw], cgroup[:mixed|:ro|:rw][:force], cgroup-full[...], cgroup2[:ro][:force] or shmounts:HOST[:CONT]";

impl MountAuto {
    /// Apply one line: space-separated tokens; later tokens of a family override earlier ones.
    pub fn apply(&mut self, value: &str) -> Result<()> {
        for tok in value.split_ascii_whitespace() {
            self.apply_token(tok)?;
        }
        Ok(())
    }

    /// The effective tokens, space-separated, in a fixed order (proc, sys, cgroup, shmounts).
    pub fn render(&self) -> String {
        let mut out: Vec<String> = Vec::new();
        if let Some(p) = self.proc {
            out.push(
                match p {
                    ProcMode::Mixed => "proc:mixed",
                    ProcMode::Rw => "proc:rw",
                }
                .to_string(),
            );
        }
        if let Some(s) = self.sys {
            out.push(
                match s {
                    SysMode::Ro => "sys:ro",
                    SysMode::Mixed => "sys:mixed",
                    SysMode::Rw => "sys:rw",
                }
                .to_string(),
            );
        }
        if let Some(c) = self.cgroup {
            let mut t = match c.kind {
                CgroupAutoKind::Cgroup => "cgroup",
                CgroupAutoKind::CgroupFull => "cgroup-full",
                CgroupAutoKind::Cgroup2 => "cgroup2",
            }
            .to_string();
            match c.mode {
                CgroupAutoMode::NoSpec => {}
                CgroupAutoMode::Mixed => t.push_str(":mixed"),
                CgroupAutoMode::Ro => t.push_str(":ro"),
                CgroupAutoMode::Rw => t.push_str(":rw"),
            }
            if c.force {
                t.push_str(":force");
            }
            out.push(t);
        }
        if let Some(s) = &self.shmounts {
            out.push(format!("shmounts:{}:{}", s.host, s.container));
        }
        out.join(" ")
    }

    fn apply_token(&mut self, tok: &str) -> Result<()> {
        let bad = || {
            ConfigError::value(format!(
                "invalid mount.auto token '{tok}' ({AUTO_EXPECTED})"
            ))
        };
        if let Some(rest) = tok.strip_prefix("shmounts:") {
            let (host, cont) = match rest.split_once(':') {
                Some((h, c)) => (h, c),
                None => (rest, "/dev/.lxc-mounts"),
            };
            if host.is_empty() || cont.is_empty() || cont.contains(':') {
                return Err(bad());
            }
            self.shmounts = Some(ShMounts {
                host: host.to_string(),
                container: cont.to_string(),
            });
            return Ok(());
        }
        let mut parts = tok.split(':');
        let family = parts.next().unwrap_or_default();
        let opts: Vec<&str> = parts.collect();
        match family {
            "proc" => {
                self.proc = Some(match opts[..] {
                    [] | ["mixed"] => ProcMode::Mixed,
                    ["rw"] => ProcMode::Rw,
                    _ => return Err(bad()),
                })
            }
            "sys" => {
                self.sys = Some(match opts[..] {
                    [] | ["mixed"] => SysMode::Mixed,
                    ["ro"] => SysMode::Ro,
                    ["rw"] => SysMode::Rw,
                    _ => return Err(bad()),
                })
            }
            "cgroup" | "cgroup-full" | "cgroup2" => {
                let kind = match family {
                    "cgroup" => CgroupAutoKind::Cgroup,
                    "cgroup-full" => CgroupAutoKind::CgroupFull,
                    _ => CgroupAutoKind::Cgroup2,
                };
                let (mode_opts, force) = match opts.split_last() {
                    Some((&"force", rest)) => (rest, true),
                    _ => (&opts[..], false),
                };
                let mode = match (kind, mode_opts) {
                    (_, []) => CgroupAutoMode::NoSpec,
                    (_, ["ro"]) => CgroupAutoMode::Ro,
                    (CgroupAutoKind::Cgroup2, _) => return Err(bad()),
                    (_, ["mixed"]) => CgroupAutoMode::Mixed,
                    (_, ["rw"]) => CgroupAutoMode::Rw,
                    _ => return Err(bad()),
                };
                self.cgroup = Some(CgroupAuto { kind, mode, force });
            }
            _ => return Err(bad()),
        }
        Ok(())
    }
}

/// All mount settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mounts {
    /// `lxc.mount.fstab`: a file of fstab lines, read at start.
    pub fstab: Option<String>,
    /// `lxc.mount.entry`, in order.
    pub entries: Vec<MountEntry>,
    pub auto: MountAuto,
}

impl fmt::Display for MountEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut opts = self.options.clone();
        match self.lxc.create {
            Some(CreateKind::Dir) => opts.push("create=dir".into()),
            Some(CreateKind::File) => opts.push("create=file".into()),
            None => {}
        }
        if self.lxc.optional {
            opts.push("optional".into());
        }
        if self.lxc.relative {
            opts.push("relative".into());
        }
        if let Some(m) = &self.lxc.idmap {
            opts.push(format!("idmap={m}"));
        }
        let esc = |s: &str| {
            s.replace('\\', "\\134")
                .replace(' ', "\\040")
                .replace('\t', "\\011")
        };
        write!(
            f,
            "{} {} {} {} {} {}",
            esc(&self.source),
            esc(&self.target),
            esc(&self.fstype),
            if opts.is_empty() {
                "defaults".to_string()
            } else {
                opts.join(",")
            },
            self.dump,
            self.pass
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries() {
        let e =
            MountEntry::parse("shm dev/shm tmpfs rw,nodev,create=dir,optional 0 0").expect("valid");
        assert_eq!(e.source, "shm");
        assert_eq!(e.target, "dev/shm");
        assert_eq!(e.options, vec!["rw", "nodev"]);
        assert_eq!(e.lxc.create, Some(CreateKind::Dir));
        assert!(e.lxc.optional && !e.lxc.relative);
        let e = MountEntry::parse("none dev/shm tmpfs rw,nosuid,nodev,create=dir").ok();
        assert_eq!(e.as_ref().map(|e| (e.dump, e.pass)), Some((0, 0)));
        let e = MountEntry::parse("/my\\040dir mnt none bind,relative,idmap=container 0 2").ok();
        assert_eq!(e.as_ref().map(|e| e.source.as_str()), Some("/my dir"));
        assert_eq!(e.as_ref().map(|e| e.pass), Some(2));
        assert_eq!(
            e.as_ref().and_then(|e| e.lxc.idmap.as_deref()),
            Some("container")
        );
        assert_eq!(
            e.map(|e| e.to_string()).as_deref(),
            Some("/my\\040dir mnt none bind,relative,idmap=container 0 2")
        );
        for bad in [
            "a b c",
            "a b c d e f g",
            "a b c d x",
            "a b c create=sock",
            "a b c d 0 y",
            "a b c idmap=",
        ] {
            assert!(MountEntry::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(MountEntry::parse("a\\ b c d").is_ok());
    }

    #[test]
    fn auto_tokens() {
        let mut a = MountAuto::default();
        assert!(a.apply("cgroup:mixed proc:mixed sys:mixed").is_ok());
        assert_eq!(a.proc, Some(ProcMode::Mixed));
        assert_eq!(a.sys, Some(SysMode::Mixed));
        assert_eq!(
            a.cgroup,
            Some(CgroupAuto {
                kind: CgroupAutoKind::Cgroup,
                mode: CgroupAutoMode::Mixed,
                force: false
            })
        );
        assert!(a.apply("sys:rw cgroup2:ro:force shmounts:/run/x").is_ok());
        assert_eq!(a.sys, Some(SysMode::Rw));
        assert_eq!(
            a.cgroup,
            Some(CgroupAuto {
                kind: CgroupAutoKind::Cgroup2,
                mode: CgroupAutoMode::Ro,
                force: true
            })
        );
        assert_eq!(
            a.shmounts.as_ref().map(|s| s.container.as_str()),
            Some("/dev/.lxc-mounts")
        );
        assert_eq!(
            a.render(),
            "proc:mixed sys:rw cgroup2:ro:force shmounts:/run/x:/dev/.lxc-mounts"
        );
        assert!(a.apply("cgroup-full:rw:force proc sys").is_ok());
        assert_eq!(
            a.cgroup.map(|c| (c.kind, c.mode)),
            Some((CgroupAutoKind::CgroupFull, CgroupAutoMode::Rw))
        );
        assert_eq!(a.proc, Some(ProcMode::Mixed));
        assert!(a.apply("cgroup").is_ok());
        assert_eq!(a.cgroup.map(|c| c.mode), Some(CgroupAutoMode::NoSpec));
        assert!(a.apply("shmounts:/h:/c").is_ok());
        assert_eq!(a.shmounts.map(|s| s.container), Some("/c".to_string()));
        for bad in [
            "proc:ro",
            "sys:foo",
            "cgroup2:rw",
            "cgroup:force:ro",
            "shmounts:",
            "dev",
            "cgroup:mixed:ro",
        ] {
            assert!(MountAuto::default().apply(bad).is_err(), "{bad:?} accepted");
        }
    }
}
