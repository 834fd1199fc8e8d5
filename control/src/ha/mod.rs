//! Director HA: which VIPs and local addresses this gateway owns, followed from the kernel.
//!
//! ferrovs does not speak VRRP (DESIGN §8). Debian's keepalived runs on the box in VRRP-only
//! mode and speaks VRRP through the exception-path TAPs; its `virtual_ipaddress` entries land
//! on those TAPs as kernel addresses. This module follows them:
//!
//! - [`watcher`] reads the TAPs' addresses over rtnetlink (`netlink-packet-route` on a plain
//!   blocking `netlink-sys` socket, on a thread of its own): a dump at start, then address and
//!   link notifications, as [`Event`]s on a channel. Messages it does not expect are ignored
//!   and counted; a lost notification (socket overrun) makes it dump again.
//! - [`state`] turns the events into owned / not owned per followed address ([`Ownership`],
//!   pure and unit-tested) and schedules the announcements: `garp_repeat` gratuitous ARPs /
//!   unsolicited NAs on becoming owned, a second burst after `garp_delay`, a refresh every
//!   `garp_refresh` (keepalived's `vrrp_garp_master_*`).
//!
//! Control publishes the not-owned set in the snapshot: while an address is not owned the
//! gateway answers no ARP/ND for it and announces nothing; frames that still arrive for it are
//! forwarded (a switch may lag behind a failover) and counted by the workers.

pub mod state;
pub mod watcher;

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use config::{Config, HaMode};

pub use state::{Announce, At, Ownership, Row, Transition};
pub use watcher::WatchCounts;

/// An exception-path TAP and the gateway port it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tap {
    /// The kernel interface name.
    pub name: String,
    /// The gateway port index.
    pub port: u8,
}

/// When to announce an address that became owned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Garp {
    /// Gratuitous ARPs / unsolicited NAs per burst.
    pub repeat: u32,
    /// Delay of the second burst (zero: none).
    pub delay: Duration,
    /// Interval of single refreshes while owned (zero: none).
    pub refresh: Duration,
}

/// What HA follows, from the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The followed addresses, sorted.
    pub followed: Vec<IpAddr>,
    /// The exception-path TAPs, in port order.
    pub taps: Vec<Tap>,
    /// Announcements.
    pub garp: Garp,
}

impl Settings {
    /// The settings of `cfg`; `None` when it has no HA (`mode = "none"`).
    pub fn from_config(cfg: &Config) -> Option<Self> {
        if cfg.ha.mode == HaMode::None {
            return None;
        }
        let taps = cfg
            .ports
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                Some(Tap {
                    name: p.exception_path.clone()?,
                    port: u8::try_from(i).ok()?,
                })
            })
            .collect();
        Some(Self {
            followed: cfg.ha_followed(),
            taps,
            garp: Garp {
                repeat: cfg.ha.garp_repeat,
                delay: Duration::from_secs(u64::from(cfg.ha.garp_delay_s)),
                refresh: Duration::from_secs(u64::from(cfg.ha.garp_refresh_s)),
            },
        })
    }

    /// Return the port of the TAP named `ifname`, if it is one of ours.
    pub fn port_of(&self, ifname: &str) -> Option<u8> {
        self.taps.iter().find(|t| t.name == ifname).map(|t| t.port)
    }
}

/// An address the kernel has on an interface.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KernelAddr {
    /// The interface's name.
    pub ifname: String,
    /// The address.
    pub addr: IpAddr,
}

/// What the kernel says about interface addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Every address on every interface now (at start, and after lost notifications).
    Dump(Vec<KernelAddr>),
    /// An address was added.
    Added(KernelAddr),
    /// An address was removed.
    Removed(KernelAddr),
    /// An interface was deleted (its addresses with it).
    LinkGone(String),
}

/// HA as it is now, for listings (`ferrovsadm -L --ha`) and metrics: control builds it after
/// every change and hands copies to the threads that show it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Every followed address, in address order.
    pub rows: Vec<Row>,
    /// Ownership changes so far.
    pub transitions: u64,
    /// When ownership last changed.
    pub last_change: Option<SystemTime>,
    /// Whether the kernel's addresses have been read (nothing is owned before).
    pub synced: bool,
    /// What the watcher counted.
    pub watch: WatchCounts,
    /// Why the watcher cannot follow the kernel now, if it cannot.
    pub problem: Option<String>,
}

impl Ownership {
    /// Return the report of this state, with the watcher's counts and problem.
    pub fn report(&self, watch: WatchCounts, problem: Option<String>) -> Report {
        Report {
            rows: self.rows(),
            transitions: self.transitions(),
            last_change: self.last_change(),
            synced: self.synced(),
            watch,
            problem,
        }
    }
}
