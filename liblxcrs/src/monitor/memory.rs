//! Keeping the long-lived monitor small.
//!
//! Starting a container runs most of the library (config parsing, cgroups, the start
//! sequence); the steady state is one poll loop. Once the container runs, the monitor
//! gives back what only the start needed: freed heap goes back to the kernel, and the
//! file pages (its own executable, libseccomp, libc, ...) that were mapped while starting
//! are unmapped from its page tables (they stay in the page cache; whatever the loop
//! touches faults back in). Only file mappings without private (copy-on-write) pages are
//! dropped, so nothing but pristine file content is ever discarded. The poll loop does
//! this again after each burst of requests (see `run`).
//!
//! That is sound only while nothing else runs in the process between reading
//! `/proc/self/smaps` and the `madvise`: the pages are dropped only when the monitor is
//! single-threaded (checked each time, fail closed), and writable mappings (`rw-p`, e.g.
//! a library's data before its first write) are never touched, even without private pages.

use std::ffi::c_void;

/// One mapping of `/proc/self/smaps`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Mapping {
    pub start: usize,
    pub end: usize,
    pub path: String,
    /// The permission field, e.g. `r-xp`.
    pub perms: String,
    pub anonymous_kb: u64,
}

/// Parses `/proc/self/smaps` text into mappings.
pub(crate) fn parse_smaps(text: &str) -> Vec<Mapping> {
    let mut out: Vec<Mapping> = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or("");
        if let Some((a, b)) = first
            .split_once('-')
            .filter(|(a, _)| a.bytes().all(|c| c.is_ascii_hexdigit()))
        {
            let (Ok(start), Ok(end)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
            else {
                continue;
            };
            let perms = fields.next().unwrap_or("").to_string();
            let path = fields.nth(3).unwrap_or("").to_string();
            out.push(Mapping {
                start,
                end,
                path,
                perms,
                anonymous_kb: 0,
            });
        } else if first == "Anonymous:" {
            if let Some(m) = out.last_mut() {
                m.anonymous_kb = fields.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            }
        }
    }
    out
}

/// The read-only file mappings (executable and libraries) that hold only file content (no
/// private pages). Special mappings (`[heap]`, `[vdso]`, ...), anonymous ones and writable
/// ones are never listed.
pub(crate) fn droppable(maps: &[Mapping]) -> impl Iterator<Item = &Mapping> {
    maps.iter().filter(|m| {
        m.path.starts_with('/') && m.anonymous_kb == 0 && m.perms.as_bytes().get(1) == Some(&b'-')
    })
}

/// True when `/proc/self/status` (its text, or the error reading it) shows exactly one
/// thread. Anything else, unreadable included, is "no".
pub(crate) fn single_threaded(status: std::io::Result<String>) -> bool {
    status.ok().is_some_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .and_then(|v| v.trim().parse::<u32>().ok())
            == Some(1)
    })
}

/// Returns start-only memory to the kernel (see the module docs).
pub(crate) fn shed_startup_pages() {
    // SAFETY: malloc_trim only releases free heap memory.
    unsafe { libc::malloc_trim(0) };
    if !single_threaded(std::fs::read_to_string("/proc/self/status")) {
        return;
    }
    let Ok(text) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    for m in droppable(&parse_smaps(&text)) {
        // SAFETY: the range is one whole read-only file mapping with no private pages, and
        // no other thread can map or write meanwhile (checked above): MADV_DONTNEED only drops page-table entries, and the next access maps
        // the same file content again.
        unsafe { libc::madvise(m.start as *mut c_void, m.end - m.start, libc::MADV_DONTNEED) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
55d0c0000000-55d0c0100000 r--p 00000000 fd:01 123 /usr/bin/lxcrs-monitor
Size:               1024 kB
Anonymous:             0 kB
55d0c0100000-55d0c0300000 r-xp 00100000 fd:01 123 /usr/bin/lxcrs-monitor
Anonymous:             0 kB
55d0c0300000-55d0c0310000 r--p 00300000 fd:01 123 /usr/bin/lxcrs-monitor
Anonymous:            64 kB
7f0000000000-7f0000021000 rw-p 00000000 00:00 0                          [heap]
Anonymous:           132 kB
7f1000000000-7f1000020000 r-xp 00002000 fd:01 456 /usr/lib/x86_64-linux-gnu/libseccomp.so.2
Anonymous:             0 kB
7f1000030000-7f1000031000 rw-p 00000000 00:00 0
Anonymous:             4 kB
7f1000040000-7f1000041000 rw-p 00040000 fd:01 456 /usr/lib/x86_64-linux-gnu/libseccomp.so.2
Anonymous:             0 kB
7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0                          [vdso]
Anonymous:             0 kB
";

    #[test]
    fn only_pristine_mappings_of_the_executable() {
        let maps = parse_smaps(SMAPS);
        assert_eq!(maps.len(), 8);
        assert_eq!(maps[0].perms, "r--p");
        assert_eq!(maps[6].perms, "rw-p");
        assert_eq!(maps[6].anonymous_kb, 0);
        assert_eq!(maps[2].anonymous_kb, 64);
        assert_eq!(maps[3].path, "[heap]");
        let d: Vec<_> = droppable(&maps).map(|m| m.start).collect();
        assert_eq!(
            d,
            vec![0x55d0_c000_0000, 0x55d0_c010_0000, 0x7f10_0000_0000],
            "the relocated (RELRO) part, the heap, anonymous memory, writable file mappings and the vDSO are kept"
        );
    }

    #[test]
    fn pages_are_shed_only_when_single_threaded() {
        assert!(single_threaded(Ok("Name:\tm\nThreads:\t1\n".into())));
        assert!(!single_threaded(Ok("Threads:\t2\n".into())));
        assert!(!single_threaded(Ok("Name:\tm\n".into())));
        assert!(!single_threaded(Err(std::io::ErrorKind::NotFound.into())));
    }
}
