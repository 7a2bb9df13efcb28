//! Running `lxc.hook.*` with LXC's conventions (`docs/lxc-contract.md` §6.1, §6.2):
//!
//! - every hook runs as `/bin/sh -c "exec <hook> …"`, so the config value may carry its own
//!   arguments;
//! - version 0 appends `'<name>' 'lxc' '<type>'` and, for stop hooks, `ns:/proc/PID/fd/N`
//!   arguments; version 1 appends nothing and passes `LXC_HOOK_TYPE`, `LXC_HOOK_SECTION` and
//!   `LXC_<NS>_NS` in the environment;
//! - both get `LXC_NAME LXC_CONFIG_FILE LXC_ROOTFS_MOUNT LXC_ROOTFS_PATH LXC_CONSOLE
//!   LXC_CONSOLE_LOGPATH LXC_CGNS_AWARE=1 LXC_HOOK_VERSION`, plus `LXC_PID` once init exists
//!   and `LXC_TARGET` (stop|reboot) at stop;
//! - a non-zero exit fails the phase; the error names the hook, its status and its stderr tail.
//!
//! [`command`] builds argv and environment (pure, unit-tested); [`run`] executes it.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

pub use lxcrs_config::model::HookType as HookKind;
use lxcrs_config::model::{ContainerConfig, HookVersion};

use super::namespaces::Namespace;
use super::spec::{default_rootfs_mount, Spec};
use super::StartError;

/// What a hook is told about the container.
#[derive(Debug, Clone)]
pub struct HookContext {
    pub name: String,
    pub config_file: PathBuf,
    /// `LXC_ROOTFS_MOUNT`: the staging mount point.
    pub rootfs_mount: PathBuf,
    /// `LXC_ROOTFS_PATH`: `lxc.rootfs.path` as written.
    pub rootfs_path: String,
    /// `LXC_CONSOLE`: `lxc.console.path` (empty when unset).
    pub console: String,
    /// `LXC_CONSOLE_LOGPATH`: `lxc.console.logfile` (empty when unset).
    pub console_logpath: String,
    pub version: HookVersion,
    /// The hook commands, by type, in config order.
    pub commands: Vec<(HookKind, String)>,
    /// `lxc.environment` + `lxc.environment.hooks`, resolved.
    pub env: Vec<(String, String)>,
    /// `LXC_PID`: init's pid, once it exists.
    pub pid: Option<i32>,
    /// `LXC_TARGET` of stop hooks: `stop` or `reboot`.
    pub target: Option<String>,
    /// Namespace references for stop hooks (`/proc/<monitor>/fd/<n>`).
    pub namespaces: Vec<(Namespace, PathBuf)>,
}

impl HookContext {
    /// The context for container `name` loaded from `config_path`.
    pub fn new(name: &str, config_path: &std::path::Path, config: &ContainerConfig) -> HookContext {
        let env = config
            .environment
            .all
            .iter()
            .chain(config.environment.hooks.iter())
            .filter_map(|v| match &v.value {
                Some(val) => Some((v.name.clone(), val.clone())),
                None => std::env::var(&v.name).ok().map(|val| (v.name.clone(), val)),
            })
            .collect();
        HookContext {
            name: name.to_string(),
            config_file: config_path.to_path_buf(),
            rootfs_mount: config
                .rootfs
                .mount
                .as_ref()
                .map(PathBuf::from)
                .unwrap_or_else(default_rootfs_mount),
            rootfs_path: config
                .rootfs
                .path
                .as_ref()
                .map(|p| p.to_string())
                .unwrap_or_default(),
            console: config.console.path.clone().unwrap_or_default(),
            console_logpath: config.console.logfile.clone().unwrap_or_default(),
            version: config.hooks.version,
            commands: config
                .hooks
                .commands
                .iter()
                .flat_map(|(t, v)| v.iter().map(move |c| (*t, c.clone())))
                .collect(),
            env,
            pid: None,
            target: None,
            namespaces: Vec::new(),
        }
    }

    pub(crate) fn from_spec(spec: &Spec, config: &ContainerConfig) -> HookContext {
        let mut ctx = HookContext::new(&spec.name, &spec.config_path, config);
        ctx.rootfs_mount = spec.rootfs_mount().to_path_buf();
        ctx
    }

    /// Set `LXC_PID`.
    pub fn with_pid(mut self, pid: i32) -> HookContext {
        self.pid = Some(pid);
        self
    }

    /// Set `LXC_TARGET` (`stop` or `reboot`).
    pub fn with_target(mut self, target: &str) -> HookContext {
        self.target = Some(target.to_string());
        self
    }

    /// Pass init's namespaces (e.g. [`super::Spawned::ns_fds`]) to stop hooks as
    /// `/proc/<this pid>/fd/<n>`: the fds must stay open while the hook runs.
    pub fn with_namespaces(mut self, fds: &[(Namespace, OwnedFd)]) -> HookContext {
        let me = std::process::id();
        self.namespaces = fds
            .iter()
            .map(|(ns, fd)| {
                (
                    *ns,
                    PathBuf::from(format!("/proc/{me}/fd/{}", fd.as_raw_fd())),
                )
            })
            .collect();
        self
    }

