//! The `debian` template: what it puts in the rootfs and the config, how fast it is from a
//! warm cache, and how it fails. No container is started here (see the boot tests).
//!
//! The template is passed to `lxc-create` by its path in the checkout, so these tests check
//! our template under any implementation's `lxc-create` (`LXCRS_BIN_DIR`). The first run on
//! a machine debootstraps the base rootfs (minutes, needs the Debian mirror); it stays in
//! `/var/cache/lxc/lxcrs-debian/` for the next runs. `LXCRS_DEBIAN_TEMPLATE=/usr/local/share/
//! lxc/templates/lxc-debian` tests an installed template instead of the checkout's.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use lxcrs_tests::{require_root, share_dir, Env};

const RELEASE: &str = "bookworm";

/// The template under test: `$LXCRS_DEBIAN_TEMPLATE` (e.g. an installed one), else the checkout's.
fn template() -> PathBuf {
    match std::env::var_os("LXCRS_DEBIAN_TEMPLATE") {
        Some(p) => PathBuf::from(p),
        None => share_dir()
            .join("templates/lxc-debian")
            .canonicalize()
            .expect("templates/templates/lxc-debian exists"),
    }
}

fn arch() -> String {
    let out = Command::new("dpkg")
        .arg("--print-architecture")
        .output()
        .expect("dpkg");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn cache_root() -> PathBuf {
    PathBuf::from(std::env::var_os("LXC_CACHE_PATH").unwrap_or_else(|| "/var/cache/lxc".into()))
        .join("lxcrs-debian")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs the template script directly (not through lxc-create) with `args`.
fn run_template(args: &[&str], cache: Option<&Path>) -> Output {
    let mut c = Command::new(template());
    c.args(args).stdin(Stdio::null());
    if let Some(cache) = cache {
        c.env("LXC_CACHE_PATH", cache);
    }
    c.output().expect("run lxc-debian")
}

/// `lxc-create -t <checkout>/lxc-debian -n name -- args`, timed.
fn create(env: &Env, name: &str, args: &[&str]) -> Duration {
    let tpl = template();
    let mut argv = vec!["-n", name, "-t", tpl.to_str().unwrap()];
    if !args.is_empty() {
        argv.push("--");
        argv.extend_from_slice(args);
    }
    let t = Instant::now();
    env.ok("lxc-create", &argv);
    t.elapsed()
}

fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

/// SSH host keys (private parts) of a rootfs, by file name.
fn host_keys(rootfs: &Path) -> Vec<(String, Vec<u8>)> {
    let mut keys: Vec<(String, Vec<u8>)> = fs::read_dir(rootfs.join("etc/ssh"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    (n.starts_with("ssh_host_") && n.ends_with("_key"))
                        .then(|| (n, fs::read(e.path()).unwrap()))
                })
                .collect()
        })
        .unwrap_or_default();
    keys.sort();
    keys
}

/// True when some `*.wants/` directory of the rootfs's /etc/systemd/system enables `unit`.
fn enabled(rootfs: &Path, unit: &str) -> bool {
    fs::read_dir(rootfs.join("etc/systemd/system"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".wants"))
        // Not exists(): the links are absolute, meant for inside the rootfs.
        .any(|e| fs::symlink_metadata(e.path().join(unit)).is_ok())
}

/// The value of the last `key = value` line of a config text.
fn config_value(config: &str, key: &str) -> Option<String> {
    config
        .lines()
        .rev()
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim().to_owned())
}

