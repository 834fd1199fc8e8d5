//! The seam between the admin protocol and the running gateway.
//!
//! The gateway's control plane (`control::plane::Control`) implements [`AdminState`] (what it
//! runs, how to swap in a new configuration, its counters) and calls [`handle`] for every request
//! its control loop takes from [`crate::server::AdminServer::requests`]. `handle` does all of
//! ipvsadm's semantics: it applies a batch of operations to a copy of the running configuration,
//! validates the result, and only then calls [`AdminState::commit`], so a refused command changes
//! nothing.
//!
//! Wiring, in the gateway's control loop:
//!
//! ```ignore
//! let admin = admin::server::AdminServer::bind(&cfg.control.admin_socket)?; // at start
//! // ... the control loop waits on the requests with its other sources:
//! crossbeam_channel::select! {
//!     recv(admin.requests()) -> p => if let Ok(p) = p {
//!         let response = admin::handler::handle(&mut gateway_state, p.request);
//!         p.responder.respond(response);
//!     },
//!     // ... health verdicts, timers
//! }
//! // dropping `admin` at shutdown removes the socket
//! ```

use config::{Config, RealServer, Service};

use crate::apply::{self, E_NO_SUCH_SERVICE};
use crate::daemon::{self, DaemonError};
use crate::proto::{
    AnnounceListing, ConnEntry, Counters, DestHealth, DestState, HaListing, ListQuery, Listing,
    Request, Response, ServiceKey, SynProxyState, TimeoutsView,
};

/// What the admin API needs from the running gateway.
pub trait AdminState {
    /// The configuration running now.
    fn config(&self) -> &Config;

    /// Make `new` (already validated, boot-only keys unchanged) the running configuration:
    /// build its snapshot and swap it in on every worker, as a file reload does. On `Err` the
    /// running configuration must stay; the text is shown to the user.
    ///
    /// # Errors
    ///
    /// Why the configuration could not be put in service.
    fn commit(&mut self, new: Config) -> Result<(), String>;

    /// Re-read the configuration file and apply it (`ferrovsadm --reload`, like SIGHUP).
    ///
    /// # Errors
    ///
    /// Why the reload was refused (parse errors, boot-only changes); nothing changed then.
    fn reload(&mut self) -> Result<u64, String>;

    /// Counters and rates of a configured service (zeros if it has seen no traffic).
    fn service_counters(&self, svc: &Service) -> Counters;

    /// Connections, counters and rates of one real server of `svc`.
    fn dest_state(&self, svc: &Service, rs: &RealServer) -> DestState;

    /// The session table as connection entries (`ipvsadm -L -c`).
    fn connections(&self) -> Vec<ConnEntry>;

    /// Zero the counters (and rates) of `svc` and its real servers, or of everything if `None`.
    fn zero(&mut self, svc: Option<&Service>);

    /// The `size=` shown in listing headers; ipvsadm shows the kernel connection hash size.
    /// ferrovs suggests the per-worker session table capacity.
    fn conn_table_size(&self) -> u32;

    /// The health-check state of one real server of `svc` (`-L --health`); `None` when the
    /// gateway cannot tell (the listing then prints `n/a`).
    fn dest_health(&self, svc: &Service, rs: &RealServer) -> Option<DestHealth> {
        let _ = (svc, rs);
        None
    }

    /// The SYN proxy of `svc` over the workers (`-L --syn-proxy`, the console); `None` when
    /// the gateway cannot tell (the listing then prints `n/a`).
    fn syn_proxy(&self, svc: &Service) -> Option<SynProxyState> {
        let _ = svc;
        None
    }

    /// Director HA's state (`-L --ha`); `None` when the gateway cannot tell.
    fn ha(&self) -> Option<HaListing> {
        None
    }

    /// Whether the gateway is healthy and ready to own addresses (`--ready`, for keepalived's
    /// `vrrp_script`): `Ok` with what was checked, or `Err` with the first thing wrong.
    ///
    /// # Errors
    ///
    /// The reason, one line.
    fn ready(&mut self) -> Result<String, String> {
        Err("this gateway does not report readiness".into())
    }

    /// Whether session sync can run here, so the sync-daemon commands can change `[sync]`
    /// (`Ok`), or why not. A gateway without it lists no daemon and refuses to start one.
    ///
    /// # Errors
    ///
    /// Why session sync cannot run on this gateway, one line.
    fn sync_available(&self) -> Result<(), String> {
        Err("session sync is not available from this gateway".into())
    }

    /// The ECMP announcements (`-L --announce`); `None` without `[announce]`.
    fn announce(&self) -> Option<AnnounceListing> {
        None
    }

    /// Withdraw every VIP and keep forwarding (`--drain`), or announce again (`--undrain`);
    /// return the announcements after it.
    ///
    /// # Errors
    ///
    /// Why not (no `[announce]`, a stop under way), one line.
    fn drain(&mut self, drained: bool) -> Result<AnnounceListing, String> {
        let _ = drained;
        Err("this gateway does not announce VIPs".into())
    }
}

