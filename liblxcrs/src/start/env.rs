//! The environment init starts with: cleared, then `container=lxc` (systemd's container
//! detection), `container_ttys` (its getty generator), a default `PATH` and `TERM=linux`,
//! then `lxc.environment` (which may override those).

/// The default `PATH` of init.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Build init's environment.
pub fn init_env(tty_names: &[String], configured: &[(String, String)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vec![("container".into(), "lxc".into())];
    if !tty_names.is_empty() {
        env.push(("container_ttys".into(), tty_names.join(" ")));
    }
    env.push(("PATH".into(), DEFAULT_PATH.into()));
    env.push(("TERM".into(), "linux".into()));
    for (k, v) in configured {
        match env.iter_mut().find(|(n, _)| n == k) {
            Some(slot) => slot.1 = v.clone(),
            None => env.push((k.clone(), v.clone())),
        }
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_then_configured() {
        let env = init_env(
            &["pts/0".into(), "pts/1".into()],
            &[("PATH".into(), "/bin".into()), ("FOO".into(), "1".into())],
        );
        assert_eq!(
            env,
            [
                ("container".to_string(), "lxc".to_string()),
                ("container_ttys".into(), "pts/0 pts/1".into()),
                ("PATH".into(), "/bin".into()),
                ("TERM".into(), "linux".into()),
                ("FOO".into(), "1".into()),
            ]
        );
        assert!(!init_env(&[], &[])
            .iter()
            .any(|(k, _)| k == "container_ttys"));
    }
}
