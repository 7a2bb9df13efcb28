//! The netdev types this kernel lacks (ipvlan, 802.1q vlan), for real in the test VM
//! (vm/: Debian's stock kernel): two busybox containers talk over ipvlan l2 on one
//! parent, and over vlan 10 on the two ends of a veth pair; nothing is left after
//! their stop. Slow (a VM boot), so only with `LXCRS_VM_TESTS=1`.

use std::path::PathBuf;
use std::process::Command;

const SCRIPT: &str = r#"#!/bin/sh
set -eu
export PATH=/share/bin:$PATH LXCRS_SHARE_DIR=/share/templates
P=/var/lib/lxcrs-vmnet
mkdir -p $P
ip link add lxvm0 type veth peer name lxvm1
ip link set lxvm0 up; ip link set lxvm1 up
nic() { # NAME TYPE LINK MODE-LINE ADDR
    printf 'lxc.net.0.type = %s\nlxc.net.0.link = %s\n%s\nlxc.net.0.flags = up\nlxc.net.0.name = net0\nlxc.net.0.ipv4.address = %s/24\n' \
        "$2" "$3" "$4" "$5" > /tmp/$1.conf
    lxc-create -P $P -n $1 -t busybox -f /tmp/$1.conf >/dev/null
    lxc-start -P $P -n $1
}
ping_in() { lxc-attach -P $P -n $1 -- ping -c 1 -W 2 $2 >/dev/null; }
check() { # A B ADDR-OF-A ADDR-OF-B LABEL
    ping_in $1 $4 || { sleep 1; ping_in $1 $4; }
    ping_in $2 $3
    echo "$5-OK"
}
nic iv1 ipvlan lxvm0 'lxc.net.0.ipvlan.mode = l2' 10.0.240.1
nic iv2 ipvlan lxvm0 'lxc.net.0.ipvlan.mode = l2' 10.0.240.2
check iv1 iv2 10.0.240.1 10.0.240.2 IPVLAN-L2
nic vl1 vlan lxvm0 'lxc.net.0.vlan.id = 10' 10.0.241.1
nic vl2 vlan lxvm1 'lxc.net.0.vlan.id = 10' 10.0.241.2
check vl1 vl2 10.0.241.1 10.0.241.2 VLAN
for c in iv1 iv2 vl1 vl2; do lxc-stop -P $P -n $c -k; lxc-destroy -P $P -n $c >/dev/null; done
left=$(ip -d link | grep -c -E 'ipvlan|vlan protocol' || true)
[ "$left" = 0 ] || { ip -d link; echo "leftover devices"; exit 1; }
echo NOTHING-LEFT
"#;

fn vm_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vm")
}

#[test]
#[ignore = "ipvlan/vlan need the VM kernel: LXCRS_VM_TESTS=1 cargo test -p lxcrs-tests --test network_vm -- --ignored"]
fn ipvlan_l2_and_vlan_in_the_vm() {
    if std::env::var("LXCRS_VM_TESTS").as_deref() != Ok("1") {
        eprintln!(
            "SKIP: VM tests run with LXCRS_VM_TESTS=1 (ipvlan and vlan need the VM's kernel)"
        );
        return;
    }
    let st = Command::new(vm_dir().join("build-image.sh"))
        .status()
        .unwrap();
    assert!(st.success(), "vm/build-image.sh: {st}");
    let share = tempfile::tempdir().unwrap();
    let st = Command::new(vm_dir().join("stage-lxcrs.sh"))
        .arg(share.path())
        .status()
        .unwrap();
    assert!(st.success(), "vm/stage-lxcrs.sh: {st}");
    let script = share.path().join("net.sh");
    std::fs::write(&script, SCRIPT).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new(vm_dir().join("run.sh"))
        .arg(share.path())
        .arg("net.sh")
        .env("LXCRS_VM_QUIET", "1")
        .env("LXCRS_VM_SCRATCH", "0")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the VM script failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    for want in ["IPVLAN-L2-OK", "VLAN-OK", "NOTHING-LEFT"] {
        assert!(stdout.contains(want), "{want} missing:\n{stdout}\n{stderr}");
    }
}
