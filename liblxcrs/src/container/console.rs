//! `lxc-console`: the user's terminal on a container tty or the console.

use std::os::fd::AsFd;

use crate::commands::Client;
use crate::console::proxy::{proxy, Escape, ProxyEnd};
use crate::console::term::{self, RawMode};
use crate::{Container, Error, Result};

/// Connects stdin/stdout to tty `tty` (0 = console, -1 = first free) until the user
/// types the escape sequence or the container goes away.
pub fn run(c: &Container, tty: i32, escape: Escape, quiet: bool) -> Result<()> {
    let client = match Client::connect_running(c.lxcpath(), c.name()) {
        Ok(cl) => cl,
        Err(e) => return Err(Error::command(c.name(), e)),
    };
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let ws = term::winsize(stdin.as_fd());
    let (rows, cols) = ws.map_or((0, 0), |w| (w.ws_row, w.ws_col));
    let (got, fd) = client
        .tty(tty, rows, cols)
        .map_err(|e| Error::msg(format!("failed to get tty {tty}: {e}")))?;
    if !quiet {
        let e = escape.display();
        eprint!("\r\nConnected to tty {got}\r\nType <{e} q> to exit the console, <{e} {e}> to enter {e} itself\r\n");
    }
    let raw = RawMode::enter(stdin.as_fd());
    // Ttys are pty masters we can resize; the console is a socket to the monitor, which
    // sized it from the request.
    let resize = (got > 0).then(|| fd.as_fd());
    let end = proxy(
        Some(stdin.as_fd()),
        stdout.as_fd(),
        fd.as_fd(),
        Some(escape),
        Some(client.fd().as_fd()),
        None,
        resize,
    );
    drop(raw);
    match end {
        Ok(ProxyEnd::Detached) => {
            if !quiet {
                eprintln!();
            }
            Ok(())
        }
        Ok(_) => Ok(()),
        Err(e) => Err(Error::msg(format!("console i/o failed: {e}"))),
    }
}
