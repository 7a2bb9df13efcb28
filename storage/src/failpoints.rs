//! Failpoints for the fault-injection tests (`tests/tests/faults.rs`), compiled in only
//! with the `failpoints` cargo feature (off by default: a release build has none, and
//! [`hit`] is then an empty inline function).
//!
//! With the feature, each point a command passes is:
//! - appended as `NAME PID` to the file `$LXCRS_FAILPOINTS_LOG` when set, so that a test
//!   can enumerate the points of an operation and see when a process reached one;
//! - evaluated by the `fail` crate, configured once per process from
//!   `$LXCRS_FAILPOINTS="NAME=ACTION;NAME=ACTION"` (actions as `fail::cfg` takes them:
//!   `pause`, `sleep(MS)`, `panic`, `off`…). A test sets `NAME=pause` and SIGKILLs the
//!   process once the log shows it there.

/// Marks a failpoint named `$name` (a string); nothing without the `failpoints` feature.
#[macro_export]
macro_rules! failpoint {
    ($name:expr) => {
        $crate::failpoints::hit($name)
    };
}

/// Passes failpoint `name`: logs it, then runs its configured action.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_name: &str) {}

/// Passes failpoint `name`: logs it, then runs its configured action.
#[cfg(feature = "failpoints")]
pub fn hit(name: &str) {
    use std::io::Write;
    if let Some(mut f) = imp::log() {
        // One write on an O_APPEND file: lines of concurrent processes never interleave.
        let _ = f.write_all(format!("{name} {}\n", std::process::id()).as_bytes());
    }
    fail::fail_point!(name);
}

#[cfg(feature = "failpoints")]
mod imp {
    use std::fs::{File, OpenOptions};
    use std::sync::OnceLock;

    static LOG: OnceLock<Option<File>> = OnceLock::new();

    /// The log file (configuring the points on the first call).
    pub(super) fn log() -> Option<&'static File> {
        LOG.get_or_init(|| {
            if let Ok(spec) = std::env::var("LXCRS_FAILPOINTS") {
                for item in spec.split(';').filter(|s| !s.trim().is_empty()) {
                    match item.split_once('=') {
                        Some((name, action)) => {
                            if let Err(e) = fail::cfg(name.trim(), action.trim()) {
                                eprintln!("LXCRS_FAILPOINTS: {item}: {e}");
                            }
                        }
                        None => eprintln!("LXCRS_FAILPOINTS: {item}: expected NAME=ACTION"),
                    }
                }
            }
            let path = std::env::var_os("LXCRS_FAILPOINTS_LOG")?;
            OpenOptions::new().append(true).create(true).open(path).ok()
        })
        .as_ref()
    }
}
