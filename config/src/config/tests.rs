//! Tests of the syntax, includes, text editing and error messages. Per-family value
//! tests are in `tests_families.rs`.

use std::fs;
use std::path::Path;

use super::*;

fn parse(text: &str) -> Result<Config> {
    Config::parse(text, Path::new("/var/lib/lxc/c1/config"))
}

fn ok(text: &str) -> Config {
    match parse(text) {
        Ok(c) => c,
        Err(e) => panic!("unexpected error: {e}"),
    }
}

fn err(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("accepted: {text:?}"),
        Err(e) => e.to_string(),
    }
}

fn get(c: &Config, key: &str) -> String {
    c.get_item(key).unwrap_or_else(|e| panic!("get {key}: {e}"))
}

#[test]
fn syntax_basics() {
    let c = ok("# comment\n\n   lxc.uts.name   =   c1   \n\tlxc.arch=amd64\nfoo = bar\nnot a config line\n");
    assert_eq!(c.model().uts_name.as_deref(), Some("c1"));
    assert_eq!(get(&c, "lxc.arch"), "amd64");
    // No inline comments: everything after '=' is the value.
    let c = ok("lxc.apparmor.profile = unconfined # trailing\n");
    assert_eq!(get(&c, "lxc.apparmor.profile"), "unconfined # trailing");
    // Matching quotes are stripped, mismatched ones kept.
    let c = ok("lxc.uts.name = \"c1\"\nlxc.init.cwd = 'x\"\n");
    assert_eq!(get(&c, "lxc.uts.name"), "c1");
    assert_eq!(get(&c, "lxc.init.cwd"), "'x\"");
    // Commented-out lxc lines are comments, indented or not.
    let c = ok("  # lxc.bogus = 1\n#lxc.bogus\n");
    assert_eq!(c.to_text(), "  # lxc.bogus = 1\n#lxc.bogus\n");
}

#[test]
fn missing_equals_is_an_error_with_location() {
    assert_eq!(
        err("lxc.uts.name = a\nlxc.autodev\n"),
        "/var/lib/lxc/c1/config:2: lxc.autodev: invalid configuration line (expected key = value)"
    );
    let e = err("lxc.utsname\n");
    assert!(e.contains("hint: this key was renamed in LXC 2.1"), "{e}");
}

#[test]
fn unknown_key_and_bad_value_messages() {
    assert_eq!(
        err("\nlxc.bogus = 1\n"),
        "/var/lib/lxc/c1/config:2: lxc.bogus = 1: unknown key"
    );
    assert_eq!(
        err("lxc.uts.nmae = x\n"),
        "/var/lib/lxc/c1/config:1: lxc.uts.nmae = x: unknown key\nhint: did you mean lxc.uts.name?"
    );
    let text = "\n".repeat(11) + "lxc.net.0.ipv4.address = 10.0.3.300/24\n";
    assert_eq!(
        err(&format!("lxc.net.0.type = veth\n{}", &text[1..])),
        "/var/lib/lxc/c1/config:12: lxc.net.0.ipv4.address = 10.0.3.300/24: invalid IPv4 address (expected a.b.c.d/prefix [broadcast])"
    );
    assert_eq!(
        err("lxc.autodev = yes\n"),
        "/var/lib/lxc/c1/config:1: lxc.autodev = yes: invalid boolean (expected 0 or 1)"
    );
}

#[test]
fn legacy_keys_get_the_update_hint() {
    for line in [
        "lxc.utsname = c1",
        "lxc.id_map = u 0 1 1",
        "lxc.network.type = veth",
        "lxc.network.0.link = br0",
        "lxc.rootfs = /r",
        "lxc.rootfs.backend = dir",
        "lxc.tty = 4",
        "lxc.pts = 1",
        "lxc.aa_profile = x",
        "lxc.haltsignal = SIGPWR",
        "lxc.limit.nofile = 1",
        "lxc.pivotdir = x",
        "lxc.kmsg = 0",
        "lxc.mount = /f",
        "lxc.console = none",
        "lxc.seccomp = /p",
        "lxc.loglevel = 1",
        "lxc.init_cmd = /x",
    ] {
        let e = err(&format!("{line}\n"));
        assert!(e.starts_with("/var/lib/lxc/c1/config:1: "), "{e}");
        assert!(
            e.ends_with("\nhint: this key was renamed in LXC 2.1; run lxc-update-config -c <file>"),
            "{line}: {e}"
        );
    }
}

