//! `lxc.net.N.script.up` / `script.down`, run the way LXC runs them.
//!
//! LXC builds a shell line `exec SCRIPT [NAME net HOOK] ARGS...` (the bracket part only
//! for `lxc.hook.version = 0`) and runs it with `sh -c`, so a script value may carry its
//! own arguments. ARGS are the NIC type, its parent (bridge/link) and, for veth, the
//! host-side device. With hook version 1 the same facts are in `LXC_HOOK_TYPE`,
//! `LXC_HOOK_SECTION`, `LXC_NET_TYPE`, `LXC_NET_PARENT`, `LXC_NET_PEER`; we always set
//! those variables (a superset for version 0).

use std::path::Path;
use std::process::{Command, Stdio};

use crate::error::{NetError, Result};
use crate::nic::NetContext;

/// Quote one word for `sh`.
fn sh_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:@%+=".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The shell line LXC would run.
pub(crate) fn command_line(script: &Path, ctx: &NetContext, hook: &str, args: &[&str]) -> String {
    let mut line = format!("exec {}", script.display());
    if ctx.hook_version == 0 {
        line.push_str(&format!(" {} net {hook}", sh_quote(&ctx.container_name)));
    }
    for a in args {
        line.push(' ');
        line.push_str(&sh_quote(a));
    }
    line
}

/// Run a net script; `args` = [type, parent, peer] as far as they apply.
pub(crate) fn run(
    key: String,
    script: &Path,
    ctx: &NetContext,
    hook: &str,
    args: &[&str],
) -> Result<()> {
    let line = command_line(script, ctx, hook, args);
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(&line).stdin(Stdio::null());
    for (k, v) in &ctx.hook_env {
        cmd.env(k, v);
    }
    if !ctx.hook_env.iter().any(|(k, _)| k == "LXC_NAME") {
        cmd.env("LXC_NAME", &ctx.container_name);
    }
    cmd.env("LXC_HOOK_TYPE", hook)
        .env("LXC_HOOK_SECTION", "net")
        .env("LXC_HOOK_VERSION", ctx.hook_version.to_string());
    if let Some(kind) = args.first() {
        cmd.env("LXC_NET_TYPE", kind);
        let parent = args.get(1).copied().unwrap_or("");
        match *kind {
            "macvlan" | "phys" => {
                cmd.env("LXC_NET_PARENT", parent);
            }
            "veth" => {
                cmd.env("LXC_NET_PARENT", parent)
                    .env("LXC_NET_PEER", args.get(2).copied().unwrap_or(""));
            }
            _ => {}
        }
    }
    let out = cmd.output().map_err(|e| NetError::Script {
        key: key.clone(),
        script: script.to_path_buf(),
        detail: format!("cannot run it: {e}"),
    })?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    let status = match out.status.code() {
        Some(c) => format!("exit status {c}"),
        None => "killed by a signal".to_string(),
    };
    Err(NetError::Script {
        key,
        script: script.to_path_buf(),
        detail: if last.is_empty() {
            status
        } else {
            format!("{status}: {last}")
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(v: u8) -> NetContext {
        NetContext {
            container_name: "c 1".into(),
            owner: "o".into(),
            hook_version: v,
            hook_env: vec![],
        }
    }

    #[test]
    fn command_lines_follow_lxc() {
        let p = Path::new("/usr/bin/up.sh");
        assert_eq!(
            command_line(p, &ctx(0), "up", &["veth", "lxcbr0", "vethAb12"]),
            "exec /usr/bin/up.sh 'c 1' net up veth lxcbr0 vethAb12"
        );
        assert_eq!(
            command_line(p, &ctx(1), "down", &["macvlan", "eth1"]),
            "exec /usr/bin/up.sh macvlan eth1"
        );
        assert_eq!(sh_quote("it's"), "'it'\\''s'");
    }

    #[test]
    fn script_failure_names_key_and_status() {
        let dir = std::env::temp_dir().join(format!("lxcrs-net-script-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let s = dir.join("fail.sh");
        let ok = std::fs::write(&s, "#!/bin/sh\necho \"$LXC_NET_TYPE $LXC_NET_PEER $*\" > \"$0.out\"\necho boom >&2\nexit 3\n").is_ok();
        assert!(ok);
        let _ = Command::new("chmod").arg("+x").arg(&s).status();
        let e = run(
            "lxc.net.0.script.up".into(),
            &s,
            &ctx(1),
            "up",
            &["veth", "br0", "vethX"],
        )
        .err();
        let msg = e.map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.starts_with("lxc.net.0.script.up: script "), "{msg}");
        assert!(msg.ends_with("failed: exit status 3: boom"), "{msg}");
        let out = std::fs::read_to_string(dir.join("fail.sh.out")).unwrap_or_default();
        assert_eq!(out.trim(), "veth vethX veth br0 vethX");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
