//! ECMP scale-out: the VIP host routes BIRD announces (issue 16, `docs/ecmp.md`).
//!
//! ferrovs does not speak BGP (DESIGN §8). Debian's BIRD 2 runs on the box and speaks BGP and
//! BFD to the upstream routers through the exception-path TAPs; ferrovs tells it what to
//! announce by keeping one host route per announce-worthy VIP in a kernel routing table of its
//! own (`[announce] table`), which BIRD's kernel protocol learns and its BGP export filter
//! offers (`examples/bird.conf`). The parts:
//!
//! - [`worth`]: whether each configured VIP is announce-worthy now: at least one real server
//!   of a service on it has weight > 0 and is up (or unchecked);
//! - [`state`]: the announce state machine (pure, unit-tested): rise, hold-down and drain;
//! - [`table`]: the route table over rtnetlink (`netlink-packet-route` on a blocking socket);
//! - [`bird`]: whether a BIRD answers on its control socket (reported, never acted on).
//!
//! Control re-evaluates the worth after every health verdict, admin change and reload, and
//! syncs the table after every change and once a second (a route deleted by hand, or flushed
//! by the kernel with its interface, comes back).

pub mod bird;
pub mod state;
pub mod table;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use config::Config;

use crate::health::BackendHealth;
pub use state::{Announcer, Change, Row, Timing, Worth};

/// What `[announce]` asks for, from the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The kernel routing table.
    pub table: u32,
    /// Each announced VIP with the interface its route points at (`None`: no interface found).
    pub vips: Vec<(IpAddr, Option<String>)>,
    /// Damping.
    pub timing: Timing,
    /// How long SIGTERM keeps forwarding after withdrawing.
    pub drain: Duration,
    /// BIRD's control socket.
    pub bird_socket: String,
}

impl Settings {
    /// The settings of `cfg`; `None` without `[announce]`.
    pub fn from_config(cfg: &Config) -> Option<Self> {
        let a = cfg.announce.as_ref()?;
        Some(Self {
            table: a.table,
            vips: cfg
                .announced_vips()
                .into_iter()
                .map(|v| (v, cfg.announce_device(v).map(str::to_owned)))
                .collect(),
            timing: Timing {
                rise: Duration::from_secs(u64::from(a.rise_s)),
                hold_down: Duration::from_secs(u64::from(a.hold_down_s)),
            },
            drain: Duration::from_secs(u64::from(a.drain_s)),
            bird_socket: a.bird_socket.clone(),
        })
    }

    /// The interface of `vip`'s route.
    pub fn device(&self, vip: IpAddr) -> Option<&str> {
        self.vips
            .iter()
            .find(|(v, _)| *v == vip)
            .and_then(|(_, d)| d.as_deref())
    }
}

/// Whether each VIP of `settings` is announce-worthy in `cfg` with the verdicts of `health`
/// (service index, real server index), and why.
pub fn worth(
    cfg: &Config,
    settings: &Settings,
    health: &dyn Fn(usize, usize) -> BackendHealth,
) -> BTreeMap<IpAddr, Worth> {
    settings
        .vips
        .iter()
        .map(|&(vip, _)| {
            let (mut total, mut up) = (0usize, 0usize);
            for (si, svc) in cfg.services.iter().enumerate() {
                if svc.vip != vip {
                    continue;
                }
                for (ri, rs) in svc.real_servers.iter().enumerate() {
                    total += 1;
                    let alive =
                        matches!(health(si, ri), BackendHealth::Up | BackendHealth::Unchecked);
                    if alive && rs.weight > 0 {
                        up += 1;
                    }
                }
            }
            let why = if up > 0 {
                format!("{up} of {total} real servers up with weight > 0")
            } else if total == 0 {
                "no real server".to_owned()
            } else {
                format!("none of {total} real servers up with weight > 0")
            };
            (
                vip,
                Worth {
                    worthy: up > 0,
                    why,
                },
            )
        })
        .collect()
}

