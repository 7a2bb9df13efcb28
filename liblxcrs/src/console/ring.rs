//! A fixed-size byte ring (`lxc.console.buffer.size`): the last N bytes of console output.

/// Keeps the most recent `cap` bytes written to it.
#[derive(Debug, Default)]
pub struct Ring {
    buf: Vec<u8>,
    cap: usize,
    /// Where the next byte goes once the buffer is full.
    head: usize,
}

impl Ring {
    /// A ring of `cap` bytes; memory is taken as data arrives, not up front.
    pub fn new(cap: usize) -> Ring {
        Ring {
            buf: Vec::new(),
            cap,
            head: 0,
        }
    }

    pub fn write(&mut self, data: &[u8]) {
        if self.cap == 0 {
            return;
        }
        // Only the tail of an oversized write can survive.
        let data = &data[data.len().saturating_sub(self.cap)..];
        for &b in data {
            if self.buf.len() < self.cap {
                self.buf.push(b);
            } else {
                self.buf[self.head] = b;
                self.head = (self.head + 1) % self.cap;
            }
        }
    }

    /// The contents, oldest first.
    pub fn contents(&self) -> Vec<u8> {
        if self.buf.len() < self.cap {
            return self.buf.clone();
        }
        let mut out = Vec::with_capacity(self.cap);
        out.extend_from_slice(&self.buf[self.head..]);
        out.extend_from_slice(&self.buf[..self.head]);
        out
    }

    pub fn clear(&mut self) {
        self.buf = Vec::new();
        self.head = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_tail() {
        let mut r = Ring::new(4);
        r.write(b"ab");
        assert_eq!(r.contents(), b"ab");
        r.write(b"cdef");
        assert_eq!(r.contents(), b"cdef");
        r.write(b"g");
        assert_eq!(r.contents(), b"defg");
        r.write(b"0123456789");
        assert_eq!(r.contents(), b"6789");
        r.clear();
        assert!(r.contents().is_empty());
        let mut z = Ring::new(0);
        z.write(b"x");
        assert!(z.contents().is_empty());
    }
}
