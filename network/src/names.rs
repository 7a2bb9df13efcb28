//! Interface names, MAC templates and the tags that let us find our devices again.

use std::fmt::Write as _;

pub use lxcrs_config::ifname::IFNAMSIZ_MAX;

/// Check an interface name ([`lxcrs_config::ifname::check_ifname`]), the problem worded
/// with the name.
pub fn check_ifname(name: &str) -> Result<(), String> {
    use lxcrs_config::ifname::{BadIfname, CHARS_HINT};
    lxcrs_config::ifname::check_ifname(name).map_err(|e| match e {
        BadIfname::Empty => "interface name is empty".into(),
        BadIfname::TooLong => {
            format!("interface name '{name}' is longer than {IFNAMSIZ_MAX} bytes")
        }
        BadIfname::Dot => format!("'{name}' is not a valid interface name"),
        BadIfname::Char(c) => format!("interface name {name:?} contains {c:?}; {CHARS_HINT}"),
    })
}

/// Checks a bridge name that goes into generated nftables and dnsmasq text: an interface
/// name of `[A-Za-z0-9_.-]` only.
pub fn check_bridge_name(name: &str) -> Result<(), String> {
    check_ifname(name)?;
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        Some(c) => Err(format!(
            "bridge name {name:?} contains {c:?}; use letters, digits, '_', '.' and '-' only"
        )),
        None => Ok(()),
    }
}

/// Fill `buf` from the kernel's CSPRNG.
pub fn random_bytes(buf: &mut [u8]) {
    let mut filled = 0;
    while filled < buf.len() {
        let rest = &mut buf[filled..];
        // SAFETY: `rest` is a valid, writable buffer of `rest.len()` bytes for the call.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n > 0 {
            filled += n as usize;
        } else if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            // getrandom(2) cannot fail on Linux >= 3.17 with a valid buffer; fall back to
            // something unique enough for interface names rather than panicking.
            let seed = std::process::id() as u64
                ^ (std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(0));
            for (i, b) in rest.iter_mut().enumerate() {
                *b = (seed.rotate_left((i * 8) as u32) & 0xff) as u8;
            }
            return;
        }
    }
}

/// `prefix` followed by random alphanumerics up to `len` characters (LXC: `vethXXXXXX`).
pub fn random_name(prefix: &str, len: usize) -> String {
    const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let n = len.saturating_sub(prefix.len());
    let mut raw = vec![0u8; n];
    random_bytes(&mut raw);
    let mut s = String::from(prefix);
    for b in raw {
        s.push(char::from(ALNUM[usize::from(b) % ALNUM.len()]));
    }
    s
}

/// Parse a MAC or MAC template: six `:`-separated octets of two hex digits, where `x`
/// stands for a random hex digit. Each nibble is `Some(value)` or `None` (random).
pub fn parse_hwaddr_template(s: &str) -> Result<[Option<u8>; 12], String> {
    let bad = || {
        format!(
            "invalid MAC address '{s}' (expected xx:xx:xx:xx:xx:xx, hex digits or 'x' for random)"
        )
    };
    let mut out = [None; 12];
    let octets: Vec<&str> = s.split(':').collect();
    if octets.len() != 6 {
        return Err(bad());
    }
    for (i, o) in octets.iter().enumerate() {
        let b = o.as_bytes();
        if b.len() != 2 {
            return Err(bad());
        }
        for (j, c) in b.iter().enumerate() {
            out[i * 2 + j] = match c {
                b'x' | b'X' => None,
                c if c.is_ascii_hexdigit() => {
                    Some(char::from(*c).to_digit(16).map_or(0, |d| d as u8))
                }
                _ => return Err(bad()),
            };
        }
    }
    if let Some(low) = out[1] {
        if low & 1 == 1 {
            return Err(format!(
                "MAC address '{s}' is a multicast address; the second hex digit must be even"
            ));
        }
    }
    Ok(out)
}

/// Turn a template into a concrete MAC, drawing random nibbles from `rand`. A random
/// second nibble is made unicast + locally administered, as LXC does.
pub fn resolve_hwaddr(template: &str, rand: &mut dyn FnMut() -> u8) -> Result<[u8; 6], String> {
    let nibbles = parse_hwaddr_template(template)?;
    let mut mac = [0u8; 6];
    for (i, n) in nibbles.iter().enumerate() {
        let v = match n {
            Some(v) => *v,
            None if i == 1 => (rand() & 0x0e) | 0x02,
            None => rand() & 0x0f,
        };
        mac[i / 2] |= if i % 2 == 0 { v << 4 } else { v };
    }
    Ok(mac)
}

/// Resolve a template with the kernel's random generator.
pub fn resolve_hwaddr_random(template: &str) -> Result<[u8; 6], String> {
    let mut pool = [0u8; 12];
    random_bytes(&mut pool);
    let mut i = 0;
    resolve_hwaddr(template, &mut || {
        let v = pool[i % pool.len()];
        i += 1;
        v
    })
}

