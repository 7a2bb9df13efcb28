//! The parser must never panic: feed it thousands of random and mutated inputs.

use std::path::Path;

use lxcrs_config::legacy::update_legacy_config;
use lxcrs_config::Config;

/// xorshift64*: tiny, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const KEYS: &[&str] = &[
    "lxc.uts.name",
    "lxc.net.0.type",
    "lxc.net.0.ipv4.address",
    "lxc.net.1.hwaddr",
    "lxc.net.0.veth.mode",
    "lxc.net.0.macvlan.mode",
    "lxc.idmap",
    "lxc.mount.entry",
    "lxc.mount.auto",
    "lxc.cap.drop",
    "lxc.cap.keep",
    "lxc.signal.halt",
    "lxc.init.cmd",
    "lxc.prlimit.nofile",
    "lxc.cgroup2.memory.max",
    "lxc.cgroup.devices.allow",
    "lxc.cgroup2.devices.allow",
    "lxc.rootfs.path",
    "lxc.console.buffer.size",
    "lxc.environment",
    "lxc.hook.mount",
    "lxc.log.level",
    "lxc.sysctl.net.ipv4.ip_forward",
    "lxc.time.offset.boot",
    "lxc.namespace.clone",
    "lxc.net",
    "lxc.net.0",
    "lxc.cgroup2",
    "lxc.include",
    "lxc.network.type",
    "lxc.net.0.ipv6.gateway",
    "lxc.start.order",
    "lxc.tty.max",
    "lxc.autodev",
    "lxc.group",
    "lxc.namespace.share.net",
    "lxc.bogus",
    "lxc.",
    "lxc.net.",
];

const VALUES: &[&str] = &[
    "",
    "veth",
    "10.0.3.5/24",
    "10.0.3.5/24 10.0.3.255",
    "00:16:3e:xx:xx:xx",
    "u 0 100000 65536",
    "proc proc proc nodev 0 0",
    "cgroup:mixed proc:mixed sys:mixed",
    "sys_admin mknod",
    "none",
    "SIGRTMIN+3",
    "SIGRTMAX-10",
    "/bin/sh -c 'x y'",
    "1024:4096",
    "unlimited",
    "1G",
    "c 1:3 rwm",
    "dir:/r",
    "overlay:/a:/b",
    "auto",
    "4KB",
    "A=1",
    "DEBUG",
    "9",
    "-1",
    "2h",
    "net uts",
    "'quoted'",
    "\"dq\"",
    "\u{e9}\u{1f600}",
    "\0",
    "/nonexistent/file.conf",
    "/nonexistent/dir/",
    "=",
    "==",
    "'",
    "\\",
    "99999999999999999999",
];

fn random_config(rng: &mut Rng) -> String {
    let mut out = String::new();
    for _ in 0..rng.below(12) {
        match rng.below(10) {
            0 => out.push_str("# comment"),
            1 => out.push_str("   "),
            2 => out.push_str(rng.pick(KEYS)),
            3 => out.push_str("foo = bar"),
            _ => {
                let sep = rng.pick(&[" = ", "=", " =", "= ", "\t=\t"]);
                out.push_str(&format!(
                    "{}{}{}{}",
                    rng.pick(&["", " ", "\t"]),
                    rng.pick(KEYS),
                    sep,
                    rng.pick(VALUES)
                ));
            }
        }
        out.push_str(rng.pick(&["\n", "\r\n", "\n\n"]));
    }
    out
}

fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for _ in 0..=rng.below(4) {
        let pos = rng.below(bytes.len() + 1);
        match rng.below(4) {
            0 if pos < bytes.len() => {
                bytes.remove(pos);
            }
            1 => bytes.insert(pos, (rng.next() & 0x7f) as u8),
            2 if pos < bytes.len() => {
                const SPICE: &[u8] = b"=.:'\"# \n\\0x";
                bytes[pos] = SPICE[rng.below(SPICE.len())];
            }
            _ => bytes.insert(pos, b'x'),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn exercise(text: &str) -> bool {
    let parsed = Config::parse(text, Path::new("fuzz"));
    let accepted = parsed.is_ok();
    if let Ok(mut c) = parsed {
        // A parsed config must round-trip and reparse to the same model (hwaddr
        // templates are resolved in the text, so compare against the resolved text).
        let again =
            Config::parse(&c.to_text(), Path::new("fuzz")).expect("reparse of accepted text");
        assert_eq!(again.to_text(), c.to_text());
        for key in [
            "lxc.net.0.type",
            "lxc.cap.drop",
            "lxc.mount.auto",
            "lxc.net",
            "lxc.cgroup2",
        ] {
            let _ = c.get_item(key);
        }
        let _ = c.set_item("lxc.uts.name", "x");
        let _ = c.set_item("lxc.cap.drop", "sys_admin");
        let _ = c.clear_item("lxc.net.0");
        // Edits keep the text loadable.
        if let Err(e) = Config::parse(&c.to_text(), Path::new("fuzz")) {
            panic!("edited text does not reparse: {e}\n{}", c.to_text());
        }
    }
    let _ = update_legacy_config(text);
    accepted
}

#[test]
fn random_and_mutated_inputs_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let seeds: Vec<String> =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures"))
            .map(|d| {
                d.flatten()
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                    .collect()
            })
            .unwrap_or_default();
    let mut n = 0;
    let mut accepted = 0;
    for i in 0..4000 {
        let base = if i % 3 == 0 && !seeds.is_empty() {
            seeds[rng.below(seeds.len())].clone()
        } else {
            random_config(&mut rng)
        };
        accepted += usize::from(exercise(&base));
        accepted += usize::from(exercise(&mutate(&mut rng, &base)));
        n += 2;
    }
    // Pure noise too.
    for _ in 0..1000 {
        let len = rng.below(200);
        let bytes: Vec<u8> = (0..len).map(|_| (rng.next() & 0xff) as u8).collect();
        accepted += usize::from(exercise(&String::from_utf8_lossy(&bytes)));
        n += 1;
    }
    println!("robustness: {n} inputs, {accepted} accepted");
    assert!(
        accepted > n / 10,
        "too few accepted inputs ({accepted}) to exercise the editing paths"
    );
}
