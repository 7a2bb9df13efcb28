//! The parser, the policy, and the compiled program run in rbpf's userspace eBPF VM.

use super::*;

const M: u8 = ACC_MKNOD;
const R: u8 = ACC_READ;
const W: u8 = ACC_WRITE;
const RW: u8 = R | W;

/// The policy of `(allow, value)` rules, e.g. `(false, "a")` for `devices.deny = a`.
fn policy(rules: &[(bool, &str)]) -> Policy {
    let mut p = Policy::default();
    for (allow, value) in rules {
        let key = if *allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        p.push(key, *allow, value).unwrap();
    }
    p
}

/// The device rules our shipped common.conf gives every Debian container on cgroup2.
fn common_conf() -> Policy {
    let text = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../templates/config/common.conf"
    ));
    let mut p = Policy::default();
    let mut seen = 0;
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        if let Some(file) = key.strip_prefix("lxc.cgroup2.") {
            if file.starts_with("devices.") {
                p.push(key, file == "devices.allow", value).unwrap();
                seen += 1;
            }
        }
    }
    assert!(seen > 5, "common.conf lost its device rules");
    p
}

/// Runs the compiled program on a `struct bpf_cgroup_dev_ctx` and returns its verdict.
fn run(p: &Policy, ty: u32, major: u32, minor: u32, access: u8) -> bool {
    let program = p.program();
    let vm = rbpf::EbpfVmRaw::new(Some(&program)).expect("rbpf accepts the program");
    let mut ctx = Vec::with_capacity(12);
    ctx.extend((ty | u32::from(access) << 16).to_le_bytes());
    ctx.extend(major.to_le_bytes());
    ctx.extend(minor.to_le_bytes());
    match vm.execute_program(&mut ctx).expect("the program runs") {
        0 => false,
        1 => true,
        other => panic!("the program returned {other}, not 0 or 1"),
    }
}

/// The program agrees with [`Policy::decide`] on every request built from these numbers.
fn agrees_everywhere(p: &Policy, numbers: &[u32]) {
    for ty in [DEV_BLOCK, DEV_CHAR] {
        for &major in numbers {
            for &minor in numbers {
                for access in 1..=ACC_ALL {
                    assert_eq!(
                        run(p, ty, major, minor, access),
                        p.decide(ty, major, minor, access),
                        "{p:?}: type {ty} {major}:{minor} access {access}"
                    );
                }
            }
        }
    }
}

#[test]
fn parses_rules_like_the_config_checker() {
    assert_eq!(parse("a"), Ok(Entry::All));
    assert_eq!(
        parse("c 1:3 rwm"),
        Ok(Entry::Rule {
            ty: DevType::Char,
            major: Some(1),
            minor: Some(3),
            access: M | R | W
        })
    );
    assert_eq!(
        parse("b *:* m"),
        Ok(Entry::Rule {
            ty: DevType::Block,
            major: None,
            minor: None,
            access: M
        })
    );
    // Access defaults to rwm; type a names both kinds; repeated letters are harmless.
    assert_eq!(
        parse(" c  136:* "),
        Ok(Entry::Rule {
            ty: DevType::Char,
            major: Some(136),
            minor: None,
            access: M | R | W
        })
    );
    assert_eq!(
        parse("a 10:200 rr"),
        Ok(Entry::Rule {
            ty: DevType::Any,
            major: Some(10),
            minor: Some(200),
            access: R
        })
    );
    for bad in [
        "",
        "x 1:3",
        "c 1",
        "c 1:3 rx",
        "c 1:3 rwm extra",
        "c :3",
        "c 1:-3",
        "c 2147483648:0",
        "c 1:99999999999",
        "all",
    ] {
        assert!(parse(bad).is_err(), "{bad:?}");
    }
    let err = Policy::default()
        .push("lxc.cgroup2.devices.allow", true, "c 1:3 rx")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid device rule lxc.cgroup2.devices.allow = \"c 1:3 rx\": the access is some of r, w and m"
    );
}

