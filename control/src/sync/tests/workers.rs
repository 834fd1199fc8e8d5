//! The sessions of real workers through the channel: flows opened on gateway A (two workers)
//! are published on the workers' rings, turned into records ([`to_record`]), carried over a
//! simulated link that loses 10% and duplicates and reorders, turned back into worker events
//! ([`to_event`]), placed ([`placement`]) and installed on gateway B (three workers); B then
//! forwards the flows' next packets and their replies exactly as A does.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use dataplane::frame::{Frame, VecFrame};
use dataplane::fuzzing::snapshot;
use dataplane::rss::{RssSteer, DEFAULT_KEY};
use dataplane::snapshot::Snapshot;
use dataplane::sync::{link, placement, ControlSync, Install, Role, Steering, SyncConfig};
use dataplane::wire::DropReason;
use dataplane::worker::{ReplySteering, Verdict, Worker, WorkerConfig};
use testkit::packet::{addrs, from_backend, ports, tcp, ACK, FROM_CLIENT, PSH, SYN};

use super::sim::Net;
use super::{timing, until_ready};
use crate::sync::{to_event, to_record};

/// A few bytes of data on a PSH.
fn data(flags: u8) -> &'static [u8] {
    if flags & PSH != 0 {
        b"data"
    } else {
        b""
    }
}

/// The backend's answer to a frame the gateway sent it.
fn reply_to(out: &[u8], flags: u8) -> Vec<u8> {
    let ((s, d), (sp, dp)) = (addrs(out), ports(out));
    let IpAddr::V4(b) = d else { unreachable!() };
    tcp(
        from_backend(b.octets()[3]),
        d,
        s,
        dp,
        sp,
        flags,
        data(flags),
    )
}

struct Gateway {
    workers: Vec<Worker>,
    links: Vec<ControlSync>,
    steering: Steering,
    rss: Arc<RssSteer>,
}

impl Gateway {
    fn new(n: u16) -> Gateway {
        let rss = Arc::new(
            RssSteer::new(&DEFAULT_KEY, &RssSteer::round_robin_reta(128, n)).expect("rss"),
        );
        let (workers, links) = (0..n)
            .map(|id| {
                let mut w = Worker::new(WorkerConfig {
                    id,
                    workers: n,
                    sessions4: 4096,
                    sessions6: 1024,
                    ..WorkerConfig::default()
                });
                let (ws, cs) = link(SyncConfig::default());
                w.attach_sync(ws);
                (w, cs)
            })
            .unzip();
        Gateway {
            workers,
            links,
            steering: Steering {
                workers: n,
                replies: ReplySteering::Modulo,
                inbound: Some(rss.clone()),
            },
            rss,
        }
    }

    /// The NIC (RSS) delivers `frame`; redirects are followed. The verdict, the frame as sent
    /// and the worker that decided.
    fn deliver(
        &mut self,
        snap: &Snapshot,
        now: u32,
        port: u8,
        frame: &[u8],
    ) -> (Verdict, Vec<u8>, usize) {
        let ((s, d), (sp, dp)) = (addrs(frame), ports(frame));
        let mut at = usize::from(self.rss.worker_of(s, d, sp, dp).expect("rss"));
        let mut f = [VecFrame::new(frame)];
        let mut v = [Verdict::Drop(DropReason::NotForUs)];
        for _ in 0..4 {
            self.workers[at].process(snap, now, port, &mut f, &mut v);
            match v[0] {
                Verdict::Redirect(o) => at = usize::from(o),
                _ => return (v[0], f[0].data().to_vec(), at),
            }
        }
        panic!("redirect loop");
    }
}

