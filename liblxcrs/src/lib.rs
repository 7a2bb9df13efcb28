//! The lxcrs library: the `Container` API that every `lxc-*` tool is a thin shell over.
//!
//! Modelled on liblxc's `struct lxc_container`: a [`Container`] names a container in an
//! lxcpath; its methods create, start, stop, query and destroy it.

// The API: the `Container` handle and its methods (container/), and the small
// helpers the tools call around it.
mod container;
pub(crate) mod container_dir;
mod ephemeral;
mod error;
pub mod interrupt;
pub mod ips;
pub mod list;
pub(crate) mod lock;
pub(crate) mod names;
pub(crate) mod partial;
pub mod paths;
pub mod stats;
pub mod template;

// The processes behind the API: the per-container monitor and `lxc-attach`.
pub mod attach;
pub(crate) mod monitor;
pub mod rexec;

// Starting a container: namespaces, mounts, the child's setup.
pub(crate) mod start;

// The plumbing underneath: cgroups, the command protocol, terminals.
pub(crate) mod cgroups;
pub(crate) mod commands;
pub(crate) mod console;
mod failpoints;
pub(crate) mod sys;
// Entry points for the fuzz targets (fuzz/) and their seed replay tests.
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;

pub use commands::options::StartOptions;
pub use commands::state::{State, StateSet};
pub use console::Escape;
pub use container::{
    blocks_signal, dependents, halt_signal, monitor_binary, print_start_failed, random_name,
    snapshots, CloneOptions, Container, ContainerDir, CreateOptions, SnapshotInfo, Started,
    RDEPENDS_FILE, SNAPSHOTS_FILE,
};
pub use ephemeral::{parse_mounts, EphemeralOptions, ExtraMount};
pub use error::{Error, Result};
pub use lxcrs_config as config;

/// What the tools and the crate's own root tests (`tests/start_spawn.rs`,
/// `tests/cgroups_host.rs`) reach below the [`Container`] API: the monitor's entry point,
/// and the start and cgroup layers. Not API.
#[doc(hidden)]
pub mod internal {
    pub use crate::cgroups::{
        CgroupError, CgroupLayout, CgroupManager, Cgroups, HierarchyKind, LayoutKind, Placement,
    };
    pub use crate::commands::CommandError;
    pub use crate::monitor::main as monitor_main;
    pub use crate::start::net::NetSetup;
    pub use crate::start::{spawn, Spawned, StartError, StartRequest};
}
