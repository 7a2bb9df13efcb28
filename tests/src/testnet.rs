//! A bridge with DHCP (dnsmasq) brought up by `lxcrs-net -c FILE up` on a test subnet
//! `10.0.<subnet>.0/24`, taken down on drop: the default NAT network's machinery, for
//! tests whose containers need a DHCP server.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::built_tool;

/// A test bridge with dnsmasq, without NAT or IPv6.
pub struct TestNet {
    settings: PathBuf,
    /// The bridge's name.
    pub bridge: String,
    _dir: tempfile::TempDir,
}

impl TestNet {
    /// Brings up bridge `bridge` on 10.0.`subnet`.1/24.
    pub fn up(bridge: &str, subnet: u8) -> TestNet {
        let dir = tempfile::tempdir().expect("temp dir");
        let settings = dir.path().join("net.toml");
        std::fs::write(
            &settings,
            format!(
                "run_dir = \"{d}/run\"\nstate_dir = \"{d}/state\"\n[[bridge]]\nname = \"{bridge}\"\n\
                 ipv4 = \"10.0.{subnet}.1/24\"\nipv6 = \"none\"\nnat = false\ndhcp_ping = false\n",
                d = dir.path().display()
            ),
        )
        .expect("write lxcrs-net settings");
        let out = Command::new(built_tool("lxcrs-net"))
            .arg("-c")
            .arg(&settings)
            .arg("up")
            .output()
            .expect("run lxcrs-net");
        assert!(
            out.status.success(),
            "lxcrs-net up: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        TestNet {
            settings,
            bridge: bridge.to_string(),
            _dir: dir,
        }
    }

    /// `lxcrs-net status` of this network.
    pub fn status(&self) -> String {
        let out = Command::new(built_tool("lxcrs-net"))
            .arg("-c")
            .arg(&self.settings)
            .arg("status")
            .output();
        out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// A config fragment giving a container one veth on this bridge.
    pub fn config(&self, dir: &Path) -> PathBuf {
        let p = dir.join("net.conf");
        std::fs::write(
            &p,
            format!(
                "lxc.net.0.type = veth\nlxc.net.0.link = {}\nlxc.net.0.flags = up\nlxc.net.0.hwaddr = 00:16:3e:xx:xx:xx\n",
                self.bridge
            ),
        )
        .expect("write net.conf");
        p
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        let _ = Command::new(built_tool("lxcrs-net"))
            .arg("-c")
            .arg(&self.settings)
            .arg("down")
            .output();
    }
}