    /// Does any hook of this type exist?
    pub fn has(&self, kind: HookKind) -> bool {
        self.commands.iter().any(|(k, _)| *k == kind)
    }
}

/// A hook ready to execute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookCommand {
    /// `["/bin/sh", "-c", "exec …"]`.
    pub argv: Vec<String>,
    /// Variables added to the inherited environment.
    pub env: Vec<(String, String)>,
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The hook value as `sh -c` should see it. A value is shell text (it may carry its own
/// arguments, as in LXC), except when the whole value is the path of an existing file: then
/// it is quoted, so a generated hook path under an lxcpath holding spaces or shell
/// characters runs that file and nothing else.
fn program(hook: &str) -> String {
    let is_file = hook.starts_with('/') && std::path::Path::new(hook).is_file();
    let plain = hook
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+,:@%=".contains(&b));
    if is_file && !plain {
        quote(hook)
    } else {
        hook.to_string()
    }
}

/// Build the command line and environment of `hook` (one `lxc.hook.<kind>` value).
pub fn command(
    kind: HookKind,
    hook: &str,
    ctx: &HookContext,
    extra_env: &[(String, String)],
) -> HookCommand {
    let mut script = format!("exec {}", program(hook));
    let mut env: Vec<(String, String)> = ctx.env.clone();
    let mut set = |k: &str, v: String| env.push((k.to_string(), v));
    set("LXC_NAME", ctx.name.clone());
    set("LXC_CONFIG_FILE", ctx.config_file.display().to_string());
    set("LXC_ROOTFS_MOUNT", ctx.rootfs_mount.display().to_string());
    set("LXC_ROOTFS_PATH", ctx.rootfs_path.clone());
    set("LXC_CONSOLE", ctx.console.clone());
    set("LXC_CONSOLE_LOGPATH", ctx.console_logpath.clone());
    set("LXC_CGNS_AWARE", "1".into());
    if let Some(pid) = ctx.pid {
        set("LXC_PID", pid.to_string());
    }
    if let Some(t) = &ctx.target {
        set("LXC_TARGET", t.clone());
    }
    match ctx.version {
        HookVersion::V0 => {
            set("LXC_HOOK_VERSION", "0".into());
            for arg in [ctx.name.as_str(), "lxc", kind.name()] {
                script.push(' ');
                script.push_str(&quote(arg));
            }
            for (ns, path) in &ctx.namespaces {
                script.push(' ');
                script.push_str(&quote(&format!("{}:{}", ns.proc_name(), path.display())));
            }
        }
        HookVersion::V1 => {
            set("LXC_HOOK_VERSION", "1".into());
            set("LXC_HOOK_TYPE", kind.name().into());
            set("LXC_HOOK_SECTION", "lxc".into());
            for (ns, path) in &ctx.namespaces {
                set(&ns.env_name(), path.display().to_string());
            }
        }
    }
    env.extend(extra_env.iter().cloned());
    HookCommand {
        argv: vec!["/bin/sh".into(), "-c".into(), script],
        env,
    }
}

/// The last lines of a hook's stderr, for the error message.
fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(10);
    lines[start..].join("\n")
}

/// Run every `lxc.hook.<kind>` in order; the first failure stops and is returned.
pub fn run(
    kind: HookKind,
    ctx: &HookContext,
    extra_env: &[(String, String)],
) -> Result<(), StartError> {
    for (_, hook) in ctx.commands.iter().filter(|(k, _)| *k == kind) {
        run_one(kind, hook, ctx, extra_env)?;
    }
    Ok(())
}

