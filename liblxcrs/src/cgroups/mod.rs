//! Container cgroups on cgroup v1 (legacy), hybrid and cgroup2 (unified) hosts.
//!
//! - [`CgroupLayout::detect`] reads mountinfo and /proc/self/cgroup texts (parameters, so
//!   tests use fixtures) and finds every hierarchy, its mount point and the caller's cgroup.
//! - [`Cgroups`] is a container's pair of cgroups, `lxcrs.payload.<name>` and
//!   `lxcrs.monitor.<name>` (LXC's names under our own prefix, so a running LXC is never
//!   disturbed), created under the parent chosen by [`Placement`]. It dispatches the
//!   [`CgroupManager`] operations to the v1 driver (legacy and hybrid hosts) or the v2
//!   driver (unified hosts): create, enter, limits, device rules (an eBPF program on cgroup2),
//!   `lxc-cgroup` get/set, freeze/thaw, kill, stats, removal.
//! - Every path is below the root directory given to detection (`/` on a real host), so the
//!   unit tests run against a temp dir that mimics cgroupfs.

mod device_keys;
mod driver;
mod error;
mod freezer;
mod fs;
mod keys;
mod kill;
pub mod layout;
mod manager;
mod mountinfo;
mod paths;
mod self_move;
mod stats;
mod tree;
mod v1;
mod v2;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod testutil;

/// The device-rule pipeline for `crate::fuzzing`: key selection, then the policy.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use {device_keys::select as select_device_rules, v2::device_policy};

pub use driver::Cgroups;
pub use error::{CgroupError, Result};
pub use layout::{CgroupLayout, HierarchyKind, LayoutKind};
pub use manager::{enter_dir, CgroupManager, DEFAULT_TIMEOUT};
pub use paths::CgroupPaths;
pub use self_move::{clone_into_refused, SelfEntry};
pub use stats::CgroupStats;
pub use tree::Placement;
