//! The ownership state machine: the kernel's address events in, owned / not owned per followed
//! address out, with the announcements (gratuitous ARP / unsolicited NA) each change calls for.
//!
//! Pure: no clock, no I/O. The caller passes the time ([`At`]) with every input, applies the
//! [`Transition`]s it gets back (snapshot, log line, metrics) and sends what [`Ownership::due`]
//! returns. An address is owned while the kernel has it on at least one exception-path TAP;
//! until the first dump arrives nothing is owned (answering ARP for an address the peer may
//! hold is the split brain HA exists to avoid).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

use super::{Event, KernelAddr, Settings};

/// A moment, on both clocks: monotonic for timers, wall for "since" in listings and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct At {
    /// For scheduling.
    pub mono: Instant,
    /// For showing.
    pub wall: SystemTime,
}

impl At {
    /// Now.
    pub fn now() -> Self {
        Self {
            mono: Instant::now(),
            wall: SystemTime::now(),
        }
    }

    /// `d` later.
    #[must_use]
    pub fn after(self, d: Duration) -> Self {
        Self {
            mono: self.mono + d,
            wall: self.wall + d,
        }
    }
}

/// One followed address changed hands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    /// The address.
    pub addr: IpAddr,
    /// Owned from now on.
    pub owned: bool,
    /// The TAP that has it (when owned).
    pub tap: Option<String>,
    /// Why, for the log line.
    pub why: String,
}

/// Gratuitous ARPs (IPv4) or unsolicited neighbour advertisements (IPv6) to send now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announce {
    /// The address announced.
    pub addr: IpAddr,
    /// The gateway port to send them on (the one whose TAP has the address).
    pub port: u8,
    /// How many.
    pub count: u32,
}

/// Where an owned address is in its announcement schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// The burst on becoming owned.
    First,
    /// The burst `garp_delay` later.
    Second,
    /// One every `garp_refresh`.
    Refresh,
}

/// One followed address.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    owned: bool,
    since: SystemTime,
    tap: Option<String>,
    next: Option<(Instant, Phase)>,
}

/// A followed address as listings show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// The address.
    pub addr: IpAddr,
    /// Owned now.
    pub owned: bool,
    /// Since when (the last change, or the start).
    pub since: SystemTime,
    /// The TAP that has it (when owned).
    pub tap: Option<String>,
}

/// The ownership of every followed address (see the module documentation).
#[derive(Clone, Debug)]
pub struct Ownership {
    settings: Settings,
    entries: BTreeMap<IpAddr, Entry>,
    /// Every address the kernel has on a TAP (followed or not, so that a reload that adds an
    /// address knows at once), and on which TAPs.
    present: BTreeMap<IpAddr, BTreeSet<String>>,
    /// Whether a dump arrived: before it, the kernel's state is unknown.
    synced: bool,
    transitions: u64,
    last_change: Option<SystemTime>,
}

impl Ownership {
    /// Follow `settings.followed`, nothing owned until the first [`Event::Dump`].
    pub fn new(settings: Settings, now: At) -> Self {
        let entries = settings
            .followed
            .iter()
            .map(|&a| (a, Entry::not_owned(now.wall)))
            .collect();
        Self {
            settings,
            entries,
            present: BTreeMap::new(),
            synced: false,
            transitions: 0,
            last_change: None,
        }
    }

    /// Return the settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Apply one event from the kernel; return the ownership changes it caused.
    pub fn apply(&mut self, ev: Event, now: At) -> Vec<Transition> {
        match ev {
            Event::Dump(addrs) => {
                self.present.clear();
                for KernelAddr { ifname, addr } in addrs {
                    if self.is_tap(&ifname) {
                        self.present.entry(addr).or_default().insert(ifname);
                    }
                }
                self.synced = true;
                self.settle(now, "the kernel's addresses read")
            }
            Event::Added(KernelAddr { ifname, addr }) => {
                if !self.is_tap(&ifname) {
                    return Vec::new();
                }
                self.present.entry(addr).or_default().insert(ifname.clone());
                self.settle(now, &format!("added to {ifname}"))
            }
            Event::Removed(KernelAddr { ifname, addr }) => {
                if let Some(taps) = self.present.get_mut(&addr) {
                    taps.remove(&ifname);
                    if taps.is_empty() {
                        self.present.remove(&addr);
                    }
                }
                self.settle(now, &format!("removed from {ifname}"))
            }
            Event::LinkGone(ifname) => {
                if !self.is_tap(&ifname) {
                    return Vec::new();
                }
                for taps in self.present.values_mut() {
                    taps.remove(&ifname);
                }
                self.present.retain(|_, t| !t.is_empty());
                self.settle(
                    now,
                    &format!(
                        "exception path {ifname} disappeared (keepalived cannot speak VRRP there)"
                    ),
                )
            }
        }
    }

