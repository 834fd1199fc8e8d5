//! What the console's buttons do: each action becomes the `ferrovsadm` command line it stands
//! for, which goes through the ipvsadm grammar ([`admin::ipvsadm::parse`]) and then, as the
//! same [`Request::Apply`] `ferrovsadm` sends, through the admin queue to the control loop's
//! [`admin::handler::handle`]. So the page gets exactly the checks and the messages of the
//! command line, and the command line it shows is one an operator can type.
//!
//! Form values are passed as words of that command line, never interpreted here: a bad weight
//! or address is the grammar's to refuse. The parsed command must also be the change the
//! action names (a value like `-C` cannot turn "remove a real server" into "clear the table").

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use admin::ipvsadm::{self, Command, Parsed};
use admin::names::Names;
use admin::proto::{DestEntry, Fwd, ListQuery, Op, Proto, Request, Response, ServiceKey};
use admin::server::LocalClient;
use serde::{Deserialize, Serialize};

/// How long an action waits for the control loop (a change rebuilds the snapshot).
pub const ACTION_TIMEOUT: Duration = Duration::from_secs(30);

/// An action as the page posts it (JSON). Every value is a string, as typed in a form.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// `weight`, `quiesce`, `out`, `back`, `add_server`, `remove_server`, `add_service`,
    /// `remove_service`.
    pub action: String,
    /// `tcp` or `udp`.
    pub protocol: String,
    /// The virtual service, `VIP:PORT` (`[V6]:PORT`).
    pub service: String,
    /// The real server, `ADDRESS:PORT`.
    #[serde(default)]
    pub server: String,
    /// `weight`, `add_server`.
    #[serde(default)]
    pub weight: String,
    /// `add_server`: `dr`, `nat`, `tun`, `fullnat`.
    #[serde(default)]
    pub forward: String,
    /// `add_service`: the scheduler.
    #[serde(default)]
    pub scheduler: String,
    /// `add_service`: the persistence timeout in seconds, empty for none.
    #[serde(default)]
    pub persistence: String,
}

/// What came of an action.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Outcome {
    /// Applied.
    pub ok: bool,
    /// The `ferrovsadm` command line it stood for (empty when none could be built).
    pub command: String,
    /// "ok", or the refusal, word for word as `ferrovsadm` prints it.
    pub message: String,
}

/// A real server taken out of its service, to put back later with the same settings.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct TakenOut {
    /// The service it was in.
    pub service: ServiceKey,
    /// Its settings when it was taken out.
    pub server: DestEntry,
}

/// The console's side of actions: the admin queue and the servers taken out.
pub struct Actions {
    admin: LocalClient,
    names: Box<dyn Names + Send + Sync>,
    taken_out: Mutex<Vec<TakenOut>>,
}

impl std::fmt::Debug for Actions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Actions").finish_non_exhaustive()
    }
}

/// The change each action must parse to.
fn expected(action: &str, op: &Op) -> bool {
    matches!(
        (action, op),
        ("weight" | "quiesce", Op::EditServer { .. })
            | ("out" | "remove_server", Op::DeleteServer { .. })
            | ("back" | "add_server", Op::AddServer { .. })
            | ("add_service", Op::AddService(_))
            | ("remove_service", Op::DeleteService(_))
    )
}

/// Quote a word for display the way a shell would need it.
fn shell_word(w: &str) -> String {
    if !w.is_empty()
        && w.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/[]=@%+,".contains(&b))
    {
        w.to_owned()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}

/// The switch of the forwarding method the page names (none: DR, ipvsadm's default).
fn forward_switch(name: &str) -> Result<&'static str, String> {
    if name.is_empty() {
        return Ok(Fwd::Dr.switch());
    }
    name.parse::<Fwd>()
        .map(Fwd::switch)
        .map_err(|_| format!("unknown forwarding method \"{name}\": dr, nat, tun or fullnat"))
}

impl Actions {
    /// Actions through `admin`, parsing names with `names` (as `ferrovsadm` does).
    pub fn new(admin: LocalClient, names: Box<dyn Names + Send + Sync>) -> Self {
        Self {
            admin,
            names,
            taken_out: Mutex::new(Vec::new()),
        }
    }