#[test]
fn debian_rootfs_and_config() {
    let env = require_root!();
    let name = env.unique_name("deb");
    let cold = create(&env, &name, &["-r", RELEASE]);
    eprintln!(
        "create (cache {}): {cold:?}",
        if cold > Duration::from_secs(60) {
            "built"
        } else {
            "warm"
        }
    );

    let dir = env.lxcpath().join(&name);
    let rootfs = dir.join("rootfs");
    let cache = cache_root().join(format!("rootfs-{RELEASE}-{}", arch()));
    assert!(cache.is_dir(), "no cache in {}", cache.display());
    assert!(!cache_root()
        .join(format!("rootfs-{RELEASE}-{}.partial", arch()))
        .exists());

    // Identity.
    assert_eq!(read(&rootfs.join("etc/hostname")).trim(), name);
    let hosts = read(&rootfs.join("etc/hosts"));
    assert!(
        hosts
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["127.0.1.1", name.as_str()]),
        "{hosts}"
    );
    assert!(
        hosts
            .lines()
            .any(|l| l.starts_with("127.0.0.1") && l.contains("localhost")),
        "{hosts}"
    );
    // An empty machine-id: systemd generates this container's own at first boot.
    assert_eq!(
        fs::metadata(rootfs.join("etc/machine-id")).unwrap().len(),
        0
    );
    assert_eq!(
        fs::metadata(cache.join("etc/machine-id")).unwrap().len(),
        0,
        "the cache carries a machine-id"
    );

    // SSH host keys: the container's own, none in the cache.
    let keys = host_keys(&rootfs);
    let kinds: Vec<&str> = keys.iter().map(|(n, _)| n.as_str()).collect();
    // RSA is made by ssh.service's first start (ssh-keygen -A in a drop-in): it is slow.
    assert_eq!(kinds, ["ssh_host_ecdsa_key", "ssh_host_ed25519_key"]);
    let dropin = read(&rootfs.join("etc/systemd/system/ssh.service.d/lxcrs-host-keys.conf"));
    assert!(
        dropin.contains("ExecStartPre=/usr/bin/ssh-keygen -A"),
        "{dropin}"
    );
    assert!(
        host_keys(&cache).is_empty(),
        "the cache holds SSH host keys that every container would share"
    );
    for (n, _) in &keys {
        let mode = fs::metadata(rootfs.join("etc/ssh").join(n))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{n}");
        let public = read(&rootfs.join("etc/ssh").join(format!("{n}.pub")));
        assert!(
            public.trim_end().ends_with(&format!("root@{name}")),
            "{public}"
        );
    }

    // root: locked password.
    let shadow = read(&rootfs.join("etc/shadow"));
    let root = shadow
        .lines()
        .find(|l| l.starts_with("root:"))
        .expect("root in /etc/shadow");
    let hash = root.split(':').nth(1).unwrap();
    assert!(
        hash.starts_with('!') || hash.starts_with('*'),
        "root's password is not locked: {root}"
    );

    // systemd as init, networkd with DHCP on eth0, resolved for DNS, multi-user target.
    let init = fs::read_link(rootfs.join("sbin/init"))
        .or_else(|_| fs::read_link(rootfs.join("usr/sbin/init")))
        .unwrap();
    assert!(
        init.to_string_lossy().ends_with("systemd"),
        "{}",
        init.display()
    );
    let network = read(&rootfs.join("etc/systemd/network/eth0.network"));
    for want in ["Name=eth0", "DHCP=yes", "ClientIdentifier=mac"] {
        assert!(
            network.lines().any(|l| l.trim() == want),
            "eth0.network lacks {want}:\n{network}"
        );
    }
    assert!(
        enabled(&rootfs, "systemd-networkd.service"),
        "systemd-networkd is not enabled"
    );
    assert!(
        enabled(&rootfs, "systemd-resolved.service"),
        "systemd-resolved is not enabled"
    );
    assert!(enabled(&rootfs, "ssh.service"), "ssh is not enabled");
    assert!(
        fs::symlink_metadata(rootfs.join(
            "etc/systemd/system/network-online.target.wants/systemd-networkd-wait-online.service"
        ))
        .is_err(),
        "wait-online is enabled: a container without a NIC would fail it"
    );
    assert_eq!(
        fs::read_link(rootfs.join("etc/resolv.conf")).unwrap(),
        Path::new("../run/systemd/resolve/stub-resolv.conf")
    );
    let default = fs::read_link(rootfs.join("etc/systemd/system/default.target")).unwrap();
    assert!(
        default.ends_with("multi-user.target"),
        "{}",
        default.display()
    );
    // Nothing masked: the getty generator's container-getty@ units must be usable.
    let masked: Vec<String> = fs::read_dir(rootfs.join("etc/systemd/system"))
        .unwrap()
        .flatten()
        .filter(|e| fs::read_link(e.path()).ok().as_deref() == Some(Path::new("/dev/null")))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(masked.is_empty(), "masked units: {masked:?}");
    assert!(
        !rootfs.join("usr/sbin/policy-rc.d").exists(),
        "policy-rc.d left in the rootfs"
    );
    assert!(rootfs.join("usr/sbin/sshd").exists() && rootfs.join("usr/bin/dbus-daemon").exists());

    // Config: includes that exist, name, arch, ttys.
    let config = read(&dir.join("config"));
    let include = config
        .lines()
        .filter_map(|l| {
            l.split_once('=')
                .filter(|(k, _)| k.trim() == "lxc.include")
                .map(|(_, v)| v.trim().to_owned())
        })
        .find(|v| v.ends_with("/debian.common.conf"))
        .unwrap_or_else(|| panic!("no debian.common.conf include:\n{config}"));
    assert!(
        Path::new(&include).is_absolute() && Path::new(&include).is_file(),
        "{include}"
    );
    assert_eq!(
        config_value(&config, "lxc.uts.name").as_deref(),
        Some(name.as_str())
    );
    assert_eq!(config_value(&config, "lxc.arch"), Some(arch()));
    assert_eq!(config_value(&config, "lxc.tty.max").as_deref(), Some("4"));
    assert_eq!(
        config_value(&config, "lxc.pty.max").as_deref(),
        Some("1024")
    );
    assert_eq!(config.matches("lxc.rootfs.path").count(), 1, "{config}");
    assert_eq!(
        env.ok("lxc-info", &["-n", &name, "-c", "lxc.uts.name"])
            .trim(),
        format!("lxc.uts.name = {name}")
    );

    env.finish();
}