    /// Take new settings (a reload): follow the new list, keep what the kernel told; return
    /// the changes. An address that no longer follows HA is always owned again.
    pub fn reconfigure(&mut self, settings: Settings, now: At) -> Vec<Transition> {
        let mut out = Vec::new();
        let old: Vec<IpAddr> = self.entries.keys().copied().collect();
        for a in old {
            if !settings.followed.contains(&a) {
                let e = self.entries.remove(&a);
                if e.is_some_and(|e| !e.owned) {
                    out.push(Transition {
                        addr: a,
                        owned: true,
                        tap: None,
                        why: "no longer follows HA: always owned".to_owned(),
                    });
                }
            }
        }
        for &a in &settings.followed {
            self.entries
                .entry(a)
                .or_insert_with(|| Entry::not_owned(now.wall));
        }
        self.settings = settings;
        for e in self.entries.values_mut() {
            // Announcement timers follow the new settings from the next burst on.
            if let Some((t, Phase::Refresh)) = e.next {
                e.next = refresh_after(&self.settings, t);
            }
        }
        if !out.is_empty() {
            self.count(out.len(), now);
        }
        out.extend(self.settle(now, "configuration reloaded"));
        out
    }

    /// Return the announcements due at `now` and schedule the next ones.
    pub fn due(&mut self, now: Instant) -> Vec<Announce> {
        let mut out = Vec::new();
        let g = &self.settings.garp;
        for (&addr, e) in &mut self.entries {
            let Some((t, phase)) = e.next else { continue };
            if t > now || !e.owned {
                continue;
            }
            let count = if phase == Phase::Refresh { 1 } else { g.repeat };
            if let Some(port) = e
                .tap
                .as_deref()
                .and_then(|name| self.settings.port_of(name))
            {
                if count > 0 {
                    out.push(Announce { addr, port, count });
                }
            }
            e.next = match phase {
                Phase::First if !g.delay.is_zero() => Some((t + g.delay, Phase::Second)),
                _ => refresh_after(&self.settings, t),
            };
        }
        out
    }

    /// Return when the next announcement is due, if any.
    pub fn next_due(&self) -> Option<Instant> {
        self.entries
            .values()
            .filter(|e| e.owned)
            .filter_map(|e| e.next.map(|(t, _)| t))
            .min()
    }

    /// Return whether `a` is followed and not owned now.
    pub fn is_not_owned(&self, a: IpAddr) -> bool {
        self.entries.get(&a).is_some_and(|e| !e.owned)
    }

    /// Return the followed addresses not owned now.
    pub fn not_owned(&self) -> Vec<IpAddr> {
        self.entries
            .iter()
            .filter(|(_, e)| !e.owned)
            .map(|(a, _)| *a)
            .collect()
    }

    /// Return every followed address with its state, in address order.
    pub fn rows(&self) -> Vec<Row> {
        self.entries
            .iter()
            .map(|(&addr, e)| Row {
                addr,
                owned: e.owned,
                since: e.since,
                tap: e.tap.clone(),
            })
            .collect()
    }

    /// Return the number of ownership changes so far.
    pub fn transitions(&self) -> u64 {
        self.transitions
    }

    /// Return when ownership last changed.
    pub fn last_change(&self) -> Option<SystemTime> {
        self.last_change
    }

    /// Return whether the kernel's addresses have been read.
    pub fn synced(&self) -> bool {
        self.synced
    }

    fn is_tap(&self, ifname: &str) -> bool {
        self.settings.port_of(ifname).is_some()
    }

    /// Make every entry agree with `present`; return the changes.
    fn settle(&mut self, now: At, why: &str) -> Vec<Transition> {
        let mut out = Vec::new();
        if !self.synced {
            return out;
        }
        for (&addr, e) in &mut self.entries {
            // The first TAP in port order that has it: deterministic when several do.
            let tap = self.present.get(&addr).and_then(|taps| {
                self.settings
                    .taps
                    .iter()
                    .find(|t| taps.contains(&t.name))
                    .map(|t| t.name.clone())
            });
            let owned = tap.is_some();
            if owned == e.owned {
                if owned && e.tap != tap {
                    // Moved between TAPs: announce on the new one.
                    e.tap = tap;
                    e.next = Some((now.mono, Phase::First));
                }
                continue;
            }
            e.owned = owned;
            e.since = now.wall;
            e.tap.clone_from(&tap);
            e.next = owned.then_some((now.mono, Phase::First));
            out.push(Transition {
                addr,
                owned,
                tap,
                why: why.to_owned(),
            });
        }
        if !out.is_empty() {
            self.count(out.len(), now);
        }
        out
    }

    fn count(&mut self, n: usize, now: At) {
        self.transitions += n as u64;
        self.last_change = Some(now.wall);
    }
}

impl Entry {
    fn not_owned(since: SystemTime) -> Self {
        Self {
            owned: false,
            since,
            tap: None,
            next: None,
        }
    }
}

/// The refresh after an announcement at `t`, if refreshes are on.
fn refresh_after(s: &Settings, t: Instant) -> Option<(Instant, Phase)> {
    (!s.garp.refresh.is_zero()).then(|| (t + s.garp.refresh, Phase::Refresh))
}

#[cfg(test)]
mod tests;
