//! The lxcrs library: the `Container` API that every `lxc-*` tool is a thin shell over.
//!
//! Modelled on liblxc's `struct lxc_container`: a [`Container`] names a container in an
//! lxcpath; its methods create, start, stop, query and destroy it.

pub mod attach;
pub mod cgroups;
pub mod commands;
pub mod console;
mod container;
mod copy;
mod create;
mod destroy;
mod ephemeral;
mod error;
mod failpoints;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod interrupt;
pub mod ips;
pub mod list;
pub mod lock;
pub mod monitor;
pub mod names;
pub mod partial;
pub mod paths;
pub mod rexec;
mod runtime;
mod snapshot;
pub mod start;
pub mod stats;
pub mod template;

pub use container::Container;
pub use copy::{random_name, CloneOptions};
pub use create::CreateOptions;
pub use destroy::{dependents, snapshots, RDEPENDS_FILE, SNAPSHOTS_FILE};
pub use ephemeral::{parse_mounts, EphemeralOptions, ExtraMount};
pub use error::{Error, Result};
pub use lxcrs_config as config;
pub use runtime::{blocks_signal, halt_signal, monitor_binary, Started};
pub use snapshot::SnapshotInfo;
