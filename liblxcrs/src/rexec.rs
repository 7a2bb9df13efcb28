//! Running from a sealed in-memory copy of our own binary (CVE-2019-5736).
//!
//! A process that enters a container (lxc-attach, lxc-execute's init) can be reached by
//! the container's processes through `/proc/PID/exe`. If that link leads to the host's
//! `lxcrs` file, a privileged container can open it and overwrite the host binary. So
//! such processes run from a memfd instead: a private copy of `/proc/self/exe`, sealed
//! against any change (`F_SEAL_SEAL|SHRINK|GROW|WRITE`). `/proc/PID/exe` then names
//! `/memfd:lxcrs (deleted)`, a file nobody can write.
//!
//! [`ensure_sealed`] re-execs the current process from such a copy once: it passes the
//! original binary's path in [`MARKER`], which the new image reads (for finding
//! `lxcrs-monitor` next to it), removes from the environment, and trusts only after it
//! checked that it really runs from a sealed memfd.

use std::ffi::{CString, OsString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::OnceLock;

/// The environment variable carrying the original binary's path across the re-exec.
pub const MARKER: &str = "LXCRS_SEALED_FROM";

/// The seals of a sealed copy.
const SEALS: libc::c_int =
    libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

/// `MFD_EXEC` (Linux ≥ 6.3): ask for an executable memfd when `vm.memfd_noexec` = 1.
const MFD_EXEC: libc::c_uint = 0x10;

static ORIGINAL: OnceLock<Option<PathBuf>> = OnceLock::new();

fn os_err(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

/// True when `fd` is a memfd carrying all of [`SEALS`].
fn is_sealed(fd: &OwnedFd) -> bool {
    // SAFETY: F_GET_SEALS on an fd we own; no pointers.
    let seals = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS) };
    seals >= 0 && seals & SEALS == SEALS
}

