//! Entry points for the fuzz targets (`fuzz/`, built with the `fuzzing` feature): each
//! takes arbitrary bytes, runs them through the parser a hostile input reaches, and
//! panics only when the parser breaks one of its own promises (a panic, a round trip
//! that changes the value, a device program that disagrees with the rules it came from).
//!
//! Not part of the API (`#[doc(hidden)]`, absent without the feature). The unit tests
//! replay every seed and crash-regression input (`fuzz/seeds/<target>/`,
//! `fuzz/regressions/<target>/`) through the same functions, so `make unit` keeps them
//! passing without a fuzzer.

use std::path::Path;

use lxcrs_config::legacy::update_legacy_config;
use lxcrs_config::Config;

use crate::cgroups::{device_policy, select_device_rules};
use crate::commands::options::{StartOptions, StartStatus};
use crate::commands::{Request, Response};
use crate::start::seccomp;

/// A container config (`lxc.*` text, as `Config::load` reads it): it must never panic,
/// and any text it accepts must survive a save/reload cycle and a few edits.
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = update_legacy_config(&text);
    let Ok(mut config) = Config::parse(&text, Path::new("fuzz")) else {
        return;
    };
    let saved = config.to_text();
    let reloaded = Config::parse(&saved, Path::new("fuzz")).expect("accepted text must reparse");
    assert_eq!(reloaded.to_text(), saved);
    for key in [
        "lxc.net",
        "lxc.net.0",
        "lxc.cap.drop",
        "lxc.mount.auto",
        "lxc.cgroup2",
        "lxc.hook",
    ] {
        let _ = config.get_item(key);
    }
    let _ = config.set_item("lxc.uts.name", "fuzz");
    let _ = config.set_item("lxc.cap.drop", "sys_admin");
    let _ = config.clear_item("lxc.net.0");
    let _ = Config::parse(&config.to_text(), Path::new("fuzz")).expect("edited text must reparse");
}

/// One message as the monitor and the tools decode it from a socket: a command request
/// (what any client sends the monitor), a response, the start options and the start
/// status. Whatever decodes must encode to bytes that decode to the same value.
pub fn wire(data: &[u8]) {
    if let Ok(req) = Request::decode(data) {
        assert_eq!(Request::decode(&req.encode()).as_ref(), Ok(&req));
    }
    if let Ok(resp) = Response::decode(data) {
        assert_eq!(Response::decode(&resp.encode()).as_ref(), Ok(&resp));
    }
    if let Ok(opts) = StartOptions::decode(data) {
        assert_eq!(StartOptions::decode(&opts.encode()).as_ref(), Ok(&opts));
    }
    if let Ok(st) = StartStatus::decode(data) {
        assert_eq!(StartStatus::decode(&st.encode()).as_ref(), Ok(&st));
    }
}

/// An `lxc.seccomp.profile` file: parsed, then, when every syscall is known here (an
/// unknown one only prints a warning), compiled with libseccomp as the start does.
pub fn seccomp_profile(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(profile) = seccomp::parse(Path::new("fuzz"), &text) else {
        return;
    };
    assert!(profile.version == 1 || profile.version == 2);
    for rule in &profile.rules {
        assert!(!rule.syscall.is_empty() && !rule.syscall.contains(char::is_whitespace));
    }
    // libseccomp's compile is ~100 times slower than the parser: bound it.
    if profile.rules.len() <= 64 && seccomp::unknown_syscalls(&profile).is_empty() {
        let _ = seccomp::program(&profile);
    }
}

/// Device rules: lines of `KEY = VALUE` (`lxc.cgroup.devices.*`, `lxc.cgroup2.devices.*`)
/// selected for a v1 and for a cgroup2 host, compiled into the eBPF device program; the
/// program, run in a small interpreter, must give the verdict the rules give, for every
/// device type, access and the device numbers the rules name.
pub fn device_rules(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let pairs: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    for native_v2 in [false, true] {
        let Ok(rules) = select_device_rules(&pairs, native_v2) else {
            continue;
        };
        let Ok(policy) = device_policy(&rules) else {
            continue;
        };
        let bytes = policy.program();
        let program = instructions(&bytes);
        // The numbers the rules name decide; 0 and MAX stand for the others.
        let mut numbers = vec![0, u32::MAX];
        for r in &policy.rules {
            numbers.extend(r.major.into_iter().chain(r.minor));
        }
        numbers.sort_unstable();
        numbers.dedup();
        numbers.truncate(8);
        for ty in [1, 2] {
            for access in 1..=7u8 {
                for &major in &numbers {
                    for &minor in &numbers {
                        assert_eq!(
                            run_device_program(&program, ty, major, minor, access),
                            policy.decide(ty, major, minor, access),
                            "{policy:?}: type {ty} {major}:{minor} access {access}"
                        );
                    }
                }
            }
        }
    }
}

