//! User-namespace id mappings (`lxc.idmap = u|g NSID HOSTID RANGE`).

use std::fmt;

use crate::error::{ConfigError, Result};

/// Whether a mapping is for user or group ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdKind {
    Uid,
    Gid,
}

impl IdKind {
    /// `u` or `g`, as written in the config and in newuidmap arguments.
    pub fn letter(self) -> char {
        match self {
            IdKind::Uid => 'u',
            IdKind::Gid => 'g',
        }
    }
}

/// One `lxc.idmap` line: ids `ns_id..ns_id+range` in the container are `host_id..` on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdMap {
    pub kind: IdKind,
    pub ns_id: u32,
    pub host_id: u32,
    pub range: u32,
}

const EXPECTED: &str = "expected u|g NSID HOSTID RANGE";

impl IdMap {
    /// Parse `u 0 100000 65536`.
    pub fn parse(s: &str) -> Result<IdMap> {
        let fields: Vec<&str> = s.split_ascii_whitespace().collect();
        let [kind, ns, host, range] = fields[..] else {
            return Err(ConfigError::value(format!(
                "invalid id mapping: {} fields ({EXPECTED})",
                fields.len()
            )));
        };
        let kind = match kind {
            "u" => IdKind::Uid,
            "g" => IdKind::Gid,
            "b" => {
                return Err(ConfigError::value_hint(
                    format!("invalid id mapping type 'b' ({EXPECTED})"),
                    "write one 'u' line and one 'g' line",
                ))
            }
            _ => {
                return Err(ConfigError::value(format!(
                    "invalid id mapping type ({EXPECTED})"
                )))
            }
        };
        let num = |what: &str, v: &str| -> Result<u32> {
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ConfigError::value(format!(
                    "invalid {what} '{v}' ({EXPECTED})"
                )));
            }
            v.parse()
                .map_err(|_| ConfigError::value(format!("{what} '{v}' out of range ({EXPECTED})")))
        };
        let map = IdMap {
            kind,
            ns_id: num("NSID", ns)?,
            host_id: num("HOSTID", host)?,
            range: num("RANGE", range)?,
        };
        if map.range == 0 {
            return Err(ConfigError::value(format!(
                "id mapping range must be at least 1 ({EXPECTED})"
            )));
        }
        let last = u64::from(map.range) - 1;
        if u64::from(map.ns_id) + last > u64::from(u32::MAX)
            || u64::from(map.host_id) + last > u64::from(u32::MAX)
        {
            return Err(ConfigError::value(
                "id mapping range overflows the 32-bit id space",
            ));
        }
        Ok(map)
    }

    /// Map a container id to the host, if this mapping covers it.
    pub fn to_host(&self, ns_id: u32) -> Option<u32> {
        let off = ns_id.checked_sub(self.ns_id)?;
        (off < self.range).then(|| self.host_id + off)
    }
}

impl fmt::Display for IdMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {}",
            self.kind.letter(),
            self.ns_id,
            self.host_id,
            self.range
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_ok() {
        let m = IdMap::parse("u 0 100000 65536").ok();
        assert_eq!(
            m,
            Some(IdMap {
                kind: IdKind::Uid,
                ns_id: 0,
                host_id: 100000,
                range: 65536
            })
        );
        let m = IdMap::parse("g\t0  100000\t65536").ok();
        assert_eq!(m.map(|m| m.kind), Some(IdKind::Gid));
        assert_eq!(
            m.map(|m| m.to_string()).as_deref(),
            Some("g 0 100000 65536")
        );
        assert_eq!(m.and_then(|m| m.to_host(5)), Some(100005));
        assert_eq!(m.and_then(|m| m.to_host(65536)), None);
    }

    #[test]
    fn parse_bad() {
        for bad in [
            "",
            "u 0 100000",
            "x 0 1 1",
            "u -1 1 1",
            "u 0 1 0",
            "u 0 1 1 1",
            "u a b c",
            "u 4294967295 0 2",
            "u 0 99999999999 1",
            "b 0 1 1",
        ] {
            assert!(IdMap::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