fn open_self_exe() -> Result<OwnedFd, String> {
    // SAFETY: open of a constant NUL-terminated path; the result is checked.
    let fd = unsafe { libc::open(c"/proc/self/exe".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(os_err("failed to open /proc/self/exe"));
    }
    // SAFETY: fd is a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// True when this process runs from a sealed memfd.
pub fn running_sealed() -> bool {
    open_self_exe().is_ok_and(|fd| is_sealed(&fd))
}

/// A sealed, close-on-exec memfd copy of the binary this process runs.
pub fn sealed_copy_of_self() -> Result<OwnedFd, String> {
    let exe = open_self_exe()?;
    let mem = new_memfd(&CString::from(c"lxcrs"))?;
    loop {
        // SAFETY: sendfile between two fds we own, no offset pointer (use file offsets).
        let n = unsafe {
            libc::sendfile(
                mem.as_raw_fd(),
                exe.as_raw_fd(),
                std::ptr::null_mut(),
                0x7fff_f000,
            )
        };
        match n {
            0 => break,
            n if n > 0 => continue,
            _ if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) => continue,
            _ => return Err(os_err("failed to copy /proc/self/exe into a memfd")),
        }
    }
    seal(&mem)?;
    Ok(mem)
}

/// A sealed, close-on-exec memfd named `name` holding `bytes` (an embedded program).
pub fn sealed_memfd(name: &str, bytes: &[u8]) -> Result<OwnedFd, String> {
    let cname = CString::new(name).map_err(|_| format!("bad memfd name {name:?}"))?;
    let mem = new_memfd(&cname)?;
    let mut file = std::fs::File::from(mem);
    std::io::Write::write_all(&mut file, bytes)
        .map_err(|e| format!("failed to fill the memfd for {name}: {e}"))?;
    let mem = OwnedFd::from(file);
    seal(&mem)?;
    Ok(mem)
}

/// A close-on-exec, sealable, executable memfd.
fn new_memfd(name: &CString) -> Result<OwnedFd, String> {
    let create = |flags: libc::c_uint| {
        // SAFETY: memfd_create with a NUL-terminated name; result checked.
        unsafe { libc::memfd_create(name.as_ptr(), flags) }
    };
    let base = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    let mut raw = create(base | MFD_EXEC);
    if raw < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) {
        // A kernel older than 6.3 does not know MFD_EXEC (and makes memfds executable).
        raw = create(base);
    }
    if raw < 0 {
        return Err(os_err("failed to create a memfd for a sealed executable"));
    }
    // SAFETY: raw is a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

fn seal(mem: &OwnedFd) -> Result<(), String> {
    // SAFETY: F_ADD_SEALS with an integer argument on our memfd.
    if unsafe { libc::fcntl(mem.as_raw_fd(), libc::F_ADD_SEALS, SEALS) } < 0 {
        return Err(os_err("failed to seal a memfd"));
    }
    Ok(())
}

fn cstring(s: &[u8]) -> Result<CString, String> {
    CString::new(s).map_err(|_| "an argument or variable contains a NUL byte".to_string())
}

/// `execveat(fd, "", argv, envp, AT_EMPTY_PATH)`; returns only the error.
pub fn exec_fd(fd: &OwnedFd, argv: &[CString], envp: &[CString]) -> std::io::Error {
    let mut a: Vec<*const libc::c_char> = argv.iter().map(|c| c.as_ptr()).collect();
    a.push(std::ptr::null());
    let mut e: Vec<*const libc::c_char> = envp.iter().map(|c| c.as_ptr()).collect();
    e.push(std::ptr::null());
    // SAFETY: NULL-terminated arrays of pointers into CStrings that outlive the call.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            fd.as_raw_fd(),
            c"".as_ptr(),
            a.as_ptr(),
            e.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    std::io::Error::last_os_error()
}

/// Make sure this process runs from a sealed memfd copy of its binary: returns at once
/// when it does (after taking [`MARKER`] out of the environment), else re-execs itself
/// from such a copy with the same arguments and environment. Call it first thing in
/// `main`, while the process is single-threaded. `Err` means the re-exec was impossible;
/// the caller must not go on (fail closed).
pub fn ensure_sealed() -> Result<(), String> {
    let marker = std::env::var_os(MARKER);
    if running_sealed() {
        // Only a sealed re-exec sets the marker we see here: anything else (a caller's
        // environment) was replaced by the re-exec.
        std::env::remove_var(MARKER);
        let _ = ORIGINAL.set(marker.filter(|m| !m.is_empty()).map(PathBuf::from));
        return Ok(());
    }
    let original = std::fs::read_link("/proc/self/exe")
        .map_err(|e| format!("failed to read /proc/self/exe: {e}"))?;
    let copy = sealed_copy_of_self()?;
    let argv: Vec<CString> = std::env::args_os()
        .map(|a| cstring(a.as_bytes()))
        .collect::<Result<_, _>>()?;
    let mut envp: Vec<CString> = Vec::new();
    for (k, v) in std::env::vars_os() {
        if k == MARKER {
            continue;
        }
        let mut kv = OsString::from(&k);
        kv.push("=");
        kv.push(&v);
        envp.push(cstring(kv.as_bytes())?);
    }
    let mut m = OsString::from(MARKER);
    m.push("=");
    m.push(original.as_os_str());
    envp.push(cstring(m.as_bytes())?);
    let err = exec_fd(&copy, &argv, &envp);
    Err(format!(
        "failed to re-execute lxcrs from a sealed memfd: {err} (check vm.memfd_noexec)"
    ))
}

/// The binary this process was started as, when it re-exec'd itself through
/// [`ensure_sealed`] (`/proc/self/exe` then names the memfd).
pub fn original_exe() -> Option<PathBuf> {
    ORIGINAL.get().cloned().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_copy_is_sealed_and_identical() {
        let fd = sealed_copy_of_self().unwrap();
        assert!(is_sealed(&fd));
        let copy = std::fs::read(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
        let orig = std::fs::read("/proc/self/exe").unwrap();
        assert!(copy == orig, "the copy differs from the binary");
        // Sealed: no write, even through a new open of the same file.
        let w = std::fs::OpenOptions::new()
            .write(true)
            .open(format!("/proc/self/fd/{}", fd.as_raw_fd()));
        if let Ok(mut w) = w {
            use std::io::Write;
            assert!(w.write_all(b"x").is_err(), "a sealed memfd took a write");
        }
        assert!(!running_sealed(), "the test binary runs from its file");
    }
}