    /// The real servers taken out and not put back.
    pub fn taken_out(&self) -> Vec<TakenOut> {
        self.taken_out
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The real server `server` of service `service` as the running table has it.
    fn current(&self, key: &ServiceKey, server: (IpAddr, u16)) -> Option<DestEntry> {
        let q = ListQuery {
            service: Some(*key),
            connections: false,
        };
        match self.admin.request(Request::List(q), ACTION_TIMEOUT) {
            Response::Listing(l) => l
                .services
                .into_iter()
                .flat_map(|s| s.real_servers)
                .find(|d| (d.address, d.port) == server),
            _ => None,
        }
    }

    /// Parse a `-t VIP:PORT` / `-r ADDR:PORT` pair the way the grammar would, to find the
    /// entries an action reads; `None` leaves the refusal to the grammar itself.
    fn keys(&self, a: &Action) -> Option<(ServiceKey, (IpAddr, u16))> {
        let argv = self.base_argv(a, "-d").ok()?;
        match ipvsadm::parse(&argv, false, self.names.as_ref()) {
            Ok(Parsed::Command(Command::Apply(Op::DeleteServer {
                service,
                address,
                port,
            }))) => Some((service, (address, port))),
            _ => None,
        }
    }

    /// `ferrovsadm CMD -t|-u SERVICE [-r SERVER]`.
    fn base_argv(&self, a: &Action, cmd: &str) -> Result<Vec<String>, String> {
        let switch = a
            .protocol
            .parse::<Proto>()
            .map_err(|_| format!("unknown protocol \"{}\": tcp or udp", a.protocol))?
            .switch();
        let mut argv: Vec<String> = vec![
            "ferrovsadm".into(),
            cmd.into(),
            switch.into(),
            a.service.clone(),
        ];
        // The real-server commands are the lower-case ones (-a -e -d).
        if cmd.chars().nth(1).is_some_and(|c| c.is_ascii_lowercase()) {
            argv.push("-r".into());
            argv.push(a.server.clone());
        }
        Ok(argv)
    }

    /// An edit (`-e`) or add (`-a`) of a known server with its other settings kept.
    fn with_settings(
        &self,
        mut argv: Vec<String>,
        d: Option<&DestEntry>,
        weight: &str,
    ) -> Vec<String> {
        argv.extend(["-w".to_owned(), weight.to_owned()]);
        if let Some(d) = d {
            argv.push(d.forward.switch().to_owned());
            if d.u_threshold > 0 {
                argv.extend(["-x".to_owned(), d.u_threshold.to_string()]);
            }
            if d.l_threshold > 0 {
                argv.extend(["-y".to_owned(), d.l_threshold.to_string()]);
            }
        }
        argv
    }

    /// The command line `a` stands for.
    fn argv(&self, a: &Action) -> Result<Vec<String>, String> {
        Ok(match a.action.as_str() {
            "weight" | "quiesce" => {
                let d = self.keys(a).and_then(|(k, s)| self.current(&k, s));
                let w = if a.action == "quiesce" {
                    "0"
                } else {
                    &a.weight
                };
                self.with_settings(self.base_argv(a, "-e")?, d.as_ref(), w)
            }
            "out" | "remove_server" => self.base_argv(a, "-d")?,
            "back" => {
                let keys = self.keys(a);
                let held = self.taken_out();
                let t = keys.and_then(|(k, (addr, port))| {
                    held.into_iter().find(|t| {
                        t.service == k && t.server.address == addr && t.server.port == port
                    })
                });
                let Some(t) = t else {
                    return Err(format!(
                        "{} is not a real server taken out of {} {}",
                        a.server, a.protocol, a.service
                    ));
                };
                let w = t.server.weight.to_string();
                self.with_settings(self.base_argv(a, "-a")?, Some(&t.server), &w)
            }
            "add_server" => {
                let mut argv = self.base_argv(a, "-a")?;
                argv.extend(["-w".to_owned(), a.weight.clone()]);
                argv.push(forward_switch(&a.forward)?.to_owned());
                argv
            }
            "add_service" => {
                let mut argv = self.base_argv(a, "-A")?;
                argv.extend(["-s".to_owned(), a.scheduler.clone()]);
                if !a.persistence.is_empty() {
                    argv.extend(["-p".to_owned(), a.persistence.clone()]);
                }
                argv
            }
            "remove_service" => self.base_argv(a, "-D")?,
            other => return Err(format!("unknown action \"{other}\"")),
        })
    }

    /// Run `a`: parse its command line, send the change, remember a server taken out.
    pub fn run(&self, a: &Action) -> Outcome {
        let argv = match self.argv(a) {
            Ok(v) => v,
            Err(message) => {
                return Outcome {
                    ok: false,
                    command: String::new(),
                    message,
                }
            }
        };
        let command = argv
            .iter()
            .map(|w| shell_word(w))
            .collect::<Vec<_>>()
            .join(" ");
        let refuse = |message: String| Outcome {
            ok: false,
            command: command.clone(),
            message,
        };
        let op = match ipvsadm::parse(&argv, false, self.names.as_ref()) {
            Err(e) => return refuse(e.message),
            Ok(Parsed::Command(Command::Apply(op))) if expected(&a.action, &op) => op,
            Ok(_) => return refuse(format!("not a {} command", a.action)),
        };
        // What "out" removes, read before it is gone, so "back" can restore it.
        let taken = match &op {
            Op::DeleteServer {
                service,
                address,
                port,
            } if a.action == "out" => {
                self.current(service, (*address, *port))
                    .map(|server| TakenOut {
                        service: *service,
                        server,
                    })
            }
            _ => None,
        };
        let answer = self.admin.request(
            Request::Apply {
                ops: vec![op.clone()],
            },
            ACTION_TIMEOUT,
        );
        match answer {
            Response::Ok => {
                let mut held = self.taken_out.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(t) = taken {
                    held.push(t);
                }
                if let Op::AddServer { service, server } = &op {
                    held.retain(|t| {
                        !(t.service == *service
                            && t.server.address == server.address
                            && t.server.port == server.port)
                    });
                }
                if let Op::DeleteService(key) = &op {
                    held.retain(|t| t.service != *key);
                }
                Outcome {
                    ok: true,
                    command,
                    message: "ok".into(),
                }
            }
            Response::Error { message } => refuse(message),
            other => refuse(format!("unexpected answer from ferrovs: {other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use admin::proto::{Counters, DestState, Listing, ServiceEntry, TimeoutsView};
    use admin::server::AdminServer;

    /// A control loop that answers listings with one NAT service and records the changes;
    /// removing port 99 and the scheduler "nosuch" are refused as the handler would.
    fn gateway(dir: &tempfile::TempDir) -> (AdminServer, std::sync::mpsc::Receiver<Vec<Op>>) {
        let server = AdminServer::bind(dir.path().join("admin.sock")).expect("bind");
        let rx = server.requests().clone();
        let (tx, seen) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            while let Ok(p) = rx.recv() {
                let resp = match p.request {
                    Request::List(_) => Response::Listing(listing()),
                    Request::Apply { ops } => {
                        let refuse = match &ops[0] {
                            Op::DeleteServer { port: 99, .. } => Some("No such destination"),
                            Op::AddService(s) if s.scheduler == "nosuch" => {
                                Some("Scheduler or persistence engine not found")
                            }
                            _ => None,
                        };
                        let _ = tx.send(ops);
                        if let Some(m) = refuse {
                            Response::error(m)
                        } else {
                            Response::Ok
                        }
                    }
                    _ => Response::error("not here"),
                };
                p.responder.respond(resp);
            }
        });
        (server, seen)
    }

    fn key() -> ServiceKey {
        ServiceKey {
            protocol: Proto::Tcp,
            vip: "198.18.1.100".parse().expect("ip"),
            port: 80,
        }
    }

    fn listing() -> Listing {
        Listing {
            conn_table_size: 4096,
            timeouts: TimeoutsView {
                tcp_s: 900,
                tcpfin_s: 120,
                udp_s: 300,
            },
            services: vec![ServiceEntry {
                key: key(),
                scheduler: "rr".into(),
                sched_flags: Vec::new(),
                persistence_s: None,
                persistence_prefix_len: 32,
                laddr_pool: None,
                counters: Counters::default(),
                real_servers: vec![DestEntry {
                    address: "198.18.2.11".parse().expect("ip"),
                    port: 8080,
                    forward: Fwd::Nat,
                    weight: 3,
                    u_threshold: 100,
                    l_threshold: 0,
                    state: DestState::default(),
                    health: None,
                }],
                syn_proxy: None,
            }],
            connections: Vec::new(),
        }
    }

    fn action(kind: &str, server: &str, weight: &str) -> Action {
        Action {
            action: kind.into(),
            protocol: "tcp".into(),
            service: "198.18.1.100:80".into(),
            server: server.into(),
            weight: weight.into(),
            ..Action::default()
        }
    }

    fn actions(server: &AdminServer) -> Actions {
        Actions::new(
            server.local_client(),
            Box::new(admin::names::NameTables::default()),
        )
    }

    #[test]
    fn test_weight_keeps_forwarding_and_thresholds() {
        let dir = tempfile::tempdir().expect("tmp");
        let (server, seen) = gateway(&dir);
        let a = actions(&server);
        let o = a.run(&action("weight", "198.18.2.11:8080", "5"));
        assert_eq!(
            o,
            Outcome {
                ok: true,
                command: "ferrovsadm -e -t 198.18.1.100:80 -r 198.18.2.11:8080 -w 5 -m -x 100"
                    .into(),
                message: "ok".into()
            }
        );
        match &seen.recv().expect("applied")[..] {
            [Op::EditServer { service, server }] => {
                assert_eq!(*service, key());
                assert_eq!(
                    (server.weight, server.forward, server.u_threshold),
                    (5, Fwd::Nat, 100)
                );
            }
            other => panic!("{other:?}"),
        }
        let o = a.run(&action("quiesce", "198.18.2.11:8080", ""));
        assert!(o.ok && o.command.contains(" -w 0 -m"), "{o:?}");
    }

    #[test]
    fn test_bad_values_get_the_grammars_message_and_change_nothing() {
        let dir = tempfile::tempdir().expect("tmp");
        let (server, seen) = gateway(&dir);
        let a = actions(&server);
        for (act, want) in [
            (
                action("weight", "198.18.2.11:8080", "70000"),
                "illegal weight specified",
            ),
            (
                action("weight", "198.18.2.11:8080", "-1"),
                "illegal weight specified",
            ),
            (
                action("weight", "198.18.2.11:8080", ""),
                "illegal weight specified",
            ),
            (
                action("remove_server", "nowhere", ""),
                "illegal real server address[:port] specified",
            ),
            (
                Action {
                    service: "198.18.1.100:99999".into(),
                    ..action("remove_service", "", "")
                },
                "illegal virtual server address[:port] specified",
            ),
            (
                Action {
                    scheduler: "nosuch".into(),
                    ..action("add_service", "", "")
                },
                "Scheduler or persistence engine not found",
            ),
        ] {
            let argv = a.argv(&act).expect("argv");
            let cli = ipvsadm::parse(&argv, false, &admin::names::NameTables::default());
            let o = a.run(&act);
            assert!(!o.ok, "{act:?}: {o:?}");
            if let Err(e) = cli {
                assert_eq!(o.message, e.message, "the CLI's message");
            }
            if !want.is_empty() {
                assert_eq!(o.message, want, "{act:?}");
            }
        }
        // The scheduler is the handler's to refuse; the grammar passed it on.
        assert!(seen
            .try_recv()
            .is_ok_and(|ops| matches!(&ops[..], [Op::AddService(_)])));
        assert!(
            seen.try_recv().is_err(),
            "nothing else reached the control loop"
        );
        let o = a.run(&action("nosuch", "", ""));
        assert_eq!(o.message, "unknown action \"nosuch\"");
        let o = a.run(&Action {
            protocol: "sctp".into(),
            ..action("remove_service", "", "")
        });
        assert_eq!(o.message, "unknown protocol \"sctp\": tcp or udp");
        // A value that would make another command is not that action.
        let o = a.run(&Action {
            service: "-C".into(),
            ..action("remove_service", "", "")
        });
        assert!(!o.ok, "{o:?}");
        assert!(seen.try_recv().is_err());
    }

    #[test]
    fn test_out_and_back_restore_the_same_settings() {
        let dir = tempfile::tempdir().expect("tmp");
        let (server, seen) = gateway(&dir);
        let a = actions(&server);
        let o = a.run(&action("back", "198.18.2.11:8080", ""));
        assert!(
            !o.ok && o.message.contains("not a real server taken out"),
            "{o:?}"
        );
        let o = a.run(&action("out", "198.18.2.11:8080", ""));
        assert!(o.ok, "{o:?}");
        assert!(matches!(
            &seen.recv().expect("op")[..],
            [Op::DeleteServer { .. }]
        ));
        assert_eq!(a.taken_out().len(), 1);
        let o = a.run(&action("back", "198.18.2.11:8080", ""));
        assert_eq!(
            o.command,
            "ferrovsadm -a -t 198.18.1.100:80 -r 198.18.2.11:8080 -w 3 -m -x 100"
        );
        assert!(o.ok, "{o:?}");
        assert!(a.taken_out().is_empty());
        // A refused removal remembers nothing.
        let o = a.run(&action("out", "198.18.2.11:99", ""));
        assert_eq!(o.message, "No such destination");
        assert!(a.taken_out().is_empty());
    }
}
