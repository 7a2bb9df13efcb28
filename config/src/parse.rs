//! Reading config text: line syntax, includes, and applying items to the model.

use std::fs;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::error::{ConfigError, Location, Result};
use crate::keys::{self, Key};
use crate::model::addr::{check_hwaddr, complete_hwaddr, is_hwaddr_template};
use crate::model::ContainerConfig;

/// Deepest include nesting accepted; real configs use two or three levels.
pub(crate) const MAX_INCLUDE_DEPTH: usize = 16;

/// Most files one load may include in all: the depth limit alone lets a file that includes
/// another N times, at each of 16 levels, read N^16 files.
pub(crate) const MAX_INCLUDES: usize = 1024;

/// C's `isspace`, which LXC uses for trimming.
pub(crate) fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

/// One `key = value` line.
pub(crate) struct Item<'a> {
    pub key: &'a str,
    /// Trimmed, with one pair of matching outer quotes removed.
    pub value: &'a str,
    /// Byte range of the trimmed raw value (quotes included) within the line.
    pub value_range: Range<usize>,
}

/// What a line is.
pub(crate) enum Lexed<'a> {
    /// Blank, comment, or a line not starting with `lxc.` (kept, ignored).
    Skip,
    /// An `lxc.` line without `=`.
    NoEquals(&'a str),
    Item(Item<'a>),
}

/// Strip one pair of matching outer quotes.
pub(crate) fn unquote(raw: &str) -> &str {
    let b = raw.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        &raw[1..raw.len() - 1]
    } else {
        raw
    }
}

/// Classify one line.
pub(crate) fn lex(line: &str) -> Lexed<'_> {
    let body = line.trim_start_matches(is_space);
    let start = line.len() - body.len();
    if !body.starts_with("lxc.") {
        return Lexed::Skip;
    }
    let Some(eq) = body.find('=') else {
        return Lexed::NoEquals(body.trim_end_matches(is_space));
    };
    let key = body[..eq].trim_end_matches(is_space);
    let after = &body[eq + 1..];
    let lead = after.len() - after.trim_start_matches(is_space).len();
    let raw = after.trim_matches(is_space);
    let vstart = start + eq + 1 + lead;
    Lexed::Item(Item {
        key,
        value: unquote(raw),
        value_range: vstart..vstart + raw.len(),
    })
}

/// A random byte from the standard library's per-process random keys.
pub(crate) fn random_byte() -> u8 {
    use std::hash::{BuildHasher, RandomState};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let h = RandomState::new().hash_one(n);
    h.to_le_bytes()[0] ^ h.to_le_bytes()[5]
}

/// Applies items to a model, following includes.
pub(crate) struct Loader<'m> {
    pub model: &'m mut ContainerConfig,
    /// Canonical paths of the files being read, outermost first.
    stack: Vec<PathBuf>,
    /// The last cap.drop/cap.keep item, to locate a conflict.
    last_cap: Option<(Option<Location>, String, String)>,
    /// Files included so far by this load (directories count their files).
    included: usize,
}

impl<'m> Loader<'m> {
    pub(crate) fn new(model: &'m mut ContainerConfig) -> Loader<'m> {
        Loader {
            model,
            stack: Vec::new(),
            last_cap: None,
            included: 0,
        }
    }

    /// Record the top-level file so that including it again is reported as a loop.
    pub(crate) fn enter(&mut self, path: &Path) {
        self.stack
            .push(fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()));
    }

