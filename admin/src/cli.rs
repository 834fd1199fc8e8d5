//! `ferrovsadm`: ipvsadm's command line over the admin socket.
//!
//! [`run`] is the whole program with its I/O passed in, so tests drive it like a process: argv
//! in, stdout/stderr text and an exit status out. Exit statuses are ipvsadm's: 0 on success,
//! 2 for a refused command line (`fail(2, ...)`) or when the daemon cannot be reached (ipvsadm's
//! "Can't initialize ipvs"), 255 for popt errors and for changes the daemon refuses (ipvsadm
//! returns -1 after printing `ipvs_strerror`), 1 for listing errors ("No such service" from
//! `-L -t`, as ipvsadm's `exit(1)`); `--start-daemon` and `--stop-daemon` refused by the
//! daemon exit 255 too. `--reload` failures exit 1. `--ready` exits 0 while the
//! gateway is ready to own addresses, 1 with a one-line reason on stderr when it is not, and 2
//! when the daemon cannot be reached (keepalived's `vrrp_script` takes any non-zero as a
//! failure).
//!
//! `-R` differs from ipvsadm on purpose: the whole input is parsed first and sent as one batch
//! that is applied atomically, so a bad line changes nothing (ipvsadm applies the lines before
//! it, and `ipvsadm-restore` even flushes the table first).

use std::io::{Read, Write};
use std::path::Path;

use crate::client::{self, ClientError};
use crate::format;
use crate::ipvsadm::{self, CliError, Command, ListWhat, Parsed};
use crate::names::Names;
use crate::proto::{ListQuery, Listing, Op, Request, Response};

/// Exit status for a change the daemon refused (ipvsadm's `return -1`).
const EXIT_REFUSED: u8 = 255;
/// Exit status for listing errors (ipvsadm's `exit(1)`).
const EXIT_LIST: u8 = 1;
/// Exit status when the daemon cannot be reached or answers nonsense.
const EXIT_UNREACHABLE: u8 = 2;

/// How `run` reaches the daemon: the real socket in the binary, anything in tests.
pub type Send<'a> = dyn FnMut(&Path, &Request) -> Result<Response, ClientError> + 'a;

struct Ctx<'a, 'b> {
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
    send: &'a mut Send<'b>,
    socket: std::path::PathBuf,
}

impl Ctx<'_, '_> {
    fn fail(&mut self, message: &str, code: u8) -> u8 {
        let _ = writeln!(self.err, "{message}");
        code
    }

    /// Send `req`; on a transport failure print it and return the exit status.
    fn call(&mut self, req: &Request) -> Result<Response, u8> {
        match (self.send)(&self.socket, req) {
            Ok(r) => Ok(r),
            Err(e) => Err(self.fail(&e.to_string(), EXIT_UNREACHABLE)),
        }
    }

    fn list(&mut self, q: ListQuery) -> Result<Listing, u8> {
        match self.call(&Request::List(q))? {
            Response::Listing(l) => Ok(l),
            Response::Error { message } => Err(self.fail(&message, EXIT_LIST)),
            other => Err(self.unexpected(&other)),
        }
    }

    fn unexpected(&mut self, r: &Response) -> u8 {
        self.fail(
            &format!("unexpected answer from ferrovs: {r:?}"),
            EXIT_UNREACHABLE,
        )
    }

    fn apply(&mut self, ops: Vec<Op>) -> u8 {
        self.change(&Request::Apply { ops })
    }

    /// Send a change that answers `Ok` or an error (ipvsadm's `return -1` on failure).
    fn change(&mut self, req: &Request) -> u8 {
        match self.call(req) {
            Err(code) => code,
            Ok(Response::Ok) => 0,
            Ok(Response::Error { message }) => self.fail(&message, EXIT_REFUSED),
            Ok(other) => self.unexpected(&other),
        }
    }

    fn print(&mut self, text: &str) -> u8 {
        match self.out.write_all(text.as_bytes()) {
            Ok(()) => 0,
            // A closed pipe (`ferrovsadm -L | head`) is not worth a message.
            Err(_) => 1,
        }
    }
}

