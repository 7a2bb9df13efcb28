//! lxc-create / lxc-destroy / lxc-ls end to end: busybox containers, `-f` configs, and
//! every failure mode of create leaving no trace and never touching the user's data.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lxcrs_tests::{require_root, Env};

/// Writes an executable template script into `dir` and returns its path.
fn template(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    let script = format!(
        "#!/bin/sh\nset -e\nfor a in \"$@\"; do case \"$a\" in --path=*) path=${{a#*=}};; --rootfs=*) rootfs=${{a#*=}};; --name=*) name=${{a#*=}};; esac; done\n{body}\n"
    );
    fs::write(&p, script).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    p
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Snapshot of a directory tree: relative paths and file contents.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    fn walk(base: &Path, d: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        let mut entries: Vec<_> = fs::read_dir(d).unwrap().flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                out.push((rel + "/", Vec::new()));
                walk(base, &p, out);
            } else {
                out.push((rel, fs::read(&p).unwrap_or_default()));
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

fn assert_no_trace(env: &Env, name: &str) {
    assert!(
        !env.lxcpath().join(name).exists(),
        "{name} left a directory behind"
    );
    assert!(
        !env.ok("lxc-ls", &["-1"]).lines().any(|l| l == name),
        "{name} still listed"
    );
}

#[test]
fn busybox_create_list_destroy() {
    let env = require_root!();
    let name = env.unique_name("bb");
    env.create_busybox(&name);
    let dir = env.lxcpath().join(&name);
    assert!(dir.join("rootfs/bin/busybox").is_file());
    assert!(dir.join("rootfs/sbin/init").exists());
    let config = fs::read_to_string(dir.join("config")).unwrap();
    assert!(
        config.starts_with("# Template used to create this container: "),
        "{config}"
    );
    assert!(config.contains("# Template script checksum (SHA-1): "));
    assert!(config.contains(&format!(
        "lxc.rootfs.path = dir:{}",
        dir.join("rootfs").display()
    )));
    assert!(config.contains(&format!("lxc.uts.name = {name}")));
    assert!(!dir.join("partial").exists());

    assert_eq!(env.ok("lxc-ls", &["-1"]).trim(), name);
    let fancy = env.ok("lxc-ls", &["-f"]);
    let mut lines = fancy.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "STATE",
            "AUTOSTART",
            "GROUPS",
            "IPV4",
            "IPV6",
            "UNPRIVILEGED"
        ]
    );
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(row, [name.as_str(), "STOPPED", "0", "-", "-", "-", "false"]);
    let cols = env.ok("lxc-ls", &["-F", "name,state,pid"]);
    assert_eq!(
        cols.lines()
            .next()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["NAME", "STATE", "PID"]
    );
    assert_eq!(env.ok("lxc-ls", &["--running"]).trim(), "");
    assert_eq!(env.ok("lxc-ls", &["--stopped", "-1"]).trim(), name);
    assert_eq!(env.ok("lxc-ls", &["-1", "^nomatch"]).trim(), "");
    let bad = env.lxc("lxc-ls", &["-F", "name,bogus"]);
    assert!(!bad.status.success() && stderr(&bad).contains("Invalid key: bogus"));

    let again = env.lxc("lxc-create", &["-n", &name, "-t", "busybox"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("Container already exists"),
        "{}",
        stderr(&again)
    );

    let out = env.ok("lxc-destroy", &["-n", &name]);
    assert_eq!(out.trim(), format!("Destroyed container {name}"));
    assert_no_trace(&env, &name);
    let gone = env.lxc("lxc-destroy", &["-n", &name]);
    assert_eq!(gone.status.code(), Some(1));
    assert!(stderr(&gone).contains("Container is not defined"));
    env.finish();
}

#[test]
fn create_with_config_file_network_section() {
    let env = require_root!();
    let name = env.unique_name("net");
    let cfg = env.lxcpath().join("in.conf");
    fs::write(
        &cfg,
        "# my network\nlxc.net.0.type = veth\nlxc.net.0.link = br-test\nlxc.net.0.flags = up\nlxc.net.0.hwaddr = 00:16:3e:xx:xx:xx\n",
    )
    .unwrap();
    env.ok(
        "lxc-create",
        &["-n", &name, "-t", "busybox", "-f", cfg.to_str().unwrap()],
    );
    let config = fs::read_to_string(env.lxcpath().join(&name).join("config")).unwrap();
    assert!(config.contains("# my network\n"), "comments kept: {config}");
    assert!(config.contains("lxc.net.0.link = br-test"));
    let mac = config
        .lines()
        .find_map(|l| l.strip_prefix("lxc.net.0.hwaddr = "))
        .expect("hwaddr line");
    assert!(
        mac.starts_with("00:16:3e:") && !mac.contains('x') && mac.len() == 17,
        "concrete MAC: {mac}"
    );
    // The user's file is not modified.
    assert!(fs::read_to_string(&cfg).unwrap().contains("xx:xx:xx"));
    fs::remove_file(&cfg).unwrap();
    env.finish();
}

#[test]
fn template_none_makes_config_only() {
    let env = require_root!();
    let name = env.unique_name("none");
    env.ok("lxc-create", &["-n", &name, "-t", "none"]);
    assert!(env.lxcpath().join(&name).join("config").is_file());
    assert!(!env.lxcpath().join(&name).join("rootfs").exists());
    let missing = env.lxc("lxc-create", &["-n", "x"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("A template must be specified"));
    env.finish();
}

#[test]
fn template_help_is_shown() {
    let env = require_root!();
    let out = env.lxc("lxc-create", &["-t", "busybox", "-h"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("--busybox-path"), "{text}");
    env.finish();
}

#[test]
fn failing_template_leaves_no_trace() {
    let env = require_root!();
    let t = tempfile::tempdir().unwrap();
    let tpl = template(t.path(), "fail", "mkdir -p \"$rootfs/etc\"; echo hi > \"$rootfs/etc/x\"; echo 'lxc.uts.name = x' >> \"$path/config\"; echo 'template says: no' >&2; exit 3");
    let name = env.unique_name("fail");
    let out = env.lxc("lxc-create", &["-n", &name, "-t", tpl.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("template says: no"), "{err}");
    assert!(err.contains("exited with status 3"), "{err}");
    assert_no_trace(&env, &name);
    env.finish();
}

#[test]
fn bad_config_line_from_template_leaves_no_trace() {
    let env = require_root!();
    let t = tempfile::tempdir().unwrap();
    let tpl = template(
        t.path(),
        "badcfg",
        "echo 'lxc.bogus.key = 1' >> \"$path/config\"",
    );
    let name = env.unique_name("badcfg");
    let out = env.lxc("lxc-create", &["-n", &name, "-t", tpl.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("lxc.bogus.key"), "names the key: {err}");
    assert!(
        err.contains(&format!("{name}/config:")),
        "names file:line: {err}"
    );
    assert_no_trace(&env, &name);

    // A bad -f file fails before anything is made.
    let cfg = t.path().join("bad.conf");
    fs::write(&cfg, "lxc.uts.name = a\nlxc.net.0.type veth\n").unwrap();
    let out = env.lxc(
        "lxc-create",
        &["-n", &name, "-t", "busybox", "-f", cfg.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("bad.conf:2"), "{}", stderr(&out));
    assert_no_trace(&env, &name);
    env.finish();
}

#[test]
fn disk_full_leaves_no_trace() {
    let env = require_root!();
    let small = env.lxcpath().join("small");
    fs::create_dir(&small).unwrap();
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
        .arg(&small)
        .status()
        .unwrap();
    assert!(st.success());
    struct Umount(PathBuf);
    impl Drop for Umount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let guard = Umount(small.clone());
    let out = Command::new(env.bin_dir().join("lxc-create"))
        .args(["-P", small.to_str().unwrap(), "-n", "full", "-t", "busybox"])
        .env("LXCRS_SHARE_DIR", lxcrs_tests::share_dir())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("No space left on device"),
        "{}",
        stderr(&out)
    );
    let left: Vec<_> = fs::read_dir(&small)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "left behind on the full disk: {left:?}");
    drop(guard);
    fs::remove_dir(&small).unwrap();
    env.finish();
}

/// Starts lxc-create with a template that works a little, then sleeps.
fn slow_create(env: &Env, tpl: &Path, name: &str) -> std::process::Child {
    let child = env
        .cmd("lxc-create")
        .args(["-n", name, "-t", tpl.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let marker = env.lxcpath().join(name).join("rootfs/started");
    let t0 = Instant::now();
    while !marker.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "template did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

#[test]
fn interrupt_rolls_back() {
    let env = require_root!();
    let t = tempfile::tempdir().unwrap();
    let tpl = template(t.path(), "slow", "touch \"$rootfs/started\"; sleep 30");
    let name = env.unique_name("int");
    let child = slow_create(&env, &tpl, &name);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(stderr(&out).contains("interrupted"), "{}", stderr(&out));
    assert_no_trace(&env, &name);
    env.finish();
}

#[test]
fn kill_9_is_cleaned_by_the_next_command() {
    let env = require_root!();
    let t = tempfile::tempdir().unwrap();
    let tpl = template(t.path(), "slow", "touch \"$rootfs/started\"; sleep 30");
    let name = env.unique_name("k9");
    let mut child = slow_create(&env, &tpl, &name);
    child.kill().unwrap();
    child.wait().unwrap();
    let dir = env.lxcpath().join(&name);
    assert!(dir.join("partial").exists(), "the crash left its marker");
    // The next command (here lxc-ls) notices and removes the half-made container.
    assert_eq!(env.ok("lxc-ls", &["-1"]).trim(), "");
    assert!(!dir.exists());
    // And the name is free again.
    env.create_busybox(&name);
    env.finish();
}

#[test]
fn user_supplied_rootfs_is_never_touched() {
    let env = require_root!();
    let t = tempfile::tempdir().unwrap();
    let user = t.path().join("mine");
    fs::create_dir_all(user.join("etc")).unwrap();
    fs::write(user.join("etc/precious"), b"do not lose me").unwrap();
    let before = tree(&user);
    let name = env.unique_name("user");
    let u = user.to_str().unwrap();

    // A template would write into a non-empty --dir: refused.
    let out = env.lxc("lxc-create", &["-n", &name, "-t", "busybox", "--dir", u]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not empty"), "{}", stderr(&out));
    assert_eq!(tree(&user), before);
    assert_no_trace(&env, &name);

    // LXC #2752: a failing create with lxc.rootfs.path from -f must not delete it.
    let cfg = t.path().join("c.conf");
    fs::write(&cfg, format!("lxc.rootfs.path = dir:{u}\n")).unwrap();
    let fail = template(t.path(), "fail", "exit 1");
    let out = env.lxc(
        "lxc-create",
        &[
            "-n",
            &name,
            "-t",
            fail.to_str().unwrap(),
            "-f",
            cfg.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(tree(&user), before);
    assert_no_trace(&env, &name);

    // -t none uses the tree as it is; destroy leaves it (not managed by us).
    env.ok("lxc-create", &["-n", &name, "-t", "none", "--dir", u]);
    let config = fs::read_to_string(env.lxcpath().join(&name).join("config")).unwrap();
    assert!(
        config.contains(&format!("lxc.rootfs.path = dir:{u}")),
        "{config}"
    );
    assert!(config.contains("lxc.rootfs.managed = 0"), "{config}");
    env.ok("lxc-destroy", &["-n", &name]);
    assert_eq!(tree(&user), before);

    // An empty --dir filled by a failing template is emptied again, not removed.
    let empty = t.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let half = template(t.path(), "half", "echo x > \"$rootfs/junk\"; exit 2");
    let out = env.lxc(
        "lxc-create",
        &[
            "-n",
            &name,
            "-t",
            half.to_str().unwrap(),
            "--dir",
            empty.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(empty.is_dir());
    assert_eq!(fs::read_dir(&empty).unwrap().count(), 0);
    assert_no_trace(&env, &name);
    env.finish();
}

#[test]
fn concurrent_create_same_name_one_wins() {
    let env = require_root!();
    let t = tempfile::tempdir().unwrap();
    let tpl = template(
        t.path(),
        "slowish",
        "mkdir -p \"$rootfs\"; sleep 1; echo \"lxc.uts.name = $name\" >> \"$path/config\"",
    );
    let name = env.unique_name("race");
    let spawn = || {
        env.cmd("lxc-create")
            .args(["-n", &name, "-t", tpl.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let ok = [&a, &b].iter().filter(|o| o.status.success()).count();
    assert_eq!(
        ok,
        1,
        "exactly one create wins: {} / {}",
        stderr(&a),
        stderr(&b)
    );
    let loser = if a.status.success() { &b } else { &a };
    assert!(
        stderr(loser).contains("Container already exists"),
        "{}",
        stderr(loser)
    );
    assert_eq!(env.ok("lxc-ls", &["-1"]).trim(), name);
    env.finish();
}

#[test]
fn unsupported_backends_say_so() {
    let env = require_root!();
    let name = env.unique_name("bdev");
    let out = env.lxc("lxc-create", &["-n", &name, "-t", "busybox", "-B", "zfs"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("'zfs' is not supported yet"),
        "{}",
        stderr(&out)
    );
    assert_no_trace(&env, &name);
    let out = env.lxc("lxc-create", &["-n", &name, "-t", "busybox", "-B", "bogus"]);
    assert!(
        stderr(&out).contains("invalid backing store type 'bogus'"),
        "{}",
        stderr(&out)
    );
    // best falls through to dir on this host.
    env.ok("lxc-create", &["-n", &name, "-t", "busybox", "-B", "best"]);
    env.finish();
}
