//! `lxc-ls [-1] [-f] [-F COLS] [--active|--running|--frozen|--stopped|--defined]
//! [-g GROUPS] [--filter REGEX | REGEX]`: exit 0, even when nothing matches.

use clap::{Arg, ArgAction};
use liblxcrs::list::Row;
use liblxcrs::State;

use crate::common::{self, say};

const FANCY_DEFAULT: &[&str] = &[
    "NAME",
    "STATE",
    "AUTOSTART",
    "GROUPS",
    "IPV4",
    "IPV6",
    "UNPRIVILEGED",
];
const ALL_COLUMNS: &[&str] = &[
    "NAME",
    "STATE",
    "PID",
    "RAM",
    "SWAP",
    "AUTOSTART",
    "GROUPS",
    "INTERFACE",
    "IPV4",
    "IPV6",
    "UNPRIVILEGED",
];

/// Entry point.
pub fn main(args: Vec<String>) -> i32 {
    let cmd = common::command("lxc-ls", "List the containers existing on the system")
        .arg(
            Arg::new("line")
                .short('1')
                .long("line")
                .action(ArgAction::SetTrue)
                .help("Show one entry per line"),
        )
        .arg(
            Arg::new("fancy")
                .short('f')
                .long("fancy")
                .action(ArgAction::SetTrue)
                .help("Use a fancy, column-based output"),
        )
        .arg(
            Arg::new("format")
                .short('F')
                .long("fancy-format")
                .value_name("COLS")
                .help("Comma-separated list of columns to show in the fancy output"),
        )
        .arg(
            Arg::new("active")
                .long("active")
                .action(ArgAction::SetTrue)
                .help("List only active containers"),
        )
        .arg(
            Arg::new("running")
                .long("running")
                .action(ArgAction::SetTrue)
                .help("List only running containers"),
        )
        .arg(
            Arg::new("frozen")
                .long("frozen")
                .action(ArgAction::SetTrue)
                .help("List only frozen containers"),
        )
        .arg(
            Arg::new("stopped")
                .long("stopped")
                .action(ArgAction::SetTrue)
                .help("List only stopped containers"),
        )
        .arg(
            Arg::new("defined")
                .long("defined")
                .action(ArgAction::SetTrue)
                .help("List only defined containers"),
        )
        .arg(
            Arg::new("groups")
                .short('g')
                .long("groups")
                .value_name("GROUPS")
                .help("Comma-separated list of groups a container must have to be displayed"),
        )
        .arg(
            Arg::new("nesting")
                .long("nesting")
                .num_args(0..=1)
                .value_name("NUM")
                .help("List nested containers up to NUM (not supported yet)"),
        )
        .arg(
            Arg::new("filter")
                .long("filter")
                .value_name("REGEX")
                .help("Filter container names by regular expression"),
        )
        .arg(Arg::new("pos").value_name("FILTER"));
    let (m, c) = match common::parse(cmd, args, None) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let lxcpath = match liblxcrs::paths::lxcpath(c.lxcpath.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            c.error(&e);
            return 1;
        }
    };
    if let Some(n) = m.get_one::<String>("nesting") {
        if n.parse::<u32>().is_err() {
            say!(c, "--nesting={n}: not a number of levels");
            eprintln!("hint: give a whole number, e.g. --nesting=2");
            return 1;
        }
    }
    let filter = m.get_one::<String>("filter").or(m.get_one::<String>("pos"));
    let re = match filter.map(|f| regex::Regex::new(&format!("^(?:{f})"))) {
        Some(Ok(r)) => Some(r),
        Some(Err(e)) => {
            say!(c, "invalid regular expression: {e}");
            return 1;
        }
        None => None,
    };
    let columns: Vec<String> = match m.get_one::<String>("format") {
        Some(f) => {
            let mut cols = Vec::new();
            for k in f.split(',') {
                let up = k.trim().to_ascii_uppercase();
                if !ALL_COLUMNS.contains(&up.as_str()) {
                    eprintln!("Invalid key: {k}");
                    return 1;
                }
                cols.push(up);
            }
            cols
        }
        None => FANCY_DEFAULT.iter().map(|s| s.to_string()).collect(),
    };
    let want_groups: Vec<String> = m
        .get_one::<String>("groups")
        .map(|g| {
            g.split(',')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();

    let rows: Vec<Row> = liblxcrs::list::list(&lxcpath, |name| {
        re.as_ref().is_none_or(|r| r.is_match(name))
    })
    .into_iter()
    .filter(|r| {
        (!m.get_flag("running") || r.state == State::Running)
            && (!m.get_flag("frozen") || r.state == State::Frozen)
            && (!m.get_flag("stopped") || r.state == State::Stopped)
            && (!m.get_flag("active") || r.state != State::Stopped)
            && want_groups.iter().all(|g| r.groups.contains(g))
    })
    .collect();

    if m.get_flag("fancy") || m.contains_id("format") {
        print_table(&columns, &rows);
    } else {
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        print_names(&names, m.get_flag("line"));
    }
    0
}

/// The text of column `col` for one container.
fn column(r: &Row, col: &str) -> String {
    let list = |v: &[String]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join(", ")
        }
    };
    let mb = |v: Option<f64>| v.map(|x| format!("{x:.2}MB")).unwrap_or_else(|| "-".into());
    match col {
        "NAME" => r.name.clone(),
        "STATE" => r.state.as_str().to_string(),
        "PID" => r.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
        "RAM" => mb(r.ram_mb),
        "SWAP" => mb(r.swap_mb),
        "AUTOSTART" => u8::from(r.autostart).to_string(),
        "GROUPS" => list(&r.groups),
        "INTERFACE" => list(&r.interfaces),
        "IPV4" => list(&r.ipv4),
        "IPV6" => list(&r.ipv6),
        "UNPRIVILEGED" => r.unprivileged.to_string(),
        _ => "-".into(),
    }
}

/// LXC's fancy table: every column left-aligned to its widest cell, each followed by a space.
fn print_table(columns: &[String], rows: &[Row]) {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| columns.iter().map(|c| column(r, c)).collect())
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, h)| {
            cells
                .iter()
                .map(|r| r[i].len())
                .chain([h.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |vals: &[String]| {
        vals.iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$} "))
            .collect::<String>()
    };
    println!("{}", line(columns));
    for r in &cells {
        println!("{}", line(r));
    }
}

/// Names in columns fitting the terminal, or one per line (`-1`, or no terminal).
fn print_names(names: &[&str], one_per_line: bool) {
    let width = if one_per_line { None } else { terminal_width() };
    let Some(width) = width else {
        for n in names {
            println!("{n}");
        }
        return;
    };
    if names.is_empty() {
        return;
    }
    let cell = names.iter().map(|n| n.len()).max().unwrap_or(0) + 2;
    let per_line = (width / cell).max(1);
    for chunk in names.chunks(per_line) {
        let line: String = chunk.iter().map(|n| format!("{n:<cell$}")).collect();
        println!("{}", line.trim_end());
    }
}

/// The width of the terminal on stdout, stderr or stdin (LXC's order), if any.
fn terminal_width() -> Option<usize> {
    for fd in [1, 2, 0] {
        let mut ws = libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ writes one winsize into the struct we pass; fd may be anything.
        let r = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) };
        if r == 0 && ws.ws_col > 0 {
            return Some(usize::from(ws.ws_col));
        }
    }
    None
}