#[test]
fn sync_worker_sessions_over_a_lossy_link_forward_alike_on_the_peer() {
    let snap = snapshot();
    let mut a = Gateway::new(2);
    let mut b = Gateway::new(3);
    // DR, NAT, TUN and FullNAT (TOA on the ACK), ten clients each.
    let vips = [
        "198.18.0.100",
        "198.18.0.101",
        "198.18.0.102",
        "198.18.0.103",
    ];
    let mut flows = Vec::new();
    for (k, vip) in vips.iter().enumerate() {
        for i in 0..10u8 {
            let client = IpAddr::from([203, 0, 113, 10 + i]);
            let cport = 20000 + u16::try_from(k).unwrap() * 100 + u16::from(i);
            flows.push((
                client,
                vip.parse::<IpAddr>().unwrap(),
                cport,
                k == 1 || k == 3,
            ));
        }
    }
    let from_client = |f: &(IpAddr, IpAddr, u16, bool), flags| {
        tcp(FROM_CLIENT, f.0, f.1, f.2, 80, flags, data(flags))
    };
    let mut firsts = Vec::new();
    for f in &flows {
        let (v, out, _) = a.deliver(&snap, 10, 0, &from_client(f, SYN));
        assert_eq!(v, Verdict::Tx(1), "{f:?}");
        if f.3 {
            let (v, _, _) = a.deliver(&snap, 10, 1, &reply_to(&out, SYN | ACK));
            assert_eq!(v, Verdict::Tx(0), "{f:?}");
        }
        let (v, _, _) = a.deliver(&snap, 10, 0, &from_client(f, ACK));
        assert_eq!(v, Verdict::Tx(1), "{f:?}");
        firsts.push(out);
    }

    // Control on A: drain the workers' rings into the channel; a lossy link to B.
    let mut net = Net::new(2, timing(), 7);
    net.loss = 0.10;
    net.dup = 0.05;
    net.jitter = Duration::from_millis(5);
    until_ready(&mut net, Duration::from_secs(30));
    let mut sent = 0;
    for l in &mut a.links {
        while let Ok(ev) = l.events.pop() {
            if let Some(rec) = to_record(&ev) {
                net.queue(0, rec);
                sent += 1;
            }
        }
    }
    assert!(
        sent >= flows.len() * 2,
        "creations and handshake ends: {sent}"
    );
    let done = net.run_while_not(Duration::from_secs(60), |n| n.live_from(1, 0).len() >= sent);
    assert!(done, "everything arrives despite the loss");
    let got = net.live_from(1, 0);
    assert_eq!(got.len(), sent, "each once");

    // Control on B: back to worker events, to the owning workers' install rings.
    for rec in &got {
        let ev = to_event(rec, false).expect("a valid record");
        let p = placement(&snap, &ev, &b.steering).expect("the service exists here");
        let home = usize::from(p.home);
        b.links[home]
            .installs
            .push(Install {
                event: ev,
                role: Role::Home,
            })
            .expect("room");
        for s in p.stub_workers(b.steering.workers) {
            b.links[usize::from(s)]
                .installs
                .push(Install {
                    event: ev,
                    role: Role::Stub { home: p.home },
                })
                .expect("room");
        }
    }
    for w in &mut b.workers {
        while w.serve_sync(&snap, 20) > 0 {}
    }
    let counters: Vec<_> = b.workers.iter().map(|w| w.counters().clone()).collect();
    let c = |f: fn(&dataplane::counters::WorkerCounters) -> u64| -> u64 {
        counters.iter().map(|w| f(w)).sum()
    };
    assert_eq!(c(|c| c.sync_refused.get()), 0);
    assert_eq!(c(|c| c.sync_conflicts.get()), 0);
    let live: usize = b
        .workers
        .iter()
        .map(|w| {
            w.sessions4()
                .iter()
                .filter(|(_, s)| !s.is_sync_stub())
                .count()
        })
        .sum();
    assert_eq!(live, flows.len());

    for (f, out) in flows.iter().zip(&firsts) {
        let data = from_client(f, PSH | ACK);
        let (va, fa, _) = a.deliver(&snap, 11, 0, &data);
        let (vb, fb, _) = b.deliver(&snap, 21, 0, &data);
        assert_eq!((vb, &fb), (va, &fa), "{f:?}: the client's packet");
        if f.3 {
            let r = reply_to(out, PSH | ACK);
            let (va, fa, _) = a.deliver(&snap, 11, 1, &r);
            let (vb, fb, _) = b.deliver(&snap, 21, 1, &r);
            assert_eq!(va, Verdict::Tx(0));
            assert_eq!((vb, &fb), (va, &fa), "{f:?}: the backend's reply");
        }
    }
    assert_eq!(
        c(|c| c.sessions_created.get()),
        0,
        "B scheduled nothing itself"
    );
}