/// Run `ferrovsadm` with `argv` (including the program name); returns the exit status.
pub fn run(
    mut argv: Vec<String>,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
    names: &dyn Names,
    send: &mut Send<'_>,
) -> u8 {
    if argv.is_empty() {
        argv.push("ferrovsadm".into());
    }
    let program = argv[0].clone();
    let socket = match ipvsadm::take_socket_option(&mut argv) {
        Ok(s) => client::socket_path(s.as_deref()),
        Err(e) => {
            let _ = writeln!(err, "{e}");
            return e.exit_code;
        }
    };
    let mut cx = Ctx {
        out,
        err,
        send,
        socket,
    };
    let cmd = match ipvsadm::parse(&argv, false, names) {
        Ok(Parsed::Help) => return cx.print(&ipvsadm::usage(&program)),
        Ok(Parsed::Version) => return cx.print(&format!("{}\n", ipvsadm::version())),
        Ok(Parsed::Command(c)) => c,
        Err(e) => return cx.fail(&e.message, e.exit_code),
    };
    match cmd {
        // Addresses are always numeric here: -n is accepted and changes nothing.
        Command::List(ListWhat::Ha, _) => match cx.call(&Request::Ha) {
            Err(code) => code,
            Ok(Response::Ha(l)) => cx.print(&format::ha(&l)),
            Ok(Response::Error { message }) => cx.fail(&message, EXIT_LIST),
            Ok(other) => cx.unexpected(&other),
        },
        // ipvsadm prints nothing when no daemon runs; -n changes nothing here either.
        Command::List(ListWhat::Daemon, _) => match cx.call(&Request::Daemons) {
            Err(code) => code,
            Ok(Response::Daemons { daemons }) => cx.print(&format::daemons(&daemons)),
            Ok(Response::Error { message }) => cx.fail(&message, EXIT_LIST),
            Ok(other) => cx.unexpected(&other),
        },
        Command::StartDaemon(spec) => cx.change(&Request::StartDaemon(spec)),
        Command::StopDaemon(state) => cx.change(&Request::StopDaemon { state }),
        Command::List(ListWhat::Announce, _) => match cx.call(&Request::Announce) {
            Err(code) => code,
            Ok(Response::Announce(l)) => cx.print(&format::announce(&l)),
            Ok(Response::Error { message }) => cx.fail(&message, EXIT_LIST),
            Ok(other) => cx.unexpected(&other),
        },
        Command::Drain { drained, wait_s } => drain(&mut cx, drained, wait_s),
        Command::Ready => match cx.call(&Request::Ready) {
            Err(code) => code,
            Ok(Response::Ready {
                ready: true,
                reason,
            }) => cx.print(&format!("ready: {reason}\n")),
            Ok(Response::Ready {
                ready: false,
                reason,
            }) => cx.fail(&format!("not ready: {reason}"), EXIT_LIST),
            Ok(Response::Error { message }) => cx.fail(&message, EXIT_LIST),
            Ok(other) => cx.unexpected(&other),
        },
        Command::Apply(op) => cx.apply(vec![op]),
        // DPVS's ipvsadm exits 1 when the service is missing, as -L -t does.
        Command::Laddrs(service) => match cx.call(&Request::Laddrs { service }) {
            Err(code) => code,
            Ok(Response::Laddrs { services }) => cx.print(&crate::laddr::format(&services)),
            Ok(Response::Error { message }) => cx.fail(&message, EXIT_LIST),
            Ok(other) => cx.unexpected(&other),
        },
        Command::Zero(service) => cx.change(&Request::Zero { service }),
        Command::List(what, f) => {
            let q = ListQuery {
                service: match what {
                    ListWhat::Service(k) => Some(k),
                    ListWhat::SynProxy(k) => k,
                    _ => None,
                },
                connections: what == ListWhat::Connections,
            };
            let l = match cx.list(q) {
                Ok(l) => l,
                Err(code) => return code,
            };
            let text = match what {
                ListWhat::All => format::list_all(&l, &f, names),
                ListWhat::Service(_) => match l.services.first() {
                    Some(s) => format::list_service(s, &f, names),
                    None => return cx.fail(crate::apply::E_NO_SUCH_SERVICE, EXIT_LIST),
                },
                ListWhat::Connections => format::connections(&l.connections, &f, names),
                ListWhat::Timeout => format::timeouts(&l),
                ListWhat::SynProxy(_) => format::syn_proxy(&l, &f, names),
                ListWhat::Daemon | ListWhat::Ha | ListWhat::Announce => {
                    unreachable!("answered above")
                }
            };
            cx.print(&text)
        }
        Command::Save(f) => match cx.list(ListQuery::default()) {
            Ok(l) => cx.print(&format::save(&l, f.numeric, names)),
            Err(code) => code,
        },
        Command::Restore => {
            let mut text = String::new();
            if let Err(e) = stdin.read_to_string(&mut text) {
                return cx.fail(&format!("cannot read stdin: {e}"), EXIT_UNREACHABLE);
            }
            match restore_ops(&text, &program, names) {
                Ok(ops) => cx.apply(ops),
                Err(e) => cx.fail(&e.message, e.exit_code),
            }
        }
        Command::Reload => match cx.call(&Request::Reload) {
            Err(code) => code,
            Ok(Response::Reloaded { generation }) => {
                cx.print(&format!("reloaded: generation {generation}\n"))
            }
            Ok(Response::Error { message }) => cx.fail(&message, EXIT_LIST),
            Ok(other) => cx.unexpected(&other),
        },
    }
}

