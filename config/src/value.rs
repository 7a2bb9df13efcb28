//! Small value parsers shared by the key families.

use std::str::FromStr;

use crate::error::{ConfigError, Result};

/// LXC booleans are exactly `0` or `1`.
pub fn parse_bool(s: &str) -> Result<bool> {
    match s {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(ConfigError::value("invalid boolean (expected 0 or 1)")),
    }
}

/// An unsigned decimal integer.
pub fn parse_uint<T: FromStr>(s: &str) -> Result<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConfigError::value(
            "invalid number (expected an unsigned integer)",
        ));
    }
    s.parse()
        .map_err(|_| ConfigError::value("number out of range"))
}

/// A signed decimal integer.
pub fn parse_int<T: FromStr>(s: &str) -> Result<T> {
    let digits = s
        .strip_prefix('-')
        .or_else(|| s.strip_prefix('+'))
        .unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConfigError::value("invalid number (expected an integer)"));
    }
    s.parse()
        .map_err(|_| ConfigError::value("number out of range"))
}

/// Empty string means unset.
pub fn opt_string(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// Pick an enum value by name; the error lists the accepted names.
pub fn parse_choice<T: Copy>(s: &str, what: &str, choices: &[(&str, T)]) -> Result<T> {
    choices
        .iter()
        .find(|(n, _)| *n == s)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
            ConfigError::value(format!(
                "invalid {what} (expected one of: {})",
                names.join(", ")
            ))
        })
}

/// The name of an enum value in a choice table.
pub fn choice_name<T: Copy + PartialEq>(v: T, choices: &[(&'static str, T)]) -> &'static str {
    choices
        .iter()
        .find(|(_, c)| *c == v)
        .map(|(n, _)| *n)
        .unwrap_or("")
}

/// A byte size: plain bytes, or a number with a `B`, `KB`, `MB`, `GB` (1024-based) suffix.
pub fn parse_size(s: &str) -> Result<u64> {
    let t = s.trim();
    let bad =
        || ConfigError::value("invalid size (expected auto, bytes, or a number with KB, MB or GB)");
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return Err(bad());
    }
    let n: u64 = num.parse().map_err(|_| bad())?;
    let mult: u64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "KB" | "K" => 1 << 10,
        "MB" | "M" => 1 << 20,
        "GB" | "G" => 1 << 30,
        _ => return Err(bad()),
    };
    n.checked_mul(mult)
        .ok_or_else(|| ConfigError::value("size out of range"))
}

/// An interface name ([`crate::ifname::check_ifname`]), as a config value error.
pub fn check_ifname(s: &str) -> Result<()> {
    use crate::ifname::{BadIfname, CHARS_HINT, IFNAMSIZ_MAX};
    crate::ifname::check_ifname(s).map_err(|e| match e {
        BadIfname::Empty => ConfigError::value("interface name is empty"),
        BadIfname::TooLong => {
            ConfigError::value(format!("interface name longer than {IFNAMSIZ_MAX} bytes"))
        }
        BadIfname::Dot => ConfigError::value_hint(
            format!("{s:?} is not an interface name"),
            "use a name such as eth0",
        ),
        BadIfname::Char(c) => ConfigError::value_hint(
            format!("invalid interface name: it contains {c:?}"),
            CHARS_HINT,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bools_and_ints() {
        assert_eq!(parse_bool("1").ok(), Some(true));
        assert_eq!(parse_bool("0").ok(), Some(false));
        assert!(parse_bool("yes").is_err());
        assert!(parse_bool("").is_err());
        assert_eq!(parse_uint::<u32>("42").ok(), Some(42));
        assert!(parse_uint::<u32>("-1").is_err());
        assert!(parse_uint::<u32>("99999999999").is_err());
        assert_eq!(parse_int::<i32>("-5").ok(), Some(-5));
        assert!(parse_int::<i32>("-").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1024").ok(), Some(1024));
        assert_eq!(parse_size("4KB").ok(), Some(4096));
        assert_eq!(parse_size("1 MB").ok(), Some(1 << 20));
        assert_eq!(parse_size("2GB").ok(), Some(2 << 30));
        for bad in [
            "",
            "KB",
            "1TB",
            "x",
            "99999999999999999999GB",
            "18446744073709551615GB",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ifnames() {
        assert!(check_ifname("eth0").is_ok());
        assert!(check_ifname("a234567890123456").is_err());
        assert!(check_ifname("a b").is_err());
    }
}
