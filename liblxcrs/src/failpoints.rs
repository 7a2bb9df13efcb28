//! Failpoints of the library's operations (create, clone, snapshot, restore, destroy,
//! start, stop): `crate::failpoint!("create.config")` at each step, a no-op unless built
//! with the `failpoints` feature (see `lxcrs_storage::failpoints`, which does the work).

/// Marks a failpoint named `$name`; nothing without the `failpoints` feature.
#[macro_export]
macro_rules! failpoint {
    ($name:expr) => {
        ::lxcrs_storage::failpoints::hit($name)
    };
}
