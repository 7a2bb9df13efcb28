//! Interrupts during long operations (create, clone): Ctrl-C, SIGTERM, SIGHUP are
//! noted instead of killing us, so that the operation can roll back what it did.

use std::sync::atomic::{AtomicI32, Ordering};

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

static PENDING: AtomicI32 = AtomicI32::new(0);

extern "C" fn note(sig: libc::c_int) {
    PENDING.store(sig, Ordering::SeqCst);
}

const SIGNALS: [Signal; 4] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
];

/// While alive, the signals above are recorded instead of being fatal.
pub struct Guard {
    old: Vec<(Signal, SigAction)>,
}

impl Guard {
    /// Installs the recording handlers.
    pub fn install() -> Guard {
        let act = SigAction::new(
            SigHandler::Handler(note),
            SaFlags::SA_RESTART,
            SigSet::empty(),
        );
        let mut old = Vec::new();
        for s in SIGNALS {
            // SAFETY: the handler only stores into an atomic, which is async-signal-safe.
            if let Ok(prev) = unsafe { sigaction(s, &act) } {
                old.push((s, prev));
            }
        }
        Guard { old }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        for (s, prev) in &self.old {
            // SAFETY: restores the disposition that was in place before.
            let _ = unsafe { sigaction(*s, prev) };
        }
    }
}

/// The signal received since the guard was installed, if any.
pub fn pending() -> Option<Signal> {
    match PENDING.load(Ordering::SeqCst) {
        0 => None,
        n => Signal::try_from(n).ok(),
    }
}

/// The exit code a shell reports for death by the pending signal (128 + n).
pub fn exit_code() -> Option<i32> {
    pending().map(|s| 128 + s as i32)
}
