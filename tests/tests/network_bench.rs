//! What a veth on a bridge adds to a start, for lxcrs and for Debian's real LXC in the
//! same run: `lxc-start -d` until it returns with the container RUNNING, for a busybox
//! container with `lxc.net.0.type = empty` and one with a veth on a test bridge;
//! median of N runs each, the four kinds interleaved so that both see the same noise.
//! A measurement, not a test: only with `LXCRS_NET_BENCH=1` (N = `LXCRS_NET_BENCH_RUNS`,
//! default 15); lxcrs from `target/release` (`cargo build --release --bins`).
//!
//!     LXCRS_NET_BENCH=1 cargo test -p lxcrs-tests --test network_bench -- --nocapture

mod network_util;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use network_util::Bridge;

/// A dir of `lxc-*` links to the release multicall binary.
fn release_bin_dir() -> (tempfile::TempDir, PathBuf) {
    let release = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release");
    let lxcrs = release.join("lxcrs");
    assert!(
        lxcrs.exists() && release.join("lxcrs-monitor").exists(),
        "build the release binaries first: cargo build --release --bins"
    );
    let dir = tempfile::tempdir().unwrap();
    for t in [
        "lxc-create",
        "lxc-start",
        "lxc-stop",
        "lxc-destroy",
        "lxc-info",
    ] {
        std::os::unix::fs::symlink(&lxcrs, dir.path().join(t)).unwrap();
    }
    let p = dir.path().to_path_buf();
    (dir, p)
}

struct Impl {
    label: &'static str,
    bin: PathBuf,
    lxcpath: tempfile::TempDir,
}

impl Impl {
    fn cmd(&self, tool: &str, args: &[&str]) -> Command {
        let mut c = Command::new(self.bin.join(tool));
        c.arg("-P").arg(self.lxcpath.path()).args(args);
        c.env("LXCRS_SHARE_DIR", lxcrs_tests::share_dir());
        c
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let out = self.cmd(tool, args).output().unwrap();
        assert!(
            out.status.success(),
            "{} {tool} {args:?}: {}",
            self.label,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn create(&self, name: &str, net: &str) {
        let conf = self.lxcpath.path().join(format!("{name}.conf"));
        std::fs::write(&conf, format!("{net}lxc.apparmor.profile = unconfined\n")).unwrap();
        self.run(
            "lxc-create",
            &["-n", name, "-t", "busybox", "-f", conf.to_str().unwrap()],
        );
    }

    /// One `lxc-start -d`, timed; then checked RUNNING and killed (not timed).
    fn start_once(&self, name: &str) -> Duration {
        let t = Instant::now();
        self.run("lxc-start", &["-d", "-n", name]);
        let d = t.elapsed();
        let out = self.cmd("lxc-info", &["-n", name, "-s"]).output().unwrap();
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("RUNNING"),
            "{} {name} is not RUNNING after lxc-start -d",
            self.label
        );
        self.run("lxc-stop", &["-k", "-n", name]);
        d
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[test]
#[ignore = "a measurement, not a test: LXCRS_NET_BENCH=1 cargo test -p lxcrs-tests --test network_bench -- --ignored --nocapture"]
fn veth_bridge_start_overhead_lxcrs_vs_lxc() {
    if std::env::var("LXCRS_NET_BENCH").as_deref() != Ok("1") {
        eprintln!("SKIP: a measurement; run with LXCRS_NET_BENCH=1");
        return;
    }
    assert!(nix::unistd::geteuid().is_root(), "needs root");
    let runs: usize = std::env::var("LXCRS_NET_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15)
        .max(10);
    let br = Bridge::new(233);
    let (_links, rel) = release_bin_dir();
    let mut impls = vec![Impl {
        label: "lxcrs",
        bin: rel,
        lxcpath: tempfile::tempdir().unwrap(),
    }];
    if Path::new("/usr/bin/lxc-start").exists() {
        impls.push(Impl {
            label: "lxc",
            bin: PathBuf::from("/usr/bin"),
            lxcpath: tempfile::tempdir().unwrap(),
        });
    } else {
        eprintln!("NOTE: /usr/bin/lxc-start missing: lxcrs only");
    }
    let veth = format!(
        "lxc.net.0.type = veth\nlxc.net.0.link = {}\nlxc.net.0.flags = up\nlxc.net.0.hwaddr = 00:16:3e:xx:xx:xx\n",
        br.name
    );
    for i in &impls {
        i.create("nonet", "lxc.net.0.type = empty\n");
        i.create("veth", &veth);
        // Warm up caches once.
        i.start_once("nonet");
        i.start_once("veth");
    }
    let mut times: Vec<[Vec<Duration>; 2]> = impls.iter().map(|_| [vec![], vec![]]).collect();
    for _ in 0..runs {
        for (k, name) in ["nonet", "veth"].iter().enumerate() {
            for (j, i) in impls.iter().enumerate() {
                times[j][k].push(i.start_once(name));
            }
        }
    }
    println!("lxc-start -d to RUNNING, busybox, median of {runs} runs:");
    println!(
        "{:<8} {:>10} {:>12} {:>10}",
        "impl", "empty ms", "veth+br ms", "cost ms"
    );
    for (j, i) in impls.iter().enumerate() {
        let (a, b) = (median(times[j][0].clone()), median(times[j][1].clone()));
        println!(
            "{:<8} {:>10.1} {:>12.1} {:>10.1}",
            i.label,
            ms(a),
            ms(b),
            ms(b) - ms(a)
        );
    }
    for i in &impls {
        for n in ["nonet", "veth"] {
            let _ = i.cmd("lxc-destroy", &["-f", "-n", n]).output();
        }
    }
    drop(br);
}
