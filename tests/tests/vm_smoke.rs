//! The VM harness (vm/): builds the cached Debian image with the stock kernel (ZFS, LVM
//! thin, pure cgroup v2) and runs vm/smoke.sh in it. Slow (a cold image build takes
//! minutes, a boot under software emulation tens of seconds), so it runs only with
//! `LXCRS_VM_TESTS=1`; otherwise it prints why and passes.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

fn vm_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vm")
}

fn vm_tests_enabled() -> bool {
    std::env::var("LXCRS_VM_TESTS")
        .map(|v| v == "1")
        .unwrap_or(false)
}

/// Runs a vm/ script, its output going straight to the test's stdout/stderr, and asserts
/// that it succeeded.
fn run(script: &str) {
    let path = vm_dir().join(script);
    let t = Instant::now();
    let status = Command::new(&path)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()));
    eprintln!("{script}: {status} after {:.1}s", t.elapsed().as_secs_f64());
    assert!(
        status.success(),
        "{} failed with {status} (see its output above)",
        path.display()
    );
}

#[test]
#[ignore = "boots a qemu VM (image build ~30 min cold): LXCRS_VM_TESTS=1 cargo test -p lxcrs-tests --test vm_smoke -- --ignored"]
fn vm_smoke() {
    if !vm_tests_enabled() {
        eprintln!("SKIP: VM tests run with LXCRS_VM_TESTS=1");
        return;
    }
    run("build-image.sh");
    run("smoke.sh");
}
