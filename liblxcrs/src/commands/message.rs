//! The command messages: what a client may ask the monitor, and what it answers.

use super::state::{State, StateSet};
use super::wire::{Reader, Writer};
use super::ProtocolError;

/// A request from a tool to a container's monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// The current state.
    GetState,
    /// Init's pid as seen from the host.
    GetInitPid,
    /// A pidfd for init (sent with SCM_RIGHTS).
    GetInitPidfd,
    /// Hard stop: `lxc.signal.stop` to init, thawing it first if frozen.
    Stop,
    /// Freeze the payload cgroup.
    Freeze,
    /// Thaw the payload cgroup.
    Unfreeze,
    /// A key of the running config (`lxc-info -c`, `get_running_config_item`).
    GetConfigItem(String),
    /// A terminal: `tty` 0 = the console, N = ttyN, -1 = the first free tty. The size
    /// is applied to the console (ttys are resized by the client on their master).
    GetTty { tty: i32, rows: u16, cols: u16 },
    /// Subscribe to state changes in `states`; the connection then receives
    /// [`Response::State`] messages until it is closed.
    AddStateClient(StateSet),
    /// The payload and monitor cgroup directories (absolute host paths).
    GetCgroupPaths,
    /// The console ring buffer (`lxc.console.buffer.size`), optionally cleared.
    ConsoleLog { clear: bool },
}

/// The monitor's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// Done, nothing to return.
    Ok,
    /// A state (also what a state client receives on each change).
    State(State),
    /// A pid.
    Pid(i32),
    /// A file descriptor travels with this message.
    Fd,
    /// A terminal fd travels with this message; `tty` is which one was given.
    Tty { tty: i32 },
    /// A string value.
    Value(String),
    /// Cgroup directories.
    CgroupPaths {
        payload: Vec<String>,
        monitor: Vec<String>,
    },
    /// Raw bytes (the console buffer).
    Data(Vec<u8>),
    /// The request failed: an errno and a message for the user.
    Error { errno: i32, msg: String },
}

mod tag {
    pub const GET_STATE: u8 = 1;
    pub const GET_INIT_PID: u8 = 2;
    pub const GET_INIT_PIDFD: u8 = 3;
    pub const STOP: u8 = 4;
    pub const FREEZE: u8 = 5;
    pub const UNFREEZE: u8 = 6;
    pub const GET_CONFIG_ITEM: u8 = 7;
    pub const GET_TTY: u8 = 8;
    pub const ADD_STATE_CLIENT: u8 = 9;
    pub const GET_CGROUP_PATHS: u8 = 10;
    pub const CONSOLE_LOG: u8 = 11;

    pub const OK: u8 = 100;
    pub const STATE: u8 = 101;
    pub const PID: u8 = 102;
    pub const FD: u8 = 103;
    pub const TTY: u8 = 104;
    pub const VALUE: u8 = 105;
    pub const CGROUP_PATHS: u8 = 106;
    pub const DATA: u8 = 107;
    pub const ERROR: u8 = 108;
}

impl Request {
    /// The request's name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Request::GetState => "get_state",
            Request::GetInitPid => "get_init_pid",
            Request::GetInitPidfd => "get_init_pidfd",
            Request::Stop => "stop",
            Request::Freeze => "freeze",
            Request::Unfreeze => "unfreeze",
            Request::GetConfigItem(_) => "get_config_item",
            Request::GetTty { .. } => "get_tty_fd",
            Request::AddStateClient(_) => "add_state_client",
            Request::GetCgroupPaths => "get_cgroup_paths",
            Request::ConsoleLog { .. } => "console_log",
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        match self {
            Request::GetState => Writer::new(tag::GET_STATE),
            Request::GetInitPid => Writer::new(tag::GET_INIT_PID),
            Request::GetInitPidfd => Writer::new(tag::GET_INIT_PIDFD),
            Request::Stop => Writer::new(tag::STOP),
            Request::Freeze => Writer::new(tag::FREEZE),
            Request::Unfreeze => Writer::new(tag::UNFREEZE),
            Request::GetConfigItem(k) => Writer::new(tag::GET_CONFIG_ITEM).str(k),
            Request::GetTty { tty, rows, cols } => Writer::new(tag::GET_TTY)
                .i32(*tty)
                .i32(i32::from(*rows))
                .i32(i32::from(*cols)),
            Request::AddStateClient(set) => Writer::new(tag::ADD_STATE_CLIENT).u8(set.0),
            Request::GetCgroupPaths => Writer::new(tag::GET_CGROUP_PATHS),
            Request::ConsoleLog { clear } => Writer::new(tag::CONSOLE_LOG).u8(u8::from(*clear)),
        }
        .finish()
    }

    pub fn decode(buf: &[u8]) -> Result<Request, ProtocolError> {
        let mut r = Reader::new(buf);
        let req = match r.u8("request tag")? {
            tag::GET_STATE => Request::GetState,
            tag::GET_INIT_PID => Request::GetInitPid,
            tag::GET_INIT_PIDFD => Request::GetInitPidfd,
            tag::STOP => Request::Stop,
            tag::FREEZE => Request::Freeze,
            tag::UNFREEZE => Request::Unfreeze,
            tag::GET_CONFIG_ITEM => Request::GetConfigItem(r.str("config key")?),
            tag::GET_TTY => Request::GetTty {
                tty: r.i32("tty number")?,
                rows: u16::try_from(r.i32("rows")?).unwrap_or(0),
                cols: u16::try_from(r.i32("cols")?).unwrap_or(0),
            },
            tag::ADD_STATE_CLIENT => Request::AddStateClient(StateSet(r.u8("state mask")?)),
            tag::GET_CGROUP_PATHS => Request::GetCgroupPaths,
            tag::CONSOLE_LOG => Request::ConsoleLog {
                clear: r.u8("clear flag")? != 0,
            },
            other => {
                return Err(ProtocolError::UnknownTag {
                    kind: "request",
                    tag: other,
                })
            }
        };
        r.end()?;
        Ok(req)
    }
}

