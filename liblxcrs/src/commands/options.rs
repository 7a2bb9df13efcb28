//! What `lxc-start` / `lxc-execute` hand to the monitor, and what the monitor reports
//! back, over the status socket (fd 3 of the monitor, a SEQPACKET socketpair).
//!
//! Only the lxcpath and the name travel in argv (they make the process title
//! `[lxcrs monitor] <lxcpath> <name>`); everything else is this message.

use std::path::PathBuf;

use super::wire::{Reader, Writer};
use super::ProtocolError;

/// The fd number the status socket has in the monitor.
/// The argv[0] the monitor runs under (its process title is `[lxcrs monitor] <lxcpath> <name>`).
pub const PROCESS_TITLE: &str = "[lxcrs monitor]";

pub const STATUS_FD: i32 = 3;

/// How to start the container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartOptions {
    /// The config file (`-f/--rcfile`); `None` = `<lxcpath>/<name>/config`.
    pub rcfile: Option<PathBuf>,
    /// `-s KEY=VAL` and the keys other flags stand for (`-L`, `-c`, `--share-*`), in order.
    pub defines: Vec<(String, String)>,
    /// The command (after `--`); empty = the config's init command.
    pub argv: Vec<String>,
    /// lxc-execute: the built-in init runs `argv`.
    pub execute: bool,
    /// `-F`: stay in the foreground with the terminal on `/dev/console`.
    pub foreground: bool,
    /// `-p`: write the monitor's pid here (removed at exit).
    pub pidfile: Option<PathBuf>,
}

const OPTIONS: u8 = 1;

impl StartOptions {
    pub fn encode(&self) -> Vec<u8> {
        let defines: Vec<String> = self
            .defines
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        Writer::new(OPTIONS)
            .str(&path_str(&self.rcfile))
            .strs(&defines)
            .strs(&self.argv)
            .u8(u8::from(self.execute))
            .u8(u8::from(self.foreground))
            .str(&path_str(&self.pidfile))
            .finish()
    }

    pub fn decode(buf: &[u8]) -> Result<StartOptions, ProtocolError> {
        let mut r = Reader::new(buf);
        let tag = r.u8("start options tag")?;
        if tag != OPTIONS {
            return Err(ProtocolError::UnknownTag {
                kind: "start options",
                tag,
            });
        }
        let rcfile = opt_path(r.str("rcfile")?);
        let defines = r
            .strs("defines")?
            .into_iter()
            .map(|d| match d.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (d, String::new()),
            })
            .collect();
        let opts = StartOptions {
            rcfile,
            defines,
            argv: r.strs("argv")?,
            execute: r.u8("execute flag")? != 0,
            foreground: r.u8("foreground flag")? != 0,
            pidfile: opt_path(r.str("pidfile")?),
        };
        r.end()?;
        Ok(opts)
    }
}

fn path_str(p: &Option<PathBuf>) -> String {
    p.as_ref()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn opt_path(s: String) -> Option<PathBuf> {
    (!s.is_empty()).then(|| PathBuf::from(s))
}

/// The monitor's report to the starting tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartStatus {
    /// The container reached RUNNING; the monitor's pid.
    Running { monitor_pid: i32 },
    /// Another monitor already serves this container.
    AlreadyRunning,
    /// The start failed; the full error text.
    Failed { msg: String },
}

impl StartStatus {
    pub fn encode(&self) -> Vec<u8> {
        match self {
            StartStatus::Running { monitor_pid } => Writer::new(1).i32(*monitor_pid),
            StartStatus::AlreadyRunning => Writer::new(2),
            StartStatus::Failed { msg } => Writer::new(3).str(msg),
        }
        .finish()
    }

    pub fn decode(buf: &[u8]) -> Result<StartStatus, ProtocolError> {
        let mut r = Reader::new(buf);
        let st = match r.u8("start status tag")? {
            1 => StartStatus::Running {
                monitor_pid: r.i32("monitor pid")?,
            },
            2 => StartStatus::AlreadyRunning,
            3 => StartStatus::Failed {
                msg: r.str("error message")?,
            },
            other => {
                return Err(ProtocolError::UnknownTag {
                    kind: "start status",
                    tag: other,
                })
            }
        };
        r.end()?;
        Ok(st)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_round_trip() {
        let o = StartOptions {
            rcfile: Some("/tmp/c.conf".into()),
            defines: vec![
                ("lxc.console.logfile".into(), "/tmp/log".into()),
                ("lxc.x".into(), "a=b".into()),
            ],
            argv: vec!["/bin/sh".into(), "-c".into(), "echo hi".into()],
            execute: true,
            foreground: false,
            pidfile: None,
        };
        assert_eq!(StartOptions::decode(&o.encode()).unwrap(), o);
        assert_eq!(
            StartOptions::decode(&StartOptions::default().encode()).unwrap(),
            StartOptions::default()
        );
        assert!(StartOptions::decode(&[9]).is_err());
    }

    #[test]
    fn status_round_trip() {
        for s in [
            StartStatus::Running { monitor_pid: 12 },
            StartStatus::AlreadyRunning,
            StartStatus::Failed {
                msg: "failed to mount".into(),
            },
        ] {
            assert_eq!(StartStatus::decode(&s.encode()).unwrap(), s);
        }
    }
}
