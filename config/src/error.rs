//! The crate's single error type.
//!
//! Every message follows one style, modelled on LXC's own diagnostics but with the
//! location first so editors can jump to it:
//!
//! ```text
//! /var/lib/lxc/c1/config:12: lxc.net.0.ipv4.address = 10.0.3.300/24: invalid IPv4 address (expected a.b.c.d/prefix [broadcast])
//! hint: …
//! ```

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where a configuration line came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file the line was read from (or the `origin` given to [`crate::Config::parse`]).
    pub file: PathBuf,
    /// 1-based line number.
    pub line: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// Errors of the configuration crate.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConfigError {
    /// A `key = value` item is wrong: unknown key, malformed line, bad value, include
    /// failure, or a cross-key conflict. `at` is `None` for items that did not come from
    /// a file (e.g. [`crate::Config::set_item`]); `value` is `None` when the line had no
    /// `=` or the operation takes no value (get/clear).
    #[error("{}", render_invalid(at.as_deref(), key, value.as_deref(), problem, hint.as_deref()))]
    Invalid {
        at: Option<Box<Location>>,
        key: String,
        value: Option<String>,
        problem: String,
        hint: Option<String>,
    },
    /// A value parsed on its own (no key context), e.g. [`crate::model::Signal::parse`].
    #[error("{problem}{}", hint.as_ref().map(|h| format!("\nhint: {h}")).unwrap_or_default())]
    Value {
        problem: String,
        hint: Option<String>,
    },
    /// Reading or writing a file failed.
    #[error("{}: failed to {action}: {source}", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        /// Shared so that the error stays `Clone`.
        #[source]
        source: Arc<io::Error>,
    },
}

fn render_invalid(
    at: Option<&Location>,
    key: &str,
    value: Option<&str>,
    problem: &str,
    hint: Option<&str>,
) -> String {
    let mut out = String::new();
    if let Some(at) = at {
        out.push_str(&format!("{at}: "));
    }
    out.push_str(key);
    if let Some(value) = value {
        out.push_str(" = ");
        out.push_str(value);
    }
    out.push_str(": ");
    out.push_str(problem);
    if let Some(hint) = hint {
        out.push_str("\nhint: ");
        out.push_str(hint);
    }
    out
}

impl ConfigError {
    /// An I/O failure on `path` while trying to `action` it.
    pub(crate) fn io(path: &Path, action: &'static str, source: io::Error) -> ConfigError {
        ConfigError::Io {
            path: path.to_path_buf(),
            action,
            source: Arc::new(source),
        }
    }

    /// A value error without key context.
    pub(crate) fn value(problem: impl Into<String>) -> ConfigError {
        ConfigError::Value {
            problem: problem.into(),
            hint: None,
        }
    }

    /// A value error with a hint.
    pub(crate) fn value_hint(problem: impl Into<String>, hint: impl Into<String>) -> ConfigError {
        ConfigError::Value {
            problem: problem.into(),
            hint: Some(hint.into()),
        }
    }

    /// An error about `key` (and maybe `value`), without a location yet.
    pub(crate) fn invalid(
        key: &str,
        value: Option<&str>,
        problem: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Invalid {
            at: None,
            key: key.to_string(),
            value: value.map(str::to_string),
            problem: problem.into(),
            hint: None,
        }
    }

    /// Attach key context to a [`ConfigError::Value`]; other variants pass through.
    pub(crate) fn with_key(self, key: &str, value: Option<&str>) -> ConfigError {
        match self {
            ConfigError::Value { problem, hint } => ConfigError::Invalid {
                at: None,
                key: key.to_string(),
                value: value.map(str::to_string),
                problem,
                hint,
            },
            other => other,
        }
    }

    /// Attach a location to an error that has none yet.
    pub(crate) fn at(self, loc: &Location) -> ConfigError {
        match self {
            ConfigError::Invalid {
                at: None,
                key,
                value,
                problem,
                hint,
            } => ConfigError::Invalid {
                at: Some(Box::new(loc.clone())),
                key,
                value,
                problem,
                hint,
            },
            other => other,
        }
    }

    /// The hint, if any.
    pub fn hint(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { hint, .. } | ConfigError::Value { hint, .. } => hint.as_deref(),
            ConfigError::Io { .. } => None,
        }
    }

    /// The location, if the error came from a file line.
    pub fn location(&self) -> Option<&Location> {
        match self {
            ConfigError::Invalid { at, .. } => at.as_deref(),
            _ => None,
        }
    }
}

/// Shorthand used throughout the crate.
pub type Result<T> = std::result::Result<T, ConfigError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_full() {
        let e = ConfigError::Invalid {
            at: Some(Box::new(Location {
                file: "/var/lib/lxc/c1/config".into(),
                line: 12,
            })),
            key: "lxc.net.0.ipv4.address".into(),
            value: Some("10.0.3.300/24".into()),
            problem: "invalid IPv4 address (expected a.b.c.d/prefix [broadcast])".into(),
            hint: None,
        };
        assert_eq!(
            e.to_string(),
            "/var/lib/lxc/c1/config:12: lxc.net.0.ipv4.address = 10.0.3.300/24: invalid IPv4 address (expected a.b.c.d/prefix [broadcast])"
        );
    }

    #[test]
    fn display_hint_and_no_value() {
        let e = ConfigError::invalid("lxc.foo", None, "unknown key");
        let e = match e {
            ConfigError::Invalid {
                at,
                key,
                value,
                problem,
                ..
            } => ConfigError::Invalid {
                at,
                key,
                value,
                problem,
                hint: Some("check spelling".into()),
            },
            other => other,
        };
        assert_eq!(e.to_string(), "lxc.foo: unknown key\nhint: check spelling");
        assert_eq!(e.hint(), Some("check spelling"));
    }

    #[test]
    fn value_with_key_and_location() {
        let e = ConfigError::value_hint("bad", "try x")
            .with_key("lxc.a", Some("v"))
            .at(&Location {
                file: "f".into(),
                line: 3,
            });
        assert_eq!(e.to_string(), "f:3: lxc.a = v: bad\nhint: try x");
        assert_eq!(e.location().map(|l| l.line), Some(3));
    }
}
