//! The container's init process: `lxc.init.*`, `lxc.execute.cmd`, `lxc.environment*`.

use crate::error::{ConfigError, Result};

/// A command line as written plus its shell-like split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub raw: String,
    pub argv: Vec<String>,
}

impl Command {
    /// Split with shell-like quoting: blanks separate words, `'…'` is literal,
    /// `"…"` allows `\"` and `\\`, a backslash outside quotes escapes the next char.
    pub fn parse(s: &str) -> Result<Command> {
        let argv = split_quoted(s)?;
        if argv.is_empty() {
            return Err(ConfigError::value("empty command"));
        }
        Ok(Command {
            raw: s.to_string(),
            argv,
        })
    }
}

/// Shell-like word splitting (no expansion).
pub fn split_quoted(s: &str) -> Result<Vec<String>> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_ascii_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err(ConfigError::value("unterminated single quote")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => cur.push(c),
                            Some(c) => {
                                cur.push('\\');
                                cur.push(c);
                            }
                            None => return Err(ConfigError::value("unterminated double quote")),
                        },
                        Some(c) => cur.push(c),
                        None => return Err(ConfigError::value("unterminated double quote")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => cur.push(c),
                    None => return Err(ConfigError::value("trailing backslash")),
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// Init settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Init {
    /// `lxc.init.cmd`; `None` means `/sbin/init`.
    pub cmd: Option<Command>,
    /// `lxc.execute.cmd`: the command `lxc-execute` runs when none is given.
    pub execute_cmd: Option<Command>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// `lxc.init.groups` (comma-separated, accumulating).
    pub groups: Vec<u32>,
    /// `lxc.init.cwd`; default `/`.
    pub cwd: Option<String>,
}

impl Init {
    /// The argv to execute as init: `lxc.init.cmd` or `/sbin/init`.
    pub fn argv(&self) -> Vec<String> {
        self.cmd
            .as_ref()
            .map(|c| c.argv.clone())
            .unwrap_or_else(|| vec!["/sbin/init".to_string()])
    }

    /// Apply one `lxc.init.groups` line.
    pub(crate) fn apply_groups(&mut self, value: &str) -> Result<()> {
        if value.is_empty() {
            self.groups.clear();
            return Ok(());
        }
        for g in value.split(',') {
            self.groups
                .push(crate::value::parse_uint(g.trim()).map_err(|_| {
                    ConfigError::value("invalid group id (expected comma-separated numeric gids)")
                })?);
        }
        Ok(())
    }
}

/// One `lxc.environment` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVar {
    pub name: String,
    /// `None` for a bare `NAME`: inherit the value from LXC's own environment.
    pub value: Option<String>,
}

impl EnvVar {
    /// Parse `NAME=VALUE` or `NAME`.
    pub fn parse(s: &str) -> Result<EnvVar> {
        let (name, value) = match s.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (s, None),
        };
        if name.is_empty() || name.bytes().any(|b| b.is_ascii_whitespace() || b == 0) {
            return Err(ConfigError::value(
                "invalid environment variable (expected NAME=VALUE or NAME)",
            ));
        }
        Ok(EnvVar {
            name: name.to_string(),
            value,
        })
    }

    /// `NAME=VALUE` (or `NAME`).
    pub fn render(&self) -> String {
        match &self.value {
            Some(v) => format!("{}={v}", self.name),
            None => self.name.clone(),
        }
    }
}

/// `lxc.environment`, `lxc.environment.runtime`, `lxc.environment.hooks`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment {
    /// Set for init and hooks.
    pub all: Vec<EnvVar>,
    /// Only for the container's init (LXC 7 key).
    pub runtime: Vec<EnvVar>,
    /// Only for hooks (LXC 7 key).
    pub hooks: Vec<EnvVar>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting() {
        let w = |s: &str| split_quoted(s).ok();
        assert_eq!(w("/sbin/init"), Some(vec!["/sbin/init".to_string()]));
        assert_eq!(
            w("  /bin/sh -c 'echo hi there'  "),
            Some(vec!["/bin/sh".into(), "-c".into(), "echo hi there".into()])
        );
        assert_eq!(
            w(r#"a "b \"c\" d" e\ f"#),
            Some(vec!["a".into(), "b \"c\" d".into(), "e f".into()])
        );
        assert_eq!(w("''"), Some(vec![String::new()]));
        assert!(split_quoted("'abc").is_err());
        assert!(split_quoted("\"abc").is_err());
        assert!(split_quoted("abc\\").is_err());
        assert!(Command::parse("   ").is_err());
    }

    #[test]
    fn init_defaults() {
        let mut i = Init::default();
        assert_eq!(i.argv(), vec!["/sbin/init".to_string()]);
        i.cmd = Command::parse("/usr/bin/myinit --x").ok();
        assert_eq!(i.argv().len(), 2);
        assert!(i.apply_groups("10, 20").is_ok());
        assert!(i.apply_groups("30").is_ok());
        assert_eq!(i.groups, vec![10, 20, 30]);
        assert!(i.apply_groups("x").is_err());
        assert!(i.apply_groups("").is_ok());
        assert!(i.groups.is_empty());
    }

    #[test]
    fn env() {
        assert_eq!(
            EnvVar::parse("A=b=c").ok(),
            Some(EnvVar {
                name: "A".into(),
                value: Some("b=c".into())
            })
        );
        assert_eq!(EnvVar::parse("HOME").ok().map(|e| e.value), Some(None));
        assert!(EnvVar::parse("=x").is_err());
        assert!(EnvVar::parse("A B=x").is_err());
        assert_eq!(
            EnvVar::parse("A=").ok().map(|e| e.render()).as_deref(),
            Some("A=")
        );
    }
}
