//! Linux security modules (AppArmor, SELinux): lxcrs cannot apply a profile or a context
//! yet, so on a host where the module is active it refuses to start a container that asks
//! for one — including LXC's default, a generated AppArmor profile when
//! `lxc.apparmor.profile` is unset — instead of running it unconfined behind the admin's
//! back. The config opts out explicitly: `lxc.apparmor.profile = unconfined` (or
//! `unchanged`: keep the monitor's own profile, which is what not changing it does).
//!
//! On hosts without the module the keys are ignored, as LXC does.
//!
//! Detection reads sysfs below a root given by the caller (`/sys`), so tests can point it
//! at a directory of their own.

use std::path::Path;

use lxcrs_config::model::Security;

use super::StartError;

/// Which LSMs are active on the host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostLsm {
    /// AppArmor is enabled: `module/apparmor/parameters/enabled` reads `Y`, or securityfs
    /// has `kernel/security/apparmor`.
    pub apparmor: bool,
    /// SELinux is enabled: selinuxfs is mounted at `fs/selinux` (it has `enforce`).
    pub selinux: bool,
}

impl HostLsm {
    /// Detect the active LSMs below the sysfs root `sysfs` (`/sys` on a real host).
    pub fn detect(sysfs: &Path) -> HostLsm {
        let enabled = std::fs::read(sysfs.join("module/apparmor/parameters/enabled"))
            .is_ok_and(|v| v.first() == Some(&b'Y'));
        HostLsm {
            apparmor: enabled || sysfs.join("kernel/security/apparmor").is_dir(),
            selinux: sysfs.join("fs/selinux/enforce").exists(),
        }
    }
}

/// Refuse a config whose LSM settings this host would enforce and lxcrs cannot apply.
pub fn check(host: HostLsm, sec: &Security) -> Result<(), StartError> {
    if host.apparmor {
        let profile = sec.apparmor.profile.as_deref().map(str::trim);
        match profile {
            Some("unconfined") | Some("unchanged") => {}
            other => {
                let shown = other.unwrap_or("(unset: LXC's generated default profile)");
                return Err(StartError::Config {
                    key: "lxc.apparmor.profile".into(),
                    value: shown.into(),
                    problem: format!(
                        "AppArmor is enabled on this host and lxcrs cannot apply profile {} yet; \
                         set lxc.apparmor.profile = unconfined to run it unconfined knowingly",
                        other.unwrap_or("generated")
                    ),
                });
            }
        }
    }
    if host.selinux {
        for (key, value) in [
            ("lxc.selinux.context", &sec.selinux.context),
            ("lxc.selinux.context.keyring", &sec.selinux.context_keyring),
        ] {
            if let Some(v) = value.as_deref().filter(|v| !v.trim().is_empty()) {
                return Err(StartError::Config {
                    key: key.into(),
                    value: v.into(),
                    problem: format!(
                        "SELinux is enabled on this host and lxcrs cannot apply context {v} yet; \
                         remove {key} to run the container in the monitor's own context knowingly"
                    ),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sysfs(files: &[(&str, &str)], dirs: &[&str]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (f, text) in files {
            let p = d.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        for dir in dirs {
            std::fs::create_dir_all(d.path().join(dir)).unwrap();
        }
        d
    }

    fn sec(profile: Option<&str>, context: Option<&str>) -> Security {
        let mut s = Security::default();
        s.apparmor.profile = profile.map(str::to_string);
        s.selinux.context = context.map(str::to_string);
        s
    }

    #[test]
    fn detects_apparmor_and_selinux_below_the_given_root() {
        let none = sysfs(&[("module/apparmor/parameters/enabled", "N\n")], &[]);
        assert_eq!(HostLsm::detect(none.path()), HostLsm::default());
        let aa = sysfs(&[("module/apparmor/parameters/enabled", "Y\n")], &[]);
        assert!(HostLsm::detect(aa.path()).apparmor);
        let fs = sysfs(&[], &["kernel/security/apparmor"]);
        assert!(HostLsm::detect(fs.path()).apparmor);
        let se = sysfs(&[("fs/selinux/enforce", "0")], &[]);
        assert_eq!(
            HostLsm::detect(se.path()),
            HostLsm {
                apparmor: false,
                selinux: true
            }
        );
    }

    #[test]
    fn apparmor_hosts_refuse_profiles_they_cannot_apply() {
        let aa = HostLsm {
            apparmor: true,
            selinux: false,
        };
        let e = check(aa, &sec(None, None)).unwrap_err().to_string();
        assert!(e.contains("AppArmor is enabled on this host"), "{e}");
        assert!(e.contains("lxc.apparmor.profile = unconfined"), "{e}");
        for p in ["generated", "lxc-container-default-cgns"] {
            let e = check(aa, &sec(Some(p), None)).unwrap_err().to_string();
            assert!(e.contains(&format!("cannot apply profile {p} yet")), "{e}");
        }
        check(aa, &sec(Some("unconfined"), None)).unwrap();
        check(aa, &sec(Some("unchanged"), None)).unwrap();
        // Without AppArmor the keys are ignored, as LXC does.
        check(HostLsm::default(), &sec(Some("generated"), Some("x_t"))).unwrap();
    }

    #[test]
    fn selinux_hosts_refuse_a_context() {
        let se = HostLsm {
            apparmor: false,
            selinux: true,
        };
        check(se, &sec(None, None)).unwrap();
        let e = check(se, &sec(None, Some("system_u:system_r:lxc_t:s0")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("SELinux is enabled on this host"), "{e}");
        assert!(e.starts_with("invalid lxc.selinux.context = "), "{e}");
    }
}
