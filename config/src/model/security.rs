//! Security settings: AppArmor, SELinux, seccomp, keyring, no_new_privs, core scheduling.

/// AppArmor (`lxc.apparmor.*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Apparmor {
    /// `generated`, `unconfined`, `unchanged`, or a profile name. `None` = LXC default.
    pub profile: Option<String>,
    pub allow_incomplete: bool,
    pub allow_nesting: bool,
    /// `lxc.apparmor.raw` lines appended to a generated profile.
    pub raw: Vec<String>,
}

/// SELinux (`lxc.selinux.*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selinux {
    pub context: Option<String>,
    pub context_keyring: Option<String>,
}

/// Seccomp (`lxc.seccomp.*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seccomp {
    /// Policy file path.
    pub profile: Option<String>,
    pub allow_nesting: bool,
    /// `lxc.seccomp.notify.proxy`: `unix:/path` of a notification proxy.
    pub notify_proxy: Option<String>,
    pub notify_cookie: Option<String>,
}

/// Everything security-related that is not capabilities or namespaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Security {
    pub apparmor: Apparmor,
    pub selinux: Selinux,
    pub seccomp: Seccomp,
    /// `lxc.keyring.session` (default true): give the container a new session keyring.
    pub keyring_session: bool,
    /// `lxc.no_new_privs`.
    pub no_new_privs: bool,
    /// `lxc.sched.core`: put the container in its own core-scheduling domain.
    pub sched_core: bool,
}

impl Default for Security {
    fn default() -> Self {
        Security {
            apparmor: Apparmor::default(),
            selinux: Selinux::default(),
            seccomp: Seccomp::default(),
            keyring_session: true,
            no_new_privs: false,
            sched_core: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let s = Security::default();
        assert!(s.keyring_session);
        assert!(!s.no_new_privs && !s.sched_core);
        assert_eq!(s.apparmor.profile, None);
    }
}
