//! Cases of every family that are about services, not a forwarding mode.

use super::*;

/// New flows that no service takes: an unresolved backend's (punted to resolve it), a
/// service without backends, a stray ACK, unknown ports, addresses that are not ours.
pub(super) fn misc(t: &mut Table, f: &Fam) {
    // A new flow whose backend's MAC is unknown goes to control, which resolves it.
    let p = Pkt::tcp(f.client, 40099, f.unresolved, 80, SYN);
    t.push(
        name!(f, "syn to a backend with an unresolved neighbour is punted"),
        0,
        p.frame(),
        Expect::Punt(Punt::Resolve { port: 1 }),
    );
    let p = Pkt::tcp(f.client, 40099, f.empty, 80, SYN);
    t.drop(
        name!(f, "syn to a service without backends"),
        0,
        p.frame(),
        DropReason::NoBackend,
    );
    let p = Pkt::tcp(f.client, 40099, f.nat, 80, ACK);
    t.drop(
        name!(f, "tcp ack without a session"),
        0,
        p.frame(),
        DropReason::NotSynForNewTcp,
    );
    let p = Pkt::tcp(f.client, 40099, f.nat, 81, SYN);
    t.drop(
        name!(f, "tcp syn to an unknown vip port"),
        0,
        p.frame(),
        DropReason::NoService,
    );
    let p = Pkt::udp(f.client, 40099, f.nat, 54);
    t.drop(
        name!(f, "udp to an unknown vip port"),
        0,
        p.frame(),
        DropReason::NoService,
    );
    let p = Pkt::tcp(f.client, 40099, f.other, 80, SYN);
    t.drop(
        name!(f, "tcp syn to an address that is not ours"),
        0,
        p.frame(),
        DropReason::NotForUs,
    );
}
