//! The start path's security policy, end to end with busybox containers: the cgroup
//! automount without a cgroup namespace shows no host cgroup outside the container's own
//! (M2), the device rules are in place before `lxc.hook.start` runs (M5), and the busybox
//! template's containers get the common device rules and seccomp profile (M5).

use std::os::unix::fs::PermissionsExt;

use lxcrs_tests::runtime_support::{self, append_config, busybox, serial, text};
use lxcrs_tests::Env;

fn rootfs(env: &Env, name: &str) -> std::path::PathBuf {
    env.lxcpath().join(name).join("rootfs")
}

/// `cgroup:mixed` with the cgroup namespace kept: /sys/fs/cgroup holds the container's own
/// cgroup and nothing of the host's hierarchies above it; no release_agent to write.
#[test]
fn cgroup_mixed_without_cgroupns_shows_only_the_own_cgroup() {
    let _g = serial();
    let Some((env, before)) = runtime_support::env() else {
        return;
    };
    let n = env.unique_name("policy-cg");
    busybox(&env, &n);
    append_config(
        &env,
        &n,
        &[
            "lxc.namespace.keep = cgroup",
            "lxc.mount.auto = cgroup:mixed",
        ],
    );
    env.ok("lxc-start", &["-n", &n]);
    let sh = |script: &str| env.lxc("lxc-attach", &["-n", &n, "--", "sh", "-c", script]);
    // Without a cgroup namespace /proc/1/cgroup shows the host path of init's cgroup.
    let cgroups = env.ok("lxc-attach", &["-n", &n, "--", "cat", "/proc/1/cgroup"]);
    let memory = cgroups
        .lines()
        .find_map(|l| l.split_once(":memory:").map(|(_, p)| p.to_string()))
        .expect("init is in a memory cgroup (hybrid host)");
    assert!(
        memory.len() > 1,
        "init's memory cgroup is not the root: {cgroups}"
    );
    let own = format!("/sys/fs/cgroup/memory{memory}");
    let out = sh(&format!(
        "test -f {own}/memory.limit_in_bytes && test -w {own}/cgroup.procs && echo writable"
    ));
    assert!(
        text(&out).0.contains("writable"),
        "own cgroup {own} present and writable in mixed mode: {:?}",
        text(&out)
    );
    for file in ["release_agent", "tasks", "memory.limit_in_bytes"] {
        let out = sh(&format!("test -e /sys/fs/cgroup/memory/{file}"));
        assert!(
            !out.status.success(),
            "/sys/fs/cgroup/memory/{file} of the host hierarchy's root is visible"
        );
    }
    let out = sh("echo /tmp/x > /sys/fs/cgroup/memory/release_agent");
    assert!(!out.status.success(), "release_agent was writable");
    // Only the directories down to our own cgroup exist at each level.
    let first = memory.trim_start_matches('/').split('/').next().unwrap();
    let ls = env.ok(
        "lxc-attach",
        &["-n", &n, "--", "ls", "-A", "/sys/fs/cgroup/memory"],
    );
    assert_eq!(ls.split_whitespace().collect::<Vec<_>>(), [first], "{ls}");
    env.ok("lxc-stop", &["-n", &n, "-k"]);
    env.ok("lxc-destroy", &["-n", &n]);
    runtime_support::finish(env, before);
}