/// The announcements as they are now, for listings (`ferrovsadm -L --announce`) and metrics:
/// control builds it after every change and hands copies to the threads that show it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// The kernel routing table.
    pub table: u32,
    /// Every configured VIP, in address order.
    pub rows: Vec<Row>,
    /// The interface of each VIP's route, in the order of `rows`.
    pub devices: Vec<Option<String>>,
    /// Whether the gateway is drained.
    pub drained: bool,
    /// When the drain of a stop ends, if the gateway is stopping.
    pub stopping_at: Option<SystemTime>,
    /// Why the table is not as wanted now, if it is not (one line).
    pub problem: Option<String>,
    /// Routes in the table that are not ferrovs's.
    pub foreign: Vec<String>,
    /// Table syncs that changed or failed something.
    pub repairs: u64,
    /// Table syncs that failed.
    pub errors: u64,
    /// Whether BIRD answers on its control socket.
    pub bird_up: bool,
    /// Why it does not, if it does not.
    pub bird_problem: Option<String>,
    /// BIRD's control socket.
    pub bird_socket: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: &str = r#"
[[port]]
name = "eth0"
device = "net_null0"
addresses = ["198.18.1.1/24"]
exception_path = { tap = "tap0" }

[[service]]
vip = "198.18.1.100"
port = 80
[[service.real_server]]
address = "198.18.1.11"
[[service.real_server]]
address = "198.18.1.12"
weight = 0

[[service]]
vip = "198.18.1.100"
port = 443
[[service.real_server]]
address = "198.18.1.13"

[[service]]
vip = "198.18.1.101"
port = 80
[[service.real_server]]
address = "198.18.1.11"

[announce]
table = 100
rise = 2
hold_down = 7
"#;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn settings_name_each_vip_with_its_tap() {
        let cfg = config::parse(CFG, "t.toml").expect("valid");
        let s = Settings::from_config(&cfg).expect("[announce]");
        assert_eq!(s.table, 100);
        assert_eq!(
            s.vips,
            [
                (ip("198.18.1.100"), Some("tap0".to_owned())),
                (ip("198.18.1.101"), Some("tap0".to_owned()))
            ]
        );
        assert_eq!(s.timing.rise, Duration::from_secs(2));
        assert_eq!(s.timing.hold_down, Duration::from_secs(7));
        assert_eq!(s.drain, Duration::from_secs(10));
    }

    #[test]
    fn a_vip_is_worthy_while_one_server_of_any_of_its_services_is_up_with_weight() {
        let cfg = config::parse(CFG, "t.toml").expect("valid");
        let s = Settings::from_config(&cfg).expect("[announce]");
        let down = BackendHealth::Down { inhibit: false };
        // Everything up: both worthy.
        let w = worth(&cfg, &s, &|_, _| BackendHealth::Up);
        assert!(w.values().all(|w| w.worthy));
        assert_eq!(
            w[&ip("198.18.1.100")].why,
            "2 of 3 real servers up with weight > 0"
        );
        // The :80 server with weight is down; the :443 one carries the VIP.
        let w = worth(&cfg, &s, &|si, ri| {
            if (si, ri) == (0, 0) {
                down
            } else {
                BackendHealth::Up
            }
        });
        assert!(w[&ip("198.18.1.100")].worthy);
        // Only the weight-0 server is up: not worthy, whatever its health.
        let w = worth(&cfg, &s, &|si, ri| {
            if (si, ri) == (0, 1) {
                BackendHealth::Up
            } else {
                down
            }
        });
        assert_eq!(
            w[&ip("198.18.1.100")],
            Worth {
                worthy: false,
                why: "none of 3 real servers up with weight > 0".into()
            }
        );
        assert!(!w[&ip("198.18.1.101")].worthy);
        // Inhibited (weight 0 while down) is down; unchecked is up.
        let w = worth(&cfg, &s, &|_, _| BackendHealth::Down { inhibit: true });
        assert!(w.values().all(|w| !w.worthy));
        let w = worth(&cfg, &s, &|_, _| BackendHealth::Unchecked);
        assert!(w.values().all(|w| w.worthy));
    }
}
