//! A small synchronous rtnetlink socket: send one request, read its ACK or its dump.
//!
//! Why not `rtnetlink` + tokio: this crate runs in the monitor (which forks/clones the
//! container right after creating NICs) and in the container's child process between
//! clone and exec. A synchronous socket has no runtime, no reactor and no threads, so
//! nothing can be alive across fork/clone by construction, and it costs ~60 lines on top
//! of the message types of `netlink-packet-route` (the same types `rtnetlink` uses).
//! DESIGN.md allows "the synchronous netlink crates" for exactly this reason.

use std::io;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

/// `NLM_F_CAPPED`: the kernel echoed only the header of our request in its error.
const NLM_F_CAPPED: u16 = 0x100;
/// `NLM_F_ACK_TLVS`: extended-ack attributes follow the echoed request.
const NLM_F_ACK_TLVS: u16 = 0x200;
/// `NLMSGERR_ATTR_MSG`: the kernel's human-readable error text.
const NLMSGERR_ATTR_MSG: u16 = 1;

/// A failed netlink request.
#[derive(Debug, thiserror::Error)]
pub enum NlError {
    #[error("cannot open a netlink socket: {0}")]
    Socket(#[source] io::Error),
    #[error("netlink I/O failed: {0}")]
    Io(#[source] io::Error),
    #[error("cannot decode a netlink reply: {0}")]
    Decode(String),
    /// The kernel refused the request; `msg` is its extended-ack text, if any.
    #[error("{}{}", io::Error::from_raw_os_error(*errno), msg.as_ref().map(|m| format!(" ({m})")).unwrap_or_default())]
    Kernel { errno: i32, msg: Option<String> },
}

impl NlError {
    /// The errno the kernel answered with, if this is a kernel refusal.
    pub fn errno(&self) -> Option<i32> {
        match self {
            NlError::Kernel { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

pub(crate) type NlResult<T> = Result<T, NlError>;

/// One rtnetlink socket in the network namespace of the thread that opened it.
pub(crate) struct Nl {
    sock: Socket,
    seq: u32,
}

impl Nl {
    /// Open a socket in the calling thread's network namespace.
    pub fn open() -> NlResult<Nl> {
        let mut sock = Socket::new(NETLINK_ROUTE).map_err(NlError::Socket)?;
        sock.bind_auto().map_err(NlError::Socket)?;
        sock.connect(&SocketAddr::new(0, 0))
            .map_err(NlError::Socket)?;
        // Best effort: error text from the kernel, and short error echoes.
        let _ = sock.set_ext_ack(true);
        let _ = sock.set_cap_ack(true);
        Ok(Nl { sock, seq: 0 })
    }

    fn send(&mut self, msg: RouteNetlinkMessage, flags: u16) -> NlResult<u32> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
        packet.finalize();
        let mut buf = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut buf);
        self.sock.send(&buf, 0).map_err(NlError::Io)?;
        Ok(self.seq)
    }

    /// Send a request that changes something and wait for its ACK.
    pub fn request(&mut self, msg: RouteNetlinkMessage, flags: u16) -> NlResult<()> {
        let seq = self.send(msg, flags | NLM_F_ACK)?;
        self.receive(seq, |_| ())
    }

    /// Send a dump request and collect every answer.
    pub fn dump(&mut self, msg: RouteNetlinkMessage) -> NlResult<Vec<RouteNetlinkMessage>> {
        let seq = self.send(msg, NLM_F_DUMP)?;
        let mut out = Vec::new();
        self.receive(seq, |m| out.push(m))?;
        Ok(out)
    }

    /// Send a single-object GET and return the object.
    pub fn get(&mut self, msg: RouteNetlinkMessage) -> NlResult<Option<RouteNetlinkMessage>> {
        let seq = self.send(msg, 0)?;
        let mut out = None;
        self.receive(seq, |m| out = Some(m))?;
        Ok(out)
    }

    fn receive(&mut self, seq: u32, mut on_msg: impl FnMut(RouteNetlinkMessage)) -> NlResult<()> {
        loop {
            let (buf, _) = self.sock.recv_from_full().map_err(NlError::Io)?;
            let mut off = 0usize;
            while off + 16 <= buf.len() {
                let len = u32::from_ne_bytes([buf[off], buf[off + 1], buf[off + 2], buf[off + 3]])
                    as usize;
                if len < 16 || off + len > buf.len() {
                    return Err(NlError::Decode(format!("bad message length {len}")));
                }
                let chunk = &buf[off..off + len];
                off += (len + 3) & !3;
                let msg = match NetlinkMessage::<RouteNetlinkMessage>::deserialize(chunk) {
                    Ok(m) => m,
                    // An attribute this crate cannot decode in a reply we do not need
                    // must not fail the whole request.
                    Err(e) => {
                        let seq_of = u32::from_ne_bytes([chunk[8], chunk[9], chunk[10], chunk[11]]);
                        if seq_of == seq && u16::from_ne_bytes([chunk[4], chunk[5]]) == 2 {
                            return Err(NlError::Decode(e.to_string()));
                        }
                        continue;
                    }
                };
                if msg.header.sequence_number != seq {
                    continue;
                }
                let multi = msg.header.flags & netlink_packet_core::NLM_F_MULTIPART != 0;
                let outer_flags = msg.header.flags;
                match msg.payload {
                    NetlinkPayload::Done(_) => return Ok(()),
                    NetlinkPayload::Error(e) => match e.code {
                        None => return Ok(()),
                        Some(code) => {
                            return Err(NlError::Kernel {
                                errno: code.get().abs(),
                                msg: ext_ack_text(outer_flags, &e.header),
                            })
                        }
                    },
                    NetlinkPayload::InnerMessage(inner) => {
                        on_msg(inner);
                        if !multi {
                            return Ok(());
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

/// Pull `NLMSGERR_ATTR_MSG` out of an error payload (echoed request + TLVs).
fn ext_ack_text(flags: u16, echoed: &[u8]) -> Option<String> {
    if flags & NLM_F_ACK_TLVS == 0 || echoed.len() < 16 {
        return None;
    }
    let skip = if flags & NLM_F_CAPPED != 0 {
        16
    } else {
        let l = u32::from_ne_bytes([echoed[0], echoed[1], echoed[2], echoed[3]]) as usize;
        (l + 3) & !3
    };
    let mut tlvs = echoed.get(skip..)?;
    while tlvs.len() >= 4 {
        let len = u16::from_ne_bytes([tlvs[0], tlvs[1]]) as usize;
        let kind = u16::from_ne_bytes([tlvs[2], tlvs[3]]) & 0x3fff;
        if len < 4 || len > tlvs.len() {
            break;
        }
        if kind == NLMSGERR_ATTR_MSG {
            let text = &tlvs[4..len];
            let text = text.split(|b| *b == 0).next().unwrap_or(text);
            return Some(String::from_utf8_lossy(text).into_owned());
        }
        tlvs = tlvs.get((len + 3) & !3..).unwrap_or(&[]);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ext_ack_parses_message_tlv() {
        let mut echoed = vec![0u8; 16];
        let text = b"Unknown device type\0";
        let len = (4 + text.len()) as u16;
        echoed.extend_from_slice(&len.to_ne_bytes());
        echoed.extend_from_slice(&NLMSGERR_ATTR_MSG.to_ne_bytes());
        echoed.extend_from_slice(text);
        let got = ext_ack_text(NLM_F_ACK_TLVS | NLM_F_CAPPED, &echoed);
        assert_eq!(got.as_deref(), Some("Unknown device type"));
        assert_eq!(ext_ack_text(0, &echoed), None);
    }

    #[test]
    fn kernel_error_renders_errno_and_text() {
        let e = NlError::Kernel {
            errno: libc::EEXIST,
            msg: Some("x".into()),
        };
        assert_eq!(e.to_string(), "File exists (os error 17) (x)");
        assert_eq!(e.errno(), Some(libc::EEXIST));
    }
}
