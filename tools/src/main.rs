//! `lxcrs`: one multicall binary for every `lxc-*` tool, dispatched on the name it was
//! called by (`lxc-create` → create) or on its first argument (`lxcrs create …`).
//!
//! [`TOOLS`] is the one list of tools: `lxcrs --list-tools` prints it, and the Makefile
//! and the test suite make their `lxc-*` links from that.

mod cmd;
mod common;

use std::path::Path;

/// A tool's entry point: arguments (argv[0] included) → exit code.
type Entry = fn(Vec<String>) -> i32;

/// Every tool: its LXC name and its entry point. The only list of them (see the module doc).
const TOOLS: &[(&str, Entry)] = &[
    ("lxc-attach", cmd::attach::main),
    ("lxc-cgroup", cmd::cgroup::main),
    ("lxc-config", cmd::config::main),
    ("lxc-console", cmd::console::main),
    ("lxc-copy", cmd::copy::main),
    ("lxc-create", cmd::create::main),
    ("lxc-destroy", cmd::destroy::main),
    ("lxc-device", cmd::device::main),
    ("lxc-execute", cmd::execute::main),
    ("lxc-freeze", cmd::freeze::main),
    ("lxc-info", cmd::info::main),
    ("lxc-ls", cmd::ls::main),
    ("lxc-snapshot", cmd::snapshot::main),
    ("lxc-start", cmd::start::main),
    ("lxc-stop", cmd::stop::main),
    ("lxc-unfreeze", cmd::unfreeze::main),
    ("lxc-update-config", cmd::update_config::main),
    ("lxc-wait", cmd::wait::main),
];

fn main() {
    // As root, environment overrides that could steer us are honoured only when safe.
    liblxcrs::paths::sanitize_env();
    let mut args: Vec<String> = std::env::args().collect();
    let argv0 = args.first().cloned().unwrap_or_default();
    let called = Path::new(&argv0)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !called.starts_with("lxc-") && args.get(1).map(String::as_str) == Some("--list-tools") {
        for (name, _) in TOOLS {
            println!("{name}");
        }
        std::process::exit(0);
    }
    let tool = if called.starts_with("lxc-") {
        called
    } else if args.len() > 1 {
        // `lxcrs create -n c1` behaves as `lxc-create -n c1`.
        let sub = args.remove(1);
        args[0] = format!("lxc-{sub}");
        args[0].clone()
    } else {
        eprintln!("usage: lxcrs TOOL [ARGS...]   (or call it as lxc-TOOL)");
        eprintln!(
            "tools: {}",
            TOOLS
                .iter()
                .map(|(n, _)| &n[4..])
                .collect::<Vec<_>>()
                .join(" ")
        );
        std::process::exit(1);
    };
    // Tools that enter a container run from a sealed memfd copy of this binary, so no
    // container process can reach the host's file through /proc/PID/exe (CVE-2019-5736).
    if matches!(tool.as_str(), "lxc-attach" | "lxc-execute") {
        if let Err(e) = liblxcrs::rexec::ensure_sealed() {
            eprintln!("{tool}: {e}");
            std::process::exit(1);
        }
    }
    match TOOLS.iter().find(|(n, _)| *n == tool) {
        Some((_, entry)) => std::process::exit(entry(args)),
        None => {
            eprintln!("lxcrs: unknown tool {tool}");
            std::process::exit(1);
        }
    }
}
