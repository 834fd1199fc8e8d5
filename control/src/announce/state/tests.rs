//! The announce rules, step by step on a fake clock.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use super::{Announcer, Change, Timing, Worth};
use crate::ha::At;

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

const A: &str = "198.18.1.100";
const B: &str = "2001:2:0:1::100";

fn worth(list: &[(&str, bool)]) -> BTreeMap<IpAddr, Worth> {
    list.iter()
        .map(|&(v, w)| {
            (
                ip(v),
                Worth {
                    worthy: w,
                    why: if w { "up" } else { "down" }.to_owned(),
                },
            )
        })
        .collect()
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// (vip, announced) of each change.
fn moves(c: &[Change]) -> Vec<(IpAddr, bool)> {
    c.iter().map(|c| (c.vip, c.announced)).collect()
}

#[test]
fn without_damping_worthy_vips_are_announced_and_withdrawn_at_once() {
    let t0 = At::now();
    let mut a = Announcer::new(Timing::default());
    let c = a.update(&worth(&[(A, true), (B, false)]), t0);
    assert_eq!(moves(&c), [(ip(A), true)]);
    assert_eq!(a.announced(), [ip(A)]);
    assert_eq!(a.next_due(), None);
    let c = a.update(&worth(&[(A, false), (B, true)]), t0.after(secs(1)));
    assert_eq!(moves(&c), [(ip(A), false), (ip(B), true)]);
    assert_eq!(c[0].why, "down");
    assert_eq!(a.transitions(), 3);
    let rows = a.rows();
    assert_eq!(
        rows.iter().map(|r| r.transitions).collect::<Vec<_>>(),
        [2, 1]
    );
}

#[test]
fn rise_waits_for_an_unbroken_worthy_stretch() {
    let t0 = At::now();
    let mut a = Announcer::new(Timing {
        rise: secs(5),
        hold_down: Duration::ZERO,
    });
    assert!(a.update(&worth(&[(A, true)]), t0).is_empty());
    assert_eq!(a.next_due(), Some(t0.mono + secs(5)));
    // A break restarts the stretch.
    assert!(a
        .update(&worth(&[(A, false)]), t0.after(secs(3)))
        .is_empty());
    assert_eq!(a.next_due(), None);
    assert!(a.update(&worth(&[(A, true)]), t0.after(secs(4))).is_empty());
    assert!(a.tick(t0.after(secs(8))).is_empty(), "only 4 s worthy");
    assert_eq!(a.next_due(), Some(t0.mono + secs(9)));
    assert_eq!(moves(&a.tick(t0.after(secs(9)))), [(ip(A), true)]);
}

#[test]
fn hold_down_keeps_a_flapping_vip_withdrawn() {
    let t0 = At::now();
    let mut a = Announcer::new(Timing {
        rise: Duration::ZERO,
        hold_down: secs(10),
    });
    assert_eq!(moves(&a.update(&worth(&[(A, true)]), t0)), [(ip(A), true)]);
    // The check flaps every second: one withdrawal, then nothing until the hold-down ends.
    let mut changes = Vec::new();
    for s in 1..=10 {
        changes.extend(a.update(&worth(&[(A, s % 2 == 0)]), t0.after(secs(s))));
    }
    assert_eq!(moves(&changes), [(ip(A), false)], "withdrawn once, at 1 s");
    assert_eq!(a.next_due(), Some(t0.mono + secs(11)));
    assert!(a.tick(t0.after(secs(10))).is_empty());
    assert_eq!(moves(&a.tick(t0.after(secs(11)))), [(ip(A), true)]);
}

#[test]
fn a_drain_withdraws_everything_at_once_and_undrain_announces_without_hold_down() {
    let t0 = At::now();
    let mut a = Announcer::new(Timing {
        rise: Duration::ZERO,
        hold_down: secs(30),
    });
    a.update(&worth(&[(A, true), (B, true)]), t0);
    let c = a.set_drained(true, t0.after(secs(1)));
    assert_eq!(moves(&c), [(ip(A), false), (ip(B), false)]);
    assert!(c.iter().all(|c| c.why == "drained"));
    assert!(a.drained());
    // Health changes while drained announce nothing.
    assert!(a
        .update(&worth(&[(A, true), (B, true)]), t0.after(secs(2)))
        .is_empty());
    assert_eq!(a.next_due(), None);
    let c = a.set_drained(false, t0.after(secs(3)));
    assert_eq!(moves(&c), [(ip(A), true), (ip(B), true)]);
}

#[test]
fn a_vip_leaving_the_configuration_is_withdrawn_and_forgotten() {
    let t0 = At::now();
    let mut a = Announcer::new(Timing::default());
    a.update(&worth(&[(A, true), (B, true)]), t0);
    let c = a.update(&worth(&[(B, true)]), t0);
    assert_eq!(moves(&c), [(ip(A), false)]);
    assert_eq!(c[0].why, "no longer in [announce]");
    assert_eq!(a.rows().len(), 1);
}

#[test]
fn new_timing_applies_to_vips_waiting() {
    let t0 = At::now();
    let mut a = Announcer::new(Timing {
        rise: secs(60),
        hold_down: Duration::ZERO,
    });
    assert!(a.update(&worth(&[(A, true)]), t0).is_empty());
    let c = a.set_timing(Timing::default(), t0.after(secs(1)));
    assert_eq!(moves(&c), [(ip(A), true)]);
}