/// The 8-byte instructions of a program, as `BPF_PROG_LOAD` takes them.
fn instructions(program: &[u8]) -> Vec<&[u8]> {
    let chunks = program.chunks_exact(8);
    assert!(!program.is_empty() && chunks.remainder().is_empty());
    chunks.collect()
}

/// Runs a device program (only the instructions `cgroups::v2::devices` emits) on the
/// context `{ type | access << 16, major, minor }`; panics on anything the kernel's
/// verifier would refuse (a backward or out-of-range jump, no exit, a verdict not 0/1).
fn run_device_program(insns: &[&[u8]], ty: u32, major: u32, minor: u32, access: u8) -> bool {
    let ctx = [ty | u32::from(access) << 16, major, minor];
    let mut reg = [0u64; 11];
    let mut pc = 0;
    loop {
        let insn = insns.get(pc).expect("the program runs off its end");
        let (code, dst, src) = (
            insn[0],
            usize::from(insn[1] & 0xf),
            usize::from(insn[1] >> 4),
        );
        let off = i16::from_le_bytes([insn[2], insn[3]]);
        let imm = i64::from(i32::from_le_bytes([insn[4], insn[5], insn[6], insn[7]])) as u64;
        pc += 1;
        match code {
            0x61 => {
                assert!(
                    src == 1 && matches!(off, 0 | 4 | 8),
                    "load outside the context"
                );
                reg[dst] = u64::from(ctx[off as usize / 4]);
            }
            0x57 => reg[dst] &= imm,
            0x77 => reg[dst] >>= imm,
            0xb7 => reg[dst] = imm,
            0xbf => reg[dst] = reg[src],
            0x15 | 0x55 => {
                assert!(off >= 0, "backward jump");
                if (reg[dst] == imm) == (code == 0x15) {
                    pc += off as usize;
                }
            }
            0x95 => {
                assert!(reg[0] <= 1, "verdict {} is not 0 or 1", reg[0]);
                return reg[0] == 1;
            }
            other => panic!("unexpected instruction {other:#x}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// The files of `fuzz/<kind>/<target>/` (none when the directory does not exist).
    fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fuzz")
            .join(kind)
            .join(target);
        let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => panic!("read {}: {e}", dir.display()),
        };
        files.sort();
        files
    }

    /// Every seed and regression input of `target` through `entry`; returns how many seeds.
    fn replay(target: &str, entry: fn(&[u8])) -> usize {
        let seeds = inputs("seeds", target);
        for file in seeds.iter().chain(&inputs("regressions", target)) {
            let data = std::fs::read(file).unwrap();
            // A panic names the input (the harness prints the message of the first).
            eprintln!("replaying {}", file.display());
            entry(&data);
        }
        seeds.len()
    }

    #[test]
    fn config_seeds_and_fixtures() {
        assert!(replay("parse_config", config) >= 3);
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/tests/fixtures");
        for e in std::fs::read_dir(fixtures).unwrap() {
            config(&std::fs::read(e.unwrap().path()).unwrap());
        }
    }

    /// The seeds are valid inputs, so the fuzzer starts past the first check.
    fn seed_texts(target: &str) -> Vec<String> {
        inputs("seeds", target)
            .iter()
            .map(|f| std::fs::read_to_string(f).unwrap())
            .collect()
    }

    #[test]
    fn wire_seeds() {
        assert!(replay("wire", wire) >= 5);
        for file in inputs("seeds", "wire") {
            let data = std::fs::read(&file).unwrap();
            assert!(
                Request::decode(&data).is_ok()
                    || Response::decode(&data).is_ok()
                    || StartOptions::decode(&data).is_ok()
                    || StartStatus::decode(&data).is_ok(),
                "{} decodes as no message",
                file.display()
            );
        }
    }

    #[test]
    fn seccomp_profile_seeds() {
        assert!(replay("seccomp_profile", seccomp_profile) >= 3);
        for text in seed_texts("seccomp_profile") {
            let profile = seccomp::parse(Path::new("seed"), &text).unwrap();
            seccomp::program(&profile).unwrap();
        }
    }

    #[test]
    fn device_rules_seeds() {
        assert!(replay("device_rules", device_rules) >= 3);
        for text in seed_texts("device_rules") {
            let pairs: Vec<(String, String)> = text
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .collect();
            let rules = select_device_rules(&pairs, true).unwrap();
            assert!(!device_policy(&rules).unwrap().rules.is_empty());
        }
    }

    /// The interpreter must catch a program that disagrees with its rules.
    #[test]
    fn device_interpreter_sees_the_verdict() {
        let rules = [(
            "lxc.cgroup2.devices.deny".to_string(),
            "c 1:3 w".to_string(),
        )];
        let selected = select_device_rules(&rules, true).unwrap();
        let bytes = device_policy(&selected).unwrap().program();
        let program = instructions(&bytes);
        assert!(!run_device_program(&program, 2, 1, 3, 4));
        assert!(run_device_program(&program, 2, 1, 3, 2));
        assert!(run_device_program(&program, 1, 1, 3, 4));
    }
}
