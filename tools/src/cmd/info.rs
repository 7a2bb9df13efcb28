//! `lxc-info -n NAME [-s] [-p] [-i] [-S] [-H] [-c KEY]...`
//!
//! Lines are `%-15s %s` (`State:          RUNNING`). With `-H` numbers are raw, and with
//! exactly one selector only the value is printed. Exit 1 "NAME doesn't exist".

use clap::{Arg, ArgAction, ArgMatches, Command};
use liblxcrs::Container;

use crate::common::{self, say};

/// Selected output, in LXC's order.
#[derive(Debug, Default, Clone)]
struct Select {
    state: bool,
    pid: bool,
    ips: bool,
    stats: bool,
    keys: Vec<String>,
    humanize: bool,
}

impl Select {
    fn count(&self) -> usize {
        usize::from(self.state)
            + usize::from(self.pid)
            + usize::from(self.ips)
            + usize::from(self.stats)
            + self.keys.len()
    }
}

/// One `Key: value` line, or the bare value when `-H` with a single selector.
fn line(out: &mut String, sel: &Select, key: &str, value: &str) {
    if !sel.humanize && sel.count() == 1 {
        out.push_str(value);
        out.push('\n');
    } else {
        labeled(out, key, value);
    }
}

/// A `Key: value` line whatever the selectors (stats always carry their labels).
fn labeled(out: &mut String, key: &str, value: &str) {
    out.push_str(&format!("{key:<15} {value}\n"));
}

/// LXC's `size_humanize`: `N bytes`, `1.23 KiB`, `12.34 MiB`, `1.50 GiB` (two decimals,
/// KiB/MiB rounded, GiB truncated).
pub fn humanize(val: u64) -> String {
    const KIB: u64 = 1 << 10;
    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;
    if val > GIB {
        format!("{}.{:02} GiB", val >> 30, (val & (GIB - 1)) / 10_737_419)
    } else if val > MIB {
        let x = val + 5243;
        format!("{}.{:02} MiB", x >> 20, ((x & (MIB - 1)) * 100) >> 20)
    } else if val > KIB {
        let x = val + 5;
        format!("{}.{:02} KiB", x >> 10, ((x & (KIB - 1)) * 100) >> 10)
    } else {
        format!("{val} bytes")
    }
}

fn bytes(sel: &Select, v: u64) -> String {
    if sel.humanize {
        humanize(v)
    } else {
        v.to_string()
    }
}

fn cpu(sel: &Select, ns: u64) -> String {
    if sel.humanize {
        format!("{:.2} seconds", ns as f64 / 1e9)
    } else {
        ns.to_string()
    }
}

