//! `lxc.seccomp.profile` in LXC's text format, parsed ([`parse`]) separately from loading
//! ([`load`], with libseccomp):
//!
//! ```text
//! 2                      version (1 or 2)
//! denylist [action]      v2: denylist|blacklist (default allow) or allowlist|whitelist
//!                        (default kill), optionally with the default action
//! reject_force_umount    umount2(…, MNT_FORCE) fails with EACCES
//! [x86_64]               rules below apply on that architecture ([all] = everywhere)
//! kexec_load errno 1     syscall [action [errno N]] [arg conditions [i,value,op(,mask)]]
//! ```
//!
//! Version 1 is a bare allowlist of syscall numbers. Syscall names this kernel/libseccomp
//! does not know are skipped, like LXC, with a warning on stderr (a profile that silently
//! loses a rule is a weaker profile than its author wrote; see `unknown_syscalls`).

use std::path::{Path, PathBuf};

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};

use super::StartError;

/// What a rule (or the default) does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Kill,
    Allow,
    Errno(i32),
    Trap,
    Notify,
    Log,
    Trace(u16),
}

/// One argument condition: `[index,value,op]` or `[index,value,SCMP_CMP_MASKED_EQ,mask]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgCond {
    pub index: u32,
    pub value: u64,
    pub op: CmpOp,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    MaskedEq(u64),
}

/// One rule line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub line: usize,
    /// The `[arch]` section it appeared in (`None` before any section, or `[all]`).
    pub arch: Option<String>,
    /// A syscall name, or a number (version 1).
    pub syscall: String,
    pub action: Action,
    pub args: Vec<ArgCond>,
}

/// A parsed profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub path: PathBuf,
    pub version: u8,
    pub default: Action,
    pub reject_force_umount: bool,
    pub rules: Vec<Rule>,
}

fn err(path: &Path, line: usize, problem: impl Into<String>) -> StartError {
    StartError::Seccomp {
        path: path.to_path_buf(),
        line,
        problem: problem.into(),
    }
}