    /// Parse `text` read from `origin`. Returns the lines whose hwaddr template was
    /// replaced by a concrete MAC, as (0-based line index, new line).
    pub(crate) fn parse_text(&mut self, text: &str, origin: &Path) -> Result<Vec<(usize, String)>> {
        let mut rewrites = Vec::new();
        for (idx, line) in text.split('\n').enumerate() {
            let at = Location {
                file: origin.to_path_buf(),
                line: idx + 1,
            };
            match lex(line) {
                Lexed::Skip => {}
                Lexed::NoEquals(body) => {
                    let hint = crate::legacy::is_legacy_key(body).then(|| {
                        "this key was renamed in LXC 2.1; run lxc-update-config -c <file>"
                            .to_string()
                    });
                    return Err(ConfigError::Invalid {
                        at: Some(Box::new(at)),
                        key: body.to_string(),
                        value: None,
                        problem: "invalid configuration line (expected key = value)".into(),
                        hint,
                    });
                }
                Lexed::Item(item) => {
                    if let Some(mac) = self.apply_item(item.key, item.value, Some(&at))? {
                        // Keep the line as written, with the template swapped for the MAC.
                        let raw = &line[item.value_range.clone()];
                        let new_raw = raw.replacen(item.value, &mac, 1);
                        let mut new_line = line.to_string();
                        new_line.replace_range(item.value_range, &new_raw);
                        rewrites.push((idx, new_line));
                    }
                }
            }
        }
        Ok(rewrites)
    }

    /// Apply one item. Returns the concrete MAC if `value` was an hwaddr template.
    pub(crate) fn apply_item(
        &mut self,
        key: &str,
        value: &str,
        at: Option<&Location>,
    ) -> Result<Option<String>> {
        let locate = |e: ConfigError| match at {
            Some(loc) => e.at(loc),
            None => e,
        };
        let k = keys::resolve(key).map_err(|e| locate(e.with_key(key, Some(value))))?;
        let mut concrete = None;
        if let Key::NetSub(_, sub) = &k {
            if sub == "hwaddr" && check_hwaddr(value).is_ok() && is_hwaddr_template(value) {
                concrete = Some(complete_hwaddr(value, &mut random_byte));
            }
        }
        if k == Key::Strict("lxc.include") {
            self.include(value, at)
                .map_err(|e| locate(e.with_key(key, Some(value))))?;
            return Ok(None);
        }
        let v = concrete.as_deref().unwrap_or(value);
        keys::apply(self.model, &k, v).map_err(|e| locate(e.with_key(key, Some(value))))?;
        if matches!(k, Key::Strict("lxc.cap.drop" | "lxc.cap.keep")) && !value.is_empty() {
            self.last_cap = Some((at.cloned(), key.to_string(), value.to_string()));
        }
        Ok(concrete)
    }

    /// Cross-key checks after everything is read.
    pub(crate) fn finish(&self) -> Result<()> {
        if let Some(problem) = self.model.conflict() {
            let (at, key, value) =
                self.last_cap
                    .clone()
                    .unwrap_or((None, "lxc.cap.keep".into(), String::new()));
            return Err(ConfigError::Invalid {
                at: at.map(Box::new),
                key,
                value: Some(value),
                problem: problem.to_string(),
                hint: Some(
                    "use either lxc.cap.drop or lxc.cap.keep; clear the other with an empty value"
                        .into(),
                ),
            });
        }
        Ok(())
    }

    fn include(&mut self, value: &str, _at: Option<&Location>) -> Result<()> {
        if value.is_empty() {
            return Ok(());
        }
        if self.stack.len() > MAX_INCLUDE_DEPTH {
            return Err(ConfigError::value_hint(
                format!("includes nested deeper than {MAX_INCLUDE_DEPTH} levels"),
                "check for an include loop",
            ));
        }
        let path = Path::new(value);
        match fs::metadata(path) {
            Ok(m) if m.is_dir() => self.include_dir(path),
            Ok(m) if m.is_file() => self.include_file(path),
            // Devices, FIFOs and sockets could block or never end.
            Ok(_) => Err(ConfigError::value(
                "included path is not a regular file or directory",
            )),
            Err(e) if e.kind() == io::ErrorKind::NotFound && value.ends_with('/') => Ok(()),
            Err(e) => Err(ConfigError::value(format!(
                "cannot read included file: {e}"
            ))),
        }
    }

