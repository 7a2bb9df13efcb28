//! cgroup2 device rules: `lxc.cgroup2.devices.allow` / `.deny` compiled into the eBPF
//! program (`BPF_PROG_TYPE_CGROUP_DEVICE`) that cgroup2 runs where v1 had devices files.
//!
//! Semantics, those of the v1 devices controller and LXC:
//! - rules apply in config order; `a` sets the default (`deny a`: deny everything not
//!   allowed later; `allow a`: allow everything not denied later) and discards the rules
//!   before it; without any `a` the default is allow, as a new v1 cgroup inherits the
//!   root's allow-all;
//! - for a request (type, major, minor, access) the last matching rule decides: an allow rule
//!   matches when the requested access is a subset of its access, a deny rule when the request
//!   asks for any of its access bits; no match leaves the default.
//!
//! The program tests the rules last to first and returns the verdict of the first that
//! matches, which is the last matching one in config order; falling through returns the
//! default. `Policy::decide` states the same semantics in plain Rust, and the tests run the
//! compiled program in a userspace eBPF VM against it.
//!
//! Why the assembly is hand-rolled: the program is straight-line compares on three context
//! words, with seven opcodes. The crates that build eBPF (aya, libbpf-rs, libbpf-sys) load
//! ELF objects compiled by clang and pull libbpf or a whole loader; none assembles a raw
//! cgroup-device program without them. rbpf has a text assembler but is a userspace VM: we
//! use it only as a dev-dependency, to run the program in the tests.

use super::super::error::{CgroupError, Result};

/// `BPF_DEVCG_ACC_MKNOD`, `_READ`, `_WRITE`: the access bits in `access_type >> 16`.
const ACC_MKNOD: u8 = 1;
const ACC_READ: u8 = 2;
const ACC_WRITE: u8 = 4;
const ACC_ALL: u8 = ACC_MKNOD | ACC_READ | ACC_WRITE;

/// `BPF_DEVCG_DEV_BLOCK`, `BPF_DEVCG_DEV_CHAR`: the device type in `access_type & 0xffff`.
const DEV_BLOCK: u32 = 1;
const DEV_CHAR: u32 = 2;

/// Which devices a rule names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DevType {
    /// `a`: block and character devices.
    Any,
    /// `b`.
    Block,
    /// `c`.
    Char,
}

impl DevType {
    /// The `BPF_DEVCG_DEV_*` value to compare with, `None` for both.
    fn code(self) -> Option<u32> {
        match self {
            Self::Any => None,
            Self::Block => Some(DEV_BLOCK),
            Self::Char => Some(DEV_CHAR),
        }
    }
}

/// One `TYPE MAJ:MIN [ACCESS]` rule; `None` numbers are `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rule {
    pub(crate) allow: bool,
    pub(crate) ty: DevType,
    pub(crate) major: Option<u32>,
    pub(crate) minor: Option<u32>,
    /// `ACC_*` bits.
    pub(crate) access: u8,
}

impl Rule {
    /// True when the rule matches a request (`ty` a `DEV_*` value, `access` `ACC_*` bits).
    #[cfg(any(test, feature = "fuzzing"))]
    fn matches(&self, ty: u32, major: u32, minor: u32, access: u8) -> bool {
        self.ty.code().is_none_or(|t| t == ty)
            && self.major.is_none_or(|m| m == major)
            && self.minor.is_none_or(|m| m == minor)
            && if self.allow {
                access & !self.access == 0
            } else {
                access & self.access != 0
            }
    }

    /// `a *:* rwm` matches every request, so it acts exactly as a bare `a`.
    fn matches_everything(&self) -> bool {
        self.ty == DevType::Any
            && self.major.is_none()
            && self.minor.is_none()
            && self.access == ACC_ALL
    }
}

/// What one `devices.allow` / `devices.deny` value says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entry {
    /// `a`: every device, every access.
    All,
    /// `TYPE MAJ:MIN [ACCESS]`.
    Rule {
        ty: DevType,
        major: Option<u32>,
        minor: Option<u32>,
        access: u8,
    },
}

