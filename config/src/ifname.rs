//! Interface names: the one check of what a network interface may be called, shared by the
//! config parser (`lxc.net.N.link`, `.name`, `.veth.pair`) and the network crate, which
//! words the problem for its own callers.

use std::fmt;

/// Longest interface name the kernel accepts (IFNAMSIZ - 1).
pub const IFNAMSIZ_MAX: usize = 15;

/// What the characters check refuses, as a hint for the user.
pub const CHARS_HINT: &str =
    "interface names may not hold whitespace, '/', ':', quotes, ';', braces, '$' or '\\'";

/// Why a string cannot be an interface name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadIfname {
    /// The name is empty.
    Empty,
    /// The name is longer than [`IFNAMSIZ_MAX`] bytes.
    TooLong,
    /// The name is `.` or `..`.
    Dot,
    /// The name holds this character, which the kernel refuses (whitespace, '/', ':') or
    /// which would break the scripts and generated rule text the name reaches.
    Char(char),
}

impl fmt::Display for BadIfname {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadIfname::Empty => f.write_str("interface name is empty"),
            BadIfname::TooLong => write!(f, "interface name longer than {IFNAMSIZ_MAX} bytes"),
            BadIfname::Dot => f.write_str("'.' and '..' are not interface names"),
            BadIfname::Char(c) => write!(f, "interface name contains {c:?}; {CHARS_HINT}"),
        }
    }
}

/// Checks an interface name the way the kernel's `dev_valid_name` does, and also refuses
/// quotes, ';', braces, '$', '`' and '\\'.
pub fn check_ifname(name: &str) -> Result<(), BadIfname> {
    if name.is_empty() {
        return Err(BadIfname::Empty);
    }
    if name.len() > IFNAMSIZ_MAX {
        return Err(BadIfname::TooLong);
    }
    if name == "." || name == ".." {
        return Err(BadIfname::Dot);
    }
    match name
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || "/:\"'`;{}$\\".contains(*c))
    {
        Some(c) => Err(BadIfname::Char(c)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(check_ifname("eth0"), Ok(()));
        assert_eq!(check_ifname("br-0.lan_x@"), Ok(()));
        assert_eq!(check_ifname("veth-abcdefghij"), Ok(()));
        assert_eq!(check_ifname("veth-abcdefghijk"), Err(BadIfname::TooLong));
        assert_eq!(check_ifname(""), Err(BadIfname::Empty));
        assert_eq!(check_ifname(".."), Err(BadIfname::Dot));
        assert_eq!(check_ifname("."), Err(BadIfname::Dot));
        for (bad, c) in [
            ("a/b", '/'),
            ("a:b", ':'),
            ("a b", ' '),
            ("a\tb", '\t'),
            ("a\"b", '"'),
            ("a'b", '\''),
            ("a`b", '`'),
            ("a;b", ';'),
            ("a{b", '{'),
            ("a}b", '}'),
            ("a$b", '$'),
            ("a\\b", '\\'),
        ] {
            assert_eq!(check_ifname(bad), Err(BadIfname::Char(c)), "{bad:?}");
        }
    }
}