#[test]
fn untouched_text_round_trips() {
    for text in [
        "",
        "\n",
        "lxc.uts.name = c1",
        "lxc.uts.name = c1\n",
        "# c\r\nlxc.uts.name = c1\r\n\r\n",
        "foo\n\n\n  lxc.tty.max=4  \n# end",
    ] {
        assert_eq!(ok(text).to_text(), text);
    }
    assert_eq!(Config::new().to_text(), "");
}

#[test]
fn set_item_replaces_last_scalar_line() {
    let mut c = ok("# c\nlxc.uts.name = a\nlxc.tty.max=1\nlxc.uts.name='b'\n# end\n");
    c.set_item("lxc.uts.name", "c").expect("set");
    assert_eq!(
        c.to_text(),
        "# c\nlxc.uts.name = a\nlxc.tty.max=1\nlxc.uts.name='c'\n# end\n".replace("'c'", "c")
    );
    assert_eq!(get(&c, "lxc.uts.name"), "c");
    c.set_item("lxc.tty.max", "4").expect("set");
    assert_eq!(
        c.to_text(),
        "# c\nlxc.uts.name = a\nlxc.tty.max=4\nlxc.uts.name=c\n# end\n"
    );
}

#[test]
fn set_item_appends_lists_and_new_keys() {
    let mut c = ok("lxc.cap.drop = sys_time\n# end");
    c.set_item("lxc.cap.drop", "sys_module").expect("set");
    c.set_item("lxc.uts.name", "c1").expect("set");
    assert_eq!(
        c.to_text(),
        "lxc.cap.drop = sys_time\n# end\nlxc.cap.drop = sys_module\nlxc.uts.name = c1\n"
    );
    assert_eq!(get(&c, "lxc.cap.drop"), "sys_time\nsys_module");
    let mut c = Config::new();
    c.set_item("lxc.net.0.type", "veth").expect("set");
    c.set_item("lxc.net.0.ipv4.address", "10.0.0.2/24")
        .expect("set");
    c.set_item("lxc.net.0.ipv4.address", "10.0.0.3/24")
        .expect("set");
    c.set_item("lxc.cap.drop", "").expect("set");
    assert_eq!(
        c.to_text(),
        "lxc.net.0.type = veth\nlxc.net.0.ipv4.address = 10.0.0.2/24\nlxc.net.0.ipv4.address = 10.0.0.3/24\nlxc.cap.drop =\n"
    );
    // An empty scalar line gets a value with a separating blank.
    let mut c = ok("lxc.tty.dir =\n");
    c.set_item("lxc.tty.dir", "lxc").expect("set");
    assert_eq!(c.to_text(), "lxc.tty.dir = lxc\n");
}

#[test]
fn set_item_rejects_bad_input_and_leaves_config_alone() {
    let mut c = ok("lxc.uts.name = a\n");
    let e = c
        .set_item("lxc.tty.max", "many")
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        e.as_deref(),
        Some("lxc.tty.max = many: invalid number (expected an unsigned integer)")
    );
    let e = c.set_item("lxc.bogus", "1").err().map(|e| e.to_string());
    assert_eq!(e.as_deref(), Some("lxc.bogus = 1: unknown key"));
    assert!(c.set_item("lxc.uts.name", "a\nb").is_err());
    assert_eq!(c.to_text(), "lxc.uts.name = a\n");
    assert_eq!(c.model().tty.max, 0);
}

#[test]
fn set_item_quotes_values_that_would_not_survive_a_reload() {
    let mut c = Config::new();
    c.set_item("lxc.environment", "A='x'").expect("set");
    c.set_item("lxc.apparmor.raw", "'quoted'").expect("set");
    assert_eq!(
        c.to_text(),
        "lxc.environment = A='x'\nlxc.apparmor.raw = \"'quoted'\"\n"
    );
    let again = ok(&c.to_text());
    assert_eq!(get(&again, "lxc.apparmor.raw"), "'quoted'");
}

