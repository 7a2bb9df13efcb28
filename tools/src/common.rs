//! What every tool shares: LXC's common options (`-n -P -q -o -l --rcfile --version
//! -h --usage -?`), the name-or-first-positional rule, exit codes and message style.
//!
//! Messages are `<tool>: <name>: <what failed>: <why>` and a `hint:` line when there is
//! one, on stderr; exit 0 on success, 1 on failure (tool-specific codes documented
//! in each tool). The tool's name in a message is always [`Common::prog`] ([`say!`] or
//! [`Common::error`]), never spelled out.
//!
//! Every tool (`cmd/*.rs`) has one shape: `command()` (its clap command, built from the
//! argument builders here), `options()` (the matches as a typed struct, bad combinations
//! rejected there with LXC's message) and `main()`, a short body over the liblxcrs API
//! that maps the API's error kinds ([`liblxcrs::Error`] variants) to LXC's exit codes.

use std::path::PathBuf;

use clap::{Arg, ArgAction, ArgMatches, Command};

/// LXC's version line for `--version`; we report the LXC release we are compatible with.
pub const VERSION: &str = "6.0.0";

/// The options common to every tool, after parsing.
#[derive(Debug, Clone)]
pub struct Common {
    /// The tool's name, e.g. `lxc-create`.
    pub prog: String,
    /// `-n` or the first positional argument.
    pub name: Option<String>,
    /// `-P` (trailing slashes stripped).
    pub lxcpath: Option<PathBuf>,
    /// `-q`.
    pub quiet: bool,
    /// `-o`.
    pub logfile: Option<PathBuf>,
    /// `-l`.
    pub logpriority: Option<String>,
    /// `--rcfile`.
    pub rcfile: Option<PathBuf>,
}

impl Common {
    /// The container name, or the LXC error and exit code 1.
    pub fn require_name(&self) -> Result<&str, i32> {
        match &self.name {
            Some(n) => Ok(n),
            None => {
                eprintln!("{}: No container name specified", self.prog);
                eprintln!("hint: name the container with -n NAME");
                Err(1)
            }
        }
    }

    /// The container named on the command line, with `--rcfile` applied; on error the
    /// message is printed and the exit code returned.
    pub fn open_container(&self) -> Result<liblxcrs::Container, i32> {
        let name = self.require_name()?;
        let mut ct = liblxcrs::Container::new(name, self.lxcpath.as_deref()).map_err(|e| {
            self.error(&e);
            1
        })?;
        if let Some(rc) = &self.rcfile {
            if let Err(e) = std::fs::File::open(rc) {
                eprintln!(
                    "{}: {name}: Failed to load rcfile {}: {e}",
                    self.prog,
                    rc.display()
                );
                eprintln!("hint: give --rcfile an existing, readable config file");
                return Err(1);
            }
            ct.set_rcfile(rc);
        }
        Ok(ct)
    }

    /// [`Common::open_container`], and it must be defined (LXC's "Container is not defined").
    pub fn open_defined(&self) -> Result<liblxcrs::Container, i32> {
        let ct = self.open_container()?;
        if !ct.is_defined() {
            eprintln!("{}: {}: Container is not defined", self.prog, ct.name());
            return Err(1);
        }
        Ok(ct)
    }

    /// Prints `<prog>: <name>: <err>` (every line of a multi-line error) to stderr.
    pub fn error(&self, err: &dyn std::fmt::Display) {
        let prefix = match &self.name {
            Some(n) => format!("{}: {}: ", self.prog, n),
            None => format!("{}: ", self.prog),
        };
        let text = err.to_string();
        let mut lines = text.lines();
        if let Some(first) = lines.next() {
            eprintln!("{prefix}{first}");
        }
        for l in lines {
            eprintln!("{l}");
        }
        self.log("ERROR", &format!("{prefix}{text}"));
    }

