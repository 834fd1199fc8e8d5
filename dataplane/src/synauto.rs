//! `syn_proxy = "auto"`: when a worker engages the SYN proxy for a service, and when it lets
//! go. A pure state machine, stepped once a second by each worker on its own measures.
//!
//! Each worker decides alone, from what it sees: the SYNs to the service it counted in the
//! last window (a plain integer in the worker's own state, no atomics, no other worker read)
//! and the fill of its own session table of the service's family. Engage when either reaches
//! its on level; disengage when both have stayed below their off levels for `hold_s` seconds in
//! a row (hysteresis: a flood that pauses for a second, or a table hovering at the on level,
//! does not flap the proxy). RSS spreads a spoofed flood over the workers, so each worker's
//! share of the rate is what its own level is compared with.
//!
//! Switching is safe for connections in flight because the SYN proxy's state is per session
//! (`Session::FLAG_SYNPROXY`): sessions opened directly keep going directly when the proxy
//! engages, proxied ones keep their sequence translation when it lets go, and for a cookie
//! lifetime after it lets go a bare ACK is still checked against the cookies (the SYN-ACKs it
//! sent while engaged are still being answered).

/// The levels (from `[syn_proxy]`'s `auto_*` keys).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AutoLevels {
    /// SYNs a second (per worker and service) that engage the proxy.
    pub on_syn_rate: u32,
    /// SYNs a second below which it may let go.
    pub off_syn_rate: u32,
    /// Session table fill, percent, that engages it.
    pub on_table_fill: u8,
    /// Fill below which it may let go.
    pub off_table_fill: u8,
    /// Seconds both must stay below their off levels.
    pub hold_s: u32,
}

impl Default for AutoLevels {
    /// The config's defaults.
    fn default() -> Self {
        Self {
            on_syn_rate: 10_000,
            off_syn_rate: 5_000,
            on_table_fill: 75,
            off_table_fill: 50,
            hold_s: 30,
        }
    }
}

/// What one window measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Measure {
    /// SYNs a second over the window.
    pub syn_rate: u32,
    /// Session table fill, percent.
    pub table_fill: u8,
}

/// A switch of the proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Switch {
    /// It engaged.
    On,
    /// It let go.
    Off,
}

/// One service's state on one worker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AutoState {
    engaged: bool,
    /// While engaged: the second from which both measures have been below their off levels.
    calm_since: Option<u32>,
}

impl AutoState {
    /// Whether the proxy is engaged.
    #[inline]
    pub fn engaged(&self) -> bool {
        self.engaged
    }

    /// Take the measure of the window that ended at `now` (seconds); return the switch, if any.
    pub fn step(&mut self, l: &AutoLevels, now: u32, m: Measure) -> Option<Switch> {
        if !self.engaged {
            if m.syn_rate >= l.on_syn_rate || m.table_fill >= l.on_table_fill {
                self.engaged = true;
                self.calm_since = None;
                return Some(Switch::On);
            }
            return None;
        }
        if m.syn_rate >= l.off_syn_rate || m.table_fill >= l.off_table_fill {
            self.calm_since = None;
            return None;
        }
        let since = *self.calm_since.get_or_insert(now);
        if now.wrapping_sub(since) >= l.hold_s {
            *self = Self::default();
            return Some(Switch::Off);
        }
        None
    }
}

/// Percent of `cap` that `len` fills (0 for an empty table of no capacity), at most 100.
pub fn fill_percent(len: usize, cap: usize) -> u8 {
    if cap == 0 {
        return 0;
    }
    (len.saturating_mul(100) / cap).min(100) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: AutoLevels = AutoLevels {
        on_syn_rate: 1000,
        off_syn_rate: 400,
        on_table_fill: 80,
        off_table_fill: 60,
        hold_s: 5,
    };

    fn m(syn_rate: u32, table_fill: u8) -> Measure {
        Measure {
            syn_rate,
            table_fill,
        }
    }

    #[test]
    fn test_the_rate_engages_and_the_hold_lets_go() {
        let mut s = AutoState::default();
        assert_eq!(s.step(&L, 0, m(999, 0)), None, "just below the on level");
        assert!(!s.engaged());
        assert_eq!(s.step(&L, 1, m(1000, 0)), Some(Switch::On));
        assert!(s.engaged());
        // Between the levels: stays on however long.
        for t in 2..100 {
            assert_eq!(s.step(&L, t, m(500, 0)), None);
            assert!(s.engaged());
        }
        // Below the off level: off only after hold_s seconds in a row.
        for t in 100..105 {
            assert_eq!(s.step(&L, t, m(399, 0)), None, "second {t}");
        }
        assert_eq!(s.step(&L, 105, m(0, 0)), Some(Switch::Off));
        assert!(!s.engaged());
        assert_eq!(
            s.step(&L, 106, m(500, 0)),
            None,
            "between the levels: stays off"
        );
    }

    #[test]
    fn test_a_burst_in_the_calm_restarts_the_hold() {
        let mut s = AutoState::default();
        assert_eq!(s.step(&L, 0, m(5000, 0)), Some(Switch::On));
        for t in 1..5 {
            assert_eq!(s.step(&L, t, m(0, 0)), None);
        }
        // One second back above the off level (not the on level): the calm starts again.
        assert_eq!(s.step(&L, 5, m(400, 0)), None);
        for t in 6..11 {
            assert_eq!(s.step(&L, t, m(0, 0)), None, "second {t}");
        }
        assert_eq!(s.step(&L, 11, m(0, 0)), Some(Switch::Off));
    }

    #[test]
    fn test_the_table_fill_engages_and_holds_alone() {
        let mut s = AutoState::default();
        assert_eq!(s.step(&L, 0, m(0, 79)), None);
        assert_eq!(s.step(&L, 1, m(0, 80)), Some(Switch::On));
        // A low SYN rate does not let go while the table is above its off level.
        for t in 2..50 {
            assert_eq!(s.step(&L, t, m(0, 60)), None);
        }
        for t in 50..55 {
            assert_eq!(s.step(&L, t, m(0, 59)), None);
        }
        assert_eq!(s.step(&L, 55, m(0, 59)), Some(Switch::Off));
        // And a rate between the levels keeps it on even with an empty table.
        assert_eq!(s.step(&L, 56, m(0, 100)), Some(Switch::On));
        for t in 57..70 {
            assert_eq!(s.step(&L, t, m(401, 0)), None);
        }
        assert!(s.engaged());
    }

    #[test]
    fn test_the_clock_may_wrap() {
        let mut s = AutoState::default();
        assert_eq!(s.step(&L, u32::MAX - 2, m(2000, 0)), Some(Switch::On));
        assert_eq!(s.step(&L, u32::MAX - 1, m(0, 0)), None);
        assert_eq!(s.step(&L, 2, m(0, 0)), None);
        assert_eq!(s.step(&L, 3, m(0, 0)), Some(Switch::Off));
    }

    #[test]
    fn test_fill_percent() {
        assert_eq!(fill_percent(0, 0), 0);
        assert_eq!(fill_percent(3071, 4096), 74);
        assert_eq!(fill_percent(3072, 4096), 75);
        assert_eq!(fill_percent(4096, 4096), 100);
        assert_eq!(fill_percent(usize::MAX, 4096), 100);
    }
}