    fn include_dir(&mut self, dir: &Path) -> Result<()> {
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                return Err(ConfigError::value(format!(
                    "cannot read included directory: {e}"
                )))
            }
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.len() > ".conf".len() && n.ends_with(".conf"))
            .collect();
        names.sort();
        for name in names {
            let p = dir.join(&name);
            if fs::metadata(&p).map(|m| m.is_file()).unwrap_or(false) {
                self.include_file(&p)?;
            }
        }
        Ok(())
    }

    fn include_file(&mut self, path: &Path) -> Result<()> {
        let canon = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if self.stack.contains(&canon) {
            let chain: Vec<String> = self
                .stack
                .iter()
                .chain(std::iter::once(&canon))
                .map(|p| p.display().to_string())
                .collect();
            return Err(ConfigError::value(format!(
                "include loop: {}",
                chain.join(" -> ")
            )));
        }
        self.included += 1;
        if self.included > MAX_INCLUDES {
            return Err(ConfigError::value_hint(
                format!(
                    "more than {MAX_INCLUDES} files included in all (the next one was {})",
                    path.display()
                ),
                "include each common file once; a file included several times by each \
                 level is read once per path through the includes",
            ));
        }
        let text = read_text(path).map_err(|e| match e {
            ConfigError::Io { source, .. } => {
                ConfigError::value(format!("cannot read included file: {source}"))
            }
            other => other,
        })?;
        self.stack.push(canon);
        self.model.includes.push(path.to_path_buf());
        let r = self.parse_text(&text, path);
        self.stack.pop();
        r.map(|_| ())
    }
}

/// Read a file as UTF-8 text.
pub(crate) fn read_text(path: &Path) -> Result<String> {
    let bytes = fs::read(path).map_err(|source| ConfigError::io(path, "read", source))?;
    String::from_utf8(bytes).map_err(|e| {
        let line = e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        ConfigError::io(
            path,
            "read",
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("line {line} is not valid UTF-8"),
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(line: &str) -> Option<(String, String)> {
        match lex(line) {
            Lexed::Item(i) => Some((i.key.to_string(), i.value.to_string())),
            _ => None,
        }
    }

    #[test]
    fn lexing() {
        assert_eq!(
            item("lxc.uts.name = c1"),
            Some(("lxc.uts.name".into(), "c1".into()))
        );
        assert_eq!(
            item("  \tlxc.uts.name=c1  "),
            Some(("lxc.uts.name".into(), "c1".into()))
        );
        assert_eq!(
            item("lxc.uts.name = 'c1'"),
            Some(("lxc.uts.name".into(), "c1".into()))
        );
        assert_eq!(
            item("lxc.uts.name = \"c 1\"\r"),
            Some(("lxc.uts.name".into(), "c 1".into()))
        );
        assert_eq!(
            item("lxc.uts.name = 'c1\""),
            Some(("lxc.uts.name".into(), "'c1\"".into()))
        );
        assert_eq!(
            item("lxc.uts.name = '"),
            Some(("lxc.uts.name".into(), "'".into()))
        );
        assert_eq!(
            item("lxc.cap.drop ="),
            Some(("lxc.cap.drop".into(), String::new()))
        );
        assert_eq!(
            item("lxc.a = b # not a comment"),
            Some(("lxc.a".into(), "b # not a comment".into()))
        );
        assert_eq!(
            item("lxc.a = b = c"),
            Some(("lxc.a".into(), "b = c".into()))
        );
        assert!(matches!(lex("# lxc.a = b"), Lexed::Skip));
        assert!(matches!(lex("   # lxc.a = b"), Lexed::Skip));
        assert!(matches!(lex(""), Lexed::Skip));
        assert!(matches!(lex("foo = bar"), Lexed::Skip));
        assert!(matches!(lex("LXC.a = b"), Lexed::Skip));
        assert!(matches!(lex("lxc.a"), Lexed::NoEquals("lxc.a")));
        let line = "  lxc.a =  'x y'  ";
        if let Lexed::Item(i) = lex(line) {
            assert_eq!(&line[i.value_range], "'x y'");
        }
    }

    #[test]
    fn randomness_varies() {
        let bytes: Vec<u8> = (0..64).map(|_| random_byte()).collect();
        assert!(bytes.iter().any(|b| *b != bytes[0]));
    }
}
