//! LXC's configuration format for lxcrs.
//!
//! - [`Config`]: a container config as LXC keeps it — the user's text verbatim (for
//!   `save`) plus the expanded, validated [`ContainerConfig`] (for the runtime).
//! - [`model`]: the typed model, one module per key family.
//! - [`legacy`]: `lxc-update-config`'s rewrite of pre-2.1 keys.
//! - [`system`]: the global `lxc.conf` (`lxcpath`, `default_config`, …).
//!
//! Parsing is strict like LXC: an unknown `lxc.*` key, a line without `=`, or a bad
//! value is an error naming `file:line`, the key, the problem and, where there is one,
//! a hint.

mod config;
pub mod error;
pub mod ifname;
mod keys;
pub mod legacy;
pub mod model;
mod parse;
mod save;
pub mod system;
mod value;

pub use config::Config;
pub use error::{ConfigError, Location};
pub use keys::{hook_keys, is_valid_key};
pub use model::ContainerConfig;
pub use system::{SystemConfig, SYSTEM_KEYS};
