//! The multi-worker sequences: worker 0 of 2 redirects what worker 1 owns, and worker 1 handles
//! what it was sent.

use super::*;

/// The worker [`redirect_cases`] assume: worker 0 of 2.
pub fn redirect_worker_config() -> WorkerConfig {
    WorkerConfig {
        id: 0,
        workers: 2,
        ..worker_config()
    }
}

/// The multi-worker sequence, for a fresh worker built with [`redirect_worker_config`]
/// (worker 0 of 2): flows owned by worker 1 are redirected to it, its own are forwarded.
///
/// NAT ownership is a hash of the client address (`worker::nat_owner`): the table's client is
/// owned by worker 1 and [`nat_client_owned_by_0`] by worker 0, in both families (the runner
/// checks it).
pub fn redirect_cases() -> Vec<Case> {
    let workers = redirect_worker_config().workers;
    // Worker 0 of 2: ports 1024, 1026, ...
    let mut t = Table::new(LPORT_MIN, workers);
    for f in [fam(false), fam(true)] {
        let lport = t.next_lport(f.laddr, f.rs_fnat, 8080, true);
        let syn = Pkt::tcp(f.client, 41000, f.fnat, 80, SYN);
        let out = syn
            .clone()
            .src(f.laddr, lport)
            .dst(f.rs_fnat, 8080)
            .ttl(63)
            .macs(RS_FNAT_MAC, GW1_MAC);
        t.tx(
            name!(f, "fullnat syn on worker 0 of 2 gets an even local port"),
            0,
            &syn,
            1,
            &out,
        );
        let reply =
            Pkt::tcp(f.rs_fnat, 8080, f.laddr, LPORT_MIN + 1, SYN | ACK).macs(GW1_MAC, RS_FNAT_MAC);
        t.push(
            name!(f, "fullnat reply to an odd local port goes to worker 1"),
            1,
            reply.frame(),
            Expect::Redirect(1),
        );
        let reply = Pkt::tcp(f.rs_fnat, 8080, f.laddr, LPORT_MIN + 100, SYN | ACK)
            .macs(GW1_MAC, RS_FNAT_MAC);
        t.drop(
            name!(f, "fullnat reply to our own local port without a session"),
            1,
            reply.frame(),
            DropReason::NoSession,
        );
        let (mine, theirs) = (42000, 42001);
        let mine_client = nat_client_owned_by_0(f.v6);
        let syn = Pkt::tcp(f.client, theirs, f.nat, 80, SYN);
        t.push(
            name!(f, "nat syn from a client endpoint of worker 1 goes to it"),
            0,
            syn.frame(),
            Expect::Redirect(1),
        );
        let udp = Pkt::udp(f.client, theirs, f.nat, 53);
        t.push(
            name!(f, "nat udp from a client endpoint of worker 1 goes to it"),
            0,
            udp.frame(),
            Expect::Redirect(1),
        );
        let reply = Pkt::tcp(f.rs_nat, 8080, f.client, theirs, SYN | ACK).macs(GW1_MAC, RS_NAT_MAC);
        t.push(
            name!(f, "nat reply to a client endpoint of worker 1 goes to it"),
            1,
            reply.frame(),
            Expect::Redirect(1),
        );
        let syn = Pkt::tcp(mine_client, mine, f.nat, 80, SYN);
        let out = syn
            .clone()
            .dst(f.rs_nat, 8080)
            .ttl(63)
            .macs(RS_NAT_MAC, GW1_MAC);
        t.tx(
            name!(f, "nat syn from a client endpoint of worker 0 is forwarded"),
            0,
            &syn,
            1,
            &out,
        );
        // The rest of a NAT connection follows its SYN to the owner (RSS put it here too).
        let ack = Pkt::tcp(f.client, theirs, f.nat, 80, ACK).seq(1001, 5001);
        t.push(
            name!(
                f,
                "nat tcp ack from a client endpoint of worker 1 goes to it"
            ),
            0,
            ack.frame(),
            Expect::Redirect(1),
        );

        // ICMP errors about flows of worker 1, where the quote names the owner.
        let (ty, code, rest) = too_big(f.v6, 1400);
        let sent = Pkt::tcp(f.laddr, LPORT_MIN + 1, f.rs_fnat, 8080, SYN).ttl(63);
        let err = Pkt::icmp_err(f.router1, f.laddr, ty, code, rest, &sent.quote())
            .macs(GW1_MAC, ROUTER1_MAC);
        t.push(
            name!(
                f,
                "fullnat icmp error quoting an odd local port goes to worker 1"
            ),
            1,
            err.frame(),
            Expect::Redirect(1),
        );
        let (pty, pcode, prest) = port_unreachable(f.v6);
        let sent = Pkt::udp(f.client, theirs, f.rs_nat, 5353).ttl(63);
        let err = Pkt::icmp_err(f.rs_nat, f.client, pty, pcode, prest, &sent.ip())
            .macs(GW1_MAC, RS_NAT_MAC);
        t.push(
            name!(
                f,
                "nat icmp error from the backend about a flow of worker 1 goes to it"
            ),
            1,
            err.frame(),
            Expect::Redirect(1),
        );
        let sent = Pkt::tcp(f.nat, 80, f.client, theirs, SYN | ACK).ttl(63);
        let err = Pkt::icmp_err(f.router0, f.nat, ty, code, rest, &sent.quote())
            .macs(GW0_MAC, ROUTER0_MAC);
        t.push(
            name!(
                f,
                "nat icmp error about a reply to a flow of worker 1 goes to it"
            ),
            0,
            err.frame(),
            Expect::Redirect(1),
        );
        // (Worker 0 has a TCP session for `mine` from the case above, none for UDP.)
        let sent = Pkt::udp(f.nat, 53, mine_client, mine).ttl(63);
        let err = Pkt::icmp_err(f.router0, f.nat, ty, code, rest, &sent.quote())
            .macs(GW0_MAC, ROUTER0_MAC);
        t.drop(
            name!(f, "nat icmp error about our own flow without a session"),
            0,
            err.frame(),
            DropReason::IcmpNoSession,
        );
    }
    t.cases
}