fn parse_num(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Parse an action at the start of `words`; returns it and how many words it used.
fn parse_action(words: &[&str]) -> Result<Option<(Action, usize)>, String> {
    let Some(first) = words.first() else {
        return Ok(None);
    };
    let a = match *first {
        "kill" => Action::Kill,
        "allow" => Action::Allow,
        "trap" => Action::Trap,
        "notify" => Action::Notify,
        "log" => Action::Log,
        "errno" => {
            let n = words
                .get(1)
                .and_then(|w| w.parse::<i32>().ok())
                .ok_or("errno needs a number")?;
            if !(0..=4095).contains(&n) {
                return Err(format!("errno {n} out of range 0..4095"));
            }
            return Ok(Some((Action::Errno(n), 2)));
        }
        "trace" => {
            let n = words
                .get(1)
                .and_then(|w| w.parse::<u16>().ok())
                .ok_or("trace needs a number")?;
            return Ok(Some((Action::Trace(n), 2)));
        }
        w if w.starts_with('[') => return Ok(None),
        w => return Err(format!("unknown action \"{w}\"")),
    };
    Ok(Some((a, 1)))
}

fn parse_cond(s: &str) -> Result<ArgCond, String> {
    let inner = s.trim_start_matches('[').trim_end_matches(']');
    let f: Vec<&str> = inner.split(',').map(str::trim).collect();
    let bad = || {
        format!("invalid argument condition \"{s}\" (expected [index,value,op] or [index,value,SCMP_CMP_MASKED_EQ,mask])")
    };
    if f.len() < 3 || f.len() > 4 {
        return Err(bad());
    }
    let index = f[0]
        .parse::<u32>()
        .ok()
        .filter(|i| *i < 6)
        .ok_or_else(bad)?;
    let value = parse_num(f[1]).ok_or_else(bad)?;
    let op = match f[2] {
        "SCMP_CMP_NE" | "!=" => CmpOp::Ne,
        "SCMP_CMP_LT" | "<" => CmpOp::Lt,
        "SCMP_CMP_LE" | "<=" => CmpOp::Le,
        "SCMP_CMP_EQ" | "==" => CmpOp::Eq,
        "SCMP_CMP_GE" | ">=" => CmpOp::Ge,
        "SCMP_CMP_GT" | ">" => CmpOp::Gt,
        "SCMP_CMP_MASKED_EQ" | "&=" => {
            CmpOp::MaskedEq(f.get(3).and_then(|m| parse_num(m)).ok_or_else(bad)?)
        }
        _ => return Err(bad()),
    };
    Ok(ArgCond { index, value, op })
}

/// Parse the text of a profile read from `path`.
pub fn parse(path: &Path, text: &str) -> Result<Profile, StartError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.split('#').next().unwrap_or("").trim()))
        .filter(|(_, l)| !l.is_empty());
    let (n, first) = lines
        .next()
        .ok_or_else(|| err(path, 1, "empty profile (expected version 1 or 2)"))?;
    let version = match first {
        "1" => 1,
        "2" => 2,
        v => {
            return Err(err(
                path,
                n,
                format!("unsupported version \"{v}\" (expected 1 or 2)"),
            ))
        }
    };
    let mut profile = Profile {
        path: path.to_path_buf(),
        version,
        default: Action::Kill,
        reject_force_umount: false,
        rules: Vec::new(),
    };
    let mut rule_default = Action::Allow;
    let mut lines = lines.peekable();
    if version == 1 {
        // Optional "whitelist"/"allowlist" line, then syscall numbers to allow.
        if let Some((_, l)) = lines.peek() {
            if matches!(*l, "whitelist" | "allowlist") {
                lines.next();
            }
        }
    } else {
        let (n, l) = lines
            .next()
            .ok_or_else(|| err(path, n + 1, "missing policy line (allowlist or denylist)"))?;
        let words: Vec<&str> = l.split_whitespace().collect();
        let (default, rule) = match words[0] {
            "denylist" | "blacklist" => (Action::Allow, Action::Kill),
            "allowlist" | "whitelist" => (Action::Kill, Action::Allow),
            w => {
                return Err(err(
                    path,
                    n,
                    format!("unknown policy \"{w}\" (expected allowlist or denylist)"),
                ))
            }
        };
        profile.default = match parse_action(&words[1..]).map_err(|p| err(path, n, p))? {
            Some((a, _)) => a,
            None => default,
        };
        rule_default = rule;
    }
    let mut arch: Option<String> = None;
    for (n, l) in lines {
        if l.starts_with('[') && l.ends_with(']') && !l.contains(',') {
            let name = l[1..l.len() - 1].trim().to_ascii_lowercase();
            arch = (name != "all").then_some(name);
            continue;
        }
        if version == 2 && l == "reject_force_umount" {
            profile.reject_force_umount = true;
            continue;
        }
        let words: Vec<&str> = l.split_whitespace().collect();
        let syscall = words[0].to_string();
        if version == 1 {
            if words.len() != 1 || parse_num(&syscall).is_none() {
                return Err(err(
                    path,
                    n,
                    format!("expected a syscall number, got \"{l}\""),
                ));
            }
            profile.rules.push(Rule {
                line: n,
                arch: arch.clone(),
                syscall,
                action: Action::Allow,
                args: vec![],
            });
            continue;
        }
        let (action, used) = parse_action(&words[1..])
            .map_err(|p| err(path, n, p))?
            .unwrap_or((rule_default, 0));
        let args = words[1 + used..]
            .iter()
            .map(|w| parse_cond(w))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|p| err(path, n, p))?;
        profile.rules.push(Rule {
            line: n,
            arch: arch.clone(),
            syscall,
            action,
            args,
        });
    }
    Ok(profile)
}

/// Read and parse the profile at `path`.
pub fn read(path: &Path) -> Result<Profile, StartError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| StartError::io("read seccomp profile", path, e))?;
    parse(path, &text)
}