impl Response {
    /// A failed request with `errno` and a message.
    pub fn error(errno: i32, msg: impl Into<String>) -> Response {
        Response::Error {
            errno,
            msg: msg.into(),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        match self {
            Response::Ok => Writer::new(tag::OK),
            Response::State(s) => Writer::new(tag::STATE).u8(s.index()),
            Response::Pid(p) => Writer::new(tag::PID).i32(*p),
            Response::Fd => Writer::new(tag::FD),
            Response::Tty { tty } => Writer::new(tag::TTY).i32(*tty),
            Response::Value(v) => Writer::new(tag::VALUE).str(v),
            Response::CgroupPaths { payload, monitor } => {
                Writer::new(tag::CGROUP_PATHS).strs(payload).strs(monitor)
            }
            Response::Data(d) => Writer::new(tag::DATA).bytes(d),
            Response::Error { errno, msg } => Writer::new(tag::ERROR).i32(*errno).str(msg),
        }
        .finish()
    }

    pub fn decode(buf: &[u8]) -> Result<Response, ProtocolError> {
        let mut r = Reader::new(buf);
        let resp = match r.u8("response tag")? {
            tag::OK => Response::Ok,
            tag::STATE => {
                let i = r.u8("state")?;
                Response::State(State::from_index(i).ok_or(ProtocolError::UnknownTag {
                    kind: "state",
                    tag: i,
                })?)
            }
            tag::PID => Response::Pid(r.i32("pid")?),
            tag::FD => Response::Fd,
            tag::TTY => Response::Tty {
                tty: r.i32("tty number")?,
            },
            tag::VALUE => Response::Value(r.str("value")?),
            tag::CGROUP_PATHS => Response::CgroupPaths {
                payload: r.strs("payload cgroup paths")?,
                monitor: r.strs("monitor cgroup paths")?,
            },
            tag::DATA => Response::Data(r.bytes("data")?.to_vec()),
            tag::ERROR => Response::Error {
                errno: r.i32("errno")?,
                msg: r.str("error message")?,
            },
            other => {
                return Err(ProtocolError::UnknownTag {
                    kind: "response",
                    tag: other,
                })
            }
        };
        r.end()?;
        Ok(resp)
    }

    /// The response's kind, for "expected X, got Y" errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Response::Ok => "ok",
            Response::State(_) => "state",
            Response::Pid(_) => "pid",
            Response::Fd => "fd",
            Response::Tty { .. } => "tty",
            Response::Value(_) => "value",
            Response::CgroupPaths { .. } => "cgroup paths",
            Response::Data(_) => "data",
            Response::Error { .. } => "error",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        let all = [
            Request::GetState,
            Request::GetInitPid,
            Request::GetInitPidfd,
            Request::Stop,
            Request::Freeze,
            Request::Unfreeze,
            Request::GetConfigItem("lxc.rootfs.path".into()),
            Request::GetConfigItem(String::new()),
            Request::GetTty {
                tty: -1,
                rows: 24,
                cols: 80,
            },
            Request::GetTty {
                tty: 0,
                rows: 0,
                cols: 0,
            },
            Request::AddStateClient(StateSet::parse("RUNNING|STOPPED").unwrap()),
            Request::GetCgroupPaths,
            Request::ConsoleLog { clear: true },
        ];
        for req in all {
            assert_eq!(Request::decode(&req.encode()).unwrap(), req);
        }
    }

    #[test]
    fn responses_round_trip() {
        let all = [
            Response::Ok,
            Response::State(State::Frozen),
            Response::Pid(4242),
            Response::Fd,
            Response::Tty { tty: 3 },
            Response::Value("dir:/var/lib/lxc/c1/rootfs".into()),
            Response::CgroupPaths {
                payload: vec!["/a".into(), "/b".into()],
                monitor: vec![],
            },
            Response::Data(vec![0, 1, 255]),
            Response::error(libc::ENOENT, "no such key"),
        ];
        for resp in all {
            assert_eq!(Response::decode(&resp.encode()).unwrap(), resp);
        }
    }

    #[test]
    fn bad_messages() {
        assert!(matches!(
            Request::decode(&[]),
            Err(ProtocolError::Truncated { .. })
        ));
        assert!(matches!(
            Request::decode(&[77]),
            Err(ProtocolError::UnknownTag { tag: 77, .. })
        ));
        assert!(matches!(
            Request::decode(&[1, 0]),
            Err(ProtocolError::Trailing { extra: 1 })
        ));
        // A string whose length runs past the end of the message.
        let mut m = Request::GetConfigItem("lxc.uts.name".into()).encode();
        m.truncate(m.len() - 2);
        let err = Request::decode(&m).unwrap_err();
        assert!(err.to_string().contains("config key"), "{err}");
        assert!(matches!(
            Response::decode(&[101, 9]),
            Err(ProtocolError::UnknownTag {
                kind: "state",
                tag: 9
            })
        ));
        assert!(matches!(
            Response::decode(&[105, 1, 0, 0, 0, 0xff]),
            Err(ProtocolError::BadUtf8 { .. })
        ));
    }
}