/// The host-side device of each NIC, found LXC's way: `lxc.net.N.veth.pair` for a veth
/// (the running value: the name the start generated), else `lxc.net.N.link`; with its
/// counters `(host ifname, rx, tx)` as the host sees them. Devices that are not on the
/// host (a phys device, now in the container) are left out.
fn links(ct: &Container) -> Vec<(String, u64, u64)> {
    let item = |k: String| {
        ct.get_running_config_item(&k)
            .ok()
            .filter(|v| !v.is_empty())
    };
    let Some(indices) = item("lxc.net".into()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for n in indices.split_whitespace() {
        let key = match item(format!("lxc.net.{n}.type")).as_deref() {
            Some("veth") => "veth.pair",
            Some("macvlan" | "ipvlan" | "vlan") => "link",
            _ => continue,
        };
        let Some(host) = item(format!("lxc.net.{n}.{key}")) else {
            continue;
        };
        if let Some((rx, tx)) = liblxcrs::ips::host_link_bytes(&host) {
            out.push((host, rx, tx));
        }
    }
    out
}

fn render(ct: &Container, sel: &Select, show_name: bool) -> (String, String) {
    let mut out = String::new();
    let mut err = String::new();
    if show_name {
        line(&mut out, sel, "Name:", ct.name());
    }
    let state = ct.state();
    let running = state.is_active();
    if sel.state {
        line(&mut out, sel, "State:", state.as_str());
    }
    let pid = if running { ct.init_pid() } else { None };
    if let Some(pid) = pid {
        if sel.pid {
            line(&mut out, sel, "PID:", &pid.to_string());
        }
        if sel.ips {
            for ip in liblxcrs::ips::ipv4(pid)
                .into_iter()
                .chain(liblxcrs::ips::ipv6(pid))
            {
                line(&mut out, sel, "IP:", &ip);
            }
        }
    }
    if sel.stats && running {
        if let Some(s) = ct.stats() {
            if let Some(v) = s.cpu_ns {
                labeled(&mut out, "CPU use:", &cpu(sel, v));
            }
            if let Some(v) = s.blkio_bytes {
                labeled(&mut out, "BlkIO use:", &bytes(sel, v));
            }
            if let Some(v) = s.memory_bytes {
                labeled(&mut out, "Memory use:", &bytes(sel, v));
            }
            if let Some(v) = s.kmem_bytes {
                labeled(&mut out, "KMem use:", &bytes(sel, v));
            }
        }
        if pid.is_some() {
            for (host, rx, tx) in links(ct) {
                labeled(&mut out, "Link:", &host);
                // The host side's receive is the container's transmit.
                labeled(&mut out, " TX bytes:", &bytes(sel, rx));
                labeled(&mut out, " RX bytes:", &bytes(sel, tx));
                labeled(&mut out, " Total bytes:", &bytes(sel, rx + tx));
            }
        }
    }
    let mut file_ct: Option<Container> = None;
    for key in &sel.keys {
        let mut val = if running {
            ct.get_running_config_item(key).ok()
        } else {
            None
        };
        if val.is_none() {
            let fc = file_ct.get_or_insert_with(|| {
                let mut c =
                    Container::new(ct.name(), Some(ct.lxcpath())).expect("name already validated");
                if let Some(rc) = ct.rcfile() {
                    c.set_rcfile(rc);
                }
                c
            });
            val = fc.get_config_item(key).ok();
        }
        match val {
            Some(v) if !sel.humanize && sel.count() == 1 => out.push_str(&format!("{v}\n")),
            Some(v) if v.is_empty() => out.push_str(&format!("{key} =\n")),
            Some(v) => out.push_str(&format!("{key} = {v}\n")),
            None => err.push_str(&format!("{key} invalid\n")),
        }
    }
    (out, err)
}

/// The command line.
fn command() -> Command {
    common::command("lxc-info", "Query information about a container")
        .arg(common::flag(
            "state",
            's',
            "state",
            "Shows the state of the container",
        ))
        .arg(common::flag(
            "pid",
            'p',
            "pid",
            "Shows the process id of the init container",
        ))
        .arg(common::flag("ips", 'i', "ips", "Shows the IP addresses"))
        .arg(common::flag("stats", 'S', "stats", "Shows usage stats"))
        .arg(common::flag(
            "no-humanize",
            'H',
            "no-humanize",
            "Shows stats as raw numbers, not humanized",
        ))
        .arg(
            Arg::new("config")
                .short('c')
                .long("config")
                .value_name("KEY")
                .action(ArgAction::Append)
                .help("Show configuration variable KEY from running container"),
        )
        .arg(common::name_arg())
}

/// The selectors (the options of lxc-info).
fn options(m: &ArgMatches) -> Select {
    Select {
        state: m.get_flag("state"),
        pid: m.get_flag("pid"),
        ips: m.get_flag("ips"),
        stats: m.get_flag("stats"),
        keys: common::values(m, "config"),
        humanize: !m.get_flag("no-humanize"),
    }
}

/// Entry point.
pub fn main(args: Vec<String>) -> i32 {
    let (m, c) = common::parse_or_exit!(common::parse(command(), args, Some("pos")));
    let ct = common::parse_or_exit!(c.open_container());
    let mut sel = options(&m);
    // A monitor we may not use (or a squatter) is an error, not a made-up state.
    if let Err(e) = ct.check_monitor_access() {
        c.error(&e);
        return 1;
    }
    let running = ct.is_running();
    if !running && !ct.is_defined() && c.rcfile.is_none() {
        say!(c, "{}: {} doesn't exist", ct.name(), ct.name());
        return 1;
    }
    let all = sel.count() == 0;
    if all {
        sel.state = true;
        sel.pid = true;
        sel.ips = true;
        sel.stats = true;
    }
    let (out, err) = render(&ct, &sel, all);
    print!("{out}");
    eprint!("{err}");
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humanized_sizes() {
        assert_eq!(humanize(0), "0 bytes");
        assert_eq!(humanize(1024), "1024 bytes");
        assert_eq!(humanize(1536), "1.50 KiB");
        assert_eq!(humanize(12_939_428), "12.34 MiB");
        assert_eq!(humanize(3 << 30), "3.00 GiB");
        assert_eq!(humanize((3 << 30) + (1 << 29)), "3.49 GiB");
        assert_eq!(humanize(1 << 20), "1024.00 KiB");
    }

    #[test]
    fn lines_and_single_values() {
        let mut sel = Select {
            state: true,
            humanize: true,
            ..Default::default()
        };
        let mut out = String::new();
        line(&mut out, &sel, "State:", "RUNNING");
        assert_eq!(out, "State:          RUNNING\n");
        sel.humanize = false;
        out.clear();
        line(&mut out, &sel, "State:", "RUNNING");
        assert_eq!(
            out, "RUNNING\n",
            "-H with one selector prints the bare value"
        );
        sel.pid = true;
        out.clear();
        line(&mut out, &sel, "PID:", "42");
        assert_eq!(
            out, "PID:            42\n",
            "-H with two selectors keeps the keys"
        );
        assert_eq!(bytes(&sel, 12_939_428), "12939428");
        assert_eq!(
            cpu(
                &Select {
                    humanize: true,
                    ..Default::default()
                },
                1_234_000_000
            ),
            "1.23 seconds"
        );
    }
}