/// The `[section]` names that apply on this machine.
fn arch_applies(arch: Option<&str>) -> bool {
    let Some(a) = arch else { return true };
    let native: &[&str] = match std::env::consts::ARCH {
        "x86_64" => &["x86_64", "amd64", "x86", "i386", "i686", "x32"],
        "x86" => &["x86", "i386", "i686"],
        "aarch64" => &["arm64", "aarch64", "arm", "armhf", "armel"],
        "arm" => &["arm", "armhf", "armel"],
        "powerpc64" => &["ppc64", "ppc64le", "ppc"],
        "s390x" => &["s390x", "s390"],
        "riscv64" => &["riscv64"],
        other => return a == other,
    };
    native.contains(&a)
}

fn scmp(a: Action) -> ScmpAction {
    match a {
        Action::Kill => ScmpAction::KillThread,
        Action::Allow => ScmpAction::Allow,
        Action::Errno(n) => ScmpAction::Errno(n),
        Action::Trap => ScmpAction::Trap,
        Action::Notify => ScmpAction::Notify,
        Action::Log => ScmpAction::Log,
        Action::Trace(n) => ScmpAction::Trace(n),
    }
}

fn cmp(c: &ArgCond) -> ScmpArgCompare {
    let op = match c.op {
        CmpOp::Ne => ScmpCompareOp::NotEqual,
        CmpOp::Lt => ScmpCompareOp::Less,
        CmpOp::Le => ScmpCompareOp::LessOrEqual,
        CmpOp::Eq => ScmpCompareOp::Equal,
        CmpOp::Ge => ScmpCompareOp::GreaterEqual,
        CmpOp::Gt => ScmpCompareOp::Greater,
        CmpOp::MaskedEq(m) => ScmpCompareOp::MaskedEqual(m),
    };
    ScmpArgCompare::new(c.index, op, c.value)
}

/// Compile `profile` into a filter (without loading it). The filter covers the native
/// architecture and its compat ones (32-bit x86 and x32 on x86_64), so 32-bit syscalls
/// cannot bypass a denylist.
pub fn compile(profile: &Profile) -> Result<ScmpFilterContext, StartError> {
    let fail = |line: usize, what: &str, e: libseccomp::error::SeccompError| {
        err(&profile.path, line, format!("{what}: {e}"))
    };
    let mut ctx =
        ScmpFilterContext::new(scmp(profile.default)).map_err(|e| fail(0, "create filter", e))?;
    // Do not force no_new_privs: lxc.no_new_privs decides that.
    ctx.set_ctl_nnp(false)
        .map_err(|e| fail(0, "clear the NNP attribute", e))?;
    let compat: &[ScmpArch] = match std::env::consts::ARCH {
        "x86_64" => &[ScmpArch::X86, ScmpArch::X32],
        "aarch64" => &[ScmpArch::Arm],
        _ => &[],
    };
    for a in compat {
        // A kernel without compat support rejects the arch: filter the native one only.
        let _ = ctx.add_arch(*a);
    }
    for rule in &profile.rules {
        if !arch_applies(rule.arch.as_deref()) {
            continue;
        }
        let sc = match parse_num(&rule.syscall) {
            Some(n) => i32::try_from(n)
                .map(ScmpSyscall::from)
                .map_err(|_| err(&profile.path, rule.line, "syscall number out of range"))?,
            None => match ScmpSyscall::from_name(&rule.syscall) {
                Ok(sc) => sc,
                Err(_) => {
                    super::warn(&format!(
                        "seccomp profile {}:{}: skipping syscall \"{}\", unknown to this kernel/libseccomp; the container runs without that rule",
                        profile.path.display(),
                        rule.line,
                        rule.syscall,
                    ));
                    continue;
                }
            },
        };
        if rule.action == profile.default {
            continue; // libseccomp refuses rules that repeat the default action
        }
        let conds: Vec<ScmpArgCompare> = rule.args.iter().map(cmp).collect();
        ctx.add_rule_conditional(scmp(rule.action), sc, &conds)
            .map_err(|e| fail(rule.line, &format!("add rule for {}", rule.syscall), e))?;
    }
    if profile.reject_force_umount {
        let cond = ScmpArgCompare::new(
            1,
            ScmpCompareOp::MaskedEqual(libc::MNT_FORCE as u64),
            libc::MNT_FORCE as u64,
        );
        let umount2 =
            ScmpSyscall::from_name("umount2").map_err(|e| fail(0, "look up umount2", e))?;
        ctx.add_rule_conditional(ScmpAction::Errno(libc::EACCES), umount2, &[cond])
            .map_err(|e| fail(0, "add reject_force_umount rule", e))?;
    }
    Ok(ctx)
}

