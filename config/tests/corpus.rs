//! Every file LXC ships under /usr/share/lxc/config must parse and round-trip.

use std::path::{Path, PathBuf};

use lxcrs_config::Config;

const CORPUS: &str = "/usr/share/lxc/config";

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn shipped_configs_parse_and_round_trip() {
    let dir = Path::new(CORPUS);
    if !dir.is_dir() {
        let msg = format!(
            "{CORPUS} is missing: install Debian's lxc and lxc-templates packages (apt-get install lxc lxc-templates)"
        );
        if std::env::var("LXCRS_REQUIRE_CORPUS").as_deref() == Ok("1") {
            panic!("{msg}");
        }
        eprintln!("SKIP: {msg}");
        return;
    }
    let mut list = Vec::new();
    files(dir, &mut list);
    list.sort();
    assert!(!list.is_empty(), "{CORPUS} is empty");
    let mut failures = Vec::new();
    for f in &list {
        let text = match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!("{}: {e}", f.display()));
                continue;
            }
        };
        match Config::load(f) {
            Ok(c) => {
                if c.to_text() != text {
                    failures.push(format!("{}: text does not round-trip", f.display()));
                }
                let tmp = tempfile::tempdir().expect("tempdir");
                let out = tmp.path().join("config");
                if let Err(e) = c.save(&out) {
                    failures.push(format!("{}: save: {e}", f.display()));
                } else if std::fs::read(&out).ok().as_deref() != Some(text.as_bytes()) {
                    failures.push(format!("{}: saved bytes differ", f.display()));
                }
            }
            Err(e) => failures.push(e.to_string()),
        }
    }
    println!(
        "corpus: {} files under {CORPUS} parsed and round-tripped",
        list.len() - failures.len()
    );
    assert!(
        failures.is_empty(),
        "corpus failures:\n{}",
        failures.join("\n")
    );
}
