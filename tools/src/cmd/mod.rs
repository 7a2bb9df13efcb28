//! One module per `lxc-*` tool; each is a thin shell over liblxcrs.

pub mod attach;
pub mod cgroup;
pub mod config;
pub mod console;
pub mod copy;
pub mod create;
pub mod destroy;
pub mod device;
pub mod execute;
pub mod freeze;
pub mod info;
pub mod ls;
pub mod snapshot;
pub mod start;
pub mod stop;
pub mod unfreeze;
pub mod update_config;
pub mod wait;