/// `--drain [--wait S]` / `--undrain`: ask, print the announcements after it; with `--wait`,
/// poll once a second until the workers hold no session or `S` seconds passed, printing the
/// count left (exit 0 either way: the VIPs are withdrawn; the count says what a stop cuts).
fn drain(cx: &mut Ctx<'_, '_>, drained: bool, wait_s: Option<u32>) -> u8 {
    let mut l = match cx.call(&Request::Drain { drained }) {
        Err(code) => return code,
        Ok(Response::Announce(l)) => l,
        Ok(Response::Error { message }) => return cx.fail(&message, EXIT_REFUSED),
        Ok(other) => return cx.unexpected(&other),
    };
    let code = cx.print(&format::announce(&l));
    let Some(wait) = wait_s else { return code };
    let mut waited = 0;
    while l.sessions > 0 && waited < wait {
        std::thread::sleep(std::time::Duration::from_secs(1));
        waited += 1;
        l = match cx.call(&Request::Announce) {
            Err(code) => return code,
            Ok(Response::Announce(l)) => l,
            Ok(Response::Error { message }) => return cx.fail(&message, EXIT_LIST),
            Ok(other) => return cx.unexpected(&other),
        };
    }
    cx.print(&format!(
        "drain: {} session{} left after {waited}s\n",
        l.sessions,
        if l.sessions == 1 { "" } else { "s" }
    ))
}

/// Parse restore input into the changes it asks for.
///
/// # Errors
///
/// The first line's grammar error, with ipvsadm's message and exit status; a line that is not a
/// change (`-L`, `-S`, `-Z`, `--reload`) is refused with its line number.
pub fn restore_ops(text: &str, program: &str, names: &dyn Names) -> Result<Vec<Op>, CliError> {
    let mut ops = Vec::new();
    for (line_no, argv) in ipvsadm::restore_lines(text, program) {
        match ipvsadm::parse(&argv, true, names)? {
            Parsed::Command(Command::Apply(op)) => ops.push(op),
            Parsed::Help => return Err(CliError::try_help(program)),
            _ => {
                return Err(CliError::fail(format!(
                    "line {line_no}: only changes (-A -E -D -C -a -e -d --set) can be restored"
                )))
            }
        }
    }
    Ok(ops)
}

/// The real transport: [`client::request`].
pub fn socket_send(path: &Path, req: &Request) -> Result<Response, ClientError> {
    client::request(path, req)
}
