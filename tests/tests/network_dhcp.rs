//! DHCP from an lxcrs-net bridge (the default NAT network's machinery, on a test
//! subnet): a busybox container, whose rcS runs udhcpc on eth0, gets a lease and shows
//! it in `lxc-ls -f` and `lxc-info -i`.

mod network_util;

use lxcrs_tests::runtime_support::{self, eventually, serial};
use lxcrs_tests::testnet::TestNet;
use network_util::{create, finish, ping_from};

#[test]
fn busybox_gets_a_dhcp_lease_from_an_lxcrs_net_bridge() {
    let _g = serial();
    let Some((env, _)) = runtime_support::env() else {
        return;
    };
    let net = TestNet::up(&network_util::dev_name("lxn", 232), 232);
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