#[test]
fn clear_item_removes_lines_and_resets() {
    let text = "lxc.uts.name = a\nlxc.net.0.type = veth\n# keep\nlxc.net.0.link = br0\nlxc.net.1.type = empty\nlxc.net.10.type = none\nlxc.cap.drop = sys_time\nlxc.cap.drop = sys_module\n";
    let mut c = ok(text);
    c.clear_item("lxc.net.0").expect("clear");
    assert_eq!(
        c.to_text(),
        "lxc.uts.name = a\n# keep\nlxc.net.1.type = empty\nlxc.net.10.type = none\nlxc.cap.drop = sys_time\nlxc.cap.drop = sys_module\n"
    );
    assert!(!c.model().net.contains_key(&0));
    assert!(c.model().net.contains_key(&1));
    c.clear_item("lxc.cap.drop").expect("clear");
    assert_eq!(
        c.to_text(),
        "lxc.uts.name = a\n# keep\nlxc.net.1.type = empty\nlxc.net.10.type = none\n"
    );
    assert!(c.model().cap_drop.is_empty());
    c.clear_item("lxc.net").expect("clear");
    assert_eq!(c.to_text(), "lxc.uts.name = a\n# keep\n");
    assert!(c.model().net.is_empty());
    c.clear_item("lxc.uts.name").expect("clear");
    c.clear_item("lxc.uts.name").expect("clear twice");
    assert_eq!(c.to_text(), "# keep\n");
    assert_eq!(get(&c, "lxc.uts.name"), "");
    let e = c.clear_item("lxc.nope").err().map(|e| e.to_string());
    assert_eq!(e.as_deref(), Some("lxc.nope: unknown key"));
}

#[test]
fn clear_item_families() {
    let mut c = ok("lxc.cgroup2.memory.max = 1G\nlxc.cgroup2.pids.max = 10\nlxc.cgroup.dir = x\nlxc.cgroup.devices.allow = a\nlxc.prlimit.nofile = 1\nlxc.hook.mount = /h\nlxc.hook.version = 1\n");
    c.clear_item("lxc.cgroup2.pids.max").expect("clear");
    assert_eq!(get(&c, "lxc.cgroup2"), "lxc.cgroup2.memory.max = 1G");
    c.clear_item("lxc.cgroup").expect("clear");
    assert!(c.model().cgroup_v1.is_empty());
    assert_eq!(get(&c, "lxc.cgroup.dir"), "x");
    c.clear_item("lxc.hook").expect("clear");
    assert_eq!(get(&c, "lxc.hook.version"), "1");
    c.clear_item("lxc.prlimit").expect("clear");
    assert_eq!(
        c.to_text(),
        "lxc.cgroup2.memory.max = 1G\nlxc.cgroup.dir = x\nlxc.hook.version = 1\n"
    );
}

#[test]
fn hwaddr_templates_are_resolved_in_text_and_model() {
    let c = ok("lxc.net.0.type = veth\nlxc.net.0.hwaddr = 00:16:3e:xx:xx:xx\n# x\n");
    let mac = c
        .model()
        .net
        .get(&0)
        .and_then(|n| n.hwaddr.clone())
        .expect("hwaddr");
    assert!(mac.starts_with("00:16:3e:") && !mac.contains('x'), "{mac}");
    assert_eq!(
        c.to_text(),
        format!("lxc.net.0.type = veth\nlxc.net.0.hwaddr = {mac}\n# x\n")
    );
    // Quotes and spacing around the template survive.
    let c = ok("lxc.net.0.type = veth\n  lxc.net.0.hwaddr='10:66:6a:XX:xx:xx'\n");
    let mac = get(&c, "lxc.net.0.hwaddr");
    assert_eq!(
        c.to_text(),
        format!("lxc.net.0.type = veth\n  lxc.net.0.hwaddr='{mac}'\n")
    );
    // Two templates get different addresses (with overwhelming probability).
    let c = ok("lxc.net.0.type = veth\nlxc.net.0.hwaddr = xx:xx:xx:xx:xx:xx\nlxc.net.1.type = veth\nlxc.net.1.hwaddr = xx:xx:xx:xx:xx:xx\n");
    assert_ne!(get(&c, "lxc.net.0.hwaddr"), get(&c, "lxc.net.1.hwaddr"));
    // set_item resolves too.
    let mut c = Config::new();
    c.set_item("lxc.net.0.type", "veth").expect("set");
    c.set_item("lxc.net.0.hwaddr", "00:16:3e:xx:xx:xx")
        .expect("set");
    let mac = get(&c, "lxc.net.0.hwaddr");
    assert!(!mac.contains('x'));
    assert!(c
        .to_text()
        .ends_with(&format!("lxc.net.0.hwaddr = {mac}\n")));
}

