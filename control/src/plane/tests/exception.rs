//! The exception path: the box's own traffic goes to the port's kernel TAP, what the kernel
//! sends goes to the wire (but its ARP replies: control answers those itself).

use std::time::Instant;

use super::{arp, ping, Dataplane, Fixture, MemFrame, CLIENT, CLIENT_MAC, MAC0, VIP, WAN_ADDR};
use crate::plane::Limits;

#[test]
fn test_frame_for_the_box_is_copied_to_the_tap() {
    let mut f = Fixture::new(Dataplane::Stuck(1), Limits::default());
    f.ctl.io_mut().taps = vec![true, false];
    let snap = f.shared.load_full();
    let now = Instant::now();
    let echo = ping(WAN_ADDR);
    assert!(!f.ctl.punted(MemFrame::on(0, echo.clone()), &snap, now));
    assert_eq!(f.wire().to_kernel, [(0, echo.clone())]);
    assert_eq!(f.ctl.held_len(), 0, "not held: it is the box's");
    assert_eq!(f.ctl.stats().to_kernel, 1);

    // The kernel also sees ARP for its addresses (control answers them).
    f.wire().to_kernel.clear();
    let req = arp(1, CLIENT_MAC, CLIENT, [0; 6], WAN_ADDR);
    f.ctl.punted(MemFrame::on(0, req.clone()), &snap, now);
    assert_eq!(f.wire().to_kernel, [(0, req)]);
    assert_eq!(f.wire().sent.len(), 1, "control answered");
    // ... but not ARP for a VIP, which is not the kernel's.
    f.wire().to_kernel.clear();
    f.ctl.punted(
        MemFrame::on(0, arp(1, CLIENT_MAC, CLIENT, [0; 6], VIP)),
        &snap,
        now,
    );
    assert!(f.wire().to_kernel.is_empty());

    // Without an exception path the box's traffic is dropped and counted.
    f.ctl.io_mut().taps = vec![false, false];
    f.ctl.punted(MemFrame::on(0, echo), &snap, now);
    assert_eq!(f.ctl.stats().local_dropped, 1);
    assert_eq!(f.ctl.held_len(), 0);
}

#[test]
fn test_kernel_frames_go_to_the_wire_but_its_arp_replies() {
    let mut f = Fixture::new(Dataplane::Stuck(1), Limits::default());
    f.ctl.io_mut().taps = vec![true, false];
    let reply = arp(2, MAC0, WAN_ADDR, CLIENT_MAC, CLIENT);
    let echo = ping(CLIENT);
    f.wire().from_kernel = vec![(0, reply), (0, echo.clone())];
    let mut buf = Vec::new();
    let (busy, _) = f.ctl.poll_frames(&mut buf, Instant::now());
    assert!(busy);
    assert_eq!(f.wire().sent, [(0, echo)]);
    assert_eq!(f.ctl.stats().from_kernel, 1);
}