#[test]
fn a_sets_the_default_and_discards_earlier_rules() {
    assert_eq!(policy(&[]), Policy::default());
    assert!(Policy::default().default_allow, "no a rule: allow, as v1");
    let p = policy(&[(true, "c 1:3 rwm"), (false, "b 8:0 w"), (false, "a")]);
    assert!(!p.default_allow);
    assert!(p.rules.is_empty());
    let p = policy(&[(false, "a"), (true, "c 1:3 rwm"), (true, "a")]);
    assert!(p.default_allow);
    assert!(p.rules.is_empty());
    // a *:* rwm matches every request: exactly a bare a.
    assert_eq!(
        policy(&[(true, "c 1:3"), (false, "a *:* rwm")]),
        policy(&[(false, "a")])
    );
    // a *:* r does not: it stays a rule.
    assert_eq!(policy(&[(false, "a"), (true, "a *:* r")]).rules.len(), 1);
}

#[test]
fn a_first_rule_that_agrees_with_the_default_is_dropped() {
    let p = policy(&[(false, "a"), (false, "c 1:3 rwm"), (true, "c 1:5 rwm")]);
    assert_eq!(p.rules.len(), 1);
    // Not once a rule with the other verdict precedes it: it may override that one.
    let p = policy(&[(false, "a"), (true, "c *:* rwm"), (false, "c 1:3 w")]);
    assert_eq!(p.rules.len(), 2);
    assert!(p.decide(DEV_CHAR, 1, 3, R));
    assert!(!p.decide(DEV_CHAR, 1, 3, RW));
}

#[test]
fn encodes_the_kernel_layout() {
    let bytes = |i: Insn| i.to_bytes();
    assert_eq!(bytes(Insn::ldxw(R2, R1, 4)), [0x61, 0x12, 4, 0, 0, 0, 0, 0]);
    assert_eq!(bytes(Insn::mov_reg(R3, R2)), [0xbf, 0x23, 0, 0, 0, 0, 0, 0]);
    assert_eq!(
        bytes(Insn::alu(RSH, R3, 16)),
        [0x77, 0x03, 0, 0, 16, 0, 0, 0]
    );
    assert_eq!(
        bytes(Insn::alu(AND, R0, !6)),
        [0x57, 0x00, 0, 0, 0xf9, 0xff, 0xff, 0xff]
    );
    assert_eq!(bytes(Insn::mov_imm(R0, 1)), [0xb7, 0x00, 0, 0, 1, 0, 0, 0]);
    let mut j = Insn::jump(JNE, R4, 136);
    j.off = 3;
    assert_eq!(bytes(j), [0x55, 0x04, 3, 0, 136, 0, 0, 0]);
    assert_eq!(bytes(Insn::jump(JEQ, R0, 0))[0], 0x15);
    assert_eq!(bytes(Insn::exit()), [0x95, 0, 0, 0, 0, 0, 0, 0]);
    // The empty policy: unpack the context, return allow.
    assert_eq!(Policy::default().program().len(), 8 * 8);
}