fn run_one(
    kind: HookKind,
    hook: &str,
    ctx: &HookContext,
    extra_env: &[(String, String)],
) -> Result<(), StartError> {
    let cmd = command(kind, hook, ctx, extra_env);
    let fail = |status: String, stderr: String| StartError::Hook {
        kind: kind.name().to_string(),
        hook: hook.to_string(),
        status,
        stderr,
    };
    let out = Command::new(&cmd.argv[0])
        .args(&cmd.argv[1..])
        .envs(cmd.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| {
            fail(
                format!("could not run /bin/sh: {}", super::error::io_desc(&e)),
                String::new(),
            )
        })?;
    if out.status.success() {
        return Ok(());
    }
    let status = match (out.status.code(), out.status.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => out.status.to_string(),
    };
    Err(fail(status, tail(&out.stderr)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(version: HookVersion) -> HookContext {
        HookContext {
            name: "c1".into(),
            config_file: "/var/lib/lxc/c1/config".into(),
            rootfs_mount: "/run/lxcrs/rootfs".into(),
            rootfs_path: "dir:/var/lib/lxc/c1/rootfs".into(),
            console: String::new(),
            console_logpath: String::new(),
            version,
            commands: vec![
                (HookKind::PreStart, "/bin/true".into()),
                (HookKind::PreStart, "/bin/false arg".into()),
            ],
            env: vec![("FOO".into(), "bar".into())],
            pid: Some(42),
            target: None,
            namespaces: vec![(Namespace::Mount, "/proc/7/fd/9".into())],
        }
    }

    fn get<'a>(c: &'a HookCommand, k: &str) -> Option<&'a str> {
        c.env
            .iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn version0_passes_arguments() {
        let c = command(
            HookKind::Stop,
            "/usr/share/lxc/hooks/x --opt",
            &ctx(HookVersion::V0),
            &[],
        );
        assert_eq!(c.argv[..2], ["/bin/sh".to_string(), "-c".to_string()]);
        assert_eq!(
            c.argv[2],
            "exec /usr/share/lxc/hooks/x --opt 'c1' 'lxc' 'stop' 'mnt:/proc/7/fd/9'"
        );
        assert_eq!(get(&c, "LXC_HOOK_VERSION"), Some("0"));
        assert_eq!(get(&c, "LXC_HOOK_TYPE"), None);
        assert_eq!(get(&c, "LXC_NAME"), Some("c1"));
        assert_eq!(get(&c, "LXC_PID"), Some("42"));
        assert_eq!(get(&c, "LXC_CGNS_AWARE"), Some("1"));
        assert_eq!(
            get(&c, "LXC_ROOTFS_PATH"),
            Some("dir:/var/lib/lxc/c1/rootfs")
        );
        assert_eq!(get(&c, "FOO"), Some("bar"));
    }

    #[test]
    fn version1_uses_environment() {
        let ctx = ctx(HookVersion::V1).with_target("reboot");
        let c = command(
            HookKind::Stop,
            "/hook",
            &ctx,
            &[("EXTRA".into(), "1".into())],
        );
        assert_eq!(c.argv[2], "exec /hook");
        assert_eq!(get(&c, "LXC_HOOK_VERSION"), Some("1"));
        assert_eq!(get(&c, "LXC_HOOK_TYPE"), Some("stop"));
        assert_eq!(get(&c, "LXC_HOOK_SECTION"), Some("lxc"));
        assert_eq!(get(&c, "LXC_MNT_NS"), Some("/proc/7/fd/9"));
        assert_eq!(get(&c, "LXC_TARGET"), Some("reboot"));
        assert_eq!(get(&c, "EXTRA"), Some("1"));
    }

    #[test]
    fn quotes_names() {
        let mut c = ctx(HookVersion::V0);
        c.name = "it's".into();
        c.namespaces.clear();
        let cmd = command(HookKind::Mount, "/h", &c, &[]);
        assert_eq!(cmd.argv[2], r"exec /h 'it'\''s' 'lxc' 'mount'");
    }

    #[test]
    fn failing_hook_names_itself_with_status_and_stderr() {
        let mut c = ctx(HookVersion::V0);
        c.commands = vec![(
            HookKind::PreStart,
            "sh -c 'echo doomed >&2; exit 3' --".into(),
        )];
        let e = run(HookKind::PreStart, &c, &[]).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with(
                "pre-start hook \"sh -c 'echo doomed >&2; exit 3' --\" failed: exit status 3"
            ),
            "{msg}"
        );
        assert!(msg.ends_with("doomed"), "{msg}");
        c.commands = vec![(
            HookKind::PreStart,
            r#"sh -c 'test "$LXC_NAME $3" = "c1 pre-start"' x"#.into(),
        )];
        run(HookKind::PreStart, &c, &[]).unwrap();
        assert!(
            run(HookKind::Start, &c, &[]).is_ok(),
            "no start hooks: nothing to run"
        );
    }

    #[test]
    fn a_hook_file_under_a_path_with_shell_characters_runs_as_that_file() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let odd = d.path().join("lxc path;touch pwned $(touch pwned2)");
        std::fs::create_dir(&odd).unwrap();
        let hook = odd.join("tmpfs-hook");
        let ran = d.path().join("ran");
        std::fs::write(
            &hook,
            format!("#!/bin/sh\necho \"$3\" > '{}'\n", ran.display()),
        )
        .unwrap();
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut c = ctx(HookVersion::V0);
        c.commands = vec![(HookKind::PreMount, hook.display().to_string())];
        let cmd = command(HookKind::PreMount, &hook.display().to_string(), &c, &[]);
        assert!(
            cmd.argv[2].starts_with(&format!("exec '{}' ", hook.display())),
            "{}",
            cmd.argv[2]
        );
        let status = std::process::Command::new(&cmd.argv[0])
            .args(&cmd.argv[1..])
            .current_dir(d.path())
            .status()
            .unwrap();
        assert!(status.success());
        assert_eq!(std::fs::read_to_string(&ran).unwrap(), "pre-mount\n");
        assert!(!d.path().join("pwned").exists() && !d.path().join("pwned2").exists());
        // Shell text that is not one file stays shell text.
        let cmd = command(HookKind::PreMount, "/bin/true; echo x", &c, &[]);
        assert!(
            cmd.argv[2].starts_with("exec /bin/true; echo x "),
            "{}",
            cmd.argv[2]
        );
    }
}
