//! Builds `lxcrs-init` (`src/start/init.c`), the static PID 1 of `lxc-execute`, which
//! liblxcrs embeds (`start::init`). Static: it runs inside the container, where the
//! host's dynamic loader and libraries are not reachable.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let src = "src/start/init.c";
    println!("cargo:rerun-if-changed={src}");
    println!("cargo:rerun-if-env-changed=CC");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("lxcrs-init");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc)
        .args(["-static", "-Os", "-s", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&out)
        .arg(src)
        .status()
        .unwrap_or_else(|e| panic!("cannot run the C compiler {cc:?} for {src}: {e}"));
    assert!(
        status.success(),
        "building {src} with {cc} -static failed ({status}): install a C compiler and the static C library (Debian: gcc, libc6-dev)"
    );
}
