//! `lxcrs-monitor`: the per-container monitor process, exec'd by `lxc-start` and
//! `lxc-execute` (see `liblxcrs::monitor`). A binary of its own so that it carries
//! none of the tools' heap.

fn main() {
    std::process::exit(liblxcrs::internal::monitor_main(
        std::env::args_os().collect(),
    ));
}
