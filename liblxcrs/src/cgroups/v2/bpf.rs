//! The two bpf(2) calls a cgroup2 device program needs: `BPF_PROG_LOAD`, then
//! `BPF_PROG_ATTACH` to the payload cgroup's directory.
//!
//! libc and nix have no wrapper for bpf(2), and the crates that do (aya, libbpf-rs) bring a
//! loader for ELF objects we do not have: two `#[repr(C)]` prefixes of `union bpf_attr` and
//! `syscall(SYS_bpf)` are all it takes. The kernel accepts an attr shorter than its own
//! (`bpf_check_uarg_tail_zero`) and treats the missing tail as zero.
//!
//! Once attached, the program lives as long as the cgroup: the kernel holds its own
//! reference, so the program and directory fds are closed on return.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{self, OFlag};
use nix::sys::stat::Mode;

use crate::cgroups::error::{CgroupError, Result};

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
/// Lets systemd inside the container attach its own device programs to its sub-cgroups
/// (they then run in addition to ours, and a device must pass all of them).
const BPF_F_ALLOW_MULTI: u32 = 2;
/// The device program helpers are GPL-only; the license string must say so.
const LICENSE: &CStr = c"GPL";
/// Shown by `bpftool prog` (at most 15 characters).
const PROG_NAME: &[u8] = b"lxcrs_devices";
/// Room for the verifier's log of a rejected program (ours take about ten instructions per rule).
const LOG_SIZE: u32 = 1 << 16;

/// The `BPF_PROG_LOAD` part of `union bpf_attr`, up to `expected_attach_type`.
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// The `BPF_PROG_ATTACH` part of `union bpf_attr`, up to `replace_bpf_fd`.
#[repr(C)]
#[derive(Default)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// Loads `program` (eBPF instructions, 8 bytes each) and attaches it to the cgroup2
/// directory `cgroup`.
pub(crate) fn attach_device_program(cgroup: &Path, program: &[u8]) -> Result<()> {
    #[cfg(test)]
    if let Some(recorded) = fake::record(cgroup, program) {
        return recorded;
    }
    let prog = load(cgroup, program)?;
    // The directory itself is the attach target: O_RDONLY suffices, O_DIRECTORY makes sure.
    let dir = fcntl::open(
        cgroup,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|errno| CgroupError::BpfOpenCgroup {
        path: cgroup.to_path_buf(),
        errno,
    })?;
    attach(cgroup, &dir, &prog)
}

/// `BPF_PROG_LOAD` of a `BPF_PROG_TYPE_CGROUP_DEVICE` program. A refusal is retried once with
/// a log buffer, so that the error carries the verifier's reasons (the fast path pays
/// nothing for logging).
fn load(cgroup: &Path, program: &[u8]) -> Result<OwnedFd> {
    let mut prog_name = [0u8; 16];
    prog_name[..PROG_NAME.len()].copy_from_slice(PROG_NAME);
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: u32::try_from(program.len() / 8).unwrap_or(u32::MAX),
        insns: program.as_ptr() as u64,
        license: LICENSE.as_ptr() as u64,
        prog_name,
        ..Default::default()
    };
    let first = match bpf_fd(BPF_PROG_LOAD, &mut attr) {
        Ok(fd) => return Ok(fd),
        Err(errno) => errno,
    };
    let mut log = vec![0u8; LOG_SIZE as usize];
    attr.log_level = 1;
    attr.log_size = LOG_SIZE;
    attr.log_buf = log.as_mut_ptr() as u64;
    if let Ok(fd) = bpf_fd(BPF_PROG_LOAD, &mut attr) {
        return Ok(fd);
    }
    let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
    let log = String::from_utf8_lossy(&log[..end]).trim_end().to_string();
    Err(CgroupError::BpfLoad {
        path: cgroup.to_path_buf(),
        insns: program.len() / 8,
        errno: first,
        hint: load_hint(first),
        log,
    })
}

