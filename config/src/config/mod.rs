//! [`Config`]: the user's text kept verbatim next to the expanded model, as LXC keeps
//! its "unexpanded" and expanded configurations.

use std::path::{Path, PathBuf};

use crate::error::{ConfigError, Result};
use crate::keys::{self, Key};
use crate::model::ContainerConfig;
use crate::parse::{is_space, lex, read_text, Lexed, Loader};

/// A container configuration: the top-level text (comments, blank lines, includes and
/// non-`lxc.` lines kept; included files not inlined) plus the expanded model.
#[derive(Debug, Clone)]
pub struct Config {
    /// The text split on `\n`; joining with `\n` gives it back byte for byte.
    lines: Vec<String>,
    model: ContainerConfig,
    origin: PathBuf,
}

impl Default for Config {
    fn default() -> Self {
        Config::new()
    }
}

impl Config {
    /// An empty configuration with LXC's defaults.
    pub fn new() -> Config {
        Config {
            lines: vec![String::new()],
            model: ContainerConfig::default(),
            origin: PathBuf::new(),
        }
    }

    /// Load a config file and everything it includes.
    pub fn load(path: &Path) -> Result<Config> {
        let text = read_text(path)?;
        Config::parse(&text, path)
    }

    /// Parse config text; `origin` names it in messages and anchors loop detection.
    pub fn parse(text: &str, origin: &Path) -> Result<Config> {
        let mut model = ContainerConfig::default();
        let mut loader = Loader::new(&mut model);
        loader.enter(origin);
        let rewrites = loader.parse_text(text, origin)?;
        loader.finish()?;
        let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
        for (idx, line) in rewrites {
            if let Some(slot) = lines.get_mut(idx) {
                *slot = line;
            }
        }
        Ok(Config {
            lines,
            model,
            origin: origin.to_path_buf(),
        })
    }

    /// Parse another file on top of this config: its items apply after the current
    /// ones and its text is appended (LXC loading an rcfile into an existing config).
    /// On error nothing changes.
    pub fn load_more(&mut self, path: &Path) -> Result<()> {
        let text = read_text(path)?;
        let mut model = self.model.clone();
        let mut loader = Loader::new(&mut model);
        loader.enter(path);
        let rewrites = loader.parse_text(&text, path)?;
        loader.finish()?;
        let mut extra: Vec<String> = text.split('\n').map(str::to_string).collect();
        for (idx, line) in rewrites {
            if let Some(slot) = extra.get_mut(idx) {
                *slot = line;
            }
        }
        self.model = model;
        if self.origin.as_os_str().is_empty() {
            self.origin = path.to_path_buf();
        }
        if self.to_text().is_empty() {
            self.lines = extra;
        } else {
            if self.lines.last().is_some_and(|l| !l.is_empty()) {
                self.lines.push(String::new());
            }
            // Drop the empty tail that stands for our final newline; `extra` continues there.
            self.lines.pop();
            self.lines.extend(extra);
        }
        Ok(())
    }

    /// Set an item like LXC's `set_config_item`: validate and apply to the model, then
    /// edit the text minimally (replace the last line of a scalar key, else append).
    pub fn set_item(&mut self, key: &str, value: &str) -> Result<()> {
        let k = keys::resolve(key).map_err(|e| e.with_key(key, Some(value)))?;
        if value.contains('\n') || value.contains('\0') {
            return Err(ConfigError::invalid(
                key,
                Some(value),
                "value must be a single line",
            ));
        }
        let mut model = self.model.clone();
        let mut loader = Loader::new(&mut model);
        let concrete = loader.apply_item(key, value, None)?;
        loader.finish()?;
        self.model = model;
        let value = concrete.as_deref().unwrap_or(value);
        let rendered = quote_if_needed(value);
        let canonical = k.canonical();
        if !k.is_list() {
            if let Some(idx) = self.last_line_of(&k) {
                let line = &self.lines[idx];
                if let Lexed::Item(item) = lex(line) {
                    let mut new_line = line.clone();
                    let needs_space = item.value_range.is_empty()
                        && line[..item.value_range.start].ends_with('=');
                    let replacement = if needs_space && !rendered.is_empty() {
                        format!(" {rendered}")
                    } else {
                        rendered
                    };
                    new_line.replace_range(item.value_range, &replacement);
                    self.lines[idx] = new_line;
                    return Ok(());
                }
            }
        }
        self.append_line(if rendered.is_empty() {
            format!("{canonical} =")
        } else {
            format!("{canonical} = {rendered}")
        });
        Ok(())
    }

    /// Clear an item like LXC's `clear_config_item`: reset it in the model and remove
    /// its lines (for a family key such as `lxc.net.0`, every line of the family).
    pub fn clear_item(&mut self, key: &str) -> Result<()> {
        let k = keys::resolve(key).map_err(|e| e.with_key(key, None))?;
        keys::apply(&mut self.model, &k, "").map_err(|e| e.with_key(key, None))?;
        self.lines.retain(|line| match lex(line) {
            Lexed::Item(item) => keys::resolve(item.key)
                .map(|lk| !k.covers(&lk))
                .unwrap_or(true),
            _ => true,
        });
        if self.lines.is_empty() {
            self.lines.push(String::new());
        }
        Ok(())
    }

    /// Render an item like LXC's `get_config_item` (lists joined by `\n`; unset = "").
    pub fn get_item(&self, key: &str) -> Result<String> {
        let k = keys::resolve(key).map_err(|e| e.with_key(key, None))?;
        keys::get(&self.model, &k).map_err(|e| e.with_key(key, None))
    }

    /// The unexpanded text, with hwaddr templates already resolved.
    pub fn to_text(&self) -> String {
        self.lines.join("\n")
    }

    /// Write the text atomically, keeping an existing file's mode.
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::save::write_atomic(path, self.to_text().as_bytes())
    }

    /// The expanded model.
    pub fn model(&self) -> &ContainerConfig {
        &self.model
    }

    /// Where this config was read from (empty for [`Config::new`]).
    pub fn origin(&self) -> &Path {
        &self.origin
    }

    /// Put `header` (e.g. the template's comment block) before the text. Only the text
    /// changes; `lxc.*` lines in the header take effect on the next load.
    pub fn prepend_text(&mut self, header: &str) {
        if header.is_empty() {
            return;
        }
        let mut text = header.to_string();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&self.to_text());
        self.lines = text.split('\n').map(str::to_string).collect();
    }

    fn last_line_of(&self, k: &Key) -> Option<usize> {
        self.lines.iter().rposition(|line| match lex(line) {
            Lexed::Item(item) => keys::resolve(item.key).is_ok_and(|lk| lk == *k),
            _ => false,
        })
    }

    /// Append a line, keeping the text newline-terminated.
    fn append_line(&mut self, line: String) {
        match self.lines.last() {
            Some(last) if last.is_empty() => {
                let at = self.lines.len() - 1;
                self.lines.insert(at, line);
            }
            _ => {
                self.lines.push(line);
                self.lines.push(String::new());
            }
        }
    }
}

/// Quote a value whose text form would otherwise parse differently (outer blanks,
/// or a pair of outer quotes that the parser would strip).
fn quote_if_needed(v: &str) -> String {
    let trims = v.starts_with(is_space) || v.ends_with(is_space);
    if trims || crate::parse::unquote(v).len() != v.len() {
        format!("\"{v}\"")
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_families;
