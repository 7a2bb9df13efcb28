//! Hostile and mistaken input: every command line of `tests/data/bad_input/cmdline.cases`
//! and every config of `config.cases` is refused with the expected exit code, a message
//! that names the flag, name or `file:line: key` at fault, and nothing created or changed
//! in the lxcpath.
//!
//! `cmdline.cases`: `EXIT | TOOL ARGS… | EXPECTED | EXPECTED…` per line. Arguments split
//! on whitespace; `'…'` groups (`''` is an empty argument). `@CT@` is a stopped busybox
//! container, `@NOPE@` a name that exists nowhere, `@P@` the lxcpath, `@T@` a scratch
//! directory outside it, `@LONG@` a 65-byte name. `-P @P@` is added unless the line
//! gives `-P`. Every expected text must be in stderr.
//!
//! `config.cases`: blocks starting `== EXPECTED | EXPECTED…`; the lines up to the next
//! `==` are the config, written to `@T@/case-N.conf` (`@F@` in the text and in the
//! expectations) and given to `lxc-create -t busybox -f`, which must exit 1.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use lxcrs_tests::{require_root, Env};

const CT: &str = "limits-ct";
const NOPE: &str = "limits-ghost";

fn data(file: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/bad_input")
        .join(file);
    fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// Every entry under `root`, not following symlinks: what it is and when it last changed.
fn tree(root: &Path) -> BTreeMap<PathBuf, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, String>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let Ok(m) = fs::symlink_metadata(&p) else {
                continue;
            };
            let link = fs::read_link(&p).ok();
            out.insert(
                p.strip_prefix(root).unwrap_or(&p).to_path_buf(),
                format!(
                    "mode={:o} uid={} gid={} size={} mtime={}.{} ctime={}.{} link={link:?}",
                    m.mode(),
                    m.uid(),
                    m.gid(),
                    m.size(),
                    m.mtime(),
                    m.mtime_nsec(),
                    m.ctime(),
                    m.ctime_nsec()
                ),
            );
            if m.is_dir() {
                walk(root, &p, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    if let Ok(m) = fs::symlink_metadata(root) {
        out.insert(PathBuf::from("."), format!("mode={:o}", m.mode()));
    }
    walk(root, root, &mut out);
    out
}

fn diff(before: &BTreeMap<PathBuf, String>, after: &BTreeMap<PathBuf, String>) -> Vec<String> {
    let mut d = Vec::new();
    for (p, b) in before {
        match after.get(p) {
            None => d.push(format!("removed {}", p.display())),
            Some(a) if a != b => d.push(format!("changed {}: {b} -> {a}", p.display())),
            _ => {}
        }
    }
    // A created directory stands for everything under it.
    let created: Vec<&PathBuf> = after.keys().filter(|p| !before.contains_key(*p)).collect();
    for p in &created {
        if !created.iter().any(|q| q != p && p.starts_with(q)) {
            d.push(format!("created {}", p.display()));
        }
    }
    d
}

/// Removes what a failed case created, so that the next cases start from the same lxcpath.
fn undo_creations(root: &Path, changes: &[String]) {
    for c in changes {
        if let Some(p) = c.strip_prefix("created ") {
            let p = root.join(p);
            let _ = fs::remove_dir_all(&p).or_else(|_| fs::remove_file(&p));
        }
    }
}

/// Splits on whitespace; `'…'` groups words and may be empty.
fn split_args(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in s.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

struct Outcome {
    code: Option<i32>,
    stderr: String,
    changes: Vec<String>,
}

/// Runs `tool args` and reports its exit code, stderr and what changed in the lxcpath.
fn run(env: &Env, tool: &str, args: &[String]) -> Outcome {
    let before = tree(env.lxcpath());
    let mut c = std::process::Command::new(env.bin_dir().join(tool));
    if !args.iter().any(|a| a == "-P" || a.starts_with("--lxcpath")) && tool != "lxc-config" {
        c.arg("-P").arg(env.lxcpath());
    }
    c.args(args)
        .env("LXC_GLOBAL_CONF", env.global_conf())
        .stdin(std::process::Stdio::null());
    if let Some(share) = lxcrs_tests::own_share_dir() {
        c.env("LXCRS_SHARE_DIR", share);
    }
    let out = c
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"));
    let changes = diff(&before, &tree(env.lxcpath()));
    undo_creations(env.lxcpath(), &changes);
    Outcome {
        code: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        changes,
    }
}

/// Checks one outcome; returns a description of what is wrong with it, if anything.
fn judge(what: &str, o: &Outcome, code: i32, expected: &[String]) -> Option<String> {
    let mut wrong = Vec::new();
    if o.code != Some(code) {
        wrong.push(format!("exit {:?}, expected {code}", o.code));
    }
    for e in expected {
        if !o.stderr.contains(e.as_str()) {
            wrong.push(format!("stderr lacks {e:?}"));
        }
    }
    // The cause and a way out: a hint, a usage line, or LXC's own short message.
    if o.stderr.trim().is_empty() {
        wrong.push("nothing on stderr".into());
    }
    if !o.changes.is_empty() {
        wrong.push(format!("lxcpath changed: {}", o.changes.join("; ")));
    }
    (!wrong.is_empty()).then(|| {
        format!(
            "{what}\n  {}\n  stderr: {}",
            wrong.join("\n  "),
            o.stderr.trim()
        )
    })
}

struct Vars {
    lxcpath: String,
    tmp: String,
}

impl Vars {
    fn expand(&self, s: &str) -> String {
        s.replace("@CT@", CT)
            .replace("@NOPE@", NOPE)
            .replace("@P@", &self.lxcpath)
            .replace("@T@", &self.tmp)
            .replace("@LONG@", &"x".repeat(65))
    }
}

#[test]
fn bad_command_lines_and_configs_are_refused_cleanly() {
    let env = require_root!();
    env.create_busybox(CT);
    let scratch = tempfile::tempdir().unwrap();
    let vars = Vars {
        lxcpath: env.lxcpath().display().to_string(),
        tmp: scratch.path().display().to_string(),
    };
    let mut failures = Vec::new();
    let mut count = 0;

    for (n, line) in data("cmdline.cases").lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = line.split(" | ").collect();
        assert!(
            parts.len() >= 3,
            "cmdline.cases:{}: want EXIT | CMD | TEXT",
            n + 1
        );
        let code: i32 = parts[0].trim().parse().expect("exit code");
        let words = split_args(&vars.expand(parts[1]));
        let expected: Vec<String> = parts[2..].iter().map(|e| vars.expand(e.trim())).collect();
        let o = run(&env, &words[0], &words[1..]);
        count += 1;
        if let Some(f) = judge(
            &format!("cmdline.cases:{}: {}", n + 1, parts[1]),
            &o,
            code,
            &expected,
        ) {
            failures.push(f);
        }
    }
    let cmdline_cases = count;

    let text = data("config.cases");
    let mut blocks: Vec<(usize, String, Vec<String>)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if let Some(head) = line.strip_prefix("== ") {
            blocks.push((n + 1, head.to_string(), Vec::new()));
        } else if let Some(b) = blocks.last_mut() {
            b.2.push(line.to_string());
        }
    }
    for (i, (at, head, body)) in blocks.iter().enumerate() {
        let file = scratch.path().join(format!("case-{i}.conf"));
        let f = file.display().to_string();
        let expand = |s: &str| vars.expand(s).replace("@F@", &f);
        let mut body = body.clone();
        while body
            .last()
            .is_some_and(|l| l.trim().is_empty() || l.starts_with('#'))
        {
            body.pop();
        }
        fs::write(&file, expand(&(body.join("\n") + "\n"))).unwrap();
        let expected: Vec<String> = head.split(" | ").map(|e| expand(e.trim())).collect();
        let args: Vec<String> = ["-n", "limits-cfg", "-t", "busybox", "-f", &f]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let o = run(&env, "lxc-create", &args);
        count += 1;
        if let Some(fail) = judge(
            &format!("config.cases:{at}: {}", body.join(" \\n ")),
            &o,
            1,
            &expected,
        ) {
            failures.push(fail);
        }
    }

    assert!(cmdline_cases >= 100, "only {cmdline_cases} command lines");
    assert!(
        count - cmdline_cases >= 40,
        "only {} configs",
        count - cmdline_cases
    );
    assert!(
        failures.is_empty(),
        "{} of {count} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(env.containers(), [CT]);
    env.finish();
}
