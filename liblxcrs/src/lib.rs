//! The lxcrs library: the `Container` API that every `lxc-*` tool is a thin shell over.
//!
//! Modelled on liblxc's `struct lxc_container`: a [`Container`] names a container in an
//! lxcpath; its methods create, start, stop, query and destroy it.

// The API: the `Container` handle and its methods (container/), and the small
// helpers the tools call around it.
mod container;
mod ephemeral;
mod error;
pub mod interrupt;
pub mod ips;
pub mod list;
pub mod lock;
pub mod names;
pub mod partial;
pub mod paths;
pub mod stats;
pub mod template;

// The processes behind the API: the per-container monitor and `lxc-attach`.
pub mod attach;
pub mod monitor;
pub mod rexec;

// Starting a container: namespaces, mounts, the child's setup.
pub mod start;

// The plumbing underneath: cgroups, the command protocol, terminals.
pub mod cgroups;
pub mod commands;
pub mod console;
mod failpoints;

pub use container::{
    blocks_signal, dependents, halt_signal, monitor_binary, random_name, snapshots, CloneOptions,
    Container, CreateOptions, SnapshotInfo, Started, RDEPENDS_FILE, SNAPSHOTS_FILE,
};
pub use ephemeral::{parse_mounts, EphemeralOptions, ExtraMount};
pub use error::{Error, Result};
pub use lxcrs_config as config;
