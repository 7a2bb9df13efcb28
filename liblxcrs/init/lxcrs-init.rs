//! lxcrs-init: the minimal PID 1 of `lxc-execute`, built as a fully static executable by
//! `liblxcrs/build.rs` and embedded in liblxcrs (see `src/start/init.rs`).
//!
//! It runs inside the container after its rootfs is in place, where the host's dynamic
//! loader is out of reach, hence static; it is exec'd from a sealed memfd, so
//! `/proc/1/exe` leads to no host file. It is built by rustc alone (no cargo, so no
//! crates): the few libc functions it needs are declared below.
//!
//! ```text
//! lxcrs-init START_FD -- CMD [ARGS...]      (environment: the command's)
//! ```
//!
//! It closes every fd but stdio and `START_FD` (the start socket to the monitor), forks
//! CMD, forwards the usual termination and user signals to it, reaps every process
//! reparented to it, and exits with CMD's status (128+signal when CMD was killed). When
//! CMD cannot be exec'd, the reason goes to the monitor over `START_FD` as a start
//! protocol Error message (tag 7, then the text). Its own failures exit 127.
//!
//! `no_main`: the C `main` below gets argv as the kernel passed it (handed on to `execv`
//! untouched), and std's runtime setup, which would leave SIGPIPE ignored for CMD, is
//! skipped.

#![no_main]

use std::ffi::{c_char, c_int, c_long, c_uint, c_void, CStr, CString};
use std::io::{Error, Write};
use std::os::unix::ffi::OsStringExt;
use std::ptr;

// Signal, socket and fcntl numbers of the generic Linux ABI (x86, arm, riscv, powerpc...).
#[cfg(any(
    target_arch = "mips",
    target_arch = "mips64",
    target_arch = "sparc",
    target_arch = "sparc64"
))]
compile_error!("lxcrs-init uses the generic Linux ABI's signal and socket numbers");
const SIGHUP: c_int = 1;
const SIGINT: c_int = 2;
const SIGQUIT: c_int = 3;
const SIGUSR1: c_int = 10;
const SIGUSR2: c_int = 12;
const SIGTERM: c_int = 15;
const SIGCHLD: c_int = 17;
const SIGCONT: c_int = 18;
const SIGWINCH: c_int = 28;
const SIGPWR: c_int = 30;
const SIG_BLOCK: c_int = 0;
const SIG_SETMASK: c_int = 2;
const F_SETFD: c_int = 2;
const FD_CLOEXEC: c_int = 1;
const SOL_SOCKET: c_int = 1;
const SO_TYPE: c_int = 3;
const MSG_NOSIGNAL: c_int = 0x4000;
const WNOHANG: c_int = 1;
const ENOENT: c_int = 2;
const ENOTDIR: c_int = 20;
const SYS_CLOSE_RANGE: c_long = 436;

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The start protocol's Error message tag.
const MSG_ERROR: u8 = 7;
/// The signals passed on to CMD.
const FORWARDED: [c_int; 9] = [
    SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGPWR, SIGCONT, SIGWINCH,
];

/// glibc's `sigset_t` (1024 bits; all zero is the empty set).
#[repr(C)]
struct SigSet([u64; 16]);

extern "C" {
    fn syscall(num: c_long, ...) -> c_long;
    fn fcntl(fd: c_int, cmd: c_int, ...) -> c_int;
    fn getsockopt(fd: c_int, lvl: c_int, opt: c_int, val: *mut c_void, len: *mut u32) -> c_int;
    fn send(fd: c_int, buf: *const c_void, len: usize, flags: c_int) -> isize;
    fn close(fd: c_int) -> c_int;
    fn sigaddset(set: *mut SigSet, sig: c_int) -> c_int;
    fn sigprocmask(how: c_int, set: *const SigSet, old: *mut SigSet) -> c_int;
    fn sigwaitinfo(set: *const SigSet, info: *mut c_void) -> c_int;
    fn fork() -> c_int;
    fn execv(path: *const c_char, argv: *const *const c_char) -> c_int;
    fn kill(pid: c_int, sig: c_int) -> c_int;
    fn waitpid(pid: c_int, status: *mut c_int, options: c_int) -> c_int;
    fn strerror(err: c_int) -> *const c_char;
    fn _exit(status: c_int) -> !;
}