#[test]
fn includes_accumulate_and_clear() {
    let dir = tempfile::tempdir().expect("tempdir");
    let common = dir.path().join("common.conf");
    fs::write(
        &common,
        "lxc.cap.drop = sys_time sys_module\nlxc.mount.entry = a b c d 0 0\nlxc.tty.dir = lxc\n",
    )
    .expect("write");
    let userns = dir.path().join("userns.conf");
    fs::write(&userns, "lxc.cap.drop =\nlxc.tty.dir =\n").expect("write");
    let text = format!(
        "lxc.include = {}\nlxc.cap.drop = mknod\nlxc.mount.entry = e f g h\nlxc.include = {}\nlxc.cap.drop = sys_rawio\n",
        common.display(),
        userns.display()
    );
    let cfg = dir.path().join("config");
    fs::write(&cfg, &text).expect("write");
    let c = Config::load(&cfg).expect("load");
    assert_eq!(get(&c, "lxc.cap.drop"), "sys_rawio");
    assert_eq!(c.model().mount.entries.len(), 2);
    assert_eq!(get(&c, "lxc.tty.dir"), "");
    // Included files are not inlined.
    assert_eq!(c.to_text(), text);
    assert_eq!(c.model().includes, vec![common.clone(), userns.clone()]);
}

#[test]
fn include_directory_sorted_and_missing_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().join("conf.d");
    fs::create_dir(&d).expect("mkdir");
    fs::write(
        d.join("20-b.conf"),
        "lxc.group = b\nlxc.uts.name = second\n",
    )
    .expect("write");
    fs::write(d.join("10-a.conf"), "lxc.group = a\nlxc.uts.name = first\n").expect("write");
    fs::write(d.join("README"), "lxc.bogus = 1\n").expect("write");
    fs::write(d.join(".conf"), "lxc.bogus = 1\n").expect("write");
    fs::create_dir(d.join("sub.conf")).expect("mkdir");
    let c = ok(&format!(
        "lxc.include = {}/\nlxc.include = {}/missing.d/\n",
        d.display(),
        dir.path().display()
    ));
    assert_eq!(get(&c, "lxc.group"), "a\nb");
    assert_eq!(get(&c, "lxc.uts.name"), "second");
    // Without the trailing slash, an existing directory is still a directory.
    let c = ok(&format!("lxc.include = {}\n", d.display()));
    assert_eq!(get(&c, "lxc.group"), "a\nb");
    // A missing file is an error naming the including line.
    let missing = dir.path().join("nope.conf");
    let e = err(&format!("\nlxc.include = {}\n", missing.display()));
    assert!(
        e.starts_with(&format!(
            "/var/lib/lxc/c1/config:2: lxc.include = {}: cannot read included file",
            missing.display()
        )),
        "{e}"
    );
}

#[test]
fn include_of_a_device_is_refused() {
    let e = err("lxc.include = /dev/zero\n");
    assert_eq!(
        e,
        "/var/lib/lxc/c1/config:1: lxc.include = /dev/zero: included path is not a regular file or directory"
    );
}