/// Parses a rule value: `a`, or `TYPE MAJ:MIN [ACCESS]` (access defaults to `rwm`).
pub(crate) fn parse(value: &str) -> std::result::Result<Entry, &'static str> {
    let fields: Vec<&str> = value.split_ascii_whitespace().collect();
    let (ty, numbers, access) = match fields[..] {
        ["a"] => return Ok(Entry::All),
        [ty, numbers] => (ty, numbers, "rwm"),
        [ty, numbers, access] => (ty, numbers, access),
        _ => return Err("expected a, or TYPE MAJOR:MINOR [ACCESS], e.g. c 1:3 rwm"),
    };
    let ty = match ty {
        "a" => DevType::Any,
        "b" => DevType::Block,
        "c" => DevType::Char,
        _ => return Err("the device type is a (all), b (block) or c (char)"),
    };
    let (major, minor) = numbers
        .split_once(':')
        .ok_or("the device numbers are MAJOR:MINOR, each a number or *")?;
    Ok(Entry::Rule {
        ty,
        major: number(major)?,
        minor: number(minor)?,
        access: access_bits(access)?,
    })
}

/// A major or minor number, `None` for `*`. The program compares with 32-bit immediates
/// that the kernel sign-extends, so numbers stop at `i32::MAX` (Linux's are 12 and 20 bits).
fn number(text: &str) -> std::result::Result<Option<u32>, &'static str> {
    if text == "*" {
        return Ok(None);
    }
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err("a device number is digits or *");
    }
    match text.parse::<u32>() {
        Ok(n) if i32::try_from(n).is_ok() => Ok(Some(n)),
        _ => Err("a device number is at most 2147483647"),
    }
}

fn access_bits(text: &str) -> std::result::Result<u8, &'static str> {
    if text.is_empty() {
        return Err("the access is some of r, w and m");
    }
    text.bytes().try_fold(0, |bits, b| match b {
        b'r' => Ok(bits | ACC_READ),
        b'w' => Ok(bits | ACC_WRITE),
        b'm' => Ok(bits | ACC_MKNOD),
        _ => Err("the access is some of r, w and m"),
    })
}

/// The device policy of a container: a default and the rules that override it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Policy {
    pub(crate) default_allow: bool,
    /// In config order; the last matching one decides.
    pub(crate) rules: Vec<Rule>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            default_allow: true,
            rules: Vec::new(),
        }
    }
}

impl Policy {
    /// Adds the value of `key` (`lxc.cgroup2.devices.allow` when `allow`, else `.deny`).
    pub(crate) fn push(&mut self, key: &str, allow: bool, value: &str) -> Result<()> {
        let entry = parse(value).map_err(|reason| CgroupError::InvalidDeviceRule {
            key: key.into(),
            value: value.into(),
            reason,
        })?;
        let rule = match entry {
            Entry::All => None,
            Entry::Rule {
                ty,
                major,
                minor,
                access,
            } => Some(Rule {
                allow,
                ty,
                major,
                minor,
                access,
            }),
        };
        match rule {
            None => self.reset(allow),
            Some(rule) if rule.matches_everything() => self.reset(allow),
            // The earliest rule can only give what the default gives, matched or not.
            Some(rule) if self.rules.is_empty() && rule.allow == self.default_allow => {}
            Some(rule) => self.rules.push(rule),
        }
        Ok(())
    }

    fn reset(&mut self, allow: bool) {
        self.default_allow = allow;
        self.rules.clear();
    }

    /// The verdict for a request, straight from the semantics; the program must agree.
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn decide(&self, ty: u32, major: u32, minor: u32, access: u8) -> bool {
        self.rules
            .iter()
            .rev()
            .find(|r| r.matches(ty, major, minor, access))
            .map_or(self.default_allow, |r| r.allow)
    }

    /// The eBPF program, as the bytes `BPF_PROG_LOAD` takes.
    pub(crate) fn program(&self) -> Vec<u8> {
        self.compile()
            .into_iter()
            .flat_map(Insn::to_bytes)
            .collect()
    }

    fn compile(&self) -> Vec<Insn> {
        // r1 is the struct bpf_cgroup_dev_ctx: u32 access_type (type | access << 16),
        // u32 major, u32 minor. Unpack it once into r2 (type), r3 (access), r4, r5.
        let mut prog = vec![
            Insn::ldxw(R2, R1, 0),
            Insn::mov_reg(R3, R2),
            Insn::alu(RSH, R3, 16),
            Insn::alu(AND, R2, 0xffff),
            Insn::ldxw(R4, R1, 4),
            Insn::ldxw(R5, R1, 8),
        ];
        for rule in self.rules.iter().rev() {
            prog.extend(rule_block(rule));
        }
        prog.push(Insn::mov_imm(R0, i32::from(self.default_allow)));
        prog.push(Insn::exit());
        prog
    }
}