fn find<'a>(cfg: &'a Config, key: &ServiceKey) -> Option<&'a Service> {
    cfg.services.iter().find(|s| s.key() == *key)
}

/// Build the listing `q` asks for from `state`.
///
/// # Errors
///
/// "No such service" when `q.service` names no configured service.
pub fn listing(state: &dyn AdminState, q: &ListQuery) -> Result<Listing, String> {
    let cfg = state.config();
    let services: Vec<&Service> = match &q.service {
        Some(key) => vec![find(cfg, key).ok_or_else(|| E_NO_SUCH_SERVICE.to_owned())?],
        None => cfg.services.iter().collect(),
    };
    Ok(Listing {
        conn_table_size: state.conn_table_size(),
        timeouts: TimeoutsView::from(cfg.timeouts),
        services: services
            .into_iter()
            .map(|s| {
                let mut e = crate::proto::service_entry(s, state.service_counters(s), |rs| {
                    state.dest_state(s, rs)
                });
                for (d, rs) in e.real_servers.iter_mut().zip(&s.real_servers) {
                    d.health = state.dest_health(s, rs);
                }
                e.syn_proxy = state.syn_proxy(s);
                e
            })
            .collect(),
        connections: if q.connections {
            state.connections()
        } else {
            Vec::new()
        },
    })
}

/// Apply a sync-daemon command to the running `[sync]` and commit the result.
fn change_sync(
    state: &mut dyn AdminState,
    f: impl FnOnce(&Config) -> Result<Config, DaemonError>,
) -> Response {
    if let Err(why) = state.sync_available() {
        return Response::error(why);
    }
    let new = match f(state.config()).map_err(|e| e.to_string()) {
        Ok(c) => apply::validate(&c).map_err(|e| e.message),
        Err(e) => Err(e),
    };
    match new.and_then(|c| state.commit(c)) {
        Ok(()) => Response::Ok,
        Err(e) => Response::error(e),
    }
}

/// Serve one request against the running gateway.
pub fn handle(state: &mut dyn AdminState, req: Request) -> Response {
    match req {
        Request::Apply { ops } => match apply::apply_all(state.config(), &ops) {
            Err(e) => Response::error(e.message),
            Ok(new) => {
                if &new == state.config() {
                    // Nothing changed (e.g. --set 0 0 0): no snapshot rebuild.
                    return Response::Ok;
                }
                // ipvsadm operations only touch services and timeouts; this guards the promise
                // made to `commit` should an operation ever reach further.
                let boot = state.config().boot_only_diff(&new);
                if !boot.is_empty() {
                    return Response::error(format!(
                        "refused: the change touches boot-only settings ({})",
                        boot.join("; ")
                    ));
                }
                match state.commit(new) {
                    Ok(()) => Response::Ok,
                    Err(e) => Response::error(e),
                }
            }
        },
        Request::Zero { service } => match service {
            None => {
                state.zero(None);
                Response::Ok
            }
            Some(key) => {
                let Some(svc) = find(state.config(), &key).cloned() else {
                    return Response::error(E_NO_SUCH_SERVICE);
                };
                state.zero(Some(&svc));
                Response::Ok
            }
        },
        Request::List(q) => match listing(state, &q) {
            Ok(l) => Response::Listing(l),
            Err(e) => Response::error(e),
        },
        Request::Reload => match state.reload() {
            Ok(generation) => Response::Reloaded { generation },
            Err(e) => Response::error(e),
        },
        Request::GetConfig => Response::Config {
            toml: state.config().to_toml_redacted(),
        },
        Request::Ha => match state.ha() {
            Some(l) => Response::Ha(l),
            None => Response::error("director HA state not available from this gateway"),
        },
        Request::StartDaemon(spec) => change_sync(state, |cfg| daemon::start(cfg, &spec)),
        Request::StopDaemon { state: s } => change_sync(state, |cfg| daemon::stop(cfg, s)),
        Request::Daemons => Response::Daemons {
            daemons: if state.sync_available().is_ok() {
                daemon::running(state.config())
            } else {
                Vec::new()
            },
        },
        Request::Announce => match state.announce() {
            Some(l) => Response::Announce(l),
            None => Response::error(
                "nothing is announced: the configuration has no [announce] (docs/ecmp.md)",
            ),
        },
        Request::Drain { drained } => match state.drain(drained) {
            Ok(l) => Response::Announce(l),
            Err(e) => Response::error(e),
        },
        Request::Laddrs { service } => {
            let conns = state.connections();
            match crate::laddr::listing(state.config(), service.as_ref(), &conns) {
                Ok(services) => Response::Laddrs { services },
                Err(e) => Response::error(e),
            }
        }
        Request::Ready => match state.ready() {
            Ok(reason) => Response::Ready {
                ready: true,
                reason,
            },
            Err(reason) => Response::Ready {
                ready: false,
                reason,
            },
        },
    }
}