/// `BPF_PROG_ATTACH` of `prog` to the cgroup open at `dir`, allowing more programs below.
fn attach(cgroup: &Path, dir: &OwnedFd, prog: &OwnedFd) -> Result<()> {
    let fd = |f: &OwnedFd| u32::try_from(f.as_raw_fd()).unwrap_or(u32::MAX);
    let mut attr = ProgAttachAttr {
        target_fd: fd(dir),
        attach_bpf_fd: fd(prog),
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        ..Default::default()
    };
    bpf(BPF_PROG_ATTACH, &mut attr)
        .map(drop)
        .map_err(|errno| CgroupError::BpfAttach {
            path: cgroup.to_path_buf(),
            errno,
            hint: attach_hint(errno),
        })
}

/// One bpf(2) call that returns a new fd.
fn bpf_fd<T>(cmd: libc::c_long, attr: &mut T) -> std::result::Result<OwnedFd, Errno> {
    let fd = i32::try_from(bpf(cmd, attr)?).map_err(|_| Errno::EOVERFLOW)?;
    // SAFETY: a successful BPF_PROG_LOAD returns a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// One bpf(2) call; `attr` is a `#[repr(C)]` prefix of `union bpf_attr` for `cmd`.
fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> std::result::Result<libc::c_long, Errno> {
    // SAFETY: attr points to a live, initialised struct of size_of::<T>() bytes, the size we
    // pass; the kernel reads no more than that, and the pointers inside it (instructions,
    // license, log buffer) point to memory the caller keeps alive for this call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            std::ptr::from_mut(attr),
            std::mem::size_of::<T>(),
        )
    };
    if ret < 0 {
        Err(Errno::last())
    } else {
        Ok(ret)
    }
}

fn load_hint(errno: Errno) -> Option<&'static str> {
    match errno {
        Errno::ENOSYS => Some("the kernel lacks the bpf(2) syscall (CONFIG_BPF_SYSCALL), or a seccomp filter blocks it"),
        Errno::EINVAL => Some("the kernel lacks CONFIG_CGROUP_BPF (device programs for cgroup2), or rejected the program"),
        Errno::EPERM => Some("loading a device program needs CAP_BPF and CAP_SYS_ADMIN in the host's user namespace (root on the host)"),
        Errno::EACCES => Some("the verifier rejected the program: this is a bug in lxcrs, please report it with the log"),
        _ => None,
    }
}

fn attach_hint(errno: Errno) -> Option<&'static str> {
    match errno {
        Errno::EINVAL | Errno::ENOSYS => Some("the kernel lacks CONFIG_CGROUP_BPF (device programs for cgroup2)"),
        Errno::EBADF => Some("the directory is not a cgroup2 cgroup"),
        Errno::EPERM => Some("attaching needs CAP_SYS_ADMIN (root on the host), and no ancestor cgroup may hold a device program attached without BPF_F_ALLOW_MULTI"),
        _ => None,
    }
}

/// Unit tests record what would be attached instead of calling the kernel.
#[cfg(test)]
pub(crate) mod fake {
    use std::cell::RefCell;
    use std::path::{Path, PathBuf};

    use crate::cgroups::error::Result;

    /// (cgroup directory, program bytes) of each attach.
    type Attached = Vec<(PathBuf, Vec<u8>)>;

    thread_local! {
        static ATTACHED: RefCell<Option<Attached>> = const { RefCell::new(None) };
    }

    /// Starts recording on this thread (each test runs on its own).
    pub(crate) fn install() {
        ATTACHED.with(|a| *a.borrow_mut() = Some(Vec::new()));
    }

    /// What was attached since [`install`]: (cgroup directory, program bytes).
    pub(crate) fn attached() -> Attached {
        ATTACHED.with(|a| a.borrow().clone().unwrap_or_default())
    }

    pub(super) fn record(cgroup: &Path, program: &[u8]) -> Option<Result<()>> {
        ATTACHED.with(|a| {
            a.borrow_mut().as_mut().map(|list| {
                list.push((cgroup.to_path_buf(), program.to_vec()));
                Ok(())
            })
        })
    }
}
