//! Builds `lxcrs-init` (`init/lxcrs-init.rs`), the static PID 1 of `lxc-execute`, which
//! liblxcrs embeds (`start::init`). Static: it runs inside the container, where the
//! host's dynamic loader and libraries are not reachable.
//!
//! It is a std-only program compiled by the same rustc, for the same target, with flags
//! of its own: the outer build's RUSTFLAGS (`CARGO_ENCODED_RUSTFLAGS`) are not passed on,
//! as they are meant for the workspace's crates (and rustc itself reads none of them).
//! `+crt-static` links the target's C library statically (glibc: `libc.a`, from libc6-dev).

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let src = "init/lxcrs-init.rs";
    println!("cargo:rerun-if-changed={src}");
    let env = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set"));
    let out = PathBuf::from(env("OUT_DIR")).join("lxcrs-init");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let mut cmd = Command::new(&rustc);
    cmd.args([
        "--edition",
        "2021",
        "--crate-type",
        "bin",
        "--crate-name",
        "lxcrs_init",
    ])
    .args(["--target", &env("TARGET")])
    .args(["-C", "opt-level=s", "-C", "panic=abort", "-C", "lto"])
    .args(["-C", "strip=symbols", "-C", "target-feature=+crt-static"]);
    // The linker configured for the target (target.<triple>.linker), if any.
    if let Ok(linker) = std::env::var("RUSTC_LINKER") {
        cmd.arg(format!("-Clinker={linker}"));
    }
    let output = cmd
        .arg("-o")
        .arg(&out)
        .arg(src)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {rustc} to build {src}: {e}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "building {src} with {rustc} failed ({}); a static link needs the target's static C \
         library (Debian: libc6-dev):\n{stderr}",
        output.status
    );
    for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
        println!("cargo:warning={line}");
    }
}
