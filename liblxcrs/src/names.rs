//! The names a new container may be given: LXC's usual charset, so that a name is safe as a
//! path component, in a hostname, and inside the shell command lines of generated hooks.
//!
//! Only names being created are checked (create, clone, rename, restore to a new name):
//! containers that already exist under other names stay manageable.

use crate::{Error, Result};

/// Longest name accepted: the default hostname is the name, and hostnames hold 64 bytes.
pub const MAX_NAME_LEN: usize = 64;

/// The charset, as said in errors.
pub const NAME_CHARSET: &str = "letters, digits, '_', '.' and '-' (not first: '-' or '.')";

/// Checks `name` for a container about to be created: 1 to [`MAX_NAME_LEN`] bytes of
/// `[A-Za-z0-9_.-]`, not starting with `-` or `.`.
pub fn check_new_name(name: &str) -> Result<()> {
    let problem = if name.is_empty() {
        Some("is empty".to_string())
    } else if name.len() > MAX_NAME_LEN {
        Some(format!(
            "is {} bytes long (at most {MAX_NAME_LEN})",
            name.len()
        ))
    } else if name.starts_with(['-', '.']) {
        Some(format!("starts with '{}'", &name[..1]))
    } else {
        name.chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
            .map(|c| format!("contains {c:?}"))
    };
    match problem {
        None => Ok(()),
        Some(p) => Err(Error::hint(
            format!("invalid container name {name:?}: it {p}"),
            format!("a container name may hold {NAME_CHARSET}, up to {MAX_NAME_LEN} bytes"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usual_names_pass() {
        for ok in ["c1", "web-01", "a.b_c", "A", "0", &"x".repeat(MAX_NAME_LEN)] {
            check_new_name(ok).unwrap_or_else(|e| panic!("{ok:?}: {e}"));
        }
    }

    #[test]
    fn shell_and_path_characters_are_refused() {
        for bad in [
            "", "-n", ".hidden", ".", "..", "a b", "a;id", "$(id)", "a`b`", "a'b", "a\"b", "a/b",
            "a\nb", "a|b", "a&b", "a*", "é", "a\\b", "a:b", "a,b",
        ] {
            let e = check_new_name(bad).expect_err(bad).to_string();
            assert!(e.contains(&format!("{bad:?}")), "{e}");
            assert!(e.contains(NAME_CHARSET), "{e}");
        }
        let e = check_new_name(&"x".repeat(MAX_NAME_LEN + 1)).unwrap_err();
        assert!(e.to_string().contains("(at most 64)"), "{e}");
    }
}