/// A compiled filter: the classic BPF program libseccomp generated for a profile, ready
/// for `seccomp(2)`. Compiling takes milliseconds (libseccomp builds and optimises its
/// whole rule tree); it is done once, before the child or the attached process exists,
/// which then only loads the result.
#[derive(Debug, Clone)]
pub struct Program {
    path: std::path::PathBuf,
    insns: Vec<libc::sock_filter>,
}

/// The syscall names of `profile`'s rules (for this architecture) that libseccomp does not
/// know: [`program`] skips them with a warning.
#[cfg(any(test, feature = "fuzzing"))]
pub fn unknown_syscalls(profile: &Profile) -> Vec<String> {
    profile
        .rules
        .iter()
        .filter(|r| arch_applies(r.arch.as_deref()) && parse_num(&r.syscall).is_none())
        .filter(|r| ScmpSyscall::from_name(&r.syscall).is_err())
        .map(|r| r.syscall.clone())
        .collect()
}

/// Compiles `profile` into a [`Program`].
pub fn program(profile: &Profile) -> Result<Program, StartError> {
    let ctx = compile(profile)?;
    let fail = |what: &str, e: String| err(&profile.path, 0, format!("{what}: {e}"));
    // libseccomp 2.5 (Debian 12) exports only to a file descriptor.
    let fd =
        nix::sys::memfd::memfd_create(c"lxcrs-seccomp", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
            .map_err(|e| fail("create a memfd for the filter", e.to_string()))?;
    ctx.export_bpf(&fd)
        .map_err(|e| fail("export the filter", e.to_string()))?;
    let mut file = std::fs::File::from(fd);
    let mut bytes = Vec::new();
    std::io::Seek::rewind(&mut file)
        .and_then(|_| std::io::Read::read_to_end(&mut file, &mut bytes))
        .map_err(|e| fail("read the exported filter", e.to_string()))?;
    let size = std::mem::size_of::<libc::sock_filter>();
    if bytes.is_empty() || bytes.len() % size != 0 || bytes.len() / size > usize::from(u16::MAX) {
        return Err(fail(
            "export the filter",
            format!("{} bytes is not a BPF program", bytes.len()),
        ));
    }
    let insns = bytes
        .chunks_exact(size)
        .map(|c| libc::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect();
    Ok(Program {
        path: profile.path.clone(),
        insns,
    })
}

impl Program {
    /// Loads the filter into the calling thread, as `seccomp_load` does with the default
    /// attributes (no flags; no_new_privs is `lxc.no_new_privs`'s business). Allocates
    /// nothing, so the child of `clone3` may call it.
    pub fn load(&self) -> Result<(), StartError> {
        let prog = libc::sock_fprog {
            // Checked against u16::MAX in `program`.
            len: self.insns.len() as u16,
            filter: self.insns.as_ptr().cast_mut(),
        };
        // SAFETY: seccomp(SECCOMP_SET_MODE_FILTER, 0, &prog): `prog` points at `len`
        // instructions that live in `self` for the duration of the call; the kernel copies
        // them.
        let r = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0,
                &prog as *const libc::sock_fprog,
            )
        };
        if r == 0 {
            Ok(())
        } else {
            Err(err(
                &self.path,
                0,
                format!("load the filter: {}", nix::errno::Errno::last()),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_common_profile_rejects_forced_umounts_and_knows_every_syscall() {
        let path = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../templates/config/common.seccomp"
        ));
        let p = read(path).unwrap();
        assert!(p.reject_force_umount, "LXC's common.seccomp has it");
        assert!(
            unknown_syscalls(&p).is_empty(),
            "{:?}",
            unknown_syscalls(&p)
        );
        program(&p).unwrap();
    }

    #[test]
    fn unknown_syscalls_are_listed() {
        let p = parse(
            Path::new("/p"),
            "2\ndenylist\n[all]\nkexec_load errno 1\nno_such_syscall_xyz errno 1\n",
        )
        .unwrap();
        assert_eq!(unknown_syscalls(&p), ["no_such_syscall_xyz"]);
        program(&p).unwrap();
    }

    #[test]
    fn parses_lxc_common_seccomp() {
        let path = Path::new("/usr/share/lxc/config/common.seccomp");
        let text = std::fs::read_to_string(path).unwrap_or_else(|_| {
            "2\ndenylist\nreject_force_umount  # comment this to allow umount -f;  not recommended\n[all]\nkexec_load errno 1\nopen_by_handle_at errno 1\ninit_module errno 1\nfinit_module errno 1\ndelete_module errno 1\n".into()
        });
        let p = parse(path, &text).unwrap();
        assert_eq!(p.version, 2);
        assert_eq!(p.default, Action::Allow);
        assert!(p.reject_force_umount);
        let names: Vec<&str> = p.rules.iter().map(|r| r.syscall.as_str()).collect();
        assert_eq!(
            names,
            [
                "kexec_load",
                "open_by_handle_at",
                "init_module",
                "finit_module",
                "delete_module"
            ]
        );
        assert!(p
            .rules
            .iter()
            .all(|r| r.action == Action::Errno(1) && r.arch.is_none()));
        compile(&p).unwrap();
    }

    #[test]
    fn v2_allowlist_sections_actions_and_conditions() {
        let text = "2\nallowlist errno 38\n[x86_64]\nread\nwrite allow\n[arm64]\nfoo_only_on_arm\n[all]\nioctl errno 1 [1,0x5401,SCMP_CMP_EQ]\nmount kill\nclone trap [0,0x10000000,SCMP_CMP_MASKED_EQ,0x10000000]\nno_such_syscall_xyz errno 5\n";
        let p = parse(Path::new("t"), text).unwrap();
        assert_eq!(p.default, Action::Errno(38));
        assert_eq!(
            p.rules[0],
            Rule {
                line: 4,
                arch: Some("x86_64".into()),
                syscall: "read".into(),
                action: Action::Allow,
                args: vec![]
            }
        );
        assert_eq!(
            p.rules[3].args,
            vec![ArgCond {
                index: 1,
                value: 0x5401,
                op: CmpOp::Eq
            }]
        );
        assert_eq!(p.rules[4].action, Action::Kill);
        assert_eq!(p.rules[5].args[0].op, CmpOp::MaskedEq(0x1000_0000));
        compile(&p).unwrap();
    }

    #[test]
    fn v2_denylist_default_rule_action_is_kill() {
        let p = parse(Path::new("t"), "2\nblacklist\nreboot\n").unwrap();
        assert_eq!(
            (p.default, p.rules[0].action),
            (Action::Allow, Action::Kill)
        );
    }

    #[test]
    fn v1_is_a_numeric_allowlist() {
        let p = parse(Path::new("t"), "1\nwhitelist\n0\n1\n60\n").unwrap();
        assert_eq!(p.version, 1);
        assert_eq!(p.default, Action::Kill);
        assert_eq!(
            p.rules
                .iter()
                .map(|r| r.syscall.as_str())
                .collect::<Vec<_>>(),
            ["0", "1", "60"]
        );
        compile(&p).unwrap();
        let e = parse(Path::new("/x.seccomp"), "1\nread\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "seccomp profile /x.seccomp:2: expected a syscall number, got \"read\""
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = parse(Path::new("/p"), "3\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "seccomp profile /p:1: unsupported version \"3\" (expected 1 or 2)"
        );
        let e = parse(Path::new("/p"), "2\ndenylist\nmount frobnicate\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "seccomp profile /p:3: unknown action \"frobnicate\""
        );
        let e = parse(
            Path::new("/p"),
            "2\ndenylist\nioctl errno 1 [9,1,SCMP_CMP_EQ]\n",
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("seccomp profile /p:3: invalid argument condition"),
            "{e}"
        );
        let e = parse(Path::new("/p"), "2\nmaybelist\n").unwrap_err();
        assert!(e.to_string().contains("unknown policy"), "{e}");
    }
}