#[test]
fn debian_warm_create_is_fast_and_containers_differ() {
    let env = require_root!();
    let a = env.unique_name("deb");
    let b = env.unique_name("deb");
    // The first create may build the cache; the second is from a warm cache.
    create(&env, &a, &[]);
    let key = env.lxcpath().join("id.pub");
    fs::write(&key, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEmJ4YpDOpnR0TmvqMbiTC5qMhQ7y0Wc9m7cmdQhYk8h test@lxcrs\n").unwrap();
    let warm = create(&env, &b, &["--auth-key", key.to_str().unwrap()]);
    eprintln!("warm create: {warm:?}");
    // About 1.5 s on an idle disk; the bound only catches a cache rebuilt on every create
    // (minutes), since a busy disk makes copying ~180 MB take many seconds.
    assert!(
        warm < Duration::from_secs(60),
        "create from a warm cache took {warm:?}"
    );

    let ra = env.lxcpath().join(&a).join("rootfs");
    let rb = env.lxcpath().join(&b).join("rootfs");
    assert_ne!(
        host_keys(&ra),
        host_keys(&rb),
        "two containers share SSH host keys"
    );
    let ak = rb.join("root/.ssh/authorized_keys");
    assert_eq!(read(&ak), read(&key));
    assert_eq!(
        fs::metadata(&ak).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        fs::metadata(rb.join("root/.ssh"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    assert!(!ra.join("root/.ssh/authorized_keys").exists());
    env.finish();
}

#[test]
fn debian_unknown_release_fails_clearly_and_leaves_no_trace() {
    let env = require_root!();
    let name = env.unique_name("deb");
    let tpl = template();
    let out = env.lxc(
        "lxc-create",
        &[
            "-n",
            &name,
            "-t",
            tpl.to_str().unwrap(),
            "--",
            "-r",
            "nosuchrelease",
        ],
    );
    assert!(!out.status.success());
    let msg = text(&out);
    assert!(
        msg.contains("unknown Debian release 'nosuchrelease'"),
        "{msg}"
    );
    assert!(msg.contains("hint:"), "{msg}");
    assert!(
        !env.lxcpath().join(&name).exists(),
        "the failed container left a directory"
    );
    for leftover in ["", ".partial", ".lock"] {
        let p = cache_root().join(format!("rootfs-nosuchrelease-{}{leftover}", arch()));
        assert!(!p.exists(), "{} left behind", p.display());
    }
    env.finish();
}

#[test]
fn debian_template_options() {
    let env = require_root!();
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");

    let help = run_template(&["--help"], None);
    assert!(help.status.success());
    let help = text(&help);
    for opt in [
        "--release",
        "--arch",
        "--mirror",
        "--security-mirror",
        "--packages",
        "--flush-cache",
        "--clean",
        "--auth-key",
    ] {
        assert!(help.contains(opt), "--help does not mention {opt}:\n{help}");
    }

    let out = run_template(
        &["--path=/nonexistent", "--name=x", "--bogus"],
        Some(&cache),
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("unknown option '--bogus'"),
        "{}",
        text(&out)
    );

    // Unprivileged: refused, saying why and what to use instead.
    let out = run_template(
        &[
            "--path=/nonexistent",
            "--name=x",
            "--mapped-uid",
            "100000",
            "--mapped-gid",
            "100000",
        ],
        Some(&cache),
    );
    assert!(!out.status.success());
    let msg = text(&out);
    assert!(
        msg.contains("unprivileged") && msg.contains("download"),
        "{msg}"
    );

    // Options are parsed up to the point they would need the network.
    let c = tmp.path().join("c");
    fs::create_dir_all(c.join("rootfs")).unwrap();
    let (path, rootfs) = (
        format!("--path={}", c.display()),
        format!("--rootfs={}", c.join("rootfs").display()),
    );
    for args in [
        &["--flush-cache", "-r", "nosuchrelease"][..],
        &[
            "-F",
            "--release=nosuchrelease",
            "--mirror",
            "http://127.0.0.1:9/debian",
        ],
        &[
            "--packages=less,vim",
            "--security-mirror=http://127.0.0.1:9/",
            "-rnosuchrelease",
            "-a",
            "amd64",
        ],
    ] {
        let mut argv = vec![path.as_str(), "--name=c", rootfs.as_str()];
        argv.extend_from_slice(args);
        let out = run_template(&argv, Some(&cache));
        assert!(!out.status.success());
        assert!(
            text(&out).contains("unknown Debian release 'nosuchrelease'"),
            "{args:?}: {}",
            text(&out)
        );
    }
    assert!(!cache.exists(), "a failed create left a cache directory");
    assert_eq!(
        fs::read_dir(c.join("rootfs")).unwrap().count(),
        0,
        "a failed create wrote into the rootfs"
    );

    let out = run_template(
        &[
            path.as_str(),
            "--name=c",
            rootfs.as_str(),
            "--auth-key",
            "/nonexistent.pub",
        ],
        Some(&cache),
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("--auth-key"), "{}", text(&out));

    // A rootfs that already has contents is never overwritten.
    fs::write(c.join("rootfs/precious"), "x").unwrap();
    let out = run_template(&[path.as_str(), "--name=c", rootfs.as_str()], Some(&cache));
    assert!(!out.status.success());
    assert!(text(&out).contains("not empty"), "{}", text(&out));
    assert_eq!(read(&c.join("rootfs/precious")), "x");

    // --clean: only the given release/arch with -r, everything without; no create needed.
    let root = cache.join("lxcrs-debian");
    for d in ["rootfs-fake1-amd64", "rootfs-fake2-amd64"] {
        fs::create_dir_all(root.join(d).join("etc")).unwrap();
    }
    let out = run_template(&["--clean", "-r", "fake1", "-a", "amd64"], Some(&cache));
    assert!(out.status.success(), "{}", text(&out));
    assert!(!root.join("rootfs-fake1-amd64").exists());
    assert!(root.join("rootfs-fake2-amd64").exists());
    let out = run_template(&["-c"], Some(&cache));
    assert!(out.status.success(), "{}", text(&out));
    assert!(!root.join("rootfs-fake2-amd64").exists());
    env.finish();
}

/// `btrfs subvolume show PATH`'s "UUID:" and "Parent UUID:" lines.
fn subvolume_uuids(path: &Path) -> (String, String) {
    let out = Command::new("btrfs")
        .args(["subvolume", "show"])
        .arg(path)
        .output()
        .expect("btrfs subvolume show");
    assert!(out.status.success(), "not a subvolume: {}", path.display());
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |key: &str| {
        text.lines()
            .filter_map(|l| l.trim().split_once(':'))
            .find(|(k, _)| k.trim() == key)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    (field("UUID"), field("Parent UUID"))
}

fn ok_status(cmd: &mut Command, what: &str) {
    let st = cmd.status().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(st.success(), "{what} failed");
}

/// The host's cache of the release, built first (minutes, once per machine) if missing.
fn warm_host_cache(env: &Env) -> PathBuf {
    let host_cache = cache_root().join(format!("rootfs-{RELEASE}-{}", arch()));
    if !host_cache.is_dir() {
        let warm = env.unique_name("deb");
        create(env, &warm, &[]);
        env.ok("lxc-destroy", &["-n", &warm]);
    }
    host_cache
}

/// A Debian container created with `-B btrfs` is a btrfs snapshot of the template cache when
/// the cache is a subvolume on the same filesystem (instant, blocks shared), and a copy when
/// the cache is elsewhere. The cache itself is never changed by a container.
#[test]
fn debian_on_btrfs_snapshots_a_btrfs_cache() {
    let env = require_root!();
    let host_cache = warm_host_cache(&env);

    // A btrfs filesystem over the lxcpath, with a cache subvolume in it.
    let img = tempfile::NamedTempFile::new().unwrap();
    img.as_file().set_len(2 << 30).unwrap();
    ok_status(
        Command::new("mkfs.btrfs")
            .arg("-q")
            .arg(img.path())
            .stdout(Stdio::null()),
        "mkfs.btrfs",
    );
    let mnt = env.lxcpath().to_path_buf();
    ok_status(
        Command::new("mount")
            .args(["-o", "loop"])
            .arg(img.path())
            .arg(&mnt),
        "mount btrfs image",
    );
    let cache_path = mnt.join(".cache");
    let cache = cache_path.join(format!("lxcrs-debian/rootfs-{RELEASE}-{}", arch()));
    fs::create_dir_all(cache.parent().unwrap()).unwrap();
    ok_status(
        Command::new("btrfs")
            .args(["-q", "subvolume", "create"])
            .arg(&cache),
        "btrfs subvolume create",
    );
    ok_status(
        Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", host_cache.display()))
            .arg(&cache),
        "copying the host cache into the btrfs cache",
    );

    let tpl = template();
    let snap = env.unique_name("deb");
    let t = Instant::now();
    let out = env
        .cmd("lxc-create")
        .args(["-n", &snap, "-B", "btrfs", "-t", tpl.to_str().unwrap()])
        .env("LXC_CACHE_PATH", &cache_path)
        .output()
        .unwrap();
    let took = t.elapsed();
    assert!(out.status.success(), "create: {}", text(&out));
    eprintln!("Debian create on btrfs from a btrfs cache: {took:?}");
    let rootfs = mnt.join(&snap).join("rootfs");
    let (cache_uuid, _) = subvolume_uuids(&cache);
    let (_, parent) = subvolume_uuids(&rootfs);
    assert_eq!(
        parent, cache_uuid,
        "the rootfs is not a snapshot of the cache"
    );
    assert_eq!(read(&rootfs.join("etc/hostname")).trim(), snap);
    assert_eq!(read(&cache.join("etc/hostname")).trim(), "localhost");
    assert!(!rootfs.join(".lxcrs-same-fs").exists());
    assert!(!host_keys(&rootfs).is_empty(), "no SSH host keys made");
    assert!(host_keys(&cache).is_empty(), "the cache got SSH host keys");

    // The host's cache is on another filesystem: a copy into the subvolume lxc-create made.
    let copy = env.unique_name("deb");
    env.ok(
        "lxc-create",
        &["-n", &copy, "-B", "btrfs", "-t", tpl.to_str().unwrap()],
    );
    let (_, parent) = subvolume_uuids(&mnt.join(&copy).join("rootfs"));
    assert!(
        parent.is_empty() || parent == "-",
        "a copy has a parent: {parent}"
    );
    assert_eq!(
        read(&mnt.join(&copy).join("rootfs/etc/hostname")).trim(),
        copy
    );

    for n in [&snap, &copy] {
        env.ok("lxc-destroy", &["-n", n]);
    }
    ok_status(
        Command::new("btrfs")
            .args(["-q", "subvolume", "delete"])
            .arg(&cache)
            .stdout(Stdio::null()),
        "btrfs subvolume delete",
    );
    fs::remove_dir_all(&cache_path).unwrap();
    let left: Vec<_> = fs::read_dir(&mnt)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    ok_status(Command::new("umount").arg(&mnt), "umount btrfs");
    assert!(left.is_empty(), "left on btrfs: {left:?}");
    env.finish();
}

/// A Debian container with `-B overlay` has the cache itself as its bottom layer: its own
/// layer holds only what makes it unique, create copies nothing, and the template refuses
/// to flush or clean a cache that containers are built on.
#[test]
fn debian_on_overlay_layers_the_cache() {
    let env = require_root!();
    let host_cache = warm_host_cache(&env);
    // A cache of this test's own: hard links to the host cache (overlayfs only reads it).
    let cache_path = tempfile::tempdir().unwrap();
    let cache = cache_path
        .path()
        .join(format!("lxcrs-debian/rootfs-{RELEASE}-{}", arch()));
    fs::create_dir_all(cache.parent().unwrap()).unwrap();
    let linked = Command::new("cp")
        .arg("-al")
        .arg(&host_cache)
        .arg(&cache)
        .status()
        .unwrap()
        .success();
    if !linked {
        let _ = fs::remove_dir_all(&cache);
        ok_status(
            Command::new("cp").arg("-a").arg(&host_cache).arg(&cache),
            "copy the host cache",
        );
    }
    let tpl = template();
    let lxc = |args: &[&str]| {
        env.cmd("lxc-create")
            .args(args)
            .env("LXC_CACHE_PATH", cache_path.path())
            .output()
            .unwrap()
    };

    let name = env.unique_name("ovl");
    let t = Instant::now();
    let out = lxc(&["-n", &name, "-B", "overlay", "-t", tpl.to_str().unwrap()]);
    eprintln!("Debian create on overlay: {:?}", t.elapsed());
    assert!(out.status.success(), "create: {}", text(&out));
    let dir = env.lxcpath().join(&name);
    let cfg = read(&dir.join("config"));
    assert_eq!(
        config_value(&cfg, "lxc.rootfs.path").unwrap(),
        format!(
            "overlay:{}:{}:{}",
            dir.join("rootfs").display(),
            cache.display(),
            dir.join("overlay/delta").display()
        )
    );
    // Its own layer: the files that make it unique, not a copy of the cache.
    let own = dir.join("rootfs");
    assert_eq!(read(&own.join("etc/hostname")).trim(), name);
    assert!(!own.join("usr/bin").exists(), "the cache was copied");
    assert!(!host_keys(&own).is_empty(), "no SSH host keys in its layer");
    assert_eq!(read(&cache.join("etc/hostname")).trim(), "localhost");
    assert!(host_keys(&cache).is_empty(), "the cache got SSH host keys");
    assert!(!dir.join(".lxcrs-template-root").exists());
    assert!(!dir.join(".lxcrs-template-work").exists());

    // It runs, with the cache's files and its own.
    env.ok("lxc-start", &["-n", &name]);
    let seen = env.ok("lxc-attach", &["-n", &name, "--", "cat", "/etc/hostname"]);
    assert_eq!(seen.trim(), name);
    env.ok(
        "lxc-attach",
        &["-n", &name, "--", "test", "-x", "/usr/bin/ssh-keygen"],
    );
    env.ok("lxc-stop", &["-n", &name, "-k"]);

    // A clone of it is layered the same way; the cache cannot go while either exists.
    let clone = env.unique_name("ovl");
    env.ok("lxc-copy", &["-n", &name, "-N", &clone, "-s"]);
    let other = env.unique_name("deb");
    let tried = [
        ("-c", run_template(&["-c"], Some(cache_path.path()))),
        (
            "-F",
            lxc(&["-n", &other, "-t", tpl.to_str().unwrap(), "--", "-F"]),
        ),
    ];
    for (what, out) in tried {
        assert!(!out.status.success(), "{what} removed a cache in use");
        let t = text(&out);
        assert!(
            t.contains(&name) && t.contains("bottom layer"),
            "{what}: {t}"
        );
        assert!(
            cache.join("etc/hostname").exists(),
            "{what} removed the cache"
        );
    }
    assert!(!env.lxcpath().join(&other).exists());
    env.ok("lxc-destroy", &["-n", &clone]);
    env.ok("lxc-destroy", &["-n", &name]);
    let out = run_template(&["-c"], Some(cache_path.path()));
    assert!(
        out.status.success(),
        "clean after the destroys: {}",
        text(&out)
    );
    assert!(!cache.exists());
    env.finish();
}
