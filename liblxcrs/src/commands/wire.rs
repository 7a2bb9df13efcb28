//! A tiny binary encoding for command messages: a tag byte, then fields as
//! little-endian integers and length-prefixed UTF-8 strings.
//!
//! Hand-rolled on purpose: the monitor must stay small (no serde in its image) and the
//! messages are a dozen fixed shapes.

use super::ProtocolError;

/// Appends fields to a message buffer.
#[derive(Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// A message starting with `tag`.
    pub fn new(tag: u8) -> Writer {
        Writer { buf: vec![tag] }
    }

    pub fn u8(mut self, v: u8) -> Writer {
        self.buf.push(v);
        self
    }

    pub fn i32(mut self, v: i32) -> Writer {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub fn str(mut self, s: &str) -> Writer {
        let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
        self.buf.extend_from_slice(&len.to_le_bytes());
        self.buf.extend_from_slice(&s.as_bytes()[..len as usize]);
        self
    }

    pub fn strs(self, v: &[String]) -> Writer {
        let mut w = self.i32(i32::try_from(v.len()).unwrap_or(i32::MAX));
        for s in v {
            w = w.str(s);
        }
        w
    }

    pub fn bytes(mut self, b: &[u8]) -> Writer {
        let len = u32::try_from(b.len()).unwrap_or(u32::MAX);
        self.buf.extend_from_slice(&len.to_le_bytes());
        self.buf.extend_from_slice(b);
        self
    }

    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads fields back, failing with what was expected where the message is short or bad.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], ProtocolError> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len());
        match end {
            Some(end) => {
                let s = &self.buf[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(ProtocolError::Truncated {
                expected: what,
                len: self.buf.len(),
            }),
        }
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8, ProtocolError> {
        Ok(self.take(1, what)?[0])
    }

    pub fn i32(&mut self, what: &'static str) -> Result<i32, ProtocolError> {
        let b = self.take(4, what)?;
        Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], ProtocolError> {
        let n = self.i32(what)? as u32 as usize;
        self.take(n, what)
    }

    pub fn str(&mut self, what: &'static str) -> Result<String, ProtocolError> {
        let b = self.bytes(what)?;
        String::from_utf8(b.to_vec()).map_err(|_| ProtocolError::BadUtf8 { field: what })
    }

    pub fn strs(&mut self, what: &'static str) -> Result<Vec<String>, ProtocolError> {
        let n = self.i32(what)?;
        if n < 0 || n as usize > self.buf.len() {
            return Err(ProtocolError::Truncated {
                expected: what,
                len: self.buf.len(),
            });
        }
        (0..n).map(|_| self.str(what)).collect()
    }

    /// Fails when bytes are left over: a sender speaking another version.
    pub fn end(&self) -> Result<(), ProtocolError> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(ProtocolError::Trailing {
                extra: self.buf.len() - self.pos,
            })
        }
    }
}
