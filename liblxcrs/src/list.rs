//! Listing containers in an lxcpath (defined ones and running ones), and what `lxc-ls`
//! shows of each: [`row`] gathers it through the library's one way to read each fact.

use std::fs;
use std::path::Path;

use lxcrs_config::Config;

use crate::commands::Client;
use crate::container::{runtime, ContainerDir};
use crate::{ips, partial, stats, State};

/// Names of the containers defined in `lxcpath` (a directory with a `config`), sorted.
/// Leftovers of a crashed create are cleaned up on the way, and containers still
/// being created are not listed.
pub fn defined(lxcpath: &Path) -> Vec<String> {
    let Ok(rd) = fs::read_dir(lxcpath) else {
        return Vec::new();
    };
    let mut names: Vec<String> = Vec::new();
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let dir = e.path();
        if !dir.is_dir() {
            continue;
        }
        if partial::is_partial(&dir) {
            // Recovered (gone) or busy (still being created): not listed either way.
            let _ = partial::recover(lxcpath, &name);
            continue;
        }
        if ContainerDir::at(&dir).config().is_file() {
            names.push(name);
        }
    }
    names.sort();
    names
}

/// Names of the containers of `lxcpath` whose monitor answers (running, frozen, …).
pub fn active(lxcpath: &Path) -> Vec<String> {
    defined(lxcpath)
        .into_iter()
        .filter(|n| {
            matches!(Client::connect(lxcpath, n), Ok(Some(_)))
                || crate::commands::lxc::probe(lxcpath, n).is_some()
        })
        .collect()
}

/// What `lxc-ls` shows of one container (its columns, unformatted).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// `NAME`.
    pub name: String,
    /// `STATE`: as its monitor reports it; `Running` for one LXC's own monitor runs.
    pub state: State,
    /// `PID`: init's pid, when our monitor runs it.
    pub pid: Option<i32>,
    /// `AUTOSTART`: `lxc.start.auto`.
    pub autostart: bool,
    /// `GROUPS`: `lxc.group`.
    pub groups: Vec<String>,
    /// `UNPRIVILEGED`: the config maps ids (`lxc.idmap`).
    pub unprivileged: bool,
    /// `IPV4`: global addresses in init's network namespace.
    pub ipv4: Vec<String>,
    /// `IPV6`: global addresses in init's network namespace.
    pub ipv6: Vec<String>,
    /// `INTERFACE`: interfaces in init's network namespace, loopback excluded.
    pub interfaces: Vec<String>,
    /// `RAM`: memory use in MB.
    pub ram_mb: Option<f64>,
    /// `SWAP`: swap use in MB.
    pub swap_mb: Option<f64>,
}

/// The rows of the containers defined in `lxcpath` (see [`defined`]) whose name `select`
/// keeps, in name order.
pub fn list(lxcpath: &Path, mut select: impl FnMut(&str) -> bool) -> Vec<Row> {
    defined(lxcpath)
        .into_iter()
        .filter(|n| select(n))
        .map(|n| row(lxcpath, &n))
        .collect()
}

/// The row of container `name` in `lxcpath`: its config file for the settings, one
/// connection to its monitor for the state, pid and cgroup figures, init's network
/// namespace for the addresses. What cannot be read is left empty.
pub fn row(lxcpath: &Path, name: &str) -> Row {
    let cfg = Config::load(&ContainerDir::new(lxcpath, name).config()).ok();
    let model = cfg.as_ref().map(|c| c.model());
    let client = Client::connect(lxcpath, name).ok().flatten();
    let state = client
        .as_ref()
        .and_then(|c| c.state().ok())
        .unwrap_or_else(|| {
            // A container LXC's own monitor runs is running too.
            match crate::commands::lxc::probe(lxcpath, name) {
                Some(_) => State::Running,
                None => State::Stopped,
            }
        });
    let pid = client.as_ref().and_then(runtime::init_pid_from);
    let (ram_mb, swap_mb) = match &client {
        Some(cl) => stats::memory_mb(cl, name),
        None => (None, None),
    };
    Row {
        name: name.to_string(),
        state,
        pid,
        autostart: model.is_some_and(|m| m.start.auto),
        groups: model.map(|m| m.groups.clone()).unwrap_or_default(),
        unprivileged: model.is_some_and(|m| !m.idmaps.is_empty()),
        ipv4: pid.map(ips::ipv4).unwrap_or_default(),
        ipv6: pid.map(ips::ipv6).unwrap_or_default(),
        interfaces: pid.map(ips::interfaces).unwrap_or_default(),
        ram_mb,
        swap_mb,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_container_row_comes_from_its_config() {
        let t = tempfile::tempdir().unwrap();
        let lxcpath = t.path();
        for (name, text) in [
            (
                "b1",
                "lxc.uts.name = b1\nlxc.start.auto = 1\nlxc.group = web\nlxc.group = db\n",
            ),
            (
                "a1",
                "lxc.uts.name = a1\nlxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 100000 65536\n",
            ),
        ] {
            let d = ContainerDir::new(lxcpath, name);
            fs::create_dir(d.path()).unwrap();
            fs::write(d.config(), text).unwrap();
        }
        // A directory without a config is not a container.
        fs::create_dir(lxcpath.join("junk")).unwrap();
        let rows = list(lxcpath, |_| true);
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["a1", "b1"]);
        let (a, b) = (&rows[0], &rows[1]);
        assert_eq!(
            (a.state, a.pid, a.autostart, a.unprivileged),
            (State::Stopped, None, false, true)
        );
        assert!(a.groups.is_empty() && a.ipv4.is_empty() && a.ram_mb.is_none());
        assert_eq!((b.autostart, b.unprivileged), (true, false));
        assert_eq!(b.groups, ["web", "db"]);
        assert_eq!(list(lxcpath, |n| n == "b1").len(), 1);
    }
}