#[test]
fn errors_in_included_files_name_that_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let inc = dir.path().join("bad.conf");
    fs::write(&inc, "# x\nlxc.tty.max = -1\n").expect("write");
    let e = err(&format!("lxc.include = {}\n", inc.display()));
    assert_eq!(
        e,
        format!(
            "{}:2: lxc.tty.max = -1: invalid number (expected an unsigned integer)",
            inc.display()
        )
    );
}

#[test]
fn include_loops_are_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = dir.path().join("a.conf");
    let b = dir.path().join("b.conf");
    fs::write(&a, format!("lxc.include = {}\n", b.display())).expect("write");
    fs::write(
        &b,
        format!("lxc.uts.name = x\nlxc.include = {}\n", a.display()),
    )
    .expect("write");
    let e = Config::load(&a)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        e.starts_with(&format!(
            "{}:2: lxc.include = {}: include loop: ",
            b.display(),
            a.display()
        )),
        "{e}"
    );
    // Self-include via a directory.
    let d = dir.path().join("d");
    fs::create_dir(&d).expect("mkdir");
    fs::write(
        d.join("self.conf"),
        format!("lxc.include = {}/\n", d.display()),
    )
    .expect("write");
    let e = err(&format!("lxc.include = {}/\n", d.display()));
    assert!(e.contains("include loop"), "{e}");
}

#[test]
fn include_depth_is_limited() {
    let dir = tempfile::tempdir().expect("tempdir");
    let n = crate::parse::MAX_INCLUDE_DEPTH + 3;
    for i in 0..n {
        let next = dir.path().join(format!("{}.conf", i + 1));
        fs::write(
            dir.path().join(format!("{i}.conf")),
            format!("lxc.include = {}\n", next.display()),
        )
        .expect("write");
    }
    fs::write(
        dir.path().join(format!("{n}.conf")),
        "lxc.uts.name = deep\n",
    )
    .expect("write");
    let e = Config::load(&dir.path().join("0.conf"))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("includes nested deeper than"), "{e}");
}

#[test]
fn include_total_is_limited() {
    // Each level includes the next 4 times: 4^6 = 4096 reads at depth 6, well within the
    // depth limit.
    let dir = tempfile::tempdir().expect("tempdir");
    let levels = 6;
    for i in 0..levels {
        let next = dir.path().join(format!("{}.conf", i + 1));
        fs::write(
            dir.path().join(format!("{i}.conf")),
            format!("lxc.include = {}\n", next.display()).repeat(4),
        )
        .expect("write");
    }
    let last = dir.path().join(format!("{levels}.conf"));
    fs::write(&last, "lxc.uts.name = wide\n").expect("write");
    let e = Config::load(&dir.path().join("0.conf"))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        e.contains(&format!(
            "more than {} files included in all (the next one was {}/",
            crate::parse::MAX_INCLUDES,
            dir.path().display()
        )),
        "{e}"
    );
    // Located at the include line that went over (file:line), in the file that holds it.
    let located = (0..levels).any(|i| {
        (1..=4).any(|line| {
            let file = dir.path().join(format!("{i}.conf"));
            e.starts_with(&format!("{}:{line}: lxc.include = ", file.display()))
        })
    });
    assert!(located, "{e}");
    assert!(e.contains("hint: include each common file once"), "{e}");
    // A fan-out under the limit still loads.
    fs::write(dir.path().join("2.conf"), "lxc.uts.name = narrow\n").expect("write");
    let c = Config::load(&dir.path().join("0.conf")).expect("16 includes load");
    assert_eq!(get(&c, "lxc.uts.name"), "narrow");
}

#[test]
fn cap_drop_and_keep_conflict() {
    let e = err("lxc.cap.drop = sys_time\n# x\nlxc.cap.keep = sys_admin\n");
    assert_eq!(
        e,
        "/var/lib/lxc/c1/config:3: lxc.cap.keep = sys_admin: lxc.cap.drop and lxc.cap.keep are mutually exclusive\nhint: use either lxc.cap.drop or lxc.cap.keep; clear the other with an empty value"
    );
    // Clearing one of them first (as userns.conf does) is fine.
    let c = ok("lxc.cap.drop = sys_time\nlxc.cap.drop =\nlxc.cap.keep = none\n");
    assert_eq!(get(&c, "lxc.cap.keep"), "none");
    let mut c = ok("lxc.cap.drop = sys_time\n");
    assert!(c.set_item("lxc.cap.keep", "sys_admin").is_err());
    assert_eq!(c.to_text(), "lxc.cap.drop = sys_time\n");
}

