//! DHCP from an lxcrs-net bridge (the default NAT network's machinery, on a test
//! subnet): a busybox container, whose rcS runs udhcpc on eth0, gets a lease and shows
//! it in `lxc-ls -f` and `lxc-info -i`.

mod network_util;

use std::path::PathBuf;
use std::process::Command;

use lxcrs_tests::built_tool;
use lxcrs_tests::runtime_support::{self, eventually, serial, text};
use network_util::{create, finish, ping_from};

/// A bridge brought up by `lxcrs-net -c FILE up` (dnsmasq for DHCP, no NAT), down on drop.
struct TestNet {
    settings: PathBuf,
    bridge: String,
    _dir: tempfile::TempDir,
}

impl TestNet {
    fn up(subnet: u8) -> TestNet {
        let dir = tempfile::tempdir().unwrap();
        let bridge = network_util::dev_name("lxn", subnet);
        let settings = dir.path().join("net.toml");
        std::fs::write(
            &settings,
            format!(
                "run_dir = \"{d}/run\"\nstate_dir = \"{d}/state\"\n[[bridge]]\nname = \"{bridge}\"\n\
                 ipv4 = \"10.0.{subnet}.1/24\"\nipv6 = \"none\"\nnat = false\ndhcp_ping = false\n",
                d = dir.path().display()
            ),
        )
        .unwrap();
        let out = Command::new(built_tool("lxcrs-net"))
            .arg("-c")
            .arg(&settings)
            .arg("up")
            .output()
            .unwrap();
        assert!(out.status.success(), "lxcrs-net up: {}", text(&out).1);
        TestNet {
            settings,
            bridge,
            _dir: dir,
        }
    }

    fn status(&self) -> String {
        let out = Command::new(built_tool("lxcrs-net"))
            .arg("-c")
            .arg(&self.settings)
            .arg("status")
            .output()
            .unwrap();
        text(&out).0
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

#[test]
fn busybox_gets_a_dhcp_lease_from_an_lxcrs_net_bridge() {
    let _g = serial();
    let Some((env, _)) = runtime_support::env() else {
        return;
    };
    let net = TestNet::up(232);
    assert!(net.status().contains(": up"), "{}", net.status());
    let n = env.unique_name("dhcp");
    // LXC's default.conf, on the test bridge.
    create(
        &env,
        &n,
        &format!(
            "lxc.net.0.type = veth\nlxc.net.0.link = {}\nlxc.net.0.flags = up\nlxc.net.0.hwaddr = 00:16:3e:xx:xx:xx\n",
            net.bridge
        ),
    );
    env.ok("lxc-start", &["-n", &n]);
    let prefix = "10.0.232.";
    let leased = eventually(30, || {
        env.ok("lxc-ls", &["-f", "-F", "NAME,IPV4"])
            .lines()
            .any(|l| l.starts_with(&n) && l.contains(prefix))
    });
    assert!(
        leased,
        "no lease in lxc-ls -f:\n{}",
        env.ok("lxc-ls", &["-f"])
    );
    let ips = env.ok("lxc-info", &["-n", &n, "-i"]);
    let ip = ips
        .lines()
        .find_map(|l| l.strip_prefix("IP:             "))
        .filter(|a| a.starts_with(prefix))
        .unwrap_or_else(|| panic!("no leased IP line: {ips:?}"))
        .to_string();
    assert!(env
        .ok("lxc-info", &["-n", &n])
        .contains(&format!("IP:             {ip}\n")));
    assert!(ping_from(&env, &n, "10.0.232.1", 5), "container → bridge");
    finish(env, net);
}