    /// Appends a line to the `-o` log file when its priority passes `-l` (default ERROR),
    /// in LXC's `<prog> <timestamp> <PRIORITY> <message>` shape.
    pub fn log(&self, priority: &str, msg: &str) {
        let Some(file) = &self.logfile else { return };
        let threshold = self.logpriority.as_deref().and_then(level).unwrap_or(3);
        if level(priority).unwrap_or(8) > threshold {
            return;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let line = format!(
            "{} {}.{:03} {priority} {msg}\n",
            self.prog,
            now.as_secs(),
            now.subsec_millis()
        );
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(file)
        {
            let _ = f.write_all(line.as_bytes());
        }
    }
}

/// LXC's log priorities by name or number (0 = FATAL … 8 = TRACE).
pub fn level(p: &str) -> Option<u8> {
    const NAMES: [&str; 9] = [
        "FATAL", "ALERT", "CRIT", "ERROR", "WARN", "NOTICE", "INFO", "DEBUG", "TRACE",
    ];
    let up = p.to_ascii_uppercase();
    NAMES
        .iter()
        .position(|n| *n == up)
        .map(|i| i as u8)
        .or_else(|| p.parse::<u8>().ok().filter(|n| *n <= 8))
}

/// Prints `<prog>: <message>` on stderr, the tool's own name in front:
/// `say!(c, "{name}: Container is not defined")`.
macro_rules! say {
    ($c:expr, $($arg:tt)*) => {
        eprintln!("{}: {}", $c.prog, format_args!($($arg)*))
    };
}
pub(crate) use say;

/// The positional that may hold the container name (`lxc-stop c1`).
pub fn name_arg() -> Arg {
    Arg::new("pos").num_args(0..).value_name("NAME")
}

/// The positional holding the name, then a command and its arguments, taken verbatim
/// (`lxc-start c1 -- /bin/sh -c …`).
pub fn command_arg(value_name: &'static str) -> Arg {
    Arg::new("pos")
        .num_args(0..)
        .trailing_var_arg(true)
        .allow_hyphen_values(true)
        .value_name(value_name)
}

/// Every value of option or positional `id`.
pub fn values(m: &ArgMatches, id: &str) -> Vec<String> {
    m.get_many::<String>(id)
        .map(|v| v.cloned().collect())
        .unwrap_or_default()
}

/// `-s/--define KEY=VAL` (lxc-start, lxc-execute).
pub fn define_arg() -> Arg {
    Arg::new("define")
        .short('s')
        .long("define")
        .value_name("KEY=VAL")
        .action(ArgAction::Append)
        .help("Assign VAL to configuration variable KEY")
}

/// The `--share-{net,ipc,uts,pid}` options (lxc-start, lxc-execute).
pub fn share_args(cmd: Command) -> Command {
    ["net", "ipc", "uts", "pid"].iter().fold(cmd, |cmd, ns| {
        let id: &'static str = match *ns {
            "net" => "share-net",
            "ipc" => "share-ipc",
            "uts" => "share-uts",
            _ => "share-pid",
        };
        cmd.arg(
            Arg::new(id)
                .long(id)
                .value_name("NAME|PID")
                .help(format!("Share the {ns} namespace of a container or pid")),
        )
    })
}

/// `-s KEY=VAL` and `--share-*` as config defines, in order.
pub fn defines(c: &Common, m: &ArgMatches) -> Result<Vec<(String, String)>, i32> {
    let mut out = Vec::new();
    for d in m.get_many::<String>("define").into_iter().flatten() {
        match d.split_once('=') {
            Some((k, v)) => out.push((k.trim().to_string(), v.trim().to_string())),
            None => {
                say!(c, "invalid --define {d:?}: expected KEY=VALUE");
                return Err(1);
            }
        }
    }
    for ns in ["net", "ipc", "uts", "pid"] {
        if let Some(v) = m.get_one::<String>(&format!("share-{ns}")) {
            out.push((format!("lxc.namespace.share.{ns}"), v.clone()));
        }
    }
    Ok(out)
}

/// The monitor runs with cwd `/`: relative paths are made absolute here.
pub fn absolute(p: &str) -> PathBuf {
    let p = std::path::Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

/// `SIZE[bBkKmMgGtT]`, default unit M (LXC's), for `--fssize` and `lxc-copy -L`.
pub fn parse_size(s: &str) -> Option<u64> {
    let (num, unit) = match s.char_indices().find(|(_, ch)| !ch.is_ascii_digit()) {
        Some((i, _)) => (&s[..i], &s[i..]),
        None => (s, "M"),
    };
    let n: u64 = num.parse().ok()?;
    let mul: u64 = match unit {
        "b" | "B" => 1,
        "k" | "K" => 1 << 10,
        "m" | "M" => 1 << 20,
        "g" | "G" => 1 << 30,
        "t" | "T" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(mul)
}

/// A boolean option `-s/--long` with its help text.
pub fn flag(id: &'static str, short: char, long: &'static str, help: &'static str) -> Arg {
    Arg::new(id)
        .short(short)
        .long(long)
        .action(ArgAction::SetTrue)
        .help(help)
}

/// A `clap::Command` for tool `prog` with the common options already added.
/// `name_positional`: whether a leading positional may stand for `-n`.
pub fn command(prog: &'static str, about: &'static str) -> Command {
    Command::new(prog)
        .about(about)
        .disable_help_flag(true)
        .disable_version_flag(true)
        .arg(
            Arg::new("name")
                .short('n')
                .long("name")
                .value_name("NAME")
                .help("Name of the container"),
        )
        .arg(
            Arg::new("lxcpath")
                .short('P')
                .long("lxcpath")
                .value_name("PATH")
                .help("Use specified container path"),
        )
        .arg(
            Arg::new("quiet")
                .short('q')
                .long("quiet")
                .action(ArgAction::SetTrue)
                .help("Don't produce any output"),
        )
        .arg(
            Arg::new("logfile")
                .short('o')
                .long("logfile")
                .value_name("FILE")
                .help("Output log to FILE instead of stderr"),
        )
        .arg(
            Arg::new("logpriority")
                .short('l')
                .long("logpriority")
                .value_name("LEVEL")
                .help("Set log priority to LEVEL"),
        )
        .arg(
            Arg::new("rcfile")
                .long("rcfile")
                .value_name("FILE")
                .help("Load configuration file FILE"),
        )
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::SetTrue)
                .help("Give this help list"),
        )
        .arg(
            Arg::new("qhelp")
                .short('?')
                .action(ArgAction::SetTrue)
                .hide(true),
        )
        .arg(
            Arg::new("usage")
                .long("usage")
                .action(ArgAction::SetTrue)
                .help("Give a short usage message"),
        )
        .arg(
            Arg::new("version")
                .long("version")
                .action(ArgAction::SetTrue)
                .help("Print the version number"),
        )
}

