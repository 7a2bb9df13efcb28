//! A progress bar on stderr while a copy runs, when a person is watching.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Progress;

/// The bar, or nothing when stderr is not a terminal (or progress is off).
pub(crate) struct Display(Option<ProgressBar>);

impl Display {
    pub fn new(p: Progress, total_bytes: Option<u64>, label: &str) -> Display {
        let show = match p {
            Progress::Auto => std::io::stderr().is_terminal(),
            Progress::Always => true,
            Progress::Never => false,
        };
        if !show {
            return Display(None);
        }
        let bar = ProgressBar::with_draw_target(total_bytes, ProgressDrawTarget::stderr());
        // The copy lists and copies in one pass: without a total, bytes and speed only.
        let template = match total_bytes {
            Some(_) => "{msg} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
            None => "{msg} {spinner} {binary_bytes} {binary_bytes_per_sec}",
        };
        let style = ProgressStyle::with_template(template)
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_message(label.to_string());
        Display(Some(bar))
    }

    pub fn active(&self) -> bool {
        self.0.is_some()
    }

    pub fn set(&self, bytes: u64) {
        if let Some(b) = &self.0 {
            b.set_position(bytes);
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}