/// A start hook (rootfs code, running as root with CAP_MKNOD) cannot use a device the
/// rules deny: the rules are in place before it runs.
#[test]
fn start_hook_meets_the_device_rules() {
    let _g = serial();
    let Some((env, before)) = runtime_support::env() else {
        return;
    };
    let n = env.unique_name("policy-dev");
    busybox(&env, &n);
    // b 7:0 (a loop device): common.conf allows only mknod of block devices; opening one
    // needs no capability, so only the device cgroup can refuse it.
    let hook = rootfs(&env, &n).join("policy-hook.sh");
    std::fs::write(
        &hook,
        "#!/bin/sh\n\
         mknod /tmp/policy-blk b 7 0 || { echo mknod-failed > /policy-result; exit 0; }\n\
         if (: < /tmp/policy-blk) 2>/dev/null; then echo opened > /policy-result\n\
         else echo denied > /policy-result; fi\n\
         rm -f /tmp/policy-blk\n",
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    // Explicit rules (whatever the template gives): this test is about their timing.
    append_config(
        &env,
        &n,
        &[
            "lxc.cgroup.devices.deny = a",
            "lxc.cgroup.devices.allow = c *:* m",
            "lxc.cgroup.devices.allow = b *:* m",
            "lxc.cgroup.devices.allow = c 1:3 rwm",
            "lxc.cgroup.devices.allow = c 1:5 rwm",
            "lxc.cgroup.devices.allow = c 136:* rwm",
            "lxc.cgroup.devices.allow = c 5:* rwm",
            "lxc.hook.start = /policy-hook.sh",
        ],
    );
    env.ok("lxc-start", &["-n", &n]);
    let result = std::fs::read_to_string(rootfs(&env, &n).join("policy-result"))
        .expect("the start hook ran");
    assert_eq!(
        result.trim(),
        "denied",
        "the start hook opened b 7:0 before the device rules were applied"
    );
    env.ok("lxc-stop", &["-n", &n, "-k"]);
    env.ok("lxc-destroy", &["-n", &n]);
    runtime_support::finish(env, before);
}

/// The busybox template's container has the common seccomp profile and device rules.
#[test]
fn busybox_has_seccomp_and_device_rules() {
    let _g = serial();
    let Some((env, before)) = runtime_support::env() else {
        return;
    };
    let n = env.unique_name("policy-bb");
    busybox(&env, &n);
    let config = std::fs::read_to_string(runtime_support::config_path(&env, &n)).unwrap();
    assert!(
        config.contains("/config/common.conf"),
        "the template includes common.conf:\n{config}"
    );
    env.ok("lxc-start", &["-n", &n]);
    let status = env.ok("lxc-attach", &["-n", &n, "--", "cat", "/proc/1/status"]);
    let seccomp = status
        .lines()
        .find(|l| l.starts_with("Seccomp:"))
        .unwrap_or("");
    assert_eq!(seccomp.split_whitespace().nth(1), Some("2"), "{seccomp}");
    let list = env.ok("lxc-cgroup", &["-n", &n, "devices.list"]);
    assert!(!list.contains("a *:* rwm"), "devices.list: {list}");
    assert!(list.contains("c 1:3 rwm"), "devices.list: {list}");
    // common.conf drops sys_rawio, and no container needs the host's disks.
    let out = env.lxc(
        "lxc-attach",
        &[
            "-n",
            &n,
            "--",
            "sh",
            "-c",
            "mknod /tmp/blk b 7 0 && : < /tmp/blk",
        ],
    );
    assert!(!out.status.success(), "b 7:0 opened: {:?}", text(&out));
    env.ok("lxc-stop", &["-n", &n, "-k"]);
    env.ok("lxc-destroy", &["-n", &n]);
    runtime_support::finish(env, before);
}

/// The busybox template includes userns.conf (devices left to the user namespace) when the
/// config lxc-create wrote has `lxc.idmap`, and only common.conf otherwise.
#[test]
fn busybox_template_includes_userns_conf_with_an_idmap() {
    let Some(env) = Env::new() else {
        return;
    };
    let template = lxcrs_tests::share_dir().join("templates/lxc-busybox");
    for (idmap, want_userns) in [(true, true), (false, false)] {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        let first = if idmap {
            "lxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 100000 65536\n"
        } else {
            ""
        };
        std::fs::write(&config, first).unwrap();
        std::fs::create_dir(dir.path().join("rootfs")).unwrap();
        let out = std::process::Command::new(&template)
            .arg(format!("--path={}", dir.path().display()))
            .arg("--name=policy-tpl")
            .arg(format!("--rootfs={}", dir.path().join("rootfs").display()))
            .output()
            .unwrap();
        assert!(out.status.success(), "{:?}", text(&out));
        let written = std::fs::read_to_string(&config).unwrap();
        assert!(written.contains("/config/common.conf\n"), "{written}");
        assert_eq!(
            written.contains("/config/userns.conf\n"),
            want_userns,
            "idmap={idmap}:\n{written}"
        );
    }
    env.finish();
}