/// The worker [`redirect_owner_cases`] assume: worker 1 of 2.
pub fn redirect_owner_worker_config() -> WorkerConfig {
    WorkerConfig {
        id: 1,
        ..redirect_worker_config()
    }
}

/// What the owner does with the frames [`redirect_cases`] redirect: the `Redirect(1)` cases'
/// input frames, in table order, each with what a fresh worker 1 of 2
/// ([`redirect_owner_worker_config`]) must do with it. Its NAT flows are forwarded (the SYN makes
/// the session its reply, ACK and ICMP errors use); the FullNAT reply and ICMP error name a local
/// port of worker 1 that no flow of its has, so they are dropped.
pub fn redirect_owner_cases() -> Vec<Case> {
    let mut t = Table::new(LPORT_MIN + 1, redirect_worker_config().workers);
    for f in [fam(false), fam(true)] {
        let to_rs = |p: &Pkt, port: u16| {
            p.clone()
                .dst(f.rs_nat, port)
                .ttl(p.ttl - 1)
                .macs(RS_NAT_MAC, GW1_MAC)
        };
        let theirs = 42001;
        let reply =
            Pkt::tcp(f.rs_fnat, 8080, f.laddr, LPORT_MIN + 1, SYN | ACK).macs(GW1_MAC, RS_FNAT_MAC);
        t.drop(
            name!(
                f,
                "owner: fullnat reply to its local port without a session"
            ),
            1,
            reply.frame(),
            DropReason::NoSession,
        );
        let syn = Pkt::tcp(f.client, theirs, f.nat, 80, SYN);
        t.tx(
            name!(f, "owner: nat syn redirected to it is forwarded"),
            0,
            &syn,
            1,
            &to_rs(&syn, 8080),
        );
        let udp = Pkt::udp(f.client, theirs, f.nat, 53);
        t.tx(
            name!(f, "owner: nat udp redirected to it is forwarded"),
            0,
            &udp,
            1,
            &to_rs(&udp, 5353),
        );
        let reply = Pkt::tcp(f.rs_nat, 8080, f.client, theirs, SYN | ACK).macs(GW1_MAC, RS_NAT_MAC);
        let out = reply
            .clone()
            .src(f.nat, 80)
            .ttl(63)
            .macs(CLIENT_MAC, GW0_MAC);
        t.tx(
            name!(f, "owner: nat reply redirected to it goes to the client"),
            1,
            &reply,
            0,
            &out,
        );
        let ack = Pkt::tcp(f.client, theirs, f.nat, 80, ACK).seq(1001, 5001);
        t.tx(
            name!(f, "owner: nat tcp ack redirected to it is forwarded"),
            0,
            &ack,
            1,
            &to_rs(&ack, 8080),
        );

        let (ty, code, rest) = too_big(f.v6, 1400);
        let sent = Pkt::tcp(f.laddr, LPORT_MIN + 1, f.rs_fnat, 8080, SYN).ttl(63);
        let err = Pkt::icmp_err(f.router1, f.laddr, ty, code, rest, &sent.quote())
            .macs(GW1_MAC, ROUTER1_MAC);
        t.drop(
            name!(
                f,
                "owner: fullnat icmp error quoting its local port without a session"
            ),
            1,
            err.frame(),
            DropReason::IcmpNoSession,
        );
        // The backend's port unreachable about the UDP flow: the client gets it from the VIP,
        // quoting its own datagram.
        let (pty, pcode, prest) = port_unreachable(f.v6);
        let sent = Pkt::udp(f.client, theirs, f.rs_nat, 5353).ttl(63);
        let err = Pkt::icmp_err(f.rs_nat, f.client, pty, pcode, prest, &sent.ip())
            .macs(GW1_MAC, RS_NAT_MAC);
        let quoted = Pkt::udp(f.client, theirs, f.nat, 53).ttl(63);
        let out = Pkt::icmp_err(f.nat, f.client, pty, pcode, prest, &quoted.ip())
            .ttl(63)
            .macs(CLIENT_MAC, GW0_MAC);
        t.tx(
            name!(
                f,
                "owner: nat icmp error from the backend goes to the client"
            ),
            1,
            &err,
            0,
            &out,
        );
        // A router cannot deliver the reply (VIP:80 -> client): the backend gets it in terms of
        // its own packet.
        let sent = Pkt::tcp(f.nat, 80, f.client, theirs, SYN | ACK).ttl(63);
        let err = Pkt::icmp_err(f.router0, f.nat, ty, code, rest, &sent.quote())
            .macs(GW0_MAC, ROUTER0_MAC);
        let quoted = sent.clone().src(f.rs_nat, 8080);
        let out = Pkt::icmp_err(f.router0, f.rs_nat, ty, code, rest, &quoted.quote())
            .ttl(63)
            .macs(RS_NAT_MAC, GW1_MAC);
        t.tx(
            name!(f, "owner: nat icmp error about a reply goes to the backend"),
            0,
            &err,
            1,
            &out,
        );
    }
    t.cases
}

/// A client on the table's client LAN whose NAT flows worker 0 of 2 owns.
pub fn nat_client_owned_by_0(v6: bool) -> IpAddr {
    addr(v6, 0, 58)
}

/// The client every NAT redirect case of worker 1 uses, per family (for checking the ownership
/// assumption of [`redirect_cases`]).
pub fn clients() -> [IpAddr; 2] {
    [fam(false).client, fam(true).client]
}