/// Tests for one rule, each jumping past the block on a mismatch, then `return verdict`.
fn rule_block(rule: &Rule) -> Vec<Insn> {
    let mut block = Vec::new();
    // Device numbers fit an i32 by `number`, types are small constants.
    let imm = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
    if let Some(ty) = rule.ty.code() {
        block.push(Insn::jump(JNE, R2, imm(ty)));
    }
    if let Some(major) = rule.major {
        block.push(Insn::jump(JNE, R4, imm(major)));
    }
    if let Some(minor) = rule.minor {
        block.push(Insn::jump(JNE, R5, imm(minor)));
    }
    block.push(Insn::mov_reg(R0, R3));
    if rule.allow {
        // Matches when no requested bit lies outside the rule's access.
        block.push(Insn::alu(AND, R0, !i32::from(rule.access)));
        block.push(Insn::jump(JNE, R0, 0));
    } else {
        // Matches when any requested bit is one of the rule's.
        block.push(Insn::alu(AND, R0, i32::from(rule.access)));
        block.push(Insn::jump(JEQ, R0, 0));
    }
    block.push(Insn::mov_imm(R0, i32::from(rule.allow)));
    block.push(Insn::exit());
    // Every jump lands just after the block: offsets count from the next instruction.
    let len = block.len();
    for (i, insn) in block.iter_mut().enumerate() {
        if insn.is_conditional_jump() {
            insn.off = i16::try_from(len - 1 - i).unwrap_or(i16::MAX);
        }
    }
    block
}

// The encoder: struct bpf_insn is { u8 code; u8 dst:4, src:4; s16 off; s32 imm }.
const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R3: u8 = 3;
const R4: u8 = 4;
const R5: u8 = 5;

/// Operation bits of the ALU and JMP classes.
const AND: u8 = 0x50;
const RSH: u8 = 0x70;
const MOV: u8 = 0xb0;
const JEQ: u8 = 0x10;
const JNE: u8 = 0x50;
const EXIT: u8 = 0x90;

/// Class and source bits.
const CLASS_LDX: u8 = 0x01;
const CLASS_JMP: u8 = 0x05;
const CLASS_ALU64: u8 = 0x07;
const SIZE_W_MODE_MEM: u8 = 0x60;
const SRC_K: u8 = 0x00;
const SRC_X: u8 = 0x08;

/// One eBPF instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Insn {
    code: u8,
    dst: u8,
    src: u8,
    off: i16,
    imm: i32,
}

impl Insn {
    /// `dst = *(u32 *)(src + off)`.
    fn ldxw(dst: u8, src: u8, off: i16) -> Self {
        Self::new(CLASS_LDX | SIZE_W_MODE_MEM, dst, src, off, 0)
    }

    /// `dst op= imm` on 64 bits (imm sign-extended).
    fn alu(op: u8, dst: u8, imm: i32) -> Self {
        Self::new(CLASS_ALU64 | SRC_K | op, dst, 0, 0, imm)
    }

    fn mov_imm(dst: u8, imm: i32) -> Self {
        Self::alu(MOV, dst, imm)
    }

    fn mov_reg(dst: u8, src: u8) -> Self {
        Self::new(CLASS_ALU64 | SRC_X | MOV, dst, src, 0, 0)
    }

    /// `if dst op imm goto +off`; the offset is set by [`rule_block`].
    fn jump(op: u8, dst: u8, imm: i32) -> Self {
        Self::new(CLASS_JMP | SRC_K | op, dst, 0, 0, imm)
    }

    fn exit() -> Self {
        Self::new(CLASS_JMP | EXIT, 0, 0, 0, 0)
    }

    fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Self {
        Self {
            code,
            dst,
            src,
            off,
            imm,
        }
    }

    fn is_conditional_jump(&self) -> bool {
        self.code & 0x07 == CLASS_JMP && self.code & 0xf0 != EXIT
    }

    /// The instruction in the host's layout (the bit-field order follows the byte order).
    fn to_bytes(self) -> [u8; 8] {
        let regs = if cfg!(target_endian = "little") {
            self.src << 4 | self.dst
        } else {
            self.dst << 4 | self.src
        };
        let [o0, o1] = self.off.to_ne_bytes();
        let [i0, i1, i2, i3] = self.imm.to_ne_bytes();
        [self.code, regs, o0, o1, i0, i1, i2, i3]
    }
}

#[cfg(test)]
mod tests;