pub fn format_mac(mac: &[u8]) -> String {
    let mut s = String::new();
    for (i, b) in mac.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A random MAC for the host end of a veth. The first octet 0xfe keeps it above any real
/// NIC's, so a bridge (which takes the lowest port MAC) keeps the host's MAC.
pub fn host_side_mac() -> [u8; 6] {
    let mut mac = [0u8; 6];
    random_bytes(&mut mac);
    mac[0] = 0xfe;
    mac
}

/// Prefix of the `ifalias` we put on host-side devices.
pub const TAG_PREFIX: &str = "lxcrs";

/// The `ifalias` of a device we created for NIC `index` of container `owner`:
/// `lxcrs|<index>|<type>|<original name or empty>|<owner>`. The owner comes last so it
/// may contain `|`. Used to find devices left behind by a killed monitor, and to give a
/// `phys` device its original name back after the kernel returned it to the host.
pub fn tag(owner: &str, index: usize, kind: &str, original: Option<&str>) -> String {
    format!(
        "{TAG_PREFIX}|{index}|{kind}|{}|{owner}",
        original.unwrap_or("")
    )
}

/// A parsed tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub index: usize,
    pub kind: String,
    pub original: Option<String>,
    pub owner: String,
}

pub fn parse_tag(alias: &str) -> Option<Tag> {
    let mut it = alias.splitn(5, '|');
    if it.next()? != TAG_PREFIX {
        return None;
    }
    let index = it.next()?.parse().ok()?;
    let kind = it.next()?.to_string();
    let original = it.next()?;
    let owner = it.next()?.to_string();
    Some(Tag {
        index,
        kind,
        original: (!original.is_empty()).then(|| original.to_string()),
        owner,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ifnames() {
        assert!(check_ifname("eth0").is_ok());
        assert!(check_ifname("veth-abcdefghij").is_ok());
        assert!(check_ifname("veth-abcdefghijk").is_err());
        assert!(check_ifname("").is_err());
        assert!(check_ifname("a/b").is_err());
        assert!(check_ifname("a b").is_err());
        assert!(check_ifname("..").is_err());
        for bad in [
            "a\"b", "a'b", "a;b", "a{b", "a}b", "a\tb", "a$b", "a`b", "a\\b",
        ] {
            let e = check_ifname(bad).expect_err(bad);
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
        assert!(check_ifname("br-0.lan_x@").is_ok());
        assert!(check_bridge_name("br-0.lan_x").is_ok());
        assert!(check_bridge_name("br@0").is_err());
    }

    #[test]
    fn random_names_have_prefix_and_length() {
        let a = random_name("veth", 10);
        let b = random_name("veth", 10);
        assert_eq!(a.len(), 10);
        assert!(a.starts_with("veth"));
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }

    #[test]
    fn hwaddr_templates() {
        let mut n = 0u8;
        let mut seq = || {
            n = n.wrapping_add(0x0f);
            n
        };
        let mac = resolve_hwaddr("10:66:6a:xx:xX:xx", &mut seq).unwrap_or_default();
        assert_eq!(&mac[..3], &[0x10, 0x66, 0x6a]);
        // A random first octet stays unicast and gets the local bit.
        for _ in 0..50 {
            let m = resolve_hwaddr_random("xx:xx:xx:xx:xx:xx").unwrap_or([1; 6]);
            assert_eq!(m[0] & 0x01, 0, "{}", format_mac(&m));
            assert_eq!(m[0] & 0x02, 0x02, "{}", format_mac(&m));
        }
        assert_eq!(
            resolve_hwaddr_random("00:16:3e:12:34:56").ok(),
            Some([0x00, 0x16, 0x3e, 0x12, 0x34, 0x56])
        );
        assert!(parse_hwaddr_template("01:00:5e:00:00:01").is_err());
        assert!(parse_hwaddr_template("00:16:3e:xx:xx").is_err());
        assert!(parse_hwaddr_template("00:16:3e:xx:xx:xg").is_err());
        assert!(parse_hwaddr_template("0:16:3e:1:2:3").is_err());
        assert_eq!(format_mac(&[0xfe, 0, 0x0a, 1, 2, 3]), "fe:00:0a:01:02:03");
        assert_eq!(host_side_mac()[0], 0xfe);
    }

    #[test]
    fn tags_round_trip() {
        let t = tag("/var/lib/lxc|x/c1", 3, "phys", Some("enp3s0"));
        let p = parse_tag(&t);
        assert_eq!(
            p,
            Some(Tag {
                index: 3,
                kind: "phys".into(),
                original: Some("enp3s0".into()),
                owner: "/var/lib/lxc|x/c1".into()
            })
        );
        assert_eq!(
            parse_tag(&tag("o", 0, "veth", None)).and_then(|t| t.original),
            None
        );
        assert_eq!(parse_tag("something else"), None);
    }
}