#[test]
fn common_conf_in_the_vm() {
    let p = common_conf();
    assert!(!p.default_allow);
    for (ty, major, minor, access, allowed, what) in [
        (DEV_CHAR, 1, 3, RW, true, "/dev/null rw"),
        (DEV_CHAR, 1, 3, M, true, "mknod /dev/null"),
        (DEV_CHAR, 1, 3, M | R | W, true, "/dev/null rwm"),
        (DEV_CHAR, 1, 5, R, true, "/dev/zero"),
        (DEV_CHAR, 1, 9, RW, true, "/dev/urandom"),
        (DEV_CHAR, 5, 2, RW, true, "/dev/ptmx"),
        (DEV_CHAR, 136, 5, RW, true, "/dev/pts/5"),
        (DEV_CHAR, 10, 229, RW, true, "/dev/fuse"),
        (DEV_BLOCK, 8, 0, R, false, "/dev/sda read"),
        (DEV_BLOCK, 8, 0, W, false, "/dev/sda write"),
        (DEV_BLOCK, 8, 0, M, true, "mknod /dev/sda"),
        (
            DEV_CHAR,
            10,
            200,
            R,
            false,
            "/dev/net/tun (debian.common.conf adds it)",
        ),
        (DEV_CHAR, 1, 1, R, false, "/dev/mem"),
        (DEV_CHAR, 4, 1, W, false, "/dev/tty1"),
        (DEV_CHAR, 254, 0, M, true, "mknod of any char device"),
        (DEV_CHAR, 1, 3, M | R, true, "m and r both allowed"),
        (
            DEV_BLOCK,
            259,
            0,
            M | R,
            false,
            "m allowed, r not: the whole request fails",
        ),
    ] {
        assert_eq!(run(&p, ty, major, minor, access), allowed, "{what}");
        assert_eq!(p.decide(ty, major, minor, access), allowed, "{what}");
    }
    agrees_everywhere(&p, &[0, 1, 3, 5, 8, 10, 136, 200, 229]);
}

#[test]
fn allow_a_then_deny_in_the_vm() {
    let p = policy(&[(true, "a"), (false, "b 8:* rw"), (false, "c 10:200 w")]);
    assert!(run(&p, DEV_CHAR, 1, 3, RW));
    assert!(!run(&p, DEV_BLOCK, 8, 1, R), "any denied bit denies");
    assert!(run(&p, DEV_BLOCK, 8, 1, M), "mknod was not denied");
    assert!(run(&p, DEV_BLOCK, 9, 1, RW));
    assert!(run(&p, DEV_CHAR, 10, 200, R));
    assert!(!run(&p, DEV_CHAR, 10, 200, RW));
    agrees_everywhere(&p, &[1, 3, 8, 10, 200]);
}

#[test]
fn the_last_matching_rule_wins_in_the_vm() {
    // Allowed, then denied, then allowed again for reads only.
    let p = policy(&[
        (false, "a"),
        (true, "c 1:3 rwm"),
        (false, "c 1:3 w"),
        (true, "a 1:* r"),
    ]);
    assert!(run(&p, DEV_CHAR, 1, 3, R), "the last rule allows r");
    assert!(
        !run(&p, DEV_CHAR, 1, 3, W),
        "the deny is the last to match w"
    );
    assert!(
        !run(&p, DEV_CHAR, 1, 3, RW),
        "rw is not a subset of r: deny w decides"
    );
    assert!(run(&p, DEV_CHAR, 1, 3, M), "only the first allow matches m");
    assert!(run(&p, DEV_BLOCK, 1, 7, R), "type a matches block devices");
    assert!(
        !run(&p, DEV_BLOCK, 1, 7, W),
        "nothing allows that: the default"
    );
    agrees_everywhere(&p, &[0, 1, 3, 7]);

    // The same rules the other way round: the early allow no longer wins.
    let p = policy(&[(false, "a"), (true, "a 1:* r"), (false, "c 1:3 rw")]);
    assert!(!run(&p, DEV_CHAR, 1, 3, R));
    assert!(run(&p, DEV_CHAR, 1, 5, R));
    agrees_everywhere(&p, &[1, 3, 5]);
}

#[test]
fn empty_and_allow_all_programs_allow_in_the_vm() {
    for p in [Policy::default(), policy(&[(false, "a"), (true, "a")])] {
        assert!(run(&p, DEV_BLOCK, 8, 0, M | R | W));
        assert!(run(&p, DEV_CHAR, 1, 3, R));
    }
    let p = policy(&[(false, "a")]);
    assert!(!run(&p, DEV_CHAR, 1, 3, R));
    assert!(!run(&p, DEV_BLOCK, 8, 0, M));
}
