//! Terminal plumbing shared by the monitor, `lxc-console`, `lxc-attach` and
//! `lxc-start -F`: the console ring buffer and log file, raw mode on the user's
//! terminal, and the copy loop between the user's terminal and a pty master.

pub mod log;
pub mod proxy;
pub mod ring;
pub mod term;

pub use log::ConsoleLog;
pub use proxy::{proxy, Escape};
pub use ring::Ring;
pub use term::RawMode;
