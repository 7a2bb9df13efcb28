//! End-to-end harness: runs the built `lxc-*` binaries against real containers.
//!
//! Each test makes an [`Env`]: its own temporary lxcpath, the tools run with `-P` on it,
//! and [`Env::finish`] stops and destroys whatever the test left, then fails the test
//! on any leaked mount, netdev, cgroup, loop device or process. Point the suite at
//! another implementation's binaries (e.g. Debian's real LXC in /usr/bin) with
//! `LXCRS_BIN_DIR=/usr/bin`.
//!
//! Without root a test prints why it is skipped; with `LXCRS_REQUIRE_ROOT=1` (CI) a skip
//! is a failure.

mod leaks;
pub mod runtime_support;
pub mod testnet;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

pub use leaks::Snapshot;

/// Skips the test (returns) unless root; panics instead under `LXCRS_REQUIRE_ROOT=1`.
#[macro_export]
macro_rules! require_root {
    () => {
        match $crate::Env::new() {
            Some(env) => env,
            None => return,
        }
    };
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// One test's world: a temp lxcpath and the tools to run on it.
pub struct Env {
    lxcpath: tempfile::TempDir,
    /// A system config of the test's own (`LXC_GLOBAL_CONF`): its default container
    /// config has no network, so tests don't depend on the host's /etc/lxc.
    etc: tempfile::TempDir,
    bin_dir: PathBuf,
    before: Snapshot,
    finished: bool,
}

/// True when the suite must not skip (CI).
pub fn require_root_env() -> bool {
    std::env::var("LXCRS_REQUIRE_ROOT")
        .map(|v| v == "1")
        .unwrap_or(false)
}

/// Prints why a test is skipped, or panics when skipping is not allowed.
pub fn skip(reason: &str) {
    if require_root_env() {
        panic!("test cannot run: {reason} (LXCRS_REQUIRE_ROOT=1 forbids skipping)");
    }
    eprintln!("SKIP: {reason}");
}

impl Env {
    /// A fresh env, or `None` (after printing why) when not root.
    pub fn new() -> Option<Env> {
        if !nix::unistd::geteuid().is_root() {
            skip("end-to-end tests need root");
            return None;
        }
        let base = std::env::var_os("LXCRS_TEST_TMP")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let lxcpath = tempfile::Builder::new()
            .prefix("lxcrs-test.")
            .tempdir_in(base)
            .expect("temp lxcpath");
        let etc = tempfile::Builder::new()
            .prefix("lxcrs-etc.")
            .tempdir()
            .expect("temp etc");
        let default_conf = etc.path().join("default.conf");
        std::fs::write(&default_conf, "lxc.net.0.type = empty\n").expect("write default.conf");
        std::fs::write(
            etc.path().join("lxc.conf"),
            format!(
                "lxc.lxcpath = {}\nlxc.default_config = {}\n",
                lxcpath.path().display(),
                default_conf.display()
            ),
        )
        .expect("write lxc.conf");
        Some(Env {
            lxcpath,
            etc,
            bin_dir: bin_dir(),
            before: Snapshot::take(),
            finished: false,
        })
    }

    /// The temporary lxcpath.
    pub fn lxcpath(&self) -> &Path {
        self.lxcpath.path()
    }

    /// The test's system config file (`LXC_GLOBAL_CONF`).
    pub fn global_conf(&self) -> PathBuf {
        self.etc.path().join("lxc.conf")
    }

    /// The directory the `lxc-*` tools are taken from.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// A container name unique in this test run.
    pub fn unique_name(&self, prefix: &str) -> String {
        format!(
            "{prefix}{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        )
    }

    /// A `Command` for `tool` with `-P <lxcpath>` already added.
    pub fn cmd(&self, tool: &str) -> Command {
        let mut c = Command::new(self.bin_dir.join(tool));
        c.arg("-P").arg(self.lxcpath());
        c.env("LXC_GLOBAL_CONF", self.etc.path().join("lxc.conf"));
        if let Some(share) = own_share_dir() {
            c.env("LXCRS_SHARE_DIR", share);
        }
        c.stdin(Stdio::null());
        c
    }

    /// Runs `tool args…` on this lxcpath and returns its output (status not checked).
    pub fn lxc(&self, tool: &str, args: &[&str]) -> Output {
        let out = self
            .cmd(tool)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"));
        log_output(tool, args, &out);
        out
    }

    /// Runs `tool args…`, asserts it succeeded, and returns its stdout.
    pub fn ok(&self, tool: &str, args: &[&str]) -> String {
        let out = self.lxc(tool, args);
        assert!(
            out.status.success(),
            "{tool} {args:?} failed with {}:\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Creates container `name` from the busybox template.
    pub fn create_busybox(&self, name: &str) {
        self.ok("lxc-create", &["-n", name, "-t", "busybox"]);
    }

    /// Names of the containers present in the lxcpath.
    pub fn containers(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.lxcpath())
            .map(|d| {
                d.flatten()
                    .filter(|e| e.path().is_dir())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Stops and destroys every container, then asserts nothing leaked.
    pub fn finish(mut self) {
        self.cleanup();
        self.finished = true;
        // Teardown may still be finishing (a monitor exiting after lxc-stop returned):
        // give it a moment before calling anything a leak.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        let leaked = loop {
            let mut leaked = self.before.leaked(&Snapshot::take(), self.lxcpath());
            if std::env::var_os("LXCRS_TEST_SHARED_HOST").is_some() {
                let lx = self.lxcpath().to_string_lossy().into_owned();
                leaked.retain(|l| leaks::provably_ours(l, &lx));
            }
            if leaked.is_empty() || std::time::Instant::now() > deadline {
                break leaked;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        };
        assert!(leaked.is_empty(), "the test leaked:\n{}", leaked.join("\n"));
    }

    fn cleanup(&self) {
        for name in self.containers() {
            let _ = self
                .cmd("lxc-stop")
                .args(["-k", "-n", &name])
                .stderr(Stdio::null())
                .output();
            let _ = self
                .cmd("lxc-destroy")
                .args(["-f", "-s", "-n", &name])
                .stderr(Stdio::null())
                .output();
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if !self.finished {
            self.cleanup();
        }
    }
}

fn log_output(tool: &str, args: &[&str], out: &Output) {
    if std::env::var_os("LXCRS_TEST_VERBOSE").is_some() {
        eprintln!(
            "$ {tool} {}\n[{}]\n{}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Where the tools are: `$LXCRS_BIN_DIR`, else a dir of `lxc-*` links to the built
/// `lxcrs` multicall binary next to the test executable's target dir.
pub fn bin_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("LXCRS_BIN_DIR") {
        return PathBuf::from(d);
    }
    let profile_dir = profile_dir();
    let multicall = profile_dir.join("lxcrs");
    assert!(
        multicall.exists(),
        "{} is missing: build the workspace first (cargo build)",
        multicall.display()
    );
    let links = profile_dir.join("lxc-bin");
    std::fs::create_dir_all(&links).expect("create lxc-bin");
    for tool in tools(&multicall) {
        let link = links.join(&tool);
        if std::fs::read_link(&link).ok().as_deref() != Some(multicall.as_path()) {
            let _ = std::fs::remove_file(&link);
            // Another test thread may have made it first.
            let _ = std::os::unix::fs::symlink(&multicall, &link);
        }
    }
    let monitor = profile_dir.join("lxcrs-monitor");
    if monitor.exists() {
        let link = links.join("lxcrs-monitor");
        if !link.exists() {
            let _ = std::os::unix::fs::symlink(&monitor, &link);
        }
    }
    links
}

/// The cargo profile dir the tests were built in: target/<profile>/deps/<test> → target/<profile>.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_path_buf()
}

/// A binary built next to the `lxcrs` multicall binary (e.g. `lxcrs-net`).
pub fn built_tool(name: &str) -> PathBuf {
    profile_dir().join(name)
}

/// The checkout's share tree (templates and config includes).
///
/// The checkout's `templates/` holds `@LXCSHARE@` placeholders that `make install`
/// replaces; the tests get the same treatment: a copy under `target/lxcrs-share` with
/// the placeholder set to that copy, refreshed once per test process.
/// The share dir to give our own binaries (the build tree's, or `make build`'s
/// `target/dist` through `LXCRS_BIN_DIR`): templates and includes from the checkout.
/// None for another implementation's binaries, or when `LXCRS_SHARE_DIR` says already.
pub fn own_share_dir() -> Option<PathBuf> {
    if std::env::var_os("LXCRS_SHARE_DIR").is_some() {
        return None;
    }
    match std::env::var_os("LXCRS_BIN_DIR") {
        Some(d) if !Path::new(&d).join("lxcrs").exists() => None,
        _ => Some(share_dir()),
    }
}

pub fn share_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates");
        let dst = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/lxcrs-share");
        let tmp = dst.with_extension(format!("tmp{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        copy_substituted(&src, &tmp, &dst);
        // Swap in the fresh copy; another test process may be doing the same.
        let _ = std::fs::remove_dir_all(&dst);
        if std::fs::rename(&tmp, &dst).is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        dst
    })
    .clone()
}

fn copy_substituted(src: &Path, dst: &Path, share: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dst).expect("create share copy");
    for e in std::fs::read_dir(src).expect("read templates/").flatten() {
        let (from, to) = (e.path(), dst.join(e.file_name()));
        if from.is_dir() {
            copy_substituted(&from, &to, share);
        } else {
            let text = std::fs::read(&from).expect("read share file");
            let text =
                String::from_utf8_lossy(&text).replace("@LXCSHARE@", &share.to_string_lossy());
            std::fs::write(&to, text).expect("write share file");
            let mode = std::fs::metadata(&from)
                .map(|m| m.permissions().mode())
                .unwrap_or(0o644);
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(mode))
                .expect("chmod share file");
        }
    }
}

/// The tools of the multicall binary, as it lists them (`lxcrs --list-tools`).
fn tools(multicall: &Path) -> Vec<String> {
    let out = std::process::Command::new(multicall)
        .arg("--list-tools")
        .output()
        .expect("run lxcrs --list-tools");
    assert!(out.status.success(), "lxcrs --list-tools failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}