#[test]
fn save_is_atomic_and_byte_identical() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("config");
    let text = "# Template used to create this container\n\nlxc.uts.name = c1\nfoo=bar\n  \n";
    fs::write(&p, text).expect("write");
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).expect("chmod");
    let c = Config::load(&p).expect("load");
    c.save(&p).expect("save");
    assert_eq!(fs::read_to_string(&p).ok().as_deref(), Some(text));
    assert_eq!(
        fs::metadata(&p)
            .map(|m| m.permissions().mode() & 0o777)
            .ok(),
        Some(0o600)
    );
    let mut c = c;
    c.set_item("lxc.uts.name", "c2").expect("set");
    let out = dir.path().join("new");
    c.save(&out).expect("save");
    assert_eq!(
        fs::read_to_string(&out).ok(),
        Some(text.replace("c1", "c2"))
    );
}

#[test]
fn load_more_appends_text_and_model() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("rcfile");
    fs::write(&p, "lxc.cap.drop = mknod\nlxc.uts.name = other\n").expect("write");
    let mut c = ok("lxc.cap.drop = sys_time\nlxc.uts.name = c1");
    c.load_more(&p).expect("load_more");
    assert_eq!(get(&c, "lxc.cap.drop"), "sys_time\nmknod");
    assert_eq!(get(&c, "lxc.uts.name"), "other");
    assert_eq!(
        c.to_text(),
        "lxc.cap.drop = sys_time\nlxc.uts.name = c1\nlxc.cap.drop = mknod\nlxc.uts.name = other\n"
    );
    let mut empty = Config::new();
    empty.load_more(&p).expect("load_more");
    assert_eq!(
        empty.to_text(),
        "lxc.cap.drop = mknod\nlxc.uts.name = other\n"
    );
    assert_eq!(empty.origin(), p.as_path());
    // A failing load changes nothing.
    fs::write(&p, "lxc.uts.name = x\nlxc.bad = 1\n").expect("write");
    assert!(c.load_more(&p).is_err());
    assert_eq!(get(&c, "lxc.uts.name"), "other");
}

#[test]
fn prepend_text_keeps_the_rest() {
    let mut c = ok("lxc.uts.name = c1\n");
    c.prepend_text("# Template used to create this container: /usr/share/lxc/templates/lxc-busybox\n# Parameters passed to the template:");
    assert_eq!(
        c.to_text(),
        "# Template used to create this container: /usr/share/lxc/templates/lxc-busybox\n# Parameters passed to the template:\nlxc.uts.name = c1\n"
    );
    assert_eq!(ok(&c.to_text()).model(), c.model());
}

#[test]
fn get_item_errors_and_defaults() {
    let c = Config::new();
    assert_eq!(
        c.get_item("lxc.foo")
            .err()
            .map(|e| e.to_string())
            .as_deref(),
        Some("lxc.foo: unknown key")
    );
    assert_eq!(get(&c, "lxc.autodev"), "1");
    assert_eq!(get(&c, "lxc.rootfs.managed"), "1");
    assert_eq!(get(&c, "lxc.pty.max"), "0");
    assert_eq!(get(&c, "lxc.tty.max"), "0");
    assert_eq!(get(&c, "lxc.signal.halt"), "");
    assert_eq!(get(&c, "lxc.init.cmd"), "");
    assert_eq!(get(&c, "lxc.start.auto"), "0");
    assert_eq!(get(&c, "lxc.keyring.session"), "1");
    assert_eq!(get(&c, "lxc.net.3.type"), "");
}

#[test]
fn non_utf8_file_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("config");
    fs::write(&p, b"lxc.uts.name = a\n# caf\xe9\n").expect("write");
    let e = Config::load(&p)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("line 2 is not valid UTF-8"), "{e}");
}