/// Parses `args` (argv[0] included). `Err(code)` means the tool must exit with `code`
/// now: help/usage/version (0) or a bad option (1, after printing the reason).
/// When `-n` is absent and `positional` names an argument, its first value becomes the name
/// and is removed from what the tool sees via [`rest`].
pub fn parse(
    cmd: Command,
    args: Vec<String>,
    positional: Option<&str>,
) -> Result<(ArgMatches, Common), i32> {
    let mut cmd = cmd;
    let prog = cmd.get_name().to_string();
    let m = match cmd.try_get_matches_from_mut(args) {
        Ok(m) => m,
        Err(e) => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or_default();
            eprintln!("{prog}: {}", first.strip_prefix("error: ").unwrap_or(first));
            eprintln!("{}", cmd.render_usage());
            eprintln!("hint: `{prog} --help` lists the options");
            return Err(1);
        }
    };
    if m.get_flag("help") {
        println!("{}", cmd.render_help());
        return Err(0);
    }
    if m.get_flag("qhelp") {
        eprintln!("{}", cmd.render_help());
        return Err(1);
    }
    if m.get_flag("usage") {
        println!("{}", cmd.render_usage());
        return Err(0);
    }
    if m.get_flag("version") {
        println!("{VERSION}");
        return Err(0);
    }
    if let Some(p) = m.get_one::<String>("logpriority") {
        if level(p).is_none() {
            eprintln!("{prog}: invalid log priority {p:?}");
            eprintln!(
                "hint: use one of FATAL ALERT CRIT ERROR WARN NOTICE INFO DEBUG TRACE, or 0-8"
            );
            return Err(1);
        }
    }
    let mut name = m.get_one::<String>("name").cloned();
    if name.is_none() {
        if let Some(p) = positional {
            name = m.get_many::<String>(p).and_then(|mut v| v.next().cloned());
        }
    }
    let common = Common {
        prog,
        name,
        lxcpath: m
            .get_one::<String>("lxcpath")
            .map(|p| liblxcrs::paths::strip_trailing_slashes(p.as_ref())),
        quiet: m.get_flag("quiet"),
        logfile: m.get_one::<String>("logfile").map(PathBuf::from),
        logpriority: m.get_one::<String>("logpriority").cloned(),
        rcfile: m.get_one::<String>("rcfile").map(PathBuf::from),
    };
    Ok((m, common))
}

/// The values of positional `id` that remain once the name was taken from it
/// (when `-n` was not given, the first value is the name).
pub fn rest(m: &ArgMatches, id: &str) -> Vec<String> {
    let vals: Vec<String> = m
        .get_many::<String>(id)
        .map(|v| v.cloned().collect())
        .unwrap_or_default();
    if m.get_one::<String>("name").is_some() {
        vals
    } else {
        vals.into_iter().skip(1).collect()
    }
}

/// Unwraps a parse result inside a tool's `main`.
macro_rules! parse_or_exit {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(code) => return code,
        }
    };
}
pub(crate) use parse_or_exit;

#[cfg(test)]
mod tests {
    use super::parse_size;

    /// Messages go through the tool's own name (`say!`, `Common::error`), never a
    /// spelled-out `lxc-xxx:` in a string. Left out: lxc-ls and lxc-start's failure banner, whose
    /// files other work is rewriting (issue 14, items 3 and 4).
    #[test]
    fn no_hard_coded_program_names_in_messages() {
        let re = regex::Regex::new(r#""lxc-[a-z-]*:"#).unwrap();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = vec![dir.join("common.rs"), dir.join("main.rs")];
        for e in std::fs::read_dir(dir.join("cmd")).unwrap().flatten() {
            files.push(e.path());
        }
        let mut found = Vec::new();
        for f in files {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&f).unwrap();
            for (i, l) in text.lines().enumerate() {
                if re.is_match(l) && !l.contains("regex::Regex") {
                    found.push(format!("{name}:{}: {}", i + 1, l.trim()));
                }
            }
        }
        assert!(
            found.is_empty(),
            "hard-coded prefixes:\n{}",
            found.join("\n")
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1"), Some(1 << 20));
        assert_eq!(parse_size("2G"), Some(2 << 30));
        assert_eq!(parse_size("512b"), Some(512));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size("1Q"), None);
    }
}
