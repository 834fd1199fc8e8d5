//! The announce state machine: per VIP, whether it is announce-worthy now (from the health
//! verdicts and weights) in, announced / withdrawn out, damped by `rise` and `hold_down`.
//!
//! Pure: no clock, no I/O. The caller passes the time with every input, applies the
//! [`Change`]s it gets back (the route table, a log line, metrics) and calls [`Announcer::tick`]
//! when [`Announcer::next_due`] comes. Rules:
//! - a withdrawal is never delayed: a VIP that stops being worthy, or every VIP when the
//!   gateway is drained, is withdrawn by the same call;
//! - a worthy VIP is announced once it has been worthy without a break for `rise`, and, after
//!   a withdrawal for health, once `hold_down` has passed since that withdrawal (a health check
//!   flapping faster than that moves the route once per `hold_down`);
//! - a withdrawal for a drain starts no hold-down: `--undrain` announces at once.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

use crate::ha::At;

/// The damping of announcements.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timing {
    /// How long a VIP must stay worthy before it is announced.
    pub rise: Duration,
    /// How long a VIP withdrawn for health stays withdrawn.
    pub hold_down: Duration,
}

/// Whether a VIP deserves to be announced, and why, for the log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Worth {
    /// At least one real server of a service on the VIP is up with weight > 0.
    pub worthy: bool,
    /// Why, in words ("2 of 3 real servers up with weight > 0").
    pub why: String,
}

/// One VIP announced or withdrawn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The VIP.
    pub vip: IpAddr,
    /// Announced from now on (false: withdrawn).
    pub announced: bool,
    /// Why, for the log line.
    pub why: String,
}

/// A VIP as listings and metrics show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// The VIP.
    pub vip: IpAddr,
    /// Announced now.
    pub announced: bool,
    /// Worthy now (announced or waiting for `rise` / `hold_down`, unless drained).
    pub worthy: bool,
    /// Since when it is announced or withdrawn.
    pub since: SystemTime,
    /// Announcements and withdrawals so far.
    pub transitions: u64,
    /// The last reason.
    pub why: String,
}

#[derive(Clone, Debug)]
struct Entry {
    worthy: bool,
    worthy_since: Instant,
    announced: bool,
    since: SystemTime,
    /// When it was last withdrawn for health (starts the hold-down).
    withdrawn_at: Option<Instant>,
    transitions: u64,
    why: String,
}

/// Every configured VIP's announcement (see the module documentation).
#[derive(Clone, Debug)]
pub struct Announcer {
    timing: Timing,
    entries: BTreeMap<IpAddr, Entry>,
    drained: bool,
    transitions: u64,
}

impl Announcer {
    /// Nothing announced, nothing known yet.
    pub fn new(timing: Timing) -> Self {
        Self {
            timing,
            entries: BTreeMap::new(),
            drained: false,
            transitions: 0,
        }
    }

    /// Take new damping (a reload); return what changes at once.
    pub fn set_timing(&mut self, timing: Timing, now: At) -> Vec<Change> {
        self.timing = timing;
        self.tick(now)
    }

    /// Take the worth of every configured VIP now (after a health verdict, a weight change, a
    /// reload); VIPs missing from `worth` are no longer configured and are withdrawn and
    /// forgotten. Return the changes.
    pub fn update(&mut self, worth: &BTreeMap<IpAddr, Worth>, now: At) -> Vec<Change> {
        let mut out = Vec::new();
        let gone: Vec<IpAddr> = self
            .entries
            .keys()
            .filter(|v| !worth.contains_key(v))
            .copied()
            .collect();
        for vip in gone {
            if self.entries.remove(&vip).is_some_and(|e| e.announced) {
                self.transitions += 1;
                out.push(Change {
                    vip,
                    announced: false,
                    why: "no longer in [announce]".to_owned(),
                });
            }
        }
        for (&vip, w) in worth {
            let e = self.entries.entry(vip).or_insert_with(|| Entry {
                worthy: false,
                worthy_since: now.mono,
                announced: false,
                since: now.wall,
                withdrawn_at: None,
                transitions: 0,
                why: w.why.clone(),
            });
            if w.worthy && !e.worthy {
                e.worthy_since = now.mono;
            }
            e.worthy = w.worthy;
            e.why.clone_from(&w.why);
        }
        out.extend(self.tick(now));
        out
    }

    /// Drain (withdraw everything, announce nothing) or undrain; return the changes.
    pub fn set_drained(&mut self, drained: bool, now: At) -> Vec<Change> {
        self.drained = drained;
        self.tick(now)
    }

    /// Whether the gateway is drained.
    pub fn drained(&self) -> bool {
        self.drained
    }

    /// Apply the rules at `now` (timers that came due); return the changes.
    pub fn tick(&mut self, now: At) -> Vec<Change> {
        let mut out = Vec::new();
        let (timing, drained) = (self.timing, self.drained);
        for (&vip, e) in &mut self.entries {
            let why = if drained {
                "drained".to_owned()
            } else {
                e.why.clone()
            };
            if e.announced && (drained || !e.worthy) {
                e.announced = false;
                e.since = now.wall;
                if !drained {
                    e.withdrawn_at = Some(now.mono);
                }
                e.transitions += 1;
                out.push(Change {
                    vip,
                    announced: false,
                    why,
                });
            } else if !e.announced && !drained && e.worthy && due(e, timing) <= now.mono {
                e.announced = true;
                e.since = now.wall;
                e.transitions += 1;
                out.push(Change {
                    vip,
                    announced: true,
                    why,
                });
            }
        }
        self.transitions += out.len() as u64;
        out
    }

    /// When a worthy VIP waiting for `rise` or `hold_down` comes due, if one does.
    pub fn next_due(&self) -> Option<Instant> {
        if self.drained {
            return None;
        }
        self.entries
            .values()
            .filter(|e| e.worthy && !e.announced)
            .map(|e| due(e, self.timing))
            .min()
    }

    /// The VIPs announced now, in address order.
    pub fn announced(&self) -> Vec<IpAddr> {
        self.entries
            .iter()
            .filter(|(_, e)| e.announced)
            .map(|(v, _)| *v)
            .collect()
    }

    /// Every configured VIP with its state, in address order.
    pub fn rows(&self) -> Vec<Row> {
        self.entries
            .iter()
            .map(|(&vip, e)| Row {
                vip,
                announced: e.announced,
                worthy: e.worthy,
                since: e.since,
                transitions: e.transitions,
                why: e.why.clone(),
            })
            .collect()
    }

    /// Announcements and withdrawals so far, all VIPs together.
    pub fn transitions(&self) -> u64 {
        self.transitions
    }
}

/// When a worthy, withdrawn entry may be announced.
fn due(e: &Entry, t: Timing) -> Instant {
    let rise = e.worthy_since + t.rise;
    e.withdrawn_at.map_or(rise, |w| rise.max(w + t.hold_down))
}

#[cfg(test)]
mod tests;