fn errno() -> c_int {
    Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Whether `fd` is an open socket.
fn is_socket(fd: c_int) -> bool {
    let mut kind: c_int = 0;
    let mut len = std::mem::size_of::<c_int>() as u32;
    // SAFETY: `kind` and `len` are valid for writes of the sizes given.
    unsafe {
        getsockopt(
            fd,
            SOL_SOCKET,
            SO_TYPE,
            ptr::from_mut(&mut kind).cast(),
            &mut len,
        ) == 0
    }
}

/// Send "failed to exec PROG: ERROR" to the monitor as a start protocol Error message.
fn report(sock: c_int, prog: &[u8], err: c_int) {
    // SAFETY: strerror returns a NUL-terminated string, which nothing overwrites while it
    // is copied (this process has one thread).
    let text = unsafe { CStr::from_ptr(strerror(err)) };
    let mut msg = vec![MSG_ERROR];
    msg.extend_from_slice(b"failed to exec ");
    msg.extend_from_slice(prog);
    msg.extend_from_slice(b": ");
    msg.extend_from_slice(text.to_bytes());
    msg.truncate(4095);
    // SAFETY: `msg` is valid for reads of its length.
    unsafe { send(sock, msg.as_ptr().cast(), msg.len(), MSG_NOSIGNAL) };
}

/// execv `prog` with `argv`, searching the environment's PATH when `prog` has no '/';
/// returns the errno to report (the last one other than ENOENT/ENOTDIR, else ENOENT).
fn exec_cmd(prog: &CStr, argv: *const *const c_char) -> c_int {
    let name = prog.to_bytes();
    if name.contains(&b'/') {
        // SAFETY: `prog` is NUL-terminated, `argv` a null-terminated array of such strings.
        unsafe { execv(prog.as_ptr(), argv) };
        return errno();
    }
    let path = std::env::var_os("PATH").map_or_else(|| DEFAULT_PATH.into(), OsStringExt::into_vec);
    let mut last = ENOENT;
    for dir in path.split(|&b| b == b':') {
        if dir.is_empty() || dir.len() + name.len() + 2 > 4096 {
            continue;
        }
        let Ok(cand) = CString::new([dir, b"/", name].concat()) else {
            continue;
        };
        // SAFETY: as above.
        unsafe { execv(cand.as_ptr(), argv) };
        let err = errno();
        if err != ENOENT && err != ENOTDIR {
            last = err;
        }
    }
    last
}

#[no_mangle]
extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    // SAFETY: the C runtime passes `argc` NUL-terminated strings, alive until exit.
    let args: Vec<&CStr> = (0..argc.max(0) as usize)
        .map(|i| unsafe { CStr::from_ptr(*argv.add(i)) })
        .collect();
    if args.len() < 4 || args[2].to_bytes() != b"--" {
        let usage = "lxcrs-init: usage: lxcrs-init START_FD -- CMD... (run by lxc-execute)";
        let _ = writeln!(std::io::stderr(), "{usage}");
        return 127;
    }
    let fd = args[1].to_str().ok().and_then(|s| s.parse::<c_int>().ok());
    let Some(sock) = fd.filter(|fd| (3..=65535).contains(fd) && is_socket(*fd)) else {
        let _ = writeln!(
            std::io::stderr(),
            "lxcrs-init: fd {:?} is not the start socket",
            args[1]
        );
        return 127;
    };
    // Nothing of the host but stdio and the start socket (all else is close-on-exec
    // already: start::child::prepare_exec, which fails without close_range).
    let close_range = |first: c_int, last: c_uint| {
        // SAFETY: close_range acts on fd numbers only; this code owns none of them.
        unsafe { syscall(SYS_CLOSE_RANGE, first as c_uint, last, 0 as c_uint) };
    };
    if sock > 3 {
        close_range(3, (sock - 1) as c_uint);
    }
    close_range(sock + 1, c_uint::MAX);
    // SAFETY: as above.
    unsafe { fcntl(sock, F_SETFD, FD_CLOEXEC) };
    let mut watched = SigSet([0; 16]);
    let mut old = SigSet([0; 16]);
    // Blocked before the fork: no signal is lost before the wait loop.
    // SAFETY: `watched` and `old` are valid sigset_t buffers.
    let blocked = unsafe {
        for sig in FORWARDED.iter().chain([&SIGCHLD]) {
            sigaddset(&mut watched, *sig);
        }
        sigprocmask(SIG_BLOCK, &watched, &mut old)
    };
    if blocked != 0 {
        report(
            sock,
            b"the command (cannot block signals in lxcrs-init)",
            errno(),
        );
        return 127;
    }
    // SAFETY: this process has one thread, so the child may run any code after fork.
    let child = unsafe { fork() };
    if child < 0 {
        report(sock, b"the command (cannot fork in lxcrs-init)", errno());
        return 127;
    }
    if child == 0 {
        // SAFETY: `old` is the mask saved above; `argv + 3` is CMD's null-terminated argv.
        unsafe {
            sigprocmask(SIG_SETMASK, &old, ptr::null_mut());
            let err = exec_cmd(args[3], argv.add(3));
            report(sock, args[3].to_bytes(), err);
            _exit(127)
        }
    }
    // SAFETY: the start socket is no Rust object's; the child keeps its own copy.
    unsafe { close(sock) };
    loop {
        // SAFETY: `watched` is a valid set; no siginfo is asked for.
        let sig = unsafe { sigwaitinfo(&watched, ptr::null_mut()) };
        if sig < 0 {
            continue;
        }
        if sig != SIGCHLD {
            // SAFETY: a plain syscall.
            unsafe { kill(child, sig) };
            continue;
        }
        let mut status: c_int = 0;
        // SAFETY: `status` is valid for writes.
        while let pid @ 1.. = unsafe { waitpid(-1, &mut status, WNOHANG) } {
            let (signal, code) = (status & 0x7f, (status >> 8) & 0xff);
            // Exiting as PID 1 takes the rest of the pid namespace down.
            if pid == child && signal == 0 {
                // SAFETY: ends the process, as C's _exit.
                unsafe { _exit(code) }
            }
            if pid == child && signal != 0x7f {
                // SAFETY: as above.
                unsafe { _exit(128 + signal) }
            }
        }
    }
}
