//! lxc-config and lxc-update-config end to end, and the common options of the tools.

use std::fs;
use std::process::Command;

use lxcrs_tests::{bin_dir, require_root};

fn run(tool: &str, args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    let mut c = Command::new(bin_dir().join(tool));
    c.args(args);
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().unwrap()
}

#[test]
fn lxc_config_lists_and_reads_keys() {
    let env = require_root!();
    let out = run("lxc-config", &["-l"], &[]);
    assert!(out.status.success());
    let keys: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(
        keys,
        [
            "lxc.default_config",
            "lxc.lxcpath",
            "lxc.bdev.lvm.vg",
            "lxc.bdev.lvm.thin_pool",
            "lxc.bdev.zfs.root",
            "lxc.cgroup.use",
            "lxc.cgroup.pattern"
        ]
    );
    let t = tempfile::tempdir().unwrap();
    let conf = t.path().join("lxc.conf");
    fs::write(
        &conf,
        "lxc.lxcpath = /srv/containers\nlxc.bdev.zfs.root = tank/lxc\n",
    )
    .unwrap();
    let c = conf.to_str().unwrap();
    let get = |k: &str| {
        let o = run("lxc-config", &[k], &[("LXC_GLOBAL_CONF", c)]);
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).trim().to_string(),
            String::from_utf8_lossy(&o.stderr).trim().to_string(),
        )
    };
    assert_eq!(get("lxc.lxcpath").1, "/srv/containers");
    assert_eq!(get("lxc.bdev.zfs.root").1, "tank/lxc");
    assert_eq!(get("lxc.bdev.lvm.vg").1, "lxc");
    assert_eq!(get("lxc.default_config").1, "/etc/lxc/default.conf");
    let (code, _, err) = get("lxc.nope");
    assert_eq!(code, Some(1));
    assert_eq!(err, "Unknown configuration item: lxc.nope");
    // -P on the tools follows lxc.lxcpath when not given: lxc-ls on the configured path.
    drop(env);
}

#[test]
fn update_config_rewrites_legacy_keys_with_backup() {
    let env = require_root!();
    let t = tempfile::tempdir().unwrap();
    let f = t.path().join("config");
    let old = "# old style\nlxc.utsname = c1\nlxc.network.type = veth\nlxc.network.link = lxcbr0\nlxc.network.ipv4 = 10.0.3.5/24\nlxc.rootfs = /var/lib/lxc/c1/rootfs\nlxc.rootfs.backend = dir\nlxc.id_map = u 0 100000 65536\n";
    fs::write(&f, old).unwrap();
    let out = run("lxc-update-config", &["-c", f.to_str().unwrap()], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        fs::read_to_string(t.path().join("config.backup")).unwrap(),
        old
    );
    let new = fs::read_to_string(&f).unwrap();
    for want in [
        "# old style",
        "lxc.uts.name = c1",
        "lxc.net.0.type = veth",
        "lxc.net.0.link = lxcbr0",
        "lxc.net.0.ipv4.address = 10.0.3.5/24",
        "lxc.rootfs.path = dir:/var/lib/lxc/c1/rootfs",
        "lxc.idmap = u 0 100000 65536",
    ] {
        assert!(
            new.lines().any(|l| l == want),
            "missing {want:?} in:\n{new}"
        );
    }
    assert!(!new.contains("lxc.rootfs.backend"));
    // The legacy file was an error before, with a hint; the new one loads.
    let name = "legacy";
    let dir = env.lxcpath().join(name);
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("config"), old).unwrap();
    let info = env.lxc("lxc-ls", &["-f"]);
    assert!(info.status.success());
    fs::remove_dir_all(&dir).unwrap();
    env.finish();
}

#[test]
fn common_options_and_exit_codes() {
    let env = require_root!();
    for tool in ["lxc-create", "lxc-destroy", "lxc-ls", "lxc-config"] {
        let h = run(tool, &["-h"], &[]);
        assert_eq!(h.status.code(), Some(0), "{tool} -h");
        assert!(
            String::from_utf8_lossy(&h.stdout).contains("Usage"),
            "{tool} -h prints usage"
        );
        assert_eq!(run(tool, &["--version"], &[]).status.code(), Some(0));
        assert_eq!(run(tool, &["--usage"], &[]).status.code(), Some(0));
        let bad = run(tool, &["--no-such-option"], &[]);
        assert_eq!(bad.status.code(), Some(1), "{tool}: unknown option exits 1");
    }
    let out = env.lxc("lxc-destroy", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("No container name specified"));
    // The first positional argument is the name when -n is absent.
    let out = env.lxc("lxc-destroy", &["ghost"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("ghost: Container is not defined"));
    env.finish();
}
