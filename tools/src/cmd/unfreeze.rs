//! `lxc-unfreeze -n NAME`: thaw a frozen container. Exit 0/1.

/// Entry point.
pub fn main(args: Vec<String>) -> i32 {
    super::freeze::run(args, false)
}
